//! The reconciliation sweep with recording fakes: paging, exempt tags, dry-run, the
//! checkpoint, the schedule's event, failures. (Against moto: moto_sweep.rs.)

mod fakes;

use std::sync::Arc;

use fakes::*;
use serde_json::json;
use trailguard_aws::{HandlerError, Incoming, PortError, Response};
use trailguard_rules::sweep::{Checkpoint, State, StateKind, TrailState};
use trailguard_rules::GroupFacts;

fn group(id: &str, tags: &[(&str, &str)], rules: serde_json::Value) -> State {
    State::SecurityGroup(GroupFacts {
        group_id: id.into(),
        group_name: None,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        rules: serde_json::from_value(rules).unwrap(),
    })
}

fn ssh_from_anywhere(rule: &str) -> serde_json::Value {
    json!({"rule_id": rule, "egress": false, "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ipv4": "0.0.0.0/0"})
}

fn https_from_anywhere(rule: &str) -> serde_json::Value {
    json!({"rule_id": rule, "egress": false, "protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_ipv4": "0.0.0.0/0"})
}

/// Three groups, two pages: one opened to the world on SSH, one compliant, one opened but
/// exempt.
fn account() -> Arc<Fake> {
    let f = Arc::new(Fake::new());
    *f.state.lock().unwrap() = vec![
        group(
            "sg-open",
            &[],
            json!([ssh_from_anywhere("sgr-ssh"), https_from_anywhere("sgr-web")]),
        ),
        group("sg-fine", &[], json!([https_from_anywhere("sgr-web2")])),
        group(
            "sg-exempt",
            &[("trailguard:exempt", "true")],
            json!([ssh_from_anywhere("sgr-x")]),
        ),
    ];
    f
}

#[tokio::test]
async fn a_sweep_revokes_exactly_the_open_rules_and_reports_once() {
    let f = account();
    let r = deps(&f, "revert-security-group", "{}")
        .sweep(None)
        .await
        .unwrap();
    // Each page is acted on before the next is listed: a run cut short has fixed what it saw.
    assert_eq!(
        f.calls(),
        [
            "ListGroups()",
            "RevokeRules(sg-open,ingress,sgr-ssh)",
            "ListGroups(2)"
        ]
    );
    assert!(r.complete && r.checkpoint.is_none());
    assert_eq!(r.listed[&StateKind::SecurityGroups], 3);
    assert_eq!(r.pages, 2);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].resource, "sg-open");
    assert_eq!(r.count("done"), 1);
    let published = f.published();
    assert_eq!(published.len(), 1, "one notification per sweep");
    let (subject, body) = &published[0];
    assert!(
        subject.starts_with("[trailguard] SWEEP: security_group: 1 resource(s) fixed"),
        "{subject}"
    );
    assert!(body.contains("3 security groups (2 page(s))"), "{body}");
    assert!(body.contains("sgr-ssh"), "{body}");
    assert_eq!(f.events_put.lock().unwrap()[0].0, "Remediation Performed");
}

#[tokio::test]
async fn a_sweep_in_dry_run_changes_nothing_and_says_so() {
    let f = account();
    let r = deps(
        &f,
        "revert-security-group",
        r#"{"mode": {"default": "dry-run"}}"#,
    )
    .sweep(None)
    .await
    .unwrap();
    assert_eq!(f.calls(), ["ListGroups()", "ListGroups(2)"]);
    assert_eq!(r.count("dry_run"), 1);
    assert!(
        f.published()[0].0.contains("SWEEP DRY-RUN"),
        "{:?}",
        f.published()
    );
}

#[tokio::test]
async fn a_clean_account_is_swept_in_silence() {
    let f = Arc::new(Fake::new());
    *f.state.lock().unwrap() = vec![group("sg-fine", &[], json!([https_from_anywhere("r")]))];
    let r = deps(&f, "revert-security-group", "{}")
        .sweep(None)
        .await
        .unwrap();
    assert!(r.findings.is_empty() && r.complete && !r.notified);
    assert!(f.published().is_empty());
}

