//! CloudTrail: keep the account's own eyes open.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{Notice, RestoreManagementEvents, Severity, StartLogging, UpdateTrail};
use crate::decision::{Decision, Verdict};
use crate::event::Event;
use crate::facts::{FactKind, Facts, Known};
use crate::state::{State, StateKind};
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::{bool_any, boolean, int_any, items_any, str_any};
use crate::policy::{GuardSettings, Policy, SettingsSpec};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[
    &StartLogging::INFO,
    &UpdateTrail::INFO,
    &RestoreManagementEvents::INFO,
];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "cloudtrail",
    function: "guard-cloudtrail",
    summary: "Switches CloudTrail logging back on and reports tampering.",
    triggers: &[
        Trigger {
        rule: "CloudTrailChange",
        pattern: r#"{
            "source": ["aws.cloudtrail"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["cloudtrail.amazonaws.com"],
                "eventName": ["StopLogging", "DeleteTrail", "UpdateTrail",
                              "PutEventSelectors", "PutInsightSelectors"],
                "eventType": ["AwsApiCall"],
                "errorCode": [{"exists": false}]
            }
        }"#,
        delivery: Delivery::Changes,
        bus: Bus::Main,
        excludes_own_role: true,
        condition: None,
    },
        // A lifecycle rule that expires the trail's logs early erases the evidence.
        Trigger {
            rule: "TrailBucketLifecycle",
            pattern: r#"{
                "source": ["aws.s3"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["s3.amazonaws.com"],
                    "eventName": ["PutBucketLifecycle", "PutBucketLifecycleConfiguration"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
    ],
    facts: &[FactKind::TrailBuckets],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 20,
    sweeps: &[StateKind::Trails],
    settings: Some(&SETTINGS),
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// The policy's `cloudtrail` section: what only this guard reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub cloudtrail: CloudTrailSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudTrailSettings {
    /// Switch multi-region logging and log-file validation back on after an `UpdateTrail`
    /// turned them off (otherwise told).
    pub revert_trail_settings: bool,
    /// Switch management events back on after a `PutEventSelectors` switched them off.
    pub restore_management_events: bool,
    /// The shortest expiry, in days, the CloudTrail log buckets may be given.
    pub min_log_retention_days: u32,
}

impl Default for CloudTrailSettings {
    fn default() -> Self {
        CloudTrailSettings {
            revert_trail_settings: true,
            restore_management_events: true,
            min_log_retention_days: 365,
        }
    }
}

impl GuardSettings for Settings {}

const SETTINGS: SettingsSpec = SettingsSpec::of::<Settings>();

/// This guard's settings in `policy`.
pub fn settings(policy: &Policy) -> Cow<'_, Settings> {
    policy.section()
}

/// Decide on a trail as it is now (the sweep): logging switched on again, and log file
/// validation when the policy reverts trail settings (it costs nothing and proves the logs
/// untouched). Multi-region is left alone: a single-region trail may always have been one,
/// and only the event that switched it says otherwise.
pub fn decide_state(t: &crate::state::TrailState, policy: &Policy) -> Decision {
    let trail = &t.trail;
    if crate::facts::tag_is_true(&t.tags, &policy.exempt_tag) {
        return Decision::ignore(format!("trail {trail} is tagged {}=true", policy.exempt_tag));
    }
    let mut actions: Vec<crate::action::Action> = Vec::new();
    let mut details = Vec::new();
    if !t.is_logging {
        details.push(format!("trail {trail} is not logging"));
        actions.push(StartLogging { trail: trail.clone() }.into());
    }
    if !t.log_file_validation && settings(policy).cloudtrail.revert_trail_settings {
        details.push(format!("trail {trail} does not validate its log files"));
        actions.push(
            UpdateTrail {
                trail: trail.clone(),
                multi_region: None,
                log_file_validation: Some(true),
                global_service_events: None,
            }
            .into(),
        );
    }
    if actions.is_empty() {
        return Decision::ignore(format!("trail {trail} is logging as the policy wants"));
    }
    details.push(crate::state::WHY.to_string());
    Decision::remediate(
        details[..details.len() - 1].join("; "),
        actions,
        Notice {
            severity: Severity::High,
            title: format!("CloudTrail trail {trail} not logging as it should"),
            details,
        },
    )
}

pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    if let Some(d) = super::preamble(r, policy, facts) {
        return Verdict::Decided(d);
    }
    let name = r.event_name.as_deref().unwrap_or_default();
    let rp = &r.request_parameters;
    if name.starts_with("PutBucketLifecycle") {
        return bucket_lifecycle(r, policy, facts);
    }
    let Some(trail) = str_any(rp, &["name", "Name", "trailName", "TrailName"]) else {
        return Verdict::Decided(Decision::ignore(format!("{name} names no trail")));
    };
    let mut details = vec![format!(
        "by {} from {}",
        r.user_identity.display(),
        r.source_ip_address.as_deref().unwrap_or("?")
    )];
    if let Some(region) = event.region() {
        details.push(format!(
            "console: https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/trails"
        ));
    }
    let notice = |severity, title: String, details| Notice {
        severity,
        title,
        details,
    };
    Verdict::Decided(match name {
        "StopLogging" => Decision::remediate(
            format!("logging was stopped on trail {trail}"),
            vec![StartLogging {
                trail: trail.clone(),
            }
            .into()],
            notice(
                Severity::Critical,
                format!("CloudTrail logging stopped on {trail}"),
                details,
            ),
        ),
        "DeleteTrail" => Decision::notify(
            format!(
                "trail {trail} was deleted: its configuration is not in the event, \
                 so it cannot be recreated automatically"
            ),
            notice(
                Severity::Critical,
                format!("CloudTrail trail {trail} deleted"),
                details,
            ),
        ),
        "UpdateTrail" => update_trail(rp, &trail, policy, details),
        "PutEventSelectors" => {
            if let Some(what) = management_writes_off(rp) {
                let reason = format!("PutEventSelectors on {trail} {what}");
                let title = format!("CloudTrail trail {trail} no longer records management writes");
                details.push(format!("the new selectors {what}"));
                if settings(policy).cloudtrail.restore_management_events {
                    details.push(
                        "management events, reads and writes, are switched back on; the data-event selectors are kept"
                            .into(),
                    );
                    Decision::remediate(
                        reason,
                        vec![RestoreManagementEvents {
                            trail: trail.clone(),
                        }
                        .into()],
                        notice(Severity::High, title, details),
                    )
                } else {
                    details.push(
                        "cloudtrail.restore_management_events is off: management events stay off"
                            .into(),
                    );
                    Decision::notify(reason, notice(Severity::High, title, details))
                }
            } else {
                Decision::ignore(format!(
                    "PutEventSelectors on {trail} still records management events"
                ))
            }
        }
        "PutInsightSelectors" => {
            if items_any(rp, &["insightSelectors", "InsightSelectors"]).is_empty() {
                Decision::notify(
                    format!("CloudTrail Insights switched off on {trail}"),
                    notice(
                        Severity::Low,
                        format!("CloudTrail Insights switched off on {trail}"),
                        details,
                    ),
                )
            } else {
                Decision::ignore(format!("PutInsightSelectors on {trail} keeps Insights on"))
            }
        }
        other => Decision::ignore(format!(
            "{other} is not a CloudTrail change trailguard watches"
        )),
    })
}

