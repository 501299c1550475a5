//! Undoing a remediation exactly: each action type's typed inverse ([`Reversal`]), which a
//! function's report records for every action it proved done, and the plan `trailguard undo`
//! runs from such a report ([`plan`]): the actions done, last first, each with its reversal or
//! the reason there is none.
//!
//! A reversal carries what its call needs and what the resource looked like when trailguard
//! left it, so the one who runs it can check first that nothing changed since: `trailguard
//! undo` never puts back what someone else already put back or changed (the ports say which,
//! `shared/aws` `undo.rs`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{Action, Inverse, PrincipalKind};
use crate::ops::{self, Op};
use crate::permission::Permission;
use crate::resources::{PolicyKind, Restriction};
use crate::state::{AclEntry, BlockFlags, PasswordPolicy};

/// The typed call that undoes one action done, with what the resource was left as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "call",
    content = "with",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Reversal {
    /// Put back security-group rules trailguard revoked.
    AuthorizeSecurityGroup {
        group_id: String,
        egress: bool,
        permissions: Vec<Permission>,
    },
    /// Take out rules trailguard put back into a protected group.
    RevokeSecurityGroup {
        group_id: String,
        egress: bool,
        permissions: Vec<Permission>,
    },
    /// Set an access key trailguard set Inactive back to Active.
    ActivateAccessKey {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_name: Option<String>,
        access_key_id: String,
    },
    /// Delete the inline deny policy trailguard put on a user or role, when it is still the
    /// one this remediation wrote (`document`: a later containment rewrites it with a later
    /// cutoff, and that one stays).
    DeleteInlinePolicy {
        principal: PrincipalKind,
        name: String,
        policy_name: String,
        document: String,
    },
    /// Take the quarantine tag trailguard put on a user off, when it still has the value this
    /// remediation wrote.
    UntagUser {
        user_name: String,
        key: String,
        value: String,
    },
    /// Create again the network ACL entry trailguard deleted.
    CreateNetworkAclEntry {
        network_acl_id: String,
        entry: AclEntry,
    },
    /// Switch EBS encryption by default off again in the account's region.
    DisableEbsEncryptionByDefault { account_id: String },
    /// Switch a KMS key's automatic rotation off again.
    DisableKeyRotation { key_id: String },
    /// Make an RDS DB instance publicly accessible again.
    MakeDbInstancePublic { db_instance: String },
    /// Make the members of an RDS DB cluster trailguard made private publicly accessible
    /// again (only those: the others were private before).
    MakeDbClusterInstancesPublic {
        db_cluster: String,
        instances: Vec<String>,
    },
    /// Make a Redshift cluster publicly accessible again.
    MakeRedshiftClusterPublic { cluster: String },
    /// Stop the logging trailguard started again on a trail.
    StopLogging { trail: String },
    /// Suspend a GuardDuty detector trailguard switched back on.
    DisableDetector { detector_id: String },
    /// Share an EBS snapshot again with the accounts (`all`: everyone) trailguard took off.
    ShareSnapshot {
        snapshot_id: String,
        accounts: Vec<String>,
        public: bool,
        /// When it was unshared (epoch seconds): a snapshot of that id made later is another.
        #[serde(default)]
        done_at: i64,
    },
    /// Share an AMI again with the accounts, organizations and OUs (and everyone) trailguard
    /// took off its launch permissions.
    ShareImage {
        image_id: String,
        accounts: Vec<String>,
        public: bool,
        organizations: Vec<String>,
    },
    /// Share an RDS snapshot (or cluster snapshot) again with the values of its `restore`
    /// attribute trailguard took off (account ids, `all`).
    ShareDbSnapshot {
        snapshot: String,
        cluster: bool,
        values: Vec<String>,
        /// When it was unshared (epoch seconds): a snapshot of that name made later is
        /// another, whatever it holds.
        #[serde(default)]
        done_at: i64,
    },
    /// Put the account's S3 public access block back as it was (`previous`; none: no
    /// block), when it is still as trailguard left it (`left`).
    RestoreAccountPublicAccessBlock {
        account_id: String,
        previous: Option<BlockFlags>,
        left: BlockFlags,
    },
    /// Put a bucket policy trailguard restricted back as it was (`previous`), when it is
    /// still the one trailguard left (`left`; None: it deleted the policy).
    RestoreBucketPolicy {
        bucket: String,
        previous: String,
        left: Option<String>,
    },
    /// Put a resource policy trailguard restricted back as it was (`previous`), when it is
    /// still the one trailguard left (`left`: the policy without the principals it took out;
    /// None: it deleted the policy, nothing being left).
    RestoreResourcePolicy {
        kind: PolicyKind,
        resource: String,
        previous: String,
        left: Option<String>,
    },
    /// Put a bucket's public access block back as it was (`previous`; none: no block), when
    /// it is still as trailguard left it (`left`).
    RestoreBucketPublicAccessBlock {
        bucket: String,
        previous: Option<BlockFlags>,
        left: BlockFlags,
    },
    /// Put back the tag `key=value` trailguard took off a resource of `kind` (an exemption
    /// given by someone who is not a tag admin), when the resource still lacks it.
    TagResource {
        kind: PolicyKind,
        resource: String,
        key: String,
        value: String,
    },
    /// Put a bucket's tag set back as it was (`previous`, `--tagging` JSON), when it is still
    /// the set trailguard left: the one before without `key`.
    RestoreBucketTagging {
        bucket: String,
        key: String,
        previous: String,
    },
    /// Put the account's password policy back as it was (`previous`; none: delete it), when
    /// it is still the one trailguard wrote (`left`: the one before with the baseline in it).
    RestorePasswordPolicy {
        previous: Option<PasswordPolicy>,
        left: PasswordPolicy,
    },
    /// Put back the tag `key=value` trailguard took off an RDS instance or cluster (by ARN),
    /// when it still lacks it.
    TagDbResource {
        resource_arn: String,
        key: String,
        value: String,
        /// When it was taken off (epoch seconds): a database of that name made later is
        /// another.
        #[serde(default)]
        done_at: i64,
    },
    /// Put back the tag `key=value` trailguard took off a Redshift cluster (by ARN), when it
    /// still lacks it.
    TagRedshiftCluster {
        resource_arn: String,
        key: String,
        value: String,
        /// When it was taken off (epoch seconds): a cluster of that name made later is another.
        #[serde(default)]
        done_at: i64,
    },
    /// Put back the tag `key=value` trailguard took off a role, when the role still lacks it.
    TagRole {
        role_name: String,
        key: String,
        value: String,
        /// When it was taken off (epoch seconds): a role of that name made later is another.
        #[serde(default)]
        done_at: i64,
    },
    /// Allow IMDSv1 again on an instance trailguard made require IMDSv2, when it still
    /// requires it (instance ids are never reused).
    AllowImdsv1 { instance_id: String },
    /// Put the `HttpTokens` of the account's instance metadata defaults in the region back to
    /// `previous` (`optional`, or empty: no preference), when it is still `required`.
    RestoreImdsDefault {
        account_id: String,
        previous: String,
    },
    /// Put the EBS snapshot block public access of the region back to `previous`
    /// (`unblocked`, `block-new-sharing`), when it is still the `left` trailguard set.
    RestoreSnapshotBlockPublicAccess {
        account_id: String,
        previous: String,
        left: String,
    },
    /// Unblock new public sharing of AMIs in the region again, when it is still blocked.
    DisableImageBlockPublicAccess { account_id: String },
    /// Put a bucket's ACL back as it was (`previous`, `--access-control-policy` JSON), when it
    /// is still the ACL trailguard left (the one before without the grants to `groups`) and
    /// the bucket is the one it was (not made after `done_at`).
    RestoreBucketAcl {
        bucket: String,
        groups: Vec<String>,
        previous: String,
        #[serde(default)]
        done_at: i64,
    },
    /// Tag EC2 resources again with the tag `key` trailguard took off, each with the value
    /// it had (`tags`: resource id, value), those that lack it.
    TagEc2Resources {
        key: String,
        tags: Vec<(String, String)>,
    },
    /// Add back to a managed prefix list the CIDRs trailguard took out (without the
    /// descriptions they had, which the call did not keep), those it lacks.
    AddPrefixListEntries {
        prefix_list_id: String,
        cidrs: Vec<String>,
    },
    /// Put an object's ACL back as it was (`previous`), when it is still the ACL trailguard
    /// left, and the object (or its version) is the one it was: not written after `done_at`.
    RestoreObjectAcl {
        bucket: String,
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version_id: Option<String>,
        groups: Vec<String>,
        previous: String,
        #[serde(default)]
        done_at: i64,
    },
}

