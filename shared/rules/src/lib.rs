//! trailguard's decisions, pure: an event and a policy in, a [`Decision`] out.
//!
//! This crate does no I/O, reads no clock and no environment, and never panics: every
//! decision trailguard can make is here and can be tried offline (`trailguard decide`).
//! When a decision depends on something the event does not say (a group's tags, the owner
//! of a key), [`decide`] answers [`Verdict::NeedFacts`] naming exactly what to look up; the
//! caller fetches those facts and asks again.

pub mod action;
pub mod approval;
pub mod ask;
pub mod console;
pub mod decision;
pub mod event;
pub mod facts;
pub mod finding;
pub mod glob;
pub mod grants;
pub mod guards;
pub mod ids;
pub mod imported;
pub mod lenient;
mod load;
pub mod net;
pub mod ops;
pub mod pattern;
pub mod permission;
pub mod policy;
pub mod prefilter;
pub mod render;
pub mod report;
pub mod resources;
pub mod shell;
pub mod state;
pub mod sweep;
pub mod time;
pub mod trust;
pub mod undo;

pub use action::{Action, Notice, Permission, PrincipalKind, Severity};
pub use decision::{Decision, GuardId, Kind, Verdict};
pub use event::{Event, ParseError};
pub use facts::{FactRequest, Facts, GroupFacts, Tags};
pub use guards::{Decider, Guard};
pub use policy::{Additions, Mode, Policy, PolicyError};
pub use report::{ActionReport, Report, Status};

/// Decide for one guard (one function). Events none of the guard's rules would deliver are
/// ignored with a reason that names the guard.
pub fn decide_guard(decider: &Decider, event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    let guard = decider.guard();
    if let Some(d) = refused(event, policy, facts) {
        return attribute(guard, Verdict::Decided(d), event.account(), policy);
    }
    // A person's approval of a kept plan: the function that kept it reads it from the ledger
    // and decides the kept event again (shared/aws approve.rs); nothing here to decide.
    if let Some(request) = approval::request(event) {
        let reason = match request {
            Ok(r) if guard.delivers_approval(event, policy) => format!(
                "an approval of plan {}: {} carries out the plan it kept (decided again from \
                 the kept event when the approval arrives)",
                r.plan_id,
                guard.function_name()
            ),
            Ok(r) => format!(
                "an approval of plan {} for another function (or with no manual-trigger bus): \
                 not {}'s",
                r.plan_id,
                guard.function_name()
            ),
            Err(problem) => problem,
        };
        return attribute(
            guard,
            Verdict::Decided(Decision::ignore(reason)),
            event.account(),
            policy,
        );
    }
    if !guard.applies_anywhere(event, policy) {
        let d = Decision::ignore(format!(
            "{} ({}) is not an event {} handles",
            event.name(),
            event.source().unwrap_or("?"),
            guard.function_name()
        ));
        return attribute(guard, Verdict::Decided(d), event.account(), policy);
    }
    run(decider, event, policy, facts)
}

/// The one place a decision gets its guard and its mode, for an event, a sweep's resource, or
/// a notice that a member account could not be reached: the guard's mode in the account the
/// decision is about (`mode_by_account` over the guard's mode, under the template's dry-run
/// ceiling). A verdict still asking for facts is returned as it is.
pub fn attribute(
    guard: Guard,
    verdict: Verdict,
    account: Option<&str>,
    policy: &Policy,
) -> Verdict {
    match verdict {
        Verdict::Decided(d) => Verdict::Decided(attribute_decision(guard, d, account, policy)),
        need => need,
    }
}

/// [`attribute`] for a decision already made.
pub fn attribute_decision(
    guard: Guard,
    mut d: Decision,
    account: Option<&str>,
    policy: &Policy,
) -> Decision {
    d.guard = Some(guard.id());
    d.mode = guard.mode_in(policy, account);
    d
}

/// Events refused before any guard reads them: an AWS detail-type under a source that is
/// not AWS's, and a finding about another account delivered from an account that is neither
/// that one nor this deployment's own (only an administrator account's copies, which arrive
/// in the deployment's own account, act elsewhere).
fn refused(event: &Event, policy: &Policy, facts: &Facts) -> Option<Decision> {
    if let Some(reason) = event.forged() {
        return Some(Decision::ignore(reason));
    }
    let (Some(about), Some(from)) = (event.account(), event.envelope.account.get()) else {
        return None;
    };
    let home = facts
        .own_role_arn
        .as_deref()
        .and_then(|a| a.split(':').nth(4))
        .or_else(|| policy.member_role().and_then(|m| m.home_account.as_deref()));
    match home {
        Some(home) if about != from && from != home => Some(Decision::ignore(format!(
            "the event is about account {about} but came from account {from}, which is neither \
             that account nor this deployment's ({home}): only copies aggregated in this \
             deployment's own account act in another account"
        ))),
        _ => None,
    }
}

