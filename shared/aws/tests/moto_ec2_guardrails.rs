//! restore-ec2-guardrails against moto: EBS encryption by default switched off. The test
//! switches it off through the SDK (the attacker's call), builds the CloudTrail event, runs
//! the handler, and asserts EC2's answer; then redelivery (already done) and dry-run.
//!
//! moto 5.2.5 has no snapshot or image block public access: those adapters are tested on
//! EC2's own answers through the SDK in canned_http.rs, the decisions on the samples.

mod common;

use common::*;
use serde_json::Value;
use trailguard_aws::{Clients, Deps, Home, Notifier, Sdk};

fn deps(sdk: &aws_config::SdkConfig, policy: &str) -> Deps<Home<impl Clients>, Notifier> {
    deps_with(
        sdk,
        "restore-ec2-guardrails",
        policy,
        Sdk::none().with_ec2(sdk),
    )
}

async fn run<C: Clients>(d: &Deps<Home<C>, Notifier>, event: Value) -> Value {
    process(d, event).await.unwrap()
}

fn outcome(r: &Value) -> &str {
    r["actions"][0]["outcome"].as_str().unwrap_or("none")
}

async fn encrypted_by_default(ec2: &aws_sdk_ec2::Client) -> bool {
    ec2.get_ebs_encryption_by_default()
        .send()
        .await
        .unwrap()
        .ebs_encryption_by_default()
        .unwrap_or(false)
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn ebs_encryption_by_default_switched_off_is_switched_back_on() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    ec2.enable_ebs_encryption_by_default().send().await.unwrap();
    // The attacker's call.
    ec2.disable_ebs_encryption_by_default()
        .send()
        .await
        .unwrap();
    assert!(!encrypted_by_default(&ec2).await);
    let event = cloudtrail_event(
        "aws.ec2-DisableEbsEncryptionByDefault-remediate.json",
        serde_json::json!({"DisableEbsEncryptionByDefaultRequest": ""}),
        Value::Null,
    );

    let r = run(
        &deps(&sdk, r#"{"mode": {"ec2_guardrails": "dry-run"}}"#),
        event.clone(),
    )
    .await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert!(!encrypted_by_default(&ec2).await);

    let d = deps(&sdk, "{}");
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert!(encrypted_by_default(&ec2).await);
    let undo = r["actions"][0]["undo"]["command"]
        .as_str()
        .unwrap_or_default();
    assert!(
        undo.contains("aws ec2 disable-ebs-encryption-by-default --region us-east-1"),
        "{undo}"
    );
    let again = run(&d, event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert!(encrypted_by_default(&ec2).await);
}
