//! CloudWatch metrics as Embedded Metric Format log lines: no API call, no latency.

use serde_json::json;
use trailguard_rules::{Decision, Kind};

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

/// One metric line per action outcome, or one for the decision when there is no action.
pub fn emit_outcomes(function: &str, d: &Decision, statuses: &[&str]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    if d.actions.is_empty() {
        let counter = if d.kind == Kind::Ignore {
            "ignored"
        } else {
            "notified"
        };
        line(function, "none", counter, now);
        return;
    }
    for (a, status) in d.actions.iter().zip(statuses) {
        let counter = match *status {
            "done" => "remediated",
            "already_done" => "already_done",
            "dry_run" => "dry_run",
            _ => "failed",
        };
        line(function, a.type_name(), counter, now);
    }
}
