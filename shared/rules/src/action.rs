//! What trailguard can do: plain values that name their target exactly, and the AWS
//! operations each calls (template.yaml grants exactly those; a test keeps the two in step).
//!
//! An action type is one struct implementing [`Step`] plus one line in the `actions!` list
//! below; everything else (its JSON, its IAM actions, its report line) follows from those.

use serde::Serialize;

use crate::ids::{IdKind, Target};
use crate::ops::{self, Op};
pub use crate::permission::Permission;
pub use crate::resources::{
    RestrictDomainPolicy, RestrictFileSystemPolicy, RestrictKeyPolicy, RestrictQueuePolicy,
    RestrictRepositoryPolicy, RestrictSecretPolicy, RestrictTopicPolicy, RestrictVaultPolicy,
    UntagDomain, UntagFileSystem, UntagKey, UntagQueue, UntagRepository, UntagSecret, UntagTopic,
    UntagVault,
};
use crate::shell::{quote, words};
use crate::state::AclEntry;

/// The name of the inline deny policy that cuts off sessions issued before containment.
/// Fixed so responders can find and remove it: `aws iam delete-user-policy --user-name U
/// --policy-name trailguard-revoke-older-sessions`.
pub const SESSION_POLICY_NAME: &str = "trailguard-revoke-older-sessions";

/// The tag trailguard puts on a user whose key it disabled.
pub const QUARANTINE_TAG: &str = "trailguard:quarantined";

/// What every action type says about itself.
pub trait Step {
    /// The AWS operations this step calls, in order.
    fn ops(&self) -> Vec<&'static Op>;
    /// One line for humans: what this step does (or would do).
    fn describe(&self) -> String;
    /// Whether the step changes anything. Read-only steps run in dry-run too.
    fn mutates(&self) -> bool {
        true
    }
    /// The identifiers the step sends to AWS, with the field that names each: none may be
    /// a placeholder (ids.rs).
    fn targets(&self) -> Vec<Target> {
        vec![]
    }
    /// The exact command that undoes the step once done, for an action type whose inverse
    /// is [`Inverse::Calls`] (None when the fields do not say all that call needs). Every
    /// value is a quoted shell word (shell.rs): the fields came from an event.
    fn undo(&self) -> Option<String> {
        None
    }
    /// The commands that undo the step, in order, when one is not enough (each gets the
    /// region and the account check on its own); by default, [`Step::undo`].
    fn undo_commands(&self) -> Option<Vec<String>> {
        self.undo().map(|c| vec![c])
    }
}

/// An action type, statically: its JSON `type`, every operation any instance may call, the
/// calls that undo it, and whether it puts a safeguard back. Declared once, in the
/// `actions!` list below; guards list the action types they may plan, and their functions'
/// roles grant these operations (template.yaml; `scripts/check_template.py` compares).
#[derive(Debug)]
pub struct ActionInfo {
    pub type_name: &'static str,
    pub ops: &'static [&'static Op],
    pub inverse: Inverse,
    /// It puts one of the account's safeguards back (logging, a trail's settings, an
    /// exemption taken back) rather than changing a workload: the blast-radius breaker never
    /// holds it back, since a flood of changes, forged or real, must not leave logging off or
    /// an attacker's exemption in place for an hour.
    pub restores_safeguard: bool,
}

/// [`Action::runs_without_approval`], by type.
pub fn runs_without_approval(info: &ActionInfo) -> bool {
    info.restores_safeguard
        && matches!(
            info.type_name,
            "start_logging"
                | "restore_management_events"
                | "enable_detector"
                | "enable_ebs_encryption_by_default"
                | "enable_key_rotation"
                | "cancel_key_deletion"
        )
}

/// What undoes an action type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inverse {
    /// These calls undo it; [`Step::undo`] writes the exact command from the action's fields.
    Calls(&'static [&'static Op]),
    /// It changes nothing: there is nothing to undo.
    ReadOnly,
    /// No call made from the action's fields alone undoes it: why, and what does.
    None(&'static str),
}

/// How to undo one action that was done: the exact command, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Undo {
    Command(String),
    None(String),
}

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident($ty:ident) = $name:literal {
        ops: [$($op:ident),* $(,)?],
        inverse: $inverse:expr,
        restores_safeguard: $safeguard:literal $(,)?
    },)*) => {
        /// One remediation step. Serialised with `"type"` and the target's fields.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "type")]
        pub enum Action {
            $($(#[$doc])* #[serde(rename = $name)] $variant($ty),)*
        }

        $(impl $ty {
            /// The action type's declaration.
            pub const INFO: ActionInfo = ActionInfo {
                type_name: $name,
                ops: &[$(&ops::$op),*],
                inverse: $inverse,
                restores_safeguard: $safeguard,
            };
        })*

        impl Action {
            pub fn step(&self) -> &dyn Step {
                match self {
                    $(Action::$variant(s) => s,)*
                }
            }

            pub fn info(&self) -> &'static ActionInfo {
                match self {
                    $(Action::$variant(_) => &$ty::INFO,)*
                }
            }
        }

        $(impl From<$ty> for Action {
            fn from(s: $ty) -> Action {
                Action::$variant(s)
            }
        })*

        /// Every action type.
        pub const ALL_ACTIONS: &[&ActionInfo] = &[$(&$ty::INFO,)*];

        /// Each action type's bit in a set of action types ([`mask_of`]), by its variant.
        #[allow(non_upper_case_globals)]
        pub mod bits {
            $(pub const $variant: u128 = 1u128 << super::index_of($name);)*
        }

        impl Action {
            /// This action's type's bit in a set of action types ([`mask_of`]).
            pub fn bit(&self) -> u128 {
                match self {
                    $(Action::$variant(_) => bits::$variant,)*
                }
            }
        }
    };
}

