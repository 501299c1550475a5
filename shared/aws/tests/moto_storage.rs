//! revert-storage-policy against moto for OpenSearch domains and EFS file systems: a policy
//! opened by the attacker's own SDK call is written back without exactly the principals the
//! call let in (every other statement as it was); redelivery is already done, dry-run and the
//! exemption tag change nothing; an EFS policy with nothing left is told, never written.
//!
//! What moto 5.2.5 cannot answer, and where the recording fakes answer it instead (the
//! handler tests run every sample through them, events/meta/manifest.json `calls`):
//! - OpenSearch: UpdateDomainConfig with `AccessPolicies` "" keeps the old policy (moto writes
//!   `access_policies or domain.access_policies`), so a domain whose policy is emptied is
//!   checked with the fakes (aws.es-UpdateDomainConfig-public.json: DeletePolicy(Domain,..)).
//! - Glacier: moto has no GetVaultAccessPolicy, SetVaultAccessPolicy,
//!   DeleteVaultAccessPolicy nor ListTagsForVault: every Glacier path runs on the fakes
//!   (aws.glacier-SetVaultAccessPolicy-{public,outside-account,exempt}.json).
//! - EFS: moto has no DeleteFileSystemPolicy (trailguard never calls it: an EFS policy is
//!   never deleted), and DescribeFileSystemPolicy on a file system that does not exist
//!   answers 500 instead of FileSystemNotFound.

mod common;

use common::*;
use serde_json::{json, Value};
use trailguard_aws::Sdk;

const OUTSIDER: &str = "999988887777";
const POLICY: &str = "{}";
const DRY_RUN: &str = r#"{"mode": {"default": "dry-run"}}"#;

