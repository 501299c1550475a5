//! The reconciliation sweep, on the effectful side: list the current state page by page,
//! decide each resource with the same rules an event goes through
//! (`trailguard_rules::sweep::decide_state`), act through the same plan runner (dry-run,
//! exempt tags and the breaker included), and send one report for the whole sweep.
//!
//! A run stops before the invocation's deadline (keeping [`MARGIN`] to finish a batch,
//! notify and save) or after `TRAILGUARD_SWEEP_MAX_RESOURCES` resources, checking every
//! [`BATCH`] resources, and leaves a checkpoint in the ledger table
//! (`sweep#<guard>#<account>#<region>`: the kind, the page's token and how far into the page)
//! where the next scheduled run continues.

use std::time::{Duration, Instant};

use serde_json::json;
use trailguard_rules::render;
use trailguard_rules::report::Timing;
use trailguard_rules::sweep::{self, Checkpoint, Finding, State, StateKind, SweepReport};
use trailguard_rules::{Decision, Facts, Kind, Report};

use crate::error::{HandlerError, PortError};
use crate::handler::{emit, remediation_error, Deps};
use crate::lazy::Lazy;
use crate::lookup::{self, Unsettled};
use crate::ports::{
    Clients, Connect, Ec2Port, GuardDutyPort, IamPort, KeyPort, LedgerPort, NotifyPort, Page,
    PolicyPort, RdsPort, RedshiftPort, S3ControlPort, S3Port, Target, TrailPort,
};

/// Time kept back from the deadline when a sweep decides whether to list another page: a
/// page's actions, the notification and the checkpoint must fit in it.
pub const MARGIN: Duration = Duration::from_secs(10);
/// Resources decided between two checks of the budget.
const BATCH: usize = 100;

/// The account an own-role ARN belongs to (`arn:aws:iam::<account>:role/...`).
fn account_of(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .map(String::from)
}

async fn list<C: Clients>(
    c: &C,
    kind: StateKind,
    token: Option<String>,
    honeytokens: &[String],
    account: Option<&str>,
    region: Option<&str>,
) -> Result<Page<State>, PortError> {
    fn one(item: Option<State>) -> Page<State> {
        Page {
            items: item.into_iter().collect(),
            next: None,
        }
    }
    fn map<T>(p: Page<T>, f: fn(T) -> State) -> Page<State> {
        Page {
            items: p.items.into_iter().map(f).collect(),
            next: p.next,
        }
    }
    Ok(match kind {
        StateKind::SecurityGroups => map(c.ec2().list_groups(token).await?, State::SecurityGroup),
        StateKind::NetworkAcls => map(c.ec2().list_acls(token).await?, State::NetworkAcl),
        StateKind::Images => map(c.ec2().list_image_shares(token).await?, State::Image),
        StateKind::Snapshots => map(c.ec2().list_snapshot_shares(token).await?, State::Snapshot),
        StateKind::DbInstances => map(c.rds().list_db_instances(token).await?, State::Database),
        StateKind::DbClusters => map(c.rds().list_db_clusters(token).await?, State::Database),
        StateKind::RedshiftClusters => map(
            c.redshift().list_redshift_clusters(token).await?,
            State::Database,
        ),
        StateKind::QueuePolicies
        | StateKind::TopicPolicies
        | StateKind::SecretPolicies
        | StateKind::KeyPolicies
        | StateKind::RepositoryPolicies
        | StateKind::DomainPolicies
        | StateKind::VaultPolicies
        | StateKind::FileSystemPolicies => match kind.policy_kind() {
            Some(k) => map(
                c.policy().list_policies(k, token).await?,
                State::ResourcePolicy,
            ),
            None => Page {
                items: vec![],
                next: None,
            },
        },
        // One region's trails and the account's keys of interest fit in one answer.
        StateKind::Trails => Page {
            items: c
                .trail()
                .list_trails()
                .await?
                .into_iter()
                .map(State::Trail)
                .collect(),
            next: None,
        },
        StateKind::Buckets => map(c.s3().list_buckets(token).await?, State::Bucket),
        // The account's one block; an account the function cannot name has none to read.
        StateKind::AccountPublicAccessBlock => Page {
            items: match account {
                Some(a) => vec![State::AccountBlock(c.s3control().account_block(a).await?)],
                None => vec![],
            },
            next: None,
        },
        StateKind::EncryptionKeys => map(c.keys().list_keys(token).await?, State::EncryptionKey),
        // The account's one state in the region (one per account for the password policy).
        StateKind::Ec2Defaults => one(match account {
            Some(a) => Some(State::Ec2Defaults(
                c.ec2().ec2_defaults(a, region.unwrap_or("?")).await?,
            )),
            None => None,
        }),
        StateKind::GuardDutyDetectors => one(Some(State::Detectors(
            trailguard_rules::state::DetectorsState {
                account: account.unwrap_or_default().to_string(),
                region: region.unwrap_or("?").to_string(),
                detectors: c.guardduty().detectors().await?,
            },
        ))),
        StateKind::AccountPasswordPolicy => one(Some(State::PasswordPolicy(
            trailguard_rules::state::PasswordPolicyState {
                account: account.unwrap_or_default().to_string(),
                policy: c.iam().password_policy().await?,
            },
        ))),
        StateKind::AccessKeys => Page {
            items: c
                .iam()
                .sweep_keys(honeytokens)
                .await?
                .into_iter()
                .map(State::AccessKey)
                .collect(),
            next: None,
        },
    })
}

