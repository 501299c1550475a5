//! A KMS key's life: a deletion scheduled, rotation switched off, the key disabled.
//!
//! - `ScheduleKeyDeletion` by anyone outside `kms_admins` (multi-Region primaries and
//!   replicas alike) → the deletion is cancelled (`cancel_key_deletion`). KMS leaves a
//!   cancelled key disabled; the key is enabled again only when its CloudTrail history up to
//!   the scheduling shows it enabled then ([`enabled_before`]): a key in use shows successful
//!   calls, an idle one stays disabled and people are told how to enable it.
//! - `DisableKeyRotation` → rotation back on (`enable_key_rotation`), with the period of the
//!   key's last `EnableKeyRotation` in its history ([`rotation_period_before`]).
//! - `DisableKey` → told: disabling a key may be someone's deliberate containment, and
//!   enabling it again has no safe default.
//!
//! A key tagged with the exemption tag is told, never touched (an exemption given by anyone
//! but a tag admin is taken back by revert-resource-policy's `untag_key`). AWS managed keys
//! are AWS's. A key is named by its ARN, in the event's own account and region: a call
//! naming a key elsewhere is not this account's key.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{CancelKeyDeletion, EnableKeyRotation, Notice, Severity};
use crate::decision::{Decision, Verdict};
use crate::event::{CloudTrailRecord, Event, EventBody, SecurityHubDetail};
use crate::facts::{FactKind, Facts, Known};
use crate::guards::public_bucket::by;
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::ids::{is_account_id, is_kms_key_id, IdKind};
use crate::lenient::str_any;
use crate::policy::{each, too_broad, GuardSettings, Policy, PolicyError, SettingsSpec};
use crate::state::{tag_is_true, EncryptionKeyState, KeyDeletion, State, StateKind};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[&CancelKeyDeletion::INFO, &EnableKeyRotation::INFO];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "encryption_keys",
    function: "protect-encryption-keys",
    summary: "Cancels a KMS key's scheduled deletion and switches its rotation back on; tells when a key is disabled.",
    triggers: &[
        Trigger {
        rule: "KeyLifeChange",
        pattern: r#"{
            "source": ["aws.kms"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["kms.amazonaws.com"],
                "eventName": ["ScheduleKeyDeletion", "DisableKeyRotation", "DisableKey"],
                "eventType": ["AwsApiCall"],
                "errorCode": [{"exists": false}]
            }
        }"#,
        delivery: Delivery::Changes,
        bus: Bus::Main,
        excludes_own_role: true,
        condition: None,
        },
        // Security Hub's KMS.3 (a key pending deletion) and KMS.4 (rotation off): the same
        // decision as the sweep's, on the key as it is now.
        Trigger {
            rule: "KeyLifeSecurityHubControl",
            pattern: r#"{
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {"findings": {
                    "ProductArn": [{"suffix": ":product/aws/securityhub"}],
                    "Compliance": {"Status": ["FAILED"]},
                    "RecordState": ["ACTIVE"],
                    "Resources": {"Type": ["AwsKmsKey"]},
                    "$or": [
                        {"Compliance": {"SecurityControlId": ["KMS.3", "KMS.4"]}},
                        {"ProductFields": {"ControlId": ["KMS.3", "KMS.4"]}}
                    ]
                }}
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
    ],
    facts: &[FactKind::EncryptionKey, FactKind::KeyDeletion],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 20,
    sweeps: &[StateKind::EncryptionKeys],
    settings: Some(&SETTINGS),
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// The policy keys this guard reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The principals (ARN globs, as `iam_admins`) whose changes to a key's life are theirs
    /// to make: not reverted.
    pub kms_admins: Vec<String>,
}

impl GuardSettings for Settings {
    fn validate(&mut self) -> Result<(), PolicyError> {
        each("kms_admins", &self.kms_admins, |p| too_broad(p))
    }
}

const SETTINGS: SettingsSpec = SettingsSpec::of::<Settings>();

/// This guard's settings in `policy`.
pub fn settings(policy: &Policy) -> Cow<'_, Settings> {
    policy.section()
}

