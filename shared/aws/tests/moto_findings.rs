//! Findings and signals beyond a single change, against moto: a Security Hub control finding
//! that names a group (its rules are looked up, exactly the violating one is revoked), AWS's
//! inline quarantine policy (the user's older sessions revoked and the user tagged), and root
//! activity (people told, nothing changed).

mod common;

use aws_sdk_ec2::types::{IpPermission, IpRange};
use common::*;
use serde_json::{json, Value};

fn tcp(port: i32, cidr: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
        .build()
}

/// (port, cidr) of each ingress rule of the group, sorted.
async fn ingress(ec2: &aws_sdk_ec2::Client, group: &str) -> Vec<(i32, String)> {
    let out = ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(group)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut v: Vec<(i32, String)> = out
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| {
            (
                r.from_port().unwrap_or(-1),
                r.cidr_ipv4().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_control_finding_revokes_exactly_the_rule_that_violates_the_policy() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.3.0.0/16").await;
    let group = create_group(&ec2, &vpc, &unique("finding"), &[]).await;
    ec2.authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(tcp(22, "0.0.0.0/0"))
        .ip_permissions(tcp(443, "0.0.0.0/0"))
        .ip_permissions(tcp(5432, "10.0.0.0/8"))
        .send()
        .await
        .unwrap();
    // The finding Security Hub would import for this group (EC2.19, high-risk port open).
    let mut ev = sample("aws.securityhub-EC2.19-high-risk-port-open.json");
    ev["id"] = json!(unique("sh"));
    let arn = format!("arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{group}");
    ev["detail"]["findings"][0]["Resources"][0]["Id"] = json!(arn);
    ev["detail"]["findings"][0]["Resources"][0]["Details"]["AwsEc2SecurityGroup"]["GroupId"] =
        json!(group);
    let (topic, queue) = topic_with_queue(&sdk).await;
    let deps = ec2_deps(&sdk, "revert-security-group", "{}", Some(topic));
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["decision"], "remediate", "{r}");
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(
        ingress(&ec2, &group).await,
        [
            (443, "0.0.0.0/0".to_string()),
            (5432, "10.0.0.0/8".to_string())
        ]
    );
    let msgs = drain(&sdk, &queue).await;
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].contains("EC2.19") && msgs[0].contains(&group),
        "{}",
        msgs[0]
    );
    // Imported again (Security Hub re-imports on every update): nothing left to revoke.
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "ignore", "{r}");
    assert_eq!(ingress(&ec2, &group).await.len(), 2);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn aws_inline_quarantine_revokes_the_users_older_sessions_and_tags_it() {
    let sdk = sdk().await;
    let u = user_with_two_keys(&sdk).await;
    // What AWS does when it finds a key exposed: an inline deny policy on the user.
    u.iam
        .put_user_policy()
        .user_name(&u.name)
        .policy_name("AWSCompromisedKeyQuarantineV3")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["iam:CreateAccessKey"],"Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let mut ev = sample("aws.iam-PutUserPolicy-compromised-key-quarantine-inline.json");
    ev["id"] = json!(unique("q"));
    ev["detail"]["requestParameters"]["userName"] = json!(u.name);
    ev["detail"]["userIdentity"]["userName"] = json!(u.name);
    let deps = key_deps(&sdk, "{}", None);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["decision"], "remediate", "{r}");
    let doc = deny_policy(&u)
        .await
        .expect("the deny-older-sessions policy");
    assert_eq!(doc["Statement"][0]["Effect"], "Deny");
    assert!(tags(&u)
        .await
        .iter()
        .any(|(k, v)| k == "trailguard:quarantined" && v.contains("AWSCompromisedKeyQuarantine")));
    // AWS's policy stays; the keys are AWS's and the owner's to deal with.
    let (k1, k2, mut policies, _) = user_state(&u).await;
    policies.sort();
    assert_eq!((k1.as_str(), k2.as_str()), ("Active", "Active"));
    assert_eq!(
        policies,
        [
            "AWSCompromisedKeyQuarantineV3",
            "trailguard-revoke-older-sessions"
        ]
    );
    let first = user_state(&u).await;
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["decision"], "remediate", "{again}");
    assert_eq!(user_state(&u).await, first);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn root_activity_is_told_and_nothing_is_changed() {
    let sdk = sdk().await;
    let (topic, queue) = topic_with_queue(&sdk).await;
    let deps = key_deps(&sdk, "{}", Some(topic));
    for sample_name in [
        "aws.ec2-RunInstances-root.json",
        "aws.iam-CreateAccessKey-root-for-another-user.json",
        "aws.s3-ListBuckets-root-read.json",
        "aws.securityhub-GuardDuty-Policy-IAMUser-RootCredentialUsage.json",
    ] {
        let mut ev = sample(sample_name);
        ev["id"] = json!(unique("root"));
        let r = process(&deps, ev).await.unwrap();
        assert_eq!(r["decision"], "notify", "{sample_name}: {r}");
        assert!(r["actions"].as_array().unwrap().is_empty());
        let msgs = drain(&sdk, &queue).await;
        assert_eq!(msgs.len(), 1, "{sample_name}");
        let body = msgs[0].to_lowercase();
        assert!(
            body.contains("why:") && body.contains("root"),
            "{}",
            msgs[0]
        );
    }
    // Switched off, a root call other than a sign-in or a root key is not told.
    let quiet = key_deps(&sdk, r#"{"notify_root_activity": false}"#, None);
    let r = process(&quiet, sample("aws.ec2-RunInstances-root.json"))
        .await
        .unwrap();
    assert_eq!(r["decision"], "ignore", "{r}");
}

/// The finding as Security Hub keeps it (moto; BatchUpdateFindings through
/// scripts/awsproxy.py): what it sends in its next event.
fn stored(id: &str) -> Value {
    securityhub_findings(id)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("finding {id} is not in Security Hub"))
}

