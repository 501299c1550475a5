//! Approval before acting (mode `approve`). A function in that mode plans, keeps the plan in
//! the ledger and tells people; `trailguard approve ID` puts an "Approve Plan" event on the
//! manual-trigger bus, and the function then reads the plan it kept (never the event's word
//! for it), decides the kept event again as the resources are now, and does only actions the
//! plan holds. This file is the pure part: the plan's id and form, the approval's state in a
//! report, and the check that an approved run stays inside what was approved.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::Action;
use crate::decision::Decision;
use crate::event::{Event, EventBody};

/// The manual-trigger bus's detail-type that approves a plan.
pub const DETAIL_TYPE: &str = "Approve Plan";

/// The ledger key a plan is kept under.
pub fn ledger_key(plan_id: &str) -> String {
    format!("plan#{plan_id}")
}

/// The id of the plan a function makes for an event: the same for every delivery of that
/// event (a redelivery finds the plan it already kept), different per function (EventBridge
/// gives each rule's target the same event id). 16 hex digits, so it is safe in any text.
pub fn plan_id(event_id: &str, function: &str) -> String {
    format!(
        "{:016x}",
        fnv1a(format!("{function}#{event_id}").as_bytes())
    )
}

/// FNV-1a of `bytes`: stable across processes and releases, unlike the std hasher.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Whether `s` has the form of a plan id (16 lower-case hex digits).
pub fn is_plan_id(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What the ledger keeps of a plan waiting for approval (as JSON, under [`ledger_key`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPlan {
    pub plan_id: String,
    pub function: String,
    /// The event as it was delivered: an approval decides it again.
    pub event: Value,
    /// The actions planned, as they are sent (each action's JSON, `"type"` and target):
    /// an approved run does no other.
    pub actions: Vec<Value>,
    pub reason: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// Epoch seconds after which an approval does nothing.
    pub approve_by: i64,
}

/// Where a plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    /// Kept, waiting for a person.
    Waiting,
    /// A person approved it: the function acts (again, on a redelivery: the actions' claims
    /// make that exactly once).
    Approved,
    Rejected,
    /// Not approved in time.
    Expired,
    /// Approved, then not run: the event decides differently now, or the plan names
    /// another function, or the ledger has no such plan.
    Refused,
}

impl PlanState {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Waiting => "waiting",
            PlanState::Approved => "approved",
            PlanState::Rejected => "rejected",
            PlanState::Expired => "expired",
            PlanState::Refused => "refused",
        }
    }

    /// The state the ledger writes (`None`: not one it keeps).
    pub fn parse(s: &str) -> Option<PlanState> {
        [
            PlanState::Waiting,
            PlanState::Approved,
            PlanState::Rejected,
            PlanState::Expired,
            PlanState::Refused,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// The approval part of a report: the plan, where it stands, and the commands people run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    pub plan_id: String,
    pub state: PlanState,
    /// When the plan expires (UTC, ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_by: Option<String>,
    /// Who approved or rejected it (the principal's ARN, as the request named it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Why an approval did nothing, or why the plan could not be kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub approve: String,
    pub reject: String,
}

impl Approval {
    pub fn new(plan_id: &str, state: PlanState, approve_by: Option<i64>) -> Approval {
        Approval {
            plan_id: plan_id.to_string(),
            state,
            approve_by: approve_by.map(crate::time::format_epoch),
            by: None,
            problem: None,
            approve: format!("trailguard approve {plan_id}"),
            reject: format!("trailguard reject {plan_id}"),
        }
    }
}

/// An "Approve Plan" request as the manual-trigger bus delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request<'a> {
    pub plan_id: &'a str,
    pub requested_by: Option<&'a str>,
    /// The digest of the plan as `trailguard approve` showed it: the function runs the plan
    /// only if the one it reads is that one.
    pub digest: Option<&'a str>,
}

/// The approval an event asks for, if it is one: `source` trailguard, the detail-type
/// [`DETAIL_TYPE`], and a plan id of the right form (`Err`: an approval naming none).
pub fn request(event: &Event) -> Option<Result<Request<'_>, String>> {
    let EventBody::Manual(m) = &event.body else {
        return None;
    };
    if m.action != DETAIL_TYPE {
        return None;
    }
    Some(match m.plan_id.as_deref() {
        Some(id) if is_plan_id(id) => Ok(Request {
            plan_id: id,
            requested_by: m.requested_by.as_deref(),
            digest: m.plan_digest.as_deref(),
        }),
        other => Err(format!(
            "the approval names no plan id (detail.planId: 16 hex digits), found {other:?}"
        )),
    })
}

/// The actions of an approved run that the plan does not hold, described: an approval
/// lets the function do only what people saw. An action the plan holds but the decision no
/// longer makes is simply not done (the resource changed since, or an exemption was given),
/// and neither is a target of one that is gone since (fewer rule ids, fewer accounts): an
/// action is held when a planned one of its type has the same fields, each of its lists
/// with at most the planned targets ([`within`]).
pub fn unapproved(plan: &StoredPlan, decision: &Decision) -> Vec<String> {
    decision
        .actions
        .iter()
        .filter(|a| {
            let now = wire(a);
            a.mutates() && (now.is_null() || !plan.actions.iter().any(|p| within(&now, p)))
        })
        .map(Action::describe)
        .collect()
}