/// How far back CloudTrail's event history goes: the key's state before a change is read
/// within it.
pub const HISTORY_SECONDS: i64 = 90 * 86_400;

/// The Security Hub controls this guard takes.
const CONTROLS: [&str; 2] = ["KMS.3", "KMS.4"];

/// How far back a pending deletion's scheduling is looked for: KMS's longest waiting
/// period (30 days) and a day's margin.
pub const DELETION_LOOKBACK_SECONDS: i64 = 31 * 86_400;

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
    if r.event_source.get() != Some("kms.amazonaws.com") {
        return Verdict::Decided(Decision::ignore(format!(
            "event source {} is not KMS",
            r.event_source.get().unwrap_or("?")
        )));
    }
    let name = r.event_name.get().unwrap_or_default();
    let change = match name {
        "ScheduleKeyDeletion" => Change::Deletion,
        "DisableKeyRotation" => Change::Rotation,
        "DisableKey" => Change::Disabled,
        "CancelKeyDeletion" | "EnableKeyRotation" | "EnableKey" => {
            return Verdict::Decided(Decision::ignore(format!(
                "{name} hardens the key: nothing to put back"
            )))
        }
        other => {
            return Verdict::Decided(Decision::ignore(format!(
                "{other} is not a change to a KMS key's life trailguard watches"
            )))
        }
    };
    let key = match key_arn(event, r) {
        Ok(k) => k,
        Err(why) => return Verdict::Decided(Decision::ignore(why)),
    };
    if let Some(p) = kms_admin(policy, &r.user_identity.arns(), &key) {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} on KMS key {key} by {}, a KMS administrator by policy pattern `{p}`",
            r.user_identity.display()
        )));
    }
    let now = match facts.encryption_key(&key) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(k) => k,
    };
    Verdict::Decided(decide_change(change, &key, now.as_ref(), r, policy, facts))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Deletion,
    Rotation,
    Disabled,
}

fn decide_change(
    change: Change,
    key: &str,
    now: Option<&EncryptionKeyState>,
    r: &CloudTrailRecord,
    policy: &Policy,
    facts: &Facts,
) -> Decision {
    let rp = &r.request_parameters;
    let when = r.event_time.get().and_then(crate::time::normalize);
    let who = by(r);
    match now {
        None if !facts.offline => {
            return Decision::ignore(format!(
                "KMS key {key} does not exist (any more): nothing to put back"
            ))
        }
        Some(k) if k.manager == "AWS" => {
            return Decision::ignore(format!(
                "KMS key {key} is an AWS managed key: its life is AWS's"
            ))
        }
        Some(k) if tag_is_true(&k.tags, &policy.exempt_tag) => {
            // Told at the deletion's severity: an exemption given moments before by someone
            // else is taken back by revert-resource-policy, but not before this decision.
            return Decision::notify(
                format!("KMS key {key} is exempt (tag {})", policy.exempt_tag),
                Notice {
                    severity: if change == Change::Deletion { Severity::Critical } else { Severity::High },
                    title: format!("KMS key {key}: {} (exempt, not reverted)", change.what()),
                    details: vec![
                        change.what().to_string(),
                        who,
                        format!("if the exemption is not yours: {}", change.revert(key)),
                    ],
                },
            )
        }
        _ => {}
    }
    match change {
        Change::Deletion => {
            let days = rp
                .get("pendingWindowInDays")
                .and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()));
            let ends = r
                .response_elements
                .get("deletionDate")
                .and_then(|v| match v {
                    Value::String(s) => crate::time::normalize(s),
                    Value::Number(n) => crate::time::normalize(&n.to_string()),
                    _ => None,
                })
                .or_else(|| now.and_then(|k| k.deletion_date.clone()));
            Decision::remediate(
                format!("KMS key {key} was scheduled for deletion"),
                vec![CancelKeyDeletion {
                    key_id: key.to_string(),
                    scheduled_at: when,
                    pending_window_days: days,
                }
                .into()],
                Notice {
                    severity: Severity::Critical,
                    title: format!("KMS key {key} scheduled for deletion"),
                    details: vec![
                        format!(
                            "every volume, bucket, secret and snapshot encrypted under it is lost when the deletion happens{}",
                            ends.map(|e| format!(" ({e})")).unwrap_or_default()
                        ),
                        who,
                    ],
                },
            )
        }
        Change::Rotation => Decision::remediate(
            format!("automatic rotation of KMS key {key} was switched off"),
            vec![EnableKeyRotation {
                key_id: key.to_string(),
                disabled_at: when,
            }
            .into()],
            Notice {
                severity: Severity::Medium,
                title: format!("KMS key {key}: automatic rotation switched off"),
                details: vec![who],
            },
        ),
        Change::Disabled => Decision::notify(
            format!("KMS key {key} was disabled"),
            Notice {
                severity: Severity::High,
                title: format!("KMS key {key} disabled"),
                details: vec![
                    "nothing encrypted under it can be read until it is enabled again; trailguard does not enable it (disabling may be deliberate containment): `aws kms enable-key --key-id KEY` does".to_string(),
                    who,
                ],
            },
        ),
    }
}

