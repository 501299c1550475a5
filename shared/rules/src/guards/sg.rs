//! Security groups: revert exactly the rules that open a group to the world.

use serde_json::Value;

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::action::{
    Action, AuthorizePermissions, Notice, Permission, RevokePermissions, RevokeRules, Severity,
};
use crate::decision::{Decision, Verdict};
use crate::event::{Event, EventBody};
use crate::facts::{
    tag_is_true, FactKind, FactRequest, Facts, GroupFacts, Known, PrefixListFacts,
};
use crate::state::{State, StateKind};
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::{bool_any, int_any, items_any, str_any};
use crate::net::{Peer, PortSpec, Protocol};
use crate::policy::{each, GuardSettings, Parsed, Policy, PolicyError, SettingsSpec};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[
    &RevokeRules::INFO,
    &RevokePermissions::INFO,
    &AuthorizePermissions::INFO,
    &crate::action::RemovePrefixListEntries::INFO,
];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "security_group",
    function: "revert-security-group",
    summary: "Reverts security-group rules that open a group to the internet.",
    triggers: &[
        Trigger {
        rule: "SecurityGroupChange",
        pattern: r#"{
            "source": ["aws.ec2"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["ec2.amazonaws.com"],
                "eventName": ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
                              "ModifySecurityGroupRules", "ModifyManagedPrefixList",
                              "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress"],
                "eventType": ["AwsApiCall"],
                "errorCode": [{"exists": false}]
            }
        }"#,
        delivery: Delivery::Changes,
        bus: Bus::Main,
        excludes_own_role: true,
        condition: None,
    },
        // Security Hub's control findings about open groups: they name the group, and the
        // function decides on its rules as they are.
        Trigger {
            rule: "SecurityHubControl",
            pattern: r#"{
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {"findings": {
                    "ProductArn": [{"suffix": ":product/aws/securityhub"}],
                    "Compliance": {"Status": ["FAILED"]},
                    "RecordState": ["ACTIVE"],
                    "Resources": {"Type": ["AwsEc2SecurityGroup"]},
                    "$or": [
                        {"Compliance": {"SecurityControlId": ["EC2.18", "EC2.19", "EC2.2"]}},
                        {"ProductFields": {"ControlId": ["EC2.18", "EC2.19", "EC2.2"]}}
                    ]
                }}
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
    ],
    facts: &[
        FactKind::SecurityGroup,
        FactKind::SecurityGroupRules,
        FactKind::SecurityGroupState,
        FactKind::PrefixList,
    ],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 100,
    sweeps: &[StateKind::SecurityGroups],
    settings: Some(&SETTINGS),
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// What only this guard reads (what counts as public is shared with the NACL guard).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Group ids protected without tags: rules removed from them are put back, and any
    /// rule open to the world is revoked.
    pub protected_security_groups: Vec<String>,
    /// Egress to the world that is reverted (e.g. `tcp/25`); egress is otherwise kept.
    pub egress_denied_ports: Parsed<PortSpec>,
}

impl GuardSettings for Settings {
    fn validate(&mut self) -> Result<(), PolicyError> {
        each("protected_security_groups", &self.protected_security_groups, |id| {
            (!id.starts_with("sg-")).then(|| format!("`{id}` is not an id starting with sg-"))
        })?;
        self.egress_denied_ports.parse_ports("egress_denied_ports")
    }
}

const SETTINGS: SettingsSpec = SettingsSpec::of::<Settings>();

/// This guard's settings in `policy`.
pub fn settings(policy: &Policy) -> Cow<'_, Settings> {
    policy.section()
}

/// A rule the event added or changed, with its id when the response carries one.
#[derive(Debug, Clone)]
struct Rule {
    id: Option<String>,
    egress: bool,
    perm: Permission,
}

pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    if let EventBody::SecurityHub(d) = &event.body {
        return security_hub(d, policy, facts);
    }
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    if let Some(d) = super::preamble(r, policy, facts) {
        return Verdict::Decided(d);
    }
    let name = r.event_name.as_deref().unwrap_or_default();
    let rp = &r.request_parameters;
    match name {
        "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress" => {
            let egress = name.ends_with("Egress");
            let mut group_id = str_any(rp, &["groupId", "GroupId"]);
            let group_name = str_any(rp, &["groupName", "GroupName"]);
            let mut rules = rules_from_response(&r.response_elements, egress);
            if group_id.is_none() {
                group_id = str_from_response_group(&r.response_elements);
            }
            if rules.is_empty() {
                rules = permissions_from_request(rp)
                    .into_iter()
                    .map(|perm| Rule {
                        id: None,
                        egress,
                        perm,
                    })
                    .collect();
            }
            if rules.is_empty() {
                return Verdict::Decided(Decision::ignore(format!(
                    "{name} names no rules trailguard can read"
                )));
            }
            decide_added(event, policy, facts, group_id, group_name, rules)
        }
        "ModifySecurityGroupRules" => decide_modify(event, policy, facts),
        "ModifyManagedPrefixList" => Verdict::Decided(decide_prefix_list_change(r, policy)),
        "RevokeSecurityGroupIngress" | "RevokeSecurityGroupEgress" => {
            decide_removed(name, rp, &r.response_elements, policy, facts)
        }
        other => Verdict::Decided(Decision::ignore(format!(
            "{other} is not a security-group change trailguard reverts"
        ))),
    }
}

