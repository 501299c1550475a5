//! Facts the event does not carry but a decision may depend on. The guards ask for exactly
//! the facts they need ([`FactRequest`]); the caller fetches those and decides again.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ids::{IdKind, Target};
use crate::ops::{self, Op};
pub use crate::state::{tag_is_true, DatabaseState, DbKind, GroupFacts, GroupRule, Tags};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum FactRequest {
    /// A security group's id and tags (by id, or by name when the event names only that).
    SecurityGroup {
        #[serde(skip_serializing_if = "Option::is_none")]
        group_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        group_name: Option<String>,
    },
    /// Whether each of these rules is ingress or egress (ModifySecurityGroupRules does not say).
    SecurityGroupRules {
        group_id: String,
        rule_ids: Vec<String>,
    },
    /// The IAM user that owns an access key.
    AccessKeyOwner { access_key_id: String },
    /// A network ACL's tags.
    NetworkAcl { network_acl_id: String },
    /// A security group as it is now: its tags and every rule (for findings about a group's
    /// state, which name the group but not the rule).
    SecurityGroupState { group_id: String },
    /// The accounts of the organization (`organization_id`), to tell a share with one of
    /// them from a share with an outsider.
    OrganizationAccounts,
    /// An IAM role's tags (whether it is exempt).
    RoleTags { role_name: String },
    /// Whether an IAM user carries trailguard's quarantine tag (trailguard contained one of
    /// its keys): a key re-activated or created for that user undoes the containment.
    UserQuarantined { user_name: String },
    /// The S3 buckets the account's trails deliver to.
    TrailBuckets,
    /// A managed prefix list's owner, name and entries (a security-group rule that names it
    /// is as open as its widest entry).
    PrefixList { prefix_list_id: String },
    /// A network ACL's entries (a subnet associated with it is as open as they are).
    NetworkAclState { network_acl_id: String },
    /// A database as it is now: whether it is public, its status and tags (whether it is
    /// exempt).
    Database { kind: DbKind, id: String },
    /// An S3 bucket's tags (whether it is exempt).
    BucketTags { bucket: String },
    /// An S3 bucket as it is now: tags, block, the public groups its ACL grants, its policy
    /// (for a Security Hub finding, which names the bucket but not what opened it).
    BucketState { bucket: String },
    /// A resource's policy and tags as they are now (its exemption tag; a Security Hub
    /// finding, which names the resource but not its policy).
    PolicyResource {
        kind: crate::resources::PolicyKind,
        resource: String,
    },
    /// A KMS key's state, manager and tags (whether it is exempt, whether its life is a
    /// customer's to change).
    EncryptionKey { key_id: String },
    /// Who scheduled a KMS key's pending deletion, from CloudTrail's event history
    /// (`LookupEvents` by event name, the 30 days a deletion can be pending).
    KeyDeletion { key_id: String },
    /// The GuardDuty detectors of the event's region (a Security Hub finding names the
    /// account only).
    Detectors,
    /// An EC2 instance's tags (its exemption, before IMDSv2 is required on it).
    InstanceTags { instance_id: String },
}

/// The kinds of fact, statically: guards list the kinds they may ask for, and their
/// functions' roles grant the operations that look them up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    SecurityGroup,
    SecurityGroupRules,
    AccessKeyOwner,
    NetworkAcl,
    SecurityGroupState,
    OrganizationAccounts,
    RoleTags,
    UserQuarantined,
    TrailBuckets,
    PrefixList,
    NetworkAclState,
    DbInstance,
    DbCluster,
    RedshiftCluster,
    BucketTags,
    BucketState,
    PolicyResource(crate::resources::PolicyKind),
    EncryptionKey,
    KeyDeletion,
    Detectors,
    InstanceTags,
}

