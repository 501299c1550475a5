//! `trailguard undo`'s calls: each [`Reversal`] a report recorded is first checked against
//! the resource as it is now ([`UndoPort::check`]: still as trailguard left it, already put
//! back, or changed since), and only then run ([`UndoPort::run`]). [`undo`] checks every
//! step before it runs any: one step changed since refuses the whole undo, so an undo is
//! never half done because of what someone else did.

use std::future::Future;

use serde::Serialize;
use trailguard_rules::action::PrincipalKind;
use trailguard_rules::ops;
use trailguard_rules::permission::Permission;
use trailguard_rules::resources::PolicyKind;
use trailguard_rules::state::{AclEntry, BlockFlags, PasswordPolicy};
use trailguard_rules::trust;
use trailguard_rules::undo::{How, Reversal, UndoPlan};

use crate::ec2::canonical_block;
use crate::error::{classify, code_of, PortError};
use crate::ports::S3ControlPort;
use crate::ports::{Change, Ec2Port, IamPort, KeyPort, PolicyPort, PortResult, RdsPort, TrailPort};
use crate::s3::S3;

/// The resource as it is now, against what trailguard left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "now", content = "why", rename_all = "snake_case")]
pub enum Now {
    /// As trailguard left it: the reversal can run.
    AsLeft,
    /// Already as it was before trailguard acted (why): nothing to run.
    AlreadyUndone(String),
    /// Changed since in another way (why): running the reversal would not put back exactly
    /// what was there, so it is refused.
    Changed(String),
}

/// The calls `trailguard undo` makes: a look, then the reversal.
pub trait UndoPort: Send + Sync {
    fn check(&self, r: &Reversal) -> impl Future<Output = PortResult<Now>> + Send;
    fn run(&self, r: &Reversal) -> impl Future<Output = PortResult<Change>> + Send;
}

/// What became of one step of an undo.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// Dry run: checked, and this would run.
    WouldRun,
    Done,
    AlreadyUndone(String),
    /// Not run: the undo was refused (this step's reason, or another step's).
    Refused(String),
    /// Not run: an earlier step failed.
    NotRun,
    Failed(String),
}

/// One step's line of the undo's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoLine {
    pub index: usize,
    #[serde(rename = "type")]
    pub type_name: String,
    pub target: Option<String>,
    /// What undoing it does (its reversal), when it has one.
    pub reversal: Option<String>,
    /// The AWS calls it makes, the look first.
    pub calls: Vec<&'static str>,
    pub outcome: StepOutcome,
}

/// What an undo did: every step, and whether it was refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoReport {
    pub event_id: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub dry_run: bool,
    /// Why nothing was run, when a step cannot be undone exactly or changed since.
    pub refused: Option<String>,
    pub steps: Vec<UndoLine>,
}

impl UndoReport {
    /// Every step undone or already undone (a dry run: every step would run or is undone).
    pub fn complete(&self) -> bool {
        self.refused.is_none()
            && self.steps.iter().all(|s| {
                matches!(
                    s.outcome,
                    StepOutcome::Done | StepOutcome::AlreadyUndone(_) | StepOutcome::WouldRun
                )
            })
    }
}

/// Undo the plan's steps in its order (last action first): check every one, refuse the whole
/// undo when one cannot be undone exactly or changed since, else run them (not in a dry run),
/// stopping at the first failure.
pub async fn undo(port: &impl UndoPort, plan: &UndoPlan, dry_run: bool) -> UndoReport {
    let mut lines: Vec<UndoLine> = plan
        .steps
        .iter()
        .map(|s| {
            let (reversal, calls) = match &s.how {
                How::Reversal(r) => (Some(r.describe()), r.ops().iter().map(|o| o.api).collect()),
                How::Refused(_) => (None, vec![]),
            };
            UndoLine {
                index: s.index,
                type_name: s.type_name.clone(),
                target: s.target.clone(),
                reversal,
                calls,
                outcome: StepOutcome::NotRun,
            }
        })
        .collect();
    let mut refused: Option<String> = None;
    let mut to_run = vec![];
    for (i, step) in plan.steps.iter().enumerate() {
        let why = match &step.how {
            How::Refused(why) => Some(why.clone()),
            How::Reversal(r) => match port.check(r).await {
                Ok(Now::AsLeft) => {
                    to_run.push((i, r));
                    None
                }
                Ok(Now::AlreadyUndone(why)) => {
                    lines[i].outcome = StepOutcome::AlreadyUndone(why);
                    None
                }
                Ok(Now::Changed(why)) => Some(format!("changed since trailguard acted: {why}")),
                Err(e) => Some(format!("could not read it as it is now: {e}")),
            },
        };
        if let Some(why) = why {
            refused.get_or_insert_with(|| {
                format!("action {} ({}): {why}", step.index, step.type_name)
            });
            lines[i].outcome = StepOutcome::Refused(why);
        }
    }
    if let Some(why) = &refused {
        for (i, _) in &to_run {
            lines[*i].outcome = StepOutcome::Refused(format!("not run: {why}"));
        }
    } else if dry_run {
        for (i, _) in &to_run {
            lines[*i].outcome = StepOutcome::WouldRun;
        }
    } else {
        for (i, r) in to_run {
            lines[i].outcome = match port.run(r).await {
                Ok(Change::AlreadyDone(why)) => StepOutcome::AlreadyUndone(why),
                Ok(_) => StepOutcome::Done,
                Err(e) => {
                    lines[i].outcome = StepOutcome::Failed(e.to_string());
                    break;
                }
            };
        }
    }
    UndoReport {
        event_id: plan.event_id.clone(),
        account: plan.account.clone(),
        region: plan.region.clone(),
        dry_run,
        refused,
        steps: lines,
    }
}

/// What a finished claim keeps for `trailguard undo` (gate.rs): the reversal, and where the
/// action was done.
#[derive(serde::Deserialize)]
struct Held {
    account: Option<String>,
    region: Option<String>,
    reversal: Reversal,
}

/// Hold the report to what trailguard recorded: each step runs only the reversal the
/// ledger's finished claim of it holds (the report's `ledger_key`), written by the function
/// that acted. A report whose reversal differs, or that names no claim the ledger finished,
/// has that step refused: a file is anyone's to write, the ledger only trailguard's.
pub async fn verify(
    ledger: &impl crate::ports::LedgerPort,
    table: &str,
    plan: &mut UndoPlan,
) -> PortResult<()> {
    for step in &mut plan.steps {
        let How::Reversal(reported) = &step.how else {
            continue;
        };
        let Some(key) = &step.ledger_key else {
            step.how = How::Refused(
                "the report names no ledger claim for it, so it cannot be checked against what \
                 trailguard recorded"
                    .into(),
            );
            continue;
        };
        // The claim of this event's actions, not another event's: exactly the id, then the
        // action's 16-digit hash (an id `E#x` of a crafted event is not event `E`'s).
        let own = plan.event_id.as_deref().is_some_and(|id| {
            key.strip_prefix(&format!("claim#{id}#"))
                .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        });
        if !own {
            step.how = How::Refused(format!(
                "ledger claim {key} is not one of the report's event"
            ));
            continue;
        }
        let held = ledger.claimed_reversal(table, key).await?;
        let held: Option<Held> = held.and_then(|h| serde_json::from_str(&h).ok());
        step.how = match held {
            Some(h)
                if h.account.as_deref() != plan.account.as_deref()
                    || h.region.as_deref() != plan.region.as_deref() =>
            {
                How::Refused(format!(
                    "ledger claim {key} was done in account {} region {}, not the report's",
                    h.account.as_deref().unwrap_or("?"),
                    h.region.as_deref().unwrap_or("?")
                ))
            }
            Some(h) if h.reversal == *reported => How::Reversal(h.reversal),
            Some(_) => How::Refused(format!(
                "the report's reversal is not the one the ledger holds for claim {key}"
            )),
            None => How::Refused(format!(
                "the ledger holds no finished claim {key} with a reversal to run (kept 30 \
                 days; undone already; or not trailguard's)"
            )),
        };
    }
    Ok(())
}