// A set of action types is a u128 (bits): a function's binary keeps only the code of its
// guard's action types (trailguard_aws's `Acting`).
const _: () = assert!(ALL_ACTIONS.len() <= 128);

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The position of action type `name` in [`ALL_ACTIONS`] (at compile time; a name that is
/// not an action type does not compile).
pub const fn index_of(name: &str) -> u32 {
    let mut i = 0;
    while i < ALL_ACTIONS.len() {
        if same(ALL_ACTIONS[i].type_name, name) {
            return i as u32;
        }
        i += 1;
    }
    panic!("not an action type")
}

/// The set of `actions` (one bit each, [`bits`]): a guard's `ACTION_MASK`.
pub const fn mask_of(actions: &[&ActionInfo]) -> u128 {
    let mut mask = 0u128;
    let mut i = 0;
    while i < actions.len() {
        mask |= 1u128 << index_of(actions[i].type_name);
        i += 1;
    }
    mask
}

actions! {
    /// Revoke rules by their security-group-rule ids (one EC2 call).
    RevokeSecurityGroupRules(RevokeRules) = "revoke_security_group_rules" {
        ops: [REVOKE_SG_INGRESS, REVOKE_SG_EGRESS],
        inverse: Inverse::Calls(&[&ops::AUTHORIZE_SG_INGRESS, &ops::AUTHORIZE_SG_EGRESS]),
        restores_safeguard: false,
    },
    /// Revoke rules by their exact permissions (when the event carries no rule ids).
    RevokeSecurityGroupPermissions(RevokePermissions) = "revoke_security_group_permissions" {
        ops: [REVOKE_SG_INGRESS, REVOKE_SG_EGRESS],
        inverse: Inverse::Calls(&[&ops::AUTHORIZE_SG_INGRESS, &ops::AUTHORIZE_SG_EGRESS]),
        restores_safeguard: false,
    },
    /// Put back rules removed from a protected group.
    AuthorizeSecurityGroupPermissions(AuthorizePermissions) = "authorize_security_group_permissions" {
        ops: [AUTHORIZE_SG_INGRESS, AUTHORIZE_SG_EGRESS],
        inverse: Inverse::Calls(&[&ops::REVOKE_SG_INGRESS, &ops::REVOKE_SG_EGRESS]),
        restores_safeguard: false,
    },
    /// Set one access key Inactive (never deleted: it is evidence).
    DeactivateAccessKey(DeactivateKey) = "deactivate_access_key" {
        ops: [LIST_ACCESS_KEYS, UPDATE_ACCESS_KEY],
        inverse: Inverse::Calls(&[&ops::UPDATE_ACCESS_KEY]),
        restores_safeguard: false,
    },
    /// Deny everything to the principal's sessions issued before now (an inline policy).
    RevokeSessions(RevokeSessions) = "revoke_sessions" {
        ops: [PUT_USER_POLICY, PUT_ROLE_POLICY],
        inverse: Inverse::Calls(&[&ops::DELETE_USER_POLICY, &ops::DELETE_ROLE_POLICY]),
        restores_safeguard: false,
    },
    /// Tag the owner of a contained key.
    TagUser(TagUser) = "tag_user" {
        ops: [TAG_USER],
        inverse: Inverse::Calls(&[&ops::UNTAG_USER]),
        restores_safeguard: false,
    },
    /// The key's calls of the last hours, for the notice (read-only).
    SummarizeKeyActivity(SummarizeKeyActivity) = "summarize_key_activity" {
        ops: [LOOKUP_EVENTS],
        inverse: Inverse::ReadOnly,
        restores_safeguard: false,
    },
    /// Delete one network ACL entry.
    DeleteNetworkAclEntry(DeleteNaclEntry) = "delete_network_acl_entry" {
        ops: [DESCRIBE_NETWORK_ACLS, DELETE_NACL_ENTRY],
        inverse: Inverse::Calls(&[&ops::CREATE_NACL_ENTRY]),
        restores_safeguard: false,
    },
    /// Start a stopped trail.
    StartLogging(StartLogging) = "start_logging" {
        ops: [GET_TRAIL_STATUS, START_LOGGING],
        inverse: Inverse::Calls(&[&ops::STOP_LOGGING]),
        restores_safeguard: true,
    },
    /// Switch a trail's settings back on.
    UpdateTrail(UpdateTrail) = "update_trail" {
        ops: [UPDATE_TRAIL],
        inverse: Inverse::None(
            "the trail's settings are not read before they are switched back on, so no command \
             can say which were off; the call that switched them off is the event \
             (requestParameters), and `aws cloudtrail update-trail` with it repeats it",
        ),
        restores_safeguard: true,
    },
    /// Record management events again.
    RestoreManagementEvents(RestoreManagementEvents) = "restore_management_events" {
        ops: [GET_EVENT_SELECTORS, PUT_EVENT_SELECTORS],
        inverse: Inverse::None(
            "the selectors it replaced are the event's own (requestParameters: eventSelectors or \
             advancedEventSelectors): put them back with `aws cloudtrail put-event-selectors`",
        ),
        restores_safeguard: true,
    },
    /// Take launch permissions off an image.
    UnshareImage(UnshareImage) = "unshare_image" {
        ops: [DESCRIBE_IMAGE_ATTRIBUTE, MODIFY_IMAGE_ATTRIBUTE],
        inverse: Inverse::Calls(&[&ops::MODIFY_IMAGE_ATTRIBUTE]),
        restores_safeguard: false,
    },
    /// Take create-volume permissions off a snapshot.
    UnshareSnapshot(UnshareSnapshot) = "unshare_snapshot" {
        ops: [DESCRIBE_SNAPSHOT_ATTRIBUTE, MODIFY_SNAPSHOT_ATTRIBUTE],
        inverse: Inverse::Calls(&[&ops::MODIFY_SNAPSHOT_ATTRIBUTE]),
        restores_safeguard: false,
    },
    /// Take `restore` values off a DB or cluster snapshot.
    UnshareDbSnapshot(UnshareDbSnapshot) = "unshare_db_snapshot" {
        ops: [
            DESCRIBE_DB_SNAPSHOT_ATTRIBUTES,
            MODIFY_DB_SNAPSHOT_ATTRIBUTE,
            DESCRIBE_DB_CLUSTER_SNAPSHOT_ATTRIBUTES,
            MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE,
        ],
        inverse: Inverse::Calls(&[
            &ops::MODIFY_DB_SNAPSHOT_ATTRIBUTE,
            &ops::MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE,
        ]),
        restores_safeguard: false,
    },
    /// Remove one statement from a function's resource policy.
    RemoveLambdaPermission(RemoveLambdaPermission) = "remove_lambda_permission" {
        ops: [LAMBDA_GET_POLICY, LAMBDA_REMOVE_PERMISSION],
        inverse: Inverse::None(
            "the statement is the event's AddPermission request (requestParameters): \
             `aws lambda add-permission` with its fields creates it again",
        ),
        restores_safeguard: false,
    },
    /// Take outside principals out of a role's trust policy.
    RestrictRoleTrust(RestrictRoleTrust) = "restrict_role_trust" {
        ops: [GET_ROLE, UPDATE_ASSUME_ROLE_POLICY],
        inverse: Inverse::None(
            "the trust policy as the call left it is the event's policyDocument \
             (requestParameters): `aws iam update-assume-role-policy` with it puts it back",
        ),
        restores_safeguard: false,
    },
    /// Take an exemption tag off EC2 resources.
    RemoveTag(RemoveTag) = "remove_tag" {
        ops: [DESCRIBE_TAGS, DELETE_TAGS],
        inverse: Inverse::Calls(&[&ops::CREATE_TAGS]),
        restores_safeguard: true,
    },
    /// Take an exemption tag off a role.
    UntagRole(UntagRole) = "untag_role" {
        ops: [LIST_ROLE_TAGS, UNTAG_ROLE],
        inverse: Inverse::Calls(&[&ops::TAG_ROLE]),
        restores_safeguard: true,
    },
    /// Take out of a managed prefix list the entries a call added (and nothing it had before).
    RemovePrefixListEntries(RemovePrefixListEntries) = "remove_prefix_list_entries" {
        ops: [
            DESCRIBE_MANAGED_PREFIX_LISTS,
            GET_MANAGED_PREFIX_LIST_ENTRIES,
            MODIFY_MANAGED_PREFIX_LIST,
        ],
        inverse: Inverse::Calls(&[&ops::MODIFY_MANAGED_PREFIX_LIST]),
        restores_safeguard: false,
    },
    /// Make an RDS DB instance not publicly accessible (read first: one that is not is
    /// already done).
    MakeDbInstancePrivate(MakeDbInstancePrivate) = "make_db_instance_private" {
        ops: [DESCRIBE_DB_INSTANCES, MODIFY_DB_INSTANCE],
        inverse: Inverse::Calls(&[&ops::MODIFY_DB_INSTANCE]),
        restores_safeguard: false,
    },
    /// Make a DB cluster's public instances not publicly accessible (read first).
    MakeDbClusterPrivate(MakeDbClusterPrivate) = "make_db_cluster_private" {
        ops: [DESCRIBE_DB_CLUSTERS, DESCRIBE_DB_INSTANCES, MODIFY_DB_INSTANCE],
        inverse: Inverse::None(
            "the members made private are known only once done (the report's note names them): \
             for each, `aws rds modify-db-instance --db-instance-identifier MEMBER \
             --publicly-accessible` makes it public again",
        ),
        restores_safeguard: false,
    },
    /// Make a Redshift cluster not publicly accessible (read first).
    MakeRedshiftClusterPrivate(MakeRedshiftClusterPrivate) = "make_redshift_cluster_private" {
        ops: [REDSHIFT_DESCRIBE_CLUSTERS, REDSHIFT_MODIFY_CLUSTER],
        inverse: Inverse::Calls(&[&ops::REDSHIFT_MODIFY_CLUSTER]),
        restores_safeguard: false,
    },
    /// Switch a bucket's public access block back on (the enforced switches over those on).
    PutBucketPublicAccessBlock(PutBucketPublicAccessBlock) = "put_bucket_public_access_block" {
        ops: [GET_BUCKET_PAB, PUT_BUCKET_PAB],
        inverse: Inverse::Calls(&[&ops::PUT_BUCKET_PAB, &ops::DELETE_BUCKET_PAB]),
        restores_safeguard: true,
    },
    /// Switch the account's S3 public access block back on.
    PutAccountPublicAccessBlock(PutAccountPublicAccessBlock) = "put_account_public_access_block" {
        ops: [GET_ACCOUNT_PAB, PUT_ACCOUNT_PAB],
        inverse: Inverse::Calls(&[&ops::PUT_ACCOUNT_PAB, &ops::DELETE_ACCOUNT_PAB]),
        restores_safeguard: true,
    },
    /// Take the grants to everyone / every AWS account out of a bucket's ACL.
    RemoveBucketAclGrants(RemoveBucketAclGrants) = "remove_bucket_acl_grants" {
        ops: [GET_BUCKET_ACL, PUT_BUCKET_ACL],
        inverse: Inverse::Calls(&[&ops::PUT_BUCKET_ACL]),
        restores_safeguard: false,
    },
    /// Take the grants to everyone / every AWS account out of one object's ACL.
    RemoveObjectAclGrants(RemoveObjectAclGrants) = "remove_object_acl_grants" {
        ops: [GET_OBJECT_ACL, PUT_OBJECT_ACL, GET_OBJECT_VERSION_ACL, PUT_OBJECT_VERSION_ACL],
        inverse: Inverse::Calls(&[&ops::PUT_OBJECT_ACL, &ops::PUT_OBJECT_VERSION_ACL]),
        restores_safeguard: false,
    },
    /// Take an exemption tag given by anyone but the tag admins off a bucket (S3 writes the
    /// whole tag set: the others stay).
    UntagBucket(UntagBucket) = "untag_bucket" {
        ops: [GET_BUCKET_TAGGING, PUT_BUCKET_TAGGING, DELETE_BUCKET_TAGGING],
        inverse: Inverse::Calls(&[&ops::PUT_BUCKET_TAGGING]),
        restores_safeguard: true,
    },
    /// Take an exemption tag off an RDS DB instance or cluster.
    UntagDbResource(UntagDbResource) = "untag_db_resource" {
        ops: [RDS_LIST_TAGS, RDS_REMOVE_TAGS],
        inverse: Inverse::Calls(&[&ops::RDS_ADD_TAGS]),
        restores_safeguard: true,
    },
    /// Take an exemption tag off a Redshift cluster.
    UntagRedshiftCluster(UntagRedshiftCluster) = "untag_redshift_cluster" {
        ops: [REDSHIFT_DESCRIBE_TAGS, REDSHIFT_DELETE_TAGS],
        inverse: Inverse::Calls(&[&ops::REDSHIFT_CREATE_TAGS]),
        restores_safeguard: true,
    },
    /// Take outside principals out of a bucket policy (deleted when nothing is left).
    RestrictBucketPolicy(RestrictBucketPolicy) = "restrict_bucket_policy" {
        ops: [GET_BUCKET_POLICY, PUT_BUCKET_POLICY, DELETE_BUCKET_POLICY],
        inverse: Inverse::Calls(&[&ops::PUT_BUCKET_POLICY]),
        restores_safeguard: false,
    },
    /// Switch a suspended GuardDuty detector back on.
    EnableDetector(EnableDetector) = "enable_detector" {
        ops: [GUARDDUTY_GET_DETECTOR, GUARDDUTY_UPDATE_DETECTOR],
        inverse: Inverse::Calls(&[&ops::GUARDDUTY_UPDATE_DETECTOR]),
        restores_safeguard: true,
    },
    /// Switch EBS encryption by default back on in a region (the default key left as it is).
    EnableEbsEncryptionByDefault(EnableEbsEncryptionByDefault) = "enable_ebs_encryption_by_default" {
        ops: [GET_EBS_ENCRYPTION_BY_DEFAULT, ENABLE_EBS_ENCRYPTION_BY_DEFAULT],
        inverse: Inverse::Calls(&[&ops::DISABLE_EBS_ENCRYPTION_BY_DEFAULT]),
        restores_safeguard: true,
    },
    /// Block public sharing of EBS snapshots in a region again, in the state the policy names.
    EnableSnapshotBlockPublicAccess(EnableSnapshotBlockPublicAccess) = "enable_snapshot_block_public_access" {
        ops: [GET_SNAPSHOT_BPA, ENABLE_SNAPSHOT_BPA],
        inverse: Inverse::Calls(&[&ops::ENABLE_SNAPSHOT_BPA, &ops::DISABLE_SNAPSHOT_BPA]),
        restores_safeguard: true,
    },
    /// Block new public sharing of AMIs in a region again.
    EnableImageBlockPublicAccess(EnableImageBlockPublicAccess) = "enable_image_block_public_access" {
        ops: [GET_IMAGE_BPA, ENABLE_IMAGE_BPA],
        inverse: Inverse::Calls(&[&ops::DISABLE_IMAGE_BPA]),
        restores_safeguard: true,
    },
    /// Require IMDSv2 (session tokens) on an instance (`imds.enforce`).
    RequireImdsv2(RequireImdsv2) = "require_imdsv2" {
        ops: [DESCRIBE_INSTANCES, MODIFY_INSTANCE_METADATA_OPTIONS],
        inverse: Inverse::Calls(&[&ops::MODIFY_INSTANCE_METADATA_OPTIONS]),
        restores_safeguard: false,
    },
    /// Require IMDSv2 in the account's default for new instances in a region (`imds.enforce`).
    RequireImdsv2Default(RequireImdsv2Default) = "require_imdsv2_default" {
        ops: [GET_INSTANCE_METADATA_DEFAULTS, MODIFY_INSTANCE_METADATA_DEFAULTS],
        inverse: Inverse::Calls(&[&ops::MODIFY_INSTANCE_METADATA_DEFAULTS]),
        restores_safeguard: true,
    },
    /// Put the account's password policy back to the baseline (over what is stronger).
    PutPasswordPolicy(PutPasswordPolicy) = "put_password_policy" {
        ops: [GET_ACCOUNT_PASSWORD_POLICY, UPDATE_ACCOUNT_PASSWORD_POLICY],
        inverse: Inverse::Calls(&[
            &ops::UPDATE_ACCOUNT_PASSWORD_POLICY,
            &ops::DELETE_ACCOUNT_PASSWORD_POLICY,
        ]),
        restores_safeguard: true,
    },
    /// Cancel a KMS key's scheduled deletion; enable the key again when its CloudTrail history
    /// shows it enabled when the deletion was scheduled (KMS leaves a cancelled key disabled).
    CancelKeyDeletion(CancelKeyDeletion) = "cancel_key_deletion" {
        ops: [KMS_DESCRIBE_KEY, KMS_CANCEL_KEY_DELETION, LOOKUP_EVENTS, KMS_ENABLE_KEY],
        inverse: Inverse::Calls(&[&ops::KMS_SCHEDULE_KEY_DELETION]),
        restores_safeguard: true,
    },
    /// Switch a KMS key's automatic rotation back on, with the period it had when its
    /// CloudTrail history shows one.
    EnableKeyRotation(EnableKeyRotation) = "enable_key_rotation" {
        ops: [KMS_GET_KEY_ROTATION_STATUS, LOOKUP_EVENTS, KMS_ENABLE_KEY_ROTATION],
        inverse: Inverse::Calls(&[&ops::KMS_DISABLE_KEY_ROTATION]),
        restores_safeguard: true,
    },

    // Resource policies (resources.rs): one action type per service, so each role grants
    // exactly its service's calls; the undo puts the previous policy back.
    /// Take principals out of an SQS queue's policy.
    RestrictQueuePolicy(RestrictQueuePolicy) = "restrict_queue_policy" {
        ops: [SQS_GET_QUEUE_ATTRIBUTES, SQS_SET_QUEUE_ATTRIBUTES],
        inverse: Inverse::Calls(&[&ops::SQS_SET_QUEUE_ATTRIBUTES]),
        restores_safeguard: false,
    },
    /// Take principals out of an SNS topic's policy.
    RestrictTopicPolicy(RestrictTopicPolicy) = "restrict_topic_policy" {
        ops: [SNS_GET_TOPIC_ATTRIBUTES, SNS_SET_TOPIC_ATTRIBUTES],
        inverse: Inverse::Calls(&[&ops::SNS_SET_TOPIC_ATTRIBUTES]),
        restores_safeguard: false,
    },
    /// Take principals out of a secret's resource policy.
    RestrictSecretPolicy(RestrictSecretPolicy) = "restrict_secret_policy" {
        ops: [SM_GET_RESOURCE_POLICY, SM_PUT_RESOURCE_POLICY, SM_DELETE_RESOURCE_POLICY],
        inverse: Inverse::Calls(&[&ops::SM_PUT_RESOURCE_POLICY]),
        restores_safeguard: false,
    },
    /// Take principals out of a KMS key policy.
    RestrictKeyPolicy(RestrictKeyPolicy) = "restrict_key_policy" {
        ops: [KMS_GET_KEY_POLICY, KMS_PUT_KEY_POLICY],
        inverse: Inverse::Calls(&[&ops::KMS_PUT_KEY_POLICY]),
        restores_safeguard: false,
    },
    /// Take principals out of an ECR repository policy.
    RestrictRepositoryPolicy(RestrictRepositoryPolicy) = "restrict_repository_policy" {
        ops: [ECR_GET_REPOSITORY_POLICY, ECR_SET_REPOSITORY_POLICY, ECR_DELETE_REPOSITORY_POLICY],
        inverse: Inverse::Calls(&[&ops::ECR_SET_REPOSITORY_POLICY]),
        restores_safeguard: false,
    },
    /// Take principals out of an OpenSearch domain's access policy.
    RestrictDomainPolicy(RestrictDomainPolicy) = "restrict_domain_policy" {
        ops: [ES_DESCRIBE_DOMAIN_CONFIG, ES_UPDATE_DOMAIN_CONFIG],
        inverse: Inverse::Calls(&[&ops::ES_UPDATE_DOMAIN_CONFIG]),
        restores_safeguard: false,
    },
    /// Take principals out of a Glacier vault's access policy.
    RestrictVaultPolicy(RestrictVaultPolicy) = "restrict_vault_policy" {
        ops: [GLACIER_GET_VAULT_ACCESS_POLICY, GLACIER_SET_VAULT_ACCESS_POLICY, GLACIER_DELETE_VAULT_ACCESS_POLICY],
        inverse: Inverse::Calls(&[&ops::GLACIER_SET_VAULT_ACCESS_POLICY]),
        restores_safeguard: false,
    },
    /// Take principals out of an EFS file system policy.
    RestrictFileSystemPolicy(RestrictFileSystemPolicy) = "restrict_file_system_policy" {
        ops: [EFS_DESCRIBE_FILE_SYSTEM_POLICY, EFS_PUT_FILE_SYSTEM_POLICY],
        inverse: Inverse::Calls(&[&ops::EFS_PUT_FILE_SYSTEM_POLICY]),
        restores_safeguard: false,
    },
    // Exemption tags given by anyone but a tag admin (resources.rs `untag_resource!`): one
    // action type per service, so each role grants exactly its service's calls.
    /// Take an exemption tag off an SQS queue.
    UntagQueue(UntagQueue) = "untag_queue" {
        ops: [SQS_LIST_QUEUE_TAGS, SQS_UNTAG_QUEUE],
        inverse: Inverse::Calls(&[&ops::SQS_TAG_QUEUE]),
        restores_safeguard: true,
    },
    /// Take an exemption tag off an SNS topic.
    UntagTopic(UntagTopic) = "untag_topic" {
        ops: [SNS_LIST_TAGS, SNS_UNTAG_RESOURCE],
        inverse: Inverse::Calls(&[&ops::SNS_TAG_RESOURCE]),
        restores_safeguard: true,
    },
    /// Take an exemption tag off a Secrets Manager secret.
    UntagSecret(UntagSecret) = "untag_secret" {
        ops: [SM_DESCRIBE_SECRET, SM_UNTAG_RESOURCE],
        inverse: Inverse::Calls(&[&ops::SM_TAG_RESOURCE]),
        restores_safeguard: true,
    },
    /// Take an exemption tag off a KMS key.
    UntagKey(UntagKey) = "untag_key" {
        ops: [KMS_LIST_RESOURCE_TAGS, KMS_UNTAG_RESOURCE],
        inverse: Inverse::Calls(&[&ops::KMS_TAG_RESOURCE]),
        restores_safeguard: true,
    },
    /// Take an exemption tag off an ECR repository (by its ARN, as ECR's tag calls name it).
    UntagRepository(UntagRepository) = "untag_repository" {
        ops: [ECR_LIST_TAGS, ECR_UNTAG_RESOURCE],
        inverse: Inverse::Calls(&[&ops::ECR_TAG_RESOURCE]),
        restores_safeguard: true,
    },
    /// Take an exemption tag off an OpenSearch domain.
    UntagDomain(UntagDomain) = "untag_domain" {
        ops: [ES_LIST_TAGS, ES_REMOVE_TAGS],
        inverse: Inverse::Calls(&[&ops::ES_ADD_TAGS]),
        restores_safeguard: true,
    },
    /// Take an exemption tag off a Glacier vault.
    UntagVault(UntagVault) = "untag_vault" {
        ops: [GLACIER_LIST_TAGS, GLACIER_REMOVE_TAGS],
        inverse: Inverse::Calls(&[&ops::GLACIER_ADD_TAGS]),
        restores_safeguard: true,
    },
    /// Take an exemption tag off an EFS file system.
    UntagFileSystem(UntagFileSystem) = "untag_file_system" {
        ops: [EFS_DESCRIBE_FILE_SYSTEMS, EFS_UNTAG_RESOURCE],
        inverse: Inverse::Calls(&[&ops::EFS_TAG_RESOURCE]),
        restores_safeguard: true,
    },
}

impl Action {
    pub fn type_name(&self) -> &'static str {
        self.info().type_name
    }

    /// The IAM actions the executor calls for this step.
    pub fn iam_actions(&self) -> Vec<&'static str> {
        self.step().ops().iter().map(|o| o.iam).collect()
    }

    pub fn mutates(&self) -> bool {
        self.step().mutates()
    }

    /// Whether a failure of this step must fail the invocation (so Lambda retries and the
    /// failure queue keeps the event). The one place that says so: enrichment never does,
    /// because containment must not wait on or fail because of it.
    pub fn is_critical(&self) -> bool {
        self.mutates()
    }

    pub fn describe(&self) -> String {
        self.step().describe()
    }

    /// Whether this step puts one of the account's safeguards back (logging, a trail's
    /// settings, an exemption taken back) rather than changing a workload. The blast-radius
    /// breaker never holds these back: a flood of changes, forged or real, must not leave
    /// logging off or an attacker's exemption in place for an hour.
    pub fn restores_safeguard(&self) -> bool {
        self.info().restores_safeguard
    }

    /// Whether mode `approve` runs this step at once, without a person: it switches a
    /// recording, detection or data-protection control back on and takes no one's access
    /// away (logging, management events, a detector, EBS encryption by default, key
    /// rotation, a key's deletion cancelled). Safeguards that do take access (a public
    /// access block, a snapshot or AMI block, an exemption tag taken back, a password
    /// policy) wait like any other change.
    pub fn runs_without_approval(&self) -> bool {
        runs_without_approval(self.info())
    }

    /// How to undo this action once done (None for a read-only step): the exact command,
    /// with `--region` when the service is regional and the region is known, and, when the
    /// account is known, run only by credentials of that account (a name such as a role's
    /// or a trail's means another thing in another account).
    pub fn undo(&self, account: Option<&str>, region: Option<&str>) -> Option<Undo> {
        match self.info().inverse {
            Inverse::ReadOnly => None,
            Inverse::None(why) => Some(Undo::None(why.to_string())),
            Inverse::Calls(_) => Some(match self.step().undo_commands() {
                // The AWS CLI reads a parameter that starts with file://, fileb:// (or, in
                // version 1, fetches http(s)://) instead of taking it as written.
                Some(commands)
                    if commands
                        .iter()
                        .any(|c| crate::shell::loads_from_elsewhere(c)) =>
                {
                    Undo::None(
                        "a value from the event starts with file://, fileb:// or http(s)://, \
                         which the AWS CLI would read instead of sending: undo it by hand"
                            .into(),
                    )
                }
                Some(commands) => {
                    let commands: Vec<String> = commands
                        .into_iter()
                        .map(|mut command| {
                            if let Some(r) = region.filter(|_| !command.starts_with("aws iam ")) {
                                command.push_str(" --region ");
                                command.push_str(&crate::shell::quote(r));
                            }
                            command
                        })
                        .collect();
                    let mut command = commands.join(" && ");
                    if let Some(a) = account.filter(|a| crate::ids::is_account_id(a)) {
                        command = format!(
                            "[ \"$(aws sts get-caller-identity --query Account --output text)\" = {a} ] && {command}"
                        );
                    }
                    Undo::Command(command)
                }
                None => Undo::None(format!(
                    "the action's fields do not say all the undoing call needs: {}",
                    self.describe()
                )),
            }),
        }
    }

    /// The action as far as the call proved it done: of its values (accounts, `all`,
    /// organization ARNs, resource ids, CIDRs), only those `removed` names. An action type
    /// without such values is returned as it is.
    pub fn narrowed(&self, removed: &[String]) -> Action {
        let kept = |values: &[String]| -> Vec<String> {
            values
                .iter()
                .filter(|v| removed.contains(v))
                .cloned()
                .collect()
        };
        let all = removed.iter().any(|v| v == "all");
        match self {
            Action::UnshareImage(a) => Action::UnshareImage(UnshareImage {
                accounts: kept(&a.accounts),
                public: a.public && all,
                organizations: kept(&a.organizations),
                ..a.clone()
            }),
            Action::UnshareSnapshot(a) => Action::UnshareSnapshot(UnshareSnapshot {
                accounts: kept(&a.accounts),
                public: a.public && all,
                ..a.clone()
            }),
            Action::UnshareDbSnapshot(a) => Action::UnshareDbSnapshot(UnshareDbSnapshot {
                values: kept(&a.values),
                ..a.clone()
            }),
            Action::MakeDbClusterPrivate(a) => Action::MakeDbClusterPrivate(MakeDbClusterPrivate {
                instances: removed.to_vec(),
                ..a.clone()
            }),
            // `id=value`: the resources the call took the tag off, with the value each had.
            Action::RemoveTag(a) => {
                let previous: Vec<(String, String)> = removed
                    .iter()
                    .filter_map(|r| r.split_once('='))
                    .map(|(id, v)| (id.to_string(), v.to_string()))
                    .collect();
                let ids: Vec<String> = removed
                    .iter()
                    .map(|r| {
                        r.split_once('=')
                            .map_or(r.as_str(), |(id, _)| id)
                            .to_string()
                    })
                    .collect();
                Action::RemoveTag(RemoveTag {
                    resource_ids: a
                        .resource_ids
                        .iter()
                        .filter(|id| ids.contains(id))
                        .cloned()
                        .collect(),
                    previous,
                    ..a.clone()
                })
            }
            Action::RemovePrefixListEntries(a) => {
                Action::RemovePrefixListEntries(RemovePrefixListEntries {
                    cidrs: kept(&a.cidrs),
                    ..a.clone()
                })
            }
            // The entry as the call read it before deleting it (JSON).
            Action::DeleteNetworkAclEntry(a) => Action::DeleteNetworkAclEntry(DeleteNaclEntry {
                entry: removed
                    .first()
                    .and_then(|r| serde_json::from_str(r).ok())
                    .or_else(|| a.entry.clone()),
                ..a.clone()
            }),
            // S3: the call's one removed value is the document before it (the undo writes
            // it back exactly).
            Action::PutBucketPublicAccessBlock(a) => {
                Action::PutBucketPublicAccessBlock(PutBucketPublicAccessBlock {
                    previous: removed.first().cloned(),
                    ..a.clone()
                })
            }
            Action::PutAccountPublicAccessBlock(a) => {
                Action::PutAccountPublicAccessBlock(PutAccountPublicAccessBlock {
                    previous: removed.first().cloned(),
                    ..a.clone()
                })
            }
            Action::RemoveBucketAclGrants(a) => {
                Action::RemoveBucketAclGrants(RemoveBucketAclGrants {
                    previous: removed.first().cloned(),
                    ..a.clone()
                })
            }
            Action::RemoveObjectAclGrants(a) => {
                Action::RemoveObjectAclGrants(RemoveObjectAclGrants {
                    previous: removed.first().cloned(),
                    ..a.clone()
                })
            }
            Action::RestrictBucketPolicy(a) => Action::RestrictBucketPolicy(RestrictBucketPolicy {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::UntagBucket(a) => Action::UntagBucket(UntagBucket {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::PutPasswordPolicy(a) => Action::PutPasswordPolicy(PutPasswordPolicy {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::EnableSnapshotBlockPublicAccess(a) => {
                Action::EnableSnapshotBlockPublicAccess(EnableSnapshotBlockPublicAccess {
                    previous: removed.first().cloned(),
                    ..a.clone()
                })
            }
            Action::RequireImdsv2Default(a) => Action::RequireImdsv2Default(RequireImdsv2Default {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::RestrictQueuePolicy(a) => Action::RestrictQueuePolicy(RestrictQueuePolicy {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::RestrictTopicPolicy(a) => Action::RestrictTopicPolicy(RestrictTopicPolicy {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::RestrictSecretPolicy(a) => Action::RestrictSecretPolicy(RestrictSecretPolicy {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::RestrictKeyPolicy(a) => Action::RestrictKeyPolicy(RestrictKeyPolicy {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::RestrictRepositoryPolicy(a) => {
                Action::RestrictRepositoryPolicy(RestrictRepositoryPolicy {
                    previous: removed.first().cloned(),
                    ..a.clone()
                })
            }
            Action::RestrictDomainPolicy(a) => Action::RestrictDomainPolicy(RestrictDomainPolicy {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::RestrictVaultPolicy(a) => Action::RestrictVaultPolicy(RestrictVaultPolicy {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::RestrictFileSystemPolicy(a) => {
                Action::RestrictFileSystemPolicy(RestrictFileSystemPolicy {
                    previous: removed.first().cloned(),
                    ..a.clone()
                })
            }
            // The tag's value before the call (the undo puts it back).
            Action::UntagRole(a) => Action::UntagRole(UntagRole {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::UntagDbResource(a) => Action::UntagDbResource(UntagDbResource {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::UntagRedshiftCluster(a) => Action::UntagRedshiftCluster(UntagRedshiftCluster {
                previous: removed.first().cloned(),
                ..a.clone()
            }),
            Action::UntagQueue(a) => Action::UntagQueue(a.with_previous(removed.first().cloned())),
            Action::UntagTopic(a) => Action::UntagTopic(a.with_previous(removed.first().cloned())),
            Action::UntagSecret(a) => {
                Action::UntagSecret(a.with_previous(removed.first().cloned()))
            }
            Action::UntagKey(a) => Action::UntagKey(a.with_previous(removed.first().cloned())),
            Action::UntagRepository(a) => {
                Action::UntagRepository(a.with_previous(removed.first().cloned()))
            }
            Action::UntagDomain(a) => {
                Action::UntagDomain(a.with_previous(removed.first().cloned()))
            }
            Action::UntagVault(a) => Action::UntagVault(a.with_previous(removed.first().cloned())),
            Action::UntagFileSystem(a) => {
                Action::UntagFileSystem(a.with_previous(removed.first().cloned()))
            }
            other => other.clone(),
        }
    }

    /// Whether the call's `Change::Removed` is the document before it (an S3 block, ACL or
    /// policy, a resource policy, the value of a tag taken off), kept for the undo, rather than
    /// some of the action's values.
    pub fn removed_is_previous(&self) -> bool {
        matches!(
            self,
            Action::DeleteNetworkAclEntry(_)
                | Action::PutBucketPublicAccessBlock(_)
                | Action::PutAccountPublicAccessBlock(_)
                | Action::RemoveBucketAclGrants(_)
                | Action::RemoveObjectAclGrants(_)
                | Action::RestrictBucketPolicy(_)
                | Action::UntagBucket(_)
                | Action::PutPasswordPolicy(_)
                | Action::EnableSnapshotBlockPublicAccess(_)
                | Action::RequireImdsv2Default(_)
                | Action::RestrictQueuePolicy(_)
                | Action::RestrictTopicPolicy(_)
                | Action::RestrictSecretPolicy(_)
                | Action::RestrictKeyPolicy(_)
                | Action::RestrictRepositoryPolicy(_)
                | Action::RestrictDomainPolicy(_)
                | Action::RestrictVaultPolicy(_)
                | Action::RestrictFileSystemPolicy(_)
                | Action::UntagRole(_)
                | Action::UntagDbResource(_)
                | Action::UntagRedshiftCluster(_)
                | Action::UntagQueue(_)
                | Action::UntagTopic(_)
                | Action::UntagSecret(_)
                | Action::UntagKey(_)
                | Action::UntagRepository(_)
                | Action::UntagDomain(_)
                | Action::UntagVault(_)
                | Action::UntagFileSystem(_)
        )
    }
}

fn direction(egress: bool) -> &'static str {
    if egress {
        "egress"
    } else {
        "ingress"
    }
}

fn owner(name: &Option<String>) -> &str {
    name.as_deref().unwrap_or("(owner resolved at run time)")
}

fn describe_all(perms: &[Permission]) -> String {
    perms
        .iter()
        .map(Permission::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevokeRules {
    pub group_id: String,
    pub egress: bool,
    pub rule_ids: Vec<String>,
    /// The rules' permissions as the event shows them: not sent (the ids say which rules),
    /// kept for the command that puts them back.
    #[serde(skip)]
    pub permissions: Vec<Permission>,
}

impl Step for RevokeRules {
    fn undo(&self) -> Option<String> {
        (!self.permissions.is_empty()).then(|| {
            format!(
                "aws ec2 authorize-security-group-{} --group-id {} --ip-permissions {}",
                direction(self.egress),
                quote(&self.group_id),
                quote(&crate::permission::api_json(&self.permissions).to_string())
            )
        })
    }
    fn ops(&self) -> Vec<&'static Op> {
        vec![if self.egress {
            &ops::REVOKE_SG_EGRESS
        } else {
            &ops::REVOKE_SG_INGRESS
        }]
    }
    fn targets(&self) -> Vec<Target> {
        let mut t = vec![Target::new(
            "group_id",
            &self.group_id,
            IdKind::SecurityGroup,
        )];
        t.extend(
            self.rule_ids
                .iter()
                .map(|r| Target::new("rule_ids", r, IdKind::SecurityGroupRule)),
        );
        t
    }
    fn describe(&self) -> String {
        format!(
            "revoke {} rule(s) {} of {}",
            direction(self.egress),
            self.rule_ids.join(", "),
            self.group_id
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevokePermissions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    pub egress: bool,
    pub permissions: Vec<Permission>,
}

impl Step for RevokePermissions {
    fn undo(&self) -> Option<String> {
        let group = match (&self.group_id, &self.group_name) {
            (Some(id), _) => format!("--group-id {}", quote(id)),
            (None, Some(name)) => format!("--group-name {}", quote(name)),
            (None, None) => return None,
        };
        Some(format!(
            "aws ec2 authorize-security-group-{} {group} --ip-permissions {}",
            direction(self.egress),
            quote(&crate::permission::api_json(&self.permissions).to_string())
        ))
    }
    fn ops(&self) -> Vec<&'static Op> {
        vec![if self.egress {
            &ops::REVOKE_SG_EGRESS
        } else {
            &ops::REVOKE_SG_INGRESS
        }]
    }
    fn targets(&self) -> Vec<Target> {
        match (&self.group_id, &self.group_name) {
            (Some(id), _) => vec![Target::new("group_id", id, IdKind::SecurityGroup)],
            (None, Some(name)) => vec![Target::new("group_name", name, IdKind::SecurityGroupName)],
            (None, None) => vec![Target::new("group_id", "", IdKind::SecurityGroup)],
        }
    }
    fn describe(&self) -> String {
        format!(
            "revoke {} {} of {}",
            direction(self.egress),
            describe_all(&self.permissions),
            self.group_id
                .as_deref()
                .or(self.group_name.as_deref())
                .unwrap_or("?")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthorizePermissions {
    pub group_id: String,
    pub egress: bool,
    pub permissions: Vec<Permission>,
}

impl Step for AuthorizePermissions {
    fn undo(&self) -> Option<String> {
        (!self.permissions.is_empty()).then(|| {
            format!(
                "aws ec2 revoke-security-group-{} --group-id {} --ip-permissions {}",
                direction(self.egress),
                quote(&self.group_id),
                quote(&crate::permission::api_json(&self.permissions).to_string())
            )
        })
    }
    fn ops(&self) -> Vec<&'static Op> {
        vec![if self.egress {
            &ops::AUTHORIZE_SG_EGRESS
        } else {
            &ops::AUTHORIZE_SG_INGRESS
        }]
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new(
            "group_id",
            &self.group_id,
            IdKind::SecurityGroup,
        )]
    }
    fn describe(&self) -> String {
        format!(
            "re-authorize {} {} on protected {}",
            direction(self.egress),
            describe_all(&self.permissions),
            self.group_id
        )
    }
}

/// Set exactly this key Inactive. Never deletes it: the key is evidence. The user is null
/// only in offline decisions (the CLI) where the event does not name the owner; the
/// functions always resolve it first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeactivateKey {
    pub user_name: Option<String>,
    pub access_key_id: String,
}

impl DeactivateKey {
    /// Deactivate this key of this user (None: resolved from the key at run time).
    pub fn of(user_name: Option<String>, access_key_id: String) -> DeactivateKey {
        DeactivateKey {
            user_name,
            access_key_id,
        }
    }
}

impl Step for DeactivateKey {
    fn undo(&self) -> Option<String> {
        self.user_name.as_ref().map(|u| {
            format!(
                "aws iam update-access-key --user-name {} --access-key-id {} --status Active",
                quote(u),
                quote(&self.access_key_id)
            )
        })
    }
    // ListAccessKeys first, so a key already Inactive or deleted is reported as already
    // done, and the only mutating call is the one UpdateAccessKey.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        let mut t = vec![Target::new(
            "access_key_id",
            &self.access_key_id,
            IdKind::AccessKey,
        )];
        t.extend(
            self.user_name
                .iter()
                .map(|u| Target::new("user_name", u, IdKind::IamName)),
        );
        t
    }
    fn describe(&self) -> String {
        format!(
            "deactivate access key {} of user {}",
            self.access_key_id,
            owner(&self.user_name)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Role,
}

/// Attach the inline deny-all policy for sessions issued before the action runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevokeSessions {
    pub principal: PrincipalKind,
    pub name: Option<String>,
    pub policy_name: String,
}

impl RevokeSessions {
    pub fn of(principal: PrincipalKind, name: Option<String>) -> RevokeSessions {
        RevokeSessions {
            principal,
            name,
            policy_name: SESSION_POLICY_NAME.into(),
        }
    }

    /// The inline policy that denies everything to sessions issued before `now` (epoch
    /// seconds): what the IAM console's "Revoke active sessions" does. Long-term keys carry
    /// no token issue time, so the condition never matches them; the key itself is
    /// disabled separately.
    pub fn document(now: i64) -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TrailguardRevokeOlderSessions",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": crate::time::format_epoch(now)}}
            }]
        })
        .to_string()
    }
}

impl Step for RevokeSessions {
    fn undo(&self) -> Option<String> {
        let kind = match self.principal {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
        };
        self.name.as_ref().map(|n| {
            format!(
                "aws iam delete-{kind}-policy --{kind}-name {} --policy-name {}",
                quote(n),
                quote(&self.policy_name)
            )
        })
    }
    fn ops(&self) -> Vec<&'static Op> {
        vec![match self.principal {
            PrincipalKind::User => &ops::PUT_USER_POLICY,
            PrincipalKind::Role => &ops::PUT_ROLE_POLICY,
        }]
    }
    fn targets(&self) -> Vec<Target> {
        self.name
            .iter()
            .map(|n| Target::new("name", n, IdKind::IamName))
            .collect()
    }
    fn describe(&self) -> String {
        format!(
            "deny sessions issued before now to {} {} (inline policy {})",
            match self.principal {
                PrincipalKind::User => "user",
                PrincipalKind::Role => "role",
            },
            owner(&self.name),
            self.policy_name
        )
    }
}

/// Tag the user `trailguard:quarantined` = "<time> <reason>".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagUser {
    pub user_name: Option<String>,
    pub key: String,
    pub reason: String,
}

impl TagUser {
    /// The tag's value at `now`: "<time> <reason>", within what IAM allows in tag values
    /// (letters, digits, spaces and `_ . : / = + - @`, up to 256 characters).
    pub fn value(&self, now: i64) -> String {
        let raw = format!("{} {}", crate::time::format_epoch(now), self.reason);
        raw.chars()
            .map(|c| {
                if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                    c
                } else {
                    ' '
                }
            })
            .take(256)
            .collect()
    }
}

impl Step for TagUser {
    fn undo(&self) -> Option<String> {
        self.user_name.as_ref().map(|u| {
            format!(
                "aws iam untag-user --user-name {} --tag-keys {}",
                quote(u),
                quote(&self.key)
            )
        })
    }
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        self.user_name
            .iter()
            .map(|u| Target::new("user_name", u, IdKind::IamName))
            .collect()
    }
    fn describe(&self) -> String {
        format!("tag user {} with {}", owner(&self.user_name), self.key)
    }
}

/// Best effort: summarise what the key did (CloudTrail LookupEvents). Never blocks or fails
/// containment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummarizeKeyActivity {
    pub access_key_id: String,
    pub hours: u32,
}

impl Step for SummarizeKeyActivity {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new(
            "access_key_id",
            &self.access_key_id,
            IdKind::AccessKey,
        )]
    }
    fn describe(&self) -> String {
        format!(
            "summarise the last {}h of activity of {}",
            self.hours, self.access_key_id
        )
    }
    fn mutates(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeleteNaclEntry {
    pub network_acl_id: String,
    pub rule_number: i64,
    pub egress: bool,
    /// The entry as the event or the listing shows it: not sent (the number says which
    /// entry), kept for the command that creates it again.
    #[serde(skip)]
    pub entry: Option<AclEntry>,
}

impl Step for DeleteNaclEntry {
    fn undo(&self) -> Option<String> {
        let e = self.entry.as_ref()?;
        // ICMP entries also carry a type and code, which the entry does not keep.
        if matches!(e.protocol.as_str(), "1" | "58" | "icmp" | "icmpv6") {
            return None;
        }
        let ports = match (e.from_port, e.to_port) {
            (Some(f), Some(t)) if e.protocol != "-1" => format!(" --port-range From={f},To={t}"),
            _ => String::new(),
        };
        let cidr = e.cidr.as_ref()?;
        let block = if cidr.contains(':') {
            "--ipv6-cidr-block"
        } else {
            "--cidr-block"
        };
        Some(format!(
            "aws ec2 create-network-acl-entry --network-acl-id {} --rule-number {} --{} \
             --protocol {}{ports} {block} {} --rule-action {}",
            quote(&self.network_acl_id),
            self.rule_number,
            direction(self.egress),
            quote(&e.protocol),
            quote(cidr),
            if e.allow { "allow" } else { "deny" }
        ))
    }
    // DescribeNetworkAcls first: an entry already deleted is already done, and one replaced
    // since the event is left as it is.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![
            Target::new("network_acl_id", &self.network_acl_id, IdKind::NetworkAcl),
            Target::new(
                "rule_number",
                self.rule_number,
                IdKind::NetworkAclRuleNumber,
            ),
        ]
    }
    fn describe(&self) -> String {
        format!(
            "delete {} entry {} of {}",
            direction(self.egress),
            self.rule_number,
            self.network_acl_id
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartLogging {
    pub trail: String,
}

impl Step for StartLogging {
    fn undo(&self) -> Option<String> {
        Some(format!(
            "aws cloudtrail stop-logging --name {}",
            quote(&self.trail)
        ))
    }
    // GetTrailStatus first, so a trail already logging is reported as already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("trail", &self.trail, IdKind::Trail)]
    }
    fn describe(&self) -> String {
        format!("start logging on trail {}", self.trail)
    }
}

/// Remove from a customer-managed prefix list the CIDRs a `ModifyManagedPrefixList` added:
/// those still there, and none the list held before the call (`previous_version`, the
/// version the call changed, read with `GetManagedPrefixListEntries --target-version`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemovePrefixListEntries {
    pub prefix_list_id: String,
    pub cidrs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<i64>,
}

impl Step for RemovePrefixListEntries {
    fn undo(&self) -> Option<String> {
        let entries: Vec<String> = self.cidrs.iter().map(|c| format!("Cidr={c}")).collect();
        Some(format!(
            "aws ec2 modify-managed-prefix-list --prefix-list-id {} --add-entries {}",
            quote(&self.prefix_list_id),
            words(&entries)
        ))
    }
    // The list's version and entries first: ModifyManagedPrefixList needs the current
    // version, and only entries still there, and not there before the call, are removed.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new(
            "prefix_list_id",
            &self.prefix_list_id,
            IdKind::PrefixList,
        )]
    }
    fn describe(&self) -> String {
        format!(
            "remove {} from prefix list {}",
            self.cidrs.join(", "),
            self.prefix_list_id
        )
    }
}

/// Switch back on trail settings an UpdateTrail switched off.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateTrail {
    pub trail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_region: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file_validation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_service_events: Option<bool>,
}

impl Step for UpdateTrail {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("trail", &self.trail, IdKind::Trail)]
    }
    fn describe(&self) -> String {
        let mut what = Vec::new();
        if self.multi_region == Some(true) {
            what.push("multi-region");
        }
        if self.log_file_validation == Some(true) {
            what.push("log file validation");
        }
        if self.global_service_events == Some(true) {
            what.push("global service events");
        }
        format!(
            "switch {} back on for trail {}",
            what.join(" and "),
            self.trail
        )
    }
}

/// Switch management events back on for a trail, keeping its data-event selectors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreManagementEvents {
    pub trail: String,
}

impl Step for RestoreManagementEvents {
    // GetEventSelectors first: the selectors as they are now are kept, and a trail that
    // records management events again is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("trail", &self.trail, IdKind::Trail)]
    }
    fn describe(&self) -> String {
        format!(
            "record management events again on trail {} (data selectors kept)",
            self.trail
        )
    }
}

fn shared_with(accounts: &[String], public: bool, organizations: &[String]) -> String {
    let mut who: Vec<String> = Vec::new();
    if public {
        who.push("everyone (group all)".into());
    }
    who.extend(accounts.iter().map(|a| format!("account {a}")));
    who.extend(organizations.iter().cloned());
    who.join(", ")
}

/// Take back exactly the launch permissions a ModifyImageAttribute gave outsiders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnshareImage {
    pub image_id: String,
    pub accounts: Vec<String>,
    pub public: bool,
    /// Organization and OU ARNs outside the trusted set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
}

