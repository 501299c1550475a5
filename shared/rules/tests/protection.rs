//! Issue 22, attack 2 and the tag findings: trailguard must not open a protected group
//! because a revoke named a rule, must not protect a group because a DeleteTags named the
//! protection, and must take back exemptions given at creation. Crafted variants of the
//! samples, decided by the guard that receives them.

use std::path::PathBuf;

use serde_json::{json, Value};
use trailguard_rules::ask::{self, Ask};
use trailguard_rules::facts::World;
use trailguard_rules::{
    decide_guard, Action, Decider, Decision, Event, Facts, Guard, Kind, Policy,
};

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn policy() -> Policy {
    Policy::from_json(&load("meta/policy.json").to_string()).unwrap()
}

/// Decide as the function would, answering lookups from the samples' world.
fn decide(function: &str, ev: &Value) -> Decision {
    let guard = Guard::from_function_name(function).unwrap();
    let event = Event::parse(ev).unwrap();
    let world: World = serde_json::from_value(load("meta/world.json")).unwrap();
    let policy = policy();
    let decide = |facts: &Facts| decide_guard(Decider::of(guard).unwrap(), &event, &policy, facts);
    ask::settle_in(&world, &mut Ask::new(Facts::default()), decide)
        .unwrap_or_else(|s| panic!("{function}: {s}"))
}

fn with(sample: &str, request: Value, response: Value) -> Value {
    let mut ev = load(sample);
    ev["detail"]["requestParameters"] = request;
    ev["detail"]["responseElements"] = response;
    ev
}

const PROTECTED: &str = "sg-0b1a2c3d4e5f60718";
const REVOKE: &str = "aws.ec2-RevokeSecurityGroupIngress-protected-group.json";

fn perms(proto: &str, port: Option<i64>, cidr: &str) -> Value {
    let mut p = json!({"ipProtocol": proto, "ipRanges": {"items": [{"cidrIp": cidr}]}});
    if let Some(port) = port {
        p["fromPort"] = json!(port);
        p["toPort"] = json!(port);
    }
    json!({"items": [p]})
}

fn revoked(egress: bool, proto: &str, port: i64, cidr: &str) -> Value {
    json!({"groupId": PROTECTED, "securityGroupRuleId": "sgr-0123456789abcdef0", "isEgress": egress,
           "ipProtocol": proto, "fromPort": port, "toPort": port, "cidrIpv4": cidr})
}

fn authorised(d: &Decision) -> Vec<Value> {
    d.actions
        .iter()
        .filter(|a| matches!(a, Action::AuthorizeSecurityGroupPermissions(_)))
        .map(|a| serde_json::to_value(a).unwrap())
        .collect()
}

#[test]
fn a_revoke_of_a_rule_the_group_never_had_authorises_nothing() {
    let all = perms("-1", None, "0.0.0.0/0");
    // However the response says it: unknown permissions, `return`/`_return`, an empty
    // revoked list, or no response at all.
    for response in [
        json!({"_return": true, "unknownIpPermissionSet": all}),
        json!({"return": true, "unknownIpPermissionSet": all, "revokedSecurityGroupRuleSet": {}}),
        json!({"_return": true, "revokedSecurityGroupRuleSet": {"items": []}}),
        json!({"_return": true}),
        Value::Null,
    ] {
        let ev = with(
            REVOKE,
            json!({"groupId": PROTECTED, "ipPermissions": all}),
            response.clone(),
        );
        let d = decide("revert-security-group", &ev);
        assert!(authorised(&d).is_empty(), "{response}: {d:?}");
        assert_eq!(d.kind, Kind::Notify, "{response}: {d:?}");
    }
}

