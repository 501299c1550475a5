//! Network ACLs: delete entries that open a subnet to the world.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::action::{DeleteNaclEntry, Notice, Severity};
use crate::decision::{Decision, Verdict};
use crate::event::Event;
use crate::facts::{tag_is_true, FactKind, FactRequest, Facts, Known};
use crate::state::{AclEntry, AclState, State, StateKind};
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::{bool_any, int_any, str_any};
use crate::net::{Peer, PortRange, PortSpec, Protocol};
use crate::policy::{allowed_by, each, GuardSettings, Parsed, Policy, PolicyError, SettingsSpec};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[&DeleteNaclEntry::INFO];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "network_acl",
    function: "revert-network-acl",
    summary: "Deletes network ACL entries that open a subnet to the internet.",
    triggers: &[Trigger {
        rule: "NetworkAclChange",
        pattern: r#"{
            "source": ["aws.ec2"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["ec2.amazonaws.com"],
                "eventName": ["CreateNetworkAclEntry", "ReplaceNetworkAclEntry",
                              "ReplaceNetworkAclAssociation"],
                "eventType": ["AwsApiCall"],
                "errorCode": [{"exists": false}]
            }
        }"#,
        delivery: Delivery::Changes,
        bus: Bus::Main,
        excludes_own_role: true,
        condition: None,
    }],
    facts: &[FactKind::NetworkAcl, FactKind::NetworkAclState],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 50,
    sweeps: &[StateKind::NetworkAcls],
    settings: Some(&SETTINGS),
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// What only this guard reads: `protected_network_acls` and the `network_acl` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// ACL ids protected without tags: any entry that opens them is deleted.
    pub protected_network_acls: Vec<String>,
    pub network_acl: NetworkAclSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkAclSettings {
    /// Return-traffic ports allowed in from the world besides `public_ports`.
    pub ephemeral_ports: Parsed<PortSpec>,
    pub on_replace: OnReplace,
    /// The sweep also deletes open entries of VPCs' default ACLs (which allow everything by
    /// design).
    pub sweep_default_acls: bool,
}

impl Default for NetworkAclSettings {
    fn default() -> Self {
        let ephemeral = PortRange {
            from: 1024,
            to: 65535,
        };
        NetworkAclSettings {
            ephemeral_ports: Parsed::of(vec![
                PortSpec {
                    protocol: Protocol::Tcp,
                    ports: ephemeral,
                },
                PortSpec {
                    protocol: Protocol::Udp,
                    ports: ephemeral,
                },
            ]),
            on_replace: OnReplace::Notify,
            sweep_default_acls: false,
        }
    }
}

/// What to do with a ReplaceNetworkAclEntry that opens an ACL: the event does not carry the
/// entry it replaced, so trailguard can only delete the new one or tell people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnReplace {
    Notify,
    Delete,
}

impl GuardSettings for Settings {
    fn validate(&mut self) -> Result<(), PolicyError> {
        each("protected_network_acls", &self.protected_network_acls, |id| {
            (!id.starts_with("acl-")).then(|| format!("`{id}` is not an id starting with acl-"))
        })?;
        self.network_acl
            .ephemeral_ports
            .parse_ports("network_acl.ephemeral_ports")
    }
}

const SETTINGS: SettingsSpec = SettingsSpec::of::<Settings>();

/// This guard's settings in `policy`.
pub fn settings(policy: &Policy) -> Cow<'_, Settings> {
    policy.section()
}

/// Whether an entry opens the subnet beyond the policy: an ingress allow from a public
/// network on ports the policy does not allow (return traffic's ephemeral ports are).
fn violates(
    egress: bool,
    allow: bool,
    protocol: Option<Protocol>,
    ports: PortRange,
    peer: Option<&Peer>,
    policy: &Policy,
) -> bool {
    !egress
        && allow
        && matches!(peer, Some(Peer::Cidr(n)) if policy.is_public(n))
        && protocol.is_some_and(|p| {
            let allowed: Vec<PortSpec> = policy
                .public_ports
                .iter()
                .chain(settings(policy).network_acl.ephemeral_ports.values().iter())
                .copied()
                .collect();
            !(allowed_by(&allowed, p, ports) || (p.is_icmp() && policy.allow_public_icmp))
        })
}

