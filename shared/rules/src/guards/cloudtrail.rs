//! CloudTrail: keep the account's own eyes open.

use std::sync::OnceLock;

use serde_json::Value;

use crate::action::{Notice, Severity, StartLogging, UpdateTrail};
use crate::decision::{Decision, Verdict};
use crate::event::Event;
use crate::facts::Facts;
use crate::guards::{Delivery, GuardSpec, Trigger};
use crate::lenient::{bool_any, boolean, items_any, str_any};
use crate::policy::Policy;

pub static GUARD: GuardSpec = GuardSpec {
    name: "cloudtrail",
    function: "guard-cloudtrail",
    summary: "Switches CloudTrail logging back on and reports tampering.",
    triggers: &[Trigger {
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
        excludes_own_role: true,
        condition: None,
    }],
    facts: &[],
    actions: &[&StartLogging::INFO, &UpdateTrail::INFO],
    decide,
    reads_every_call: false,
    compiled: OnceLock::new(),
};

pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    if let Some(d) = super::preamble(r, policy, facts) {
        return Verdict::Decided(d);
    }
    let name = r.event_name.as_deref().unwrap_or_default();
    let rp = &r.request_parameters;
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
            if stops_management_events(rp) {
                details.push(
                    "management events are no longer recorded; \
                     the previous selectors are not in the event"
                        .into(),
                );
                Decision::notify(
                    format!("PutEventSelectors on {trail} stops recording management events"),
                    notice(
                        Severity::High,
                        format!("CloudTrail trail {trail} stopped recording management events"),
                        details,
                    ),
                )
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
    if multi_region_off || validation_off {
        let mut off = vec![];
        if multi_region_off {
            off.push("multi-region logging");
        }
        if validation_off {
            off.push("log file validation");
        }
        let off = off.join(" and ");
        details.push(format!("switched off: {off}"));
        let notice = Notice {
            severity: Severity::High,
            title: format!("CloudTrail trail {trail} weakened"),
            details,
        };
        if !policy.revert_trail_settings {
            return Decision::notify(
                "cloudtrail.revert_trail_settings is off: notify only",
                notice,
            );
        }
        let action = UpdateTrail {
            trail: trail.to_string(),
            multi_region: multi_region_off.then_some(true),
            log_file_validation: validation_off.then_some(true),
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

/// Whether the selectors of a PutEventSelectors call record no management events: no basic
/// selector includes them, or no advanced selector selects the Management category.
fn stops_management_events(rp: &Value) -> bool {
    let basic = items_any(rp, &["eventSelectors", "EventSelectors"]);
    let advanced = items_any(rp, &["advancedEventSelectors", "AdvancedEventSelectors"]);
    if !advanced.is_empty() {
        return !advanced.iter().any(|s| {
            items_any(s, &["fieldSelectors", "FieldSelectors"])
                .iter()
                .any(|f| {
                    str_any(f, &["field", "Field"]).as_deref() == Some("eventCategory")
                        && items_any(f, &["equals", "Equals"])
                            .iter()
                            .any(|e| e.as_str() == Some("Management"))
                })
        });
    }
    !basic.iter().any(|s| {
        s.get("includeManagementEvents")
            .or_else(|| s.get("IncludeManagementEvents"))
            .and_then(boolean)
            .unwrap_or(true)
    })
}
