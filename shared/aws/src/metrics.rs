//! CloudWatch metrics as Embedded Metric Format log lines: no API call, no latency.
//!
//! Every metric is declared here once, with its dimensions: the stack's dashboard
//! (template.yaml) plots only these, and a test reads both.

use serde_json::json;
use trailguard_rules::report::ActionReport;
use trailguard_rules::sweep::SweepReport;
use trailguard_rules::{Kind, Report, Status};

/// The namespace of every metric trailguard emits.
pub const NAMESPACE: &str = "trailguard";

/// The dimensions of the outcome counters.
pub const OUTCOME_DIMENSIONS: [&str; 2] = ["Function", "Action"];

/// One per action outcome (or per decision without an action), by function and action.
pub const COUNTERS: [&str; 7] = [
    "remediated",
    "already_done",
    "dry_run",
    "ignored",
    "failed",
    // The blast-radius breaker held the action back: the breaker is open.
    "held",
    "notified",
];

/// The dimensions of the sweep's metrics.
pub const SWEEP_DIMENSIONS: [&str; 1] = ["Function"];

/// One line per sweep run: resources listed, findings (resources decided other than
/// `ignore`), and 1 when a listing or lookup failed.
pub const SWEEP_METRICS: [&str; 3] = ["sweep_resources", "sweep_findings", "sweep_failed"];

fn emf(
    dimensions: &[&str],
    metrics: &[&str],
    values: serde_json::Value,
    timestamp_ms: u128,
) -> serde_json::Value {
    let mut v = json!({
        "_aws": {
            "Timestamp": timestamp_ms as u64,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": metrics.iter().map(|c| json!({"Name": c, "Unit": "Count"})).collect::<Vec<_>>()
            }]
        },
    });
    if let (Some(out), Some(values)) = (v.as_object_mut(), values.as_object()) {
        out.extend(values.clone());
    }
    v
}

fn line(function: &str, action: &str, counter: &str, timestamp_ms: u128) -> serde_json::Value {
    let mut values = json!({"Function": function, "Action": action});
    for c in COUNTERS {
        values[c] = json!(u8::from(c == counter));
    }
    emf(&OUTCOME_DIMENSIONS, &COUNTERS, values, timestamp_ms)
}

/// The counter an action outcome adds to.
fn counter(a: &ActionReport) -> &'static str {
    match a.outcome {
        Some(Status::Done) => "remediated",
        Some(Status::AlreadyDone) => "already_done",
        // Undone by a person: nothing was changed, as for a change already made.
        Some(Status::Undone) => "already_done",
        // Planned, not done, either way.
        Some(Status::DryRun | Status::AwaitingApproval) => "dry_run",
        Some(Status::Failed) | None
            if a.error
                .as_ref()
                .is_some_and(|e| e.code == crate::executor::BREAKER_OPEN) =>
        {
            "held"
        }
        Some(Status::Failed) | None => "failed",
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// One metric line per action outcome, or one for the decision when there is no action.
pub fn outcome_lines(report: &Report, now: u128) -> Vec<serde_json::Value> {
    let function = report.function.unwrap_or("unknown");
    if report.actions.is_empty() {
        let counter = if report.decision == Kind::Ignore {
            "ignored"
        } else {
            "notified"
        };
        return vec![line(function, "none", counter, now)];
    }
    report
        .actions
        .iter()
        .map(|a| line(function, a.action.type_name(), counter(a), now))
        .collect()
}

/// A sweep run: its own line, and each finding's outcomes as an event's would count.
pub fn sweep_lines(r: &SweepReport, failed: bool, now: u128) -> Vec<serde_json::Value> {
    let values = json!({
        "Function": r.function,
        "sweep_resources": r.listed.values().sum::<u64>(),
        "sweep_findings": r.findings.iter().filter(|f| f.report.decision != Kind::Ignore).count(),
        "sweep_failed": u8::from(failed),
    });
    let mut out = vec![emf(&SWEEP_DIMENSIONS, &SWEEP_METRICS, values, now)];
    for f in r
        .findings
        .iter()
        .filter(|f| f.report.decision != Kind::Ignore)
    {
        out.extend(outcome_lines(&f.report, now));
    }
    out
}

/// Print an event's metric lines (Lambda's log, which CloudWatch reads as EMF).
pub fn emit_outcomes(report: &Report) {
    for l in outcome_lines(report, now_ms()) {
        println!("{l}");
    }
}

/// Print a sweep's metric lines.
pub fn emit_sweep(r: &SweepReport, failed: bool) {
    for l in sweep_lines(r, failed, now_ms()) {
        println!("{l}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailguard_rules::report::ErrorReport;
    use trailguard_rules::{Decision, Guard, Policy};

    fn declared(line: &serde_json::Value) -> (Vec<String>, Vec<String>) {
        let m = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(m["Namespace"], NAMESPACE);
        let dims = m["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect();
        let names = m["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["Name"].as_str().unwrap().to_string())
            .collect();
        (dims, names)
    }

    #[test]
    fn lines_carry_the_declared_names_and_dimensions_and_the_breaker_counts_as_held() {
        let sg = Guard::all()
            .find(|g| g.function_name() == "revert-security-group")
            .unwrap();
        let action: trailguard_rules::Action = trailguard_rules::action::RevokeRules {
            group_id: "sg-1".into(),
            egress: false,
            rule_ids: vec!["sgr-1".into()],
            permissions: vec![],
        }
        .into();
        let notice = trailguard_rules::Notice {
            severity: trailguard_rules::Severity::High,
            title: "open".into(),
            details: vec![],
        };
        let mut d = Decision::remediate("open", vec![action.clone(), action], notice);
        d.guard = Some(sg.id());
        let mut r = Report::new(&d, None);
        r.function = Some("revert-security-group");
        r.actions[0].outcome = Some(Status::Done);
        r.actions[1].outcome = Some(Status::Failed);
        r.actions[1].error = Some(ErrorReport {
            message: "held".into(),
            code: crate::executor::BREAKER_OPEN.into(),
            kind: "retryable",
        });
        let lines = outcome_lines(&r, 1);
        assert_eq!(lines.len(), 2);
        for (l, want) in lines.iter().zip(["remediated", "held"]) {
            let (dims, names) = declared(l);
            assert_eq!(dims, OUTCOME_DIMENSIONS);
            assert_eq!(names, COUNTERS);
            for c in COUNTERS {
                assert_eq!(l[c], u8::from(c == want), "{c} in {l}");
            }
            assert_eq!(l["Function"], "revert-security-group");
            assert_eq!(l["Action"], "revoke_security_group_rules");
        }
        let mut s = SweepReport::new(sg, &Policy::default(), None, None);
        s.findings.push(trailguard_rules::sweep::Finding {
            kind: trailguard_rules::sweep::StateKind::SecurityGroups,
            resource: "sg-1".into(),
            report: r,
        });
        let lines = sweep_lines(&s, true, 1);
        let (dims, names) = declared(&lines[0]);
        assert_eq!(dims, SWEEP_DIMENSIONS);
        assert_eq!(names, SWEEP_METRICS);
        assert_eq!(lines[0]["sweep_findings"], 1);
        assert_eq!(lines[0]["sweep_failed"], 1);
        assert_eq!(
            lines.len(),
            3,
            "the sweep line and the finding's two outcomes"
        );
    }
}