impl Step for UnshareImage {
    fn undo(&self) -> Option<String> {
        let mut add: Vec<serde_json::Value> = self
            .accounts
            .iter()
            .map(|a| serde_json::json!({"UserId": a}))
            .collect();
        if self.public {
            add.push(serde_json::json!({"Group": "all"}));
        }
        add.extend(self.organizations.iter().map(|o| {
            if o.contains(":ou/") {
                serde_json::json!({"OrganizationalUnitArn": o})
            } else {
                serde_json::json!({"OrganizationArn": o})
            }
        }));
        Some(format!(
            "aws ec2 modify-image-attribute --image-id {} --launch-permission {}",
            quote(&self.image_id),
            quote(&serde_json::json!({"Add": add}).to_string())
        ))
    }
    // DescribeImageAttribute first: only permissions still there are removed, and none
    // left is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        let mut t = vec![Target::new("image_id", &self.image_id, IdKind::Image)];
        t.extend(
            self.accounts
                .iter()
                .map(|a| Target::new("accounts", a, IdKind::Account)),
        );
        t
    }
    fn describe(&self) -> String {
        format!(
            "stop sharing image {} with {}",
            self.image_id,
            shared_with(&self.accounts, self.public, &self.organizations)
        )
    }
}

/// Take back exactly the create-volume permissions a ModifySnapshotAttribute gave outsiders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnshareSnapshot {
    pub snapshot_id: String,
    pub accounts: Vec<String>,
    pub public: bool,
}