/// [`UndoPort`] on the SDK clients of the account and region the remediation was done in.
pub struct SdkUndo {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub s3: S3,
    pub kms: aws_sdk_kms::Client,
    pub rds: aws_sdk_rds::Client,
    pub redshift: aws_sdk_redshift::Client,
    pub trail: aws_sdk_cloudtrail::Client,
    pub guardduty: aws_sdk_guardduty::Client,
    /// Every kind's resource-policy client, nested as pairs (`PolicyPort`).
    pub policies: Policies,
    pub s3control: aws_sdk_s3control::Client,
}

/// The resource-policy clients of the eight kinds, as `PolicyPort` composes them.
pub type Policies = (
    aws_sdk_sqs::Client,
    (
        aws_sdk_sns::Client,
        (
            aws_sdk_secretsmanager::Client,
            (
                aws_sdk_kms::Client,
                (
                    aws_sdk_ecr::Client,
                    (
                        aws_sdk_opensearch::Client,
                        (aws_sdk_glacier::Client, aws_sdk_efs::Client),
                    ),
                ),
            ),
        ),
    ),
);

/// Whether two permissions open the same thing (descriptions aside), as EC2 lists them:
/// all-traffic rules carry no ports, and a CIDR is written in its canonical form.
fn same_permission(a: &Permission, b: &Permission) -> bool {
    let ports = |p: &Permission| match p.protocol {
        trailguard_rules::net::Protocol::All => (None, None),
        _ => (p.from_port, p.to_port),
    };
    let block = canonical_block;
    a.protocol == b.protocol
        && ports(a) == ports(b)
        && block(&a.cidr_ipv4) == block(&b.cidr_ipv4)
        && block(&a.cidr_ipv6) == block(&b.cidr_ipv6)
        && a.prefix_list_id == b.prefix_list_id
        && a.source_group_id == b.source_group_id
}