#[tokio::test]
async fn out_of_pages_a_sweep_leaves_a_checkpoint_and_the_next_run_continues_there() {
    let f = account();
    let mut d = deps(&f, "revert-security-group", "{}");
    d.settings.ledger_table = Some("trailguard-ledger".into());
    d.settings.sweep_max_resources = Some(2);
    let first = d.sweep(None).await.unwrap();
    assert!(!first.complete);
    let cp = Checkpoint {
        kind: StateKind::SecurityGroups,
        token: Some("2".into()),
        skip: 0,
    };
    assert_eq!(first.checkpoint, Some(cp.clone()));
    assert!(first
        .stopped
        .as_deref()
        .unwrap()
        .contains("TRAILGUARD_SWEEP_MAX_RESOURCES"));
    assert_eq!(f.checkpoints.lock().unwrap().values().next(), Some(&cp));

    let second = d.sweep(None).await.unwrap();
    assert_eq!(second.resumed_from, Some(cp));
    assert!(second.complete);
    assert!(
        f.checkpoints.lock().unwrap().is_empty(),
        "a finished sweep forgets its checkpoint"
    );
    assert_eq!(
        f.ops(),
        ["ListGroups", "RevokeRules", "ListGroups"],
        "the second run lists only the page the first did not reach"
    );
    assert_eq!(f.calls()[2], "ListGroups(2)");
}

#[tokio::test]
async fn a_listing_failure_is_retryable_notified_and_keeps_the_place() {
    let f = account();
    f.answer(
        "ListGroups",
        Err(PortError::Transient {
            op: "DescribeSecurityGroups",
            code: "RequestLimitExceeded".into(),
            message: "slow down".into(),
        }),
    );
    let mut d = deps(&f, "revert-security-group", "{}");
    d.settings.ledger_table = Some("trailguard-ledger".into());
    let e = d.sweep(None).await.unwrap_err();
    assert!(
        matches!(&e, HandlerError::Lookup(p) if p.is_retryable()),
        "{e:?}"
    );
    assert!(f.published()[0].0.contains("SWEEP"), "{:?}", f.published());
    assert!(f.published()[0]
        .1
        .contains("listing security groups failed"));
    assert_eq!(
        f.checkpoints.lock().unwrap().values().next(),
        Some(&Checkpoint {
            kind: StateKind::SecurityGroups,
            token: None,
            skip: 0,
        })
    );
}

#[tokio::test]
async fn the_schedule_event_starts_the_sweep_and_other_events_do_not() {
    let f = Arc::new(Fake::new());
    *f.state.lock().unwrap() = vec![State::Trail(TrailState {
        trail: "management-events".into(),
        is_logging: false,
        log_file_validation: true,
        tags: Default::default(),
    })];
    let d = deps(&f, "guard-cloudtrail", "{}");
    let mut ctx = lambda_runtime::Context::default();
    // Five minutes from now, as Lambda sets it.
    ctx.deadline = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 300_000) as u64;
    let event: Incoming = load("aws.events-Scheduled-Event-sweep.json").into();
    let out = d
        .handle(lambda_runtime::LambdaEvent::new(event, ctx))
        .await
        .unwrap();
    let Response::Sweep(r) = out else {
        panic!("a scheduled event must start a sweep")
    };
    assert_eq!(
        f.calls(),
        [
            "ListTrails()",
            "GetTrailStatus(management-events)",
            "StartLogging(management-events)"
        ]
    );
    assert_eq!(r.findings.len(), 1);
    let v = serde_json::to_value(&*r).unwrap();
    assert_eq!(v["sweep"], true);
    assert_eq!(v["outcomes"]["done"], 1);

    // A guard that does not sweep ignores the schedule's event like any event it does not handle.
    let f = Arc::new(Fake::new());
    let d = deps(&f, "guard-detection", "{}");
    let out = d
        .handle(lambda_runtime::LambdaEvent::new(
            load("aws.events-Scheduled-Event-sweep.json").into(),
            lambda_runtime::Context::default(),
        ))
        .await
        .unwrap();
    assert!(matches!(out, Response::Event(r) if r.decision == trailguard_rules::Kind::Ignore));
    assert!(f.calls().is_empty());
}