/// The prefix lists looked up for a decision, by id (None: no such list).
type PrefixLists = std::collections::BTreeMap<String, Option<PrefixListFacts>>;

/// The public entry of a customer-managed prefix list, if it has one: a rule naming the
/// list is then as open as that entry. AWS-managed lists hold AWS's own ranges.
fn public_entry(list: &PrefixListFacts, policy: &Policy) -> Option<String> {
    if list.aws_managed() {
        return None;
    }
    list.cidrs
        .iter()
        .find(|c| matches!(Peer::cidr(c), Peer::Cidr(net) if policy.is_public(&net)))
        .cloned()
}

/// The prefix lists the decision depends on, looked up: those named by a rule that would
/// violate the policy if the list were public (ports allowed to the internet need no
/// lookup).
fn prefix_lists(
    rules: &[Rule],
    policy: &Policy,
    facts: &Facts,
) -> Result<PrefixLists, Vec<FactRequest>> {
    let mut lists = PrefixLists::new();
    let mut needed = Vec::new();
    for r in rules {
        let Some(Peer::PrefixList(id)) = r.perm.peer() else {
            continue;
        };
        let as_public = Rule {
            perm: Permission {
                prefix_list_id: None,
                cidr_ipv4: Some("0.0.0.0/0".into()),
                ..r.perm.clone()
            },
            ..r.clone()
        };
        if lists.contains_key(&id) || violation(&as_public, policy, &lists).is_none() {
            continue;
        }
        match facts.prefix_list(&id) {
            Known::Yes(l) => {
                lists.insert(id, l);
            }
            Known::Need(req) => {
                if !needed.contains(&req) {
                    needed.push(req);
                }
            }
        }
    }
    if needed.is_empty() {
        Ok(lists)
    } else {
        Err(needed)
    }
}

/// Why a rule violates the policy, or None if it is allowed.
fn violation(rule: &Rule, policy: &Policy, lists: &PrefixLists) -> Option<String> {
    let (net, through) = match rule.perm.peer() {
        Some(Peer::Cidr(net)) => (net, String::new()),
        // A customer's prefix list is as open as its widest entry.
        Some(Peer::PrefixList(id)) => {
            let entry = lists.get(&id)?.as_ref().and_then(|l| public_entry(l, policy))?;
            let Peer::Cidr(net) = Peer::cidr(&entry) else {
                return None;
            };
            (net, format!(" (the list holds {entry})"))
        }
        // Security-group references are not "the world".
        _ => return None,
    };
    if !policy.is_public(&net) {
        return None;
    }
    let (proto, ports) = (rule.perm.protocol, rule.perm.ports());
    if rule.egress {
        let denied = settings(policy).egress_denied_ports.values().iter().any(|s| {
            s.protocol == Protocol::All
                || proto == Protocol::All
                || (s.protocol == proto
                    && (!proto.has_ports()
                        || (s.ports.from <= ports.to && ports.from <= s.ports.to)))
        });
        denied.then(|| {
            format!(
                "egress {}{through} is denied by policy egress_denied_ports",
                rule.perm.describe().replacen(" from ", " to ", 1)
            )
        })
    } else if policy.publicly_allowed(proto, ports) {
        None
    } else {
        Some(format!(
            "{}{through} exposes {} to the internet",
            rule.perm.describe(),
            if proto == Protocol::All {
                "every port".to_string()
            } else {
                format!("{proto} {ports}")
            }
        ))
    }
}

