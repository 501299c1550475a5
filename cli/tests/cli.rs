//! The `trailguard` binary as a user runs it.

use std::io::Write;
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
}

fn events() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn decide_prints_one_decision_per_sample_matching_the_manifest() {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(events().join("meta/manifest.json")).unwrap(),
    )
    .unwrap();
    let files: Vec<String> = manifest
        .as_object()
        .unwrap()
        .keys()
        .map(|f| events().join(f).to_string_lossy().into_owned())
        .collect();
    let out = bin()
        .arg("decide")
        .arg("--policy")
        .arg(events().join("meta/policy.json"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decisions = lines(&out.stdout);
    assert_eq!(decisions.len(), files.len());
    // Every sample that differs, listed in one failure.
    let mut failures: Vec<String> = Vec::new();
    for d in &decisions {
        let file = d["source_file"].as_str().unwrap();
        let name = std::path::Path::new(file)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        if d["decision"] != manifest[name]["decision"] {
            failures.push(format!(
                "{name}: decision {}, the manifest says {}",
                d["decision"], manifest[name]["decision"]
            ));
        }
        for key in [
            "event_id", "decision", "reason", "actions", "notice", "mode", "event",
        ] {
            if d.get(key).is_none() {
                failures.push(format!("{name}: missing {key}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn malformed_input_names_the_file_and_the_others_still_run() {
    let dir = std::env::temp_dir().join(format!("trailguard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let no_source = dir.join("weird.json");
    std::fs::write(&no_source, r#"{"hello": "world"}"#).unwrap();
    let good = events().join("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json");
    let out = bin()
        .args(["decide"])
        .arg(&bad)
        .arg(&no_source)
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json") && err.contains("not valid JSON"),
        "{err}"
    );
    assert!(err.contains("weird.json"), "{err}");
    assert_eq!(lines(&out.stdout).len(), 1);
    assert_eq!(lines(&out.stdout)[0]["decision"], "remediate");
}

#[test]
fn cloudtrail_log_files_plain_and_gzipped() {
    let dir = std::env::temp_dir().join(format!("trailguard-cli-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let records: Vec<Value> = [
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
        "aws.cloudtrail-StopLogging-remediate.json",
        "aws.ec2-AuthorizeSecurityGroupIngress-narrow-cidr.json",
    ]
    .iter()
    .map(|f| {
        serde_json::from_str::<Value>(&std::fs::read_to_string(events().join(f)).unwrap()).unwrap()
            ["detail"]
            .clone()
    })
    .collect();
    let log = serde_json::json!({ "Records": records }).to_string();
    let plain = dir.join("123456789012_CloudTrail_us-east-1_20261120T1015Z_abc.json");
    std::fs::write(&plain, &log).unwrap();
    let gz = dir.join("123456789012_CloudTrail_us-east-1_20261120T1015Z_abc.json.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(log.as_bytes()).unwrap();
    enc.finish().unwrap();
    for f in [&plain, &gz] {
        let out = bin().arg("decide").arg(f).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let d = lines(&out.stdout);
        let kinds: Vec<&str> = d.iter().map(|x| x["decision"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["remediate", "remediate", "ignore"], "{f:?}");
        assert_eq!(d[1]["actions"][0]["type"], "start_logging");
        assert_eq!(d[0]["event"]["source"], "aws.ec2");
    }
}

#[test]
fn policy_commands() {
    let out = bin().args(["policy", "default"]).output().unwrap();
    assert!(out.status.success());
    let dir = std::env::temp_dir().join(format!("trailguard-cli-pol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("p.json");
    std::fs::write(&p, &out.stdout).unwrap();
    assert!(bin()
        .args(["policy", "check"])
        .arg(&p)
        .status()
        .unwrap()
        .success());
    std::fs::write(&p, r#"{"public_ports": ["tcp/22", "ssh"]}"#).unwrap();
    let out = bin().args(["policy", "check"]).arg(&p).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("public_ports[1]"));
}

#[test]
fn iam_actions_per_function() {
    let out = bin()
        .args(["iam-actions", "revert-security-group"])
        .output()
        .unwrap();
    let v: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.contains(&"ec2:RevokeSecurityGroupIngress".to_string()));
    // Of IAM, only the account's alias, for its notices.
    assert_eq!(
        v.iter()
            .filter(|a| a.starts_with("iam:"))
            .collect::<Vec<_>>(),
        ["iam:ListAccountAliases"]
    );
    assert!(!bin()
        .args(["iam-actions", "nope"])
        .status()
        .unwrap()
        .success());
}

#[test]
fn patterns_per_function() {
    let out = bin()
        .args(["patterns", "disable-compromised-key"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rules: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let honeytoken = rules
        .iter()
        .find(|r| r["rule"] == "HoneytokenRule")
        .unwrap();
    assert_eq!(
        honeytoken["state"],
        "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    );
    assert_eq!(honeytoken["condition"], "HasHoneytokens");
    assert_eq!(
        honeytoken["pattern"]["detail"]["userIdentity"]["accessKeyId"],
        serde_json::json!(["{{HoneytokenAccessKeyIds}}"])
    );
    let err = bin().args(["patterns", "nope"]).output().unwrap();
    assert_eq!(err.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&err.stderr).contains("revert-security-group"));
}

#[test]
fn decide_with_a_world_looks_facts_up_there() {
    let sample = events().join("aws.ec2-AuthorizeSecurityGroupIngress-group-name-only.json");
    let offline = bin()
        .args(["decide", "--guard", "revert-security-group"])
        .arg(&sample)
        .output()
        .unwrap();
    let d = &lines(&offline.stdout)[0];
    assert_eq!(d["actions"][0]["group_name"], "default");
    assert_eq!(d["assumed_absent"][0]["fact"], "security_group");
    let with_world = bin()
        .args(["decide", "--guard", "revert-security-group", "--world"])
        .arg(events().join("meta/world.json"))
        .arg(&sample)
        .output()
        .unwrap();
    assert!(with_world.status.success());
    let d = &lines(&with_world.stdout)[0];
    assert_eq!(d["actions"][0]["group_id"], "sg-0a1b2c3d4e5f60789");
    assert!(d.get("assumed_absent").is_none(), "{d}");
}

/// A small archive: two log files (one gzip) of the open-SSH sample's record, and a file
/// that is not a log.
fn archive(dir: &std::path::Path) {
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(
            events().join("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let log = serde_json::json!({"Records": [sample["detail"], sample["detail"]]}).to_string();
    let day = dir.join("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::write(day.join("a.json"), &log).unwrap();
    let mut z = flate2::write::GzEncoder::new(
        std::fs::File::create(day.join("b.json.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    z.write_all(log.as_bytes()).unwrap();
    z.finish().unwrap();
    std::fs::write(dir.join("README.txt"), "not a log").unwrap();
}

#[test]
fn backtest_summarises_names_what_it_skipped_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("trailguard-cli-backtest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    archive(&dir);
    let decisions = dir.with_extension("jsonl");
    let page = dir.with_extension("html");
    let out = bin()
        .args(["backtest", "--json", "--decisions"])
        .arg(&decisions)
        .arg("--html")
        .arg(&page)
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["records"], 4);
    assert_eq!(s["decisions"]["revert-security-group"]["remediate"], 4);
    assert_eq!(s["skipped"], 1);
    assert!(s["skipped_objects"][0]["object"]
        .as_str()
        .unwrap()
        .ends_with("README.txt"));
    assert_eq!(
        std::fs::read_to_string(&decisions).unwrap().lines().count(),
        4
    );
    // The page is the same run's summary (scripts/check_page.py opens it in Chromium).
    let summary: trailguard_backtest::Summary = serde_json::from_slice(&out.stdout).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html, trailguard_backtest::html::html(&summary));
    assert!(html.contains("data-key=\"/decisions/revert-security-group/remediate\">4</data>"));
    let _ = std::fs::remove_file(&page);
    // The same archive without the stray file: exit 0, and Markdown for a review.
    std::fs::remove_file(dir.join("README.txt")).unwrap();
    let _ = std::fs::remove_file(&decisions);
    let out = bin()
        .args(["backtest", "--markdown"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("| `revert-security-group` | 4 | 0 | 0 |"),
        "{md}"
    );
    // Filters by the key: nothing on that day is read.
    let out = bin()
        .args(["backtest", "--json", "--since", "2026-11-21"])
        .arg(&dir)
        .output()
        .unwrap();
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (s["objects"].as_u64(), s["objects_filtered"].as_u64()),
        (Some(0), Some(2))
    );
    // Bad options name themselves.
    for (args, says) in [
        (vec!["--since", "2026-13"], "--since"),
        (vec!["--account", "12"], "--account"),
        (vec!["--region", "moon-1"], "--region"),
        (vec!["--function", "nope"], "nope"),
    ] {
        let out = bin()
            .arg("backtest")
            .args(&args)
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_version_suggestions_completions_and_the_manual() {
    // Every subcommand answers --help, and exits 0.
    for sub in [
        "decide",
        "policy",
        "iam-actions",
        "sweeps",
        "patterns",
        "disable-key",
        "undo",
        "backtest",
        "breaker",
        "completions",
        "man",
    ] {
        let out = bin().args([sub, "--help"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{sub} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: trailguard"),
            "{sub} --help"
        );
    }
    let v = bin().arg("--version").output().unwrap();
    assert_eq!(v.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&v.stdout)
            .starts_with(&format!("trailguard {}", env!("CARGO_PKG_VERSION"))),
        "{v:?}"
    );
    // A mistyped subcommand or flag: a suggestion, exit status 2.
    let typo = bin().args(["decid", "x.json"]).output().unwrap();
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("'decide'"));
    let flag = bin()
        .args(["decide", "--polcy", "p.json", "x.json"])
        .output()
        .unwrap();
    assert_eq!(flag.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&flag.stderr).contains("--policy"));
    // Nothing to decide: a usage error.
    assert_eq!(bin().arg("decide").output().unwrap().status.code(), Some(2));
    for (shell, says) in [
        ("bash", "_trailguard"),
        ("zsh", "#compdef trailguard"),
        ("fish", "complete -c trailguard"),
    ] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains(says) && script.contains("backtest"),
            "{shell}"
        );
    }
    let man = bin().arg("man").output().unwrap();
    assert!(man.status.success());
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.contains(".TH trailguard 1") && page.contains("decide"),
        "{page}"
    );
}

/// `decide --only-acted` prints exactly the lines of `decide` that notify or remediate, in
/// order: over every sample as its EventBridge event and as a raw CloudTrail record in a log
/// file (where the prefilter skips records unread), for every guard alone and for all of
/// them.
#[test]
fn only_acted_prints_exactly_the_acting_decisions() {
    let dir = std::env::temp_dir().join(format!("trailguard-cli-acted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut samples: Vec<std::path::PathBuf> = std::fs::read_dir(events())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    samples.sort();
    let envelopes: Vec<Value> = samples
        .iter()
        .filter_map(|p| serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok())
        .collect();
    let mut records: Vec<Value> = envelopes
        .iter()
        .filter_map(|v| v["detail"].get("eventName").map(|_| v["detail"].clone()))
        .collect();
    assert!(records.len() > 200, "{} records", records.len());
    // Mixed shapes a crafted file could hold: an event carrying a record's top-level
    // eventName (the rules read it as the event it is), and one whose `source` key is
    // written with an escape.
    for v in &envelopes {
        if let (Some(name), Some(obj)) = (v["detail"].get("eventName"), v.as_object()) {
            let mut mixed = obj.clone();
            mixed.insert("eventName".into(), name.clone());
            records.push(Value::Object(mixed));
        }
    }
    let log = dir.join("123456789012_CloudTrail_us-east-1_20261120T1015Z_all.json");
    let escaped = serde_json::to_string(records.last().unwrap())
        .unwrap()
        .replacen("\"source\"", "\"\\u0073ource\"", 1);
    let text = serde_json::json!({ "Records": records }).to_string();
    let text = format!("{},{escaped}]}}", text.trim_end_matches("]}"));
    std::fs::write(&log, text).unwrap();
    let mut inputs: Vec<std::ffi::OsString> = samples.iter().map(|p| p.clone().into()).collect();
    inputs.push(log.clone().into());
    let policy = events().join("meta/policy.json");
    let mut guards: Vec<Option<String>> = vec![None];
    guards.extend(trailguard_rules::Guard::all().map(|g| Some(g.function_name().to_string())));
    let mut failures = vec![];
    let mut acted_total = 0;
    // Every guard alone with the samples' policy (the one under which most samples act), and
    // all of them merged under both policies.
    for with_policy in [false, true] {
        for guard in guards.iter().filter(|g| with_policy || g.is_none()) {
            let run = |only: bool| {
                let mut c = bin();
                c.arg("decide");
                if only {
                    c.arg("--only-acted");
                }
                if with_policy {
                    c.arg("--policy").arg(&policy);
                }
                if let Some(g) = guard {
                    c.args(["--guard", g]);
                }
                let out = c.args(&inputs).output().unwrap();
                lines(&out.stdout)
            };
            let all = run(false);
            let acted: Vec<Value> = all
                .into_iter()
                .filter(|d| d["decision"] != "ignore")
                .collect();
            let only = run(true);
            acted_total += only.len();
            if only != acted {
                failures.push(format!(
                    "policy {with_policy}, guard {guard:?}: --only-acted printed {} lines, decide's acting lines are {}",
                    only.len(),
                    acted.len()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(acted_total > 100, "{acted_total}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every planned action of every sample that names a resource with a console page links to
/// it: on the console's own hosts, in the event's region, with nothing an event could use
/// to send a reader elsewhere.
#[test]
fn console_links_of_every_sample_lead_only_to_the_console() {
    let mut files: Vec<_> = std::fs::read_dir(events())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let out = bin()
        .args(["decide", "--policy"])
        .arg(events().join("meta/policy.json"))
        .args(&files)
        .output()
        .unwrap();
    let mut linked = std::collections::BTreeSet::new();
    let mut problems = vec![];
    for r in lines(&out.stdout) {
        for a in r["actions"].as_array().into_iter().flatten() {
            let Some(link) = a["console"].as_str() else {
                continue;
            };
            linked.insert(a["type"].as_str().unwrap_or_default().to_string());
            let host_ok = link.starts_with("https://console.aws.amazon.com/")
                || link.starts_with("https://s3.console.aws.amazon.com/s3/buckets/");
            let tail = link.split_once(".com/").map(|(_, t)| t).unwrap_or("");
            let region = r["event"]["region"].as_str().unwrap_or("");
            if !host_ok
                || !link.is_ascii()
                || tail.contains("//")
                || link
                    .chars()
                    .any(|c| c.is_whitespace() || "<>\"'`".contains(c))
                || link.matches('#').count() > 1
                || (link.contains("region=") && !link.contains(&format!("region={region}")))
            {
                problems.push(format!("{}: {link}", r["source_file"]));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        linked.len() >= 30,
        "action types with a console link: {linked:?}"
    );
}

#[test]
fn undo_refuses_what_is_not_a_report_of_something_done_before_any_call() {
    let dir = std::env::temp_dir().join(format!("tg-undo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text, says) in [
        ("log.json", r#"{"Records": []}"#, "not a trailguard report"),
        (
            "dry.json",
            r#"{"mode": "dry_run", "actions": []}"#,
            "dry run",
        ),
        ("broken.json", "{", "not JSON"),
        (
            "nothing.json",
            r#"{"mode": "enforce", "actions": [{"type": "tag_user", "outcome": "already_done"}]}"#,
            "nothing to undo",
        ),
        (
            "bad.json",
            r#"{"actions": [{"type": "tag_user", "outcome": "done", "reversal": {"call": "untag_user", "with": {"user_name": 3, "key": "k", "value": "v"}}}]}"#,
            "actions[0].reversal.with.user_name",
        ),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let out = bin()
            .args(["undo", "--report", file.to_str().unwrap()])
            // No AWS: a report refused here never reaches a call.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{name}: {err}");
    }
    // By event: its reports are in the ledger, so the ledger is required; the id and the
    // topic are checked before any call.
    let report = dir.join("log.json");
    for (args, says) in [
        (vec!["--event-id", "ev-1"], "--table is required"),
        (
            vec!["--event-id", "", "--table", "t"],
            "--event-id: `` is not an event id",
        ),
        (
            vec!["--event-id", "a\nb", "--table", "t"],
            "is not an event id",
        ),
        (
            vec!["--event-id", "ev-1", "--report", report.to_str().unwrap()],
            "cannot be used with",
        ),
        (
            vec!["--event-id", "ev-1", "--unverified"],
            "cannot be used with",
        ),
        (vec![], "--report <FILE>"),
        (
            vec!["--event-id", "ev-1", "--table", "t", "--function", "nope"],
            "--function: no function `nope`",
        ),
        (
            vec![
                "--report",
                report.to_str().unwrap(),
                "--function",
                "guard-iam",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "--event-id",
                "ev-1",
                "--table",
                "t",
                "--topic",
                "arn:aws:sqs:us-east-1:123456789012:q",
            ],
            "--topic: `arn:aws:sqs:us-east-1:123456789012:q` is not an SNS topic ARN",
        ),
    ] {
        let out = bin()
            .arg("undo")
            .args(&args)
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env_remove("TRAILGUARD_LEDGER_TABLE")
            .env_remove("TRAILGUARD_TOPIC_ARN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
