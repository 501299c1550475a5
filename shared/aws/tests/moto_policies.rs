//! revert-resource-policy and revert-storage-policy against moto: a queue, topic, secret, key
//! or repository policy opened by the attacker's own SDK call is written back without
//! exactly the principals the call let in (every other statement as it was), deleted when
//! nothing is left (the topic gets AWS's default, the key is never left without an
//! administrator); redelivery is already done, dry-run and the exemption tag change nothing.
//! OpenSearch and EFS policies: moto_storage.rs; Glacier (moto has no vault policy calls): the
//! fakes, handler.rs.

mod common;

use common::*;
use serde_json::{json, Value};
use trailguard_aws::{Deps, NotifyPort, Sdk};

const OUTSIDER: &str = "999988887777";
const POLICY: &str = "{}";
const DRY_RUN: &str = r#"{"mode": {"default": "dry-run"}}"#;

fn doc(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn statements(policy: &str) -> Value {
    serde_json::from_str::<Value>(policy).unwrap()["Statement"].clone()
}

fn event(template: &str, request: Value) -> Value {
    cloudtrail_event(template, request, Value::Null)
}

macro_rules! deps {
    ($sdk:expr, $policy:expr) => {
        deps_with(
            $sdk,
            "revert-resource-policy",
            $policy,
            Sdk::none()
                .with_sqs($sdk)
                .with_sns($sdk)
                .with_secretsmanager($sdk)
                .with_kms($sdk),
        )
    };
}

async fn queue_policy(sqs: &aws_sdk_sqs::Client, url: &str) -> Option<String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
        .cloned()
        .filter(|p| !p.is_empty())
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_sqs_queue_loses_exactly_what_was_opened() {
    let sdk = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = sqs
        .create_queue()
        .queue_name(unique("orders"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let arn = format!(
        "arn:aws:sqs:us-east-1:{ACCOUNT}:{}",
        url.rsplit('/').next().unwrap()
    );
    let app = json!({"Sid": "AppSend", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/orders-api")},
        "Action": "sqs:SendMessage", "Resource": arn});
    let open = json!({"Sid": "Open", "Effect": "Allow", "Principal": "*",
        "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"], "Resource": arn});
    // The attacker's call.
    let opened = doc(json!([app, open]));
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, &opened)
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.sqs-SetQueueAttributes-public.json",
        json!({"queueUrl": url, "attributes": {"Policy": opened}}),
    );

    // Dry-run: nothing changes.
    let r = process(&deps!(&sdk, DRY_RUN), ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
    assert_eq!(
        queue_policy(&sqs, &url).await.map(|p| statements(&p)),
        Some(statements(&opened))
    );

    let deps = deps!(&sdk, POLICY);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    // Moto's queue URLs are http://, which the CLI would fetch: no command then (AWS's are
    // https://, sent as written; shell.rs).
    let undo = &r["actions"][0]["undo"];
    assert!(
        undo["command"]
            .as_str()
            .is_some_and(|c| c.starts_with("aws sqs set-queue-attributes --queue-url "))
            || undo["none"]
                .as_str()
                .is_some_and(|w| w.contains("http(s)://")),
        "{r}"
    );
    assert_eq!(
        statements(&queue_policy(&sqs, &url).await.unwrap()),
        json!([app])
    );
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // trailguard undo: the policy exactly as the remediation found it; again, nothing to
    // undo. A policy rewritten since is not trailguard's to put back: refused.
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(
        queue_policy(&sqs, &url).await.map(|p| statements(&p)),
        Some(statements(&opened))
    );
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    let rewritten = doc(json!([app, {"Sid": "Other", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/billing")},
        "Action": "sqs:SendMessage", "Resource": arn}]));
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, &rewritten)
        .send()
        .await
        .unwrap();
    let undone = common::undo(&sdk, &r, false).await;
    assert!(
        undone["refused"]
            .as_str()
            .is_some_and(|w| w.contains("changed since")),
        "{undone}"
    );
    assert_eq!(
        queue_policy(&sqs, &url).await.map(|p| statements(&p)),
        Some(statements(&rewritten))
    );
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::Policy,
            doc(json!([app])),
        )
        .send()
        .await
        .unwrap();

    // AddPermission for an outside account: its statement goes, the application's stays.
    sqs.add_permission()
        .queue_url(&url)
        .label("partner-send")
        .aws_account_ids(OUTSIDER)
        .actions("SendMessage")
        .send()
        .await
        .unwrap();
    assert!(queue_policy(&sqs, &url).await.unwrap().contains(OUTSIDER));
    let ev = event(
        "aws.sqs-AddPermission-outside-account.json",
        json!({"queueUrl": url, "label": "partner-send", "aWSAccountIds": [OUTSIDER], "actions": ["SendMessage"]}),
    );
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(
        statements(&queue_policy(&sqs, &url).await.unwrap()),
        json!([app])
    );
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // Only the open statement: the policy is deleted.
    let only_open = doc(json!([open]));
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, &only_open)
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.sqs-SetQueueAttributes-public.json",
        json!({"queueUrl": url, "attributes": {"Policy": only_open}}),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(queue_policy(&sqs, &url).await, None);

    // Tagged exempt: told, left as it is.
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, &opened)
        .send()
        .await
        .unwrap();
    sqs.tag_queue()
        .queue_url(&url)
        .tags("trailguard:exempt", "true")
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.sqs-SetQueueAttributes-public.json",
        json!({"queueUrl": url, "attributes": {"Policy": opened}}),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(
        queue_policy(&sqs, &url).await.map(|p| statements(&p)),
        Some(statements(&opened))
    );
}

