//! The handler with recording fakes: which AWS calls it makes, in which order, and what the
//! report, the notification and the error say.
//!
//! Every sample runs through every function that receives it, against the account of
//! events/meta/world.json, and must make exactly the calls its manifest entry lists
//! (`functions.<name>.calls`; `UPDATE_EXPECT=1` rewrites them from what the handler does).
//! The tests after that drive what the samples cannot: other policies, failures, dry-run.

mod fakes;

use std::collections::BTreeMap;
use std::sync::Arc;

use fakes::*;
use serde_json::{json, Value};
use trailguard_aws::ports::TrailEvent;
use trailguard_aws::{Change, Deps, HandlerError, Home, PortError, Sdk};
use trailguard_rules::{Action, Kind, PrincipalKind, Report, Status};

const NO_TAGS: &str = r#"{"exempt_tag": "", "protected_tag": ""}"#;

async fn run(
    f: &Arc<Fake>,
    function: &str,
    policy: &str,
    event: &str,
) -> Result<Report, HandlerError> {
    deps(f, function, policy).process(load(event)).await
}

fn bless() -> bool {
    std::env::var("UPDATE_EXPECT").as_deref() == Ok("1")
}

/// One failure message for every sample run that failed: each run, then what differed.
fn report(failures: &[(String, Vec<String>)], of: usize) -> String {
    let mut out = format!("{} of {of} sample runs fail:\n", failures.len());
    for (run, problems) in failures {
        out += &format!("- {run}\n");
        for p in problems {
            out += &format!("    {}\n", p.replace('\n', "\n      "));
        }
    }
    out
}

/// Every sample through every function its manifest entry names; what differs is collected
/// for every run, and the test fails once, listing them all.
#[tokio::test]
async fn every_sample_makes_the_calls_its_manifest_lists() {
    let mut manifest: BTreeMap<String, Value> =
        serde_json::from_value(load("meta/manifest.json")).unwrap();
    let policy = sample_policy_json();
    let mut checked = 0;
    let mut failures: Vec<(String, Vec<String>)> = Vec::new();
    for (fixture, expected) in manifest.iter_mut() {
        let Some(functions) = expected.get_mut("functions").and_then(Value::as_object_mut) else {
            continue;
        };
        for (function, want) in functions.iter_mut() {
            checked += 1;
            let mut p: Vec<String> = Vec::new();
            let f = Arc::new(Fake::new());
            let r = match run(&f, function, &policy, fixture).await {
                Ok(r) => r,
                Err(e) => {
                    p.push(format!("failed: {e} (calls {:?})", f.calls()));
                    failures.push((format!("{fixture}, {function}"), p));
                    continue;
                }
            };
            if bless() {
                want["calls"] = json!(f.calls());
            }
            if json!(f.calls()) != want["calls"] {
                p.push(format!(
                    "calls: made {}, the manifest lists {}",
                    json!(f.calls()),
                    want["calls"]
                ));
            }
            if json!(r.decision) != want["decision"] {
                p.push(format!(
                    "decision: {}, the manifest says {} ({})",
                    json!(r.decision),
                    want["decision"],
                    r.reason
                ));
            }
            if r.function.unwrap_or_default() != function.as_str() {
                p.push(format!("the report names function {:?}", r.function));
            }
            for a in &r.actions {
                if !matches!(a.outcome, Some(Status::Done)) {
                    p.push(format!("an action not done: {a:?}"));
                }
            }
            let told = r.decision != Kind::Ignore;
            if r.notified != told {
                p.push(format!("notified is {}, expected {told}", r.notified));
            }
            let published = f.published().len();
            if published != usize::from(told) {
                p.push(format!(
                    "{published} notifications published, expected {}",
                    usize::from(told)
                ));
            }
            if !p.is_empty() {
                failures.push((format!("{fixture}, {function}"), p));
            }
        }
    }
    // Blessing rewrites the manifest only when nothing else failed.
    let rewritten = bless() && failures.is_empty();
    if rewritten {
        let text = serde_json::to_string_pretty(&manifest).unwrap() + "\n";
        std::fs::write(events_dir().join("meta/manifest.json"), text).unwrap();
    }
    assert!(
        failures.is_empty(),
        "{}{}",
        report(&failures, checked),
        if bless() && !rewritten {
            "(UPDATE_EXPECT=1: events/meta/manifest.json was not rewritten)"
        } else {
            ""
        }
    );
    assert!(checked >= 50, "only {checked} sample runs");
}

