//! `trailguard`: try events against a policy offline, check policies, and print what a
//! function needs from its template (IAM actions, EventBridge patterns).
//!
//! ```text
//! trailguard decide [--policy FILE] [--guard FUNCTION] [--world FILE] FILE...
//! trailguard policy check FILE
//! trailguard policy default
//! trailguard iam-actions FUNCTION
//! trailguard patterns FUNCTION
//! trailguard disable-key --access-key-id AKIA… --reason "…" [--bus NAME] [--user NAME]
//! trailguard breaker reset --guard NAME [--account ID] [--table NAME]
//! ```

mod backtest;
mod remote;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::process::ExitCode;

use serde_json::{json, Value};
use trailguard_backtest::scan;
use trailguard_rules::ask::{self, Ask};
use trailguard_rules::facts::World;
use trailguard_rules::{decide, decide_guard, Decision, Event, Facts, Guard, Policy, Report};

const USAGE: &str = "usage:
  trailguard decide [--policy FILE] [--guard FUNCTION] [--world FILE] FILE...
      Print one JSON decision per event (EventBridge envelopes, raw CloudTrail records,
      or CloudTrail log files {\"Records\": [...]}, plain or .gz). '-' reads standard input.
      Facts the events lack are taken as absent, or read from --world (the account's
      security groups, key owners, ... as in events/meta/world.json).
  trailguard policy check FILE     validate a policy; prints it with defaults filled in
  trailguard policy default        print the default policy
  trailguard iam-actions FUNCTION  the IAM actions a function needs (as template.yaml grants)
  trailguard iam-actions --member  what the member role grants (member.yaml): every function's
      actions in the account an event is about
  trailguard sweeps FUNCTION       what the function's reconciliation sweep lists (template.yaml schedules it)
  trailguard patterns FUNCTION     the EventBridge rules a function needs (as template.yaml has)
  trailguard disable-key --access-key-id AKIA... --reason \"...\" [--bus NAME] [--user NAME]
      Ask disable-compromised-key to contain one key: puts the manual trigger on the stack's
      manual-trigger bus (its ManualTriggerBusName output, or TRAILGUARD_MANUAL_BUS). Only the
      principals in the stack's ManualTriggerPrincipals may put it there.
  trailguard backtest [OPTIONS] SOURCE...   (trailguard backtest --help)
      What trailguard would have done over an archive of CloudTrail logs (files, directories,
      s3://bucket/prefix): counts by function and decision, reasons, actors, days.
  trailguard breaker reset --guard NAME [--account ID] [--table NAME]
      Close a guard's blast-radius breaker in one account (default: the caller's own) in the
      ledger table (the stack's LedgerTableName output, or TRAILGUARD_LEDGER_TABLE): it acts
      there again.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&argv) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("trailguard: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[&str]) -> Result<ExitCode, String> {
    match args {
        ["decide", rest @ ..] => decide_cmd(rest),
        ["policy", "check", file] => {
            let policy = load_policy(file)?;
            println!("{}", policy.to_json_pretty());
            eprintln!("{file}: policy is valid");
            Ok(ExitCode::SUCCESS)
        }
        ["policy", "default"] => {
            println!("{}", Policy::default().to_json_pretty());
            Ok(ExitCode::SUCCESS)
        }
        ["iam-actions", "--member"] => {
            let all: std::collections::BTreeSet<&str> =
                Guard::all().flat_map(|g| g.member_iam_actions()).collect();
            println!("{}", json!(all));
            Ok(ExitCode::SUCCESS)
        }
        // The backtest function is not a guard: it reads archives and writes summaries.
        ["iam-actions", "backtest"] => {
            println!("{}", json!(trailguard_backtest::iam_actions()));
            Ok(ExitCode::SUCCESS)
        }
        ["patterns" | "sweeps", "backtest"] => {
            println!("[]");
            Ok(ExitCode::SUCCESS)
        }
        ["iam-actions", function] => {
            println!("{}", json!(guard(function)?.iam_actions()));
            Ok(ExitCode::SUCCESS)
        }
        ["sweeps", function] => {
            println!("{}", json!(guard(function)?.spec().sweeps));
            Ok(ExitCode::SUCCESS)
        }
        ["patterns", function] => {
            println!(
                "{}",
                serde_json::to_string_pretty(&guard(function)?.patterns()).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        ["disable-key", rest @ ..] => remote::disable_key(rest),
        ["backtest", "--help" | "-h"] => {
            println!("{}", backtest::USAGE);
            Ok(ExitCode::SUCCESS)
        }
        ["backtest", rest @ ..] => backtest::cmd(rest),
        ["breaker", "reset", rest @ ..] => remote::breaker_reset(rest),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(format!("unrecognised arguments\n{USAGE}")),
    }
}

pub(crate) fn guard(function: &str) -> Result<Guard, String> {
    Guard::from_function_name(function).ok_or_else(|| {
        format!(
            "unknown function `{function}` (one of: {})",
            Guard::function_names()
        )
    })
}

pub(crate) fn load_policy(file: &str) -> Result<Policy, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    Policy::from_json(&text).map_err(|e| format!("{file}: {e}"))
}

fn load_world(file: &str) -> Result<World, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{file}: not a world description: {e}"))
}

/// Decide with the facts a world gives, or offline (absent facts assumed absent, listed).
fn decide_one(
    event: &Event,
    policy: &Policy,
    guard: Option<Guard>,
    world: Option<&World>,
) -> Decision {
    let decide = |facts: &Facts| match guard {
        Some(g) => decide_guard(g, event, policy, facts),
        None => decide(event, policy, facts),
    };
    let (ask, result) = match world {
        Some(w) => {
            let mut ask = Ask::new(Facts::default());
            let result = ask::settle_in(w, &mut ask, decide);
            (ask, result)
        }
        // Offline facts answer every request: one verdict, nothing to fetch.
        None => {
            let mut ask = Ask::new(Facts::offline()).rounds(1);
            let result = ask::settle(&mut ask, decide, |_, _| {});
            (ask, result)
        }
    };
    match result {
        Ok(d) => trailguard_rules::with_assumptions(d, ask.facts()),
        Err(stuck) if world.is_none() => {
            Decision::ignore(format!("unresolved facts offline: {:?}", stuck.requests))
        }
        Err(_) => Decision::ignore("the rules kept asking for facts"),
    }
}

fn decide_cmd(args: &[&str]) -> Result<ExitCode, String> {
    let mut policy = Policy::default();
    let mut guard_filter = None;
    let mut world = None;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--policy" => policy = load_policy(it.next().ok_or("--policy needs a file")?)?,
            "--guard" => {
                guard_filter = Some(guard(it.next().ok_or("--guard needs a function name")?)?)
            }
            "--world" => world = Some(load_world(it.next().ok_or("--world needs a file")?)?),
            f => files.push(f),
        }
    }
    if files.is_empty() {
        return Err(format!("decide needs at least one file\n{USAGE}"));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = false;
    for file in files {
        // The backtest's reader: one record at a time, whatever the file's size.
        let input: Box<dyn std::io::BufRead> = if file == "-" {
            Box::new(std::io::BufReader::new(std::io::stdin()))
        } else {
            match std::fs::File::open(file) {
                Ok(f) => Box::new(std::io::BufReader::with_capacity(256 * 1024, f)),
                Err(e) => {
                    failed = true;
                    eprintln!("trailguard: {file}: {e}");
                    continue;
                }
            }
        };
        let mut i = 0usize;
        let result = scan::decompressing(input)
            .map_err(|e| format!("not valid gzip: {e}"))
            .and_then(|reader| {
                scan::for_each_record(reader, |bytes| {
                    let event = serde_json::from_slice::<Value>(bytes)
                        .map_err(|e| format!("not valid JSON: {e}"))
                        .and_then(|v| Event::from_value(v).map_err(|e| e.to_string()));
                    match event {
                        Ok(event) => {
                            let d = decide_one(&event, &policy, guard_filter, world.as_ref());
                            let mut report = Report::new(&d, Some(&event));
                            report.source_file = Some(file.to_string());
                            let _ = writeln!(out, "{}", report.to_value());
                        }
                        Err(e) => {
                            failed = true;
                            eprintln!("trailguard: {file} (record {i}): {e}");
                        }
                    }
                    i += 1;
                })
                .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            failed = true;
            eprintln!("trailguard: {file}: {e}");
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
