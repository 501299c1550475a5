//! Helpers for the tests against moto server (a real AWS API emulator). Those tests are
//! `#[ignore = "needs moto server: bash scripts/test.sh"]`: the test script starts moto, sets
//! `AWS_ENDPOINT_URL` and runs them with `--include-ignored`; run without moto, they fail.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::sync::Arc;

use serde_json::{json, Value};
use trailguard_aws::{Deps, HandlerError, Home, Notifier, NotifyPort, Sdk, Settings, Unwired};
use trailguard_rules::{Decider, Policy};

pub const ACCOUNT: &str = "123456789012";

/// The SDK configuration for moto; fails the test when the script did not start moto.
pub async fn sdk() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "this test needs moto server on 127.0.0.1: run it through bash scripts/test.sh \
         (AWS_ENDPOINT_URL is `{endpoint}`)"
    );
    // The SDK's standard retries, with a short first backoff: moto answers some calls
    // (LookupEvents) with a 500 that is retried, and waiting a second each time only slows
    // the tests. The functions keep the SDK's defaults.
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(trailguard_aws::config::http_client())
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_initial_backoff(std::time::Duration::from_millis(5)),
        )
        .load()
        .await
}

/// Run the handler and give its report as JSON (what Lambda returns).
pub async fn process<C: trailguard_aws::Connect, N: NotifyPort>(
    deps: &Deps<C, N>,
    event: Value,
) -> Result<Value, HandlerError> {
    let report = deps.process(event).await;
    if let (Ok(r), Some(log)) = (&report, std::env::var_os("TRAILGUARD_CALLS_LOG")) {
        log_calls(r, &log);
    }
    report.map(|r| r.to_value())
}

/// With `TRAILGUARD_CALLS_LOG` set (the test command sets it), each report's AWS calls are
/// appended there, a JSON line per invocation, for `scripts/calls.py` (calls per remediation,
/// BENCHMARKS.md).
fn log_calls(report: &trailguard_rules::Report, log: &std::ffi::OsStr) {
    use std::io::Write;
    let actions: Vec<Value> = report
        .actions
        .iter()
        .map(|a| {
            serde_json::json!({"type": a.action.type_name(), "mutates": a.action.mutates(), "outcome": a.outcome, "calls": a.calls})
        })
        .collect();
    let line = serde_json::json!({
        "test": std::thread::current().name().unwrap_or_default(),
        "function": report.function,
        "event": report.event.as_ref().map(|e| e.name.as_str()),
        "decision": report.decision,
        "mode": report.mode,
        "lookups": report.lookups,
        "actions": actions,
    });
    // One write per line, appending: the tests of a binary run at once.
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("TRAILGUARD_CALLS_LOG cannot be opened");
    f.write_all(format!("{line}\n").as_bytes())
        .expect("TRAILGUARD_CALLS_LOG cannot be written");
}

pub fn sample(name: &str) -> Value {
    // The repository's events/, from shared/aws or from cli/ (which includes this module).
    let events = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("events"))
        .find(|e| e.join("meta").is_dir())
        .expect("the repository's events/ directory");
    let p = events.join(name);
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn settings(function: &str, policy: &str, topic: Option<String>) -> Settings {
    Settings {
        decider: Decider::from_function_name(function).unwrap(),
        policy: Policy::from_json(policy).unwrap(),
        own_role_arn: Some(format!(
            "arn:aws:iam::{ACCOUNT}:role/trailguard-RevertSecurityGroupRole-EXAMPLE"
        )),
        topic_arn: topic,
        event_bus: None,
        endpoint_url: std::env::var("AWS_ENDPOINT_URL").ok(),
        ledger_table: None,
        region: Some("us-east-1".into()),
        sweep_max_resources: None,
        member_role_name: None,
        own_account: Some(ACCOUNT.into()),
    }
}

pub fn notifier(sdk: &aws_config::SdkConfig, topic: Option<String>) -> Notifier {
    Notifier {
        sns: aws_sdk_sns::Client::new(sdk),
        topic_arn: topic,
        events: aws_sdk_eventbridge::Client::new(sdk),
        event_bus: None,
    }
}

pub type Ec2Deps = Deps<Home<Sdk<aws_sdk_ec2::Client, Unwired, Unwired>>, Notifier>;
pub type KeyDeps =
    Deps<Home<Sdk<Unwired, aws_sdk_iam::Client, aws_sdk_cloudtrail::Client>>, Notifier>;
pub type TrailDeps = Deps<Home<Sdk<Unwired, Unwired, aws_sdk_cloudtrail::Client>>, Notifier>;

