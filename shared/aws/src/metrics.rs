//! CloudWatch metrics as Embedded Metric Format log lines: no API call, no latency.

use serde_json::json;
use trailguard_rules::{Kind, Report, Status};

const COUNTERS: [&str; 6] = [
    "remediated",
    "already_done",
    "dry_run",
    "ignored",
    "failed",
    "notified",
];

fn line(function: &str, action: &str, counter: &str, timestamp_ms: u128) {
    let mut v = json!({
        "_aws": {
            "Timestamp": timestamp_ms as u64,
            "CloudWatchMetrics": [{
                "Namespace": "trailguard",
                "Dimensions": [["Function", "Action"]],
                "Metrics": COUNTERS.iter().map(|c| json!({"Name": c, "Unit": "Count"})).collect::<Vec<_>>()
            }]
        },
        "Function": function,
        "Action": action,
    });
    for c in COUNTERS {
        v[c] = json!(u8::from(c == counter));
    }
    println!("{v}");
}

/// The counter an action outcome adds to.
fn counter(status: Option<Status>) -> &'static str {
    match status {
        Some(Status::Done) => "remediated",
        Some(Status::AlreadyDone) => "already_done",
        Some(Status::DryRun) => "dry_run",
        Some(Status::Failed) | None => "failed",
    }
}

/// One metric line per action outcome, or one for the decision when there is no action.
pub fn emit_outcomes(report: &Report) {
    let function = report.function.unwrap_or("unknown");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    if report.actions.is_empty() {
        let counter = if report.decision == Kind::Ignore {
            "ignored"
        } else {
            "notified"
        };
        line(function, "none", counter, now);
        return;
    }
    for a in &report.actions {
        line(function, a.action.type_name(), counter(a.outcome), now);
    }
}
