//! API calls per remediation, counted at moto's recorder. Alone in its test binary so no
//! other test's calls are recorded.

mod common;

use common::*;
use serde_json::json;

/// moto's recorder is one for the server: the tests here record one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Run `f` with moto's recorder on: its result and the (service, action) of every request
/// moto recorded meanwhile.
async fn recording<T>(f: impl std::future::Future<Output = T>) -> (T, Vec<(String, String)>) {
    moto_api("POST", "/moto-api/recorder/reset-recording");
    moto_api("POST", "/moto-api/recorder/start-recording");
    let out = f.await;
    moto_api("POST", "/moto-api/recorder/stop-recording");
    let calls = recorded_requests()
        .into_iter()
        .map(|r| (r.service, r.action))
        .collect();
    (out, calls)
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn one_ec2_call_to_revert_and_one_iam_mutation_per_key() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    // Set up outside the recording.
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.2.0.0/16").await;
    let gid = create_group(&ec2, &vpc, &unique("count"), &[]).await;
    let out = ec2
        .authorize_security_group_ingress()
        .group_id(&gid)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let rule_id = out.security_group_rules()[0]
        .security_group_rule_id()
        .unwrap()
        .to_string();
    let (topic, _queue) = topic_with_queue(&sdk).await;
    let mut ev = sample("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json");
    ev["detail"]["requestParameters"] = json!({"groupId": gid, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}});
    ev["detail"]["responseElements"] = json!({"_return": true, "securityGroupRuleSet": {"items": [{"groupId": gid, "securityGroupRuleId": rule_id, "isEgress": false, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}});
    let no_tags = r#"{"exempt_tag": "", "protected_tag": ""}"#;
    let deps = ec2_deps(&sdk, "revert-security-group", no_tags, Some(topic.clone()));

    let (r, calls) = recording(process(&deps, ev)).await;
    let r = r.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let actions: Vec<&str> = calls.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["RevokeSecurityGroupIngress", "Publish"],
        "{calls:?}"
    );

    // A key whose user the event names: one mutating IAM call for the key (UpdateAccessKey),
    // after one read (ListAccessKeys); with sessions and tagging on, one call each more.
    let iam = aws_sdk_iam::Client::new(&sdk);
    let (user, keys) = create_user_with_keys(&iam, "carol", 1).await;
    let key = &keys[0];
    let mut gd = sample("aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-high.json");
    gd["detail"]["resource"]["accessKeyDetails"] =
        json!({"accessKeyId": key, "userName": user, "userType": "IAMUser"});
    let kd = key_deps(&sdk, "{}", Some(topic));
    let (r, calls) = recording(process(&kd, gd)).await;
    r.unwrap();
    let actions: Vec<&str> = calls
        .iter()
        .map(|(_, a)| a.as_str())
        .filter(|a| *a != "LookupEvents")
        .collect();
    assert_eq!(
        actions,
        [
            "ListAccessKeys",
            "UpdateAccessKey",
            "PutUserPolicy",
            "TagUser",
            "Publish"
        ],
        "{calls:?}"
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn one_network_acl_read_and_one_delete_per_entry_event() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.3.0.0/16").await;
    // Without exemption or protection tags the decision reads nothing and the one read is
    // the function's own before the delete (it proves the entry is still the event's). With
    // the default tags the decision reads the ACL, and that read is the one the delete takes.
    for (policy, number) in [
        (r#"{"exempt_tag": "", "protected_tag": ""}"#, 90),
        ("{}", 91),
    ] {
        let acl = create_acl(&ec2, &vpc).await;
        allow_tcp_entry(&ec2, &acl, number, "0.0.0.0/0", (22, 22)).await;
        let mut ev = sample("aws.ec2-CreateNetworkAclEntry-open-ssh.json");
        ev["detail"]["requestParameters"]["networkAclId"] = json!(acl);
        ev["detail"]["requestParameters"]["ruleNumber"] = json!(number);
        let deps = ec2_deps(&sdk, "revert-network-acl", policy, None);
        let (r, calls) = recording(process(&deps, ev.clone())).await;
        let r = r.unwrap();
        assert_eq!(r["actions"][0]["outcome"], "done", "{policy}: {r}");
        let actions: Vec<&str> = calls.iter().map(|(_, a)| a.as_str()).collect();
        assert_eq!(
            actions,
            ["DescribeNetworkAcls", "DeleteNetworkAclEntry"],
            "{policy}: {calls:?}"
        );
        // Delivered again: the one read finds the entry gone, and nothing is deleted.
        let (r, calls) = recording(process(&deps, ev)).await;
        let r = r.unwrap();
        assert_eq!(r["actions"][0]["outcome"], "already_done", "{policy}: {r}");
        let actions: Vec<&str> = calls.iter().map(|(_, a)| a.as_str()).collect();
        assert_eq!(actions, ["DescribeNetworkAcls"], "{policy}: {calls:?}");
    }
}
