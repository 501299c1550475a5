//! The one handler every function runs: parse, look up only the facts the decision needs,
//! decide, act (or plan, in dry-run), report, tell people, and return an error Lambda can
//! retry when something that matters failed.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trailguard_rules::decision::action_json;
use trailguard_rules::{
    decide_guard, Action, Decision, Event, FactRequest, Facts, Kind, Mode, Verdict,
};

use crate::config::Settings;
use crate::error::{HandlerError, PortError};
use crate::ports::{Change, Ec2Port, IamPort, NotifyPort, TrailPort};
use crate::{message, metrics};

/// How long the forensic lookup may take: containment is already done by then, and the
/// notification must not wait long for enrichment.
const FORENSICS_TIMEOUT: Duration = Duration::from_secs(8);
const FORENSICS_MAX_PAGES: usize = 5;

/// Everything a handler needs, built once at cold start.
pub struct Deps<E, I, T, N> {
    pub ec2: E,
    pub iam: I,
    pub trail: T,
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

/// One action's result, as the report shows it.
#[derive(Debug, Clone)]
struct Outcome {
    status: &'static str,
    note: Option<String>,
    error: Option<PortError>,
    data: Option<Value>,
}

impl Outcome {
    fn of(r: Result<Change, PortError>) -> Outcome {
        match r {
            Ok(Change::Done) => Outcome {
                status: "done",
                note: None,
                error: None,
                data: None,
            },
            Ok(Change::AlreadyDone(why)) => Outcome {
                status: "already_done",
                note: Some(why),
                error: None,
                data: None,
            },
            Err(e) => Outcome {
                status: "failed",
                note: None,
                error: Some(e),
                data: None,
            },
        }
    }
}

/// The Lambda entry point: the report on success, an error Lambda retries otherwise.
pub async fn handle<E: Ec2Port, I: IamPort, T: TrailPort, N: NotifyPort>(
    deps: &Deps<E, I, T, N>,
    event: lambda_runtime::LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    process(deps, event.payload).await.map_err(|e| {
        emit(&json!({"level": "ERROR", "kind": "invocation_failed", "function": deps.settings.guard.function_name(), "error": e.to_string()}));
        lambda_runtime::Error::from(e.to_string())
    })
}

pub async fn process<E: Ec2Port, I: IamPort, T: TrailPort, N: NotifyPort>(
    deps: &Deps<E, I, T, N>,
    payload: Value,
) -> Result<Value, HandlerError> {
    let s = &deps.settings;
    let started = Instant::now();
    // Time spent waiting on AWS, so the report can show trailguard's own overhead.
    let mut aws = Duration::ZERO;
    let event = Event::parse(&payload).map_err(|e| {
        HandlerError::Malformed(format!(
            "{e} (event id {})",
            payload
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
        ))
    })?;
    let decision = decide_with_facts(deps, &event, &mut aws).await?;
    let mut report = decision.to_json(Some(&event));
    emit(
        &json!({"level": "INFO", "kind": "decision", "function": s.guard.function_name(), "event_id": event.id(), "decision": decision.kind, "reason": decision.reason, "mode": decision.mode, "actions": decision.actions.len()}),
    );

    let outcomes = execute(deps, &decision, &mut aws).await;
    let mut failures = Vec::new();
    for (i, (action, outcome)) in decision.actions.iter().zip(&outcomes).enumerate() {
        let mut v = action_json(action);
        v["target"] = json!(action.describe());
        v["outcome"] = json!(outcome.status);
        if let Some(n) = &outcome.note {
            v["note"] = json!(n);
        }
        if let Some(e) = &outcome.error {
            v["error"] = json!({"message": e.to_string(), "code": e.code(), "kind": e.kind()});
            if action.is_critical() {
                failures.push(e.clone());
            }
        }
        if let Some(d) = &outcome.data {
            v["result"] = d.clone();
        }
        emit(
            &json!({"level": if outcome.error.is_some() { "ERROR" } else { "INFO" }, "kind": "action_outcome", "function": s.guard.function_name(), "event_id": event.id(), "action": action.type_name(), "target": action.describe(), "outcome": outcome.status, "error": outcome.error.as_ref().map(|e| e.to_string())}),
        );
        report["actions"][i] = v;
    }
    report["function"] = json!(s.guard.function_name());
    metrics::emit_outcomes(
        s.guard.function_name(),
        &decision,
        &outcomes.iter().map(|o| o.status).collect::<Vec<_>>(),
    );

    // People are told about every remediation, notice and failure; ignored events only log.
    if decision.kind != Kind::Ignore || !failures.is_empty() {
        let (subject, body) = message::render(&report);
        let t = Instant::now();
        deps.notify
            .publish(&subject, &body, &report)
            .await
            .map_err(HandlerError::Notify)?;
        if decision.kind == Kind::Remediate {
            let detail_type = if decision.mode == Mode::DryRun {
                "Remediation Planned"
            } else {
                "Remediation Performed"
            };
            deps.notify
                .put_event(detail_type, &report)
                .await
                .map_err(HandlerError::Notify)?;
        }
        aws += t.elapsed();
        report["notified"] = json!(true);
    }
    // The report shows how long trailguard itself took beyond waiting on AWS.
    let total = started.elapsed();
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    report["timing"] = json!({
        "total_ms": ms(total),
        "aws_ms": ms(aws),
        "overhead_ms": ms(total.saturating_sub(aws)),
    });
    if !failures.is_empty() {
        let kind = if failures.iter().all(|f| f.is_retryable()) {
            "retryable"
        } else {
            "permanent"
        };
        let summary = failures
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(HandlerError::Remediation {
            failed: failures.len(),
            kind,
            summary,
        });
    }
    Ok(report)
}

/// Decide, looking up exactly the facts the rules ask for. Two rounds cover every guard
/// (a group by name, then nothing more); the third is a guard against a loop.
async fn decide_with_facts<E: Ec2Port, I: IamPort, T: TrailPort, N: NotifyPort>(
    deps: &Deps<E, I, T, N>,
    event: &Event,
    aws: &mut Duration,
) -> Result<Decision, HandlerError> {
    let s = &deps.settings;
    let mut facts = Facts {
        own_role_arn: s.own_role_arn.clone(),
        ..Facts::default()
    };
    for _ in 0..3 {
        match decide_guard(s.guard, event, &s.policy, &facts) {
            Verdict::Decided(d) => return Ok(d),
            Verdict::NeedFacts(requests) => {
                for r in &requests {
                    let t = Instant::now();
                    let fetched = fetch(deps, r, &mut facts).await;
                    *aws += t.elapsed();
                    fetched.map_err(HandlerError::Lookup)?;
                }
            }
        }
    }
    Err(HandlerError::Internal(
        "the rules kept asking for facts after they were looked up".into(),
    ))
}

async fn fetch<E: Ec2Port, I: IamPort, T: TrailPort, N: NotifyPort>(
    deps: &Deps<E, I, T, N>,
    r: &FactRequest,
    facts: &mut Facts,
) -> Result<(), PortError> {
    match r {
        FactRequest::SecurityGroup {
            group_id,
            group_name,
        } => match deps
            .ec2
            .describe_group(group_id.as_deref(), group_name.as_deref())
            .await?
        {
            Some(g) => facts.security_groups.push(g),
            None => facts
                .missing_groups
                .push(group_id.clone().or(group_name.clone()).unwrap_or_default()),
        },
        FactRequest::SecurityGroupRules { group_id, rule_ids } => {
            facts.rule_directions = deps.ec2.rule_directions(group_id, rule_ids).await?;
            facts.rules_looked_up = true;
        }
        FactRequest::AccessKeyOwner { access_key_id } => {
            let owner = deps.iam.key_owner(access_key_id).await?;
            facts.key_owners.insert(access_key_id.clone(), owner);
        }
        FactRequest::NetworkAcl { network_acl_id } => {
            let tags = deps
                .ec2
                .nacl_tags(network_acl_id)
                .await?
                .unwrap_or_default();
            facts.network_acls.insert(network_acl_id.clone(), tags);
        }
    }
    Ok(())
}

/// Run the plan in order (containment first, enrichment last). A failed step does not stop
/// the others: containing part of an incident beats containing none of it.
async fn execute<E: Ec2Port, I: IamPort, T: TrailPort, N: NotifyPort>(
    deps: &Deps<E, I, T, N>,
    d: &Decision,
    aws: &mut Duration,
) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(d.actions.len());
    for a in &d.actions {
        if d.mode == Mode::DryRun && a.mutates() {
            out.push(Outcome {
                status: "dry_run",
                note: Some(format!("would {}", a.describe())),
                error: None,
                data: None,
            });
            continue;
        }
        let t = Instant::now();
        out.push(run_action(deps, a).await);
        *aws += t.elapsed();
    }
    out
}

