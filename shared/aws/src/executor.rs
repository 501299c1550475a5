//! Carrying out a plan: each action through the ports of the target's clients, in order
//! (containment first, enrichment last). A failed step does not stop the others: containing
//! part of an incident beats containing none of it.

use std::time::{Duration, Instant};

use trailguard_rules::action::{bits, Undo};
use trailguard_rules::action::{CancelKeyDeletion, EnableKeyRotation, RevokeSessions};
use trailguard_rules::guards::encryption_keys::{self, KeyEvent, WasEnabled};
use trailguard_rules::state::EncryptionKeyState;
use trailguard_rules::sweep::{DatabaseState, DbKind};
use trailguard_rules::{Action, ActionReport, Facts, Status};

use crate::attempts::{measured, Traffic};

/// How a claim marked by `trailguard undo` starts its outcome: `undone by ARN at TIME`.
pub const UNDONE_BY: &str = "undone by ";
use crate::error::PortError;
use crate::forensics;
use crate::ports::{
    Change, Clients, Ec2Port, GuardDutyPort, IamPort, KeyPort, LambdaPort, PolicyPort, PortResult,
    RdsPort, RedshiftPort, S3ControlPort, S3Port, TrailPort,
};

/// How long the forensic lookup may take: containment is already done by then, and the
/// notification must not wait long for enrichment.
pub const FORENSICS_TIMEOUT: Duration = Duration::from_secs(8);
const FORENSICS_MAX_PAGES: usize = 5;

/// The error code of an action the breaker held.
pub const BREAKER_OPEN: &str = "BreakerOpen";

/// What one action came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub note: Option<String>,
    pub error: Option<PortError>,
    pub result: Option<serde_json::Value>,
    /// What the call proved it changed, when narrower than the action (`Change::Removed`).
    pub removed: Option<Vec<String>>,
    /// The state before the call was not read: no command can say how to go back to it.
    pub unproven: bool,
}

impl Outcome {
    fn of(r: PortResult<Change>) -> Outcome {
        match r {
            Ok(Change::Done) => Outcome::status(Status::Done, None),
            Ok(Change::Removed(values)) => Outcome {
                removed: Some(values),
                ..Outcome::status(Status::Done, None)
            },
            Ok(Change::AlreadyDone(why)) => Outcome::status(Status::AlreadyDone, Some(why)),
            Err(e) => Outcome {
                status: Status::Failed,
                note: None,
                error: Some(e),
                result: None,
                removed: None,
                unproven: false,
            },
        }
    }

    /// Mode dry-run: what the action would do, nothing called.
    pub fn dry_run(action: &Action) -> Outcome {
        Outcome::status(Status::DryRun, Some(format!("would {}", action.describe())))
    }

    /// Mode approve: planned and kept for a person; nothing called.
    pub fn awaiting_approval(action: &Action) -> Outcome {
        Outcome::status(
            Status::AwaitingApproval,
            Some(format!("will {} once approved", action.describe())),
        )
    }

    /// Another delivery of the same event made this action.
    pub fn done_elsewhere(outcome: &str) -> Outcome {
        // `trailguard undo --table` marked it: the people who undid it meant it to stay so.
        if outcome.starts_with(UNDONE_BY) {
            return Outcome::status(
                Status::Undone,
                Some(format!(
                    "{outcome} (trailguard undo): an earlier delivery of this event did it, and \
                     it is not done again"
                )),
            );
        }
        Outcome::status(
            Status::AlreadyDone,
            Some(format!(
                "another delivery of this event made it (outcome {outcome})"
            )),
        )
    }

    /// The guard's breaker is open in this account: not made, and a retryable failure, so
    /// Lambda retries the event and the failure queue keeps it until the breaker is closed.
    pub fn held(
        action: &Action,
        guard: &str,
        account: &str,
        whose: &str,
        count: u32,
        limit: u32,
    ) -> Outcome {
        let message = format!(
            "breaker open: {count} {guard} actions {whose}in account {account} in the last hour, \
             the limit is {limit}; held, not made: {}. Close it with `trailguard \
             breaker reset --guard {guard} --account {account}`, then redrive the failure queue",
            action.describe()
        );
        Outcome {
            status: Status::Failed,
            note: Some(message.clone()),
            error: Some(PortError::Transient {
                op: "breaker",
                code: BREAKER_OPEN.into(),
                message,
            }),
            result: None,
            removed: None,
            unproven: false,
        }
    }

