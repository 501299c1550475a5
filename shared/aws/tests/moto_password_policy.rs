//! guard-iam against moto: the account password policy weakened or deleted. Each test sets
//! the policy, makes the attacker's call through the SDK, builds the CloudTrail event from
//! that call, runs the handler, and asserts the policy as IAM now has it: the baseline's
//! requirements back, anything stronger kept; then redelivery (already done), dry-run, and
//! a policy without a baseline (told, nothing changed).

mod common;

use aws_sdk_iam::Client;
use common::*;
use serde_json::{json, Value};
use trailguard_aws::{Clients, Deps, Home, Notifier, Sdk};

/// The password policy is one per account: one test at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const POLICY: &str = r#"{"iam": {"password_policy": {"minimum_password_length": 14,
    "require_symbols": true, "require_numbers": true, "require_uppercase": true,
    "require_lowercase": true, "max_password_age_days": 90, "password_reuse_prevention": 24}}}"#;
const DRY_RUN: &str = r#"{"mode": {"iam": "dry-run"}, "iam": {"password_policy":
    {"minimum_password_length": 14}}}"#;

fn deps(sdk: &aws_config::SdkConfig, policy: &str) -> Deps<Home<impl Clients>, Notifier> {
    let clients = Sdk::none().with_iam(sdk).with_organizations(sdk);
    deps_with(sdk, "guard-iam", policy, clients)
}

async fn run<C: Clients>(d: &Deps<Home<C>, Notifier>, event: Value) -> Value {
    process(d, event).await.unwrap()
}

fn outcome(r: &Value) -> &str {
    r["actions"][0]["outcome"].as_str().unwrap_or("none")
}

/// The policy as IAM has it: (length, symbols, numbers, upper, lower, max age, reuse).
async fn policy_now(
    iam: &Client,
) -> Option<(i32, bool, bool, bool, bool, Option<i32>, Option<i32>)> {
    match iam.get_account_password_policy().send().await {
        Ok(o) => o.password_policy().map(|p| {
            (
                p.minimum_password_length().unwrap_or_default(),
                p.require_symbols(),
                p.require_numbers(),
                p.require_uppercase_characters(),
                p.require_lowercase_characters(),
                // moto answers 0 for "never expires" / "no reuse prevention"; IAM omits them.
                p.max_password_age().filter(|d| *d > 0),
                p.password_reuse_prevention().filter(|n| *n > 0),
            )
        }),
        Err(_) => None,
    }
}