impl Reversal {
    /// The AWS operations running it may call, the reads that check the resource first
    /// included: what the credentials running `trailguard undo` need.
    pub fn ops(&self) -> Vec<&'static Op> {
        match self {
            Reversal::AuthorizeSecurityGroup { egress, .. } => vec![
                &ops::DESCRIBE_SECURITY_GROUPS,
                &ops::DESCRIBE_SG_RULES,
                if *egress {
                    &ops::AUTHORIZE_SG_EGRESS
                } else {
                    &ops::AUTHORIZE_SG_INGRESS
                },
            ],
            Reversal::RevokeSecurityGroup { egress, .. } => vec![
                &ops::DESCRIBE_SECURITY_GROUPS,
                &ops::DESCRIBE_SG_RULES,
                if *egress {
                    &ops::REVOKE_SG_EGRESS
                } else {
                    &ops::REVOKE_SG_INGRESS
                },
            ],
            Reversal::ActivateAccessKey { .. } => vec![
                &ops::GET_ACCESS_KEY_LAST_USED,
                &ops::LIST_ACCESS_KEYS,
                &ops::UPDATE_ACCESS_KEY,
            ],
            Reversal::DeleteInlinePolicy { principal, .. } => match principal {
                PrincipalKind::User => vec![&ops::GET_USER_POLICY, &ops::DELETE_USER_POLICY],
                PrincipalKind::Role => vec![&ops::GET_ROLE_POLICY, &ops::DELETE_ROLE_POLICY],
            },
            Reversal::UntagUser { .. } => vec![&ops::LIST_USER_TAGS, &ops::UNTAG_USER],
            Reversal::CreateNetworkAclEntry { .. } => {
                vec![&ops::DESCRIBE_NETWORK_ACLS, &ops::CREATE_NACL_ENTRY]
            }
            Reversal::DisableEbsEncryptionByDefault { .. } => vec![
                &ops::GET_EBS_ENCRYPTION_BY_DEFAULT,
                &ops::DISABLE_EBS_ENCRYPTION_BY_DEFAULT,
            ],
            Reversal::DisableKeyRotation { .. } => vec![
                &ops::KMS_GET_KEY_ROTATION_STATUS,
                &ops::KMS_DISABLE_KEY_ROTATION,
            ],
            Reversal::MakeDbInstancePublic { .. }
            | Reversal::MakeDbClusterInstancesPublic { .. } => {
                vec![&ops::DESCRIBE_DB_INSTANCES, &ops::MODIFY_DB_INSTANCE]
            }
            Reversal::MakeRedshiftClusterPublic { .. } => vec![
                &ops::REDSHIFT_DESCRIBE_CLUSTERS,
                &ops::REDSHIFT_MODIFY_CLUSTER,
            ],
            Reversal::StopLogging { .. } => vec![&ops::GET_TRAIL_STATUS, &ops::STOP_LOGGING],
            Reversal::DisableDetector { .. } => vec![
                &ops::GUARDDUTY_GET_DETECTOR,
                &ops::GUARDDUTY_UPDATE_DETECTOR,
            ],
            // The restriction's own calls: the read, and the write that puts it back (never
            // its delete: a policy trailguard deleted is not put back).
            Reversal::RestoreResourcePolicy { kind, .. } => {
                let name = serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(|k| format!("restrict_{k}_policy")));
                crate::action::ALL_ACTIONS
                    .iter()
                    .find(|i| Some(i.type_name) == name.as_deref())
                    .map(|i| {
                        i.ops
                            .iter()
                            .copied()
                            .filter(|o| !o.api.starts_with("Delete"))
                            .collect()
                    })
                    .unwrap_or_default()
            }
            // The untag's read of the tags, and its inverse: the tag call.
            Reversal::TagResource { kind, .. } => {
                let name = serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(|k| format!("untag_{k}")));
                crate::action::ALL_ACTIONS
                    .iter()
                    .find(|i| Some(i.type_name) == name.as_deref())
                    .map(|i| {
                        let mut ops: Vec<&'static Op> =
                            i.ops.first().copied().into_iter().collect();
                        if let Inverse::Calls(calls) = i.inverse {
                            ops.extend(calls.iter().copied());
                        }
                        ops
                    })
                    .unwrap_or_default()
            }
            Reversal::TagRole { .. } => {
                vec![&ops::GET_ROLE, &ops::LIST_ROLE_TAGS, &ops::TAG_ROLE]
            }
            Reversal::AllowImdsv1 { .. } => vec![
                &ops::DESCRIBE_INSTANCES,
                &ops::MODIFY_INSTANCE_METADATA_OPTIONS,
            ],
            Reversal::RestoreImdsDefault { .. } => vec![
                &ops::GET_INSTANCE_METADATA_DEFAULTS,
                &ops::MODIFY_INSTANCE_METADATA_DEFAULTS,
            ],
            Reversal::RestoreSnapshotBlockPublicAccess { previous, .. } => vec![
                &ops::GET_SNAPSHOT_BPA,
                if snapshot_unblocked(previous) {
                    &ops::DISABLE_SNAPSHOT_BPA
                } else {
                    &ops::ENABLE_SNAPSHOT_BPA
                },
            ],
            Reversal::DisableImageBlockPublicAccess { .. } => {
                vec![&ops::GET_IMAGE_BPA, &ops::DISABLE_IMAGE_BPA]
            }
            // When the database was made first: one made since under the name is another.
            Reversal::TagDbResource { resource_arn, .. } => vec![
                if resource_arn.contains(":cluster:") {
                    &ops::DESCRIBE_DB_CLUSTERS
                } else {
                    &ops::DESCRIBE_DB_INSTANCES
                },
                &ops::RDS_LIST_TAGS,
                &ops::RDS_ADD_TAGS,
            ],
            Reversal::TagRedshiftCluster { .. } => vec![
                &ops::REDSHIFT_DESCRIBE_CLUSTERS,
                &ops::REDSHIFT_DESCRIBE_TAGS,
                &ops::REDSHIFT_CREATE_TAGS,
            ],
            Reversal::RestorePasswordPolicy { previous, .. } => vec![
                &ops::GET_ACCOUNT_PASSWORD_POLICY,
                if previous.is_some() {
                    &ops::UPDATE_ACCOUNT_PASSWORD_POLICY
                } else {
                    &ops::DELETE_ACCOUNT_PASSWORD_POLICY
                },
            ],
            Reversal::RestoreBucketTagging { .. } => {
                vec![&ops::GET_BUCKET_TAGGING, &ops::PUT_BUCKET_TAGGING]
            }
            Reversal::RestoreBucketAcl { .. } => {
                vec![
                    &ops::LIST_BUCKETS,
                    &ops::GET_BUCKET_ACL,
                    &ops::PUT_BUCKET_ACL,
                ]
            }
            Reversal::TagEc2Resources { .. } => vec![&ops::DESCRIBE_TAGS, &ops::CREATE_TAGS],
            Reversal::AddPrefixListEntries { .. } => vec![
                &ops::DESCRIBE_MANAGED_PREFIX_LISTS,
                &ops::GET_MANAGED_PREFIX_LIST_ENTRIES,
                &ops::MODIFY_MANAGED_PREFIX_LIST,
            ],
            // A version is never rewritten: only an object's latest is looked at for its time.
            Reversal::RestoreObjectAcl { version_id, .. } => match version_id {
                Some(_) => vec![&ops::GET_OBJECT_VERSION_ACL, &ops::PUT_OBJECT_VERSION_ACL],
                None => vec![
                    &ops::HEAD_OBJECT,
                    &ops::GET_OBJECT_ACL,
                    &ops::PUT_OBJECT_ACL,
                ],
            },
            Reversal::RestoreBucketPublicAccessBlock { previous, .. } => vec![
                &ops::GET_BUCKET_PAB,
                if previous.is_some() {
                    &ops::PUT_BUCKET_PAB
                } else {
                    &ops::DELETE_BUCKET_PAB
                },
            ],
            Reversal::ShareSnapshot { .. } => vec![
                &ops::DESCRIBE_SNAPSHOTS,
                &ops::DESCRIBE_SNAPSHOT_ATTRIBUTE,
                &ops::MODIFY_SNAPSHOT_ATTRIBUTE,
            ],
            Reversal::ShareImage { .. } => {
                vec![&ops::DESCRIBE_IMAGE_ATTRIBUTE, &ops::MODIFY_IMAGE_ATTRIBUTE]
            }
            Reversal::ShareDbSnapshot { cluster: false, .. } => vec![
                &ops::DESCRIBE_DB_SNAPSHOTS,
                &ops::DESCRIBE_DB_SNAPSHOT_ATTRIBUTES,
                &ops::MODIFY_DB_SNAPSHOT_ATTRIBUTE,
            ],
            Reversal::ShareDbSnapshot { cluster: true, .. } => vec![
                &ops::DESCRIBE_DB_CLUSTER_SNAPSHOTS,
                &ops::DESCRIBE_DB_CLUSTER_SNAPSHOT_ATTRIBUTES,
                &ops::MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE,
            ],
            Reversal::RestoreAccountPublicAccessBlock { previous, .. } => vec![
                &ops::GET_ACCOUNT_PAB,
                if previous.is_some() {
                    &ops::PUT_ACCOUNT_PAB
                } else {
                    &ops::DELETE_ACCOUNT_PAB
                },
            ],
            Reversal::RestoreBucketPolicy { .. } => {
                vec![&ops::GET_BUCKET_POLICY, &ops::PUT_BUCKET_POLICY]
            }
        }
    }

    /// One of each reversal, in each of the forms that change which calls it makes: with
    /// [`Reversal::ops`], what a role that runs `trailguard undo` for any remediation needs
    /// ([`every_op`]). A test holds it to the enum: every variant is here.
    pub fn forms() -> Vec<Reversal> {
        let s = String::new;
        let flags = BlockFlags::default;
        let mut forms = vec![];
        for egress in [false, true] {
            forms.push(Reversal::AuthorizeSecurityGroup {
                group_id: s(),
                egress,
                permissions: vec![],
            });
            forms.push(Reversal::RevokeSecurityGroup {
                group_id: s(),
                egress,
                permissions: vec![],
            });
        }
        for principal in [PrincipalKind::User, PrincipalKind::Role] {
            forms.push(Reversal::DeleteInlinePolicy {
                principal,
                name: s(),
                policy_name: s(),
                document: s(),
            });
        }
        for cluster in [false, true] {
            forms.push(Reversal::ShareDbSnapshot {
                snapshot: s(),
                cluster,
                values: vec![],
                done_at: 0,
            });
        }
        for resource_arn in ["arn:aws:rds:r:1:db:d", "arn:aws:rds:r:1:cluster:c"] {
            forms.push(Reversal::TagDbResource {
                resource_arn: resource_arn.into(),
                key: s(),
                value: s(),
                done_at: 0,
            });
        }
        for kind in PolicyKind::ALL {
            forms.push(Reversal::RestoreResourcePolicy {
                kind,
                resource: s(),
                previous: s(),
                left: None,
            });
            forms.push(Reversal::TagResource {
                kind,
                resource: s(),
                key: s(),
                value: s(),
            });
        }
        for previous in [None, Some(flags())] {
            forms.push(Reversal::RestoreAccountPublicAccessBlock {
                account_id: s(),
                previous,
                left: flags(),
            });
            forms.push(Reversal::RestoreBucketPublicAccessBlock {
                bucket: s(),
                previous,
                left: flags(),
            });
        }
        for previous in [None, Some(PasswordPolicy::default())] {
            forms.push(Reversal::RestorePasswordPolicy {
                previous,
                left: PasswordPolicy::default(),
            });
        }
        for previous in ["unblocked", "block-all-sharing"] {
            forms.push(Reversal::RestoreSnapshotBlockPublicAccess {
                account_id: s(),
                previous: previous.into(),
                left: s(),
            });
        }
        for version_id in [None, Some(s())] {
            forms.push(Reversal::RestoreObjectAcl {
                bucket: s(),
                key: s(),
                version_id,
                groups: vec![],
                previous: s(),
                done_at: 0,
            });
        }
        forms.extend([
            Reversal::ActivateAccessKey {
                user_name: None,
                access_key_id: s(),
            },
            Reversal::UntagUser {
                user_name: s(),
                key: s(),
                value: s(),
            },
            Reversal::CreateNetworkAclEntry {
                network_acl_id: s(),
                entry: AclEntry {
                    rule_number: 0,
                    egress: false,
                    allow: false,
                    protocol: s(),
                    from_port: None,
                    to_port: None,
                    cidr: None,
                },
            },
            Reversal::DisableEbsEncryptionByDefault { account_id: s() },
            Reversal::DisableKeyRotation { key_id: s() },
            Reversal::MakeDbInstancePublic { db_instance: s() },
            Reversal::MakeDbClusterInstancesPublic {
                db_cluster: s(),
                instances: vec![],
            },
            Reversal::MakeRedshiftClusterPublic { cluster: s() },
            Reversal::StopLogging { trail: s() },
            Reversal::DisableDetector { detector_id: s() },
            Reversal::ShareSnapshot {
                snapshot_id: s(),
                accounts: vec![],
                public: false,
                done_at: 0,
            },
            Reversal::ShareImage {
                image_id: s(),
                accounts: vec![],
                public: false,
                organizations: vec![],
            },
            Reversal::RestoreBucketPolicy {
                bucket: s(),
                previous: s(),
                left: None,
            },
            Reversal::RestoreBucketTagging {
                bucket: s(),
                key: s(),
                previous: s(),
            },
            Reversal::TagRedshiftCluster {
                resource_arn: s(),
                key: s(),
                value: s(),
                done_at: 0,
            },
            Reversal::TagRole {
                role_name: s(),
                key: s(),
                value: s(),
                done_at: 0,
            },
            Reversal::AllowImdsv1 { instance_id: s() },
            Reversal::RestoreImdsDefault {
                account_id: s(),
                previous: s(),
            },
            Reversal::DisableImageBlockPublicAccess { account_id: s() },
            Reversal::RestoreBucketAcl {
                bucket: s(),
                groups: vec![],
                previous: s(),
                done_at: 0,
            },
            Reversal::TagEc2Resources {
                key: s(),
                tags: vec![],
            },
            Reversal::AddPrefixListEntries {
                prefix_list_id: s(),
                cidrs: vec![],
            },
        ]);
        forms
    }

    /// One line for humans: what running it does.
    pub fn describe(&self) -> String {
        let dir = |egress: &bool| if *egress { "egress" } else { "ingress" };
        let perms = |p: &[Permission]| {
            p.iter()
                .map(Permission::describe)
                .collect::<Vec<_>>()
                .join("; ")
        };
        match self {
            Reversal::AuthorizeSecurityGroup {
                group_id,
                egress,
                permissions,
            } => format!(
                "authorize {} {} on security group {group_id}",
                dir(egress),
                perms(permissions)
            ),
            Reversal::RevokeSecurityGroup {
                group_id,
                egress,
                permissions,
            } => format!(
                "revoke {} {} of security group {group_id}",
                dir(egress),
                perms(permissions)
            ),
            Reversal::ActivateAccessKey {
                user_name,
                access_key_id,
            } => format!(
                "set access key {access_key_id} of user {} Active",
                user_name.as_deref().unwrap_or("(its owner)")
            ),
            Reversal::DeleteInlinePolicy {
                principal,
                name,
                policy_name,
                ..
            } => format!(
                "delete inline policy {policy_name} of {} {name}",
                match principal {
                    PrincipalKind::User => "user",
                    PrincipalKind::Role => "role",
                }
            ),
            Reversal::UntagUser { user_name, key, .. } => {
                format!("take tag {key} off user {user_name}")
            }
            Reversal::CreateNetworkAclEntry {
                network_acl_id,
                entry,
            } => format!(
                "create {} entry {} of network ACL {network_acl_id} again",
                dir(&entry.egress),
                entry.rule_number
            ),
            Reversal::DisableEbsEncryptionByDefault { account_id } => {
                format!("switch EBS encryption by default off again in account {account_id}")
            }
            Reversal::DisableKeyRotation { key_id } => {
                format!("switch automatic rotation of KMS key {key_id} off again")
            }
            Reversal::MakeDbInstancePublic { db_instance } => {
                format!("make DB instance {db_instance} publicly accessible again")
            }
            Reversal::MakeDbClusterInstancesPublic {
                db_cluster,
                instances,
            } => format!(
                "make DB instance(s) {} of cluster {db_cluster} publicly accessible again",
                instances.join(", ")
            ),
            Reversal::MakeRedshiftClusterPublic { cluster } => {
                format!("make Redshift cluster {cluster} publicly accessible again")
            }
            Reversal::StopLogging { trail } => format!("stop the logging of trail {trail} again"),
            Reversal::DisableDetector { detector_id } => {
                format!("suspend GuardDuty detector {detector_id} again")
            }
            Reversal::ShareSnapshot {
                snapshot_id,
                accounts,
                public,
                ..
            } => format!(
                "share snapshot {snapshot_id} again with {}",
                shared_with(accounts, *public)
            ),
            Reversal::ShareImage {
                image_id,
                accounts,
                public,
                organizations,
            } => {
                let mut who = accounts.clone();
                who.extend(organizations.iter().cloned());
                format!(
                    "share image {image_id} again with {}",
                    shared_with(&who, *public)
                )
            }
            Reversal::ShareDbSnapshot {
                snapshot, values, ..
            } => format!(
                "share DB snapshot {snapshot} again with {}",
                values.join(", ")
            ),
            Reversal::RestoreAccountPublicAccessBlock {
                account_id,
                previous,
                ..
            } => match previous {
                Some(p) => format!(
                    "put the S3 public access block of account {account_id} back to {}",
                    p.switches_on()
                ),
                None => format!(
                    "delete the S3 public access block of account {account_id} (it had none)"
                ),
            },
            Reversal::RestoreBucketPolicy { bucket, .. } => {
                format!("put the policy of bucket {bucket} back as it was")
            }
            Reversal::RestoreResourcePolicy { kind, resource, .. } => format!(
                "put the policy of {} {resource} back as it was",
                kind.noun()
            ),
            Reversal::RestoreBucketPublicAccessBlock {
                bucket, previous, ..
            } => match previous {
                Some(p) => format!(
                    "put the public access block of bucket {bucket} back to {}",
                    p.switches_on()
                ),
                None => format!("delete the public access block of bucket {bucket} (it had none)"),
            },
            Reversal::TagResource {
                kind,
                resource,
                key,
                value,
            } => format!("tag {} {resource} {key}={value} again", kind.noun()),
            Reversal::TagRole {
                role_name,
                key,
                value,
                ..
            } => format!("tag role {role_name} {key}={value} again"),
            Reversal::RestorePasswordPolicy { previous, .. } => match previous {
                Some(p) => format!("put the account password policy back to{}", p.cli_args()),
                None => "delete the account password policy (it had none)".into(),
            },
            Reversal::TagDbResource {
                resource_arn,
                key,
                value,
                ..
            }
            | Reversal::TagRedshiftCluster {
                resource_arn,
                key,
                value,
                ..
            } => format!("tag {resource_arn} {key}={value} again"),
            Reversal::AllowImdsv1 { instance_id } => {
                format!("allow IMDSv1 on instance {instance_id} again (--http-tokens optional)")
            }
            Reversal::RestoreImdsDefault {
                account_id,
                previous,
            } => format!(
                "put the instance metadata default of account {account_id} back to {}",
                imds_default_text(previous)
            ),
            Reversal::RestoreSnapshotBlockPublicAccess {
                account_id,
                previous,
                ..
            } => format!(
                "put the EBS snapshot block public access of account {account_id} back to {}",
                if snapshot_unblocked(previous) {
                    "unblocked"
                } else {
                    previous
                }
            ),
            Reversal::DisableImageBlockPublicAccess { account_id } => {
                format!("unblock new public sharing of AMIs again for account {account_id}")
            }
            Reversal::RestoreBucketAcl { bucket, groups, .. } => format!(
                "put the ACL of bucket {bucket} back as it was, the grants to {} with it",
                groups.join(", ")
            ),
            Reversal::TagEc2Resources { key, tags } => format!(
                "tag {} again",
                tags.iter()
                    .map(|(id, v)| format!("{id} {key}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Reversal::AddPrefixListEntries {
                prefix_list_id,
                cidrs,
            } => format!(
                "add {} to prefix list {prefix_list_id} again",
                cidrs.join(", ")
            ),
            Reversal::RestoreObjectAcl {
                bucket,
                key,
                version_id,
                groups,
                ..
            } => format!(
                "put the ACL of s3://{bucket}/{key}{} back as it was, the grants to {} with it",
                version_id
                    .as_deref()
                    .map(|v| format!(" (version {v})"))
                    .unwrap_or_default(),
                groups.join(", ")
            ),
            Reversal::RestoreBucketTagging { bucket, key, .. } => {
                format!("put the tags of bucket {bucket} back as they were, {key} with them")
            }
        }
    }
}

impl Action {
    /// The typed call that undoes this action once done at `now` (what it wrote depends on
    /// the time: the deny policy's cutoff, the tag's value), or why `trailguard undo` cannot
    /// undo it exactly (the report's `undo` says what a person can do instead).
    pub fn reversal(&self, now: i64) -> Result<Reversal, String> {
        let missing = |what: &str| Err(format!("the report does not say {what}"));
        match self {
            Action::RevokeSecurityGroupRules(a) => {
                if a.permissions.is_empty() {
                    return missing(
                        "the revoked rules' permissions (the event named only rule ids)",
                    );
                }
                Ok(Reversal::AuthorizeSecurityGroup {
                    group_id: a.group_id.clone(),
                    egress: a.egress,
                    permissions: a.permissions.clone(),
                })
            }
            Action::RevokeSecurityGroupPermissions(a) => {
                // A name alone means the default VPC's group to EC2's calls, but a lookup by
                // name may find groups of that name in every VPC: only the id is exact.
                let Some(group_id) = &a.group_id else {
                    return missing("the group's id (the event named it by name only)");
                };
                Ok(Reversal::AuthorizeSecurityGroup {
                    group_id: group_id.clone(),
                    egress: a.egress,
                    permissions: a.permissions.clone(),
                })
            }
            Action::AuthorizeSecurityGroupPermissions(a) => Ok(Reversal::RevokeSecurityGroup {
                group_id: a.group_id.clone(),
                egress: a.egress,
                permissions: a.permissions.clone(),
            }),
            Action::DeactivateAccessKey(a) => Ok(Reversal::ActivateAccessKey {
                user_name: a.user_name.clone(),
                access_key_id: a.access_key_id.clone(),
            }),
            Action::RevokeSessions(a) => match &a.name {
                Some(name) => Ok(Reversal::DeleteInlinePolicy {
                    principal: a.principal,
                    name: name.clone(),
                    policy_name: a.policy_name.clone(),
                    document: crate::action::RevokeSessions::document(now),
                }),
                None => missing("which principal"),
            },
            Action::TagUser(a) => match &a.user_name {
                Some(user) => Ok(Reversal::UntagUser {
                    user_name: user.clone(),
                    key: a.key.clone(),
                    value: a.value(now),
                }),
                None => missing("which user"),
            },
            Action::DeleteNetworkAclEntry(a) => match &a.entry {
                // ICMP entries also carry a type and code, which the entry does not keep.
                Some(e) if matches!(e.protocol.as_str(), "1" | "58" | "icmp" | "icmpv6") => {
                    missing("the deleted ICMP entry's type and code")
                }
                Some(e) if e.cidr.is_none() => missing("the deleted entry's CIDR block"),
                Some(e) => Ok(Reversal::CreateNetworkAclEntry {
                    network_acl_id: a.network_acl_id.clone(),
                    entry: e.clone(),
                }),
                None => missing("the deleted entry's fields (the ACL was not read first)"),
            },
            Action::EnableEbsEncryptionByDefault(a) => {
                Ok(Reversal::DisableEbsEncryptionByDefault {
                    account_id: a.account_id.clone(),
                })
            }
            Action::EnableKeyRotation(a) => Ok(Reversal::DisableKeyRotation {
                key_id: a.key_id.clone(),
            }),
            Action::MakeDbClusterPrivate(a) if a.instances.is_empty() => {
                missing("which members were made private")
            }
            Action::MakeDbClusterPrivate(a) => Ok(Reversal::MakeDbClusterInstancesPublic {
                db_cluster: a.db_cluster.clone(),
                instances: a.instances.clone(),
            }),
            Action::MakeRedshiftClusterPrivate(a) => Ok(Reversal::MakeRedshiftClusterPublic {
                cluster: a.cluster.clone(),
            }),
            Action::StartLogging(a) => Ok(Reversal::StopLogging {
                trail: a.trail.clone(),
            }),
            Action::EnableDetector(a) => Ok(Reversal::DisableDetector {
                detector_id: a.detector_id.clone(),
            }),
            Action::UnshareSnapshot(a) if a.accounts.is_empty() && !a.public => {
                missing("whom the snapshot was shared with")
            }
            Action::UnshareSnapshot(a) => Ok(Reversal::ShareSnapshot {
                snapshot_id: a.snapshot_id.clone(),
                accounts: a.accounts.clone(),
                public: a.public,
                done_at: now,
            }),
            Action::UnshareImage(a)
                if a.accounts.is_empty() && a.organizations.is_empty() && !a.public =>
            {
                missing("whom the image was shared with")
            }
            Action::UnshareImage(a) => Ok(Reversal::ShareImage {
                image_id: a.image_id.clone(),
                accounts: a.accounts.clone(),
                public: a.public,
                organizations: a.organizations.clone(),
            }),
            Action::UnshareDbSnapshot(a) if a.values.is_empty() => {
                missing("whom the snapshot was shared with")
            }
            Action::UnshareDbSnapshot(a) => Ok(Reversal::ShareDbSnapshot {
                snapshot: a.snapshot.clone(),
                cluster: a.cluster,
                values: a.values.clone(),
                done_at: now,
            }),
            Action::PutAccountPublicAccessBlock(a) => {
                let (previous, left) = block_before(a.previous.as_deref(), &a.flags)?;
                Ok(Reversal::RestoreAccountPublicAccessBlock {
                    account_id: a.account_id.clone(),
                    previous,
                    left,
                })
            }
            Action::RestrictBucketPolicy(a) => {
                let previous = a
                    .previous
                    .as_deref()
                    .ok_or("the report does not say the policy before the call")?;
                Ok(Reversal::RestoreBucketPolicy {
                    bucket: a.bucket.clone(),
                    previous: previous.to_string(),
                    left: without(previous, &a.principals, &a.untrusted_values)?
                        .map(|l| l.to_string()),
                })
            }
            Action::RestrictQueuePolicy(a) => restored(a.restriction()),
            Action::RestrictTopicPolicy(a) => restored(a.restriction()),
            Action::RestrictSecretPolicy(a) => restored(a.restriction()),
            Action::RestrictKeyPolicy(a) => restored(a.restriction()),
            Action::RestrictRepositoryPolicy(a) => restored(a.restriction()),
            Action::RestrictDomainPolicy(a) => restored(a.restriction()),
            Action::RestrictVaultPolicy(a) => restored(a.restriction()),
            Action::RestrictFileSystemPolicy(a) => restored(a.restriction()),
            Action::UntagRole(a) => match &a.previous {
                Some(value) => Ok(Reversal::TagRole {
                    role_name: a.role_name.clone(),
                    key: a.key.clone(),
                    value: value.clone(),
                    done_at: now,
                }),
                None => missing("the tag's value before the call"),
            },
            Action::UntagBucket(a) => {
                let previous = a
                    .previous
                    .as_deref()
                    .ok_or("the report does not say the bucket's tags before the call")?;
                if !tag_set(previous)?.iter().any(|(k, _)| *k == a.key) {
                    return Err(format!("the tags before the call do not hold {}", a.key));
                }
                Ok(Reversal::RestoreBucketTagging {
                    bucket: a.bucket.clone(),
                    key: a.key.clone(),
                    previous: previous.to_string(),
                })
            }
            Action::RemoveBucketAclGrants(a) => {
                let previous = a
                    .previous
                    .as_deref()
                    .ok_or("the report does not say the bucket's ACL before the call")?;
                let before = acl(previous)?;
                if before.without(&a.groups) == before.sorted() {
                    return Err(format!(
                        "the ACL before the call holds no grant to {}",
                        a.groups.join(", ")
                    ));
                }
                Ok(Reversal::RestoreBucketAcl {
                    bucket: a.bucket.clone(),
                    groups: a.groups.clone(),
                    previous: previous.to_string(),
                    done_at: now,
                })
            }
            // Every resource the call took the tag off, each with the value it read.
            Action::RemoveTag(a)
                if a.resource_ids.is_empty()
                    || a.resource_ids
                        .iter()
                        .any(|id| !a.previous.iter().any(|(r, _)| r == id)) =>
            {
                missing("the tag's value on each resource before the call")
            }
            Action::RemoveTag(a) => Ok(Reversal::TagEc2Resources {
                key: a.key.clone(),
                tags: a.previous.clone(),
            }),
            Action::RemovePrefixListEntries(a) if a.cidrs.is_empty() => {
                missing("which entries were taken out")
            }
            Action::RemovePrefixListEntries(a) => Ok(Reversal::AddPrefixListEntries {
                prefix_list_id: a.prefix_list_id.clone(),
                cidrs: a.cidrs.clone(),
            }),
            Action::RemoveObjectAclGrants(a) => {
                let previous = a
                    .previous
                    .as_deref()
                    .ok_or("the report does not say the object's ACL before the call")?;
                let before = acl(previous)?;
                if before.without(&a.groups) == before.sorted() {
                    return Err(format!(
                        "the ACL before the call holds no grant to {}",
                        a.groups.join(", ")
                    ));
                }
                Ok(Reversal::RestoreObjectAcl {
                    bucket: a.bucket.clone(),
                    key: a.key.clone(),
                    version_id: a.version_id.clone(),
                    groups: a.groups.clone(),
                    previous: previous.to_string(),
                    done_at: now,
                })
            }
            Action::PutPasswordPolicy(a) => {
                let previous = a
                    .previous
                    .as_deref()
                    .ok_or("the report does not say the password policy before the call")?
                    .trim();
                let previous = if previous.is_empty() {
                    None
                } else {
                    Some(PasswordPolicy::from_cli_args(previous).map_err(|e| {
                        format!("the password policy before the call does not read: {e}")
                    })?)
                };
                Ok(Reversal::RestorePasswordPolicy {
                    left: previous.clone().unwrap_or_default().merged(&a.baseline),
                    previous,
                })
            }
            Action::UntagDbResource(a) => match &a.previous {
                Some(value) => Ok(Reversal::TagDbResource {
                    resource_arn: a.resource_arn.clone(),
                    key: a.key.clone(),
                    value: value.clone(),
                    done_at: now,
                }),
                None => missing("the tag's value before the call"),
            },
            Action::UntagRedshiftCluster(a) => match &a.previous {
                Some(value) => Ok(Reversal::TagRedshiftCluster {
                    resource_arn: a.resource_arn.clone(),
                    key: a.key.clone(),
                    value: value.clone(),
                    done_at: now,
                }),
                None => missing("the tag's value before the call"),
            },
            Action::UntagQueue(a) => tagged_again(a.untagging()),
            Action::UntagTopic(a) => tagged_again(a.untagging()),
            Action::UntagSecret(a) => tagged_again(a.untagging()),
            Action::UntagKey(a) => tagged_again(a.untagging()),
            Action::UntagRepository(a) => tagged_again(a.untagging()),
            Action::UntagDomain(a) => tagged_again(a.untagging()),
            Action::UntagVault(a) => tagged_again(a.untagging()),
            Action::UntagFileSystem(a) => tagged_again(a.untagging()),
            Action::RequireImdsv2(a) => Ok(Reversal::AllowImdsv1 {
                instance_id: a.instance_id.clone(),
            }),
            Action::RequireImdsv2Default(a) => match a.previous.as_deref() {
                // What the read before said: only a weaker default is put back.
                Some(p @ ("" | "optional")) => Ok(Reversal::RestoreImdsDefault {
                    account_id: a.account_id.clone(),
                    previous: p.to_string(),
                }),
                Some(other) => Err(format!(
                    "the report's default before ({other}) is not one trailguard replaces"
                )),
                None => missing("the default's HttpTokens before the call"),
            },
            Action::EnableSnapshotBlockPublicAccess(a) => {
                use crate::guards::ec2_guardrails::snapshot_strictness;
                let Some(previous) = a.previous.as_deref() else {
                    return missing("the snapshot block's state before the call");
                };
                // As EC2 writes it, so that the check and the call compare and send one form.
                let previous = previous.trim().to_ascii_lowercase();
                let previous = previous.as_str();
                // Only a state looser than the one set is put back: what the call replaced.
                let before = snapshot_strictness(previous).or(previous.is_empty().then_some(0));
                match (before, snapshot_strictness(&a.state)) {
                    (Some(b), Some(set)) if b < set => {
                        Ok(Reversal::RestoreSnapshotBlockPublicAccess {
                            account_id: a.account_id.clone(),
                            previous: previous.to_string(),
                            left: a.state.trim().to_ascii_lowercase(),
                        })
                    }
                    _ => Err(format!(
                        "the report's states ({previous:?} before, {:?} set) are not a block \
                         trailguard tightened",
                        a.state
                    )),
                }
            }
            Action::EnableImageBlockPublicAccess(a) => {
                Ok(Reversal::DisableImageBlockPublicAccess {
                    account_id: a.account_id.clone(),
                })
            }
            Action::MakeDbInstancePrivate(a) => Ok(Reversal::MakeDbInstancePublic {
                db_instance: a.db_instance.clone(),
            }),
            Action::PutBucketPublicAccessBlock(a) => {
                let (previous, left) = block_before(a.previous.as_deref(), &a.flags)?;
                Ok(Reversal::RestoreBucketPublicAccessBlock {
                    bucket: a.bucket.clone(),
                    previous,
                    left,
                })
            }
            other => match other.info().inverse {
                Inverse::ReadOnly => Err("it changed nothing".into()),
                Inverse::None(why) => Err(why.into()),
                Inverse::Calls(_) => Err(format!(
                    "`trailguard undo` does not undo {} yet: the report's `undo` has the exact \
                     command",
                    other.type_name()
                )),
            },
        }
    }
}

/// The IAM actions `trailguard undo` may call in the account it undoes in, for any
/// remediation: what member.yaml's undo role grants (`trailguard iam-actions --undo`).
pub fn every_op() -> std::collections::BTreeSet<&'static str> {
    Reversal::forms()
        .iter()
        .flat_map(|r| r.ops())
        .map(|o| o.iam)
        .collect()
}

