//! The plan runner: the one place actions run (or are only planned, in dry-run), each
//! mutating action of an enforced plan through the ledger gate when there is a ledger.

use std::time::{Duration, Instant};

use serde_json::json;
use trailguard_rules::{Decision, Event, Mode, Report};

use crate::attempts::Traffic;
use crate::executor::{self, Outcome};
use crate::handler::{emit, Deps};
use crate::lazy::Lazy;
use crate::ports::{Connect, NotifyPort};

impl<C: Connect, N: NotifyPort> Deps<C, N> {
    /// Carry out a decision's plan (or only plan it, in dry-run), recording each outcome in
    /// the report. The time spent on it is time spent waiting on AWS.
    pub(crate) async fn run_plan(
        &self,
        event: Option<&Event>,
        decision: &Decision,
        read: Option<executor::Read<'_>>,
        report: &mut Report,
        clients: &mut Lazy<'_, C>,
    ) -> Duration {
        let started = Instant::now();
        let now = (self.clock)();
        let event_id = event.and_then(Event::id);
        for (action, line) in decision.actions.iter().zip(report.actions.iter_mut()) {
            let ctx = executor::Context {
                now,
                endpoint: self.settings.endpoint_url.as_deref(),
                read,
            };
            // Mode approve does not wait to switch a recording or detection control back on
            // (logging, a detector, a key's deletion cancelled: `runs_without_approval`) after
            // an event; everything else waits, and a sweep in mode approve only plans.
            let acts = decision.mode == Mode::Enforce
                || (decision.mode == Mode::Approve
                    && event.is_some()
                    && action.runs_without_approval());
            let gated = acts && action.mutates() && self.settings.ledger_table.is_some();
            // A sweep has no event to keep for an approval: in mode approve it plans, as in
            // dry-run, and the change's own event is what waits for a person.
            let (outcome, traffic) =
                if !acts && decision.mode == Mode::Approve && action.mutates() && event.is_some() {
                    (Outcome::awaiting_approval(action), Traffic::default())
                } else if !acts && action.mutates() {
                    (Outcome::dry_run(action), Traffic::default())
                } else if gated {
                    self.once_within_breaker(event, decision, action, clients, ctx)
                        .await
                } else {
                    match clients.get().await {
                        Ok(c) => executor::run(&*c, action, ctx).await,
                        Err(e) => (Outcome::failed(e), Traffic::default()),
                    }
                };
            emit(
                &json!({"level": if outcome.error.is_some() { "ERROR" } else { "INFO" }, "kind": "action_outcome", "function": self.function(), "event_id": event_id, "action": action.type_name(), "target": action.describe(), "outcome": outcome.status, "attempts": traffic.attempts, "calls": traffic.calls, "error": outcome.error.as_ref().map(|e| e.to_string())}),
            );
            let place = executor::Place {
                account: clients
                    .target
                    .account
                    .as_deref()
                    .or(self.settings.own_account.as_deref()),
                region: event
                    .and_then(Event::region)
                    .or(self.settings.region.as_deref()),
            };
            let reversal = outcome.reversal(action, now);
            outcome.record(line, traffic, place);
            line.reversal = reversal;
            // The claim that keeps a redelivery from acting again: `trailguard undo` marks it.
            if gated && line.outcome == Some(trailguard_rules::Status::Done) {
                line.ledger_key = event.and_then(|e| crate::gate::claim_key(e, action));
            }
        }
        started.elapsed()
    }
}
