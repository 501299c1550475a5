//! Central mode against moto, with several accounts: the functions run in account A (moto's
//! default, `ACCOUNT`), events come from member accounts, and the changes happen in the
//! member account and region, through the member role. moto answers `AssumeRole` with
//! credentials that act in the role's account, as AWS does; it does not check trust
//! policies, so the refusal AWS gives for an untrusted role is answered by a thin HTTP layer
//! in front of moto (every other call still goes to moto).

mod common;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use common::*;
use serde_json::{json, Value};
use trailguard_aws::central::Central;
use trailguard_aws::{Clients, Deps, Notifier, Sdk};

const MEMBER_ROLE: &str = "trailguard-member";

/// The member role in `account`, trusting the central function's role, as member.yaml
/// creates it.
async fn member_role(member: &aws_config::SdkConfig) {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/trailguard-RevertSecurityGroupRole-EXAMPLE")},
        "Action": "sts:AssumeRole"}]});
    let _ = aws_sdk_iam::Client::new(member)
        .create_role()
        .role_name(MEMBER_ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await;
}

fn settings_for(function: &str, policy: &str, topic: Option<String>) -> trailguard_aws::Settings {
    let mut s = settings(function, policy, None);
    let central = trailguard_aws::Settings::from_vars(s.decider, |k| match k {
        "TRAILGUARD_POLICY" => Some(policy.to_string()),
        "TRAILGUARD_MEMBER_ROLE_NAME" => Some(MEMBER_ROLE.to_string()),
        "TRAILGUARD_OWN_ROLE_ARN" => s.own_role_arn.clone(),
        _ => None,
    })
    .unwrap();
    s.policy = central.policy;
    s.member_role_name = central.member_role_name;
    s.topic_arn = topic;
    s
}

/// A central function's dependencies: its own account's clients from `sdk`, members' through
/// the member role.
fn central<C, W>(
    sdk: &aws_config::SdkConfig,
    function: &'static str,
    policy: &str,
    topic: Option<String>,
    wire: W,
) -> Deps<Central<C, W>, Notifier>
where
    C: Clients,
    W: Fn(&aws_config::SdkConfig) -> C + Send + Sync,
{
    Deps {
        connect: Central::new(
            sdk.clone(),
            wire,
            function,
            Some(ACCOUNT.to_string()),
            Some(MEMBER_ROLE.to_string()),
        ),
        notify: notifier(sdk, topic.clone()),
        settings: settings_for(function, policy, topic),
        clock: trailguard_aws::system_clock,
    }
}

