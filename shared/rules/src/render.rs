//! The human side of the notification: what happened, who, from where, what trailguard did
//! (or would do, in dry-run), then the JSON report.

use serde_json::Value;

use crate::action::Action;
use crate::decision::Kind;
use crate::report::{Report, Status};

/// (subject, body) for one report.
pub fn render(report: &Report) -> (String, String) {
    let dry = report.is_dry_run();
    let title = report
        .notice
        .as_ref()
        .map(|n| n.title.as_str())
        .unwrap_or(report.reason.as_str());
    let failed = report.critical_failures().next().is_some();
    let tag = match (report.decision, dry, failed) {
        (_, _, true) => "FAILED",
        (Kind::Remediate, true, _) => "DRY-RUN",
        (Kind::Remediate, false, _) => "REMEDIATED",
        (Kind::Notify, _, _) => "NOTICE",
        _ => "INFO",
    };
    let subject = format!("[trailguard] {tag}: {title}");
    let e = report.event.clone().unwrap_or_default();
    let or_q = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
    let mut b = String::new();
    b.push_str(&format!("{title}\n\n"));
    b.push_str(&format!(
        "What happened: {} ({})\n",
        e.name,
        or_q(&e.source)
    ));
    b.push_str(&format!("Who:           {}\n", or_q(&e.actor)));
    b.push_str(&format!("From:          {}\n", or_q(&e.source_ip)));
    b.push_str(&format!("When:          {}\n", or_q(&e.time)));
    b.push_str(&format!(
        "Where:         account {}, {}\n",
        or_q(&e.account),
        or_q(&e.region)
    ));
    b.push_str(&format!("Why:           {}\n", report.reason));
    if !report.actions.is_empty() {
        b.push_str(if dry {
            "\nWhat trailguard would do (dry-run, nothing was changed):\n"
        } else {
            "\nWhat trailguard did:\n"
        });
        for a in &report.actions {
            // A read-only step that could not run is not a failed containment.
            let outcome = match a.outcome {
                Some(Status::Failed) if !a.action.is_critical() => "not available",
                Some(s) => s.as_str(),
                None => "planned",
            };
            let what = a.target.clone().unwrap_or_else(|| a.action.describe());
            b.push_str(&format!("  - {what}: {outcome}"));
            // A dry-run note repeats the target ("would ..."); others add to it.
            if let Some(n) = a
                .note
                .as_ref()
                .filter(|_| a.outcome != Some(Status::DryRun))
            {
                b.push_str(&format!(" ({n})"));
            }
            if let Some(err) = &a.error {
                b.push_str(&format!("\n      error: {}", err.message));
            }
            b.push('\n');
        }
    }
    if let Some(n) = report.notice.as_ref().filter(|n| !n.details.is_empty()) {
        b.push_str("\nDetails:\n");
        for d in &n.details {
            b.push_str(&format!("  - {d}\n"));
        }
    }
    for a in &report.actions {
        if let Action::SummarizeKeyActivity(_) = a.action {
            match &a.result {
                Some(r) => key_activity(&mut b, r),
                None => b.push_str(&format!(
                    "\nKey activity: {}\n",
                    a.note.as_deref().unwrap_or("no summary")
                )),
            }
        }
    }
    b.push_str("\nTo undo a remediation by hand, see the README section \"Rolling back\".\n");
    b.push_str("\n--- report (JSON) ---\n");
    b.push_str(&serde_json::to_string_pretty(report).unwrap_or_default());
    b.push('\n');
    (subject, b)
}

fn key_activity(b: &mut String, r: &Value) {
    let s = |k: &str| r[k].as_str().unwrap_or("?").to_string();
    b.push_str(&format!(
        "\nKey activity, last {}h: {} events, first {} last {}\n",
        r["hours"],
        r["events"],
        s("first_seen"),
        s("last_seen")
    ));
    for (label, key) in [
        ("top calls", "top_event_names"),
        ("source IPs", "source_ips"),
        ("regions", "regions"),
    ] {
        let list: Vec<String> = r[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| format!("{} ({})", x["value"].as_str().unwrap_or("?"), x["count"]))
            .collect();
        b.push_str(&format!(
            "  {label}: {}\n",
            if list.is_empty() {
                "none".into()
            } else {
                list.join(", ")
            }
        ));
    }
}