#[tokio::test]
async fn too_close_to_the_deadline_a_sweep_lists_nothing_and_keeps_its_place() {
    let f = account();
    let mut d = deps(&f, "revert-security-group", "{}");
    d.settings.ledger_table = Some("trailguard-ledger".into());
    let r = d
        .sweep(Some(
            std::time::Instant::now() + std::time::Duration::from_secs(2),
        ))
        .await
        .unwrap();
    assert!(f.calls().is_empty(), "{:?}", f.calls());
    assert!(!r.complete);
    assert!(r.stopped.unwrap().contains("deadline"));
    assert_eq!(
        r.checkpoint,
        Some(Checkpoint {
            kind: StateKind::SecurityGroups,
            token: None,
            skip: 0,
        })
    );
}

// ---- the account's guardrails and keys, as they are ----

fn key(id: &str, state: &str, rotation: Option<bool>, tags: &[(&str, &str)]) -> State {
    State::EncryptionKey(trailguard_rules::state::EncryptionKeyState {
        key_id: format!("arn:aws:kms:us-east-1:123456789012:key/{id}"),
        state: state.into(),
        manager: "CUSTOMER".into(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        rotation,
        ..Default::default()
    })
}

#[tokio::test]
async fn a_key_sweep_cancels_only_deletions_no_administrator_scheduled_and_turns_rotation_on() {
    let f = Arc::new(Fake::new());
    let mallory = "0d3f1a2b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"; // the world's history: mallory
    let admin = "4d5e6f70-8192-4a3b-bc4d-5e6f70819203"; // the world's history: KeyAdministrator
    let unknown = "6e7f8091-a2b3-4c4d-8e5f-60718293a4b5"; // not in the history
    let mut aws_managed = key("11111111-2222-4333-8444-555555555555", "Enabled", None, &[]);
    if let State::EncryptionKey(k) = &mut aws_managed {
        k.manager = "AWS".into();
    }
    *f.state.lock().unwrap() = vec![
        key(mallory, "PendingDeletion", None, &[]),
        key(admin, "PendingDeletion", None, &[]),
        key(unknown, "PendingDeletion", None, &[]),
        key(
            "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
            "Enabled",
            Some(false),
            &[],
        ),
        key(
            "9b8a7c6d-5e4f-4d3c-9b2a-1f0e9d8c7b6a",
            "Enabled",
            Some(false),
            &[("trailguard:exempt", "true")],
        ),
        key(
            "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
            "Disabled",
            None,
            &[],
        ),
        aws_managed,
    ];
    let policy = r#"{"kms_admins": ["arn:aws:iam::*:role/KeyAdministrator"]}"#;
    let r = deps(&f, "protect-encryption-keys", policy)
        .sweep(None)
        .await
        .unwrap();
    let calls = f.calls();
    let acted: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("Cancel") || c.starts_with("EnableKeyRotation"))
        .collect();
    assert_eq!(
        acted,
        [
            &format!("CancelKeyDeletion(arn:aws:kms:us-east-1:123456789012:key/{mallory})"),
            &"EnableKeyRotation(arn:aws:kms:us-east-1:123456789012:key/7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d,None)".to_string(),
        ],
        "{calls:?}"
    );
    assert!(r.complete, "{r:?}");
    assert_eq!(r.listed[&StateKind::EncryptionKeys], 7);
    // The cancelled one, the rotation, and the deletion nobody can be named for (told).
    let found: Vec<(&str, String)> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.resource.rsplit('/').next().unwrap(),
                format!("{:?}", f.report.decision).to_lowercase(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (mallory, "remediate".to_string()),
            (unknown, "notify".to_string()),
            (
                "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
                "remediate".to_string()
            )
        ]
    );
    let (_, body) = &f.published()[0];
    assert!(
        body.contains("not cancelled: the scheduling of its pending deletion"),
        "{body}"
    );
}