fn decide_added(
    event: &Event,
    policy: &Policy,
    facts: &Facts,
    group_id: Option<String>,
    group_name: Option<String>,
    rules: Vec<Rule>,
) -> Verdict {
    let lists = match prefix_lists(&rules, policy, facts) {
        Ok(l) => l,
        Err(need) => return Verdict::NeedFacts(need),
    };
    let violations: Vec<(Rule, String)> = rules
        .iter()
        .filter_map(|r| violation(r, policy, &lists).map(|why| (r.clone(), why)))
        .collect();
    let protected_by_id = group_id
        .as_ref()
        .is_some_and(|g| settings(policy).protected_security_groups.contains(g));
    let tags_matter = !policy.exempt_tag.is_empty() && !violations.is_empty()
        || !policy.protected_tag.is_empty() && !protected_by_id;
    let mut assumed = vec![];
    let mut gid = group_id.clone();
    let mut tags = Default::default();
    // The group must be looked up when its tags matter, or when the event names it only by
    // name (the lookup also resolves the id).
    if tags_matter || (gid.is_none() && !violations.is_empty()) {
        match facts.group(group_id.as_deref(), group_name.as_deref()) {
            Known::Need(req) => return Verdict::NeedFacts(vec![req]),
            Known::Yes(Some(g)) => {
                gid = Some(g.group_id.clone());
                tags = g.tags;
            }
            Known::Yes(None) if facts.offline => {
                assumed.push(crate::facts::FactRequest::SecurityGroup {
                    group_id: group_id.clone(),
                    group_name: group_name.clone(),
                })
            }
            Known::Yes(None) => {
                return Verdict::Decided(Decision::ignore(format!(
                    "security group {} no longer exists: nothing to revert",
                    group_id.as_deref().or(group_name.as_deref()).unwrap_or("?")
                )))
            }
        }
    }
    let label = gid
        .clone()
        .or_else(|| group_name.clone())
        .unwrap_or_else(|| "?".into());
    if tag_is_true(&tags, &policy.exempt_tag) {
        return Verdict::Decided(with_assumed(
            Decision::ignore(format!(
                "security group {label} is tagged {}=true",
                policy.exempt_tag
            )),
            assumed,
        ));
    }
    let protected = protected_by_id || tag_is_true(&tags, &policy.protected_tag);
    let (targets, reason): (Vec<Rule>, String) = if protected {
        (
            rules.clone(),
            format!("security group {label} is protected: every rule added to it is reverted"),
        )
    } else if violations.is_empty() {
        return Verdict::Decided(with_assumed(
            Decision::ignore(format!("every rule added to {label} is allowed by policy")),
            assumed,
        ));
    } else {
        (
            violations.iter().map(|(r, _)| r.clone()).collect(),
            violations
                .iter()
                .map(|(_, w)| w.clone())
                .collect::<Vec<_>>()
                .join("; "),
        )
    };
    let actions = revert_actions(&gid, &group_name, &targets);
    let kept: Vec<String> = rules
        .iter()
        .filter(|r| {
            !targets
                .iter()
                .any(|t| t.perm == r.perm && t.egress == r.egress)
        })
        .map(|r| r.perm.describe())
        .collect();
    let mut details: Vec<String> = targets
        .iter()
        .map(|r| {
            format!(
                "opened: {}{}",
                r.perm.describe(),
                r.id.as_deref()
                    .map(|i| format!(" ({i})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    details.extend(kept.iter().map(|k| format!("kept (allowed): {k}")));
    if let Some(region) = event.region() {
        details.push(format!("console: https://{region}.console.aws.amazon.com/ec2/home?region={region}#SecurityGroup:groupId={label}"));
    }
    let notice = Notice {
        severity: Severity::High,
        title: format!("Security group {label} opened to the internet"),
        details,
    };
    Verdict::Decided(with_assumed(
        Decision::remediate(reason, actions, notice),
        assumed,
    ))
}

/// Revoke `targets`, one action per direction: by rule id when every target has one (one
/// EC2 call, exactly those rules), else by their permissions.
fn revert_actions(gid: &Option<String>, group_name: &Option<String>, targets: &[Rule]) -> Vec<Action> {
    let mut actions: Vec<Action> = Vec::new();
    for egress in [false, true] {
        let part: Vec<&Rule> = targets.iter().filter(|r| r.egress == egress).collect();
        if part.is_empty() {
            continue;
        }
        let ids: Option<Vec<String>> = part.iter().map(|r| r.id.clone()).collect();
        match (ids, gid) {
            (Some(rule_ids), Some(g)) => actions.push(
                RevokeRules {
                    group_id: g.clone(),
                    egress,
                    rule_ids,
                    permissions: part.iter().map(|r| r.perm.clone()).collect(),
                }
                .into(),
            ),
            _ => actions.push(
                RevokePermissions {
                    group_id: gid.clone(),
                    group_name: if gid.is_none() {
                        group_name.clone()
                    } else {
                        None
                    },
                    egress,
                    permissions: part.iter().map(|r| r.perm.clone()).collect(),
                }
                .into(),
            ),
        }
    }
    actions
}

/// Decide on a group as it is now (a finding names the group, not the rule): revoke
/// exactly the rules that violate the policy. On a protected group, where every added rule
/// is reverted, a state cannot tell what was added: any rule open to the internet, in
/// either direction, is revoked, except the allow-all egress rule AWS gives every new group
/// (revoking it would break the group, not repair it). Exempt still means hands off.
pub fn decide_state(group: &GroupFacts, policy: &Policy, why: &str, facts: &Facts) -> Verdict {
    let gid = &group.group_id;
    if tag_is_true(&group.tags, &policy.exempt_tag) {
        return Verdict::Decided(Decision::ignore(format!(
            "security group {gid} is tagged {}=true",
            policy.exempt_tag
        )));
    }
    let rules: Vec<Rule> = group
        .rules
        .iter()
        .map(|r| Rule {
            id: Some(r.rule_id.clone()),
            egress: r.egress,
            perm: r.permission.clone(),
        })
        .collect();
    let lists = match prefix_lists(&rules, policy, facts) {
        Ok(l) => l,
        Err(need) => return Verdict::NeedFacts(need),
    };
    let protected = settings(policy).protected_security_groups.contains(gid)
        || tag_is_true(&group.tags, &policy.protected_tag);
    let violations: Vec<(Rule, String)> = rules
        .iter()
        .filter_map(|r| reverted_on_group(r, policy, Some(&lists), protected, gid).map(|w| (r.clone(), w)))
        .collect();
    if violations.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "no rule of {gid} violates the policy now ({} rule(s) checked)",
            rules.len()
        )));
    }
    let targets: Vec<Rule> = violations.iter().map(|(r, _)| r.clone()).collect();
    let mut details: Vec<String> = violations
        .iter()
        .map(|(r, w)| format!("{} ({w})", r.id.as_deref().unwrap_or("?")))
        .collect();
    details.push(format!(
        "kept: {} rule(s) the policy allows",
        rules.len() - targets.len()
    ));
    details.push(why.to_string());
    Verdict::Decided(Decision::remediate(
        violations
            .iter()
            .map(|(_, w)| w.clone())
            .collect::<Vec<_>>()
            .join("; "),
        revert_actions(&Some(gid.clone()), &group.group_name, &targets),
        Notice {
            severity: Severity::High,
            title: format!("Security group {gid} is open to the internet"),
            details,
        },
    ))
}

/// Why the sweep would revoke `rule` on group `gid` as it stands, or None: a policy
/// violation, or on a protected group any rule open to the internet except the allow-all
/// egress rule every new group has. A revoke's removed rules are put back only when this is
/// None, so trailguard never restores what it would then revoke.
/// Why a rule is (or would be) reverted on a group, if it is. `lists`: the customer prefix
/// lists looked up, or None where none were: a rule naming a list is then taken as reverted
/// (putting back a rule whose list may hold 0.0.0.0/0 could open the group).
fn reverted_on_group(
    rule: &Rule,
    policy: &Policy,
    lists: Option<&PrefixLists>,
    protected: bool,
    gid: &str,
) -> Option<String> {
    let Some(lists) = lists else {
        if let Some(Peer::PrefixList(id)) = rule.perm.peer() {
            return Some(format!(
                "{} names prefix list {id}, whose entries were not looked up",
                rule.perm.describe()
            ));
        }
        return reverted_on_group(rule, policy, Some(&PrefixLists::new()), protected, gid);
    };
    violation(rule, policy, lists).or_else(|| {
        let public = matches!(rule.perm.peer(), Some(Peer::Cidr(n)) if policy.is_public(&n));
        (protected && public && !(rule.egress && rule.perm.protocol == Protocol::All)).then(|| {
            format!(
                "{} is open to the internet on protected group {gid}",
                rule.perm.describe()
            )
        })
    })
}

/// The Security Hub controls about security groups: EC2.18 (ingress beyond the authorised
/// ports) and EC2.19 (high-risk ports) are decided on the group's rules now; EC2.2 (the
/// default group allows traffic) is told, as emptying a default group breaks whatever
/// relies on it.
const CONTROLS: [&str; 3] = ["EC2.18", "EC2.19", "EC2.2"];

fn security_hub(
    d: &crate::event::SecurityHubDetail,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let (f, control, why) = match super::failed_control(d, &CONTROLS, "a security-group control") {
        Ok(found) => found,
        Err(v) => return *v,
    };
    let group = f
        .resources
        .iter()
        .filter(|r| r.resource_type.get() == Some("AwsEc2SecurityGroup"))
        .find_map(|r| {
            str_any(&r.details["AwsEc2SecurityGroup"], &["GroupId"]).or_else(|| {
                r.id.get()
                    .and_then(|id| id.rsplit_once("security-group/"))
                    .map(|(_, g)| g.to_string())
            })
        });
    let Some(gid) = group else {
        return Verdict::Decided(Decision::ignore(format!(
            "{control} finding names no security group"
        )));
    };
    if control == "EC2.2" {
        let notice = Notice {
            severity: Severity::Medium,
            title: format!("Default security group {gid} allows traffic"),
            details: vec![
                why,
                "remove the default group's rules by hand once nothing relies on them".into(),
            ],
        };
        return Verdict::Decided(Decision::notify(
            format!("{control}: the default group {gid} allows traffic; emptying it could break what relies on it"),
            notice,
        ));
    }
    match facts.group_state(&gid) {
        Known::Need(r) => Verdict::NeedFacts(vec![r]),
        Known::Yes(Some(g)) => decide_state(&g, policy, &why, facts),
        Known::Yes(None) if facts.offline => {
            let mut d = Decision::notify(
                format!("{control} on {gid}: the group's rules are not in the finding; the function looks them up"),
                Notice {
                    severity: Severity::High,
                    title: format!("Security group {gid} fails {control}"),
                    details: vec![why],
                },
            );
            d.assumed.push(FactRequest::SecurityGroupState { group_id: gid });
            Verdict::Decided(d)
        }
        Known::Yes(None) => Verdict::Decided(Decision::ignore(format!(
            "security group {gid} no longer exists: nothing to revert"
        ))),
    }
}

fn decide_modify(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    let rp = r
        .request_parameters
        .get("ModifySecurityGroupRulesRequest")
        .unwrap_or(&r.request_parameters);
    let Some(group_id) = str_any(rp, &["GroupId", "groupId"]) else {
        return Verdict::Decided(Decision::ignore("ModifySecurityGroupRules names no group"));
    };
    let mut changed: Vec<(String, Permission)> = Vec::new();
    for item in items_any(
        rp,
        &[
            "SecurityGroupRule",
            "securityGroupRuleSet",
            "SecurityGroupRules",
        ],
    ) {
        let Some(id) = str_any(item, &["SecurityGroupRuleId", "securityGroupRuleId"]) else {
            continue;
        };
        let def = item.get("SecurityGroupRule").unwrap_or(item);
        if let Some(perm) = permission_from_rule(def) {
            changed.push((id, perm));
        }
    }
    if changed.is_empty() {
        return Verdict::Decided(Decision::ignore(
            "ModifySecurityGroupRules carries no rule definitions",
        ));
    }
    // The request does not say whether a rule is ingress or egress: ask.
    let mut assumed = vec![];
    let ids: Vec<String> = changed.iter().map(|(i, _)| i.clone()).collect();
    if !facts.rules_looked_up && !facts.offline {
        return Verdict::NeedFacts(vec![crate::facts::FactRequest::SecurityGroupRules {
            group_id,
            rule_ids: ids,
        }]);
    }
    if facts.offline && !facts.rules_looked_up {
        assumed.push(crate::facts::FactRequest::SecurityGroupRules {
            group_id: group_id.clone(),
            rule_ids: ids,
        });
    }
    let rules: Vec<Rule> = changed
        .into_iter()
        .filter_map(|(id, perm)| {
            // Offline, direction unknown: modified rules are nearly always ingress.
            let egress = if facts.rules_looked_up {
                *facts.rule_directions.get(&id)?
            } else {
                false
            };
            Some(Rule {
                id: Some(id),
                egress,
                perm,
            })
        })
        .collect();
    if rules.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "the modified rules of {group_id} no longer exist"
        )));
    }
    match decide_added(event, policy, facts, Some(group_id), None, rules) {
        Verdict::Decided(d) => Verdict::Decided(with_assumed(d, assumed)),
        need => need,
    }
}

