//! The one handler every function runs: parse, look up only the facts the decision needs,
//! decide, act (or plan, in dry-run), report, tell people, and return an error Lambda can
//! retry when something that matters failed.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trailguard_rules::approval::PlanState;
use trailguard_rules::finding::FindingOutcome;
use trailguard_rules::render;
use trailguard_rules::report::{ErrorReport, Timing};
use trailguard_rules::{decide_guard, Decision, Event, Facts, Kind, Mode, Report};

use crate::attempts::recorded;
use crate::config::Settings;
use crate::error::{HandlerError, PortError};
use crate::lazy::Lazy;
use crate::lookup::{self, Unsettled};
use crate::metrics;
use crate::ports::{
    AliasPort, Clients, Connect, GuardDutyPort, LedgerPort, NotifyPort, SecurityHubPort, Target,
};
use crate::{Incoming, Response};

/// Everything a handler needs, built once at cold start.
pub struct Deps<C, N> {
    /// The clients for the account and region an event is about.
    pub connect: C,
    pub notify: N,
    pub settings: Settings,
    /// Seconds since the epoch; a parameter so tests can fix time.
    pub clock: fn() -> i64,
}

/// The longest the notice waits for the report to be kept in the ledger.
const REPORT_WAIT: Duration = Duration::from_millis(3000);

/// The longest a notice waits for the account's alias.
const ALIAS_WAIT: Duration = Duration::from_millis(1500);

pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl<C: Connect, N: NotifyPort> Deps<C, N> {
    /// The Lambda entry point: the report on success, an error Lambda retries otherwise. A
    /// scheduled event starts the guard's reconciliation sweep, which stops listing before
    /// the invocation's deadline.
    pub async fn handle(
        &self,
        event: lambda_runtime::LambdaEvent<Incoming>,
    ) -> Result<Response, HandlerError> {
        let result = if event.payload.is_scheduled() && !self.settings.guard().0.sweeps.is_empty() {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            // Lambda always gives a deadline ahead; a local runtime may give none, or one
            // already past: the sweep then runs without one (and says so).
            let deadline = match event.context.deadline.checked_sub(now_ms) {
                Some(left) if left > 0 => Some(Instant::now() + Duration::from_millis(left)),
                _ => {
                    emit(
                        &json!({"level": "WARN", "kind": "no_deadline", "function": self.function(), "deadline_ms": event.context.deadline, "now_ms": now_ms}),
                    );
                    None
                }
            };
            self.sweep(deadline)
                .await
                .map(|r| Response::Sweep(Box::new(r)))
        } else {
            self.process(event.payload).await.map(Response::Event)
        };
        result.inspect_err(|e| {
            emit(&json!({"level": "ERROR", "kind": "invocation_failed", "function": self.function(), "error_type": e.error_type(), "error": e.to_string()}));
        })
    }

    pub(crate) fn function(&self) -> &'static str {
        self.settings.guard().function_name()
    }

    pub async fn process(&self, payload: impl Into<Incoming>) -> Result<Report, HandlerError> {
        let started = Instant::now();
        let payload = payload.into();
        let id = payload.id();
        // The account and region are checked before anything is done there (a central
        // deployment assumes a role in that account and builds clients for that region).
        let event = payload
            .into_event()
            .and_then(|e| e.check_target().map(|()| e))
            .map_err(|e| {
                let e = HandlerError::Malformed(format!("{e} (event id {id})"));
                emit(&json!({"level": "ERROR", "kind": "decision", "function": self.function(), "event_id": id, "decision": "malformed", "reason": e.to_string()}));
                e
            })?;
        // A person's approval of a plan this function kept (mode approve): the plan is read
        // from the ledger and its event decided again (approve.rs).
        if let Some(request) = trailguard_rules::approval::request(&event) {
            if self
                .settings
                .guard()
                .delivers_approval(&event, &self.settings.policy)
            {
                return self.approve(&event, request, started).await;
            }
        }
        self.act(&event, &self.settings.policy, None, started).await
    }

    /// Decide an event under `policy`, act (or plan), report and tell people. `approving`:
    /// the event is a kept plan's, decided again because a person approved it; only what
    /// the plan holds may run.
    pub(crate) async fn act(
        &self,
        event: &Event,
        policy: &trailguard_rules::Policy,
        mut approving: Option<crate::approve::Approving>,
        started: Instant,
    ) -> Result<Report, HandlerError> {
        // Time spent waiting on AWS, so the report can show trailguard's own overhead.
        let mut aws = Duration::ZERO;
        let mut clients = Lazy {
            connect: &self.connect,
            target: Target {
                account: event.account().map(String::from),
                region: event.region().map(String::from),
                event_id: event.id().map(String::from),
            },
            clients: None,
        };
        // Boxed: the decision's future is large, and held by value it would grow this one's.
        let reading = Instant::now();
        let (decided, lookups) =
            recorded(Box::pin(self.decide(event, policy, &mut clients, &mut aws))).await;
        let (mut decision, read) = match decided {
            Ok(d) => d,
            // The event's account could not be reached: no decision is possible, and people
            // are told which role failed before Lambda retries the event.
            Err(HandlerError::Lookup(e)) if clients.failed() => {
                return Err(self.unreachable(event, &clients, e).await);
            }
            Err(e) => return Err(e),
        };
        // Approved: only the plan's actions run, and only once the plan is settled approved.
        if let Some(a) = approving.as_mut() {
            if let Some(nothing) = self.settle_approval(a, &decision, policy).await? {
                decision = nothing;
            }
        }
        emit(
            &json!({"level": "INFO", "kind": "decision", "function": self.function(), "event_id": event.id(), "decision": decision.kind, "reason": decision.reason, "mode": decision.mode, "actions": decision.actions.len()}),
        );
        let mut report = Report::new(&decision, Some(event));
        report.function = Some(self.function());
        report.lookups = lookups;
        // The id the event's claims and reports are kept under, which `trailguard undo`
        // needs (CloudTrail's, when the envelope has none).
        if let Some(id) = crate::gate::event_key_id(event) {
            report.event_id = Some(id.to_string());
        }
        aws += self
            .run_plan(
                Some(event),
                &decision,
                Some(crate::executor::Read {
                    facts: &read,
                    at: reading,
                }),
                &mut report,
                &mut clients,
            )
            .await;
        // Mode approve: the plan kept in the ledger for a person (an approved run's report
        // says whose approval it carried out).
        let t = Instant::now();
        // A plan that could not be kept is told (no one can approve it yet), then the error
        // is returned, so Lambda delivers the event again.
        let mut plan_error = None;
        let waits = report
            .actions
            .iter()
            .any(|a| a.outcome == Some(trailguard_rules::Status::AwaitingApproval));
        report.approval = match approving {
            Some(a) => Some(a.approval),
            None if waits => match self.keep_plan(event, &decision).await {
                Ok(a) => Some(a),
                Err(e) => {
                    let mut a = report.approval.take().unwrap_or_else(|| {
                        trailguard_rules::approval::Approval::new("-", PlanState::Refused, None)
                    });
                    a.state = PlanState::Refused;
                    a.problem = Some(format!(
                        "the plan could not be kept, so no one can approve it yet ({e}); the event \
                         is delivered again"
                    ));
                    plan_error = Some(e);
                    Some(a)
                }
            },
            None => None,
        };
        // The finding the event carried, told what became of it (finding.rs decides what to
        // write: never in dry-run, RESOLVED only when the report proves the incident contained).
        let finding_error = self.update_finding(event, &mut report, &mut clients).await;
        let archive_error = self.archive_finding(event, &mut report).await;
        aws += t.elapsed();
        // The alias read before a notice connects nowhere new (`Lazy::without_new_role`).
        report.connection = clients.connection();
        self.keep_report(event, &report).await;
        metrics::emit_outcomes(&report);

        // People are told about every remediation, notice and failure; ignored events only log.
        let failures: Vec<ErrorReport> = report
            .critical_failures()
            .filter_map(|a| a.error.clone())
            .collect();
        if decision.kind != Kind::Ignore || !failures.is_empty() || report.approval.is_some() {
            let t = Instant::now();
            report.notified = true;
            // An event naming no account has no alias to show (not the deployment's own).
            let alias = match event.account() {
                Some(_) => self.account_alias(&mut clients).await,
                None => None,
            };
            if let Some(e) = report.event.as_mut() {
                e.set_account_alias(alias.as_deref());
            }
            let (subject, body) = render::render(&report);
            self.notify
                .publish(&subject, &body, &report)
                .await
                .map_err(HandlerError::Notify)?;
            if decision.kind == Kind::Remediate {
                let detail_type = if decision.mode != Mode::Enforce {
                    "Remediation Planned"
                } else {
                    "Remediation Performed"
                };
                self.notify
                    .put_event(detail_type, &report)
                    .await
                    .map_err(HandlerError::Notify)?;
            }
            aws += t.elapsed();
        }
        // The report shows how long trailguard itself took beyond waiting on AWS.
        let total = started.elapsed();
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        report.timing = Some(Timing {
            total_ms: ms(total),
            aws_ms: ms(aws),
            overhead_ms: ms(total.saturating_sub(aws)),
        });
        match plan_error
            .or(remediation_error(&failures))
            .or(finding_error)
            .or(archive_error)
        {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Keep what the report changed in the ledger, for `trailguard undo --event-id`. It is a
    /// convenience beside the claims (which hold each reversal), so failing to keep it fails
    /// nothing: it is logged, and the report itself (log, notice, event) still serves.
    async fn keep_report(&self, event: &Event, report: &Report) {
        let (Some(table), Some(id)) = (
            &self.settings.ledger_table,
            crate::gate::event_key_id(event),
        ) else {
            return;
        };
        let Some(mut kept) = trailguard_rules::undo::kept(&report.to_value()) else {
            return;
        };
        // Under the id its claims are kept under, which `merge` holds it to.
        kept["event_id"] = json!(id);
        let keep_until =
            (self.clock)() + i64::from(self.settings.policy.undo_retention_days) * 86_400;
        let key = crate::ledger::report_key(id, self.function());
        let home = self.connect.home();
        // Bounded: a slow ledger must not keep the notice from going out.
        let kept = tokio::time::timeout(
            REPORT_WAIT,
            home.ledger()
                .keep_report(table, &key, &kept.to_string(), keep_until),
        )
        .await;
        let error = match kept {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer in {} ms", REPORT_WAIT.as_millis()),
        };
        emit(
            &json!({"level": "WARN", "kind": "report_not_kept", "function": self.function(), "event_id": id, "error": error}),
        );
    }

    /// The alias of the account a notice is about, read with that account's clients when
    /// they need no new role (`Lazy::without_new_role`: a plan or notice in a member account
    /// that connected to nothing assumes nothing for its alias, and shows none); a failure
    /// only leaves it out of the notice (and is logged): people are told anyway, and no later
    /// than [`ALIAS_WAIT`] for it (IAM throttled or unreachable delays no notice).
    pub(crate) async fn account_alias(&self, clients: &mut Lazy<'_, C>) -> Option<String> {
        let read = async {
            match clients.without_new_role().await {
                Some(c) => c.aliases().account_alias().await.map(Some),
                None => Ok(None),
            }
        };
        let read = tokio::time::timeout(ALIAS_WAIT, read)
            .await
            .unwrap_or_else(|_| {
                Err(PortError::Transient {
                    op: trailguard_rules::ops::LIST_ACCOUNT_ALIASES.api,
                    code: "Timeout".into(),
                    message: format!("no answer within {} ms", ALIAS_WAIT.as_millis()),
                })
            });
        read.map(Option::flatten).unwrap_or_else(|e| {
            emit(
                &json!({"level": "WARN", "kind": "account_alias", "function": self.function(), "error": e.to_string()}),
            );
            None
        })
    }

    /// Archive the GuardDuty finding the event was, once its credentials are contained and
    /// when the policy asks (`trailguard_rules::finding::archive_plan`), in the account it
    /// was delivered to; the answer goes in the report's `archived`. Failures are handled as
    /// for the Security Hub update: a transient one is returned, a permanent one (a member
    /// account, which GuardDuty does not let archive; no detector) only reported.
    async fn archive_finding(&self, event: &Event, report: &mut Report) -> Option<HandlerError> {
        let mut archive = trailguard_rules::finding::archive_plan(
            report,
            event,
            self.settings.policy.archive_guardduty_findings,
        )?;
        let target = Target {
            account: Some(archive.account.clone()),
            region: Some(archive.region.clone()),
            event_id: event.id().map(String::from),
        };
        let result = match self.connect.connect(&target).await {
            Ok(c) => c.guardduty().archive_finding(&archive.finding_id).await,
            Err(e) => Err(e),
        };
        let (outcome, error, retry) = answered(result);
        (archive.outcome, archive.error) = (Some(outcome), error);
        emit(
            &json!({"level": if archive.error.is_some() { "ERROR" } else { "INFO" }, "kind": "finding_archive", "function": self.function(), "event_id": event.id(), "finding": archive.finding_id, "account": archive.account, "outcome": archive.outcome, "error": archive.error.as_ref().map(|e| e.message.as_str())}),
        );
        report.archived = Some(archive);
        retry
    }

    /// Update the event's Security Hub finding as `trailguard_rules::finding::plan` says,
    /// recording what Security Hub answered in the report. A transient failure is returned,
    /// so Lambda delivers the event again and the failure queue keeps it if that fails too:
    /// a guard that decides from the event finds its actions already done and writes the
    /// update then; one that decides from the resource as it is now finds nothing to do and
    /// writes nothing (Security Hub resolves a control finding itself once its check passes).
    /// A permanent failure (no permission, Security Hub off) is only reported: the
    /// remediation stands, and trying again cannot help.
    async fn update_finding(
        &self,
        event: &Event,
        report: &mut Report,
        clients: &mut Lazy<'_, C>,
    ) -> Option<HandlerError> {
        let mut update =
            trailguard_rules::finding::plan(report, event, self.settings.policy.update_findings)?;
        let result = match clients.get().await {
            Ok(c) => c.securityhub().update_finding(&update).await,
            Err(e) => Err(e),
        };
        let (outcome, error, retry) = answered(result);
        (update.outcome, update.error) = (Some(outcome), error);
        emit(
            &json!({"level": if update.error.is_some() { "ERROR" } else { "INFO" }, "kind": "finding_update", "function": self.function(), "event_id": event.id(), "finding": update.id, "workflow_status": update.workflow_status, "outcome": update.outcome, "error": update.error.as_ref().map(|e| e.message.as_str())}),
        );
        report.finding = Some(update);
        retry
    }

    /// The event's account could not be reached while looking up facts: report it as a
    /// failed connection, tell people (naming the role and what to check), and return the
    /// error, so Lambda retries and the failure queue keeps the event.
    async fn unreachable(
        &self,
        event: &Event,
        clients: &Lazy<'_, C>,
        e: PortError,
    ) -> HandlerError {
        let decision = trailguard_rules::attribute_decision(
            self.settings.guard(),
            Decision::unreachable(
                event.account().unwrap_or("?"),
                event.region().unwrap_or("?"),
                &e.to_string(),
            ),
            event.account(),
            &self.settings.policy,
        );
        let mut report = Report::new(&decision, Some(event));
        report.function = Some(self.function());
        report.connection = clients.connection();
        report.notified = true;
        emit(
            &json!({"level": "ERROR", "kind": "decision", "function": self.function(), "event_id": event.id(), "decision": "unreachable", "reason": decision.reason, "error": e.to_string()}),
        );
        let (subject, body) = render::render(&report);
        if let Err(n) = self.notify.publish(&subject, &body, &report).await {
            return HandlerError::Notify(n);
        }
        HandlerError::Unreachable(e)
    }

    /// Decide, looking up exactly the facts the rules ask for (`lookup::settle`; the rounds
    /// are bounded by `trailguard_rules::ask::ROUNDS`).
    async fn decide(
        &self,
        event: &Event,
        policy: &trailguard_rules::Policy,
        clients: &mut Lazy<'_, C>,
        aws: &mut Duration,
    ) -> Result<(Decision, Facts), HandlerError> {
        let s = &self.settings;
        let facts = Facts {
            own_role_arn: s.own_role_arn.clone(),
            ..Facts::default()
        };
        let decide = |facts: &Facts| decide_guard(s.decider, event, policy, facts);
        match lookup::settle(clients, facts, decide, aws).await {
            Ok(d) => Ok(d),
            Err(Unsettled::Lookup(e)) => Err(HandlerError::Lookup(e)),
            Err(Unsettled::Stuck) => Err(HandlerError::Internal(
                "the rules kept asking for facts after they were looked up".into(),
            )),
        }
    }
}

/// What a finding's update or archive call proved, for the report, and the invocation's error
/// when it failed transiently (a permanent failure is only reported: the remediation stands).
fn answered(
    result: Result<FindingOutcome, PortError>,
) -> (FindingOutcome, Option<ErrorReport>, Option<HandlerError>) {
    match result {
        Ok(outcome) => (outcome, None, None),
        Err(e) => (
            FindingOutcome::Failed,
            Some(e.report()),
            e.is_retryable().then_some(HandlerError::FindingUpdate(e)),
        ),
    }
}

/// The invocation's error when critical actions failed: retryable only if every failure is
/// (a permanent one will not go away by delivering the event again).
pub(crate) fn remediation_error(failures: &[ErrorReport]) -> Option<HandlerError> {
    if failures.is_empty() {
        return None;
    }
    let retryable = failures.iter().all(|e| e.kind == "retryable");
    Some(HandlerError::Remediation {
        breaker: failures
            .iter()
            .all(|e| e.code == crate::executor::BREAKER_OPEN),
        failed: failures.len(),
        kind: if retryable { "retryable" } else { "permanent" },
        summary: failures
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// One JSON log line on stdout (CloudWatch Logs keeps it as is).
pub fn emit(v: &Value) {
    println!("{v}");
}
