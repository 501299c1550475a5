//! trailguard's own tags: an exemption (`trailguard:exempt`) added, or a protection
//! (`trailguard:protected`) removed, by a principal outside the policy's `tag_admins` is
//! taken back, because otherwise anyone allowed to tag could switch trailguard off for a
//! resource and then open it. A tag admin's change is told, not reverted. Changes that make
//! protection stronger (an exemption removed, a protection added) are none of its business.

use std::sync::OnceLock;

use serde_json::Value;

use crate::action::{Action, Notice, RemoveTag, RestoreTag, Severity, UntagRole};
use crate::decision::{Decision, Verdict};
use crate::event::Event;
use crate::facts::Facts;
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::{items, items_any, scalar_string, str_any};
use crate::policy::Policy;

pub static GUARD: GuardSpec = GuardSpec {
    name: "tags",
    function: "guard-tags",
    summary: "Takes back trailguard exemptions granted, and protections removed, by anyone but the tag admins.",
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
        Trigger {
            rule: "RoleTagChange",
            pattern: r#"{
                "source": ["aws.iam"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["iam.amazonaws.com"],
                    "eventName": ["TagRole"],
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
    actions: &[&RemoveTag::INFO, &RestoreTag::INFO, &UntagRole::INFO],
    decide,
    reads_every_call: false,
    max_actions_per_hour: 50,
    sweeps: &[],
    compiled: OnceLock::new(),
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

fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1"))
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
    let mut unknown_before: Vec<String> = Vec::new();
    match name {
        "CreateTags" | "DeleteTags" => {
            let ids = resources(rp);
            if ids.is_empty() {
                return Verdict::Decided(Decision::ignore(format!("{name} names no resource")));
            }
            for (key, value) in &changed {
                let on = ids.join(", ");
                if name == "CreateTags" && key == exempt && truthy(value.as_deref()) {
                    weakened.push(format!("{key}={} added to {on}", value.as_deref().unwrap_or("")));
                    actions.push(
                        RemoveTag {
                            resource_ids: ids.clone(),
                            key: key.clone(),
                        }
                        .into(),
                    );
                } else if name == "DeleteTags"
                    && key == protected
                    && value.as_deref().is_none_or(|v| truthy(Some(v)))
                {
                    weakened.push(format!("{key} removed from {on}"));
                    actions.push(
                        RestoreTag {
                            resource_ids: ids.clone(),
                            key: key.clone(),
                            value: "true".into(),
                        }
                        .into(),
                    );
                } else if name == "CreateTags" && key == protected && !truthy(value.as_deref()) {
                    // The value before is not in the event: it may have been `true`.
                    unknown_before.push(format!(
                        "{key}={} set on {on}",
                        value.as_deref().unwrap_or("")
                    ));
                }
            }
        }
        "TagRole" => {
            let Some(role) = str_any(rp, &["roleName", "RoleName"]) else {
                return Verdict::Decided(Decision::ignore("TagRole names no role"));
            };
            for (key, value) in &changed {
                if key == exempt && truthy(value.as_deref()) {
                    weakened.push(format!(
                        "{key}={} added to role {role}",
                        value.as_deref().unwrap_or("")
                    ));
                    actions.push(
                        UntagRole {
                            role_name: role.clone(),
                            key: key.clone(),
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
    if weakened.is_empty() && unknown_before.is_empty() {
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
    let mut details: Vec<String> = weakened.iter().chain(&unknown_before).cloned().collect();
    details.push(by);
    if let Some(p) = policy.is_tag_admin(&caller.arns()) {
        details.push(format!("a tag admin (`{p}`): left as it is"));
        return Verdict::Decided(Decision::notify(
            format!("{name} by tag admin {}: {}", caller.display(), weakened.iter().chain(&unknown_before).cloned().collect::<Vec<_>>().join("; ")),
            Notice {
                severity: Severity::Medium,
                title: format!("trailguard protection changed by a tag admin: {}", caller.display()),
                details,
            },
        ));
    }
    if !unknown_before.is_empty() {
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
        weakened.iter().chain(&unknown_before).cloned().collect::<Vec<_>>().join("; ")
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
