//! The one handler every function runs: parse, look up only the facts the decision needs,
//! decide, act (or plan, in dry-run), report, tell people, and return an error Lambda can
//! retry when something that matters failed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::{json, Value};
use trailguard_rules::render;
use trailguard_rules::report::{Connection, ErrorReport, Status, Timing};
use trailguard_rules::{
    decide_guard, Decision, Event, FactRequest, Facts, Kind, Mode, ParseError, Report, Verdict,
};

use crate::config::Settings;
use crate::error::{HandlerError, PortError};
use crate::executor::{self, Outcome};
use crate::metrics;
use crate::ports::{
    Claim, Clients, Connect, Ec2Port, IamPort, LedgerPort, NotifyPort, OrgPort, Slot, Target,
    TrailPort,
};

/// How long a delivery holds its claim on an action: longer than any action takes, shorter
/// than Lambda's retry delay, so a delivery that crashed mid-action is taken over by the retry.
const CLAIM_LEASE_SECS: i64 = 60;
/// How long a delivery waits for another one acting on the same action to finish.
const CLAIM_WAIT: Duration = Duration::from_secs(10);

/// Everything a handler needs, built once at cold start.
pub struct Deps<C, N> {
    /// The clients for the account and region an event is about.
    pub connect: C,
    pub notify: N,
    pub settings: Settings,
    /// Seconds since the epoch; a parameter so tests can fix time.
    pub clock: fn() -> i64,
}

pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What a function is invoked with: an EventBridge event as `aws_lambda_events` types it,
/// or, when it does not fit that type (a bare CloudTrail record, a malformed envelope),
/// the JSON as it came, so it still gets a decision or a clear error instead of a
/// deserialisation failure before the handler runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Incoming {
    EventBridge(EventBridgeEvent<Value>),
    Other(Value),
}

impl From<Value> for Incoming {
    fn from(v: Value) -> Incoming {
        match EventBridgeEvent::<Value>::deserialize(&v) {
            Ok(e) => Incoming::EventBridge(e),
            Err(_) => Incoming::Other(v),
        }
    }
}

/// What an invocation returns: an event's report, or a sweep's.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
// Boxing the event's report too would only move the allocation: it is the common answer.
#[allow(clippy::large_enum_variant)]
pub enum Response {
    Event(Report),
    Sweep(Box<trailguard_rules::sweep::SweepReport>),
}

impl Incoming {
    /// EventBridge's event for a schedule rule.
    pub fn is_scheduled(&self) -> bool {
        match self {
            Incoming::EventBridge(e) => {
                e.source == "aws.events" && e.detail_type == "Scheduled Event"
            }
            Incoming::Other(v) => trailguard_rules::sweep::is_scheduled(v),
        }
    }

    fn id(&self) -> String {
        match self {
            Incoming::EventBridge(e) => e.id.clone(),
            Incoming::Other(v) => v.get("id").and_then(Value::as_str).map(String::from),
        }
        .unwrap_or_else(|| "unknown".into())
    }

    fn into_event(self) -> Result<Event, ParseError> {
        match self {
            Incoming::EventBridge(e) => {
                Event::from_value(serde_json::to_value(e).map_err(|e| ParseError::Invalid {
                    field: "envelope",
                    problem: e.to_string(),
                })?)
            }
            Incoming::Other(v) => Event::from_value(v),
        }
    }
}

/// The clients of one invocation's target, connected on first use: an event that is
/// ignored, or only planned, never connects (in another account, never assumes a role).
pub(crate) struct Lazy<'a, C: Connect> {
    pub(crate) connect: &'a C,
    pub(crate) target: Target,
    pub(crate) clients: Option<Result<Arc<C::Clients>, PortError>>,
}

