//! A fixture archive in CloudTrail's layout (two accounts, two regions, three days, plain and
//! gzip files, a corrupt gzip, a file that is not a log, a truncated log, a digest file), its
//! summary checked field by field, with and without filters, on one thread and on several.

mod fixture;

use std::path::Path;

use fixture::*;
use serde_json::{json, Value};
use trailguard_backtest::run::{self, Options};
use trailguard_backtest::{source, Engine, Filters, Summary};
use trailguard_rules::Policy;

fn backtest(root: &Path, filters: Filters, jobs: usize) -> Summary {
    let engine = Engine::new(Policy::default(), filters).unwrap();
    let files = source::local_files(&[root.to_path_buf()]).unwrap();
    run::local(
        &engine,
        &files,
        &Options {
            jobs,
            ..Options::default()
        },
    )
}

fn day(s: &Summary, d: &str, kind: &str) -> u64 {
    s.timeline
        .get(d)
        .and_then(|m| m.get(kind))
        .copied()
        .unwrap_or(0)
}

#[test]
fn the_whole_archive_field_by_field() {
    let root = root();
    let bad = archive(&root);
    let s = backtest(&root, Filters::default(), 2);
    // 12 logs and the 3 unreadable objects were opened; the digest was never read.
    assert_eq!(s.objects, 15);
    assert_eq!(s.objects_filtered, 1);
    assert_eq!(s.skipped, 3);
    let mut named: Vec<String> = s.skipped_objects.iter().map(|k| k.object.clone()).collect();
    named.sort();
    let mut want: Vec<String> = bad
        .iter()
        .map(|b| root.join(b).display().to_string())
        .collect();
    want.sort();
    assert_eq!(named, want);
    let problem = |suffix: &str| {
        s.skipped_objects
            .iter()
            .find(|k| k.object.ends_with(suffix))
            .map(|k| k.problem.clone())
            .unwrap_or_default()
    };
    assert!(
        problem("corrupt.json.gz").contains("decompressing failed: corrupt deflate stream"),
        "{:?}",
        s.skipped_objects
    );
    assert!(
        problem("notes.txt").contains("not valid JSON at byte 0"),
        "{:?}",
        s.skipped_objects
    );
    assert!(
        s.skipped_objects
            .iter()
            .any(|k| k.object.ends_with("truncated.json") && k.problem.contains("truncated")),
        "{:?}",
        s.skipped_objects
    );
    // The chart's counts (day, function) add up to the day's and the function's.
    for kind in ["remediate", "notify"] {
        let of_day = |d: &str| -> u64 {
            s.daily
                .get(d)
                .map(|m| m.values().filter_map(|k| k.get(kind)).sum())
                .unwrap_or(0)
        };
        for d in s.timeline.keys().chain(s.daily.keys()) {
            assert_eq!(of_day(d), day(&s, d, kind), "{d} {kind}");
        }
        for f in s.decisions.keys() {
            let of_function: u64 = s
                .daily
                .values()
                .filter_map(|m| m.get(f).and_then(|k| k.get(kind)))
                .sum();
            assert_eq!(of_function, s.count(f, kind), "{f} {kind}");
        }
    }
    assert!(s
        .daily
        .values()
        .flat_map(|m| m.values())
        .all(|k| !k.contains_key("ignore")));
    // 12 files of 6 records, and the truncated file's one whole record.
    assert_eq!(s.records, 73);
    assert_eq!(s.bad_records, 0);
    assert_eq!(s.records_filtered, 0);
    assert_eq!(s.count("revert-security-group", "remediate"), 13);
    assert_eq!(s.count("guard-cloudtrail", "remediate"), 12);
    assert_eq!(s.count("guard-iam", "notify"), 12);
    // The same 12 key creations reach the key function too (a new key may be a quarantined
    // user's): offline, no user is taken as quarantined, so none is planned.
    assert_eq!(s.count("disable-compromised-key", "remediate"), 0);
    assert_eq!(s.count("disable-compromised-key", "ignore"), 12);
    assert_eq!(
        s.decisions.values().flat_map(|m| m.values()).sum::<u64>(),
        49
    );
    assert_eq!(s.not_delivered, 36);
    assert_eq!(
        s.reasons["revert-security-group"]["remediate"]
            ["tcp/22 from 0.0.0.0/0 exposes tcp 22 to the internet"],
        13
    );
    assert_eq!(
        s.reasons["guard-cloudtrail"]["remediate"]
            .values()
            .sum::<u64>(),
        12
    );
    // Per day: 4 files a day, and the truncated file's record on the first.
    assert_eq!(
        (
            day(&s, "2026-08-01", "remediate"),
            day(&s, "2026-08-01", "notify")
        ),
        (9, 4)
    );
    assert_eq!(
        (
            day(&s, "2026-08-02", "remediate"),
            day(&s, "2026-08-02", "notify")
        ),
        (8, 4)
    );
    assert_eq!(
        (
            day(&s, "2026-08-03", "remediate"),
            day(&s, "2026-08-03", "notify")
        ),
        (8, 4)
    );
    let alice = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_1a2b3c4d5e6f7a8b/alice@example.com";
    assert_eq!(s.actors[alice]["revert-security-group"], 13);
    assert_eq!(s.actors[alice]["guard-cloudtrail"], 12);
    assert_eq!(
        s.actors.len(),
        1,
        "only remediations name actors: {:?}",
        s.actors.keys()
    );
    // One thread or several: the same summary.
    assert_eq!(backtest(&root, Filters::default(), 1), s);
    assert_eq!(backtest(&root, Filters::default(), 5), s);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn filters_leave_objects_unread_and_records_uncounted() {
    let root = root();
    archive(&root);
    let since = backtest(
        &root,
        Filters {
            since: Some("2026-08-02".into()),
            ..Filters::default()
        },
        2,
    );
    // The first day's 4 logs and the truncated one (also on the first day) are never opened.
    assert_eq!(since.objects_filtered, 1 + 4 + 1);
    assert_eq!(since.objects, 8 + 2);
    assert_eq!(since.count("revert-security-group", "remediate"), 8);
    assert_eq!(day(&since, "2026-08-01", "remediate"), 0);
    let one = backtest(
        &root,
        Filters {
            accounts: vec!["444455556666".into()],
            until: Some("2026-08-02".into()),
            ..Filters::default()
        },
        2,
    );
    assert_eq!(one.count("guard-cloudtrail", "remediate"), 4);
    assert_eq!(one.count("revert-security-group", "remediate"), 5);
    let iam = backtest(
        &root,
        Filters {
            functions: vec!["guard-iam".into()],
            ..Filters::default()
        },
        2,
    );
    assert_eq!(iam.decisions.keys().collect::<Vec<_>>(), ["guard-iam"]);
    assert_eq!(iam.count("guard-iam", "notify"), 12);
    // Records outside the layout are filtered one by one, by their own fields.
    let flat = root.join("flat");
    let mixed = [
        file_records("111122223333", "us-east-1", "2026-08-01"),
        file_records("444455556666", "eu-west-1", "2026-08-03"),
    ]
    .concat();
    write(
        &flat.join("mixed.json"),
        json!({ "Records": mixed }).to_string().as_bytes(),
        false,
    );
    let r = backtest(
        &flat,
        Filters {
            regions: vec!["eu-west-1".into()],
            ..Filters::default()
        },
        1,
    );
    assert_eq!((r.records, r.records_filtered), (12, 6));
    assert_eq!(r.count("revert-security-group", "remediate"), 1);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn decisions_are_written_one_json_line_each() {
    let root = root();
    archive(&root);
    let mut engine = Engine::new(Policy::default(), Filters::default()).unwrap();
    engine.reports = true;
    let files = source::local_files(std::slice::from_ref(&root)).unwrap();
    let path = root.join("decisions.jsonl");
    let opts = Options {
        jobs: 3,
        decisions: Some(std::sync::Mutex::new(Box::new(
            std::fs::File::create(&path).unwrap(),
        ))),
        ..Options::default()
    };
    let s = run::local(&engine, &files, &opts);
    drop(opts);
    let lines: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len() as u64,
        s.count("revert-security-group", "remediate")
            + s.count("guard-cloudtrail", "remediate")
            + s.count("guard-iam", "notify")
    );
    for l in &lines {
        for k in [
            "source_file",
            "event",
            "function",
            "decision",
            "reason",
            "mode",
            "actions",
        ] {
            assert!(l.get(k).is_some(), "{k} missing: {l}");
        }
        assert_ne!(l["decision"], "ignore");
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn records_across_read_buffer_boundaries_are_read_once_each() {
    // About 4 MB of records in one file, plain and gzip: many of them straddle the reader's
    // 256 KB chunks, where the one-pass parser asks for more and starts again.
    let root = root();
    let records: Vec<Value> = (0..500)
        .flat_map(|_| file_records(ACCOUNTS[0], REGIONS[0], DAYS[0]))
        .collect();
    let body = json!({ "Records": records }).to_string();
    assert!(body.len() > 3_000_000);
    for (name, gz) in [("big.json", false), ("big.json.gz", true)] {
        let dir = root.join(name.replace('.', "-"));
        write(
            &dir.join(key(ACCOUNTS[0], REGIONS[0], DAYS[0], name)),
            body.as_bytes(),
            gz,
        );
        let s = backtest(&dir, Filters::default(), 1);
        assert_eq!(
            (s.objects, s.records, s.skipped, s.bad_records),
            (1, 3000, 0, 0),
            "{name}"
        );
        assert_eq!(s.count("revert-security-group", "remediate"), 500);
        assert_eq!(s.count("guard-iam", "notify"), 500);
        assert_eq!(s.not_delivered, 1500);
        assert_eq!(s.bytes as usize, body.len() - r#"{"Records":[]}"#.len() + 1);
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// The same files through the fast path (quick reader, prefilter) and the reference path
/// (every record parsed whole and offered to every guard): the same summary.
fn fast_and_reference(root: &Path, policy: &Policy) -> (Summary, Summary) {
    let files = source::local_files(&[root.to_path_buf()]).unwrap();
    let run = |reference: bool| {
        let mut engine = Engine::new(policy.clone(), Filters::default()).unwrap();
        engine.reference = reference;
        run::local(
            &engine,
            &files,
            &Options {
                jobs: 2,
                ..Options::default()
            },
        )
    };
    (run(false), run(true))
}

#[test]
fn the_fast_path_decides_every_record_as_the_reference_path() {
    let root = root().with_extension("reference");
    let _ = std::fs::remove_dir_all(&root);
    archive(&root);
    // Every sample too, each in the form a log holds it: a CloudTrail sample's record (its
    // `detail`), and every sample whole (Health, GuardDuty, Security Hub, manual events).
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut records = Vec::new();
    let mut whole = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&events)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    for p in &names {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        if v["detail-type"] == "AWS API Call via CloudTrail"
            || v["detail-type"] == "AWS Console Sign In via CloudTrail"
        {
            records.push(v["detail"].clone());
        }
        whole.push(v);
    }
    assert!(records.len() > 200, "{}", records.len());
    let logs = root.join(key(
        "111122223333",
        "us-east-1",
        "2026-08-09",
        "samples.json",
    ));
    write(
        &logs,
        json!({ "Records": records }).to_string().as_bytes(),
        false,
    );
    write(
        &logs.with_file_name("samples-events.json.gz"),
        Value::Array(whole).to_string().as_bytes(),
        true,
    );
    let samples_policy: Policy =
        Policy::from_json(&std::fs::read_to_string(events.join("meta/policy.json")).unwrap())
            .unwrap();
    for (name, policy) in [("default", Policy::default()), ("samples'", samples_policy)] {
        let (fast, reference) = fast_and_reference(&root, &policy);
        assert!(fast.records > 300, "{}", fast.records);
        assert!(
            fast.decisions
                .values()
                .flat_map(|m| m.values())
                .sum::<u64>()
                > 100,
            "{:?}",
            fast.decisions
        );
        assert_eq!(
            serde_json::to_value(&fast).unwrap(),
            serde_json::to_value(&reference).unwrap(),
            "the {name} policy: the fast path and the reference path differ"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