impl FactKind {
    /// The operations that look the fact up.
    pub fn ops(self) -> &'static [&'static Op] {
        match self {
            FactKind::SecurityGroup => &[&ops::DESCRIBE_SECURITY_GROUPS],
            FactKind::SecurityGroupRules => &[&ops::DESCRIBE_SG_RULES],
            FactKind::AccessKeyOwner => &[&ops::GET_ACCESS_KEY_LAST_USED],
            FactKind::NetworkAcl => &[&ops::DESCRIBE_NETWORK_ACLS],
            FactKind::SecurityGroupState => {
                &[&ops::DESCRIBE_SECURITY_GROUPS, &ops::DESCRIBE_SG_RULES]
            }
            FactKind::OrganizationAccounts => &[&ops::LIST_ACCOUNTS],
            FactKind::RoleTags => &[&ops::GET_ROLE],
            FactKind::UserQuarantined => &[&ops::LIST_USER_TAGS],
            FactKind::TrailBuckets => &[&ops::DESCRIBE_TRAILS],
            FactKind::NetworkAclState => &[&ops::DESCRIBE_NETWORK_ACLS],
            FactKind::BucketTags => &[&ops::GET_BUCKET_TAGGING],
            FactKind::BucketState => &[
                &ops::GET_BUCKET_TAGGING,
                &ops::GET_BUCKET_PAB,
                &ops::GET_BUCKET_ACL,
                &ops::GET_BUCKET_POLICY,
            ],
            FactKind::PrefixList => &[
                &ops::DESCRIBE_MANAGED_PREFIX_LISTS,
                &ops::GET_MANAGED_PREFIX_LIST_ENTRIES,
            ],
            FactKind::DbInstance => &[&ops::DESCRIBE_DB_INSTANCES],
            FactKind::DbCluster => &[&ops::DESCRIBE_DB_CLUSTERS],
            FactKind::RedshiftCluster => &[&ops::REDSHIFT_DESCRIBE_CLUSTERS],
            FactKind::PolicyResource(kind) => kind.lookup_ops(),
            FactKind::EncryptionKey => &[
                &ops::KMS_DESCRIBE_KEY,
                &ops::KMS_LIST_RESOURCE_TAGS,
                &ops::KMS_GET_KEY_ROTATION_STATUS,
            ],
            FactKind::KeyDeletion => &[&ops::LOOKUP_EVENTS],
            FactKind::Detectors => &[&ops::GUARDDUTY_LIST_DETECTORS, &ops::GUARDDUTY_GET_DETECTOR],
            FactKind::InstanceTags => &[&ops::DESCRIBE_INSTANCES],
        }
    }
}

impl FactRequest {
    /// The identifiers the lookup sends to AWS: none may be a placeholder (ids.rs).
    pub fn targets(&self) -> Vec<Target> {
        match self {
            FactRequest::SecurityGroup {
                group_id: Some(g), ..
            }
            | FactRequest::SecurityGroupState { group_id: g } => {
                vec![Target::new("group_id", g, IdKind::SecurityGroup)]
            }
            FactRequest::SecurityGroup {
                group_id: None,
                group_name,
            } => vec![Target::new(
                "group_name",
                group_name.as_deref().unwrap_or_default(),
                IdKind::SecurityGroupName,
            )],
            FactRequest::SecurityGroupRules { group_id, rule_ids } => {
                std::iter::once(Target::new("group_id", group_id, IdKind::SecurityGroup))
                    .chain(
                        rule_ids
                            .iter()
                            .map(|r| Target::new("rule_ids", r, IdKind::SecurityGroupRule)),
                    )
                    .collect()
            }
            FactRequest::AccessKeyOwner { access_key_id } => {
                vec![Target::new(
                    "access_key_id",
                    access_key_id,
                    IdKind::AccessKey,
                )]
            }
            FactRequest::NetworkAcl { network_acl_id }
            | FactRequest::NetworkAclState { network_acl_id } => {
                vec![Target::new(
                    "network_acl_id",
                    network_acl_id,
                    IdKind::NetworkAcl,
                )]
            }
            FactRequest::RoleTags { role_name } => {
                vec![Target::new("role_name", role_name, IdKind::IamName)]
            }
            FactRequest::InstanceTags { instance_id } => {
                vec![Target::new("instance_id", instance_id, IdKind::Ec2Resource)]
            }
            FactRequest::UserQuarantined { user_name } => {
                vec![Target::new("user_name", user_name, IdKind::IamName)]
            }
            FactRequest::PrefixList { prefix_list_id } => {
                vec![Target::new(
                    "prefix_list_id",
                    prefix_list_id,
                    IdKind::PrefixList,
                )]
            }
            FactRequest::Database { id, .. } => {
                vec![Target::new("id", id, IdKind::DbIdentifier)]
            }
            FactRequest::BucketTags { bucket } | FactRequest::BucketState { bucket } => {
                vec![Target::new("bucket", bucket, IdKind::Bucket)]
            }
            FactRequest::PolicyResource { resource, .. } => {
                vec![Target::new("resource", resource, IdKind::PolicyResource)]
            }
            FactRequest::EncryptionKey { key_id } | FactRequest::KeyDeletion { key_id } => {
                vec![Target::new("key_id", key_id, IdKind::PolicyResource)]
            }
            FactRequest::OrganizationAccounts
            | FactRequest::TrailBuckets
            | FactRequest::Detectors => vec![],
        }
    }

