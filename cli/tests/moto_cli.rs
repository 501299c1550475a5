//! The commands that talk to AWS, as a user runs them (the real `trailguard` binary),
//! against moto: the manual trigger reaches disable-compromised-key only through the
//! dedicated bus, and `breaker reset` closes a breaker.

#[path = "../../shared/aws/tests/common/mod.rs"]
mod common;

use std::process::Command;

use common::*;
use serde_json::Value;
use trailguard_aws::{LedgerPort, Sdk, Slot};
use trailguard_rules::guards::Bus;
use trailguard_rules::Guard;

fn trailguard(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A queue that receives whatever the rules on `bus` deliver for `patterns`.
async fn rules_to_queue(sdk: &aws_config::SdkConfig, bus: &str, patterns: &[Value]) -> String {
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let name = unique("routed");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}");
    for (i, p) in patterns.iter().enumerate() {
        let rule = format!("{name}-{i}");
        events
            .put_rule()
            .name(&rule)
            .event_bus_name(bus)
            .event_pattern(p.to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule(&rule)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("q")
                    .arn(&arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    url
}

/// Every rule the key function has on one bus, as the code declares it.
fn key_patterns(bus: Bus) -> Vec<Value> {
    let g = Guard::from_function_name("disable-compromised-key").unwrap();
    g.spec()
        .triggers
        .iter()
        .filter(|t| t.bus == bus && !t.pattern.contains("{{"))
        .map(|t| t.pattern_json())
        .collect()
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_manual_trigger_works_only_on_its_own_bus_and_disables_exactly_that_key() {
    let sdk = sdk().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let (user, keys) = create_user_with_keys(&iam, "bob", 2).await;
    let bus = unique("trailguard-manual-trigger");
    aws_sdk_eventbridge::Client::new(&sdk)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap();
    let on_default = rules_to_queue(&sdk, "default", &key_patterns(Bus::Main)).await;
    let on_manual = rules_to_queue(&sdk, &bus, &key_patterns(Bus::ManualTrigger)).await;

    // Put on the default bus (what anyone with events:PutEvents could do): nothing takes it.
    let (ok, out, err) = trailguard(&[
        "disable-key",
        "--access-key-id",
        &keys[0],
        "--reason",
        "INC-1: pasted in chat",
        "--bus",
        "default",
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        drain(&sdk, &on_default).await.is_empty(),
        "the default bus delivered it"
    );

    // Put on the dedicated bus: the key function's rule delivers it, and it contains that key.
    let (ok, out, err) = trailguard(&[
        "disable-key",
        "--access-key-id",
        &keys[0],
        "--reason",
        "INC-1: pasted in chat",
        "--bus",
        &bus,
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("will disable {} of {user}", keys[0])),
        "{out}"
    );
    let delivered = drain(&sdk, &on_manual).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let event: Value = serde_json::from_str(&delivered[0]).unwrap();
    assert_eq!(event["detail"]["reason"], "INC-1: pasted in chat");
    // A stack deployed without a manual trigger does not honour the request, however it
    // reached the function (a direct invocation): the key stays as it is.
    let without = deps_with(
        &sdk,
        "disable-compromised-key",
        r#"{"revoke_sessions": false, "tag_users": false, "key_activity_hours": 0}"#,
        Sdk::none().with_iam(&sdk).with_cloudtrail(&sdk),
    );
    let r = process(&without, event.clone()).await.unwrap();
    assert_eq!(r["decision"], "ignore", "{r}");
    assert!(r["actions"].as_array().unwrap().is_empty(), "{r}");
    let deps = deps_with(
        &sdk,
        "disable-compromised-key",
        r#"{"manual_trigger": true, "revoke_sessions": false, "tag_users": false, "key_activity_hours": 0}"#,
        Sdk::none().with_iam(&sdk).with_cloudtrail(&sdk),
    );
    let r = process(&deps, event).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let status = |k: &str| {
        let (iam, user, k) = (iam.clone(), user.clone(), k.to_string());
        async move {
            iam.list_access_keys()
                .user_name(user)
                .send()
                .await
                .unwrap()
                .access_key_metadata()
                .iter()
                .find(|m| m.access_key_id() == Some(&k))
                .and_then(|m| m.status().map(|s| s.as_str().to_string()))
                .unwrap()
        }
    };
    assert_eq!(status(&keys[0]).await, "Inactive");
    assert_eq!(status(&keys[1]).await, "Active");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_manual_trigger_refuses_bad_input_clearly() {
    let _sdk = sdk().await;
    let (ok, _, err) = trailguard(&[
        "disable-key",
        "--access-key-id",
        "AKIA5EXAMPLENOSUCH1",
        "--reason",
        "test",
        "--bus",
        "default",
    ]);
    assert!(!ok);
    assert!(
        err.contains("no access key AKIA5EXAMPLENOSUCH1 in this account"),
        "{err}"
    );
    let (ok, _, err) = trailguard(&[
        "disable-key",
        "--access-key-id",
        "AKIA...",
        "--reason",
        "x",
        "--bus",
        "b",
    ]);
    assert!(!ok && err.contains("is not an access key id"), "{err}");
    let (ok, _, err) = trailguard(&[
        "disable-key",
        "--access-key-id",
        "AKIA5EXAMPLENOSUCH1",
        "--bus",
        "b",
    ]);
    assert!(!ok && err.contains("--reason is required"), "{err}");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn breaker_reset_lets_the_guard_act_again() {
    let sdk = sdk().await;
    let table = create_ledger_table(&sdk).await;
    let ledger = aws_sdk_dynamodb::Client::new(&sdk);
    let now = trailguard_aws::system_clock() * 1000;
    // One breaker per guard and account: moto's own account (the caller's), and another.
    let here = "security_group@123456789012";
    let there = "security_group@210987654321";
    for scope in [here, there] {
        for i in 0..3 {
            ledger
                .take_slot(
                    &table,
                    scope,
                    "arn:aws:iam::123456789012:user/ci",
                    3,
                    now + i,
                )
                .await
                .unwrap();
        }
        assert!(matches!(
            ledger
                .take_slot(
                    &table,
                    scope,
                    "arn:aws:iam::123456789012:user/ci",
                    3,
                    now + 10
                )
                .await
                .unwrap(),
            Slot::Refused { first: true, .. }
        ));
    }
    // Without --account: the caller's own account's breaker.
    let (ok, out, err) = trailguard(&[
        "breaker",
        "reset",
        "--guard",
        "security_group",
        "--table",
        &table,
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("breaker of security_group in 123456789012 closed"),
        "{out}"
    );
    assert_eq!(
        ledger
            .take_slot(
                &table,
                here,
                "arn:aws:iam::123456789012:user/ci",
                3,
                now + 20
            )
            .await
            .unwrap(),
        Slot::Granted { count: 1 }
    );
    // The other account's breaker is still open, until it is reset by name.
    assert!(matches!(
        ledger
            .take_slot(
                &table,
                there,
                "arn:aws:iam::123456789012:user/ci",
                3,
                now + 21
            )
            .await
            .unwrap(),
        Slot::Refused { first: false, .. }
    ));
    let (ok, out, err) = trailguard(&[
        "breaker",
        "reset",
        "--guard",
        "security_group",
        "--account",
        "210987654321",
        "--table",
        &table,
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("in 210987654321 closed"), "{out}");
    assert_eq!(
        ledger
            .take_slot(
                &table,
                there,
                "arn:aws:iam::123456789012:user/ci",
                3,
                now + 22
            )
            .await
            .unwrap(),
        Slot::Granted { count: 1 }
    );
    let (ok, _, err) = trailguard(&[
        "breaker",
        "reset",
        "--guard",
        "security_group",
        "--account",
        "42",
        "--table",
        &table,
    ]);
    assert!(!ok && err.contains("--account: `42`"), "{err}");
    let (ok, _, err) = trailguard(&["breaker", "reset", "--guard", "nope", "--table", &table]);
    assert!(!ok && err.contains("no guard `nope`"), "{err}");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn undo_from_the_report_file_puts_a_contained_user_back_and_only_in_its_account() {
    let sdk = sdk().await;
    let u = user_with_two_keys(&sdk).await;
    let before = user_state(&u).await;
    let mut event: Value = serde_json::from_str(include_str!(
        "../../events/aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json"
    ))
    .unwrap();
    event["id"] = serde_json::json!(unique("health"));
    event["detail"]["affectedEntities"] = serde_json::json!([{"entityValue": u.key1, "tags": {}}]);
    // Through the ledger, as deployed: each action's claim is in the report.
    let table = create_ledger_table(&sdk).await;
    let mut deps = deps_with(
        &sdk,
        "disable-compromised-key",
        "{}",
        Sdk::none()
            .with_iam(&sdk)
            .with_cloudtrail(&sdk)
            .with_ledger(&sdk),
    );
    deps.settings.ledger_table = Some(table.clone());
    let report = process(&deps, event.clone()).await.unwrap();
    assert_eq!(status(&u, &u.key1).await, "Inactive", "{report}");
    assert!(
        report["actions"][0]["ledger_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("claim#")),
        "{report}"
    );
    let contained = user_state(&u).await;
    let dir = std::env::temp_dir().join(unique("undo"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.json");
    std::fs::write(&file, report.to_string()).unwrap();
    let path = file.to_str().unwrap();

    // --dry-run prints the calls and changes nothing.
    // Without the ledger, the report cannot be checked: refused unless asked.
    let (ok, _, err) = trailguard(&["undo", "--report", path]);
    assert!(!ok && err.contains("--table is required"), "{err}");
    let (ok, out, err) = trailguard(&["undo", "--report", path, "--table", &table, "--dry-run"]);
    assert!(ok, "{out}{err}");
    let planned: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(planned["dry_run"], true);
    assert!(
        out.contains("UpdateAccessKey") && out.contains("would_run"),
        "{out}"
    );
    assert_eq!(user_state(&u).await, contained);

    // A report of another account is refused before anything is read there.
    let mut foreign = report.clone();
    foreign["event"]["account"] = serde_json::json!("210987654321");
    foreign["connection"] = Value::Null;
    let other = dir.join("foreign.json");
    std::fs::write(&other, foreign.to_string()).unwrap();
    let (ok, out, err) = trailguard(&["undo", "--report", other.to_str().unwrap(), "--unverified"]);
    assert!(
        !ok && err.contains("credentials of 210987654321"),
        "{out}{err}"
    );
    assert_eq!(user_state(&u).await, contained);

    // A forged report: the same claims, but a reversal that would activate another key.
    // The ledger holds what the function recorded: refused, and nothing changes.
    let mut forged = report.clone();
    forged["actions"][0]["reversal"]["with"]["access_key_id"] = serde_json::json!(u.key2);
    let forged_file = dir.join("forged.json");
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let (ok, out, err) = trailguard(&[
        "undo",
        "--report",
        forged_file.to_str().unwrap(),
        "--table",
        &table,
    ]);
    assert!(
        !ok && out.contains("not the one the ledger holds"),
        "{out}{err}"
    );
    assert_eq!(user_state(&u).await, contained);

    // A report that moves the same claims to another region is refused.
    let mut moved = report.clone();
    moved["event"]["region"] = serde_json::json!("eu-west-1");
    moved["connection"] = Value::Null;
    let moved_file = dir.join("moved.json");
    std::fs::write(&moved_file, moved.to_string()).unwrap();
    let (ok, out, err) = trailguard(&[
        "undo",
        "--report",
        moved_file.to_str().unwrap(),
        "--table",
        &table,
    ]);
    assert!(!ok && out.contains("not the report's"), "{out}{err}");
    assert_eq!(user_state(&u).await, contained);

    // By the event's id: the report the function kept in the ledger. Who undid what is
    // recorded there and told to the topic.
    let event_id = event["id"].as_str().unwrap().to_string();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let key = trailguard_aws::ledger::report_key(&event_id, "disable-compromised-key");
    let kept = dynamodb.kept_reports(&table, &key).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    // Another function acted on the same event (EventBridge gives every target the same
    // id): each keeps its own, and the undo names the one it undoes.
    let mut other: Value = serde_json::from_str(&kept[0]).unwrap();
    other["function"] = serde_json::json!("guard-iam");
    let other_key = trailguard_aws::ledger::report_key(&event_id, "guard-iam");
    dynamodb
        .keep_report(
            &table,
            &other_key,
            &other.to_string(),
            trailguard_aws::system_clock() + 3600,
        )
        .await
        .unwrap();
    let (ok, out, err) = trailguard(&["undo", "--event-id", &event_id, "--table", &table]);
    assert!(
        !ok && err.contains("2 functions acted on it (disable-compromised-key, guard-iam)"),
        "{out}{err}"
    );
    assert_eq!(user_state(&u).await, contained);
    let (topic, queue) = topic_with_queue(&sdk).await;
    let (ok, out, err) = trailguard(&["undo", "--event-id", "no-such-event", "--table", &table]);
    assert!(
        !ok && err.contains("keeps no report of this event"),
        "{out}{err}"
    );
    let (ok, out, err) = trailguard(&[
        "undo",
        "--event-id",
        &event_id,
        "--function",
        "disable-compromised-key",
        "--table",
        &table,
        "--topic",
        &topic,
    ]);
    assert!(ok, "{out}{err}");
    let undone: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(undone["recorded"], true, "{out}");
    assert_eq!(undone["told"], topic.as_str(), "{out}");
    let told = drain(&sdk, &queue).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains(&format!("undid the remediation of event {event_id}"))
            && told[0].contains("deactivate_access_key"),
        "{}",
        told[0]
    );
    let item = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(key.clone()),
        )
        .send()
        .await
        .unwrap();
    let records = item.item().unwrap()["undone"].as_l().unwrap();
    assert_eq!(records.len(), 1);
    let record: Value = serde_json::from_str(records[0].as_s().unwrap()).unwrap();
    assert_eq!(record["undone_by"], undone["undone_by"]);
    assert!(
        undone["undone_by"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:")),
        "{out}"
    );
    assert_eq!(undone["ledger"].as_array().map(Vec::len), Some(3), "{out}");
    assert!(
        undone["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["marked"] == true),
        "{out}"
    );
    assert_eq!(user_state(&u).await, before, "the user exactly as before");
    // The same event delivered again: reported as undone, not contained again.
    let again = process(&deps, event).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "undone", "{again}");
    assert!(again.get("finding").is_none(), "{again}");
    assert!(
        again["actions"][0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("undone by")),
        "{again}"
    );
    assert_eq!(
        user_state(&u).await,
        before,
        "the redelivery changed nothing"
    );
    // Undone once, never again from the same report or event: the claims hold nothing to
    // run, and nobody is told of an undo that changed nothing.
    let (ok, out, err) = trailguard(&["undo", "--report", path, "--table", &table]);
    assert!(!ok && out.contains("undone already"), "{out}{err}");
    let (ok, out, err) = trailguard(&[
        "undo",
        "--event-id",
        &event_id,
        "--function",
        "disable-compromised-key",
        "--table",
        &table,
        "--topic",
        &topic,
    ]);
    assert!(!ok && out.contains("undone already"), "{out}{err}");
    assert_eq!(drain(&sdk, &queue).await.len(), 0);
    assert_eq!(user_state(&u).await, before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn approve_and_reject_as_a_person_runs_them() {
    use aws_sdk_ec2::types::{IpPermission, IpRange};
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let table = create_ledger_table(&sdk).await;
    let bus = unique("trailguard-manual-trigger");
    aws_sdk_eventbridge::Client::new(&sdk)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap();
    let guard = Guard::from_function_name("revert-security-group").unwrap();
    let approvals = rules_to_queue(&sdk, &bus, &[guard.approval_pattern()]).await;
    let mut deps = deps_with(
        &sdk,
        "revert-security-group",
        r#"{"mode": {"default": "approve"}, "manual_trigger": true}"#,
        Sdk::none().with_ec2(&sdk).with_ledger(&sdk),
    );
    deps.settings.ledger_table = Some(table.clone());
    // A group opened to the world on SSH, and the event CloudTrail records for it.
    let opened = |g: String| {
        let ec2 = ec2.clone();
        async move {
            let out = ec2
                .authorize_security_group_ingress()
                .group_id(&g)
                .ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(22)
                        .to_port(22)
                        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let rule = out.security_group_rules()[0]
                .security_group_rule_id()
                .unwrap()
                .to_string();
            let event = cloudtrail_event(
                "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
                serde_json::json!({"groupId": g, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {}, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}),
                serde_json::json!({"requestId": "r", "_return": true, "securityGroupRuleSet": {"items": [{"groupOwnerId": ACCOUNT, "groupId": g, "securityGroupRuleId": rule, "isEgress": false, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}}),
            );
            (rule, event)
        }
    };
    let rule_there = |rule: String| {
        let ec2 = ec2.clone();
        async move {
            ec2.describe_security_group_rules()
                .security_group_rule_ids(rule)
                .send()
                .await
                .map(|o| !o.security_group_rules().is_empty())
                .unwrap_or(false)
        }
    };
    let vpc = create_vpc(&ec2, "10.0.0.0/16").await;

    // Planned and kept: the notice's command approves it.
    let g = create_group(&ec2, &vpc, &unique("web"), &[]).await;
    let (rule, event) = opened(g).await;
    let r = process(&deps, event).await.unwrap();
    let plan = r["approval"]["plan_id"].as_str().unwrap().to_string();
    assert!(rule_there(rule.clone()).await);
    let (ok, out, err) = trailguard(&["approve", &plan, "--bus", &bus, "--table", &table]);
    assert!(ok, "{out}{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["function"], "revert-security-group");
    assert_eq!(shown["state"], "waiting");
    assert_eq!(shown["actions"][0]["rule_ids"][0], rule.as_str());
    let delivered = drain(&sdk, &approvals).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let approval: Value = serde_json::from_str(&delivered[0]).unwrap();
    assert_eq!(approval["detail"]["planId"], plan.as_str());
    let done = process(&deps, approval).await.unwrap();
    assert_eq!(done["actions"][0]["outcome"], "done", "{done}");
    assert!(!rule_there(rule).await, "revoked once approved");
    // Approved once: approving again is refused, naming the state.
    let (ok, _, err) = trailguard(&["approve", &plan, "--bus", &bus, "--table", &table]);
    assert!(!ok && err.contains("approved already"), "{err}");

    // Rejected: an approval after that is refused by the command, and by the function.
    let g = create_group(&ec2, &vpc, &unique("web"), &[]).await;
    let (rule, event) = opened(g).await;
    let r = process(&deps, event).await.unwrap();
    let plan = r["approval"]["plan_id"].as_str().unwrap().to_string();
    let (ok, out, err) = trailguard(&["reject", &plan, "--table", &table]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("\"state\": \"rejected\""), "{out}");
    let (ok, _, err) = trailguard(&["approve", &plan, "--bus", &bus, "--table", &table]);
    assert!(!ok && err.contains("rejected already"), "{err}");
    let (ok, _, err) = trailguard(&["reject", &plan, "--table", &table]);
    assert!(!ok && err.contains("rejected already"), "{err}");
    assert!(rule_there(rule).await, "a rejected plan changes nothing");

    // What is not a plan: named.
    let (ok, _, err) = trailguard(&["approve", "DROP TABLE", "--bus", &bus, "--table", &table]);
    assert!(!ok && err.contains("is not a plan id"), "{err}");
    let (ok, _, err) = trailguard(&["reject", "0123456789abcdef", "--table", &table]);
    assert!(!ok && err.contains("no plan 0123456789abcdef"), "{err}");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn undo_of_a_central_remediation_runs_as_the_undo_role_in_the_member_account() {
    const MEMBER_ROLE: &str = "trailguard-member";
    let sdk = sdk().await;
    let b = member_account(3);
    let b_east = as_account(&sdk, &b, "us-east-1").await;
    let (ec2_b, group, rule) = open_group(&b_east).await;
    let table = create_ledger_table(&sdk).await;

    // The central function: its ledger in its own account, its change made in B.
    let policy = "{}";
    let mut settings = settings("revert-security-group", policy, None);
    let central = trailguard_aws::Settings::from_vars(settings.decider, |k| match k {
        "TRAILGUARD_POLICY" => Some(policy.to_string()),
        "TRAILGUARD_MEMBER_ROLE_NAME" => Some(MEMBER_ROLE.to_string()),
        "TRAILGUARD_OWN_ROLE_ARN" => settings.own_role_arn.clone(),
        _ => None,
    })
    .unwrap();
    settings.policy = central.policy;
    settings.member_role_name = central.member_role_name;
    settings.ledger_table = Some(table.clone());
    let deps = trailguard_aws::Deps {
        connect: trailguard_aws::central::Central::new(
            sdk.clone(),
            |c: &aws_config::SdkConfig| Sdk::none().with_ec2(c).with_ledger(c),
            "revert-security-group",
            Some(ACCOUNT.to_string()),
            Some(MEMBER_ROLE.to_string()),
        ),
        notify: notifier(&sdk, None),
        settings,
        clock: trailguard_aws::system_clock,
    };
    let mut event = opened(&b, "us-east-1", &group, &rule);
    let event_id = unique("central-undo");
    event["id"] = serde_json::json!(event_id);
    let report = process(&deps, event).await.unwrap();
    assert_eq!(report["actions"][0]["outcome"], "done", "{report}");
    assert!(ingress_rules(&ec2_b, &group).await.is_empty());

    // The home account's credentials alone cannot undo in B, and say how.
    let (ok, out, err) = trailguard(&["undo", "--event-id", &event_id, "--table", &table]);
    assert!(
        !ok && err.contains(&format!("credentials of {b}")),
        "{out}{err}"
    );
    // A role name is a name, not a path or an ARN.
    for bad in ["a/b", "arn:aws:iam::111111111111:role/x", ""] {
        let (ok, _, err) = trailguard(&[
            "undo",
            "--event-id",
            &event_id,
            "--table",
            &table,
            "--member-role",
            bad,
        ]);
        assert!(!ok && err.contains("--member-role: `"), "{bad}: {err}");
    }
    // The member role is only for a report the ledger holds.
    let (ok, _, err) = trailguard(&[
        "undo",
        "--report",
        "-",
        "--unverified",
        "--member-role",
        "trailguard-member-undo",
    ]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
    assert!(ingress_rules(&ec2_b, &group).await.is_empty());

    moto_api("POST", "/moto-api/recorder/reset-recording");
    moto_api("POST", "/moto-api/recorder/start-recording");
    let (ok, out, err) = trailguard(&[
        "undo",
        "--event-id",
        &event_id,
        "--table",
        &table,
        "--member-role",
        "trailguard-member-undo",
    ]);
    moto_api("POST", "/moto-api/recorder/stop-recording");
    assert!(ok, "{out}{err}");
    let undone: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(undone["steps"][0]["outcome"], "done", "{out}");
    // Who: the person in the home account; as: the undo role's session in B, named after them.
    assert_eq!(
        undone["undone_by"],
        format!("arn:aws:sts::{ACCOUNT}:user/moto"),
        "{out}"
    );
    assert!(
        undone["acting_as"]
            .as_str()
            .is_some_and(|a| a.starts_with(&format!(
                "arn:aws:sts::{b}:assumed-role/trailguard-member-undo/trailguard-undo.moto"
            ))),
        "{out}"
    );
    assert_eq!(undone["ledger"][0]["marked"], true, "{out}");
    assert_eq!(ingress_rules(&ec2_b, &group).await.len(), 1);
    let assumed: Vec<String> = recorded_requests()
        .into_iter()
        .filter(|r| r.action == "AssumeRole")
        .map(|r| urlencoding_decode(&r.body))
        .filter(|b| b.contains("trailguard-member-undo"))
        .collect();
    assert_eq!(assumed.len(), 1, "{assumed:?}");
    assert!(
        assumed[0].contains(&format!(
            "RoleArn=arn:aws:iam::{b}:role/trailguard-member-undo"
        )) && assumed[0].contains("DurationSeconds=900"),
        "{assumed:?}"
    );

    // Once undone, the claims say so: a second undo has nothing to run.
    let (ok, out, err) = trailguard(&[
        "undo",
        "--event-id",
        &event_id,
        "--table",
        &table,
        "--member-role",
        "trailguard-member-undo",
    ]);
    assert!(!ok && out.contains("undone already"), "{out}{err}");
    assert_eq!(ingress_rules(&ec2_b, &group).await.len(), 1);
}
