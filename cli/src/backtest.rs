//! `trailguard backtest`: replay an archive of CloudTrail logs against a policy.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use trailguard_backtest::run::{self, Options};
use trailguard_backtest::{render, source, Engine, Filters, Summary};
use trailguard_rules::Policy;

/// `trailguard backtest`'s flags (the help text is the subcommand's, in main.rs).
#[derive(clap::Args)]
pub struct Args {
    /// The policy to decide with (default: the default policy).
    #[arg(long, value_name = "FILE")]
    policy: Option<String>,
    /// Only objects of this day and later (YYYY-MM-DD, by the key).
    #[arg(long, value_name = "YYYY-MM-DD")]
    since: Option<String>,
    /// Only objects of this day and earlier.
    #[arg(long, value_name = "YYYY-MM-DD")]
    until: Option<String>,
    /// Only these accounts (repeatable).
    #[arg(long, value_name = "ID")]
    account: Vec<String>,
    /// Only these regions (repeatable).
    #[arg(long, value_name = "NAME")]
    region: Vec<String>,
    /// Only these functions' decisions (repeatable).
    #[arg(long, value_name = "NAME")]
    function: Vec<String>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    jobs: usize,
    /// The summary as JSON.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// The summary as Markdown.
    #[arg(long)]
    markdown: bool,
    /// Also write the summary as one self-contained HTML page here (a chart per day, the
    /// top reasons, the actors; nothing loaded from elsewhere).
    #[arg(long, value_name = "FILE")]
    html: Option<String>,
    /// Write one JSON line per notify or remediate decision here.
    #[arg(long, value_name = "FILE")]
    decisions: Option<String>,
    /// The reference path: every record parsed whole and offered to every function's rules
    /// (no quick reader, no prefilter). Slow: it checks that the fast path gives the same
    /// summary.
    #[arg(long)]
    reference: bool,
    /// No progress line, no notes on standard error.
    #[arg(long)]
    quiet: bool,
    /// Merge the partial summaries a distributed backtest wrote under s3://bucket/prefix/.
    #[arg(long, value_name = "S3_URL")]
    merge: Option<String>,
    #[arg(value_name = "SOURCE")]
    sources: Vec<String>,
}

fn day(flag: &str, v: &str) -> Result<String, String> {
    let ok = v.len() == 10
        && v.as_bytes()[4] == b'-'
        && v.as_bytes()[7] == b'-'
        && v.chars()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    ok.then(|| v.to_string())
        .ok_or_else(|| format!("{flag} `{v}` is not a date (YYYY-MM-DD)"))
}

pub fn cmd(args: Args) -> Result<ExitCode, String> {
    let policy = match &args.policy {
        Some(f) => crate::load_policy(f)?,
        None => Policy::default(),
    };
    let mut filters = Filters::default();
    if let Some(v) = &args.since {
        filters.since = Some(day("--since", v)?);
    }
    if let Some(v) = &args.until {
        filters.until = Some(day("--until", v)?);
    }
    for v in args.account {
        if !trailguard_rules::ids::is_account_id(&v) {
            return Err(format!("--account `{v}` is not an account id (12 digits)"));
        }
        filters.accounts.push(v);
    }
    for v in args.region {
        if !trailguard_rules::event::is_region_name(&v) {
            return Err(format!(
                "--region `{v}` is not a region name (like eu-west-1)"
            ));
        }
        filters.regions.push(v);
    }
    for v in args.function {
        crate::guard(&v)?;
        filters.functions.push(v);
    }
    let (json, markdown, quiet, jobs) = (args.json, args.markdown, args.quiet, args.jobs);
    let (decisions, merge, sources) = (args.decisions, args.merge, args.sources);
    let (args_html, reference) = (args.html, args.reference);
    if json && markdown {
        return Err("--json and --markdown: choose one".into());
    }
    let summary = if let Some(url) = merge {
        let (bucket, prefix) = source::parse_s3_url(&url)
            .ok_or(format!("--merge `{url}` is not s3://bucket/prefix/"))?;
        crate::remote::runtime()?.block_on(async {
            let sdk = trailguard_aws::sdk_config().await;
            let (s, n) =
                trailguard_backtest::merge_partials(&source::s3_client(&sdk), &bucket, &prefix)
                    .await?;
            if !quiet {
                eprintln!("trailguard: merged {n} partial summaries from {url}");
            }
            Ok::<Summary, String>(s)
        })?
    } else {
        if sources.is_empty() {
            return Err("backtest needs at least one SOURCE (trailguard backtest --help)".into());
        }
        let mut engine = Engine::new(policy, filters)?;
        engine.reports = decisions.is_some();
        engine.reference = reference;
        let engine = Arc::new(engine);
        let writer: Option<Mutex<Box<dyn Write + Send>>> = match &decisions {
            Some(path) => Some(Mutex::new(Box::new(std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|e| format!("--decisions {path}: {e}"))?,
            )))),
            None => None,
        };
        let opts = Arc::new(Options {
            jobs,
            progress: !quiet && std::io::stderr().is_terminal(),
            decisions: writer,
            ..Options::default()
        });
        let mut total = Summary::default();
        let (remote, local): (Vec<String>, Vec<String>) =
            sources.into_iter().partition(|s| s.starts_with("s3://"));
        if !local.is_empty() {
            let files = source::local_files(&local.iter().map(PathBuf::from).collect::<Vec<_>>())?;
            total.merge(&run::local(&engine, &files, &opts));
        }
        if !remote.is_empty() {
            let rt = crate::remote::runtime()?;
            for url in remote {
                let (bucket, prefix) = source::parse_s3_url(&url)
                    .ok_or(format!("`{url}` is not s3://bucket/prefix"))?;
                let s = rt.block_on(async {
                    let sdk = trailguard_aws::sdk_config().await;
                    let client = source::s3_client(&sdk);
                    let keys: Vec<String> = source::s3_keys(&client, &bucket, &prefix)
                        .await?
                        .into_iter()
                        .map(|(k, _)| k)
                        .collect();
                    Ok::<Summary, String>(
                        run::s3(engine.clone(), &client, &bucket, &keys, opts.clone()).await,
                    )
                })?;
                total.merge(&s);
            }
        }
        if let Some(w) = &opts.decisions {
            if let Ok(mut w) = w.lock() {
                w.flush().map_err(|e| format!("--decisions: {e}"))?;
            }
        }
        total
    };
    if let Some(path) = &args_html {
        std::fs::write(path, trailguard_backtest::html::html(&summary))
            .map_err(|e| format!("--html {path}: {e}"))?;
    }
    // A closed pipe (`| head`) ends the output quietly.
    let mut out = std::io::stdout().lock();
    let _ = if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        )
    } else {
        write!(out, "{}", render::render(&summary, markdown))
    };
    Ok(if summary.skipped > 0 || summary.bad_records > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