async fn topic_policy(sns: &aws_sdk_sns::Client, arn: &str) -> String {
    sns.get_topic_attributes()
        .topic_arn(arn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get("Policy"))
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_sns_topic_loses_exactly_what_was_opened_and_keeps_a_default_policy() {
    let sdk = sdk().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let arn = sns
        .create_topic()
        .name(unique("alerts"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    let owner = json!({"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["SNS:GetTopicAttributes", "SNS:Publish", "SNS:Subscribe"], "Resource": arn,
        "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}});
    let anyone = json!({"Sid": "AnyoneSubscribes", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": "SNS:Subscribe", "Resource": arn});
    let opened = doc(json!([owner, anyone]));
    sns.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("Policy")
        .attribute_value(&opened)
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.sns-SetTopicAttributes-public.json",
        json!({"topicArn": arn, "attributeName": "Policy", "attributeValue": opened}),
    );
    let r = process(&deps!(&sdk, DRY_RUN), ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
    assert_eq!(
        statements(&topic_policy(&sns, &arn).await),
        json!([owner, anyone])
    );

    let deps = deps!(&sdk, POLICY);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(statements(&topic_policy(&sns, &arn).await), json!([owner]));
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // Nothing left: AWS's default topic policy, the owner's only.
    let only = doc(json!([anyone]));
    sns.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("Policy")
        .attribute_value(&only)
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.sns-SetTopicAttributes-public.json",
        json!({"topicArn": arn, "attributeName": "Policy", "attributeValue": only}),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let left = statements(&topic_policy(&sns, &arn).await);
    assert_eq!(
        left[0]["Condition"]["StringEquals"]["AWS:SourceOwner"], ACCOUNT,
        "{left}"
    );
    assert_eq!(left.as_array().unwrap().len(), 1);
    // trailguard undo refuses: AWS's default is what a new topic of that name would have
    // too, so it is no proof this is the topic trailguard changed.
    let undone = common::undo(&sdk, &r, false).await;
    assert!(
        undone["refused"]
            .as_str()
            .is_some_and(|w| w.contains("wrote AWS's default policy")),
        "{undone}"
    );
    assert_eq!(statements(&topic_policy(&sns, &arn).await), left);

    // AddPermission for an outside account.
    sns.add_permission()
        .topic_arn(&arn)
        .label("partner-subscribe")
        .aws_account_id(OUTSIDER)
        .action_name("Subscribe")
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.sns-AddPermission-outside-account.json",
        json!({"topicArn": arn, "label": "partner-subscribe", "aWSAccountId": [OUTSIDER], "actionName": ["Subscribe"]}),
    );
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(statements(&topic_policy(&sns, &arn).await), left);
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_secret_loses_the_outside_account_and_an_empty_policy_is_deleted() {
    let sdk = sdk().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = unique("prod-db");
    sm.create_secret()
        .name(&name)
        .secret_string("s3cr3t")
        .send()
        .await
        .unwrap();
    let app = json!({"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/app")},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"});
    let outsider = json!({"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OUTSIDER}:root")},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"});
    let policy = |s: &aws_sdk_secretsmanager::Client| {
        let (s, name) = (s.clone(), name.clone());
        async move {
            s.get_resource_policy()
                .secret_id(&name)
                .send()
                .await
                .unwrap()
                .resource_policy()
                .map(String::from)
        }
    };
    for (written, left) in [
        (json!([app, outsider]), Some(json!([app]))),
        (json!([outsider]), None),
    ] {
        let opened = doc(written);
        sm.put_resource_policy()
            .secret_id(&name)
            .resource_policy(&opened)
            .send()
            .await
            .unwrap();
        let ev = event(
            "aws.secretsmanager-PutResourcePolicy-outside-account.json",
            json!({"secretId": name, "resourcePolicy": opened}),
        );
        let r = process(&deps!(&sdk, DRY_RUN), ev.clone()).await.unwrap();
        assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
        assert_eq!(policy(&sm).await.as_deref(), Some(opened.as_str()));
        let deps = deps!(&sdk, POLICY);
        let r = process(&deps, ev.clone()).await.unwrap();
        assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
        assert_eq!(policy(&sm).await.map(|p| statements(&p)), left);
        let again = process(&deps, ev).await.unwrap();
        assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");
        // trailguard undo: the policy trailguard rewrote is put back as it was; one it
        // deleted is not (a secret of that name made since would have none either).
        let undone = common::undo(&sdk, &r, false).await;
        if left.is_some() {
            assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
            assert_eq!(policy(&sm).await.as_deref(), Some(opened.as_str()));
            let undone = common::undo(&sdk, &r, false).await;
            assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
        } else {
            assert!(
                undone["refused"]
                    .as_str()
                    .is_some_and(|w| w.contains("deleted its policy")),
                "{undone}"
            );
            assert_eq!(policy(&sm).await, None);
        }
    }
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_key_loses_the_public_grant_but_never_its_administrator() {
    let sdk = sdk().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms
        .create_key()
        .description(unique("key"))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    let root = json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"});
    let anyone = json!({"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"});
    let policy = || {
        let (kms, key) = (kms.clone(), key.clone());
        async move {
            kms.get_key_policy()
                .key_id(&key)
                .policy_name("default")
                .send()
                .await
                .unwrap()
                .policy()
                .unwrap()
                .to_string()
        }
    };
    let put = |p: String| {
        let (kms, key) = (kms.clone(), key.clone());
        async move {
            kms.put_key_policy()
                .key_id(&key)
                .policy_name("default")
                .policy(p)
                .send()
                .await
                .unwrap();
        }
    };
    let opened = doc(json!([root, anyone]));
    put(opened.clone()).await;
    let ev = event(
        "aws.kms-PutKeyPolicy-public-decrypt.json",
        json!({"keyId": key, "policyName": "default", "policy": opened}),
    );
    let r = process(&deps!(&sdk, DRY_RUN), ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
    let deps = deps!(&sdk, POLICY);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(statements(&policy().await), json!([root]));
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // The only administrator is everyone: told, never written.
    let everyone = doc(
        json!([{"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]),
    );
    put(everyone.clone()).await;
    let ev = event(
        "aws.kms-PutKeyPolicy-public-only-administrator.json",
        json!({"keyId": key, "policyName": "default", "policy": everyone}),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(policy().await, everyone);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_ecr_repository_loses_the_outside_account_and_a_public_only_policy() {
    let sdk = sdk().await;
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let name = unique("images/worker");
    ecr.create_repository()
        .repository_name(&name)
        .send()
        .await
        .unwrap();
    let deps = deps_with(
        &sdk,
        "revert-storage-policy",
        POLICY,
        Sdk::none().with_ecr(&sdk),
    );
    let dry = deps_with(
        &sdk,
        "revert-storage-policy",
        DRY_RUN,
        Sdk::none().with_ecr(&sdk),
    );
    let ci = json!({"Sid": "CiPush", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/ci")},
        "Action": ["ecr:PutImage"]});
    let vendor = json!({"Sid": "VendorPush", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OUTSIDER}:root")},
        "Action": ["ecr:PutImage"]});
    let public = json!({"Sid": "PublicPull", "Effect": "Allow", "Principal": "*",
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]});
    let policy = || {
        let (ecr, name) = (ecr.clone(), name.clone());
        async move {
            match ecr
                .get_repository_policy()
                .repository_name(&name)
                .send()
                .await
            {
                Ok(o) => o.policy_text().map(statements),
                Err(_) => None,
            }
        }
    };
    for (written, left, template) in [
        (
            json!([ci, vendor]),
            Some(json!([ci])),
            "aws.ecr-SetRepositoryPolicy-outside-account-push.json",
        ),
        (
            json!([public]),
            None,
            "aws.ecr-SetRepositoryPolicy-public-pull.json",
        ),
    ] {
        let opened = doc(written.clone());
        ecr.set_repository_policy()
            .repository_name(&name)
            .policy_text(&opened)
            .send()
            .await
            .unwrap();
        let ev = event(
            template,
            json!({"repositoryName": name, "policyText": opened}),
        );
        let r = process(&dry, ev.clone()).await.unwrap();
        assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
        assert_eq!(policy().await, Some(written));
        let r = process(&deps, ev.clone()).await.unwrap();
        assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
        assert_eq!(policy().await, left);
        let again = process(&deps, ev).await.unwrap();
        assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");
    }

    // Tagged exempt: told, left as it is.
    let arn = ecr
        .describe_repositories()
        .repository_names(&name)
        .send()
        .await
        .unwrap()
        .repositories()[0]
        .repository_arn()
        .unwrap()
        .to_string();
    ecr.tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_ecr::types::Tag::builder()
                .key("trailguard:exempt")
                .value("true")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let opened = doc(json!([public]));
    ecr.set_repository_policy()
        .repository_name(&name)
        .policy_text(&opened)
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.ecr-SetRepositoryPolicy-public-pull.json",
        json!({"repositoryName": name, "policyText": opened}),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(policy().await, Some(json!([public])));
}

// ---- Exemption tags given by anyone but a tag admin are taken back ----

const EXEMPT: &str = "trailguard:exempt";
/// The samples' tag admins (events/meta/policy.json).
const TAG_ADMINS: &str = r#"{"tag_admins": ["arn:aws:iam::*:role/security-tag-admin"]}"#;

/// The attacker's exemption, as the sample `template` with `request` records it: dry-run
/// leaves it, the function takes it off and leaves the other tags, redelivery is already
/// done; `trailguard undo` puts back exactly the tag taken off (`value`, as the resource
/// carried it), then has nothing to undo; the same exemption given again is taken off again.
/// `tags` reads the resource's tag keys.
async fn exemption_taken_back<C: trailguard_aws::Connect, N: NotifyPort>(
    sdk: &aws_config::SdkConfig,
    deps: &Deps<C, N>,
    dry: &Deps<C, N>,
    ev: Value,
    value: &str,
    tags: impl AsyncFn() -> Vec<String>,
) {
    let before = tags().await;
    assert!(before.iter().any(|k| k == EXEMPT), "{before:?}");
    let r = process(dry, ev.clone()).await.unwrap();
    assert_eq!(r["decision"], "remediate", "{r}");
    assert_eq!(r["actions"][0]["outcome"], "dry_run", "{r}");
    assert_eq!(tags().await, before);
    let r = process(deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    // Moto's queue URLs are http://, for which no command is written (shell.rs).
    let undo = &r["actions"][0]["undo"];
    assert!(
        undo["command"]
            .as_str()
            .is_some_and(|c| c.contains(" tag-") && c.contains(EXEMPT))
            || undo["none"]
                .as_str()
                .is_some_and(|w| w.contains("http(s)://")),
        "{r}"
    );
    let after = tags().await;
    let mut expected = before.clone();
    expected.retain(|k| k != EXEMPT);
    assert_eq!(after, expected, "only the exemption is taken off");
    assert!(after.iter().any(|k| k == "team"), "{after:?}");
    let again = process(deps, ev.clone()).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // trailguard undo: the tag is back with the value it had, the other tags as they were.
    let reversal = &r["actions"][0]["reversal"];
    assert_eq!(reversal["call"], "tag_resource", "{r}");
    assert_eq!(reversal["with"]["key"], EXEMPT, "{r}");
    assert_eq!(reversal["with"]["value"], value, "{r}");
    let undone = common::undo(sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(tags().await, before, "the undo puts back the tag taken off");
    // Already undone only when the tag carries that value again.
    let undone = common::undo(sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");

    // The same exemption given again (another event): taken off again.
    let mut given_again = ev;
    given_again["id"] = json!(format!(
        "{}-again",
        given_again["id"].as_str().unwrap_or("event")
    ));
    let r = process(deps, given_again).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(tags().await, expected);
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_queue_exempted_by_a_non_admin_loses_the_exemption_and_then_its_open_policy() {
    let sdk = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = sqs
        .create_queue()
        .queue_name(unique("exempted"))
        .tags("team", "payments")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    // The attacker's exemption, truthy in another spelling: the undo puts back this one.
    sqs.tag_queue()
        .queue_url(&url)
        .tags(EXEMPT, "Yes")
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.sqs-TagQueue-exempt-by-non-admin.json",
        json!({"queueUrl": url, "tags": {EXEMPT: "Yes"}}),
    );
    let tags = async || {
        sorted(
            sqs.list_queue_tags()
                .queue_url(&url)
                .send()
                .await
                .unwrap()
                .tags()
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default(),
        )
    };
    let deps = deps!(&sdk, POLICY);
    exemption_taken_back(&sdk, &deps, &deps!(&sdk, DRY_RUN), ev, "Yes", tags).await;

    // Then the attacker opens the queue: no longer exempt, its policy is restricted.
    let arn = format!(
        "arn:aws:sqs:us-east-1:{ACCOUNT}:{}",
        url.rsplit('/').next().unwrap()
    );
    let opened = doc(json!([{"Sid": "Open", "Effect": "Allow", "Principal": "*",
        "Action": "sqs:SendMessage", "Resource": arn}]));
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, &opened)
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.sqs-SetQueueAttributes-public.json",
        json!({"queueUrl": url, "attributes": {"Policy": opened}}),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "remediate", "{r}");
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(queue_policy(&sqs, &url).await, None);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_queue_exempted_by_a_tag_admin_stays_exempt() {
    let sdk = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = sqs
        .create_queue()
        .queue_name(unique("admin-exempted"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    sqs.tag_queue()
        .queue_url(&url)
        .tags(EXEMPT, "true")
        .send()
        .await
        .unwrap();
    let deps = deps!(&sdk, TAG_ADMINS);
    let ev = event(
        "aws.sqs-TagQueue-exempt-by-tag-admin.json",
        json!({"queueUrl": url, "tags": {EXEMPT: "true"}}),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(r["actions"], json!([]), "{r}");
    let tags = sqs.list_queue_tags().queue_url(&url).send().await.unwrap();
    assert_eq!(
        tags.tags().and_then(|t| t.get(EXEMPT)).map(String::as_str),
        Some("true")
    );
    // The exemption holds: a policy opened later is told, not changed.
    let arn = format!(
        "arn:aws:sqs:us-east-1:{ACCOUNT}:{}",
        url.rsplit('/').next().unwrap()
    );
    let opened = doc(json!([{"Sid": "Open", "Effect": "Allow", "Principal": "*",
        "Action": "sqs:SendMessage", "Resource": arn}]));
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, &opened)
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.sqs-SetQueueAttributes-public.json",
        json!({"queueUrl": url, "attributes": {"Policy": opened}}),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(
        queue_policy(&sqs, &url).await.map(|p| statements(&p)),
        Some(statements(&opened))
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_topic_secret_and_key_exempted_by_a_non_admin_lose_the_exemption() {
    let sdk = sdk().await;
    let deps = deps!(&sdk, POLICY);
    let dry = deps!(&sdk, DRY_RUN);

    let sns = aws_sdk_sns::Client::new(&sdk);
    let tag = |k: &str, v: &str| {
        aws_sdk_sns::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    let topic = sns
        .create_topic()
        .name(unique("exempted"))
        .tags(tag("team", "payments"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    sns.tag_resource()
        .resource_arn(&topic)
        .tags(tag(EXEMPT, "true"))
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.sns-TagResource-exempt-by-non-admin.json",
        json!({"resourceArn": topic, "tags": [{"key": EXEMPT, "value": "true"}]}),
    );
    let tags = async || {
        sorted(
            sns.list_tags_for_resource()
                .resource_arn(&topic)
                .send()
                .await
                .unwrap()
                .tags()
                .iter()
                .map(|t| t.key().to_string())
                .collect(),
        )
    };
    exemption_taken_back(&sdk, &deps, &dry, ev, "true", tags).await;

    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let tag = |k: &str, v: &str| {
        aws_sdk_secretsmanager::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
    };
    let secret = sm
        .create_secret()
        .name(unique("prod/exempted"))
        .secret_string("s3cr3t")
        .tags(tag("team", "payments"))
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    sm.tag_resource()
        .secret_id(&secret)
        .tags(tag(EXEMPT, "true"))
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.secretsmanager-TagResource-exempt-by-non-admin.json",
        json!({"secretId": secret, "tags": [{"key": EXEMPT, "value": "true"}]}),
    );
    let tags = async || {
        sorted(
            sm.describe_secret()
                .secret_id(&secret)
                .send()
                .await
                .unwrap()
                .tags()
                .iter()
                .filter_map(|t| t.key().map(String::from))
                .collect(),
        )
    };
    exemption_taken_back(&sdk, &deps, &dry, ev, "true", tags).await;

    let kms = aws_sdk_kms::Client::new(&sdk);
    let tag = |k: &str, v: &str| {
        aws_sdk_kms::types::Tag::builder()
            .tag_key(k)
            .tag_value(v)
            .build()
            .unwrap()
    };
    let key = kms
        .create_key()
        .tags(tag("team", "payments"))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    kms.tag_resource()
        .key_id(&key)
        .tags(tag(EXEMPT, "true"))
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.kms-TagResource-exempt-by-non-admin.json",
        json!({"keyId": key, "tags": [{"tagKey": EXEMPT, "tagValue": "true"}]}),
    );
    let tags = async || {
        sorted(
            kms.list_resource_tags()
                .key_id(&key)
                .send()
                .await
                .unwrap()
                .tags()
                .iter()
                .map(|t| t.tag_key().to_string())
                .collect(),
        )
    };
    exemption_taken_back(&sdk, &deps, &dry, ev, "true", tags).await;
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_repository_created_exempt_by_a_non_admin_loses_the_exemption_and_then_its_open_policy() {
    let sdk = sdk().await;
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let tag = |k: &str, v: &str| {
        aws_sdk_ecr::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    let name = unique("images/exempted");
    // The attacker creates the repository exempt.
    let created = ecr
        .create_repository()
        .repository_name(&name)
        .tags(tag("team", "payments"))
        .tags(tag(EXEMPT, "true"))
        .send()
        .await
        .unwrap();
    let arn = created
        .repository()
        .unwrap()
        .repository_arn()
        .unwrap()
        .to_string();
    let ev = cloudtrail_event(
        "aws.ecr-CreateRepository-exempt.json",
        json!({"repositoryName": name, "tags": [{"key": "team", "value": "payments"}, {"key": EXEMPT, "value": "true"}]}),
        json!({"repository": {"repositoryArn": arn, "repositoryName": name, "registryId": ACCOUNT}}),
    );
    let deps = deps_with(
        &sdk,
        "revert-storage-policy",
        POLICY,
        Sdk::none().with_ecr(&sdk),
    );
    let dry = deps_with(
        &sdk,
        "revert-storage-policy",
        DRY_RUN,
        Sdk::none().with_ecr(&sdk),
    );
    let tags = async || {
        sorted(
            ecr.list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .unwrap()
                .tags()
                .iter()
                .map(|t| t.key().to_string())
                .collect(),
        )
    };
    exemption_taken_back(&sdk, &deps, &dry, ev, "true", &tags).await;

    // Tagged exempt again by TagResource: taken back too.
    ecr.tag_resource()
        .resource_arn(&arn)
        .tags(tag(EXEMPT, "true"))
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.ecr-TagResource-exempt-by-non-admin.json",
        json!({"resourceArn": arn, "tags": [{"key": EXEMPT, "value": "true"}]}),
    );
    exemption_taken_back(&sdk, &deps, &dry, ev, "true", &tags).await;

    // Then the attacker opens the repository: no longer exempt, its policy is restricted.
    let opened = doc(
        json!([{"Sid": "PublicPull", "Effect": "Allow", "Principal": "*",
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]),
    );
    ecr.set_repository_policy()
        .repository_name(&name)
        .policy_text(&opened)
        .send()
        .await
        .unwrap();
    let ev = event(
        "aws.ecr-SetRepositoryPolicy-public-pull.json",
        json!({"repositoryName": name, "policyText": opened}),
    );
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "remediate", "{r}");
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert!(ecr
        .get_repository_policy()
        .repository_name(&name)
        .send()
        .await
        .is_err());
}
