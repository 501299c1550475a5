//! Data stores' resource policies opened to everyone or to outside accounts: ECR
//! repositories, OpenSearch (and Elasticsearch) domains outside a VPC, Glacier vaults and EFS
//! file systems. The same decision as guards/resource_policy.rs (which holds it); a separate
//! function, so each role grants only its own services' calls and each binary stays small.

use std::sync::OnceLock;

use crate::decision::{Decision, Kind, Verdict};
use crate::guards::tags::{exemption_given, given_tags};
use crate::lenient::str_any;
use crate::event::Event;
use crate::facts::{FactKind, Facts};
use crate::guards::resource_policy::{decide_call, decide_state, exemption};
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::policy::Policy;
use crate::resources::{PolicyKind, RestrictDomainPolicy, RestrictFileSystemPolicy};
use crate::resources::{RestrictRepositoryPolicy, RestrictVaultPolicy, UntagRepository};
use crate::resources::{UntagDomain, UntagFileSystem, UntagVault};
use crate::state::{State, StateKind};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[
    &RestrictRepositoryPolicy::INFO,
    &RestrictDomainPolicy::INFO,
    &RestrictVaultPolicy::INFO,
    &RestrictFileSystemPolicy::INFO,
    &UntagRepository::INFO,
    &UntagDomain::INFO,
    &UntagVault::INFO,
    &UntagFileSystem::INFO,
];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "storage_policy",
    function: "revert-storage-policy",
    summary: "Takes outsiders back out of ECR, OpenSearch, Glacier and EFS resource policies.",
    triggers: &[
        Trigger {
            rule: "StoragePolicyChange",
            pattern: r#"{
                "source": ["aws.ecr", "aws.es", "aws.glacier", "aws.elasticfilesystem"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["ecr.amazonaws.com", "es.amazonaws.com",
                                    "glacier.amazonaws.com", "elasticfilesystem.amazonaws.com"],
                    "eventName": ["SetRepositoryPolicy", "CreateDomain", "UpdateDomainConfig",
                                  "CreateElasticsearchDomain", "UpdateElasticsearchDomainConfig",
                                  "SetVaultAccessPolicy", "PutFileSystemPolicy"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // An exemption given by tagging (guards/tags.rs `exemption_given`).
        Trigger {
            rule: "RepositoryTagged",
            pattern: r#"{
                "source": ["aws.ecr"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["ecr.amazonaws.com"],
                    "eventName": ["TagResource", "CreateRepository"],
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
        // The same for domains, vaults and file systems. Glacier writes tags as a map, which
        // a pattern cannot read: matched by name, decided in code.
        Trigger {
            rule: "StorageTagged",
            pattern: r#"{
                "source": ["aws.es", "aws.glacier", "aws.elasticfilesystem"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["es.amazonaws.com", "glacier.amazonaws.com",
                                    "elasticfilesystem.amazonaws.com"],
                    "eventName": ["AddTags", "AddTagsToVault", "TagResource", "CreateTags",
                                  "CreateFileSystem"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
    ],
    facts: &[
        FactKind::OrganizationAccounts,
        FactKind::PolicyResource(PolicyKind::Repository),
        FactKind::PolicyResource(PolicyKind::Domain),
        FactKind::PolicyResource(PolicyKind::Vault),
        FactKind::PolicyResource(PolicyKind::FileSystem),
    ],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 50,
    sweeps: &[
        StateKind::RepositoryPolicies,
        StateKind::DomainPolicies,
        StateKind::VaultPolicies,
        StateKind::FileSystemPolicies,
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

/// The kinds this guard's function holds the clients of.
const STORED: [PolicyKind; 4] = [
    PolicyKind::Repository,
    PolicyKind::Domain,
    PolicyKind::Vault,
    PolicyKind::FileSystem,
];

fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    // No Security Hub control of these services fails on a resource policy alone (the
    // OpenSearch and Elasticsearch controls fail a domain outside a VPC, whatever its policy).
    if event.cloudtrail().is_none() {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    }
    if let Some(v) = exemption(event, policy, facts, &STORED) {
        return v;
    }
    if let Some(v) = domain_created_exempt(event, policy, facts) {
        return v;
    }
    decide_call(event, policy, facts)
}

/// A domain created with the exemption tag (`TagList`) by anyone but a tag admin: the tag is
/// taken off, and the domain's access policy is decided as if it had none (the exemption
/// counts for nothing). None when the call is not such a creation.
fn domain_created_exempt(event: &Event, policy: &Policy, facts: &Facts) -> Option<Verdict> {
    let r = event.cloudtrail()?;
    let name = r.event_name.get().unwrap_or_default();
    if r.event_source.get() != Some("es.amazonaws.com")
        || !matches!(name, "CreateDomain" | "CreateElasticsearchDomain")
        || super::preamble(r, policy, facts).is_some()
    {
        return None;
    }
    let rp = &r.request_parameters;
    let given = given_tags(rp.get("tagList").or_else(|| rp.get("TagList"))?);
    let status = r
        .response_elements
        .get("domainStatus")
        .or_else(|| r.response_elements.get("DomainStatus"))?;
    let arn = str_any(status, &["aRN", "arn", "ARN"])
        .filter(|a| a.split(':').nth(4).is_some() && a.split(':').nth(4) == event.account())?;
    let untag = UntagDomain {
        domain_arn: arn.clone(),
        key: policy.exempt_tag.clone(),
        previous: None,
    };
    let taken = exemption_given(r, policy, &given, &format!("OpenSearch domain {arn}"), |_| {
        untag.into()
    })?;
    if taken.kind != Kind::Remediate {
        return Some(Verdict::Decided(taken));
    }
    // The exemption counts for nothing: the policy is decided with no exemption tag.
    let mut unexempt = policy.clone();
    unexempt.exempt_tag.clear();
    Some(match decide_call(event, &unexempt, facts) {
        Verdict::Decided(mut d) if d.kind == Kind::Remediate => {
            d.actions.extend(taken.actions);
            d.reason = format!("{}; {}", d.reason, taken.reason);
            Verdict::Decided(d)
        }
        Verdict::Decided(_) => Verdict::Decided(taken),
        need => need,
    })
}

fn swept(state: &State, account: Option<&str>, policy: &Policy, facts: &Facts) -> Verdict {
    match state {
        State::ResourcePolicy(p) if GUARD.sweeps.contains(&p.kind.state_kind()) => {
            decide_state(p, account, policy, facts, crate::state::WHY)
        }
        other => super::not_swept(GUARD.name, other),
    }
}