    pub fn failed(e: PortError) -> Outcome {
        Outcome::of(Err(e))
    }

    fn status(status: Status, note: Option<String>) -> Outcome {
        Outcome {
            status,
            note,
            error: None,
            result: None,
            removed: None,
            unproven: false,
        }
    }

    /// The typed call that undoes what this outcome proved done at `now` (none for anything
    /// not proved done): the report's `reversal`, and what the ledger's claim keeps.
    pub fn reversal(&self, action: &Action, now: i64) -> Option<trailguard_rules::undo::Reversal> {
        if self.status != Status::Done || self.unproven {
            return None;
        }
        let done = self.removed.as_ref().map(|values| action.narrowed(values));
        done.as_ref().unwrap_or(action).reversal(now).ok()
    }

    /// Write the outcome into the action's report line; an action done gets the command
    /// that undoes exactly what the call changed, in the account and region it was done.
    pub fn record(self, report: &mut ActionReport, traffic: Traffic, place: Place<'_>) {
        // What the call proved it did, when narrower than the action planned.
        let done = self
            .removed
            .as_ref()
            .map(|values| report.action.narrowed(values))
            .filter(|narrowed| *narrowed != report.action);
        // A rewritten block, ACL or policy "removed" the document as it was: kept for the
        // undo, not a note.
        let partly = done
            .as_ref()
            .filter(|_| !report.action.removed_is_previous())
            .and(self.removed.as_ref())
            .map(|values| {
                format!(
                    "only {} still there and taken away; the rest was already gone",
                    values.join(", ")
                )
            });
        report.undo = if self.status != Status::Done {
            None
        } else if self.unproven {
            Some(Undo::None(
                "the state before the call was not read, so no command can say what it was; \
                 the trail's history is in CloudTrail"
                    .into(),
            ))
        } else {
            done.as_ref()
                .unwrap_or(&report.action)
                .undo(place.account, place.region)
        };
        report.target = Some(report.action.describe());
        report.outcome = Some(self.status);
        report.note = match (self.note, partly) {
            (Some(n), Some(p)) => Some(format!("{n}; {p}")),
            (n, p) => n.or(p),
        };
        report.error = self.error.as_ref().map(PortError::report);
        report.result = self.result;
        report.attempts = (traffic.attempts > 0).then_some(traffic.attempts);
        report.calls = traffic.calls;
    }
}

/// Where an action was done: the account and region its undo command must run in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Place<'a> {
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
}

/// What an action needs to know beyond its target.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Seconds since the epoch.
    pub now: i64,
    /// `AWS_ENDPOINT_URL`, when the clients talk to an endpoint that is not AWS.
    pub endpoint: Option<&'a str>,
    /// The facts this invocation's decision read, and when it started reading them.
    pub read: Option<Read<'a>>,
}

/// The facts a decision read, and the instant before it started reading.
#[derive(Debug, Clone, Copy)]
pub struct Read<'a> {
    pub facts: &'a Facts,
    pub at: Instant,
}

/// How old a decision's read may be and still serve as an action's look before it acts. An
/// action waits for nothing but the ledger's claim and the breaker's slot, milliseconds
/// unless many invocations contend for the slot; past this, the action reads again.
pub const READ_FRESH_FOR: Duration = Duration::from_secs(1);

impl Context<'_> {
    /// The facts the decision read, while they are fresh: an action that looks before a
    /// flag-like change (an entry still there, an instance still public) may take them
    /// instead of reading again. Never for a document the action rewrites (a policy, a
    /// trust): that is read right before the write.
    fn facts(&self) -> Option<&Facts> {
        self.read
            .filter(|r| r.at.elapsed() <= READ_FRESH_FOR)
            .map(|r| r.facts)
    }

    /// The KMS key as the decision read it, if it did.
    fn key(&self, key_id: &str) -> Option<&Option<EncryptionKeyState>> {
        self.facts().and_then(|f| f.encryption_keys.get(key_id))
    }

    /// The database as the decision read it, if it did.
    fn database(&self, kind: DbKind, id: &str) -> Option<&Option<DatabaseState>> {
        self.facts()
            .and_then(|f| f.databases.get(&(kind, id.to_string())))
    }
}