fn update_trail(rp: &Value, trail: &str, policy: &Policy, mut details: Vec<String>) -> Decision {
    let multi_region_off =
        bool_any(rp, &["isMultiRegionTrail", "IsMultiRegionTrail"]) == Some(false);
    let validation_off =
        bool_any(rp, &["enableLogFileValidation", "EnableLogFileValidation"]) == Some(false);
    // Without global service events a trail no longer records IAM, STS and CloudFront calls
    // (they are written to us-east-1 as global events): the calls an attacker who holds a
    // key makes first.
    let global_off = bool_any(
        rp,
        &["includeGlobalServiceEvents", "IncludeGlobalServiceEvents"],
    ) == Some(false);
    if multi_region_off || validation_off || global_off {
        let mut off = vec![];
        if multi_region_off {
            off.push("multi-region logging");
        }
        if validation_off {
            off.push("log file validation");
        }
        if global_off {
            off.push("global service events (IAM, STS, CloudFront)");
        }
        let off = off.join(" and ");
        details.push(format!("switched off: {off}"));
        let notice = Notice {
            severity: Severity::High,
            title: format!("CloudTrail trail {trail} weakened"),
            details,
        };
        if !settings(policy).cloudtrail.revert_trail_settings {
            return Decision::notify(
                "cloudtrail.revert_trail_settings is off: notify only",
                notice,
            );
        }
        let action = UpdateTrail {
            trail: trail.to_string(),
            multi_region: multi_region_off.then_some(true),
            log_file_validation: validation_off.then_some(true),
            global_service_events: global_off.then_some(true),
        };
        return Decision::remediate(
            format!("UpdateTrail switched off {off} on {trail}"),
            vec![action.into()],
            notice,
        );
    }
    if let Some(b) = str_any(rp, &["s3BucketName", "S3BucketName"]) {
        details.push(format!("logs now go to bucket {b}"));
        return Decision::notify(
            format!(
                "trail {trail} now delivers to another bucket; the previous one is not in the event"
            ),
            Notice {
                severity: Severity::Medium,
                title: format!("CloudTrail trail {trail} destination changed"),
                details,
            },
        );
    }
    Decision::ignore(format!(
        "UpdateTrail on {trail} weakens nothing trailguard watches"
    ))
}

/// How the selectors of a PutEventSelectors call stop recording management writes, if they
/// do: what an attacker changes next is a write, so a trail that records only reads is as
/// blind as one that records no management events.
///
/// Basic selectors record writes when one includes management events (the default) with
/// `ReadWriteType` `All` or `WriteOnly` (the default is `All`). Advanced selectors record
/// them when one selects the Management category without limiting `readOnly` to `true`.
fn management_writes_off(rp: &Value) -> Option<&'static str> {
    let basic = items_any(rp, &["eventSelectors", "EventSelectors"]);
    let advanced = items_any(rp, &["advancedEventSelectors", "AdvancedEventSelectors"]);
    if !advanced.is_empty() {
        let management: Vec<&Value> = advanced
            .iter()
            .copied()
            .filter(|s| {
                fields(s).iter().any(|f| {
                    field_is(f, "eventCategory")
                        && values(f, &["equals", "Equals"]).contains(&"Management")
                })
            })
            .collect();
        if management.is_empty() {
            return Some("records no management events");
        }
        let reads_only = |s: &&Value| {
            fields(s).iter().any(|f| {
                let equals = values(f, &["equals", "Equals"]);
                let not_equals = values(f, &["notEquals", "NotEquals"]);
                field_is(f, "readOnly")
                    && ((!equals.is_empty() && equals.iter().all(|v| v.eq_ignore_ascii_case("true")))
                        || not_equals.iter().any(|v| v.eq_ignore_ascii_case("false")))
            })
        };
        if management.iter().all(reads_only) {
            return Some("records management reads only (readOnly = true)");
        }
        return None;
    }
    let includes = |s: &&Value| {
        s.get("includeManagementEvents")
            .or_else(|| s.get("IncludeManagementEvents"))
            .and_then(boolean)
            .unwrap_or(true)
    };
    let management: Vec<&Value> = basic.iter().copied().filter(includes).collect();
    if management.is_empty() {
        return Some("records no management events");
    }
    let records_writes = |s: &&Value| {
        str_any(s, &["readWriteType", "ReadWriteType"])
            .is_none_or(|t| t.eq_ignore_ascii_case("All") || t.eq_ignore_ascii_case("WriteOnly"))
    };
    if !management.iter().any(records_writes) {
        return Some("records management reads only (ReadWriteType ReadOnly)");
    }
    None
}

