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

// ---- security-group rules from a managed prefix list ----

fn world() -> trailguard_rules::facts::World {
    serde_json::from_value(load("meta/world.json")).unwrap()
}

/// Decide as the function does, answering from the samples' world; also the facts asked.
fn decide_online(
    guard: &str,
    raw: &Value,
    world: &trailguard_rules::facts::World,
) -> (trailguard_rules::Decision, Vec<Value>) {
    use trailguard_rules::ask::{self, Ask};
    use trailguard_rules::{decide_guard, Decider, Facts, Guard};
    let guard = Guard::from_function_name(guard).unwrap();
    let event = Event::parse(raw).unwrap();
    let policy = policy();
    let mut ask = Ask::new(Facts::default());
    let decide = |facts: &Facts| decide_guard(Decider::of(guard).unwrap(), &event, &policy, facts);
    let d = ask::settle_in(world, &mut ask, decide).unwrap_or_else(|s| panic!("{s}"));
    let asked = ask
        .asked()
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    (d, asked)
}

fn prefix_list_rule(list: &str, port: i64) -> Value {
    let mut raw = load("aws.ec2-AuthorizeSecurityGroupIngress-prefix-list-public.json");
    let rp = &mut raw["detail"]["requestParameters"]["ipPermissions"]["items"][0];
    rp["fromPort"] = json!(port);
    rp["toPort"] = json!(port);
    rp["prefixListIds"]["items"][0]["prefixListId"] = json!(list);
    let rule = &mut raw["detail"]["responseElements"]["securityGroupRuleSet"]["items"][0];
    rule["fromPort"] = json!(port);
    rule["toPort"] = json!(port);
    rule["prefixListId"] = json!(list);
    raw
}

#[test]
fn a_rule_from_a_prefix_list_holding_the_internet_is_revoked_by_rule_id() {
    let raw = load("aws.ec2-AuthorizeSecurityGroupIngress-prefix-list-public.json");
    let (d, asked) = decide_online("revert-security-group", &raw, &world());
    assert_eq!(d.kind, Kind::Remediate, "{d:?}");
    assert_eq!(
        serde_json::to_value(&d.actions).unwrap(),
        json!([{"type": "revoke_security_group_rules", "group_id": "sg-0a1b2c3d4e5f60789",
                "egress": false, "rule_ids": ["sgr-0d4c3b2a19f8e7d61"]}])
    );
    assert!(d.reason.contains("0.0.0.0/0"), "{}", d.reason);
    assert!(
        asked.contains(&json!({"fact": "prefix_list", "prefix_list_id": "pl-0f1e2d3c4b5a69788"}))
    );
    // Offline the list is assumed absent (nothing public), and the decision says so.
    let e = Event::parse(&raw).unwrap();
    let offline = decide_offline(&e, &policy());
    assert_eq!(offline.kind, Kind::Ignore);
    assert!(serde_json::to_value(&offline.assumed)
        .unwrap()
        .as_array()
        .unwrap()
        .contains(&json!({"fact": "prefix_list", "prefix_list_id": "pl-0f1e2d3c4b5a69788"})));
}

#[test]
fn prefix_lists_that_are_not_public_or_do_not_matter_are_left_alone() {
    let w = world();
    // AWS-managed (by owner, and by name alone).
    let raw = load("aws.ec2-AuthorizeSecurityGroupIngress-prefix-list-aws-managed.json");
    assert_eq!(
        decide_online("revert-security-group", &raw, &w).0.kind,
        Kind::Ignore
    );
    let mut by_name = w.clone();
    let list = by_name
        .prefix_lists
        .get_mut("pl-0f1e2d3c4b5a69788")
        .unwrap();
    list.owner_id = None;
    list.name = Some("com.amazonaws.us-east-1.s3".into());
    let public = load("aws.ec2-AuthorizeSecurityGroupIngress-prefix-list-public.json");
    assert_eq!(
        decide_online("revert-security-group", &public, &by_name)
            .0
            .kind,
        Kind::Ignore
    );
    // A customer list of narrow ranges only; a list that does not exist.
    for list in ["pl-0a0b0c0d0e0f01234", "pl-0999999999999999f"] {
        let (d, _) = decide_online("revert-security-group", &prefix_list_rule(list, 22), &w);
        assert_eq!(d.kind, Kind::Ignore, "{list}: {d:?}");
    }
    // A port the policy allows to the internet: the list is not even looked up.
    let (d, asked) = decide_online(
        "revert-security-group",
        &prefix_list_rule("pl-0f1e2d3c4b5a69788", 443),
        &w,
    );
    assert_eq!(d.kind, Kind::Ignore, "{d:?}");
    assert!(
        !asked.iter().any(|a| a["fact"] == "prefix_list"),
        "{asked:?}"
    );
    // An IPv6 world entry counts as well.
    let mut v6 = w.clone();
    v6.prefix_lists
        .get_mut("pl-0a0b0c0d0e0f01234")
        .unwrap()
        .cidrs
        .push("::/0".into());
    let (d, _) = decide_online(
        "revert-security-group",
        &prefix_list_rule("pl-0a0b0c0d0e0f01234", 3389),
        &v6,
    );
    assert_eq!(d.kind, Kind::Remediate, "{d:?}");
}