    pub fn kind(&self) -> FactKind {
        match self {
            FactRequest::SecurityGroup { .. } => FactKind::SecurityGroup,
            FactRequest::SecurityGroupRules { .. } => FactKind::SecurityGroupRules,
            FactRequest::AccessKeyOwner { .. } => FactKind::AccessKeyOwner,
            FactRequest::NetworkAcl { .. } => FactKind::NetworkAcl,
            FactRequest::SecurityGroupState { .. } => FactKind::SecurityGroupState,
            FactRequest::OrganizationAccounts => FactKind::OrganizationAccounts,
            FactRequest::RoleTags { .. } => FactKind::RoleTags,
            FactRequest::UserQuarantined { .. } => FactKind::UserQuarantined,
            FactRequest::TrailBuckets => FactKind::TrailBuckets,
            FactRequest::PrefixList { .. } => FactKind::PrefixList,
            FactRequest::NetworkAclState { .. } => FactKind::NetworkAclState,
            FactRequest::Database { kind, .. } => match kind {
                DbKind::Instance => FactKind::DbInstance,
                DbKind::Cluster => FactKind::DbCluster,
                DbKind::Redshift => FactKind::RedshiftCluster,
            },
            FactRequest::BucketTags { .. } => FactKind::BucketTags,
            FactRequest::BucketState { .. } => FactKind::BucketState,
            FactRequest::PolicyResource { kind, .. } => FactKind::PolicyResource(*kind),
            FactRequest::EncryptionKey { .. } => FactKind::EncryptionKey,
            FactRequest::KeyDeletion { .. } => FactKind::KeyDeletion,
            FactRequest::Detectors => FactKind::Detectors,
            FactRequest::InstanceTags { .. } => FactKind::InstanceTags,
        }
    }
}

/// A managed prefix list as `DescribeManagedPrefixLists` and `GetManagedPrefixListEntries`
/// show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrefixListFacts {
    pub prefix_list_id: String,
    /// `AWS` for the lists AWS manages (`com.amazonaws.<region>.s3`, ...), else an account.
    pub owner_id: Option<String>,
    pub name: Option<String>,
    pub cidrs: Vec<String>,
}

impl PrefixListFacts {
    /// Whether AWS manages the list: its entries are AWS's own service ranges, which a
    /// customer cannot change, so a rule naming it opens nothing to the internet at large.
    pub fn aws_managed(&self) -> bool {
        self.owner_id.as_deref() == Some("AWS")
            || self
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("com.amazonaws."))
    }
}

