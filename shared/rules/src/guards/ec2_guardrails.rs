//! The account's EC2 defaults in a region switched off: EBS encryption by default
//! (`DisableEbsEncryptionByDefault`, Security Hub's EC2.7), the block on public sharing of EBS
//! snapshots (`DisableSnapshotBlockPublicAccess`, or `EnableSnapshotBlockPublicAccess` in a
//! state looser than the policy's) and of AMIs (`DisableImageBlockPublicAccess`). Each is put
//! back; the function reads the state first, and never loosens one stricter than asked.
//! IMDSv1 allowed on an instance or as the account's default is told, and with
//! `imds.enforce` IMDSv2 is required again.
//!
//! A function of its own: these calls change every volume, snapshot and image the account
//! makes in the region, so only this role holds them; and the EC2 client would push
//! restore-account-guardrails (S3 Control) near the size limit.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{
    Action, EnableEbsEncryptionByDefault, EnableImageBlockPublicAccess,
    EnableSnapshotBlockPublicAccess, Notice, RequireImdsv2, RequireImdsv2Default, Severity,
};
use crate::decision::{Decision, Verdict};
use crate::event::{Event, EventBody, SecurityHubDetail};
use crate::facts::{FactKind, Facts, Known};
use crate::guards::public_bucket::by;
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::str_any;
use crate::state::{Ec2DefaultsState, State, StateKind};
use crate::policy::{field, GuardSettings, Policy, PolicyError, SettingsSpec};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[
    &EnableEbsEncryptionByDefault::INFO,
    &EnableSnapshotBlockPublicAccess::INFO,
    &EnableImageBlockPublicAccess::INFO,
    &RequireImdsv2::INFO,
    &RequireImdsv2Default::INFO,
];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "ec2_guardrails",
    function: "restore-ec2-guardrails",
    summary: "Switches EBS encryption by default and the block on public snapshots and AMIs back on.",
    triggers: &[
        Trigger {
            rule: "Ec2GuardrailChange",
            pattern: r#"{
                "source": ["aws.ec2"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["ec2.amazonaws.com"],
                    "eventName": ["DisableEbsEncryptionByDefault",
                                  "DisableSnapshotBlockPublicAccess", "EnableSnapshotBlockPublicAccess",
                                  "DisableImageBlockPublicAccess",
                                  "ModifyInstanceMetadataOptions", "ModifyInstanceMetadataDefaults"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // Instances launched allowing IMDSv1 (session tokens optional).
        Trigger {
            rule: "Imdsv1Launch",
            pattern: r#"{
                "source": ["aws.ec2"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["ec2.amazonaws.com"],
                    "eventName": ["RunInstances"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "requestParameters": {"metadataOptions": {"httpTokens": ["optional"]}}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // Security Hub's EC2.7: EBS encryption by default is off in the account's region;
        // EC2.8: an instance allows IMDSv1.
        Trigger {
            rule: "Ec2GuardrailSecurityHubControl",
            pattern: r#"{
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {"findings": {
                    "ProductArn": [{"suffix": ":product/aws/securityhub"}],
                    "Compliance": {"Status": ["FAILED"]},
                    "RecordState": ["ACTIVE"],
                    "Resources": {"Type": ["AwsAccount", "AwsEc2Instance"]},
                    "$or": [
                        {"Compliance": {"SecurityControlId": ["EC2.7", "EC2.8"]}},
                        {"ProductFields": {"ControlId": ["EC2.7", "EC2.8"]}}
                    ]
                }}
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
    ],
    facts: &[FactKind::InstanceTags],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 20,
    sweeps: &[StateKind::Ec2Defaults],
    settings: Some(&SETTINGS),
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// The policy's `ec2` and `imds` sections.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub ec2: Ec2Settings,
    pub imds: ImdsSettings,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImdsSettings {
    /// Require IMDSv2 on an instance, or in the account's default, that a call left allowing
    /// IMDSv1 (otherwise told: forcing IMDSv2 on a running workload can break it).
    pub enforce: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ec2Settings {
    /// The block on public sharing of EBS snapshots put back: `block-all-sharing` (public
    /// snapshots stop being public too) or `block-new-sharing` (no new public sharing).
    pub snapshot_block_public_access: String,
}

impl Default for Ec2Settings {
    fn default() -> Self {
        Ec2Settings {
            snapshot_block_public_access: BLOCK_ALL.into(),
        }
    }
}

const BLOCK_ALL: &str = "block-all-sharing";
const BLOCK_NEW: &str = "block-new-sharing";

impl GuardSettings for Settings {
    fn validate(&mut self) -> Result<(), PolicyError> {
        let s = &self.ec2.snapshot_block_public_access;
        if s != BLOCK_ALL && s != BLOCK_NEW {
            return Err(field(
                "ec2.snapshot_block_public_access",
                format!("`{s}` is neither {BLOCK_ALL} nor {BLOCK_NEW}"),
            ));
        }
        Ok(())
    }
}

const SETTINGS: SettingsSpec = SettingsSpec::of::<Settings>();

/// This guard's settings in `policy`.
pub fn settings(policy: &Policy) -> Cow<'_, Settings> {
    policy.section()
}

/// How strict a snapshot block state is (`unblocked` 0, `block-new-sharing` 1,
/// `block-all-sharing` 2; anything else: unknown).
pub fn snapshot_strictness(state: &str) -> Option<u8> {
    match state.trim().to_ascii_lowercase().as_str() {
        "unblocked" => Some(0),
        BLOCK_NEW => Some(1),
        BLOCK_ALL => Some(2),
        _ => None,
    }
}

/// The Security Hub controls this guard puts back.
const CONTROLS: [&str; 2] = ["EC2.7", "EC2.8"];

pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    if let EventBody::SecurityHub(d) = &event.body {
        return security_hub(event, d, policy, facts);
    }
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    if let Some(d) = super::preamble(r, policy, facts) {
        return Verdict::Decided(d);
    }
    if r.event_source.get() != Some("ec2.amazonaws.com") {
        return Verdict::Decided(Decision::ignore(format!(
            "event source {} is not EC2",
            r.event_source.get().unwrap_or("?")
        )));
    }
    let Some(account) = event.account().filter(|a| crate::ids::is_account_id(a)) else {
        return Verdict::Decided(Decision::ignore("the event names no account"));
    };
    let region = event.region().unwrap_or("?");
    let account_id = account.to_string();
    let (action, severity, title, what): (Action, _, _, _) =
        match r.event_name.get().unwrap_or_default() {
            "DisableEbsEncryptionByDefault" => (
                EnableEbsEncryptionByDefault { account_id }.into(),
                Severity::High,
                format!("EBS encryption by default switched off in {region}"),
                "new EBS volumes and snapshot copies are created unencrypted".to_string(),
            ),
            "DisableImageBlockPublicAccess" => (
                EnableImageBlockPublicAccess { account_id }.into(),
                Severity::High,
                format!("Public sharing of AMIs unblocked in {region}"),
                "any AMI of the account can be made public again".to_string(),
            ),
            name @ ("DisableSnapshotBlockPublicAccess" | "EnableSnapshotBlockPublicAccess") => {
                let wanted = settings(policy).ec2.snapshot_block_public_access.clone();
                let set = if name.starts_with("Disable") {
                    "unblocked".to_string()
                } else {
                    match requested_state(&r.request_parameters) {
                        Some(s) => s,
                        None => {
                            return Verdict::Decided(Decision::ignore(
                                "EnableSnapshotBlockPublicAccess names no state",
                            ))
                        }
                    }
                };
                // An unknown state is taken as the loosest: the function reads the state
                // before it writes, and never loosens one.
                if snapshot_strictness(&set).unwrap_or(0) >= snapshot_strictness(&wanted).unwrap_or(2) {
                    return Verdict::Decided(Decision::ignore(format!(
                        "the snapshot block is {set}: as strict as the policy's {wanted}"
                    )));
                }
                (
                    EnableSnapshotBlockPublicAccess {
                        account_id,
                        state: wanted.clone(),
                        previous: None,
                    }
                    .into(),
                    Severity::High,
                    format!("Public sharing of EBS snapshots loosened to {set} in {region}"),
                    format!("snapshots can be made public again; the policy wants {wanted}"),
                )
            }
            name @ ("ModifyInstanceMetadataOptions" | "ModifyInstanceMetadataDefaults" | "RunInstances") => {
                return imds(event, r, name, account, policy, facts)
            }
            other => {
                return Verdict::Decided(Decision::ignore(format!(
                    "{other} is not a change to an EC2 guardrail trailguard watches"
                )))
            }
        };
    Verdict::Decided(Decision::remediate(
        title.clone(),
        vec![action],
        Notice {
            severity,
            title: format!("Account {account}: {title}"),
            details: vec![what, by(r)],
        },
    ))
}

/// IMDSv1 allowed: on instances (`ModifyInstanceMetadataOptions`, `RunInstances`) or as the
/// account's default (`ModifyInstanceMetadataDefaults`). Told; with `imds.enforce`, IMDSv2
/// required again.
fn imds(
    event: &Event,
    r: &crate::event::CloudTrailRecord,
    name: &str,
    account: &str,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let rp = &r.request_parameters;
    let region = event.region().unwrap_or("?");
    let tokens = if name == "RunInstances" {
        rp.get("metadataOptions").and_then(|m| str_any(m, &["httpTokens", "HttpTokens"]))
    } else {
        nested(rp, &["HttpTokens", "httpTokens"])
    };
    // As the account's default, `no-preference` lets each AMI decide, IMDSv1 included.
    let allows_v1 = |t: &str| {
        t.eq_ignore_ascii_case("optional")
            || (name == "ModifyInstanceMetadataDefaults" && t.eq_ignore_ascii_case("no-preference"))
    };
    if !tokens.as_deref().is_some_and(allows_v1) {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} does not allow IMDSv1 (HttpTokens {})",
            tokens.as_deref().unwrap_or("not set")
        )));
    }
    let mut exempt: Vec<String> = vec![];
    let (target, actions): (String, Vec<Action>) = if name == "ModifyInstanceMetadataDefaults" {
        (
            format!("the account's default for new instances in {region}"),
            vec![RequireImdsv2Default {
                account_id: account.to_string(),
                previous: None,
            }
            .into()],
        )
    } else {
        let ids: Vec<String> = if name == "RunInstances" {
            crate::lenient::items(&r.response_elements["instancesSet"]["items"])
                .into_iter()
                .filter_map(|i| str_any(i, &["instanceId"]))
                .collect()
        } else {
            nested(rp, &["InstanceId", "instanceId"]).into_iter().collect()
        };
        if ids.is_empty() {
            return Verdict::Decided(Decision::ignore(format!("{name} names no instance")));
        }
        if settings(policy).imds.enforce {
            exempt = match exempt_instances(&ids, policy, facts) {
                Ok(e) => e,
                Err(v) => return *v,
            };
        }
        (
            format!("instance {}", ids.join(", ")),
            ids.into_iter()
                .filter(|i| !exempt.contains(i))
                .map(|i| RequireImdsv2 { instance_id: i }.into())
                .collect(),
        )
    };
    let mut details = vec![
        format!("{name}: {target} answers IMDSv1 (no session token): an SSRF in a workload can read its role's credentials"),
        by(r),
    ];
    if !exempt.is_empty() {
        details.push(format!(
            "left as it is (tag {}): instance {}",
            policy.exempt_tag,
            exempt.join(", ")
        ));
    }
    let title = format!("Account {account}: IMDSv1 allowed on {target}");
    if !settings(policy).imds.enforce || actions.is_empty() {
        if !settings(policy).imds.enforce {
            details.push("not changed: imds.enforce is off (requiring IMDSv2 can break a workload that still uses IMDSv1)".into());
        }
        return Verdict::Decided(Decision::notify(
            format!("IMDSv1 allowed on {target}"),
            Notice {
                severity: Severity::Medium,
                title,
                details,
            },
        ));
    }
    Verdict::Decided(Decision::remediate(
        format!("IMDSv1 allowed on {target}; imds.enforce requires IMDSv2"),
        actions,
        Notice {
            severity: Severity::Medium,
            title,
            details,
        },
    ))
}

/// The instances among `ids` tagged with the exemption tag (their tags looked up: a call
/// that changes an instance's metadata options does not carry them). An instance that no
/// longer exists is not exempt: the function finds it gone.
fn exempt_instances(ids: &[String], policy: &Policy, facts: &Facts) -> Result<Vec<String>, Box<Verdict>> {
    if policy.exempt_tag.is_empty() {
        return Ok(vec![]);
    }
    let mut need = vec![];
    let mut exempt = vec![];
    for id in ids {
        match facts.instance_tags(id) {
            Known::Need(req) => need.push(req),
            Known::Yes(Some(tags)) if crate::state::tag_is_true(&tags, &policy.exempt_tag) => {
                exempt.push(id.clone())
            }
            Known::Yes(_) => {}
        }
    }
    if !need.is_empty() {
        return Err(Box::new(Verdict::NeedFacts(need)));
    }
    Ok(exempt)
}

/// A value at the top of a request or one level down (EC2 records most requests as
/// `{"<Operation>Request": {...}}`).
fn nested(rp: &Value, keys: &[&str]) -> Option<String> {
    str_any(rp, keys).or_else(|| rp.as_object()?.values().find_map(|inner| str_any(inner, keys)))
}

/// The state an `EnableSnapshotBlockPublicAccess` asks for (EC2 records the request as
/// `{"EnableSnapshotBlockPublicAccessRequest": {"State": ...}}`, or flat).
fn requested_state(rp: &Value) -> Option<String> {
    nested(rp, &["State", "state"])
}

fn swept(state: &State, _account: Option<&str>, policy: &Policy, _facts: &Facts) -> Verdict {
    match state {
        State::Ec2Defaults(d) => defaults(d, policy),
        other => super::not_swept(GUARD.name, other),
    }
}

/// The account's EC2 defaults in a region as they are (the sweep): each guardrail off is put
/// back, in one decision. A state the listing could not read is left alone.
fn defaults(d: &Ec2DefaultsState, policy: &Policy) -> Verdict {
    let (account, region) = (&d.account, &d.region);
    if !crate::ids::is_account_id(account) {
        return Verdict::Decided(Decision::ignore("the sweep names no account"));
    }
    let account_id = account.clone();
    let mut actions: Vec<Action> = vec![];
    let mut details = vec![];
    if d.ebs_encryption_by_default == Some(false) {
        actions.push(EnableEbsEncryptionByDefault { account_id: account_id.clone() }.into());
        details.push("EBS encryption by default is off: new volumes are created unencrypted".to_string());
    }
    let wanted = settings(policy).ec2.snapshot_block_public_access.clone();
    if let Some(now) = &d.snapshot_block_public_access {
        if snapshot_strictness(now).unwrap_or(0) < snapshot_strictness(&wanted).unwrap_or(2) {
            actions.push(
                EnableSnapshotBlockPublicAccess {
                    account_id: account_id.clone(),
                    state: wanted.clone(),
                    previous: None,
                }
                .into(),
            );
            details.push(format!("public sharing of EBS snapshots is {now}; the policy wants {wanted}"));
        }
    }
    if d.image_block_public_access.as_deref().is_some_and(|s| s != BLOCK_NEW) {
        actions.push(EnableImageBlockPublicAccess { account_id }.into());
        details.push(format!(
            "public sharing of AMIs is {}",
            d.image_block_public_access.as_deref().unwrap_or("?")
        ));
    }
    if actions.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "the EC2 defaults of account {account} in {region} are on"
        )));
    }
    details.push(crate::state::WHY.to_string());
    Verdict::Decided(Decision::remediate(
        format!("EC2 guardrails off in {region}"),
        actions,
        Notice {
            severity: Severity::High,
            title: format!("Account {account}: EC2 guardrails off in {region}"),
            details,
        },
    ))
}

