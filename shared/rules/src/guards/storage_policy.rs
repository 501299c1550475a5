//! Data stores' resource policies opened to everyone or to outside accounts: ECR
//! repositories, OpenSearch (and Elasticsearch) domains outside a VPC, Glacier vaults and EFS
//! file systems. The same decision as guards/resource_policy.rs (which holds it); a separate
//! function, so each role grants only its own services' calls and each binary stays small.

use std::sync::OnceLock;

use crate::decision::{Decision, Verdict};
use crate::event::Event;
use crate::facts::{FactKind, Facts};
use crate::guards::resource_policy::{decide_call, decide_state, exemption};
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::policy::Policy;
use crate::resources::{PolicyKind, RestrictDomainPolicy, RestrictFileSystemPolicy};
use crate::resources::{RestrictRepositoryPolicy, RestrictVaultPolicy, UntagRepository};
use crate::resources::{UntagDomain, UntagFileSystem, UntagVault};
use crate::state::{State, StateKind};

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
    actions: &[
        &RestrictRepositoryPolicy::INFO,
        &RestrictDomainPolicy::INFO,
        &RestrictVaultPolicy::INFO,
        &RestrictFileSystemPolicy::INFO,
        &UntagRepository::INFO,
        &UntagDomain::INFO,
        &UntagVault::INFO,
        &UntagFileSystem::INFO,
    ],
    decide,
    reads_every_call: false,
    max_actions_per_hour: 50,
    sweeps: &[
        StateKind::RepositoryPolicies,
        StateKind::DomainPolicies,
        StateKind::VaultPolicies,
        StateKind::FileSystemPolicies,
    ],
    decide_state: Some(swept),
    settings: None,
    compiled: OnceLock::new(),
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
