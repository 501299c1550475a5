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
use trailguard_rules::ops::{self, Op};
use trailguard_rules::sweep::{AclState, Checkpoint, KeyState, ShareState, TrailState};
use trailguard_rules::{GroupFacts, Permission, PrincipalKind, Report, Tags};

use crate::error::PortError;

/// The result of a mutating call that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Done,
    /// Nothing to do: the state was already what the action wants (why).
    AlreadyDone(String),
}

pub type PortResult<T> = Result<T, PortError>;

/// One page of a sweep's listing, and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

fn not_wired<T: Send>(op: &'static Op) -> impl Future<Output = PortResult<T>> + Send {
    std::future::ready(Err(PortError::NotWired { op: op.api }))
}

pub trait Ec2Port: Send + Sync {
    fn revoke_rules(
        &self,
        _group_id: &str,
        egress: bool,
        _rule_ids: &[String],
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(if egress {
            &ops::REVOKE_SG_EGRESS
        } else {
            &ops::REVOKE_SG_INGRESS
        })
    }
    fn revoke_permissions(
        &self,
        _group_id: Option<&str>,
        _group_name: Option<&str>,
        egress: bool,
        _perms: &[Permission],
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(if egress {
            &ops::REVOKE_SG_EGRESS
        } else {
            &ops::REVOKE_SG_INGRESS
        })
    }
    fn authorize_permissions(
        &self,
        _group_id: &str,
        egress: bool,
        _perms: &[Permission],
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(if egress {
            &ops::AUTHORIZE_SG_EGRESS
        } else {
            &ops::AUTHORIZE_SG_INGRESS
        })
    }
    fn describe_group(
        &self,
        _group_id: Option<&str>,
        _group_name: Option<&str>,
    ) -> impl Future<Output = PortResult<Option<GroupFacts>>> + Send {
        not_wired(&ops::DESCRIBE_SECURITY_GROUPS)
    }
    /// Rule id -> is egress, for the rules that exist.
    fn rule_directions(
        &self,
        _group_id: &str,
        _rule_ids: &[String],
    ) -> impl Future<Output = PortResult<BTreeMap<String, bool>>> + Send {
        not_wired(&ops::DESCRIBE_SG_RULES)
    }
    /// A group with its tags and every rule; None when it does not exist.
    fn group_state(
        &self,
        _group_id: &str,
    ) -> impl Future<Output = PortResult<Option<GroupFacts>>> + Send {
        not_wired(&ops::DESCRIBE_SG_RULES)
    }
    fn delete_nacl_entry(
        &self,
        _acl_id: &str,
        _rule_number: i64,
        _egress: bool,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::DELETE_NACL_ENTRY)
    }
    /// A managed prefix list's owner, name and entries; None when it does not exist.
    fn prefix_list(
        &self,
        _prefix_list_id: &str,
    ) -> impl Future<Output = PortResult<Option<PrefixListFacts>>> + Send {
        not_wired(&ops::DESCRIBE_MANAGED_PREFIX_LISTS)
    }
    /// Remove these CIDRs from a managed prefix list: those still in it and not in version
    /// `previous_version` (what the list held before the call that added them).
    fn remove_prefix_list_entries(
        &self,
        _prefix_list_id: &str,
        _cidrs: &[String],
        _previous_version: Option<i64>,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::MODIFY_MANAGED_PREFIX_LIST)
    }
    /// A network ACL with its entries; None when it does not exist.
    fn acl_state(
        &self,
        _acl_id: &str,
    ) -> impl Future<Output = PortResult<Option<AclState>>> + Send {
        not_wired(&ops::DESCRIBE_NETWORK_ACLS)
    }
    /// None when the ACL does not exist.
    fn nacl_tags(&self, _acl_id: &str) -> impl Future<Output = PortResult<Option<Tags>>> + Send {
        not_wired(&ops::DESCRIBE_NETWORK_ACLS)
    }
    /// Remove these launch permissions from an image (those still there).
    fn unshare_image(
        &self,
        _image_id: &str,
        _accounts: &[String],
        _public: bool,
        _organizations: &[String],
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::MODIFY_IMAGE_ATTRIBUTE)
    }
    /// A page of security groups, each with its tags and every rule (the sweep).
    fn list_groups(
        &self,
        _token: Option<String>,
    ) -> impl Future<Output = PortResult<Page<GroupFacts>>> + Send {
        not_wired(&ops::DESCRIBE_SECURITY_GROUPS)
    }
    /// A page of network ACLs with their entries and tags (the sweep).
    fn list_acls(
        &self,
        _token: Option<String>,
    ) -> impl Future<Output = PortResult<Page<AclState>>> + Send {
        not_wired(&ops::DESCRIBE_NETWORK_ACLS)
    }
    /// A page of the account's own images, with whom each is shared (the sweep).
    fn list_image_shares(
        &self,
        _token: Option<String>,
    ) -> impl Future<Output = PortResult<Page<ShareState>>> + Send {
        not_wired(&ops::DESCRIBE_IMAGES)
    }
    /// A page of the account's own snapshots, with whom each is shared (the sweep).
    fn list_snapshot_shares(
        &self,
        _token: Option<String>,
    ) -> impl Future<Output = PortResult<Page<ShareState>>> + Send {
        not_wired(&ops::DESCRIBE_SNAPSHOTS)
    }
    /// Take a tag off the resources that still carry it.
    fn remove_tag(
        &self,
        _resource_ids: &[String],
        _key: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::DELETE_TAGS)
    }
    /// Remove these create-volume permissions from a snapshot (those still there).
    fn unshare_snapshot(
        &self,
        _snapshot_id: &str,
        _accounts: &[String],
        _public: bool,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::MODIFY_SNAPSHOT_ATTRIBUTE)
    }
}

