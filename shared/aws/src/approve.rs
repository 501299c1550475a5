//! Mode `approve`, the function's side (the pure side is `trailguard_rules::approval`): a
//! plan kept in the ledger for a person, and a person's approval carried out. The approval
//! event only names the plan: what runs comes from the ledger (which only trailguard's roles
//! and its operators write), decided again from the kept event as the resources are now, and
//! limited to the actions the plan holds. Rejected, expired and unknown plans do nothing and
//! say so.

use std::time::Instant;

use serde_json::json;
use trailguard_rules::approval::{self, Approval, PlanState, Request, StoredPlan};
use trailguard_rules::{render, Decision, Event, Notice, Report, Severity};

use crate::error::{HandlerError, PortError};
use crate::handler::{emit, Deps};
use crate::ports::{Clients, Connect, LedgerPort, NotifyPort};

/// How long after its expiry an approved plan may still be run again: a redelivered
/// approval (EventBridge retries for 24 hours) finishes what the first began; a replay after
/// that does nothing.
const RERUN_SECS: i64 = 86_400;

/// The digest of a plan as the ledger keeps it (SHA-256, hex): `trailguard approve` puts the
/// one of the plan it showed in the approval, and the function runs the plan only if the one
/// it reads has it.
pub fn plan_digest(plan: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(plan.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An approved plan being carried out.
pub(crate) struct Approving {
    pub plan: StoredPlan,
    pub key: String,
    /// Who approved it, as the request names them (the bus lets only
    /// ManualTriggerPrincipals put it).
    pub by: String,
    /// What the report will say of it.
    pub approval: Approval,
}

impl<C: Connect, N: NotifyPort> Deps<C, N> {
    fn table(&self) -> Result<&str, HandlerError> {
        self.settings.ledger_table.as_deref().ok_or_else(|| {
            HandlerError::Approval(PortError::Permanent {
                op: trailguard_rules::ops::LEDGER_PUT.api,
                code: "NoLedger".into(),
                message: "mode approve needs the ledger table (TRAILGUARD_LEDGER_TABLE)".into(),
            })
        })
    }

    /// Keep the plan of a decision in mode approve, so a person can approve it: under the
    /// event's plan id (a redelivery finds the plan it kept, never resetting its state or
    /// its expiry). Failing to keep it fails the invocation (retryably when the ledger may
    /// answer later): a plan no one can approve must not pass for one waiting.
    pub(crate) async fn keep_plan(
        &self,
        event: &Event,
        decision: &Decision,
    ) -> Result<Approval, HandlerError> {
        let table = self.table()?;
        let Some(event_id) = crate::gate::event_key_id(event) else {
            return Err(HandlerError::Approval(PortError::Permanent {
                op: trailguard_rules::ops::LEDGER_PUT.api,
                code: "NoEventId".into(),
                message: "the event has no id to keep its plan under".into(),
            }));
        };
        let id = approval::plan_id(event_id, self.function());
        let now = (self.clock)();
        let refused = |problem: String| {
            HandlerError::Approval(PortError::Permanent {
                op: trailguard_rules::ops::LEDGER_PUT.api,
                code: "PlanNotKept".into(),
                message: problem,
            })
        };
        let policy = &self.settings.policy;
        let approve_by = now + i64::from(policy.approval_ttl_minutes) * 60;
        // Kept past its expiry for the record: who approved or rejected what.
        let keep_until = approve_by + i64::from(policy.undo_retention_days) * 86_400;
        let plan = approval::stored_plan(event, decision, &id, self.function(), approve_by);
        let plan =
            serde_json::to_string(&plan).map_err(|e| HandlerError::Internal(e.to_string()))?;
        let home = self.connect.home();
        let kept = home
            .ledger()
            .offer_plan(
                table,
                &approval::ledger_key(&id),
                &plan,
                approve_by,
                keep_until,
            )
            .await
            .map_err(HandlerError::Approval)?;
        // The plan under this id must be this event's (ids are 64-bit hashes): the one just
        // offered is; one kept before is read.
        let of_this_event = kept.plan == plan
            || serde_json::from_str::<StoredPlan>(&kept.plan)
                .ok()
                .and_then(|p| Event::from_value(p.event).ok())
                .is_some_and(|e| e.key_id() == Some(event_id));
        if !of_this_event {
            return Err(refused(format!(
                "the ledger holds plan {id} for another event, or one that cannot be read"
            )));
        }
        let state = PlanState::parse(&kept.state).unwrap_or(PlanState::Refused);
        // A plan still waiting past its time is expired, whatever the ledger says.
        let state = match state {
            PlanState::Waiting if now > kept.approve_by => PlanState::Expired,
            s => s,
        };
        let mut a = Approval::new(&id, state, Some(kept.approve_by));
        a.by = kept.by;
        emit(
            &json!({"level": "INFO", "kind": "plan_kept", "function": self.function(), "event_id": event_id, "plan_id": id, "state": state.as_str(), "approve_by": kept.approve_by}),
        );
        Ok(a)
    }

    /// A person's approval of plan `request.plan_id`: read the plan this function kept, and
    /// unless it was rejected, expired, or is not this function's, decide its event again
    /// under the policy with `approve` read as `enforce` ([`Deps::act`]).
    pub(crate) async fn approve(
        &self,
        event: &Event,
        request: Result<Request<'_>, String>,
        started: Instant,
    ) -> Result<Report, HandlerError> {
        let request = request.map_err(|p| {
            HandlerError::Malformed(format!("{p} (event id {})", event.id().unwrap_or("?")))
        })?;
        let id = request.plan_id;
        let by = approval::approver(request.requested_by);
        let table = self.table()?;
        let key = approval::ledger_key(id);
        let home = self.connect.home();
        let kept = home
            .ledger()
            .kept_plan(table, &key)
            .await
            .map_err(HandlerError::Approval)?;
        let now = (self.clock)();
        let Some(kept) = kept else {
            return self.refused(event, id, format!("no plan {id} is kept in the ledger: it was never made, or it is past its retention"))
                .await;
        };
        let stored: StoredPlan = match serde_json::from_str(&kept.plan) {
            Ok(p) => p,
            Err(e) => {
                return self
                    .refused(event, id, format!("the kept plan cannot be read: {e}"))
                    .await
            }
        };
        // The kept event, read once: it names the plan (and is decided again below).
        let kept_event = Event::from_value(stored.event.clone());
        let named = kept_event
            .as_ref()
            .ok()
            .and_then(|e| e.key_id().map(|k| approval::plan_id(k, &stored.function)));
        if stored.plan_id != id
            || stored.function != self.function()
            || named.as_deref() != Some(id)
        {
            return self
                .refused(
                    event,
                    id,
                    format!(
                        "plan {id} is {}'s, not {}'s",
                        stored.function,
                        self.function()
                    ),
                )
                .await;
        }
        let state = PlanState::parse(&kept.state).unwrap_or(PlanState::Refused);
        match state {
            PlanState::Waiting if now > kept.approve_by => {
                return self
                    .nothing_done(
                        event,
                        id,
                        PlanState::Expired,
                        Some(kept.approve_by),
                        None,
                        format!("approved by {by} after it expired"),
                    )
                    .await
            }
            PlanState::Approved if now > kept.approve_by.saturating_add(RERUN_SECS) => return self
                .nothing_done(
                    event,
                    id,
                    PlanState::Approved,
                    Some(kept.approve_by),
                    kept.by.clone(),
                    "it was approved and carried out; a day after its expiry it is not run again"
                        .to_string(),
                )
                .await,
            // Approved already: a redelivery of the approval finishes what it began (each
            // action's claim makes it exactly once).
            PlanState::Waiting | PlanState::Approved => {}
            other => {
                return self
                    .nothing_done(
                        event,
                        id,
                        other,
                        Some(kept.approve_by),
                        kept.by.clone(),
                        format!("it was {} before this approval (by {by})", other.as_str()),
                    )
                    .await
            }
        }
        // What the approver was shown: the plan read now must be that one, byte for byte
        // (checked after its state, so a rejected or expired plan says so whatever the CLI).
        if request.digest != Some(plan_digest(&kept.plan).as_str()) {
            return self
                .nothing_done(event, id, state, Some(kept.approve_by), kept.by.clone(), format!(
                    "the approval's planDigest is not the kept plan's: it changed since {by} was shown it, or the approval did not come from `trailguard approve` (an older one puts no digest); nothing was settled, the plan is left {}", state.as_str()
                ))
                .await;
        }
        let kept_event = match kept_event.and_then(|e| e.check_target().map(|()| e)) {
            // Where the plan says it acts is where its event is: what the approver read.
            Ok(e)
                if e.account() != stored.account.as_deref()
                    || e.region() != stored.region.as_deref() =>
            {
                Err(format!(
                    "the kept plan names account {:?} and region {:?}, its event {:?} and {:?}",
                    stored.account,
                    stored.region,
                    e.account(),
                    e.region()
                ))
            }
            Ok(e) => Ok(e),
            Err(e) => Err(format!("the kept event cannot be read: {e}")),
        };
        let kept_event = match kept_event {
            Ok(e) => e,
            Err(problem) => {
                return self
                    .nothing_done(
                        event,
                        id,
                        PlanState::Refused,
                        Some(kept.approve_by),
                        None,
                        problem,
                    )
                    .await
            }
        };
        emit(
            &json!({"level": "INFO", "kind": "approval", "function": self.function(), "event_id": event.id(), "plan_id": id, "plan_event_id": crate::gate::event_key_id(&kept_event), "by": by}),
        );
        let mut a = Approval::new(id, PlanState::Approved, Some(kept.approve_by));
        a.by = Some(by.clone());
        let approving = Approving {
            plan: stored,
            key,
            by,
            approval: a,
        };
        let policy = self.settings.policy.approved();
        self.act(&kept_event, &policy, Some(approving), started)
            .await
    }

    /// Before an approved plan runs: its decision made again must hold no action the plan
    /// does not, and the plan must be settled approved (a rejection or expiry that came
    /// first wins). `Some(decision)`: nothing runs, and this is what people are told.
    pub(crate) async fn settle_approval(
        &self,
        a: &mut Approving,
        decision: &Decision,
        policy: &trailguard_rules::Policy,
    ) -> Result<Option<Decision>, HandlerError> {
        let table = self.table()?;
        let now = (self.clock)();
        let home = self.connect.home();
        let ledger = home.ledger();
        let extra = approval::unapproved(&a.plan, decision);
        let nothing_to_do = decision.kind != trailguard_rules::Kind::Remediate
            || !decision.actions.iter().any(|x| x.mutates());
        let problem = if decision.mode != trailguard_rules::Mode::Enforce {
            // The deployment went back to dry-run since: the approval is not used up, and
            // the plan waits on (until it expires) for a deployment that acts.
            a.approval.state = PlanState::Waiting;
            format!(
                "the function runs in {} now; the plan still waits",
                decision.mode
            )
        } else if nothing_to_do {
            // Decided again, the event asks for nothing now (an exemption, the resource
            // changed): the approval is not used up either, so it can be given again later.
            a.approval.state = PlanState::Waiting;
            format!(
                "decided again now, the event asks for nothing ({}); the plan still waits",
                decision.reason
            )
        } else if !extra.is_empty() {
            // Nothing runs, and the plan is not used up: the event may ask for less again
            // (what it asks now is told, for a person to act on by hand).
            a.approval.state = PlanState::Waiting;
            format!(
                "the event, decided again now, asks for what the plan does not hold: {}; \
                 nothing was done, the plan still waits",
                extra.join("; ")
            )
        } else if ledger
            .settle_plan(
                table,
                &a.key,
                "waiting",
                PlanState::Approved.as_str(),
                &a.by,
                now,
            )
            .await
            .map_err(HandlerError::Approval)?
        {
            return Ok(None);
        } else {
            // Settled by someone else first: approved (a redelivery, go on), or not.
            let kept = ledger
                .kept_plan(table, &a.key)
                .await
                .map_err(HandlerError::Approval)?;
            let state = kept
                .as_ref()
                .and_then(|k| PlanState::parse(&k.state))
                .unwrap_or(PlanState::Refused);
            match state {
                PlanState::Approved => return Ok(None),
                PlanState::Waiting => {
                    a.approval.state = PlanState::Expired;
                    "it expired before it was approved".to_string()
                }
                other => {
                    a.approval.state = other;
                    a.approval.by = kept.and_then(|k| k.by);
                    format!("it was {} first", other.as_str())
                }
            }
        };
        a.approval.problem = Some(problem.clone());
        Ok(Some(trailguard_rules::attribute_decision(
            self.settings.guard(),
            Decision::notify(
                format!(
                    "approval of plan {}: nothing was done: {problem}",
                    a.plan.plan_id
                ),
                Notice {
                    severity: Severity::Medium,
                    title: format!("Approval of plan {}: nothing was done", a.plan.plan_id),
                    details: vec![problem],
                },
            ),
            a.plan.account.as_deref(),
            policy,
        )))
    }

    /// An approval of a plan that cannot be run as kept (none, unreadable, another's).
    async fn refused(
        &self,
        event: &Event,
        id: &str,
        problem: String,
    ) -> Result<Report, HandlerError> {
        self.nothing_done(event, id, PlanState::Refused, None, None, problem)
            .await
    }

    /// An approval that does nothing: people are told why (the approver waits for it).
    async fn nothing_done(
        &self,
        event: &Event,
        id: &str,
        state: PlanState,
        approve_by: Option<i64>,
        by: Option<String>,
        problem: String,
    ) -> Result<Report, HandlerError> {
        let decision = trailguard_rules::attribute_decision(
            self.settings.guard(),
            Decision::notify(
                format!("approval of plan {id}: nothing was done: {problem}"),
                Notice {
                    severity: Severity::Medium,
                    title: format!("Approval of plan {id}: nothing was done"),
                    details: vec![problem.clone()],
                },
            ),
            event.account(),
            &self.settings.policy,
        );
        let mut report = Report::new(&decision, Some(event));
        report.function = Some(self.function());
        let mut a = Approval::new(id, state, approve_by);
        a.by = by;
        a.problem = Some(problem);
        report.approval = Some(a);
        report.notified = true;
        emit(
            &json!({"level": "WARN", "kind": "approval", "function": self.function(), "event_id": event.id(), "plan_id": id, "state": state.as_str(), "reason": decision.reason}),
        );
        let (subject, body) = render::render(&report);
        self.notify
            .publish(&subject, &body, &report)
            .await
            .map_err(HandlerError::Notify)?;
        Ok(report)
    }
}