fn doc(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn statements(policy: &str) -> Option<Value> {
    serde_json::from_str::<Value>(policy)
        .ok()
        .map(|d| d["Statement"].clone())
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_opensearch_domain_loses_exactly_the_outside_account() {
    let sdk = sdk().await;
    let es = aws_sdk_opensearch::Client::new(&sdk);
    let name = unique("logs");
    let arn = es
        .create_domain()
        .domain_name(&name)
        .engine_version("OpenSearch_2.13")
        .send()
        .await
        .unwrap()
        .domain_status()
        .unwrap()
        .arn()
        .to_string();
    let deps = deps_with(
        &sdk,
        "revert-storage-policy",
        POLICY,
        Sdk::none().with_opensearch(&sdk),
    );
    let dry = deps_with(
        &sdk,
        "revert-storage-policy",
        DRY_RUN,
        Sdk::none().with_opensearch(&sdk),
    );
    let resource = format!("{arn}/*");
    let shipper = json!({"Sid": "App", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/log-shipper")},
        "Action": "es:ESHttp*", "Resource": resource});
    let partner = json!({"Sid": "Partner", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{OUTSIDER}:root")},
        "Action": ["es:ESHttpGet", "es:ESHttpPost"], "Resource": resource});
    let policy = || {
        let (es, name) = (es.clone(), name.clone());
        async move {
            let c = es
                .describe_domain_config()
                .domain_name(&name)
                .send()
                .await
                .unwrap();
            c.domain_config()
                .and_then(|c| c.access_policies())
                .and_then(|p| statements(p.options()))
        }
    };
    let opened = doc(json!([shipper, partner]));
    // The attacker's call.
    es.update_domain_config()
        .domain_name(&name)
        .access_policies(&opened)
        .send()
        .await
        .unwrap();
    let ev = cloudtrail_event(
        "aws.es-UpdateElasticsearchDomainConfig-outside-account.json",
        json!({"domainName": name, "accessPolicies": opened}),
        Value::Null,
    );

    let r = process(&dry, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
    assert_eq!(policy().await, Some(json!([shipper, partner])));

    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(policy().await, Some(json!([shipper])));
    // The undo writes the policy as it was back, partner included.
    let undo = r["actions"][0]["undo"]["command"]
        .as_str()
        .unwrap_or_default();
    assert!(
        undo.contains("aws opensearch update-domain-config --domain-name ")
            && undo.contains(OUTSIDER),
        "{r}"
    );

    let again = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");
    assert_eq!(policy().await, Some(json!([shipper])));

    // Tagged exempt: told, left as it is.
    es.add_tags()
        .arn(&arn)
        .tag_list(
            aws_sdk_opensearch::types::Tag::builder()
                .key("trailguard:exempt")
                .value("true")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    es.update_domain_config()
        .domain_name(&name)
        .access_policies(&opened)
        .send()
        .await
        .unwrap();
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(policy().await, Some(json!([shipper, partner])));
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_opensearch_domain_inside_a_vpc_keeps_its_open_policy() {
    let sdk = sdk().await;
    let es = aws_sdk_opensearch::Client::new(&sdk);
    let name = unique("vpc-search");
    es.create_domain()
        .domain_name(&name)
        .engine_version("OpenSearch_2.13")
        .vpc_options(
            aws_sdk_opensearch::types::VpcOptions::builder()
                .subnet_ids("subnet-0a1b2c3d4e5f60718")
                .security_group_ids("sg-0a1b2c3d4e5f60718")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let deps = deps_with(
        &sdk,
        "revert-storage-policy",
        POLICY,
        Sdk::none().with_opensearch(&sdk),
    );
    let open = doc(json!([{"Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": "es:ESHttp*", "Resource": format!("arn:aws:es:us-east-1:{ACCOUNT}:domain/{name}/*")}]));
    es.update_domain_config()
        .domain_name(&name)
        .access_policies(&open)
        .send()
        .await
        .unwrap();
    // The call does not show the VPC: the domain's description does.
    let ev = cloudtrail_event(
        "aws.es-UpdateDomainConfig-vpc-domain.json",
        json!({"domainName": name, "accessPolicies": open}),
        Value::Null,
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "ignore", "{r}");
    assert!(
        r["reason"].as_str().unwrap_or_default().contains("VPC"),
        "{r}"
    );
    let now = es
        .describe_domain_config()
        .domain_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        now.domain_config()
            .and_then(|c| c.access_policies())
            .map(|p| p.options().to_string()),
        Some(open)
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_efs_file_system_loses_the_public_statement_but_is_never_left_without_one() {
    let sdk = sdk().await;
    let efs = aws_sdk_efs::Client::new(&sdk);
    let create = |tags: Vec<(&'static str, &'static str)>| {
        let efs = efs.clone();
        async move {
            let mut c = efs.create_file_system().creation_token(unique("home"));
            for (k, v) in tags {
                c = c.tags(
                    aws_sdk_efs::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .unwrap(),
                );
            }
            c.send().await.unwrap().file_system_id().to_string()
        }
    };
    let fs = create(vec![("Name", "shared-home")]).await;
    let deps = deps_with(
        &sdk,
        "revert-storage-policy",
        POLICY,
        Sdk::none().with_efs(&sdk),
    );
    let dry = deps_with(
        &sdk,
        "revert-storage-policy",
        DRY_RUN,
        Sdk::none().with_efs(&sdk),
    );
    let policy = |id: String| {
        let efs = efs.clone();
        async move {
            let p = efs
                .describe_file_system_policy()
                .file_system_id(&id)
                .send()
                .await
                .unwrap();
            statements(p.policy().unwrap())
        }
    };
    let put = |id: String, document: String| {
        let efs = efs.clone();
        async move {
            efs.put_file_system_policy()
                .file_system_id(id)
                .policy(document)
                .send()
                .await
                .unwrap();
        }
    };
    let event = |id: &str, document: &str| {
        cloudtrail_event(
            "aws.elasticfilesystem-PutFileSystemPolicy-public-mount.json",
            json!({"fileSystemId": id, "policy": document, "bypassPolicyLockoutSafetyCheck": false}),
            json!({"fileSystemId": id, "policy": document}),
        )
    };
    let resource = format!("arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:file-system/{fs}");
    let app = json!({"Sid": "AppWrite", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/app")},
        "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"], "Resource": resource});
    let anyone = json!({"Sid": "AnyoneMounts", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": "elasticfilesystem:ClientMount", "Resource": resource});
    let opened = doc(json!([app, anyone]));
    put(fs.clone(), opened.clone()).await;
    let ev = event(&fs, &opened);

    let r = process(&dry, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
    assert_eq!(policy(fs.clone()).await, Some(json!([app, anyone])));

    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(policy(fs.clone()).await, Some(json!([app])));
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");
    assert_eq!(policy(fs.clone()).await, Some(json!([app])));

    // Only the open statement: taking it out would leave EFS's default policy, which lets
    // every client that reaches a mount target write too. Told, the policy left as it is.
    let only = doc(json!([anyone]));
    put(fs.clone(), only.clone()).await;
    let r = process(&deps, event(&fs, &only)).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert!(r["actions"].as_array().is_none_or(Vec::is_empty), "{r}");
    assert_eq!(policy(fs.clone()).await, Some(json!([anyone])));

    // Tagged exempt: told, left as it is.
    let exempt = create(vec![("trailguard:exempt", "true")]).await;
    put(exempt.clone(), opened.clone()).await;
    let r = process(&deps, event(&exempt, &opened)).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(policy(exempt).await, Some(json!([app, anyone])));
}

// ---- exemptions given by anyone but the tag admins ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_domain_exempted_by_a_non_admin_loses_the_exemption_and_keeps_its_other_tags() {
    let sdk = sdk().await;
    let es = aws_sdk_opensearch::Client::new(&sdk);
    let name = unique("search");
    let arn = es
        .create_domain()
        .domain_name(&name)
        .engine_version("OpenSearch_2.13")
        .send()
        .await
        .unwrap()
        .domain_status()
        .unwrap()
        .arn()
        .to_string();
    let tag = |k: &str, v: &str| {
        aws_sdk_opensearch::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    // The attacker's call.
    es.add_tags()
        .arn(&arn)
        .tag_list(tag("team", "search"))
        .tag_list(tag("trailguard:exempt", "true"))
        .send()
        .await
        .unwrap();
    let tags = || {
        let (es, arn) = (es.clone(), arn.clone());
        async move {
            let mut t: Vec<(String, String)> = es
                .list_tags()
                .arn(&arn)
                .send()
                .await
                .unwrap()
                .tag_list()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            t.sort();
            t
        }
    };
    let ev = cloudtrail_event(
        "aws.es-AddTags-exempt-by-non-admin.json",
        json!({"aRN": arn, "tagList": [{"key": "team", "value": "search"}, {"key": "trailguard:exempt", "value": "true"}]}),
        Value::Null,
    );
    let wire = || Sdk::none().with_opensearch(&sdk);
    let tagged = tags().await;
    let r = process(
        &deps_with(&sdk, "revert-storage-policy", DRY_RUN, wire()),
        ev.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
    assert_eq!(tags().await, tagged);

    let deps = deps_with(&sdk, "revert-storage-policy", POLICY, wire());
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(
        tags().await,
        vec![("team".to_string(), "search".to_string())]
    );
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // trailguard undo: the exemption back exactly as it was, the other tags untouched; then
    // nothing to undo.
    let undone = undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(tags().await, tagged);
    let undone = undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_file_system_exempted_by_a_non_admin_loses_the_exemption() {
    let sdk = sdk().await;
    let efs = aws_sdk_efs::Client::new(&sdk);
    let id = efs
        .create_file_system()
        .creation_token(unique("fs"))
        .send()
        .await
        .unwrap()
        .file_system_id()
        .to_string();
    let tag = |k: &str, v: &str| {
        aws_sdk_efs::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    efs.tag_resource()
        .resource_id(&id)
        .tags(tag("app", "media"))
        .tags(tag("trailguard:exempt", "true"))
        .send()
        .await
        .unwrap();
    let tags = || {
        let (efs, id) = (efs.clone(), id.clone());
        async move {
            let mut t: Vec<(String, String)> = efs
                .list_tags_for_resource()
                .resource_id(&id)
                .send()
                .await
                .unwrap()
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            t.sort();
            t
        }
    };
    let ev = cloudtrail_event(
        "aws.elasticfilesystem-TagResource-exempt-by-non-admin.json",
        json!({"resourceId": id, "tags": [{"key": "trailguard:exempt", "value": "true"}]}),
        Value::Null,
    );
    let deps = deps_with(
        &sdk,
        "revert-storage-policy",
        POLICY,
        Sdk::none().with_efs(&sdk),
    );
    let tagged = tags().await;
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(tags().await, vec![("app".to_string(), "media".to_string())]);
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // trailguard undo: the exemption back exactly as it was; someone then changes its value,
    // and an undo of the same remediation is refused, naming the value now.
    let undone = undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(tags().await, tagged);
    efs.tag_resource()
        .resource_id(&id)
        .tags(tag("trailguard:exempt", "false"))
        .send()
        .await
        .unwrap();
    let undone = undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["refused"], "{undone}");
    assert!(
        undone["refused"]
            .as_str()
            .is_some_and(|w| w.contains("trailguard:exempt=false now")),
        "{undone}"
    );
}