pub trait IamPort: Send + Sync {
    fn deactivate_key(
        &self,
        _user: &str,
        _key_id: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::UPDATE_ACCESS_KEY)
    }
    fn put_deny_policy(
        &self,
        kind: PrincipalKind,
        _name: &str,
        _policy_name: &str,
        _document: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(match kind {
            PrincipalKind::User => &ops::PUT_USER_POLICY,
            PrincipalKind::Role => &ops::PUT_ROLE_POLICY,
        })
    }
    fn tag_user(
        &self,
        _user: &str,
        _key: &str,
        _value: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::TAG_USER)
    }
    /// The user owning a key, or None when the key does not exist in this account.
    fn key_owner(&self, _key_id: &str) -> impl Future<Output = PortResult<Option<String>>> + Send {
        not_wired(&ops::GET_ACCESS_KEY_LAST_USED)
    }
    /// Take these principals out of a role's trust policy as it is now, where no condition
    /// restricts them to the trusted set (`untrusted` are the condition values outside it).
    fn restrict_role_trust(
        &self,
        _role: &str,
        _principals: &[String],
        _untrusted: &[String],
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::UPDATE_ASSUME_ROLE_POLICY)
    }
    /// The keys a sweep looks at: the honeytokens that exist in this account, and the keys
    /// of users carrying AWS's quarantine policy.
    fn sweep_keys(
        &self,
        _honeytokens: &[String],
    ) -> impl Future<Output = PortResult<Vec<KeyState>>> + Send {
        not_wired(&ops::LIST_ENTITIES_FOR_POLICY)
    }
    /// Take a tag off a role, if it still carries it.
    fn untag_role(
        &self,
        _role: &str,
        _key: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::UNTAG_ROLE)
    }
    /// Whether a user carries a tag (any value), or None when the user does not exist.
    fn user_has_tag(
        &self,
        _user: &str,
        _key: &str,
    ) -> impl Future<Output = PortResult<Option<bool>>> + Send {
        not_wired(&ops::LIST_USER_TAGS)
    }
    /// A role's tags, or None when the role does not exist.
    fn role_tags(&self, _role: &str) -> impl Future<Output = PortResult<Option<Tags>>> + Send {
        not_wired(&ops::GET_ROLE)
    }
}