impl SdkUndo {
    /// The clients of the config's account and region.
    pub fn new(sdk: &aws_config::SdkConfig) -> SdkUndo {
        SdkUndo {
            ec2: aws_sdk_ec2::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            s3: S3 {
                s3: aws_sdk_s3::Client::new(sdk),
            },
            kms: aws_sdk_kms::Client::new(sdk),
            rds: aws_sdk_rds::Client::new(sdk),
            redshift: aws_sdk_redshift::Client::new(sdk),
            trail: aws_sdk_cloudtrail::Client::new(sdk),
            guardduty: aws_sdk_guardduty::Client::new(sdk),
            s3control: aws_sdk_s3control::Client::new(sdk),
            policies: (
                aws_sdk_sqs::Client::new(sdk),
                (
                    aws_sdk_sns::Client::new(sdk),
                    (
                        aws_sdk_secretsmanager::Client::new(sdk),
                        (
                            aws_sdk_kms::Client::new(sdk),
                            (
                                aws_sdk_ecr::Client::new(sdk),
                                (
                                    aws_sdk_opensearch::Client::new(sdk),
                                    (
                                        aws_sdk_glacier::Client::new(sdk),
                                        aws_sdk_efs::Client::new(sdk),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        }
    }

    /// How many of `perms` the group has now in that direction; None when it no longer
    /// exists.
    async fn group_has(
        &self,
        group_id: &str,
        egress: bool,
        perms: &[Permission],
    ) -> PortResult<Option<usize>> {
        let Some(state) = self.ec2.group_state(group_id).await? else {
            return Ok(None);
        };
        Ok(Some(
            perms
                .iter()
                .filter(|p| {
                    state
                        .rules
                        .iter()
                        .any(|r| r.egress == egress && same_permission(&r.permission, p))
                })
                .count(),
        ))
    }

    /// The user owning a key (the one named, else the key's owner) and the key's status;
    /// None when the key no longer exists.
    async fn key_status(
        &self,
        user: Option<&str>,
        key_id: &str,
    ) -> PortResult<Option<(String, String)>> {
        let user = match user {
            Some(u) => u.to_string(),
            None => match self.iam.key_owner(key_id).await? {
                Some(u) => u,
                None => return Ok(None),
            },
        };
        let keys = match self.iam.list_access_keys().user_name(&user).send().await {
            Ok(o) => o,
            Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => return Ok(None),
            Err(e) => return Err(classify(&ops::LIST_ACCESS_KEYS, e)),
        };
        Ok(keys
            .access_key_metadata()
            .iter()
            .find(|k| k.access_key_id() == Some(key_id))
            .map(|k| {
                (
                    user.clone(),
                    k.status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )
            }))
    }
}

fn entry_same(a: &AclEntry, b: &AclEntry) -> bool {
    let block = canonical_block;
    let ports = |e: &AclEntry| {
        if e.protocol == "-1" {
            (None, None)
        } else {
            (e.from_port, e.to_port)
        }
    };
    a.allow == b.allow
        && a.protocol == b.protocol
        && ports(a) == ports(b)
        && block(&a.cidr) == block(&b.cidr)
}

fn flags_text(f: Option<BlockFlags>) -> String {
    f.map_or_else(|| "no block".into(), |f| f.switches_on())
}

impl UndoPort for SdkUndo {
    async fn check(&self, r: &Reversal) -> PortResult<Now> {
        Ok(match r {
            Reversal::AuthorizeSecurityGroup {
                group_id,
                egress,
                permissions,
            } => match self.group_has(group_id, *egress, permissions).await? {
                None => Now::Changed(format!("security group {group_id} no longer exists")),
                Some(0) => Now::AsLeft,
                Some(n) if n == permissions.len() => {
                    Now::AlreadyUndone(format!("security group {group_id} has these rules again"))
                }
                Some(n) => Now::Changed(format!(
                    "security group {group_id} has {n} of these {} rules again",
                    permissions.len()
                )),
            },
            Reversal::RevokeSecurityGroup {
                group_id,
                egress,
                permissions,
            } => match self.group_has(group_id, *egress, permissions).await? {
                None => Now::Changed(format!("security group {group_id} no longer exists")),
                Some(n) if n == permissions.len() => Now::AsLeft,
                Some(0) => Now::AlreadyUndone(format!(
                    "security group {group_id} no longer has these rules"
                )),
                Some(n) => Now::Changed(format!(
                    "security group {group_id} has only {n} of these {} rules",
                    permissions.len()
                )),
            },
            Reversal::ActivateAccessKey {
                user_name,
                access_key_id,
            } => match self.key_status(user_name.as_deref(), access_key_id).await? {
                None => Now::Changed(format!(
                    "access key {access_key_id} no longer exists (deleted, or rotated out)"
                )),
                Some((_, s)) if s == "Active" => {
                    Now::AlreadyUndone(format!("access key {access_key_id} is Active again"))
                }
                Some((_, s)) if s == "Inactive" => Now::AsLeft,
                Some((_, s)) => Now::Changed(format!("access key {access_key_id} is {s}")),
            },
            Reversal::DeleteInlinePolicy {
                principal,
                name,
                policy_name,
                document,
            } => {
                let r = match principal {
                    PrincipalKind::User => self
                        .iam
                        .get_user_policy()
                        .user_name(name)
                        .policy_name(policy_name)
                        .send()
                        .await
                        .map(|o| o.policy_document().to_string())
                        .map_err(|e| (code_of(&e), classify(&ops::GET_USER_POLICY, e))),
                    PrincipalKind::Role => self
                        .iam
                        .get_role_policy()
                        .role_name(name)
                        .policy_name(policy_name)
                        .send()
                        .await
                        .map(|o| o.policy_document().to_string())
                        .map_err(|e| (code_of(&e), classify(&ops::GET_ROLE_POLICY, e))),
                };
                let parsed = |d: &str| trust::document(&serde_json::Value::String(d.into()));
                match r {
                    // Rewritten since (a later containment's cutoff, or by hand): it stays.
                    Ok(now) if parsed(&now).is_none() || parsed(&now) != parsed(document) => {
                        Now::Changed(format!(
                            "inline policy {policy_name} of {name} is no longer the one this \
                             remediation wrote (a later containment or a person rewrote it)"
                        ))
                    }
                    Ok(_) => Now::AsLeft,
                    Err((code, _)) if code.as_deref() == Some("NoSuchEntity") => {
                        Now::AlreadyUndone(format!("{name} has no inline policy {policy_name}"))
                    }
                    Err((_, e)) => return Err(e),
                }
            }
            Reversal::UntagUser {
                user_name,
                key,
                value,
            } => match self.iam.list_user_tags().user_name(user_name).send().await {
                Ok(o) => match o.tags().iter().find(|t| t.key() == key) {
                    None => Now::AlreadyUndone(format!("user {user_name} has no tag {key}")),
                    Some(t) if t.value() == value => Now::AsLeft,
                    Some(_) => Now::Changed(format!(
                        "tag {key} of user {user_name} is no longer the one this remediation \
                         wrote (a later containment or a person rewrote it)"
                    )),
                },
                Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => {
                    Now::Changed(format!("user {user_name} no longer exists"))
                }
                Err(e) => return Err(classify(&ops::LIST_USER_TAGS, e)),
            },
            Reversal::CreateNetworkAclEntry {
                network_acl_id,
                entry,
            } => match self.ec2.acl_state(network_acl_id).await? {
                None => Now::Changed(format!("network ACL {network_acl_id} no longer exists")),
                Some(acl) => match acl
                    .entries
                    .iter()
                    .find(|e| e.rule_number == entry.rule_number && e.egress == entry.egress)
                {
                    None => Now::AsLeft,
                    Some(now) if entry_same(now, entry) => Now::AlreadyUndone(format!(
                        "entry {} of {network_acl_id} is back",
                        entry.rule_number
                    )),
                    Some(_) => Now::Changed(format!(
                        "rule number {} of {network_acl_id} is taken by another entry",
                        entry.rule_number
                    )),
                },
            },
            Reversal::DisableEbsEncryptionByDefault { .. } => {
                let now = self
                    .ec2
                    .get_ebs_encryption_by_default()
                    .send()
                    .await
                    .map_err(|e| classify(&ops::GET_EBS_ENCRYPTION_BY_DEFAULT, e))?;
                if now.ebs_encryption_by_default() == Some(true) {
                    Now::AsLeft
                } else {
                    Now::AlreadyUndone("EBS encryption by default is off".into())
                }
            }
            Reversal::DisableKeyRotation { key_id } => {
                if self.kms.rotation_on(key_id).await? {
                    Now::AsLeft
                } else {
                    Now::AlreadyUndone(format!("automatic rotation of KMS key {key_id} is off"))
                }
            }
            Reversal::MakeDbInstancePublic { db_instance } => {
                match self.rds.db_instance(db_instance).await? {
                    None => Now::Changed(format!("DB instance {db_instance} no longer exists")),
                    Some(d) if unsettled(d.status.as_deref()) => {
                        not_settled(&format!("DB instance {db_instance}"), d.status.as_deref())
                    }
                    Some(d) if d.public => Now::AlreadyUndone(format!(
                        "DB instance {db_instance} is publicly accessible"
                    )),
                    Some(_) => Now::AsLeft,
                }
            }
            Reversal::MakeDbClusterInstancesPublic {
                db_cluster,
                instances,
            } => {
                let mut private = 0;
                for id in instances {
                    let Some(m) = self.member(id).await? else {
                        return Ok(Now::Changed(format!(
                            "DB instance {id} of cluster {db_cluster} no longer exists"
                        )));
                    };
                    // The same name in another cluster is another instance.
                    if m.cluster.as_deref() != Some(db_cluster.as_str()) {
                        return Ok(Now::Changed(format!(
                            "DB instance {id} is no longer a member of cluster {db_cluster}"
                        )));
                    }
                    if unsettled(m.status.as_deref()) {
                        return Ok(not_settled(
                            &format!("DB instance {id}"),
                            m.status.as_deref(),
                        ));
                    }
                    private += usize::from(!m.public);
                }
                // Some already public (put back by hand, or an undo that stopped part way):
                // the rest is still this remediation's to undo.
                if private == 0 {
                    Now::AlreadyUndone(format!(
                        "DB instance(s) {} of cluster {db_cluster} are publicly accessible",
                        instances.join(", ")
                    ))
                } else {
                    Now::AsLeft
                }
            }
            Reversal::MakeRedshiftClusterPublic { cluster } => {
                let c = match self
                    .redshift
                    .describe_clusters()
                    .cluster_identifier(cluster)
                    .send()
                    .await
                {
                    Ok(o) => o.clusters().first().cloned(),
                    Err(e)
                        if matches!(
                            code_of(&e).as_deref(),
                            Some("ClusterNotFound" | "ClusterNotFoundFault")
                        ) =>
                    {
                        None
                    }
                    Err(e) => return Err(classify(&ops::REDSHIFT_DESCRIBE_CLUSTERS, e)),
                };
                match c {
                    None => Now::Changed(format!("Redshift cluster {cluster} no longer exists")),
                    // trailguard's change still pending: it cannot be told apart from a
                    // cluster put back, so nothing is decided yet.
                    Some(c)
                        if unsettled(c.cluster_status())
                            || c.pending_modified_values()
                                .and_then(|p| p.publicly_accessible())
                                .is_some() =>
                    {
                        not_settled(
                            &format!("Redshift cluster {cluster}"),
                            Some(c.cluster_status().unwrap_or("modifying")),
                        )
                    }
                    Some(c) if c.publicly_accessible() == Some(true) => Now::AlreadyUndone(
                        format!("Redshift cluster {cluster} is publicly accessible"),
                    ),
                    Some(_) => Now::AsLeft,
                }
            }
            Reversal::StopLogging { trail } => match self.trail.trail_is_logging(trail).await {
                Ok(Some(true)) => Now::AsLeft,
                Ok(Some(false)) => Now::AlreadyUndone(format!("trail {trail} is not logging")),
                Ok(None) => {
                    Now::Changed(format!("CloudTrail did not say whether trail {trail} logs"))
                }
                Err(PortError::Permanent { code, .. }) if code == "TrailNotFoundException" => {
                    Now::Changed(format!("trail {trail} no longer exists"))
                }
                Err(e) => return Err(e),
            },
            Reversal::DisableDetector { detector_id } => {
                use aws_sdk_guardduty::types::DetectorStatus;
                match self
                    .guardduty
                    .get_detector()
                    .detector_id(detector_id)
                    .send()
                    .await
                {
                    Ok(d) => match d.status() {
                        Some(DetectorStatus::Enabled) => Now::AsLeft,
                        Some(DetectorStatus::Disabled) => Now::AlreadyUndone(format!(
                            "GuardDuty detector {detector_id} is suspended"
                        )),
                        other => Now::Changed(format!(
                            "GuardDuty detector {detector_id} is {}",
                            other.map(|s| s.as_str()).unwrap_or("of no status")
                        )),
                    },
                    Err(e) if code_of(&e).as_deref() == Some("BadRequestException") => {
                        Now::Changed(format!("GuardDuty detector {detector_id} no longer exists"))
                    }
                    Err(e) => return Err(classify(&ops::GUARDDUTY_GET_DETECTOR, e)),
                }
            }
            Reversal::ShareSnapshot {
                snapshot_id,
                accounts,
                public,
                done_at,
            } => match crate::ec2::snapshot_shares(&self.ec2, snapshot_id).await? {
                _ if self.snapshot_made_after(snapshot_id, *done_at).await? => {
                    Now::Changed(made_after(&format!("snapshot {snapshot_id}")))
                }
                None => Now::Changed(format!("snapshot {snapshot_id} no longer exists")),
                // All shared again (by hand, or an undo that stopped part way): done; else the
                // missing ones are this remediation's to share again.
                Some((with, everyone)) => {
                    if accounts.iter().all(|a| with.contains(a)) && (!*public || everyone) {
                        Now::AlreadyUndone(format!("snapshot {snapshot_id} is shared with them"))
                    } else {
                        Now::AsLeft
                    }
                }
            },
            Reversal::ShareImage {
                image_id,
                accounts,
                public,
                organizations,
            } => match self
                .ec2
                .describe_image_attribute()
                .image_id(image_id)
                .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
                .send()
                .await
            {
                Err(e) if code_of(&e).is_some_and(|c| c.starts_with("InvalidAMIID")) => {
                    Now::Changed(format!("image {image_id} no longer exists"))
                }
                Err(e) => return Err(classify(&ops::DESCRIBE_IMAGE_ATTRIBUTE, e)),
                // All shared again: done; else the missing ones are this remediation's.
                Ok(a) => {
                    let present = crate::ec2::launch_permissions_present(
                        a.launch_permissions(),
                        accounts,
                        *public,
                        organizations,
                    );
                    if present.len() >= accounts.len() + organizations.len() + usize::from(*public)
                    {
                        Now::AlreadyUndone(format!("image {image_id} is shared with them"))
                    } else {
                        Now::AsLeft
                    }
                }
            },
            Reversal::ShareDbSnapshot {
                snapshot,
                cluster,
                values,
                done_at,
            } => match crate::rds::snapshot_restore_values(&self.rds, snapshot, *cluster).await? {
                _ if self
                    .db_snapshot_made_after(snapshot, *cluster, *done_at)
                    .await? =>
                {
                    Now::Changed(made_after(&format!("DB snapshot {snapshot}")))
                }
                None => Now::Changed(format!("DB snapshot {snapshot} no longer exists")),
                Some(now) if values.iter().all(|v| now.contains(v)) => {
                    Now::AlreadyUndone(format!("DB snapshot {snapshot} is shared with them"))
                }
                Some(_) => Now::AsLeft,
            },
            Reversal::RestoreAccountPublicAccessBlock {
                account_id,
                previous,
                left,
            } => match self.s3control.account_block(account_id).await?.block {
                now if now == *previous => Now::AlreadyUndone(format!(
                    "the S3 block of account {account_id} is as before ({})",
                    flags_text(now)
                )),
                Some(now) if now == *left => Now::AsLeft,
                now => Now::Changed(format!(
                    "the S3 block of account {account_id} is {} (trailguard left {})",
                    flags_text(now),
                    flags_text(Some(*left))
                )),
            },
            Reversal::RestoreBucketPolicy {
                bucket,
                previous,
                left,
            } => {
                let doc = |t: &str| trust::document(&serde_json::Value::String(t.to_string()));
                match self.s3.policy(bucket).await? {
                    None => Now::Changed(format!("bucket {bucket} no longer exists")),
                    Some(None) if left.is_none() => Now::Changed(unidentified(
                        &format!("bucket {bucket}"),
                        "deleted its policy",
                    )),
                    Some(None) => Now::Changed(format!(
                        "bucket {bucket} has no policy now (trailguard left one)"
                    )),
                    Some(Some(text)) => match doc(&text) {
                        Some(d) if Some(&d) == doc(previous).as_ref() => Now::AlreadyUndone(
                            format!("the policy of bucket {bucket} is as before"),
                        ),
                        Some(d) if left.as_deref().and_then(doc).as_ref() == Some(&d) => {
                            Now::AsLeft
                        }
                        _ => Now::Changed(format!(
                            "the policy of bucket {bucket} was changed since trailguard \
                             restricted it"
                        )),
                    },
                }
            }
            Reversal::RestoreResourcePolicy {
                kind,
                resource,
                previous,
                left,
            } => {
                let noun = kind.noun();
                // Compared as JSON: a service may give back what it was given re-spaced.
                let doc = |t: &str| trust::document(&serde_json::Value::String(t.to_string()));
                // What a resource of the same name made since would have too: not proof that
                // this is the resource trailguard changed.
                let fresh = |d: &serde_json::Value| {
                    *kind == PolicyKind::Topic
                        && trailguard_rules::resources::default_topic_policy(resource).as_ref()
                            == Some(d)
                };
                match self.policies.read_policy(*kind, resource).await? {
                    None => Now::Changed(format!("{noun} {resource} no longer exists")),
                    Some(now) => match now.filter(|t| !t.trim().is_empty()) {
                        None if left.is_none() => Now::Changed(unidentified(
                            &format!("{noun} {resource}"),
                            "deleted its policy",
                        )),
                        None => Now::Changed(format!(
                            "{noun} {resource} has no policy now (trailguard left one)"
                        )),
                        Some(text) => match doc(&text) {
                            None => Now::Changed(format!(
                                "the policy of {noun} {resource} is not a JSON document now"
                            )),
                            Some(d) if Some(&d) == doc(previous).as_ref() => Now::AlreadyUndone(
                                format!("the policy of {noun} {resource} is as before"),
                            ),
                            Some(d) if fresh(&d) => Now::Changed(unidentified(
                                &format!("{noun} {resource}"),
                                "wrote AWS's default policy",
                            )),
                            Some(d) if left.as_deref().and_then(doc).as_ref() == Some(&d) => {
                                Now::AsLeft
                            }
                            Some(_) => Now::Changed(format!(
                                "the policy of {noun} {resource} was changed since trailguard \
                                 restricted it"
                            )),
                        },
                    },
                }
            }
            Reversal::RestoreBucketPublicAccessBlock {
                bucket,
                previous,
                left,
            } => match self.s3.block(bucket).await? {
                None => Now::Changed(format!("bucket {bucket} no longer exists")),
                Some(now) if now == *previous => Now::AlreadyUndone(format!(
                    "the block of bucket {bucket} is as before ({})",
                    flags_text(now)
                )),
                Some(Some(now)) if now == *left => Now::AsLeft,
                Some(now) => Now::Changed(format!(
                    "the block of bucket {bucket} is {} (trailguard left {})",
                    flags_text(now),
                    flags_text(Some(*left))
                )),
            },
            Reversal::RestoreBucketTagging {
                bucket,
                key,
                previous,
            } => {
                let sorted = |mut v: Vec<(String, String)>| {
                    v.sort();
                    v
                };
                let before =
                    sorted(trailguard_rules::undo::tag_set(previous).map_err(|e| invalid(&e))?);
                let left: Vec<(String, String)> =
                    before.iter().filter(|(k, _)| k != key).cloned().collect();
                match self.s3.tag_set(bucket).await?.map(sorted) {
                    None => Now::Changed(format!("bucket {bucket} no longer exists")),
                    Some(now) if now == before => {
                        Now::AlreadyUndone(format!("the tags of bucket {bucket} are as before"))
                    }
                    // No tags left: a bucket of that name made since has none either.
                    Some(now) if now.is_empty() && left.is_empty() => Now::Changed(unidentified(
                        &format!("bucket {bucket}"),
                        "deleted the tags",
                    )),
                    Some(now) if now == left => Now::AsLeft,
                    Some(_) => Now::Changed(format!(
                        "the tags of bucket {bucket} were changed since trailguard took {key} off"
                    )),
                }
            }
            Reversal::RestorePasswordPolicy { previous, left } => {
                let now = crate::iam::password_policy(&self.iam).await?;
                let text = |p: &Option<PasswordPolicy>| {
                    p.as_ref()
                        .map_or_else(|| "none".to_string(), |p| p.cli_args().trim().to_string())
                };
                if now == *previous {
                    Now::AlreadyUndone(format!(
                        "the account password policy is as before ({})",
                        text(previous)
                    ))
                } else if now.as_ref() == Some(left) {
                    Now::AsLeft
                } else {
                    Now::Changed(format!(
                        "the account password policy is {} (trailguard left {})",
                        text(&now),
                        left.cli_args().trim()
                    ))
                }
            }
            Reversal::TagDbResource {
                resource_arn,
                key,
                value,
                done_at,
            } => {
                if self
                    .db_made_at(resource_arn)
                    .await?
                    .is_some_and(|m| m > *done_at)
                {
                    return Ok(Now::Changed(made_again(resource_arn)));
                }
                let listed = self
                    .rds
                    .list_tags_for_resource()
                    .resource_name(resource_arn)
                    .send()
                    .await;
                match listed {
                    Err(e) if db_gone(code_of(&e)) => {
                        Now::Changed(format!("{resource_arn} no longer exists"))
                    }
                    Err(e) => return Err(classify(&ops::RDS_LIST_TAGS, e)),
                    Ok(o) => tag_now(
                        resource_arn,
                        key,
                        value,
                        o.tag_list()
                            .iter()
                            .find(|t| t.key() == Some(key.as_str()))
                            .map(|t| t.value().unwrap_or_default()),
                    ),
                }
            }
            Reversal::TagRedshiftCluster {
                resource_arn,
                key,
                value,
                done_at,
            } => {
                if self
                    .redshift_made_at(resource_arn)
                    .await?
                    .is_some_and(|m| m > *done_at)
                {
                    return Ok(Now::Changed(made_again(resource_arn)));
                }
                let listed = self
                    .redshift
                    .describe_tags()
                    .resource_name(resource_arn)
                    .tag_keys(key)
                    .send()
                    .await;
                match listed {
                    Err(e) if db_gone(code_of(&e)) => {
                        Now::Changed(format!("{resource_arn} no longer exists"))
                    }
                    Err(e) => return Err(classify(&ops::REDSHIFT_DESCRIBE_TAGS, e)),
                    Ok(o) => tag_now(
                        resource_arn,
                        key,
                        value,
                        o.tagged_resources()
                            .iter()
                            .filter_map(|r| r.tag())
                            .find(|t| t.key() == Some(key.as_str()))
                            .map(|t| t.value().unwrap_or_default()),
                    ),
                }
            }
            Reversal::TagRole {
                role_name,
                key,
                value,
                done_at,
            } => match self.iam.list_role_tags().role_name(role_name).send().await {
                _ if self
                    .role_made_at(role_name)
                    .await?
                    .is_some_and(|m| m > *done_at) =>
                {
                    Now::Changed(made_again(&format!("role {role_name}")))
                }
                Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => {
                    Now::Changed(format!("role {role_name} no longer exists"))
                }
                Err(e) => return Err(classify(&ops::LIST_ROLE_TAGS, e)),
                Ok(o) => tag_now(
                    &format!("role {role_name}"),
                    key,
                    value,
                    o.tags().iter().find(|t| t.key() == key).map(|t| t.value()),
                ),
            },
            Reversal::RestoreBucketAcl {
                bucket,
                groups,
                previous,
                done_at,
            } => {
                let before = trailguard_rules::undo::acl(previous).map_err(|e| invalid(&e))?;
                // A bucket of that name made since is another: its ACL is not ours to open.
                let made = self.s3.made_at(bucket).await?;
                match self.s3.acl(bucket).await? {
                    None => Now::Changed(format!("bucket {bucket} no longer exists")),
                    Some(_) if made.is_some_and(|m| m > *done_at) => Now::Changed(format!(
                        "the account's bucket list dates bucket {bucket} after the remediation: \
                         made again under the same name (S3 may also move the date of a bucket \
                         in another region when its settings change), so its ACL is not opened; \
                         if it is the same bucket, run the report's undo command by hand"
                    )),
                    Some(_) if made.is_none() => Now::Changed(format!(
                        "bucket {bucket} is not in the account's bucket list, so it cannot be \
                         told to be the one trailguard changed"
                    )),
                    Some(now) if now.sorted() == before.sorted() => {
                        Now::AlreadyUndone(format!("the ACL of bucket {bucket} is as before"))
                    }
                    Some(now) if now.sorted() == before.without(groups) => Now::AsLeft,
                    Some(_) => Now::Changed(format!(
                        "the ACL of bucket {bucket} was changed since trailguard took the grants \
                         to {} out",
                        groups.join(", ")
                    )),
                }
            }
            Reversal::TagEc2Resources { key, tags } => {
                let ids: Vec<String> = tags.iter().map(|(id, _)| id.clone()).collect();
                let now = crate::ec2::tagged(&self.ec2, &ids, key).await?;
                let other = tags
                    .iter()
                    .find_map(|(id, v)| now.get(id).filter(|n| *n != v).map(|n| (id, n, v)));
                match other {
                    Some((id, n, v)) => Now::Changed(format!(
                        "{id} carries {key}={n} now (trailguard took off {key}={v})"
                    )),
                    None if now.len() == tags.len() => {
                        Now::AlreadyUndone(format!("{} carry {key} again", ids.join(", ")))
                    }
                    None => Now::AsLeft,
                }
            }
            Reversal::AddPrefixListEntries {
                prefix_list_id,
                cidrs,
            } => match crate::ec2::prefix_list_now(&self.ec2, prefix_list_id).await? {
                None => Now::Changed(format!("prefix list {prefix_list_id} no longer exists")),
                // All back (by hand, or an undo that stopped part way): done; else the missing
                // ones are this remediation's to add back.
                Some((_, now)) if cidrs.iter().all(|c| now.contains(c)) => {
                    Now::AlreadyUndone(format!(
                        "prefix list {prefix_list_id} holds {} again",
                        cidrs.join(", ")
                    ))
                }
                Some(_) => Now::AsLeft,
            },
            Reversal::RestoreObjectAcl {
                bucket,
                key,
                version_id,
                groups,
                previous,
                done_at,
            } => {
                let before = trailguard_rules::undo::acl(previous).map_err(|e| invalid(&e))?;
                let what = format!("s3://{bucket}/{key}");
                match self
                    .s3
                    .object_acl(bucket, key, version_id.as_deref())
                    .await?
                {
                    None => Now::Changed(format!("{what} no longer exists")),
                    Some((now, _)) if now.sorted() == before.sorted() => {
                        Now::AlreadyUndone(format!("the ACL of {what} is as before"))
                    }
                    // A bucket that keeps versions, and a remediation that named none: the
                    // version it changed may no longer be the latest.
                    Some((_, Some((_, Some(_))))) if version_id.is_none() => Now::Changed(format!(
                        "{what} is in a bucket that keeps versions, and the remediation named \
                         none: the version it changed is not known to be the latest; run the \
                         report's undo command against that version by hand"
                    )),
                    // Written since: another object under that key, whose ACL is not opened.
                    Some((_, Some((written, _)))) if written > *done_at => Now::Changed(format!(
                        "{what} was written after the remediation: another object under the \
                         same key, whose ACL is not opened"
                    )),
                    Some((now, _)) if now.sorted() == before.without(groups) => Now::AsLeft,
                    Some(_) => Now::Changed(format!(
                        "the ACL of {what} was changed since trailguard took the grants to {} out",
                        groups.join(", ")
                    )),
                }
            }
            Reversal::AllowImdsv1 { instance_id } => {
                use aws_sdk_ec2::types::{HttpTokensState, InstanceStateName};
                match crate::ec2::instance(&self.ec2, instance_id).await? {
                    None => Now::Changed(format!("instance {instance_id} no longer exists")),
                    // Terminated instances are still described for a while.
                    Some(i)
                        if i.state().and_then(|s| s.name()).is_some_and(|n| {
                            matches!(
                                n,
                                InstanceStateName::Terminated | InstanceStateName::ShuttingDown
                            )
                        }) =>
                    {
                        Now::Changed(format!("instance {instance_id} is terminated"))
                    }
                    Some(i)
                        if i.metadata_options().and_then(|m| m.http_tokens())
                            == Some(&HttpTokensState::Required) =>
                    {
                        Now::AsLeft
                    }
                    Some(_) => {
                        Now::AlreadyUndone(format!("instance {instance_id} allows IMDSv1 again"))
                    }
                }
            }
            Reversal::RestoreImdsDefault { previous, .. } => {
                let now = self
                    .ec2
                    .get_instance_metadata_defaults()
                    .send()
                    .await
                    .map_err(|e| classify(&ops::GET_INSTANCE_METADATA_DEFAULTS, e))?;
                let tokens = now
                    .account_level()
                    .and_then(|a| a.http_tokens())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default();
                if tokens == "required" {
                    Now::AsLeft
                } else if tokens == *previous {
                    Now::AlreadyUndone("the instance metadata default is as before".into())
                } else {
                    Now::Changed(format!(
                        "the instance metadata default's HttpTokens is {tokens:?} (trailguard \
                         left required)"
                    ))
                }
            }
            Reversal::RestoreSnapshotBlockPublicAccess { previous, left, .. } => {
                let now = self
                    .ec2
                    .get_snapshot_block_public_access_state()
                    .send()
                    .await
                    .map_err(|e| classify(&ops::GET_SNAPSHOT_BPA, e))?;
                let state = now
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                let unblocked = trailguard_rules::undo::snapshot_unblocked;
                if state == *left {
                    Now::AsLeft
                } else if state == *previous || (unblocked(&state) && unblocked(previous)) {
                    Now::AlreadyUndone(format!("the EBS snapshot block is as before ({state})"))
                } else {
                    Now::Changed(format!(
                        "the EBS snapshot block is {state} (trailguard left {left})"
                    ))
                }
            }
            Reversal::DisableImageBlockPublicAccess { .. } => {
                let now = self
                    .ec2
                    .get_image_block_public_access_state()
                    .send()
                    .await
                    .map_err(|e| classify(&ops::GET_IMAGE_BPA, e))?;
                match now.image_block_public_access_state() {
                    Some("block-new-sharing") => Now::AsLeft,
                    state => Now::AlreadyUndone(format!(
                        "new public sharing of AMIs is not blocked ({})",
                        state.unwrap_or("unblocked")
                    )),
                }
            }
            Reversal::TagResource {
                kind,
                resource,
                key,
                value,
            } => {
                let noun = kind.noun();
                match self.policies.tag_value(*kind, resource, key).await? {
                    None => Now::Changed(format!("{noun} {resource} no longer exists")),
                    Some(now) => tag_now(&format!("{noun} {resource}"), key, value, now.as_deref()),
                }
            }
        })
    }

    async fn run(&self, r: &Reversal) -> PortResult<Change> {
        match r {
            Reversal::AuthorizeSecurityGroup {
                group_id,
                egress,
                permissions,
            } => {
                self.ec2
                    .authorize_permissions(group_id, *egress, permissions)
                    .await
            }
            Reversal::RevokeSecurityGroup {
                group_id,
                egress,
                permissions,
            } => {
                self.ec2
                    .revoke_permissions(Some(group_id), None, *egress, permissions)
                    .await
            }
            Reversal::ActivateAccessKey {
                user_name,
                access_key_id,
            } => {
                let Some((user, _)) = self.key_status(user_name.as_deref(), access_key_id).await?
                else {
                    return Err(gone("the access key"));
                };
                self.iam
                    .update_access_key()
                    .user_name(user)
                    .access_key_id(access_key_id)
                    .status(aws_sdk_iam::types::StatusType::Active)
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::UPDATE_ACCESS_KEY, e))
            }
            Reversal::DeleteInlinePolicy {
                principal,
                name,
                policy_name,
                ..
            } => match principal {
                PrincipalKind::User => self
                    .iam
                    .delete_user_policy()
                    .user_name(name)
                    .policy_name(policy_name)
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::DELETE_USER_POLICY, e)),
                PrincipalKind::Role => self
                    .iam
                    .delete_role_policy()
                    .role_name(name)
                    .policy_name(policy_name)
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::DELETE_ROLE_POLICY, e)),
            },
            Reversal::UntagUser { user_name, key, .. } => self
                .iam
                .untag_user()
                .user_name(user_name)
                .tag_keys(key)
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::UNTAG_USER, e)),
            Reversal::CreateNetworkAclEntry {
                network_acl_id,
                entry,
            } => {
                let number = i32::try_from(entry.rule_number)
                    .map_err(|_| invalid("the entry's rule number is out of range"))?;
                let port = |p: Option<i64>| p.and_then(|p| i32::try_from(p).ok());
                let mut req = self
                    .ec2
                    .create_network_acl_entry()
                    .network_acl_id(network_acl_id)
                    .rule_number(number)
                    .egress(entry.egress)
                    .protocol(&entry.protocol)
                    .rule_action(if entry.allow {
                        aws_sdk_ec2::types::RuleAction::Allow
                    } else {
                        aws_sdk_ec2::types::RuleAction::Deny
                    });
                if entry.protocol != "-1" {
                    if let (Some(from), Some(to)) = (port(entry.from_port), port(entry.to_port)) {
                        req = req.port_range(
                            aws_sdk_ec2::types::PortRange::builder()
                                .from(from)
                                .to(to)
                                .build(),
                        );
                    }
                }
                let cidr = entry.cidr.as_deref().unwrap_or_default();
                req = if cidr.contains(':') {
                    req.ipv6_cidr_block(cidr)
                } else {
                    req.cidr_block(cidr)
                };
                req.send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::CREATE_NACL_ENTRY, e))
            }
            Reversal::DisableEbsEncryptionByDefault { .. } => self
                .ec2
                .disable_ebs_encryption_by_default()
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::DISABLE_EBS_ENCRYPTION_BY_DEFAULT, e)),
            Reversal::DisableKeyRotation { key_id } => self
                .kms
                .disable_key_rotation()
                .key_id(crate::keys::id_of(key_id))
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::KMS_DISABLE_KEY_ROTATION, e)),
            Reversal::MakeDbInstancePublic { db_instance } => self
                .rds
                .modify_db_instance()
                .db_instance_identifier(db_instance)
                .publicly_accessible(true)
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::MODIFY_DB_INSTANCE, e)),
            Reversal::MakeDbClusterInstancesPublic { instances, .. } => {
                for id in instances {
                    // Only the members still private: one already public stays as it is.
                    if self.member(id).await?.is_some_and(|m| m.public) {
                        continue;
                    }
                    self.rds
                        .modify_db_instance()
                        .db_instance_identifier(id)
                        .publicly_accessible(true)
                        .send()
                        .await
                        .map_err(|e| classify(&ops::MODIFY_DB_INSTANCE, e))?;
                }
                Ok(Change::Done)
            }
            Reversal::MakeRedshiftClusterPublic { cluster } => self
                .redshift
                .modify_cluster()
                .cluster_identifier(cluster)
                .publicly_accessible(true)
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::REDSHIFT_MODIFY_CLUSTER, e)),
            Reversal::StopLogging { trail } => self
                .trail
                .stop_logging()
                .name(trail)
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::STOP_LOGGING, e)),
            Reversal::DisableDetector { detector_id } => self
                .guardduty
                .update_detector()
                .detector_id(detector_id)
                .enable(false)
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::GUARDDUTY_UPDATE_DETECTOR, e)),
            Reversal::ShareSnapshot {
                snapshot_id,
                accounts,
                public,
                ..
            } => self
                .ec2
                .modify_snapshot_attribute()
                .snapshot_id(snapshot_id)
                .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
                .operation_type(aws_sdk_ec2::types::OperationType::Add)
                .set_user_ids((!accounts.is_empty()).then(|| accounts.clone()))
                .set_group_names(public.then(|| vec!["all".to_string()]))
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::MODIFY_SNAPSHOT_ATTRIBUTE, e)),
            Reversal::ShareImage {
                image_id,
                accounts,
                public,
                organizations,
            } => {
                use aws_sdk_ec2::types::{LaunchPermission, PermissionGroup};
                let mut add: Vec<LaunchPermission> = accounts
                    .iter()
                    .map(|a| LaunchPermission::builder().user_id(a).build())
                    .collect();
                if *public {
                    add.push(
                        LaunchPermission::builder()
                            .group(PermissionGroup::All)
                            .build(),
                    );
                }
                for o in organizations {
                    add.push(if o.contains(":ou/") {
                        LaunchPermission::builder()
                            .organizational_unit_arn(o)
                            .build()
                    } else {
                        LaunchPermission::builder().organization_arn(o).build()
                    });
                }
                self.ec2
                    .modify_image_attribute()
                    .image_id(image_id)
                    .launch_permission(
                        aws_sdk_ec2::types::LaunchPermissionModifications::builder()
                            .set_add(Some(add))
                            .build(),
                    )
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::MODIFY_IMAGE_ATTRIBUTE, e))
            }
            Reversal::ShareDbSnapshot {
                snapshot,
                cluster: true,
                values,
                ..
            } => self
                .rds
                .modify_db_cluster_snapshot_attribute()
                .db_cluster_snapshot_identifier(snapshot)
                .attribute_name("restore")
                .set_values_to_add(Some(values.clone()))
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE, e)),
            Reversal::ShareDbSnapshot {
                snapshot,
                cluster: false,
                values,
                ..
            } => self
                .rds
                .modify_db_snapshot_attribute()
                .db_snapshot_identifier(snapshot)
                .attribute_name("restore")
                .set_values_to_add(Some(values.clone()))
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::MODIFY_DB_SNAPSHOT_ATTRIBUTE, e)),
            Reversal::RestoreAccountPublicAccessBlock {
                account_id,
                previous,
                ..
            } => match previous {
                Some(f) => self
                    .s3control
                    .put_public_access_block()
                    .account_id(account_id)
                    .public_access_block_configuration(crate::s3::config_of!(aws_sdk_s3control, *f))
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::PUT_ACCOUNT_PAB, e)),
                None => self
                    .s3control
                    .delete_public_access_block()
                    .account_id(account_id)
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::DELETE_ACCOUNT_PAB, e)),
            },
            Reversal::RestoreBucketPolicy {
                bucket, previous, ..
            } => self
                .s3
                .s3
                .put_bucket_policy()
                .bucket(bucket)
                .policy(previous)
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::PUT_BUCKET_POLICY, e)),
            Reversal::RestoreResourcePolicy {
                kind,
                resource,
                previous,
                ..
            } => match self.policies.put_policy(*kind, resource, previous).await? {
                Change::AlreadyDone(why) => Err(invalid(&why)),
                _ => Ok(Change::Done),
            },
            Reversal::RestoreBucketPublicAccessBlock {
                bucket, previous, ..
            } => match previous {
                Some(f) => self
                    .s3
                    .s3
                    .put_public_access_block()
                    .bucket(bucket)
                    .public_access_block_configuration(crate::s3::block_config(*f))
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::PUT_BUCKET_PAB, e)),
                None => self
                    .s3
                    .s3
                    .delete_public_access_block()
                    .bucket(bucket)
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::DELETE_BUCKET_PAB, e)),
            },
            Reversal::RestoreBucketTagging {
                bucket, previous, ..
            } => {
                let tags = trailguard_rules::undo::tag_set(previous)
                    .map_err(|e| invalid(&e))?
                    .into_iter()
                    .map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(k).value(v).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| crate::policies::tag_error(&ops::PUT_BUCKET_TAGGING, e))?;
                let tagging = aws_sdk_s3::types::Tagging::builder()
                    .set_tag_set(Some(tags))
                    .build()
                    .map_err(|e| crate::policies::tag_error(&ops::PUT_BUCKET_TAGGING, e))?;
                self.s3
                    .s3
                    .put_bucket_tagging()
                    .bucket(bucket)
                    .tagging(tagging)
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::PUT_BUCKET_TAGGING, e))
            }
            Reversal::RestorePasswordPolicy { previous, .. } => match previous {
                Some(p) => crate::iam::write_password_policy(&self.iam, p)
                    .await
                    .map(|_| Change::Done),
                None => match self.iam.delete_account_password_policy().send().await {
                    Ok(_) => Ok(Change::Done),
                    Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => Ok(
                        Change::AlreadyDone("the account has no password policy".into()),
                    ),
                    Err(e) => Err(classify(&ops::DELETE_ACCOUNT_PASSWORD_POLICY, e)),
                },
            },
            Reversal::RestoreBucketAcl {
                bucket, previous, ..
            } => {
                let before = trailguard_rules::undo::acl(previous).map_err(|e| invalid(&e))?;
                self.s3.put_acl(bucket, &before).await
            }
            Reversal::TagEc2Resources { key, tags } => {
                // Only those that lack it, one call per value.
                let ids: Vec<String> = tags.iter().map(|(id, _)| id.clone()).collect();
                let now = crate::ec2::tagged(&self.ec2, &ids, key).await?;
                let mut values: Vec<&String> = vec![];
                for (id, v) in tags {
                    if !now.contains_key(id) && !values.contains(&v) {
                        values.push(v);
                    }
                }
                if values.is_empty() {
                    return Ok(Change::AlreadyDone(format!(
                        "{} carry {key} again",
                        ids.join(", ")
                    )));
                }
                for value in values {
                    let resources: Vec<String> = tags
                        .iter()
                        .filter(|(id, v)| v == value && !now.contains_key(id))
                        .map(|(id, _)| id.clone())
                        .collect();
                    // DescribeTags cannot tell a resource gone from one without the tag:
                    // the call says which.
                    match self
                        .ec2
                        .create_tags()
                        .set_resources(Some(resources.clone()))
                        .tags(
                            aws_sdk_ec2::types::Tag::builder()
                                .key(key)
                                .value(value)
                                .build(),
                        )
                        .send()
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if code_of(&e).is_some_and(|c| c.ends_with(".NotFound")) => {
                            return Err(invalid(&format!(
                                "{} (or one of them) no longer exists: {}",
                                resources.join(", "),
                                code_of(&e).unwrap_or_default()
                            )))
                        }
                        Err(e) => return Err(classify(&ops::CREATE_TAGS, e)),
                    }
                }
                Ok(Change::Done)
            }
            Reversal::AddPrefixListEntries {
                prefix_list_id,
                cidrs,
            } => {
                // The version the call must name, and only the entries still missing.
                let Some((version, now)) =
                    crate::ec2::prefix_list_now(&self.ec2, prefix_list_id).await?
                else {
                    return Err(invalid(&format!(
                        "prefix list {prefix_list_id} no longer exists"
                    )));
                };
                let missing: Vec<_> = cidrs
                    .iter()
                    .filter(|c| !now.contains(c))
                    .map(|c| {
                        aws_sdk_ec2::types::AddPrefixListEntry::builder()
                            .cidr(c)
                            .build()
                    })
                    .collect();
                if missing.is_empty() {
                    return Ok(Change::AlreadyDone(format!(
                        "prefix list {prefix_list_id} holds them again"
                    )));
                }
                self.ec2
                    .modify_managed_prefix_list()
                    .prefix_list_id(prefix_list_id)
                    .current_version(version)
                    .set_add_entries(Some(missing))
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::MODIFY_MANAGED_PREFIX_LIST, e))
            }
            Reversal::RestoreObjectAcl {
                bucket,
                key,
                version_id,
                previous,
                ..
            } => {
                let before = trailguard_rules::undo::acl(previous).map_err(|e| invalid(&e))?;
                self.s3
                    .put_object_acl(bucket, key, version_id.as_deref(), &before)
                    .await
            }
            Reversal::AllowImdsv1 { instance_id } => self
                .ec2
                .modify_instance_metadata_options()
                .instance_id(instance_id)
                .http_tokens(aws_sdk_ec2::types::HttpTokensState::Optional)
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::MODIFY_INSTANCE_METADATA_OPTIONS, e)),
            Reversal::RestoreImdsDefault { previous, .. } => {
                use aws_sdk_ec2::types::MetadataDefaultHttpTokensState as Tokens;
                let tokens = match previous.as_str() {
                    "" => Tokens::NoPreference,
                    "optional" => Tokens::Optional,
                    other => {
                        return Err(invalid(&format!(
                            "the report's default before ({other}) is not one trailguard \
                             replaces"
                        )))
                    }
                };
                self.ec2
                    .modify_instance_metadata_defaults()
                    .http_tokens(tokens)
                    .send()
                    .await
                    .map(|_| Change::Done)
                    .map_err(|e| classify(&ops::MODIFY_INSTANCE_METADATA_DEFAULTS, e))
            }
            Reversal::RestoreSnapshotBlockPublicAccess { previous, .. } => {
                if trailguard_rules::undo::snapshot_unblocked(previous) {
                    self.ec2
                        .disable_snapshot_block_public_access()
                        .send()
                        .await
                        .map(|_| Change::Done)
                        .map_err(|e| classify(&ops::DISABLE_SNAPSHOT_BPA, e))
                } else if previous == "block-new-sharing" {
                    self.ec2
                        .enable_snapshot_block_public_access()
                        .state(aws_sdk_ec2::types::SnapshotBlockPublicAccessState::BlockNewSharing)
                        .send()
                        .await
                        .map(|_| Change::Done)
                        .map_err(|e| classify(&ops::ENABLE_SNAPSHOT_BPA, e))
                } else {
                    Err(invalid(&format!(
                        "the report's snapshot block before ({previous}) is not one trailguard \
                         tightens"
                    )))
                }
            }
            Reversal::DisableImageBlockPublicAccess { .. } => self
                .ec2
                .disable_image_block_public_access()
                .send()
                .await
                .map(|_| Change::Done)
                .map_err(|e| classify(&ops::DISABLE_IMAGE_BPA, e)),
            Reversal::TagDbResource {
                resource_arn,
                key,
                value,
                ..
            } => {
                let tag = aws_sdk_rds::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build();
                match self
                    .rds
                    .add_tags_to_resource()
                    .resource_name(resource_arn)
                    .tags(tag)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Change::Done),
                    Err(e) if db_gone(code_of(&e)) => {
                        Err(invalid(&format!("{resource_arn} no longer exists")))
                    }
                    Err(e) => Err(classify(&ops::RDS_ADD_TAGS, e)),
                }
            }
            Reversal::TagRedshiftCluster {
                resource_arn,
                key,
                value,
                ..
            } => {
                let tag = aws_sdk_redshift::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build();
                match self
                    .redshift
                    .create_tags()
                    .resource_name(resource_arn)
                    .tags(tag)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Change::Done),
                    Err(e) if db_gone(code_of(&e)) => {
                        Err(invalid(&format!("{resource_arn} no longer exists")))
                    }
                    Err(e) => Err(classify(&ops::REDSHIFT_CREATE_TAGS, e)),
                }
            }
            Reversal::TagRole {
                role_name,
                key,
                value,
                ..
            } => {
                let tag = aws_sdk_iam::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .map_err(|e| crate::policies::tag_error(&ops::TAG_ROLE, e))?;
                match self
                    .iam
                    .tag_role()
                    .role_name(role_name)
                    .tags(tag)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Change::Done),
                    Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => {
                        Err(invalid(&format!("role {role_name} no longer exists")))
                    }
                    Err(e) => Err(classify(&ops::TAG_ROLE, e)),
                }
            }
            Reversal::TagResource {
                kind,
                resource,
                key,
                value,
            } => match self
                .policies
                .tag_resource(*kind, resource, key, value)
                .await?
            {
                Change::AlreadyDone(why) => Err(invalid(&why)),
                _ => Ok(Change::Done),
            },
        }
    }
}