// ---- blinding: GuardDuty archive filters, trailguard's own EventBridge rules ----

fn told(raw: &Value) -> Option<(String, String)> {
    let d = decide(raw);
    let notice = d.notice.as_ref()?;
    assert_eq!(d.kind, Kind::Notify, "{d:?}");
    Some((
        serde_json::to_value(notice.severity)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string(),
        notice.title.clone(),
    ))
}

#[test]
fn archive_filters_are_told_and_saved_views_are_not() {
    let (severity, title) = told(&load("aws.guardduty-CreateFilter-archive.json")).unwrap();
    assert_eq!(severity, "high");
    assert!(title.contains("suppress-noise"), "{title}");
    assert_eq!(
        told(&load("aws.guardduty-CreateFilter-noarchive.json")),
        None
    );
    // UpdateFilter names the filter as filterName, and turning a view into an archive rule counts.
    let mut raw = load("aws.guardduty-CreateFilter-noarchive.json");
    raw["detail"]["eventName"] = json!("UpdateFilter");
    let rp = raw["detail"]["requestParameters"].as_object_mut().unwrap();
    rp.remove("name");
    rp.insert("filterName".into(), json!("saved-view-high"));
    rp.insert("action".into(), json!("archive"));
    let (_, title) = told(&raw).unwrap();
    assert!(title.contains("saved-view-high"), "{title}");
}

#[test]
fn trailguards_own_rules_disabled_deleted_or_emptied_are_told() {
    for fixture in [
        "aws.events-DisableRule-trailguard-rule.json",
        "aws.events-DeleteRule-member-forwarding.json",
    ] {
        let (severity, title) = told(&load(fixture)).unwrap_or_else(|| panic!("{fixture}"));
        assert_eq!(severity, "high", "{fixture}");
        assert!(title.contains("trailguard's EventBridge rule"), "{title}");
    }
    assert_eq!(
        told(&load("aws.events-RemoveTargets-other-rule.json")),
        None
    );
    // Someone else's rule, by a name CloudFormation gave it under another stack.
    let mut raw = load("aws.events-DisableRule-trailguard-rule.json");
    raw["detail"]["requestParameters"]["name"] = json!("billing-NightlyReportRule-1A2B3C4D5E6F");
    assert_eq!(told(&raw), None);
    // A stack deployed under another name: the logical id's start is in the rule's name.
    raw["detail"]["requestParameters"]["name"] =
        json!("secops-GuardCloudTrailFunctionCloudTrailChan-0Z9Y8X7W6V5U");
    assert!(told(&raw).is_some());
    // Targets removed from a rule named otherwise, when the target is a trailguard function.
    let mut raw = load("aws.events-RemoveTargets-other-rule.json");
    raw["detail"]["requestParameters"]["ids"] = json!(["disable-compromised-key"]);
    assert!(told(&raw).is_some());
    // PutRule: disabling is told; an enabled rewrite is told unless CloudFormation made it.
    let mut raw = load("aws.events-DisableRule-trailguard-rule.json");
    raw["detail"]["eventName"] = json!("PutRule");
    raw["detail"]["requestParameters"]["state"] = json!("DISABLED");
    assert!(told(&raw).unwrap().1.contains("disabled"));
    raw["detail"]["requestParameters"]["state"] = json!("ENABLED");
    raw["detail"]["requestParameters"]["eventPattern"] = json!("{\"source\":[\"nothing\"]}");
    assert!(told(&raw).unwrap().1.contains("rewritten"));
    raw["detail"]["userIdentity"]["invokedBy"] = json!("cloudformation.amazonaws.com");
    assert_eq!(told(&raw), None);
}