/// Decide on an ACL as it is now (the sweep): delete exactly the entries that open it
/// beyond the policy. A VPC's default ACL allows everything from anywhere by design, with
/// security left to security groups, so it is swept only when the policy asks
/// (`network_acl.sweep_default_acls`).
pub fn decide_state(acl: &AclState, policy: &Policy) -> Decision {
    let id = &acl.network_acl_id;
    if tag_is_true(&acl.tags, &policy.exempt_tag) {
        return Decision::ignore(format!("network ACL {id} is tagged {}=true", policy.exempt_tag));
    }
    if acl.is_default && !settings(policy).network_acl.sweep_default_acls {
        return Decision::ignore(format!(
            "network ACL {id} is its VPC's default ACL, which allows all traffic by design (network_acl.sweep_default_acls is off)"
        ));
    }
    let mut actions = Vec::new();
    let mut details = Vec::new();
    // 32767 is the ACL's fixed last entry (deny all), not one anyone added.
    for e in acl.entries.iter().filter(|e| e.rule_number < 32767) {
        let protocol = Protocol::parse(&e.protocol);
        let ports = PortRange::from_bounds(e.from_port, e.to_port);
        let peer = e.cidr.as_deref().map(Peer::cidr);
        if violates(e.egress, e.allow, protocol, ports, peer.as_ref(), policy) {
            details.push(format!(
                "ingress allow rule {}: {} {} from {}",
                e.rule_number,
                protocol.map(|p| p.to_string()).unwrap_or_else(|| e.protocol.clone()),
                ports,
                e.cidr.as_deref().unwrap_or("?")
            ));
            actions.push(
                DeleteNaclEntry {
                    network_acl_id: id.clone(),
                    rule_number: e.rule_number,
                    egress: e.egress,
                    entry: Some((*e).clone()),
                }
                .into(),
            );
        }
    }
    if actions.is_empty() {
        return Decision::ignore(format!(
            "no entry of {id} opens it beyond the policy ({} entries checked)",
            acl.entries.len()
        ));
    }
    details.push(crate::state::WHY.to_string());
    Decision::remediate(
        format!("{} entr{} of {id} open the subnet to the internet", actions.len(), if actions.len() == 1 { "y" } else { "ies" }),
        actions,
        Notice {
            severity: Severity::High,
            title: format!("Network ACL {id} open to the internet"),
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
    if name == "ReplaceNetworkAclAssociation" {
        return association(r, policy, facts);
    }
    let (Some(acl), Some(rule_number)) = (
        str_any(rp, &["networkAclId", "NetworkAclId"]),
        int_any(rp, &["ruleNumber", "RuleNumber"]),
    ) else {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} does not name the ACL and rule number"
        )));
    };
    let egress = bool_any(rp, &["egress", "Egress"]).unwrap_or(false);
    let allow =
        str_any(rp, &["ruleAction", "RuleAction"]).is_some_and(|a| a.eq_ignore_ascii_case("allow"));
    let protocol =
        str_any(rp, &["aclProtocol", "protocol", "Protocol"]).and_then(|p| Protocol::parse(&p));
    let ports = rp
        .get("portRange")
        .or_else(|| rp.get("PortRange"))
        .map(|p| PortRange::from_bounds(int_any(p, &["from", "From"]), int_any(p, &["to", "To"])))
        .unwrap_or(PortRange::ALL);
    let peer = str_any(
        rp,
        &["cidrBlock", "CidrBlock", "ipv6CidrBlock", "Ipv6CidrBlock"],
    )
    .map(|c| Peer::cidr(&c));
    let entry = format!(
        "{} {} rule {rule_number}: {} {} from {}",
        if egress { "egress" } else { "ingress" },
        if allow { "allow" } else { "deny" },
        protocol
            .map(|p| if p == Protocol::All {
                "all traffic".to_string()
            } else {
                p.to_string()
            })
            .unwrap_or_else(|| "?".into()),
        if protocol.is_some_and(|p| p.has_ports()) {
            ports.to_string()
        } else {
            String::new()
        },
        peer.as_ref()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "?".into())
    );
    let violation = violates(egress, allow, protocol, ports, peer.as_ref(), policy);
    let by_id = settings(policy).protected_network_acls.contains(&acl);
    let tags_matter = (!policy.exempt_tag.is_empty() && violation)
        || (!policy.protected_tag.is_empty() && !by_id);
    let mut assumed = vec![];
    let tags = if tags_matter {
        match facts.nacl_tags(&acl) {
            Known::Need(req) => return Verdict::NeedFacts(vec![req]),
            Known::Yes(t) => {
                if facts.offline && t.is_empty() {
                    assumed.push(FactRequest::NetworkAcl {
                        network_acl_id: acl.clone(),
                    });
                }
                t
            }
        }
    } else {
        Default::default()
    };
    let finish = |mut d: Decision| {
        d.assumed = assumed.clone();
        Verdict::Decided(d)
    };
    if tag_is_true(&tags, &policy.exempt_tag) {
        return finish(Decision::ignore(format!(
            "network ACL {acl} is tagged {}=true",
            policy.exempt_tag
        )));
    }
    let protected = by_id || tag_is_true(&tags, &policy.protected_tag);
    if !violation && !protected {
        return finish(Decision::ignore(format!(
            "{entry}: allowed by policy (deny, egress, non-public source, or allowed ports)"
        )));
    }
    let why = if violation {
        format!("{entry} opens the subnet to the internet")
    } else {
        format!("network ACL {acl} is protected: {entry} is reverted")
    };
    let mut details = vec![
        format!("entry: {entry}"),
        format!(
            "by {} from {}",
            r.user_identity.display(),
            r.source_ip_address.as_deref().unwrap_or("?")
        ),
    ];
    if let Some(region) = event.region() {
        details.push(format!("console: https://{region}.console.aws.amazon.com/vpcconsole/home?region={region}#NetworkAclDetails:networkAclId={acl}"));
    }
    let range = rp.get("portRange").or_else(|| rp.get("PortRange"));
    let delete = DeleteNaclEntry {
        network_acl_id: acl.clone(),
        rule_number,
        egress,
        entry: Some(AclEntry {
            rule_number,
            egress,
            allow,
            protocol: str_any(rp, &["aclProtocol", "protocol", "Protocol"]).unwrap_or_default(),
            from_port: range.and_then(|p| int_any(p, &["from", "From"])),
            to_port: range.and_then(|p| int_any(p, &["to", "To"])),
            cidr: str_any(
                rp,
                &["cidrBlock", "CidrBlock", "ipv6CidrBlock", "Ipv6CidrBlock"],
            ),
        }),
    };
    if name == "ReplaceNetworkAclEntry" && settings(policy).network_acl.on_replace == OnReplace::Notify {
        details.push("the entry it replaced is not in the event; network_acl.on_replace is \"notify\", so it is left for a human".into());
        return finish(Decision::notify(
            why,
            Notice {
                severity: Severity::High,
                title: format!("Network ACL {acl} entry {rule_number} replaced"),
                details,
            },
        ));
    }
    finish(Decision::remediate(
        why,
        vec![delete.into()],
        Notice {
            severity: Severity::High,
            title: format!("Network ACL {acl} opened to the internet"),
            details,
        },
    ))
}