#[tokio::test]
async fn an_ec2_defaults_sweep_puts_each_guardrail_back_in_one_finding() {
    let f = Arc::new(Fake::new());
    *f.state.lock().unwrap() = vec![State::Ec2Defaults(
        trailguard_rules::state::Ec2DefaultsState {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            ebs_encryption_by_default: Some(false),
            snapshot_block_public_access: Some("block-new-sharing".into()),
            image_block_public_access: Some("unblocked".into()),
        },
    )];
    let r = deps(&f, "restore-ec2-guardrails", "{}")
        .sweep(None)
        .await
        .unwrap();
    assert_eq!(
        f.calls(),
        [
            "Ec2Defaults(123456789012,us-east-1)",
            "EnableEbsEncryptionByDefault()",
            "EnableSnapshotBlockPublicAccess(block-all-sharing)",
            "EnableImageBlockPublicAccess()"
        ]
    );
    assert_eq!(r.findings.len(), 1, "{r:?}");

    // A guardrail the region could not read is left alone; those on are not touched.
    let f = Arc::new(Fake::new());
    *f.state.lock().unwrap() = vec![State::Ec2Defaults(
        trailguard_rules::state::Ec2DefaultsState {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            ebs_encryption_by_default: Some(true),
            snapshot_block_public_access: None,
            image_block_public_access: Some("block-new-sharing".into()),
        },
    )];
    let r = deps(&f, "restore-ec2-guardrails", "{}")
        .sweep(None)
        .await
        .unwrap();
    assert_eq!(f.calls(), ["Ec2Defaults(123456789012,us-east-1)"]);
    assert!(r.findings.is_empty() && f.published().is_empty(), "{r:?}");
}

#[tokio::test]
async fn a_detector_sweep_switches_a_suspended_detector_back_on_and_creates_none() {
    let f = Arc::new(Fake::new());
    *f.state.lock().unwrap() = vec![State::Detectors(trailguard_rules::state::DetectorsState {
        detectors: vec![("12abc34d567e8fa901bc2d34e56789f0".into(), "DISABLED".into())],
        ..Default::default()
    })];
    deps(&f, "restore-account-guardrails", "{}")
        .sweep(None)
        .await
        .unwrap();
    assert_eq!(
        f.calls(),
        [
            "AccountBlock(123456789012)",
            "Detectors()",
            "EnableDetector(12abc34d567e8fa901bc2d34e56789f0)"
        ]
    );
    // A region without GuardDuty: nothing created, nothing sent (GuardDuty.1 tells).
    let f = Arc::new(Fake::new());
    *f.state.lock().unwrap() = vec![State::Detectors(Default::default())];
    let r = deps(&f, "restore-account-guardrails", "{}")
        .sweep(None)
        .await
        .unwrap();
    assert_eq!(f.calls(), ["AccountBlock(123456789012)", "Detectors()"]);
    assert!(r.findings.is_empty(), "{r:?}");
}

#[tokio::test]
async fn a_password_policy_sweep_puts_the_baseline_back_only_when_the_policy_has_one() {
    let weak = State::PasswordPolicy(trailguard_rules::state::PasswordPolicyState {
        account: "123456789012".into(),
        policy: Some(trailguard_rules::state::PasswordPolicy {
            minimum_password_length: 8,
            ..Default::default()
        }),
    });
    let f = Arc::new(Fake::new());
    *f.state.lock().unwrap() = vec![weak.clone()];
    let baseline =
        r#"{"iam": {"password_policy": {"minimum_password_length": 14, "require_symbols": true}}}"#;
    let r = deps(&f, "guard-iam", baseline).sweep(None).await.unwrap();
    assert_eq!(
        f.calls(),
        [
            "PasswordPolicy()",
            "PutPasswordPolicy(--minimum-password-length 14 --require-symbols --no-require-numbers --no-require-uppercase-characters --no-require-lowercase-characters --no-allow-users-to-change-password --no-hard-expiry)"
        ]
    );
    assert_eq!(r.findings.len(), 1);
    let f = Arc::new(Fake::new());
    *f.state.lock().unwrap() = vec![weak];
    let r = deps(&f, "guard-iam", "{}").sweep(None).await.unwrap();
    assert_eq!(f.calls(), ["PasswordPolicy()"]);
    assert!(r.findings.is_empty());
}