fn run(decider: &Decider, event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    let guard = decider.guard();
    // A central deployment receives every member account's events; only the policy's
    // accounts are acted on (or even looked at: nothing is fetched for the others).
    if let Some(reason) = policy.out_of_scope(event.account()) {
        return attribute(
            guard,
            Verdict::Decided(Decision::ignore(reason)),
            event.account(),
            policy,
        );
    }
    // Security Hub sending back this function's own update of the finding: deciding it again
    // would act and write again (finding.rs).
    if let Some(reason) = finding::own_echo(event, guard.function_name()) {
        return attribute(
            guard,
            Verdict::Decided(Decision::ignore(reason)),
            event.account(),
            policy,
        );
    }
    let verdict = match (decider.event)(event, policy, facts) {
        Verdict::Decided(d) => checked(event, d),
        Verdict::NeedFacts(requests) => {
            let bad = invalid_targets(requests.iter().map(|r| ("lookup", r.targets())));
            if bad.is_empty() {
                Verdict::NeedFacts(requests)
            } else {
                Verdict::Decided(not_acted_on(event, bad, None))
            }
        }
    };
    attribute(guard, verdict, event.account(), policy)
}

/// A decision whose targets are all real ids, or the notice that names those that are not.
fn checked(event: &Event, d: Decision) -> Verdict {
    let bad = invalid_targets(
        d.actions
            .iter()
            .map(|a| (a.type_name(), a.step().targets())),
    );
    if bad.is_empty() {
        Verdict::Decided(d)
    } else {
        Verdict::Decided(not_acted_on(event, bad, Some(d)))
    }
}

/// The targets that cannot be real ids, described: `type.field = value is not a valid id`.
fn invalid_targets<'a>(targets: impl Iterator<Item = (&'a str, Vec<ids::Target>)>) -> Vec<String> {
    targets
        .flat_map(|(what, ts)| {
            ts.into_iter()
                .filter(|t| !t.kind.is_valid(&t.value))
                .map(move |t| {
                    format!(
                        "{what}.{} = `{}` is not a valid id (expected {})",
                        t.field,
                        t.value,
                        t.kind.expected()
                    )
                })
        })
        .collect()
}

/// A plan or a lookup whose targets are not all real ids (a published or redacted event:
/// `sg-xxxx`, `ACCESS_KEY_ID_HERE`, `...`) becomes a notice that names the field: trailguard
/// never calls AWS with a target that cannot exist.
fn not_acted_on(event: &Event, bad: Vec<String>, planned: Option<Decision>) -> Decision {
    let (notice, reason, assumed) = match planned {
        Some(d) => (d.notice, d.reason, d.assumed),
        None => (
            None,
            format!("{} needs a lookup first", event.name()),
            vec![],
        ),
    };
    let mut n = notice.unwrap_or(Notice {
        severity: Severity::Medium,
        title: event.name(),
        details: vec![],
    });
    n.title = format!("Not acted on, the target is not a valid id: {}", n.title);
    n.details.extend(bad.iter().cloned());
    Decision {
        reason: format!("target is not a valid id: {} ({reason})", bad.join("; ")),
        assumed,
        ..Decision::notify("", n)
    }
}

/// Decide across every guard that handles the event (what `trailguard decide` shows). When
/// several apply (a honeytoken key opening a security group), the strongest decision wins
/// and carries the others' actions too.
pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    decide_among(Decider::all(), event, policy, facts)
}