/// A revoke on a protected group: put back exactly the rules EC2 says it removed.
///
/// A revoke names permissions, but EC2 answers success for permissions that never existed
/// (listing them in `unknownIpPermissionSet`), so the request is no proof of what was
/// there: re-authorising it would let anyone make trailguard open a protected group (a
/// revoke of `-1` from `0.0.0.0/0` that matched nothing). Only the rules in the response's
/// `revokedSecurityGroupRuleSet` existed and were removed; anything else is told, never
/// authorised. A removed rule the policy itself reverts on a protected group (open to the
/// internet) is not put back either: trailguard would only revoke it again.
fn decide_removed(name: &str, rp: &Value, resp: &Value, policy: &Policy, facts: &Facts) -> Verdict {
    let egress = name.ends_with("Egress");
    let revoked = revoked_rules(resp, egress);
    let group_id = str_any(rp, &["groupId", "GroupId"])
        .or_else(|| revoked.iter().find_map(|(g, _)| g.clone()));
    let group_name = str_any(rp, &["groupName", "GroupName"]);
    let by_id = group_id
        .as_ref()
        .is_some_and(|g| settings(policy).protected_security_groups.contains(g));
    if !by_id && policy.protected_tag.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} removes access; only protected groups are restored"
        )));
    }
    let mut assumed = vec![];
    let (gid, tags) = if by_id {
        (group_id.clone(), Default::default())
    } else {
        match facts.group(group_id.as_deref(), group_name.as_deref()) {
            Known::Need(req) => return Verdict::NeedFacts(vec![req]),
            Known::Yes(Some(g)) => (Some(g.group_id), g.tags),
            Known::Yes(None) => {
                if facts.offline {
                    assumed.push(crate::facts::FactRequest::SecurityGroup {
                        group_id: group_id.clone(),
                        group_name: group_name.clone(),
                    });
                }
                (group_id.clone(), Default::default())
            }
        }
    };
    let label = gid.clone().or(group_name).unwrap_or_else(|| "?".into());
    if !(by_id || tag_is_true(&tags, &policy.protected_tag))
        || tag_is_true(&tags, &policy.exempt_tag)
    {
        return Verdict::Decided(with_assumed(
            Decision::ignore(format!(
                "{name} on {label} removes access and the group is not protected"
            )),
            assumed,
        ));
    }
    let Some(gid) = gid else {
        return Verdict::Decided(Decision::ignore("the protected group's id is unknown"));
    };
    let title = format!("Rules removed from protected security group {gid}");
    let mut details: Vec<String> = Vec::new();
    let unknown = permissions_from_list(items_any(
        resp,
        &["unknownIpPermissionSet", "UnknownIpPermissions"],
    ));
    for p in &unknown {
        details.push(format!(
            "not put back: {} (EC2 listed it as unknown: the group never had it)",
            p.describe()
        ));
    }
    // Rules of another group in the response are not this decision's to restore.
    let (restore, reverted): (Vec<Rule>, Vec<(Rule, String)>) = revoked
        .into_iter()
        .filter(|(g, _)| g.as_deref().is_none_or(|g| g == gid))
        .fold((vec![], vec![]), |(mut ok, mut no), (_, r)| {
            match reverted_on_group(&r, policy, None, true, &gid) {
                Some(why) => no.push((r, why)),
                None => ok.push(r),
            }
            (ok, no)
        });
    for (r, why) in &reverted {
        details.push(format!(
            "removed, not put back: {}{} ({why})",
            r.perm.describe(),
            r.id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default()
        ));
    }
    if restore.is_empty() {
        let named: Vec<String> = permissions_from_request(rp)
            .iter()
            .map(|p| p.describe())
            .chain(
                items_any(rp, &["securityGroupRuleIds", "SecurityGroupRuleIds"])
                    .into_iter()
                    .filter_map(crate::lenient::scalar_string),
            )
            .collect();
        let why = if reverted.is_empty() {
            "the response names no revoked rule (revokedSecurityGroupRuleSet), so nothing proves what the group had: nothing is put back"
        } else {
            "every rule the response says was removed is one the policy reverts on a protected group"
        };
        details.insert(
            0,
            format!("{name} named: {}", if named.is_empty() { "nothing trailguard can read".into() } else { named.join(", ") }),
        );
        details.push(format!("{why}; check the group's rules and put back by hand what it needs"));
        return Verdict::Decided(with_assumed(
            Decision::notify(
                format!("{name} on protected group {gid}: nothing proven removed that trailguard may put back"),
                Notice {
                    // Removing only rules the policy reverts anyway makes the group safer.
                    severity: if reverted.is_empty() { Severity::High } else { Severity::Medium },
                    title,
                    details,
                },
            ),
            assumed,
        ));
    }
    let mut lines: Vec<String> = restore
        .iter()
        .map(|r| {
            format!(
                "removed, put back: {}{}",
                r.perm.describe(),
                r.id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default()
            )
        })
        .collect();
    lines.extend(details);
    let actions: Vec<Action> = [false, true]
        .into_iter()
        .filter_map(|eg| {
            let permissions: Vec<Permission> = restore
                .iter()
                .filter(|r| r.egress == eg)
                .map(|r| r.perm.clone())
                .collect();
            (!permissions.is_empty()).then(|| {
                AuthorizePermissions {
                    group_id: gid.clone(),
                    egress: eg,
                    permissions,
                }
                .into()
            })
        })
        .collect();
    Verdict::Decided(with_assumed(
        Decision::remediate(
            format!("security group {gid} is protected: the rules EC2 says were removed are put back"),
            actions,
            Notice {
                severity: Severity::High,
                title,
                details: lines,
            },
        ),
        assumed,
    ))
}