// ---- ModifyManagedPrefixList ----

#[test]
fn public_entries_added_to_a_prefix_list_are_taken_out_exactly() {
    let raw = load("aws.ec2-ModifyManagedPrefixList-add-world.json");
    let d = decide(&raw);
    assert_eq!(d.kind, Kind::Remediate, "{d:?}");
    assert_eq!(
        serde_json::to_value(&d.actions).unwrap(),
        json!([{"type": "remove_prefix_list_entries", "prefix_list_id": "pl-0a0b0c0d0e0f01234",
                "cidrs": ["0.0.0.0/0"], "previous_version": 3}])
    );
    assert_eq!(
        decide(&load("aws.ec2-ModifyManagedPrefixList-add-office.json")).kind,
        Kind::Ignore
    );
    // Several entries (lower-case keys): only the public ones; IPv6 too.
    let mut several = raw.clone();
    let req = &mut several["detail"]["requestParameters"]["ModifyManagedPrefixListRequest"];
    req["AddEntry"] = json!([{"cidr": "192.0.2.0/28"}, {"cidr": "::/0"}, {"cidr": "0.0.0.0/1"}]);
    assert_eq!(
        serde_json::to_value(&decide(&several).actions).unwrap()[0]["cidrs"],
        json!(["::/0", "0.0.0.0/1"])
    );
    // Without CurrentVersion, the version before the response's.
    let mut no_request_version = raw.clone();
    no_request_version["detail"]["requestParameters"]["ModifyManagedPrefixListRequest"]
        .as_object_mut()
        .unwrap()
        .remove("CurrentVersion");
    assert_eq!(
        serde_json::to_value(&decide(&no_request_version).actions).unwrap()[0]["previous_version"],
        json!(3)
    );
    // With neither, what the list held before cannot be told: people are told instead.
    let mut unknown = no_request_version;
    unknown["detail"]["responseElements"] = Value::Null;
    let d = decide(&unknown);
    assert_eq!(d.kind, Kind::Notify, "{d:?}");
    assert!(d.actions.is_empty());
}

// ---- ReplaceNetworkAclAssociation ----

#[test]
fn a_subnet_moved_to_an_open_acl_is_told_not_reverted() {
    let w = world();
    let (d, asked) = decide_online(
        "revert-network-acl",
        &load("aws.ec2-ReplaceNetworkAclAssociation-open-acl.json"),
        &w,
    );
    assert_eq!(d.kind, Kind::Notify, "{d:?}");
    assert!(d.actions.is_empty());
    assert_eq!(
        asked,
        [json!({"fact": "network_acl_state", "network_acl_id": "acl-0f0e0d0c0b0a09081"})]
    );
    let notice = d.notice.unwrap();
    assert!(
        notice
            .details
            .iter()
            .any(|l| l.contains("rule 100: all traffic") && l.contains("0.0.0.0/0")),
        "{:?}",
        notice.details
    );
    let (d, _) = decide_online(
        "revert-network-acl",
        &load("aws.ec2-ReplaceNetworkAclAssociation-restricted-acl.json"),
        &w,
    );
    assert_eq!(d.kind, Kind::Ignore, "{d:?}");
    // An allow shadowed by a lower-numbered deny of everything lets nothing in.
    let mut shadowed = w.clone();
    let acl = shadowed
        .acl_states
        .get_mut("acl-0f0e0d0c0b0a09081")
        .unwrap();
    let mut deny = acl.entries[2].clone();
    deny.rule_number = 50;
    acl.entries.push(deny);
    let (d, _) = decide_online(
        "revert-network-acl",
        &load("aws.ec2-ReplaceNetworkAclAssociation-open-acl.json"),
        &shadowed,
    );
    assert_eq!(d.kind, Kind::Ignore, "{d:?}");
    // Offline the entries are assumed absent, and listed.
    let e = Event::parse(&load("aws.ec2-ReplaceNetworkAclAssociation-open-acl.json")).unwrap();
    let offline = decide_offline(&e, &policy());
    assert_eq!(offline.kind, Kind::Ignore);
    assert_eq!(
        serde_json::to_value(&offline.assumed).unwrap(),
        json!([{"fact": "network_acl_state", "network_acl_id": "acl-0f0e0d0c0b0a09081"}])
    );
}
