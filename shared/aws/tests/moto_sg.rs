//! revert-security-group against moto: real EC2 API calls, events built from the real
//! responses, state checked with DescribeSecurityGroupRules afterwards.

mod common;

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
use common::*;
use serde_json::{json, Value};

struct Group {
    id: String,
    ec2: aws_sdk_ec2::Client,
}

async fn group(sdk: &aws_config::SdkConfig, tags: &[(&str, &str)]) -> Group {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let vpc = create_vpc(&ec2, "10.0.0.0/16").await;
    let id = create_group(&ec2, &vpc, &unique("web"), tags).await;
    Group { id, ec2 }
}

fn tcp(port: i32, cidr: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
        .build()
}

/// (rule id, egress, protocol, from, to, cidr) of every rule of the group, sorted.
async fn rules(g: &Group) -> Vec<(String, bool, String, i32, i32, String)> {
    let out = g
        .ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&g.id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut v: Vec<_> = out
        .security_group_rules()
        .iter()
        .map(|r| {
            (
                r.security_group_rule_id().unwrap().to_string(),
                r.is_egress().unwrap(),
                r.ip_protocol().unwrap().to_string(),
                r.from_port().unwrap_or(-1),
                r.to_port().unwrap_or(-1),
                r.cidr_ipv4()
                    .or(r.cidr_ipv6())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    v.sort_by(|a, b| (a.1, a.3, &a.5).cmp(&(b.1, b.3, &b.5)));
    v
}

/// The `securityGroupRuleSet` CloudTrail would record: built from DescribeSecurityGroupRules,
/// because moto's Authorize response lists only the last rule of a multi-rule call.
fn rule_set(g: &Group, rs: &[(String, bool, String, i32, i32, String)], egress: bool) -> Value {
    let items: Vec<Value> = rs
        .iter()
        .filter(|r| r.1 == egress)
        .map(|(id, eg, proto, from, to, cidr)| {
            let mut v = json!({"groupOwnerId": ACCOUNT, "groupId": g.id, "securityGroupRuleId": id, "isEgress": eg, "ipProtocol": proto, "fromPort": from, "toPort": to});
            v[if cidr.contains(':') { "cidrIpv6" } else { "cidrIpv4" }] = json!(cidr);
            v
        })
        .collect();
    json!({"requestId": "r", "_return": true, "securityGroupRuleSet": {"items": items}})
}

fn perms_json(perms: &[(&str, i32, &str)]) -> Value {
    let items: Vec<Value> = perms
        .iter()
        .map(|(proto, port, cidr)| {
            let mut p = json!({"ipProtocol": proto, "groups": {}, "ipRanges": {}, "ipv6Ranges": {}, "prefixListIds": {}});
            if *port >= 0 {
                p["fromPort"] = json!(port);
                p["toPort"] = json!(port);
            }
            p[if cidr.contains(':') { "ipv6Ranges" } else { "ipRanges" }] = json!({"items": [{ if cidr.contains(':') { "cidrIpv6" } else { "cidrIp" }: cidr }]});
            p
        })
        .collect();
    json!({"items": items})
}

/// A group opened to the internet on SSH (which trailguard revokes) and HTTPS (which the
/// default policy allows) in one call: the group, its rules, and the call's event.
async fn ssh_and_https_opened(
    sdk: &aws_config::SdkConfig,
) -> (Group, Vec<(String, bool, String, i32, i32, String)>, Value) {
    let g = group(sdk, &[]).await;
    g.ec2
        .authorize_security_group_ingress()
        .group_id(&g.id)
        .ip_permissions(tcp(22, "0.0.0.0/0"))
        .ip_permissions(tcp(443, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let before = rules(&g).await;
    let event = cloudtrail_event(
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
        json!({"groupId": g.id, "ipPermissions": perms_json(&[("tcp", 22, "0.0.0.0/0"), ("tcp", 443, "0.0.0.0/0")])}),
        rule_set(&g, &before, false),
    );
    (g, before, event)
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn exactly_the_open_rule_is_revoked_and_the_compliant_one_stays() {
    let sdk = sdk().await;
    let (g, before, event) = ssh_and_https_opened(&sdk).await;
    let (topic, queue) = topic_with_queue(&sdk).await;
    let deps = ec2_deps(&sdk, "revert-security-group", "{}", Some(topic));
    let report = process(&deps, event.clone()).await.unwrap();
    assert_eq!(report["actions"][0]["outcome"], "done", "{report}");
    let after = rules(&g).await;
    let ssh_id = before.iter().find(|r| r.3 == 22).unwrap().0.clone();
    assert!(
        !after.iter().any(|r| r.0 == ssh_id),
        "the SSH rule is gone: {after:?}"
    );
    assert!(
        after.iter().any(|r| r.3 == 443 && !r.1),
        "the HTTPS rule stays: {after:?}"
    );
    assert_eq!(after.len(), before.len() - 1);
    let msgs = drain(&sdk, &queue).await;
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].contains("tcp/22 from 0.0.0.0/0") && msgs[0].contains(&g.id),
        "{}",
        msgs[0]
    );

    // Delivered ten more times: same state, no error, reported as already done.
    for _ in 0..10 {
        let r = process(&deps, event.clone()).await.unwrap();
        assert_eq!(r["actions"][0]["outcome"], "already_done", "{r}");
    }
    assert_eq!(rules(&g).await, after);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn legacy_flat_form_ipv6_and_all_protocols() {
    let sdk = sdk().await;
    let g = group(&sdk, &[]).await;
    // The legacy flat form: AuthorizeSecurityGroupIngress with CidrIp/IpProtocol/ports.
    g.ec2
        .authorize_security_group_ingress()
        .group_id(&g.id)
        .cidr_ip("0.0.0.0/0")
        .ip_protocol("tcp")
        .from_port(3389)
        .to_port(3389)
        .send()
        .await
        .unwrap();
    g.ec2
        .authorize_security_group_ingress()
        .group_id(&g.id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    g.ec2
        .authorize_security_group_ingress()
        .group_id(&g.id)
        .ip_permissions(tcp(443, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let deps = ec2_deps(&sdk, "revert-security-group", "{}", None);
    let flat = cloudtrail_event(
        "aws.ec2-AuthorizeSecurityGroupIngress-legacy-flat-form.json",
        json!({"groupId": g.id, "ipPermissions": {}, "cidrIp": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": "3389", "toPort": "3389"}),
        json!({"requestId": "r", "_return": true}),
    );
    let r = process(&deps, flat).await.unwrap();
    assert_eq!(r["actions"][0]["type"], "revoke_security_group_permissions");
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let all = rules(&g).await;
    let v6 = all.iter().find(|x| x.5 == "::/0").unwrap().clone();
    let ev = cloudtrail_event(
        "aws.ec2-AuthorizeSecurityGroupIngress-ipv6-all-protocols.json",
        json!({"groupId": g.id, "ipPermissions": perms_json(&[("-1", -1, "::/0")])}),
        rule_set(&g, std::slice::from_ref(&v6), false),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let after = rules(&g).await;
    assert!(
        !after.iter().any(|x| x.3 == 3389 || x.5 == "::/0"),
        "{after:?}"
    );
    assert!(after.iter().any(|x| x.3 == 443), "{after:?}");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn protected_group_egress_is_reverted_and_removed_rules_come_back() {
    let sdk = sdk().await;
    let g = group(&sdk, &[("trailguard:protected", "true")]).await;
    g.ec2
        .authorize_security_group_egress()
        .group_id(&g.id)
        .ip_permissions(tcp(25, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let all = rules(&g).await;
    let smtp: Vec<_> = all.iter().filter(|x| x.3 == 25).cloned().collect();
    let deps = ec2_deps(&sdk, "revert-security-group", "{}", None);
    let ev = cloudtrail_event(
        "aws.ec2-AuthorizeSecurityGroupEgress-protected-group.json",
        json!({"groupId": g.id, "ipPermissions": perms_json(&[("tcp", 25, "0.0.0.0/0")])}),
        rule_set(&g, &smtp, true),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert!(!rules(&g).await.iter().any(|x| x.3 == 25));

    // Someone removes the HTTPS-from-the-office rule of the protected group: it comes back.
    g.ec2
        .authorize_security_group_ingress()
        .group_id(&g.id)
        .ip_permissions(tcp(443, "10.20.0.0/16"))
        .send()
        .await
        .unwrap();
    let https: Vec<_> = rules(&g).await.into_iter().filter(|x| x.3 == 443).collect();
    g.ec2
        .revoke_security_group_ingress()
        .group_id(&g.id)
        .ip_permissions(tcp(443, "10.20.0.0/16"))
        .send()
        .await
        .unwrap();
    // CloudTrail's record lists the removed rule in `revokedSecurityGroupRuleSet`.
    let removed = rule_set(&g, &https, false)["securityGroupRuleSet"].clone();
    let ev = cloudtrail_event(
        "aws.ec2-RevokeSecurityGroupIngress-protected-group.json",
        json!({"groupId": g.id, "ipPermissions": perms_json(&[("tcp", 443, "10.20.0.0/16")])}),
        json!({"_return": true, "revokedSecurityGroupRuleSet": removed}),
    );
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert!(rules(&g)
        .await
        .iter()
        .any(|x| x.3 == 443 && x.5 == "10.20.0.0/16"));
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "already_done", "{r}");
}

/// The AuthorizeSecurityGroup* requests moto recorded for `group`.
fn authorizations_of(group: &str) -> Vec<String> {
    recorded_requests()
        .into_iter()
        .filter(|r| r.action.starts_with("AuthorizeSecurityGroup") && r.body.contains(group))
        .map(|r| r.body)
        .collect()
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_revoke_of_a_rule_a_protected_group_never_had_opens_nothing() {
    // Issue 22, attack 2: revoke "all traffic from anywhere" on a protected group that never
    // had it. EC2 answers success and lists it in `unknownIpPermissionSet`; trailguard used to
    // authorise what the request named.
    let sdk = sdk().await;
    let g = group(&sdk, &[("trailguard:protected", "true")]).await;
    g.ec2
        .authorize_security_group_ingress()
        .group_id(&g.id)
        .ip_permissions(tcp(443, "10.20.0.0/16"))
        .send()
        .await
        .unwrap();
    let before = rules(&g).await;
    let all = json!({"items": [{"ipProtocol": "-1", "groups": {}, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]});
    let ev = cloudtrail_event(
        "aws.ec2-RevokeSecurityGroupIngress-protected-unknown-permission.json",
        json!({"groupId": g.id, "ipPermissions": all}),
        json!({"requestId": "r", "_return": true, "unknownIpPermissionSet": all}),
    );
    let (topic, queue) = topic_with_queue(&sdk).await;
    let deps = ec2_deps(&sdk, "revert-security-group", "{}", Some(topic));

    moto_api("POST", "/moto-api/recorder/start-recording");
    let r = process(&deps, ev.clone()).await.unwrap();
    let again = process(&deps, ev).await.unwrap();
    moto_api("POST", "/moto-api/recorder/stop-recording");
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(r["actions"], json!([]), "{r}");
    assert_eq!(again["actions"], json!([]), "{again}");
    assert_eq!(authorizations_of(&g.id), Vec::<String>::new());
    // The recorder did record this test's calls: the lookup of the group's tags.
    assert!(
        recorded_requests()
            .iter()
            .any(|r| r.action == "DescribeSecurityGroups" && r.body.contains(&g.id)),
        "the recording holds the group lookup"
    );
    assert_eq!(rules(&g).await, before, "the group's rules are unchanged");
    assert!(
        !rules(&g).await.iter().any(|x| x.2 == "-1" && !x.1),
        "no all-traffic ingress rule"
    );
    let msgs = drain(&sdk, &queue).await;
    assert!(
        msgs.iter()
            .any(|m| m.contains(&g.id) && m.contains("unknown")),
        "{msgs:?}"
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn dry_run_own_role_and_exempt_principal_change_nothing() {
    let sdk = sdk().await;
    let g = group(&sdk, &[]).await;
    g.ec2
        .authorize_security_group_ingress()
        .group_id(&g.id)
        .ip_permissions(tcp(22, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let before = rules(&g).await;
    let ssh: Vec<_> = before.iter().filter(|x| x.3 == 22).cloned().collect();
    let req = json!({"groupId": g.id, "ipPermissions": perms_json(&[("tcp", 22, "0.0.0.0/0")])});
    let dry = ec2_deps(
        &sdk,
        "revert-security-group",
        r#"{"mode": {"default": "dry-run"}}"#,
        None,
    );
    let r = process(
        &dry,
        cloudtrail_event(
            "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
            req.clone(),
            rule_set(&g, &ssh, false),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r["actions"][0]["outcome"], "dry_run");
    let enforce = ec2_deps(
        &sdk,
        "revert-security-group",
        r#"{"exempt_principals": ["arn:aws:iam::*:role/BreakGlassAdmin"]}"#,
        None,
    );
    for template in [
        "aws.ec2-AuthorizeSecurityGroupIngress-own-role.json",
        "aws.ec2-AuthorizeSecurityGroupIngress-exempt-principal.json",
    ] {
        let r = process(
            &enforce,
            cloudtrail_event(template, req.clone(), rule_set(&g, &ssh, false)),
        )
        .await
        .unwrap();
        assert_eq!(r["decision"], "ignore", "{template}: {r}");
    }
    assert_eq!(rules(&g).await, before);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_group_named_only_by_name_is_resolved() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    // EC2 takes group names only in the default VPC, which is where such events come from.
    let name = unique("legacy");
    let id = ec2
        .create_security_group()
        .group_name(&name)
        .description("legacy")
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    ec2.authorize_security_group_ingress()
        .group_name(&name)
        .ip_permissions(tcp(5432, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let g = Group {
        id: id.clone(),
        ec2,
    };
    let ev = cloudtrail_event(
        "aws.ec2-AuthorizeSecurityGroupIngress-group-name-only.json",
        json!({"groupName": name, "ipPermissions": perms_json(&[("tcp", 5432, "0.0.0.0/0")])}),
        json!({"requestId": "r", "_return": true}),
    );
    let deps = ec2_deps(&sdk, "revert-security-group", "{}", None);
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["group_id"], id.as_str(), "{r}");
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert!(!rules(&g).await.iter().any(|x| x.3 == 5432));
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_notice_names_the_account_by_its_alias() {
    let sdk = sdk().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    // The account keeps this alias for the rest of the run; no other test reads it.
    iam.create_account_alias()
        .account_alias("trailguard-moto-tests")
        .send()
        .await
        .unwrap();
    let g = group(&sdk, &[]).await;
    g.ec2
        .authorize_security_group_ingress()
        .group_id(&g.id)
        .ip_permissions(tcp(22, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let before = rules(&g).await;
    let event = cloudtrail_event(
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
        json!({"groupId": g.id, "ipPermissions": perms_json(&[("tcp", 22, "0.0.0.0/0")])}),
        rule_set(&g, &before, false),
    );
    let (topic, queue) = topic_with_queue(&sdk).await;
    let deps = trailguard_aws::Deps {
        connect: trailguard_aws::Home(std::sync::Arc::new(
            trailguard_aws::Sdk::none()
                .with_account_alias(&sdk)
                .with_ec2(&sdk),
        )),
        notify: notifier(&sdk, Some(topic.clone())),
        settings: settings("revert-security-group", "{}", Some(topic)),
        clock: trailguard_aws::system_clock,
    };
    let report = process(&deps, event.clone()).await.unwrap();
    assert_eq!(report["actions"][0]["outcome"], "done", "{report}");
    assert_eq!(report["event"]["account_alias"], "trailguard-moto-tests");
    let msgs = drain(&sdk, &queue).await;
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].contains("account 123456789012 (alias trailguard-moto-tests), us-east-1"),
        "{}",
        msgs[0]
    );
}

/// The rules without their ids: a rule put back is a new rule with a new id.
fn opened(
    rs: &[(String, bool, String, i32, i32, String)],
) -> Vec<(bool, String, i32, i32, String)> {
    rs.iter()
        .map(|(_, e, p, f, t, c)| (*e, p.clone(), *f, *t, c.clone()))
        .collect()
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn undo_puts_back_exactly_the_revoked_rule_and_refuses_once_the_group_is_gone() {
    let sdk = sdk().await;
    let (g, before, event) = ssh_and_https_opened(&sdk).await;
    let deps = ec2_deps(&sdk, "revert-security-group", "{}", None);
    let report = process(&deps, event.clone()).await.unwrap();
    assert_eq!(report["actions"][0]["outcome"], "done", "{report}");
    assert_eq!(
        report["actions"][0]["reversal"]["call"], "authorize_security_group",
        "{report}"
    );
    let remediated = rules(&g).await;
    assert_eq!(remediated.len(), before.len() - 1);

    // A dry run checks and names the calls, and changes nothing.
    let planned = undo(&sdk, &report, true).await;
    assert_eq!(undo_outcomes(&planned), ["would_run"], "{planned}");
    assert_eq!(
        planned["steps"][0]["calls"],
        json!([
            "DescribeSecurityGroups",
            "DescribeSecurityGroupRules",
            "AuthorizeSecurityGroupIngress"
        ])
    );
    assert_eq!(rules(&g).await, remediated);

    let undone = undo(&sdk, &report, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(
        opened(&rules(&g).await),
        opened(&before),
        "back exactly as before"
    );
    // Run again: already undone, and nothing more is opened.
    let again = undo(&sdk, &report, false).await;
    assert_eq!(undo_outcomes(&again), ["already_undone"], "{again}");
    assert_eq!(opened(&rules(&g).await), opened(&before));

    // Opened again (the rule put back has a new id, so a new event), remediated again, then
    // the group is deleted: the undo is refused, naming why.
    let event = cloudtrail_event(
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
        json!({"groupId": g.id, "ipPermissions": perms_json(&[("tcp", 22, "0.0.0.0/0")])}),
        rule_set(&g, &rules(&g).await, false),
    );
    let report = process(&deps, event).await.unwrap();
    assert_eq!(report["actions"][0]["outcome"], "done", "{report}");
    g.ec2
        .delete_security_group()
        .group_id(&g.id)
        .send()
        .await
        .unwrap();
    let refused = undo(&sdk, &report, false).await;
    assert_eq!(undo_outcomes(&refused), ["refused"], "{refused}");
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|r| r.contains("no longer exists")),
        "{refused}"
    );
}

/// An "Approve Plan" event as `trailguard approve` puts it on the manual-trigger bus, with
/// the digest of the plan the ledger keeps now.
async fn approval_of(
    ledger: &aws_sdk_dynamodb::Client,
    table: &str,
    plan: &str,
    by: &str,
) -> Value {
    use trailguard_aws::LedgerPort;
    let kept = ledger
        .kept_plan(table, &format!("plan#{plan}"))
        .await
        .unwrap()
        .expect("a kept plan");
    json!({
        "version": "0", "id": unique("approval"), "detail-type": "Approve Plan",
        "source": "trailguard", "account": ACCOUNT, "time": "2026-11-18T11:10:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {"planId": plan, "function": "revert-security-group", "requestedBy": by,
                   "planDigest": trailguard_aws::approve::plan_digest(&kept.plan)},
    })
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn mode_approve_keeps_the_plan_in_dynamodb_and_acts_only_once_approved() {
    use trailguard_aws::LedgerPort;
    let sdk = sdk().await;
    let table = create_ledger_table(&sdk).await;
    let ledger = aws_sdk_dynamodb::Client::new(&sdk);
    let (topic, queue) = topic_with_queue(&sdk).await;
    let policy = r#"{"mode": {"security_group": "approve"}, "manual_trigger": true}"#;
    let mut deps = deps_telling(
        &sdk,
        "revert-security-group",
        policy,
        Some(topic),
        trailguard_aws::Sdk::none().with_ec2(&sdk).with_ledger(&sdk),
    );
    deps.settings.ledger_table = Some(table.clone());

    // The event: planned and kept, nothing revoked.
    let (g, before, event) = ssh_and_https_opened(&sdk).await;
    let r = process(&deps, event.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "awaiting_approval", "{r}");
    assert_eq!(r["approval"]["state"], "waiting", "{r}");
    let plan = r["approval"]["plan_id"].as_str().unwrap().to_string();
    assert_eq!(rules(&g).await, before, "nothing changed before approval");
    let kept = ledger
        .kept_plan(&table, &format!("plan#{plan}"))
        .await
        .unwrap()
        .expect("the plan is in the table");
    assert_eq!(kept.state, "waiting");
    let waiting = drain(&sdk, &queue).await;
    assert!(
        waiting.iter().any(
            |m| m.contains("once a person approves (nothing was changed yet)")
                && m.contains(&format!("To act:       trailguard approve {plan}"))
        ),
        "{waiting:?}"
    );
    // Delivered again: the same plan, still waiting.
    let again = process(&deps, event.clone()).await.unwrap();
    assert_eq!(again["approval"]["plan_id"], plan.as_str());
    assert_eq!(again["approval"]["approve_by"], r["approval"]["approve_by"]);

    // Approved: exactly the SSH rule goes, once.
    let alice = "arn:aws:iam::123456789012:user/alice";
    let done = process(&deps, approval_of(&ledger, &table, &plan, alice).await)
        .await
        .unwrap();
    assert_eq!(done["actions"][0]["outcome"], "done", "{done}");
    assert_eq!(done["approval"]["state"], "approved");
    assert_eq!(done["approval"]["by"], alice);
    let after = rules(&g).await;
    assert_eq!(after.len(), before.len() - 1, "{after:?}");
    assert!(after.iter().all(|r| r.3 != 22) && after.iter().any(|r| r.3 == 443));
    let kept = ledger
        .kept_plan(&table, &format!("plan#{plan}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.state.as_str(), kept.by.as_deref()),
        ("approved", Some(alice))
    );
    let twice = process(&deps, approval_of(&ledger, &table, &plan, alice).await)
        .await
        .unwrap();
    assert_eq!(twice["actions"][0]["outcome"], "already_done", "{twice}");

    // Another group: the plan rejected in DynamoDB first, then an approval does nothing.
    let (g2, before2, event2) = ssh_and_https_opened(&sdk).await;
    let r2 = process(&deps, event2).await.unwrap();
    let plan2 = r2["approval"]["plan_id"].as_str().unwrap().to_string();
    let key2 = format!("plan#{plan2}");
    let now = trailguard_aws::system_clock();
    let bob = "arn:aws:iam::123456789012:user/bob";
    // Past its time, a waiting plan cannot be settled (DynamoDB's condition, not the code's).
    let late = now + 3 * 3600;
    assert!(!ledger
        .settle_plan(&table, &key2, "waiting", "approved", bob, late)
        .await
        .unwrap());
    assert!(ledger
        .settle_plan(&table, &key2, "waiting", "rejected", bob, now)
        .await
        .unwrap());
    assert!(!ledger
        .settle_plan(&table, &key2, "waiting", "approved", alice, now)
        .await
        .unwrap());
    drain(&sdk, &queue).await;
    let refused = process(&deps, approval_of(&ledger, &table, &plan2, alice).await)
        .await
        .unwrap();
    assert_eq!(refused["approval"]["state"], "rejected", "{refused}");
    assert_eq!(refused["approval"]["by"], bob);
    assert_eq!(rules(&g2).await, before2, "a rejected plan changes nothing");
    let told = drain(&sdk, &queue).await;
    assert!(
        told.iter()
            .any(|m| m.contains(&format!("plan {plan2} was rejected by {bob}"))),
        "{told:?}"
    );
}