/// Run one action. Returns its outcome and what its calls took.
pub async fn run<C: Clients>(clients: &C, action: &Action, ctx: Context<'_>) -> (Outcome, Traffic) {
    measured(act(clients, action, ctx)).await
}

/// Why there is no key-activity summary, in words a reader can act on.
fn no_summary(e: &PortError, hours: u32, endpoint: Option<&str>) -> String {
    match (e, endpoint) {
        (PortError::Transient { code, .. } | PortError::Permanent { code, .. }, Some(url)) => format!(
            "no key activity summary: {url} is not AWS and did not answer CloudTrail LookupEvents ({code}); \
             against AWS the summary lists the key's calls of the last {hours} h. Containment is not affected"
        ),
        (PortError::AccessDenied { iam_action, .. }, _) => format!(
            "no key activity summary: the function's role lacks {iam_action}. Containment is not affected"
        ),
        _ => format!(
            "no key activity summary: {e}. Containment is not affected; the key's calls are in CloudTrail's event history"
        ),
    }
}

/// Start logging on a trail. The status is read only to report a trail already logging as
/// `already_done`: when that read fails (throttled, denied, or an emulator without the
/// operation), the trail is started anyway, since `StartLogging` is idempotent and a trail
/// left stopped is the harm, and the read's failure is the action's note.
async fn start_logging<T: TrailPort>(t: &T, trail: &str) -> Outcome {
    let lookup_failed = match t.trail_is_logging(trail).await {
        Ok(Some(true)) => {
            return Outcome::status(
                Status::AlreadyDone,
                Some(format!("trail {trail} is already logging")),
            )
        }
        Ok(_) => None,
        Err(e) => Some(e),
    };
    let mut outcome = Outcome::of(t.start_logging(trail).await);
    if let Some(e) = lookup_failed {
        // Whether the trail was logging before is not known: no undo is offered.
        outcome.unproven = true;
        let note = format!(
            "the trail's status could not be read ({e}); StartLogging was called anyway (it is idempotent)"
        );
        outcome.note = Some(match outcome.note.take() {
            Some(n) => format!("{n}; {note}"),
            None => note,
        });
    }
    outcome
}

