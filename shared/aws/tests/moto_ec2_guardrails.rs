//! restore-ec2-guardrails against moto: EBS encryption by default switched off, and an
//! instance launched allowing IMDSv1 (told; required again with `imds.enforce`). The test
//! switches it off through the SDK (the attacker's call), builds the CloudTrail event, runs
//! the handler, and asserts EC2's answer; then redelivery (already done) and dry-run.
//!
//! moto 5.2.5 has no snapshot or image block public access and no instance metadata
//! defaults: those adapters are tested on
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
    // trailguard undo: off again, as the remediation found it; then already undone.
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert!(!encrypted_by_default(&ec2).await);
    assert_eq!(
        undo_outcomes(&common::undo(&sdk, &r, false).await),
        ["already_undone"]
    );
}

async fn http_tokens(ec2: &aws_sdk_ec2::Client, id: &str) -> Option<String> {
    ec2.describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap()
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find_map(|i| {
            i.metadata_options()?
                .http_tokens()
                .map(|t| t.as_str().to_string())
        })
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn imdsv1_allowed_is_told_and_with_imds_enforce_required_again() {
    use aws_sdk_ec2::types::{HttpTokensState, InstanceMetadataOptionsRequest};
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    // The attacker's launch, allowing IMDSv1.
    let launched = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_tokens(HttpTokensState::Optional)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id = launched.instances()[0].instance_id().unwrap().to_string();
    assert_eq!(http_tokens(&ec2, &id).await.as_deref(), Some("optional"));
    let mut event = sample("aws.ec2-RunInstances-imdsv1.json");
    event["id"] = serde_json::json!(unique("ev"));
    event["detail"]["eventID"] = serde_json::json!(unique("ct"));
    event["detail"]["responseElements"]["instancesSet"]["items"] =
        serde_json::json!([{"instanceId": id}]);

    // By default: told, nothing changed (requiring IMDSv2 can break the workload).
    let r = run(&deps(&sdk, "{}"), event.clone()).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(http_tokens(&ec2, &id).await.as_deref(), Some("optional"));

    let d = deps(&sdk, r#"{"imds": {"enforce": true}}"#);
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(http_tokens(&ec2, &id).await.as_deref(), Some("required"));
    let again = run(&d, event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");

    // trailguard undo: IMDSv1 allowed again, as the launch left it; then nothing to undo.
    assert_eq!(r["actions"][0]["reversal"]["call"], "allow_imdsv1", "{r}");
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(http_tokens(&ec2, &id).await.as_deref(), Some("optional"));
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    // Required again, then terminated: not an instance to change any more.
    ec2.modify_instance_metadata_options()
        .instance_id(&id)
        .http_tokens(HttpTokensState::Required)
        .send()
        .await
        .unwrap();
    ec2.terminate_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let refused = common::undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("terminated")),
        "{refused}"
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_exempt_instance_keeps_imdsv1_even_with_imds_enforce() {
    use aws_sdk_ec2::types::{
        HttpTokensState, InstanceMetadataOptionsRequest, ResourceType, Tag, TagSpecification,
    };
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let launched = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_tokens(HttpTokensState::Optional)
                .build(),
        )
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(
                    Tag::builder()
                        .key("trailguard:exempt")
                        .value("true")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id = launched.instances()[0].instance_id().unwrap().to_string();
    let mut event = sample("aws.ec2-ModifyInstanceMetadataOptions-optional.json");
    event["id"] = serde_json::json!(unique("ev"));
    event["detail"]["eventID"] = serde_json::json!(unique("ct"));
    event["detail"]["requestParameters"]["ModifyInstanceMetadataOptionsRequest"]["InstanceId"] =
        serde_json::json!(id);
    let r = run(&deps(&sdk, r#"{"imds": {"enforce": true}}"#), event).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert!(
        r.to_string()
            .contains("left as it is (tag trailguard:exempt)"),
        "{r}"
    );
    assert_eq!(http_tokens(&ec2, &id).await.as_deref(), Some("optional"));
}