/// What the caller knows. Empty at first; filled with the answers to the requests.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The role the function runs as: its own changes are never acted on.
    pub own_role_arn: Option<String>,
    /// Groups looked up, by id or name. A request answered with "no such group" is
    /// recorded in `missing_groups`.
    pub security_groups: Vec<GroupFacts>,
    pub missing_groups: Vec<String>,
    /// Rule id -> is egress. Rules absent here after a lookup no longer exist.
    pub rule_directions: BTreeMap<String, bool>,
    pub rules_looked_up: bool,
    /// Access key id -> owning user (None: no such key in this account).
    pub key_owners: BTreeMap<String, Option<String>>,
    pub network_acls: BTreeMap<String, Tags>,
    /// Security groups as they are now, by id (None: no such group).
    pub group_states: BTreeMap<String, Option<GroupFacts>>,
    /// The organization's accounts, once looked up.
    pub organization_accounts: Option<BTreeSet<String>>,
    /// Role name -> tags (None: no such role).
    pub role_tags: BTreeMap<String, Option<Tags>>,
    /// User name -> whether it carries trailguard's quarantine tag (None: no such user).
    pub user_quarantined: BTreeMap<String, Option<bool>>,
    /// The buckets the account's trails deliver to, once looked up.
    pub trail_buckets: Option<BTreeSet<String>>,
    /// Prefix list id -> the list (None: no such list).
    pub prefix_lists: BTreeMap<String, Option<PrefixListFacts>>,
    /// Network ACL id -> the ACL with its entries (None: no such ACL).
    pub acl_states: BTreeMap<String, Option<crate::state::AclState>>,
    /// Databases looked up, by kind and id (None: no such database).
    pub databases: BTreeMap<(DbKind, String), Option<DatabaseState>>,
    /// Bucket -> tags (None: no such bucket).
    pub bucket_tags: BTreeMap<String, Option<Tags>>,
    /// Bucket -> the bucket as it is now (None: no such bucket).
    pub bucket_states: BTreeMap<String, Option<crate::state::BucketState>>,
    /// (kind, resource) -> its policy and tags (None: no such resource).
    pub policy_resources:
        BTreeMap<(crate::resources::PolicyKind, String), Option<crate::resources::PolicyState>>,
    /// KMS key (as the request named it) -> the key (None: no such key).
    pub encryption_keys: BTreeMap<String, Option<crate::state::EncryptionKeyState>>,
    /// KMS key -> who scheduled its pending deletion (None: the history does not say).
    pub key_deletions: BTreeMap<String, Option<crate::state::KeyDeletion>>,
    /// The region's GuardDuty detectors (None: not looked up).
    pub detectors: Option<crate::state::DetectorsState>,
    /// EC2 instance id -> tags (None: no such instance).
    pub instance_tags: BTreeMap<String, Option<Tags>>,
    /// EC2 instance id -> whether it requires IMDSv2, as read with its tags (None: no such
    /// instance). No rule reads it: requiring IMDSv2 takes it instead of reading again.
    pub instance_tokens_required: BTreeMap<String, Option<bool>>,
    /// Offline (the CLI): facts not given are taken as absent instead of requested, and the
    /// decision says what it assumed.
    pub offline: bool,
    /// What was taken as absent offline, recorded as the guards read it, so a guard does not
    /// have to list its assumptions itself.
    pub assumed: std::cell::RefCell<Vec<FactRequest>>,
}

pub(crate) enum Known<T> {
    Yes(T),
    Need(FactRequest),
}

impl Facts {
    pub fn offline() -> Facts {
        Facts {
            offline: true,
            ..Facts::default()
        }
    }

    pub(crate) fn group(&self, id: Option<&str>, name: Option<&str>) -> Known<Option<GroupFacts>> {
        let found = self.security_groups.iter().find(|g| match (id, name) {
            (Some(i), _) => g.group_id == i,
            (None, Some(n)) => g.group_name.as_deref() == Some(n),
            _ => false,
        });
        if let Some(g) = found {
            return Known::Yes(Some(g.clone()));
        }
        let key = id.or(name).unwrap_or_default();
        if self.offline || self.missing_groups.iter().any(|m| m == key) {
            return Known::Yes(None);
        }
        Known::Need(FactRequest::SecurityGroup {
            group_id: id.map(String::from),
            group_name: if id.is_none() {
                name.map(String::from)
            } else {
                None
            },
        })
    }

