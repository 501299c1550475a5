//! The outcome of a decision, and its JSON form (the schema `trailguard decide` prints and
//! every function's report extends).

use serde::Serialize;
use serde_json::{json, Value};

use crate::action::{Action, Notice};
use crate::event::{Event, EventBody};
use crate::facts::FactRequest;
use crate::policy::{Guard, Mode};

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
    pub guard: Option<Guard>,
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

    /// The decision's JSON, without per-action outcomes. Stable: scripts rely on it.
    pub fn to_json(&self, event: Option<&Event>) -> Value {
        let actions: Vec<Value> = self.actions.iter().map(action_json).collect();
        let mut v = json!({
            "event_id": event.and_then(|e| e.id()),
            "event": event.map(event_summary),
            "guard": self.guard,
            "function": self.guard.map(|g| g.function_name()),
            "decision": self.kind,
            "reason": self.reason,
            "mode": self.mode,
            "actions": actions,
            "notice": self.notice,
        });
        if !self.assumed.is_empty() {
            v["assumed_absent"] = json!(self.assumed);
        }
        v
    }
}

/// An action's JSON: its `type` and target fields, plus the IAM actions it needs.
pub fn action_json(a: &Action) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("iam_actions".into(), json!(a.iam_actions()));
    }
    v
}

/// Who did what, from where: the part of the event a reader needs.
pub fn event_summary(e: &Event) -> Value {
    let (actor, actor_type, key, ip) = match &e.body {
        EventBody::CloudTrail(r) => (
            Some(r.user_identity.display()),
            r.user_identity.identity_type.clone(),
            r.user_identity.access_key_id.clone(),
            r.source_ip_address.clone(),
        ),
        EventBody::GuardDuty(f) => {
            let d = f.resource.access_key_details.clone().unwrap_or_default();
            (d.user_name, d.user_type, d.access_key_id, f.remote_ip())
        }
        EventBody::Manual(m) => (m.requested_by.clone(), None, m.access_key_id.clone(), None),
        _ => (None, None, None, None),
    };
    let time = e
        .envelope
        .time
        .clone()
        .or_else(|| e.cloudtrail().and_then(|r| r.event_time.clone()));
    json!({
        "source": e.envelope.source,
        "detail_type": e.envelope.detail_type,
        "name": e.name(),
        "account": e.account(),
        "region": e.region(),
        "time": time.as_deref().and_then(crate::time::normalize).or(time),
        "actor": actor,
        "actor_type": actor_type,
        "access_key_id": key,
        "source_ip": ip,
    })
}

/// Either a decision, or the facts needed to make one.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Decided(Decision),
    NeedFacts(Vec<FactRequest>),
}