impl Change {
    /// The command that reverts the change by hand.
    fn revert(self, key: &str) -> String {
        let k = crate::shell::quote(key);
        match self {
            Change::Deletion => format!("`aws kms cancel-key-deletion --key-id {k}` (and `aws kms enable-key --key-id {k}` if it was enabled)"),
            Change::Rotation => format!("`aws kms enable-key-rotation --key-id {k}`"),
            Change::Disabled => format!("`aws kms enable-key --key-id {k}`"),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Change::Deletion => "deletion scheduled",
            Change::Rotation => "automatic rotation switched off",
            Change::Disabled => "disabled",
        }
    }
}

/// The `kms_admins` pattern a principal matches, if one does. A pattern that leaves the
/// account open (`arn:aws:iam::*:role/KeyAdministrator`) covers the key's own account only:
/// anyone can create a role of that name in an account of their own, and a key policy may
/// let another account's principals schedule a deletion. An administrator in another
/// account is named with its account id.
fn kms_admin(policy: &Policy, arns: &[&str], key: &str) -> Option<String> {
    let key_account = key.split(':').nth(4).unwrap_or_default();
    settings(policy)
        .kms_admins
        .iter()
        .find(|p| {
            let open = p.split(':').nth(4).is_none_or(|a| a.contains('*'));
            arns.iter().any(|a| {
                crate::glob::principal_matches(p, a)
                    && (!open || a.split(':').nth(4) == Some(key_account))
            })
        })
        .cloned()
}

/// The ARN of the key the call changed, in the event's account and region: KMS's answer
/// (`responseElements.keyId`, an ARN) first, else the request's key id or ARN. An alias, or
/// a key of another account or region, is refused with the reason.
fn key_arn(event: &Event, r: &CloudTrailRecord) -> Result<String, String> {
    let Some(account) = event.account().filter(|a| is_account_id(a)) else {
        return Err("the event names no account".into());
    };
    let Some(region) = event.region() else {
        return Err("the event names no region".into());
    };
    let named = str_any(&r.response_elements, &["keyId", "KeyId"])
        .or_else(|| str_any(&r.request_parameters, &["keyId", "KeyId"]));
    let Some(named) = named else {
        return Err("the call names no key".into());
    };
    let named = named.trim();
    if named.starts_with("arn:") {
        if !IdKind::KmsKeyArn.is_valid(named) {
            return Err(format!("`{named}` is not a KMS key ARN"));
        }
        let parts: Vec<&str> = named.splitn(6, ':').collect();
        if parts[4] != account || parts[3] != region {
            return Err(format!(
                "key {named} is not in the event's account {account} and region {region}: not this account's key"
            ));
        }
        return Ok(named.to_string());
    }
    if !is_kms_key_id(named) {
        return Err(format!(
            "`{named}` is not a KMS key id (an alias cannot name a key for this call)"
        ));
    }
    let partition = r
        .user_identity
        .arn
        .get()
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| p.starts_with("aws"))
        .unwrap_or("aws");
    Ok(format!("arn:{partition}:kms:{region}:{account}:key/{named}"))
}

