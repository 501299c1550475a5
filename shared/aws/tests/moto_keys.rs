//! protect-encryption-keys against moto: a KMS key's deletion scheduled and its rotation
//! switched off. Each test creates the key, makes the attacker's call through the SDK,
//! builds the CloudTrail event from that call, runs the handler, and asserts the key's real
//! state; then it redelivers the event (already done), and checks dry-run and the exemption
//! tag.
//!
//! moto 5.2.5 keeps KMS keys' state, deletion, rotation and tags, but has no CloudTrail
//! `LookupEvents`: the key's history cannot be read there, so a cancelled key is left
//! disabled and the report says why (the enabling path is tested on the recording fake in
//! handler.rs).

mod common;

use aws_sdk_kms::types::{KeyState, Tag};
use common::*;
use serde_json::{json, Value};
use trailguard_aws::{Clients, Deps, Home, Notifier, Sdk};

const POLICY: &str = r#"{"kms_admins": ["arn:aws:iam::*:role/KeyAdministrator"]}"#;
const DRY_RUN: &str = r#"{"mode": {"encryption_keys": "dry-run"}}"#;

fn deps(sdk: &aws_config::SdkConfig, policy: &str) -> Deps<Home<impl Clients>, Notifier> {
    let clients = Sdk::none().with_kms_keys(sdk).with_cloudtrail(sdk);
    deps_with(sdk, "protect-encryption-keys", policy, clients)
}

async fn run<C: Clients>(d: &Deps<Home<C>, Notifier>, event: Value) -> Value {
    process(d, event).await.unwrap()
}

fn outcome(r: &Value) -> &str {
    r["actions"][0]["outcome"].as_str().unwrap_or("none")
}