impl Step for UnshareSnapshot {
    fn undo(&self) -> Option<String> {
        let mut command = format!(
            "aws ec2 modify-snapshot-attribute --snapshot-id {} --attribute createVolumePermission --operation-type add",
            quote(&self.snapshot_id)
        );
        if !self.accounts.is_empty() {
            command.push_str(&format!(" --user-ids {}", words(&self.accounts)));
        }
        if self.public {
            command.push_str(" --group-names all");
        }
        Some(command)
    }
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        let mut t = vec![Target::new(
            "snapshot_id",
            &self.snapshot_id,
            IdKind::Snapshot,
        )];
        t.extend(
            self.accounts
                .iter()
                .map(|a| Target::new("accounts", a, IdKind::Account)),
        );
        t
    }
    fn describe(&self) -> String {
        format!(
            "stop sharing snapshot {} with {}",
            self.snapshot_id,
            shared_with(&self.accounts, self.public, &[])
        )
    }
}

/// Take back exactly the `restore` values a ModifyDB(Cluster)SnapshotAttribute added for
/// outsiders (`all` for public).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnshareDbSnapshot {
    pub snapshot: String,
    pub cluster: bool,
    pub values: Vec<String>,
}

impl Step for UnshareDbSnapshot {
    fn undo(&self) -> Option<String> {
        let kind = if self.cluster {
            "db-cluster-snapshot"
        } else {
            "db-snapshot"
        };
        Some(format!(
            "aws rds modify-{kind}-attribute --{kind}-identifier {} --attribute-name restore --values-to-add {}",
            quote(&self.snapshot),
            words(&self.values)
        ))
    }
    fn ops(&self) -> Vec<&'static Op> {
        if self.cluster {
            vec![
                &ops::DESCRIBE_DB_CLUSTER_SNAPSHOT_ATTRIBUTES,
                &ops::MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE,
            ]
        } else {
            vec![
                &ops::DESCRIBE_DB_SNAPSHOT_ATTRIBUTES,
                &ops::MODIFY_DB_SNAPSHOT_ATTRIBUTE,
            ]
        }
    }
    fn targets(&self) -> Vec<Target> {
        let mut t = vec![Target::new("snapshot", &self.snapshot, IdKind::DbSnapshot)];
        t.extend(
            self.values
                .iter()
                .filter(|v| v.as_str() != "all")
                .map(|a| Target::new("values", a, IdKind::Account)),
        );
        t
    }
    fn describe(&self) -> String {
        let public = self.values.iter().any(|v| v == "all");
        let accounts: Vec<String> = self
            .values
            .iter()
            .filter(|v| *v != "all")
            .cloned()
            .collect();
        format!(
            "stop sharing RDS {}snapshot {} with {}",
            if self.cluster { "cluster " } else { "" },
            self.snapshot,
            shared_with(&accounts, public, &[])
        )
    }
}