#[test]
fn only_the_rules_the_response_says_were_removed_come_back() {
    // The request names two permissions; EC2 removed one and did not know the other.
    let ev = with(
        REVOKE,
        json!({"groupId": PROTECTED, "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "10.20.0.0/16"}]}},
            {"ipProtocol": "-1", "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
        json!({"_return": true,
               "unknownIpPermissionSet": perms("-1", None, "0.0.0.0/0"),
               "revokedSecurityGroupRuleSet": {"items": [revoked(false, "tcp", 443, "10.20.0.0/16")]}}),
    );
    let d = decide("revert-security-group", &ev);
    assert_eq!(d.kind, Kind::Remediate, "{d:?}");
    let plan = authorised(&d);
    assert_eq!(plan.len(), 1, "{d:?}");
    assert_eq!(
        plan[0]["permissions"],
        json!([{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_ipv4": "10.20.0.0/16"}])
    );
    assert_eq!(plan[0]["egress"], false);
}

#[test]
fn a_removed_rule_the_policy_reverts_is_not_put_back() {
    // World-open SSH, and world-open HTTPS (allowed on ordinary groups, but on a protected
    // group the sweep revokes every public rule): neither comes back.
    for (proto, port) in [("tcp", 22), ("tcp", 443)] {
        let ev = with(
            REVOKE,
            json!({"groupId": PROTECTED, "ipPermissions": perms(proto, Some(port), "0.0.0.0/0")}),
            json!({"_return": true, "revokedSecurityGroupRuleSet": {"items": [revoked(false, proto, port, "0.0.0.0/0")]}}),
        );
        let d = decide("revert-security-group", &ev);
        assert!(authorised(&d).is_empty(), "{port}: {d:?}");
        assert_eq!(d.kind, Kind::Notify);
    }
}

#[test]
fn an_egress_revoke_restores_by_the_response_and_its_direction() {
    let mut ev = with(
        REVOKE,
        json!({"groupId": PROTECTED, "ipPermissions": perms("tcp", Some(5432), "10.30.0.0/16")}),
        json!({"_return": true, "revokedSecurityGroupRuleSet": {"items": [revoked(true, "tcp", 5432, "10.30.0.0/16")]}}),
    );
    ev["detail"]["eventName"] = json!("RevokeSecurityGroupEgress");
    let d = decide("revert-security-group", &ev);
    let plan = authorised(&d);
    assert_eq!(plan.len(), 1, "{d:?}");
    assert_eq!(plan[0]["egress"], true);
    // A rule of another group in the response is not this group's to restore.
    let mut other = revoked(false, "tcp", 443, "10.20.0.0/16");
    other["groupId"] = json!("sg-0c3d4e5f6a7b8c9d0");
    let ev = with(
        REVOKE,
        json!({"groupId": PROTECTED, "ipPermissions": perms("tcp", Some(443), "10.20.0.0/16")}),
        json!({"_return": true, "revokedSecurityGroupRuleSet": {"items": [other]}}),
    );
    assert!(authorised(&decide("revert-security-group", &ev)).is_empty());
}

const DELETE: &str = "aws.ec2-DeleteTags-protected-removed.json";

#[test]
fn deleting_the_protection_never_adds_it() {
    let groups =
        json!({"items": [{"resourceId": "sg-0a1b2c3d4e5f60789"}, {"resourceId": PROTECTED}]});
    for tag_set in [
        Some(json!({"items": [{"key": "trailguard:protected"}]})),
        Some(json!({"items": [{"key": "trailguard:protected", "value": "true"}]})),
        Some(json!({"items": [{"key": "trailguard:protected", "value": "TRUE"}]})),
        Some(json!({})),
        None,
    ] {
        let mut request = json!({"resourcesSet": groups});
        if let Some(t) = &tag_set {
            request["tagSet"] = t.clone();
        }
        let ev = with(DELETE, request, json!({"_return": true}));
        let d = decide("guard-tags", &ev);
        // guard-tags has no action that adds a tag at all.
        assert!(d.actions.is_empty(), "{tag_set:?}: {d:?}");
        assert_eq!(d.kind, Kind::Notify, "{tag_set:?}: {d:?}");
        let notice = d.notice.as_ref().unwrap();
        assert!(
            notice.details.iter().any(|l| l.starts_with("not put back")),
            "{notice:?}"
        );
    }
}

#[test]
fn exemptions_given_at_creation_come_off_unless_a_tag_admin_gave_them() {
    for (sample, function, id) in [
        (
            "aws.ec2-CreateSecurityGroup-exempt-tag-spec.json",
            "guard-tags",
            "sg-0e5f6a7b8c9d0e1f2",
        ),
        (
            "aws.ec2-RunInstances-exempt-tag-spec.json",
            "guard-tags",
            "i-0a1b2c3d4e5f60718",
        ),
        (
            "aws.iam-CreateRole-exempt-tag.json",
            "guard-tags",
            "partner-integration",
        ),
    ] {
        let ev = load(sample);
        let d = decide(function, &ev);
        assert_eq!(d.kind, Kind::Remediate, "{sample}: {d:?}");
        let plan = serde_json::to_value(&d.actions).unwrap();
        assert!(plan.to_string().contains(id), "{sample}: {plan}");
        assert!(
            plan.to_string().contains("trailguard:exempt"),
            "{sample}: {plan}"
        );
        // The same call by a tag admin is told, and nothing is taken back.
        let mut by_admin = ev.clone();
        by_admin["detail"]["userIdentity"] =
            load("aws.ec2-CreateTags-exempt-by-tag-admin.json")["detail"]["userIdentity"].clone();
        let d = decide(function, &by_admin);
        assert_eq!(d.kind, Kind::Notify, "{sample} by a tag admin: {d:?}");
        assert!(d.actions.is_empty());
    }
    // An exempt tag set to false, or another trailguard tag, is not an exemption.
    let mut ev = load("aws.ec2-CreateSecurityGroup-exempt-tag-spec.json");
    ev["detail"]["requestParameters"]["tagSpecificationSet"]["items"][0]["tags"] = json!([{"key": "trailguard:exempt", "value": "false"}, {"key": "trailguard:protected", "value": "true"}]);
    assert_eq!(decide("guard-tags", &ev).kind, Kind::Ignore);
}