impl<C: Connect> Lazy<'_, C> {
    /// Whether connecting was tried and failed.
    fn failed(&self) -> bool {
        matches!(self.clients, Some(Err(_)))
    }

    /// The member role the invocation went through, and how that went (None in the
    /// function's own account, or when nothing needed a connection).
    fn connection(&self) -> Option<Connection> {
        let role = self.connect.role_for(&self.target)?;
        let result = self.clients.as_ref()?;
        Some(Connection {
            account: self.target.account.clone(),
            region: self.target.region.clone(),
            role,
            outcome: if result.is_ok() {
                Status::Done
            } else {
                Status::Failed
            },
            error: result.as_ref().err().map(PortError::report),
        })
    }

    async fn get(&mut self) -> Result<Arc<C::Clients>, PortError> {
        if self.clients.is_none() {
            self.clients = Some(self.connect.connect(&self.target).await);
        }
        self.clients
            .clone()
            .unwrap_or_else(|| Err(PortError::NotWired { op: "connect" }))
    }
}

impl<C: Connect, N: NotifyPort> Deps<C, N> {
    /// The Lambda entry point: the report on success, an error Lambda retries otherwise. A
    /// scheduled event starts the guard's reconciliation sweep, which stops listing before
    /// the invocation's deadline.
    pub async fn handle(
        &self,
        event: lambda_runtime::LambdaEvent<Incoming>,
    ) -> Result<Response, lambda_runtime::Error> {
        let result = if event.payload.is_scheduled() && !self.settings.guard.0.sweeps.is_empty() {
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
        result.map_err(|e| {
            emit(&json!({"level": "ERROR", "kind": "invocation_failed", "function": self.function(), "error": e.to_string()}));
            lambda_runtime::Error::from(e.to_string())
        })
    }

    fn function(&self) -> &'static str {
        self.settings.guard.function_name()
    }