fn swept(state: &State, _account: Option<&str>, policy: &Policy, facts: &Facts) -> Verdict {
    match state {
        State::EncryptionKey(k) => key_as_it_is(k, policy, facts, crate::state::WHY),
        other => super::not_swept(GUARD.name, other),
    }
}

fn security_hub(event: &Event, d: &SecurityHubDetail, policy: &Policy, facts: &Facts) -> Verdict {
    let (f, control, why) = match super::failed_control(d, &CONTROLS, "a KMS key's life") {
        Ok(found) => found,
        Err(v) => return *v,
    };
    let Some(account) = event.account().filter(|a| is_account_id(a)) else {
        return Verdict::Decided(Decision::ignore(format!("{control} finding names no account")));
    };
    let region = event.region().unwrap_or("?");
    let Some(key) = f
        .resources
        .iter()
        .filter(|r| r.resource_type.get() == Some("AwsKmsKey"))
        .find_map(|r| r.id.get())
    else {
        return Verdict::Decided(Decision::ignore(format!("{control} finding names no KMS key")));
    };
    // Only a key of the finding's own account and region: the function's clients are there.
    let parts: Vec<&str> = key.splitn(6, ':').collect();
    if !IdKind::KmsKeyArn.is_valid(key) || parts[4] != account || parts[3] != region {
        return Verdict::Decided(Decision::ignore(format!(
            "{control} finding names {key}, not a key ARN of account {account} in {region}"
        )));
    }
    let now = match facts.encryption_key(key) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(None) if facts.offline => {
            return Verdict::Decided(Decision::ignore(format!(
                "{control}: KMS key {key} is not in the facts given (the function reads it; --world gives it)"
            )))
        }
        Known::Yes(None) => {
            return Verdict::Decided(Decision::ignore(format!(
                "KMS key {key} does not exist (any more): nothing to put back"
            )))
        }
        Known::Yes(Some(k)) => k,
    };
    key_as_it_is(&now, policy, facts, &why)
}

/// A key as it is now (the sweep, KMS.3, KMS.4): a deletion pending that no KMS
/// administrator scheduled is cancelled, and one whose scheduler the history does not name
/// is told; rotation off on a key that can rotate is switched on. AWS managed keys are AWS's;
/// an exempt key is left alone.
fn key_as_it_is(k: &EncryptionKeyState, policy: &Policy, facts: &Facts, why: &str) -> Verdict {
    let key = &k.key_id;
    if let Some(reason) = &k.unreadable {
        // Told: a key trailguard cannot read is a key it cannot protect (a key policy that
        // shuts its role out may be the first step of an attack on the key).
        return Verdict::Decided(Decision::notify(
            format!("KMS key {key} cannot be read by trailguard's role"),
            Notice {
                severity: Severity::Medium,
                title: format!("KMS key {key}: trailguard cannot read it"),
                details: vec![
                    reason.clone(),
                    "its key policy does not let trailguard's role describe it, so the sweep cannot watch its deletion or rotation: grant the role kms:DescribeKey, kms:ListResourceTags and kms:GetKeyRotationStatus in it".into(),
                    why.to_string(),
                ],
            },
        ));
    }
    if k.manager == "AWS" {
        return Verdict::Decided(Decision::ignore(format!(
            "KMS key {key} is an AWS managed key: its life is AWS's"
        )));
    }
    if tag_is_true(&k.tags, &policy.exempt_tag) {
        return Verdict::Decided(Decision::ignore(format!(
            "KMS key {key} is exempt (tag {})",
            policy.exempt_tag
        )));
    }
    if matches!(k.state.as_str(), "PendingDeletion" | "PendingReplicaDeletion") {
        let scheduled = match facts.key_deletion(key) {
            Known::Need(req) => return Verdict::NeedFacts(vec![req]),
            Known::Yes(s) => s,
        };
        return Verdict::Decided(pending_deletion(k, scheduled, policy, why));
    }
    if k.state == "Enabled" && k.rotation == Some(false) {
        return Verdict::Decided(Decision::remediate(
            format!("automatic rotation of KMS key {key} is off"),
            vec![EnableKeyRotation {
                key_id: key.clone(),
                disabled_at: None,
            }
            .into()],
            Notice {
                severity: Severity::Medium,
                title: format!("KMS key {key}: automatic rotation off"),
                details: vec![why.to_string()],
            },
        ));
    }
    Verdict::Decided(Decision::ignore(format!(
        "KMS key {key} is {} with rotation {}: nothing to put back",
        k.state,
        match k.rotation {
            Some(true) => "on",
            Some(false) => "off",
            None => "not applicable",
        }
    )))
}

