//! The reconciliation sweep, on the rules side: the state of a resource as a sweep lists it,
//! decided by the same guard code an event about it goes through, so "what an event would
//! have done" and "what the sweep does" cannot disagree. The sweep is the net for events that
//! never arrived: a rule disabled during a deploy, a region without forwarding, a change made
//! before trailguard was installed.

use serde::{Deserialize, Serialize};

use crate::decision::{Decision, Verdict};
use crate::facts::{Facts, GroupFacts, Tags};
use crate::guards::Guard;
use crate::ops::{self, Op};
use crate::policy::Policy;

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
        }
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
}

impl State {
    /// The resource's id, for the sweep report.
    pub fn id(&self) -> &str {
        match self {
            State::SecurityGroup(g) => &g.group_id,
            State::NetworkAcl(a) => &a.network_acl_id,
            State::Trail(t) => &t.trail,
            State::AccessKey(k) => &k.access_key_id,
            State::Image(s) | State::Snapshot(s) => &s.id,
        }
    }
}

/// Why the sweep looked, in the words every decision's details end with.
pub const WHY: &str = "found by the reconciliation sweep: the change itself was not seen as an event (or was made before trailguard was deployed)";

/// A guard's decision on one resource as it is now. The account is the one the sweep runs
/// in (trusted-set checks need it). A guard that does not sweep this kind ignores it.
pub fn decide_state(
    guard: Guard,
    state: &State,
    account: Option<&str>,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    use crate::guards::{cloudtrail, key, nacl, sg, sharing};
    let mut verdict = match (guard.name(), state) {
        ("security_group", State::SecurityGroup(g)) => sg::decide_state(g, policy, WHY, facts),
        ("network_acl", State::NetworkAcl(a)) => Verdict::Decided(nacl::decide_state(a, policy)),
        ("cloudtrail", State::Trail(t)) => Verdict::Decided(cloudtrail::decide_state(t, policy)),
        ("access_key", State::AccessKey(k)) => key::decide_state(k, account, policy, facts),
        ("resource_sharing", State::Image(s)) => {
            sharing::decide_state(s, true, account, policy, facts)
        }
        ("resource_sharing", State::Snapshot(s)) => {
            sharing::decide_state(s, false, account, policy, facts)
        }
        (name, other) => Verdict::Decided(Decision::ignore(format!(
            "guard {name} does not sweep {}",
            other.id()
        ))),
    };
    if let Verdict::Decided(d) = &mut verdict {
        d.guard = Some(guard);
        d.mode = guard.mode(policy);
    }
    verdict
}

/// Where an unfinished sweep continues: the kind it was listing and the page it had reached.
/// It lives in the ledger table (`sweep#<guard>#<account>#<region>`), so the next scheduled
/// run picks it up; without a ledger table a sweep out of time starts over next run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub kind: StateKind,
    /// The token of the page the run was in (None: the kind's first page).
    pub token: Option<String>,
    /// Resources of that page already looked at.
    #[serde(default)]
    pub skip: u64,
}

/// One resource the sweep found something to do or to tell about, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: StateKind,
    pub resource: String,
    pub report: crate::report::Report,
}

/// One report per sweep: what was listed, what was found, what was done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    /// Always true: tells a sweep's report from an event's.
    pub sweep: bool,
    pub guard: Guard,
    pub function: &'static str,
    pub mode: crate::Mode,
    pub account: Option<String>,
    pub region: Option<String>,
    /// The checkpoint this run started from (None: from the beginning).
    pub resumed_from: Option<Checkpoint>,
    /// Resources looked at, by kind.
    pub listed: std::collections::BTreeMap<StateKind, u64>,
    /// Listing calls' pages read.
    pub pages: u64,
    /// Every kind was listed to its end.
    pub complete: bool,
    /// Where the next run continues (when not complete).
    pub checkpoint: Option<Checkpoint>,
    /// Why the run stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Action outcomes by status (`done`, `already_done`, `dry_run`, `failed`).
    pub outcomes: std::collections::BTreeMap<&'static str, u64>,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub notified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<crate::report::Timing>,
}

impl SweepReport {
    pub fn new(
        guard: Guard,
        policy: &Policy,
        account: Option<String>,
        region: Option<String>,
    ) -> Self {
        SweepReport {
            sweep: true,
            guard,
            function: guard.function_name(),
            mode: guard.mode(policy),
            account,
            region,
            resumed_from: None,
            listed: Default::default(),
            pages: 0,
            complete: false,
            checkpoint: None,
            stopped: None,
            outcomes: Default::default(),
            findings: Vec::new(),
            notified: false,
            timing: None,
        }
    }

    /// Count a finding's outcomes and keep it.
    pub fn add(&mut self, finding: Finding) {
        for a in &finding.report.actions {
            let status = a.outcome.map_or("planned", crate::report::Status::as_str);
            *self.outcomes.entry(status).or_default() += 1;
        }
        self.findings.push(finding);
    }

    /// The findings' actions whose failure fails the invocation.
    pub fn critical_failures(&self) -> impl Iterator<Item = &crate::report::ActionReport> {
        self.findings
            .iter()
            .flat_map(|f| f.report.critical_failures())
    }

    pub fn count(&self, status: &str) -> u64 {
        self.outcomes.get(status).copied().unwrap_or(0)
    }
}

/// The scheduled event EventBridge sends for a schedule rule: it starts a sweep.
pub fn is_scheduled(event: &serde_json::Value) -> bool {
    event.get("source").and_then(serde_json::Value::as_str) == Some("aws.events")
        && event.get("detail-type").and_then(serde_json::Value::as_str) == Some("Scheduled Event")
}