/// Why a snapshot is not shared again: it is not the one trailguard unshared.
fn made_after(what: &str) -> String {
    format!(
        "{what} was made after the remediation: another snapshot under the same name, not \
         shared again"
    )
}

impl SdkUndo {
    /// When a role was made (epoch seconds; None: no such role).
    async fn role_made_at(&self, role_name: &str) -> PortResult<Option<i64>> {
        match self.iam.get_role().role_name(role_name).send().await {
            Ok(o) => Ok(o.role().map(|r| r.create_date().secs())),
            Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(classify(&ops::GET_ROLE, e)),
        }
    }

    /// When an RDS instance or cluster was made, by its ARN (None: no such database).
    async fn db_made_at(&self, arn: &str) -> PortResult<Option<i64>> {
        let secs = |t: Option<&aws_smithy_types::DateTime>| t.map_or(i64::MAX, |t| t.secs());
        if let Some((_, id)) = arn.split_once(":cluster:") {
            match self
                .rds
                .describe_db_clusters()
                .db_cluster_identifier(id)
                .send()
                .await
            {
                Ok(o) => Ok(o
                    .db_clusters()
                    .first()
                    .map(|c| secs(c.cluster_create_time()))),
                Err(e) if db_gone(code_of(&e)) => Ok(None),
                Err(e) => Err(classify(&ops::DESCRIBE_DB_CLUSTERS, e)),
            }
        } else {
            let id = arn.split_once(":db:").map_or(arn, |(_, id)| id);
            match self
                .rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
            {
                Ok(o) => Ok(o
                    .db_instances()
                    .first()
                    .map(|i| secs(i.instance_create_time()))),
                Err(e) if db_gone(code_of(&e)) => Ok(None),
                Err(e) => Err(classify(&ops::DESCRIBE_DB_INSTANCES, e)),
            }
        }
    }

