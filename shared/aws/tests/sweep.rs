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