/// Whether a snapshot block state read before is "no block" (EC2 writes `unblocked`; an
/// account that never set it may answer nothing).
pub fn snapshot_unblocked(state: &str) -> bool {
    state.is_empty() || state.eq_ignore_ascii_case("unblocked")
}

/// An instance metadata default's `HttpTokens` as people read it (empty: no preference).
fn imds_default_text(tokens: &str) -> &str {
    if tokens.is_empty() {
        "no preference"
    } else {
        tokens
    }
}

/// `123456789012, everyone`: whom a share names.
fn shared_with(accounts: &[String], public: bool) -> String {
    let mut who = accounts.to_vec();
    if public {
        who.push("everyone".into());
    }
    who.join(", ")
}

/// A block's undo: the block before the call (None: there was none) and the block trailguard
/// left (the one before with the switches it turned on).
fn block_before(
    previous: Option<&str>,
    flags: &[String],
) -> Result<(Option<BlockFlags>, BlockFlags), String> {
    let previous = previous.ok_or("the report does not say the block before the call")?;
    let previous: Option<BlockFlags> = if previous.is_empty() {
        None
    } else {
        Some(
            serde_json::from_str(previous)
                .map_err(|e| format!("the block before the call is not a block's JSON: {e}"))?,
        )
    };
    Ok((
        previous,
        previous.unwrap_or_default().or(BlockFlags::of(flags)),
    ))
}