async fn run_action<E: Ec2Port, I: IamPort, T: TrailPort, N: NotifyPort>(
    deps: &Deps<E, I, T, N>,
    a: &Action,
) -> Outcome {
    let now = (deps.clock)();
    let unresolved = |what: &str| {
        Outcome::of(Err(PortError::Permanent {
            op: "resolve",
            code: "OwnerUnknown".into(),
            message: format!("the {what} was not resolved before acting"),
        }))
    };
    match a {
        Action::RevokeSecurityGroupRules {
            group_id,
            egress,
            rule_ids,
        } => Outcome::of(deps.ec2.revoke_rules(group_id, *egress, rule_ids).await),
        Action::RevokeSecurityGroupPermissions {
            group_id,
            group_name,
            egress,
            permissions,
        } => Outcome::of(
            deps.ec2
                .revoke_permissions(
                    group_id.as_deref(),
                    group_name.as_deref(),
                    *egress,
                    permissions,
                )
                .await,
        ),
        Action::AuthorizeSecurityGroupPermissions {
            group_id,
            egress,
            permissions,
        } => Outcome::of(
            deps.ec2
                .authorize_permissions(group_id, *egress, permissions)
                .await,
        ),
        Action::DeactivateAccessKey {
            user_name: Some(user),
            access_key_id,
        } => Outcome::of(deps.iam.deactivate_key(user, access_key_id).await),
        Action::RevokeSessions {
            principal,
            name: Some(name),
            policy_name,
        } => {
            let doc = deny_older_sessions_policy(now);
            let mut o = Outcome::of(
                deps.iam
                    .put_deny_policy(*principal, name, policy_name, &doc)
                    .await,
            );
            o.data = Some(
                json!({"policy_name": policy_name, "token_issued_before": trailguard_rules::time::format_epoch(now)}),
            );
            o
        }
        Action::TagUser {
            user_name: Some(user),
            key,
            reason,
        } => Outcome::of(deps.iam.tag_user(user, key, &tag_value(now, reason)).await),
        Action::DeactivateAccessKey {
            user_name: None, ..
        }
        | Action::TagUser {
            user_name: None, ..
        }
        | Action::RevokeSessions { name: None, .. } => unresolved("key's owner"),
        Action::SummarizeKeyActivity {
            access_key_id,
            hours,
        } => {
            let start = now - i64::from(*hours) * 3600;
            match tokio::time::timeout(
                FORENSICS_TIMEOUT,
                deps.trail
                    .lookup_key_events(access_key_id, start, now, FORENSICS_MAX_PAGES),
            )
            .await
            {
                Ok(Ok(events)) => Outcome {
                    status: "done",
                    note: None,
                    error: None,
                    data: Some(crate::forensics::summarize(&events, *hours)),
                },
                Ok(Err(e)) => Outcome {
                    status: "failed",
                    note: Some(format!("key activity summary unavailable: {e}")),
                    error: Some(e),
                    data: None,
                },
                Err(_) => Outcome {
                    status: "failed",
                    note: Some("key activity summary unavailable: the lookup timed out".into()),
                    error: Some(PortError::Transient {
                        op: "LookupEvents",
                        code: "Timeout".into(),
                        message: format!("no answer within {}s", FORENSICS_TIMEOUT.as_secs()),
                    }),
                    data: None,
                },
            }
        }
        Action::DeleteNetworkAclEntry {
            network_acl_id,
            rule_number,
            egress,
        } => Outcome::of(
            deps.ec2
                .delete_nacl_entry(network_acl_id, *rule_number, *egress)
                .await,
        ),
        Action::StartLogging { trail } => Outcome::of(deps.trail.start_logging(trail).await),
        Action::UpdateTrail {
            trail,
            multi_region,
            log_file_validation,
        } => Outcome::of(
            deps.trail
                .update_trail(trail, *multi_region, *log_file_validation)
                .await,
        ),
    }
}

/// The inline policy that denies everything to sessions issued before `now`: what the IAM
/// console's "Revoke active sessions" does. Long-term keys carry no token issue time, so the
/// condition never matches them; the key itself is disabled separately.
pub fn deny_older_sessions_policy(now: i64) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TrailguardRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": trailguard_rules::time::format_epoch(now)}}
        }]
    })
    .to_string()
}

/// IAM tag values allow letters, digits, spaces and `_ . : / = + - @`, up to 256 characters.
pub fn tag_value(now: i64, reason: &str) -> String {
    let raw = format!("{} {reason}", trailguard_rules::time::format_epoch(now));
    raw.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                ' '
            }
        })
        .take(256)
        .collect()
}

/// One JSON log line on stdout (CloudWatch Logs keeps it as is).
pub fn emit(v: &Value) {
    println!("{v}");
}
