//! What a reconciliation sweep sees: one resource as a listing shows it, by kind. The
//! model the sweeping guards decide on (sweep.rs runs them; guards/ read these types).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ops::{self, Op};
use crate::permission::Permission;

/// What a sweep lists, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    SecurityGroups,
    NetworkAcls,
    Trails,
    AccessKeys,
    Images,
    Snapshots,
    // Resource policies (resources.rs).
    QueuePolicies,
    TopicPolicies,
    SecretPolicies,
    KeyPolicies,
    RepositoryPolicies,
    DomainPolicies,
    VaultPolicies,
    FileSystemPolicies,
}

impl StateKind {
    /// The read-only calls that list it (the role grants them).
    pub fn ops(self) -> &'static [&'static Op] {
        match self {
            StateKind::SecurityGroups => &[&ops::DESCRIBE_SECURITY_GROUPS, &ops::DESCRIBE_SG_RULES],
            StateKind::NetworkAcls => &[&ops::DESCRIBE_NETWORK_ACLS],
            StateKind::Trails => &[&ops::DESCRIBE_TRAILS, &ops::GET_TRAIL_STATUS],
            StateKind::AccessKeys => &[
                &ops::GET_ACCESS_KEY_LAST_USED,
                &ops::LIST_ACCESS_KEYS,
                &ops::LIST_ENTITIES_FOR_POLICY,
            ],
            StateKind::Images => &[&ops::DESCRIBE_IMAGES, &ops::DESCRIBE_IMAGE_ATTRIBUTE],
            StateKind::Snapshots => &[&ops::DESCRIBE_SNAPSHOTS, &ops::DESCRIBE_SNAPSHOT_ATTRIBUTE],
            StateKind::QueuePolicies => &[
                &ops::SQS_LIST_QUEUES,
                &ops::SQS_GET_QUEUE_ATTRIBUTES,
                &ops::SQS_LIST_QUEUE_TAGS,
            ],
            StateKind::TopicPolicies => &[
                &ops::SNS_LIST_TOPICS,
                &ops::SNS_GET_TOPIC_ATTRIBUTES,
                &ops::SNS_LIST_TAGS,
            ],
            StateKind::SecretPolicies => &[&ops::SM_LIST_SECRETS, &ops::SM_GET_RESOURCE_POLICY],
            StateKind::KeyPolicies => &[
                &ops::KMS_LIST_KEYS,
                &ops::KMS_DESCRIBE_KEY,
                &ops::KMS_GET_KEY_POLICY,
                &ops::KMS_LIST_RESOURCE_TAGS,
            ],
            StateKind::RepositoryPolicies => &[
                &ops::ECR_DESCRIBE_REPOSITORIES,
                &ops::ECR_GET_REPOSITORY_POLICY,
                &ops::ECR_LIST_TAGS,
            ],
            StateKind::DomainPolicies => &[
                &ops::ES_LIST_DOMAIN_NAMES,
                &ops::ES_DESCRIBE_DOMAIN_CONFIG,
                &ops::ES_LIST_TAGS,
            ],
            StateKind::VaultPolicies => &[
                &ops::GLACIER_LIST_VAULTS,
                &ops::GLACIER_GET_VAULT_ACCESS_POLICY,
                &ops::GLACIER_LIST_TAGS,
            ],
            StateKind::FileSystemPolicies => &[
                &ops::EFS_DESCRIBE_FILE_SYSTEMS,
                &ops::EFS_DESCRIBE_FILE_SYSTEM_POLICY,
            ],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StateKind::SecurityGroups => "security groups",
            StateKind::NetworkAcls => "network ACLs",
            StateKind::Trails => "trails",
            StateKind::AccessKeys => "access keys",
            StateKind::Images => "images",
            StateKind::Snapshots => "snapshots",
            StateKind::QueuePolicies => "SQS queue policies",
            StateKind::TopicPolicies => "SNS topic policies",
            StateKind::SecretPolicies => "secret policies",
            StateKind::KeyPolicies => "KMS key policies",
            StateKind::RepositoryPolicies => "ECR repository policies",
            StateKind::DomainPolicies => "OpenSearch domain access policies",
            StateKind::VaultPolicies => "Glacier vault access policies",
            StateKind::FileSystemPolicies => "EFS file system policies",
        }
    }

    /// The resource-policy kind a listing is of, if it is one.
    pub fn policy_kind(self) -> Option<crate::resources::PolicyKind> {
        use crate::resources::PolicyKind;
        Some(match self {
            StateKind::QueuePolicies => PolicyKind::Queue,
            StateKind::TopicPolicies => PolicyKind::Topic,
            StateKind::SecretPolicies => PolicyKind::Secret,
            StateKind::KeyPolicies => PolicyKind::Key,
            StateKind::RepositoryPolicies => PolicyKind::Repository,
            StateKind::DomainPolicies => PolicyKind::Domain,
            StateKind::VaultPolicies => PolicyKind::Vault,
            StateKind::FileSystemPolicies => PolicyKind::FileSystem,
            _ => return None,
        })
    }
}