    pub async fn process(&self, payload: impl Into<Incoming>) -> Result<Report, HandlerError> {
        let started = Instant::now();
        // Time spent waiting on AWS, so the report can show trailguard's own overhead.
        let mut aws = Duration::ZERO;
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
        let mut clients = Lazy {
            connect: &self.connect,
            target: Target {
                account: event.account().map(String::from),
                region: event.region().map(String::from),
                event_id: event.id().map(String::from),
            },
            clients: None,
        };
        let decision = match self.decide(&event, &mut clients, &mut aws).await {
            Ok(d) => d,
            // The event's account could not be reached: no decision is possible, and people
            // are told which role failed before Lambda retries the event.
            Err(HandlerError::Lookup(e)) if clients.failed() => {
                return Err(self.unreachable(&event, &clients, e).await);
            }
            Err(e) => return Err(e),
        };
        emit(
            &json!({"level": "INFO", "kind": "decision", "function": self.function(), "event_id": event.id(), "decision": decision.kind, "reason": decision.reason, "mode": decision.mode, "actions": decision.actions.len()}),
        );
        let mut report = Report::new(&decision, Some(&event));
        report.function = Some(self.function());
        aws += self
            .run_plan(Some(&event), &decision, &mut report, &mut clients)
            .await;
        report.connection = clients.connection();
        metrics::emit_outcomes(&report);

        // People are told about every remediation, notice and failure; ignored events only log.
        let failures: Vec<ErrorReport> = report
            .critical_failures()
            .filter_map(|a| a.error.clone())
            .collect();
        if decision.kind != Kind::Ignore || !failures.is_empty() {
            let t = Instant::now();
            report.notified = true;
            let (subject, body) = render::render(&report);
            self.notify
                .publish(&subject, &body, &report)
                .await
                .map_err(HandlerError::Notify)?;
            if decision.kind == Kind::Remediate {
                let detail_type = if decision.mode == Mode::DryRun {
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
        match remediation_error(&failures) {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Carry out a decision's plan (or only plan it, in dry-run), recording each outcome in
    /// the report. The time spent on it is time spent waiting on AWS.
    pub(crate) async fn run_plan(
        &self,
        event: Option<&Event>,
        decision: &Decision,
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
            };
            let (outcome, attempts) = if decision.mode == Mode::DryRun && action.mutates() {
                (Outcome::dry_run(action), 0)
            } else if action.mutates() && self.settings.ledger_table.is_some() {
                self.once_within_breaker(event, decision, action, clients, ctx)
                    .await
            } else {
                match clients.get().await {
                    Ok(c) => executor::run(&*c, action, ctx).await,
                    Err(e) => (Outcome::failed(e), 0),
                }
            };
            emit(
                &json!({"level": if outcome.error.is_some() { "ERROR" } else { "INFO" }, "kind": "action_outcome", "function": self.function(), "event_id": event_id, "action": action.type_name(), "target": action.describe(), "outcome": outcome.status, "attempts": attempts, "error": outcome.error.as_ref().map(|e| e.to_string())}),
            );
            outcome.record(
                line,
                attempts,
                event
                    .and_then(Event::region)
                    .or(self.settings.region.as_deref()),
            );
        }
        started.elapsed()
    }

    /// A mutating action of an enforced plan, through the ledger: once per event however
    /// many deliveries of it run (the first claims it; the others report what it did), and
    /// within the guard's breaker (a slot is taken before the call, never after).
    async fn once_within_breaker(
        &self,
        event: Option<&Event>,
        decision: &Decision,
        action: &trailguard_rules::Action,
        clients: &mut Lazy<'_, C>,
        ctx: executor::Context<'_>,
    ) -> (Outcome, u32) {
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
                Ok(Claim::Done { outcome }) => return (Outcome::done_elsewhere(&outcome), 0),
                Ok(Claim::Busy { .. }) => return (self.wait_for(table, key).await, 0),
                Err(e) => return (Outcome::failed(e), 0),
            }
        }
        let release = |why: Outcome| async {
            if let Some(key) = &key {
                // Best effort: a claim not released expires with its lease.
                let _ = ledger.release(table, key, &owner).await;
            }
            (why, 0)
        };
        let guard = self.settings.guard;
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
        let (outcome, attempts) = match clients.get().await {
            Ok(c) => executor::run(&*c, action, ctx).await,
            Err(e) => (Outcome::failed(e), 0),
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
                let _ = ledger
                    .finish(table, key, &owner, outcome.status.as_str())
                    .await;
            }
        }
        (outcome, attempts)
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

    /// The event's account could not be reached while looking up facts: report it as a
    /// failed connection, tell people (naming the role and what to check), and return the
    /// error, so Lambda retries and the failure queue keeps the event.
    async fn unreachable(
        &self,
        event: &Event,
        clients: &Lazy<'_, C>,
        e: PortError,
    ) -> HandlerError {
        let decision = trailguard_rules::settle_decision(
            self.settings.guard,
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
        HandlerError::Lookup(e)
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
        let guard = self.settings.guard.name();
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

    /// Decide, looking up exactly the facts the rules ask for. Two rounds cover every guard
    /// (a group by name, then nothing more); the third is a guard against a loop.
    async fn decide(
        &self,
        event: &Event,
        clients: &mut Lazy<'_, C>,
        aws: &mut Duration,
    ) -> Result<Decision, HandlerError> {
        let s = &self.settings;
        let mut facts = Facts {
            own_role_arn: s.own_role_arn.clone(),
            ..Facts::default()
        };
        for _ in 0..3 {
            match decide_guard(s.guard, event, &s.policy, &facts) {
                Verdict::Decided(d) => return Ok(d),
                Verdict::NeedFacts(requests) => {
                    let t = Instant::now();
                    let c = clients.get().await.map_err(HandlerError::Lookup)?;
                    let home = self.connect.home();
                    for r in &requests {
                        fetch(&*c, &*home, r, &mut facts)
                            .await
                            .map_err(HandlerError::Lookup)?;
                    }
                    *aws += t.elapsed();
                }
            }
        }
        Err(HandlerError::Internal(
            "the rules kept asking for facts after they were looked up".into(),
        ))
    }
}

/// Look up one fact: in the event's account (`c`), or for the organization's accounts in the
/// function's own (`home`), where the organization is visible.
pub(crate) async fn fetch<C: Clients>(
    c: &C,
    home: &C,
    r: &FactRequest,
    facts: &mut Facts,
) -> Result<(), PortError> {
    match r {
        FactRequest::SecurityGroup {
            group_id,
            group_name,
        } => match c
            .ec2()
            .describe_group(group_id.as_deref(), group_name.as_deref())
            .await?
        {
            Some(g) => facts.security_groups.push(g),
            None => facts
                .missing_groups
                .push(group_id.clone().or(group_name.clone()).unwrap_or_default()),
        },
        FactRequest::SecurityGroupRules { group_id, rule_ids } => {
            facts.rule_directions = c.ec2().rule_directions(group_id, rule_ids).await?;
            facts.rules_looked_up = true;
        }
        FactRequest::AccessKeyOwner { access_key_id } => {
            let owner = c.iam().key_owner(access_key_id).await?;
            facts.key_owners.insert(access_key_id.clone(), owner);
        }
        FactRequest::SecurityGroupState { group_id } => {
            let state = c.ec2().group_state(group_id).await?;
            facts.group_states.insert(group_id.clone(), state);
        }
        FactRequest::NetworkAcl { network_acl_id } => {
            let tags = c.ec2().nacl_tags(network_acl_id).await?.unwrap_or_default();
            facts.network_acls.insert(network_acl_id.clone(), tags);
        }
        FactRequest::OrganizationAccounts => {
            facts.organization_accounts = Some(home.org().organization_accounts().await?);
        }
        FactRequest::UserQuarantined { user_name } => {
            let q = c
                .iam()
                .user_has_tag(user_name, trailguard_rules::action::QUARANTINE_TAG)
                .await?;
            facts.user_quarantined.insert(user_name.clone(), q);
        }
        FactRequest::RoleTags { role_name } => {
            let tags = c.iam().role_tags(role_name).await?;
            facts.role_tags.insert(role_name.clone(), tags);
        }
        FactRequest::TrailBuckets => {
            facts.trail_buckets = Some(c.trail().trail_buckets().await?);
        }
        FactRequest::NetworkAclState { network_acl_id } => {
            let state = c.ec2().acl_state(network_acl_id).await?;
            facts.acl_states.insert(network_acl_id.clone(), state);
        }
        FactRequest::PrefixList { prefix_list_id } => {
            let list = c.ec2().prefix_list(prefix_list_id).await?;
            facts.prefix_lists.insert(prefix_list_id.clone(), list);
        }
    }
    Ok(())
}

/// The claim of one action of one event: the same for every delivery of the event (its
/// EventBridge id, or the CloudTrail record's eventID) and action (its JSON). None when the
/// event carries no id: every delivery then acts, as without a ledger.
fn claim_key(event: &Event, action: &trailguard_rules::Action) -> Option<String> {
    let id = event
        .id()
        .filter(|i| !i.is_empty() && *i != "unknown")
        .or_else(|| event.cloudtrail().and_then(|r| r.event_id.get()))?;
    let text = serde_json::to_string(action).unwrap_or_default();
    // FNV-1a: stable across processes and releases, unlike the std hasher.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    Some(format!("claim#{id}#{hash:016x}"))
}

/// This delivery, for the ledger: process, time and a counter.
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

/// The invocation's error when critical actions failed: retryable only if every failure is
/// (a permanent one will not go away by delivering the event again).
pub(crate) fn remediation_error(failures: &[ErrorReport]) -> Option<HandlerError> {
    if failures.is_empty() {
        return None;
    }
    let retryable = failures.iter().all(|e| e.kind == "retryable");
    Some(HandlerError::Remediation {
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