/// One CloudTrail event of the forensic lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailEvent {
    pub name: String,
    pub time: Option<i64>,
    pub source_ip: Option<String>,
    pub region: Option<String>,
}

pub trait TrailPort: Send + Sync {
    /// Whether the trail is logging now (`GetTrailStatus`; `None` when the answer omits it).
    fn trail_is_logging(
        &self,
        _trail: &str,
    ) -> impl Future<Output = PortResult<Option<bool>>> + Send {
        not_wired(&ops::GET_TRAIL_STATUS)
    }
    /// `StartLogging` alone: idempotent, so it needs no status read to be safe.
    fn start_logging(&self, _trail: &str) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::START_LOGGING)
    }
    fn update_trail(
        &self,
        _trail: &str,
        _multi_region: Option<bool>,
        _log_file_validation: Option<bool>,
        _global_service_events: Option<bool>,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::UPDATE_TRAIL)
    }
    /// Events made with a key between two epoch seconds, at most `max_pages` pages.
    fn lookup_key_events(
        &self,
        _key_id: &str,
        _start: i64,
        _end: i64,
        _max_pages: usize,
    ) -> impl Future<Output = PortResult<Vec<TrailEvent>>> + Send {
        not_wired(&ops::LOOKUP_EVENTS)
    }
    /// Record management events again, reads and writes, keeping the trail's data-event
    /// selectors.
    fn restore_management_events(
        &self,
        _trail: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::PUT_EVENT_SELECTORS)
    }
    /// The trails of this region (and organization trails visible here), with their status.
    fn list_trails(&self) -> impl Future<Output = PortResult<Vec<TrailState>>> + Send {
        not_wired(&ops::DESCRIBE_TRAILS)
    }
    /// The buckets the account's trails deliver to.
    fn trail_buckets(&self) -> impl Future<Output = PortResult<BTreeSet<String>>> + Send {
        not_wired(&ops::DESCRIBE_TRAILS)
    }
}

pub trait RdsPort: Send + Sync {
    /// Remove these `restore` values from a DB (or cluster) snapshot (those still there).
    fn unshare_db_snapshot(
        &self,
        _snapshot: &str,
        cluster: bool,
        _values: &[String],
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(if cluster {
            &ops::MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE
        } else {
            &ops::MODIFY_DB_SNAPSHOT_ATTRIBUTE
        })
    }
}

pub trait LambdaPort: Send + Sync {
    /// Remove one statement from a function's resource policy.
    fn remove_permission(
        &self,
        _function: &str,
        _statement_id: &str,
        _qualifier: Option<&str>,
    ) -> impl Future<Output = PortResult<Change>> + Send {
        not_wired(&ops::LAMBDA_REMOVE_PERMISSION)
    }
}

