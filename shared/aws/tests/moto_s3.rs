//! revert-public-bucket against moto: a bucket's public access block, its ACL and its
//! policy; and restore-account-guardrails: the account's public access block. Each test sets the bucket up, makes the attacker's call
//! through the SDK, builds the CloudTrail event from that call, runs the handler, and asserts
//! that exactly what the call opened is gone and everything else is as it was; then it
//! redelivers the event (already done), and checks dry-run and the exemption tag.
//!
//! moto 5.2.5 keeps S3 public access blocks, ACLs, policies and tags, and S3 Control's
//! account block. The SDK puts S3 Control's account id in the host name
//! (`123456789012.s3-control...`), which a loopback endpoint cannot resolve: the tests' S3
//! Control client is given moto's address as it is (moto routes `/v20180820/` paths to S3
//! Control).

mod common;
mod moto_control;

use aws_sdk_s3::types::{
    AccessControlPolicy, Grant, Grantee, Owner, Permission, PublicAccessBlockConfiguration, Tag,
    Tagging, Type,
};
use common::*;
use moto_control::control;
use serde_json::{json, Value};
use trailguard_aws::s3::S3;
use trailguard_aws::{Deps, Home, Notifier, Sdk};

const OUTSIDER: &str = "999988887777";
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";
/// Another account's canonical user id, granted READ by name: it stays.
const PARTNER_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// One test at a time: the sweep lists every bucket and the account's block is one.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

type BucketDeps = Deps<
    Home<
        Sdk<
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::org::Organization,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            S3,
        >,
    >,
    Notifier,
>;

fn deps(sdk: &aws_config::SdkConfig, policy: &str) -> BucketDeps {
    let clients = Sdk::none().with_organizations(sdk).with_s3(sdk);
    deps_with(sdk, "revert-public-bucket", policy, clients)
}

type AccountDeps = Deps<
    Home<
        Sdk<
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            aws_sdk_s3control::Client,
            trailguard_aws::Unwired,
            aws_sdk_guardduty::Client,
        >,
    >,
    Notifier,
>;

/// restore-account-guardrails, wired as its main.rs wires it (S3 Control on moto's address).
fn account_deps(sdk: &aws_config::SdkConfig, policy: &str) -> AccountDeps {
    let mut clients = Sdk::none().with_s3control(sdk).with_guardduty(sdk);
    clients.s3control = control(sdk);
    deps_with(sdk, "restore-account-guardrails", policy, clients)
}

/// `trailguard undo` of a report, with S3 Control on moto's address as it is.
async fn account_undo(sdk: &aws_config::SdkConfig, report: &Value) -> Value {
    let plan = trailguard_rules::undo::plan(report).expect("a report trailguard undo reads");
    let mut port = trailguard_aws::undo::SdkUndo::new(sdk);
    port.s3control = control(sdk);
    serde_json::to_value(trailguard_aws::undo::undo(&port, &plan, false).await).unwrap()
}

const POLICY: &str = r#"{"trusted_accounts": ["444455556666"]}"#;
const DRY_RUN: &str =
    r#"{"trusted_accounts": ["444455556666"], "mode": {"public_bucket": "dry-run"}}"#;
const ACCOUNT_DRY_RUN: &str = r#"{"mode": {"account_guardrails": "dry-run"}}"#;

async fn run<C: trailguard_aws::Clients>(d: &Deps<Home<C>, Notifier>, event: Value) -> Value {
    process(d, event).await.unwrap()
}

fn outcome(r: &Value) -> &str {
    r["actions"][0]["outcome"].as_str().unwrap_or("none")
}

