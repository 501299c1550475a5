//! restore-account-guardrails against moto: GuardDuty suspended. The test creates a
//! detector, suspends it through the SDK (the attacker's call), builds the CloudTrail event,
//! runs the handler, and asserts GuardDuty's answer; then redelivery (already done) and
//! dry-run, and a detector's other settings left as they were.

mod common;
mod moto_control;

use aws_sdk_guardduty::types::{DetectorStatus, FindingPublishingFrequency};
use common::*;
use moto_control::control;
use serde_json::{json, Value};
use trailguard_aws::{Clients, Deps, Home, Notifier, Sdk};

fn deps(sdk: &aws_config::SdkConfig, policy: &str) -> Deps<Home<impl Clients>, Notifier> {
    deps_with(
        sdk,
        "restore-account-guardrails",
        policy,
        Sdk::none().with_guardduty(sdk),
    )
}

async fn run<C: Clients>(d: &Deps<Home<C>, Notifier>, event: Value) -> Value {
    process(d, event).await.unwrap()
}

fn outcome(r: &Value) -> &str {
    r["actions"][0]["outcome"].as_str().unwrap_or("none")
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_suspended_detector_is_switched_back_on() {
    let sdk = sdk().await;
    let gd = aws_sdk_guardduty::Client::new(&sdk);
    let id = detector(&gd, Some(FindingPublishingFrequency::OneHour)).await;
    let status = |gd: aws_sdk_guardduty::Client, id: String| async move {
        let d = gd.get_detector().detector_id(id).send().await.unwrap();
        (
            d.status().cloned(),
            d.finding_publishing_frequency().cloned(),
        )
    };
    let before = status(gd.clone(), id.clone()).await.1;
    // The attacker's call.
    gd.update_detector()
        .detector_id(&id)
        .enable(false)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(gd.clone(), id.clone()).await.0,
        Some(DetectorStatus::Disabled)
    );
    let event = cloudtrail_event(
        "aws.guardduty-UpdateDetector-disabled.json",
        json!({"detectorId": id, "enable": false}),
        Value::Null,
    );

    let r = run(
        &deps(&sdk, r#"{"mode": {"account_guardrails": "dry-run"}}"#),
        event.clone(),
    )
    .await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(
        status(gd.clone(), id.clone()).await.0,
        Some(DetectorStatus::Disabled)
    );

    let d = deps(&sdk, "{}");
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(
        status(gd.clone(), id.clone()).await,
        (Some(DetectorStatus::Enabled), before.clone())
    );
    let undo = r["actions"][0]["undo"]["command"]
        .as_str()
        .unwrap_or_default();
    assert!(
        undo.contains(&format!(
            "aws guardduty update-detector --detector-id {id} --no-enable"
        )),
        "{undo}"
    );
    let again = run(&d, event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");

    // trailguard undo: suspended again, its settings as they were; then nothing to undo.
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(
        status(gd.clone(), id.clone()).await,
        (Some(DetectorStatus::Disabled), before)
    );
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_sweep_switches_on_a_detector_suspended_before_trailguard() {
    // A region of its own: the event test above keeps us-east-1's detector.
    let sdk = sdk()
        .await
        .into_builder()
        .region(aws_config::Region::new("eu-north-1"))
        .build();
    let gd = aws_sdk_guardduty::Client::new(&sdk);
    let id = detector(&gd, None).await;
    gd.update_detector()
        .detector_id(&id)
        .enable(false)
        .send()
        .await
        .unwrap();
    let status = || async {
        gd.get_detector()
            .detector_id(&id)
            .send()
            .await
            .unwrap()
            .status()
            .cloned()
    };
    // The sweep also reads the account's S3 block: whatever it puts there is taken away
    // after, so the S3 tests find the account as they expect.
    let control = control(&sdk);
    let had_block = control
        .get_public_access_block()
        .account_id(ACCOUNT)
        .send()
        .await
        .is_ok();
    let sweeper = |policy: &str| {
        let mut clients = Sdk::none().with_guardduty(&sdk).with_s3control(&sdk);
        clients.s3control = control.clone();
        let mut d = deps_with(&sdk, "restore-account-guardrails", policy, clients);
        d.settings.region = Some("eu-north-1".into());
        d
    };
    let d = sweeper(r#"{"mode": {"account_guardrails": "dry-run"}}"#);
    let r = d.sweep(None).await.unwrap();
    assert!(r.count("dry_run") >= 1, "{r:?}");
    assert_eq!(status().await, Some(DetectorStatus::Disabled));

    let d = sweeper("{}");
    let r = d.sweep(None).await.unwrap();
    assert!(
        r.findings.iter().any(
            |f| f.kind == trailguard_rules::sweep::StateKind::GuardDutyDetectors
                && f.report
                    .actions
                    .iter()
                    .all(|a| a.outcome == Some(trailguard_rules::report::Status::Done))
        ),
        "{r:?}"
    );
    assert_eq!(status().await, Some(DetectorStatus::Enabled));
    let again = d.sweep(None).await.unwrap();
    assert!(
        again
            .findings
            .iter()
            .all(|f| f.kind != trailguard_rules::sweep::StateKind::GuardDutyDetectors),
        "{again:?}"
    );
    if !had_block {
        control
            .delete_public_access_block()
            .account_id(ACCOUNT)
            .send()
            .await
            .unwrap();
    }
}