fn note(r: &Value) -> String {
    r["actions"][0]["note"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn new_key(kms: &aws_sdk_kms::Client, tags: &[(&str, &str)]) -> String {
    let mut req = kms.create_key().description(unique("tg-key"));
    for (k, v) in tags {
        req = req.tags(Tag::builder().tag_key(*k).tag_value(*v).build().unwrap());
    }
    let key = req.send().await.unwrap();
    key.key_metadata().unwrap().arn().unwrap().to_string()
}

async fn state(kms: &aws_sdk_kms::Client, key: &str) -> KeyState {
    kms.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_state()
        .unwrap()
        .clone()
}

async fn rotation(kms: &aws_sdk_kms::Client, key: &str) -> bool {
    kms.get_key_rotation_status()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_rotation_enabled()
}

/// The attacker's `ScheduleKeyDeletion`, and the event CloudTrail writes for it.
async fn schedule_deletion(kms: &aws_sdk_kms::Client, key: &str) -> Value {
    // moto takes only the key id for ScheduleKeyDeletion (AWS takes the ARN too).
    let out = kms
        .schedule_key_deletion()
        .key_id(key.rsplit('/').next().unwrap())
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(state(kms, key).await, KeyState::PendingDeletion);
    let id = key.rsplit('/').next().unwrap();
    cloudtrail_event(
        "aws.kms-ScheduleKeyDeletion-remediate.json",
        json!({"keyId": id, "pendingWindowInDays": 7}),
        json!({"keyId": out.key_id().unwrap(), "keyState": "PendingDeletion",
               "pendingWindowInDays": 7, "deletionDate": "Dec 1, 2026, 12:00:00 AM"}),
    )
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_scheduled_deletion_is_cancelled_and_the_key_kept() {
    let sdk = sdk().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = new_key(&kms, &[("team", "payments")]).await;

    // Dry-run first: nothing changes.
    let event = schedule_deletion(&kms, &key).await;
    let r = run(&deps(&sdk, DRY_RUN), event).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(state(&kms, &key).await, KeyState::PendingDeletion);

    let d = deps(&sdk, POLICY);
    let r = run(&d, event_for(&kms, &key).await).await;
    assert_eq!(outcome(&r), "done", "{r}");
    // KMS leaves a cancelled key disabled; without a readable history it stays so, and the
    // report says how to enable it.
    assert_eq!(state(&kms, &key).await, KeyState::Disabled);
    let n = note(&r);
    assert!(
        n.contains("deletion cancelled; left disabled")
            && n.contains("aws kms enable-key --key-id"),
        "{n}"
    );
    let u = r["actions"][0]["undo"]["command"]
        .as_str()
        .unwrap_or_default();
    assert!(
        u.contains("aws kms schedule-key-deletion --key-id")
            && u.contains("--pending-window-in-days 7"),
        "{u}"
    );
    // The tag and the key itself are as they were.
    let tags = kms.list_resource_tags().key_id(&key).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);

    // Redelivered: the key is no longer pending deletion.
    let replay = cloudtrail_event(
        "aws.kms-ScheduleKeyDeletion-remediate.json",
        json!({"keyId": key.rsplit('/').next().unwrap(), "pendingWindowInDays": 7}),
        json!({"keyId": key}),
    );
    let again = run(&d, replay).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert_eq!(state(&kms, &key).await, KeyState::Disabled);
}

/// The event of the deletion already scheduled (dry-run left it pending).
async fn event_for(kms: &aws_sdk_kms::Client, key: &str) -> Value {
    assert_eq!(state(kms, key).await, KeyState::PendingDeletion);
    cloudtrail_event(
        "aws.kms-ScheduleKeyDeletion-remediate.json",
        json!({"keyId": key.rsplit('/').next().unwrap(), "pendingWindowInDays": 7}),
        json!({"keyId": key, "keyState": "PendingDeletion", "pendingWindowInDays": 7}),
    )
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_exempt_key_or_a_kms_admin_is_told_and_never_touched() {
    let sdk = sdk().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let d = deps(&sdk, POLICY);

    let exempt = new_key(&kms, &[("trailguard:exempt", "true")]).await;
    let event = schedule_deletion(&kms, &exempt).await;
    let r = run(&d, event).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(outcome(&r), "none", "{r}");
    assert_eq!(state(&kms, &exempt).await, KeyState::PendingDeletion);

    let key = new_key(&kms, &[]).await;
    let mut event = schedule_deletion(&kms, &key).await;
    event["detail"]["userIdentity"] =
        sample("aws.kms-ScheduleKeyDeletion-kms-admin.json")["detail"]["userIdentity"].clone();
    let r = run(&d, event).await;
    assert_eq!(outcome(&r), "none", "{r}");
    assert_eq!(state(&kms, &key).await, KeyState::PendingDeletion);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn rotation_switched_off_is_switched_back_on() {
    let sdk = sdk().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = new_key(&kms, &[]).await;
    kms.enable_key_rotation().key_id(&key).send().await.unwrap();
    let attack = || async {
        kms.disable_key_rotation()
            .key_id(&key)
            .send()
            .await
            .unwrap();
        assert!(!rotation(&kms, &key).await);
        cloudtrail_event(
            "aws.kms-DisableKeyRotation-remediate.json",
            json!({"keyId": key}),
            Value::Null,
        )
    };

    let event = attack().await;
    let r = run(&deps(&sdk, DRY_RUN), event).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert!(!rotation(&kms, &key).await);

    let d = deps(&sdk, POLICY);
    let event = cloudtrail_event(
        "aws.kms-DisableKeyRotation-remediate.json",
        json!({"keyId": key}),
        Value::Null,
    );
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert!(rotation(&kms, &key).await);
    assert!(
        note(&r).starts_with("rotation on, KMS's default period"),
        "{r}"
    );
    // trailguard undo: off again, as the remediation found it, then on again for the rest.
    let undone = undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert!(!rotation(&kms, &key).await);
    assert_eq!(
        undo_outcomes(&undo(&sdk, &r, false).await),
        ["already_undone"]
    );
    kms.enable_key_rotation().key_id(&key).send().await.unwrap();
    let u = r["actions"][0]["undo"]["command"]
        .as_str()
        .unwrap_or_default();
    assert!(u.contains("aws kms disable-key-rotation --key-id"), "{u}");

    let again = run(&d, event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert!(rotation(&kms, &key).await);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_sweep_switches_rotation_on_where_it_is_off_and_leaves_an_exempt_key() {
    // A region of its own: the other tests leave keys pending deletion in us-east-1, whose
    // scheduler the sweep reads from CloudTrail's history (moto has none; the recording fake
    // in sweep.rs tests that path).
    let sdk = sdk()
        .await
        .into_builder()
        .region(aws_config::Region::new("ap-southeast-2"))
        .build();
    let kms = aws_sdk_kms::Client::new(&sdk);
    let plain = new_key(&kms, &[]).await;
    let exempt = new_key(&kms, &[("trailguard:exempt", "true")]).await;
    let disabled = new_key(&kms, &[]).await;
    kms.disable_key()
        .key_id(disabled.rsplit('/').next().unwrap())
        .send()
        .await
        .unwrap();
    assert!(!rotation(&kms, &plain).await && !rotation(&kms, &exempt).await);

    let mut dry = deps(&sdk, DRY_RUN);
    dry.settings.region = Some("ap-southeast-2".into());
    let r = dry.sweep(None).await.unwrap();
    assert!(r.complete, "{r:?}");
    assert!(r.count("dry_run") >= 1, "{r:?}");
    assert!(!rotation(&kms, &plain).await);

    let mut d = deps(&sdk, POLICY);
    d.settings.region = Some("ap-southeast-2".into());
    let r = d.sweep(None).await.unwrap();
    assert!(r.complete, "{r:?}");
    assert!(
        r.findings.iter().any(|f| f.resource == plain),
        "{:?}",
        r.findings
    );
    assert!(rotation(&kms, &plain).await);
    assert!(
        !rotation(&kms, &exempt).await,
        "an exempt key is left as it is"
    );
    assert_eq!(state(&kms, &disabled).await, KeyState::Disabled);
    let again = d.sweep(None).await.unwrap();
    assert!(
        again.findings.iter().all(|f| f.resource != plain),
        "{:?}",
        again.findings
    );
}