/// The ingress entries through which an ACL lets the internet in beyond the policy: allow
/// entries `violates` flags that no lower-numbered deny of all traffic from a wider block
/// shadows (entries are evaluated in rule-number order, the first match wins).
fn open_entries(acl: &AclState, policy: &Policy) -> Vec<String> {
    let mut ingress: Vec<&crate::state::AclEntry> = acl
        .entries
        .iter()
        .filter(|e| !e.egress && e.rule_number < 32767)
        .collect();
    ingress.sort_by_key(|e| e.rule_number);
    let mut open = Vec::new();
    for (i, e) in ingress.iter().enumerate() {
        let protocol = Protocol::parse(&e.protocol);
        let ports = PortRange::from_bounds(e.from_port, e.to_port);
        let peer = e.cidr.as_deref().map(Peer::cidr);
        if !violates(false, e.allow, protocol, ports, peer.as_ref(), policy) {
            continue;
        }
        let Some(Peer::Cidr(net)) = peer else {
            continue;
        };
        let shadowed = ingress[..i].iter().any(|d| {
            !d.allow
                && Protocol::parse(&d.protocol) == Some(Protocol::All)
                && matches!(d.cidr.as_deref().map(Peer::cidr), Some(Peer::Cidr(w)) if w.contains(&net))
        });
        if !shadowed {
            let what = match protocol {
                Some(Protocol::All) => "all traffic".to_string(),
                Some(p) if p.has_ports() => format!("{p} {ports}"),
                Some(p) => p.to_string(),
                None => e.protocol.clone(),
            };
            open.push(format!("rule {}: {what} from {net}", e.rule_number));
        }
    }
    open
}