/// Remove exactly the statement an AddPermission put on a function's resource policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoveLambdaPermission {
    pub function_name: String,
    pub statement_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
}

impl Step for RemoveLambdaPermission {
    // GetPolicy first: a statement already gone is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![
            Target::new("function_name", &self.function_name, IdKind::LambdaFunction),
            Target::new("statement_id", &self.statement_id, IdKind::StatementId),
        ]
    }
    fn describe(&self) -> String {
        format!(
            "remove permission {} from function {}{}",
            self.statement_id,
            self.function_name,
            self.qualifier
                .as_deref()
                .map(|q| format!(":{q}"))
                .unwrap_or_default()
        )
    }
}

/// Set a role's trust policy to the same document without the principals outside the
/// trusted set (trust.rs says how).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestrictRoleTrust {
    pub role_name: String,
    pub principals: Vec<String>,
    /// The accounts and organizations the trust's conditions named that the decision found
    /// outside the trusted set: the function judges the trust as it is when it acts the same
    /// way (`trust::inside_unless`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub untrusted_values: Vec<String>,
}

impl Step for RestrictRoleTrust {
    // GetRole first: the trust policy as it is now is changed, and one without those
    // principals is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("role_name", &self.role_name, IdKind::IamName)]
    }
    fn describe(&self) -> String {
        format!(
            "remove {} from the trust policy of role {}",
            self.principals.join(", "),
            self.role_name
        )
    }
}

