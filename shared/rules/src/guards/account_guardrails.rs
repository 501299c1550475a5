//! Account-wide guardrails switched off: the account's S3 public access block
//! (S3 Control's `PutPublicAccessBlock` / `DeletePublicAccessBlock`, which CloudTrail names
//! `PutAccountPublicAccessBlock` / `DeleteAccountPublicAccessBlock`). The switches the
//! policy enforces (`s3.public_access_block`, guards/public_bucket.rs's setting: one set for
//! buckets and for the account) are put back on, over those still on; none is ever switched
//! off. Security Hub's S3.1 finding and the sweep are decided by the same code.
//!
//! A function of its own, not revert-public-bucket's: the account's block is S3 Control's,
//! a client of its own, and `s3:PutAccountPublicAccessBlock` changes every bucket of the
//! account, so only this role holds it.
//!
//! GuardDuty suspended (`UpdateDetector` with `enable: false`) is switched back on here too:
//! the detector is the account's, like the block, and its deletion stays guard-detection's to
//! tell (a deleted detector's settings are gone).

use std::sync::OnceLock;

use crate::action::{EnableDetector, Notice, PutAccountPublicAccessBlock, Severity};
use crate::decision::{Decision, Verdict};
use crate::event::{CloudTrailRecord, Event, EventBody, SecurityHubDetail};
use crate::facts::{FactKind, Facts, Known};
use crate::guards::public_bucket::{by, enforced, requested_flags, weakened};
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::str_any;
use crate::policy::Policy;
use crate::state::{AccountBlockState, BlockFlags, DetectorsState, State, StateKind};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[&PutAccountPublicAccessBlock::INFO, &EnableDetector::INFO];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "account_guardrails",
    function: "restore-account-guardrails",
    summary: "Puts the account's S3 public access block back on when it is switched off or deleted, and a suspended GuardDuty detector back on.",
    triggers: &[
        Trigger {
            rule: "AccountBlockChange",
            pattern: r#"{
                "source": ["aws.s3"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["s3.amazonaws.com"],
                    "eventName": ["PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // GuardDuty suspended: the detector stays, producing no findings.
        Trigger {
            rule: "DetectorSuspended",
            pattern: r#"{
                "source": ["aws.guardduty"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["guardduty.amazonaws.com"],
                    "eventName": ["UpdateDetector"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "requestParameters": {"enable": [false, "false"]}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // Security Hub's S3.1: the account's block is not fully on. It names the account
        // only, and the function reads the block before it writes. GuardDuty.1: GuardDuty
        // is not enabled in the region (the detectors are looked up).
        Trigger {
            rule: "AccountBlockSecurityHubControl",
            pattern: r#"{
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {"findings": {
                    "ProductArn": [{"suffix": ":product/aws/securityhub"}],
                    "Compliance": {"Status": ["FAILED"]},
                    "RecordState": ["ACTIVE"],
                    "Resources": {"Type": ["AwsAccount"]},
                    "$or": [
                        {"Compliance": {"SecurityControlId": ["S3.1", "GuardDuty.1"]}},
                        {"ProductFields": {"ControlId": ["S3.1", "GuardDuty.1"]}}
                    ]
                }}
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
    ],
    facts: &[FactKind::Detectors],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 20,
    sweeps: &[StateKind::AccountPublicAccessBlock, StateKind::GuardDutyDetectors],
    settings: None,
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// The Security Hub controls about account-wide guardrails this guard puts back.
const CONTROLS: [&str; 2] = ["S3.1", "GuardDuty.1"];

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
    if r.event_source.get() == Some("guardduty.amazonaws.com") {
        return detector(r);
    }
    if r.event_source.get() != Some("s3.amazonaws.com") {
        return Verdict::Decided(Decision::ignore(format!(
            "event source {} is not S3",
            r.event_source.get().unwrap_or("?")
        )));
    }
    let rp = &r.request_parameters;
    // A bucket's block is revert-public-bucket's: a call naming a bucket is not the account's.
    if let Some(bucket) = str_any(rp, &["bucketName", "BucketName"]) {
        return Verdict::Decided(Decision::ignore(format!(
            "the call names bucket {bucket}: a bucket's block is the public_bucket guard's"
        )));
    }
    match r.event_name.get().unwrap_or_default() {
        "PutAccountPublicAccessBlock" | "PutPublicAccessBlock" => {
            account_block(event, r, Some(requested_flags(rp)), policy)
        }
        "DeleteAccountPublicAccessBlock" | "DeletePublicAccessBlock" => {
            account_block(event, r, None, policy)
        }
        other => Verdict::Decided(Decision::ignore(format!(
            "{other} is not a change to an account-wide guardrail trailguard watches"
        ))),
    }
}

/// `UpdateDetector` suspending GuardDuty: the detector switched back on (its settings, features
/// and publishing frequency untouched).
fn detector(r: &CloudTrailRecord) -> Verdict {
    let rp = &r.request_parameters;
    let name = r.event_name.get().unwrap_or_default();
    let suspends = rp
        .get("enable")
        .or_else(|| rp.get("Enable"))
        .and_then(crate::lenient::boolean)
        == Some(false);
    if name != "UpdateDetector" || !suspends {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} leaves GuardDuty enabled"
        )));
    }
    let Some(id) = str_any(rp, &["detectorId", "DetectorId"]) else {
        return Verdict::Decided(Decision::ignore("UpdateDetector names no detector"));
    };
    let region = r.aws_region.get().unwrap_or("?");
    Verdict::Decided(Decision::remediate(
        format!("GuardDuty detector {id} was suspended in {region}"),
        vec![EnableDetector {
            detector_id: id.clone(),
        }
        .into()],
        Notice {
            severity: Severity::Critical,
            title: format!("GuardDuty suspended in {region}"),
            details: vec![
                format!("detector {id} stopped producing findings"),
                by(r),
            ],
        },
    ))
}

/// The account whose block the call changed: the record's own account (S3 Control's
/// `accountId` parameter must name it, or S3 refuses the call).
fn account_of<'a>(event: &'a Event, r: &CloudTrailRecord) -> Result<&'a str, Box<Verdict>> {
    let Some(account) = event.account().filter(|a| crate::ids::is_account_id(a)) else {
        return Err(Box::new(Verdict::Decided(Decision::ignore(
            "the event names no account",
        ))));
    };
    match str_any(&r.request_parameters, &["accountId", "AccountId", "x-amz-account-id"]) {
        Some(named) if named != account => Err(Box::new(Verdict::Decided(Decision::ignore(format!(
            "the call names account {named}, not the record's account {account}: S3 Control refuses that, so nothing changed"
        ))))),
        _ => Ok(account),
    }
}

