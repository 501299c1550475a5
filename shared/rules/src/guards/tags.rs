//! trailguard's own tags: an exemption (`trailguard:exempt`) added by a principal outside
//! the policy's `tag_admins` is taken back, because otherwise anyone allowed to tag could
//! switch trailguard off for a resource and then open it: by `CreateTags`/`TagRole`, and by
//! the tags a resource is created with (`CreateSecurityGroup`, `RunInstances`, `CreateRole`).
//! A protection (`trailguard:protected`) removed, by name or by a `DeleteTags` with no tag
//! list (which removes every tag), is told and never put back: see [`UNPROVEN`].
//! A tag admin's change is told, not reverted. Changes that make protection stronger (an
//! exemption removed, a protection added) are none of its business.

use std::sync::OnceLock;

use serde_json::Value;

use crate::action::{Action, Notice, RemoveTag, Severity, UntagRole};
use crate::decision::{Decision, Verdict};
use crate::event::{CloudTrailRecord, Event};
use crate::facts::Facts;
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::{items, items_any, scalar_string, str_any};

/// The resource kinds whose `trailguard:protected` tag a guard reads (security groups and
/// network ACLs): removing every tag from anything else removes no protection.
const PROTECTABLE: [&str; 2] = ["sg-", "acl-"];

/// Why a removed protection is told and never put back. A DeleteTags record does not say
/// whether the tag was there: DeleteTags succeeds on resources that never had it, and a
/// value named in the request (`Value=true`) is the caller's choice, not EC2's answer, so it
/// proves nothing either. A lookup now shows only that the tag is absent, which it is either
/// way. Putting back a tag that was never there would add protection the owners never chose,
/// and the sweep would then revoke every public rule of the group, the ports the policy
/// allows included: an outage anyone allowed to call DeleteTags could cause. Losing a
/// protection leaves the policy's own rules in force (an open port is still reverted); a
/// person who knows which resources were protected restores it.
pub const UNPROVEN: &str = "not put back: the DeleteTags record does not show the tag was there (DeleteTags succeeds without it, and a value in the request is the caller's), and protecting a resource that was not protected would revoke its allowed public rules too";
use crate::policy::Policy;

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[&RemoveTag::INFO, &UntagRole::INFO];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "tags",
    function: "guard-tags",
    summary: "Takes back trailguard exemptions granted by anyone but the tag admins, and tells protections removed.",
    triggers: &[
        Trigger {
            rule: "TagChange",
            pattern: r#"{
                "source": ["aws.ec2"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["ec2.amazonaws.com"],
                    "eventName": ["CreateTags", "DeleteTags"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "requestParameters": {"tagSet": {"items": {"key": [{"prefix": "trailguard:"}]}}}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // `DeleteTags` with no tag list removes every tag, trailguard's included; its record
        // has no tag key to match on, hence a rule of its own.
        Trigger {
            rule: "AllTagsDeleted",
            pattern: r#"{
                "source": ["aws.ec2"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["ec2.amazonaws.com"],
                    "eventName": ["DeleteTags"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "requestParameters": {"tagSet": {"items": {"key": [{"exists": false}]}}}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // Resources created with trailguard's tags (tag specifications): the exemption comes
        // with the resource, and no CreateTags is recorded for it.
        Trigger {
            rule: "TaggedAtCreation",
            pattern: r#"{
                "source": ["aws.ec2"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["ec2.amazonaws.com"],
                    "eventName": ["CreateSecurityGroup", "RunInstances"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "requestParameters": {"tagSpecificationSet": {"items": {"tags": {"key": [{"prefix": "trailguard:"}]}}}}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        Trigger {
            rule: "RoleTagChange",
            pattern: r#"{
                "source": ["aws.iam"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["iam.amazonaws.com"],
                    "eventName": ["TagRole", "CreateRole"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "requestParameters": {"tags": {"key": [{"prefix": "trailguard:"}]}}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
    ],
    facts: &[],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 50,
    sweeps: &[],
    settings: None,
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: None,
};

/// A tag as the request names it: key, and the value when given.
fn tags(rp: &Value) -> Vec<(String, Option<String>)> {
    let list = match rp.get("tagSet").or_else(|| rp.get("TagSet")) {
        Some(set) => items(set),
        None => items_any(rp, &["tags", "Tags"]),
    };
    list.into_iter()
        .filter_map(|t| {
            let key = str_any(t, &["key", "Key"])?;
            Some((key, str_any(t, &["value", "Value"])))
        })
        .collect()
}

fn resources(rp: &Value) -> Vec<String> {
    let set = rp
        .get("resourcesSet")
        .or_else(|| rp.get("ResourcesSet"))
        .or_else(|| rp.get("resourceIdSet"));
    let mut out: Vec<String> = Vec::new();
    for r in set.map(items).unwrap_or_default() {
        if let Some(id) = str_any(r, &["resourceId", "ResourceId"]).or_else(|| scalar_string(r)) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

pub(crate) fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1"))
}

/// The tags a create call's tag specifications give: (resource type, key, value).
fn tag_specifications(rp: &Value) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for spec in items_any(rp, &["tagSpecificationSet", "TagSpecification", "TagSpecifications"]) {
        let kind = str_any(spec, &["resourceType", "ResourceType"]).unwrap_or_default();
        for t in items_any(spec, &["tags", "Tags", "tag", "Tag", "tagSet"]) {
            if let Some(key) = str_any(t, &["key", "Key"]) {
                out.push((kind.clone(), key, str_any(t, &["value", "Value"])));
            }
        }
    }
    out
}

/// The ids of the resources of `kind` a create call's response names (security group,
/// instances); empty for kinds the response does not name (volumes, interfaces, ...).
fn created_ids(name: &str, kind: &str, resp: &Value) -> Vec<String> {
    match (name, kind) {
        ("CreateSecurityGroup", "security-group" | "") => {
            str_any(resp, &["groupId", "GroupId"]).into_iter().collect()
        }
        ("RunInstances", "instance") => items_any(resp, &["instancesSet", "Instances"])
            .into_iter()
            .filter_map(|i| str_any(i, &["instanceId", "InstanceId"]))
            .collect(),
        _ => vec![],
    }
}

/// The tags one field of a request gives, in any of the shapes AWS's APIs write them: a
/// list of `{key, value}` (`Key`/`Value`, KMS's `TagKey`/`TagValue`), S3's
/// `{TagSet: {Tag: [...]}}`, or a map of key to value (SQS's `tags`).
pub(crate) fn given_tags(v: &Value) -> Vec<(String, Option<String>)> {
    if let Some(set) = v.get("TagSet").or_else(|| v.get("tagSet")) {
        let tags = set.get("Tag").or_else(|| set.get("tag")).unwrap_or(set);
        return given_tags(tags);
    }
    const KEY: [&str; 4] = ["key", "Key", "TagKey", "tagKey"];
    const VALUE: [&str; 4] = ["value", "Value", "TagValue", "tagValue"];
    let pair = |t: &Value| Some((str_any(t, &KEY)?, str_any(t, &VALUE)));
    match v {
        Value::Array(list) => list.iter().filter_map(pair).collect(),
        // One `{key, value}` only when it has no other field: a map of tags may hold a tag
        // named `key` (`{"key": "x", "trailguard:exempt": "true"}`), and reading it as one
        // pair would hide the exemption.
        Value::Object(map)
            if map
                .keys()
                .all(|k| KEY.contains(&k.as_str()) || VALUE.contains(&k.as_str())) =>
        {
            pair(v).into_iter().collect()
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), scalar_string(v)))
            .collect(),
        _ => vec![],
    }
}

/// An exemption given to a resource another guard watches (a bucket, a database, a queue,
/// ...): the tag call, or the tags a create call gives. That guard honours the exemption tag,
/// so an exemption from anyone but a tag admin would be an off switch for it: taken back with
/// `untag(key)` (the guard's own action type, on its own service's client), and people are
/// told. A tag admin's exemption is told, not taken back. None when the call gives no
/// exemption (another tag, the exemption set to false).
pub(crate) fn exemption_given(
    r: &CloudTrailRecord,
    policy: &Policy,
    given: &[(String, Option<String>)],
    resource: &str,
    untag: impl FnOnce(String) -> Action,
) -> Option<Decision> {
    let exempt = policy.exempt_tag.as_str();
    let (key, value) = given
        .iter()
        .find(|(k, v)| !exempt.is_empty() && k == exempt && truthy(v.as_deref()))?;
    let name = r.event_name.get().unwrap_or_default();
    let caller = &r.user_identity;
    let what = format!(
        "{key}={} given to {resource} by {name}",
        value.as_deref().unwrap_or("")
    );
    let by = format!(
        "by {} from {}",
        caller.display(),
        r.source_ip_address.get().unwrap_or("?")
    );
    if let Some(p) = policy.is_tag_admin(&caller.arns()) {
        return Some(Decision::notify(
            format!("{what}, by tag admin {}", caller.display()),
            Notice {
                severity: Severity::Medium,
                title: format!("{resource} exempted from trailguard by a tag admin"),
                details: vec![what, by, format!("a tag admin (`{p}`): left as it is")],
            },
        ));
    }
    Some(Decision::remediate(
        format!("{what}, by {}, who is not in tag_admins", caller.display()),
        vec![untag(key.clone())],
        Notice {
            severity: Severity::High,
            title: format!(
                "trailguard exemption of {resource} taken back: {} is not a tag admin",
                caller.display()
            ),
            details: vec![
                what,
                by,
                "only a principal in tag_admins may exempt a resource from trailguard".into(),
            ],
        },
    ))
}

pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    if let Some(d) = super::preamble(r, policy, facts) {
        return Verdict::Decided(d);
    }
    let name = r.event_name.get().unwrap_or_default();
    let rp = &r.request_parameters;
    let (exempt, protected) = (policy.exempt_tag.as_str(), policy.protected_tag.as_str());
    let changed = tags(rp);
    // What weakens protection, and the action that takes it back.
    let mut weakened: Vec<String> = Vec::new();
    let mut actions: Vec<Action> = Vec::new();
    // Weakened, but what was there before is not in the event: told only.
    let mut unknown_before: Vec<String> = Vec::new();
    // A protection removed: told, never put back (`UNPROVEN`).
    let mut unproven: Vec<String> = Vec::new();
    match name {
        "CreateTags" | "DeleteTags" => {
            let ids = resources(rp);
            if ids.is_empty() {
                return Verdict::Decided(Decision::ignore(format!("{name} names no resource")));
            }
            let on = ids.join(", ");
            if name == "DeleteTags" && changed.is_empty() && !protected.is_empty() {
                let protectable: Vec<&str> = ids
                    .iter()
                    .map(String::as_str)
                    .filter(|i| PROTECTABLE.iter().any(|p| i.starts_with(p)))
                    .collect();
                if !protectable.is_empty() {
                    unproven.push(format!(
                        "every tag removed from {} (DeleteTags with no tag list), {protected} among them if it was there",
                        protectable.join(", ")
                    ));
                }
            }
            for (key, value) in &changed {
                if name == "CreateTags" && key == exempt && truthy(value.as_deref()) {
                    weakened.push(format!(
                        "{key}={} added to {on}",
                        value.as_deref().unwrap_or("")
                    ));
                    actions.push(
                        RemoveTag::new(ids.clone(), key.clone()).into(),
                    );
                } else if name == "DeleteTags"
                    && key == protected
                    && value.as_deref().is_none_or(|v| truthy(Some(v)))
                {
                    unproven.push(format!("{key} removed from {on}"));
                } else if name == "CreateTags" && key == protected && !truthy(value.as_deref()) {
                    // The value before is not in the event: it may have been `true`.
                    unknown_before.push(format!(
                        "{key}={} set on {on}",
                        value.as_deref().unwrap_or("")
                    ));
                }
            }
        }
        "CreateSecurityGroup" | "RunInstances" => {
            for (kind, key, value) in tag_specifications(rp) {
                if key != exempt || !truthy(value.as_deref()) {
                    continue;
                }
                let what = format!(
                    "{key}={} given to the {kind} created by {name}",
                    value.as_deref().unwrap_or("")
                );
                let ids = created_ids(name, &kind, &r.response_elements);
                if ids.is_empty() {
                    unknown_before.push(format!(
                        "{what}: the response does not name it, so the tag is left for a person to remove"
                    ));
                } else {
                    weakened.push(format!("{what} ({})", ids.join(", ")));
                    actions.push(
                        RemoveTag::new(ids, key).into(),
                    );
                }
            }
        }
        "TagRole" | "CreateRole" => {
            let Some(role) = str_any(rp, &["roleName", "RoleName"]) else {
                return Verdict::Decided(Decision::ignore(format!("{name} names no role")));
            };
            for (key, value) in &changed {
                if key == exempt && truthy(value.as_deref()) {
                    weakened.push(format!(
                        "{key}={} {} role {role}",
                        value.as_deref().unwrap_or(""),
                        if name == "CreateRole" { "given to the new" } else { "added to" }
                    ));
                    actions.push(
                        UntagRole {
                            role_name: role.clone(),
                            key: key.clone(),
                            previous: None,
                        }
                        .into(),
                    );
                }
            }
        }
        other => {
            return Verdict::Decided(Decision::ignore(format!(
                "{other} is not a tag change trailguard watches"
            )))
        }
    }
    if weakened.is_empty() && unknown_before.is_empty() && unproven.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} does not weaken trailguard's protection (exemption removed, protection added, or another trailguard tag)"
        )));
    }
    let caller = &r.user_identity;
    let by = format!(
        "by {} from {}",
        caller.display(),
        r.source_ip_address.get().unwrap_or("?")
    );
    let all: Vec<String> = weakened
        .iter()
        .chain(&unproven)
        .chain(&unknown_before)
        .cloned()
        .collect();
    let mut details = all.clone();
    details.push(by);
    if let Some(p) = policy.is_tag_admin(&caller.arns()) {
        details.push(format!("a tag admin (`{p}`): left as it is"));
        return Verdict::Decided(Decision::notify(
            format!(
                "{name} by tag admin {}: {}",
                caller.display(),
                all.join("; ")
            ),
            Notice {
                severity: Severity::Medium,
                title: format!(
                    "trailguard protection changed by a tag admin: {}",
                    caller.display()
                ),
                details,
            },
        ));
    }
    if !unproven.is_empty() {
        details.push(UNPROVEN.to_string());
        details.push(format!(
            "what to check: whether these resources carried {protected}=true; if they did, a tag admin tags them again"
        ));
    }
    if unknown_before.iter().any(|u| u.starts_with(protected)) {
        details.push(format!(
            "what to check: whether the resource carried {protected}=true before; if it did, tag it again (the previous value is not in the event)"
        ));
    }
    let title = format!(
        "trailguard protection weakened by {}, not a tag admin",
        caller.display()
    );
    let reason = format!(
        "{name} by {}, who is not in tag_admins: {}",
        caller.display(),
        all.join("; ")
    );
    let notice = Notice {
        severity: Severity::High,
        title,
        details,
    };
    Verdict::Decided(if actions.is_empty() {
        Decision::notify(reason, notice)
    } else {
        Decision::remediate(reason, actions, notice)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(v: Value) -> Vec<(String, Option<String>)> {
        given_tags(&v)
    }

    fn one(k: &str, v: &str) -> (String, Option<String>) {
        (k.to_string(), Some(v.to_string()))
    }

    #[test]
    fn given_tags_reads_every_shape_aws_writes() {
        // SNS, Secrets Manager, ECR, IAM: a list of {key, value}.
        assert_eq!(
            pairs(json!([{"key": "trailguard:exempt", "value": "true"}, {"key": "team", "value": "x"}])),
            [one("trailguard:exempt", "true"), one("team", "x")]
        );
        assert_eq!(
            pairs(json!([{"Key": "trailguard:exempt", "Value": "true"}])),
            [one("trailguard:exempt", "true")]
        );
        // KMS: TagKey/TagValue (tagKey/tagValue in CloudTrail).
        assert_eq!(
            pairs(json!([{"tagKey": "trailguard:exempt", "tagValue": "true"}])),
            [one("trailguard:exempt", "true")]
        );
        assert_eq!(
            pairs(json!([{"TagKey": "trailguard:exempt", "TagValue": "false"}])),
            [one("trailguard:exempt", "false")]
        );
        // SQS: a map of key to value.
        let mut map = pairs(json!({"team": "payments", "trailguard:exempt": "true"}));
        map.sort();
        assert_eq!(map, [one("team", "payments"), one("trailguard:exempt", "true")]);
        // A single tag, and S3's TagSet.
        assert_eq!(
            pairs(json!({"key": "trailguard:exempt", "value": "true"})),
            [one("trailguard:exempt", "true")]
        );
        assert_eq!(
            pairs(json!({"TagSet": {"Tag": [{"Key": "trailguard:exempt", "Value": "true"}]}})),
            [one("trailguard:exempt", "true")]
        );
        // A map holding a tag named `key` is a map: the exemption is not hidden.
        let mut map = pairs(json!({"key": "x", "trailguard:exempt": "true"}));
        map.sort();
        assert_eq!(map, [one("key", "x"), one("trailguard:exempt", "true")]);
        // A tag without a value; nothing readable.
        assert_eq!(
            pairs(json!([{"key": "trailguard:exempt"}])),
            [("trailguard:exempt".to_string(), None)]
        );
        assert!(pairs(json!("trailguard:exempt")).is_empty());
        assert!(pairs(json!(null)).is_empty());
    }

    #[test]
    fn only_a_true_exemption_counts() {
        for v in ["true", "TRUE", " yes ", "1"] {
            assert!(truthy(Some(v)), "{v}");
        }
        for v in [None, Some("false"), Some(""), Some("0"), Some("truthy")] {
            assert!(!truthy(v), "{v:?}");
        }
    }

    fn sorted(v: Value) -> Vec<(String, Option<String>)> {
        let mut p = given_tags(&v);
        p.sort();
        p
    }

    #[test]
    fn s3_tag_sets_and_single_tags_are_read_too() {
        let exempt = ("trailguard:exempt".to_string(), Some("true".to_string()));
        // RDS, Redshift, SNS, Secrets Manager, ECR: a list of key/value.
        assert_eq!(sorted(json!([{"key": "trailguard:exempt", "value": "true"}])), vec![exempt.clone()]);
        assert_eq!(sorted(json!([{"Key": "trailguard:exempt", "Value": "true"}])), vec![exempt.clone()]);
        // KMS.
        assert_eq!(sorted(json!([{"tagKey": "trailguard:exempt", "tagValue": "true"}])), vec![exempt.clone()]);
        // S3: a TagSet whose one Tag is an object, or a list.
        assert_eq!(sorted(json!({"TagSet": {"Tag": {"Key": "trailguard:exempt", "Value": "true"}}})), vec![exempt.clone()]);
        assert_eq!(
            sorted(json!({"xmlns": "x", "TagSet": {"Tag": [{"Key": "a", "Value": "1"}, {"Key": "trailguard:exempt", "Value": "true"}]}})),
            vec![("a".to_string(), Some("1".to_string())), exempt.clone()]
        );
        // SQS: a map.
        assert_eq!(sorted(json!({"trailguard:exempt": "true"})), vec![exempt]);
        // A key without a value; nothing at all.
        assert_eq!(sorted(json!([{"key": "k"}])), vec![("k".to_string(), None)]);
        assert!(given_tags(&json!(null)).is_empty());
        assert!(given_tags(&json!("")).is_empty());
    }
}
