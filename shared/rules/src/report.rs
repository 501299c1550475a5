//! The report: a decision, what became of each action, and whether people were told. The
//! functions return it as their Lambda response and log it; `trailguard decide` prints the
//! same schema without outcomes. docs/src/decision-schema.md documents the JSON; keep it stable.

use serde::Serialize;
use serde_json::Value;

use crate::action::{Action, Notice, Undo};
use crate::decision::GuardId;
use crate::decision::{Decision, Kind};
use crate::event::{Event, EventBody};
use crate::facts::FactRequest;
use crate::policy::Mode;

/// What became of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Done,
    /// Nothing to do: the state was already what the action wants.
    AlreadyDone,
    /// Mode dry-run: planned, not done.
    DryRun,
    /// Mode approve: planned, kept, waiting for a person's approval.
    AwaitingApproval,
    Failed,
    /// A person undid it (`trailguard undo`) after an earlier delivery of this event did it:
    /// not done again, and not counted as contained.
    Undone,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::AlreadyDone => "already_done",
            Status::DryRun => "dry_run",
            Status::AwaitingApproval => "awaiting_approval",
            Status::Failed => "failed",
            Status::Undone => "undone",
        }
    }
}

/// Why an action failed, and whether a retry can help.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    pub message: String,
    pub code: String,
    /// `retryable` or `permanent`.
    pub kind: &'static str,
}

/// One action of the plan, with its outcome once it ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionReport {
    #[serde(flatten)]
    pub action: Action,
    pub iam_actions: Vec<&'static str>,
    /// What the action does, for humans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
    /// What a read-only step found (the key-activity summary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// HTTP requests made for this action, retries included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The AWS operations the action called, in order (`DescribeNetworkAcls`,
    /// `DeleteNetworkAclEntry`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    /// For an action done: the exact command that undoes it, or why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo: Option<Undo>,
    /// For an action done: the typed call that undoes it exactly (`trailguard undo` runs it
    /// after checking the resource is still as trailguard left it; undo.rs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversal: Option<crate::undo::Reversal>,
    /// For an action done through the ledger: its claim, which `trailguard undo --table`
    /// marks undone so that a redelivery of the event does not act again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_key: Option<String>,
    /// The target's page in the AWS console (console.rs), in the event's region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console: Option<String>,
    /// The resources the action names, each a real id of its kind (ids.rs): what a
    /// Security Hub finding of the remediation lists (imported.rs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetRef>,
}

/// One resource an action names: its field, the kind of id, the id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TargetRef {
    pub field: String,
    pub kind: crate::ids::IdKind,
    pub id: String,
}

impl ActionReport {
    pub fn planned(action: &Action) -> ActionReport {
        ActionReport {
            iam_actions: action.iam_actions(),
            action: action.clone(),
            target: None,
            outcome: None,
            note: None,
            error: None,
            result: None,
            attempts: None,
            calls: vec![],
            undo: None,
            reversal: None,
            ledger_key: None,
            console: None,
            targets: vec![],
        }
    }

    /// Whether this action failed in a way that must fail the invocation.
    pub fn failed_critically(&self) -> bool {
        self.outcome == Some(Status::Failed) && self.action.is_critical()
    }
}

/// Who did what, from where: the part of the event a reader needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventSummary {
    pub source: Option<String>,
    pub detail_type: Option<String>,
    pub name: String,
    pub account: Option<String>,
    /// The account's alias (`iam:ListAccountAliases`, read by the function before it tells
    /// people; None when it has none or it could not be read). Set only through
    /// [`EventSummary::set_account_alias`], which keeps only what IAM accepts as an alias.
    pub account_alias: Option<String>,
    pub region: Option<String>,
    pub time: Option<String>,
    pub actor: Option<String>,
    pub actor_type: Option<String>,
    pub access_key_id: Option<String>,
    pub source_ip: Option<String>,
}

impl EventSummary {
    /// The account's alias as read from IAM, kept only when it is one IAM could have set
    /// ([`crate::ids::is_account_alias`]): anything else is not shown.
    pub fn set_account_alias(&mut self, alias: Option<&str>) {
        self.account_alias = alias
            .filter(|a| crate::ids::is_account_alias(a))
            .map(String::from);
    }

    pub fn of(e: &Event) -> EventSummary {
        let (actor, actor_type, key, ip) = match &e.body {
            EventBody::CloudTrail(r) => (
                Some(r.user_identity.display()),
                r.user_identity.identity_type.0.clone(),
                r.user_identity.access_key_id.0.clone(),
                r.source_ip_address.0.clone(),
            ),
            EventBody::GuardDuty(f) => {
                let d = f.resource.access_key_details.clone().unwrap_or_default();
                (
                    d.user_name.0,
                    d.user_type.0,
                    d.access_key_id.0,
                    f.remote_ip(),
                )
            }
            EventBody::Manual(m) => (m.requested_by.clone(), None, m.access_key_id.clone(), None),
            _ => (None, None, None, None),
        };
        let time = e
            .envelope
            .time
            .0
            .clone()
            .or_else(|| e.cloudtrail().and_then(|r| r.event_time.0.clone()));
        EventSummary {
            source: e.source().map(String::from),
            detail_type: e.detail_type().map(String::from),
            name: e.name(),
            account: e.account().map(String::from),
            account_alias: None,
            region: e.region().map(String::from),
            time: time.as_deref().and_then(crate::time::normalize).or(time),
            actor,
            actor_type,
            access_key_id: key,
            source_ip: ip,
        }
    }
}

