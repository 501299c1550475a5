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
    DbInstances,
    DbClusters,
    RedshiftClusters,
    Buckets,
    AccountPublicAccessBlock,
    /// Customer managed KMS keys: pending deletion, rotation off.
    EncryptionKeys,
    /// The account's EC2 defaults in the region: EBS encryption, snapshot and AMI blocks.
    Ec2Defaults,
    /// The region's GuardDuty detectors.
    GuardDutyDetectors,
    /// The account's IAM password policy.
    AccountPasswordPolicy,
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
            StateKind::DbInstances => &[&ops::DESCRIBE_DB_INSTANCES],
            StateKind::DbClusters => &[&ops::DESCRIBE_DB_CLUSTERS],
            StateKind::RedshiftClusters => &[&ops::REDSHIFT_DESCRIBE_CLUSTERS],
            StateKind::Buckets => &[
                &ops::LIST_BUCKETS,
                &ops::GET_BUCKET_TAGGING,
                &ops::GET_BUCKET_PAB,
                &ops::GET_BUCKET_ACL,
                &ops::GET_BUCKET_POLICY,
            ],
            StateKind::AccountPublicAccessBlock => &[&ops::GET_ACCOUNT_PAB],
            StateKind::EncryptionKeys => &[
                &ops::KMS_LIST_KEYS,
                &ops::KMS_DESCRIBE_KEY,
                &ops::KMS_LIST_RESOURCE_TAGS,
                &ops::KMS_GET_KEY_ROTATION_STATUS,
            ],
            StateKind::Ec2Defaults => &[
                &ops::GET_EBS_ENCRYPTION_BY_DEFAULT,
                &ops::GET_SNAPSHOT_BPA,
                &ops::GET_IMAGE_BPA,
            ],
            StateKind::GuardDutyDetectors => {
                &[&ops::GUARDDUTY_LIST_DETECTORS, &ops::GUARDDUTY_GET_DETECTOR]
            }
            StateKind::AccountPasswordPolicy => &[&ops::GET_ACCOUNT_PASSWORD_POLICY],
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
                &ops::ES_DESCRIBE_DOMAINS,
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
            StateKind::DbInstances => "RDS DB instances",
            StateKind::DbClusters => "RDS DB clusters",
            StateKind::RedshiftClusters => "Redshift clusters",
            StateKind::Buckets => "buckets",
            StateKind::AccountPublicAccessBlock => "the account's public access block",
            StateKind::EncryptionKeys => "KMS keys",
            StateKind::Ec2Defaults => "the account's EC2 defaults",
            StateKind::GuardDutyDetectors => "GuardDuty detectors",
            StateKind::AccountPasswordPolicy => "the account's password policy",
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

/// Which kind of database: an RDS DB instance, an RDS DB cluster (Multi-AZ DB clusters carry
/// their own `PubliclyAccessible`), a Redshift cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbKind {
    Instance,
    Cluster,
    Redshift,
}

impl DbKind {
    /// How people call it.
    pub fn name(self) -> &'static str {
        match self {
            DbKind::Instance => "RDS DB instance",
            DbKind::Cluster => "RDS DB cluster",
            DbKind::Redshift => "Redshift cluster",
        }
    }
}

/// A database as DescribeDBInstances, DescribeDBClusters or Redshift's DescribeClusters show
/// it: whether it is publicly accessible, its status and its tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseState {
    pub kind: DbKind,
    pub id: String,
    pub public: bool,
    /// `available`, `creating`, `modifying`, ... (None: not said).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Tags,
}