/// The policy `previous` without `principals`, judged as the function judged it when it
/// restricted it (None: no statement left, so it deleted the policy).
fn without(
    previous: &str,
    principals: &[String],
    untrusted: &[String],
) -> Result<Option<Value>, String> {
    let doc = crate::trust::document(&Value::String(previous.to_string()))
        .ok_or("the policy before the call is not a JSON document")?;
    let inside = crate::grants::judge(principals, untrusted);
    Ok(crate::grants::without_principals(&doc, principals, &inside))
}

/// The undo of a resource policy restricted: the policy as it was, and the one trailguard
/// wrote, computed as the function computed it (`policies::restrict` in shared/aws: the same
/// judge, the same statements dropped, AWS's default for a topic left with none).
fn restored(r: Restriction<'_>) -> Result<Reversal, String> {
    let previous = r
        .previous
        .ok_or("the report does not say the policy before the call")?;
    let left = match without(previous, r.principals, r.untrusted_values)? {
        Some(left) => Some(left.to_string()),
        None if r.kind.deletable() => None,
        None if r.kind == PolicyKind::Topic => Some(
            crate::resources::default_topic_policy(r.resource)
                .ok_or("the topic is not named by its ARN")?
                .to_string(),
        ),
        None => return Err("no statement would be left, and trailguard writes none then".into()),
    };
    Ok(Reversal::RestoreResourcePolicy {
        kind: r.kind,
        resource: r.resource.to_string(),
        previous: previous.to_string(),
        left,
    })
}

