//! The outcome of a decision. Its JSON form is the report (report.rs).

use serde::Serialize;

use crate::action::{Action, Notice};
use crate::facts::FactRequest;
use crate::policy::Mode;

/// A guard as a decision names it: the policy's name for it and its function. The registry
/// (guards/) sits above decisions, so a decision carries the names, not the declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GuardId {
    pub name: &'static str,
    pub function: &'static str,
}

impl Serialize for GuardId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Ignore,
    Notify,
    Remediate,
}

/// What trailguard does about one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub kind: Kind,
    pub reason: String,
    /// The guard that decided (None when no guard applies to the event).
    pub guard: Option<GuardId>,
    pub mode: Mode,
    pub actions: Vec<Action>,
    pub notice: Option<Notice>,
    /// Offline decisions: the facts taken as absent.
    pub assumed: Vec<FactRequest>,
}

impl Decision {
    pub fn ignore(reason: impl Into<String>) -> Decision {
        Decision {
            kind: Kind::Ignore,
            reason: reason.into(),
            guard: None,
            mode: Mode::Enforce,
            actions: vec![],
            notice: None,
            assumed: vec![],
        }
    }

    pub fn notify(reason: impl Into<String>, notice: Notice) -> Decision {
        Decision {
            kind: Kind::Notify,
            reason: reason.into(),
            notice: Some(notice),
            ..Decision::ignore("")
        }
    }

    pub fn remediate(reason: impl Into<String>, actions: Vec<Action>, notice: Notice) -> Decision {
        Decision {
            kind: Kind::Remediate,
            reason: reason.into(),
            actions,
            notice: Some(notice),
            ..Decision::ignore("")
        }
    }
}

impl Decision {
    /// The event is in an account or region the function could not reach (the member role
    /// cannot be assumed): nothing could be looked up or decided there, and people must know.
    pub fn unreachable(account: &str, region: &str, problem: &str) -> Decision {
        Decision::notify(
            format!(
                "the event is in account {account}, region {region}, which trailguard could not reach: nothing was looked up or changed there"
            ),
            Notice {
                severity: crate::action::Severity::High,
                title: format!("trailguard cannot act in account {account} ({region})"),
                details: vec![
                    problem.to_string(),
                    "The event is retried, then kept by the failure queue: fix the member role and redrive it.".into(),
                ],
            },
        )
    }
}

/// Either a decision, or the facts needed to make one.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Decided(Decision),
    NeedFacts(Vec<FactRequest>),
}