/// (action, decoded body) of every request moto recorded.
fn recorded() -> Vec<(String, String)> {
    recorded_requests()
        .into_iter()
        .map(|r| (r.action, urlencoding_decode(&r.body)))
        .collect()
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn events_from_a_member_are_contained_in_the_member_account_and_region() {
    let sdk = sdk().await;
    let b = member_account(2);
    let b_east = as_account(&sdk, &b, "us-east-1").await;
    let b_west = as_account(&sdk, &b, "eu-west-1").await;
    member_role(&b_east).await;

    // The same open rule in the central account must stay: events from B act in B only.
    let (a_ec2, a_group, a_rule) = open_group(&sdk).await;
    let (east, g1, r1) = open_group(&b_east).await;
    let (_, g2, r2) = open_group(&b_east).await;
    let (west, g3, r3) = open_group(&b_west).await;
    let iam_b = aws_sdk_iam::Client::new(&b_east);
    let (user, keys) = create_user_with_keys(&iam_b, "exposed", 1).await;

    let (topic, queue) = topic_with_queue(&sdk).await;
    let sg = central(
        &sdk,
        "revert-security-group",
        "{}",
        Some(topic.clone()),
        |c| Sdk::none().with_ec2(c),
    );
    let keys_fn = central(
        &sdk,
        "disable-compromised-key",
        r#"{"key_activity_hours": 0}"#,
        Some(topic),
        |c| Sdk::none().with_iam(c).with_cloudtrail(c),
    );

    moto_api("POST", "/moto-api/recorder/reset-recording");
    moto_api("POST", "/moto-api/recorder/start-recording");
    let mut reports = vec![];
    for (region, g, r) in [
        ("us-east-1", &g1, &r1),
        ("us-east-1", &g2, &r2),
        ("eu-west-1", &g3, &r3),
    ] {
        reports.push(process(&sg, opened(&b, region, g, r)).await.unwrap());
    }
    let mut health = sample("aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json");
    health["id"] = json!(unique("health"));
    health["account"] = json!(b);
    health["detail"]["affectedEntities"] = json!([{"entityValue": keys[0], "tags": {}}]);
    let key_report = process(&keys_fn, health).await.unwrap();
    moto_api("POST", "/moto-api/recorder/stop-recording");

    for r in &reports {
        assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
        assert_eq!(
            r["connection"]["role"],
            format!("arn:aws:iam::{b}:role/{MEMBER_ROLE}"),
            "{r}"
        );
        assert_eq!(r["connection"]["outcome"], "done", "{r}");
    }
    assert_eq!(reports[2]["connection"]["region"], "eu-west-1");
    assert_eq!(key_report["actions"][0]["outcome"], "done", "{key_report}");

    // In B, in each region: the rules are gone and the key is inactive.
    assert!(ingress_rules(&east, &g1).await.is_empty());
    assert!(ingress_rules(&east, &g2).await.is_empty());
    assert!(ingress_rules(&west, &g3).await.is_empty());
    let listed = iam_b
        .list_access_keys()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    let status = listed.access_key_metadata()[0]
        .status()
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(status, "Inactive");
    // In A: untouched.
    assert_eq!(ingress_rules(&a_ec2, &a_group).await, vec![a_rule]);

    // One AssumeRole per (account, container): the security-group function assumed B's role
    // once for three events in two regions, the key function once for its event.
    let assumed: Vec<String> = recorded()
        .into_iter()
        .filter(|(a, body)| {
            a == "AssumeRole" && body.contains(&format!("iam::{b}:role/{MEMBER_ROLE}"))
        })
        .map(|(_, body)| body)
        .collect();
    assert_eq!(assumed.len(), 2, "{assumed:#?}");
    assert!(
        assumed[0].contains("RoleSessionName=trailguard.revert-security-group."),
        "the session names the function and the event: {}",
        assumed[0]
    );
    assert!(assumed[1].contains("RoleSessionName=trailguard.disable-compromised-key."));
    assert_eq!(drain(&sdk, &queue).await.len(), 4);
}

/// `ev` as made by a session of a role called `role` in `account`.
fn by_role(mut ev: Value, account: &str, role: &str) -> Value {
    ev["detail"]["userIdentity"] = json!({
        "type": "AssumedRole",
        "principalId": "AROA5EXAMPLEROLEID01:session",
        "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/session"),
        "accountId": account,
        "accessKeyId": "ASIA5EXAMPLESESSION1",
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROA5EXAMPLEROLEID01",
            "arn": format!("arn:aws:iam::{account}:role/{role}"), "accountId": account, "userName": role}}
    });
    ev
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_role_named_like_the_member_role_is_trailguards_only_in_member_accounts() {
    // Attack: create a role called `trailguard-member` where it is not the member role (the
    // central account itself) and open a group with it. Before, every rule and the code left
    // that role's changes out in any account.
    let sdk = sdk().await;
    let b = member_account(3);
    let b_east = as_account(&sdk, &b, "us-east-1").await;
    member_role(&b_east).await;
    let sg = central(&sdk, "revert-security-group", "{}", None, |c| {
        Sdk::none().with_ec2(c)
    });
    // In the central account: the borrowed name changes nothing, the rule is revoked.
    let (a_ec2, a_group, a_rule) = open_group(&sdk).await;
    let ev = by_role(
        opened(ACCOUNT, "us-east-1", &a_group, &a_rule),
        ACCOUNT,
        MEMBER_ROLE,
    );
    let r = process(&sg, ev).await.unwrap();
    assert_eq!(r["decision"], "remediate", "{r}");
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert!(ingress_rules(&a_ec2, &a_group).await.is_empty());
    // In a member account, the member role's own change is trailguard's: left alone.
    let (b_ec2, b_group, b_rule) = open_group(&b_east).await;
    let ev = by_role(opened(&b, "us-east-1", &b_group, &b_rule), &b, MEMBER_ROLE);
    let r = process(&sg, ev).await.unwrap();
    assert_eq!(r["decision"], "ignore", "{r}");
    assert_eq!(
        ingress_rules(&b_ec2, &b_group).await,
        std::slice::from_ref(&b_rule)
    );
    // A deployment that is not central has no member role: the name is anyone's there too.
    let single = deps_with(
        &b_east,
        "revert-security-group",
        "{}",
        Sdk::none().with_ec2(&b_east),
    );
    let ev = by_role(opened(&b, "us-east-1", &b_group, &b_rule), &b, MEMBER_ROLE);
    let r = process(&single, ev).await.unwrap();
    assert_eq!(r["decision"], "remediate", "{r}");
    assert!(ingress_rules(&b_ec2, &b_group).await.is_empty());
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_forged_cloudtrail_event_disables_no_key() {
    // Attack: put an event with a made-up source and the detail-type "AWS API Call via
    // CloudTrail" naming another user's real key and an outside IP.
    let sdk = sdk().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let (user, keys) = create_user_with_keys(&iam, "victim", 1).await;
    let policy = r#"{"trusted_networks": ["198.51.100.0/24"], "key_activity_hours": 0}"#;
    let deps = deps_with(
        &sdk,
        "disable-compromised-key",
        policy,
        Sdk::none().with_iam(&sdk).with_cloudtrail(&sdk),
    );
    let status = || {
        let (iam, user) = (iam.clone(), user.clone());
        async move {
            iam.list_access_keys()
                .user_name(user)
                .send()
                .await
                .unwrap()
                .access_key_metadata()[0]
                .status()
                .unwrap()
                .as_str()
                .to_string()
        }
    };
    let event = |source: &str| {
        let mut ev = sample("forged.my-app-CloudTrail-long-term-key-outside.json");
        ev["id"] = json!(unique("forged"));
        ev["source"] = json!(source);
        ev["detail"]["userIdentity"]["accessKeyId"] = json!(keys[0]);
        ev["detail"]["userIdentity"]["userName"] = json!(user);
        ev["detail"]["userIdentity"]["arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:user/{user}"));
        ev
    };
    for source in ["my.app", "aws", "awsx.s3"] {
        let r = process(&deps, event(source)).await.unwrap();
        assert_eq!(r["decision"], "ignore", "{r}");
        assert!(r["reason"].as_str().unwrap().contains("forged"), "{r}");
        assert_eq!(status().await, "Active");
    }
    // The same record from AWS (source aws.s3) is contained: the test can tell the two apart.
    let r = process(&deps, event("aws.s3")).await.unwrap();
    assert_eq!(r["decision"], "remediate", "{r}");
    assert_eq!(status().await, "Inactive");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn scope_and_per_account_modes_hold_in_member_accounts() {
    let sdk = sdk().await;
    let (out, dry) = (member_account(3), member_account(4));
    let out_cfg = as_account(&sdk, &out, "us-east-1").await;
    let dry_cfg = as_account(&sdk, &dry, "us-east-1").await;
    let (out_ec2, out_group, out_rule) = open_group(&out_cfg).await;
    let (dry_ec2, dry_group, dry_rule) = open_group(&dry_cfg).await;
    let policy = json!({"accounts": {"include": ["*"], "exclude": [out]}, "mode_by_account": {dry.clone(): "dry-run"}}).to_string();
    // Each account's alias is read in that account, through its member role, only when the
    // invocation has connected there anyway.
    aws_sdk_iam::Client::new(&dry_cfg)
        .create_account_alias()
        .account_alias("member-in-dry-run")
        .send()
        .await
        .unwrap();
    let deps = central(&sdk, "revert-security-group", &policy, None, |c| {
        Sdk::none().with_account_alias(c).with_ec2(c)
    });

    let r = process(&deps, opened(&out, "us-east-1", &out_group, &out_rule))
        .await
        .unwrap();
    assert_eq!(r["decision"], "ignore", "{r}");
    assert!(
        r["reason"].as_str().unwrap().contains("accounts.exclude"),
        "{r}"
    );
    assert!(
        r.get("connection").is_none(),
        "nothing assumed for an excluded account: {r}"
    );
    assert_eq!(ingress_rules(&out_ec2, &out_group).await, vec![out_rule]);

    let r = process(&deps, opened(&dry, "us-east-1", &dry_group, &dry_rule))
        .await
        .unwrap();
    assert_eq!(r["mode"], "dry-run", "{r}");
    assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
    assert_eq!(ingress_rules(&dry_ec2, &dry_group).await, vec![dry_rule]);
    // It connected to look the group up: the notice names the account by its own alias.
    assert_eq!(r["connection"]["outcome"], "done", "{r}");
    assert_eq!(r["event"]["account_alias"], "member-in-dry-run", "{r}");

    // A notice that needs nothing in the account assumes no role for its alias either.
    let detection = central(&sdk, "guard-detection", &policy, None, |c| {
        Sdk::none().with_account_alias(c)
    });
    let mut deleted = sample("aws.access-analyzer-DeleteAnalyzer-report.json");
    deleted["account"] = json!(dry);
    deleted["detail"]["recipientAccountId"] = json!(dry);
    deleted["detail"]["userIdentity"]["accountId"] = json!(dry);
    let r = process(&detection, deleted).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert!(r.get("connection").is_none(), "no role assumed: {r}");
    assert_eq!(r["event"]["account"], json!(dry), "{r}");
    assert_eq!(r["event"]["account_alias"], Value::Null, "{r}");
}

/// moto in front of which STS refuses `AssumeRole` of one role, as AWS does when the role's
/// trust policy does not name the caller.
#[derive(Debug, Clone)]
struct Untrusting {
    inner: SharedHttpClient,
    role_arn: String,
}

#[derive(Debug)]
struct UntrustingConnector {
    inner: SharedHttpConnector,
    role_arn: String,
}

impl HttpConnector for UntrustingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| urlencoding_decode(&String::from_utf8_lossy(b)))
            .unwrap_or_default();
        if body.contains("Action=AssumeRole") && body.contains(&self.role_arn) {
            let xml = format!(
                r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::{ACCOUNT}:assumed-role/central/x is not authorized to perform: sts:AssumeRole on resource: {}</Message></Error><RequestId>r</RequestId></ErrorResponse>"#,
                self.role_arn
            );
            let resp = HttpResponse::new(StatusCode::try_from(403).unwrap(), SdkBody::from(xml));
            return HttpConnectorFuture::ready(Ok(resp));
        }
        self.inner.call(request)
    }
}