    pub(crate) fn key_owner(&self, key: &str) -> Known<Option<String>> {
        match self.key_owners.get(key) {
            Some(o) => Known::Yes(o.clone()),
            None if self.offline => Known::Yes(None),
            None => Known::Need(FactRequest::AccessKeyOwner {
                access_key_id: key.to_string(),
            }),
        }
    }

    pub(crate) fn group_state(&self, id: &str) -> Known<Option<GroupFacts>> {
        match self.group_states.get(id) {
            Some(g) => Known::Yes(g.clone()),
            None if self.offline => Known::Yes(None),
            None => Known::Need(FactRequest::SecurityGroupState {
                group_id: id.to_string(),
            }),
        }
    }

    pub(crate) fn organization_accounts(&self) -> Known<BTreeSet<String>> {
        match &self.organization_accounts {
            Some(a) => Known::Yes(a.clone()),
            None if self.offline => self.assume(FactRequest::OrganizationAccounts, BTreeSet::new()),
            None => Known::Need(FactRequest::OrganizationAccounts),
        }
    }

    /// An instance's tags; offline, taken as none.
    pub(crate) fn instance_tags(&self, instance_id: &str) -> Known<Option<Tags>> {
        match self.instance_tags.get(instance_id) {
            Some(t) => Known::Yes(t.clone()),
            None => {
                let request = FactRequest::InstanceTags {
                    instance_id: instance_id.to_string(),
                };
                if self.offline {
                    self.assume(request, Some(Tags::new()))
                } else {
                    Known::Need(request)
                }
            }
        }
    }

    pub(crate) fn role_tags(&self, role: &str) -> Known<Option<Tags>> {
        match self.role_tags.get(role) {
            Some(t) => Known::Yes(t.clone()),
            None => {
                let request = FactRequest::RoleTags {
                    role_name: role.to_string(),
                };
                if self.offline {
                    self.assume(request, Some(Tags::new()))
                } else {
                    Known::Need(request)
                }
            }
        }
    }

    /// Whether trailguard quarantined a user; offline, taken as not.
    pub(crate) fn user_quarantined(&self, user: &str) -> Known<Option<bool>> {
        match self.user_quarantined.get(user) {
            Some(q) => Known::Yes(*q),
            None => {
                let request = FactRequest::UserQuarantined {
                    user_name: user.to_string(),
                };
                if self.offline {
                    self.assume(request, Some(false))
                } else {
                    Known::Need(request)
                }
            }
        }
    }

    pub(crate) fn trail_buckets(&self) -> Known<BTreeSet<String>> {
        match &self.trail_buckets {
            Some(b) => Known::Yes(b.clone()),
            None if self.offline => self.assume(FactRequest::TrailBuckets, BTreeSet::new()),
            None => Known::Need(FactRequest::TrailBuckets),
        }
    }

    pub(crate) fn prefix_list(&self, id: &str) -> Known<Option<PrefixListFacts>> {
        match self.prefix_lists.get(id) {
            Some(l) => Known::Yes(l.clone()),
            None => {
                let request = FactRequest::PrefixList {
                    prefix_list_id: id.to_string(),
                };
                if self.offline {
                    self.assume(request, None)
                } else {
                    Known::Need(request)
                }
            }
        }
    }