fn security_hub(event: &Event, d: &SecurityHubDetail, policy: &Policy, facts: &Facts) -> Verdict {
    let (f, control, why) = match super::failed_control(d, &CONTROLS, "an EC2 guardrail control") {
        Ok(found) => found,
        Err(v) => return *v,
    };
    if control == "EC2.8" {
        return instance_finding(event, f, &control, why, policy, facts);
    }
    let account = match super::finding_account(event, f, &control) {
        Ok(a) => a,
        Err(v) => return *v,
    };
    let region = event.region().unwrap_or("?");
    Verdict::Decided(Decision::remediate(
        format!("{control}: EBS encryption by default is off in {region}"),
        vec![EnableEbsEncryptionByDefault {
            account_id: account.to_string(),
        }
        .into()],
        Notice {
            severity: Severity::Medium,
            title: format!("Account {account}: EBS encryption by default off in {region}"),
            details: vec![why],
        },
    ))
}

/// EC2.8: an instance allows IMDSv1. Told, or with `imds.enforce` IMDSv2 required, as for a
/// call that allowed it.
fn instance_finding(
    event: &Event,
    f: &crate::event::AsffFinding,
    control: &str,
    why: String,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let Some(account) = event.account().filter(|a| crate::ids::is_account_id(a)) else {
        return Verdict::Decided(Decision::ignore(format!("{control} finding names no account")));
    };
    let region = event.region().unwrap_or("?");
    // The instance's ARN, in the finding's own account and region.
    let instance = f
        .resources
        .iter()
        .filter(|r| r.resource_type.get() == Some("AwsEc2Instance"))
        .filter_map(|r| r.id.get())
        .find_map(|id| {
            let parts: Vec<&str> = id.splitn(6, ':').collect();
            let ok = parts.len() == 6 && parts[2] == "ec2" && parts[3] == region && parts[4] == account;
            let i = parts.get(5)?.strip_prefix("instance/")?;
            (ok && i.starts_with("i-") && crate::ids::IdKind::Ec2Resource.is_valid(i)).then(|| i.to_string())
        });
    let Some(instance) = instance else {
        return Verdict::Decided(Decision::ignore(format!(
            "{control} finding names no instance of account {account} in {region}"
        )));
    };
    let title = format!("Account {account}: IMDSv1 allowed on instance {instance}");
    let mut details = vec![
        format!("instance {instance} answers IMDSv1 (no session token): an SSRF in a workload can read its role's credentials"),
        why,
    ];
    let exempt = if settings(policy).imds.enforce {
        match exempt_instances(std::slice::from_ref(&instance), policy, facts) {
            Ok(e) => !e.is_empty(),
            Err(v) => return *v,
        }
    } else {
        false
    };
    if exempt {
        details.push(format!("not changed: the instance is exempt (tag {})", policy.exempt_tag));
    }
    if !settings(policy).imds.enforce || exempt {
        if !exempt {
            details.push("not changed: imds.enforce is off (requiring IMDSv2 can break a workload that still uses IMDSv1)".into());
        }
        return Verdict::Decided(Decision::notify(
            format!("{control}: IMDSv1 allowed on instance {instance}"),
            Notice {
                severity: Severity::Medium,
                title,
                details,
            },
        ));
    }
    Verdict::Decided(Decision::remediate(
        format!("{control}: IMDSv1 allowed on instance {instance}; imds.enforce requires IMDSv2"),
        vec![RequireImdsv2 { instance_id: instance }.into()],
        Notice {
            severity: Severity::Medium,
            title,
            details,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Kind;

    fn decided(sample: &str, policy: &str) -> Decision {
        let event = Event::from_value(serde_json::from_str(sample).unwrap()).unwrap();
        let policy = Policy::from_json(policy).unwrap();
        match decide(&event, &policy, &Facts::offline()) {
            Verdict::Decided(d) => d,
            Verdict::NeedFacts(f) => panic!("asked for {f:?}"),
        }
    }

    #[test]
    fn imdsv1_is_told_unless_the_policy_enforces_imdsv2() {
        let launch = include_str!("../../../../events/aws.ec2-RunInstances-imdsv1.json");
        let told = decided(launch, "{}");
        assert_eq!((told.kind, told.actions.len()), (Kind::Notify, 0), "{told:?}");
        let enforced = decided(launch, r#"{"imds": {"enforce": true}}"#);
        assert_eq!(
            (enforced.kind, enforced.actions.len()),
            (Kind::Remediate, 2),
            "{enforced:?}"
        );
    }
}