/// The rules a revoke's response says it removed (`revokedSecurityGroupRuleSet`), each
/// with the group the response names for it.
fn revoked_rules(resp: &Value, default_egress: bool) -> Vec<(Option<String>, Rule)> {
    items_any(resp, &["revokedSecurityGroupRuleSet", "RevokedSecurityGroupRules"])
        .into_iter()
        .filter_map(|item| {
            let perm = permission_from_rule(item)?;
            Some((
                str_any(item, &["groupId", "GroupId"]),
                Rule {
                    id: str_any(item, &["securityGroupRuleId", "SecurityGroupRuleId"]),
                    egress: bool_any(item, &["isEgress", "IsEgress"]).unwrap_or(default_egress),
                    perm,
                },
            ))
        })
        .collect()
}

fn with_assumed(mut d: Decision, assumed: Vec<crate::facts::FactRequest>) -> Decision {
    d.assumed.extend(assumed);
    d
}

fn str_from_response_group(resp: &Value) -> Option<String> {
    items_any(resp, &["securityGroupRuleSet"])
        .into_iter()
        .find_map(|i| str_any(i, &["groupId"]))
}

/// Rules from `responseElements.securityGroupRuleSet`: one per peer, with their ids.
fn rules_from_response(resp: &Value, default_egress: bool) -> Vec<Rule> {
    items_any(resp, &["securityGroupRuleSet", "SecurityGroupRules"])
        .into_iter()
        .filter_map(|item| {
            let perm = permission_from_rule(item)?;
            Some(Rule {
                id: str_any(item, &["securityGroupRuleId", "SecurityGroupRuleId"]),
                egress: bool_any(item, &["isEgress", "IsEgress"]).unwrap_or(default_egress),
                perm,
            })
        })
        .collect()
}