    /// When a Redshift cluster was made, by its ARN (None: no such cluster).
    async fn redshift_made_at(&self, arn: &str) -> PortResult<Option<i64>> {
        let id = arn.split_once(":cluster:").map_or(arn, |(_, id)| id);
        match self
            .redshift
            .describe_clusters()
            .cluster_identifier(id)
            .send()
            .await
        {
            Ok(o) => Ok(o
                .clusters()
                .first()
                .map(|c| c.cluster_create_time().map_or(i64::MAX, |t| t.secs()))),
            Err(e) if db_gone(code_of(&e)) => Ok(None),
            Err(e) => Err(classify(&ops::REDSHIFT_DESCRIBE_CLUSTERS, e)),
        }
    }

    /// Whether the EBS snapshot was started after `done_at` (epoch seconds; 0: unknown,
    /// and then only a snapshot that says nothing of its time passes).
    async fn snapshot_made_after(&self, id: &str, done_at: i64) -> PortResult<bool> {
        let out = match self.ec2.describe_snapshots().snapshot_ids(id).send().await {
            Ok(o) => o,
            Err(e) if code_of(&e).is_some_and(|c| c.starts_with("InvalidSnapshot")) => {
                return Ok(false)
            }
            Err(e) => return Err(classify(&ops::DESCRIBE_SNAPSHOTS, e)),
        };
        let made = out
            .snapshots()
            .first()
            .and_then(|s| s.start_time())
            .map(|t| t.secs());
        Ok(made.is_some_and(|m| m > done_at))
    }