/// Take a tag off EC2 resources where it still is (an exemption granted by someone not
/// allowed to grant it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoveTag {
    pub resource_ids: Vec<String>,
    pub key: String,
    /// (resource id, value) of the tag each carried before the call, read when acting (the
    /// undo puts them back).
    #[serde(skip)]
    pub previous: Vec<(String, String)>,
}

impl RemoveTag {
    pub fn new(resource_ids: Vec<String>, key: String) -> RemoveTag {
        RemoveTag {
            resource_ids,
            key,
            previous: vec![],
        }
    }
}

impl Step for RemoveTag {
    fn undo(&self) -> Option<String> {
        self.undo_commands().map(|c| c.join(" && "))
    }
    // One create-tags per value the resources had (read before the call), else `true`.
    fn undo_commands(&self) -> Option<Vec<String>> {
        let mut by_value: Vec<(&str, Vec<String>)> = vec![];
        for id in &self.resource_ids {
            let value = self
                .previous
                .iter()
                .find(|(r, _)| r == id)
                .map_or("true", |(_, v)| v.as_str());
            match by_value.iter_mut().find(|(v, _)| *v == value) {
                Some((_, ids)) => ids.push(id.clone()),
                None => by_value.push((value, vec![id.clone()])),
            }
        }
        let commands: Vec<String> = by_value
            .iter()
            .map(|(value, ids)| {
                format!(
                    "aws ec2 create-tags --resources {} --tags {}",
                    words(ids),
                    quote(&format!("Key={},Value={value}", self.key))
                )
            })
            .collect();
        (!commands.is_empty()).then_some(commands)
    }
    // DescribeTags first: resources that no longer carry the tag are already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        self.resource_ids
            .iter()
            .map(|r| Target::new("resource_ids", r, IdKind::Ec2Resource))
            .collect()
    }
    fn describe(&self) -> String {
        format!(
            "remove tag {} from {}",
            self.key,
            self.resource_ids.join(", ")
        )
    }
}

