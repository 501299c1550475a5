//! Running a backtest over many objects: one worker thread per core, each deciding whole
//! files and keeping its own summary (merged at the end), a shared writer for the decisions,
//! and a progress line on a terminal. S3 objects are fetched with bounded concurrency and
//! handed to the same workers.

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trailguard_rules::Report;

use crate::engine::Engine;
use crate::source;
use crate::summary::Summary;

/// How a run reports as it goes.
pub struct Options {
    /// Worker threads (0: one per core).
    pub jobs: usize,
    /// A progress line on standard error.
    pub progress: bool,
    /// One JSON line per notify or remediate decision (the `decide` schema).
    pub decisions: Option<Mutex<Box<dyn Write + Send>>>,
    /// S3 objects fetched at once.
    pub fetches: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: 0,
            progress: false,
            decisions: None,
            fetches: 16,
        }
    }
}

impl Options {
    fn workers(&self) -> usize {
        if self.jobs > 0 {
            self.jobs
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

#[derive(Default)]
struct Progress {
    total: AtomicU64,
    done: AtomicU64,
    records: AtomicU64,
    stop: AtomicBool,
}

impl Progress {
    /// A bar on standard error until stopped: objects done of all, records, records/s and
    /// the time left. The workers only add to the counters (once per 4,096 records); this
    /// thread reads them four times a second, so the bar costs the decisions nothing.
    fn show(self: &Arc<Self>) -> std::thread::JoinHandle<()> {
        let p = self.clone();
        std::thread::spawn(move || {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(p.total.load(Ordering::Relaxed)),
                indicatif::ProgressDrawTarget::stderr_with_hz(4),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "  {bar:30} {pos}/{len} objects  {msg}  ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let started = Instant::now();
            while !p.stop.load(Ordering::Relaxed) {
                // Parked, not asleep: `finish` unparks it, so the run ends when the work does
                // (a sleep would hold the exit for up to a quarter of a second).
                std::thread::park_timeout(Duration::from_millis(250));
                let records = p.records.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                bar.set_length(p.total.load(Ordering::Relaxed));
                bar.set_position(p.done.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{records} records  {:.0} records/s",
                    records as f64 / secs
                ));
            }
            bar.finish_and_clear();
        })
    }
}

/// Decide one object's bytes (any reader) into `s`; an object that cannot be read is
/// counted and named, and its records read so far stay counted.
fn object(
    engine: &Engine,
    name: &str,
    input: impl std::io::BufRead,
    s: &mut Summary,
    opts: &Options,
    progress: &Progress,
) {
    let local = Summary::default();
    let write = |r: &Report| {
        if let Some(w) = &opts.decisions {
            if let Ok(mut w) = w.lock() {
                let _ = writeln!(w, "{}", r.to_value());
            }
        }
    };
    // The two paths share the summary (one at a time); the progress counter is touched once
    // per 4096 records.
    let local_cell = std::cell::RefCell::new(local);
    let reported = std::cell::Cell::new(0u64);
    let tick = |s: &Summary| {
        if s.records - reported.get() >= 4096 {
            progress
                .records
                .fetch_add(s.records - reported.get(), Ordering::Relaxed);
            reported.set(s.records);
        }
    };
    let result = crate::gunzip::decompressing(input)
        .map_err(|e| e.to_string())
        .and_then(|reader| {
            reader
                .for_each_element(
                    |rest, eof| {
                        let mut s = local_cell.borrow_mut();
                        let step = engine.parse_record(rest, eof, &mut s, name, &mut |r| write(r));
                        tick(&s);
                        step
                    },
                    |rec| {
                        let mut s = local_cell.borrow_mut();
                        engine.record(rec, &mut s, name, &mut |r| write(r));
                        tick(&s);
                    },
                )
                .map_err(|e| e.to_string())
        });
    let mut local = local_cell.into_inner();
    progress
        .records
        .fetch_add(local.records - reported.get(), Ordering::Relaxed);
    local.objects = 1;
    if let Err(e) = result {
        local.skip(name, e);
    }
    s.merge(&local);
    progress.done.fetch_add(1, Ordering::Relaxed);
}

/// The objects a run reads: not digest files, not left out by the filters on their key
/// (those are counted in `total`, never opened).
fn wanted<'a, T>(
    engine: &Engine,
    objects: &'a [T],
    key: impl Fn(&T) -> String,
    total: &mut Summary,
) -> Vec<&'a T> {
    objects
        .iter()
        .filter(|o| {
            let k = key(o);
            let skip = source::not_a_log(&k) || source::filtered_out(&k, &engine.filters);
            total.objects_filtered += u64::from(skip);
            !skip
        })
        .collect()
}