/// One entry of a network ACL as DescribeNetworkAcls gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AclEntry {
    pub rule_number: i64,
    pub egress: bool,
    pub allow: bool,
    /// As the API writes it: `6`, `17`, `-1`, ...
    pub protocol: String,
    pub from_port: Option<i64>,
    pub to_port: Option<i64>,
    /// The IPv4 or IPv6 block.
    pub cidr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AclState {
    pub network_acl_id: String,
    /// The VPC's default ACL, which allows everything unless someone changed it.
    pub is_default: bool,
    pub tags: Tags,
    pub entries: Vec<AclEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrailState {
    /// The trail's ARN (or name).
    pub trail: String,
    pub is_logging: bool,
    pub log_file_validation: bool,
    pub tags: Tags,
}

/// An access key the sweep looks at: a honeytoken, or a key of a user AWS quarantined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    pub access_key_id: String,
    pub user_name: String,
    pub active: bool,
    /// The AWS quarantine policy attached to the user, if that is why it is listed.
    pub quarantined_by: Option<String>,
}

/// Who an image or a snapshot is shared with now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareState {
    pub id: String,
    pub accounts: Vec<String>,
    pub public: bool,
    /// Organization and OU ARNs (images only).
    pub organizations: Vec<String>,
    pub tags: Tags,
}

/// One resource, as it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum State {
    SecurityGroup(GroupFacts),
    NetworkAcl(AclState),
    Trail(TrailState),
    AccessKey(KeyState),
    Image(ShareState),
    Snapshot(ShareState),
    ResourcePolicy(crate::resources::PolicyState),
}

impl State {
    /// Which listing it comes from.
    pub fn kind(&self) -> StateKind {
        match self {
            State::SecurityGroup(_) => StateKind::SecurityGroups,
            State::NetworkAcl(_) => StateKind::NetworkAcls,
            State::Trail(_) => StateKind::Trails,
            State::AccessKey(_) => StateKind::AccessKeys,
            State::Image(_) => StateKind::Images,
            State::Snapshot(_) => StateKind::Snapshots,
            State::ResourcePolicy(p) => p.kind.state_kind(),
        }
    }

    /// The resource's id, for the sweep report.
    pub fn id(&self) -> &str {
        match self {
            State::SecurityGroup(g) => &g.group_id,
            State::NetworkAcl(a) => &a.network_acl_id,
            State::Trail(t) => &t.trail,
            State::AccessKey(k) => &k.access_key_id,
            State::Image(s) | State::Snapshot(s) => &s.id,
            State::ResourcePolicy(p) => &p.resource,
        }
    }
}

/// Why the sweep looked, in the words every decision's details end with.
pub const WHY: &str = "found by the reconciliation sweep: the change itself was not seen as an event (or was made before trailguard was deployed)";

pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupFacts {
    pub group_id: String,
    pub group_name: Option<String>,
    pub tags: Tags,
    /// Every rule of the group (filled in only for a [`FactRequest::SecurityGroupState`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<GroupRule>,
}

/// One rule of a security group as it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRule {
    pub rule_id: String,
    pub egress: bool,
    #[serde(flatten)]
    pub permission: Permission,
}

/// Whether a tag is set to a true value ("true", "yes", "1", any case).
pub fn tag_is_true(tags: &Tags, key: &str) -> bool {
    !key.is_empty()
        && tags
            .get(key)
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1"))
}