/// Whether an action's JSON asks for no more than a planned one: the same fields, equal
/// values, and each list either equal to the planned one or a non-empty part of it (an empty
/// list can mean "all", as a cluster's members).
pub fn within(now: &Value, planned: &Value) -> bool {
    match (now, planned) {
        (Value::Object(n), Value::Object(p)) => {
            n.len() == p.len()
                && n.iter()
                    .all(|(k, v)| p.get(k).is_some_and(|pv| within(v, pv)))
        }
        (Value::Array(n), Value::Array(p)) => {
            n == p || (!n.is_empty() && n.iter().all(|x| p.contains(x)))
        }
        (Value::Null, _) => false,
        (n, p) => n == p,
    }
}

/// Who approved, as the request names them, made fit for a report and a terminal: control
/// characters dropped, at most 256 characters (the bus's policy decides who may approve; this
/// is only their word for their name).
pub fn approver(requested_by: Option<&str>) -> String {
    let name: String = requested_by
        .unwrap_or_default()
        .chars()
        // Control characters, and the invisible ones that reorder or hide text (bidi
        // overrides and isolates, zero-width characters, the byte-order mark).
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
        })
        .take(256)
        .collect();
    match name.trim() {
        "" => "a ManualTriggerPrincipals principal who gave no name".to_string(),
        n => n.to_string(),
    }
}

/// An action as a plan keeps it.
pub fn wire(a: &Action) -> Value {
    serde_json::to_value(a).unwrap_or(Value::Null)
}