fn account_block(
    event: &Event,
    r: &CloudTrailRecord,
    requested: Option<BlockFlags>,
    policy: &Policy,
) -> Verdict {
    let account = match account_of(event, r) {
        Ok(a) => a,
        Err(v) => return *v,
    };
    let (wanted, what) = match weakened(requested, policy, &format!("account {account}")) {
        Ok(w) => w,
        Err(v) => return *v,
    };
    let action = PutAccountPublicAccessBlock {
        account_id: account.to_string(),
        flags: wanted.names(),
        previous: None,
    };
    Verdict::Decided(Decision::remediate(
        format!("the S3 public access block of account {account} was weakened"),
        vec![action.into()],
        Notice {
            severity: Severity::Critical,
            title: format!("Account {account}: S3 public access block weakened"),
            details: vec![what, by(r)],
        },
    ))
}

/// The account's block as it is now (the sweep, S3.1).
fn decide_account(a: &AccountBlockState, policy: &Policy, why: &str) -> Verdict {
    let account = &a.account;
    let wanted = enforced(policy);
    let off = a.block.unwrap_or_default().lacking(wanted);
    if off.is_empty() || !crate::ids::is_account_id(account) {
        return Verdict::Decided(Decision::ignore(format!(
            "the S3 public access block of account {account} has every enforced switch on"
        )));
    }
    Verdict::Decided(Decision::remediate(
        format!("the S3 public access block of account {account} is off"),
        vec![PutAccountPublicAccessBlock {
            account_id: account.clone(),
            flags: wanted.names(),
            previous: None,
        }
        .into()],
        Notice {
            severity: Severity::Critical,
            title: format!("Account {account}: S3 public access block off"),
            details: vec![
                match a.block {
                    Some(_) => format!("switches off: {}", off.join(", ")),
                    None => "the account has no S3 public access block".to_string(),
                },
                why.to_string(),
            ],
        },
    ))
}