    /// A resource's policy and tags; offline, taken as absent (not exempt).
    pub(crate) fn policy_resource(
        &self,
        kind: crate::resources::PolicyKind,
        resource: &str,
    ) -> Known<Option<crate::resources::PolicyState>> {
        match self.policy_resources.get(&(kind, resource.to_string())) {
            Some(p) => Known::Yes(p.clone()),
            None => {
                let request = FactRequest::PolicyResource {
                    kind,
                    resource: resource.to_string(),
                };
                if self.offline {
                    self.assume(request, None)
                } else {
                    Known::Need(request)
                }
            }
        }
    }

    /// A KMS key as it is now; offline, taken as absent.
    pub(crate) fn encryption_key(
        &self,
        key_id: &str,
    ) -> Known<Option<crate::state::EncryptionKeyState>> {
        match self.encryption_keys.get(key_id) {
            Some(k) => Known::Yes(k.clone()),
            None => {
                let request = FactRequest::EncryptionKey {
                    key_id: key_id.to_string(),
                };
                if self.offline {
                    self.assume(request, None)
                } else {
                    Known::Need(request)
                }
            }
        }
    }

    /// Who scheduled a key's pending deletion; offline, taken as unknown.
    pub(crate) fn key_deletion(&self, key_id: &str) -> Known<Option<crate::state::KeyDeletion>> {
        match self.key_deletions.get(key_id) {
            Some(k) => Known::Yes(k.clone()),
            None => {
                let request = FactRequest::KeyDeletion {
                    key_id: key_id.to_string(),
                };
                if self.offline {
                    self.assume(request, None)
                } else {
                    Known::Need(request)
                }
            }
        }
    }

    /// The region's GuardDuty detectors; offline, taken as none.
    pub(crate) fn detectors(&self) -> Known<crate::state::DetectorsState> {
        match &self.detectors {
            Some(d) => Known::Yes(d.clone()),
            None if self.offline => self.assume(FactRequest::Detectors, Default::default()),
            None => Known::Need(FactRequest::Detectors),
        }
    }

    pub(crate) fn acl_state(&self, id: &str) -> Known<Option<crate::state::AclState>> {
        match self.acl_states.get(id) {
            Some(a) => Known::Yes(a.clone()),
            None => {
                let request = FactRequest::NetworkAclState {
                    network_acl_id: id.to_string(),
                };
                if self.offline {
                    self.assume(request, None)
                } else {
                    Known::Need(request)
                }
            }
        }
    }

    /// A database as it is now; offline, taken as absent (the guard then decides as if it
    /// carried no tags, and says so).
    pub(crate) fn database(&self, kind: DbKind, id: &str) -> Known<Option<DatabaseState>> {
        match self.databases.get(&(kind, id.to_string())) {
            Some(d) => Known::Yes(d.clone()),
            None => {
                let request = FactRequest::Database {
                    kind,
                    id: id.to_string(),
                };
                if self.offline {
                    self.assume(request, None)
                } else {
                    Known::Need(request)
                }
            }
        }
    }
    /// A bucket's tags; offline, taken as none (not exempt).
    pub(crate) fn bucket_tags(&self, bucket: &str) -> Known<Option<Tags>> {
        if let Some(t) = self.bucket_tags.get(bucket) {
            return Known::Yes(t.clone());
        }
        if let Some(Some(b)) = self.bucket_states.get(bucket) {
            return Known::Yes(Some(b.tags.clone()));
        }
        let request = FactRequest::BucketTags {
            bucket: bucket.to_string(),
        };
        if self.offline {
            self.assume(request, Some(Tags::new()))
        } else {
            Known::Need(request)
        }
    }

    /// A bucket as it is now; offline, taken as unknown (None).
    pub(crate) fn bucket_state(&self, bucket: &str) -> Known<Option<crate::state::BucketState>> {
        match self.bucket_states.get(bucket) {
            Some(b) => Known::Yes(b.clone()),
            None => {
                let request = FactRequest::BucketState {
                    bucket: bucket.to_string(),
                };
                if self.offline {
                    self.assume(request, None)
                } else {
                    Known::Need(request)
                }
            }
        }
    }

