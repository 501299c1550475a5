//! CloudTrail: keep the account's own eyes open.

use crate::action::{Action, Notice, Severity};
use crate::decision::{Decision, Verdict};
use crate::event::Event;
use crate::facts::Facts;
use crate::lenient::{bool_any, boolean, items_any, str_any};
use crate::policy::Policy;

pub const EVENT_NAMES: &[&str] = &[
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "PutInsightSelectors",
];

pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    if let Some(d) = super::preamble(r, policy, facts) {
        return Verdict::Decided(d);
    }
    let name = r.event_name.as_deref().unwrap_or_default();
    let rp = &r.request_parameters;
    let trail = str_any(rp, &["name", "Name", "trailName", "TrailName"]);
    let who = format!(
        "by {} from {}",
        r.user_identity.display(),
        r.source_ip_address.as_deref().unwrap_or("?")
    );
    let Some(trail) = trail else {
        return Verdict::Decided(Decision::ignore(format!("{name} names no trail")));
    };
    let mut details = vec![who];
    if let Some(region) = event.region() {
        details.push(format!("console: https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/trails"));
    }
    let v = match name {
        "StopLogging" => Decision::remediate(
            format!("logging was stopped on trail {trail}"),
            vec![Action::StartLogging { trail: trail.clone() }],
            Notice { severity: Severity::Critical, title: format!("CloudTrail logging stopped on {trail}"), details },
        ),
        "DeleteTrail" => Decision::notify(
            format!("trail {trail} was deleted: its configuration is not in the event, so it cannot be recreated automatically"),
            Notice { severity: Severity::Critical, title: format!("CloudTrail trail {trail} deleted"), details },
        ),
        "UpdateTrail" => {
            let multi_region_off = bool_any(rp, &["isMultiRegionTrail", "IsMultiRegionTrail"]) == Some(false);
            let validation_off = bool_any(rp, &["enableLogFileValidation", "EnableLogFileValidation"]) == Some(false);
            let bucket = str_any(rp, &["s3BucketName", "S3BucketName"]);
            if multi_region_off || validation_off {
                let mut off = vec![];
                if multi_region_off {
                    off.push("multi-region logging");
                }
                if validation_off {
                    off.push("log file validation");
                }
                details.push(format!("switched off: {}", off.join(" and ")));
                let notice = Notice { severity: Severity::High, title: format!("CloudTrail trail {trail} weakened"), details };
                if policy.revert_trail_settings {
                    let action = Action::UpdateTrail { trail: trail.clone(), multi_region: multi_region_off.then_some(true), log_file_validation: validation_off.then_some(true) };
                    Decision::remediate(format!("UpdateTrail switched off {} on {trail}", off.join(" and ")), vec![action], notice)
                } else {
                    Decision::notify("cloudtrail.revert_trail_settings is off: notify only", notice)
                }
            } else if let Some(b) = bucket {
                details.push(format!("logs now go to bucket {b}"));
                Decision::notify(
                    format!("trail {trail} now delivers to another bucket; the previous one is not in the event"),
                    Notice { severity: Severity::Medium, title: format!("CloudTrail trail {trail} destination changed"), details },
                )
            } else {
                Decision::ignore(format!("UpdateTrail on {trail} weakens nothing trailguard watches"))
            }
        }
        "PutEventSelectors" => {
            let basic = items_any(rp, &["eventSelectors", "EventSelectors"]);
            let advanced = items_any(rp, &["advancedEventSelectors", "AdvancedEventSelectors"]);
            let stops_management = if !advanced.is_empty() {
                !advanced.iter().any(|s| {
                    items_any(s, &["fieldSelectors", "FieldSelectors"]).iter().any(|f| {
                        str_any(f, &["field", "Field"]).as_deref() == Some("eventCategory")
                            && items_any(f, &["equals", "Equals"]).iter().any(|e| e.as_str() == Some("Management"))
                    })
                })
            } else {
                !basic.iter().any(|s| s.get("includeManagementEvents").or_else(|| s.get("IncludeManagementEvents")).and_then(boolean).unwrap_or(true))
            };
            if stops_management {
                details.push("management events are no longer recorded; the previous selectors are not in the event".into());
                Decision::notify(
                    format!("PutEventSelectors on {trail} stops recording management events"),
                    Notice { severity: Severity::High, title: format!("CloudTrail trail {trail} stopped recording management events"), details },
                )
            } else {
                Decision::ignore(format!("PutEventSelectors on {trail} still records management events"))
            }
        }
        "PutInsightSelectors" => {
            if items_any(rp, &["insightSelectors", "InsightSelectors"]).is_empty() {
                Decision::notify(
                    format!("CloudTrail Insights switched off on {trail}"),
                    Notice { severity: Severity::Low, title: format!("CloudTrail Insights switched off on {trail}"), details },
                )
            } else {
                Decision::ignore(format!("PutInsightSelectors on {trail} keeps Insights on"))
            }
        }
        other => Decision::ignore(format!("{other} is not a CloudTrail change trailguard watches")),
    };
    Verdict::Decided(v)
}