/// The future of one action. A function's clients act only for its guard's action types
/// (`Clients::ACTIONS`): each arm's future is boxed where it is made, so the arms of other
/// action types, constant-false for those clients, leave their code out of the binary.
fn act<'a, C: Clients>(
    c: &'a C,
    action: &'a Action,
    ctx: Context<'a>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + 'a>> {
    let now = ctx.now;
    let unresolved = |what: &str| {
        Outcome::of(Err(PortError::Permanent {
            op: "resolve",
            code: "OwnerUnknown".into(),
            message: format!("the {what} was not resolved before acting"),
        }))
    };
    match action {
        Action::RevokeSecurityGroupRules(a)
            if const { C::ACTIONS & bits::RevokeSecurityGroupRules != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.ec2()
                            .revoke_rules(&a.group_id, a.egress, &a.rule_ids)
                            .await,
                    )
                }
            })
        }
        Action::RevokeSecurityGroupPermissions(a)
            if const { C::ACTIONS & bits::RevokeSecurityGroupPermissions != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.ec2()
                            .revoke_permissions(
                                a.group_id.as_deref(),
                                a.group_name.as_deref(),
                                a.egress,
                                &a.permissions,
                            )
                            .await,
                    )
                }
            })
        }
        Action::AuthorizeSecurityGroupPermissions(a)
            if const { C::ACTIONS & bits::AuthorizeSecurityGroupPermissions != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.ec2()
                            .authorize_permissions(&a.group_id, a.egress, &a.permissions)
                            .await,
                    )
                }
            })
        }
        Action::DeactivateAccessKey(a) if const { C::ACTIONS & bits::DeactivateAccessKey != 0 } => {
            Box::pin(async move {
                {
                    match &a.user_name {
                        Some(user) => {
                            Outcome::of(c.iam().deactivate_key(user, &a.access_key_id).await)
                        }
                        None => unresolved("key's owner"),
                    }
                }
            })
        }
        Action::RevokeSessions(a) if const { C::ACTIONS & bits::RevokeSessions != 0 } => {
            Box::pin(async move {
                {
                    match &a.name {
                        Some(name) => {
                            let doc = RevokeSessions::document(now);
                            let mut o = Outcome::of(
                                c.iam()
                                    .put_deny_policy(a.principal, name, &a.policy_name, &doc)
                                    .await,
                            );
                            o.result = Some(serde_json::json!({
                                "policy_name": a.policy_name,
                                "token_issued_before": trailguard_rules::time::format_epoch(now),
                            }));
                            o
                        }
                        None => unresolved("key's owner"),
                    }
                }
            })
        }
        Action::TagUser(a) if const { C::ACTIONS & bits::TagUser != 0 } => Box::pin(async move {
            match &a.user_name {
                Some(user) => Outcome::of(c.iam().tag_user(user, &a.key, &a.value(now)).await),
                None => unresolved("key's owner"),
            }
        }),
        Action::SummarizeKeyActivity(a) if const { C::ACTIONS & bits::SummarizeKeyActivity != 0 } => {
            Box::pin(async move {
                {
                    let start = now - i64::from(a.hours) * 3600;
                    let lookup = c.trail().lookup_key_events(
                        &a.access_key_id,
                        start,
                        now,
                        FORENSICS_MAX_PAGES,
                    );
                    match tokio::time::timeout(FORENSICS_TIMEOUT, lookup).await {
                Ok(Ok(events)) => Outcome {
                    status: Status::Done,
                    note: None,
                    error: None,
                    result: Some(forensics::summarize(&events, a.hours)),
                    removed: None,
                    unproven: false,
                },
                Ok(Err(e)) => Outcome {
                    status: Status::Failed,
                    note: Some(no_summary(&e, a.hours, ctx.endpoint)),
                    error: Some(e),
                    result: None,
                    removed: None,
                    unproven: false,
                },
                Err(_) => Outcome {
                    status: Status::Failed,
                    note: Some(format!(
                        "no key activity summary: CloudTrail did not answer within {}s. Containment is not affected",
                        FORENSICS_TIMEOUT.as_secs()
                    )),
                    error: Some(PortError::Transient {
                        op: "LookupEvents",
                        code: "Timeout".into(),
                        message: format!("no answer within {}s", FORENSICS_TIMEOUT.as_secs()),
                    }),
                    result: None,
                    removed: None,
                    unproven: false,
                },
            }
                }
            })
        }
        Action::DeleteNetworkAclEntry(a) if const { C::ACTIONS & bits::DeleteNetworkAclEntry != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.ec2()
                            .delete_nacl_entry(
                                &a.network_acl_id,
                                a.rule_number,
                                a.egress,
                                a.entry.as_ref(),
                                ctx.facts()
                                    .and_then(|f| f.acl_states.get(&a.network_acl_id)),
                            )
                            .await,
                    )
                }
            })
        }
        Action::StartLogging(a) if const { C::ACTIONS & bits::StartLogging != 0 } => {
            Box::pin(async move {
                {
                    start_logging(c.trail(), &a.trail).await
                }
            })
        }
        Action::UpdateTrail(a) if const { C::ACTIONS & bits::UpdateTrail != 0 } => {
            Box::pin(async move {
                Outcome::of(
                    c.trail()
                        .update_trail(
                            &a.trail,
                            a.multi_region,
                            a.log_file_validation,
                            a.global_service_events,
                        )
                        .await,
                )
            })
        }
        Action::RestoreManagementEvents(a)
            if const { C::ACTIONS & bits::RestoreManagementEvents != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(c.trail().restore_management_events(&a.trail).await)
                }
            })
        }
        Action::UnshareImage(a) if const { C::ACTIONS & bits::UnshareImage != 0 } => {
            Box::pin(async move {
                Outcome::of(
                    c.ec2()
                        .unshare_image(&a.image_id, &a.accounts, a.public, &a.organizations)
                        .await,
                )
            })
        }
        Action::UnshareSnapshot(a) if const { C::ACTIONS & bits::UnshareSnapshot != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.ec2()
                            .unshare_snapshot(&a.snapshot_id, &a.accounts, a.public)
                            .await,
                    )
                }
            })
        }
        Action::UnshareDbSnapshot(a) if const { C::ACTIONS & bits::UnshareDbSnapshot != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.rds()
                            .unshare_db_snapshot(&a.snapshot, a.cluster, &a.values)
                            .await,
                    )
                }
            })
        }
        Action::RemoveLambdaPermission(a) if const { C::ACTIONS & bits::RemoveLambdaPermission != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.lambda()
                            .remove_permission(
                                &a.function_name,
                                &a.statement_id,
                                a.qualifier.as_deref(),
                            )
                            .await,
                    )
                }
            })
        }
        Action::RemoveTag(a) if const { C::ACTIONS & bits::RemoveTag != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(c.ec2().remove_tag(&a.resource_ids, &a.key).await)
                }
            })
        }
        Action::RemovePrefixListEntries(a)
            if const { C::ACTIONS & bits::RemovePrefixListEntries != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.ec2()
                            .remove_prefix_list_entries(
                                &a.prefix_list_id,
                                &a.cidrs,
                                a.previous_version,
                            )
                            .await,
                    )
                }
            })
        }
        Action::UntagRole(a) if const { C::ACTIONS & bits::UntagRole != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(c.iam().untag_role(&a.role_name, &a.key).await)
                }
            })
        }
        Action::PutPasswordPolicy(a) if const { C::ACTIONS & bits::PutPasswordPolicy != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(c.iam().put_password_policy(&a.baseline).await)
                }
            })
        }
        Action::EnableDetector(a) if const { C::ACTIONS & bits::EnableDetector != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(c.guardduty().enable_detector(&a.detector_id).await)
                }
            })
        }
        Action::EnableEbsEncryptionByDefault(_)
            if const { C::ACTIONS & bits::EnableEbsEncryptionByDefault != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(c.ec2().enable_ebs_encryption_by_default().await)
                }
            })
        }
        Action::EnableSnapshotBlockPublicAccess(a)
            if const { C::ACTIONS & bits::EnableSnapshotBlockPublicAccess != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(c.ec2().enable_snapshot_block_public_access(&a.state).await)
                }
            })
        }
        Action::EnableImageBlockPublicAccess(_)
            if const { C::ACTIONS & bits::EnableImageBlockPublicAccess != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(c.ec2().enable_image_block_public_access().await)
                }
            })
        }
        Action::RequireImdsv2(a) if const { C::ACTIONS & bits::RequireImdsv2 != 0 } => {
            Box::pin(async move {
                Outcome::of(
                    c.ec2()
                        .require_imdsv2(
                            &a.instance_id,
                            ctx.facts()
                                .and_then(|f| f.instance_tokens_required.get(&a.instance_id)),
                        )
                        .await,
                )
            })
        }
        Action::RequireImdsv2Default(_) if const { C::ACTIONS & bits::RequireImdsv2Default != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(c.ec2().require_imdsv2_default().await)
                }
            })
        }
        Action::RestrictRoleTrust(a) if const { C::ACTIONS & bits::RestrictRoleTrust != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.iam()
                            .restrict_role_trust(&a.role_name, &a.principals, &a.untrusted_values)
                            .await,
                    )
                }
            })
        }
        Action::MakeDbInstancePrivate(a) if const { C::ACTIONS & bits::MakeDbInstancePrivate != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.rds()
                            .make_db_instance_private(
                                &a.db_instance,
                                ctx.database(DbKind::Instance, &a.db_instance),
                            )
                            .await,
                    )
                }
            })
        }
        Action::MakeRedshiftClusterPrivate(a)
            if const { C::ACTIONS & bits::MakeRedshiftClusterPrivate != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.redshift()
                            .make_redshift_cluster_private(
                                &a.cluster,
                                ctx.database(DbKind::Redshift, &a.cluster),
                            )
                            .await,
                    )
                }
            })
        }
        Action::MakeDbClusterPrivate(a) if const { C::ACTIONS & bits::MakeDbClusterPrivate != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(c.rds().make_db_cluster_private(&a.db_cluster).await)
                }
            })
        }
        Action::PutBucketPublicAccessBlock(a)
            if const { C::ACTIONS & bits::PutBucketPublicAccessBlock != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(c.s3().put_bucket_block(&a.bucket, &a.flags).await)
                }
            })
        }
        Action::PutAccountPublicAccessBlock(a)
            if const { C::ACTIONS & bits::PutAccountPublicAccessBlock != 0 } =>
        {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.s3control()
                            .put_account_block(&a.account_id, &a.flags)
                            .await,
                    )
                }
            })
        }
        Action::RemoveBucketAclGrants(a) if const { C::ACTIONS & bits::RemoveBucketAclGrants != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(c.s3().remove_bucket_acl_grants(&a.bucket, &a.groups).await)
                }
            })
        }
        Action::RemoveObjectAclGrants(a) if const { C::ACTIONS & bits::RemoveObjectAclGrants != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.s3()
                            .remove_object_acl_grants(
                                &a.bucket,
                                &a.key,
                                a.version_id.as_deref(),
                                &a.groups,
                            )
                            .await,
                    )
                }
            })
        }
        Action::RestrictBucketPolicy(a) if const { C::ACTIONS & bits::RestrictBucketPolicy != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.s3()
                            .restrict_bucket_policy(&a.bucket, &a.principals, &a.untrusted_values)
                            .await,
                    )
                }
            })
        }
        Action::UntagBucket(a) if const { C::ACTIONS & bits::UntagBucket != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(c.s3().remove_bucket_tag(&a.bucket, &a.key).await)
                }
            })
        }
        Action::UntagDbResource(a) if const { C::ACTIONS & bits::UntagDbResource != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(c.rds().remove_db_tag(&a.resource_arn, &a.key).await)
                }
            })
        }
        Action::UntagRedshiftCluster(a) if const { C::ACTIONS & bits::UntagRedshiftCluster != 0 } => {
            Box::pin(async move {
                {
                    Outcome::of(
                        c.redshift()
                            .remove_redshift_tag(&a.resource_arn, &a.key)
                            .await,
                    )
                }
            })
        }
        // Resource policies: one restriction, written once (policies.rs).
        Action::CancelKeyDeletion(a) if const { C::ACTIONS & bits::CancelKeyDeletion != 0 } => {
            Box::pin(async move {
                {
                    cancel_key_deletion(c, a, ctx).await
                }
            })
        }
        Action::EnableKeyRotation(a) if const { C::ACTIONS & bits::EnableKeyRotation != 0 } => {
            Box::pin(async move {
                {
                    enable_key_rotation(c, a, ctx).await
                }
            })
        }
        Action::RestrictQueuePolicy(a) if const { C::ACTIONS & bits::RestrictQueuePolicy != 0 } => {
            Box::pin(async move {
                {
                    policy(c, a.restriction()).await
                }
            })
        }
        Action::RestrictTopicPolicy(a) if const { C::ACTIONS & bits::RestrictTopicPolicy != 0 } => {
            Box::pin(async move {
                {
                    policy(c, a.restriction()).await
                }
            })
        }
        Action::RestrictSecretPolicy(a) if const { C::ACTIONS & bits::RestrictSecretPolicy != 0 } => {
            Box::pin(async move {
                {
                    policy(c, a.restriction()).await
                }
            })
        }
        Action::RestrictKeyPolicy(a) if const { C::ACTIONS & bits::RestrictKeyPolicy != 0 } => {
            Box::pin(async move {
                {
                    policy(c, a.restriction()).await
                }
            })
        }
        Action::RestrictRepositoryPolicy(a)
            if const { C::ACTIONS & bits::RestrictRepositoryPolicy != 0 } =>
        {
            Box::pin(async move {
                {
                    policy(c, a.restriction()).await
                }
            })
        }
        Action::RestrictDomainPolicy(a) if const { C::ACTIONS & bits::RestrictDomainPolicy != 0 } => {
            Box::pin(async move {
                {
                    policy(c, a.restriction()).await
                }
            })
        }
        Action::RestrictVaultPolicy(a) if const { C::ACTIONS & bits::RestrictVaultPolicy != 0 } => {
            Box::pin(async move {
                {
                    policy(c, a.restriction()).await
                }
            })
        }
        Action::RestrictFileSystemPolicy(a)
            if const { C::ACTIONS & bits::RestrictFileSystemPolicy != 0 } =>
        {
            Box::pin(async move {
                {
                    policy(c, a.restriction()).await
                }
            })
        }
        // Exemption tags: one untag call, written once per service (PolicyPort).
        Action::UntagQueue(a) if const { C::ACTIONS & bits::UntagQueue != 0 } => {
            Box::pin(async move {
                {
                    untag(c, a.untagging()).await
                }
            })
        }
        Action::UntagTopic(a) if const { C::ACTIONS & bits::UntagTopic != 0 } => {
            Box::pin(async move {
                {
                    untag(c, a.untagging()).await
                }
            })
        }
        Action::UntagSecret(a) if const { C::ACTIONS & bits::UntagSecret != 0 } => {
            Box::pin(async move {
                {
                    untag(c, a.untagging()).await
                }
            })
        }
        Action::UntagKey(a) if const { C::ACTIONS & bits::UntagKey != 0 } => Box::pin(async move {
            {
                untag(c, a.untagging()).await
            }
        }),
        Action::UntagRepository(a) if const { C::ACTIONS & bits::UntagRepository != 0 } => {
            Box::pin(async move {
                {
                    untag(c, a.untagging()).await
                }
            })
        }
        Action::UntagDomain(a) if const { C::ACTIONS & bits::UntagDomain != 0 } => {
            Box::pin(async move {
                {
                    untag(c, a.untagging()).await
                }
            })
        }
        Action::UntagVault(a) if const { C::ACTIONS & bits::UntagVault != 0 } => {
            Box::pin(async move {
                {
                    untag(c, a.untagging()).await
                }
            })
        }
        Action::UntagFileSystem(a) if const { C::ACTIONS & bits::UntagFileSystem != 0 } => {
            Box::pin(async move {
                {
                    untag(c, a.untagging()).await
                }
            })
        }
        // Not this function's guard's: its code is not in this binary (Clients::ACTIONS).
        _ => Box::pin(async move {
            Outcome::of(Err(PortError::Permanent {
                op: "act",
                code: "NotThisFunctionsAction".into(),
                message: format!(
                    "{} is not an action type of this function's guard",
                    action.info().type_name
                ),
            }))
        }),
    }
}

