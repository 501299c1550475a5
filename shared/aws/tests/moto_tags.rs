//! guard-tags against moto: an exemption added by someone who is not a tag admin comes off
//! (by CreateTags, or in the tags a group is created with), a tag admin's stays (and is
//! told), a removed protection is told and never added, and a role's exemption comes off too.

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
async fn exemptions_come_off_unless_a_tag_admin_did_it_and_removed_protections_are_told() {
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
    tag(&ec2, &group, "trailguard:exempt", "yes").await;
    let ev = tag_event(
        "aws.ec2-CreateTags-exempt-by-non-admin.json",
        "CreateTags",
        &group,
        "trailguard:exempt",
        Some("yes"),
    );
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(
        group_tags(&ec2, &group).await,
        [("Name".into(), "web".into())]
    );
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // trailguard undo: the exemption back with the value it had, once; a value set since
    // is not overwritten.
    assert_eq!(
        r["actions"][0]["reversal"]["call"], "tag_ec2_resources",
        "{r}"
    );
    assert!(
        r["actions"][0]["undo"]["command"]
            .as_str()
            .is_some_and(|c| c.contains("Key=trailguard:exempt,Value=yes")),
        "{r}"
    );
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(
        group_tags(&ec2, &group).await,
        [
            ("Name".into(), "web".into()),
            ("trailguard:exempt".into(), "yes".into())
        ]
    );
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    tag(&ec2, &group, "trailguard:exempt", "1").await;
    let refused = common::undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("trailguard:exempt=1")),
        "{refused}"
    );
    // Taken off again (the next CreateTags event), for what follows.
    let ev = tag_event(
        "aws.ec2-CreateTags-exempt-by-non-admin.json",
        "CreateTags",
        &group,
        "trailguard:exempt",
        Some("1"),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");

    // A tag admin grants it: told, kept.
    tag(&ec2, &group, "trailguard:exempt", "true").await;
    let mut ev = sample("aws.ec2-CreateTags-exempt-by-tag-admin.json");
    ev["detail"]["requestParameters"]["resourcesSet"]["items"][0]["resourceId"] = json!(group);
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert!(group_tags(&ec2, &group)
        .await
        .contains(&("trailguard:exempt".into(), "true".into())));

    // A non-admin removes the protection: told, not put back (nothing in the record proves
    // it was there; see guards/tags.rs `UNPROVEN`).
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
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(r["actions"], json!([]), "{r}");
    assert!(!group_tags(&ec2, &group)
        .await
        .iter()
        .any(|(k, _)| k == "trailguard:protected"));
}

/// Issue 22, attack 2: `DeleteTags Key=trailguard:protected` (with `Value=true`, or no tag
/// list at all) on groups that never had the tag must not make trailguard protect them: the
/// sweep would then revoke their allowed public rules.
#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn deleting_a_protection_groups_never_had_adds_none() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.11.0.0/16").await;
    let a = create_group(&ec2, &vpc, &unique("lb-a"), &[("Name", "lb-a")]).await;
    let b = create_group(&ec2, &vpc, &unique("lb-b"), &[("Name", "lb-b")]).await;
    let deps = deps_with(
        &sdk,
        "guard-tags",
        POLICY,
        Sdk::none().with_ec2(&sdk).with_iam(&sdk),
    );
    let resources = json!({"items": [{"resourceId": a}, {"resourceId": b}]});
    for tag_set in [
        Some(json!({"items": [{"key": "trailguard:protected", "value": "true"}]})),
        Some(json!({"items": [{"key": "trailguard:protected"}]})),
        None,
    ] {
        // The call itself, as the attacker makes it (it succeeds on groups without the tag).
        let mut del = ec2.delete_tags().resources(&a).resources(&b);
        if tag_set.is_some() {
            del = del.tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("trailguard:protected")
                    .value("true")
                    .build(),
            );
        }
        del.send().await.unwrap();
        let mut request = json!({"resourcesSet": resources});
        if let Some(t) = &tag_set {
            request["tagSet"] = t.clone();
        }
        let ev = cloudtrail_event(
            "aws.ec2-DeleteTags-protected-true-never-tagged.json",
            request,
            json!({"_return": true}),
        );
        let r = process(&deps, ev).await.unwrap();
        assert_eq!(r["decision"], "notify", "{tag_set:?}: {r}");
        assert_eq!(r["actions"], json!([]), "{tag_set:?}: {r}");
        for g in [&a, &b] {
            assert!(
                !group_tags(&ec2, g)
                    .await
                    .iter()
                    .any(|(k, _)| k == "trailguard:protected"),
                "{tag_set:?}: {g} was given a protection"
            );
        }
    }
}

/// An exemption in the tags a group is created with, by someone not in `tag_admins`, comes
/// off; the group's other tags stay. A tag admin's stays and is told.
#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_exemption_a_group_is_created_with_comes_off_unless_a_tag_admin_gave_it() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.12.0.0/16").await;
    let deps = deps_with(
        &sdk,
        "guard-tags",
        POLICY,
        Sdk::none().with_ec2(&sdk).with_iam(&sdk),
    );
    let tags = [("Name", "batch"), ("trailguard:exempt", "true")];
    let spec = |g: &str| {
        json!({"groupName": g, "groupDescription": g, "vpcId": vpc,
               "tagSpecificationSet": {"items": [{"resourceType": "security-group",
                   "tags": tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()}]}})
    };

    let name = unique("batch");
    let group = create_group(&ec2, &vpc, &name, &tags).await;
    let ev = cloudtrail_event(
        "aws.ec2-CreateSecurityGroup-exempt-tag-spec.json",
        spec(&name),
        json!({"_return": true, "groupId": group}),
    );
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(
        group_tags(&ec2, &group).await,
        [("Name".into(), "batch".into())]
    );
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    let name = unique("vendor");
    let group = create_group(&ec2, &vpc, &name, &tags).await;
    let ev = cloudtrail_event(
        "aws.ec2-CreateSecurityGroup-exempt-by-tag-admin.json",
        spec(&name),
        json!({"_return": true, "groupId": group}),
    );
    assert!(ev["detail"]["userIdentity"]["arn"]
        .as_str()
        .unwrap()
        .contains("security-tag-admin"));
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert!(group_tags(&ec2, &group)
        .await
        .contains(&("trailguard:exempt".into(), "true".into())));
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
                .value("1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // Truthy in another spelling: the undo puts back this one.
    let ev = cloudtrail_event(
        "aws.iam-TagRole-exempt-by-non-admin.json",
        json!({"roleName": role, "tags": [{"key": "trailguard:exempt", "value": "1"}]}),
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

    // trailguard undo: the exemption back with its value, then nothing to undo.
    let role_tags = async || {
        let mut t: Vec<(String, String)> = iam
            .list_role_tags()
            .role_name(&role)
            .send()
            .await
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        t.sort();
        t
    };
    assert_eq!(r["actions"][0]["reversal"]["call"], "tag_role", "{r}");
    let undone = undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(
        role_tags().await,
        [("team", "platform"), ("trailguard:exempt", "1")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    let undone = undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");

    // The role deleted, and one of the same name made since (IAM dates it a second later):
    // another role, which the undo does not exempt.
    iam.untag_role()
        .role_name(&role)
        .tag_keys("trailguard:exempt")
        .send()
        .await
        .unwrap();
    iam.delete_role().role_name(&role).send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let refused = undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("made after the remediation")),
        "{refused}"
    );
    assert!(role_tags().await.is_empty());
}
