//! The attack catalog's contain rows against moto: the resource is set up, the attacker's
//! call is made through the SDK, the CloudTrail event is built from that call, and the
//! handler runs. Each test asserts that exactly what the call added for outsiders is gone and
//! everything else is as it was, then redelivers the event, and checks dry-run and exemption.

mod common;

use common::*;
use serde_json::{json, Value};
use trailguard_aws::Sdk;

const OUTSIDER: &str = "999988887777";
const VENDOR: &str = "444455556666";

/// The policy of these tests: a vendor and the organization are trusted.
fn policy(org: &str, extra: Value) -> String {
    let mut p = json!({"trusted_accounts": [VENDOR], "organization_id": org});
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    p.to_string()
}

fn sharing(sdk: &aws_config::SdkConfig, policy: &str) -> impl Run {
    deps_with(
        sdk,
        "revert-resource-sharing",
        policy,
        Sdk::none()
            .with_ec2(sdk)
            .with_rds(sdk)
            .with_lambda(sdk)
            .with_organizations(sdk),
    )
}

/// Running a function's handler, whatever clients it wires.
trait Run {
    fn run(&self, event: Value) -> impl std::future::Future<Output = Value>;
}

impl<C: trailguard_aws::Clients> Run
    for trailguard_aws::Deps<trailguard_aws::Home<C>, trailguard_aws::Notifier>
{
    async fn run(&self, event: Value) -> Value {
        process(self, event).await.unwrap()
    }
}

fn iam_guard(sdk: &aws_config::SdkConfig, policy: &str) -> impl Run {
    deps_with(
        sdk,
        "guard-iam",
        policy,
        Sdk::none().with_iam(sdk).with_organizations(sdk),
    )
}

fn outcome(r: &Value) -> &str {
    r["actions"][0]["outcome"].as_str().unwrap_or("none")
}

// ---- EC2 images ----

