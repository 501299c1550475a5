//! Every sample in events/ through one `check(fixture, expected)` helper, against the policy
//! the samples are written for (events/meta/policy.json); every sample also round-trips through
//! serde. The expectations live in events/meta/manifest.json, which the template pattern test
//! reads too.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use trailguard_rules::event::{CloudTrailRecord, Envelope};
use trailguard_rules::{decide_offline, Event, Policy};

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn load(name: &str) -> Value {
    let text =
        std::fs::read_to_string(events_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn sample_policy() -> Policy {
    let text = std::fs::read_to_string(events_dir().join("meta/policy.json")).unwrap();
    Policy::from_json(&text).unwrap()
}

#[derive(serde::Deserialize)]
struct Expected {
    decision: String,
    actions: Vec<String>,
}

fn check(fixture: &str, expected: &Expected, policy: &Policy) {
    let raw = load(fixture);
    let event = Event::parse(&raw).unwrap_or_else(|e| panic!("{fixture}: does not parse: {e}"));
    let d = decide_offline(&event, policy);
    let json = d.to_json(Some(&event));
    assert_eq!(
        json["decision"],
        expected.decision.as_str(),
        "{fixture}: {}",
        serde_json::to_string_pretty(&json).unwrap()
    );
    let types: Vec<&str> = d.actions.iter().map(|a| a.type_name()).collect();
    assert_eq!(
        types,
        expected.actions,
        "{fixture}: {}",
        serde_json::to_string_pretty(&json).unwrap()
    );
    assert!(
        !d.reason.is_empty(),
        "{fixture}: every decision gives a reason"
    );
    for a in &d.actions {
        assert!(
            !a.iam_actions().is_empty(),
            "{fixture}: {a:?} declares no IAM action"
        );
    }
    if expected.decision != "ignore" {
        assert!(
            d.notice.is_some(),
            "{fixture}: acting or notifying always tells people"
        );
    }
    round_trip(fixture, &raw);
}

/// Parse, serialise, parse again: the typed model must be stable.
fn round_trip(fixture: &str, raw: &Value) {
    let env: Envelope = serde_json::from_value(raw.clone()).unwrap();
    let again: Envelope = serde_json::from_value(serde_json::to_value(&env).unwrap()).unwrap();
    assert_eq!(env, again, "{fixture}: envelope round trip");
    if let Some(r) = Event::parse(raw).unwrap().cloudtrail() {
        let back: CloudTrailRecord =
            serde_json::from_value(serde_json::to_value(r).unwrap()).unwrap();
        assert_eq!(r, &back, "{fixture}: CloudTrail record round trip");
    }
}

#[test]
fn every_sample_decides_as_its_manifest_says() {
    let manifest: BTreeMap<String, Expected> =
        serde_json::from_value(load("meta/manifest.json")).unwrap();
    let policy = sample_policy();
    for (fixture, expected) in &manifest {
        check(fixture, expected, &policy);
    }
    // Every sample is in the manifest, and there are enough of them.
    let on_disk: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    for f in &on_disk {
        assert!(
            manifest.contains_key(f),
            "{f} is not in events/meta/manifest.json"
        );
    }
    assert!(manifest.len() >= 40, "only {} samples", manifest.len());
}

#[test]
fn the_open_ssh_sample_revokes_exactly_the_ssh_rule() {
    let event = Event::parse(&load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json")).unwrap();
    let d = decide_offline(&event, &Policy::default());
    let json = d.to_json(Some(&event));
    assert_eq!(
        json["actions"][0]["rule_ids"],
        serde_json::json!(["sgr-0aa11bb22cc33dd44"])
    );
    assert_eq!(json["actions"][0]["group_id"], "sg-0a1b2c3d4e5f60789");
    assert_eq!(
        json["actions"][0]["iam_actions"],
        serde_json::json!(["ec2:RevokeSecurityGroupIngress"])
    );
    assert_eq!(json["event"]["source_ip"], "203.0.113.45");
    // Offline, the group's tags are unknown: the decision says it assumed none.
    assert_eq!(json["assumed_absent"][0]["fact"], "security_group");
}

#[test]
fn the_legacy_flat_form_is_revoked_by_permission() {
    let event = Event::parse(&load(
        "aws.ec2-AuthorizeSecurityGroupIngress-legacy-flat-form.json",
    ))
    .unwrap();
    let d = decide_offline(&event, &Policy::default());
    let a = &d.to_json(Some(&event))["actions"][0];
    assert_eq!(
        a["permissions"],
        serde_json::json!([{"protocol": "tcp", "from_port": 3389, "to_port": 3389, "cidr_ipv4": "0.0.0.0/0"}])
    );
}

#[test]
fn non_iso_and_numeric_shapes_are_normalised() {
    let event = Event::parse(&load(
        "aws.ec2-AuthorizeSecurityGroupIngress-split-world-numeric-account.json",
    ))
    .unwrap();
    let json = decide_offline(&event, &Policy::default()).to_json(Some(&event));
    assert_eq!(json["event"]["account"], "123456789012");
    assert_eq!(json["event"]["time"], "2026-11-20T10:15:30Z");
    let h = Event::parse(&load(
        "aws.health-AWS_RISK_CREDENTIALS_COMPROMISED-org-view.json",
    ))
    .unwrap();
    assert_eq!(h.account(), Some("123456789012"));
}

#[test]
fn policy_knobs_change_decisions() {
    // The default policy has no honeytokens, no trusted networks and no exempt principals.
    let def = Policy::default();
    for (fixture, decision) in [
        ("aws.iam-ListUsers-honeytoken.json", "ignore"),
        ("aws.ec2-DescribeInstances-untrusted-network.json", "ignore"),
        (
            "aws.ec2-AuthorizeSecurityGroupIngress-exempt-principal.json",
            "remediate",
        ),
        (
            "aws.ec2-AuthorizeSecurityGroupEgress-protected-group.json",
            "ignore",
        ),
    ] {
        let e = Event::parse(&load(fixture)).unwrap();
        assert_eq!(
            decide_offline(&e, &def).to_json(Some(&e))["decision"],
            decision,
            "{fixture} under the default policy"
        );
    }
    // Dry-run is carried on the decision; the plan is the same.
    let dry = sample_policy().with_mode_override(trailguard_rules::Mode::DryRun);
    let e = Event::parse(&load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json")).unwrap();
    let d = decide_offline(&e, &dry);
    assert_eq!(d.mode, trailguard_rules::Mode::DryRun);
    assert_eq!(d.actions.len(), 1);
    // Egress denied by policy.
    let p = Policy::from_json(r#"{"egress_denied_ports": ["tcp/25"]}"#).unwrap();
    let mut raw = load("aws.ec2-AuthorizeSecurityGroupEgress-protected-group.json");
    raw["detail"]["requestParameters"]["groupId"] = "sg-0123".into();
    raw["detail"]["responseElements"]["securityGroupRuleSet"]["items"][0]["groupId"] =
        "sg-0123".into();
    let e = Event::parse(&raw).unwrap();
    assert_eq!(
        decide_offline(&e, &p).kind,
        trailguard_rules::Kind::Remediate
    );
}