/// How many pages (of 50 events) of a key's CloudTrail history are read to tell its state
/// before a change: a key in use shows a successful call on the first; a flood of refused
/// calls can push the telling event further (then the key is left disabled and people told).
const KEY_HISTORY_PAGES: usize = 10;

/// The key's CloudTrail events up to `at` (epoch seconds), within the history's 90 days.
async fn key_events<C: Clients>(c: &C, key: &str, at: i64) -> PortResult<Vec<KeyEvent>> {
    let events = c
        .trail()
        .lookup_resource_events(
            key,
            at - encryption_keys::HISTORY_SECONDS,
            at + 1,
            KEY_HISTORY_PAGES,
        )
        .await?;
    // Only KMS's own records: another service's call of the same name (a Payment Cryptography
    // `CreateKey`) says nothing of this key.
    Ok(events
        .into_iter()
        .filter(|e| e.source.as_deref() == Some("kms.amazonaws.com"))
        .map(key_event)
        .collect())
}

fn number(v: &serde_json::Value, key: &str) -> Option<i64> {
    v.get(key)
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()))
}

/// A KMS record of the history as the rules judge it.
pub(crate) fn key_event(e: crate::ports::TrailEvent) -> KeyEvent {
    let named = e
        .request_parameters
        .get("keyId")
        .and_then(|v| v.as_str())
        .map(String::from);
    KeyEvent {
        rotation_period_days: number(&e.request_parameters, "rotationPeriodInDays"),
        pending_window_days: number(&e.request_parameters, "pendingWindowInDays"),
        keys: e.resources.into_iter().chain(named).collect(),
        principals: e.principals,
        name: e.name,
        time: e.time,
        error_code: e.error_code,
    }
}