    /// Whether the RDS snapshot (or cluster snapshot) was made after `done_at`.
    async fn db_snapshot_made_after(
        &self,
        id: &str,
        cluster: bool,
        done_at: i64,
    ) -> PortResult<bool> {
        let made = if cluster {
            match self
                .rds
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(id)
                .send()
                .await
            {
                Ok(o) => o
                    .db_cluster_snapshots()
                    .first()
                    .and_then(|s| s.snapshot_create_time())
                    .map(|t| t.secs()),
                Err(e) if code_of(&e).is_some_and(|c| c.contains("NotFound")) => None,
                Err(e) => return Err(classify(&ops::DESCRIBE_DB_CLUSTER_SNAPSHOTS, e)),
            }
        } else {
            match self
                .rds
                .describe_db_snapshots()
                .db_snapshot_identifier(id)
                .send()
                .await
            {
                Ok(o) => o
                    .db_snapshots()
                    .first()
                    .and_then(|s| s.snapshot_create_time())
                    .map(|t| t.secs()),
                Err(e) if code_of(&e).is_some_and(|c| c.contains("NotFound")) => None,
                Err(e) => return Err(classify(&ops::DESCRIBE_DB_SNAPSHOTS, e)),
            }
        };
        Ok(made.is_some_and(|m| m > done_at))
    }
}