/// Take a tag off an IAM role where it still is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UntagRole {
    pub role_name: String,
    pub key: String,
    /// The tag's value before the call, read when acting (the undo puts it back).
    #[serde(skip)]
    pub previous: Option<String>,
}

impl Step for UntagRole {
    // The value the call read before taking the tag off, else `true` (the only kind of value
    // an exemption taken back has).
    fn undo(&self) -> Option<String> {
        Some(format!(
            "aws iam tag-role --role-name {} --tags {}",
            quote(&self.role_name),
            quote(&format!(
                "Key={},Value={}",
                self.key,
                self.previous.as_deref().unwrap_or("true")
            ))
        ))
    }
    // ListRoleTags first: a role without the tag (or gone) is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("role_name", &self.role_name, IdKind::IamName)]
    }
    fn describe(&self) -> String {
        format!("remove tag {} from role {}", self.key, self.role_name)
    }
}

/// Take an exemption tag off a bucket where it still is: S3 writes a bucket's whole tag set,
/// so the set is read, written back without the key (deleted when nothing is left), and the
/// set before is what the undo writes back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UntagBucket {
    pub bucket: String,
    pub key: String,
    /// The tag set before (`--tagging` JSON), read when acting.
    #[serde(skip)]
    pub previous: Option<String>,
}

impl Step for UntagBucket {
    // GetBucketTagging first: a bucket without the tag (or gone) is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        self.previous.as_deref().map(|p| {
            format!(
                "aws s3api put-bucket-tagging --bucket {} --tagging {}",
                quote(&self.bucket),
                quote(p)
            )
        })
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("bucket", &self.bucket, IdKind::Bucket)]
    }
    fn describe(&self) -> String {
        format!("remove tag {} from bucket {}", self.key, self.bucket)
    }
}

/// One action type that takes a tag off a database by its ARN where it still is (the tags
/// are read first: without the tag, or gone, it is already done); `$tag` is the CLI command
/// that puts the tag back.
macro_rules! untag_database {
    ($(#[$doc:meta])* $ty:ident, $tag:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct $ty {
            pub resource_arn: String,
            pub key: String,
            /// The tag's value before the call, read when acting (the undo puts it back).
            #[serde(skip)]
            pub previous: Option<String>,
        }

        impl $ty {
            pub fn new(resource_arn: String, key: String) -> $ty {
                $ty { resource_arn, key, previous: None }
            }
        }

        impl Step for $ty {
            fn ops(&self) -> Vec<&'static Op> {
                Self::INFO.ops.to_vec()
            }
            // The value the call read before taking the tag off, else `true`.
            fn undo(&self) -> Option<String> {
                Some(format!(
                    concat!($tag, " --resource-name {} --tags {}"),
                    quote(&self.resource_arn),
                    quote(&format!(
                        "Key={},Value={}",
                        self.key,
                        self.previous.as_deref().unwrap_or("true")
                    ))
                ))
            }
            fn targets(&self) -> Vec<Target> {
                vec![Target::new("resource_arn", &self.resource_arn, IdKind::DatabaseArn)]
            }
            fn describe(&self) -> String {
                format!("remove tag {} from {}", self.key, self.resource_arn)
            }
        }
    };
}

untag_database!(
    /// Take a tag off an RDS DB instance or cluster.
    UntagDbResource, "aws rds add-tags-to-resource"
);
untag_database!(
    /// Take a tag off a Redshift cluster.
    UntagRedshiftCluster, "aws redshift create-tags"
);

/// Make one RDS DB instance not publicly accessible (a change RDS applies at once, without
/// `ApplyImmediately`, which would also apply the changes queued for the maintenance window).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MakeDbInstancePrivate {
    pub db_instance: String,
}

impl Step for MakeDbInstancePrivate {
    fn undo(&self) -> Option<String> {
        Some(format!(
            "aws rds modify-db-instance --db-instance-identifier {} --publicly-accessible",
            quote(&self.db_instance)
        ))
    }
    // DescribeDBInstances first: an instance that is not public is already done, and one
    // still being created cannot be modified yet (a retryable failure).
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new(
            "db_instance",
            &self.db_instance,
            IdKind::DbIdentifier,
        )]
    }
    fn describe(&self) -> String {
        format!(
            "make RDS DB instance {} not publicly accessible",
            self.db_instance
        )
    }
}

/// Make the public instances of one RDS DB cluster not publicly accessible, at once. A
/// cluster's public access is its instances' (`ModifyDBCluster` has no such setting): the
/// function lists the members (DescribeDBClusters) and modifies each one still public.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MakeDbClusterPrivate {
    pub db_cluster: String,
    /// The members made private: empty when planned (every public member); once done, the
    /// ones the call changed (`Change::Removed`), which the report names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
}

impl Step for MakeDbClusterPrivate {
    // DescribeDBClusters first, then each member: one that is not public is left as it is,
    // and none public is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new(
            "db_cluster",
            &self.db_cluster,
            IdKind::DbIdentifier,
        )]
    }
    fn describe(&self) -> String {
        if self.instances.is_empty() {
            format!(
                "make the public instances of RDS DB cluster {} not publicly accessible",
                self.db_cluster
            )
        } else {
            format!(
                "make instances {} of RDS DB cluster {} not publicly accessible",
                self.instances.join(", "),
                self.db_cluster
            )
        }
    }
}

/// Make one Redshift cluster not publicly accessible.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MakeRedshiftClusterPrivate {
    pub cluster: String,
}

impl Step for MakeRedshiftClusterPrivate {
    fn undo(&self) -> Option<String> {
        Some(format!(
            "aws redshift modify-cluster --cluster-identifier {} --publicly-accessible",
            quote(&self.cluster)
        ))
    }
    // DescribeClusters first: a cluster that is not public is already done, and one still
    // being created cannot be modified yet (a retryable failure).
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("cluster", &self.cluster, IdKind::DbIdentifier)]
    }
    fn describe(&self) -> String {
        format!(
            "make Redshift cluster {} not publicly accessible",
            self.cluster
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// What people should be told, beyond the actions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub severity: Severity,
    pub title: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_type_and_the_target_fields() {
        let a: Action = RevokeRules {
            group_id: "sg-1".into(),
            egress: false,
            rule_ids: vec!["sgr-1".into()],
            permissions: vec![],
        }
        .into();
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"type": "revoke_security_group_rules", "group_id": "sg-1", "egress": false, "rule_ids": ["sgr-1"]})
        );
        assert_eq!(a.iam_actions(), ["ec2:RevokeSecurityGroupIngress"]);
        assert!(a.is_critical());
    }

    #[test]
    fn every_instance_calls_only_what_its_type_declares() {
        let samples: Vec<Action> = vec![
            RevokeRules {
                group_id: "g".into(),
                egress: true,
                rule_ids: vec![],
                permissions: vec![],
            }
            .into(),
            RevokeSessions::of(PrincipalKind::Role, None).into(),
            SummarizeKeyActivity {
                access_key_id: "k".into(),
                hours: 1,
            }
            .into(),
        ];
        for a in &samples {
            for op in a.step().ops() {
                assert!(a.info().ops.contains(&op), "{a:?} calls {op:?}");
            }
        }
        assert!(!samples[2].is_critical());
    }

    #[test]
    fn documents_and_tag_values() {
        let doc: serde_json::Value =
            serde_json::from_str(&RevokeSessions::document(1_795_000_000)).unwrap();
        assert_eq!(
            doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-11-18T11:06:40Z"
        );
        let t = TagUser {
            user_name: None,
            key: QUARANTINE_TAG.into(),
            reason: "GuardDuty <x> \"y\"".repeat(40),
        };
        let v = t.value(0);
        assert!(
            v.starts_with("1970-01-01T00:00:00Z GuardDuty  x   y "),
            "{v}"
        );
        assert_eq!(v.chars().count(), 256);
    }
}
/// A public access block as the AWS CLI takes it (`--public-access-block-configuration`),
/// from the document the function read before changing it; empty: there was none.
fn block_undo(previous: &str, put: String, delete: String) -> String {
    if previous.is_empty() {
        delete
    } else {
        format!(
            "{put} --public-access-block-configuration {}",
            quote(previous)
        )
    }
}

/// Switch a bucket's public access block back on: `flags` (the policy's
/// `s3.public_access_block`) over the switches already on; never one switched off.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PutBucketPublicAccessBlock {
    pub bucket: String,
    pub flags: Vec<String>,
    /// The block before the call (JSON; empty: none), read when acting, for the undo.
    #[serde(skip)]
    pub previous: Option<String>,
}

impl Step for PutBucketPublicAccessBlock {
    // GetPublicAccessBlock first: a bucket whose block already has the switches on is
    // already done, and the switches on are kept.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        let bucket = quote(&self.bucket);
        self.previous.as_deref().map(|p| {
            block_undo(
                p,
                format!("aws s3api put-public-access-block --bucket {bucket}"),
                format!("aws s3api delete-public-access-block --bucket {bucket}"),
            )
        })
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("bucket", &self.bucket, IdKind::Bucket)]
    }
    fn describe(&self) -> String {
        format!(
            "switch {} back on in the public access block of bucket {}",
            self.flags.join(", "),
            self.bucket
        )
    }
}

/// Switch the account's S3 public access block back on (S3 Control), as for a bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PutAccountPublicAccessBlock {
    pub account_id: String,
    pub flags: Vec<String>,
    #[serde(skip)]
    pub previous: Option<String>,
}

impl Step for PutAccountPublicAccessBlock {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        let account = quote(&self.account_id);
        self.previous.as_deref().map(|p| {
            block_undo(
                p,
                format!("aws s3control put-public-access-block --account-id {account}"),
                format!("aws s3control delete-public-access-block --account-id {account}"),
            )
        })
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("account_id", &self.account_id, IdKind::Account)]
    }
    fn describe(&self) -> String {
        format!(
            "switch {} back on in the S3 public access block of account {}",
            self.flags.join(", "),
            self.account_id
        )
    }
}

/// Switch a suspended GuardDuty detector back on (read first: enabled is already done).
/// Its settings, features and publishing frequency are not touched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnableDetector {
    pub detector_id: String,
}

