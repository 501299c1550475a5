//! `trailguard`: try events against a policy offline, and check policies.
//!
//! ```text
//! trailguard decide [--policy FILE] [--guard FUNCTION] FILE...
//! trailguard policy check FILE
//! trailguard policy default
//! trailguard iam-actions FUNCTION
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;

use serde_json::{json, Value};
use trailguard_rules::{decide_guard, decide_offline, Event, Facts, Guard, Policy, Verdict};

const USAGE: &str = "usage:
  trailguard decide [--policy FILE] [--guard FUNCTION] FILE...
      Print one JSON decision per event (EventBridge envelopes, raw CloudTrail records,
      or CloudTrail log files {\"Records\": [...]}, plain or .gz). '-' reads standard input.
  trailguard policy check FILE     validate a policy; prints it with defaults filled in
  trailguard policy default        print the embedded default policy
  trailguard iam-actions FUNCTION  the IAM actions a function needs (as template.yaml grants)";

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
            print!("{}", trailguard_rules::policy::DEFAULT_POLICY_JSON);
            Ok(ExitCode::SUCCESS)
        }
        ["iam-actions", function] => {
            let guard = Guard::from_function_name(function).ok_or_else(|| {
                format!(
                    "unknown function `{function}` (one of: {})",
                    function_names()
                )
            })?;
            println!("{}", json!(guard.iam_actions()));
            Ok(ExitCode::SUCCESS)
        }
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(format!("unrecognised arguments\n{USAGE}")),
    }
}

fn function_names() -> String {
    Guard::ALL
        .iter()
        .map(|g| g.function_name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn load_policy(file: &str) -> Result<Policy, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    Policy::from_json(&text).map_err(|e| format!("{file}: {e}"))
}

fn decide_cmd(args: &[&str]) -> Result<ExitCode, String> {
    let mut policy = Policy::default();
    let mut guard = None;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--policy" => policy = load_policy(it.next().ok_or("--policy needs a file")?)?,
            "--guard" => {
                let name = it.next().ok_or("--guard needs a function name")?;
                guard = Some(Guard::from_function_name(name).ok_or_else(|| {
                    format!("unknown function `{name}` (one of: {})", function_names())
                })?);
            }
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
        match read_events(file) {
            Ok(events) => {
                for (i, ev) in events.iter().enumerate() {
                    match Event::parse(ev) {
                        Ok(event) => {
                            let d = match guard {
                                Some(g) => {
                                    match decide_guard(g, &event, &policy, &Facts::offline()) {
                                        Verdict::Decided(d) => d,
                                        Verdict::NeedFacts(f) => {
                                            trailguard_rules::Decision::ignore(format!(
                                                "unresolved facts offline: {f:?}"
                                            ))
                                        }
                                    }
                                }
                                None => decide_offline(&event, &policy),
                            };
                            let mut v = d.to_json(Some(&event));
                            v["source_file"] = json!(file);
                            let _ = writeln!(out, "{v}");
                        }
                        Err(e) => {
                            failed = true;
                            let at = if events.len() > 1 {
                                format!(" (record {i})")
                            } else {
                                String::new()
                            };
                            eprintln!("trailguard: {file}{at}: {e}");
                        }
                    }
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("trailguard: {file}: {e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The events in a file: one envelope or record, a CloudTrail log file's `Records`, or a
/// JSON array of either. Gzip is recognised by its magic bytes, whatever the file is called.
fn read_events(file: &str) -> Result<Vec<Value>, String> {
    let mut bytes = Vec::new();
    if file == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
    } else {
        bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .map_err(|e| format!("not valid gzip: {e}"))?;
        bytes = plain;
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    Ok(match v {
        Value::Object(ref o) if o.get("Records").is_some_and(Value::is_array) => {
            o["Records"].as_array().cloned().unwrap_or_default()
        }
        Value::Array(a) => a,
        other => vec![other],
    })
}