/// A listing or lookup that failed: said in the report (after any earlier one), and the first
/// failure kept for the run's answer.
fn failed(report: &mut SweepReport, failure: &mut Option<PortError>, why: String, e: PortError) {
    report.stopped = Some(match report.stopped.take() {
        Some(before) => format!("{before}; {why}"),
        None => why,
    });
    failure.get_or_insert(e);
}

impl<C: Connect, N: NotifyPort> Deps<C, N> {
    /// One sweep run. `deadline` is the invocation's (None: no time limit, as in the CLI).
    pub async fn sweep(&self, deadline: Option<Instant>) -> Result<SweepReport, HandlerError> {
        let started = Instant::now();
        // Time spent waiting on AWS (listing, lookups, actions, notifying), for the report.
        let mut aws = Duration::ZERO;
        let s = &self.settings;
        let guard = s.guard();
        let account = s.own_role_arn.as_deref().and_then(account_of);
        let mut report = SweepReport::new(guard, &s.policy, account.clone(), s.region.clone());
        // An account the policy leaves out is not listed at all, as its events are not read;
        // nor one the function cannot name when the policy's scope or modes depend on it.
        let unknown = (account.is_none() && s.policy.depends_on_account()).then(|| {
            "the function's own account is unknown (no role ARN), and the policy's accounts \
             or mode_by_account depend on it"
                .to_string()
        });
        if let Some(reason) = unknown.or_else(|| s.policy.out_of_scope(account.as_deref())) {
            report.complete = true;
            report.stopped = Some(format!("not swept: {reason}"));
            return Ok(report);
        }
        let home = self.connect.home();
        let table = s.ledger_table.as_deref();
        let key = format!(
            "sweep#{}#{}#{}",
            guard.name(),
            account.as_deref().unwrap_or("self"),
            s.region.as_deref().unwrap_or("default")
        );
        let kinds = guard.0.sweeps;

        let resumed = match table {
            Some(t) => home
                .ledger()
                .checkpoint(t, &key)
                .await
                .map_err(HandlerError::Lookup)?,
            None => None,
        };
        // A checkpoint of a kind this guard no longer sweeps is worth nothing.
        let (first, mut token, mut skip) = resumed
            .as_ref()
            .and_then(|c| {
                Some((
                    kinds.iter().position(|k| *k == c.kind)?,
                    c.token.clone(),
                    c.skip,
                ))
            })
            .unwrap_or_default();
        report.resumed_from = resumed;

        let mut clients = Lazy {
            connect: &self.connect,
            target: Target::default(),
            clients: Some(Ok(home.clone())),
        };
        let mut failure: Option<PortError> = None;
        let mut looked_at = 0u64;
        // From the checkpoint's kind to the last, then round to those before it: a run that
        // resumed mid-way still looks at every kind.
        let order = (first..kinds.len()).chain(0..first);
        'kinds: for (n, i) in order.enumerate() {
            let kind = kinds[i];
            if n > 0 {
                (token, skip) = (None, 0);
            }
            loop {
                let here = |skip| Checkpoint {
                    kind,
                    token: token.clone(),
                    skip,
                };
                if let Some(why) = self.out_of_budget(deadline, looked_at) {
                    report.checkpoint = Some(here(skip));
                    report.stopped = Some(why);
                    break 'kinds;
                }
                let t = Instant::now();
                let listed = list(
                    &*home,
                    kind,
                    token.clone(),
                    &trailguard_rules::guards::key::settings(&s.policy).honeytoken_access_keys,
                    account.as_deref(),
                    s.region.as_deref(),
                )
                .await;
                aws += t.elapsed();
                let page = match listed {
                    Ok(p) => p,
                    Err(e) => {
                        let why = format!("listing {} failed: {e}", kind.name());
                        // Retryable (throttled): the next run starts here again. Refused for
                        // good (a key policy, an SCP): this kind is passed over so that it
                        // cannot keep every other kind from being swept.
                        let retry = e.is_retryable();
                        failed(&mut report, &mut failure, why, e);
                        if retry {
                            report.checkpoint = Some(here(skip));
                            break 'kinds;
                        }
                        continue 'kinds;
                    }
                };
                report.pages += 1;
                // The budget is checked every BATCH resources too: a server may answer more
                // than a page's worth at once.
                for (n, state) in page.items.iter().enumerate().skip(skip as usize) {
                    if n as u64 > skip && (n % BATCH) == 0 {
                        if let Some(why) = self.out_of_budget(deadline, looked_at) {
                            report.checkpoint = Some(here(n as u64));
                            report.stopped = Some(why);
                            break 'kinds;
                        }
                    }
                    looked_at += 1;
                    *report.listed.entry(kind).or_default() += 1;
                    let t = Instant::now();
                    let decided = self
                        .decide_state(state, account.as_deref(), &mut clients)
                        .await;
                    aws += t.elapsed();
                    let decision = match decided {
                        Ok(d) => d,
                        Err(e) => {
                            let why = format!("looking up facts about {} failed: {e}", state.id());
                            if e.is_retryable() {
                                // Looked at again next run; what was fixed stays fixed.
                                failed(&mut report, &mut failure, why, e);
                                report.checkpoint = Some(here(n as u64));
                                break 'kinds;
                            }
                            // Refused for good: this resource is passed over (and reported),
                            // the others still looked at.
                            failed(&mut report, &mut failure, why, e);
                            continue;
                        }
                    };
                    if decision.kind == Kind::Ignore {
                        continue;
                    }
                    emit(
                        &json!({"level": "INFO", "kind": "decision", "function": self.function_name(), "sweep": true, "resource": state.id(), "decision": decision.kind, "reason": decision.reason, "mode": decision.mode, "actions": decision.actions.len()}),
                    );
                    let mut r = Report::new(&decision, None).with_console(s.region.as_deref());
                    r.function = Some(self.function_name());
                    aws += self
                        .run_plan(None, &decision, None, &mut r, &mut clients)
                        .await;
                    report.add(Finding {
                        kind,
                        resource: state.id().to_string(),
                        report: r,
                    });
                }
                (token, skip) = (page.next, 0);
                if token.is_none() {
                    break;
                }
            }
        }
        // Complete: nothing left for the next run, and nothing passed over on a failure.
        report.complete = report.checkpoint.is_none() && failure.is_none();
        if let Some(t) = table {
            // Best effort: without it the next run starts over, which misses nothing.
            if let Err(e) = home
                .ledger()
                .save_checkpoint(t, &key, report.checkpoint.as_ref(), (self.clock)())
                .await
            {
                emit(
                    &json!({"level": "ERROR", "kind": "checkpoint_failed", "function": self.function_name(), "error": e.to_string()}),
                );
            }
        }
        emit(
            &json!({"level": "INFO", "kind": "sweep", "function": self.function_name(), "listed": report.listed, "pages": report.pages, "findings": report.findings.len(), "outcomes": report.outcomes, "complete": report.complete, "stopped": report.stopped}),
        );
        crate::metrics::emit_sweep(&report, failure.is_some());

