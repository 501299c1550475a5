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
        // The record's text as CloudTrail writes it (compact) and as the sample is (indented),
        // and with every string's characters written as `\u` escapes (the needles stand
        // aside: such a text may spell a value without its characters).
        let compact = serde_json::to_string(&record).unwrap();
        let pretty = serde_json::to_string_pretty(&record).unwrap();
        let escaped = escape_strings(&compact);
        assert_eq!(
            serde_json::from_str::<Value>(&escaped).unwrap(),
            record,
            "{name}: the escaped text reads as the record"
        );
        for policy in &policies {
            let with_texts = [
                ("no text", pre.candidates(&s, policy)),
                (
                    "compact",
                    pre.candidates_in(&s, Some(compact.as_bytes()), policy),
                ),
                (
                    "indented",
                    pre.candidates_in(&s, Some(pretty.as_bytes()), policy),
                ),
                (
                    "escaped",
                    pre.candidates_in(&s, Some(escaped.as_bytes()), policy),
                ),
            ];
            for g in &guards {
                if g.applies(&event, policy) {
                    delivered += 1;
                    for (how, candidates) in &with_texts {
                        if !candidates.contains(g) {
                            missed.push(format!(
                                "{name} ({how}): {g} delivers it, the prefilter left it out \
                                 ({candidates:?})"
                            ));
                        }
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

/// `text` with every character of every string after its first written as `\u` escape.
fn escape_strings(text: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut first = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_string = !in_string;
                first = in_string;
                out.push(c);
            }
            '\\' if in_string => {
                out.push(c);
                out.extend(chars.next());
                first = false;
            }
            c if in_string && !first && (c as u32) < 0x10000 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => {
                first = false;
                out.push(c);
            }
        }
    }
    out
}

/// Needles cut what the summary cannot: the calls the rules name whose text lacks the value
/// a rule needs are not candidates, and those that have it are.
#[test]
fn a_record_without_the_value_a_rule_needs_is_left_out() {
    let guards: Vec<Guard> = Guard::all().collect();
    let pre = Prefilter::new(&guards);
    let policy = Policy::default();
    let tags = Guard::all()
        .find(|g| g.function_name() == "guard-tags")
        .unwrap();
    let summary = Summary {
        event_source: Some("ec2.amazonaws.com"),
        event_name: Some("CreateTags"),
        event_type: Some("AwsApiCall"),
        identity_type: Some("AssumedRole"),
        ..Summary::default()
    };
    let record = |key: &str| {
        format!(
            r#"{{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","eventName":"CreateTags","eventType":"AwsApiCall","requestParameters":{{"resourcesSet":{{"items":[{{"resourceId":"i-0abc"}}]}},"tagSet":{{"items":[{{"key":"{key}","value":"x"}}]}}}}}}"#
        )
    };
    let cases = [
        ("Name", false),
        ("team/trailguard:exempt", false),
        ("trailguard:exempt", true),
        ("trailguard:protected", true),
        // The same key spelt with escapes: the needles stand aside.
        ("\\u0074railguard:exempt", true),
        ("trailguard\\u003aexempt", true),
        ("Name\\/x", true),
    ];
    let mut wrong = vec![];
    for (key, expected) in cases {
        let text = record(key);
        let event = Event::from_value(serde_json::from_str(&text).unwrap()).unwrap();
        let candidate = pre
            .candidates_in(&summary, Some(text.as_bytes()), &policy)
            .contains(&tags);
        // Without the text the summary alone lets every CreateTags through.
        assert!(pre.candidates(&summary, &policy).contains(&tags));
        if candidate != expected {
            wrong.push(format!(
                "key {key}: candidate {candidate}, expected {expected}"
            ));
        }
        if tags.applies(&event, &policy) && !candidate {
            wrong.push(format!(
                "key {key}: guard-tags takes it, the prefilter left it out"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
