//! restore-account-guardrails against moto: GuardDuty suspended. The test creates a
//! detector, suspends it through the SDK (the attacker's call), builds the CloudTrail event,
//! runs the handler, and asserts GuardDuty's answer; then redelivery (already done) and
//! dry-run, and a detector's other settings left as they were.

mod common;

use aws_sdk_guardduty::types::{DetectorStatus, FindingPublishingFrequency};
use common::*;
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
    let id = match gd
        .list_detectors()
        .send()
        .await
        .unwrap()
        .detector_ids()
        .first()
    {
        Some(id) => id.clone(),
        None => gd
            .create_detector()
            .enable(true)
            .finding_publishing_frequency(FindingPublishingFrequency::OneHour)
            .send()
            .await
            .unwrap()
            .detector_id()
            .unwrap()
            .to_string(),
    };
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
        (Some(DetectorStatus::Enabled), before)
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
}
