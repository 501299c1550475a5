//! Resource policies opened to everyone or to outside accounts: SQS queues, SNS topics,
//! Secrets Manager secrets and KMS keys (this guard), and, through the same code, ECR
//! repositories, OpenSearch domains, Glacier vaults and EFS file systems
//! (guards/storage_policy.rs). Exactly the principals the call let in from outside the
//! trusted set, in the statements no condition restricts to it (grants.rs), are taken out of
//! the resource's policy as it is when the function acts; everything else stays. A policy
//! left empty is deleted where the service allows it (an SNS topic gets AWS's default policy
//! back; a KMS key policy is never left without an administrator, nor an EFS file system
//! without a statement, which would give it EFS's wider default: told instead).

use std::sync::OnceLock;

use serde_json::Value;

use crate::action::{Notice, Severity};
use crate::decision::{Decision, Verdict};
use crate::event::{CloudTrailRecord, Event, EventBody};
use crate::facts::{FactKind, Facts, Known};
use crate::grants::{self, Exposure};
use crate::guards::tags::{exemption_given, given_tags, truthy};
use crate::guards::{outside_accounts, Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::{items_any, scalar_string, str_any};
use crate::policy::Policy;
use crate::resources::{self, PolicyKind, PolicyState, RestrictKeyPolicy, RestrictQueuePolicy};
use crate::resources::{RestrictSecretPolicy, RestrictTopicPolicy};
use crate::resources::{UntagKey, UntagQueue, UntagSecret, UntagTopic};
use crate::state::{tag_is_true, State, StateKind};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[
    &RestrictQueuePolicy::INFO,
    &RestrictTopicPolicy::INFO,
    &RestrictSecretPolicy::INFO,
    &RestrictKeyPolicy::INFO,
    &UntagQueue::INFO,
    &UntagTopic::INFO,
    &UntagSecret::INFO,
    &UntagKey::INFO,
];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "resource_policy",
    function: "revert-resource-policy",
    summary: "Takes outsiders back out of SQS, SNS, Secrets Manager and KMS resource policies.",
    triggers: &[
        Trigger {
            rule: "ResourcePolicyChange",
            pattern: r#"{
                "source": ["aws.sqs", "aws.sns", "aws.secretsmanager", "aws.kms"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["sqs.amazonaws.com", "sns.amazonaws.com",
                                    "secretsmanager.amazonaws.com", "kms.amazonaws.com"],
                    "eventName": ["SetQueueAttributes", "AddPermission", "SetTopicAttributes",
                                  "PutResourcePolicy", "PutKeyPolicy"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // Exemptions given by tagging (guards/tags.rs `exemption_given`): SQS writes a
        // queue's tags as a map, whose keys a pattern cannot match, so every TagQueue and
        // CreateQueue is delivered and the code reads the tags.
        Trigger {
            rule: "QueueTagged",
            pattern: r#"{
                "source": ["aws.sqs"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["sqs.amazonaws.com"],
                    "eventName": ["TagQueue", "CreateQueue"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        Trigger {
            rule: "TopicOrSecretTagged",
            pattern: r#"{
                "source": ["aws.sns", "aws.secretsmanager"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["sns.amazonaws.com", "secretsmanager.amazonaws.com"],
                    "eventName": ["TagResource", "CreateTopic", "CreateSecret"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "requestParameters": {"tags": {"key": [{"prefix": "trailguard:"}]}}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        Trigger {
            rule: "KeyTagged",
            pattern: r#"{
                "source": ["aws.kms"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["kms.amazonaws.com"],
                    "eventName": ["TagResource", "CreateKey"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "requestParameters": {"tags": {"tagKey": [{"prefix": "trailguard:"}]}}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // Security Hub's control findings about public policies: they name the resource; the
        // function decides on its policy as it is.
        Trigger {
            rule: "ResourcePolicyControl",
            pattern: r#"{
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {"findings": {
                    "ProductArn": [{"suffix": ":product/aws/securityhub"}],
                    "Compliance": {"Status": ["FAILED"]},
                    "RecordState": ["ACTIVE"],
                    "Resources": {"Type": ["AwsSqsQueue", "AwsSnsTopic", "AwsKmsKey"]},
                    "$or": [
                        {"Compliance": {"SecurityControlId": ["SQS.3", "SNS.4", "KMS.5"]}},
                        {"ProductFields": {"ControlId": ["SQS.3", "SNS.4", "KMS.5"]}}
                    ]
                }}
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
    ],
    facts: &[
        FactKind::OrganizationAccounts,
        FactKind::PolicyResource(PolicyKind::Queue),
        FactKind::PolicyResource(PolicyKind::Topic),
        FactKind::PolicyResource(PolicyKind::Secret),
        FactKind::PolicyResource(PolicyKind::Key),
    ],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 50,
    sweeps: &[
        StateKind::QueuePolicies,
        StateKind::TopicPolicies,
        StateKind::SecretPolicies,
        StateKind::KeyPolicies,
    ],
    settings: None,
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// The Security Hub controls this guard acts on (each fails on a policy open to everyone).
const CONTROLS: [&str; 3] = ["SQS.3", "SNS.4", "KMS.5"];

/// The kinds whose exemption tags this guard takes back.
const TAGGED: [PolicyKind; 4] = [
    PolicyKind::Queue,
    PolicyKind::Topic,
    PolicyKind::Secret,
    PolicyKind::Key,
];

fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    if let EventBody::SecurityHub(d) = &event.body {
        return security_hub(d, &CONTROLS, event.account(), policy, facts);
    }
    if let Some(v) = exemption(event, policy, facts, &TAGGED) {
        return v;
    }
    decide_call(event, policy, facts)
}

fn swept(state: &State, account: Option<&str>, policy: &Policy, facts: &Facts) -> Verdict {
    match state {
        State::ResourcePolicy(p) if GUARD.sweeps.contains(&p.kind.state_kind()) => {
            decide_state(p, account, policy, facts, crate::state::WHY)
        }
        other => super::not_swept(GUARD.name, other),
    }
}

/// What a call changed in a resource's policy.
pub(crate) enum Change {
    /// The whole policy, as the call wrote it.
    Document(Value),
    /// AddPermission: these accounts (or `*`) were given these actions in statement `label`.
    Permission {
        label: String,
        accounts: Vec<String>,
        actions: Vec<String>,
    },
}

/// The resource and change of a call this guard or the storage guard reads; Err: why the
/// call is not one to act on.
pub(crate) fn read_call(r: &CloudTrailRecord) -> Result<(PolicyKind, String, Change), String> {
    let name = r.event_name.get().unwrap_or_default();
    let source = r.event_source.get().unwrap_or_default();
    let rp = &r.request_parameters;
    if rp.is_null() {
        return Err(format!("{name} without request parameters names no policy"));
    }
    let doc = |v: Option<&Value>, what: &str| -> Result<Change, String> {
        match v {
            None | Some(Value::Null) => Err(format!("{name} carries no {what}")),
            Some(Value::String(s)) if s.trim().is_empty() => Err(format!(
                "{name} removes the {what}: nothing is opened"
            )),
            Some(v) => crate::trust::document(v)
                .map(Change::Document)
                .ok_or_else(|| format!("the {what} of {name} is not a JSON document")),
        }
    };
    let need = |v: Option<String>, what: &str| v.ok_or_else(|| format!("{name} names no {what}"));
    let strings = |keys: &[&str]| -> Vec<String> {
        items_any(rp, keys).into_iter().filter_map(scalar_string).collect()
    };
    Ok(match (source, name) {
        ("sqs.amazonaws.com", "SetQueueAttributes") => {
            let url = need(str_any(rp, &["queueUrl", "QueueUrl"]), "queue")?;
            let attrs = rp.get("attributes").or_else(|| rp.get("Attributes"));
            let policy = attrs.and_then(|a| a.get("Policy"));
            if policy.is_none() {
                return Err(format!("SetQueueAttributes on {url} does not change its policy"));
            }
            (PolicyKind::Queue, url, doc(policy, "queue policy")?)
        }
        ("sqs.amazonaws.com", "AddPermission") => (
            PolicyKind::Queue,
            need(str_any(rp, &["queueUrl", "QueueUrl"]), "queue")?,
            Change::Permission {
                label: need(str_any(rp, &["label", "Label"]), "label")?,
                accounts: strings(&["aWSAccountIds", "AWSAccountIds", "awsAccountIds"]),
                actions: strings(&["actions", "Actions", "actionNames"]),
            },
        ),
        ("sns.amazonaws.com", "SetTopicAttributes") => {
            let arn = need(str_any(rp, &["topicArn", "TopicArn"]), "topic")?;
            let attribute = str_any(rp, &["attributeName", "AttributeName"]).unwrap_or_default();
            if attribute != "Policy" {
                return Err(format!(
                    "SetTopicAttributes on {arn} changes `{attribute}`, not its policy"
                ));
            }
            let value = rp.get("attributeValue").or_else(|| rp.get("AttributeValue"));
            (PolicyKind::Topic, arn, doc(value, "topic policy")?)
        }
        ("sns.amazonaws.com", "AddPermission") => (
            PolicyKind::Topic,
            need(str_any(rp, &["topicArn", "TopicArn"]), "topic")?,
            Change::Permission {
                label: need(str_any(rp, &["label", "Label"]), "label")?,
                accounts: strings(&["aWSAccountId", "AWSAccountId"]),
                actions: strings(&["actionName", "ActionName"]),
            },
        ),
        ("secretsmanager.amazonaws.com", "PutResourcePolicy") => (
            PolicyKind::Secret,
            need(str_any(rp, &["secretId", "SecretId"]), "secret")?,
            doc(rp.get("resourcePolicy").or_else(|| rp.get("ResourcePolicy")), "resource policy")?,
        ),
        ("kms.amazonaws.com", "PutKeyPolicy") => (
            PolicyKind::Key,
            need(str_any(rp, &["keyId", "KeyId"]), "key")?,
            doc(rp.get("policy").or_else(|| rp.get("Policy")), "key policy")?,
        ),
        ("ecr.amazonaws.com", "SetRepositoryPolicy") => (
            PolicyKind::Repository,
            need(str_any(rp, &["repositoryName", "RepositoryName"]), "repository")?,
            doc(rp.get("policyText").or_else(|| rp.get("PolicyText")), "repository policy")?,
        ),
        (
            "es.amazonaws.com",
            "CreateDomain"
            | "UpdateDomainConfig"
            | "CreateElasticsearchDomain"
            | "UpdateElasticsearchDomainConfig",
        ) => {
            let domain = need(str_any(rp, &["domainName", "DomainName"]), "domain")?;
            if in_vpc(r) {
                return Err(format!(
                    "domain {domain} is inside a VPC: its access policy opens it to nobody outside the VPC"
                ));
            }
            let policy = rp.get("accessPolicies").or_else(|| rp.get("AccessPolicies"));
            (PolicyKind::Domain, domain, doc(policy, "access policy")?)
        }
        ("glacier.amazonaws.com", "SetVaultAccessPolicy") => {
            let vault = need(str_any(rp, &["vaultName", "VaultName"]), "vault")?;
            if !own_vault_account(r) {
                return Err(format!(
                    "{name} on vault {vault} of another account: not this account's vault"
                ));
            }
            let policy = rp
                .get("policy")
                .or_else(|| rp.get("Policy"))
                .map(|p| p.get("policy").or_else(|| p.get("Policy")).unwrap_or(p));
            (PolicyKind::Vault, vault, doc(policy, "vault access policy")?)
        }
        ("elasticfilesystem.amazonaws.com", "PutFileSystemPolicy") => (
            PolicyKind::FileSystem,
            need(str_any(rp, &["fileSystemId", "FileSystemId"]), "file system")?,
            doc(rp.get("policy").or_else(|| rp.get("Policy")), "file system policy")?,
        ),
        (s, n) => return Err(format!("{n} from {s} does not set a resource policy trailguard watches")),
    })
}

/// A tag call's resource kind, resource (when named) and the tags it gives.
pub(crate) type TagCall = (PolicyKind, Option<String>, Vec<(String, Option<String>)>);

/// A call that tags a resource whose policy this guard or the storage guard restricts, or
/// creates one with tags: its kind, the resource as the untag call names it (None when a
/// create call's response does not name it), and the tags it gives. None for other calls.
pub(crate) fn read_tag_call(r: &CloudTrailRecord) -> Option<TagCall> {
    let name = r.event_name.get().unwrap_or_default();
    let source = r.event_source.get().unwrap_or_default();
    let (rp, resp) = (&r.request_parameters, &r.response_elements);
    let (kind, resource) = match (source, name) {
        ("sqs.amazonaws.com", "TagQueue") => {
            (PolicyKind::Queue, str_any(rp, &["queueUrl", "QueueUrl"]))
        }
        ("sqs.amazonaws.com", "CreateQueue") => {
            (PolicyKind::Queue, str_any(resp, &["queueUrl", "QueueUrl"]))
        }
        ("sns.amazonaws.com", "TagResource") => {
            (PolicyKind::Topic, str_any(rp, &["resourceArn", "ResourceArn"]))
        }
        ("sns.amazonaws.com", "CreateTopic") => {
            (PolicyKind::Topic, str_any(resp, &["topicArn", "TopicArn"]))
        }
        ("secretsmanager.amazonaws.com", "TagResource") => {
            (PolicyKind::Secret, str_any(rp, &["secretId", "SecretId"]))
        }
        // CloudTrail writes the new secret's ARN as `aRN`.
        ("secretsmanager.amazonaws.com", "CreateSecret") => {
            (PolicyKind::Secret, str_any(resp, &["aRN", "arn", "ARN"]))
        }
        ("kms.amazonaws.com", "TagResource") => (PolicyKind::Key, str_any(rp, &["keyId", "KeyId"])),
        ("kms.amazonaws.com", "CreateKey") => {
            let meta = resp.get("keyMetadata").or_else(|| resp.get("KeyMetadata"));
            (PolicyKind::Key, meta.and_then(|m| str_any(m, &["keyId", "KeyId"])))
        }
        ("ecr.amazonaws.com", "TagResource") => {
            (PolicyKind::Repository, str_any(rp, &["resourceArn", "ResourceArn"]))
        }
        ("ecr.amazonaws.com", "CreateRepository") => {
            let repo = resp.get("repository").or_else(|| resp.get("Repository"));
            let arn = repo.and_then(|m| str_any(m, &["repositoryArn", "RepositoryArn"]));
            (PolicyKind::Repository, arn)
        }
        // OpenSearch (and Elasticsearch) domains: tagged by ARN (`aRN`, `tagList`).
        ("es.amazonaws.com", "AddTags") => (PolicyKind::Domain, str_any(rp, &["aRN", "arn", "ARN"])),
        // Another account's vault (a cross-account call its policy allows) is not ours.
        ("glacier.amazonaws.com", "AddTagsToVault") if !own_vault_account(r) => return None,
        ("glacier.amazonaws.com", "AddTagsToVault") => {
            (PolicyKind::Vault, str_any(rp, &["vaultName", "VaultName"]))
        }
        // EFS: a file system's tags, by id or ARN (an access point's exempt nothing here).
        ("elasticfilesystem.amazonaws.com", "TagResource") => {
            let id = str_any(rp, &["resourceId", "ResourceId"])?;
            let fs = match id.split_once(":file-system/") {
                Some((arn, fs)) if arn.starts_with("arn:") => fs.to_string(),
                _ => id,
            };
            if !fs.starts_with("fs-") {
                return None;
            }
            (PolicyKind::FileSystem, Some(fs))
        }
        ("elasticfilesystem.amazonaws.com", "CreateTags") => {
            (PolicyKind::FileSystem, str_any(rp, &["fileSystemId", "FileSystemId"]))
        }
        ("elasticfilesystem.amazonaws.com", "CreateFileSystem") => {
            (PolicyKind::FileSystem, str_any(resp, &["fileSystemId", "FileSystemId"]))
        }
        _ => return None,
    };
    let tags = rp
        .get("tags")
        .or_else(|| rp.get("Tags"))
        .or_else(|| rp.get("tagList"))
        .or_else(|| rp.get("TagList"));
    let given = match (kind, tags) {
        // SQS and Glacier always write a map of key to value: read as one, even when a tag is
        // named `key` or `value`.
        (PolicyKind::Queue | PolicyKind::Vault, Some(Value::Object(map))) => map
            .iter()
            .map(|(k, v)| (k.clone(), scalar_string(v)))
            .collect(),
        (_, Some(t)) => given_tags(t),
        (_, None) => vec![],
    };
    Some((kind, resource, given))
}

/// A tag call (or a create call's tags) on a resource of `kinds`: the exemption tag given by
/// anyone but a tag admin is taken back (guards/tags.rs `exemption_given`), since this guard
/// leaves an exempt resource's policy alone. None when the call is not one.
pub(crate) fn exemption(
    event: &Event,
    policy: &Policy,
    facts: &Facts,
    kinds: &[PolicyKind],
) -> Option<Verdict> {
    let r = event.cloudtrail()?;
    let (kind, resource, given) = read_tag_call(r).filter(|(k, ..)| kinds.contains(k))?;
    if let Some(d) = super::preamble(r, policy, facts) {
        return Some(Verdict::Decided(d));
    }
    let name = r.event_name.get().unwrap_or_default();
    let noun = kind.noun();
    let exempt = &policy.exempt_tag;
    let Some(resource) = resource else {
        let gives = given
            .iter()
            .any(|(k, v)| !exempt.is_empty() && k == exempt && truthy(v.as_deref()));
        return Some(Verdict::Decided(if gives {
            Decision::notify(
                format!("{name} gave a {noun} {exempt}=true, and the record does not name it"),
                Notice {
                    severity: Severity::High,
                    title: format!("a {noun} exempted from trailguard by {name}"),
                    details: details(
                        r,
                        format!("{exempt}=true given by {name}; the record does not name the {noun}, so the tag is left for a person to remove"),
                    ),
                },
            )
        } else {
            Decision::ignore(format!("{name} gives no {exempt}=true"))
        }));
    };
    // The function acts in the event's account: another account's resource is not this
    // call's business (and tagging across accounts is that account's to answer).
    if let Some(owner) = resource_account(&resource).filter(|o| Some(*o) != event.account()) {
        return Some(Verdict::Decided(Decision::ignore(format!(
            "{name} on {noun} {resource} of account {owner}, not the event's account"
        ))));
    }
    let label = format!("{noun} {resource}");
    let untag = resources::untag(kind, resource, exempt.clone())?;
    Some(Verdict::Decided(
        exemption_given(r, policy, &given, &label, |_| untag).unwrap_or_else(|| {
            Decision::ignore(format!("{name} gives {label} no {exempt}=true"))
        }),
    ))
}

/// Whether a Glacier call names the record's own account (`-`, or its id).
fn own_vault_account(r: &CloudTrailRecord) -> bool {
    match str_any(&r.request_parameters, &["accountId", "AccountId"]) {
        None => true,
        Some(a) => a == "-" || r.recipient_account_id.get() == Some(a.as_str()),
    }
}

/// The account a resource's ARN or queue URL names, when it names one.
fn resource_account(resource: &str) -> Option<&str> {
    if resource.starts_with("arn:") {
        return resource.split(':').nth(4).filter(|a| !a.is_empty());
    }
    // https://sqs.<region>.amazonaws.com/<account>/<name>
    let path = resource.split("://").nth(1)?;
    path.split('/').nth(1).filter(|a| crate::ids::is_account_id(a))
}

/// Whether an OpenSearch call puts or keeps the domain inside a VPC: subnets in the request
/// (`vPCOptions`, `VPCOptions`) or in the configuration the response returns.
fn in_vpc(r: &CloudTrailRecord) -> bool {
    let subnets = |v: &Value| {
        ["vPCOptions", "VPCOptions", "vpcOptions"].iter().any(|k| {
            let o = &v[*k];
            let o = o.get("options").or_else(|| o.get("Options")).unwrap_or(o);
            !items_any(o, &["subnetIds", "SubnetIds"]).is_empty()
        })
    };
    let resp = &r.response_elements;
    subnets(&r.request_parameters)
        || ["domainStatus", "domainConfig", "DomainStatus", "DomainConfig"]
            .iter()
            .any(|k| subnets(&resp[*k]))
}

fn details(r: &CloudTrailRecord, what: String) -> Vec<String> {
    vec![
        what,
        format!(
            "by {} from {}",
            r.user_identity.display(),
            r.source_ip_address.get().unwrap_or("?")
        ),
    ]
}

/// A CloudTrail call that set a resource policy (this guard's or the storage guard's).
pub(crate) fn decide_call(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    if let Some(d) = super::preamble(r, policy, facts) {
        return Verdict::Decided(d);
    }
    let (kind, resource, change) = match read_call(r) {
        Ok(c) => c,
        Err(why) => return Verdict::Decided(Decision::ignore(why)),
    };
    let noun = kind.noun();
    let (exposure, what) = match change {
        Change::Document(doc) => {
            match grants::exposure(&doc, event.account(), policy, facts) {
                Known::Need(req) => return Verdict::NeedFacts(vec![req]),
                Known::Yes(e) => {
                    let what = format!(
                        "granted without a restricting condition to: {}",
                        Exposure::describe(&e.open)
                    );
                    (e, what)
                }
            }
        }
        Change::Permission {
            label,
            accounts,
            actions,
        } => {
            let public = accounts.iter().any(|a| a == "*");
            let named: Vec<String> = accounts.iter().filter(|a| *a != "*").cloned().collect();
            let outside = match outside_accounts(event.account(), &named, policy, facts) {
                Known::Need(req) => return Verdict::NeedFacts(vec![req]),
                Known::Yes(o) => o,
            };
            // The statement AddPermission writes names each account by its root ARN; the
            // bare id is taken out too, should the policy say it that way.
            let mut open: Vec<String> = Vec::new();
            if public {
                open.push("*".into());
            }
            for a in &outside {
                open.push(format!("arn:aws:iam::{a}:root"));
                open.push(a.clone());
            }
            let what = format!(
                "statement {label} lets {} call {}",
                if public && outside.is_empty() {
                    "everyone".to_string()
                } else {
                    let mut who: Vec<String> = outside.iter().map(|a| format!("account {a}")).collect();
                    if public {
                        who.insert(0, "everyone".into());
                    }
                    who.join(", ")
                },
                if actions.is_empty() { "the resource".to_string() } else { actions.join(", ") }
            );
            (
                Exposure {
                    open,
                    ..Exposure::default()
                },
                what,
            )
        }
    };
    if !exposure.endpoint_only.is_empty() && exposure.open.is_empty() {
        let mut d = details(r, format!(
            "granted from outside only through a VPC endpoint or VPC condition: {}",
            Exposure::describe(&exposure.endpoint_only)
        ));
        d.push("the endpoint's owner is not in its id: check that the endpoint is yours".into());
        return Verdict::Decided(Decision::notify(
            format!("the policy of {noun} {resource} lets outsiders in only through a VPC endpoint or VPC"),
            Notice {
                severity: Severity::Medium,
                title: format!("{noun} {resource} policy relies on a VPC endpoint"),
                details: d,
            },
        ));
    }
    if exposure.open.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "the policy of {noun} {resource} grants only trusted principals, services, or grants under conditions that restrict it to the trusted set"
        )));
    }
    let d = details(r, what);
    let written = match read_call(r) {
        Ok((_, _, Change::Document(doc))) => Some(doc),
        _ => None,
    };
    act(kind, resource, exposure, d, written.as_ref(), policy, facts)
}

/// The plan for a resource whose policy lets `exposure.open` in: take them out, unless the
/// resource is exempt or (a KMS key) no administrator would be left.
fn act(
    kind: PolicyKind,
    resource: String,
    exposure: Exposure,
    mut details: Vec<String>,
    doc: Option<&Value>,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let noun = kind.noun();
    let public = exposure.open.iter().any(|p| p == "*");
    let who = Exposure::describe(&exposure.open);
    let action = resources::restrict(
        kind,
        resource.clone(),
        exposure.open.clone(),
        exposure.untrusted_values.clone(),
    );
    // A key policy cannot be deleted, and one nobody may administer locks the account out
    // of the key: told, never written.
    if kind == PolicyKind::Key {
        let judge = grants::judge(&exposure.open, &exposure.untrusted_values);
        let left = doc.and_then(|d| grants::without_principals(d, &exposure.open, &judge));
        if !left.as_ref().is_some_and(|l| grants::keeps_administrator(l, "kms:PutKeyPolicy")) {
            details.push(format!("opened to: {}", Exposure::describe(&exposure.open)));
            details.push(
                "not changed: without them no principal could administer the key (kms:PutKeyPolicy), and a key policy cannot be deleted; write a policy that keeps your administrators and drops them"
                    .into(),
            );
            return Verdict::Decided(Decision::notify(
                format!("the policy of {noun} {resource} lets outsiders in, and taking them out would leave no administrator"),
                Notice {
                    severity: Severity::Critical,
                    title: format!("{noun} {resource} policy opened outside the account"),
                    details,
                },
            ));
        }
    }
    // An EFS file system left without a statement would fall back to EFS's default policy,
    // which lets every client that reaches a mount target mount, write and act as root: more
    // than the policy grants now. Told, never deleted.
    if kind == PolicyKind::FileSystem {
        let judge = grants::judge(&exposure.open, &exposure.untrusted_values);
        if doc.is_some_and(|d| grants::without_principals(d, &exposure.open, &judge).is_none()) {
            details.push(format!("opened to: {}", Exposure::describe(&exposure.open)));
            details.push(
                "not changed: without them the policy would have no statement left, and an EFS file system without a policy falls back to EFS's default, which lets every client that reaches a mount target mount, write and act as root; write a policy that names only your own principals"
                    .into(),
            );
            return Verdict::Decided(Decision::notify(
                format!("the policy of {noun} {resource} lets outsiders in, and taking them out would leave EFS's default policy, which lets in more"),
                Notice {
                    severity: if public { Severity::Critical } else { Severity::High },
                    title: format!("{noun} {resource} policy opened outside the account"),
                    details,
                },
            ));
        }
    }
    // The exemption tag, read only once something would be done.
    let (tags, in_vpc) = match facts.policy_resource(kind, &resource) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(state) => state.map(|s| (s.tags, s.in_vpc)).unwrap_or_default(),
    };
    // An OpenSearch domain the event did not show inside a VPC, but is: its policy opens it
    // to nobody outside the VPC (and VPC domains commonly rely on an open one).
    if in_vpc {
        return Verdict::Decided(Decision::ignore(format!(
            "{noun} {resource} is inside a VPC: its access policy opens it to nobody outside the VPC"
        )));
    }
    if tag_is_true(&tags, &policy.exempt_tag) {
        details.push(format!("left alone: tagged {}=true", policy.exempt_tag));
        return Verdict::Decided(Decision::notify(
            format!("{noun} {resource} is tagged {}=true: its policy is left as it is", policy.exempt_tag),
            Notice {
                severity: Severity::High,
                title: format!("{noun} {resource} (exempt) opened outside the account"),
                details,
            },
        ));
    }
    if !exposure.endpoint_only.is_empty() {
        details.push(format!(
            "kept (through a VPC endpoint or VPC condition; check the endpoint is yours): {}",
            Exposure::describe(&exposure.endpoint_only)
        ));
    }
    Verdict::Decided(Decision::remediate(
        format!(
            "the policy of {noun} {resource} lets {} in without a condition restricting it to the trusted set",
            if public { "everyone" } else { "outside accounts" }
        ),
        vec![action],
        Notice {
            severity: if public { Severity::Critical } else { Severity::High },
            title: format!("{noun} {resource} policy opened outside the account"),
            details: {
                details.push(format!("taken out: {who}"));
                details
            },
        },
    ))
}

/// A resource's policy as it is now (the sweep, a Security Hub finding): the same judgement
/// as an event's.
pub(crate) fn decide_state(
    st: &PolicyState,
    account: Option<&str>,
    policy: &Policy,
    facts: &Facts,
    why: &str,
) -> Verdict {
    let noun = st.kind.noun();
    let resource = &st.resource;
    if st.in_vpc {
        return Verdict::Decided(Decision::ignore(format!(
            "{noun} {resource} is inside a VPC: its access policy opens it to nobody outside the VPC"
        )));
    }
    let Some(text) = st.policy.as_deref().filter(|p| !p.trim().is_empty()) else {
        return Verdict::Decided(Decision::ignore(format!("{noun} {resource} has no policy")));
    };
    let Some(doc) = crate::trust::document(&Value::String(text.to_string())) else {
        return Verdict::Decided(Decision::ignore(format!(
            "the policy of {noun} {resource} is not a JSON document"
        )));
    };
    let exposure = match grants::exposure(&doc, account, policy, facts) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(e) => e,
    };
    if exposure.open.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "the policy of {noun} {resource} lets no one in from outside the trusted set without a restricting condition"
        )));
    }
    let mut facts = facts.clone();
    // The state carries the tags: no lookup.
    facts
        .policy_resources
        .insert((st.kind, resource.clone()), Some(st.clone()));
    let details = vec![
        format!(
            "granted without a restricting condition to: {}",
            Exposure::describe(&exposure.open)
        ),
        why.to_string(),
    ];
    act(st.kind, resource.clone(), exposure, details, Some(&doc), policy, &facts)
}

/// A Security Hub control finding about a resource's policy: decided on the policy as the
/// function finds it.
pub(crate) fn security_hub(
    d: &crate::event::SecurityHubDetail,
    controls: &[&str],
    account: Option<&str>,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let (f, control, why) = match super::failed_control(d, controls, "a resource-policy control") {
        Ok(found) => found,
        Err(v) => return *v,
    };
    let Some((kind, resource)) = f.resources.iter().find_map(|r| {
        let kind = PolicyKind::of_asff_type(r.resource_type.get()?)?;
        Some((kind, finding_resource(kind, r.id.get()?)?))
    }) else {
        return Verdict::Decided(Decision::ignore(format!(
            "{control} finding names no resource whose policy trailguard restricts"
        )));
    };
    match facts.policy_resource(kind, &resource) {
        Known::Need(req) => Verdict::NeedFacts(vec![req]),
        Known::Yes(Some(st)) => decide_state(&st, account, policy, facts, &why),
        Known::Yes(None) => Verdict::Decided(Decision::ignore(format!(
            "{} {resource} no longer exists (or was not looked up): nothing to restrict",
            kind.noun()
        ))),
    }
}

/// What the service's calls name a finding's resource by: a queue's URL from its ARN, a key's
/// ARN, the others' ARN or name.
fn finding_resource(kind: PolicyKind, id: &str) -> Option<String> {
    let parts: Vec<&str> = id.splitn(6, ':').collect();
    let [_, _, _, region, account, rest] = parts[..] else {
        return None;
    };
    Some(match kind {
        PolicyKind::Queue => format!("https://sqs.{region}.amazonaws.com/{account}/{rest}"),
        PolicyKind::Repository => rest.strip_prefix("repository/")?.to_string(),
        PolicyKind::Domain => rest.strip_prefix("domain/")?.to_string(),
        PolicyKind::FileSystem => rest.strip_prefix("file-system/")?.to_string(),
        _ => id.to_string(),
    })
}