/// The attacker's weakening `UpdateAccountPasswordPolicy`, and its event.
async fn weaken(iam: &Client) -> Value {
    iam.update_account_password_policy()
        .minimum_password_length(6)
        .require_lowercase_characters(true)
        .allow_users_to_change_password(true)
        .send()
        .await
        .unwrap();
    cloudtrail_event(
        "aws.iam-UpdateAccountPasswordPolicy-weakened.json",
        json!({"minimumPasswordLength": 6, "requireLowercaseCharacters": true,
               "allowUsersToChangePassword": true}),
        Value::Null,
    )
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_weakened_password_policy_gets_the_baseline_back() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let iam = Client::new(&sdk);

    let event = weaken(&iam).await;
    let weak = policy_now(&iam).await;
    assert_eq!(weak, Some((6, false, false, false, true, None, None)));
    let r = run(&deps(&sdk, DRY_RUN), event.clone()).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(policy_now(&iam).await, weak);

    let d = deps(&sdk, POLICY);
    let r = run(&d, event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(
        policy_now(&iam).await,
        Some((14, true, true, true, true, Some(90), Some(24)))
    );
    let undo = r["actions"][0]["undo"]["command"]
        .as_str()
        .unwrap_or_default();
    assert!(
        undo.contains("&& aws iam update-account-password-policy --minimum-password-length 6 --no-require-symbols"),
        "{undo}"
    );
    let again = run(&d, event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");

    // trailguard undo: the policy back as it was, then nothing to undo.
    assert_eq!(
        r["actions"][0]["reversal"]["call"], "restore_password_policy",
        "{r}"
    );
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(policy_now(&iam).await, weak);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn what_is_stronger_than_the_baseline_stays_and_a_deleted_policy_comes_back() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let iam = Client::new(&sdk);
    let d = deps(&sdk, POLICY);

    // Stronger than the baseline in two fields, weaker in one: only that one changes.
    iam.update_account_password_policy()
        .minimum_password_length(20)
        .require_symbols(true)
        .require_numbers(true)
        .require_uppercase_characters(true)
        .require_lowercase_characters(true)
        .max_password_age(30)
        .password_reuse_prevention(5)
        .send()
        .await
        .unwrap();
    let event = cloudtrail_event(
        "aws.iam-UpdateAccountPasswordPolicy-weakened.json",
        json!({"minimumPasswordLength": 20, "requireSymbols": true, "requireNumbers": true,
               "requireUppercaseCharacters": true, "requireLowercaseCharacters": true,
               "maxPasswordAge": 30, "passwordReusePrevention": 5}),
        Value::Null,
    );
    let r = run(&d, event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(
        policy_now(&iam).await,
        Some((20, true, true, true, true, Some(30), Some(24)))
    );

    iam.delete_account_password_policy().send().await.unwrap();
    assert_eq!(policy_now(&iam).await, None);
    let event = cloudtrail_event(
        "aws.iam-DeleteAccountPasswordPolicy-remediate.json",
        Value::Null,
        Value::Null,
    );
    let r = run(&d, event).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(
        policy_now(&iam).await,
        Some((14, true, true, true, true, Some(90), Some(24)))
    );
    let undo = r["actions"][0]["undo"]["command"]
        .as_str()
        .unwrap_or_default();
    assert!(
        undo.ends_with("&& aws iam delete-account-password-policy"),
        "{undo}"
    );
    // Someone changes the policy since: the undo is refused and changes nothing.
    iam.update_account_password_policy()
        .minimum_password_length(16)
        .require_symbols(true)
        .require_numbers(true)
        .require_uppercase_characters(true)
        .require_lowercase_characters(true)
        .max_password_age(90)
        .password_reuse_prevention(24)
        .send()
        .await
        .unwrap();
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["refused"], "{undone}");
    assert_eq!(
        policy_now(&iam).await,
        Some((16, true, true, true, true, Some(90), Some(24)))
    );
    // Put back as trailguard left it: the undo deletes the policy, as there was none.
    iam.update_account_password_policy()
        .minimum_password_length(14)
        .require_symbols(true)
        .require_numbers(true)
        .require_uppercase_characters(true)
        .require_lowercase_characters(true)
        .max_password_age(90)
        .password_reuse_prevention(24)
        .send()
        .await
        .unwrap();
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(policy_now(&iam).await, None);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");

    // No baseline: told, nothing changed.
    let event = weaken(&iam).await;
    let r = run(&deps(&sdk, "{}"), event).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(
        policy_now(&iam).await,
        Some((6, false, false, false, true, None, None))
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_sweep_puts_the_baseline_back_over_a_policy_weakened_before_trailguard() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sdk = sdk().await;
    let iam = Client::new(&sdk);
    weaken(&iam).await;
    let weak = policy_now(&iam).await;

    let r = deps(&sdk, DRY_RUN).sweep(None).await.unwrap();
    assert_eq!(r.count("dry_run"), 1, "{r:?}");
    assert_eq!(policy_now(&iam).await, weak);

    let d = deps(&sdk, POLICY);
    let r = d.sweep(None).await.unwrap();
    assert_eq!(r.count("done"), 1, "{r:?}");
    assert_eq!(
        policy_now(&iam).await,
        Some((14, true, true, true, true, Some(90), Some(24)))
    );
    // As wanted now: nothing found.
    assert!(d.sweep(None).await.unwrap().findings.is_empty());
    // No policy at all is weaker than the baseline too.
    iam.delete_account_password_policy().send().await.unwrap();
    assert_eq!(d.sweep(None).await.unwrap().count("done"), 1);
    assert!(policy_now(&iam).await.is_some());
}