/// A bucket's tag set as `put-bucket-tagging --tagging` takes it (`{"TagSet": [{"Key": …,
/// "Value": …}]}`), as (key, value) pairs.
pub fn tag_set(tagging: &str) -> Result<Vec<(String, String)>, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        key: String,
        value: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Tagging {
        tag_set: Vec<Tag>,
    }
    let t: Tagging = serde_json::from_str(tagging)
        .map_err(|e| format!("the bucket's tags before the call are not a tag set: {e}"))?;
    Ok(t.tag_set.into_iter().map(|t| (t.key, t.value)).collect())
}

/// One grant of an S3 ACL, its grantee by what names it (the display name S3 fills in
/// itself is not compared).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AclGrant {
    /// `CanonicalUser`, `Group` or `AmazonCustomerByEmail`.
    pub grantee_type: String,
    pub id: Option<String>,
    pub uri: Option<String>,
    pub email: Option<String>,
    pub permission: String,
}

/// An S3 ACL as `--access-control-policy` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub grants: Vec<AclGrant>,
}

impl Acl {
    /// Its grants in one order, to compare ACLs.
    pub fn sorted(&self) -> Vec<AclGrant> {
        let mut g = self.grants.clone();
        g.sort();
        g
    }

    /// Its grants without those to these public groups (`AllUsers`, ...): what taking them
    /// out leaves, in one order.
    pub fn without(&self, groups: &[String]) -> Vec<AclGrant> {
        let public = |g: &AclGrant| {
            g.uri
                .as_deref()
                .and_then(crate::state::public_group)
                .is_some_and(|p| groups.iter().any(|x| x == p))
        };
        self.sorted().into_iter().filter(|g| !public(g)).collect()
    }
}

/// An ACL as `put-bucket-acl --access-control-policy` takes it (`{"Owner": {"ID": …},
/// "Grants": [{"Grantee": {"Type": …, "ID" | "URI" | "EmailAddress": …}, "Permission": …}]}`).
pub fn acl(policy: &str) -> Result<Acl, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Grantee {
        r#type: String,
        #[serde(rename = "ID")]
        id: Option<String>,
        #[serde(rename = "URI")]
        uri: Option<String>,
        email_address: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Grant {
        grantee: Grantee,
        permission: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Owner {
        #[serde(rename = "ID")]
        id: Option<String>,
        display_name: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Policy {
        owner: Option<Owner>,
        grants: Vec<Grant>,
    }
    let p: Policy = serde_json::from_str(policy)
        .map_err(|e| format!("the ACL before the call is not an access control policy: {e}"))?;
    Ok(Acl {
        owner_id: p.owner.as_ref().and_then(|o| o.id.clone()),
        owner_name: p.owner.and_then(|o| o.display_name),
        grants: p
            .grants
            .into_iter()
            .map(|g| AclGrant {
                grantee_type: g.grantee.r#type,
                id: g.grantee.id,
                uri: g.grantee.uri,
                email: g.grantee.email_address,
                permission: g.permission,
            })
            .collect(),
    })
}

/// An exemption tag's undo: the tag as the call read it before taking it off.
fn tagged_again(u: crate::resources::Untagging<'_>) -> Result<Reversal, String> {
    let value = u
        .value
        .ok_or("the report does not say the tag's value before the call")?;
    Ok(Reversal::TagResource {
        kind: u.kind,
        resource: u.resource.to_string(),
        key: u.key.to_string(),
        value: value.to_string(),
    })
}

/// A report `trailguard undo` cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("not a trailguard report: {0}")]
    NotAReport(&'static str),
    #[error("{field}: {why}")]
    Field { field: String, why: String },
}

/// The remediation a report describes, as `trailguard undo` needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoPlan {
    pub event_id: Option<String>,
    pub function: Option<String>,
    /// Where the actions were done: the undo runs there, with credentials of that account.
    pub account: Option<String>,
    pub region: Option<String>,
    /// The actions done, last first.
    pub steps: Vec<UndoStep>,
    /// How many of the report's actions changed nothing (already done, dry-run, failed,
    /// read-only): nothing of theirs to undo.
    pub unchanged: usize,
}

/// One action done, and how it is undone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoStep {
    /// Its place in the report's `actions`.
    pub index: usize,
    #[serde(rename = "type")]
    pub type_name: String,
    pub target: Option<String>,
    /// Its claim in the ledger (the report's `ledger_key`), marked undone once it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_key: Option<String>,
    #[serde(flatten)]
    pub how: How,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    Reversal(Reversal),
    /// Why this action cannot be undone exactly.
    Refused(String),
}

/// The report in a file as a user has it: the function's response or log line (the report
/// itself), the "Remediation Performed" event (its `detail`), or `{"report": ...}`.
fn report_of(v: &Value) -> Option<&Value> {
    let looks = |r: &Value| r.get("actions").is_some_and(Value::is_array);
    [Some(v), v.get("detail"), v.get("report")]
        .into_iter()
        .flatten()
        .find(|r| looks(r))
}