fn pending_deletion(
    k: &EncryptionKeyState,
    scheduled: Option<KeyDeletion>,
    policy: &Policy,
    why: &str,
) -> Decision {
    let key = &k.key_id;
    let ends = k
        .deletion_date
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let lost = format!(
        "every volume, bucket, secret and snapshot encrypted under it is lost when the deletion happens{ends}"
    );
    let truncated = scheduled.as_ref().is_some_and(|s| s.history_truncated);
    let current = scheduled.filter(|s| !s.by.is_empty() && is_current(s, k));
    let Some(s) = current else {
        if truncated {
            // The history was flooded past the pages read: whoever scheduled it hid the
            // record. A cancelled deletion can be scheduled again; a deletion done cannot
            // be undone.
            return Decision::remediate(
                format!("KMS key {key} is pending deletion and a flood of ScheduleKeyDeletion records hides who scheduled it"),
                vec![CancelKeyDeletion {
                    key_id: key.clone(),
                    scheduled_at: None,
                    pending_window_days: None,
                }
                .into()],
                Notice {
                    severity: Severity::Critical,
                    title: format!("KMS key {key} pending deletion (history flooded)"),
                    details: vec![
                        lost,
                        "cancelled: the region's ScheduleKeyDeletion records of the last 31 days fill every page read, and the scheduling of this key is not among them".into(),
                        why.to_string(),
                    ],
                },
            );
        }
        // Who scheduled it is unknown: an administrator's deletion must not be undone, nor
        // an attacker's left unsaid.
        return Decision::notify(
            format!("KMS key {key} is pending deletion; its CloudTrail history does not say who scheduled it"),
            Notice {
                severity: Severity::Critical,
                title: format!("KMS key {key} pending deletion"),
                details: vec![
                    lost,
                    format!("not cancelled: the scheduling of its pending deletion is not (yet) in the last 31 days of CloudTrail's event history; if it is not yours: {}", Change::Deletion.revert(key)),
                    why.to_string(),
                ],
            },
        );
    };
    let arns: Vec<&str> = s.by.iter().map(String::as_str).collect();
    if let Some(p) = kms_admin(policy, &arns, key) {
        return Decision::ignore(format!(
            "KMS key {key} is pending deletion, scheduled by {}, a KMS administrator by policy pattern `{p}`",
            s.by[0]
        ));
    }
    // As the event's preamble: an exempt principal's changes are theirs.
    if let Some(p) = policy.is_exempt_principal(&arns) {
        return Decision::ignore(format!(
            "KMS key {key} is pending deletion, scheduled by {}, exempt by policy pattern `{p}`",
            s.by[0]
        ));
    }
    Decision::remediate(
        format!("KMS key {key} is pending deletion"),
        vec![CancelKeyDeletion {
            key_id: key.clone(),
            scheduled_at: s.at.clone(),
            pending_window_days: None,
        }
        .into()],
        Notice {
            severity: Severity::Critical,
            title: format!("KMS key {key} pending deletion"),
            details: vec![
                lost,
                format!(
                    "scheduled by {}{}",
                    s.by[0],
                    s.at.as_deref().map(|a| format!(" at {a}")).unwrap_or_default()
                ),
                why.to_string(),
            ],
        },
    )
}

