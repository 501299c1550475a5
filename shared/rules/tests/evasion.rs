//! Evasions and blinding (issue 22): the shapes an attacker uses to stop trailguard from
//! seeing or containing a change, each decided as its sample says and varied here in the
//! ways the samples do not cover.

use std::path::PathBuf;

use serde_json::{json, Value};
use trailguard_rules::{decide_offline, Event, Kind, Policy};

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn policy() -> Policy {
    Policy::from_json(&load("meta/policy.json").to_string()).unwrap()
}

fn decide(raw: &Value) -> trailguard_rules::Decision {
    decide_offline(&Event::parse(raw).unwrap(), &policy())
}

/// The read-only selector sample with other selectors in its request.
fn with_selectors(key: &str, selectors: Value) -> Value {
    let mut raw = load("aws.cloudtrail-PutEventSelectors-read-only.json");
    let rp = &mut raw["detail"]["requestParameters"];
    rp.as_object_mut().unwrap().remove("eventSelectors");
    rp[key] = selectors;
    raw
}

#[test]
fn management_events_recorded_read_only_are_restored() {
    let d = decide(&load("aws.cloudtrail-PutEventSelectors-read-only.json"));
    assert_eq!(d.kind, Kind::Remediate, "{d:?}");
    assert_eq!(
        serde_json::to_value(&d.actions).unwrap(),
        json!([{"type": "restore_management_events", "trail": "management-events"}])
    );
    assert!(d.reason.contains("ReadOnly"), "{}", d.reason);
    let d = decide(&load(
        "aws.cloudtrail-PutEventSelectors-advanced-read-only.json",
    ));
    assert_eq!(d.kind, Kind::Remediate, "{d:?}");
    assert!(d.reason.contains("readOnly"), "{}", d.reason);
}

#[test]
fn selectors_that_still_record_management_writes_are_ignored() {
    for (key, selectors) in [
        (
            "eventSelectors",
            json!([{"readWriteType": "WriteOnly", "includeManagementEvents": true}]),
        ),
        // Unset means All.
        ("eventSelectors", json!([{"includeManagementEvents": true}])),
        // One read-only selector and one that records everything.
        (
            "eventSelectors",
            json!([
                {"readWriteType": "ReadOnly", "includeManagementEvents": true},
                {"readWriteType": "All", "includeManagementEvents": true}
            ]),
        ),
        (
            "advancedEventSelectors",
            json!([{"fieldSelectors": [
                {"field": "eventCategory", "equals": ["Management"]},
                {"field": "readOnly", "equals": ["false"]}
            ]}]),
        ),
    ] {
        let d = decide(&with_selectors(key, selectors.clone()));
        assert_eq!(d.kind, Kind::Ignore, "{selectors}: {d:?}");
    }
    let d = decide(&load(
        "aws.cloudtrail-PutEventSelectors-read-write-all.json",
    ));
    assert_eq!(d.kind, Kind::Ignore, "{d:?}");
}

#[test]
fn selectors_that_drop_management_writes_in_other_shapes_are_restored() {
    for (key, selectors) in [
        // Case as some SDKs log it; a read-only selector next to a data-only one.
        (
            "eventSelectors",
            json!([
                {"readWriteType": "readonly", "includeManagementEvents": true},
                {"readWriteType": "All", "includeManagementEvents": false,
                 "dataResources": [{"type": "AWS::Lambda::Function", "values": ["arn:aws:lambda"]}]}
            ]),
        ),
        // "not false" is "true".
        (
            "advancedEventSelectors",
            json!([{"fieldSelectors": [
                {"field": "eventCategory", "equals": ["Management"]},
                {"field": "readOnly", "notEquals": ["false"]}
            ]}]),
        ),
        // Data events only.
        (
            "advancedEventSelectors",
            json!([{"fieldSelectors": [
                {"field": "eventCategory", "equals": ["Data"]},
                {"field": "resources.type", "equals": ["AWS::S3::Object"]}
            ]}]),
        ),
    ] {
        let d = decide(&with_selectors(key, selectors.clone()));
        assert_eq!(d.kind, Kind::Remediate, "{selectors}: {d:?}");
    }
}

#[test]
fn global_service_events_switched_off_are_switched_back_on() {
    let d = decide(&load("aws.cloudtrail-UpdateTrail-no-global-events.json"));
    assert_eq!(d.kind, Kind::Remediate, "{d:?}");
    assert_eq!(
        serde_json::to_value(&d.actions).unwrap(),
        json!([{"type": "update_trail", "trail": "management-events", "global_service_events": true}])
    );
    // With the policy's knob off, people are told instead.
    let p = Policy::from_json(r#"{"cloudtrail": {"revert_trail_settings": false}}"#).unwrap();
    let e = Event::parse(&load("aws.cloudtrail-UpdateTrail-no-global-events.json")).unwrap();
    assert_eq!(decide_offline(&e, &p).kind, Kind::Notify);
    // Switching them on is not a weakening.
    let mut raw = load("aws.cloudtrail-UpdateTrail-no-global-events.json");
    raw["detail"]["requestParameters"]["includeGlobalServiceEvents"] = json!(true);
    assert_eq!(decide(&raw).kind, Kind::Ignore);
}
