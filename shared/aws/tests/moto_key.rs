//! disable-compromised-key against moto: a user with two keys; events naming key 1 disable
//! exactly key 1, revoke the user's older sessions, tag the user and tell people.

mod common;

use common::*;
use serde_json::{json, Value};

fn health(key: &str) -> Value {
    let mut ev = sample("aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json");
    ev["id"] = json!(unique("health"));
    ev["detail"]["affectedEntities"] = json!([{"entityValue": key, "tags": {}}]);
    ev
}

fn guardduty(key: &str, user: &str) -> Value {
    let mut ev = sample("aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-high.json");
    ev["id"] = json!(unique("gd"));
    ev["detail"]["resource"]["accessKeyDetails"] = json!({"accessKeyId": key, "principalId": "AIDAX", "userName": user, "userType": "IAMUser"});
    ev
}

/// A honeytoken's call: `ListUsers` failing, or `GetCallerIdentity`, a read-only call
/// EventBridge delivers only to the rule that takes reads.
fn honeytoken(key: &str, user: &str, template: &str) -> Value {
    let mut ev = sample(template);
    ev["id"] = json!(unique("ht"));
    ev["detail"]["userIdentity"]["accessKeyId"] = json!(key);
    ev["detail"]["userIdentity"]["userName"] = json!(user);
    ev["detail"]["userIdentity"]["arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/{user}"));
    ev
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn health_guardduty_and_honeytoken_each_contain_exactly_key_one() {
    let sdk = sdk().await;
    for (label, make) in [
        ("health", 0),
        ("guardduty", 1),
        ("honeytoken", 2),
        ("honeytoken read", 3),
    ] {
        let u = user_with_two_keys(&sdk).await;
        let (topic, queue) = topic_with_queue(&sdk).await;
        let policy = json!({"honeytoken_access_keys": [u.key1]}).to_string();
        let deps = key_deps(&sdk, &policy, Some(topic));
        let event = match make {
            0 => health(&u.key1),
            1 => guardduty(&u.key1, &u.name),
            2 => honeytoken(&u.key1, &u.name, "aws.iam-ListUsers-honeytoken.json"),
            _ => honeytoken(
                &u.key1,
                &u.name,
                "aws.sts-GetCallerIdentity-honeytoken.json",
            ),
        };
        let before = trailguard_aws::system_clock();
        let r = process(&deps, event.clone()).await.unwrap();
        assert_eq!(status(&u, &u.key1).await, "Inactive", "{label}: {r}");
        assert_eq!(
            status(&u, &u.key2).await,
            "Active",
            "{label}: the other key is untouched"
        );
        let doc = deny_policy(&u)
            .await
            .unwrap_or_else(|| panic!("{label}: no deny policy"));
        assert_eq!(doc["Statement"][0]["Effect"], "Deny");
        let cutoff = doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            cutoff >= trailguard_rules::time::format_epoch(before),
            "{label}: {cutoff}"
        );
        let t = tags(&u).await;
        assert!(
            t.iter()
                .any(|(k, v)| k == "trailguard:quarantined" && v.len() > 20),
            "{label}: {t:?}"
        );
        // moto has no LookupEvents: the summary fails soft and containment stands.
        let summary = r["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["type"] == "summarize_key_activity")
            .unwrap();
        assert_eq!(summary["outcome"], "failed", "{label}");
        let msgs = drain(&sdk, &queue).await;
        assert_eq!(msgs.len(), 1, "{label}");
        assert!(
            msgs[0].contains(&u.key1)
                && msgs[0].contains("is not AWS and did not answer CloudTrail LookupEvents")
                && msgs[0].contains("summarise the last 24h of activity")
                && msgs[0].contains("not available"),
            "{label}: {}",
            msgs[0]
        );

        // Redelivered ten times: no error, each reported as already done, and the account as
        // it was after the first delivery (the deny policy overwritten, still one).
        let first = user_state(&u).await;
        for _ in 0..10 {
            let again = process(&deps, event.clone()).await.unwrap();
            assert_eq!(
                again["actions"][0]["outcome"], "already_done",
                "{label}: {again}"
            );
        }
        let policies = u
            .iam
            .list_user_policies()
            .user_name(&u.name)
            .send()
            .await
            .unwrap();
        assert_eq!(
            policies.policy_names(),
            ["trailguard-revoke-older-sessions"]
        );
        assert_eq!(
            user_state(&u).await,
            first,
            "{label}: the tenth delivery changed the state"
        );
    }
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn dry_run_exempt_and_unknown_keys_change_nothing() {
    let sdk = sdk().await;
    let u = user_with_two_keys(&sdk).await;
    let dry = key_deps(&sdk, r#"{"mode": {"access_key": "dry-run"}}"#, None);
    let r = process(&dry, health(&u.key1)).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "dry_run");
    let exempt = key_deps(
        &sdk,
        &json!({"exempt_principals": [format!("arn:aws:iam::*:user/{}", u.name)]}).to_string(),
        None,
    );
    let r = process(&exempt, guardduty(&u.key1, &u.name)).await.unwrap();
    assert_eq!(r["decision"], "notify");
    assert_eq!(status(&u, &u.key1).await, "Active");
    assert!(deny_policy(&u).await.is_none());
    assert!(tags(&u).await.is_empty());

    let enforce = key_deps(&sdk, "{}", None);
    let r = process(&enforce, health("AKIA5DOESNOTEXIST001"))
        .await
        .unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert!(
        r["notice"]["details"].to_string().contains("not found"),
        "{r}"
    );

    // A key deleted after the finding: already done, not an error.
    let v = user_with_two_keys(&sdk).await;
    v.iam
        .delete_access_key()
        .user_name(&v.name)
        .access_key_id(&v.key1)
        .send()
        .await
        .unwrap();
    let r = process(&enforce, guardduty(&v.key1, &v.name))
        .await
        .unwrap();
    assert_eq!(r["actions"][0]["outcome"], "already_done", "{r}");
}

/// The attacker's `UpdateAccessKey` to Active on `key` of `user`, as CloudTrail records it.
fn reactivated(key: &str, user: &str) -> Value {
    let mut ev = sample("aws.iam-UpdateAccessKey-reactivate-quarantined-key.json");
    ev["id"] = json!(unique("reactivate"));
    ev["detail"]["eventID"] = json!(unique("reactivate-record"));
    ev["detail"]["requestParameters"] =
        json!({"userName": user, "accessKeyId": key, "status": "Active"});
    ev
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_contained_key_reactivated_by_a_non_admin_is_deactivated_again() {
    let sdk = sdk().await;
    let u = user_with_two_keys(&sdk).await;
    let deps = key_deps(&sdk, "{}", None);
    // Contained through the handler: key 1 Inactive, the user tagged trailguard:quarantined.
    process(&deps, health(&u.key1)).await.unwrap();
    assert_eq!(status(&u, &u.key1).await, "Inactive");

    // The attacker switches it back on.
    u.iam
        .update_access_key()
        .user_name(&u.name)
        .access_key_id(&u.key1)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&u, &u.key1).await, "Active");

    let event = reactivated(&u.key1, &u.name);
    let r = process(&deps, event.clone()).await.unwrap();
    assert_eq!(r["decision"], "remediate", "{r}");
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(status(&u, &u.key1).await, "Inactive", "{r}");
    assert_eq!(
        status(&u, &u.key2).await,
        "Active",
        "the other key is untouched"
    );

    // Redelivered: already done, nothing changes.
    let first = user_state(&u).await;
    let again = process(&deps, event).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");
    assert_eq!(user_state(&u).await, first);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_key_of_a_user_trailguard_never_quarantined_is_left_active() {
    let sdk = sdk().await;
    let u = user_with_two_keys(&sdk).await;
    let deps = key_deps(&sdk, "{}", None);
    let r = process(&deps, reactivated(&u.key1, &u.name)).await.unwrap();
    // Its tag is read first: not a user trailguard contained, so nothing is planned or told.
    assert_eq!(r["decision"], "ignore", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .is_some_and(|n| n.contains("carries no trailguard:quarantined")),
        "{r}"
    );
    assert_ne!(r["notified"], true, "{r}");
    assert_eq!(status(&u, &u.key1).await, "Active");
    assert_eq!(status(&u, &u.key2).await, "Active");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_deny_older_sessions_policy_deleted_by_a_non_admin_is_put_back() {
    let sdk = sdk().await;
    let u = user_with_two_keys(&sdk).await;
    let deps = key_deps(&sdk, "{}", None);
    process(&deps, health(&u.key1)).await.unwrap();
    assert!(deny_policy(&u).await.is_some());
    u.iam
        .delete_user_policy()
        .user_name(&u.name)
        .policy_name("trailguard-revoke-older-sessions")
        .send()
        .await
        .unwrap();
    assert!(deny_policy(&u).await.is_none());

    let mut ev = sample("aws.iam-DeleteUserPolicy-trailguard-session-policy.json");
    ev["id"] = json!(unique("delete-policy"));
    ev["detail"]["requestParameters"]["userName"] = json!(u.name);
    let before = trailguard_aws::system_clock();
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let doc = deny_policy(&u).await.expect("the deny policy is back");
    let cutoff = doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap()
        .to_string();
    // A new "now": every session older than the restoration is denied.
    assert!(
        cutoff >= trailguard_rules::time::format_epoch(before),
        "{cutoff}"
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_guardduty_finding_is_archived_once_the_key_is_disabled_only_when_asked() {
    let sdk = sdk().await;
    let proxy = AwsProxy::start();
    // The region's detector (moto keeps one per account and region for the whole server).
    let gd = aws_sdk_guardduty::Client::new(&sdk);
    let detector = detector(&gd, None).await;
    // moto has no ArchiveFindings: the proxy answers it (after GetDetector in moto).
    let through_proxy = aws_sdk_guardduty::Client::from_conf(
        aws_sdk_guardduty::config::Builder::from(&sdk)
            .endpoint_url(&proxy.url)
            .build(),
    );
    use trailguard_aws::Unwired as U;
    let clients = |sdk: &aws_config::SdkConfig| {
        five_clients(
            U,
            aws_sdk_iam::Client::new(sdk),
            aws_sdk_cloudtrail::Client::new(sdk),
            through_proxy.clone(),
            U,
        )
    };
    let archived = |id: &str| {
        proxy
            .get("/__proxy/guardduty/archived")
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["finding"] == id)
            .map(|a| a["detector"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };

    // Asked: the key disabled, then the finding archived with the region's detector.
    let u = user_with_two_keys(&sdk).await;
    let mut ev = guardduty(&u.key1, &u.name);
    let id = unique("f").replace('-', "");
    ev["detail"]["id"] = json!(id);
    let on = r#"{"archive_guardduty_findings": true}"#;
    let deps = deps_with(&sdk, "disable-compromised-key", on, clients(&sdk));
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(status(&u, &u.key1).await, "Inactive", "{r}");
    assert_eq!(r["archived"]["outcome"], "updated", "{r}");
    assert_eq!(r["archived"]["account"], ACCOUNT, "{r}");
    assert_eq!(archived(&id), [detector]);

    // By default, and in dry-run: the key as the mode says, the finding left as it is.
    for policy in [
        "{}",
        r#"{"archive_guardduty_findings": true, "mode": {"default": "dry-run"}}"#,
    ] {
        let u = user_with_two_keys(&sdk).await;
        let mut ev = guardduty(&u.key1, &u.name);
        let id = unique("f").replace('-', "");
        ev["detail"]["id"] = json!(id);
        let deps = deps_with(&sdk, "disable-compromised-key", policy, clients(&sdk));
        let r = process(&deps, ev).await.unwrap();
        assert!(r.get("archived").is_none(), "{policy}: {r}");
        assert!(archived(&id).is_empty(), "{policy}");
    }
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn undo_puts_the_user_back_exactly_and_refuses_once_the_key_is_rotated_out() {
    let sdk = sdk().await;
    let u = user_with_two_keys(&sdk).await;
    let deps = key_deps(&sdk, "{}", None);
    let before = user_state(&u).await;
    let r = process(&deps, health(&u.key1)).await.unwrap();
    assert_eq!(status(&u, &u.key1).await, "Inactive", "{r}");
    assert_ne!(user_state(&u).await, before);

    let undone = undo(&sdk, &r, false).await;
    // Last action first: the tag, the deny policy, then the key; the summary (which failed
    // on moto) changed nothing and is not a step.
    assert_eq!(
        undone["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["tag_user", "revoke_sessions", "deactivate_access_key"],
        "{undone}"
    );
    assert_eq!(undo_outcomes(&undone), ["done", "done", "done"], "{undone}");
    assert_eq!(user_state(&u).await, before, "the user exactly as before");
    let again = undo(&sdk, &r, false).await;
    assert_eq!(
        undo_outcomes(&again),
        ["already_undone", "already_undone", "already_undone"],
        "{again}"
    );

    // Contained again, then the key is rotated out (deleted): nothing is undone, not even
    // the tag or the policy, and the reason names the key.
    let r = process(&deps, health(&u.key1)).await.unwrap();
    assert_eq!(status(&u, &u.key1).await, "Inactive", "{r}");
    u.iam
        .delete_access_key()
        .user_name(&u.name)
        .access_key_id(&u.key1)
        .send()
        .await
        .unwrap();
    let refused = undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains(&u.key1) && w.contains("no longer exists")),
        "{refused}"
    );
    assert!(deny_policy(&u).await.is_some(), "the deny policy stays");
    assert!(
        tags(&u)
            .await
            .iter()
            .any(|(k, _)| k == "trailguard:quarantined"),
        "the tag stays"
    );
}