impl HttpClient for Untrusting {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(UntrustingConnector {
            inner: self.inner.http_connector(settings, components),
            role_arn: self.role_arn.clone(),
        })
    }
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_role_that_cannot_be_assumed_fails_names_the_role_and_is_told() {
    let sdk = sdk().await;
    let c = member_account(5);
    let c_cfg = as_account(&sdk, &c, "us-east-1").await;
    let (ec2, group, rule) = open_group(&c_cfg).await;
    let role_arn = format!("arn:aws:iam::{c}:role/{MEMBER_ROLE}");
    let refusing = sdk
        .to_builder()
        .http_client(Untrusting {
            inner: trailguard_aws::config::http_client(),
            role_arn: role_arn.clone(),
        })
        .build();
    let (topic, queue) = topic_with_queue(&sdk).await;
    let deps = central(&refusing, "revert-security-group", "{}", Some(topic), |c| {
        Sdk::none().with_ec2(c)
    });

    let event = opened(&c, "us-east-1", &group, &rule);
    let err = deps.process(event.clone()).await.unwrap_err().to_string();
    assert!(
        err.contains(&role_arn) && err.contains("AccessDenied"),
        "{err}"
    );
    assert!(err.contains("trust"), "the error says what to check: {err}");
    let msgs = drain(&sdk, &queue).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].contains(&role_arn) && msgs[0].contains(&c),
        "{}",
        msgs[0]
    );
    assert!(msgs[0].contains("cannot act in account"), "{}", msgs[0]);
    // The open rule is still there: nothing was done, and the event is kept for a retry.
    assert_eq!(ingress_rules(&ec2, &group).await, vec![rule]);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn bad_accounts_and_regions_are_errors_that_name_the_field() {
    let sdk = sdk().await;
    let deps = central(&sdk, "revert-security-group", "{}", None, |c| {
        Sdk::none().with_ec2(c)
    });
    let mut ev = opened(
        "123",
        "us-east-1",
        "sg-0123456789abcdef0",
        "sgr-0123456789abcdef0",
    );
    let err = deps.process(ev.clone()).await.unwrap_err().to_string();
    assert!(err.contains("`account`") && err.contains("`123`"), "{err}");
    ev["account"] = json!("222222222222");
    ev["region"] = json!("eu-west-1; rm -rf /");
    let err = deps.process(ev).await.unwrap_err().to_string();
    assert!(err.contains("`region`"), "{err}");
}