/// `ReplaceNetworkAclAssociation`: a subnet moved to another ACL. The event names the new
/// ACL and the association it replaced, but not the subnet nor the ACL it used before, and
/// once replaced the old association no longer exists to be read: the move cannot be undone
/// exactly, so people are told when the new ACL lets the internet in.
fn association(r: &crate::event::CloudTrailRecord, policy: &Policy, facts: &Facts) -> Verdict {
    let rp = &r.request_parameters;
    let Some(acl) = str_any(rp, &["networkAclId", "NetworkAclId"]) else {
        return Verdict::Decided(Decision::ignore(
            "ReplaceNetworkAclAssociation names no network ACL",
        ));
    };
    let state = match facts.acl_state(&acl) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(Some(s)) => s,
        Known::Yes(None) => {
            return Verdict::Decided(Decision::ignore(if facts.offline {
                format!("network ACL {acl}'s entries are looked up by the function (assumed absent offline)")
            } else {
                format!("network ACL {acl} no longer exists")
            }))
        }
    };
    if tag_is_true(&state.tags, &policy.exempt_tag) {
        return Verdict::Decided(Decision::ignore(format!(
            "network ACL {acl} is tagged {}=true",
            policy.exempt_tag
        )));
    }
    let open = open_entries(&state, policy);
    if open.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "network ACL {acl}, now associated with a subnet, lets the internet in on no port beyond the policy"
        )));
    }
    let new_association = str_any(&r.response_elements, &["newAssociationId", "NewAssociationId"]);
    let old_association = str_any(rp, &["associationId", "AssociationId"]);
    let mut details = vec![format!(
        "by {} from {}",
        r.user_identity.display(),
        r.source_ip_address.get().unwrap_or("?")
    )];
    details.push(format!(
        "a subnet now uses network ACL {acl}{}, which allows the internet in: {}",
        if state.is_default { " (its VPC's default ACL)" } else { "" },
        open.join("; ")
    ));
    details.push(format!(
        "not reverted: the event names neither the subnet nor the ACL it used before (association {} was replaced{}). \
         Find the subnet (aws ec2 describe-network-acls --network-acl-ids {acl}) and move it back \
         (aws ec2 replace-network-acl-association --association-id <its association> --network-acl-id <previous ACL>)",
        old_association.as_deref().unwrap_or("?"),
        new_association
            .map(|a| format!(" by {a}"))
            .unwrap_or_default()
    ));
    Verdict::Decided(Decision::notify(
        format!("ReplaceNetworkAclAssociation moved a subnet to network ACL {acl}, which lets the internet in"),
        Notice {
            severity: Severity::High,
            title: format!("Subnet moved to network ACL {acl}, open to the internet"),
            details,
        },
    ))
}

/// The sweep's view: a network ACL as it is now.
fn swept(state: &State, _account: Option<&str>, policy: &Policy, _facts: &Facts) -> Verdict {
    match state {
        State::NetworkAcl(a) => Verdict::Decided(decide_state(a, policy)),
        other => super::not_swept(GUARD.name, other),
    }
}