async fn register_image(ec2: &aws_sdk_ec2::Client) -> String {
    ec2.register_image()
        .name(unique("golden"))
        .root_device_name("/dev/sda1")
        .block_device_mappings(
            aws_sdk_ec2::types::BlockDeviceMapping::builder()
                .device_name("/dev/sda1")
                .ebs(
                    aws_sdk_ec2::types::EbsBlockDevice::builder()
                        .volume_size(8)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .image_id()
        .unwrap()
        .to_string()
}

async fn share_image(ec2: &aws_sdk_ec2::Client, image: &str, accounts: &[&str], public: bool) {
    use aws_sdk_ec2::types::{LaunchPermission, LaunchPermissionModifications, PermissionGroup};
    let mut add: Vec<LaunchPermission> = accounts
        .iter()
        .map(|a| LaunchPermission::builder().user_id(*a).build())
        .collect();
    if public {
        add.push(
            LaunchPermission::builder()
                .group(PermissionGroup::All)
                .build(),
        );
    }
    ec2.modify_image_attribute()
        .image_id(image)
        .launch_permission(
            LaunchPermissionModifications::builder()
                .set_add(Some(add))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The image's launch permissions, sorted: account ids, and `all` for public.
async fn image_shares(ec2: &aws_sdk_ec2::Client, image: &str) -> Vec<String> {
    let out = ec2
        .describe_image_attribute()
        .image_id(image)
        .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
        .send()
        .await
        .unwrap();
    let mut v: Vec<String> = out
        .launch_permissions()
        .iter()
        .map(|p| {
            p.user_id()
                .map(String::from)
                .or(p.group().map(|g| g.as_str().to_string()))
                .unwrap_or_default()
        })
        .collect();
    v.sort();
    v
}

fn image_event(image: &str, accounts: &[&str], public: bool) -> Value {
    let mut items: Vec<Value> = accounts.iter().map(|a| json!({"userId": a})).collect();
    if public {
        items.push(json!({"group": "all"}));
    }
    cloudtrail_event(
        "aws.ec2-ModifyImageAttribute-shared-outside.json",
        json!({"imageId": image, "launchPermission": {"add": {"items": items}},
               "attributeType": "launchPermission"}),
        json!({"_return": true}),
    )
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_image_shared_outside_keeps_only_its_trusted_shares() {
    let sdk = sdk().await;
    let (org, member) = organization_with_member(&sdk).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let image = register_image(&ec2).await;
    // The vendor had it before; the attacker adds an outsider, an account of the
    // organization and everyone.
    share_image(&ec2, &image, &[VENDOR], false).await;
    share_image(&ec2, &image, &[OUTSIDER, &member], true).await;
    let event = image_event(&image, &[OUTSIDER, &member, VENDOR], true);
    let deps = sharing(&sdk, &policy(&org, json!({})));

    let r = deps.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(r["actions"][0]["accounts"], json!([OUTSIDER]), "{r}");
    let mut kept = vec![member.clone(), VENDOR.to_string()];
    kept.sort();
    assert_eq!(image_shares(&ec2, &image).await, kept);

    // Redelivered: nothing left to take back, no error, the same state.
    for _ in 0..2 {
        let again = deps.run(event.clone()).await;
        assert_eq!(outcome(&again), "already_done", "{again}");
        assert_eq!(image_shares(&ec2, &image).await, kept);
    }

    // trailguard undo: the outsider and everyone may launch it again, as the attacker left
    // it; then nothing to undo.
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    let shared = as_the_attacker_left_it(&member);
    assert_eq!(image_shares(&ec2, &image).await, shared);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_share_in_dry_run_or_by_an_exempt_principal_stays() {
    let sdk = sdk().await;
    let (org, _) = organization_with_member(&sdk).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let image = register_image(&ec2).await;
    share_image(&ec2, &image, &[OUTSIDER], false).await;
    let event = image_event(&image, &[OUTSIDER], false);

    let dry = sharing(
        &sdk,
        &policy(&org, json!({"mode": {"resource_sharing": "dry-run"}})),
    );
    let r = dry.run(event.clone()).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(image_shares(&ec2, &image).await, [OUTSIDER]);

    // The sample's caller is the SSO administrator role.
    let exempt = sharing(
        &sdk,
        &policy(
            &org,
            json!({"exempt_principals": ["arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_*"]}),
        ),
    );
    let r = exempt.run(event.clone()).await;
    assert_eq!(r["decision"], "ignore", "{r}");
    assert_eq!(image_shares(&ec2, &image).await, [OUTSIDER]);

    // Enforced, it goes.
    let r = sharing(&sdk, &policy(&org, json!({}))).run(event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert!(image_shares(&ec2, &image).await.is_empty());
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_organization_is_listed_once_per_container() {
    let sdk = sdk().await;
    let (org, member) = organization_with_member(&sdk).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let deps = sharing(&sdk, &policy(&org, json!({})));
    let image = register_image(&ec2).await;
    share_image(&ec2, &image, &[&member], false).await;
    let r = deps.run(image_event(&image, &[&member], false)).await;
    assert_eq!(r["decision"], "ignore", "{r}");

    // An account that joins after the listing counts as outside until the list is
    // refreshed (fifteen minutes): the container does not ask Organizations per event.
    let newcomer = create_member_account(&aws_sdk_organizations::Client::new(&sdk)).await;
    share_image(&ec2, &image, &[&newcomer], false).await;
    let r = deps.run(image_event(&image, &[&newcomer], false)).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(image_shares(&ec2, &image).await, vec![member]);

    // A new container lists again and keeps it.
    share_image(&ec2, &image, &[&newcomer], false).await;
    let fresh = sharing(&sdk, &policy(&org, json!({})));
    let r = fresh.run(image_event(&image, &[&newcomer], false)).await;
    assert_eq!(r["decision"], "ignore", "{r}");
}

// ---- EBS snapshots ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_snapshot_shared_outside_is_taken_back_exactly() {
    use aws_sdk_ec2::types::SnapshotAttributeName;
    let sdk = sdk().await;
    let (org, _) = organization_with_member(&sdk).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let volume = ec2
        .create_volume()
        .size(8)
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();
    let snapshot = ec2
        .create_snapshot()
        .volume_id(volume)
        .send()
        .await
        .unwrap()
        .snapshot_id()
        .unwrap()
        .to_string();
    // The attacker's call, in the flat form (the vendor's share was there before).
    let add = |users: &[&str], groups: &[&str]| {
        ec2.modify_snapshot_attribute()
            .snapshot_id(&snapshot)
            .attribute(SnapshotAttributeName::CreateVolumePermission)
            .operation_type(aws_sdk_ec2::types::OperationType::Add)
            .set_user_ids(Some(users.iter().map(|u| u.to_string()).collect()))
            .set_group_names(Some(groups.iter().map(|g| g.to_string()).collect()))
            .send()
    };
    add(&[VENDOR], &[]).await.unwrap();
    add(&[OUTSIDER], &["all"]).await.unwrap();
    assert_eq!(
        shares_of(&ec2, &snapshot).await,
        ["444455556666", "999988887777", "all"]
    );
    // The older flat form CloudTrail also records.
    let event = cloudtrail_event(
        "aws.ec2-ModifySnapshotAttribute-flat-form.json",
        json!({"snapshotId": snapshot, "attributeType": "CREATE_VOLUME_PERMISSION",
               "operationType": "add", "userId": [OUTSIDER], "userGroup": "all"}),
        Value::Null,
    );
    let deps = sharing(&sdk, &policy(&org, json!({})));
    let r = deps.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(shares_of(&ec2, &snapshot).await, [VENDOR]);
    let again = deps.run(event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert_eq!(shares_of(&ec2, &snapshot).await, [VENDOR]);

    // trailguard undo: shared again exactly as the attacker left it; then nothing to undo.
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(
        shares_of(&ec2, &snapshot).await,
        ["444455556666", "999988887777", "all"]
    );
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
}

/// A snapshot's create-volume permissions, sorted: account ids, and `all` for public.
async fn shares_of(ec2: &aws_sdk_ec2::Client, snapshot: &str) -> Vec<String> {
    let out = ec2
        .describe_snapshot_attribute()
        .snapshot_id(snapshot)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .unwrap();
    let mut v: Vec<String> = out
        .create_volume_permissions()
        .iter()
        .map(|p| {
            p.user_id()
                .map(String::from)
                .or(p.group().map(|g| g.as_str().to_string()))
                .unwrap_or_default()
        })
        .collect();
    v.sort();
    v
}

// ---- RDS snapshots ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn rds_snapshots_shared_outside_are_taken_back_exactly() {
    let sdk = sdk().await;
    let (org, member) = organization_with_member(&sdk).await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let db = unique("orders").to_lowercase();
    rds.create_db_instance()
        .db_instance_identifier(&db)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("app")
        .master_user_password("correct-horse-battery")
        .allocated_storage(20)
        .send()
        .await
        .unwrap();
    let snap = format!("{db}-final");
    rds.create_db_snapshot()
        .db_snapshot_identifier(&snap)
        .db_instance_identifier(&db)
        .send()
        .await
        .unwrap();
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier(&snap)
        .attribute_name("restore")
        .values_to_add(VENDOR)
        .send()
        .await
        .unwrap();
    // The attacker's call.
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier(&snap)
        .attribute_name("restore")
        .values_to_add(OUTSIDER)
        .values_to_add(&member)
        .values_to_add("all")
        .send()
        .await
        .unwrap();
    let restore = || async {
        let out = rds
            .describe_db_snapshot_attributes()
            .db_snapshot_identifier(&snap)
            .send()
            .await
            .unwrap();
        let mut v: Vec<String> = out
            .db_snapshot_attributes_result()
            .unwrap()
            .db_snapshot_attributes()
            .iter()
            .filter(|a| a.attribute_name() == Some("restore"))
            .flat_map(|a| a.attribute_values().to_vec())
            .collect();
        v.sort();
        v
    };
    let event = cloudtrail_event(
        "aws.rds-ModifyDBSnapshotAttribute-shared-outside.json",
        json!({"dBSnapshotIdentifier": snap, "attributeName": "restore",
               "valuesToAdd": [OUTSIDER, member, "all"]}),
        Value::Null,
    );
    let deps = sharing(&sdk, &policy(&org, json!({})));
    let r = deps.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let mut kept = vec![member.clone(), VENDOR.to_string()];
    kept.sort();
    assert_eq!(restore().await, kept);
    let again = deps.run(event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert_eq!(restore().await, kept);
    // trailguard undo: the outsider and everyone may restore it again, as the attacker left
    // it; then nothing to undo.
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    let shared = as_the_attacker_left_it(&member);
    assert_eq!(restore().await, shared);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    // Another snapshot under the same name, made after the remediation, holding whatever
    // it holds: the undo does not share it.
    rds.delete_db_snapshot()
        .db_snapshot_identifier(&snap)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    rds.create_db_snapshot()
        .db_snapshot_identifier(&snap)
        .db_instance_identifier(&db)
        .send()
        .await
        .unwrap();
    let undone = common::undo(&sdk, &r, false).await;
    assert!(
        undone["refused"]
            .as_str()
            .is_some_and(|w| w.contains("was made after the remediation")),
        "{undone}"
    );
    assert!(restore().await.is_empty());

    // An Aurora cluster snapshot made public.
    let cluster = unique("billing").to_lowercase();
    rds.create_db_cluster()
        .db_cluster_identifier(&cluster)
        .engine("aurora-postgresql")
        .master_username("app")
        .master_user_password("correct-horse-battery")
        .send()
        .await
        .unwrap();
    let csnap = format!("{cluster}-final");
    rds.create_db_cluster_snapshot()
        .db_cluster_snapshot_identifier(&csnap)
        .db_cluster_identifier(&cluster)
        .send()
        .await
        .unwrap();
    rds.modify_db_cluster_snapshot_attribute()
        .db_cluster_snapshot_identifier(&csnap)
        .attribute_name("restore")
        .values_to_add("all")
        .send()
        .await
        .unwrap();
    let event = cloudtrail_event(
        "aws.rds-ModifyDBClusterSnapshotAttribute-public.json",
        json!({"dBClusterSnapshotIdentifier": csnap, "attributeName": "restore", "valuesToAdd": ["all"]}),
        Value::Null,
    );
    let cluster_shares = || async {
        rds.describe_db_cluster_snapshot_attributes()
            .db_cluster_snapshot_identifier(&csnap)
            .send()
            .await
            .unwrap()
            .db_cluster_snapshot_attributes_result()
            .unwrap()
            .db_cluster_snapshot_attributes()
            .iter()
            .flat_map(|a| a.attribute_values().to_vec())
            .collect::<Vec<String>>()
    };
    let r = deps.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let all = cluster_shares().await;
    assert!(all.is_empty(), "{all:?}");
    assert_eq!(outcome(&deps.run(event).await), "already_done");
    // trailguard undo: public again.
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(cluster_shares().await, ["all"]);
}

// ---- Lambda ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_public_lambda_permission_is_removed_and_the_trigger_stays() {
    let sdk = sdk().await;
    let (org, _) = organization_with_member(&sdk).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let role = unique("fn-role");
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let function = unique("billing-export");
    lambda
        .create_function()
        .function_name(&function)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(b"not run".to_vec()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    // How an S3 trigger is wired: a service, with its source. It stays.
    lambda
        .add_permission()
        .function_name(&function)
        .statement_id("s3-invoke")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn("arn:aws:s3:::acme-uploads")
        .send()
        .await
        .unwrap();
    // The attacker's call.
    lambda
        .add_permission()
        .function_name(&function)
        .statement_id("backdoor")
        .action("lambda:InvokeFunction")
        .principal("*")
        .send()
        .await
        .unwrap();
    let sids = || async {
        let p = lambda
            .get_policy()
            .function_name(&function)
            .send()
            .await
            .unwrap();
        let doc: Value = serde_json::from_str(p.policy().unwrap()).unwrap();
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let event = cloudtrail_event(
        "aws.lambda-AddPermission-public.json",
        json!({"functionName": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"),
               "statementId": "backdoor", "action": "lambda:InvokeFunction", "principal": "*"}),
        Value::Null,
    );
    let deps = sharing(&sdk, &policy(&org, json!({})));
    let r = deps.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(sids().await, ["s3-invoke"]);
    let again = deps.run(event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert_eq!(sids().await, ["s3-invoke"]);

    // Everyone in another organization is everyone: taken back. Everyone in the policy's
    // organization stays.
    for (sid, org_id) in [("partner", "o-attacker0000"), ("org-invoke", org.as_str())] {
        lambda
            .add_permission()
            .function_name(&function)
            .statement_id(sid)
            .action("lambda:InvokeFunction")
            .principal("*")
            .principal_org_id(org_id)
            .send()
            .await
            .unwrap();
    }
    let event = |sid: &str, org_id: &str| {
        cloudtrail_event(
            "aws.lambda-AddPermission-public-other-organization.json",
            json!({"functionName": function, "statementId": sid, "action": "lambda:InvokeFunction",
                   "principal": "*", "principalOrgID": org_id}),
            Value::Null,
        )
    };
    let r = deps.run(event("partner", "o-attacker0000")).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let r = deps.run(event("org-invoke", &org)).await;
    assert_eq!(r["decision"], "ignore", "{r}");
    assert_eq!(sids().await, ["s3-invoke", "org-invoke"]);
    let again = deps.run(event("partner", "o-attacker0000")).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
}

// ---- IAM role trust ----

fn trust(principals: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}
    ]})
    .to_string()
}

async fn current_trust(iam: &aws_sdk_iam::Client, role: &str) -> Value {
    let r = iam.get_role().role_name(role).send().await.unwrap();
    trailguard_rules::trust::document(&json!(r
        .role()
        .unwrap()
        .assume_role_policy_document()
        .unwrap()))
    .unwrap()
}

fn trust_event(role: &str, document: &str) -> Value {
    cloudtrail_event(
        "aws.iam-UpdateAssumeRolePolicy-outside-account.json",
        json!({"roleName": role, "policyDocument": document}),
        Value::Null,
    )
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_role_opened_to_an_outsider_trusts_only_what_it_trusted() {
    let sdk = sdk().await;
    let (org, member) = organization_with_member(&sdk).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let role = unique("app-deploy");
    let vendor_role = format!("arn:aws:iam::{VENDOR}:role/auditor");
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(trust(json!(vendor_role)))
        .send()
        .await
        .unwrap();
    // The attacker's call: an outsider and the organization's member beside the vendor.
    let opened = trust(json!([
        vendor_role,
        format!("arn:aws:iam::{OUTSIDER}:root"),
        format!("arn:aws:iam::{member}:role/ops")
    ]));
    iam.update_assume_role_policy()
        .role_name(&role)
        .policy_document(&opened)
        .send()
        .await
        .unwrap();
    let event = trust_event(&role, &opened);
    let deps = iam_guard(&sdk, &policy(&org, json!({})));

    let r = deps.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let now = current_trust(&iam, &role).await;
    assert_eq!(
        now["Statement"],
        json!([
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": [vendor_role, format!("arn:aws:iam::{member}:role/ops")]}, "Action": "sts:AssumeRole"}
        ]),
        "{now}"
    );
    for _ in 0..2 {
        let again = deps.run(event.clone()).await;
        assert_eq!(outcome(&again), "already_done", "{again}");
        assert_eq!(current_trust(&iam, &role).await, now);
    }
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_exempt_role_or_dry_run_keeps_its_trust_and_a_backdoor_role_is_closed() {
    let sdk = sdk().await;
    let (org, _) = organization_with_member(&sdk).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let opened = trust(json!(format!("arn:aws:iam::{OUTSIDER}:root")));

    let exempt = unique("partner");
    iam.create_role()
        .role_name(&exempt)
        .assume_role_policy_document(&opened)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("trailguard:exempt")
                .value("true")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let deps = iam_guard(&sdk, &policy(&org, json!({})));
    let r = deps.run(trust_event(&exempt, &opened)).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(
        current_trust(&iam, &exempt).await["Statement"][1]["Principal"]["AWS"],
        json!(format!("arn:aws:iam::{OUTSIDER}:root"))
    );

    // A backdoor role: created trusting an outsider only. In dry-run it stays; enforced,
    // only the service's statement is left.
    let backdoor = unique("support-access");
    iam.create_role()
        .role_name(&backdoor)
        .assume_role_policy_document(&opened)
        .send()
        .await
        .unwrap();
    let event = cloudtrail_event(
        "aws.iam-CreateRole-trusts-outside-account.json",
        json!({"roleName": backdoor, "assumeRolePolicyDocument": opened}),
        Value::Null,
    );
    let dry = iam_guard(&sdk, &policy(&org, json!({"mode": {"default": "dry-run"}})));
    let r = dry.run(event.clone()).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(
        current_trust(&iam, &backdoor).await["Statement"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = deps.run(event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(
        current_trust(&iam, &backdoor).await["Statement"],
        json!([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}])
    );
}

/// Attack 4 of issue 22: trusts a name-based check took for restricted. Each is put on a role
/// beside statements the trusted set may use; the guard takes out only the bypass.
#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn each_trust_bypass_is_taken_out_and_the_trusted_statements_stay() {
    let sdk = sdk().await;
    let (org, _) = organization_with_member(&sdk).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let github = "token.actions.githubusercontent.com";
    // The provider the federated statements name (moto keeps one per URL).
    let _ = iam
        .create_open_id_connect_provider()
        .url(format!("https://{github}"))
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("6938fd4d98bab03faadb97b34396831e3780aea1")
        .send()
        .await;
    let provider = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{github}");
    let aud = format!("{github}:aud");
    let sub = format!("{github}:sub");
    let trusted = json!([
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": org}}},
        {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringEquals": {aud.clone(): "sts.amazonaws.com", sub.clone(): "repo:acme/app:ref:refs/heads/main"}}}
    ]);
    let anyone = |extra: Value| {
        let mut st =
            json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"});
        st.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        st
    };
    let bypasses = [
        (
            "an outside account by aws:PrincipalAccount",
            anyone(
                json!({"Condition": {"StringEquals": {"aws:PrincipalAccount": "666666666666"}}}),
            ),
        ),
        (
            "another organization",
            anyone(
                json!({"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-attacker0000"}}}),
            ),
        ),
        // `sts:Assume*` and `NotAction` are not here: moto refuses any trust whose actions
        // are not listed exactly (the rules tests and samples cover them).
        (
            "Null aws:SourceVpc",
            anyone(json!({"Condition": {"Null": {"aws:SourceVpc": "true"}}})),
        ),
        (
            "ForAllValues on the organization",
            anyone(
                json!({"Condition": {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": org}}}),
            ),
        ),
        (
            "GitHub OIDC without a subject",
            json!({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {aud.clone(): "sts.amazonaws.com"}}}),
        ),
        (
            "GitHub OIDC for any repository",
            json!({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {aud.clone(): "sts.amazonaws.com"}, "StringLike": {sub.clone(): "repo:*"}}}),
        ),
    ];
    let deps = iam_guard(&sdk, &policy(&org, json!({})));
    for (what, bypass) in bypasses {
        let role = unique("deploy");
        let before = json!({"Version": "2012-10-17", "Statement": trusted}).to_string();
        iam.create_role()
            .role_name(&role)
            .assume_role_policy_document(&before)
            .send()
            .await
            .unwrap();
        // The attacker's call: the bypass beside what was trusted.
        let mut statements = trusted.as_array().unwrap().clone();
        statements.push(bypass);
        let opened = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        iam.update_assume_role_policy()
            .role_name(&role)
            .policy_document(&opened)
            .send()
            .await
            .unwrap();
        let event = trust_event(&role, &opened);

        let r = deps.run(event.clone()).await;
        assert_eq!(r["decision"], "remediate", "{what}: {r}");
        assert_eq!(outcome(&r), "done", "{what}: {r}");
        let now = current_trust(&iam, &role).await;
        assert_eq!(now["Statement"], trusted, "{what}: {now}");
        let again = deps.run(event).await;
        assert_eq!(outcome(&again), "already_done", "{what}: {again}");
        assert_eq!(current_trust(&iam, &role).await, now, "{what}");
    }
    // The trusted statements alone are left as they are: nothing to restrict.
    let role = unique("deploy");
    let before = json!({"Version": "2012-10-17", "Statement": trusted}).to_string();
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(&before)
        .send()
        .await
        .unwrap();
    let r = deps.run(trust_event(&role, &before)).await;
    assert_eq!(r["decision"], "ignore", "{r}");
    assert_eq!(current_trust(&iam, &role).await["Statement"], trusted);
}

/// Issue 22: a non-admin tags a role `trailguard:exempt=true` and opens its trust in the
/// same second. guard-iam finds the exemption, waits `ROLE_TAG_SETTLE` and reads the tags
/// again; guard-tags (here: the untag it makes, a second later) has taken the exemption back
/// by then, so the trust is restricted.
#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_exemption_taken_back_while_guard_iam_settles_does_not_count() {
    let sdk = sdk().await;
    let (org, _) = organization_with_member(&sdk).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let opened = trust(json!(format!("arn:aws:iam::{OUTSIDER}:root")));
    let role = unique("app-deploy");
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(&opened)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("trailguard:exempt")
                .value("true")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let untag = {
        let (iam, role) = (iam.clone(), role.clone());
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            iam.untag_role()
                .role_name(role)
                .tag_keys("trailguard:exempt")
                .send()
                .await
                .unwrap();
        })
    };
    let deps = iam_guard(&sdk, &policy(&org, json!({})));
    let started = std::time::Instant::now();
    let r = deps.run(trust_event(&role, &opened)).await;
    untag.await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(r["decision"], "remediate", "{r}");
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(
        current_trust(&iam, &role).await["Statement"],
        json!([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}])
    );
}

// ---- IAM backdoor keys (optional containment) ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_key_made_for_another_user_is_deactivated_when_asked() {
    let sdk = sdk().await;
    let (org, _) = organization_with_member(&sdk).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let (victim, keys) = create_user_with_keys(&iam, "alice-admin", 2).await;
    let (own, backdoor) = (&keys[0], &keys[1]);
    let event = cloudtrail_event(
        "aws.iam-CreateAccessKey-for-another-user.json",
        json!({"userName": victim}),
        json!({"accessKey": {"userName": victim, "accessKeyId": backdoor, "status": "Active",
                             "createDate": "Nov 20, 2026, 10:15:30 AM"}}),
    );
    let key_status = |key: String| {
        let (iam, victim) = (iam.clone(), victim.clone());
        async move {
            iam.list_access_keys()
                .user_name(victim)
                .send()
                .await
                .unwrap()
                .access_key_metadata()
                .iter()
                .find(|k| k.access_key_id() == Some(&key))
                .and_then(|k| k.status().map(|s| s.as_str().to_string()))
                .unwrap()
        }
    };
    // By default it is told, not contained.
    let told = iam_guard(&sdk, &policy(&org, json!({})))
        .run(event.clone())
        .await;
    assert_eq!(told["decision"], "notify", "{told}");
    assert_eq!(key_status(backdoor.clone()).await, "Active");

    let deps = iam_guard(
        &sdk,
        &policy(&org, json!({"iam": {"contain_backdoor_keys": true}})),
    );
    let r = deps.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(key_status(backdoor.clone()).await, "Inactive");
    assert_eq!(key_status(own.clone()).await, "Active");
    let again = deps.run(event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
}

// ---- CloudTrail event selectors ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn management_events_come_back_and_data_selectors_stay() {
    use aws_sdk_cloudtrail::types::{
        AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
    };
    let sdk = sdk().await;
    let ct = aws_sdk_cloudtrail::Client::new(&sdk);
    let deps = trail_deps(&sdk, "{}", None);
    let data = DataResource::builder()
        .r#type("AWS::S3::Object")
        .values("arn:aws:s3:::acme-exports/")
        .build();

    // Basic selectors: management events switched off, S3 data events kept.
    let basic = unique("basic");
    ct.create_trail()
        .name(&basic)
        .s3_bucket_name(create_bucket())
        .send()
        .await
        .unwrap();
    ct.put_event_selectors()
        .trail_name(&basic)
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::WriteOnly)
                .include_management_events(false)
                .data_resources(data.clone())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let event = cloudtrail_event(
        "aws.cloudtrail-PutEventSelectors-no-management.json",
        json!({"trailName": basic, "eventSelectors": [{"readWriteType": "WriteOnly",
               "includeManagementEvents": false,
               "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3:::acme-exports/"]}]}]}),
        Value::Null,
    );
    let r = process(&deps, event.clone()).await.unwrap();
    assert_eq!(outcome(&r), "done", "{r}");
    let now = ct
        .get_event_selectors()
        .trail_name(&basic)
        .send()
        .await
        .unwrap();
    let s = &now.event_selectors()[0];
    assert_eq!(s.include_management_events(), Some(true));
    // Management events come back in full: the caller's ReadWriteType is not kept (a
    // ReadOnly one would leave every management write unrecorded).
    assert_eq!(s.read_write_type(), Some(&ReadWriteType::All));
    assert_eq!(s.data_resources(), [data]);
    let again = process(&deps, event).await.unwrap();
    assert_eq!(outcome(&again), "already_done", "{again}");

    // Advanced selectors: a management selector is added beside the data one.
    let advanced = unique("advanced");
    ct.create_trail()
        .name(&advanced)
        .s3_bucket_name(create_bucket())
        .send()
        .await
        .unwrap();
    let selector = |field: &str, value: &str| {
        AdvancedFieldSelector::builder()
            .field(field)
            .equals(value)
            .build()
            .unwrap()
    };
    let data_only = AdvancedEventSelector::builder()
        .name("S3 data events")
        .field_selectors(selector("eventCategory", "Data"))
        .field_selectors(selector("resources.type", "AWS::S3::Object"))
        .build()
        .unwrap();
    ct.put_event_selectors()
        .trail_name(&advanced)
        .advanced_event_selectors(data_only.clone())
        .send()
        .await
        .unwrap();
    let mut event = sample("aws.cloudtrail-PutEventSelectors-advanced-data-only.json");
    event["detail"]["requestParameters"]["trailName"] = json!(advanced);
    let r = process(&deps, event.clone()).await.unwrap();
    assert_eq!(outcome(&r), "done", "{r}");
    let now = ct
        .get_event_selectors()
        .trail_name(&advanced)
        .send()
        .await
        .unwrap();
    let got = now.advanced_event_selectors();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], data_only);
    assert_eq!(got[1].field_selectors()[0].equals(), ["Management"]);
    assert_eq!(
        outcome(&process(&deps, event).await.unwrap()),
        "already_done"
    );
}