/// Cancel the deletion first (containment never waits on the history); then enable the key
/// again only when its history shows it enabled when the deletion was scheduled.
async fn cancel_key_deletion<C: Clients>(
    c: &C,
    a: &CancelKeyDeletion,
    ctx: Context<'_>,
) -> Outcome {
    match c
        .keys()
        .cancel_key_deletion(&a.key_id, ctx.key(&a.key_id))
        .await
    {
        Ok(Change::Done) => {}
        other => return Outcome::of(other),
    }
    let at = a
        .scheduled_at
        .as_deref()
        .and_then(trailguard_rules::time::epoch);
    let was = match at {
        None => {
            WasEnabled::Unknown("the event gives no time to read the key's history up to".into())
        }
        Some(at) => match key_events(c, &a.key_id, at).await {
            Ok(events) => encryption_keys::enabled_before(&events, at),
            Err(e) => {
                WasEnabled::Unknown(format!("its CloudTrail history could not be read ({e})"))
            }
        },
    };
    let enable = format!(
        "`aws kms enable-key --key-id {}` enables it",
        trailguard_rules::shell::quote(&a.key_id)
    );
    match was {
        WasEnabled::Yes(why) => match c.keys().enable_key(&a.key_id).await {
            Ok(_) => Outcome::status(
                Status::Done,
                Some(format!(
                    "deletion cancelled; enabled again, as it was when the deletion was scheduled ({why})"
                )),
            ),
            Err(e) => Outcome {
                status: Status::Failed,
                note: Some(format!(
                    "deletion cancelled, but enabling the key again failed ({why} shows it was enabled): {enable}"
                )),
                error: Some(e),
                result: None,
                removed: None,
                unproven: false,
            },
        },
        WasEnabled::No(why) => Outcome::status(
            Status::Done,
            Some(format!(
                "deletion cancelled; left disabled, as it was when the deletion was scheduled ({why})"
            )),
        ),
        WasEnabled::Unknown(why) => Outcome::status(
            Status::Done,
            Some(format!("deletion cancelled; left disabled: {why}; {enable}")),
        ),
    }
}