/// Where the function acted when it was not its own account: the member role it assumed,
/// and whether that worked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connection {
    pub account: Option<String>,
    pub region: Option<String>,
    pub role: String,
    /// `done` or `failed`.
    pub outcome: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

/// How long the invocation took, and how much of it was waiting on AWS.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timing {
    pub total_ms: f64,
    pub aws_ms: f64,
    pub overhead_ms: f64,
}

/// The decision about one event and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The file the event came from (`trailguard decide` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_file: Option<String>,
    pub event_id: Option<String>,
    pub event: Option<EventSummary>,
    /// The guard that decided (None when no guard handles the event).
    pub guard: Option<GuardId>,
    pub function: Option<&'static str>,
    pub decision: Kind,
    pub reason: String,
    pub mode: Mode,
    pub actions: Vec<ActionReport>,
    pub notice: Option<Notice>,
    /// Offline decisions: the facts taken as absent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assumed_absent: Vec<FactRequest>,
    /// The AWS operations called to decide (the facts looked up), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lookups: Vec<String>,
    /// A central deployment acting in a member account: through which role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<Connection>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub notified: bool,
    /// The Security Hub finding the event carried, as trailguard updated it (finding.rs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<crate::finding::FindingUpdate>,
    /// The GuardDuty finding the event was, archived once contained (finding.rs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<crate::finding::Archive>,
    /// Mode approve: the plan kept for a person, or the approval this run carried out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::approval::Approval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

impl Report {
    /// The report of a decision, before anything ran.
    pub fn new(d: &Decision, event: Option<&Event>) -> Report {
        Report::unlinked(d, event).with_console(event.and_then(|e| e.region()))
    }

    /// Each action's console page, in `region` (a sweep's report has no event to say it).
    pub fn with_console(mut self, region: Option<&str>) -> Report {
        for a in &mut self.actions {
            let targets = a.action.step().targets();
            a.console = crate::console::first_link(&targets, region);
            a.targets = targets
                .into_iter()
                .filter(|t| t.kind.is_valid(t.value.trim()))
                .map(|t| TargetRef {
                    field: t.field.to_string(),
                    kind: t.kind,
                    id: t.value.trim().to_string(),
                })
                .collect();
        }
        self
    }

    fn unlinked(d: &Decision, event: Option<&Event>) -> Report {
        Report {
            source_file: None,
            event_id: event.and_then(|e| e.id()).map(String::from),
            event: event.map(EventSummary::of),
            guard: d.guard,
            function: d.guard.map(|g| g.function),
            decision: d.kind,
            reason: d.reason.clone(),
            mode: d.mode,
            actions: d.actions.iter().map(ActionReport::planned).collect(),
            notice: d.notice.clone(),
            assumed_absent: d.assumed.clone(),
            lookups: vec![],
            connection: None,
            notified: false,
            finding: None,
            archived: None,
            // Mode approve: the plan's id and commands, as the function will keep it
            // (`trailguard decide` and a backtest's decisions show them too).
            approval: match (d.kind, d.mode, d.guard, event.and_then(Event::key_id)) {
                (Kind::Remediate, Mode::Approve, Some(g), Some(id))
                    if d.actions
                        .iter()
                        .any(|a| a.mutates() && !a.runs_without_approval()) =>
                {
                    let plan = crate::approval::plan_id(id, g.function);
                    Some(crate::approval::Approval::new(
                        &plan,
                        crate::approval::PlanState::Waiting,
                        None,
                    ))
                }
                _ => None,
            },
            timing: None,
        }
    }

    /// The actions whose failure fails the invocation.
    pub fn critical_failures(&self) -> impl Iterator<Item = &ActionReport> {
        self.actions.iter().filter(|a| a.failed_critically())
    }

    /// Nothing was changed on purpose: dry-run, or a plan waiting for approval.
    pub fn is_dry_run(&self) -> bool {
        self.mode != Mode::Enforce
    }

    /// The report is of a plan only: dry-run, or mode approve where no safeguard was put
    /// back at once (those never wait for approval).
    pub fn planned_only(&self) -> bool {
        match self.mode {
            Mode::Enforce => false,
            Mode::DryRun => true,
            Mode::Approve => !self
                .actions
                .iter()
                .any(|a| matches!(a.outcome, Some(Status::Done | Status::AlreadyDone))),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::RevokeRules;
    use serde_json::json;

    #[test]
    fn action_reports_flatten_the_action() {
        let a: Action = RevokeRules {
            group_id: "sg-1".into(),
            egress: false,
            rule_ids: vec!["sgr-1".into()],
            permissions: vec![],
        }
        .into();
        let mut r = ActionReport::planned(&a);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"type": "revoke_security_group_rules", "group_id": "sg-1", "egress": false,
                   "rule_ids": ["sgr-1"], "iam_actions": ["ec2:RevokeSecurityGroupIngress"]})
        );
        r.outcome = Some(Status::AlreadyDone);
        assert_eq!(serde_json::to_value(&r).unwrap()["outcome"], "already_done");
    }
}
