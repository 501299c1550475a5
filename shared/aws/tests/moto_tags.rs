//! guard-tags against moto: an exemption added by someone who is not a tag admin comes off,
//! a tag admin's stays (and is told), a removed protection comes back, and a role's
//! exemption comes off too.

mod common;

use common::*;
use serde_json::{json, Value};
use trailguard_aws::Sdk;

const POLICY: &str = r#"{"tag_admins": ["arn:aws:iam::*:role/security-tag-admin"]}"#;

async fn group_tags(ec2: &aws_sdk_ec2::Client, group: &str) -> Vec<(String, String)> {
    let out = ec2
        .describe_tags()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("resource-id")
                .values(group)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, String)> = out
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn tag(ec2: &aws_sdk_ec2::Client, group: &str, key: &str, value: &str) {
    ec2.create_tags()
        .resources(group)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key(key)
                .value(value)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn tag_event(template: &str, name: &str, group: &str, key: &str, value: Option<&str>) -> Value {
    let mut item = json!({"key": key});
    if let Some(v) = value {
        item["value"] = json!(v);
    }
    let mut ev = cloudtrail_event(
        template,
        json!({"resourcesSet": {"items": [{"resourceId": group}]}, "tagSet": {"items": [item]}}),
        json!({"_return": true}),
    );
    ev["detail"]["eventName"] = json!(name);
    ev
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn exemptions_come_off_and_protections_come_back_unless_a_tag_admin_did_it() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.9.0.0/16").await;
    let group = create_group(&ec2, &vpc, &unique("web"), &[]).await;
    tag(&ec2, &group, "Name", "web").await;
    let deps = deps_with(
        &sdk,
        "guard-tags",
        POLICY,
        Sdk::none().with_ec2(&sdk).with_iam(&sdk),
    );

    // A non-admin grants the exemption: it comes off, the Name tag stays.
    tag(&ec2, &group, "trailguard:exempt", "true").await;
    let ev = tag_event(
        "aws.ec2-CreateTags-exempt-by-non-admin.json",
        "CreateTags",
        &group,
        "trailguard:exempt",
        Some("true"),
    );
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(
        group_tags(&ec2, &group).await,
        [("Name".into(), "web".into())]
    );
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // A tag admin grants it: told, kept.
    tag(&ec2, &group, "trailguard:exempt", "true").await;
    let mut ev = sample("aws.ec2-CreateTags-exempt-by-tag-admin.json");
    ev["detail"]["requestParameters"]["resourcesSet"]["items"][0]["resourceId"] = json!(group);
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert!(group_tags(&ec2, &group)
        .await
        .contains(&("trailguard:exempt".into(), "true".into())));

    // A non-admin removes the protection: it comes back.
    tag(&ec2, &group, "trailguard:protected", "true").await;
    ec2.delete_tags()
        .resources(&group)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("trailguard:protected")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ev = tag_event(
        "aws.ec2-DeleteTags-protected-removed.json",
        "DeleteTags",
        &group,
        "trailguard:protected",
        None,
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert!(group_tags(&ec2, &group)
        .await
        .contains(&("trailguard:protected".into(), "true".into())));
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_role_exempted_by_a_non_admin_loses_the_tag() {
    let sdk = sdk().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let role = unique("app-deploy");
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("platform")
                .build()
                .unwrap(),
        )
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
    let ev = cloudtrail_event(
        "aws.iam-TagRole-exempt-by-non-admin.json",
        json!({"roleName": role, "tags": [{"key": "trailguard:exempt", "value": "true"}]}),
        Value::Null,
    );
    let deps = deps_with(
        &sdk,
        "guard-tags",
        POLICY,
        Sdk::none().with_ec2(&sdk).with_iam(&sdk),
    );
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let tags = iam.list_role_tags().role_name(&role).send().await.unwrap();
    let keys: Vec<&str> = tags.tags().iter().map(|t| t.key()).collect();
    assert_eq!(keys, ["team"]);
    assert_eq!(
        process(&deps, ev).await.unwrap()["actions"][0]["outcome"],
        "already_done"
    );
}