pub trait OrgPort: Send + Sync {
    /// The accounts of the organization (looked up once per container and hour).
    fn organization_accounts(&self) -> impl Future<Output = PortResult<BTreeSet<String>>> + Send {
        not_wired(&ops::LIST_ACCOUNTS)
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

/// The ledger: a DynamoDB table shared by every container and account, for the breaker's
/// counts and exactly-once claims. Every write is conditional, so concurrent deliveries never
/// count past a limit or both win a claim.
pub trait LedgerPort: Send + Sync {
    /// Count one mutating action caused by `actor` in a breaker's `scope` (a guard in one
    /// account, `gate::breaker_scope`) at `now_ms`, unless `limit` actions of that actor,
    /// or `limit * ACCOUNT_FACTOR` in all, were counted in the hour before it.
    fn take_slot(
        &self,
        _table: &str,
        _scope: &str,
        _actor: &str,
        _limit: u32,
        _now_ms: i64,
    ) -> impl Future<Output = PortResult<Slot>> + Send {
        not_wired(&ops::LEDGER_UPDATE)
    }
    /// Give back the slot taken at `at_ms`: the action changed nothing (already done) or
    /// failed, and only changes count.
    fn give_back_slot(
        &self,
        _table: &str,
        _scope: &str,
        _actor: &str,
        _at_ms: i64,
    ) -> impl Future<Output = PortResult<()>> + Send {
        not_wired(&ops::LEDGER_UPDATE)
    }
    /// Claim an action of an event for this delivery (`owner`), for `lease` seconds.
    fn claim(
        &self,
        _table: &str,
        _key: &str,
        _owner: &str,
        _now: i64,
        _lease: i64,
    ) -> impl Future<Output = PortResult<Claim>> + Send {
        not_wired(&ops::LEDGER_PUT)
    }
    /// What a claim says now (after waiting on a busy one).
    fn claim_state(
        &self,
        _table: &str,
        _key: &str,
    ) -> impl Future<Output = PortResult<Option<Claim>>> + Send {
        not_wired(&ops::LEDGER_GET)
    }
    /// Record the outcome of a won claim.
    fn finish(
        &self,
        _table: &str,
        _key: &str,
        _owner: &str,
        _outcome: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        not_wired(&ops::LEDGER_UPDATE)
    }
    /// Give a won claim up (the action failed, or was not made), so a redelivery acts.
    fn release(
        &self,
        _table: &str,
        _key: &str,
        _owner: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        not_wired(&ops::LEDGER_DELETE)
    }
    /// Where the last sweep of `key` stopped (None: it finished, or never ran).
    fn checkpoint(
        &self,
        _table: &str,
        _key: &str,
    ) -> impl Future<Output = PortResult<Option<Checkpoint>>> + Send {
        not_wired(&ops::LEDGER_GET)
    }
    /// Remember where a sweep stopped, or (None) that it finished.
    fn save_checkpoint(
        &self,
        _table: &str,
        _key: &str,
        _checkpoint: Option<&Checkpoint>,
        _now: i64,
    ) -> impl Future<Output = PortResult<()>> + Send {
        not_wired(&ops::LEDGER_PUT)
    }
    /// Close a breaker (a guard in one account): forget its counts. True when there was
    /// something to forget.
    fn reset_breaker(
        &self,
        _table: &str,
        _scope: &str,
    ) -> impl Future<Output = PortResult<bool>> + Send {
        not_wired(&ops::LEDGER_DELETE)
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

impl Ec2Port for Unwired {}
impl IamPort for Unwired {}
impl TrailPort for Unwired {}
impl RdsPort for Unwired {}
impl LambdaPort for Unwired {}
impl OrgPort for Unwired {}
impl LedgerPort for Unwired {}

/// The clients for one account and region.
pub trait Clients: Send + Sync + 'static {
    type Ec2: Ec2Port;
    type Iam: IamPort;
    type Trail: TrailPort;
    type Rds: RdsPort;
    type Lambda: LambdaPort;
    type Org: OrgPort;
    type Ledger: LedgerPort;
    fn ec2(&self) -> &Self::Ec2;
    fn iam(&self) -> &Self::Iam;
    fn trail(&self) -> &Self::Trail;
    fn rds(&self) -> &Self::Rds;
    fn lambda(&self) -> &Self::Lambda;
    fn org(&self) -> &Self::Org;
    fn ledger(&self) -> &Self::Ledger;
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
> {
    pub ec2: E,
    pub iam: I,
    pub trail: T,
    pub rds: R,
    pub lambda: L,
    pub org: O,
    pub ledger: D,
}

impl Sdk {
    /// No client yet: wire the ones the function uses with `with_ec2`, `with_iam`, ...
    pub fn none() -> Sdk {
        Sdk::default()
    }
}

impl<E, I, T, R, L, O, D> Clients for Sdk<E, I, T, R, L, O, D>
where
    E: Ec2Port + 'static,
    I: IamPort + 'static,
    T: TrailPort + 'static,
    R: RdsPort + 'static,
    L: LambdaPort + 'static,
    O: OrgPort + 'static,
    D: LedgerPort + 'static,
{
    type Ec2 = E;
    type Iam = I;
    type Trail = T;
    type Rds = R;
    type Lambda = L;
    type Org = O;
    type Ledger = D;
    fn ledger(&self) -> &D {
        &self.ledger
    }
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