/// The event Security Hub sends after a finding changed: `ev` with the finding as stored.
fn sent_again(ev: &Value, id: &str) -> Value {
    let mut copy = ev.clone();
    copy["id"] = json!(unique("sh"));
    copy["detail"]["findings"][0] = stored(id);
    copy
}

/// The finding in Security Hub: its workflow status and note.
fn finding_now(id: &str) -> (String, Value) {
    let f = stored(id);
    (
        f["Workflow"]["Status"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        f["Note"].clone(),
    )
}

/// A group open on port 22 and the EC2.19 finding about it, imported into Security Hub.
async fn group_with_finding(ec2: &aws_sdk_ec2::Client) -> (String, Value) {
    let vpc = create_vpc(ec2, "10.4.0.0/16").await;
    let group = create_group(ec2, &vpc, &unique("finding"), &[]).await;
    ec2.authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(tcp(22, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let mut ev = sample("aws.securityhub-EC2.19-high-risk-port-open.json");
    ev["id"] = json!(unique("sh"));
    let f = &mut ev["detail"]["findings"][0];
    f["Id"] = json!(format!(
        "arn:aws:securityhub:us-east-1:{ACCOUNT}:security-control/EC2.19/finding/{}",
        unique("f")
    ));
    f["Resources"][0]["Id"] = json!(format!(
        "arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{group}"
    ));
    f["Resources"][0]["Details"]["AwsEc2SecurityGroup"]["GroupId"] = json!(group);
    let imported = securityhub_json("/findings/import", &json!({"Findings": [f.clone()]}));
    assert_eq!(imported["SuccessCount"], 1, "{imported}");
    (group, ev)
}

/// revert-security-group with its Security Hub client reaching moto through the proxy.
fn finding_deps(
    sdk: &aws_config::SdkConfig,
    proxy: &AwsProxy,
    policy: &str,
    topic: Option<String>,
) -> trailguard_aws::Deps<
    trailguard_aws::Home<impl trailguard_aws::Clients>,
    trailguard_aws::Notifier,
> {
    // Set on the client's own configuration: AWS_ENDPOINT_URL (moto) would win over an
    // endpoint on the shared one.
    let securityhub = aws_sdk_securityhub::Client::from_conf(
        aws_sdk_securityhub::config::Builder::from(sdk)
            .endpoint_url(&proxy.url)
            .build(),
    );
    use trailguard_aws::Unwired as U;
    let clients = five_clients(aws_sdk_ec2::Client::new(sdk), U, U, U, securityhub);
    deps_telling(sdk, "revert-security-group", policy, topic, clients)
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_finding_acted_on_is_marked_resolved_with_its_undo_command_and_its_copy_ignored() {
    let sdk = sdk().await;
    let proxy = AwsProxy::start();
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let (group, ev) = group_with_finding(&ec2).await;
    let id = ev["detail"]["findings"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let (topic, queue) = topic_with_queue(&sdk).await;
    let deps = finding_deps(&sdk, &proxy, "{}", Some(topic));

    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert!(ingress(&ec2, &group).await.is_empty());
    assert_eq!(r["finding"]["workflow_status"], "RESOLVED", "{r}");
    assert_eq!(r["finding"]["outcome"], "updated", "{r}");
    let (status, note) = finding_now(&id);
    assert_eq!(status, "RESOLVED");
    let undo = r["actions"][0]["undo"]["command"].as_str().unwrap();
    let text = note["Text"].as_str().unwrap();
    assert!(
        text.starts_with("trailguard revert-security-group remediated it: 1. "),
        "{text}"
    );
    assert!(text.ends_with(&format!("Undo: {undo}")), "{text}\n{undo}");
    assert_eq!(note["UpdatedBy"], "trailguard/revert-security-group");
    let msgs = drain(&sdk, &queue).await;
    assert!(
        msgs[0].contains(&format!("finding {id} marked RESOLVED")),
        "{}",
        msgs[0]
    );

    // Security Hub sends the updated finding again: it is closed, nothing more is done.
    let again = process(&deps, sent_again(&ev, &id)).await.unwrap();
    assert_eq!(again["decision"], "ignore", "{again}");
    assert!(again.get("finding").is_none(), "{again}");
    // Delivered again as it first came: the group is as the policy wants now, nothing is
    // done or written, and the finding stays RESOLVED.
    let redelivered = process(&deps, ev).await.unwrap();
    assert_eq!(redelivered["decision"], "ignore", "{redelivered}");
    assert!(redelivered.get("finding").is_none(), "{redelivered}");
    assert_eq!(finding_now(&id).0, "RESOLVED");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_finding_people_are_told_of_is_notified_once_and_dry_run_writes_nothing() {
    let sdk = sdk().await;
    let proxy = AwsProxy::start();
    let ec2 = aws_sdk_ec2::Client::new(&sdk);

    // Dry-run: the plan is reported, the finding is left as it was.
    let (group, ev) = group_with_finding(&ec2).await;
    let id = ev["detail"]["findings"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let dry = finding_deps(&sdk, &proxy, r#"{"mode": {"default": "dry-run"}}"#, None);
    let r = process(&dry, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
    assert!(r.get("finding").is_none(), "{r}");
    assert_eq!(finding_now(&id).0, "NEW");
    assert_eq!(ingress(&ec2, &group).await.len(), 1);

    // The default group of a VPC allowing traffic (EC2.2): people are told, the finding says
    // so, and its copy, which Security Hub sends after the update, is not told again.
    let mut ev = sample("aws.securityhub-EC2.2-default-group-allows-traffic.json");
    ev["id"] = json!(unique("sh"));
    let id = format!(
        "arn:aws:securityhub:us-east-1:{ACCOUNT}:security-control/EC2.2/finding/{}",
        unique("f")
    );
    ev["detail"]["findings"][0]["Id"] = json!(id);
    let imported = securityhub_json(
        "/findings/import",
        &json!({"Findings": [ev["detail"]["findings"][0].clone()]}),
    );
    assert_eq!(imported["SuccessCount"], 1, "{imported}");
    let deps = finding_deps(&sdk, &proxy, "{}", None);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(r["finding"]["workflow_status"], "NOTIFIED", "{r}");
    let (status, note) = finding_now(&id);
    assert_eq!(status, "NOTIFIED");
    assert!(
        note["Text"]
            .as_str()
            .unwrap()
            .starts_with("trailguard revert-security-group told people: "),
        "{note}"
    );
    let again = process(&deps, sent_again(&ev, &id)).await.unwrap();
    assert_eq!(again["decision"], "ignore", "{again}");
    assert!(
        again["reason"]
            .as_str()
            .unwrap()
            .contains("trailguard's own update"),
        "{again}"
    );
    // The control checked again later (the product's update, newer than the note): people
    // are told again, and the finding, already NOTIFIED, is not written again.
    let mut later = sent_again(&ev, &id);
    later["detail"]["findings"][0]["UpdatedAt"] = json!("2099-01-01T00:00:00.000Z");
    let told = process(&deps, later).await.unwrap();
    assert_eq!(told["decision"], "notify", "{told}");
    assert!(told.get("finding").is_none(), "{told}");

    // A finding Security Hub does not have: reported, the remediation stands.
    let (group, mut ev) = group_with_finding(&ec2).await;
    ev["detail"]["findings"][0]["Id"] = json!(format!(
        "arn:aws:securityhub:us-east-1:{ACCOUNT}:security-control/EC2.19/finding/{}",
        unique("gone")
    ));
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(r["finding"]["outcome"], "not_found", "{r}");
    assert!(ingress(&ec2, &group).await.is_empty());
}
