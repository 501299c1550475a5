//! The ledger gate: a mutating action of an enforced plan runs once per event however many
//! deliveries of it run (exactly-once claims) and within the guard's breaker for the
//! account (a slot taken before the call, given back when nothing changed).

use std::time::{Duration, Instant};

use serde_json::json;
use trailguard_rules::{Decision, Event, Report};

use crate::attempts::Traffic;
use crate::error::PortError;
use crate::executor::{self, Outcome};
use crate::handler::{emit, Deps};
use crate::lazy::Lazy;
use crate::ports::{Claim, Clients, Connect, LedgerPort, NotifyPort, Slot};

/// How long a delivery holds its claim on an action: longer than any action takes, shorter
/// than Lambda's retry delay, so a delivery that crashed mid-action is taken over by the retry.
const CLAIM_LEASE_SECS: i64 = 60;
/// How long a delivery waits for another one acting on the same action to finish.
const CLAIM_WAIT: Duration = Duration::from_secs(10);

impl<C: Connect, N: NotifyPort> Deps<C, N> {
    /// A mutating action of an enforced plan, through the ledger: once per event however
    /// many deliveries of it run (the first claims it; the others report what it did), and
    /// within the guard's breaker (a slot is taken before the call, never after).
    pub(crate) async fn once_within_breaker(
        &self,
        event: Option<&Event>,
        decision: &Decision,
        action: &trailguard_rules::Action,
        clients: &mut Lazy<'_, C>,
        ctx: executor::Context<'_>,
    ) -> (Outcome, Traffic) {
        let table = self.settings.ledger_table.as_deref().unwrap_or_default();
        let home = self.connect.home();
        let ledger = home.ledger();
        let owner = delivery_id();
        // A sweep has no event: each run acts on what it finds (acting is idempotent, and
        // the next run finds nothing left to do).
        let key = event.and_then(|e| claim_key(e, action));
        if let Some(key) = &key {
            match ledger
                .claim(table, key, &owner, ctx.now, CLAIM_LEASE_SECS)
                .await
            {
                Ok(Claim::Won) => {}
                Ok(Claim::Done { outcome }) => {
                    return (Outcome::done_elsewhere(&outcome), Traffic::default())
                }
                Ok(Claim::Busy { .. }) => {
                    return (self.wait_for(table, key).await, Traffic::default())
                }
                Err(e) => return (Outcome::failed(e), Traffic::default()),
            }
        }
        let release = |why: Outcome| async {
            if let Some(key) = &key {
                // Best effort: a claim not released expires with its lease.
                let _ = ledger.release(table, key, &owner).await;
            }
            (why, Traffic::default())
        };
        let guard = self.settings.guard();
        let limit = guard.max_actions_per_hour(&self.settings.policy);
        // One breaker per guard and account: a flood in one account (a sandbox's own
        // resources, forged or not) does not hold back containment in the others. Putting a
        // safeguard back (logging, an exemption taken back) is never held.
        let account = clients
            .target
            .account
            .clone()
            .or_else(|| self.settings.own_account.clone())
            .unwrap_or_else(|| "unknown".into());
        let scope = breaker_scope(guard.name(), &account);
        // Who caused the change: one principal's flood holds back only its own (see
        // `ports::ACCOUNT_FACTOR`).
        let actor = event.map_or_else(|| "sweep".to_string(), breaker_actor);
        let now_ms = ctx.now * 1000;
        let counted = limit > 0 && !action.restores_safeguard();
        if counted {
            match ledger.take_slot(table, &scope, &actor, limit, now_ms).await {
                Ok(Slot::Granted { .. }) => {}
                Ok(Slot::Refused {
                    count,
                    first,
                    by_actor,
                }) => {
                    let whose = if by_actor {
                        format!("caused by {actor} ")
                    } else {
                        String::new()
                    };
                    let limit = if by_actor {
                        limit
                    } else {
                        limit * crate::ports::ACCOUNT_FACTOR
                    };
                    if first {
                        self.breaker_opened(event, decision, &account, &whose, count, limit)
                            .await;
                    }
                    return release(Outcome::held(
                        action,
                        guard.name(),
                        &account,
                        &whose,
                        count,
                        limit,
                    ))
                    .await;
                }
                Err(e) => return release(Outcome::failed(e)).await,
            }
        }
        let (outcome, traffic) = match clients.get().await {
            Ok(c) => executor::run(&*c, action, ctx).await,
            Err(e) => (Outcome::failed(e), Traffic::default()),
        };
        // Only what changed counts: a no-op ("already done") or a failed call gives its slot
        // back, so forged or replayed events that change nothing cannot open the breaker.
        if counted && outcome.status != trailguard_rules::Status::Done {
            let _ = ledger.give_back_slot(table, &scope, &actor, now_ms).await;
        }
        if let Some(key) = &key {
            if outcome.error.is_some() {
                let _ = ledger.release(table, key, &owner).await;
            } else {
                // With where it was done: `trailguard undo` runs it only there.
                let region = event
                    .and_then(Event::region)
                    .or(self.settings.region.as_deref());
                let reversal = outcome.reversal(action, ctx.now).map(|r| {
                    json!({"account": account, "region": region, "reversal": r}).to_string()
                });
                let _ = ledger
                    .finish(
                        table,
                        key,
                        &owner,
                        outcome.status.as_str(),
                        reversal.as_deref(),
                        ctx.now + i64::from(self.settings.policy.undo_retention_days) * 86_400,
                    )
                    .await;
            }
        }
        (outcome, traffic)
    }

