//! The ports: one small trait per AWS service trailguard calls, implemented directly on the
//! SDK clients (ec2.rs, iam.rs, trail.rs, notify.rs) and by recording fakes in tests.
//!
//! Every method has a default body that fails with [`PortError::NotWired`]: [`Unwired`]
//! stands in for a service a function does not use, so each binary links only the clients
//! it needs, and reaching an unwired port is a clear, permanent error instead of a no-op.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use trailguard_rules::facts::PrefixListFacts;
use trailguard_rules::finding::{FindingOutcome, FindingUpdate};
use trailguard_rules::ops::{self, Op};
use trailguard_rules::resources::{PolicyKind, PolicyState};
use trailguard_rules::state::{
    AccountBlockState, BucketState, Ec2DefaultsState, EncryptionKeyState, PasswordPolicy,
};
use trailguard_rules::sweep::{
    AclEntry, AclState, Checkpoint, DatabaseState, KeyState, ShareState, TrailState,
};
use trailguard_rules::{GroupFacts, Guard, Permission, PrincipalKind, Report, Tags};

use crate::error::PortError;

/// The result of a mutating call that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Done,
    /// Done, and exactly these of the action's values were there and were taken away
    /// (accounts, `all`, organization ARNs, resource ids, CIDRs): the undo puts back these,
    /// never more than was there.
    Removed(Vec<String>),
    /// Nothing to do: the state was already what the action wants (why).
    AlreadyDone(String),
}

pub type PortResult<T> = Result<T, PortError>;

/// A look-first port's look: the decision's read of moments ago when it is handed one
/// (`executor::Context::facts`), else `fetch` (not polled then).
pub(crate) async fn read_or<T: Clone>(
    read: Option<&T>,
    fetch: impl Future<Output = PortResult<T>>,
) -> PortResult<T> {
    match read {
        Some(read) => Ok(read.clone()),
        None => fetch.await,
    }
}

/// An instance as DescribeInstances answers it: its tags (an exemption) and whether its
/// metadata service requires tokens (IMDSv2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceNow {
    pub tags: Tags,
    pub tokens_required: bool,
}

/// One page of a sweep's listing, and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

fn not_wired<T: Send>(method: &'static str) -> impl Future<Output = PortResult<T>> + Send {
    std::future::ready(Err(PortError::NotWired { op: method }))
}

