//! The human side of the notification: what happened, who, from where, what trailguard did
//! (or would do, in dry-run), then the JSON report.

use serde_json::Value;

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or("?")
}

/// (subject, body) for one report.
pub fn render(report: &Value) -> (String, String) {
    let decision = s(report, &["decision"]);
    let dry = s(report, &["mode"]) == "dry-run";
    let title = report["notice"]["title"]
        .as_str()
        .unwrap_or(s(report, &["reason"]));
    let failed = report["actions"].as_array().is_some_and(|a| {
        a.iter()
            .any(|x| x["outcome"] == "failed" && x["type"] != "summarize_key_activity")
    });
    let tag = match (decision, dry, failed) {
        (_, _, true) => "FAILED",
        ("remediate", true, _) => "DRY-RUN",
        ("remediate", false, _) => "REMEDIATED",
        ("notify", _, _) => "NOTICE",
        _ => "INFO",
    };
    let subject = format!("[trailguard] {tag}: {title}");
    let e = &report["event"];
    let mut b = String::new();
    b.push_str(&format!("{title}\n\n"));
    b.push_str(&format!(
        "What happened: {} ({})\n",
        s(e, &["name"]),
        s(e, &["source"])
    ));
    b.push_str(&format!("Who:           {}\n", s(e, &["actor"])));
    b.push_str(&format!("From:          {}\n", s(e, &["source_ip"])));
    b.push_str(&format!("When:          {}\n", s(e, &["time"])));
    b.push_str(&format!(
        "Where:         account {}, {}\n",
        s(e, &["account"]),
        s(e, &["region"])
    ));
    b.push_str(&format!("Why:           {}\n", s(report, &["reason"])));
    if let Some(actions) = report["actions"].as_array().filter(|a| !a.is_empty()) {
        b.push_str(if dry {
            "\nWhat trailguard would do (dry-run, nothing was changed):\n"
        } else {
            "\nWhat trailguard did:\n"
        });
        for a in actions {
            let outcome = a["outcome"].as_str().unwrap_or("planned");
            let what = a
                .get("target")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| describe(a));
            b.push_str(&format!("  - {what}: {outcome}"));
            if let Some(n) = a["note"].as_str() {
                b.push_str(&format!(" ({n})"));
            }
            if let Some(err) = a["error"]["message"].as_str() {
                b.push_str(&format!("\n      error: {err}"));
            }
            b.push('\n');
        }
    }
    if let Some(details) = report["notice"]["details"].as_array() {
        b.push_str("\nDetails:\n");
        for d in details {
            b.push_str(&format!("  - {}\n", d.as_str().unwrap_or_default()));
        }
    }
    for a in report["actions"].as_array().into_iter().flatten() {
        if a["type"] == "summarize_key_activity" {
            let r = &a["result"];
            if r.is_object() {
                b.push_str(&format!(
                    "\nKey activity, last {}h: {} events, first {} last {}\n",
                    r["hours"],
                    r["events"],
                    s(r, &["first_seen"]),
                    s(r, &["last_seen"])
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
                        .map(|x| format!("{} ({})", s(x, &["value"]), x["count"]))
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
            } else {
                b.push_str(&format!(
                    "\nKey activity summary unavailable: {}\n",
                    a["note"].as_str().unwrap_or("unknown reason")
                ));
            }
        }
    }
    b.push_str("\nTo undo a remediation by hand, see the README section \"Rolling back\".\n");
    b.push_str("\n--- report (JSON) ---\n");
    b.push_str(&serde_json::to_string_pretty(report).unwrap_or_default());
    b.push('\n');
    (subject, b)
}

fn describe(a: &Value) -> String {
    let t = s(a, &["type"]);
    let target = [
        "rule_ids",
        "group_id",
        "access_key_id",
        "name",
        "network_acl_id",
        "trail",
    ]
    .iter()
    .filter_map(|k| {
        a.get(*k).map(|v| {
            if let Some(s) = v.as_str() {
                s.to_string()
            } else {
                v.to_string()
            }
        })
    })
    .collect::<Vec<_>>()
    .join(" ");
    format!("{t} {target}")
}