/// Whether a scheduling is the one the key's pending deletion comes from: its time and
/// waiting period give the deletion date (within a day: KMS may round it). The newest
/// scheduling in the history can be an older one, cancelled since, while the current one is
/// not in the history yet (it lags by minutes).
fn is_current(s: &KeyDeletion, k: &EncryptionKeyState) -> bool {
    let (Some(at), Some(ends)) = (
        s.at.as_deref().and_then(crate::time::epoch),
        k.deletion_date.as_deref().and_then(crate::time::epoch),
    ) else {
        // Nothing to compare: the newest scheduling stands.
        return true;
    };
    let expected = at + s.window_days.unwrap_or(30) * 86_400;
    (expected - ends).abs() <= 86_400 + 3_600
}

/// The newest successful `ScheduleKeyDeletion` of `key` (its ARN) among `events`: when, and
/// by whom. A record that names the key by id matches its ARN's id.
pub fn deletion_scheduled(events: &[KeyEvent], key: &str) -> Option<KeyDeletion> {
    let id = key.rsplit_once(":key/").map_or(key, |(_, id)| id);
    events
        .iter()
        .filter(|e| e.name == "ScheduleKeyDeletion" && e.error_code.is_none() && e.time.is_some())
        .filter(|e| e.keys.iter().any(|k| k == key || k == id))
        .max_by_key(|e| e.time)
        .map(|e| KeyDeletion {
            key_id: key.to_string(),
            at: e.time.map(crate::time::format_epoch),
            by: e.principals.clone(),
            window_days: e.pending_window_days,
            history_truncated: false,
        })
}

/// One CloudTrail event about a key, as `LookupEvents` lists it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyEvent {
    /// The keys it names (its resources' ARNs, the request's `keyId`).
    pub keys: Vec<String>,
    /// The caller's ARNs (a role session's and its role's).
    pub principals: Vec<String>,
    pub name: String,
    /// Epoch seconds.
    pub time: Option<i64>,
    pub error_code: Option<String>,
    /// `requestParameters.rotationPeriodInDays` of an `EnableKeyRotation`.
    pub rotation_period_days: Option<i64>,
    /// `requestParameters.pendingWindowInDays` of a `ScheduleKeyDeletion`.
    pub pending_window_days: Option<i64>,
}

/// What a key's history says of its state at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WasEnabled {
    /// It was enabled: the event that shows it.
    Yes(String),
    /// It was disabled: the event that shows it.
    No(String),
    /// The history does not say.
    Unknown(String),
}