/// A permission from a security-group-rule shape (response items and Modify requests use
/// `cidrIpv4`/`CidrIpv4`, `referencedGroupInfo`/`ReferencedGroupId`, ...).
fn permission_from_rule(v: &Value) -> Option<Permission> {
    let protocol = Protocol::parse(&str_any(v, &["ipProtocol", "IpProtocol"])?)?;
    let group = str_any(v, &["ReferencedGroupId", "referencedGroupId"]).or_else(|| {
        v.get("referencedGroupInfo")
            .and_then(|g| str_any(g, &["groupId"]))
    });
    Some(Permission {
        protocol,
        from_port: int_any(v, &["fromPort", "FromPort"]),
        to_port: int_any(v, &["toPort", "ToPort"]),
        cidr_ipv4: str_any(v, &["cidrIpv4", "CidrIpv4"]),
        cidr_ipv6: str_any(v, &["cidrIpv6", "CidrIpv6"]),
        prefix_list_id: str_any(v, &["prefixListId", "PrefixListId"]),
        source_group_id: group,
        description: str_any(v, &["description", "Description"]),
    })
}

/// Permissions from a request's `ipPermissions` (any list shape), or from the legacy flat
/// form (`cidrIp`, `ipProtocol`, `fromPort`, `toPort` at the top level), one per peer.
pub(crate) fn permissions_from_request(rp: &Value) -> Vec<Permission> {
    let mut out = permissions_from_list(items_any(rp, &["ipPermissions", "IpPermissions"]));
    // The legacy flat form: one CIDR and protocol at the top level.
    if out.is_empty() {
        if let (Some(cidr), Some(protocol)) = (
            str_any(rp, &["cidrIp", "CidrIp"]),
            str_any(rp, &["ipProtocol", "IpProtocol"]).and_then(|s| Protocol::parse(&s)),
        ) {
            let (cidr_ipv4, cidr_ipv6) = if cidr.contains(':') {
                (None, Some(cidr))
            } else {
                (Some(cidr), None)
            };
            out.push(Permission {
                protocol,
                from_port: int_any(rp, &["fromPort", "FromPort"]),
                to_port: int_any(rp, &["toPort", "ToPort"]),
                cidr_ipv4,
                cidr_ipv6,
                prefix_list_id: None,
                source_group_id: None,
                description: None,
            });
        }
    }
    out
}