    /// Another delivery holds the claim: wait for its outcome, or fail retryably (Lambda
    /// delivers again later, and the lease of a crashed delivery will have run out).
    async fn wait_for(&self, table: &str, key: &str) -> Outcome {
        let home = self.connect.home();
        let waited = Instant::now();
        while waited.elapsed() < CLAIM_WAIT {
            tokio::time::sleep(Duration::from_millis(50)).await;
            match home.ledger().claim_state(table, key).await {
                Ok(Some(Claim::Done { outcome })) => return Outcome::done_elsewhere(&outcome),
                Ok(Some(Claim::Busy { .. })) => continue,
                // Released: the other delivery failed; this one fails too, and is retried.
                Ok(None) | Ok(Some(Claim::Won)) => break,
                Err(e) => return Outcome::failed(e),
            }
        }
        Outcome::failed(PortError::Transient {
            op: "claim",
            code: "ActionInProgress".into(),
            message: format!(
                "another delivery of this event held the action for {}s without finishing; retried later",
                CLAIM_WAIT.as_secs()
            ),
        })
    }

    /// The breaker just opened: tell people once, with how to close it.
    async fn breaker_opened(
        &self,
        event: Option<&Event>,
        decision: &Decision,
        account: &str,
        whose: &str,
        count: u32,
        limit: u32,
    ) {
        let guard = self.settings.guard().name();
        let subject = format!(
            "[trailguard] BREAKER OPEN: {guard} stopped acting in {account} after {count} actions {whose}in an hour"
        );
        let body = format!(
            "The blast-radius breaker of guard `{guard}` ({}) in account {account} opened: {count} \
             changes {whose}made in the last hour, the most it allows is {limit} \
             (max_actions_per_hour for one actor's changes, {} times that in one account).\n\n\
             Until the hour has room again, this guard's changes in that account are held: each \
             held action fails retryably (error BreakerOpen), so Lambda retries the event and then \
             the failure queue keeps it (redrive it once the breaker is closed), and the sweep \
             finds what is left. Other accounts are not affected; restoring logging and taking back \
             exemptions are never held. Only changes that were made count (no-ops and failed calls \
             do not). A real incident rarely comes near this; a flood of replayed events, or a \
             policy that matches too much, does.\n\n\
             What to check: the recent notices of this guard and who caused them.\n\
             To close the breaker: trailguard breaker reset --guard {guard} --account {account} --table {}\n",
            self.function(),
            crate::ports::ACCOUNT_FACTOR,
            self.settings.ledger_table.as_deref().unwrap_or("?"),
        );
        let mut report = Report::new(decision, event);
        report.function = Some(self.function());
        emit(
            &json!({"level": "WARN", "kind": "breaker_open", "function": self.function(), "guard": guard, "account": account, "count": count, "limit": limit}),
        );
        // The event's own notification follows; a failure here is logged, not fatal.
        if let Err(e) = self.notify.publish(&subject, &body, &report).await {
            emit(
                &json!({"level": "ERROR", "kind": "breaker_notice_failed", "function": self.function(), "error": e.to_string()}),
            );
        }
    }
}

/// The claim of one action of one event: the same for every delivery of the event (its
/// EventBridge id, or the CloudTrail record's eventID) and action (its JSON). None when the
/// event carries no id: every delivery then acts, as without a ledger.
pub(crate) fn claim_key(event: &Event, action: &trailguard_rules::Action) -> Option<String> {
    let id = event_key_id(event)?;
    let text = serde_json::to_string(action).unwrap_or_default();
    // FNV-1a: stable across processes and releases, unlike the std hasher.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    Some(format!("claim#{id}#{hash:016x}"))
}

/// The id an event's ledger items are kept under (its claims, its reports): EventBridge's,
/// or CloudTrail's when the envelope has none.
pub(crate) fn event_key_id(event: &Event) -> Option<&str> {
    event.key_id()
}

/// Who caused an event's change, for the breaker: the role of an assumed-role session (its
/// session name is the caller's choice), the principal's ARN, or the AWS service that
/// reported it.
fn breaker_actor(event: &Event) -> String {
    match event.cloudtrail() {
        Some(r) => {
            let id = &r.user_identity;
            id.session_context
                .session_issuer
                .arn
                .get()
                .or_else(|| id.arn.get())
                .or_else(|| id.invoked_by.get())
                .unwrap_or("unknown")
                .to_string()
        }
        None => event.source().unwrap_or("unknown").to_string(),
    }
}

/// The ledger key of a guard's breaker in one account.
pub fn breaker_scope(guard: &str, account: &str) -> String {
    format!("{guard}@{account}")
}

/// This delivery, for the ledger: process, time and a counter.
fn delivery_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