        let critical: Vec<_> = report
            .critical_failures()
            .filter_map(|a| a.error.clone())
            .collect();
        if !report.findings.is_empty() || failure.is_some() {
            let t = Instant::now();
            report.notified = true;
            let alias = self.account_alias(&mut clients).await;
            report.set_account_alias(alias.as_deref());
            let (subject, body) = render::render_sweep(&report);
            self.notify
                .publish(&subject, &body, &summary(&report))
                .await
                .map_err(HandlerError::Notify)?;
            for f in report
                .findings
                .iter()
                .filter(|f| f.report.decision == Kind::Remediate)
            {
                let detail_type = if f.report.is_dry_run() {
                    "Remediation Planned"
                } else {
                    "Remediation Performed"
                };
                self.notify
                    .put_event(detail_type, &f.report)
                    .await
                    .map_err(HandlerError::Notify)?;
            }
            aws += t.elapsed();
        }
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let total = started.elapsed();
        report.timing = Some(Timing {
            total_ms: ms(total),
            aws_ms: ms(aws),
            overhead_ms: ms(total.saturating_sub(aws)),
        });
        if let Some(e) = failure {
            return Err(HandlerError::Lookup(e));
        }
        match remediation_error(&critical) {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    fn function_name(&self) -> &'static str {
        self.settings.guard().function_name()
    }

