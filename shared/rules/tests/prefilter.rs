//! The backtest's prefilter never loses a record a rule delivers: for every sample in events/
//! (CloudTrail records, as a log file holds them), under the default policy and the samples'
//! policy, every guard whose rules deliver the record is among the prefilter's candidates.

use std::path::PathBuf;

use serde_json::Value;
use trailguard_rules::prefilter::{Prefilter, Summary};
use trailguard_rules::{Event, Guard, Policy};

fn samples() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            out.push((p.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

#[test]
fn no_record_a_rule_delivers_is_left_out() {
    let policies = [
        Policy::default(),
        Policy::from_json(
            &std::fs::read_to_string(
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/meta/policy.json"),
            )
            .unwrap(),
        )
        .unwrap(),
    ];
    let guards: Vec<Guard> = Guard::all().collect();
    let pre = Prefilter::new(&guards);
    let mut checked = 0;
    let mut delivered = 0;
    // Every record left out, listed in one failure.
    let mut missed: Vec<String> = Vec::new();
    for (name, v) in samples() {
        // The record as a log file holds it (the detail of a CloudTrail event).
        let Some(record) = v
            .get("detail")
            .filter(|d| d.get("eventName").is_some())
            .cloned()
        else {
            continue;
        };
        let event = Event::from_value(record.clone()).unwrap();
        let s = Summary {
            event_source: text(&record, &["eventSource"]),
            event_name: text(&record, &["eventName"]),
            event_type: text(&record, &["eventType"]),
            error_code: text(&record, &["errorCode"]),
            read_only: record.get("readOnly").and_then(Value::as_bool),
            identity_type: text(&record, &["userIdentity", "type"]),
            invoked_by: text(&record, &["userIdentity", "invokedBy"]),
            access_key_id: text(&record, &["userIdentity", "accessKeyId"]),
            arn: text(&record, &["userIdentity", "arn"]),
        };
        for policy in &policies {
            let candidates = pre.candidates(&s, policy);
            for g in &guards {
                if g.applies(&event, policy) {
                    delivered += 1;
                    if !candidates.contains(g) {
                        missed.push(format!(
                            "{name}: {g} delivers it, the prefilter left it out ({candidates:?})"
                        ));
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(
        missed.is_empty(),
        "{} records left out:\n{}",
        missed.len(),
        missed.join("\n")
    );
    assert!(
        checked > 150 && delivered > 100,
        "{checked} checks, {delivered} deliveries"
    );
}
