//! Property test: whatever is done to real samples (fields dropped, retyped to
//! string/number/null/array/object, nested one level deeper), parsing gives either a clear
//! error that names what is wrong or an event, and every guard then gives a well-formed
//! decision (or asks for facts). Nothing panics.

use proptest::prelude::*;
use serde_json::{json, Value};
use trailguard_rules::{
    decide, decide_offline, Decider, Decision, Event, Facts, GroupFacts, Guard, Kind, Policy,
    Report, Verdict,
};

fn samples() -> &'static [Value] {
    static SAMPLES: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    SAMPLES.get_or_init(load_samples)
}

fn load_samples() -> Vec<Value> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut out: Vec<Value> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let name = p.file_name()?.to_str()?.to_string();
            name.ends_with(".json")
                .then(|| serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok())?
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

/// Every path to a value in the document.
fn paths(v: &Value, prefix: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                prefix.push(PathStep::Key(k.clone()));
                paths(c, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                prefix.push(PathStep::Index(i));
                paths(c, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn get_mut<'a>(v: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match s {
            PathStep::Key(k) => cur.get_mut(k.as_str())?,
            PathStep::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}

fn mutate(mut doc: Value, which: usize, how: u8) -> Value {
    let mut all = Vec::new();
    paths(&doc, &mut Vec::new(), &mut all);
    let path = all[which % all.len()].clone();
    if how == 0 && !path.is_empty() {
        // Drop the field or element.
        let (last, parent) = path.split_last().unwrap();
        if let Some(p) = get_mut(&mut doc, parent) {
            match (p, last) {
                (Value::Object(o), PathStep::Key(k)) => {
                    o.remove(k);
                }
                (Value::Array(a), PathStep::Index(i)) if *i < a.len() => {
                    a.remove(*i);
                }
                _ => {}
            }
        }
        return doc;
    }
    if let Some(target) = get_mut(&mut doc, &path) {
        let old = target.take();
        *target = match how {
            1 => Value::Null,
            2 => json!(-1),
            3 => json!("-1"),
            4 => json!(1e308),
            5 => json!([old]),
            6 => json!({"items": [old]}),
            7 => json!({}),
            8 => json!(""),
            9 => json!(true),
            10 => json!("0.0.0.0/0"),
            11 => json!(65536),
            // Deep nesting: the value 200 arrays down.
            13 => (0..200).fold(old, |v, _| json!([v])),
            // A 1 MB string.
            14 => json!("x".repeat(1 << 20)),
            // Replaced by an invalid UTF-8 escape (a lone surrogate) in the text: see `text`.
            15 => json!(BAD_UTF8),
            _ => json!({"nested": old}),
        };
    }
    doc
}

const BAD_UTF8: &str = "__trailguard_bad_utf8__";
/// How many ways `mutate` knows.
const HOWS: u8 = 16;

/// The document as the runtime receives it: text. A bad-UTF-8 marker becomes a lone
/// surrogate escape, which no JSON parser may accept: the text is then rejected, as the
/// Lambda runtime rejects it, before any of our code runs.
fn through_text(doc: &Value) -> Outcome {
    let text = doc
        .to_string()
        .replace(&format!("\"{BAD_UTF8}\""), "\"\\udc00 lone surrogate\"");
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => exercise(&v),
        Err(_) => Outcome::Rejected,
    }
}

/// Cases per run: 1,500 in the test command; `PROPTEST_CASES` for long runs
/// (scripts/mutation.sh runs a million).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

fn facts_for_everything() -> Facts {
    let mut f = Facts {
        own_role_arn: Some("arn:aws:iam::123456789012:role/trailguard".into()),
        ..Facts::default()
    };
    let group = GroupFacts {
        group_id: "sg-0a1b2c3d4e5f60789".into(),
        group_name: Some("default".into()),
        tags: Default::default(),
        rules: vec![],
    };
    f.security_groups.push(group.clone());
    f.group_states.insert(group.group_id.clone(), Some(group));
    f.rules_looked_up = true;
    f
}

/// A decision is well formed: it gives a reason, a remediation has actions and tells
/// people, a notice tells people, and its report is a JSON object naming the decision.
fn assert_well_formed(d: &Decision, event: &Event) {
    assert!(!d.reason.trim().is_empty(), "no reason: {d:?}");
    match d.kind {
        Kind::Remediate => {
            assert!(!d.actions.is_empty(), "remediate without actions: {d:?}");
            assert!(d.notice.is_some(), "remediate without a notice: {d:?}");
        }
        Kind::Notify => assert!(d.notice.is_some(), "notify without a notice: {d:?}"),
        Kind::Ignore => assert!(d.actions.is_empty(), "ignore with actions: {d:?}"),
    }
    for a in &d.actions {
        assert!(!a.iam_actions().is_empty(), "{a:?}");
        assert!(!a.describe().is_empty(), "{a:?}");
    }
    let v = Report::new(d, Some(event)).to_value();
    assert_eq!(v["decision"], json!(d.kind));
}

/// What the mutated document became: a parse error that says what is wrong, or an event
/// every guard decides on.
#[derive(Debug, PartialEq)]
enum Outcome {
    Rejected,
    Decided,
}

fn exercise(doc: &Value) -> Outcome {
    let policy = Policy::default();
    match Event::parse(doc) {
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("field `")
                    || msg.contains("not a JSON object")
                    || msg.contains("no `source`"),
                "a parse error must say what is wrong: {msg}"
            );
            Outcome::Rejected
        }
        Ok(event) => {
            assert_well_formed(&decide_offline(&event, &policy), &event);
            match decide(&event, &policy, &facts_for_everything()) {
                Verdict::Decided(d) => assert_well_formed(&d, &event),
                Verdict::NeedFacts(f) => assert!(!f.is_empty()),
            }
            for g in Guard::all() {
                match trailguard_rules::decide_guard(
                    Decider::of(g).unwrap(),
                    &event,
                    &policy,
                    &Facts::default(),
                ) {
                    Verdict::Decided(d) => {
                        assert_eq!(d.guard, Some(g.id()));
                        assert_well_formed(&d, &event);
                    }
                    Verdict::NeedFacts(f) => {
                        assert!(!f.is_empty());
                        for r in f {
                            assert!(g.spec().facts.contains(&r.kind()), "{g}: {r:?}");
                        }
                    }
                }
            }
            Outcome::Decided
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn parse_and_decide_never_panic(sample in 0usize..1000, which in 0usize..10_000, how in 0u8..HOWS, times in 1usize..4) {
        let all = samples();
        let mut doc = all[sample % all.len()].clone();
        for t in 0..times {
            doc = mutate(doc, which.wrapping_mul(t + 1).wrapping_add(t), how.wrapping_add(t as u8) % HOWS);
        }
        through_text(&doc);
    }
}

/// Every mutation of ten paths of every sample, once: both outcomes occur, so
/// the property above exercises the deciding code and not only the parser.
#[test]
fn mutations_reach_both_the_parser_errors_and_the_guards() {
    let (mut rejected, mut decided) = (0, 0);
    for doc in samples() {
        let mut all = Vec::new();
        paths(doc, &mut Vec::new(), &mut all);
        // Ten paths spread over the document (its first, its last, and between): every
        // depth is reached, and the sweep stays a few seconds in a debug build.
        let picks = all.len().min(10);
        for which in
            (0..picks).map(|i| i * all.len().saturating_sub(1) / picks.saturating_sub(1).max(1))
        {
            // The envelope-breaking mutations (13 and up) are left to the property: a
            // megabyte string for every path of every sample would only slow this down.
            for how in 0..13 {
                match through_text(&mutate(doc.clone(), which, how)) {
                    Outcome::Rejected => rejected += 1,
                    Outcome::Decided => decided += 1,
                }
            }
        }
    }
    assert!(rejected > 100, "only {rejected} mutations were rejected");
    assert!(decided > 1000, "only {decided} mutations were decided");
}

#[test]
fn arbitrary_json_never_panics() {
    for (doc, want) in [
        (json!(null), Outcome::Rejected),
        (json!(1), Outcome::Rejected),
        (json!("x"), Outcome::Rejected),
        (json!([]), Outcome::Rejected),
        (json!({}), Outcome::Rejected),
        (json!({"source": 1}), Outcome::Decided),
        (
            json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": []}),
            Outcome::Rejected,
        ),
        (json!({"eventName": {}}), Outcome::Decided),
    ] {
        assert_eq!(exercise(&doc), want, "{doc}");
    }
}