/// The four switches of an S3 public access block (a bucket's or the account's), as the
/// API names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct BlockFlags {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl BlockFlags {
    /// The switches, as the API and the policy name them.
    pub const NAMES: [&'static str; 4] = [
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ];

    /// All four on.
    pub const ALL: BlockFlags = BlockFlags {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    fn slot(&mut self, name: &str) -> Option<&mut bool> {
        match name {
            "BlockPublicAcls" => Some(&mut self.block_public_acls),
            "IgnorePublicAcls" => Some(&mut self.ignore_public_acls),
            "BlockPublicPolicy" => Some(&mut self.block_public_policy),
            "RestrictPublicBuckets" => Some(&mut self.restrict_public_buckets),
            _ => None,
        }
    }

    /// The switches named on (unknown names are ignored).
    pub fn of(names: &[String]) -> BlockFlags {
        let mut f = BlockFlags::default();
        for n in names {
            if let Some(slot) = f.slot(n) {
                *slot = true;
            }
        }
        f
    }

    /// The names of the switches that are on.
    pub fn names(&self) -> Vec<String> {
        let on = [
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets,
        ];
        Self::NAMES
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(n, _)| n.to_string())
            .collect()
    }

    /// The switches on, for people: `BlockPublicAcls, IgnorePublicAcls on`, or `every
    /// switch off`.
    pub fn switches_on(&self) -> String {
        let on = self.names();
        if on.is_empty() {
            "every switch off".into()
        } else {
            format!("{} on", on.join(", "))
        }
    }

    /// Every switch on in either.
    pub fn or(self, o: BlockFlags) -> BlockFlags {
        BlockFlags {
            block_public_acls: self.block_public_acls || o.block_public_acls,
            ignore_public_acls: self.ignore_public_acls || o.ignore_public_acls,
            block_public_policy: self.block_public_policy || o.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets || o.restrict_public_buckets,
        }
    }

    /// The switches of `wanted` that are off here.
    pub fn lacking(&self, wanted: BlockFlags) -> Vec<String> {
        let have = self.names();
        wanted
            .names()
            .into_iter()
            .filter(|n| !have.contains(n))
            .collect()
    }
}

/// The group URIs that make an S3 grant public: everyone, and every AWS account.
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// The public group a grantee URI names (`ALL_USERS` or `AUTHENTICATED_USERS`, whatever its
/// scheme or case), if it names one.
pub fn public_group(uri: &str) -> Option<&'static str> {
    let tail = uri.trim().trim_matches('"').rsplit('/').next()?;
    let global = uri.to_ascii_lowercase().contains("/groups/global/");
    match tail {
        t if global && t.eq_ignore_ascii_case("AllUsers") => Some(ALL_USERS),
        t if global && t.eq_ignore_ascii_case("AuthenticatedUsers") => Some(AUTHENTICATED_USERS),
        _ => None,
    }
}

/// A bucket as the sweep (and a Security Hub finding's lookup) sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BucketState {
    pub bucket: String,
    pub tags: Tags,
    /// Its public access block (None: it has none).
    pub block: Option<BlockFlags>,
    /// The public groups its ACL grants anything to ([`ALL_USERS`], [`AUTHENTICATED_USERS`]).
    pub public_groups: Vec<String>,
    /// Its bucket policy, as S3 returns it (None: it has none).
    pub policy: Option<String>,
}

/// The account's S3 public access block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountBlockState {
    pub account: String,
    /// None: the account has none.
    pub block: Option<BlockFlags>,
}

