//! The reconciliation sweep, on the rules side: the state of a resource as a sweep lists it,
//! decided by the same guard code an event about it goes through, so "what an event would
//! have done" and "what the sweep does" cannot disagree. The sweep is the net for events that
//! never arrived: a rule disabled during a deploy, a region without forwarding, a change made
//! before trailguard was installed.

use serde::{Deserialize, Serialize};

use crate::decision::{Decision, Verdict};
use crate::facts::Facts;
use crate::guards::{Decider, Guard};
use crate::policy::Policy;

pub use crate::state::{
    AclEntry, AclState, KeyState, ShareState, State, StateKind, TrailState, WHY,
};
pub use crate::state::{DatabaseState, DbKind};

/// A guard's decision on one resource as it is now, through the guard's
/// [`crate::guards::Decider::state`]. The account is the one the sweep runs in:
/// scope and mode are that account's, decided in the one place events use too
/// ([`crate::attribute`]), so an account `mode_by_account` sets to dry-run is not changed by a
/// sweep either.
pub fn decide_state(
    decider: &Decider,
    state: &State,
    account: Option<&str>,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let guard = decider.guard();
    if let Some(reason) = policy.out_of_scope(account) {
        return crate::attribute(
            guard,
            Verdict::Decided(Decision::ignore(reason)),
            account,
            policy,
        );
    }
    let verdict = match decider.state {
        Some(decide) if guard.spec().sweeps.contains(&state.kind()) => {
            decide(state, account, policy, facts)
        }
        _ => crate::guards::not_swept(guard.name(), state),
    };
    crate::attribute(guard, verdict, account, policy)
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
    /// The account's alias, as for an event's report
    /// ([`crate::report::EventSummary::set_account_alias`]).
    pub account_alias: Option<String>,
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
            mode: guard.mode_in(policy, account.as_deref()),
            account,
            account_alias: None,
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

    /// The account's alias, kept only when it is one IAM could have set.
    pub fn set_account_alias(&mut self, alias: Option<&str>) {
        self.account_alias = alias
            .filter(|a| crate::ids::is_account_alias(a))
            .map(String::from);
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