pub fn ec2_deps(
    sdk: &aws_config::SdkConfig,
    function: &str,
    policy: &str,
    topic: Option<String>,
) -> Ec2Deps {
    Deps {
        connect: Home(Arc::new(Sdk::none().with_ec2(sdk))),
        notify: notifier(sdk, topic.clone()),
        settings: settings(function, policy, topic),
        clock: trailguard_aws::system_clock,
    }
}

pub fn key_deps(sdk: &aws_config::SdkConfig, policy: &str, topic: Option<String>) -> KeyDeps {
    Deps {
        connect: Home(Arc::new(Sdk::none().with_iam(sdk).with_cloudtrail(sdk))),
        notify: notifier(sdk, topic.clone()),
        settings: settings("disable-compromised-key", policy, topic),
        clock: trailguard_aws::system_clock,
    }
}

pub fn trail_deps(sdk: &aws_config::SdkConfig, policy: &str, topic: Option<String>) -> TrailDeps {
    Deps {
        connect: Home(Arc::new(Sdk::none().with_cloudtrail(sdk))),
        notify: notifier(sdk, topic.clone()),
        settings: settings("guard-cloudtrail", policy, topic),
        clock: trailguard_aws::system_clock,
    }
}

/// An SNS topic with an SQS queue subscribed, as a user would wire email or chat.
pub async fn topic_with_queue(sdk: &aws_config::SdkConfig) -> (String, String) {
    let sns = aws_sdk_sns::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let topic = sns
        .create_topic()
        .name(unique("trailguard"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    let queue_name = unique("notices");
    let queue_url = sqs
        .create_queue()
        .queue_name(&queue_name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let queue_arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{queue_name}");
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    (topic, queue_url)
}

/// Every message waiting in the queue.
pub async fn drain(sdk: &aws_config::SdkConfig, queue_url: &str) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut out = Vec::new();
    loop {
        let r = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let msgs = r.messages();
        if msgs.is_empty() {
            return out;
        }
        for m in msgs {
            out.push(m.body().unwrap_or_default().to_string());
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// A CloudTrail envelope like `template` (a sample in events/) with a new event id and the
/// given request and response.
pub fn cloudtrail_event(template: &str, request: Value, response: Value) -> Value {
    let mut ev = sample(template);
    ev["id"] = json!(unique("ev"));
    ev["detail"]["eventID"] = json!(unique("ct"));
    ev["detail"]["requestParameters"] = request;
    ev["detail"]["responseElements"] = response;
    ev
}

/// A raw HTTP request to moto over loopback: (status line, body).
pub fn raw_http(method: &str, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    http_to(&endpoint, method, path, headers, "")
}

/// A raw HTTP request with a body to a server on loopback (`http://127.0.0.1:PORT`):
/// (status line, body).
pub fn http_to(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (String, String) {
    let hostport = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut s = std::net::TcpStream::connect(&hostport).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

/// moto's own API (reset, recorder).
pub fn moto_api(method: &str, path: &str) -> String {
    raw_http(method, path, &[]).1
}

/// One request moto's recorder kept.
pub struct Recorded {
    /// The service, from the request's signature (`ec2`, `iam`, `sts`, ...).
    pub service: String,
    /// The API action (`RevokeSecurityGroupIngress`).
    pub action: String,
    /// The request body, decoded (query protocols: `Action=...&RoleArn=...`, URL-encoded).
    pub body: String,
}

/// Every request moto recorded since the last reset.
pub fn recorded_requests() -> Vec<Recorded> {
    let body = moto_api("GET", "/moto-api/recorder/download-recording");
    body.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            let raw = v["body"].as_str().unwrap_or_default();
            // The recorder keeps bodies base64-encoded when it says so.
            let body = if v["body_encoded"] == true {
                String::from_utf8_lossy(&aws_smithy_types::base64::decode(raw).unwrap_or_default())
                    .into_owned()
            } else {
                raw.to_string()
            };
            let action = match v["headers"]["X-Amz-Target"].as_str() {
                // JSON protocols (CloudTrail, EventBridge) name the operation in a header.
                Some(t) => t.rsplit('.').next().unwrap_or_default().to_string(),
                None => body
                    .split("Action=")
                    .nth(1)
                    .map(|r| r.split('&').next().unwrap_or_default().to_string())
                    .unwrap_or_default(),
            };
            let service = v["headers"]["Authorization"]
                .as_str()
                .unwrap_or_default()
                .split('/')
                .nth(3)
                .unwrap_or_default()
                .to_string();
            Recorded {
                service,
                action,
                body,
            }
        })
        .collect()
}

/// A security group in `vpc` with the given tags: its id.
pub async fn create_group(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    name: &str,
    tags: &[(&str, &str)],
) -> String {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let mut req = ec2
        .create_security_group()
        .group_name(name)
        .description(name)
        .vpc_id(vpc);
    if !tags.is_empty() {
        let mut spec = TagSpecification::builder().resource_type(ResourceType::SecurityGroup);
        for (k, v) in tags {
            spec = spec.tags(Tag::builder().key(*k).value(*v).build());
        }
        req = req.tag_specifications(spec.build());
    }
    req.send().await.unwrap().group_id().unwrap().to_string()
}

pub async fn create_vpc(ec2: &aws_sdk_ec2::Client, cidr: &str) -> String {
    let out = ec2.create_vpc().cidr_block(cidr).send().await.unwrap();
    out.vpc().unwrap().vpc_id().unwrap().to_string()
}

/// A new network ACL in `vpc`.
pub async fn create_acl(ec2: &aws_sdk_ec2::Client, vpc: &str) -> String {
    let out = ec2.create_network_acl().vpc_id(vpc).send().await.unwrap();
    out.network_acl()
        .unwrap()
        .network_acl_id()
        .unwrap()
        .to_string()
}

/// An ingress entry allowing TCP `from`-`to` from `cidr`, at rule number `n`.
pub async fn allow_tcp_entry(
    ec2: &aws_sdk_ec2::Client,
    acl: &str,
    n: i32,
    cidr: &str,
    (from, to): (i32, i32),
) {
    ec2.create_network_acl_entry()
        .network_acl_id(acl)
        .rule_number(n)
        .protocol("6")
        .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
        .egress(false)
        .cidr_block(cidr)
        .port_range(
            aws_sdk_ec2::types::PortRange::builder()
                .from(from)
                .to(to)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// A new IAM user (name starting with `prefix`) with `n` access keys.
pub async fn create_user_with_keys(
    iam: &aws_sdk_iam::Client,
    prefix: &str,
    n: usize,
) -> (String, Vec<String>) {
    let name = unique(prefix);
    iam.create_user().user_name(&name).send().await.unwrap();
    let mut keys = Vec::new();
    for _ in 0..n {
        let out = iam
            .create_access_key()
            .user_name(&name)
            .send()
            .await
            .unwrap();
        keys.push(out.access_key().unwrap().access_key_id().to_string());
    }
    (name, keys)
}

// ---- IAM users and their keys ----

pub struct User {
    pub name: String,
    pub key1: String,
    pub key2: String,
    pub iam: aws_sdk_iam::Client,
}

pub async fn user_with_two_keys(sdk: &aws_config::SdkConfig) -> User {
    let iam = aws_sdk_iam::Client::new(sdk);
    let (name, keys) = create_user_with_keys(&iam, "bob", 2).await;
    User {
        name,
        key1: keys[0].clone(),
        key2: keys[1].clone(),
        iam,
    }
}

pub async fn status(u: &User, key: &str) -> String {
    let keys = u
        .iam
        .list_access_keys()
        .user_name(&u.name)
        .send()
        .await
        .unwrap();
    keys.access_key_metadata()
        .iter()
        .find(|k| k.access_key_id() == Some(key))
        .and_then(|k| k.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or("missing".into())
}

pub async fn deny_policy(u: &User) -> Option<Value> {
    let r = u
        .iam
        .get_user_policy()
        .user_name(&u.name)
        .policy_name("trailguard-revoke-older-sessions")
        .send()
        .await
        .ok()?;
    let doc = r.policy_document();
    let decoded = urlencoding_decode(doc);
    serde_json::from_str(&decoded).ok()
}

pub fn urlencoding_decode(s: &str) -> String {
    // IAM returns policy documents URL-encoded.
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub async fn tags(u: &User) -> Vec<(String, String)> {
    u.iam
        .list_user_tags()
        .user_name(&u.name)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// What a user's containment changes, to compare across deliveries: both keys' status, the
/// inline policies, and the tag keys.
pub async fn user_state(u: &User) -> (String, String, Vec<String>, Vec<String>) {
    let policies = u
        .iam
        .list_user_policies()
        .user_name(&u.name)
        .send()
        .await
        .unwrap()
        .policy_names()
        .to_vec();
    let mut tag_keys: Vec<String> = tags(u).await.into_iter().map(|(k, _)| k).collect();
    tag_keys.sort();
    (
        status(u, &u.key1).await,
        status(u, &u.key2).await,
        policies,
        tag_keys,
    )
}

/// A function's dependencies with the given clients, against moto.
pub fn deps_with<C: trailguard_aws::Clients>(
    sdk: &aws_config::SdkConfig,
    function: &str,
    policy: &str,
    clients: C,
) -> Deps<Home<C>, Notifier> {
    deps_telling(sdk, function, policy, None, clients)
}

/// [`deps_with`], notifying `topic`.
pub fn deps_telling<C: trailguard_aws::Clients>(
    sdk: &aws_config::SdkConfig,
    function: &str,
    policy: &str,
    topic: Option<String>,
    clients: C,
) -> Deps<Home<C>, Notifier> {
    Deps {
        connect: Home(Arc::new(clients)),
        notify: notifier(sdk, topic.clone()),
        settings: settings(function, policy, topic),
        clock: trailguard_aws::system_clock,
    }
}

/// A function's clients for a test: these five, every other port unwired (a client built
/// with its own endpoint, such as the proxy's, cannot come from `Sdk`'s builders).
#[allow(clippy::type_complexity)]
pub fn five_clients<E, I, T, G, H>(
    ec2: E,
    iam: I,
    trail: T,
    guardduty: G,
    securityhub: H,
) -> Sdk<
    E,
    I,
    T,
    Unwired,
    Unwired,
    Unwired,
    Unwired,
    Unwired,
    Unwired,
    Unwired,
    Unwired,
    Unwired,
    G,
    H,
> {
    Sdk {
        ec2,
        iam,
        trail,
        guardduty,
        securityhub,
        rds: Unwired,
        lambda: Unwired,
        org: Unwired,
        ledger: Unwired,
        redshift: Unwired,
        s3: Unwired,
        policy: Unwired,
        s3control: Unwired,
        keys: Unwired,
        aliases: Unwired,
    }
}

/// The organization moto keeps for the whole server (created by the first test that asks),
/// and a new member account in it: (organization id, member account id).
pub async fn organization_with_member(sdk: &aws_config::SdkConfig) -> (String, String) {
    let org = aws_sdk_organizations::Client::new(sdk);
    // Tests run in parallel against one server: whoever creates it first wins, the others
    // find it.
    let _ = org
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await;
    let id = org
        .describe_organization()
        .send()
        .await
        .unwrap()
        .organization()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let member = create_member_account(&org).await;
    (id, member)
}

pub async fn create_member_account(org: &aws_sdk_organizations::Client) -> String {
    let name = unique("member");
    let status = org
        .create_account()
        .account_name(&name)
        .email(format!("{name}@example.com"))
        .send()
        .await
        .unwrap();
    status
        .create_account_status()
        .and_then(|s| s.account_id())
        .expect("moto creates the account at once")
        .to_string()
}

/// A new S3 bucket (CloudTrail needs one). An S3 client only for this is not worth its
/// build time, so the bucket is made with one signed-looking request moto accepts.
pub fn create_bucket() -> String {
    let name = unique("trail-logs").to_lowercase();
    let auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x";
    let (status, body) = raw_http("PUT", &format!("/{name}"), &[("Authorization", auth)]);
    assert!(status.contains(" 200"), "{status}: {body}");
    name
}

/// A ledger table as the stack creates it (string key `pk`), with a unique name.
pub async fn create_ledger_table(sdk: &aws_config::SdkConfig) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let name = unique("ledger");
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    name
}

/// A JSON call to moto's Security Hub (REST, `path` such as `/findings/import`) in the
/// default account and `us-east-1`: the findings a test sets up and reads back as they are.
pub fn securityhub_json(path: &str, body: &Value) -> Value {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let auth = "AWS4-HMAC-SHA256 Credential=testing/20261206/us-east-1/securityhub/aws4_request, SignedHeaders=host, Signature=0";
    let headers = [
        ("Authorization", auth),
        ("Content-Type", "application/json"),
    ];
    let (status, text) = http_to(&endpoint, "POST", path, &headers, &body.to_string());
    assert!(status.contains(" 200"), "{path}: {status}\n{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

/// Every finding of that id in Security Hub (moto's GetFindings), as it keeps them.
pub fn securityhub_findings(id: &str) -> Vec<Value> {
    let all = securityhub_json("/findings", &json!({}));
    all["Findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["Id"] == id)
        .cloned()
        .collect()
}

/// scripts/awsproxy.py in front of moto, on a free loopback port, stopped by its PID when
/// dropped: what moto does not model (Security Hub's BatchUpdateFindings) it answers on top
/// of moto's state.
pub struct AwsProxy {
    child: std::process::Child,
    pub url: String,
}

impl AwsProxy {
    pub fn start() -> AwsProxy {
        let upstream = std::env::var("AWS_ENDPOINT_URL").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/awsproxy.py");
        let child = std::process::Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--upstream", &upstream])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs scripts/awsproxy.py");
        // Held from here, so a failure below still stops it.
        let proxy = AwsProxy {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return proxy;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("awsproxy did not listen on {}", proxy.url);
    }
}

impl AwsProxy {
    /// What the proxy kept (`/__proxy/guardduty/archived`), as JSON.
    pub fn get(&self, path: &str) -> Value {
        let (status, text) = http_to(&self.url, "GET", path, &[], "");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {status}: {e}: {text}"))
    }
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The region's detector, created (with this publishing frequency) when it has none.
pub async fn detector(
    gd: &aws_sdk_guardduty::Client,
    frequency: Option<aws_sdk_guardduty::types::FindingPublishingFrequency>,
) -> String {
    let listed = gd.list_detectors().send().await.unwrap();
    match listed.detector_ids().first() {
        Some(id) => id.clone(),
        None => gd
            .create_detector()
            .enable(true)
            .set_finding_publishing_frequency(frequency)
            .send()
            .await
            .unwrap()
            .detector_id()
            .unwrap()
            .to_string(),
    }
}

/// `trailguard undo` on a function's report, as the CLI runs it (its plan, the SDK port in
/// moto's account and region): the undo's report as JSON.
pub async fn undo(sdk: &aws_config::SdkConfig, report: &Value, dry_run: bool) -> Value {
    let plan = trailguard_rules::undo::plan(report).expect("a report trailguard undo reads");
    let port = trailguard_aws::undo::SdkUndo::new(sdk);
    serde_json::to_value(trailguard_aws::undo::undo(&port, &plan, dry_run).await).unwrap()
}

/// Each step's outcome in an undo's report (`done`, `already_undone`, `refused`, ...).
pub fn undo_outcomes(u: &Value) -> Vec<String> {
    u["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| match &s["outcome"] {
            Value::String(s) => s.clone(),
            Value::Object(o) => o.keys().next().cloned().unwrap_or_default(),
            other => other.to_string(),
        })
        .collect()
}

/// A member account of its own for each test (moto keeps state per account).
pub fn member_account(n: u8) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{n}{:011}",
        (nanos as u64 * 7919 + std::process::id() as u64) % 100_000_000_000
    )
}

/// Credentials in `account` for setting up its resources (moto lets any role be assumed).
pub async fn as_account(
    sdk: &aws_config::SdkConfig,
    account: &str,
    region: &str,
) -> aws_config::SdkConfig {
    let sts = aws_sdk_sts::Client::new(sdk);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/test-setup"))
        .role_session_name("test-setup")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    sdk.to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_sdk_sts::config::Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                None,
                "test",
            ),
        ))
        .build()
}

/// A group with SSH open to the world: (ec2 client, group id, rule id).
pub async fn open_group(cfg: &aws_config::SdkConfig) -> (aws_sdk_ec2::Client, String, String) {
    let ec2 = aws_sdk_ec2::Client::new(cfg);
    let vpc = create_vpc(&ec2, "10.0.0.0/16").await;
    let id = create_group(&ec2, &vpc, &unique("web"), &[]).await;
    ec2.authorize_security_group_ingress()
        .group_id(&id)
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
    let rule = ingress_rules(&ec2, &id).await.remove(0);
    (ec2, id, rule)
}

pub async fn ingress_rules(ec2: &aws_sdk_ec2::Client, group: &str) -> Vec<String> {
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
    out.security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| r.security_group_rule_id().unwrap().to_string())
        .collect()
}

/// The CloudTrail event of opening SSH on `group`, made in `account` and `region`.
pub fn opened(account: &str, region: &str, group: &str, rule: &str) -> Value {
    let mut ev = cloudtrail_event(
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
        json!({"groupId": group, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
            "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
        json!({"_return": true, "securityGroupRuleSet": {"items": [{"groupOwnerId": account, "groupId": group,
            "securityGroupRuleId": rule, "isEgress": false, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
            "cidrIpv4": "0.0.0.0/0"}]}}),
    );
    ev["account"] = json!(account);
    ev["region"] = json!(region);
    ev["detail"]["recipientAccountId"] = json!(account);
    ev["detail"]["awsRegion"] = json!(region);
    ev["detail"]["userIdentity"]["accountId"] = json!(account);
    ev
}