/// What a cluster's undo reads of one member.
struct Member {
    cluster: Option<String>,
    public: bool,
    status: Option<String>,
}

impl SdkUndo {
    async fn member(&self, id: &str) -> PortResult<Option<Member>> {
        match self
            .rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(o) => Ok(o.db_instances().first().map(|d| Member {
                cluster: d.db_cluster_identifier().map(String::from),
                public: d.publicly_accessible() == Some(true),
                status: d.db_instance_status().map(String::from),
            })),
            Err(e) if code_of(&e).as_deref() == Some("DBInstanceNotFound") => Ok(None),
            Err(e) => Err(classify(&ops::DESCRIBE_DB_INSTANCES, e)),
        }
    }
}

/// Why a tag is not put back on a resource made again under the name trailguard untagged.
fn made_again(what: &str) -> String {
    format!(
        "{what} was made after the remediation: another one under the same name, which is not \
         given the exemption"
    )
}

/// An RDS or Redshift error code that says the resource is not there.
fn db_gone(code: Option<String>) -> bool {
    code.is_some_and(|c| c.contains("NotFound"))
}

/// A tag's undo, from the value the resource carries now (None: no such tag).
fn tag_now(what: &str, key: &str, value: &str, now: Option<&str>) -> Now {
    match now {
        None => Now::AsLeft,
        Some(v) if v == value => Now::AlreadyUndone(format!("{what} carries {key}={value} again")),
        Some(v) => Now::Changed(format!(
            "{what} carries {key}={v} now (trailguard took off {key}={value})"
        )),
    }
}

/// Why a policy trailguard deleted (or replaced with AWS's default) is not put back: a
/// resource of the same name created since looks the same, and would get the old grants.
fn unidentified(what: &str, did: &str) -> String {
    format!(
        "trailguard {did} of {what}, and a new one of the same name would look the same: \
         not put back here; check it is the same resource, then run the report's undo.command"
    )
}

/// A database still changing (`modifying`, ...): trailguard's own change may not show yet,
/// so neither "as left" nor "already undone" can be told.
fn unsettled(status: Option<&str>) -> bool {
    status.is_some_and(|s| !s.eq_ignore_ascii_case("available"))
}

fn not_settled(what: &str, status: Option<&str>) -> Now {
    Now::Changed(format!(
        "{what} is {}: a change to it has not settled; run the undo again once it is available",
        status.unwrap_or("changing")
    ))
}

/// The resource went away between the check and the call.
fn gone(what: &str) -> PortError {
    invalid(&format!("{what} no longer exists"))
}

fn invalid(why: &str) -> PortError {
    PortError::Permanent {
        op: "undo",
        code: "Changed".into(),
        message: why.to_string(),
    }
}