/// Rotation back on, with the period the key's last `EnableKeyRotation` set when its
/// history shows one.
async fn enable_key_rotation<C: Clients>(
    c: &C,
    a: &EnableKeyRotation,
    ctx: Context<'_>,
) -> Outcome {
    // Already on (a redelivery, someone faster): done without reading the history, whose
    // `LookupEvents` allows two calls a second per account and region. The decision's read
    // of moments ago serves, when it read the rotation.
    let read = ctx
        .key(&a.key_id)
        .and_then(|k| k.as_ref().and_then(|k| k.rotation));
    let on = match read {
        Some(on) => Ok(on),
        None => c.keys().rotation_on(&a.key_id).await,
    };
    match on {
        Ok(true) => {
            return Outcome::of(Ok(Change::AlreadyDone(format!(
                "automatic rotation of KMS key {} is on",
                a.key_id
            ))))
        }
        Ok(false) => {}
        Err(e) => return Outcome::of(Err(e)),
    }
    let at = a
        .disabled_at
        .as_deref()
        .and_then(trailguard_rules::time::epoch);
    let (period, note) = match at {
        None => (None, "KMS's default period: the event gives no time to read the key's history up to".to_string()),
        Some(at) => match key_events(c, &a.key_id, at).await {
            Ok(events) => match encryption_keys::rotation_period_before(&events, at) {
                Some(d) => (Some(d), format!("every {d} days, as the key's last EnableKeyRotation set it")),
                None => (None, "KMS's default period (365 days): the key's history names no other".to_string()),
            },
            Err(e) => (None, format!("KMS's default period (365 days): the key's CloudTrail history could not be read ({e})")),
        },
    };
    let mut o = Outcome::of(c.keys().enable_key_rotation(&a.key_id, period).await);
    if o.status == Status::Done {
        o.note = Some(format!("rotation on, {note}"));
    }
    o
}

async fn untag<C: Clients>(c: &C, u: trailguard_rules::resources::Untagging<'_>) -> Outcome {
    Outcome::of(c.policy().untag_resource(u.kind, u.resource, u.key).await)
}

async fn policy<C: Clients>(c: &C, r: trailguard_rules::resources::Restriction<'_>) -> Outcome {
    Outcome::of(crate::policies::restrict(c.policy(), r).await)
}