    /// Offline: take `value` for the fact `request` asks, and remember that it was assumed.
    fn assume<T>(&self, request: FactRequest, value: T) -> Known<T> {
        let mut assumed = self.assumed.borrow_mut();
        if !assumed.contains(&request) {
            assumed.push(request);
        }
        Known::Yes(value)
    }

    /// The facts taken as absent so far (offline).
    pub fn assumptions(&self) -> Vec<FactRequest> {
        self.assumed.borrow().clone()
    }

    pub(crate) fn nacl_tags(&self, id: &str) -> Known<Tags> {
        match self.network_acls.get(id) {
            Some(t) => Known::Yes(t.clone()),
            None if self.offline => Known::Yes(Tags::new()),
            None => Known::Need(FactRequest::NetworkAcl {
                network_acl_id: id.to_string(),
            }),
        }
    }
}

/// What an account looks like, as far as facts go: the answers a lookup would give. The
/// tests describe their emulated account with one (events/meta/world.json), and
/// `trailguard decide --world FILE` decides with it instead of assuming facts absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct World {
    pub security_groups: Vec<GroupFacts>,
    /// Rule id -> is egress.
    pub rule_directions: BTreeMap<String, bool>,
    /// Access key id -> owning user.
    pub key_owners: BTreeMap<String, String>,
    /// Network ACL id -> tags (every ACL not listed does not exist).
    pub network_acls: BTreeMap<String, Tags>,
    /// The accounts of the organization.
    pub organization_accounts: Vec<String>,
    /// Role name -> tags (every role not listed does not exist).
    pub roles: BTreeMap<String, Tags>,
    /// The buckets the trails deliver to.
    pub trail_buckets: Vec<String>,
    /// IAM user name -> tags (users not listed carry none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub user_tags: BTreeMap<String, Tags>,
    /// Prefix list id -> the list (every list not listed does not exist).
    pub prefix_lists: BTreeMap<String, PrefixListFacts>,
    /// Network ACL id -> the ACL with its entries (every ACL not listed has none to show).
    pub acl_states: BTreeMap<String, crate::state::AclState>,
    /// The account's databases (every one not listed does not exist).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<DatabaseState>,
    /// S3 buckets as they are (every bucket not listed does not exist).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<crate::state::BucketState>,
    /// Resources with a policy (every resource not listed does not exist).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policy_resources: Vec<crate::resources::PolicyState>,
    /// KMS keys (every key not listed does not exist); a key is found by its ARN or its id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encryption_keys: Vec<crate::state::EncryptionKeyState>,
    /// Who scheduled each pending key deletion (a key not listed: the history does not say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_deletions: Vec<crate::state::KeyDeletion>,
    /// The GuardDuty detectors of the world's region (none listed: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detectors: Option<crate::state::DetectorsState>,
    /// EC2 instance id -> tags (instances not listed exist and carry none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub instances: BTreeMap<String, Tags>,
}

impl World {
    /// The group a lookup by id, or else by name, finds (None: no such group, or a name
    /// several groups share).
    pub fn group(&self, id: Option<&str>, name: Option<&str>) -> Option<GroupFacts> {
        let found: Vec<&GroupFacts> = self
            .security_groups
            .iter()
            .filter(|g| match (id, name) {
                (Some(i), _) => g.group_id == i,
                (None, Some(n)) => g.group_name.as_deref() == Some(n),
                _ => false,
            })
            .collect();
        match found.as_slice() {
            [one] => Some((*one).clone()),
            _ => None,
        }
    }