// ---- Stolen instance credentials (GuardDuty) ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn stolen_instance_credentials_lose_their_sessions_and_the_role_stays() {
    let sdk = sdk().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let role = unique("web-app-instance-role");
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    .to_string();
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(&trust)
        .send()
        .await
        .unwrap();
    let mut event = sample("aws.guardduty-InstanceCredentialExfiltration-assumed-role.json");
    event["id"] = json!(unique("gd"));
    event["detail"]["resource"]["accessKeyDetails"]["userName"] = json!(role);
    let deps = key_deps(&sdk, "{}", None);
    let before = trailguard_aws::system_clock();
    let r = process(&deps, event.clone()).await.unwrap();
    assert_eq!(outcome(&r), "done", "{r}");
    let policy = iam
        .get_role_policy()
        .role_name(&role)
        .policy_name("trailguard-revoke-older-sessions")
        .send()
        .await
        .unwrap();
    let doc = trailguard_rules::trust::document(&json!(policy.policy_document())).unwrap();
    let st = &doc["Statement"][0];
    assert_eq!(
        (st["Effect"].as_str(), st["Action"].as_str()),
        (Some("Deny"), Some("*"))
    );
    let cutoff = st["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap();
    assert!(cutoff >= trailguard_rules::time::format_epoch(before).as_str());
    // The role itself, its trust and its other policies are untouched.
    assert_eq!(
        current_trust(&iam, &role).await,
        serde_json::from_str::<Value>(&trust).unwrap()
    );
    let names = iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(names.policy_names(), ["trailguard-revoke-older-sessions"]);
    let again = process(&deps, event).await.unwrap();
    assert!(
        matches!(outcome(&again), "done" | "already_done"),
        "a redelivery ends in the same state: {again}"
    );
    assert_eq!(
        iam.list_role_policies()
            .role_name(&role)
            .send()
            .await
            .unwrap()
            .policy_names()
            .len(),
        1
    );
}

/// Who may use the image or snapshot after the attack (what an undo gives back), sorted: the
/// member and the vendor it was shared with, the outsider, and everyone.
fn as_the_attacker_left_it(member: &str) -> Vec<String> {
    let mut shared = vec![
        member.to_string(),
        VENDOR.to_string(),
        OUTSIDER.to_string(),
        "all".into(),
    ];
    shared.sort();
    shared
}