fn swept(state: &State, _account: Option<&str>, policy: &Policy, _facts: &Facts) -> Verdict {
    match state {
        State::AccountBlock(a) => decide_account(a, policy, crate::state::WHY),
        State::Detectors(d) => detectors(d, crate::state::WHY, false),
        other => super::not_swept(GUARD.name, other),
    }
}

/// The region's GuardDuty detectors as they are (the sweep, GuardDuty.1): each suspended one
/// switched back on. A region with none is told only when Security Hub asked
/// (`tell_absent`): creating a detector starts billing and has settings no default fits.
fn detectors(d: &DetectorsState, why: &str, tell_absent: bool) -> Verdict {
    let region = if d.region.is_empty() { "?" } else { d.region.as_str() };
    let suspended: Vec<&String> = d
        .detectors
        .iter()
        .filter(|(id, status)| {
            status.eq_ignore_ascii_case("DISABLED")
                && crate::ids::IdKind::GuardDutyDetector.is_valid(id)
        })
        .map(|(id, _)| id)
        .collect();
    if d.detectors.is_empty() {
        if !tell_absent {
            return Verdict::Decided(Decision::ignore(format!(
                "GuardDuty has no detector in {region}: nothing suspended to switch back on"
            )));
        }
        return Verdict::Decided(Decision::notify(
            format!("GuardDuty is not enabled in {region}"),
            Notice {
                severity: Severity::High,
                title: format!("GuardDuty not enabled in {region}"),
                details: vec![
                    "no detector: trailguard does not create one (it starts billing, and its features and exports are yours to choose): `aws guardduty create-detector --enable` does".into(),
                    why.to_string(),
                ],
            },
        ));
    }
    if suspended.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "GuardDuty's detector in {region} is enabled"
        )));
    }
    Verdict::Decided(Decision::remediate(
        format!("GuardDuty is suspended in {region}"),
        suspended
            .iter()
            .map(|id| {
                EnableDetector {
                    detector_id: (*id).clone(),
                }
                .into()
            })
            .collect(),
        Notice {
            severity: Severity::Critical,
            title: format!("GuardDuty suspended in {region}"),
            details: vec![
                format!(
                    "detector {} produces no findings",
                    suspended.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
                why.to_string(),
            ],
        },
    ))
}

fn security_hub(event: &Event, d: &SecurityHubDetail, policy: &Policy, facts: &Facts) -> Verdict {
    let (f, control, why) = match super::failed_control(d, &CONTROLS, "an account guardrail control") {
        Ok(found) => found,
        Err(v) => return *v,
    };
    let account = match super::finding_account(event, f, &control) {
        Ok(a) => a,
        Err(v) => return *v,
    };
    if control == "GuardDuty.1" {
        return match facts.detectors() {
            Known::Need(req) => Verdict::NeedFacts(vec![req]),
            Known::Yes(mut d) => {
                if d.region.is_empty() {
                    d.region = event.region().unwrap_or("?").to_string();
                }
                detectors(&d, &why, true)
            }
        };
    }
    // The finding does not say which switches are off: every enforced one is put back, over
    // those on (the function reads the block first).
    decide_account(
        &AccountBlockState {
            account: account.to_string(),
            block: None,
        },
        policy,
        &why,
    )
}