#[tokio::test]
async fn the_report_keeps_its_documented_schema() {
    let f = Arc::new(Fake::new());
    let r = run(
        &f,
        "revert-security-group",
        "{}",
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap()
    .to_value();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let mut top = keys(&r);
    top.sort();
    assert_eq!(
        top,
        [
            "actions", "decision", "event", "event_id", "function", "guard", "mode", "notice",
            "notified", "reason", "timing"
        ]
    );
    let mut action = keys(&r["actions"][0]);
    action.sort();
    assert_eq!(
        action,
        [
            "console",
            "egress",
            "group_id",
            "iam_actions",
            "outcome",
            "reversal",
            "rule_ids",
            "target",
            "targets",
            "type",
            "undo"
        ]
    );
    // The resources it names, each a real id of its kind (a finding's, imported.rs).
    assert_eq!(r["actions"][0]["targets"][0]["kind"], "security_group");
    assert_eq!(
        r["actions"][0]["targets"][0]["id"],
        r["actions"][0]["group_id"]
    );
    // Where to look at it: the group's page in the event's region.
    assert!(
        r["actions"][0]["console"].as_str().unwrap().starts_with(
            "https://console.aws.amazon.com/ec2/home?region=us-east-1#SecurityGroup:groupId=sg-"
        ),
        "{}",
        r["actions"][0]["console"]
    );
    // The action done says how to undo it: the exact rule put back, in the event's region.
    let undo = r["actions"][0]["undo"]["command"].as_str().unwrap();
    assert!(
        undo.starts_with(
            r#"[ "$(aws sts get-caller-identity --query Account --output text)" = 123456789012 ] && aws ec2 authorize-security-group-ingress --group-id sg-"#
        )
            && undo.contains(r#""FromPort":22"#)
            && undo.ends_with("--region us-east-1"),
        "{undo}"
    );
    let mut event = keys(&r["event"]);
    event.sort();
    assert_eq!(
        event,
        [
            "access_key_id",
            "account",
            "account_alias",
            "actor",
            "actor_type",
            "detail_type",
            "name",
            "region",
            "source",
            "source_ip",
            "time"
        ]
    );
    assert_eq!(r["guard"], "security_group");
    assert_eq!(r["function"], "revert-security-group");
    assert_eq!(r["decision"], "remediate");
    assert_eq!(r["actions"][0]["outcome"], "done");
    let (subject, body) = f.published()[0].clone();
    assert!(subject.starts_with("[trailguard] REMEDIATED"), "{subject}");
    for needle in [
        "alice@example.com",
        "203.0.113.45",
        "tcp/22 from 0.0.0.0/0",
        "kept (allowed): tcp/443 from 0.0.0.0/0",
        "console.aws.amazon.com/ec2",
        "\"decision\": \"remediate\"",
    ] {
        assert!(
            body.contains(needle),
            "notification lacks {needle}:\n{body}"
        );
    }
    assert_eq!(f.events_put.lock().unwrap()[0].0, "Remediation Performed");
}

// ---- security groups ----

#[tokio::test]
async fn without_tag_knobs_a_revert_is_a_single_call() {
    let f = Arc::new(Fake::new());
    run(
        &f,
        "revert-security-group",
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["RevokeRules"]);
}

#[tokio::test]
async fn a_modified_rule_that_no_longer_exists_is_left_alone() {
    let mut fake = Fake::new();
    fake.world.rule_directions.clear();
    let f = Arc::new(fake);
    let r = run(
        &f,
        "revert-security-group",
        NO_TAGS,
        "aws.ec2-ModifySecurityGroupRules-open-rdp.json",
    )
    .await
    .unwrap();
    assert_eq!(r.decision, Kind::Ignore);
    assert_eq!(f.ops(), ["DescribeRules"]);
}

#[tokio::test]
async fn exempt_tag_keeps_the_rule() {
    let mut fake = Fake::new();
    fake.world.security_groups[0]
        .tags
        .insert("trailguard:exempt".into(), "true".into());
    let f = Arc::new(fake);
    let r = run(
        &f,
        "revert-security-group",
        "{}",
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(r.decision, Kind::Ignore);
    assert_eq!(f.ops(), ["DescribeGroup"]);
}

#[tokio::test]
async fn dry_run_plans_and_notifies_but_changes_nothing() {
    let f = Arc::new(Fake::new());
    let r = run(
        &f,
        "revert-security-group",
        r#"{"mode": {"default": "dry-run"}}"#,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["DescribeGroup"]);
    assert_eq!(json!(r.mode), "dry-run");
    assert_eq!(r.actions[0].outcome, Some(Status::DryRun));
    let (subject, body) = f.published()[0].clone();
    assert!(subject.contains("DRY-RUN"), "{subject}");
    assert!(
        body.contains("would do (dry-run, nothing was changed)"),
        "{body}"
    );
    assert_eq!(f.events_put.lock().unwrap()[0].0, "Remediation Planned");
}

#[tokio::test]
async fn already_done_is_success() {
    let f = Arc::new(Fake::new());
    f.answer(
        "RevokeRules",
        Ok(Change::AlreadyDone(
            "InvalidPermission.NotFound: already gone".into(),
        )),
    );
    let r = run(
        &f,
        "revert-security-group",
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(r.actions[0].outcome, Some(Status::AlreadyDone));
}

#[tokio::test]
async fn transient_failure_is_retryable_and_still_notified() {
    let f = Arc::new(Fake::new());
    f.answer(
        "RevokeRules",
        Err(PortError::Transient {
            op: "RevokeSecurityGroupIngress",
            code: "RequestLimitExceeded".into(),
            message: "slow down".into(),
        }),
    );
    let e = run(
        &f,
        "revert-security-group",
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            HandlerError::Remediation {
                kind: "retryable",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.error_type(), "RemediationFailedRetryable");
    assert!(f.published()[0].0.contains("FAILED"));
}

#[tokio::test]
async fn access_denied_names_the_missing_iam_action() {
    let f = Arc::new(Fake::new());
    f.answer(
        "RevokeRules",
        Err(PortError::AccessDenied {
            op: "RevokeSecurityGroupIngress",
            iam_action: "ec2:RevokeSecurityGroupIngress",
            code: "UnauthorizedOperation".into(),
            message: "no".into(),
        }),
    );
    let e = run(
        &f,
        "revert-security-group",
        NO_TAGS,
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("ec2:RevokeSecurityGroupIngress") && e.contains("permanent"),
        "{e}"
    );
    let (_, body) = f.published()[0].clone();
    assert!(
        body.contains("needs IAM action ec2:RevokeSecurityGroupIngress"),
        "{body}"
    );
}

#[tokio::test]
async fn lookup_failure_fails_the_invocation() {
    let f = Arc::new(Fake::new());
    f.answer(
        "DescribeGroup",
        Err(PortError::Transient {
            op: "DescribeSecurityGroups",
            code: "Throttling".into(),
            message: "x".into(),
        }),
    );
    let e = run(
        &f,
        "revert-security-group",
        "{}",
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap_err();
    assert!(matches!(e, HandlerError::Lookup(_)), "{e}");
}

#[tokio::test]
async fn a_database_still_being_created_fails_retryably_and_people_are_told_why() {
    let f = Arc::new(Fake::new());
    f.answer(
        "MakeDbInstancePrivate",
        Err(PortError::Transient {
            op: "ModifyDBInstance",
            code: "InvalidDBInstanceState".into(),
            message: "DB instance staging-orders is creating and cannot be modified yet: Lambda \
                      retries the event, the failure queue keeps it, and the reconciliation \
                      sweep makes it private once it is available"
                .into(),
        }),
    );
    let e = run(
        &f,
        "revert-public-database",
        "{}",
        "aws.rds-CreateDBInstance-default-vpc-public.json",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            HandlerError::Remediation {
                kind: "retryable",
                ..
            }
        ),
        "{e}"
    );
    let (subject, body) = &f.published()[0];
    assert!(subject.contains("FAILED"), "{subject}");
    assert!(body.contains("sweep"), "{body}");
}

#[tokio::test]
async fn notification_failure_fails_the_invocation() {
    let f = Arc::new(Fake {
        publish_error: Some(PortError::Transient {
            op: "Publish",
            code: "Throttling".into(),
            message: "x".into(),
        }),
        ..Fake::new()
    });
    assert!(matches!(
        run(
            &f,
            "revert-security-group",
            NO_TAGS,
            "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json"
        )
        .await,
        Err(HandlerError::Notify(_))
    ));
}

#[tokio::test]
async fn malformed_and_misrouted_events() {
    let f = Arc::new(Fake::new());
    let d = deps(&f, "revert-security-group", "{}");
    let e = d
        .process(json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": "oops"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("malformed") && e.contains("detail"), "{e}");
    let e = d.process(json!([1, 2])).await.unwrap_err().to_string();
    assert!(e.contains("not a JSON object"), "{e}");
    // An envelope that does not fit the EventBridge type (a number for the account) is
    // still read, leniently.
    let mut odd = load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json");
    odd["account"] = json!(123456789012u64);
    odd["time"] = json!("20 Nov 2026 10:15:30 GMT");
    assert_eq!(d.process(odd).await.unwrap().decision, Kind::Remediate);
    // A key event sent to the security-group function is ignored with a reason.
    let f = Arc::new(Fake::new());
    let r = run(
        &f,
        "revert-security-group",
        "{}",
        "aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json",
    )
    .await
    .unwrap();
    assert_eq!(r.decision, Kind::Ignore);
    assert!(r.reason.contains("revert-security-group"), "{}", r.reason);
    assert!(f.calls().is_empty());
    assert!(
        f.connects.lock().unwrap().is_empty(),
        "an ignored event connects to nothing"
    );
}

#[tokio::test]
async fn unwired_ports_fail_clearly() {
    let f = Arc::new(Fake::new());
    let d = Deps {
        connect: Home(Arc::new(Sdk::none())),
        notify: Via(f.clone()),
        settings: settings("revert-security-group", NO_TAGS),
        clock,
    };
    let e = d
        .process(load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("built without that AWS client"), "{e}");
}

// ---- access keys ----

#[tokio::test]
async fn health_event_contains_the_key_and_summarises_what_it_did() {
    let f = Arc::new(Fake {
        trail_events: Some(Ok(vec![
            TrailEvent {
                name: "ListBuckets".into(),
                time: Some(NOW - 3600),
                source_ip: Some("185.220.101.45".into()),
                region: Some("us-east-1".into()),
                ..Default::default()
            },
            TrailEvent {
                name: "ListBuckets".into(),
                time: Some(NOW - 60),
                source_ip: Some("185.220.101.45".into()),
                region: Some("eu-west-1".into()),
                ..Default::default()
            },
            TrailEvent {
                name: "GetCallerIdentity".into(),
                time: Some(NOW - 7200),
                source_ip: Some("185.220.101.46".into()),
                region: Some("us-east-1".into()),
                ..Default::default()
            },
        ])),
        ..Fake::new()
    });
    let r = run(
        &f,
        "disable-compromised-key",
        "{}",
        "aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json",
    )
    .await
    .unwrap();
    let (_, doc) = f.policies.lock().unwrap()[0].clone();
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
        "2026-11-18T11:06:40Z"
    );
    let summary = r.actions[3].result.clone().unwrap();
    assert_eq!(summary["events"], 3);
    assert_eq!(
        summary["top_event_names"][0],
        json!({"value": "ListBuckets", "count": 2})
    );
    assert_eq!(summary["first_seen"], "2026-11-18T09:06:40Z");
    let (_, body) = f.published()[0].clone();
    assert!(
        body.contains("Key activity, last 24h: 3 events") && body.contains("185.220.101.45 (2)"),
        "{body}"
    );
}

#[tokio::test]
async fn forensics_failure_never_blocks_containment() {
    let f = Arc::new(Fake {
        trail_events: Some(Err(PortError::Permanent {
            op: "LookupEvents",
            code: "InvalidAction".into(),
            message: "not implemented".into(),
        })),
        ..Fake::new()
    });
    let r = run(
        &f,
        "disable-compromised-key",
        "{}",
        "aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json",
    )
    .await
    .unwrap();
    assert_eq!(r.actions[0].outcome, Some(Status::Done));
    assert_eq!(r.actions[3].outcome, Some(Status::Failed));
    let (subject, body) = f.published()[0].clone();
    assert!(subject.contains("REMEDIATED"), "{subject}");
    assert!(
        body.contains("Key activity: no key activity summary: LookupEvents failed")
            && body.contains("Containment is not affected"),
        "{body}"
    );
}

#[tokio::test]
async fn session_revocation_can_be_switched_off() {
    let f = Arc::new(Fake::new());
    run(
        &f,
        "disable-compromised-key",
        r#"{"revoke_sessions": false, "manual_trigger": true}"#,
        "trailguard-DisableAccessKey-manual.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["DeactivateKey", "TagUser", "LookupEvents"]);
}

#[tokio::test]
async fn an_unknown_key_or_an_exempt_user_changes_nothing() {
    let mut fake = Fake::new();
    fake.world.key_owners.clear();
    let f = Arc::new(fake);
    let r = run(
        &f,
        "disable-compromised-key",
        "{}",
        "aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json",
    )
    .await
    .unwrap();
    assert_eq!(r.decision, Kind::Notify);
    assert!(
        json!(r.notice).to_string().contains("was not found"),
        "{:?}",
        r.notice
    );
    assert_eq!(f.ops(), ["KeyOwner"]);
    let f = Arc::new(Fake::new());
    let r = run(
        &f,
        "disable-compromised-key",
        r#"{"exempt_principals": ["arn:aws:iam::*:user/bob"]}"#,
        "aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-high.json",
    )
    .await
    .unwrap();
    assert_eq!(r.decision, Kind::Notify);
    assert!(f.calls().is_empty());
    assert_eq!(f.published().len(), 1);
}

#[tokio::test]
async fn key_dry_run_still_summarises() {
    let f = Arc::new(Fake::new());
    let r = run(
        &f,
        "disable-compromised-key",
        r#"{"mode": {"access_key": "dry-run"}}"#,
        "aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-high.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["LookupEvents"], "reads only");
    let outcomes: Vec<Option<Status>> = r.actions.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Some(Status::DryRun),
            Some(Status::DryRun),
            Some(Status::DryRun),
            Some(Status::Done)
        ]
    );
}

// ---- CloudTrail ----

#[tokio::test]
async fn a_failed_status_read_does_not_keep_the_trail_stopped() {
    // GetTrailStatus only tells a trail already logging apart; throttled, denied or missing
    // (moto 5.2.6 answers 404), StartLogging is still called and the failure is the note.
    let f = Arc::new(Fake::new());
    f.answer(
        "GetTrailStatus",
        Err(PortError::Permanent {
            op: "GetTrailStatus",
            code: "404".into(),
            message: "not found".into(),
        }),
    );
    let r = run(
        &f,
        "guard-cloudtrail",
        NO_TAGS,
        "aws.cloudtrail-StopLogging-remediate.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["GetTrailStatus", "StartLogging"]);
    assert_eq!(r.actions[0].outcome, Some(Status::Done));
    let note = r.actions[0].note.clone().unwrap_or_default();
    assert!(
        note.contains("GetTrailStatus") && note.contains("StartLogging was called anyway"),
        "{note}"
    );

    // A trail already logging is already done, and nothing is called after the read.
    let f = Arc::new(Fake::new());
    f.answer("GetTrailStatus", Ok(Change::AlreadyDone("logging".into())));
    let r = run(
        &f,
        "guard-cloudtrail",
        NO_TAGS,
        "aws.cloudtrail-StopLogging-remediate.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["GetTrailStatus"]);
    assert_eq!(r.actions[0].outcome, Some(Status::AlreadyDone));

    // A failed StartLogging still fails the action (and names both failures).
    let f = Arc::new(Fake::new());
    let denied = |op: &'static str, iam_action: &'static str| PortError::AccessDenied {
        op,
        iam_action,
        code: "AccessDeniedException".into(),
        message: "denied".into(),
    };
    f.answer(
        "GetTrailStatus",
        Err(denied("GetTrailStatus", "cloudtrail:GetTrailStatus")),
    );
    f.answer(
        "StartLogging",
        Err(denied("StartLogging", "cloudtrail:StartLogging")),
    );
    let e = run(
        &f,
        "guard-cloudtrail",
        NO_TAGS,
        "aws.cloudtrail-StopLogging-remediate.json",
    )
    .await;
    assert!(e.is_err(), "{e:?}");
    assert_eq!(f.ops(), ["GetTrailStatus", "StartLogging"]);
}

// ---- network ACLs ----

#[tokio::test]
async fn nacl_entries_already_gone_replaced_or_protected() {
    let f = Arc::new(Fake::new());
    f.answer("DeleteNaclEntry", Ok(Change::AlreadyDone("gone".into())));
    let r = run(
        &f,
        "revert-network-acl",
        NO_TAGS,
        "aws.ec2-CreateNetworkAclEntry-open-ssh.json",
    )
    .await
    .unwrap();
    assert_eq!(f.ops(), ["DeleteNaclEntry"]);
    assert_eq!(r.actions[0].outcome, Some(Status::AlreadyDone));
    let f = Arc::new(Fake::new());
    run(
        &f,
        "revert-network-acl",
        r#"{"network_acl": {"on_replace": "delete"}, "exempt_tag": "", "protected_tag": ""}"#,
        "aws.ec2-ReplaceNetworkAclEntry-open-all.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.calls(),
        ["DeleteNaclEntry(acl-0a1b2c3d4e5f6a7b8,100,false)"]
    );
    let mut fake = Fake::new();
    fake.world.network_acls.insert(
        "acl-0a1b2c3d4e5f6a7b8".into(),
        [("trailguard:protected".to_string(), "true".to_string())].into(),
    );
    let f = Arc::new(fake);
    run(
        &f,
        "revert-network-acl",
        "{}",
        "aws.ec2-CreateNetworkAclEntry-ephemeral-ports.json",
    )
    .await
    .unwrap();
    assert_eq!(
        f.ops(),
        ["DescribeNaclState", "DeleteNaclEntry"],
        "protected ACL: any added entry is reverted"
    );
    // The delete took the decision's read of the ACL: no second DescribeNetworkAcls.
    let described = f
        .calls_with_ops()
        .iter()
        .flat_map(|(_, ops)| ops.clone())
        .filter(|op| op.iam == "ec2:DescribeNetworkAcls")
        .count();
    assert_eq!(described, 1, "{:?}", f.calls_with_ops());
}

/// The decision's read serves as the delete's look only while it is fresh: one older than
/// `READ_FRESH_FOR` (the breaker's slot waited on other invocations) is read again.
#[tokio::test]
async fn a_stale_decision_read_is_read_again() {
    use trailguard_aws::executor::{run, Context, Read, READ_FRESH_FOR};
    let acl = "acl-0a1b2c3d4e5f6a7b8";
    let action: Action = trailguard_rules::action::DeleteNaclEntry {
        network_acl_id: acl.into(),
        rule_number: 90,
        egress: false,
        entry: None,
    }
    .into();
    let mut facts = trailguard_rules::Facts::default();
    facts.acl_states.insert(acl.into(), None);
    for (age, described) in [
        (std::time::Duration::ZERO, 0),
        (READ_FRESH_FOR + std::time::Duration::from_millis(200), 1),
    ] {
        let f = Arc::new(Fake::new());
        let at = std::time::Instant::now()
            .checked_sub(age)
            .expect("the clock goes back that far");
        let ctx = Context {
            now: NOW,
            endpoint: None,
            read: Some(Read { facts: &facts, at }),
        };
        run(&*f, &action, ctx).await;
        let n = f
            .calls_with_ops()
            .iter()
            .flat_map(|(_, ops)| ops.clone())
            .filter(|op| op.iam == "ec2:DescribeNetworkAcls")
            .count();
        assert_eq!(n, described, "a read {age:?} old: {:?}", f.calls_with_ops());
    }
}

// ---- The ledger: exactly once per event, and the blast-radius breaker ----

fn with_ledger(f: &Arc<Fake>, function: &str, policy: &str) -> Deps<Via, Via> {
    let mut d = deps(f, function, policy);
    d.settings.ledger_table = Some("trailguard-ledger".into());
    d
}

/// The open-SSH sample as a different event (its own id), as a flood of them would come.
fn open_ssh(n: usize) -> Value {
    let mut ev = load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json");
    ev["id"] = json!(format!("flood-{n}"));
    ev
}

/// The open-SSH sample made in `account`, as its own event.
fn open_ssh_in(n: usize, account: &str) -> Value {
    let mut ev = open_ssh(n);
    ev["account"] = json!(account);
    ev["detail"]["recipientAccountId"] = json!(account);
    ev["detail"]["userIdentity"]["accountId"] = json!(account);
    ev
}

#[tokio::test]
async fn the_ledger_keeps_each_report_that_changed_something_for_undo_by_event_id() {
    let f = Arc::new(Fake::new());
    let policy = json!({"exempt_tag": "", "protected_tag": ""}).to_string();
    let d = with_ledger(&f, "revert-security-group", &policy);
    let r = d.process(open_ssh(1)).await.unwrap();
    assert_eq!(r.actions[0].outcome, Some(Status::Done), "{r:?}");
    // A redelivery changes nothing: nothing more is kept.
    d.process(open_ssh(1)).await.unwrap();
    let kept = f
        .reports
        .lock()
        .unwrap()
        .get("report#flood-1#revert-security-group")
        .cloned()
        .unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let plan =
        trailguard_rules::undo::plan(&trailguard_rules::undo::merge("flood-1", &kept).unwrap())
            .unwrap();
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].ledger_key, r.actions[0].ledger_key);
    assert_eq!(plan.account.as_deref(), Some("123456789012"));
    // A dry run changes nothing, and keeps nothing.
    let dry = with_ledger(
        &f,
        "revert-security-group",
        &json!({"mode": {"default": "dry-run"}, "exempt_tag": "", "protected_tag": ""}).to_string(),
    );
    dry.process(open_ssh(2)).await.unwrap();
    assert!(f
        .reports
        .lock()
        .unwrap()
        .keys()
        .all(|k| !k.contains("flood-2")));
}

#[tokio::test]
async fn the_breaker_holds_every_change_past_the_limit_in_that_account_and_tells_people_once() {
    let f = Arc::new(Fake::new());
    let policy = json!({"max_actions_per_hour": {"security_group": 20}, "exempt_tag": "", "protected_tag": ""}).to_string();
    let d = with_ledger(&f, "revert-security-group", &policy);
    let mut done = 0;
    let mut held = Vec::new();
    for n in 0..25 {
        match d.process(open_ssh(n)).await {
            Ok(r) => {
                assert_eq!(r.actions[0].outcome, Some(Status::Done), "{r:?}");
                done += 1;
            }
            // Held: a retryable failure, so Lambda retries and the failure queue keeps it.
            Err(HandlerError::Remediation { kind, summary, .. }) => {
                assert_eq!(kind, "retryable");
                held.push(summary);
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((done, held.len()), (20, 5));
    for s in &held {
        assert!(s.contains("BreakerOpen"), "{s}");
        assert!(
            s.contains("breaker open: 20 security_group actions caused by")
                && s.contains("in account 123456789012"),
            "{s}"
        );
        assert!(
            s.contains("trailguard breaker reset --guard security_group --account 123456789012"),
            "{s}"
        );
    }
    // Exactly 20 revokes reached EC2, and one breaker notice among the notifications.
    assert_eq!(f.ops().iter().filter(|o| *o == "RevokeRules").count(), 20);
    let published = f.published();
    let breaker: Vec<_> = published
        .iter()
        .filter(|(s, _)| s.contains("BREAKER OPEN"))
        .collect();
    assert_eq!(breaker.len(), 1, "{published:?}");
    assert!(breaker[0]
        .0
        .contains("security_group stopped acting in 123456789012 after 20 actions"));
    assert_eq!(
        published
            .iter()
            .filter(|(s, _)| s.starts_with("[trailguard] HELD (breaker open)"))
            .count(),
        5
    );
    // Another account's breaker is its own: containment there goes on.
    let r = d.process(open_ssh_in(50, "210987654321")).await.unwrap();
    assert_eq!(r.actions[0].outcome, Some(Status::Done));
    // Reset: it acts again in that account.
    use trailguard_aws::LedgerPort;
    assert!(f
        .reset_breaker("trailguard-ledger", "security_group@123456789012")
        .await
        .unwrap());
    let r = d.process(open_ssh(99)).await.unwrap();
    assert_eq!(r.actions[0].outcome, Some(Status::Done));
}

#[tokio::test]
async fn one_principals_flood_holds_back_only_its_own_containment() {
    // Mallory gets her own key contained again and again (used from outside, recreated):
    // her breaker opens, and another user's stolen key is still contained.
    let f = Arc::new(Fake::new());
    let policy = json!({"max_actions_per_hour": {"security_group": 3}, "exempt_tag": "", "protected_tag": ""}).to_string();
    let d = with_ledger(&f, "revert-security-group", &policy);
    let by = |n: usize, who: &str| {
        let mut ev = open_ssh(n);
        ev["detail"]["userIdentity"] = json!({"type": "IAMUser",
            "arn": format!("arn:aws:iam::123456789012:user/{who}"), "accountId": "123456789012",
            "userName": who, "accessKeyId": "AKIA5EXAMPLEFLOODER1"});
        ev
    };
    for n in 0..3 {
        d.process(by(n, "mallory")).await.unwrap();
    }
    let e = d.process(by(3, "mallory")).await.unwrap_err().to_string();
    assert!(
        e.contains("BreakerOpen") && e.contains("caused by arn:aws:iam::123456789012:user/mallory"),
        "{e}"
    );
    let r = d.process(by(4, "bob")).await.unwrap();
    assert_eq!(r.actions[0].outcome, Some(Status::Done));
}

#[tokio::test]
async fn only_changes_count_against_the_breaker() {
    // Fifty events whose revokes change nothing (the rule is already gone: a replay, or a
    // forged event naming a rule that never existed) leave the breaker closed.
    let f = Arc::new(Fake::new());
    f.answer(
        "RevokeRules",
        Ok(Change::AlreadyDone("no such rule".into())),
    );
    let policy = json!({"max_actions_per_hour": {"security_group": 3}, "exempt_tag": "", "protected_tag": ""}).to_string();
    let d = with_ledger(&f, "revert-security-group", &policy);
    for n in 0..50 {
        let r = d.process(open_ssh(n)).await.unwrap();
        assert_eq!(r.actions[0].outcome, Some(Status::AlreadyDone));
    }
    assert!(f.breaker.lock().unwrap()["security_group@123456789012"]
        .0
        .is_empty());
    // Failed calls give their slot back too.
    f.answer(
        "RevokeRules",
        Err(PortError::Permanent {
            op: "RevokeSecurityGroupIngress",
            code: "InvalidGroup.NotFound".into(),
            message: "gone".into(),
        }),
    );
    for n in 50..60 {
        assert!(d.process(open_ssh(n)).await.is_err());
    }
    assert!(f.breaker.lock().unwrap()["security_group@123456789012"]
        .0
        .is_empty());
    // A real change is counted, and then contained: three, then held.
    f.answer("RevokeRules", Ok(Change::Done));
    for n in 60..63 {
        d.process(open_ssh(n)).await.unwrap();
    }
    assert!(d.process(open_ssh(63)).await.is_err());
}

#[tokio::test]
async fn restoring_logging_is_never_held_by_the_breaker() {
    let f = Arc::new(Fake::new());
    let policy = json!({"max_actions_per_hour": {"cloudtrail": 1}}).to_string();
    let d = with_ledger(&f, "guard-cloudtrail", &policy);
    for n in 0..5 {
        let mut ev = load("aws.cloudtrail-StopLogging-remediate.json");
        ev["id"] = json!(format!("stop-{n}"));
        let r = d.process(ev).await.unwrap();
        assert!(
            r.actions.iter().all(|a| a.outcome == Some(Status::Done)),
            "{:?}",
            r.actions
        );
    }
    assert_eq!(f.ops().iter().filter(|o| *o == "StartLogging").count(), 5);
}

#[tokio::test]
async fn redeliveries_of_one_event_act_once() {
    let f = Arc::new(Fake::new());
    let d = with_ledger(&f, "revert-security-group", NO_TAGS);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = d.process(open_ssh(1)).await.unwrap();
        statuses.push(r.actions[0].outcome);
        if statuses.len() > 1 {
            assert!(
                r.actions[0]
                    .note
                    .as_deref()
                    .unwrap_or_default()
                    .contains("another delivery of this event made it"),
                "{:?}",
                r.actions[0]
            );
        }
    }
    assert_eq!(statuses[0], Some(Status::Done));
    assert!(
        statuses[1..]
            .iter()
            .all(|s| *s == Some(Status::AlreadyDone)),
        "{statuses:?}"
    );
    assert_eq!(f.ops().iter().filter(|o| *o == "RevokeRules").count(), 1);
    // The breaker counted the one action, not the redeliveries.
    assert_eq!(
        f.breaker.lock().unwrap()["security_group@123456789012"]
            .0
            .len(),
        1
    );
}

#[tokio::test]
async fn a_failed_action_gives_its_claim_back_for_the_retry() {
    let f = Arc::new(Fake::new());
    f.answer(
        "RevokeRules",
        Err(PortError::Transient {
            op: "RevokeSecurityGroupIngress",
            code: "RequestLimitExceeded".into(),
            message: "slow down".into(),
        }),
    );
    let d = with_ledger(&f, "revert-security-group", NO_TAGS);
    assert!(d.process(open_ssh(7)).await.is_err());
    f.answers.lock().unwrap().clear();
    let r = d.process(open_ssh(7)).await.unwrap();
    assert_eq!(r.actions[0].outcome, Some(Status::Done));
    assert_eq!(f.ops().iter().filter(|o| *o == "RevokeRules").count(), 2);
}

// ---- Central mode: where the handler connects, and a member account it cannot reach ----

fn unassumable() -> PortError {
    PortError::Permanent {
        op: "AssumeRole",
        code: "AccessDenied".into(),
        message: "cannot assume arn:aws:iam::222233334444:role/trailguard-member (AccessDenied: not authorized): the member role is missing in that account, or its trust policy does not trust this function's role".into(),
    }
}

/// A fake whose member account cannot be reached.
fn unreachable_member() -> Arc<Fake> {
    Arc::new(Fake {
        connect_error: Some(unassumable()),
        ..Fake::new()
    })
}

#[tokio::test]
async fn the_handler_connects_to_the_account_and_region_the_event_is_about() {
    let f = Arc::new(Fake::new());
    let r = run(
        &f,
        "disable-compromised-key",
        r#"{"key_activity_hours": 0}"#,
        "aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-member-account.json",
    )
    .await
    .unwrap();
    assert_eq!(r.decision, Kind::Remediate);
    let targets = f.connects.lock().unwrap().clone();
    assert!(!targets.is_empty());
    for t in &targets {
        // The member's account (the finding's), not the GuardDuty administrator's envelope.
        assert_eq!(t.account.as_deref(), Some("222233334444"), "{t:?}");
        assert_eq!(t.region.as_deref(), Some("eu-central-1"), "{t:?}");
        assert_eq!(
            t.event_id.as_deref(),
            Some("4b8e2f10-93d5-4c7a-a0e6-5f1d2c3b4a59")
        );
    }
}

#[tokio::test]
async fn a_member_account_that_cannot_be_reached_fails_the_plan_and_is_told() {
    // No lookup first: the plan's actions fail with the role's error, people are told, and
    // the invocation fails so Lambda retries and the failure queue keeps the event.
    let f = unreachable_member();
    let e = run(
        &f,
        "disable-compromised-key",
        r#"{"key_activity_hours": 0}"#,
        "aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-member-account.json",
    )
    .await
    .unwrap_err();
    assert!(matches!(e, HandlerError::Remediation { .. }), "{e}");
    assert!(e.to_string().contains("trailguard-member"), "{e}");
    assert!(
        f.calls().iter().all(|c| !c.starts_with("DeactivateKey")),
        "{:?}",
        f.calls()
    );
    let published = f.published();
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(
        published[0].1.contains("trailguard-member"),
        "{}",
        published[0].1
    );
}

#[tokio::test]
async fn a_member_account_that_cannot_be_reached_for_a_lookup_is_told_and_retried() {
    let f = unreachable_member();
    let e = run(
        &f,
        "revert-security-group",
        "{}",
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    )
    .await
    .unwrap_err();
    assert!(matches!(e, HandlerError::Unreachable(_)), "{e}");
    assert_eq!(e.error_type(), "MemberRoleUnavailable");
    assert!(f.calls().is_empty(), "nothing was called: {:?}", f.calls());
    let published = f.published();
    assert_eq!(published.len(), 1, "{published:?}");
    let (subject, body) = &published[0];
    assert!(subject.contains("cannot act in account"), "{subject}");
    assert!(
        body.contains("trailguard-member") && body.contains("trust"),
        "{body}"
    );
}

// ---- Least privilege: an action calls only what its type declares ----

/// Actions in shapes no sample plans, run as well: the other branch of each action whose
/// AWS calls depend on its fields. An action type no sample plans gets its case here.
fn extra_cases() -> Vec<(&'static str, Action)> {
    use trailguard_rules::action::{RevokeRules, RevokeSessions, UnshareDbSnapshot};
    vec![
        (
            "an egress rule revoked",
            RevokeRules {
                group_id: "sg-0a1b2c3d4e5f60789".into(),
                egress: true,
                rule_ids: vec!["sgr-0aa11bb22cc33dd44".into()],
                permissions: vec![],
            }
            .into(),
        ),
        (
            "a role's sessions revoked",
            RevokeSessions::of(PrincipalKind::Role, Some("ci-deployer".into())).into(),
        ),
        (
            "a user's sessions revoked",
            RevokeSessions::of(PrincipalKind::User, Some("bob".into())).into(),
        ),
        (
            "a cluster snapshot unshared",
            UnshareDbSnapshot {
                snapshot: "prod-cluster-snap".into(),
                cluster: true,
                values: vec!["all".into()],
            }
            .into(),
        ),
        (
            "an instance snapshot unshared",
            UnshareDbSnapshot {
                snapshot: "prod-db-snap".into(),
                cluster: false,
                values: vec!["all".into()],
            }
            .into(),
        ),
    ]
}

/// What least privilege rests on: every action the samples plan (and every extra case) is
/// run alone through the recording fake, and each AWS operation the fake saw must be an IAM
/// action that the action declares (`Action::iam_actions()`), within what its type declares
/// (`ActionInfo.ops`, what the template grants). Every action type must be exercised.
#[tokio::test]
async fn an_action_calls_only_what_its_type_declares() {
    let manifest: BTreeMap<String, Value> =
        serde_json::from_value(load("meta/manifest.json")).unwrap();
    let policy = sample_policy_json();
    // The actions to run: what each function planned for each sample, then the extra cases.
    let mut cases: Vec<(String, Action)> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (fixture, expected) in &manifest {
        let Some(functions) = expected.get("functions").and_then(Value::as_object) else {
            continue;
        };
        for function in functions.keys() {
            match run(&Arc::new(Fake::new()), function, &policy, fixture).await {
                Ok(r) => cases.extend(
                    r.actions
                        .into_iter()
                        .map(|a| (format!("{fixture}, {function}"), a.action)),
                ),
                Err(e) => problems.push(format!("{fixture}, {function}: failed: {e}")),
            }
        }
    }
    let from_samples = cases.len();
    cases.extend(
        extra_cases()
            .into_iter()
            .map(|(why, a)| (format!("extra case: {why}"), a)),
    );

    let mut exercised = BTreeMap::<&'static str, usize>::new();
    for (source, action) in &cases {
        let info = action.info();
        let by_type: Vec<&str> = info.ops.iter().map(|o| o.iam).collect();
        let declared = action.iam_actions();
        for iam in &declared {
            if !by_type.contains(iam) {
                problems.push(format!(
                    "{source}: {} declares {iam}, which its type does not ({by_type:?})",
                    info.type_name
                ));
            }
        }
        let f = Arc::new(Fake::new());
        let ctx = trailguard_aws::executor::Context {
            now: NOW,
            endpoint: None,
            read: None,
        };
        let (outcome, _) = trailguard_aws::executor::run(&*f, action, ctx).await;
        let seen = f.calls_with_ops();
        if seen.is_empty() {
            problems.push(format!(
                "{source}: {} reached no AWS operation ({:?}: {})",
                info.type_name,
                outcome.status,
                outcome.note.unwrap_or_default()
            ));
            continue;
        }
        *exercised.entry(info.type_name).or_default() += 1;
        for (call, ops) in seen {
            if ops.is_empty() {
                problems.push(format!(
                    "{source}: the fake's {call} names no AWS operation"
                ));
            }
            for op in ops {
                if !declared.contains(&op.iam) || !by_type.contains(&op.iam) {
                    problems.push(format!(
                        "{source}: {} called {call}, which needs {}; the action declares \
                         {declared:?}, its type {by_type:?}",
                        info.type_name, op.iam
                    ));
                }
            }
        }
    }
    for info in trailguard_rules::action::ALL_ACTIONS {
        if !exercised.contains_key(info.type_name) {
            problems.push(format!(
                "{} is never exercised: no sample plans it and no extra case runs it",
                info.type_name
            ));
        }
    }
    eprintln!(
        "{} action types exercised by {} actions ({from_samples} from samples): {exercised:?}",
        exercised.len(),
        cases.len()
    );
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} least-privilege problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// What moto 5.2.5 cannot answer for revert-storage-policy (moto_storage.rs says why): a
/// Glacier vault's policy rewritten or deleted (moto has no vault access-policy calls), and an
/// OpenSearch domain's emptied (moto keeps the old policy for `AccessPolicies` ""). Through
/// the fakes: done once, then already done; dry-run and the exemption tag write nothing.
#[tokio::test]
async fn glacier_vault_and_emptied_domain_policies_through_the_fakes() {
    use trailguard_rules::resources::PolicyKind;
    let written = |f: &Fake, kind, name: &str| {
        f.resource_policies
            .lock()
            .unwrap()
            .get(&(kind, name.to_string()))
            .cloned()
    };
    let statements = |p: Option<String>| -> Value {
        serde_json::from_str::<Value>(&p.unwrap()).unwrap()["Statement"].clone()
    };
    let dry = r#"{"mode": {"default": "dry-run"}}"#;
    for (sample, kind, name, write) in [
        (
            "aws.glacier-SetVaultAccessPolicy-public.json",
            PolicyKind::Vault,
            "backups",
            "DeletePolicy",
        ),
        (
            "aws.glacier-SetVaultAccessPolicy-outside-account.json",
            PolicyKind::Vault,
            "archive",
            "PutPolicy",
        ),
        (
            "aws.es-UpdateDomainConfig-public.json",
            PolicyKind::Domain,
            "search",
            "DeletePolicy",
        ),
    ] {
        let f = Arc::new(Fake::new());
        let r = run(&f, "revert-storage-policy", dry, sample).await.unwrap();
        assert_eq!(r.actions[0].outcome, Some(Status::DryRun), "{sample}");
        assert!(
            !f.ops().iter().any(|o| o == write),
            "{sample}: {:?}",
            f.calls()
        );

        let d = deps(&f, "revert-storage-policy", "{}");
        let r = d.process(load(sample)).await.unwrap();
        assert_eq!(r.actions[0].outcome, Some(Status::Done), "{sample}");
        assert_eq!(
            f.ops().iter().filter(|o| *o == write).count(),
            1,
            "{sample}"
        );
        match write {
            // Nothing left: deleted (a domain's emptied).
            "DeletePolicy" => assert_eq!(written(&f, kind, name), Some(None), "{sample}"),
            // The restore role's statement stays, the outside account's is gone.
            _ => assert_eq!(
                statements(written(&f, kind, name).unwrap()),
                json!([{"Sid": "OwnRestore", "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:role/restore"},
                    "Action": ["glacier:InitiateJob", "glacier:GetJobOutput"],
                    "Resource": "arn:aws:glacier:us-east-1:123456789012:vaults/archive"}]),
                "{sample}"
            ),
        }
        let again = d.process(load(sample)).await.unwrap();
        assert_eq!(
            again.actions[0].outcome,
            Some(Status::AlreadyDone),
            "{sample}"
        );
        assert_eq!(
            f.ops().iter().filter(|o| *o == write).count(),
            1,
            "{sample}"
        );
    }

    // The vault tagged trailguard:exempt=true: told, nothing written.
    let f = Arc::new(Fake::new());
    let r = run(
        &f,
        "revert-storage-policy",
        "{}",
        "aws.glacier-SetVaultAccessPolicy-exempt.json",
    )
    .await
    .unwrap();
    assert_eq!(r.decision, Kind::Notify);
    assert!(
        !f.ops()
            .iter()
            .any(|o| o == "PutPolicy" || o == "DeletePolicy"),
        "{:?}",
        f.calls()
    );
}

fn key_event(name: &str, at: &str, error: Option<&str>, request: Value) -> TrailEvent {
    TrailEvent {
        name: name.into(),
        time: trailguard_rules::time::epoch(at),
        error_code: error.map(String::from),
        request_parameters: request,
        source: Some("kms.amazonaws.com".into()),
        ..Default::default()
    }
}

/// A cancelled key is enabled again only when its history shows it enabled when the deletion
/// was scheduled (2026-11-24T09:14:03Z in the sample); moto has no LookupEvents, so this is
/// the enabling path's test.
#[tokio::test]
async fn a_cancelled_key_is_enabled_again_only_when_its_history_shows_it_was() {
    let key = "arn:aws:kms:us-east-1:123456789012:key/0d3f1a2b-5c6d-4e7f-8a9b-0c1d2e3f4a5b";
    let cases = [
        // In use until the deletion: enabled again.
        (
            vec![
                key_event("Decrypt", "2026-11-24T09:10:00Z", None, Value::Null),
                key_event("DisableKey", "2026-10-01T00:00:00Z", None, Value::Null),
            ],
            true,
            "a successful Decrypt at 2026-11-24T09:10:00Z",
        ),
        // Disabled before, and a use refused since: left disabled.
        (
            vec![
                key_event(
                    "Decrypt",
                    "2026-11-24T09:00:00Z",
                    Some("DisabledException"),
                    Value::Null,
                ),
                key_event("DisableKey", "2026-11-20T00:00:00Z", None, Value::Null),
                key_event("Encrypt", "2026-11-19T00:00:00Z", None, Value::Null),
            ],
            false,
            "was refused because the key was disabled",
        ),
        // A use after the scheduling (refused, or anyone's later call) does not count.
        (
            vec![key_event(
                "EnableKey",
                "2026-11-24T10:00:00Z",
                None,
                Value::Null,
            )],
            false,
            "shows no use and no change",
        ),
    ];
    let mut failures = vec![];
    for (events, enabled, why) in cases {
        let f = Arc::new(Fake {
            trail_events: Some(Ok(events.clone())),
            ..Fake::new()
        });
        let r = run(
            &f,
            "protect-encryption-keys",
            "{}",
            "aws.kms-ScheduleKeyDeletion-remediate.json",
        )
        .await
        .unwrap();
        let calls = f.calls();
        let enable = format!("EnableKey({key})");
        let note = r.actions[0].note.clone().unwrap_or_default();
        if calls.contains(&enable) != enabled
            || r.actions[0].outcome != Some(Status::Done)
            || !note.contains(why)
        {
            failures.push(format!("{events:?}: calls {calls:?}, note {note}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn rotation_comes_back_with_the_period_the_key_had() {
    let f = Arc::new(Fake {
        trail_events: Some(Ok(vec![
            key_event(
                "EnableKeyRotation",
                "2026-09-01T00:00:00Z",
                None,
                json!({"keyId": "9b8a7c6d-5e4f-4d3c-9b2a-1f0e9d8c7b6a", "rotationPeriodInDays": 180}),
            ),
            key_event(
                "DisableKeyRotation",
                "2026-11-24T09:40:27Z",
                None,
                Value::Null,
            ),
        ])),
        ..Fake::new()
    });
    let r = run(
        &f,
        "protect-encryption-keys",
        "{}",
        "aws.kms-DisableKeyRotation-remediate.json",
    )
    .await
    .unwrap();
    assert!(
        f.calls().contains(
            &"EnableKeyRotation(arn:aws:kms:us-east-1:123456789012:key/9b8a7c6d-5e4f-4d3c-9b2a-1f0e9d8c7b6a,Some(180))"
                .to_string()
        ),
        "{:?}",
        f.calls()
    );
    assert_eq!(
        r.actions[0].note.as_deref(),
        Some("rotation on, every 180 days, as the key's last EnableKeyRotation set it")
    );
}

#[tokio::test]
async fn the_finding_is_updated_after_acting_and_a_failed_update_is_retried_only_when_transient() {
    const SAMPLE: &str = "aws.securityhub-EC2.19-high-risk-port-open.json";
    let id = load(SAMPLE)["detail"]["findings"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    // Done: RESOLVED, after the revoke, in the same connection.
    let f = Arc::new(Fake::new());
    let r = run(&f, "revert-security-group", NO_TAGS, SAMPLE)
        .await
        .unwrap();
    assert_eq!(r.actions[0].outcome, Some(Status::Done));
    let calls = f.calls();
    assert_eq!(
        calls.last().map(String::as_str),
        Some(format!("UpdateFinding(RESOLVED, {id})").as_str()),
        "{calls:?}"
    );
    let v = r.to_value();
    assert_eq!(v["finding"]["outcome"], "updated", "{v}");
    assert!(f.published()[0].1.contains("marked RESOLVED"));

    // A revoke that failed for good: the finding says people were told.
    let f = Arc::new(Fake::new());
    f.answer(
        "RevokeRules",
        Err(PortError::AccessDenied {
            op: "RevokeSecurityGroupIngress",
            iam_action: "ec2:RevokeSecurityGroupIngress",
            code: "UnauthorizedOperation".into(),
            message: "no".into(),
        }),
    );
    run(&f, "revert-security-group", NO_TAGS, SAMPLE)
        .await
        .unwrap_err();
    assert!(
        f.calls()
            .contains(&format!("UpdateFinding(NOTIFIED, {id})")),
        "{:?}",
        f.calls()
    );

    // The update throttled: the remediation stands, Lambda delivers the event again.
    let f = Arc::new(Fake::new());
    f.answer(
        "UpdateFinding",
        Err(PortError::Transient {
            op: "BatchUpdateFindings",
            code: "TooManyRequestsException".into(),
            message: "slow down".into(),
        }),
    );
    let e = run(&f, "revert-security-group", NO_TAGS, SAMPLE)
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "FindingUpdateFailedRetryable", "{e}");
    assert!(f.published()[0].1.contains("not marked RESOLVED"));

    // Refused for good (Security Hub off, no permission): reported, nothing to retry.
    let f = Arc::new(Fake::new());
    f.answer(
        "UpdateFinding",
        Err(PortError::Permanent {
            op: "BatchUpdateFindings",
            code: "InvalidAccessException".into(),
            message: "not subscribed".into(),
        }),
    );
    let r = run(&f, "revert-security-group", NO_TAGS, SAMPLE)
        .await
        .unwrap();
    let v = r.to_value();
    assert_eq!(v["finding"]["outcome"], "failed", "{v}");
    assert_eq!(
        v["finding"]["error"]["code"], "InvalidAccessException",
        "{v}"
    );

    // Switched off, or dry-run: no call.
    for policy in [
        r#"{"exempt_tag": "", "protected_tag": "", "update_findings": false}"#,
        r#"{"exempt_tag": "", "protected_tag": "", "mode": {"default": "dry-run"}}"#,
    ] {
        let f = Arc::new(Fake::new());
        let r = run(&f, "revert-security-group", policy, SAMPLE)
            .await
            .unwrap();
        assert!(r.finding.is_none(), "{policy}");
        assert!(
            !f.calls().iter().any(|c| c.starts_with("UpdateFinding")),
            "{policy}: {:?}",
            f.calls()
        );
    }
}

#[tokio::test]
async fn a_guardduty_finding_is_archived_when_asked_and_a_refusal_is_only_reported() {
    const SAMPLE: &str = "aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-high.json";
    let on = r#"{"exempt_tag": "", "protected_tag": "", "archive_guardduty_findings": true}"#;
    let id = load(SAMPLE)["detail"]["id"].as_str().unwrap().to_string();
    let f = Arc::new(Fake::new());
    let r = run(&f, "disable-compromised-key", on, SAMPLE)
        .await
        .unwrap();
    assert_eq!(r.to_value()["archived"]["outcome"], "updated");
    assert_eq!(
        f.calls().last().map(String::as_str),
        Some(format!("ArchiveFinding({id})").as_str()),
        "{:?}",
        f.calls()
    );
    assert!(f.published()[0]
        .1
        .contains(&format!("finding {id} archived")));
    // Off by default.
    let f = Arc::new(Fake::new());
    run(&f, "disable-compromised-key", NO_TAGS, SAMPLE)
        .await
        .unwrap();
    assert!(
        !f.calls().iter().any(|c| c.starts_with("ArchiveFinding")),
        "{:?}",
        f.calls()
    );
    // A member account, which GuardDuty does not let archive: reported, the key stays off.
    let f = Arc::new(Fake::new());
    f.answer(
        "ArchiveFinding",
        Err(PortError::Permanent {
            op: "ArchiveFindings",
            code: "BadRequestException".into(),
            message: "member accounts cannot archive".into(),
        }),
    );
    let r = run(&f, "disable-compromised-key", on, SAMPLE)
        .await
        .unwrap();
    assert_eq!(r.to_value()["archived"]["outcome"], "failed");
    assert!(r
        .actions
        .iter()
        .all(|a| a.outcome == Some(Status::Done) || !a.action.mutates()));
    // Throttled: Lambda delivers the event again.
    let f = Arc::new(Fake::new());
    f.answer(
        "ArchiveFinding",
        Err(PortError::Transient {
            op: "ArchiveFindings",
            code: "TooManyRequestsException".into(),
            message: "slow down".into(),
        }),
    );
    let e = run(&f, "disable-compromised-key", on, SAMPLE)
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "FindingUpdateFailedRetryable");
}

#[tokio::test]
async fn the_notice_names_the_account_by_its_alias_and_goes_out_without_it() {
    let denied = PortError::AccessDenied {
        op: "ListAccountAliases",
        iam_action: "iam:ListAccountAliases",
        code: "AccessDenied".into(),
        message: "not authorized".into(),
    };
    for (answer, shown) in [
        (Ok(Some("prod-payments".to_string())), Some("prod-payments")),
        (Ok(None), None),
        // Someone in the account chose an alias trailguard will not show.
        (Ok(Some("Prod\nWhat trailguard did:".to_string())), None),
        (Err(denied), None),
    ] {
        let f = Arc::new(Fake {
            alias: Some(answer.clone()),
            ..Fake::new()
        });
        let r = deps(&f, "revert-security-group", &sample_policy_json())
            .process(load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json"))
            .await
            .unwrap()
            .to_value();
        assert_eq!(r["actions"][0]["outcome"], "done", "{answer:?}: {r}");
        assert_eq!(r["event"]["account_alias"].as_str(), shown, "{answer:?}");
        let published = f.published();
        assert_eq!(published.len(), 1, "{answer:?}: told anyway");
        let where_ = match shown {
            Some(a) => format!("Where:         account 123456789012 (alias {a}), us-east-1\n"),
            None => "Where:         account 123456789012, us-east-1\n".to_string(),
        };
        assert!(
            published[0].1.contains(&where_),
            "{answer:?}: {}",
            published[0].1
        );
    }
}

// ---- Mode approve: a plan kept for a person, approved, rejected, expired, forged ----

const APPROVE: &str = r#"{"mode": {"default": "approve"}, "manual_trigger": true}"#;
const SSH: &str = "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json";

/// An "Approve Plan" event as `trailguard approve` puts it on the manual-trigger bus: with
/// the digest of the plan the fake ledger keeps under that id.
fn approval_event(f: &Fake, plan: &str, function: &str) -> Value {
    let digest = f
        .plans
        .lock()
        .unwrap()
        .get(&format!("plan#{plan}"))
        .map(|p| trailguard_aws::approve::plan_digest(&p.plan));
    json!({
        "version": "0",
        "id": format!("approval-of-{plan}"),
        "detail-type": "Approve Plan",
        "source": "trailguard",
        "account": "123456789012",
        "time": "2026-11-18T11:10:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"planId": plan, "function": function, "requestedBy": "arn:aws:iam::123456789012:user/alice", "planDigest": digest},
    })
}

/// Mode approve: the open-SSH event planned and kept; its plan id.
async fn kept(f: &Arc<Fake>) -> String {
    let r = with_ledger(f, "revert-security-group", APPROVE)
        .process(load(SSH))
        .await
        .unwrap();
    assert_eq!(json!(r.mode), "approve");
    r.approval.expect("a plan").plan_id
}

#[tokio::test]
async fn approve_mode_keeps_the_plan_and_changes_nothing() {
    let f = Arc::new(Fake::new());
    let r = with_ledger(&f, "revert-security-group", APPROVE)
        .process(load(SSH))
        .await
        .unwrap();
    assert_eq!(f.ops(), ["DescribeGroup"], "only the decision's read");
    assert_eq!(r.actions[0].outcome, Some(Status::AwaitingApproval));
    let a = r.approval.clone().expect("the report names the plan");
    let id = trailguard_rules::approval::plan_id(
        "00007a1f-0000-0000-0000-000000007bbc",
        "revert-security-group",
    );
    assert_eq!(a.plan_id, id);
    assert_eq!(json!(a.state), "waiting");
    assert_eq!(
        a.approve_by.as_deref(),
        Some("2026-11-18T12:06:40Z"),
        "60 minutes"
    );
    let plans = f.plans.lock().unwrap().clone();
    let kept = &plans[&format!("plan#{id}")];
    let plan: Value = serde_json::from_str(&kept.plan).unwrap();
    assert_eq!(plan["function"], "revert-security-group");
    assert_eq!(plan["actions"][0]["type"], "revoke_security_group_rules");
    assert_eq!(plan["event"]["id"], "00007a1f-0000-0000-0000-000000007bbc");
    let (subject, body) = f.published()[0].clone();
    assert!(subject.contains("AWAITING APPROVAL"), "{subject}");
    assert!(
        body.contains(&format!("To act:       trailguard approve {id}")),
        "{body}"
    );
    assert!(
        body.contains(&format!("To decline:   trailguard reject {id}")),
        "{body}"
    );
    assert!(
        body.contains("once a person approves (nothing was changed yet)"),
        "{body}"
    );
    // A redelivery finds the plan it kept: same id, state and expiry.
    let again = with_ledger(&f, "revert-security-group", APPROVE)
        .process(load(SSH))
        .await
        .unwrap();
    assert_eq!(again.approval.unwrap(), a);
    assert_eq!(f.plans.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_approval_runs_the_kept_plan_once_and_says_who_approved() {
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    let d = with_ledger(&f, "revert-security-group", APPROVE);
    let r = d
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert_eq!(json!(r.mode), "enforce");
    assert_eq!(r.decision, Kind::Remediate);
    assert_eq!(r.actions[0].outcome, Some(Status::Done), "{:?}", f.calls());
    // The kept event's id: its claims and report are the event's, for undo --event-id.
    assert_eq!(
        r.event_id.as_deref(),
        Some("00007a1f-0000-0000-0000-000000007bbc")
    );
    let a = r.approval.clone().unwrap();
    assert_eq!(json!(a.state), "approved");
    assert_eq!(
        a.by.as_deref(),
        Some("arn:aws:iam::123456789012:user/alice")
    );
    assert_eq!(
        f.plans.lock().unwrap()[&format!("plan#{id}")].state,
        "approved"
    );
    let (subject, body) = f.published().last().cloned().unwrap();
    assert!(subject.contains("REMEDIATED"), "{subject}");
    assert!(
        body.contains(&format!(
            "plan {id}, approved by arn:aws:iam::123456789012:user/alice"
        )),
        "{body}"
    );
    // The approval delivered again: the claim says done, nothing is changed twice.
    let revokes = |f: &Fake| f.ops().iter().filter(|o| o.starts_with("Revoke")).count();
    assert_eq!(revokes(&f), 1);
    let again = d
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert_eq!(again.actions[0].outcome, Some(Status::AlreadyDone));
    assert_eq!(revokes(&f), 1);
}

#[tokio::test]
async fn rejected_expired_unknown_and_foreign_plans_do_nothing_and_say_so() {
    let revokes = |f: &Fake| f.ops().iter().filter(|o| o.starts_with("Revoke")).count();
    // Rejected (as `trailguard reject` settles it).
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    {
        let mut plans = f.plans.lock().unwrap();
        let p = plans.get_mut(&format!("plan#{id}")).unwrap();
        p.state = "rejected".into();
        p.by = Some("arn:aws:iam::123456789012:user/bob".into());
    }
    let r = with_ledger(&f, "revert-security-group", APPROVE)
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert_eq!(r.decision, Kind::Notify);
    assert_eq!(json!(r.approval.as_ref().unwrap().state), "rejected");
    assert_eq!(revokes(&f), 0);
    let body = f.published().last().cloned().unwrap().1;
    assert!(
        body.contains(&format!(
            "plan {id} was rejected by arn:aws:iam::123456789012:user/bob: nothing was done"
        )),
        "{body}"
    );

    // Expired: the clock past approve_by.
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    let mut late = with_ledger(&f, "revert-security-group", APPROVE);
    late.clock = || NOW + 3601;
    let r = late
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert_eq!(json!(r.approval.as_ref().unwrap().state), "expired");
    assert_eq!(revokes(&f), 0);
    assert_eq!(
        f.plans.lock().unwrap()[&format!("plan#{id}")].state,
        "waiting"
    );

    // Unknown: no such plan.
    let f = Arc::new(Fake::new());
    let r = with_ledger(&f, "revert-security-group", APPROVE)
        .process(approval_event(
            &f,
            "0123456789abcdef",
            "revert-security-group",
        ))
        .await
        .unwrap();
    assert_eq!(json!(r.approval.as_ref().unwrap().state), "refused");
    assert!(
        r.reason.contains("no plan 0123456789abcdef"),
        "{}",
        r.reason
    );
    assert_eq!(f.ops(), Vec::<String>::new());

    // Another function's approval (its rule does not deliver it here): ignored, not read.
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    let r = with_ledger(&f, "revert-network-acl", APPROVE)
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert_eq!(r.decision, Kind::Ignore);
    assert!(r.approval.is_none());
    // Named to this function, but the kept plan is another's: refused.
    let r = with_ledger(&f, "revert-network-acl", APPROVE)
        .process(approval_event(&f, &id, "revert-network-acl"))
        .await
        .unwrap();
    assert_eq!(json!(r.approval.as_ref().unwrap().state), "refused");
    assert!(r.reason.contains("revert-security-group's"), "{}", r.reason);
    assert_eq!(revokes(&f), 0);

    // Without the manual-trigger bus, no approval is delivered: an ignore.
    let f = Arc::new(Fake::new());
    let r = with_ledger(
        &f,
        "revert-security-group",
        r#"{"mode": {"default": "approve"}}"#,
    )
    .process(approval_event(&f, &id, "revert-security-group"))
    .await
    .unwrap();
    assert_eq!(r.decision, Kind::Ignore);

    // A malformed approval (no plan id of the right form) is an error naming the field.
    let f = Arc::new(Fake::new());
    let e = with_ledger(&f, "revert-security-group", APPROVE)
        .process(approval_event(&f, "DROP TABLE", "revert-security-group"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("detail.planId"), "{e}");
}

#[tokio::test]
async fn an_approval_does_only_what_the_plan_holds() {
    // A plan whose actions were changed in the ledger (or whose event now decides more):
    // the decision made again holds an action the plan does not, so nothing runs.
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    {
        let mut plans = f.plans.lock().unwrap();
        let p = plans.get_mut(&format!("plan#{id}")).unwrap();
        let mut plan: Value = serde_json::from_str(&p.plan).unwrap();
        plan["actions"][0]["group_id"] = json!("sg-0fffffffffffffff0");
        p.plan = plan.to_string();
    }
    let r = with_ledger(&f, "revert-security-group", APPROVE)
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert_eq!(r.decision, Kind::Notify);
    let a = r.approval.clone().unwrap();
    // Nothing runs, and the plan is not used up (the event may ask for less again).
    assert_eq!(json!(a.state), "waiting");
    assert!(
        a.problem.unwrap().contains("does not hold"),
        "{:?}",
        r.reason
    );
    assert!(
        f.ops().iter().all(|o| !o.starts_with("Revoke")),
        "{:?}",
        f.ops()
    );
    assert_eq!(
        f.plans.lock().unwrap()[&format!("plan#{id}")].state,
        "waiting"
    );

    // The kept event changed so that it decides more (its allowed HTTPS rule made RDP): the
    // decision made again revokes a rule the plan does not name, so nothing runs.
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    {
        let mut plans = f.plans.lock().unwrap();
        let p = plans.get_mut(&format!("plan#{id}")).unwrap();
        let mut plan: Value = serde_json::from_str(&p.plan).unwrap();
        let rules =
            &mut plan["event"]["detail"]["responseElements"]["securityGroupRuleSet"]["items"];
        rules[1]["fromPort"] = json!(3389);
        rules[1]["toPort"] = json!(3389);
        let asked = &mut plan["event"]["detail"]["requestParameters"]["ipPermissions"]["items"];
        asked[1]["fromPort"] = json!(3389);
        asked[1]["toPort"] = json!(3389);
        p.plan = plan.to_string();
    }
    let r = with_ledger(&f, "revert-security-group", APPROVE)
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert!(r.reason.contains("does not hold"), "{}", r.reason);
    assert!(
        f.ops().iter().all(|o| !o.starts_with("Revoke")),
        "{:?}",
        f.ops()
    );

    // The plan's account made to say another than its event's (what `trailguard approve`
    // shows comes from the event): refused.
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    {
        let mut plans = f.plans.lock().unwrap();
        let p = plans.get_mut(&format!("plan#{id}")).unwrap();
        let mut plan: Value = serde_json::from_str(&p.plan).unwrap();
        plan["account"] = json!("210987654321");
        p.plan = plan.to_string();
    }
    let r = with_ledger(&f, "revert-security-group", APPROVE)
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert!(r.reason.contains("names account"), "{}", r.reason);
    assert!(f.ops().iter().all(|o| !o.starts_with("Revoke")));
}

#[tokio::test]
async fn an_approval_under_a_dry_run_ceiling_changes_nothing_and_the_plan_waits() {
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    let mut d = with_ledger(&f, "revert-security-group", APPROVE);
    d.settings.policy = d
        .settings
        .policy
        .clone()
        .with_mode_ceiling(trailguard_rules::Mode::DryRun);
    let r = d
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert!(
        f.ops().iter().all(|o| !o.starts_with("Revoke")),
        "{:?}",
        f.ops()
    );
    assert_eq!(json!(r.approval.as_ref().unwrap().state), "waiting");
    assert_eq!(
        f.plans.lock().unwrap()[&format!("plan#{id}")].state,
        "waiting"
    );
}

#[test]
fn approve_mode_needs_the_manual_trigger_bus_and_the_ledger() {
    let vars = |trigger: &'static str, table: bool| {
        move |k: &str| match k {
            "TRAILGUARD_POLICY" => Some(r#"{"mode": {"security_group": "approve"}}"#.to_string()),
            "TRAILGUARD_MANUAL_TRIGGER" => Some(trigger.to_string()),
            "TRAILGUARD_LEDGER_TABLE" if table => Some("ledger".to_string()),
            _ => None,
        }
    };
    let decider = trailguard_rules::Decider::from_function_name("revert-security-group").unwrap();
    let e = trailguard_aws::Settings::from_vars(decider, vars("false", true)).unwrap_err();
    assert!(e.to_string().contains("mode.security_group"), "{e}");
    assert!(e.to_string().contains("ManualTriggerPrincipals"), "{e}");
    let e = trailguard_aws::Settings::from_vars(decider, vars("true", false)).unwrap_err();
    assert!(
        e.to_string().contains("TRAILGUARD_LEDGER_TABLE is not set"),
        "{e}"
    );
    assert!(trailguard_aws::Settings::from_vars(decider, vars("true", true)).is_ok());
    // Another guard's function is not concerned.
    let nacl = trailguard_rules::Decider::from_function_name("revert-network-acl").unwrap();
    assert!(trailguard_aws::Settings::from_vars(nacl, vars("false", false)).is_ok());
}

#[tokio::test]
async fn an_approval_runs_only_the_plan_its_approver_was_shown() {
    // The approval carries the digest of the plan `trailguard approve` showed; the plan in
    // the ledger changed after that (someone with write access to the table): refused, the
    // plan left as it is, nothing changed.
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    let approval = approval_event(&f, &id, "revert-security-group");
    {
        let mut plans = f.plans.lock().unwrap();
        let p = plans.get_mut(&format!("plan#{id}")).unwrap();
        p.plan = p.plan.replace("opens", "opened");
        p.plan.push(' ');
    }
    let r = with_ledger(&f, "revert-security-group", APPROVE)
        .process(approval)
        .await
        .unwrap();
    assert_eq!(r.decision, Kind::Notify);
    assert!(r.reason.contains("planDigest"), "{}", r.reason);
    assert_eq!(json!(r.approval.as_ref().unwrap().state), "waiting");
    assert_eq!(
        f.plans.lock().unwrap()[&format!("plan#{id}")].state,
        "waiting"
    );
    assert!(
        f.ops().iter().all(|o| !o.starts_with("Revoke")),
        "{:?}",
        f.ops()
    );
    // An approval put by hand, without the digest: the same.
    let mut bare = approval_event(&f, &id, "revert-security-group");
    bare["detail"].as_object_mut().unwrap().remove("planDigest");
    let r = with_ledger(&f, "revert-security-group", APPROVE)
        .process(bare)
        .await
        .unwrap();
    assert!(r.reason.contains("planDigest"), "{}", r.reason);
}

#[tokio::test]
async fn an_approval_when_nothing_is_to_be_done_leaves_the_plan_waiting() {
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    // The account went out of the policy's scope since: the event decided again asks nothing.
    let out = r#"{"mode": {"default": "approve"}, "manual_trigger": true, "accounts": {"exclude": ["123456789012"]}}"#;
    let r = with_ledger(&f, "revert-security-group", out)
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert_eq!(r.decision, Kind::Notify);
    assert_eq!(json!(r.approval.as_ref().unwrap().state), "waiting");
    assert!(r.reason.contains("the plan still waits"), "{}", r.reason);
    assert_eq!(
        f.plans.lock().unwrap()[&format!("plan#{id}")].state,
        "waiting"
    );
    // Approved again once it is in scope: it acts.
    let r = with_ledger(&f, "revert-security-group", APPROVE)
        .process(approval_event(&f, &id, "revert-security-group"))
        .await
        .unwrap();
    assert_eq!(r.actions[0].outcome, Some(Status::Done));
}

#[tokio::test]
async fn a_replayed_approval_long_after_its_plan_ran_does_nothing() {
    let f = Arc::new(Fake::new());
    let id = kept(&f).await;
    let approval = approval_event(&f, &id, "revert-security-group");
    with_ledger(&f, "revert-security-group", APPROVE)
        .process(approval.clone())
        .await
        .unwrap();
    let mut later = with_ledger(&f, "revert-security-group", APPROVE);
    later.clock = || NOW + 3600 + 86_400 + 1;
    let r = later.process(approval).await.unwrap();
    assert_eq!(r.decision, Kind::Notify);
    assert!(r.reason.contains("not run again"), "{}", r.reason);
    assert!(r.actions.is_empty());
}

#[tokio::test]
async fn in_approve_mode_a_safeguard_is_put_back_at_once() {
    // StopLogging: starting the trail again restores a safeguard, which never waits.
    let f = Arc::new(Fake::new());
    let r = with_ledger(&f, "guard-cloudtrail", APPROVE)
        .process(load("aws.cloudtrail-StopLogging-remediate.json"))
        .await
        .unwrap();
    assert_eq!(json!(r.mode), "approve");
    let changes: Vec<_> = r.actions.iter().filter(|a| a.action.mutates()).collect();
    assert!(!changes.is_empty());
    assert!(
        changes.iter().all(|a| a.outcome == Some(Status::Done)),
        "{:?}",
        r.actions
    );
    assert!(r.approval.is_none(), "nothing left to approve");
    assert!(f.plans.lock().unwrap().is_empty());
    let (subject, body) = f.published()[0].clone();
    assert!(subject.contains("REMEDIATED"), "{subject}");
    assert!(
        body.contains("safeguards are put back without waiting for approval"),
        "{body}"
    );
}

#[tokio::test]
async fn a_plan_that_cannot_be_kept_is_told_then_retried() {
    let f = Arc::new(Fake::new());
    f.answer(
        "OfferPlan",
        Err(PortError::Transient {
            op: "PutItem",
            code: "ProvisionedThroughputExceededException".into(),
            message: "slow down".into(),
        }),
    );
    let e = with_ledger(&f, "revert-security-group", APPROVE)
        .process(load(SSH))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "ApprovalFailedRetryable");
    let (_, body) = f.published()[0].clone();
    assert!(
        body.contains("the plan could not be kept, so no one can approve it yet"),
        "{body}"
    );
    assert!(!body.contains("To act:"), "{body}");
}

#[tokio::test]
async fn in_approve_mode_an_exemption_taken_back_waits_like_any_change() {
    // Taking an exemption tag back takes someone's exemption away: it waits for a person.
    let f = Arc::new(Fake::new());
    let r = with_ledger(&f, "guard-tags", APPROVE)
        .process(load("aws.ec2-CreateTags-exempt-by-non-admin.json"))
        .await
        .unwrap();
    assert_eq!(r.decision, Kind::Remediate, "{}", r.reason);
    let changes: Vec<_> = r.actions.iter().filter(|a| a.action.mutates()).collect();
    assert!(!changes.is_empty());
    assert!(
        changes
            .iter()
            .all(|a| a.outcome == Some(Status::AwaitingApproval)),
        "{:?}",
        r.actions
    );
    assert!(f.ops().iter().all(|o| !o.contains("Tag")), "{:?}", f.ops());
    assert_eq!(json!(r.approval.unwrap().state), "waiting");
}

#[tokio::test]
async fn a_function_acts_only_for_its_own_guards_action_types() {
    use trailguard_aws::Acting;
    use trailguard_rules::action::{RevokeRules, UnshareImage};
    use trailguard_rules::guards::sg;
    let ctx = trailguard_aws::executor::Context {
        now: NOW,
        endpoint: None,
        read: None,
    };
    let clients = Acting::<_, { sg::ACTION_MASK }>(Fake::new());
    // Another guard's action: refused before any call, naming why.
    let share = Action::from(UnshareImage {
        image_id: "ami-0123456789abcdef0".into(),
        accounts: vec!["210987654321".into()],
        public: false,
        organizations: vec![],
    });
    let (outcome, _) = trailguard_aws::executor::run(&clients, &share, ctx).await;
    assert_eq!(outcome.status, Status::Failed);
    assert!(
        outcome.error.as_ref().is_some_and(|e| e
            .to_string()
            .contains("not an action type of this function's guard")),
        "{:?}",
        outcome.error
    );
    assert!(clients.0.calls_with_ops().is_empty());
    // Its own: run as ever.
    let revoke = Action::from(RevokeRules {
        group_id: "sg-0123456789abcdef0".into(),
        egress: false,
        rule_ids: vec!["sgr-0123456789abcdef0".into()],
        permissions: vec![],
    });
    let (outcome, _) = trailguard_aws::executor::run(&clients, &revoke, ctx).await;
    assert_ne!(outcome.status, Status::Failed, "{:?}", outcome.error);
    assert!(!clients.0.calls_with_ops().is_empty());
    // A mask that leaves out one of the guard's own action types fails the wiring check.
    let problems = trailguard_aws::wiring_problems(&sg::GUARD, |sdk| {
        Acting::<_, { trailguard_rules::guards::sharing::ACTION_MASK }>(
            Sdk::none()
                .with_account_alias(sdk)
                .with_ec2(sdk)
                .with_ledger(sdk),
        )
    });
    assert!(
        problems
            .iter()
            .any(|p| p.contains("revoke_security_group_rules is left out")),
        "{problems:?}"
    );
}