impl Step for EnableDetector {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        Some(format!(
            "aws guardduty update-detector --detector-id {} --no-enable",
            quote(&self.detector_id)
        ))
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new(
            "detector_id",
            &self.detector_id,
            IdKind::GuardDutyDetector,
        )]
    }
    fn describe(&self) -> String {
        format!("switch GuardDuty detector {} back on", self.detector_id)
    }
}

/// Switch EBS encryption by default back on in the account's region (read first: on is
/// already done). The default key is not touched: whichever key the account set stays.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnableEbsEncryptionByDefault {
    pub account_id: String,
}

impl Step for EnableEbsEncryptionByDefault {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        Some("aws ec2 disable-ebs-encryption-by-default".into())
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("account_id", &self.account_id, IdKind::Account)]
    }
    fn describe(&self) -> String {
        format!(
            "switch EBS encryption by default back on for account {}",
            self.account_id
        )
    }
}

/// Block public sharing of the account's EBS snapshots in the region again, in `state`
/// (`block-all-sharing` or `block-new-sharing`); read first: a state as strict is already
/// done, and the state before is what the undo puts back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnableSnapshotBlockPublicAccess {
    pub account_id: String,
    pub state: String,
    /// The state before (`unblocked`, `block-new-sharing`), read when acting.
    #[serde(skip)]
    pub previous: Option<String>,
}

impl Step for EnableSnapshotBlockPublicAccess {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        match self.previous.as_deref()? {
            "" | "unblocked" => Some("aws ec2 disable-snapshot-block-public-access".into()),
            before => Some(format!(
                "aws ec2 enable-snapshot-block-public-access --state {}",
                quote(before)
            )),
        }
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("account_id", &self.account_id, IdKind::Account)]
    }
    fn describe(&self) -> String {
        format!(
            "block public sharing of EBS snapshots again ({}) for account {}",
            self.state, self.account_id
        )
    }
}

/// Block new public sharing of the account's AMIs in the region again (read first: blocked is
/// already done).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnableImageBlockPublicAccess {
    pub account_id: String,
}

impl Step for EnableImageBlockPublicAccess {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        Some("aws ec2 disable-image-block-public-access".into())
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("account_id", &self.account_id, IdKind::Account)]
    }
    fn describe(&self) -> String {
        format!(
            "block new public sharing of AMIs again for account {}",
            self.account_id
        )
    }
}

/// Require IMDSv2 on one instance (read first: required is already done); the other
/// metadata options are left as they are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequireImdsv2 {
    pub instance_id: String,
}

impl Step for RequireImdsv2 {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        Some(format!(
            "aws ec2 modify-instance-metadata-options --instance-id {} --http-tokens optional",
            quote(&self.instance_id)
        ))
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new(
            "instance_id",
            &self.instance_id,
            IdKind::Ec2Resource,
        )]
    }
    fn describe(&self) -> String {
        format!(
            "require IMDSv2 (session tokens) on instance {}",
            self.instance_id
        )
    }
}

/// Require IMDSv2 in the account's instance metadata defaults for the region (read first:
/// required is already done; the state before is what the undo puts back).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequireImdsv2Default {
    pub account_id: String,
    /// The default's `HttpTokens` before (`optional`, or empty: no preference), read when
    /// acting.
    #[serde(skip)]
    pub previous: Option<String>,
}

impl Step for RequireImdsv2Default {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        let before = match self.previous.as_deref()? {
            "" => "no-preference".to_string(),
            other => quote(other),
        };
        Some(format!(
            "aws ec2 modify-instance-metadata-defaults --http-tokens {before}"
        ))
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("account_id", &self.account_id, IdKind::Account)]
    }
    fn describe(&self) -> String {
        format!(
            "require IMDSv2 in the instance metadata defaults of account {}",
            self.account_id
        )
    }
}

/// Put the account's IAM password policy back to the baseline: the policy as it is when
/// acting, with every requirement of the baseline it lacks (nothing stronger is weakened;
/// read first: a policy that meets the baseline is already done).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PutPasswordPolicy {
    pub baseline: crate::state::PasswordPolicy,
    /// The policy before (`PasswordPolicy::cli_args` of IAM's answer; empty: the account had
    /// none), read when acting.
    #[serde(skip)]
    pub previous: Option<String>,
}

impl Step for PutPasswordPolicy {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        let previous = self.previous.as_deref()?.trim();
        if previous.is_empty() {
            return Some("aws iam delete-account-password-policy".into());
        }
        // IAM's own answer made into flags and numbers by `PasswordPolicy::cli_args`.
        Some(format!("aws iam update-account-password-policy {previous}"))
    }
    fn describe(&self) -> String {
        format!(
            "put the account's password policy back to the baseline ({})",
            self.baseline.cli_args().trim()
        )
    }
}

/// Cancel a KMS key's scheduled deletion (read first: a key not pending deletion is already
/// done). KMS leaves a cancelled key disabled; the executor enables it again only when the
/// key's CloudTrail history up to `scheduled_at` shows it enabled then
/// (`guards::encryption_keys::enabled_before`), and says why either way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CancelKeyDeletion {
    /// The key's ARN.
    pub key_id: String,
    /// When the deletion was scheduled (RFC 3339): the history is read up to then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    /// The waiting period the call asked for, which the undo asks for again.
    #[serde(skip)]
    pub pending_window_days: Option<i64>,
}

impl Step for CancelKeyDeletion {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        Some(format!(
            "aws kms schedule-key-deletion --key-id {} --pending-window-in-days {}",
            quote(&self.key_id),
            self.pending_window_days
                .filter(|d| (7..=30).contains(d))
                .unwrap_or(30)
        ))
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("key_id", &self.key_id, IdKind::KmsKeyArn)]
    }
    fn describe(&self) -> String {
        format!(
            "cancel the scheduled deletion of KMS key {} (enabled again if it was enabled)",
            self.key_id
        )
    }
}

/// Switch a KMS key's automatic rotation back on (read first: rotation on is already done),
/// with the rotation period of the key's last `EnableKeyRotation` before `disabled_at` in
/// CloudTrail, else KMS's default.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnableKeyRotation {
    /// The key's ARN.
    pub key_id: String,
    /// When rotation was switched off (RFC 3339): the history is read up to then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
}

impl Step for EnableKeyRotation {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        Some(format!(
            "aws kms disable-key-rotation --key-id {}",
            quote(&self.key_id)
        ))
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("key_id", &self.key_id, IdKind::KmsKeyArn)]
    }
    fn describe(&self) -> String {
        format!(
            "switch automatic rotation of KMS key {} back on",
            self.key_id
        )
    }
}

/// The public groups, for people.
fn groups_named(groups: &[String]) -> String {
    groups
        .iter()
        .map(|g| g.rsplit('/').next().unwrap_or(g).to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Take every grant to these public groups (`AllUsers`, `AuthenticatedUsers`) out of a
/// bucket's ACL as it is when acting; the owner, named accounts and the log-delivery group
/// keep theirs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoveBucketAclGrants {
    pub bucket: String,
    pub groups: Vec<String>,
    /// The ACL before the call (`--access-control-policy` JSON), read when acting.
    #[serde(skip)]
    pub previous: Option<String>,
}

impl Step for RemoveBucketAclGrants {
    // GetBucketAcl first: an ACL without those grants is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        self.previous.as_deref().map(|p| {
            format!(
                "aws s3api put-bucket-acl --bucket {} --access-control-policy {}",
                quote(&self.bucket),
                quote(p)
            )
        })
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("bucket", &self.bucket, IdKind::Bucket)]
    }
    fn describe(&self) -> String {
        format!(
            "remove the grants to {} from the ACL of bucket {}",
            groups_named(&self.groups),
            self.bucket
        )
    }
}

/// Take every grant to these public groups out of one object's ACL (a `PutObjectAcl` data
/// event), as for a bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoveObjectAclGrants {
    pub bucket: String,
    pub key: String,
    /// The version the call changed, when it named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub groups: Vec<String>,
    /// The object's ACL before the call (`--access-control-policy` JSON), read when acting.
    #[serde(skip)]
    pub previous: Option<String>,
}

impl Step for RemoveObjectAclGrants {
    // GetObjectAcl first: an ACL without those grants is already done.
    fn ops(&self) -> Vec<&'static Op> {
        if self.version_id.is_some() {
            vec![&ops::GET_OBJECT_VERSION_ACL, &ops::PUT_OBJECT_VERSION_ACL]
        } else {
            vec![&ops::GET_OBJECT_ACL, &ops::PUT_OBJECT_ACL]
        }
    }
    fn undo(&self) -> Option<String> {
        let version = self
            .version_id
            .as_deref()
            .map(|v| format!(" --version-id {}", quote(v)))
            .unwrap_or_default();
        self.previous.as_deref().map(|p| {
            format!(
                "aws s3api put-object-acl --bucket {} --key {}{version} --access-control-policy {}",
                quote(&self.bucket),
                quote(&self.key),
                quote(p)
            )
        })
    }
    fn targets(&self) -> Vec<Target> {
        vec![
            Target::new("bucket", &self.bucket, IdKind::Bucket),
            Target::new("key", &self.key, IdKind::ObjectKey),
        ]
    }
    fn describe(&self) -> String {
        format!(
            "remove the grants to {} from the ACL of s3://{}/{}{}",
            groups_named(&self.groups),
            self.bucket,
            self.key,
            self.version_id
                .as_deref()
                .map(|v| format!(" (version {v})"))
                .unwrap_or_default()
        )
    }
}

/// Set a bucket's policy to the same document without the principals outside the trusted
/// set (grants.rs says how); delete it when no statement is left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestrictBucketPolicy {
    pub bucket: String,
    pub principals: Vec<String>,
    /// The accounts and organizations the policy's conditions named that the decision found
    /// outside the trusted set (`grants::judge`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub untrusted_values: Vec<String>,
    /// The policy before the call, read when acting, for the undo.
    #[serde(skip)]
    pub previous: Option<String>,
}

impl Step for RestrictBucketPolicy {
    // GetBucketPolicy first: the policy as it is now is changed, and one without those
    // principals is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn undo(&self) -> Option<String> {
        self.previous.as_deref().map(|p| {
            format!(
                "aws s3api put-bucket-policy --bucket {} --policy {}",
                quote(&self.bucket),
                quote(p)
            )
        })
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("bucket", &self.bucket, IdKind::Bucket)]
    }
    fn describe(&self) -> String {
        format!(
            "remove {} from the policy of bucket {}",
            crate::grants::Exposure::describe(&self.principals),
            self.bucket
        )
    }
}
