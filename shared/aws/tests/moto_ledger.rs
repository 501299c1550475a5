//! The ledger against moto's DynamoDB: the breaker's counts and the exactly-once claims hold
//! under concurrent writers (conditional writes, not luck), and the breaker stops a flood of
//! key-exposure events at the limit. Racing writers go through scripts/awsproxy.py, which
//! forwards DynamoDB's calls one at a time: moto checks a condition and writes without a
//! lock, where DynamoDB's conditional writes are atomic.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::json;
use trailguard_aws::{Claim, LedgerPort, Sdk, Slot};

/// A DynamoDB client through the proxy (its own configuration's endpoint: AWS_ENDPOINT_URL,
/// moto, would win over one on the shared configuration).
fn serialised(sdk: &aws_config::SdkConfig, proxy: &AwsProxy) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .endpoint_url(&proxy.url)
            .build(),
    )
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn racing_writers_never_count_past_the_limit() {
    let sdk = sdk().await;
    let proxy = AwsProxy::start();
    let table = create_ledger_table(&sdk).await;
    // Two clients (two containers, as far as DynamoDB can tell), 25 writers each.
    let clients = [
        Arc::new(serialised(&sdk, &proxy)),
        Arc::new(serialised(&sdk, &proxy)),
    ];
    let now = trailguard_aws::system_clock() * 1000;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (c, table) = (clients[i % 2].clone(), table.clone());
        tasks.push(tokio::spawn(async move {
            c.take_slot(
                &table,
                "access_key",
                "arn:aws:iam::123456789012:user/ci",
                20,
                now + i as i64,
            )
            .await
        }));
    }
    let mut granted = 0;
    let mut opened = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Slot::Granted { count } => {
                assert!(count <= 20, "{count}");
                granted += 1
            }
            Slot::Refused { count, first, .. } => {
                assert_eq!(count, 20);
                opened += usize::from(first)
            }
        }
    }
    assert_eq!(
        (granted, opened),
        (20, 1),
        "exactly the limit, and one refusal opened it"
    );
    // An hour later the window has room again.
    let later = clients[0]
        .take_slot(
            &table,
            "access_key",
            "arn:aws:iam::123456789012:user/ci",
            20,
            now + 3_600_000 + 100,
        )
        .await
        .unwrap();
    assert_eq!(later, Slot::Granted { count: 1 });
    // Other guards count on their own.
    assert_eq!(
        clients[1]
            .take_slot(
                &table,
                "security_group",
                "arn:aws:iam::123456789012:user/ci",
                20,
                now
            )
            .await
            .unwrap(),
        Slot::Granted { count: 1 }
    );
    assert!(clients[0]
        .reset_breaker(&table, "access_key")
        .await
        .unwrap());
    assert!(!clients[0]
        .reset_breaker(&table, "access_key")
        .await
        .unwrap());
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn one_actors_flood_holds_back_only_its_own_changes_and_the_account_stays_bounded() {
    let sdk = sdk().await;
    let proxy = AwsProxy::start();
    let table = create_ledger_table(&sdk).await;
    let c = serialised(&sdk, &proxy);
    let now = trailguard_aws::system_clock() * 1000;
    let scope = "access_key@123456789012";
    let user = |n: usize| format!("arn:aws:iam::123456789012:user/u{n}");
    // Mallory's own containments: 3 counted, the 4th held, told once.
    for i in 0..3 {
        assert_eq!(
            c.take_slot(&table, scope, &user(0), 3, now + i)
                .await
                .unwrap(),
            Slot::Granted {
                count: i as u32 + 1
            }
        );
    }
    assert_eq!(
        c.take_slot(&table, scope, &user(0), 3, now + 10)
            .await
            .unwrap(),
        Slot::Refused {
            count: 3,
            first: true,
            by_actor: true
        }
    );
    assert_eq!(
        c.take_slot(&table, scope, &user(0), 3, now + 11)
            .await
            .unwrap(),
        Slot::Refused {
            count: 3,
            first: false,
            by_actor: true
        }
    );
    // Someone else's stolen key is still contained.
    assert_eq!(
        c.take_slot(&table, scope, &user(1), 3, now + 12)
            .await
            .unwrap(),
        Slot::Granted { count: 1 }
    );
    // The account holds at most ACCOUNT_FACTOR times the limit, whoever causes it.
    let account_limit = 3 * trailguard_aws::ports::ACCOUNT_FACTOR as usize;
    let mut n = 2;
    let mut counted = 4;
    while counted < account_limit {
        for _ in 0..3 {
            if counted < account_limit {
                let s = c
                    .take_slot(&table, scope, &user(n), 3, now + 100 + counted as i64)
                    .await
                    .unwrap();
                assert!(matches!(s, Slot::Granted { .. }), "{s:?}");
                counted += 1;
            }
        }
        n += 1;
    }
    assert_eq!(
        c.take_slot(&table, scope, &user(99), 3, now + 500)
            .await
            .unwrap(),
        Slot::Refused {
            count: account_limit as u32,
            first: true,
            by_actor: false
        }
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_slot_given_back_no_longer_counts_even_with_writers_racing() {
    let sdk = sdk().await;
    let proxy = AwsProxy::start();
    let table = create_ledger_table(&sdk).await;
    let c = Arc::new(serialised(&sdk, &proxy));
    let now = trailguard_aws::system_clock() * 1000;
    let scope = "tags@123456789012";
    // 10 writers take a slot each (limit 20: all granted); half of them give theirs back
    // (their call changed nothing) while the others are still writing.
    let mut tasks = Vec::new();
    for i in 0..10i64 {
        let (c, table) = (c.clone(), table.clone());
        tasks.push(tokio::spawn(async move {
            let slot = c
                .take_slot(
                    &table,
                    scope,
                    "arn:aws:iam::123456789012:user/ci",
                    20,
                    now + i,
                )
                .await
                .unwrap();
            if i % 2 == 0 {
                c.give_back_slot(&table, scope, "arn:aws:iam::123456789012:user/ci", now + i)
                    .await
                    .unwrap();
            }
            slot
        }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Slot::Granted { .. }));
    }
    // Giving back a slot never taken, or in a breaker never used, changes nothing.
    c.give_back_slot(
        &table,
        scope,
        "arn:aws:iam::123456789012:user/ci",
        now + 999,
    )
    .await
    .unwrap();
    c.give_back_slot(
        &table,
        "never-used@123456789012",
        "arn:aws:iam::123456789012:user/ci",
        now,
    )
    .await
    .unwrap();
    // 5 kept: exactly 15 more fit under the limit of 20.
    let mut more = 0;
    while let Slot::Granted { count } = c
        .take_slot(
            &table,
            scope,
            "arn:aws:iam::123456789012:user/ci",
            20,
            now + 100 + more,
        )
        .await
        .unwrap()
    {
        more += 1;
        assert_eq!(count as i64, 5 + more);
    }
    assert_eq!(more, 15);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn one_delivery_wins_a_claim_and_the_others_see_its_outcome() {
    let sdk = sdk().await;
    let proxy = AwsProxy::start();
    let table = create_ledger_table(&sdk).await;
    let now = trailguard_aws::system_clock();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (c, table) = (serialised(&sdk, &proxy), table.clone());
        tasks.push(tokio::spawn(async move {
            c.claim(&table, "claim#ev-1#a", &format!("delivery-{i}"), now, 60)
                .await
                .map(|c| (i, c))
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (i, c) = t.await.unwrap().unwrap();
        match c {
            Claim::Won => winners.push(i),
            Claim::Busy { lease_until } => assert_eq!(lease_until, now + 60),
            Claim::Done { .. } => panic!("nobody finished yet"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let c = serialised(&sdk, &proxy);
    let owner = format!("delivery-{}", winners[0]);
    // Only the owner finishes it.
    c.finish(&table, "claim#ev-1#a", "someone-else", "done", None, 0)
        .await
        .unwrap();
    assert!(matches!(
        c.claim_state(&table, "claim#ev-1#a").await.unwrap(),
        Some(Claim::Busy { .. })
    ));
    c.finish(&table, "claim#ev-1#a", &owner, "done", None, 0)
        .await
        .unwrap();
    assert_eq!(
        c.claim(&table, "claim#ev-1#a", "late", now + 1, 60)
            .await
            .unwrap(),
        Claim::Done {
            outcome: "done".into()
        }
    );
    // A delivery that crashed mid-action: its lease runs out and the next one takes over.
    assert_eq!(
        c.claim(&table, "claim#ev-2#a", "crashed", now, 60)
            .await
            .unwrap(),
        Claim::Won
    );
    assert!(matches!(
        c.claim(&table, "claim#ev-2#a", "retry", now + 30, 60)
            .await
            .unwrap(),
        Claim::Busy { .. }
    ));
    assert_eq!(
        c.claim(&table, "claim#ev-2#a", "retry", now + 61, 60)
            .await
            .unwrap(),
        Claim::Won
    );
    // A released claim is free again.
    c.release(&table, "claim#ev-2#a", "retry").await.unwrap();
    assert_eq!(c.claim_state(&table, "claim#ev-2#a").await.unwrap(), None);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_flood_of_key_exposures_stops_at_the_breaker() {
    let sdk = sdk().await;
    let table = create_ledger_table(&sdk).await;
    let (topic, queue) = topic_with_queue(&sdk).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let mut keys = Vec::new();
    for _ in 0..25 {
        let (user, k) = create_user_with_keys(&iam, "flood", 1).await;
        keys.push((user, k[0].clone()));
    }
    let policy = json!({"max_actions_per_hour": {"access_key": 20}, "revoke_sessions": false, "tag_users": false, "key_activity_hours": 0}).to_string();
    let mut deps = deps_with(
        &sdk,
        "disable-compromised-key",
        &policy,
        Sdk::none()
            .with_iam(&sdk)
            .with_cloudtrail(&sdk)
            .with_ledger(&sdk),
    );
    deps.notify = notifier(&sdk, Some(topic.clone()));
    deps.settings.topic_arn = Some(topic);
    deps.settings.ledger_table = Some(table.clone());
    let mut outcomes = Vec::new();
    for (_, key) in &keys {
        let mut ev = sample("aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json");
        ev["id"] = json!(unique("health"));
        ev["detail"]["affectedEntities"] = json!([{"entityValue": key, "tags": {}}]);
        // Held past the limit: a retryable failure, so the event is retried and then kept
        // by the failure queue (its error names the breaker).
        match process(&deps, ev).await {
            Ok(r) => outcomes.push(r["actions"][0]["outcome"].as_str().unwrap().to_string()),
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("BreakerOpen") && e.contains("retryable"), "{e}");
                outcomes.push("held".into());
            }
        }
    }
    let count = |s: &str| outcomes.iter().filter(|o| *o == s).count();
    assert_eq!((count("done"), count("held")), (20, 5), "{outcomes:?}");
    let mut inactive = 0;
    for (user, key) in &keys {
        let k = iam.list_access_keys().user_name(user).send().await.unwrap();
        let m = &k.access_key_metadata()[0];
        assert_eq!(m.access_key_id(), Some(key.as_str()));
        inactive += usize::from(m.status().map(|s| s.as_str()) == Some("Inactive"));
    }
    assert_eq!(inactive, 20, "exactly the limit was acted on");
    let messages = drain(&sdk, &queue).await;
    let breaker: Vec<&String> = messages
        .iter()
        .filter(|m| m.contains("blast-radius breaker of guard `access_key`"))
        .collect();
    assert_eq!(
        breaker.len(),
        1,
        "one breaker notice among {} messages",
        messages.len()
    );
    assert!(breaker[0].contains("trailguard breaker reset --guard access_key"));
}
