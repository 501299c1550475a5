//! Data stores' resource policies opened to everyone or to outside accounts: ECR
//! repositories, OpenSearch (and Elasticsearch) domains outside a VPC, Glacier vaults and EFS
//! file systems (the last three told, not yet restricted). The same decision as guards/resource_policy.rs (which holds it); a separate
//! function, so each role grants only its own services' calls and each binary stays small.

use std::sync::OnceLock;

use crate::decision::{Decision, Verdict};
use crate::event::Event;
use crate::facts::{FactKind, Facts};
use crate::guards::resource_policy::{decide_call, decide_state, exemption};
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::policy::Policy;
use crate::resources::{PolicyKind, RestrictRepositoryPolicy, UntagRepository};
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
    ],
    facts: &[
        FactKind::OrganizationAccounts,
        FactKind::PolicyResource(PolicyKind::Repository),
    ],
    // OpenSearch, Glacier and EFS policies are told, not yet restricted (no action type).
    actions: &[&RestrictRepositoryPolicy::INFO, &UntagRepository::INFO],
    decide,
    reads_every_call: false,
    max_actions_per_hour: 50,
    sweeps: &[StateKind::RepositoryPolicies],
    decide_state: Some(swept),
    settings: None,
    compiled: OnceLock::new(),
};

fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    // No Security Hub control of these services fails on a resource policy alone (the
    // OpenSearch and Elasticsearch controls fail a domain outside a VPC, whatever its policy).
    if event.cloudtrail().is_none() {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    }
    if let Some(v) = exemption(event, policy, facts, &[PolicyKind::Repository]) {
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