/// Permissions from a list of `IpPermission`s (a request's, or a response's
/// `unknownIpPermissionSet`), one per peer.
fn permissions_from_list(list: Vec<&Value>) -> Vec<Permission> {
    let mut out = Vec::new();
    for p in list {
        let Some(protocol) =
            str_any(p, &["ipProtocol", "IpProtocol"]).and_then(|s| Protocol::parse(&s))
        else {
            continue;
        };
        let base = Permission {
            protocol,
            from_port: int_any(p, &["fromPort", "FromPort"]),
            to_port: int_any(p, &["toPort", "ToPort"]),
            cidr_ipv4: None,
            cidr_ipv6: None,
            prefix_list_id: None,
            source_group_id: None,
            description: None,
        };
        for r in items_any(p, &["ipRanges", "IpRanges"]) {
            if let Some(c) = str_any(r, &["cidrIp", "CidrIp"]) {
                out.push(Permission {
                    cidr_ipv4: Some(c),
                    description: str_any(r, &["description", "Description"]),
                    ..base.clone()
                });
            }
        }
        for r in items_any(p, &["ipv6Ranges", "Ipv6Ranges"]) {
            if let Some(c) = str_any(r, &["cidrIpv6", "CidrIpv6"]) {
                out.push(Permission {
                    cidr_ipv6: Some(c),
                    description: str_any(r, &["description", "Description"]),
                    ..base.clone()
                });
            }
        }
        for r in items_any(p, &["prefixListIds", "PrefixListIds"]) {
            if let Some(c) = str_any(r, &["prefixListId", "PrefixListId"]) {
                out.push(Permission {
                    prefix_list_id: Some(c),
                    description: str_any(r, &["description", "Description"]),
                    ..base.clone()
                });
            }
        }
        for r in items_any(
            p,
            &["groups", "Groups", "userIdGroupPairs", "UserIdGroupPairs"],
        ) {
            if let Some(c) = str_any(r, &["groupId", "GroupId"]) {
                out.push(Permission {
                    source_group_id: Some(c),
                    description: str_any(r, &["description", "Description"]),
                    ..base.clone()
                });
            }
        }
    }
    out
}