#[tokio::test]
async fn a_kind_refused_for_good_is_passed_over_and_cannot_stop_the_others() {
    let f = Arc::new(Fake::new());
    f.answer(
        "Detectors",
        Err(PortError::Permanent {
            op: "ListDetectors",
            code: "AccessDeniedException".into(),
            message: "explicit deny in a service control policy".into(),
        }),
    );
    let mut d = deps(&f, "restore-account-guardrails", "{}");
    d.settings.ledger_table = Some("trailguard-ledger".into());
    for _ in 0..2 {
        let e = d.sweep(None).await.unwrap_err();
        assert!(
            matches!(&e, HandlerError::Lookup(p) if !p.is_retryable()),
            "{e:?}"
        );
    }
    // Each run looked at the account's block, whatever the detectors' listing did.
    assert_eq!(
        f.calls(),
        [
            "AccountBlock(123456789012)",
            "Detectors()",
            "AccountBlock(123456789012)",
            "Detectors()"
        ]
    );
    assert!(
        f.checkpoints.lock().unwrap().is_empty(),
        "no place kept at a kind refused for good"
    );
    assert!(f.published()[1]
        .1
        .contains("listing GuardDuty detectors failed"));
}

#[tokio::test]
async fn a_run_resumed_at_a_later_kind_goes_round_to_the_earlier_ones() {
    let f = Arc::new(Fake::new());
    f.checkpoints.lock().unwrap().insert(
        "sweep#account_guardrails#123456789012#us-east-1".into(),
        Checkpoint {
            kind: StateKind::GuardDutyDetectors,
            token: None,
            skip: 0,
        },
    );
    let mut d = deps(&f, "restore-account-guardrails", "{}");
    d.settings.ledger_table = Some("trailguard-ledger".into());
    let r = d.sweep(None).await.unwrap();
    assert!(r.complete, "{r:?}");
    assert_eq!(
        f.calls(),
        [
            "Detectors()",
            "EnableDetector(12abc34d567e8fa901bc2d34e56789f0)",
            "AccountBlock(123456789012)"
        ]
    );
}

#[tokio::test]
async fn a_key_the_function_cannot_read_is_told_and_the_others_still_swept() {
    let f = Arc::new(Fake::new());
    let mut locked = key("3f4e5d6c-7b8a-4990-8a1b-2c3d4e5f6a7b", "?", None, &[]);
    if let State::EncryptionKey(k) = &mut locked {
        k.unreadable =
            Some("AccessDeniedException: not authorized to perform kms:DescribeKey".into());
    }
    *f.state.lock().unwrap() = vec![
        locked,
        key(
            "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
            "Enabled",
            Some(false),
            &[],
        ),
    ];
    let r = deps(&f, "protect-encryption-keys", "{}")
        .sweep(None)
        .await
        .unwrap();
    assert!(r.complete, "{r:?}");
    // Told (trailguard cannot protect it), and the other key still looked at.
    assert_eq!(r.findings.len(), 2, "{r:?}");
    assert!(f.published()[0].1.contains("trailguard cannot read it"));
    assert!(f
        .calls()
        .iter()
        .any(|c| c.starts_with("EnableKeyRotation(arn:aws:kms:us-east-1:123456789012:key/7a8b")));
}

#[tokio::test]
async fn a_sweep_in_approve_mode_only_plans_even_a_safeguard() {
    // A sweep has no event to keep for a person: it plans, as in dry-run, and changes
    // nothing, not even a detector (only an event's own safeguards run without approval).
    let f = Arc::new(Fake::new());
    *f.state.lock().unwrap() = vec![State::Detectors(trailguard_rules::state::DetectorsState {
        detectors: vec![("12abc34d567e8fa901bc2d34e56789f0".into(), "DISABLED".into())],
        ..Default::default()
    })];
    let r = deps(
        &f,
        "restore-account-guardrails",
        r#"{"mode": {"default": "approve"}, "manual_trigger": true}"#,
    )
    .sweep(None)
    .await
    .unwrap();
    assert_eq!(f.calls(), ["AccountBlock(123456789012)", "Detectors()"]);
    assert_eq!(r.count("dry_run"), 1, "{r:?}");
    assert!(
        f.published()[0].0.contains("SWEEP DRY-RUN"),
        "{:?}",
        f.published()
    );
}