/// A KMS key as `DescribeKey` and `ListResourceTags` show it (guards/encryption_keys.rs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionKeyState {
    /// The key's ARN (its id when DescribeKey gave no ARN).
    pub key_id: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingReplicaDeletion`, `PendingImport`,
    /// `Unavailable`, `Creating`, `Updating`.
    pub state: String,
    /// `CUSTOMER` or `AWS`: only a customer managed key's life is anyone's to change.
    pub manager: String,
    /// When a pending deletion ends (RFC 3339), if one is scheduled.
    pub deletion_date: Option<String>,
    pub tags: Tags,
    /// Whether automatic rotation is on (None: the key cannot rotate (asymmetric, HMAC,
    /// imported or custom key store material, a multi-Region replica) or was not asked).
    pub rotation: Option<bool>,
    /// Why the key could not be read (its key policy shuts trailguard's role out): the sweep
    /// lists it and passes over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// Who scheduled a KMS key's deletion, as its CloudTrail record says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyDeletion {
    /// The key's ARN.
    pub key_id: String,
    /// When (RFC 3339).
    pub at: Option<String>,
    /// The caller's ARNs (a role session's and its role's).
    pub by: Vec<String>,
    /// The waiting period the call asked for (KMS's default: 30 days).
    pub window_days: Option<i64>,
    /// The history read was cut at its page limit: a flood of `ScheduleKeyDeletion` calls
    /// (refused ones are recorded too) can hide the scheduling looked for.
    pub history_truncated: bool,
}

/// The account's EC2 defaults in one region, as the three `Get...` calls show them (None:
/// not read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ec2DefaultsState {
    pub account: String,
    pub region: String,
    pub ebs_encryption_by_default: Option<bool>,
    /// `block-all-sharing`, `block-new-sharing` or `unblocked`.
    pub snapshot_block_public_access: Option<String>,
    /// `block-new-sharing` or `unblocked`.
    pub image_block_public_access: Option<String>,
}

/// The GuardDuty detectors of one region (a region has at most one per account).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorsState {
    pub account: String,
    pub region: String,
    /// Each detector's id and status (`ENABLED`, `DISABLED`).
    pub detectors: Vec<(String, String)>,
}

/// The account's IAM password policy as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicyState {
    pub account: String,
    /// None: the account has none (IAM's defaults apply: the weakest).
    pub policy: Option<PasswordPolicy>,
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
    Database(DatabaseState),
    Bucket(BucketState),
    AccountBlock(AccountBlockState),
    EncryptionKey(EncryptionKeyState),
    Ec2Defaults(Ec2DefaultsState),
    Detectors(DetectorsState),
    PasswordPolicy(PasswordPolicyState),
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
            State::Database(d) => match d.kind {
                DbKind::Instance => StateKind::DbInstances,
                DbKind::Cluster => StateKind::DbClusters,
                DbKind::Redshift => StateKind::RedshiftClusters,
            },
            State::Bucket(_) => StateKind::Buckets,
            State::AccountBlock(_) => StateKind::AccountPublicAccessBlock,
            State::EncryptionKey(_) => StateKind::EncryptionKeys,
            State::Ec2Defaults(_) => StateKind::Ec2Defaults,
            State::Detectors(_) => StateKind::GuardDutyDetectors,
            State::PasswordPolicy(_) => StateKind::AccountPasswordPolicy,
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
            State::Database(d) => &d.id,
            State::Bucket(b) => &b.bucket,
            State::AccountBlock(a) => &a.account,
            State::EncryptionKey(k) => &k.key_id,
            State::Ec2Defaults(d) => &d.region,
            State::Detectors(d) => &d.region,
            State::PasswordPolicy(p) => &p.account,
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

/// An account's IAM password policy: as `GetAccountPasswordPolicy` shows it, as an
/// `UpdateAccountPasswordPolicy` sets it, or as the policy's baseline (`iam.password_policy`)
/// requires it. A field left out of a baseline requires nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// The shortest password allowed (IAM: 6 to 128; 0 in a baseline: no requirement).
    pub minimum_password_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub allow_users_to_change_password: bool,
    /// Days before a password expires (None: never).
    pub max_password_age_days: Option<u32>,
    /// How many previous passwords may not be used again (None: any may).
    pub password_reuse_prevention: Option<u32>,
    /// Users whose password expired cannot set a new one themselves.
    pub hard_expiry: bool,
}

impl PasswordPolicy {
    /// The policy an `UpdateAccountPasswordPolicy` sets, from its request (IAM resets every
    /// parameter the call leaves out to its default: the weakest value).
    pub fn from_request(rp: &serde_json::Value) -> PasswordPolicy {
        let num = |k: &str| {
            rp.get(k).and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str()?.trim().parse().ok())
                    .and_then(|n| u32::try_from(n).ok())
            })
        };
        let flag = |k: &str| rp.get(k).and_then(crate::lenient::boolean).unwrap_or(false);
        PasswordPolicy {
            minimum_password_length: num("minimumPasswordLength").unwrap_or(8),
            require_symbols: flag("requireSymbols"),
            require_numbers: flag("requireNumbers"),
            require_uppercase: flag("requireUppercaseCharacters"),
            require_lowercase: flag("requireLowercaseCharacters"),
            allow_users_to_change_password: flag("allowUsersToChangePassword"),
            max_password_age_days: num("maxPasswordAge").filter(|d| *d > 0),
            password_reuse_prevention: num("passwordReusePrevention").filter(|n| *n > 0),
            hard_expiry: flag("hardExpiry"),
        }
    }

    /// The requirements of `baseline` this policy does not meet, by name.
    pub fn weaker_than(&self, baseline: &PasswordPolicy) -> Vec<String> {
        let mut weak = Vec::new();
        if self.minimum_password_length < baseline.minimum_password_length {
            weak.push(format!(
                "minimum_password_length {} < {}",
                self.minimum_password_length, baseline.minimum_password_length
            ));
        }
        for (name, have, want) in [
            (
                "require_symbols",
                self.require_symbols,
                baseline.require_symbols,
            ),
            (
                "require_numbers",
                self.require_numbers,
                baseline.require_numbers,
            ),
            (
                "require_uppercase",
                self.require_uppercase,
                baseline.require_uppercase,
            ),
            (
                "require_lowercase",
                self.require_lowercase,
                baseline.require_lowercase,
            ),
            (
                "allow_users_to_change_password",
                self.allow_users_to_change_password,
                baseline.allow_users_to_change_password,
            ),
            ("hard_expiry", self.hard_expiry, baseline.hard_expiry),
        ] {
            if want && !have {
                weak.push(format!("{name} off"));
            }
        }
        if let Some(want) = baseline.max_password_age_days {
            match self.max_password_age_days {
                Some(have) if have <= want => {}
                have => weak.push(format!(
                    "max_password_age_days {} > {want}",
                    have.map_or("never".into(), |d| d.to_string())
                )),
            }
        }
        if let Some(want) = baseline.password_reuse_prevention {
            match self.password_reuse_prevention {
                Some(have) if have >= want => {}
                have => weak.push(format!(
                    "password_reuse_prevention {} < {want}",
                    have.unwrap_or(0)
                )),
            }
        }
        weak
    }

    /// The stronger of this policy and `baseline`, field by field: the baseline put back
    /// without weakening anything stronger than it.
    pub fn merged(&self, baseline: &PasswordPolicy) -> PasswordPolicy {
        let min_opt = |a: Option<u32>, b: Option<u32>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let max_opt = |a: Option<u32>, b: Option<u32>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        PasswordPolicy {
            minimum_password_length: self
                .minimum_password_length
                .max(baseline.minimum_password_length),
            require_symbols: self.require_symbols || baseline.require_symbols,
            require_numbers: self.require_numbers || baseline.require_numbers,
            require_uppercase: self.require_uppercase || baseline.require_uppercase,
            require_lowercase: self.require_lowercase || baseline.require_lowercase,
            allow_users_to_change_password: self.allow_users_to_change_password
                || baseline.allow_users_to_change_password,
            max_password_age_days: min_opt(
                self.max_password_age_days,
                baseline.max_password_age_days,
            ),
            password_reuse_prevention: max_opt(
                self.password_reuse_prevention,
                baseline.password_reuse_prevention,
            ),
            hard_expiry: self.hard_expiry || baseline.hard_expiry,
        }
    }

    /// The policy [`PasswordPolicy::cli_args`] wrote (how a report keeps the policy before a
    /// call): every flag it writes, and nothing else.
    pub fn from_cli_args(text: &str) -> Result<PasswordPolicy, String> {
        let mut p = PasswordPolicy::default();
        let mut words = text.split_whitespace();
        let number = |w: Option<&str>, flag: &str| -> Result<u32, String> {
            w.and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("--{flag} takes a number"))
        };
        while let Some(w) = words.next() {
            let (on, name) = match w.strip_prefix("--no-") {
                Some(name) => (false, name),
                None => (
                    true,
                    w.strip_prefix("--")
                        .ok_or_else(|| format!("{w}: not a flag"))?,
                ),
            };
            match name {
                "minimum-password-length" if on => {
                    p.minimum_password_length = number(words.next(), name)?
                }
                "max-password-age" if on => {
                    p.max_password_age_days = Some(number(words.next(), name)?)
                }
                "password-reuse-prevention" if on => {
                    p.password_reuse_prevention = Some(number(words.next(), name)?)
                }
                "require-symbols" => p.require_symbols = on,
                "require-numbers" => p.require_numbers = on,
                "require-uppercase-characters" => p.require_uppercase = on,
                "require-lowercase-characters" => p.require_lowercase = on,
                "allow-users-to-change-password" => p.allow_users_to_change_password = on,
                "hard-expiry" => p.hard_expiry = on,
                _ => return Err(format!("{w}: not a password policy flag")),
            }
        }
        Ok(p)
    }

    /// The AWS CLI's arguments that set exactly this policy.
    pub fn cli_args(&self) -> String {
        let flag = |on: bool, name: &str| {
            if on {
                format!(" --{name}")
            } else {
                format!(" --no-{name}")
            }
        };
        let mut out = String::new();
        if self.minimum_password_length >= 6 {
            out.push_str(&format!(
                " --minimum-password-length {}",
                self.minimum_password_length
            ));
        }
        out.push_str(&flag(self.require_symbols, "require-symbols"));
        out.push_str(&flag(self.require_numbers, "require-numbers"));
        out.push_str(&flag(
            self.require_uppercase,
            "require-uppercase-characters",
        ));
        out.push_str(&flag(
            self.require_lowercase,
            "require-lowercase-characters",
        ));
        out.push_str(&flag(
            self.allow_users_to_change_password,
            "allow-users-to-change-password",
        ));
        if let Some(d) = self.max_password_age_days {
            out.push_str(&format!(" --max-password-age {d}"));
        }
        if let Some(n) = self.password_reuse_prevention {
            out.push_str(&format!(" --password-reuse-prevention {n}"));
        }
        out.push_str(&flag(self.hard_expiry, "hard-expiry"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::PasswordPolicy;

    /// Every policy `cli_args` writes reads back as itself; anything else is an error.
    #[test]
    fn a_password_policy_reads_back_from_its_cli_arguments() {
        let mut checked = 0;
        for bits in 0u32..64 {
            for (length, age, reuse) in [
                (0, None, None),
                (6, Some(90), Some(24)),
                (128, Some(1), None),
            ] {
                let p = PasswordPolicy {
                    minimum_password_length: length,
                    require_symbols: bits & 1 != 0,
                    require_numbers: bits & 2 != 0,
                    require_uppercase: bits & 4 != 0,
                    require_lowercase: bits & 8 != 0,
                    allow_users_to_change_password: bits & 16 != 0,
                    max_password_age_days: age,
                    password_reuse_prevention: reuse,
                    hard_expiry: bits & 32 != 0,
                };
                assert_eq!(PasswordPolicy::from_cli_args(&p.cli_args()), Ok(p.clone()));
                checked += 1;
            }
        }
        assert_eq!(checked, 192);
        for bad in [
            "--minimum-password-length",
            "--minimum-password-length x",
            "--no-max-password-age 3",
            "--require-everything",
            "14",
        ] {
            assert!(PasswordPolicy::from_cli_args(bad).is_err(), "{bad}");
        }
    }
}