/// A port: a trait whose every method a wired client must implement (the compiler checks the
/// SDK adapters and the fakes), and its [`Unwired`] stand-in, whose every method fails as
/// not wired. Written once, so a new method is one line here and its implementations.
macro_rules! port {
    ($(#[$doc:meta])* pub trait $port:ident {
        $($(#[$mdoc:meta])* fn $method:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;)*
    }) => {
        $(#[$doc])*
        pub trait $port: Send + Sync {
            /// Whether a client stands behind the port ([`Unwired`] says no).
            fn wired(&self) -> bool {
                true
            }
            $($(#[$mdoc])*
            fn $method(&self $(, $arg: $ty)*) -> impl Future<Output = PortResult<$ret>> + Send;)*
        }

        impl $port for Unwired {
            fn wired(&self) -> bool {
                false
            }
            $(fn $method(&self $(, _: $ty)*) -> impl Future<Output = PortResult<$ret>> + Send {
                not_wired(stringify!($method))
            })*
        }
    };
}

port! {
pub trait Ec2Port {
    fn revoke_rules(&self, group_id: &str, egress: bool, rule_ids: &[String]) -> Change;
    fn revoke_permissions(
        &self,
        group_id: Option<&str>,
        group_name: Option<&str>,
        egress: bool,
        perms: &[Permission],
    ) -> Change;
    fn authorize_permissions(&self, group_id: &str, egress: bool, perms: &[Permission]) -> Change;
    fn describe_group(
        &self,
        group_id: Option<&str>,
        group_name: Option<&str>,
    ) -> Option<GroupFacts>;
    /// Rule id -> is egress, for the rules that exist.
    fn rule_directions(&self, group_id: &str, rule_ids: &[String]) -> BTreeMap<String, bool>;
    /// A group with its tags and every rule; None when it does not exist.
    fn group_state(&self, group_id: &str) -> Option<GroupFacts>;
    /// Delete one entry, read first: a missing entry is already done, and one that no longer
    /// is `expected` (replaced since the event) is left as it is. `read` is the ACL as this
    /// invocation read it moments ago (`Some(None)`: it did not exist); without it the ACL
    /// is read here.
    fn delete_nacl_entry(
        &self,
        acl_id: &str,
        rule_number: i64,
        egress: bool,
        expected: Option<&AclEntry>,
        read: Option<&Option<AclState>>,
    ) -> Change;
    /// A managed prefix list's owner, name and entries; None when it does not exist.
    fn prefix_list(&self, prefix_list_id: &str) -> Option<PrefixListFacts>;
    /// Remove these CIDRs from a managed prefix list: those still in it and not in version
    /// `previous_version` (what the list held before the call that added them).
    fn remove_prefix_list_entries(
        &self,
        prefix_list_id: &str,
        cidrs: &[String],
        previous_version: Option<i64>,
    ) -> Change;
    /// A network ACL with its tags and entries; None when it does not exist.
    fn acl_state(&self, acl_id: &str) -> Option<AclState>;
    /// Remove these launch permissions from an image (those still there).
    fn unshare_image(
        &self,
        image_id: &str,
        accounts: &[String],
        public: bool,
        organizations: &[String],
    ) -> Change;
    /// A page of security groups, each with its tags and every rule (the sweep).
    fn list_groups(&self, token: Option<String>) -> Page<GroupFacts>;
    /// A page of network ACLs with their entries and tags (the sweep).
    fn list_acls(&self, token: Option<String>) -> Page<AclState>;
    /// A page of the account's own images, with whom each is shared (the sweep).
    fn list_image_shares(&self, token: Option<String>) -> Page<ShareState>;
    /// A page of the account's own snapshots, with whom each is shared (the sweep).
    fn list_snapshot_shares(&self, token: Option<String>) -> Page<ShareState>;
    /// Take a tag off the resources that still carry it.
    fn remove_tag(&self, resource_ids: &[String], key: &str) -> Change;
    /// Remove these create-volume permissions from a snapshot (those still there).
    fn unshare_snapshot(&self, snapshot_id: &str, accounts: &[String], public: bool) -> Change;
    /// Switch EBS encryption by default on in the client's region (read first).
    fn enable_ebs_encryption_by_default(&self) -> Change;
    /// Block public sharing of snapshots in `state`, unless the block is as strict already
    /// (`Change::Removed` carries the state before).
    fn enable_snapshot_block_public_access(&self, state: &str) -> Change;
    /// Block new public sharing of AMIs (read first).
    fn enable_image_block_public_access(&self) -> Change;
    /// An instance's tags and whether it requires IMDSv2 (one DescribeInstances; None: no
    /// such instance).
    fn instance(&self, instance_id: &str) -> Option<InstanceNow>;
    /// Require IMDSv2 on an instance (read first; its other metadata options kept). `read`
    /// is the instance as this invocation's decision read it moments ago (`Some(None)`: it
    /// did not exist); without it the instance is read here.
    fn require_imdsv2(&self, instance_id: &str, read: Option<&Option<bool>>) -> Change;
    /// Require IMDSv2 in the account's instance metadata defaults (read first;
    /// `Change::Removed` carries the `HttpTokens` before, empty for no preference).
    fn require_imdsv2_default(&self) -> Change;
    /// The account's EBS encryption default and snapshot and AMI blocks in the client's
    /// region (the sweep).
    fn ec2_defaults(&self, account: &str, region: &str) -> Ec2DefaultsState;
}
}

port! {
pub trait IamPort {
    fn deactivate_key(&self, user: &str, key_id: &str) -> Change;
    fn put_deny_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> Change;
    fn tag_user(&self, user: &str, key: &str, value: &str) -> Change;
    /// The user owning a key, or None when the key does not exist in this account.
    fn key_owner(&self, key_id: &str) -> Option<String>;
    /// Take these principals out of a role's trust policy as it is now, where no condition
    /// restricts them to the trusted set (`untrusted` are the condition values outside it).
    /// Read right before it is rewritten, never from the decision's read: a document written
    /// from a read taken before the ledger gate could put back what a concurrent remediation
    /// took out.
    fn restrict_role_trust(
        &self,
        role: &str,
        principals: &[String],
        untrusted: &[String],
    ) -> Change;
    /// The keys a sweep looks at: the honeytokens that exist in this account, and the keys
    /// of users carrying AWS's quarantine policy.
    fn sweep_keys(&self, honeytokens: &[String]) -> Vec<KeyState>;
    /// Take a tag off a role, if it still carries it.
    fn untag_role(&self, role: &str, key: &str) -> Change;
    /// The account's password policy with every requirement of `baseline` it lacks (read
    /// first: one that meets it is already done; `Change::Removed` carries the policy before,
    /// as the CLI arguments that set it, or empty when there was none).
    fn put_password_policy(&self, baseline: &PasswordPolicy) -> Change;
    /// Whether a user carries a tag (any value), or None when the user does not exist.
    fn user_has_tag(&self, user: &str, key: &str) -> Option<bool>;
    /// A role's tags, or None when the role does not exist.
    fn role_tags(&self, role: &str) -> Option<Tags>;
    /// The account's password policy (None: it has none).
    fn password_policy(&self) -> Option<PasswordPolicy>;
}
}

/// One CloudTrail event of a lookup (the forensic summary, a key's history).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrailEvent {
    pub name: String,
    pub time: Option<i64>,
    pub source_ip: Option<String>,
    pub region: Option<String>,
    /// The service that wrote it (`eventSource`: `kms.amazonaws.com`).
    pub source: Option<String>,
    /// The call's error code (None: it succeeded).
    pub error_code: Option<String>,
    /// The call's `requestParameters` (Null when the record has none).
    pub request_parameters: serde_json::Value,
    /// The resources it names (`LookupEvents`' `Resources`: ARNs or names).
    pub resources: Vec<String>,
    /// The caller's ARNs: `userIdentity.arn` and a session's issuer.
    pub principals: Vec<String>,
}

port! {
pub trait TrailPort {
    /// Whether the trail is logging now (`GetTrailStatus`; `None` when the answer omits it).
    fn trail_is_logging(&self, trail: &str) -> Option<bool>;
    /// `StartLogging` alone: idempotent, so it needs no status read to be safe.
    fn start_logging(&self, trail: &str) -> Change;
    fn update_trail(
        &self,
        trail: &str,
        multi_region: Option<bool>,
        log_file_validation: Option<bool>,
        global_service_events: Option<bool>,
    ) -> Change;
    /// Events made with a key between two epoch seconds, at most `max_pages` pages.
    fn lookup_key_events(
        &self,
        key_id: &str,
        start: i64,
        end: i64,
        max_pages: usize,
    ) -> Vec<TrailEvent>;
    /// Events about a resource (by its ARN) between two epoch seconds, newest first, at most
    /// `max_pages` pages.
    fn lookup_resource_events(
        &self,
        resource: &str,
        start: i64,
        end: i64,
        max_pages: usize,
    ) -> Vec<TrailEvent>;
    /// Events of one name (`ScheduleKeyDeletion`) between two epoch seconds, newest first,
    /// at most `max_pages` pages.
    fn lookup_named_events(
        &self,
        event_name: &str,
        start: i64,
        end: i64,
        max_pages: usize,
    ) -> Vec<TrailEvent>;
    /// Record management events again, reads and writes, keeping the trail's data-event
    /// selectors.
    fn restore_management_events(&self, trail: &str) -> Change;
    /// The trails of this region (and organization trails visible here), with their status.
    fn list_trails(&self) -> Vec<TrailState>;
    /// The buckets the account's trails deliver to.
    fn trail_buckets(&self) -> BTreeSet<String>;
}
}

port! {
pub trait RdsPort {
    /// Remove these `restore` values from a DB (or cluster) snapshot (those still there).
    fn unshare_db_snapshot(&self, snapshot: &str, cluster: bool, values: &[String]) -> Change;
    /// A DB instance as it is now (public, status, tags); None when it does not exist.
    fn db_instance(&self, id: &str) -> Option<DatabaseState>;
    /// A DB cluster as it is now; None when it does not exist.
    fn db_cluster(&self, id: &str) -> Option<DatabaseState>;
    /// A page of the account's DB instances (the sweep; members of Multi-AZ DB clusters,
    /// whose public access is the cluster's, are left to the cluster listing).
    fn list_db_instances(&self, token: Option<String>) -> Page<DatabaseState>;
    /// A page of the account's DB clusters (the sweep).
    fn list_db_clusters(&self, token: Option<String>) -> Page<DatabaseState>;
    /// Make a DB instance not publicly accessible, at once, read first. `read` is the
    /// instance as this invocation read it moments ago (`Some(None)`: it did not exist);
    /// without it the instance is read here.
    fn make_db_instance_private(&self, id: &str, read: Option<&Option<DatabaseState>>) -> Change;
    /// Make a DB cluster's public instances not publicly accessible, at once: the members
    /// changed (`Change::Removed`).
    fn make_db_cluster_private(&self, id: &str) -> Change;
    /// Take a tag off a DB instance or cluster (by ARN), read first: without it (or gone),
    /// already done.
    fn remove_db_tag(&self, arn: &str, key: &str) -> Change;
}
}

port! {
pub trait RedshiftPort {
    /// A Redshift cluster as it is now; None when it does not exist.
    fn redshift_cluster(&self, id: &str) -> Option<DatabaseState>;
    /// A page of the account's Redshift clusters (the sweep).
    fn list_redshift_clusters(&self, token: Option<String>) -> Page<DatabaseState>;
    /// Make a Redshift cluster not publicly accessible, read first (`read`: as for
    /// `make_db_instance_private`).
    fn make_redshift_cluster_private(
        &self,
        id: &str,
        read: Option<&Option<DatabaseState>>,
    ) -> Change;
    /// Take a tag off a Redshift cluster (by ARN), read first.
    fn remove_redshift_tag(&self, arn: &str, key: &str) -> Change;
}
}

port! {
pub trait LambdaPort {
    /// Remove one statement from a function's resource policy.
    fn remove_permission(
        &self,
        function: &str,
        statement_id: &str,
        qualifier: Option<&str>,
    ) -> Change;
}
}

port! {
/// S3: buckets.
pub trait S3Port {
    /// Switch these public access block switches on for a bucket, over those on (the
    /// block before is what `Change::Removed` carries: its JSON, or empty for none).
    fn put_bucket_block(&self, bucket: &str, flags: &[String]) -> Change;
    /// Take every grant to these public groups out of a bucket's ACL as it is now (the ACL
    /// before is what `Change::Removed` carries).
    fn remove_bucket_acl_grants(&self, bucket: &str, groups: &[String]) -> Change;
    /// The same for one object (or one version of it).
    fn remove_object_acl_grants(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        groups: &[String],
    ) -> Change;
    /// Take these principals out of a bucket's policy as it is now, where no condition
    /// restricts them (`untrusted`: the condition values outside the trusted set); delete
    /// the policy when nothing is left (the policy before is what `Change::Removed` carries).
    fn restrict_bucket_policy(
        &self,
        bucket: &str,
        principals: &[String],
        untrusted: &[String],
    ) -> Change;
    /// A bucket's tags, or None when the bucket does not exist.
    fn bucket_tags(&self, bucket: &str) -> Option<Tags>;
    /// A bucket as it is now, or None when it does not exist.
    fn bucket_state(&self, bucket: &str) -> Option<BucketState>;
    /// A page of this region's buckets, each as it is now (the sweep).
    fn list_buckets(&self, token: Option<String>) -> Page<BucketState>;
    /// Take a tag out of a bucket's tag set as it is now (the set before is what
    /// `Change::Removed` carries: `--tagging` JSON).
    fn remove_bucket_tag(&self, bucket: &str, key: &str) -> Change;
}
}

port! {
/// S3 Control: the account's public access block.
pub trait S3ControlPort {
    /// Switch these public access block switches on for the account, over those on (the
    /// block before is what `Change::Removed` carries: its JSON, or empty for none).
    fn put_account_block(&self, account: &str, flags: &[String]) -> Change;
    /// The account's public access block (the sweep).
    fn account_block(&self, account: &str) -> AccountBlockState;
}
}

port! {
/// KMS: a key's life (guards/encryption_keys.rs). Every change reads the key first: a key
/// already as wanted is `already_done`.
pub trait KeyPort {
    /// The key as it is now: state, manager, deletion date, tags (None: no such key).
    fn key_now(&self, key_id: &str) -> Option<EncryptionKeyState>;
    /// Cancel the key's pending deletion (KMS leaves it disabled); a key not pending
    /// deletion is already done. `read` is the key as this invocation's decision read it
    /// moments ago (`Some(None)`: it did not exist); without it the key is read here.
    fn cancel_key_deletion(
        &self,
        key_id: &str,
        read: Option<&Option<EncryptionKeyState>>,
    ) -> Change;
    /// Enable the key; an enabled key is already done.
    fn enable_key(&self, key_id: &str) -> Change;
    /// Switch automatic rotation on, with this period when given; rotation already on is
    /// already done.
    fn enable_key_rotation(&self, key_id: &str, period_days: Option<i64>) -> Change;
    /// Whether automatic rotation is on (`GetKeyRotationStatus`).
    fn rotation_on(&self, key_id: &str) -> bool;
    /// A page of the account's keys in the client's region, each as `key_now` reads it
    /// (the sweep; AWS managed keys without their tags and rotation).
    fn list_keys(&self, token: Option<String>) -> Page<EncryptionKeyState>;
}
}

port! {
/// GuardDuty: a suspended detector switched back on.
pub trait GuardDutyPort {
    /// Switch the detector on (read first: an enabled detector is already done; one that no
    /// longer exists is too, and says so).
    fn enable_detector(&self, detector_id: &str) -> Change;
    /// The region's detectors with their status (the sweep, GuardDuty.1).
    fn detectors(&self) -> Vec<(String, String)>;
    /// Archive a finding with the region's detector (only an administrator account, or an
    /// account on its own, may): `Updated` once GuardDuty accepted it.
    fn archive_finding(&self, finding_id: &str) -> FindingOutcome;
}
}

port! {
/// Security Hub: the finding an event carried, updated once trailguard has acted
/// (trailguard_rules::finding decides what to write).
pub trait SecurityHubPort {
    /// Write the finding's workflow status and note: `Updated` when Security Hub lists it
    /// as processed, `NotFound` when it answers that it has no such finding.
    fn update_finding(&self, update: &FindingUpdate) -> FindingOutcome;
}
}

port! {
/// IAM's account alias, which notices show beside the account id.
pub trait AliasPort {
    /// The account's alias (None: it has none).
    fn account_alias(&self) -> Option<String>;
}
}

port! {
pub trait OrgPort {
    /// The accounts of the organization (looked up once per container and hour).
    fn organization_accounts(&self) -> BTreeSet<String>;
}
}

/// Resource policies (SQS, SNS, Secrets Manager, KMS, ECR, OpenSearch, Glacier, EFS): one
/// port over every kind, each SDK client serving its own ([`PolicyPort::serves`]); a function
/// wires the clients of its kinds one by one (`with_sqs`, `with_kms`, ...), which nest as
/// pairs. Restricting is written once, over these calls (policies.rs).
pub trait PolicyPort: Send + Sync {
    /// Whether this port answers for resources of `kind`.
    fn serves(&self, kind: PolicyKind) -> bool;
    /// The resource's policy now (Some(None): it has none); None when the resource does not
    /// exist. One call: what restricting reads.
    fn read_policy(
        &self,
        kind: PolicyKind,
        resource: &str,
    ) -> impl Future<Output = PortResult<Option<Option<String>>>> + Send;
    /// The resource's policy and tags now; None when the resource does not exist.
    fn describe_policy(
        &self,
        kind: PolicyKind,
        resource: &str,
    ) -> impl Future<Output = PortResult<Option<PolicyState>>> + Send;
    /// Replace the resource's policy.
    fn put_policy(
        &self,
        kind: PolicyKind,
        resource: &str,
        document: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send;
    /// Delete the resource's policy (where the service allows it).
    fn delete_policy(
        &self,
        kind: PolicyKind,
        resource: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send;
    /// A page of the account's resources of `kind`, with their policies and tags (the sweep).
    fn list_policies(
        &self,
        kind: PolicyKind,
        token: Option<String>,
    ) -> impl Future<Output = PortResult<Page<PolicyState>>> + Send;
    /// Take the tag `key` off the resource (an exemption given by anyone but a tag admin).
    /// The tags are read first: a resource without it, or gone, is `Change::AlreadyDone`;
    /// taken off, `Change::Removed` holds its value before (the undo puts it back).
    fn untag_resource(
        &self,
        kind: PolicyKind,
        resource: &str,
        key: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send;
    /// The value of the resource's tag `key` (None: the resource is gone; `Some(None)`: it
    /// has no such tag).
    fn tag_value(
        &self,
        kind: PolicyKind,
        resource: &str,
        key: &str,
    ) -> impl Future<Output = PortResult<Option<Option<String>>>> + Send;
    /// Tag the resource `key=value` (`trailguard undo` of an exemption taken back).
    fn tag_resource(
        &self,
        kind: PolicyKind,
        resource: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send;
}

fn unserved<T: Send>(kind: PolicyKind) -> impl Future<Output = PortResult<T>> + Send {
    std::future::ready(Err(PortError::NotWired {
        op: match kind {
            PolicyKind::Queue => "sqs",
            PolicyKind::Topic => "sns",
            PolicyKind::Secret => "secretsmanager",
            PolicyKind::Key => "kms",
            PolicyKind::Repository => "ecr",
            PolicyKind::Domain => "opensearch",
            PolicyKind::Vault => "glacier",
            PolicyKind::FileSystem => "efs",
        },
    }))
}

impl PolicyPort for Unwired {
    fn serves(&self, _: PolicyKind) -> bool {
        false
    }
    fn read_policy(
        &self,
        kind: PolicyKind,
        _: &str,
    ) -> impl Future<Output = PortResult<Option<Option<String>>>> + Send {
        unserved(kind)
    }
    fn describe_policy(
        &self,
        kind: PolicyKind,
        _: &str,
    ) -> impl Future<Output = PortResult<Option<PolicyState>>> + Send {
        unserved(kind)
    }
    fn put_policy(
        &self,
        kind: PolicyKind,
        _: &str,
        _: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        unserved(kind)
    }
    fn delete_policy(
        &self,
        kind: PolicyKind,
        _: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        unserved(kind)
    }
    fn list_policies(
        &self,
        kind: PolicyKind,
        _: Option<String>,
    ) -> impl Future<Output = PortResult<Page<PolicyState>>> + Send {
        unserved(kind)
    }
    fn untag_resource(
        &self,
        kind: PolicyKind,
        _: &str,
        _: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        unserved(kind)
    }
    fn tag_value(
        &self,
        kind: PolicyKind,
        _: &str,
        _: &str,
    ) -> impl Future<Output = PortResult<Option<Option<String>>>> + Send {
        unserved(kind)
    }
    fn tag_resource(
        &self,
        kind: PolicyKind,
        _: &str,
        _: &str,
        _: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        unserved(kind)
    }
}

/// Two policy ports: the second answers for the kinds it serves, the first for the rest.
impl<A: PolicyPort, B: PolicyPort> PolicyPort for (A, B) {
    fn serves(&self, kind: PolicyKind) -> bool {
        self.0.serves(kind) || self.1.serves(kind)
    }
    async fn read_policy(
        &self,
        kind: PolicyKind,
        resource: &str,
    ) -> PortResult<Option<Option<String>>> {
        if self.1.serves(kind) {
            self.1.read_policy(kind, resource).await
        } else {
            self.0.read_policy(kind, resource).await
        }
    }
    async fn describe_policy(
        &self,
        kind: PolicyKind,
        resource: &str,
    ) -> PortResult<Option<PolicyState>> {
        if self.1.serves(kind) {
            self.1.describe_policy(kind, resource).await
        } else {
            self.0.describe_policy(kind, resource).await
        }
    }
    async fn put_policy(
        &self,
        kind: PolicyKind,
        resource: &str,
        document: &str,
    ) -> PortResult<Change> {
        if self.1.serves(kind) {
            self.1.put_policy(kind, resource, document).await
        } else {
            self.0.put_policy(kind, resource, document).await
        }
    }
    async fn delete_policy(&self, kind: PolicyKind, resource: &str) -> PortResult<Change> {
        if self.1.serves(kind) {
            self.1.delete_policy(kind, resource).await
        } else {
            self.0.delete_policy(kind, resource).await
        }
    }
    async fn list_policies(
        &self,
        kind: PolicyKind,
        token: Option<String>,
    ) -> PortResult<Page<PolicyState>> {
        if self.1.serves(kind) {
            self.1.list_policies(kind, token).await
        } else {
            self.0.list_policies(kind, token).await
        }
    }
    async fn untag_resource(
        &self,
        kind: PolicyKind,
        resource: &str,
        key: &str,
    ) -> PortResult<Change> {
        if self.1.serves(kind) {
            self.1.untag_resource(kind, resource, key).await
        } else {
            self.0.untag_resource(kind, resource, key).await
        }
    }
    async fn tag_value(
        &self,
        kind: PolicyKind,
        resource: &str,
        key: &str,
    ) -> PortResult<Option<Option<String>>> {
        if self.1.serves(kind) {
            self.1.tag_value(kind, resource, key).await
        } else {
            self.0.tag_value(kind, resource, key).await
        }
    }
    async fn tag_resource(
        &self,
        kind: PolicyKind,
        resource: &str,
        key: &str,
        value: &str,
    ) -> PortResult<Change> {
        if self.1.serves(kind) {
            self.1.tag_resource(kind, resource, key, value).await
        } else {
            self.0.tag_resource(kind, resource, key, value).await
        }
    }
}

/// A breaker's answer: the action may go, or the guard has acted enough this hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// Counted: `count` actions in the last hour, this one included.
    Granted { count: u32 },
    /// Refused: `count` actions in the last hour already (the actor's when `by_actor`,
    /// else the account's); `first` for the refusal that opened the breaker (the one that
    /// tells people).
    Refused {
        count: u32,
        first: bool,
        by_actor: bool,
    },
}

/// One actor's changes may open a breaker for that actor only: the account's breaker holds
/// this many times `max_actions_per_hour`, so a principal who floods trailguard with its own
/// containment (self-service keys used from outside, its own sandbox opened again and again)
/// holds back only its own, and the account stays bounded.
pub const ACCOUNT_FACTOR: u32 = 5;

/// Who acts on one action of one event, when several deliveries of it run at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This delivery acts.
    Won,
    /// Another delivery acted, with this outcome.
    Done { outcome: String },
    /// Another delivery is acting, its lease running until this epoch second.
    Busy { lease_until: i64 },
}

/// A plan waiting for approval, as the ledger keeps it (approval.rs; `ledger.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptPlan {
    /// The `approval::StoredPlan`, as JSON.
    pub plan: String,
    /// `approval::PlanState`'s name.
    pub state: String,
    /// Epoch seconds after which it cannot be approved.
    pub approve_by: i64,
    /// Who approved, rejected or refused it.
    pub by: Option<String>,
}

port! {
/// The ledger: a DynamoDB table shared by every container and account, for the breaker's
/// counts and exactly-once claims. Every write is conditional, so concurrent deliveries never
/// count past a limit or both win a claim.
pub trait LedgerPort {
    /// Count one mutating action caused by `actor` in a breaker's `scope` (a guard in one
    /// account, `gate::breaker_scope`) at `now_ms`, unless `limit` actions of that actor,
    /// or `limit * ACCOUNT_FACTOR` in all, were counted in the hour before it.
    fn take_slot(&self, table: &str, scope: &str, actor: &str, limit: u32, now_ms: i64) -> Slot;
    /// Give back the slot taken at `at_ms`: the action changed nothing (already done) or
    /// failed, and only changes count.
    fn give_back_slot(&self, table: &str, scope: &str, actor: &str, at_ms: i64) -> ();
    /// Claim an action of an event for this delivery (`owner`), for `lease` seconds.
    fn claim(&self, table: &str, key: &str, owner: &str, now: i64, lease: i64) -> Claim;
    /// What a claim says now (after waiting on a busy one).
    fn claim_state(&self, table: &str, key: &str) -> Option<Claim>;
    /// Record the outcome of a won claim, and the typed call that undoes what it did (JSON;
    /// `trailguard undo` runs only a reversal the ledger holds), kept until `keep_until`
    /// (epoch seconds; the policy's `undo_retention_days`).
    fn finish(
        &self,
        table: &str,
        key: &str,
        owner: &str,
        outcome: &str,
        reversal: Option<&str>,
        keep_until: i64,
    ) -> ();
    /// The reversal a finished claim holds (None: no such claim, or none kept).
    fn claimed_reversal(&self, table: &str, key: &str) -> Option<String>;
    /// Give a won claim up (the action failed, or was not made), so a redelivery acts.
    fn release(&self, table: &str, key: &str, owner: &str) -> ();
    /// Where the last sweep of `key` stopped (None: it finished, or never ran).
    fn checkpoint(&self, table: &str, key: &str) -> Option<Checkpoint>;
    /// Remember where a sweep stopped, or (None) that it finished.
    fn save_checkpoint(
        &self,
        table: &str,
        key: &str,
        checkpoint: Option<&Checkpoint>,
        now: i64,
    ) -> ();
    /// Close a breaker (a guard in one account): forget its counts. True when there was
    /// something to forget.
    fn reset_breaker(&self, table: &str, scope: &str) -> bool;
    /// Mark a finished claim as undone (`trailguard undo`): its outcome becomes `note` and it
    /// is kept until at least `keep_until`, so a redelivery of the event reports it instead
    /// of acting again. False when there is no finished claim of that key.
    fn mark_undone(&self, table: &str, key: &str, note: &str, keep_until: i64) -> bool;
    /// Keep a delivery's report of an event (JSON) beside the function's others of that
    /// event (`key`: `ledger::report_key`), until `keep_until`: `trailguard undo --event-id`
    /// reads them.
    fn keep_report(&self, table: &str, key: &str, report: &str, keep_until: i64) -> ();
    /// The reports kept under `key`, oldest first (none: nothing was done, or they expired).
    fn kept_reports(&self, table: &str, key: &str) -> Vec<String>;
    /// Record beside the reports under `key` who undid what (JSON), kept at least until
    /// `keep_until`.
    fn record_undo(&self, table: &str, key: &str, record: &str, keep_until: i64) -> ();
    /// Keep a plan waiting for approval under `key` (`approval::ledger_key`) until
    /// `keep_until`, unless a plan is kept there already; the plan as kept (this one, or the
    /// one a delivery before kept: a redelivery never resets a plan's state or expiry).
    fn offer_plan(
        &self,
        table: &str,
        key: &str,
        plan: &str,
        approve_by: i64,
        keep_until: i64,
    ) -> KeptPlan;
    /// The plan kept under `key` (None: never kept, or expired out of the table).
    fn kept_plan(&self, table: &str, key: &str) -> Option<KeptPlan>;
    /// Move the plan under `key` from state `from` to `to`, naming `by`; from `waiting`, only
    /// while `now` is not past its `approve_by`. False when it is not so (another person or
    /// delivery settled it first, or it expired).
    fn settle_plan(&self, table: &str, key: &str, from: &str, to: &str, by: &str, now: i64) -> bool;
}
}

pub trait NotifyPort: Send + Sync {
    /// Publish to the notification topic (no-op when none is configured).
    fn publish(
        &self,
        subject: &str,
        message: &str,
        report: &Report,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Put a "Remediation Performed" event on the configured bus (no-op when none).
    fn put_event(
        &self,
        detail_type: &str,
        report: &Report,
    ) -> impl Future<Output = PortResult<()>> + Send;
}

/// A port a function was built without.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwired;

/// The clients for one account and region.
pub trait Clients: Send + Sync + 'static {
    /// The action types these clients act for (`trailguard_rules::action::mask_of`): every
    /// one, unless a function's wiring says its guard's ([`Acting`]). The executor refuses
    /// the others, and the compiler leaves their code out of the function's binary.
    const ACTIONS: u128 = u128::MAX;
    type Ec2: Ec2Port;
    type Iam: IamPort;
    type Trail: TrailPort;
    type Rds: RdsPort;
    type Lambda: LambdaPort;
    type Org: OrgPort;
    type Ledger: LedgerPort;
    type Redshift: RedshiftPort;
    type S3: S3Port;
    type Policy: PolicyPort;
    type S3Control: S3ControlPort;
    type Keys: KeyPort;
    type GuardDuty: GuardDutyPort;
    type SecurityHub: SecurityHubPort;
    type Aliases: AliasPort;
    fn ec2(&self) -> &Self::Ec2;
    fn iam(&self) -> &Self::Iam;
    fn trail(&self) -> &Self::Trail;
    fn rds(&self) -> &Self::Rds;
    fn lambda(&self) -> &Self::Lambda;
    fn org(&self) -> &Self::Org;
    fn ledger(&self) -> &Self::Ledger;
    fn redshift(&self) -> &Self::Redshift;
    fn s3(&self) -> &Self::S3;
    fn policy(&self) -> &Self::Policy;
    fn s3control(&self) -> &Self::S3Control;
    fn keys(&self) -> &Self::Keys;
    fn guardduty(&self) -> &Self::GuardDuty;
    fn securityhub(&self) -> &Self::SecurityHub;
    fn aliases(&self) -> &Self::Aliases;

    /// Each service as IAM prefixes its actions, the `Sdk` builder that wires it, and
    /// whether it is wired.
    fn services(&self) -> [(&'static str, &'static str, bool); 21] {
        let p = |kind| self.policy().serves(kind);
        [
            ("ec2", "with_ec2", self.ec2().wired()),
            ("iam", "with_iam", self.iam().wired()),
            ("cloudtrail", "with_cloudtrail", self.trail().wired()),
            ("rds", "with_rds", self.rds().wired()),
            ("lambda", "with_lambda", self.lambda().wired()),
            ("organizations", "with_organizations", self.org().wired()),
            ("dynamodb", "with_ledger", self.ledger().wired()),
            ("redshift", "with_redshift", self.redshift().wired()),
            ("s3", "with_s3", self.s3().wired()),
            ("s3control", "with_s3control", self.s3control().wired()),
            ("sqs", "with_sqs", p(PolicyKind::Queue)),
            ("sns", "with_sns", p(PolicyKind::Topic)),
            (
                "secretsmanager",
                "with_secretsmanager",
                p(PolicyKind::Secret),
            ),
            // DescribeKey, ListKeys and ListResourceTags: either KMS client makes them.
            ("kms", "with_kms", p(PolicyKind::Key) || self.keys().wired()),
            ("kmskeys", "with_kms_keys", self.keys().wired()),
            ("guardduty", "with_guardduty", self.guardduty().wired()),
            (
                "securityhub",
                "with_securityhub",
                self.securityhub().wired(),
            ),
            ("ecr", "with_ecr", p(PolicyKind::Repository)),
            ("es", "with_opensearch", p(PolicyKind::Domain)),
            ("glacier", "with_glacier", p(PolicyKind::Vault)),
            ("elasticfilesystem", "with_efs", p(PolicyKind::FileSystem)),
        ]
    }
}

/// What a function's clients lack for its guard: for every service one of its action types,
/// fact lookups, sweep listings or its ledger calls (`Op::client`) and no client is wired
/// for, the builder to add and what needs it. Checked at cold start (`Deps::from_env`) and
/// by each function's own test, so a missing client fails the build's tests or the cold
/// start, never an event.
pub fn missing_clients<C: Clients>(guard: Guard, clients: &C) -> Vec<String> {
    let spec = guard.spec();
    let needs = |prefix: &str| -> Vec<String> {
        let calls = |ops: &[&Op]| ops.iter().any(|o| o.client() == prefix);
        let mut why: Vec<String> = spec
            .actions
            .iter()
            .filter(|a| calls(a.ops))
            .map(|a| format!("action {}", a.type_name))
            .collect();
        why.extend(
            spec.facts
                .iter()
                .filter(|f| calls(f.ops()))
                .map(|f| format!("fact {f:?}")),
        );
        why.extend(
            spec.sweeps
                .iter()
                .filter(|k| calls(k.ops()))
                .map(|k| format!("sweep of {}", k.name())),
        );
        if !spec.actions.is_empty() && calls(&ops::LEDGER) {
            why.push("the ledger (breaker, exactly-once claims)".into());
        }
        why
    };
    // The clients act for every action type the guard may plan.
    let left_out: Vec<String> = spec
        .actions
        .iter()
        .filter(|a| C::ACTIONS & (1u128 << trailguard_rules::action::index_of(a.type_name)) == 0)
        .map(|a| {
            format!(
                "action {} is left out of the clients' action types (Acting's mask)",
                a.type_name
            )
        })
        .collect();
    // Every notice names the account's alias (report.rs), so every function reads it.
    let aliases = (!clients.aliases().wired()).then(|| {
        format!(
            "{} needs an IAM client for the account's alias in its notices and main.rs wires \
             none: add `.with_account_alias(sdk)`",
            spec.function
        )
    });
    clients
        .services()
        .into_iter()
        .filter(|(_, _, wired)| !wired)
        .filter_map(|(prefix, builder, _)| {
            let why = needs(prefix);
            (!why.is_empty()).then(|| {
                format!(
                    "{} needs a {prefix} client ({}) and main.rs wires none: add `.{builder}(sdk)`",
                    spec.function,
                    why.join(", ")
                )
            })
        })
        .chain(aliases)
        .chain(left_out)
        .collect()
}

/// The clients a function wires, by service; `Unwired` for the others.
#[derive(Debug, Clone, Default)]
pub struct Sdk<
    E = Unwired,
    I = Unwired,
    T = Unwired,
    R = Unwired,
    L = Unwired,
    O = Unwired,
    D = Unwired,
    S = Unwired,
    B = Unwired,
    P = Unwired,
    A = Unwired,
    K = Unwired,
    G = Unwired,
    H = Unwired,
    N = Unwired,
> {
    pub ec2: E,
    pub iam: I,
    pub trail: T,
    pub rds: R,
    pub lambda: L,
    pub org: O,
    pub ledger: D,
    pub redshift: S,
    pub s3: B,
    /// The resource-policy clients (`with_sqs`, `with_kms`, ...), nested as pairs.
    pub policy: P,
    pub s3control: A,
    /// KMS for keys' life (`with_kms_keys`).
    pub keys: K,
    /// GuardDuty (`with_guardduty`).
    pub guardduty: G,
    /// Security Hub (`with_securityhub`).
    pub securityhub: H,
    /// The account's alias (`with_account_alias`, every function: its notices name it).
    pub aliases: N,
}

/// A function's clients, acting only for its guard's action types: `M` is the guard's
/// `ACTION_MASK` (`Acting::<_, { sharing::ACTION_MASK }>(Sdk::none().with_ec2(sdk)…)`).
/// The executor refuses any other action type, so the binary carries only the code of the
/// actions its guard can plan; `missing_clients` fails a mask that leaves out one of them.
pub struct Acting<C, const M: u128>(pub C);

impl<C: Clients, const M: u128> Clients for Acting<C, M> {
    const ACTIONS: u128 = M & C::ACTIONS;
    type Ec2 = C::Ec2;
    type Iam = C::Iam;
    type Trail = C::Trail;
    type Rds = C::Rds;
    type Lambda = C::Lambda;
    type Org = C::Org;
    type Ledger = C::Ledger;
    type Redshift = C::Redshift;
    type S3 = C::S3;
    type Policy = C::Policy;
    type S3Control = C::S3Control;
    type Keys = C::Keys;
    type GuardDuty = C::GuardDuty;
    type SecurityHub = C::SecurityHub;
    type Aliases = C::Aliases;
    fn ec2(&self) -> &C::Ec2 {
        self.0.ec2()
    }
    fn iam(&self) -> &C::Iam {
        self.0.iam()
    }
    fn trail(&self) -> &C::Trail {
        self.0.trail()
    }
    fn rds(&self) -> &C::Rds {
        self.0.rds()
    }
    fn lambda(&self) -> &C::Lambda {
        self.0.lambda()
    }
    fn org(&self) -> &C::Org {
        self.0.org()
    }
    fn ledger(&self) -> &C::Ledger {
        self.0.ledger()
    }
    fn redshift(&self) -> &C::Redshift {
        self.0.redshift()
    }
    fn s3(&self) -> &C::S3 {
        self.0.s3()
    }
    fn policy(&self) -> &C::Policy {
        self.0.policy()
    }
    fn s3control(&self) -> &C::S3Control {
        self.0.s3control()
    }
    fn keys(&self) -> &C::Keys {
        self.0.keys()
    }
    fn guardduty(&self) -> &C::GuardDuty {
        self.0.guardduty()
    }
    fn securityhub(&self) -> &C::SecurityHub {
        self.0.securityhub()
    }
    fn aliases(&self) -> &C::Aliases {
        self.0.aliases()
    }
}

impl Sdk {
    /// No client yet: wire the ones the function uses with `with_ec2`, `with_iam`, ...
    pub fn none() -> Sdk {
        Sdk::default()
    }
}

impl<E, I, T, R, L, O, D, S, B, P, A, K, G, H, N> Clients
    for Sdk<E, I, T, R, L, O, D, S, B, P, A, K, G, H, N>
where
    E: Ec2Port + 'static,
    I: IamPort + 'static,
    T: TrailPort + 'static,
    R: RdsPort + 'static,
    L: LambdaPort + 'static,
    O: OrgPort + 'static,
    D: LedgerPort + 'static,
    S: RedshiftPort + 'static,
    B: S3Port + 'static,
    P: PolicyPort + 'static,
    A: S3ControlPort + 'static,
    K: KeyPort + 'static,
    G: GuardDutyPort + 'static,
    H: SecurityHubPort + 'static,
    N: AliasPort + 'static,
{
    type Ec2 = E;
    type Iam = I;
    type Trail = T;
    type Rds = R;
    type Lambda = L;
    type Org = O;
    type Ledger = D;
    type Redshift = S;
    type S3 = B;
    type Policy = P;
    type S3Control = A;
    type Keys = K;
    type GuardDuty = G;
    type SecurityHub = H;
    type Aliases = N;
    fn ec2(&self) -> &E {
        &self.ec2
    }
    fn iam(&self) -> &I {
        &self.iam
    }
    fn trail(&self) -> &T {
        &self.trail
    }
    fn rds(&self) -> &R {
        &self.rds
    }
    fn lambda(&self) -> &L {
        &self.lambda
    }
    fn org(&self) -> &O {
        &self.org
    }
    fn ledger(&self) -> &D {
        &self.ledger
    }
    fn redshift(&self) -> &S {
        &self.redshift
    }
    fn s3(&self) -> &B {
        &self.s3
    }
    fn policy(&self) -> &P {
        &self.policy
    }
    fn s3control(&self) -> &A {
        &self.s3control
    }
    fn keys(&self) -> &K {
        &self.keys
    }
    fn guardduty(&self) -> &G {
        &self.guardduty
    }
    fn securityhub(&self) -> &H {
        &self.securityhub
    }
    fn aliases(&self) -> &N {
        &self.aliases
    }
}

/// Where an event's changes are: the account and region the function acts in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Target {
    pub account: Option<String>,
    pub region: Option<String>,
    /// The event that needs the target (named in a member role's session name).
    pub event_id: Option<String>,
}

/// Hands out the clients for a target.
pub trait Connect: Send + Sync {
    type Clients: Clients;
    fn connect(
        &self,
        target: &Target,
    ) -> impl Future<Output = PortResult<Arc<Self::Clients>>> + Send;
    /// The clients of the function's own account (organization lookups are made there).
    fn home(&self) -> Arc<Self::Clients>;
    /// The role the function acts through in the target's account, when it is not its own.
    fn role_for(&self, _target: &Target) -> Option<String> {
        None
    }
}

/// The function's own account and region only.
pub struct Home<C>(pub Arc<C>);

impl<C: Clients> Connect for Home<C> {
    type Clients = C;
    async fn connect(&self, _target: &Target) -> PortResult<Arc<C>> {
        Ok(self.0.clone())
    }
    fn home(&self) -> Arc<C> {
        self.0.clone()
    }
}