/// What undoing the remediation a report describes takes: its actions done, last first.
pub fn plan(v: &Value) -> Result<UndoPlan, ReportError> {
    let report = report_of(v).ok_or(ReportError::NotAReport(
        "no `actions` array (a function's report, its log line, or its Remediation Performed event)",
    ))?;
    let text = |k: &str| report.get(k).and_then(Value::as_str).map(String::from);
    let event = report.get("event");
    let in_event = |k: &str| event.and_then(|e| e.get(k)).and_then(Value::as_str);
    let connection = report.get("connection");
    let connected = |k: &str| connection.and_then(|c| c.get(k)).and_then(Value::as_str);
    // `Mode` writes "dry-run"; reports written by hand may say "dry_run".
    if matches!(text("mode").as_deref(), Some("dry-run" | "dry_run")) {
        return Err(ReportError::NotAReport(
            "the report is of a dry run: nothing was done",
        ));
    }
    let actions = report["actions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut steps = vec![];
    let mut unchanged = 0;
    for (index, a) in actions.iter().enumerate().rev() {
        if a.get("outcome").and_then(Value::as_str) != Some("done") {
            unchanged += 1;
            continue;
        }
        let type_name = a
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let read_only = crate::action::ALL_ACTIONS
            .iter()
            .any(|i| i.type_name == type_name && i.inverse == Inverse::ReadOnly);
        if read_only {
            unchanged += 1;
            continue;
        }
        let how = match a.get("reversal") {
            Some(r) => {
                let mut track = serde_path_to_error::Track::new();
                match Reversal::deserialize(serde_path_to_error::Deserializer::new(r, &mut track)) {
                    Ok(r) => How::Reversal(r),
                    Err(e) => {
                        return Err(ReportError::Field {
                            field: format!("actions[{index}].reversal.{}", track.path()),
                            why: e.to_string(),
                        })
                    }
                }
            }
            None => How::Refused(
                a.get("undo")
                    .and_then(|u| u.get("none"))
                    .and_then(Value::as_str)
                    .map(String::from)
                    .unwrap_or_else(|| {
                        "the report records no exact reversal for it (written before \
                         trailguard recorded them, or an action with nothing to undo)"
                            .into()
                    }),
            ),
        };
        steps.push(UndoStep {
            index,
            type_name,
            target: a.get("target").and_then(Value::as_str).map(String::from),
            ledger_key: a
                .get("ledger_key")
                .and_then(Value::as_str)
                .filter(|k| k.starts_with("claim#"))
                .map(String::from),
            how,
        });
    }
    // A public access block is put back before the ACLs and policies of the same remediation
    // (a sweep blocks, then takes the grants out): S3 refuses a public ACL or policy while
    // the block it had put on is still there.
    steps.sort_by_key(|s| !unblocks(&s.how));
    Ok(UndoPlan {
        event_id: text("event_id"),
        function: text("function"),
        account: connected("account")
            .or(in_event("account"))
            .map(String::from),
        region: connected("region").or(in_event("region")).map(String::from),
        steps,
        unchanged,
    })
}

/// Whether a step puts a public access block back as it was (loosens it).
fn unblocks(how: &How) -> bool {
    matches!(
        how,
        How::Reversal(
            Reversal::RestoreBucketPublicAccessBlock { .. }
                | Reversal::RestoreAccountPublicAccessBlock { .. }
        )
    )
}

/// What the ledger keeps of a function's report for `trailguard undo --event-id`: where it
/// was done and each action's type, target, outcome, reversal and claim (what `plan` reads),
/// none of the notice. None when the report changed nothing (a dry run, nothing done).
pub fn kept(report: &Value) -> Option<Value> {
    let actions = report.get("actions")?.as_array()?;
    let done = |a: &Value| a.get("outcome").and_then(Value::as_str) == Some("done");
    if matches!(
        report.get("mode").and_then(Value::as_str),
        Some("dry-run" | "dry_run")
    ) || !actions.iter().any(done)
    {
        return None;
    }
    let pick = |v: &Value, keys: &[&str]| {
        Value::Object(
            keys.iter()
                .filter_map(|k| Some((k.to_string(), v.get(*k).filter(|x| !x.is_null())?.clone())))
                .collect(),
        )
    };
    let mut out = pick(report, &["event_id", "function", "mode"]);
    // The event as well as its id: every delivery of one event says the same, and a report
    // of another event under the same id (a direct invocation may carry any id) does not.
    let event = [
        "account",
        "region",
        "source",
        "detail_type",
        "name",
        "time",
        "actor",
    ];
    if let Some(v) = report.get("event").filter(|v| v.is_object()) {
        out["event"] = pick(v, &event);
    }
    if let Some(v) = report.get("connection").filter(|v| v.is_object()) {
        out["connection"] = pick(v, &["account", "region"]);
    }
    out["actions"] = actions
        .iter()
        .map(|a| {
            pick(
                a,
                &[
                    "type",
                    "target",
                    "outcome",
                    "reversal",
                    "ledger_key",
                    "undo",
                    "targets",
                    "console",
                ],
            )
        })
        .collect();
    Some(out)
}

/// The reports one function kept of one event (each delivery that changed something), as
/// one report: their actions in the order they were kept. They must be of that event (its id
/// and the same event summary), of one function, and done in one account and region.
pub fn merge(event_id: &str, reports: &[String]) -> Result<Value, ReportError> {
    let mut actions = vec![];
    let mut first: Option<Value> = None;
    for (i, text) in reports.iter().enumerate() {
        let field = |why: String| ReportError::Field {
            field: format!("reports[{i}]"),
            why,
        };
        let r: Value = serde_json::from_str(text).map_err(|e| field(e.to_string()))?;
        if r.get("event_id").and_then(Value::as_str) != Some(event_id) {
            return Err(field(format!("not a report of event {event_id}")));
        }
        let p = plan(&r).map_err(|e| field(e.to_string()))?;
        if let Some(f) = &first {
            for part in ["function", "event"] {
                if r.get(part) != f.get(part) {
                    return Err(field(format!(
                        "its {part} is not the first report's: {} against {}",
                        r.get(part).unwrap_or(&Value::Null),
                        f.get(part).unwrap_or(&Value::Null)
                    )));
                }
            }
            let q = plan(f).map_err(|e| field(e.to_string()))?;
            if (&q.account, &q.region) != (&p.account, &p.region) {
                return Err(field(format!(
                    "done in {} {}, the first report in {} {}",
                    p.account.as_deref().unwrap_or("?"),
                    p.region.as_deref().unwrap_or("?"),
                    q.account.as_deref().unwrap_or("?"),
                    q.region.as_deref().unwrap_or("?"),
                )));
            }
        }
        actions.extend(r["actions"].as_array().cloned().unwrap_or_default());
        first.get_or_insert(r);
    }
    let mut merged = first.ok_or(ReportError::NotAReport(
        "the ledger keeps no report of this event: nothing was done, it was done in \
         dry-run, or the policy's undo_retention_days have passed",
    ))?;
    merged["actions"] = Value::Array(actions);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{DeactivateKey, PutBucketPublicAccessBlock, StartLogging};
    use serde_json::json;

    /// The variant's name as the report writes it (`call`).
    fn call(r: &Reversal) -> String {
        serde_json::to_value(r)
            .ok()
            .and_then(|v| v["call"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    #[test]
    fn the_forms_hold_every_reversal_and_every_call_it_makes() {
        // Exhaustive: a reversal added to the enum does not compile here until it is
        // named, and then this wants a form of it.
        fn index(r: &Reversal) -> usize {
            match r {
                Reversal::AuthorizeSecurityGroup { .. } => 0,
                Reversal::RevokeSecurityGroup { .. } => 1,
                Reversal::ActivateAccessKey { .. } => 2,
                Reversal::DeleteInlinePolicy { .. } => 3,
                Reversal::UntagUser { .. } => 4,
                Reversal::CreateNetworkAclEntry { .. } => 5,
                Reversal::DisableEbsEncryptionByDefault { .. } => 6,
                Reversal::DisableKeyRotation { .. } => 7,
                Reversal::MakeDbInstancePublic { .. } => 8,
                Reversal::MakeDbClusterInstancesPublic { .. } => 9,
                Reversal::MakeRedshiftClusterPublic { .. } => 10,
                Reversal::StopLogging { .. } => 11,
                Reversal::DisableDetector { .. } => 12,
                Reversal::ShareSnapshot { .. } => 13,
                Reversal::ShareImage { .. } => 14,
                Reversal::ShareDbSnapshot { .. } => 15,
                Reversal::RestoreAccountPublicAccessBlock { .. } => 16,
                Reversal::RestoreBucketPolicy { .. } => 17,
                Reversal::RestoreResourcePolicy { .. } => 18,
                Reversal::RestoreBucketPublicAccessBlock { .. } => 19,
                Reversal::TagResource { .. } => 20,
                Reversal::RestoreBucketTagging { .. } => 21,
                Reversal::RestorePasswordPolicy { .. } => 22,
                Reversal::TagDbResource { .. } => 23,
                Reversal::TagRedshiftCluster { .. } => 24,
                Reversal::TagRole { .. } => 25,
                Reversal::AllowImdsv1 { .. } => 26,
                Reversal::RestoreImdsDefault { .. } => 27,
                Reversal::RestoreSnapshotBlockPublicAccess { .. } => 28,
                Reversal::DisableImageBlockPublicAccess { .. } => 29,
                Reversal::RestoreBucketAcl { .. } => 30,
                Reversal::TagEc2Resources { .. } => 31,
                Reversal::AddPrefixListEntries { .. } => 32,
                Reversal::RestoreObjectAcl { .. } => 33,
            }
        }
        let forms = Reversal::forms();
        let seen: std::collections::BTreeSet<usize> = forms.iter().map(index).collect();
        assert_eq!(seen, (0..34).collect(), "a reversal has no form");
        // Each form's calls are in the set the undo role grants, and the set has nothing
        // else; the branches show: both security-group directions, both S3 block writes.
        let all = every_op();
        for f in &forms {
            assert!(!call(f).is_empty());
            // A kind whose action is not found would give no calls, and no grants.
            assert!(f.ops().len() >= 2, "{}: {:?}", call(f), f.ops());
            for o in f.ops() {
                assert!(all.contains(o.iam), "{}: {}", call(f), o.iam);
            }
        }
        for iam in [
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "s3:PutBucketPublicAccessBlock",
            "iam:DeleteAccountPasswordPolicy",
            "rds:ModifyDBClusterSnapshotAttribute",
            "sqs:SetQueueAttributes",
            "sqs:TagQueue",
        ] {
            assert!(all.contains(iam), "{iam}");
        }
        assert!(!all.contains("ec2:DeleteSecurityGroup"));
        // A deleted policy is never put back, so the undo never deletes one either.
        assert!(!all.contains("ecr:DeleteRepositoryPolicy"));
    }

    fn done(action: &Action) -> Value {
        let mut a = serde_json::to_value(action).unwrap();
        a["outcome"] = json!("done");
        if let Ok(r) = action.reversal(0) {
            a["reversal"] = serde_json::to_value(r).unwrap();
        }
        a
    }

    #[test]
    fn a_report_is_undone_last_action_first_and_only_what_was_done() {
        let key = Action::from(DeactivateKey::of(
            Some("bob".into()),
            "AKIAIOSFODNN7EXAMPLE".into(),
        ));
        let block = Action::from(PutBucketPublicAccessBlock {
            bucket: "b".into(),
            flags: vec!["BlockPublicPolicy".into()],
            previous: Some(r#"{"BlockPublicAcls":true}"#.into()),
        });
        let mut skipped = done(&key);
        skipped["outcome"] = json!("already_done");
        let report = json!({"event_id": "e1", "mode": "enforce",
            "event": {"account": "123456789012", "region": "eu-west-1"},
            "actions": [done(&key), skipped, done(&block)]});
        // As the function returned it, and inside its Remediation Performed event.
        for v in [
            report.clone(),
            json!({"detail-type": "Remediation Performed", "detail": report}),
        ] {
            let p = plan(&v).unwrap();
            assert_eq!(p.account.as_deref(), Some("123456789012"));
            assert_eq!(p.region.as_deref(), Some("eu-west-1"));
            assert_eq!(p.unchanged, 1);
            assert_eq!(p.steps.iter().map(|s| s.index).collect::<Vec<_>>(), [2, 0]);
            assert_eq!(
                p.steps[0].how,
                How::Reversal(Reversal::RestoreBucketPublicAccessBlock {
                    bucket: "b".into(),
                    previous: Some(BlockFlags {
                        block_public_acls: true,
                        ..BlockFlags::default()
                    }),
                    left: BlockFlags {
                        block_public_acls: true,
                        block_public_policy: true,
                        ..BlockFlags::default()
                    },
                })
            );
        }
    }

    /// A sweep blocks a bucket, then takes the ACL's public grants out: undone, the block
    /// comes off first (S3 refuses a public ACL while the block is on), then the grants.
    #[test]
    fn a_block_is_put_back_before_the_grants_it_would_refuse() {
        let block = Action::from(PutBucketPublicAccessBlock {
            bucket: "b".into(),
            flags: vec!["BlockPublicAcls".into()],
            previous: Some(String::new()),
        });
        let all_users = crate::state::ALL_USERS;
        let acl = Action::from(crate::action::RemoveBucketAclGrants {
            bucket: "b".into(),
            groups: vec![all_users.into()],
            previous: Some(
                json!({"Owner": {"ID": "o"}, "Grants": [
                    {"Grantee": {"Type": "CanonicalUser", "ID": "o"}, "Permission": "FULL_CONTROL"},
                    {"Grantee": {"Type": "Group", "URI": all_users}, "Permission": "READ"}]})
                .to_string(),
            ),
        });
        let key = Action::from(DeactivateKey::of(None, "AKIAIOSFODNN7EXAMPLE".into()));
        let p = plan(&json!({"actions": [done(&key), done(&block), done(&acl)]})).unwrap();
        assert_eq!(
            p.steps.iter().map(|s| s.index).collect::<Vec<_>>(),
            [1, 2, 0]
        );
    }

    #[test]
    fn what_cannot_be_undone_exactly_is_a_refused_step_and_bad_input_names_its_field() {
        let trail = Action::from(StartLogging { trail: "t".into() });
        let mut a = done(&trail);
        // A report without a reversal (written before trailguard recorded them).
        a.as_object_mut().unwrap().remove("reversal");
        a["undo"] = json!({"none": "why not"});
        // A read-only step done changes nothing: not a step.
        let mut read = a.clone();
        read["type"] = json!("summarize_key_activity");
        let p = plan(&json!({"actions": [a, read]})).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.unchanged, 1);
        assert_eq!(p.steps[0].how, How::Refused("why not".into()));

        let key = Action::from(DeactivateKey::of(None, "AKIAIOSFODNN7EXAMPLE".into()));
        let mut a = done(&key);
        a["reversal"]["with"]["access_key_id"] = json!(7);
        let e = plan(&json!({"actions": [a]})).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("actions[0].reversal.with.access_key_id"),
            "{e}"
        );
        a["reversal"] = json!({"call": "format_disk"});
        assert!(plan(&json!({"actions": [a]})).is_err());

        assert!(plan(&json!({"Records": []})).is_err());
        assert!(plan(&json!({"mode": "dry_run", "actions": []})).is_err());
        // As a function writes it.
        let e = plan(&json!({"mode": "dry-run", "actions": []})).unwrap_err();
        assert!(e.to_string().contains("dry run"), "{e}");
        assert!(plan(&json!([1, 2])).is_err());
    }

    #[test]
    fn every_reversal_reads_back_as_written() {
        let rs = [
            Reversal::ActivateAccessKey {
                user_name: None,
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            },
            Reversal::UntagUser {
                user_name: "bob".into(),
                key: "k".into(),
                value: "v".into(),
            },
            Reversal::DeleteInlinePolicy {
                principal: PrincipalKind::Role,
                name: "r".into(),
                policy_name: "p".into(),
                document: "{}".into(),
            },
            Reversal::CreateNetworkAclEntry {
                network_acl_id: "acl-1".into(),
                entry: AclEntry {
                    rule_number: 90,
                    egress: false,
                    allow: true,
                    protocol: "6".into(),
                    from_port: Some(22),
                    to_port: Some(22),
                    cidr: Some("0.0.0.0/0".into()),
                },
            },
            Reversal::RestoreBucketPublicAccessBlock {
                bucket: "b".into(),
                previous: None,
                left: BlockFlags::ALL,
            },
            Reversal::MakeDbClusterInstancesPublic {
                db_cluster: "c".into(),
                instances: vec!["c-1".into()],
            },
            Reversal::MakeRedshiftClusterPublic {
                cluster: "w".into(),
            },
            Reversal::StopLogging { trail: "t".into() },
            Reversal::DisableDetector {
                detector_id: "d".into(),
            },
            Reversal::ShareSnapshot {
                snapshot_id: "snap-1".into(),
                accounts: vec!["111122223333".into()],
                public: true,
                done_at: 1,
            },
            Reversal::ShareDbSnapshot {
                snapshot: "s".into(),
                cluster: true,
                values: vec!["all".into()],
                done_at: 1,
            },
            Reversal::ShareImage {
                image_id: "ami-1".into(),
                accounts: vec![],
                public: false,
                organizations: vec![
                    "arn:aws:organizations::111122223333:ou/o-a1b2c3d4e5/ou-ab12-cdef3456".into(),
                ],
            },
            Reversal::RestoreResourcePolicy {
                kind: PolicyKind::Queue,
                resource: "https://sqs.us-east-1.amazonaws.com/123456789012/q".into(),
                previous: "{}".into(),
                left: None,
            },
            Reversal::TagResource {
                kind: PolicyKind::FileSystem,
                resource: "fs-0123456789abcdef0".into(),
                key: "trailguard:exempt".into(),
                value: "Yes".into(),
            },
            Reversal::TagRole {
                role_name: "app-deploy".into(),
                key: "trailguard:exempt".into(),
                value: "true".into(),
                done_at: 1,
            },
            Reversal::TagDbResource {
                resource_arn: "arn:aws:rds:us-east-1:123456789012:cluster:c".into(),
                key: "trailguard:exempt".into(),
                value: "1".into(),
                done_at: 1,
            },
            Reversal::TagRedshiftCluster {
                resource_arn: "arn:aws:redshift:us-east-1:123456789012:cluster:w".into(),
                key: "trailguard:exempt".into(),
                value: "1".into(),
                done_at: 1,
            },
            Reversal::RestoreBucketTagging {
                bucket: "b".into(),
                key: "trailguard:exempt".into(),
                previous: r#"{"TagSet":[{"Key":"trailguard:exempt","Value":"true"}]}"#.into(),
            },
            Reversal::AllowImdsv1 {
                instance_id: "i-0123456789abcdef0".into(),
            },
            Reversal::RestoreImdsDefault {
                account_id: "123456789012".into(),
                previous: String::new(),
            },
            Reversal::RestoreSnapshotBlockPublicAccess {
                account_id: "123456789012".into(),
                previous: "unblocked".into(),
                left: "block-all-sharing".into(),
            },
            Reversal::DisableImageBlockPublicAccess {
                account_id: "123456789012".into(),
            },
            Reversal::AddPrefixListEntries {
                prefix_list_id: "pl-1".into(),
                cidrs: vec!["0.0.0.0/0".into()],
            },
            Reversal::TagEc2Resources {
                key: "trailguard:exempt".into(),
                tags: vec![("i-1".into(), "true".into())],
            },
            Reversal::RestoreBucketAcl {
                bucket: "b".into(),
                groups: vec!["AllUsers".into()],
                previous: r#"{"Grants":[]}"#.into(),
                done_at: 1,
            },
            Reversal::RestorePasswordPolicy {
                previous: None,
                left: PasswordPolicy {
                    minimum_password_length: 14,
                    ..PasswordPolicy::default()
                },
            },
        ];
        for r in rs {
            let v = serde_json::to_value(&r).unwrap();
            assert_eq!(serde_json::from_value::<Reversal>(v).unwrap(), r);
            assert!(!r.ops().is_empty() && !r.describe().is_empty());
        }
    }

    /// Every kind's exemption taken back is tagged again with the value the call read, by
    /// the kind's read of its tags and its tag call; without that value there is no undo.
    #[test]
    fn an_exemption_taken_back_is_tagged_again_with_its_value() {
        use crate::resources::PolicyKind as K;
        let kinds = [
            K::Queue,
            K::Topic,
            K::Secret,
            K::Key,
            K::Repository,
            K::Domain,
            K::Vault,
            K::FileSystem,
        ];
        for kind in kinds {
            let action =
                crate::resources::untag(kind, "r-1".into(), "trailguard:exempt".into()).unwrap();
            assert!(
                action.reversal(0).unwrap_err().contains("tag's value"),
                "{kind:?}"
            );
            assert!(action.removed_is_previous(), "{kind:?}");
            let done = action.narrowed(&["Yes".into()]);
            let r = done.reversal(0).unwrap();
            assert_eq!(
                r,
                Reversal::TagResource {
                    kind,
                    resource: "r-1".into(),
                    key: "trailguard:exempt".into(),
                    value: "Yes".into(),
                }
            );
            let Inverse::Calls(inverse) = action.info().inverse else {
                panic!("{kind:?}: an untag has calls for its inverse");
            };
            assert_eq!(
                r.ops(),
                vec![action.info().ops[0], inverse[0]],
                "{kind:?}: the tags read, then the tag call"
            );
            // The command a person can run says the same value.
            let undo = done.step().undo().unwrap();
            assert!(
                undo.contains("trailguard:exempt") && undo.contains("Yes"),
                "{undo}"
            );
        }

        let role: Action = crate::action::UntagRole {
            role_name: "app-deploy".into(),
            key: "trailguard:exempt".into(),
            previous: None,
        }
        .into();
        assert!(role.reversal(0).unwrap_err().contains("tag's value"));
        let done = role.narrowed(&["1".into()]);
        assert_eq!(
            done.reversal(0).unwrap(),
            Reversal::TagRole {
                role_name: "app-deploy".into(),
                key: "trailguard:exempt".into(),
                value: "1".into(),
                done_at: 0,
            }
        );
        assert!(done.step().undo().unwrap().contains("Value=1"));

        // EC2: each resource the call took the tag off, with the value it read there (`id=value`
        // in what the call removed); one command per value.
        let ec2 = Action::from(crate::action::RemoveTag::new(
            vec!["sg-1".into(), "sg-2".into(), "i-3".into()],
            "trailguard:exempt".into(),
        ));
        assert!(ec2.reversal(0).is_err());
        let done = ec2.narrowed(&["sg-1=yes".into(), "i-3=1".into()]);
        assert_eq!(
            done.reversal(0).unwrap(),
            Reversal::TagEc2Resources {
                key: "trailguard:exempt".into(),
                tags: vec![("sg-1".into(), "yes".into()), ("i-3".into(), "1".into())],
            }
        );
        assert_eq!(
            done.step().undo().unwrap(),
            "aws ec2 create-tags --resources sg-1 --tags Key=trailguard:exempt,Value=yes && \
             aws ec2 create-tags --resources i-3 --tags Key=trailguard:exempt,Value=1"
        );
        // Each command in its region.
        let Some(crate::action::Undo::Command(c)) = done.undo(None, Some("eu-west-1")) else {
            panic!("a command");
        };
        assert_eq!(c.matches(" --region eu-west-1").count(), 2, "{c}");
        // A removal that names resources without values (an older report) has no reversal.
        assert!(ec2.narrowed(&["sg-1".into()]).reversal(0).is_err());

        // RDS and Redshift: by ARN, the value read before, the database's own tag calls.
        let arn = "arn:aws:rds:us-east-1:123456789012:db:orders";
        for (db, tag_call) in [
            (
                Action::from(crate::action::UntagDbResource::new(
                    arn.into(),
                    "trailguard:exempt".into(),
                )),
                "add-tags-to-resource",
            ),
            (
                Action::from(crate::action::UntagRedshiftCluster::new(
                    arn.into(),
                    "trailguard:exempt".into(),
                )),
                "create-tags",
            ),
        ] {
            assert!(
                db.reversal(0).unwrap_err().contains("tag's value"),
                "{db:?}"
            );
            assert!(db.removed_is_previous());
            let done = db.narrowed(&["later".into()]);
            let r = done.reversal(0).unwrap();
            let Inverse::Calls(inverse) = db.info().inverse else {
                panic!("{db:?}: an untag has calls for its inverse");
            };
            // When it was made, then the action's read of the tags, then the tag call.
            assert_eq!(&r.ops()[1..], [db.info().ops[0], inverse[0]]);
            assert_eq!(r.ops().len(), 3);
            assert!(r.describe().contains("trailguard:exempt=later"));
            let undo = done.step().undo().unwrap();
            assert!(
                undo.contains(tag_call) && undo.contains("Value=later"),
                "{undo}"
            );
        }

        // A bucket's whole tag set, as read before the call, holding the key.
        let bucket = |previous: Option<&str>| -> Action {
            crate::action::UntagBucket {
                bucket: "b".into(),
                key: "trailguard:exempt".into(),
                previous: previous.map(String::from),
            }
            .into()
        };
        let set =
            r#"{"TagSet":[{"Key":"team","Value":"a"},{"Key":"trailguard:exempt","Value":"yes"}]}"#;
        assert_eq!(
            bucket(Some(set)).reversal(0).unwrap(),
            Reversal::RestoreBucketTagging {
                bucket: "b".into(),
                key: "trailguard:exempt".into(),
                previous: set.into(),
            }
        );
        assert!(bucket(None).reversal(0).is_err());
        assert!(bucket(Some(r#"{"TagSet":[{"Key":"team","Value":"a"}]}"#))
            .reversal(0)
            .unwrap_err()
            .contains("do not hold"));
        assert!(bucket(Some("not json")).reversal(0).is_err());
    }

    /// The EC2 guardrails put back as the call found them: only a state looser than the one
    /// set, read before the call, and each with the call that writes that state.
    #[test]
    fn an_ec2_guardrail_is_put_back_to_the_state_read_before() {
        use crate::action::{
            EnableImageBlockPublicAccess, EnableSnapshotBlockPublicAccess, RequireImdsv2,
            RequireImdsv2Default,
        };
        let account = "123456789012".to_string();
        let snapshot = |previous: Option<&str>, state: &str| -> Action {
            Action::from(EnableSnapshotBlockPublicAccess {
                account_id: account.clone(),
                state: state.into(),
                previous: None,
            })
            .narrowed(&previous.map(|p| vec![p.to_string()]).unwrap_or_default())
        };
        let r = snapshot(Some("block-new-sharing"), "block-all-sharing")
            .reversal(0)
            .unwrap();
        assert_eq!(
            r,
            Reversal::RestoreSnapshotBlockPublicAccess {
                account_id: account.clone(),
                previous: "block-new-sharing".into(),
                left: "block-all-sharing".into(),
            }
        );
        assert_eq!(
            r.ops(),
            vec![&ops::GET_SNAPSHOT_BPA, &ops::ENABLE_SNAPSHOT_BPA]
        );
        for unblocked in ["unblocked", ""] {
            let r = snapshot(Some(unblocked), "block-new-sharing")
                .reversal(0)
                .unwrap();
            assert_eq!(
                r.ops(),
                vec![&ops::GET_SNAPSHOT_BPA, &ops::DISABLE_SNAPSHOT_BPA]
            );
            assert!(
                r.describe().ends_with("back to unblocked"),
                "{}",
                r.describe()
            );
        }
        // Nothing read, or a "before" as strict or stricter, or unknown: no reversal.
        assert!(snapshot(None, "block-all-sharing").reversal(0).is_err());
        for (before, set) in [
            ("block-all-sharing", "block-new-sharing"),
            ("block-new-sharing", "block-new-sharing"),
            ("wide-open", "block-all-sharing"),
            ("unblocked", "whatever"),
        ] {
            assert!(
                snapshot(Some(before), set).reversal(0).is_err(),
                "{before} -> {set}"
            );
        }

        let default = |previous: &str| -> Result<Reversal, String> {
            Action::from(RequireImdsv2Default {
                account_id: account.clone(),
                previous: None,
            })
            .narrowed(&[previous.to_string()])
            .reversal(0)
        };
        assert_eq!(
            default("optional").unwrap(),
            Reversal::RestoreImdsDefault {
                account_id: account.clone(),
                previous: "optional".into(),
            }
        );
        assert!(default("").unwrap().describe().ends_with("no preference"));
        assert!(default("required").is_err());
        assert!(Action::from(RequireImdsv2Default {
            account_id: account.clone(),
            previous: None,
        })
        .reversal(0)
        .is_err());

        // A prefix list's entries: those the call proved it took out, added back.
        let list = Action::from(crate::action::RemovePrefixListEntries {
            prefix_list_id: "pl-0123456789abcdef0".into(),
            cidrs: vec!["0.0.0.0/0".into(), "::/0".into()],
            previous_version: Some(3),
        });
        assert_eq!(
            list.narrowed(&["::/0".into()]).reversal(0).unwrap(),
            Reversal::AddPrefixListEntries {
                prefix_list_id: "pl-0123456789abcdef0".into(),
                cidrs: vec!["::/0".into()],
            }
        );
        assert!(list.narrowed(&[]).reversal(0).is_err());
        assert_eq!(
            list.reversal(0).unwrap().ops(),
            vec![
                &ops::DESCRIBE_MANAGED_PREFIX_LISTS,
                &ops::GET_MANAGED_PREFIX_LIST_ENTRIES,
                &ops::MODIFY_MANAGED_PREFIX_LIST
            ]
        );

        let instance = Action::from(RequireImdsv2 {
            instance_id: "i-0123456789abcdef0".into(),
        });
        let image = Action::from(EnableImageBlockPublicAccess {
            account_id: account.clone(),
        });
        // Each reversal's calls: the action's read, then its declared inverse.
        for a in [instance, image] {
            let r = a.reversal(0).unwrap();
            let Inverse::Calls(inverse) = a.info().inverse else {
                panic!("{a:?} has calls for its inverse");
            };
            assert_eq!(r.ops(), vec![a.info().ops[0], inverse[0]], "{a:?}");
        }
    }

    /// A bucket's ACL is put back as the call read it, and only when that ACL held a grant
    /// to a group the call took out; the comparison leaves out the names S3 fills in.
    #[test]
    fn a_bucket_acl_is_put_back_from_the_acl_read_before() {
        let all_users = crate::state::ALL_USERS;
        let policy = |grants: &[(&str, &str, &str, &str)]| {
            let grants: Vec<Value> = grants
                .iter()
                .map(|(t, k, v, p)| serde_json::json!({"Grantee": {"Type": t, *k: v, "DisplayName": "x"}, "Permission": p}))
                .collect();
            serde_json::json!({"Owner": {"ID": "abc", "DisplayName": "owner"}, "Grants": grants})
                .to_string()
        };
        let owner = ("CanonicalUser", "ID", "abc", "FULL_CONTROL");
        let public = ("Group", "URI", all_users, "READ");
        let before = policy(&[public, owner]);
        let action = |previous: Option<String>| -> Action {
            crate::action::RemoveBucketAclGrants {
                bucket: "b".into(),
                groups: vec![all_users.into()],
                previous,
            }
            .into()
        };
        let r = action(Some(before.clone())).reversal(7).unwrap();
        assert_eq!(
            r,
            Reversal::RestoreBucketAcl {
                bucket: "b".into(),
                groups: vec![all_users.into()],
                previous: before.clone(),
                done_at: 7,
            }
        );
        assert_eq!(
            r.ops(),
            vec![
                &ops::LIST_BUCKETS,
                &ops::GET_BUCKET_ACL,
                &ops::PUT_BUCKET_ACL
            ]
        );
        let acl = acl(&before).unwrap();
        assert_eq!(acl.owner_id.as_deref(), Some("abc"));
        assert_eq!(acl.grants.len(), 2);
        // What trailguard left: the owner's grant alone, whatever order S3 lists them in.
        assert_eq!(
            acl.without(&[all_users.into()]),
            crate::undo::acl(&policy(&[owner])).unwrap().sorted()
        );
        assert_eq!(
            acl.without(&[crate::state::AUTHENTICATED_USERS.into()]),
            acl.sorted()
        );
        assert_eq!(
            acl.sorted(),
            crate::undo::acl(&policy(&[owner, public]))
                .unwrap()
                .sorted()
        );
        // Nothing read, a document that is not an ACL, or one without the grant: no undo.
        assert!(action(None).reversal(0).is_err());
        assert!(action(Some("{}".into())).reversal(0).is_err());
        assert!(action(Some(policy(&[owner])))
            .reversal(0)
            .unwrap_err()
            .contains("no grant to"));

        // An object's: its time looked at (an object written since is another), except a
        // version's, which is never rewritten.
        let object = |version_id: Option<&str>| -> Reversal {
            Action::from(crate::action::RemoveObjectAclGrants {
                bucket: "b".into(),
                key: "k".into(),
                version_id: version_id.map(String::from),
                groups: vec![all_users.into()],
                previous: None,
            })
            .narrowed(std::slice::from_ref(&before))
            .reversal(9)
            .unwrap()
        };
        assert_eq!(
            object(None).ops(),
            vec![
                &ops::HEAD_OBJECT,
                &ops::GET_OBJECT_ACL,
                &ops::PUT_OBJECT_ACL
            ]
        );
        assert_eq!(
            object(Some("v1")).ops(),
            vec![&ops::GET_OBJECT_VERSION_ACL, &ops::PUT_OBJECT_VERSION_ACL]
        );
        assert!(object(Some("v1"))
            .describe()
            .contains("s3://b/k (version v1)"));
    }

    #[test]
    fn the_ledger_keeps_what_plans_an_undo_and_merges_an_events_deliveries() {
        let key = |id: &str| Action::from(DeactivateKey::of(Some("bob".into()), id.into()));
        let report = |id: &str, outcome: &str, region: &str| {
            let mut a = done(&key(id));
            a["outcome"] = json!(outcome);
            a["ledger_key"] = json!(format!("claim#e1#{id}"));
            a["console"] = json!("https://console.aws.amazon.com/x");
            json!({"event_id": "e1", "mode": "enforce", "function": "disable-compromised-key",
                "event": {"account": "123456789012", "region": region, "actor": "x",
                    "name": "AWS_RISK_CREDENTIALS_EXPOSED", "account_alias": "prod"},
                "notice": {"subject": "long text"}, "actions": [a]})
        };
        let first = kept(&report("AKIA1", "done", "eu-west-1")).unwrap();
        // No notice text; the console link stays (a Security Hub finding's source URL).
        assert!(first.get("notice").is_none());
        assert_eq!(
            first["actions"][0]["console"],
            "https://console.aws.amazon.com/x"
        );
        assert_eq!(
            first["event"],
            json!({"account": "123456789012", "region": "eu-west-1", "actor": "x",
                "name": "AWS_RISK_CREDENTIALS_EXPOSED"})
        );
        assert_eq!(
            plan(&first).unwrap(),
            plan(&report("AKIA1", "done", "eu-west-1")).unwrap()
        );
        // Nothing done, or a dry run: nothing kept.
        assert_eq!(kept(&report("AKIA1", "already_done", "eu-west-1")), None);
        let mut dry = report("AKIA1", "done", "eu-west-1");
        dry["mode"] = json!("dry_run");
        assert_eq!(kept(&dry), None);

        // A redelivery finished what the first began: both undone, the later first.
        let second = kept(&report("AKIA2", "done", "eu-west-1")).unwrap();
        let both = merge("e1", &[first.to_string(), second.to_string()]).unwrap();
        let p = plan(&both).unwrap();
        assert_eq!(
            p.steps
                .iter()
                .map(|s| s.ledger_key.as_deref().unwrap())
                .collect::<Vec<_>>(),
            ["claim#e1#AKIA2", "claim#e1#AKIA1"]
        );
        // Another event's report, or one done elsewhere, is not merged.
        let e = merge("e2", &[first.to_string()]).unwrap_err();
        assert!(
            e.to_string()
                .contains("reports[0]: not a report of event e2"),
            "{e}"
        );
        let moved = kept(&report("AKIA2", "done", "us-east-1")).unwrap();
        let e = merge("e1", &[first.to_string(), moved.to_string()]).unwrap_err();
        assert!(e.to_string().starts_with("reports[1]: its event"), "{e}");
        // Another event under the same id (a direct invocation), or another function's.
        let mut other = second.clone();
        other["event"]["name"] = json!("CreateAccessKey");
        let e = merge("e1", &[first.to_string(), other.to_string()]).unwrap_err();
        assert!(e.to_string().starts_with("reports[1]: its event"), "{e}");
        let mut other = second.clone();
        other["function"] = json!("guard-iam");
        let e = merge("e1", &[first.to_string(), other.to_string()]).unwrap_err();
        assert!(e.to_string().starts_with("reports[1]: its function"), "{e}");
        let e = merge("e1", &["{".into()]).unwrap_err();
        assert!(e.to_string().starts_with("reports[0]:"), "{e}");
        assert!(matches!(merge("e1", &[]), Err(ReportError::NotAReport(_))));
    }
}