/// The plan a decision in mode `approve` makes, for the ledger.
pub fn stored_plan(
    event: &Event,
    decision: &Decision,
    plan_id: &str,
    function: &str,
    approve_by: i64,
) -> StoredPlan {
    StoredPlan {
        plan_id: plan_id.to_string(),
        function: function.to_string(),
        event: event.raw.clone(),
        actions: decision.actions.iter().map(wire).collect(),
        reason: decision.reason.clone(),
        account: event.account().map(String::from),
        region: event.region().map(String::from),
        approve_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Notice;
    use crate::action::RevokeRules;
    use crate::decision::Kind;

    fn revoke(rule: &str) -> Action {
        Action::RevokeSecurityGroupRules(RevokeRules {
            group_id: "sg-0123456789abcdef0".into(),
            egress: false,
            rule_ids: vec![rule.into()],
            permissions: vec![],
        })
    }

    fn plan(actions: Vec<Action>) -> StoredPlan {
        StoredPlan {
            plan_id: plan_id("e-1", "revert-security-group"),
            function: "revert-security-group".into(),
            event: Value::Null,
            actions: actions.iter().map(wire).collect(),
            reason: "opened to the world".into(),
            account: None,
            region: None,
            approve_by: 0,
        }
    }

    #[test]
    fn plan_ids_are_stable_per_event_and_function() {
        let a = plan_id(
            "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "revert-security-group",
        );
        assert!(is_plan_id(&a), "{a}");
        assert_eq!(
            a,
            plan_id(
                "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                "revert-security-group"
            )
        );
        assert_ne!(
            a,
            plan_id("6a7e8feb-b491-4cf7-a9f1-bf3703467718", "revert-network-acl")
        );
        assert_ne!(
            a,
            plan_id(
                "6a7e8feb-b491-4cf7-a9f1-bf3703467719",
                "revert-security-group"
            )
        );
        for bad in [
            "",
            "0123456789ABCDEF",
            "0123456789abcde",
            "0123456789abcdeg",
            "0123456789abcdef0",
        ] {
            assert!(!is_plan_id(bad), "{bad}");
        }
    }

    #[test]
    fn only_approved_changes_may_run() {
        let notice = Notice {
            severity: crate::action::Severity::High,
            title: "t".into(),
            details: vec![],
        };
        let mut d = Decision::remediate("x", vec![revoke("sgr-0aaaaaaaaaaaaaaaa")], notice);
        assert!(unapproved(&plan(vec![revoke("sgr-0aaaaaaaaaaaaaaaa")]), &d).is_empty());
        // Fewer than approved: fine (the rest is no longer wanted).
        assert!(unapproved(
            &plan(vec![
                revoke("sgr-0aaaaaaaaaaaaaaaa"),
                revoke("sgr-0bbbbbbbbbbbbbbbb")
            ]),
            &d
        )
        .is_empty());
        // One action with fewer of its planned targets (a rule the attacker revoked
        // themselves since): still approved.
        let both = Action::RevokeSecurityGroupRules(RevokeRules {
            group_id: "sg-0123456789abcdef0".into(),
            egress: false,
            rule_ids: vec![
                "sgr-0aaaaaaaaaaaaaaaa".into(),
                "sgr-0bbbbbbbbbbbbbbbb".into(),
            ],
            permissions: vec![],
        });
        assert!(unapproved(&plan(vec![both.clone()]), &d).is_empty());
        // More targets than planned, or the other direction: not approved.
        let mut more = d.clone();
        more.actions = vec![both.clone()];
        assert_eq!(
            unapproved(&plan(vec![revoke("sgr-0aaaaaaaaaaaaaaaa")]), &more).len(),
            1
        );
        let mut egress = d.clone();
        if let Action::RevokeSecurityGroupRules(r) = &mut egress.actions[0] {
            r.egress = true;
        }
        assert_eq!(unapproved(&plan(vec![both]), &egress).len(), 1);
        // Another target than approved: named.
        d.actions = vec![revoke("sgr-0cccccccccccccccc")];
        let extra = unapproved(&plan(vec![revoke("sgr-0aaaaaaaaaaaaaaaa")]), &d);
        assert_eq!(extra.len(), 1, "{extra:?}");
        assert!(extra[0].contains("sg-0123456789abcdef0"), "{extra:?}");
        assert_eq!(d.kind, Kind::Remediate);
    }

    #[test]
    fn a_list_is_within_a_planned_one_only_as_a_non_empty_part_of_it() {
        use serde_json::json;
        let planned = json!({"type": "t", "id": "x", "ids": ["a", "b"], "all": []});
        assert!(within(&planned, &planned));
        assert!(within(
            &json!({"type": "t", "id": "x", "ids": ["b"], "all": []}),
            &planned
        ));
        // An empty list may mean every member: never "fewer".
        assert!(!within(
            &json!({"type": "t", "id": "x", "ids": [], "all": []}),
            &planned
        ));
        assert!(!within(
            &json!({"type": "t", "id": "x", "ids": ["c"], "all": []}),
            &planned
        ));
        assert!(!within(
            &json!({"type": "t", "id": "y", "ids": ["a"], "all": []}),
            &planned
        ));
        assert!(!within(
            &json!({"type": "t", "id": "x", "ids": ["a"]}),
            &planned
        ));
        assert!(!within(
            &json!({"type": "t", "id": "x", "ids": ["a"], "all": [], "more": 1}),
            &planned
        ));
        assert!(!within(&Value::Null, &Value::Null));
    }

    #[test]
    fn only_recording_and_detection_controls_run_without_approval() {
        let mut without: Vec<&str> = crate::action::ALL_ACTIONS
            .iter()
            .filter(|i| crate::action::runs_without_approval(i))
            .map(|i| i.type_name)
            .collect();
        without.sort_unstable();
        // Every name is a declared type (a typo would leave it waiting, silently).
        assert_eq!(
            without,
            [
                "cancel_key_deletion",
                "enable_detector",
                "enable_ebs_encryption_by_default",
                "enable_key_rotation",
                "restore_management_events",
                "start_logging"
            ]
        );
        // Safeguards that take access away wait.
        for waits in [
            "untag_bucket",
            "put_bucket_public_access_block",
            "remove_tag",
            "enable_snapshot_block_public_access",
        ] {
            let info = crate::action::ALL_ACTIONS
                .iter()
                .find(|i| i.type_name == waits)
                .unwrap();
            assert!(
                info.restores_safeguard && !crate::action::runs_without_approval(info),
                "{waits}"
            );
        }
        assert!(!revoke("sgr-0aaaaaaaaaaaaaaaa").runs_without_approval());
    }

    #[test]
    fn decide_names_the_function_an_approval_is_for() {
        use serde_json::json;
        let approval = |function: &str| {
            crate::Event::from_value(json!({
                "version": "0", "id": "x", "detail-type": "Approve Plan", "source": "trailguard",
                "account": "123456789012", "time": "2026-11-18T11:10:00Z", "region": "us-east-1",
                "resources": [], "detail": {"planId": "0123456789abcdef", "function": function},
            }))
            .unwrap()
        };
        let decided = |e: &crate::Event, policy: &str| {
            let p = crate::Policy::from_json(policy).unwrap();
            match crate::decide(e, &p, &crate::Facts::default()) {
                crate::Verdict::Decided(d) => d,
                other => panic!("{other:?}"),
            }
        };
        let d = decided(
            &approval("revert-security-group"),
            r#"{"manual_trigger": true}"#,
        );
        assert_eq!(d.kind, Kind::Ignore);
        assert!(
            d.reason
                .contains("revert-security-group carries out the plan"),
            "{}",
            d.reason
        );
        for (function, policy) in [
            ("revert-security-group", "{}"),
            ("no-such-function", r#"{"manual_trigger": true}"#),
        ] {
            let d = decided(&approval(function), policy);
            assert!(
                d.reason.contains("no function's approval rule"),
                "{}",
                d.reason
            );
        }
    }

    #[test]
    fn states_read_back() {
        for s in [
            PlanState::Waiting,
            PlanState::Approved,
            PlanState::Rejected,
            PlanState::Expired,
            PlanState::Refused,
        ] {
            assert_eq!(PlanState::parse(s.as_str()), Some(s));
        }
        assert_eq!(PlanState::parse("done"), None);
    }
}