/// The calls that succeed only on an enabled key.
const USES: [&str; 12] = [
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// Whether the key was enabled at `at` (epoch seconds), from its events: the newest one up
/// to then that shows its state decides. `EnableKey`, `CreateKey`, `ImportKeyMaterial` and
/// any successful use say enabled; `DisableKey`, `CancelKeyDeletion` (which leaves a key
/// disabled) and a use refused with `DisabledException` say disabled. Nothing in the
/// history (an idle key, or one changed before the history begins): unknown, and the
/// key is left disabled, which harms no one who used it within the history.
pub fn enabled_before(events: &[KeyEvent], at: i64) -> WasEnabled {
    let mut known: Vec<&KeyEvent> = events
        .iter()
        .filter(|e| e.time.is_some_and(|t| t <= at) && e.name != "ScheduleKeyDeletion")
        .collect();
    // Newest first; within one second, an event that says disabled first (the safer reading).
    known.sort_by_key(|e| (std::cmp::Reverse(e.time), !says_disabled(e)));
    let when = |e: &KeyEvent| crate::time::format_epoch(e.time.unwrap_or_default());
    for e in known {
        let name = e.name.as_str();
        match e.error_code.as_deref() {
            None if ["EnableKey", "CreateKey", "ImportKeyMaterial"].contains(&name) => {
                return WasEnabled::Yes(format!("{name} at {}", when(e)))
            }
            None if USES.contains(&name) => {
                return WasEnabled::Yes(format!("a successful {name} at {}", when(e)))
            }
            None if ["DisableKey", "CancelKeyDeletion"].contains(&name) => {
                return WasEnabled::No(format!("{name} at {}", when(e)))
            }
            Some("DisabledException") if USES.contains(&name) => {
                return WasEnabled::No(format!(
                    "{name} at {} was refused because the key was disabled",
                    when(e)
                ))
            }
            _ => {}
        }
    }
    WasEnabled::Unknown(
        "the key's CloudTrail history (90 days) shows no use and no change of its state before the deletion was scheduled".into(),
    )
}

fn says_disabled(e: &KeyEvent) -> bool {
    match e.error_code.as_deref() {
        None => ["DisableKey", "CancelKeyDeletion"].contains(&e.name.as_str()),
        Some(code) => code == "DisabledException",
    }
}

/// The rotation period of the key's last successful `EnableKeyRotation` up to `at`, if it
/// named one.
pub fn rotation_period_before(events: &[KeyEvent], at: i64) -> Option<i64> {
    events
        .iter()
        .filter(|e| {
            e.name == "EnableKeyRotation"
                && e.error_code.is_none()
                && e.time.is_some_and(|t| t <= at)
        })
        .max_by_key(|e| e.time)
        .and_then(|e| e.rotation_period_days)
        .filter(|d| (90..=2560).contains(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, time: i64, error: Option<&str>) -> KeyEvent {
        KeyEvent {
            name: name.into(),
            time: Some(time),
            error_code: error.map(String::from),
            ..KeyEvent::default()
        }
    }

    #[test]
    fn the_newest_telling_event_before_the_change_decides() {
        let at = 1_000;
        let cases: Vec<(Vec<KeyEvent>, &str)> = vec![
            (vec![ev("Decrypt", 900, None), ev("DisableKey", 800, None)], "yes"),
            (vec![ev("Decrypt", 700, None), ev("DisableKey", 800, None)], "no"),
            (vec![ev("Decrypt", 900, Some("DisabledException"))], "no"),
            (vec![ev("Decrypt", 900, Some("AccessDeniedException"))], "unknown"),
            (vec![ev("EnableKey", 1_100, None), ev("DisableKey", 500, None)], "no"),
            (vec![ev("CancelKeyDeletion", 900, None), ev("Encrypt", 100, None)], "no"),
            (vec![ev("CreateKey", 10, None)], "yes"),
            (vec![ev("ScheduleKeyDeletion", 1_000, None)], "unknown"),
            (vec![ev("Decrypt", 900, None), ev("DisableKey", 900, None)], "no"),
            (vec![ev("DisableKey", 900, None), ev("Decrypt", 900, None)], "no"),
            (vec![], "unknown"),
        ];
        let mut failures = vec![];
        for (events, want) in cases {
            let got = match enabled_before(&events, at) {
                WasEnabled::Yes(_) => "yes",
                WasEnabled::No(_) => "no",
                WasEnabled::Unknown(_) => "unknown",
            };
            if got != want {
                failures.push(format!("{events:?}: {got}, expected {want}"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn an_open_account_in_kms_admins_covers_the_key_s_own_account_only() {
        let policy = Policy::from_json(
            r#"{"kms_admins": ["arn:aws:iam::*:role/KeyAdministrator", "arn:aws:iam::210987654321:role/Central*"]}"#,
        )
        .unwrap();
        let key = "arn:aws:kms:us-east-1:123456789012:key/0d3f1a2b-5c6d-4e7f-8a9b-0c1d2e3f4a5b";
        // A caller as CloudTrail names it: the session and the role it was issued by.
        let admin = |account: &str, role: &str| {
            let session = format!("arn:aws:sts::{account}:assumed-role/{role}/someone");
            let issuer = format!("arn:aws:iam::{account}:role/{role}");
            kms_admin(&policy, &[&session, &issuer], key).is_some()
        };
        assert!(admin("123456789012", "KeyAdministrator"));
        // The same name in an attacker's own account is not an administrator of this key.
        assert!(!admin("999988887777", "KeyAdministrator"));
        // One named with its account is, from there only.
        assert!(admin("210987654321", "CentralKeys"));
        assert!(!admin("123456789012", "CentralKeys"));
    }

    #[test]
    fn a_pending_deletion_is_cancelled_only_on_its_own_scheduling_by_a_non_administrator() {
        let policy = Policy::from_json(
            r#"{"kms_admins": ["arn:aws:iam::*:role/KeyAdministrator"], "exempt_principals": ["arn:aws:iam::*:role/BreakGlass"]}"#,
        )
        .unwrap();
        let key = EncryptionKeyState {
            key_id: "arn:aws:kms:us-east-1:123456789012:key/0d3f1a2b-5c6d-4e7f-8a9b-0c1d2e3f4a5b".into(),
            state: "PendingDeletion".into(),
            manager: "CUSTOMER".into(),
            deletion_date: Some("2026-12-01T09:14:03Z".into()),
            ..Default::default()
        };
        let by = |role: &str, at: &str, window: i64| KeyDeletion {
            key_id: key.key_id.clone(),
            at: Some(at.into()),
            by: vec![
                format!("arn:aws:sts::123456789012:assumed-role/{role}/someone"),
                format!("arn:aws:iam::123456789012:role/{role}"),
            ],
            window_days: Some(window),
            history_truncated: false,
        };
        let kind = |s: Option<KeyDeletion>| {
            let d = pending_deletion(&key, s, &policy, "why");
            format!("{:?}", d.kind).to_lowercase()
        };
        let cases = [
            // Its own scheduling, by someone outside kms_admins: cancelled.
            (Some(by("Developer", "2026-11-24T09:14:03Z", 7)), "remediate"),
            // By an administrator, or an exempt principal: theirs.
            (Some(by("KeyAdministrator", "2026-11-24T09:14:03Z", 7)), "ignore"),
            (Some(by("BreakGlass", "2026-11-24T09:14:03Z", 7)), "ignore"),
            // An administrator's older scheduling (cancelled since): not the pending one,
            // whose record is not in the history yet: told.
            (Some(by("KeyAdministrator", "2026-11-01T08:00:00Z", 7)), "notify"),
            // Nobody in the history: told.
            (None, "notify"),
            // The history flooded past the pages read: cancelled.
            (
                Some(KeyDeletion {
                    key_id: key.key_id.clone(),
                    history_truncated: true,
                    ..Default::default()
                }),
                "remediate",
            ),
            (
                Some(KeyDeletion {
                    history_truncated: true,
                    ..by("KeyAdministrator", "2026-11-01T08:00:00Z", 7)
                }),
                "remediate",
            ),
        ];
        let mut failures = vec![];
        for (s, want) in cases {
            let got = kind(s.clone());
            if got != want {
                failures.push(format!("{s:?}: {got}, expected {want}"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn the_scheduler_is_the_newest_successful_scheduling_of_that_key() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/0d3f1a2b-5c6d-4e7f-8a9b-0c1d2e3f4a5b";
        let by = |who: &str, t, keys: &[&str], error: Option<&str>| KeyEvent {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            principals: vec![who.into()],
            ..ev("ScheduleKeyDeletion", t, error)
        };
        let other = "arn:aws:kms:us-east-1:123456789012:key/9b8a7c6d-5e4f-4d3c-9b2a-1f0e9d8c7b6a";
        let events = [
            by("old", 100, &[key], None),
            // By id, as the request names it: the same key.
            by("mallory", 300, &["0d3f1a2b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"], None),
            // Refused, or about another key: says nothing of who scheduled this one.
            by("refused", 400, &[key], Some("AccessDeniedException")),
            by("elsewhere", 500, &[other], None),
        ];
        let found = deletion_scheduled(&events, key).unwrap();
        assert_eq!(found.by, ["mallory"]);
        assert_eq!(found.at.as_deref(), Some("1970-01-01T00:05:00Z"));
        assert_eq!(deletion_scheduled(&events[2..3], key), None);
        assert_eq!(deletion_scheduled(&[], key), None);
    }

    #[test]
    fn the_rotation_period_is_the_last_enable_before_the_change() {
        let with = |t, d| KeyEvent {
            rotation_period_days: Some(d),
            ..ev("EnableKeyRotation", t, None)
        };
        assert_eq!(
            rotation_period_before(&[with(100, 180), with(200, 365), with(2_000, 90)], 1_000),
            Some(365)
        );
        assert_eq!(rotation_period_before(&[with(100, 5)], 1_000), None);
        assert_eq!(rotation_period_before(&[ev("EnableKeyRotation", 100, None)], 1_000), None);
    }
}