fn fields(selector: &Value) -> Vec<&Value> {
    items_any(selector, &["fieldSelectors", "FieldSelectors"])
}

fn field_is(f: &Value, name: &str) -> bool {
    str_any(f, &["field", "Field"]).as_deref() == Some(name)
}

fn values<'a>(f: &'a Value, keys: &[&str]) -> Vec<&'a str> {
    items_any(f, keys)
        .into_iter()
        .filter_map(Value::as_str)
        .collect()
}

/// The shortest expiry, in days, among the enabled rules of a lifecycle configuration
/// (`Expiration.Days`, `NoncurrentVersionExpiration.NoncurrentDays`), as CloudTrail records it
/// (`LifecycleConfiguration.Rule`, one rule or a list).
fn shortest_expiry(rp: &Value) -> Option<i64> {
    let config = rp
        .get("LifecycleConfiguration")
        .or_else(|| rp.get("lifecycleConfiguration"))?;
    items_any(config, &["Rule", "Rules", "rule"])
        .into_iter()
        .filter(|r| {
            str_any(r, &["Status", "status"]).is_none_or(|s| s.eq_ignore_ascii_case("Enabled"))
        })
        .flat_map(|r| {
            [
                r.get("Expiration").and_then(|e| int_any(e, &["Days"])),
                r.get("NoncurrentVersionExpiration")
                    .and_then(|e| int_any(e, &["NoncurrentDays"])),
            ]
        })
        .flatten()
        .min()
}

fn bucket_lifecycle(
    r: &crate::event::CloudTrailRecord,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let rp = &r.request_parameters;
    let Some(bucket) = str_any(rp, &["bucketName", "BucketName"]) else {
        return Verdict::Decided(Decision::ignore("PutBucketLifecycle names no bucket"));
    };
    let min = i64::from(settings(policy).cloudtrail.min_log_retention_days);
    let Some(days) = shortest_expiry(rp).filter(|d| *d < min) else {
        return Verdict::Decided(Decision::ignore(format!(
            "the lifecycle of bucket {bucket} keeps objects at least {min} days (cloudtrail.min_log_retention_days)"
        )));
    };
    // Only now, for a short expiry, is it worth asking which buckets the trails use.
    let buckets = match facts.trail_buckets() {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(b) => b,
    };
    if !buckets.contains(&bucket) {
        return Verdict::Decided(Decision::ignore(format!(
            "bucket {bucket} is not a bucket a trail delivers to"
        )));
    }
    Verdict::Decided(Decision::notify(
        format!("CloudTrail logs in bucket {bucket} now expire after {days} day(s), below {min}"),
        Notice {
            severity: Severity::High,
            title: format!("CloudTrail log bucket {bucket} expires logs after {days} day(s)"),
            details: vec![
                format!(
                    "by {} from {}",
                    r.user_identity.display(),
                    r.source_ip_address.get().unwrap_or("?")
                ),
                format!(
                    "what to check: the lifecycle rule (aws s3api get-bucket-lifecycle-configuration --bucket {bucket}); \
                     logs older than {days} day(s) will be deleted, the evidence with them"
                ),
            ],
        },
    ))
}

/// The sweep's view: a trail as it is now.
fn swept(state: &State, _account: Option<&str>, policy: &Policy, _facts: &Facts) -> Verdict {
    match state {
        State::Trail(t) => Verdict::Decided(decide_state(t, policy)),
        other => super::not_swept(GUARD.name, other),
    }
}
