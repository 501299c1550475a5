//! `trailguard backtest`: replay an archive of CloudTrail logs against a policy.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use trailguard_backtest::run::{self, Options};
use trailguard_backtest::{render, source, Engine, Filters, Summary};
use trailguard_rules::Policy;

pub const USAGE: &str =
    "  trailguard backtest [--policy FILE] [--since YYYY-MM-DD] [--until YYYY-MM-DD]
        [--account ID]... [--region NAME]... [--function NAME]... [--jobs N]
        [--json | --markdown] [--decisions FILE] [--quiet] SOURCE...
      What trailguard would have done over CloudTrail's archive: SOURCE is a log file, a
      directory (read recursively) or s3://bucket/prefix (the usual credentials, region and
      AWS_ENDPOINT_URL). Objects outside --since/--until/--account/--region by their key
      (AWSLogs/[o-…/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/) are never read. Prints a summary
      (per function and decision, top reasons, whose changes would be reverted, by day);
      --decisions writes one JSON line per notify or remediate decision (decide's schema).
      Exit status 1 when an object or record could not be read (they are named).
  trailguard backtest --merge s3://bucket/prefix/ [--json | --markdown]
      Merge the partial summaries a distributed backtest wrote (template.yaml, Backtest*).";

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

pub fn cmd(args: &[&str]) -> Result<ExitCode, String> {
    let mut policy = Policy::default();
    let mut filters = Filters::default();
    let (mut json, mut markdown, mut quiet, mut jobs) = (false, false, false, 0usize);
    let mut decisions: Option<String> = None;
    let mut merge: Option<String> = None;
    let mut sources = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .map(|s| s.to_string())
                .ok_or(format!("{a} needs {what}"))
        };
        match *a {
            "--policy" => policy = crate::load_policy(&value("a file")?)?,
            "--since" => filters.since = Some(day("--since", &value("a date")?)?),
            "--until" => filters.until = Some(day("--until", &value("a date")?)?),
            "--account" => {
                let v = value("an account id")?;
                if !trailguard_rules::ids::is_account_id(&v) {
                    return Err(format!("--account `{v}` is not an account id (12 digits)"));
                }
                filters.accounts.push(v);
            }
            "--region" => {
                let v = value("a region")?;
                if !trailguard_rules::event::is_region_name(&v) {
                    return Err(format!(
                        "--region `{v}` is not a region name (like eu-west-1)"
                    ));
                }
                filters.regions.push(v);
            }
            "--function" => {
                let v = value("a function name")?;
                crate::guard(&v)?;
                filters.functions.push(v);
            }
            "--jobs" => {
                jobs = value("a number")?
                    .parse()
                    .map_err(|_| "--jobs needs a number".to_string())?
            }
            "--json" => json = true,
            "--markdown" => markdown = true,
            "--quiet" => quiet = true,
            "--decisions" => decisions = Some(value("a file")?),
            "--merge" => merge = Some(value("s3://bucket/prefix/")?),
            s if s.starts_with("--") => {
                return Err(format!("backtest: unknown option {s}\n{USAGE}"))
            }
            s => sources.push(s.to_string()),
        }
    }
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
            return Err(format!("backtest needs at least one source\n{USAGE}"));
        }
        let mut engine = Engine::new(policy, filters)?;
        engine.reports = decisions.is_some();
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