/// [`decide`], trying only `guards`: the same decision whenever they include every guard that
/// handles the event (the prefilter's candidates do: `decide --only-acted`).
pub fn decide_among<'a>(
    guards: impl Iterator<Item = &'a Decider>,
    event: &Event,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    if let Some(d) = refused(event, policy, facts) {
        return Verdict::Decided(d);
    }
    // A person's approval: the function whose approval rule delivers it says what it does.
    if approval::request(event).is_some() {
        let mut guards = guards;
        return match guards.find(|d| d.guard().delivers_approval(event, policy)) {
            Some(d) => decide_guard(d, event, policy, facts),
            None => Verdict::Decided(Decision::ignore(
                "an approval (Approve Plan) no function's approval rule delivers: it names no \
                 function of this stack, or the stack has no manual-trigger bus",
            )),
        };
    }
    let mut decided: Vec<Decision> = Vec::new();
    let mut needed: Vec<FactRequest> = Vec::new();
    for decider in guards {
        if !decider.guard().applies_anywhere(event, policy) {
            continue;
        }
        match run(decider, event, policy, facts) {
            Verdict::Decided(d) => decided.push(d),
            Verdict::NeedFacts(f) => needed.extend(f),
        }
    }
    if !needed.is_empty() {
        return Verdict::NeedFacts(needed);
    }
    let Some(first) = decided.first().cloned() else {
        if event.is_scheduled() {
            let sweeping: Vec<&str> = Guard::all()
                .filter(|g| !g.spec().sweeps.is_empty())
                .map(|g| g.function_name())
                .collect();
            return Verdict::Decided(Decision::ignore(format!(
                "a scheduled event: it starts the reconciliation sweep of {}, which lists the \
                 account's current state; deciding offline lists nothing",
                sweeping.join(", ")
            )));
        }
        return Verdict::Decided(Decision::ignore(undelivered(event)));
    };
    // The first guard that applies is the most specific one (Guard::all puts the guards
    // that read every call last); a stronger later decision wins.
    let mut best = decided
        .iter()
        .filter(|d| d.kind > first.kind)
        .max_by_key(|d| d.kind)
        .cloned()
        .unwrap_or(first);
    for d in &decided {
        if d.guard != best.guard && d.kind != Kind::Ignore {
            best.actions.extend(d.actions.iter().cloned());
            best.assumed.extend(d.assumed.iter().cloned());
            best.reason = format!("{}; {}", best.reason, d.reason);
        }
    }
    Verdict::Decided(best)
}

/// Each guard with the sources its trigger patterns name, read from the patterns once (most
/// records `decide` reads are delivered nowhere, and each asks why).
fn watched_sources() -> &'static [(Guard, Vec<String>)] {
    static SOURCES: std::sync::OnceLock<Vec<(Guard, Vec<String>)>> = std::sync::OnceLock::new();
    SOURCES.get_or_init(|| {
        Guard::all()
            .map(|g| {
                let sources = g
                    .spec()
                    .triggers
                    .iter()
                    .flat_map(|t| {
                        t.pattern_json()
                            .get("source")
                            .and_then(serde_json::Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                (g, sources)
            })
            .collect()
    })
}

/// Why no rule delivers the event: no guard watches its source, or the guards that do watch
/// other calls (or only calls that succeeded).
fn undelivered(event: &Event) -> String {
    let source = event.source().unwrap_or("unknown-source");
    let detail_type = event.detail_type().unwrap_or("no detail-type");
    let watching: Vec<&str> = watched_sources()
        .iter()
        .filter(|(_, sources)| sources.iter().any(|s| s == source))
        .map(|(g, _)| g.function_name())
        .collect();
    if watching.is_empty() {
        return format!("no guard handles {source} events ({detail_type})");
    }
    let watchers = watching.join(", ");
    match event
        .cloudtrail()
        .map(|r| (r.event_name.get(), r.error_code.get()))
    {
        Some((Some(name), Some(code))) => {
            format!("{name} failed ({code}): nothing changed, and no rule delivers a failed call")
        }
        Some((Some(name), None)) => {
            format!("no rule delivers {name}: it is not a change {watchers} watches on {source}")
        }
        _ => format!("no rule of {watchers} delivers this {source} event ({detail_type})"),
    }
}

/// Decide offline: facts the event lacks are taken as absent, and the decision lists them.
pub fn decide_offline(event: &Event, policy: &Policy) -> Decision {
    let facts = Facts::offline();
    match decide(event, policy, &facts) {
        Verdict::Decided(d) => with_assumptions(d, &facts),
        // Offline facts answer every request, so this is not reached; say so rather than panic.
        Verdict::NeedFacts(f) => {
            Decision::ignore(format!("facts could not be assumed offline: {f:?}"))
        }
    }
}

/// One guard's decision offline, facts the event lacks taken as absent.
pub fn decide_guard_offline(decider: &Decider, event: &Event, policy: &Policy) -> Decision {
    let facts = Facts::offline();
    match decide_guard(decider, event, policy, &facts) {
        Verdict::Decided(d) => with_assumptions(d, &facts),
        Verdict::NeedFacts(f) => {
            Decision::ignore(format!("facts could not be assumed offline: {f:?}"))
        }
    }
}

/// The decision with every fact the guards took as absent (offline) listed once.
pub fn with_assumptions(mut d: Decision, facts: &Facts) -> Decision {
    for a in facts.assumptions() {
        if !d.assumed.contains(&a) {
            d.assumed.push(a);
        }
    }
    d
}