    /// Answer one request into `facts`, as the functions' lookups would.
    pub fn answer(&self, request: &FactRequest, facts: &mut Facts) {
        match request {
            FactRequest::SecurityGroup {
                group_id,
                group_name,
            } => match self.group(group_id.as_deref(), group_name.as_deref()) {
                Some(g) => facts.security_groups.push(g),
                None => facts
                    .missing_groups
                    .push(group_id.clone().or(group_name.clone()).unwrap_or_default()),
            },
            FactRequest::SecurityGroupRules { rule_ids, .. } => {
                facts.rule_directions = self
                    .rule_directions
                    .iter()
                    .filter(|(id, _)| rule_ids.contains(id))
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                facts.rules_looked_up = true;
            }
            FactRequest::AccessKeyOwner { access_key_id } => {
                facts.key_owners.insert(
                    access_key_id.clone(),
                    self.key_owners.get(access_key_id).cloned(),
                );
            }
            FactRequest::SecurityGroupState { group_id } => {
                facts
                    .group_states
                    .insert(group_id.clone(), self.group(Some(group_id), None));
            }
            FactRequest::OrganizationAccounts => {
                facts.organization_accounts =
                    Some(self.organization_accounts.iter().cloned().collect());
            }
            FactRequest::InstanceTags { instance_id } => {
                facts.instance_tags.insert(
                    instance_id.clone(),
                    Some(self.instances.get(instance_id).cloned().unwrap_or_default()),
                );
            }
            FactRequest::RoleTags { role_name } => {
                facts
                    .role_tags
                    .insert(role_name.clone(), self.roles.get(role_name).cloned());
            }
            FactRequest::UserQuarantined { user_name } => {
                let tagged = self
                    .user_tags
                    .get(user_name)
                    .is_some_and(|t| t.contains_key(crate::action::QUARANTINE_TAG));
                facts
                    .user_quarantined
                    .insert(user_name.clone(), Some(tagged));
            }
            FactRequest::TrailBuckets => {
                facts.trail_buckets = Some(self.trail_buckets.iter().cloned().collect());
            }
            FactRequest::NetworkAclState { network_acl_id } => {
                facts.acl_states.insert(
                    network_acl_id.clone(),
                    self.acl_states.get(network_acl_id).cloned(),
                );
            }
            FactRequest::PrefixList { prefix_list_id } => {
                facts.prefix_lists.insert(
                    prefix_list_id.clone(),
                    self.prefix_lists.get(prefix_list_id).cloned(),
                );
            }
            FactRequest::Database { kind, id } => {
                let found = self
                    .databases
                    .iter()
                    .find(|d| d.kind == *kind && d.id == *id)
                    .cloned();
                facts.databases.insert((*kind, id.clone()), found);
            }
            FactRequest::BucketTags { bucket } => {
                let found = self.buckets.iter().find(|b| &b.bucket == bucket);
                facts
                    .bucket_tags
                    .insert(bucket.clone(), found.map(|b| b.tags.clone()));
            }
            FactRequest::BucketState { bucket } => {
                let found = self.buckets.iter().find(|b| &b.bucket == bucket);
                facts.bucket_states.insert(bucket.clone(), found.cloned());
            }
            FactRequest::PolicyResource { kind, resource } => {
                let found = self
                    .policy_resources
                    .iter()
                    .find(|p| p.kind == *kind && p.resource == *resource)
                    .cloned();
                facts
                    .policy_resources
                    .insert((*kind, resource.clone()), found);
            }
            FactRequest::EncryptionKey { key_id } => {
                let found = self
                    .encryption_keys
                    .iter()
                    .find(|k| k.key_id == *key_id || k.key_id.ends_with(&format!("/{key_id}")))
                    .cloned();
                facts.encryption_keys.insert(key_id.clone(), found);
            }
            FactRequest::KeyDeletion { key_id } => {
                let found = self
                    .key_deletions
                    .iter()
                    .find(|k| k.key_id == *key_id || k.key_id.ends_with(&format!("/{key_id}")))
                    .cloned();
                facts.key_deletions.insert(key_id.clone(), found);
            }
            FactRequest::Detectors => {
                facts.detectors = Some(self.detectors.clone().unwrap_or_default());
            }
            FactRequest::NetworkAcl { network_acl_id } => {
                facts.network_acls.insert(
                    network_acl_id.clone(),
                    self.network_acls
                        .get(network_acl_id)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
    }
}