/// `ModifyManagedPrefixList` adding public CIDRs: every security group (and route table)
/// that names the list, now and later, on whatever ports it uses, is opened to them, so the
/// public entries the call added are taken out again. The entries the list held before the
/// call stay (the executor reads the version the call changed), and so do the call's other
/// entries and its removals.
fn decide_prefix_list_change(r: &crate::event::CloudTrailRecord, policy: &Policy) -> Decision {
    let rp = r
        .request_parameters
        .get("ModifyManagedPrefixListRequest")
        .unwrap_or(&r.request_parameters);
    let Some(list) = str_any(rp, &["PrefixListId", "prefixListId"]) else {
        return Decision::ignore("ModifyManagedPrefixList names no prefix list");
    };
    let added: Vec<String> = items_any(rp, &["AddEntry", "addEntry", "AddEntries", "addEntries"])
        .into_iter()
        .filter_map(|e| str_any(e, &["Cidr", "cidr"]))
        .collect();
    let public: Vec<String> = added
        .iter()
        .filter(|c| matches!(Peer::cidr(c), Peer::Cidr(net) if policy.is_public(&net)))
        .cloned()
        .collect();
    if public.is_empty() {
        return Decision::ignore(format!(
            "ModifyManagedPrefixList adds no public CIDR to {list} ({} entr(ies) added)",
            added.len()
        ));
    }
    // The version the call changed: as the request names it, or the one before the version
    // the response reports (each modification adds one).
    let previous_version = int_any(rp, &["CurrentVersion", "currentVersion"]).or_else(|| {
        let resp = &r.response_elements;
        let pl = resp
            .get("ModifyManagedPrefixListResponse")
            .unwrap_or(resp)
            .get("prefixList")
            .unwrap_or(&Value::Null);
        int_any(pl, &["version", "Version"]).map(|v| v - 1)
    });
    let mut details = vec![
        format!(
            "by {} from {}",
            r.user_identity.display(),
            r.source_ip_address.get().unwrap_or("?")
        ),
        format!("added: {}", public.join(", ")),
        "every security group rule and route that names the list now reaches these addresses"
            .into(),
    ];
    let title = format!("Prefix list {list} opened to the internet");
    let Some(previous_version) = previous_version else {
        // Without the version the call changed, an entry the list already held cannot be
        // told from one the call added: removing it could take out what was there before.
        details.push(
            "not reverted: the event names neither the version changed nor the new one; \
             remove the entries by hand (aws ec2 modify-managed-prefix-list --remove-entries)"
                .into(),
        );
        return Decision::notify(
            format!("ModifyManagedPrefixList added {} to prefix list {list}; the version it changed is not in the event", public.join(", ")),
            Notice {
                severity: Severity::High,
                title,
                details,
            },
        );
    };
    Decision::remediate(
        format!(
            "ModifyManagedPrefixList added {} to prefix list {list}",
            public.join(", ")
        ),
        vec![crate::action::RemovePrefixListEntries {
            prefix_list_id: list.clone(),
            cidrs: public,
            previous_version: Some(previous_version),
        }
        .into()],
        Notice {
            severity: Severity::High,
            title,
            details,
        },
    )
}

/// The sweep's view: a security group with every rule, as it is now.
fn swept(state: &State, _account: Option<&str>, policy: &Policy, facts: &Facts) -> Verdict {
    match state {
        State::SecurityGroup(g) => decide_state(g, policy, crate::state::WHY, facts),
        other => super::not_swept(GUARD.name, other),
    }
}