fn undo(r: &Value) -> String {
    r["actions"][0]["undo"]["command"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn new_bucket(s3: &aws_sdk_s3::Client) -> String {
    let name = unique("tg-bucket").to_lowercase();
    s3.create_bucket().bucket(&name).send().await.unwrap();
    name
}

async fn tag_exempt(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            Tagging::builder()
                .tag_set(
                    Tag::builder()
                        .key("trailguard:exempt")
                        .value("true")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

fn pab(flags: [bool; 4]) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(flags[0])
        .ignore_public_acls(flags[1])
        .block_public_policy(flags[2])
        .restrict_public_buckets(flags[3])
        .build()
}

fn pab_json(flags: [bool; 4]) -> Value {
    json!({
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
        "BlockPublicAcls": flags[0], "IgnorePublicAcls": flags[1],
        "BlockPublicPolicy": flags[2], "RestrictPublicBuckets": flags[3]
    })
}

/// A bucket's block as four switches (None: none).
async fn bucket_block(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<[bool; 4]> {
    let out = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .ok()?;
    let c = out.public_access_block_configuration()?;
    Some([
        c.block_public_acls() == Some(true),
        c.ignore_public_acls() == Some(true),
        c.block_public_policy() == Some(true),
        c.restrict_public_buckets() == Some(true),
    ])
}

async fn account_block(c: &aws_sdk_s3control::Client) -> Option<[bool; 4]> {
    let out = c
        .get_public_access_block()
        .account_id(ACCOUNT)
        .send()
        .await
        .ok()?;
    let c = out.public_access_block_configuration()?;
    Some([
        c.block_public_acls() == Some(true),
        c.ignore_public_acls() == Some(true),
        c.block_public_policy() == Some(true),
        c.restrict_public_buckets() == Some(true),
    ])
}

fn bucket_event(template: &str, bucket: &str, mut request: Value) -> Value {
    request["bucketName"] = json!(bucket);
    request["Host"] = json!(format!("{bucket}.s3.us-east-1.amazonaws.com"));
    let mut ev = cloudtrail_event(template, request, Value::Null);
    ev["detail"]["resources"][0]["ARN"] = json!(format!("arn:aws:s3:::{bucket}"));
    ev
}

// ---- a bucket's public access block ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_bucket_block_switched_off_is_switched_back_on() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let bucket = new_bucket(&s3).await;
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(pab([true; 4]))
        .send()
        .await
        .unwrap();
    // The attacker switches off the two policy switches.
    let off = [true, true, false, false];
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(pab(off))
        .send()
        .await
        .unwrap();
    let event = bucket_event(
        "aws.s3-PutBucketPublicAccessBlock-flags-off.json",
        &bucket,
        json!({"publicAccessBlock": "", "PublicAccessBlockConfiguration": pab_json(off)}),
    );
    let d = deps(&sdk, POLICY);
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(bucket_block(&s3, &bucket).await, Some([true; 4]));
    // The undo puts back the block as the attacker left it.
    let u = undo(&r);
    assert!(
        u.contains("aws s3api put-public-access-block")
            && u.contains(r#""BlockPublicPolicy":false"#)
            && u.contains(r#""BlockPublicAcls":true"#),
        "{u}"
    );
    for _ in 0..3 {
        let again = run(&d, event.clone()).await;
        assert_eq!(outcome(&again), "already_done", "{again}");
    }
    assert_eq!(bucket_block(&s3, &bucket).await, Some([true; 4]));

    // Deleted: put back whole, and the undo deletes it again.
    s3.delete_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(bucket_block(&s3, &bucket).await, None);
    let event = bucket_event(
        "aws.s3-DeleteBucketPublicAccessBlock-remediate.json",
        &bucket,
        json!({"publicAccessBlock": ""}),
    );
    let r = run(&d, event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(bucket_block(&s3, &bucket).await, Some([true; 4]));
    assert!(
        undo(&r).ends_with(&format!(
            "aws s3api delete-public-access-block --bucket {bucket} --region us-east-1"
        )),
        "{r}"
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_bucket_block_keeps_the_switches_the_policy_does_not_enforce_and_dry_run_or_exempt_change_nothing(
) {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let off = [false, true, false, false];
    let attack = |bucket: String| {
        let s3 = s3.clone();
        async move {
            s3.put_public_access_block()
                .bucket(&bucket)
                .public_access_block_configuration(pab(off))
                .send()
                .await
                .unwrap();
            bucket_event(
                "aws.s3-PutBucketPublicAccessBlock-flags-off.json",
                &bucket,
                json!({"publicAccessBlock": "", "PublicAccessBlockConfiguration": pab_json(off)}),
            )
        }
    };
    // Only BlockPublicPolicy enforced: IgnorePublicAcls stays on, the others stay off.
    let bucket = new_bucket(&s3).await;
    let event = attack(bucket.clone()).await;
    let d = deps(
        &sdk,
        r#"{"s3": {"public_access_block": ["BlockPublicPolicy"]}}"#,
    );
    let r = run(&d, event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(
        bucket_block(&s3, &bucket).await,
        Some([false, true, true, false])
    );
    // Dry-run: planned, nothing changed.
    let bucket = new_bucket(&s3).await;
    let event = attack(bucket.clone()).await;
    let r = run(&deps(&sdk, DRY_RUN), event).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(bucket_block(&s3, &bucket).await, Some(off));
    // Exempt: told, nothing changed.
    let bucket = new_bucket(&s3).await;
    tag_exempt(&s3, &bucket).await;
    let event = attack(bucket.clone()).await;
    let r = run(&deps(&sdk, POLICY), event).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(r["actions"], json!([]), "{r}");
    assert_eq!(bucket_block(&s3, &bucket).await, Some(off));
}

// ---- the account's public access block ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_account_block_switched_off_is_switched_back_on() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let c = control(&sdk);
    let off = [true, false, true, false];
    let attack = || async {
        c.put_public_access_block()
            .account_id(ACCOUNT)
            .public_access_block_configuration(
                aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(off[0])
                    .ignore_public_acls(off[1])
                    .block_public_policy(off[2])
                    .restrict_public_buckets(off[3])
                    .build(),
            )
            .send()
            .await
            .unwrap();
        cloudtrail_event(
            "aws.s3-PutAccountPublicAccessBlock-flags-off.json",
            json!({"PublicAccessBlockConfiguration": pab_json(off),
                   "Host": format!("{ACCOUNT}.s3-control.us-east-1.amazonaws.com")}),
            Value::Null,
        )
    };
    // revert-public-bucket is not the account block's function: it changes nothing.
    let event = attack().await;
    let r = run(&deps(&sdk, POLICY), event).await;
    assert_ne!(outcome(&r), "done", "{r}");
    assert_eq!(account_block(&c).await, Some(off));

    // Dry-run first: nothing changes.
    let event = attack().await;
    let r = run(&account_deps(&sdk, ACCOUNT_DRY_RUN), event).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(account_block(&c).await, Some(off));

    let event = attack().await;
    let d = account_deps(&sdk, POLICY);
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(account_block(&c).await, Some([true; 4]));
    let u = undo(&r);
    assert!(
        u.contains(&format!(
            "aws s3control put-public-access-block --account-id {ACCOUNT}"
        )) && u.contains(r#""IgnorePublicAcls":false"#),
        "{u}"
    );
    let again = run(&d, event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    // trailguard undo: the account's block back to the attacker's switches; then nothing
    // to undo; then fixed again for what follows.
    let undone = account_undo(&sdk, &r).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(account_block(&c).await, Some(off));
    let undone = account_undo(&sdk, &r).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    let r = run(&d, attack().await).await;
    assert_eq!(outcome(&r), "done", "{r}");

    // Deleted: put back.
    c.delete_public_access_block()
        .account_id(ACCOUNT)
        .send()
        .await
        .unwrap();
    assert_eq!(account_block(&c).await, None);
    let event = cloudtrail_event(
        "aws.s3-DeleteAccountPublicAccessBlock-remediate.json",
        json!({"Host": format!("{ACCOUNT}.s3-control.us-east-1.amazonaws.com")}),
        Value::Null,
    );
    let r = run(&d, event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(account_block(&c).await, Some([true; 4]));
    // Its undo deletes the block again: the account had none.
    let undone = account_undo(&sdk, &r).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    // ... which leaves the account as the other tests expect it: no block.
    c.delete_public_access_block()
        .account_id(ACCOUNT)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_sweep_puts_back_an_account_block_switched_off_before_trailguard() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let c = control(&sdk);
    // Two switches the policy does not enforce stay as they are; the enforced ones go on.
    c.put_public_access_block()
        .account_id(ACCOUNT)
        .public_access_block_configuration(
            aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(false)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let policy = r#"{"s3": {"public_access_block": ["BlockPublicAcls", "BlockPublicPolicy"]}}"#;
    let d = account_deps(&sdk, policy);
    let r = d.sweep(None).await.unwrap();
    assert!(r.complete, "{r:?}");
    assert_eq!(account_block(&c).await, Some([true, true, true, false]));
    let again = d.sweep(None).await.unwrap();
    assert!(
        again.findings.iter().all(|f| f.resource != ACCOUNT),
        "{again:?}"
    );
    c.delete_public_access_block()
        .account_id(ACCOUNT)
        .send()
        .await
        .unwrap();
}

// ---- a bucket's ACL ----

fn group(uri: &str, p: Permission) -> Grant {
    Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::Group)
                .uri(uri)
                .build()
                .unwrap(),
        )
        .permission(p)
        .build()
}

fn user(id: &str, p: Permission) -> Grant {
    Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::CanonicalUser)
                .id(id)
                .build()
                .unwrap(),
        )
        .permission(p)
        .build()
}

/// The ACL's grants as (grantee, permission), sorted.
async fn grants(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String)> {
    let out = s3.get_bucket_acl().bucket(bucket).send().await.unwrap();
    let mut v: Vec<(String, String)> = out
        .grants()
        .iter()
        .map(|g| {
            let who = g
                .grantee()
                .and_then(|t| t.uri().or(t.id()))
                .unwrap_or_default()
                .to_string();
            (
                who,
                g.permission()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The attacker's PutBucketAcl: the owner, the log-delivery group and a partner keep their
/// grants; everyone gets READ. Returns the event CloudTrail writes.
async fn open_acl(s3: &aws_sdk_s3::Client, bucket: &str) -> Value {
    let owner = s3
        .get_bucket_acl()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .owner()
        .and_then(|o| o.id())
        .unwrap()
        .to_string();
    let acl = AccessControlPolicy::builder()
        .owner(Owner::builder().id(&owner).build())
        .grants(user(&owner, Permission::FullControl))
        .grants(group(LOG_DELIVERY, Permission::Write))
        .grants(user(PARTNER_ID, Permission::Read))
        .grants(group(ALL_USERS, Permission::Read))
        .build();
    s3.put_bucket_acl()
        .bucket(bucket)
        .access_control_policy(acl)
        .send()
        .await
        .unwrap();
    let grant = |kind: &str, key: &str, who: &str, p: &str| json!({"Grantee": {"xsi:type": kind, "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance", key: who}, "Permission": p});
    bucket_event(
        "aws.s3-PutBucketAcl-all-users-read.json",
        bucket,
        json!({"acl": "", "AccessControlPolicy": {
            "AccessControlList": {"Grant": [
                grant("CanonicalUser", "ID", &owner, "FULL_CONTROL"),
                grant("Group", "URI", LOG_DELIVERY, "WRITE"),
                grant("CanonicalUser", "ID", PARTNER_ID, "READ"),
                grant("Group", "URI", ALL_USERS, "READ"),
            ]},
            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
            "Owner": {"ID": owner}
        }}),
    )
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_public_acl_grant_is_taken_out_and_the_other_grants_stay() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let bucket = new_bucket(&s3).await;
    let event = open_acl(&s3, &bucket).await;
    let opened = grants(&s3, &bucket).await;
    assert!(opened.iter().any(|(g, _)| g == ALL_USERS), "{opened:?}");
    let d = deps(&sdk, POLICY);
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let after = grants(&s3, &bucket).await;
    let expected: Vec<(String, String)> = opened
        .iter()
        .filter(|(g, _)| g != ALL_USERS)
        .cloned()
        .collect();
    assert_eq!(after, expected);
    assert_eq!(after.len(), 3, "{after:?}");
    // The undo writes back the ACL as it was, the public grant included.
    let u = undo(&r);
    assert!(
        u.contains("aws s3api put-bucket-acl --bucket")
            && u.contains("--access-control-policy")
            && u.contains(ALL_USERS)
            && u.contains(PARTNER_ID),
        "{u}"
    );
    let again = run(&d, event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert_eq!(grants(&s3, &bucket).await, expected);

    // trailguard undo: the ACL exactly as it was, once; then, changed since, refused.
    assert_eq!(
        r["actions"][0]["reversal"]["call"], "restore_bucket_acl",
        "{r}"
    );
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(grants(&s3, &bucket).await, opened);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    s3.put_bucket_acl()
        .bucket(&bucket)
        .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    let changed = grants(&s3, &bucket).await;
    let refused = common::undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("changed since")),
        "{refused}"
    );
    assert_eq!(grants(&s3, &bucket).await, changed);

    // Deleted, and a bucket of the same name made with the ACL trailguard left: another
    // bucket, whose ACL undo does not open.
    let bucket = new_bucket(&s3).await;
    let r = run(&d, open_acl(&s3, &bucket).await).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let left = grants(&s3, &bucket).await;
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
    // Bucket times are in seconds: the new one is made a second later.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let owner = s3
        .get_bucket_acl()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .owner()
        .and_then(|o| o.id())
        .unwrap()
        .to_string();
    s3.put_bucket_acl()
        .bucket(&bucket)
        .access_control_policy(
            AccessControlPolicy::builder()
                .owner(Owner::builder().id(&owner).build())
                .grants(user(&owner, Permission::FullControl))
                .grants(group(LOG_DELIVERY, Permission::Write))
                .grants(user(PARTNER_ID, Permission::Read))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(grants(&s3, &bucket).await, left);
    let refused = common::undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("after the remediation: made again")),
        "{refused}"
    );
    assert_eq!(grants(&s3, &bucket).await, left);

    // Dry-run, then exempt: the public grant stays.
    let bucket = new_bucket(&s3).await;
    let event = open_acl(&s3, &bucket).await;
    let before = grants(&s3, &bucket).await;
    let r = run(&deps(&sdk, DRY_RUN), event).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(grants(&s3, &bucket).await, before);
    tag_exempt(&s3, &bucket).await;
    let event = open_acl(&s3, &bucket).await;
    let r = run(&d, event).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(grants(&s3, &bucket).await, before);
}

// ---- a bucket's policy ----

fn statement(sid: &str, principal: Value, effect: &str, bucket: &str) -> Value {
    json!({"Sid": sid, "Effect": effect, "Principal": principal, "Action": "s3:GetObject",
           "Resource": format!("arn:aws:s3:::{bucket}/*")})
}

async fn bucket_policy(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<Value> {
    let p = s3.get_bucket_policy().bucket(bucket).send().await.ok()?;
    serde_json::from_str(p.policy()?).ok()
}

async fn put_policy(s3: &aws_sdk_s3::Client, bucket: &str, doc: &Value) -> Value {
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(doc.to_string())
        .send()
        .await
        .unwrap();
    // CloudTrail writes the policy as an object.
    bucket_event(
        "aws.s3-PutBucketPolicy-outside-account.json",
        bucket,
        json!({"bucketPolicy": doc, "policy": [""]}),
    )
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_bucket_policy_loses_exactly_the_outside_principals() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let bucket = new_bucket(&s3).await;
    let own = statement(
        "App",
        json!({"AWS": format!("arn:aws:iam::{ACCOUNT}:role/app")}),
        "Allow",
        &bucket,
    );
    let deny = json!({"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
    let service = json!({"Sid": "Logs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{bucket}/*"),
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}});
    let doc = json!({"Version": "2012-10-17", "Statement": [
        statement("Public", json!("*"), "Allow", &bucket),
        own.clone(),
        statement("Outsider", json!({"AWS": format!("arn:aws:iam::{OUTSIDER}:root")}), "Allow", &bucket),
        deny.clone(),
        service.clone(),
    ]});
    let event = put_policy(&s3, &bucket, &doc).await;
    let d = deps(&sdk, POLICY);
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let after = bucket_policy(&s3, &bucket).await.expect("a policy is left");
    assert_eq!(after["Statement"], json!([own, deny, service]), "{after}");
    // The undo writes back the policy as the attacker left it.
    let u = undo(&r);
    assert!(
        u.contains("aws s3api put-bucket-policy --bucket") && u.contains(OUTSIDER),
        "{u}"
    );
    let again = run(&d, event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert_eq!(
        bucket_policy(&s3, &bucket).await.unwrap()["Statement"],
        json!([own, deny, service])
    );
    // trailguard undo: the policy exactly as the attacker left it; then nothing to undo.
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(bucket_policy(&s3, &bucket).await, Some(doc.clone()));
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");

    // Nothing left: the policy is deleted.
    let doc = json!({"Version": "2012-10-17", "Statement": [statement("Public", json!("*"), "Allow", &bucket)]});
    let event = put_policy(&s3, &bucket, &doc).await;
    let r = run(&d, event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(bucket_policy(&s3, &bucket).await, None);
    // Its undo refuses: a bucket of that name made since would have no policy either.
    let undone = common::undo(&sdk, &r, false).await;
    assert!(
        undone["refused"]
            .as_str()
            .is_some_and(|w| w.contains("deleted its policy")),
        "{undone}"
    );
    assert_eq!(bucket_policy(&s3, &bucket).await, None);

    // Dry-run and exempt: the policy stays as the attacker wrote it.
    let event = put_policy(&s3, &bucket, &doc).await;
    let r = run(&deps(&sdk, DRY_RUN), event).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(
        bucket_policy(&s3, &bucket).await.unwrap()["Statement"],
        doc["Statement"]
    );
    tag_exempt(&s3, &bucket).await;
    let r = run(&d, put_policy(&s3, &bucket, &doc).await).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(
        bucket_policy(&s3, &bucket).await.unwrap()["Statement"],
        doc["Statement"]
    );
}

// ---- the sweep ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_sweep_closes_a_bucket_opened_before_trailguard_and_leaves_an_exempt_one() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let c = control(&sdk);
    let account_before = account_block(&c).await;
    let open = new_bucket(&s3).await;
    let _ = open_acl(&s3, &open).await;
    let doc = json!({"Version": "2012-10-17", "Statement": [statement("Public", json!("*"), "Allow", &open)]});
    let _ = put_policy(&s3, &open, &doc).await;
    let exempt = new_bucket(&s3).await;
    let _ = open_acl(&s3, &exempt).await;
    tag_exempt(&s3, &exempt).await;
    let exempt_before = grants(&s3, &exempt).await;

    let d = deps(&sdk, POLICY);
    let r = d.sweep(None).await.unwrap();
    assert!(r.complete, "{r:?}");
    assert!(grants(&s3, &open).await.iter().all(|(g, _)| g != ALL_USERS));
    assert_eq!(bucket_policy(&s3, &open).await, None);
    assert_eq!(bucket_block(&s3, &open).await, Some([true; 4]));
    // The account's block is restore-account-guardrails's: this sweep leaves it.
    assert_eq!(account_block(&c).await, account_before);
    assert_eq!(grants(&s3, &exempt).await, exempt_before);
    assert_eq!(bucket_block(&s3, &exempt).await, None);
    // A second run finds nothing left to do on them.
    let again = d.sweep(None).await.unwrap();
    assert!(
        !again
            .findings
            .iter()
            .any(|f| f.resource == open || f.resource == exempt),
        "{again:?}"
    );
}

// ---- one object's ACL (a data event) ----

async fn object_grants(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<(String, String)> {
    let out = s3
        .get_object_acl()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, String)> = out
        .grants()
        .iter()
        .map(|g| {
            let who = g
                .grantee()
                .and_then(|t| t.uri().or(t.id()))
                .unwrap_or_default()
                .to_string();
            (
                who,
                g.permission()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

/// An object made public with the public-read canned ACL, and the data event CloudTrail
/// writes for it.
async fn public_object(s3: &aws_sdk_s3::Client, bucket: &str) -> (String, Value) {
    let key = "exports/q3 customers.csv".to_string();
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"id,name\n",
        ))
        .send()
        .await
        .unwrap();
    s3.put_object_acl()
        .bucket(bucket)
        .key(&key)
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let mut event = bucket_event(
        "aws.s3-PutObjectAcl-public-read.json",
        bucket,
        json!({"acl": "", "key": key, "x-amz-acl": ["public-read"]}),
    );
    event["detail"]["resources"] = json!([
        {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
        {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}
    ]);
    (key, event)
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_public_object_acl_grant_is_taken_out_and_the_owner_keeps_its_grant() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let bucket = new_bucket(&s3).await;
    let (key, event) = public_object(&s3, &bucket).await;
    let opened = object_grants(&s3, &bucket, &key).await;
    assert!(opened.iter().any(|(g, _)| g == ALL_USERS), "{opened:?}");
    let d = deps(&sdk, POLICY);
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let expected: Vec<(String, String)> = opened
        .iter()
        .filter(|(g, _)| g != ALL_USERS)
        .cloned()
        .collect();
    assert!(!expected.is_empty(), "the owner's grant: {opened:?}");
    assert_eq!(object_grants(&s3, &bucket, &key).await, expected);
    let u = undo(&r);
    assert!(
        u.contains("aws s3api put-object-acl --bucket")
            && u.contains("--key 'exports/q3 customers.csv'")
            && u.contains(ALL_USERS),
        "{u}"
    );
    let again = run(&d, event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert_eq!(object_grants(&s3, &bucket, &key).await, expected);

    // trailguard undo. moto 5.2.5's PutObjectAcl reads only headers (a canned ACL), not the
    // ACL in the body the undo writes: the write is checked on S3's own answers in
    // canned_http.rs; here the look before it. As trailguard left it: it would run.
    assert_eq!(
        r["actions"][0]["reversal"]["call"], "restore_object_acl",
        "{r}"
    );
    let planned = common::undo(&sdk, &r, true).await;
    assert_eq!(undo_outcomes(&planned), ["would_run"], "{planned}");
    assert_eq!(object_grants(&s3, &bucket, &key).await, expected);
    // Public again by hand: as before, nothing to undo.
    s3.put_object_acl()
        .bucket(&bucket)
        .key(&key)
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    assert_eq!(object_grants(&s3, &bucket, &key).await, opened);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    // Taken out again, then the object written anew (its ACL the owner's alone, as
    // trailguard left the old one): another object, whose ACL undo does not open.
    let (_, event) = public_object(&s3, &bucket).await;
    let r = run(&d, event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    // Object times are in seconds: the new one is written a second later.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"id,name\n1,x\n",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(object_grants(&s3, &bucket, &key).await, expected);
    let refused = common::undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("written after the remediation")),
        "{refused}"
    );
    assert_eq!(object_grants(&s3, &bucket, &key).await, expected);

    // A bucket that keeps versions, and a remediation that named none: the version changed
    // is not known to be the latest, so undo does not open it.
    let versioned = new_bucket(&s3).await;
    s3.put_bucket_versioning()
        .bucket(&versioned)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (_, event) = public_object(&s3, &versioned).await;
    let r = run(&d, event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let refused = common::undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("keeps versions")),
        "{refused}"
    );

    // Dry-run, then exempt: the object stays public.
    let bucket = new_bucket(&s3).await;
    let (key, event) = public_object(&s3, &bucket).await;
    let before = object_grants(&s3, &bucket, &key).await;
    let r = run(&deps(&sdk, DRY_RUN), event.clone()).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(object_grants(&s3, &bucket, &key).await, before);
    tag_exempt(&s3, &bucket).await;
    let r = run(&d, event).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(object_grants(&s3, &bucket, &key).await, before);
}

// ---- an exemption given by anyone but the tag admins ----

async fn bucket_tags(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = match s3.get_bucket_tagging().bucket(bucket).send().await
    {
        Ok(o) => o
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(_) => vec![],
    };
    tags.sort();
    tags
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_exemption_from_a_non_admin_is_taken_back_and_the_bucket_policy_is_then_restricted() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let bucket = new_bucket(&s3).await;
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    // The attacker's call: the bucket's tags with the exemption added.
    s3.put_bucket_tagging()
        .bucket(&bucket)
        .tagging(
            Tagging::builder()
                .tag_set(tag("team", "analytics"))
                .tag_set(tag("trailguard:exempt", "true"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let event = bucket_event(
        "aws.s3-PutBucketTagging-exempt-by-outsider.json",
        &bucket,
        json!({"tagging": "", "Tagging": {"TagSet": {"Tag": [
            {"Key": "team", "Value": "analytics"},
            {"Key": "trailguard:exempt", "Value": "true"}
        ]}}}),
    );
    let tagged = bucket_tags(&s3, &bucket).await;
    let r = run(&deps(&sdk, DRY_RUN), event.clone()).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(bucket_tags(&s3, &bucket).await, tagged);

    let d = deps(&sdk, POLICY);
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(
        bucket_tags(&s3, &bucket).await,
        vec![("team".to_string(), "analytics".to_string())]
    );
    let u = undo(&r);
    assert!(
        u.contains(&format!("aws s3api put-bucket-tagging --bucket {bucket}"))
            && u.contains("trailguard:exempt"),
        "{u}"
    );
    let again = run(&d, event.clone()).await;
    assert_eq!(outcome(&again), "already_done", "{again}");

    // trailguard undo: the tag set back as it was, then nothing to undo.
    assert_eq!(
        r["actions"][0]["reversal"]["call"], "restore_bucket_tagging",
        "{r}"
    );
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(bucket_tags(&s3, &bucket).await, tagged);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    // The same exemption given again (another event): taken off again.
    let mut given_again = event;
    given_again["id"] = json!("exempt-again");
    assert_eq!(outcome(&run(&d, given_again).await), "done");
    assert_eq!(
        bucket_tags(&s3, &bucket).await,
        vec![("team".to_string(), "analytics".to_string())]
    );
    // Someone tags the bucket since: an undo of that remediation is refused.
    s3.put_bucket_tagging()
        .bucket(&bucket)
        .tagging(
            Tagging::builder()
                .tag_set(tag("team", "search"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["refused"], "{undone}");
    s3.put_bucket_tagging()
        .bucket(&bucket)
        .tagging(
            Tagging::builder()
                .tag_set(tag("team", "analytics"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // No longer exempt: the public policy the attacker writes next is taken back.
    let doc = json!({"Version": "2012-10-17", "Statement": [statement("Public", json!("*"), "Allow", &bucket)]});
    let event = put_policy(&s3, &bucket, &doc).await;
    let r = run(&d, event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(bucket_policy(&s3, &bucket).await, None);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn undo_puts_the_bucket_block_back_as_it_was_or_deletes_it_and_refuses_a_block_changed_since()
{
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let d = deps(&sdk, POLICY);
    let bucket = new_bucket(&s3).await;
    // Switched partly off by someone; trailguard switches it back on; the undo puts back
    // exactly the partial block.
    let off = [true, true, false, false];
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(pab(off))
        .send()
        .await
        .unwrap();
    let event = bucket_event(
        "aws.s3-PutBucketPublicAccessBlock-flags-off.json",
        &bucket,
        json!({"publicAccessBlock": "", "PublicAccessBlockConfiguration": pab_json(off)}),
    );
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(bucket_block(&s3, &bucket).await, Some([true; 4]));
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(bucket_block(&s3, &bucket).await, Some(off));
    assert_eq!(
        undo_outcomes(&common::undo(&sdk, &r, false).await),
        ["already_undone"]
    );

    // Deleted by someone; trailguard puts it back whole; the undo deletes it again.
    s3.delete_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let deleted = bucket_event(
        "aws.s3-DeleteBucketPublicAccessBlock-remediate.json",
        &bucket,
        json!({"publicAccessBlock": ""}),
    );
    let r = run(&d, deleted.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(bucket_block(&s3, &bucket).await, None);

    // Put back again, then someone switches one switch off by hand: refused, and the block
    // stays as they left it.
    let r = run(&d, deleted).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let by_hand = [true, false, true, true];
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(pab(by_hand))
        .send()
        .await
        .unwrap();
    let refused = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&refused), ["refused"], "{refused}");
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("trailguard left")),
        "{refused}"
    );
    assert_eq!(bucket_block(&s3, &bucket).await, Some(by_hand));
}