/// Stop the progress line and add the workers' summaries up.
fn finish(
    progress: &Progress,
    shower: Option<std::thread::JoinHandle<()>>,
    mut total: Summary,
    parts: &[Summary],
) -> Summary {
    progress.stop.store(true, Ordering::Relaxed);
    if let Some(h) = shower {
        h.thread().unpark();
        let _ = h.join();
    }
    for p in parts {
        total.merge(p);
    }
    total
}

/// A backtest over local files (already listed).
pub fn local(engine: &Engine, files: &[PathBuf], opts: &Options) -> Summary {
    let progress = Arc::new(Progress::default());
    let mut total = Summary::default();
    let todo = wanted(
        engine,
        files,
        |p| p.to_string_lossy().into_owned(),
        &mut total,
    );
    progress.total.store(todo.len() as u64, Ordering::Relaxed);
    let shower = opts.progress.then(|| progress.show());
    let next = AtomicU64::new(0);
    let parts: Vec<Summary> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..opts.workers())
            .map(|_| {
                scope.spawn(|| {
                    let mut s = Summary::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                        let Some(path) = todo.get(i) else { break };
                        let name = path.display().to_string();
                        match std::fs::File::open(path) {
                            Ok(f) => object(
                                engine,
                                &name,
                                BufReader::with_capacity(256 * 1024, f),
                                &mut s,
                                opts,
                                &progress,
                            ),
                            Err(e) => {
                                s.skip(&name, format!("cannot open: {e}"));
                                progress.done.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    s
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    finish(&progress, shower, total, &parts)
}

/// A backtest over S3 objects (keys already listed): fetched `opts.fetches` at a time on the
/// caller's runtime, decided by worker threads as they arrive. Memory stays bounded: at most
/// `fetches` objects in flight and two per worker waiting.
pub async fn s3(
    engine: Arc<Engine>,
    client: &aws_sdk_s3::Client,
    bucket: &str,
    keys: &[String],
    opts: Arc<Options>,
) -> Summary {
    let progress = Arc::new(Progress::default());
    let mut total = Summary::default();
    let todo: Vec<String> = wanted(&engine, keys, String::clone, &mut total)
        .into_iter()
        .cloned()
        .collect();
    progress.total.store(todo.len() as u64, Ordering::Relaxed);
    let shower = opts.progress.then(|| progress.show());
    let (tx, rx) =
        tokio::sync::mpsc::channel::<(String, Result<Vec<u8>, String>)>(opts.workers() * 2);
    let rx = Arc::new(Mutex::new(rx));
    let workers: Vec<std::thread::JoinHandle<Summary>> = (0..opts.workers())
        .map(|_| {
            let (engine, opts, progress, rx) =
                (engine.clone(), opts.clone(), progress.clone(), rx.clone());
            std::thread::spawn(move || {
                let mut s = Summary::default();
                loop {
                    let item = match rx.lock() {
                        Ok(mut r) => r.blocking_recv(),
                        Err(_) => None,
                    };
                    let Some((name, body)) = item else { break };
                    match body {
                        Ok(bytes) => object(&engine, &name, &bytes[..], &mut s, &opts, &progress),
                        Err(e) => {
                            s.skip(&name, format!("cannot read: {e}"));
                            progress.done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                s
            })
        })
        .collect();
    let mut fetching = tokio::task::JoinSet::new();
    for key in todo {
        while fetching.len() >= opts.fetches.max(1) {
            let _ = fetching.join_next().await;
        }
        let (client, bucket, tx) = (client.clone(), bucket.to_string(), tx.clone());
        fetching.spawn(async move {
            let body = source::s3_get(&client, &bucket, &key).await;
            let _ = tx.send((format!("s3://{bucket}/{key}"), body)).await;
        });
    }
    while fetching.join_next().await.is_some() {}
    drop(tx);
    let parts = tokio::task::spawn_blocking(move || {
        workers
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    finish(&progress, shower, total, &parts)
}