    /// Why this run should look at no further resource, if it should not.
    fn out_of_budget(&self, deadline: Option<Instant>, looked_at: u64) -> Option<String> {
        if let Some(max) = self
            .settings
            .sweep_max_resources
            .filter(|m| looked_at >= *m)
        {
            return Some(format!(
                "looked at {max} resource(s), the most TRAILGUARD_SWEEP_MAX_RESOURCES allows"
            ));
        }
        let left = deadline?.saturating_duration_since(Instant::now());
        (left < MARGIN).then(|| {
            format!(
                "{} ms before the invocation's deadline (kept back: {} s)",
                left.as_millis(),
                MARGIN.as_secs()
            )
        })
    }

    /// Decide one resource, looking up the facts the rules ask for (as for an event; the
    /// sweep's clients are the function's own).
    async fn decide_state(
        &self,
        state: &State,
        account: Option<&str>,
        clients: &mut Lazy<'_, C>,
    ) -> Result<Decision, PortError> {
        let s = &self.settings;
        let facts = Facts {
            own_role_arn: s.own_role_arn.clone(),
            ..Facts::default()
        };
        let decide =
            |facts: &Facts| sweep::decide_state(s.decider, state, account, &s.policy, facts);
        // The sweep times the whole decision itself.
        let mut looked_up = Duration::ZERO;
        match lookup::settle(clients, facts, decide, &mut looked_up).await {
            Ok((d, _)) => Ok(d),
            Err(Unsettled::Lookup(e)) => Err(e),
            Err(Unsettled::Stuck) => Err(PortError::Permanent {
                op: "decide",
                code: "FactLoop".into(),
                message: format!("the rules kept asking for facts about {}", state.id()),
            }),
        }
    }
}

/// The report whose fields the notification's attributes carry: the sweep's strongest
/// decision, no event id.
fn summary(r: &SweepReport) -> Report {
    let decision = if r
        .findings
        .iter()
        .any(|f| f.report.decision == Kind::Remediate)
    {
        Kind::Remediate
    } else {
        Kind::Notify
    };
    let mut d = Decision::ignore(format!("sweep of {}", r.guard.name()));
    d.kind = decision;
    d.guard = Some(r.guard.id());
    d.mode = r.mode;
    let mut report = Report::new(&d, None);
    report.function = Some(r.function);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_comes_from_the_role_arn() {
        assert_eq!(
            account_of("arn:aws:iam::123456789012:role/trailguard-X").as_deref(),
            Some("123456789012")
        );
        assert_eq!(account_of("arn:aws:iam::role/x"), None);
        assert_eq!(account_of("nonsense"), None);
    }
}
