//! Access keys: contain a leaked or abused key, and only that key.

use std::borrow::Cow;
use std::sync::OnceLock;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::action::{
    Action, DeactivateKey, Notice, PrincipalKind, RevokeSessions, Severity, SummarizeKeyActivity,
    TagUser, QUARANTINE_TAG, SESSION_POLICY_NAME,
};
use crate::decision::{Decision, Kind, Verdict};
use crate::event::{
    CloudTrailRecord, Event, EventBody, GuardDutyFinding, HealthDetail, ManualRequest,
    SecurityHubDetail,
};
use crate::facts::{FactKind, FactRequest, Facts, Known};
use crate::state::{State, StateKind};
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::ids::IdKind;
use crate::lenient::str_any;
use crate::ids::is_access_key_id;
use crate::policy::{each, field, GuardSettings, Parsed, Policy, PolicyError, SettingsSpec};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[
    &DeactivateKey::INFO,
    &RevokeSessions::INFO,
    &TagUser::INFO,
    &SummarizeKeyActivity::INFO,
];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "access_key",
    function: "disable-compromised-key",
    summary: "Contains a leaked or abused IAM access key, and only that key.",
    triggers: &[
        Trigger {
            rule: "HealthRisk",
            pattern: r#"{
                "source": ["aws.health"],
                "detail-type": ["AWS Health Event"],
                "detail": {"service": ["RISK"], "eventTypeCode": [{"prefix": "AWS_RISK_"}]}
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
        Trigger {
            rule: "GuardDutyAccessKey",
            // Findings about an access key, and the attack sequences and privilege
            // escalations that name credentials whatever resource they are filed under.
            pattern: r#"{
                "source": ["aws.guardduty"],
                "detail-type": ["GuardDuty Finding"],
                "detail": {"$or": [
                    {"resource": {"resourceType": ["AccessKey"]}},
                    {"type": [{"prefix": "AttackSequence:IAM/"}, {"prefix": "PrivilegeEscalation:IAMUser/"}]}
                ]}
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
        Trigger {
            // Only on the stack's own bus, which only ManualTriggerPrincipals may put on: a
            // custom source can be forged by anyone allowed to put events on a bus.
            rule: "ManualTriggerRule",
            pattern: r#"{"source": ["trailguard"], "detail-type": ["Disable Access Key"]}"#,
            delivery: Delivery::Changes,
            bus: Bus::ManualTrigger,
            excludes_own_role: false,
            condition: Some("HasManualTrigger"),
        },
        Trigger {
            rule: "SecurityHubGuardDuty",
            pattern: r#"{
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {"findings": {
                    "ProductArn": [{"suffix": ":product/aws/guardduty"}],
                    "RecordState": ["ACTIVE"],
                    "$or": [
                        {"Resources": {"Type": ["AwsIamAccessKey"]}},
                        {"Types": [{"wildcard": "*AttackSequence:IAM-*"}, {"wildcard": "*PrivilegeEscalation:IAMUser-*"}]},
                        {"FindingProviderFields": {"Types": [{"wildcard": "*AttackSequence:IAM-*"}, {"wildcard": "*PrivilegeEscalation:IAMUser-*"}]}}
                    ]
                }}
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
        // Any successful call with root credentials, reads included: root usage itself is
        // the signal (CIS AWS Foundations 1.7), and root calls are few. An AWS service acting
        // on root's behalf (`invokedBy` a service) is not root's own use (CIS 3.3); the
        // console (`invokedBy: signin.amazonaws.com`) is.
        Trigger {
            rule: "RootActivity",
            pattern: r#"{
                "source": [{"prefix": "aws."}],
                "detail-type": ["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"],
                "detail": {
                    "userIdentity": {"type": ["Root"], "invokedBy": [{"exists": false}, "signin.amazonaws.com"]},
                    "eventType": ["AwsApiCall", "AwsConsoleSignIn"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::ChangesAndReads,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
        // AWS's quarantine of a user with an exposed key: the managed policy attached, or
        // (its newer form) an inline policy of that name put, in any partition.
        Trigger {
            rule: "QuarantinePolicy",
            pattern: r#"{
                "source": ["aws.iam"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "$or": [
                        {"eventName": ["AttachUserPolicy"],
                         "requestParameters": {"policyArn": [{"wildcard": "arn:*:iam::aws:policy/AWSCompromisedKeyQuarantine*"}]}},
                        {"eventName": ["PutUserPolicy"],
                         "requestParameters": {"policyName": [{"prefix": "AWSCompromisedKeyQuarantine"}]}}
                    ]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
        // Containment undone: a key re-activated, or a key created, by anyone but trailguard
        // (the own-role clause); decided by whether trailguard quarantined the key's user.
        Trigger {
            rule: "KeyReactivated",
            pattern: r#"{
                "source": ["aws.iam"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["iam.amazonaws.com"],
                    "eventName": ["UpdateAccessKey"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "requestParameters": {"status": ["Active"]}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        Trigger {
            rule: "KeyCreated",
            pattern: r#"{
                "source": ["aws.iam"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["iam.amazonaws.com"],
                    "eventName": ["CreateAccessKey"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // trailguard's deny-older-sessions policy deleted or overwritten by anyone else.
        Trigger {
            rule: "SessionPolicyChanged",
            pattern: r#"{
                "source": ["aws.iam"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["iam.amazonaws.com"],
                    "eventName": ["DeleteUserPolicy", "DeleteRolePolicy", "PutUserPolicy", "PutRolePolicy"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}],
                    "requestParameters": {"policyName": ["trailguard-revoke-older-sessions"]}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // An IAM user signing in to the console without MFA (a stolen password is enough).
        Trigger {
            rule: "ConsoleLoginWithoutMfa",
            pattern: r#"{
                "source": ["aws.signin"],
                "detail-type": ["AWS Console Sign In via CloudTrail"],
                "detail": {
                    "eventName": ["ConsoleLogin"],
                    "userIdentity": {"type": ["IAMUser"]},
                    "additionalEventData": {"MFAUsed": ["No"]},
                    "responseElements": {"ConsoleLogin": ["Success"]}
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
        // A honeytoken's first call is usually a read (GetCallerIdentity, List*), and its
        // calls fail by design: this rule takes reads and failed calls.
        Trigger {
            rule: "HoneytokenRule",
            pattern: r#"{
                "source": [{"prefix": "aws."}],
                "detail-type": ["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"],
                "detail": {
                    "userIdentity": {"accessKeyId": ["{{HoneytokenAccessKeyIds}}"]},
                    "eventType": ["AwsApiCall", "AwsConsoleSignIn"]
                }
            }"#,
            delivery: Delivery::ChangesAndReads,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: Some("HasHoneytokens"),
        },
        // Reads are how a stolen key is tried out, so they count as use from outside too.
        Trigger {
            rule: "LongTermKeyRule",
            pattern: r#"{
                "source": [{"prefix": "aws."}],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "userIdentity": {"accessKeyId": [{"prefix": "AKIA"}]},
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::ChangesAndReads,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: Some("WatchLongTermKeys"),
        },
    ],
    facts: &[FactKind::AccessKeyOwner, FactKind::UserQuarantined],
    actions: ACTIONS,
    reads_every_call: true,
    max_actions_per_hour: 20,
    sweeps: &[StateKind::AccessKeys],
    settings: Some(&SETTINGS),
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// What only this guard reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Keys that must never be used (the template's `HoneytokenAccessKeyIds` adds to it).
    pub honeytoken_access_keys: Vec<String>,
    /// CIDRs long-term keys may be used from; empty switches the check off (the template's
    /// `TrustedNetworks` adds to it).
    pub trusted_networks: Parsed<IpNet>,
    pub guardduty: GuardDutySettings,
    /// Attach the deny-older-sessions policy when containing a key.
    pub revoke_sessions: bool,
    /// Tag the owner of a contained key `trailguard:quarantined`.
    pub tag_users: bool,
    /// How far back the key-activity summary looks; 0 switches it off.
    pub key_activity_hours: u32,
    /// Tell people about any successful call made with root credentials, and about
    /// GuardDuty root findings at any severity.
    pub notify_root_activity: bool,
    /// Tell people about an IAM user signing in to the console without MFA.
    pub notify_console_login_without_mfa: bool,
}

/// GuardDuty severities (0-10) to contain a key at and to tell people at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardDutySettings {
    pub act_at: f64,
    pub notify_at: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            honeytoken_access_keys: vec![],
            trusted_networks: Parsed::default(),
            guardduty: GuardDutySettings::default(),
            revoke_sessions: true,
            tag_users: true,
            key_activity_hours: 24,
            notify_root_activity: true,
            notify_console_login_without_mfa: true,
        }
    }
}

impl Default for GuardDutySettings {
    fn default() -> Self {
        GuardDutySettings {
            act_at: 7.0,
            notify_at: 4.0,
        }
    }
}

impl GuardSettings for Settings {
    fn validate(&mut self) -> Result<(), PolicyError> {
        let g = &self.guardduty;
        for (name, v) in [
            ("guardduty.act_at", g.act_at),
            ("guardduty.notify_at", g.notify_at),
        ] {
            if !(0.0..=10.0).contains(&v) {
                return Err(field(
                    name,
                    format!("{v} is outside GuardDuty's severity scale 0-10"),
                ));
            }
        }
        if g.notify_at > g.act_at {
            return Err(field(
                "guardduty.notify_at",
                format!(
                    "{} is above act_at {}: findings serious enough to act on must also be notified",
                    g.notify_at, g.act_at
                ),
            ));
        }
        each("honeytoken_access_keys", &self.honeytoken_access_keys, |k| {
            (!is_access_key_id(k)).then(|| {
                format!("`{k}` is not an access key id (AKIA... or ASIA..., 16-128 characters)")
            })
        })?;
        if self.key_activity_hours > 90 * 24 {
            return Err(field(
                "key_activity_hours",
                format!(
                    "{} is beyond the 90 days CloudTrail's event history keeps",
                    self.key_activity_hours
                ),
            ));
        }
        self.trusted_networks.parse_networks("trusted_networks")
    }
}

impl Settings {
    /// Whether `ip` is inside one of `trusted_networks`.
    pub fn is_trusted_ip(&self, ip: &str) -> bool {
        match ip.trim().parse::<std::net::IpAddr>() {
            Ok(addr) => self.trusted_networks.values().iter().any(|n| n.contains(&addr)),
            Err(_) => false,
        }
    }
}

const SETTINGS: SettingsSpec = SettingsSpec::of::<Settings>();

/// This guard's settings in `policy`.
pub fn settings(policy: &Policy) -> Cow<'_, Settings> {
    policy.section()
}

/// AWS attaches policies of this name (`AWSCompromisedKeyQuarantineV2`, an inline
/// `AWSCompromisedKeyQuarantineV3`, ...) to users whose keys it found exposed.
const QUARANTINE_POLICY: &str = "AWSCompromisedKeyQuarantine";

pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    match &event.body {
        EventBody::Health(h) => health(event, h, policy, facts),
        EventBody::GuardDuty(f) => guardduty(event, f, policy, facts),
        EventBody::Manual(m) => manual(event, m, policy, facts),
        EventBody::CloudTrail(r) => cloudtrail(event, r, policy, facts),
        EventBody::SecurityHub(d) => security_hub(event, d, policy, facts),
        EventBody::Other => Verdict::Decided(Decision::ignore(format!(
            "events from {} ({}) are not acted on",
            event.envelope.source.as_deref().unwrap_or("?"),
            event.envelope.detail_type.as_deref().unwrap_or("?")
        ))),
    }
}

fn health(event: &Event, h: &HealthDetail, policy: &Policy, facts: &Facts) -> Verdict {
    if !h
        .service
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("RISK"))
    {
        return Verdict::Decided(Decision::ignore(format!(
            "AWS Health event for service {} is not a credential risk",
            h.service.as_deref().unwrap_or("?")
        )));
    }
    let code = h.event_type_code.0.clone().unwrap_or_default();
    if !code.starts_with("AWS_RISK_") {
        return Verdict::Decided(Decision::ignore(format!(
            "AWS Health RISK event {code} is not an AWS_RISK_* credential event"
        )));
    }
    type Entities = Vec<(usize, String)>;
    let (keys, not_keys): (Entities, Entities) = h
        .affected_entities
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((i, e.entity_value.0.clone()?)))
        .partition(|(_, k)| IdKind::AccessKey.is_valid(k));
    let keys: Vec<String> = keys.into_iter().map(|(_, k)| k).collect();
    let description = h
        .event_description
        .iter()
        .find_map(|d| d.latest_description.0.clone());
    if keys.is_empty() {
        let mut details: Vec<String> = not_keys
            .iter()
            .map(|(i, v)| {
                format!(
                    "affectedEntities[{i}].entityValue = `{v}` is not a valid id (expected {})",
                    IdKind::AccessKey.expected()
                )
            })
            .collect();
        details.extend(description);
        let notice = Notice {
            severity: Severity::High,
            title: format!("AWS Health {code} names no access key"),
            details,
        };
        let reason = if not_keys.is_empty() {
            "the risk event names no access key id to contain".to_string()
        } else {
            format!(
                "target is not a valid id: affectedEntities[{}].entityValue = `{}`",
                not_keys[0].0, not_keys[0].1
            )
        };
        return Verdict::Decided(Decision::notify(reason, notice));
    }
    let context = Context {
        why: format!("AWS Health {code}"),
        severity: Severity::Critical,
        details: description
            .into_iter()
            .map(|d| d.chars().take(500).collect())
            .collect(),
    };
    contain_keys(event.account(),
        keys.into_iter().map(|k| (k, None)).collect(),
        context,
        policy,
        facts,
    )
}

/// An attack sequence (GuardDuty Extended Threat Detection: several signals already tie the
/// credentials to one attack): every credential of this account its actors name is
/// contained: a user's access key as any compromised key, a role's sessions revoked. None
/// when the finding names no actor (the single-key path decides it).
fn attack_sequence(
    event: &Event,
    ftype: &str,
    severity: f64,
    f: &GuardDutyFinding,
    policy: &Policy,
    facts: &Facts,
) -> Option<Verdict> {
    let actors = crate::lenient::items(&f.service["detection"]["sequence"]["actors"]);
    if actors.is_empty() {
        return None;
    }
    let account = event.account();
    let mut keys: Vec<(String, Option<String>)> = Vec::new();
    let mut roles: Vec<String> = Vec::new();
    let mut told: Vec<String> = Vec::new();
    for a in &actors {
        let u = &a["user"];
        let text = |v: &serde_json::Value| crate::lenient::scalar_string(v).filter(|s| !s.is_empty());
        let (name, kind, cred) = (text(&u["name"]), text(&u["type"]), text(&u["credentialUid"]));
        let actor_account = text(&u["account"]["uid"]);
        if actor_account.is_some() && actor_account.as_deref() != account {
            told.push(format!(
                "actor {} of account {}: not this account's, told",
                name.as_deref().unwrap_or("?"),
                actor_account.as_deref().unwrap_or("?")
            ));
            continue;
        }
        match kind.as_deref().unwrap_or_default() {
            // The key's owner is looked up (`AccessKeyOwner`), not taken from the finding:
            // the actor's name is what the finding says, the owner what IAM says.
            k if k.eq_ignore_ascii_case("IAMUser") => match cred {
                Some(c) if c.starts_with("AKIA") && crate::ids::is_access_key_id(&c) => {
                    if !keys.iter().any(|(k, _)| *k == c) {
                        keys.push((c, None));
                    }
                }
                _ => told.push(format!(
                    "user {}: no long-term key named ({}), told",
                    name.as_deref().unwrap_or("?"),
                    cred.as_deref().unwrap_or("none")
                )),
            },
            k if k.eq_ignore_ascii_case("AssumedRole") || k.eq_ignore_ascii_case("Role") => {
                // The role by its account and name: the session's issuer (a role ARN), else
                // the assumed-role ARN in `uid`. A bare name may be a session's, and a role
                // of that name in another account is someone else's.
                let issuer = text(&a["session"]["issuer"]).and_then(|arn| {
                    super::role_parts(&arn).map(|(acc, n)| (acc.to_string(), n.to_string()))
                });
                let from_uid = text(&u["uid"]).and_then(|arn| {
                    let f: Vec<&str> = arn.splitn(6, ':').collect();
                    let role = f.get(5)?.strip_prefix("assumed-role/")?.split('/').next()?;
                    (f.len() == 6 && f[2] == "sts").then(|| (f[4].to_string(), role.to_string()))
                });
                match issuer.or(from_uid) {
                    Some((acc, role)) if Some(acc.as_str()) != account => told.push(format!(
                        "role {role} of account {acc}: not this account's, told"
                    )),
                    Some((acc, role)) if super::is_trailguard_role(&acc, &role, policy, facts) => {
                        told.push(format!("role {role} is trailguard's own: never revoked, told"))
                    }
                    Some((_, role)) if crate::ids::IdKind::IamName.is_valid(&role) => {
                        if !roles.contains(&role) {
                            roles.push(role)
                        }
                    }
                    _ => told.push(format!(
                        "role actor {}: the finding names neither its role ARN nor its session ARN, told",
                        name.as_deref().unwrap_or("?")
                    )),
                }
            }
            other => told.push(format!(
                "actor {} of type {}: trailguard cannot disable it, told",
                name.as_deref().unwrap_or("?"),
                if other.is_empty() { "unknown" } else { other }
            )),
        }
    }
    let mut details = vec![format!("finding: {ftype} (severity {severity})")];
    details.extend(f.title.get().map(String::from));
    details.extend(told);
    if severity < settings(policy).guardduty.act_at || (keys.is_empty() && roles.is_empty()) {
        return Some(Verdict::Decided(Decision::notify(
            if keys.is_empty() && roles.is_empty() {
                "the attack sequence names no credential of this account trailguard can contain".to_string()
            } else {
                format!(
                    "severity {severity} is below act_at {}: notify only",
                    settings(policy).guardduty.act_at
                )
            },
            Notice {
                severity: Severity::Critical,
                title: format!("GuardDuty {ftype}"),
                details,
            },
        )));
    }
    let mut role_actions: Vec<Action> = Vec::new();
    for role in &roles {
        let arn = format!("arn:aws:iam::{}:role/{role}", account.unwrap_or("*"));
        if let Some(p) = policy.is_exempt_principal(&[&arn]) {
            details.push(format!("role {role} is exempt by `{p}`: told"));
        } else if settings(policy).revoke_sessions {
            details.push(format!("sessions of role {role} issued before now are denied"));
            role_actions.push(revoke_sessions(PrincipalKind::Role, role));
        } else {
            details.push(format!("role {role}: revoke_sessions is off, told"));
        }
    }
    let context = Context {
        why: format!("GuardDuty {ftype}"),
        severity: Severity::Critical,
        details: details.clone(),
    };
    let v = if keys.is_empty() {
        Verdict::Decided(Decision::notify(
            format!("GuardDuty {ftype}"),
            Notice {
                severity: Severity::Critical,
                title: format!("GuardDuty {ftype}"),
                details,
            },
        ))
    } else {
        contain_keys(account, keys, context, policy, facts)
    };
    Some(match v {
        Verdict::Decided(mut d) if !role_actions.is_empty() => {
            d.kind = Kind::Remediate;
            d.actions.extend(role_actions);
            Verdict::Decided(d)
        }
        other => other,
    })
}

/// Whether a GuardDuty finding is about the account's root user: its principal type says
/// Root (native `userType`, ASFF `PrincipalType`), or its principal is named `Root` with the
/// account as its id (the older ASFF form), or its type is `RootCredentialUsage`, which
/// GuardDuty raises for root only.
fn is_root_finding(ftype: &str, f: &GuardDutyFinding) -> bool {
    let by_details = f.resource.access_key_details.as_ref().is_some_and(|d| {
        d.user_type.get().is_some_and(|t| t.eq_ignore_ascii_case("Root"))
            || (d.user_name.get().is_some_and(|n| n.eq_ignore_ascii_case("Root"))
                && d.principal_id.get().is_some_and(crate::ids::is_account_id))
    });
    by_details || ftype.rsplit('/').next() == Some("RootCredentialUsage")
}

fn guardduty(event: &Event, f: &GuardDutyFinding, policy: &Policy, facts: &Facts) -> Verdict {
    let ftype = f.finding_type.0.clone().unwrap_or_default();
    let severity = f.severity.unwrap_or(0.0);
    if is_sample(f) {
        return Verdict::Decided(Decision::ignore(format!(
            "GuardDuty sample finding {ftype}"
        )));
    }
    if f.service.get("archived").and_then(crate::lenient::boolean) == Some(true) {
        return Verdict::Decided(Decision::ignore(format!(
            "GuardDuty finding {ftype} is archived"
        )));
    }
    let root = is_root_finding(&ftype, f);
    // Root usage is always worth telling (GuardDuty rates RootCredentialUsage 2, below
    // any sensible notify_at), when the policy says so.
    if severity < settings(policy).guardduty.notify_at && !(root && settings(policy).notify_root_activity) {
        return Verdict::Decided(Decision::ignore(format!(
            "GuardDuty {ftype} severity {severity} is below notify_at {}",
            settings(policy).guardduty.notify_at
        )));
    }
    // Root first: no API contains root, and a finding about it is told whether or not it
    // names a key (a console session's finding names none).
    if root {
        let mut details = vec![format!("finding: {ftype} (severity {severity})")];
        details.extend(f.title.get().map(String::from));
        details.extend(f.remote_ip().map(|ip| format!("caller IP: {ip}")));
        return Verdict::Decided(Decision::notify(
            "root credentials cannot be disabled by any API: a human must act",
            Notice {
                severity: Severity::Critical,
                title: format!("GuardDuty: root credentials involved in {ftype}"),
                details,
            },
        ));
    }
    if let Some(v) = attack_sequence(event, &ftype, severity, f, policy, facts) {
        return v;
    }
    let Some(d) = f
        .resource
        .access_key_details
        .clone()
        .filter(|d| d.access_key_id.is_some() || d.user_name.is_some())
    else {
        return Verdict::Decided(Decision::ignore(format!(
            "GuardDuty {ftype} is not about an access key"
        )));
    };
    let key = d.access_key_id.0.clone().unwrap_or_default();
    let user = d.user_name.0.clone();
    let user_type = d.user_type.0.clone().unwrap_or_default();
    let mut details = vec![format!("finding: {ftype} (severity {severity})")];
    if let Some(t) = f.title.get() {
        details.push(t.to_string());
    }
    if let Some(ip) = f.remote_ip() {
        details.push(format!("caller IP: {ip}"));
    }
    let act = severity >= settings(policy).guardduty.act_at;
    let title_who = user.clone().unwrap_or_else(|| key.clone());
    if !act {
        let notice = Notice {
            severity: Severity::Medium,
            title: format!("GuardDuty {ftype} on {title_who}"),
            details,
        };
        return Verdict::Decided(Decision::notify(
            format!(
                "severity {severity} is below act_at {}: notify only",
                settings(policy).guardduty.act_at
            ),
            notice,
        ));
    }
    if user_type.eq_ignore_ascii_case("AssumedRole") || user_type.eq_ignore_ascii_case("Role") {
        let Some(role) = user else {
            let notice = Notice {
                severity: Severity::High,
                title: format!("GuardDuty {ftype}: role credentials {key}"),
                details,
            };
            return Verdict::Decided(Decision::notify(
                "the finding does not name the role",
                notice,
            ));
        };
        if let Some(p) = policy.is_exempt_principal(&[&format!(
            "arn:aws:iam::{}:role/{role}",
            event.account().unwrap_or("*")
        )]) {
            let notice = Notice {
                severity: Severity::High,
                title: format!("GuardDuty {ftype} on exempt role {role}"),
                details,
            };
            return Verdict::Decided(Decision::notify(
                format!("role {role} is exempt by policy pattern `{p}`: notify only"),
                notice,
            ));
        }
        if !settings(policy).revoke_sessions {
            let notice = Notice {
                severity: Severity::High,
                title: format!("GuardDuty {ftype} on role {role}"),
                details,
            };
            return Verdict::Decided(Decision::notify(
                "temporary role credentials; revoke_sessions is off in the policy",
                notice,
            ));
        }
        details.push(format!(
            "temporary credentials {key}: sessions of role {role} issued before now are denied"
        ));
        let notice = Notice {
            severity: Severity::Critical,
            title: format!("GuardDuty {ftype}: sessions of role {role} revoked"),
            details,
        };
        let action = revoke_sessions(PrincipalKind::Role, &role);
        return Verdict::Decided(Decision::remediate(
            format!("temporary credentials of role {role} are compromised ({ftype})"),
            vec![action],
            notice,
        ));
    }
    if !user_type.is_empty() && !user_type.eq_ignore_ascii_case("IAMUser") {
        let notice = Notice {
            severity: Severity::High,
            title: format!("GuardDuty {ftype} on {user_type} {title_who}"),
            details,
        };
        return Verdict::Decided(Decision::notify(
            format!("credentials of type {user_type} cannot be disabled by trailguard"),
            notice,
        ));
    }
    if !is_access_key_id(&key) {
        let notice = Notice {
            severity: Severity::High,
            title: format!("GuardDuty {ftype} on {title_who}"),
            details,
        };
        return Verdict::Decided(Decision::notify(
            "the finding names no access key id",
            notice,
        ));
    }
    let context = Context {
        why: format!("GuardDuty {ftype} (severity {severity})"),
        severity: Severity::Critical,
        details,
    };
    contain_keys(event.account(), vec![(key, user)], context, policy, facts)
}

fn is_sample(f: &GuardDutyFinding) -> bool {
    f.service
        .get("additionalInfo")
        .and_then(|a| a.get("sample"))
        .and_then(crate::lenient::boolean)
        == Some(true)
        || f.resource
            .access_key_details
            .as_ref()
            .and_then(|d| d.access_key_id.as_deref())
            == Some("GeneratedFindingAccessKeyId")
}

fn manual(event: &Event, m: &ManualRequest, policy: &Policy, facts: &Facts) -> Verdict {
    let action = m.action.to_ascii_lowercase().replace([' ', '-', '_'], "");
    if action != "disableaccesskey" {
        return Verdict::Decided(Decision::ignore(format!(
            "unknown manual action `{}` (supported: \"Disable Access Key\")",
            m.action
        )));
    }
    let Some(key) = m.access_key_id.clone().filter(|k| is_access_key_id(k)) else {
        let notice = Notice {
            severity: Severity::Medium,
            title: "Manual \"Disable Access Key\" request without a valid access key id".into(),
            details: vec![format!("detail.accessKeyId = {:?}", m.access_key_id)],
        };
        return Verdict::Decided(Decision::notify(
            "the manual request names no valid access key id (detail.accessKeyId)",
            notice,
        ));
    };
    let mut details = vec![];
    if let Some(r) = &m.reason {
        details.push(format!("reason: {r}"));
    }
    if let Some(b) = &m.requested_by {
        details.push(format!("requested by: {b}"));
    }
    let context = Context {
        why: format!(
            "manual request{}",
            m.reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        severity: Severity::High,
        details,
    };
    contain_keys(event.account(),
        vec![(key, m.user_name.clone())],
        context,
        policy,
        facts,
    )
}

fn cloudtrail(event: &Event, r: &CloudTrailRecord, policy: &Policy, facts: &Facts) -> Verdict {
    let id = &r.user_identity;
    let name = r.event_name.0.clone().unwrap_or_default();
    let ip = r.source_ip_address.0.clone().unwrap_or_default();
    let key = id.access_key_id.0.clone().unwrap_or_default();
    if let Some(own) = super::own_role(r, policy, facts) {
        return Verdict::Decided(Decision::ignore(format!(
            "the call was made by trailguard's own role {own}"
        )));
    }
    if let Some(d) = super::not_the_call(r) {
        return Verdict::Decided(d);
    }
    let who = id.display();
    let base_details = vec![
        format!("call: {name} by {who}"),
        format!("from: {ip}"),
        format!("user agent: {}", r.user_agent.get().unwrap_or("?")),
    ];
    // A honeytoken has no legitimate use: any call with it, failed or not, is an intruder
    // holding it. Failed calls are the usual case, as honeytokens carry no permissions.
    if !key.is_empty() && settings(policy).honeytoken_access_keys.contains(&key) {
        let user = if id.is_type("IAMUser") {
            id.user_name.0.clone()
        } else {
            None
        };
        let mut details = base_details;
        if let Some(code) = r.error_code.get() {
            details.push(format!(
                "the call failed with {code}, as honeytoken calls should"
            ));
        }
        let context = Context {
            why: format!("honeytoken access key {key} used for {name}"),
            severity: Severity::Critical,
            details,
        };
        return contain_keys(event.account(), vec![(key, user)], context, policy, facts);
    }
    if let Some(code) = r.error_code.get() {
        return Verdict::Decided(Decision::ignore(format!(
            "the call failed ({code}): nothing to contain"
        )));
    }
    let sign_in = str_any(&r.response_elements, &["ConsoleLogin"]);
    if name == "ConsoleLogin" && sign_in.as_deref() != Some("Success") {
        return Verdict::Decided(Decision::ignore(format!(
            "a sign-in that did not succeed ({}) changes nothing",
            sign_in.as_deref().unwrap_or("no result in the event")
        )));
    }
    if name == "ConsoleLogin"
        && id.is_type("IAMUser")
        && str_any(&r.additional_event_data, &["MFAUsed"]).as_deref() == Some("No")
        && settings(policy).notify_console_login_without_mfa
    {
        let user = id.user_name.get().unwrap_or("?");
        return Verdict::Decided(Decision::notify(
            format!("IAM user {user} signed in to the console without MFA"),
            Notice {
                severity: Severity::Medium,
                title: format!("Console sign-in without MFA: {user} from {ip}"),
                details: {
                    let mut d = base_details;
                    d.push(format!(
                        "what to check: whether {user} signed in from {ip}; require MFA for console users"
                    ));
                    d
                },
            },
        ));
    }
    if id.is_type("Root") && (id.invoked_by.is_absent() || id.invoked_by.get() == Some(CONSOLE)) {
        if let Some(d) = root_activity(r, &name, &ip, policy, base_details.clone()) {
            return Verdict::Decided(d);
        }
    }
    if let Some(v) = quarantine(event, r, &name, policy, base_details.clone()) {
        return v;
    }
    let undone = match containment_undone(event, r, &name, policy, facts, base_details.clone()) {
        Some(Verdict::NeedFacts(need)) => return Verdict::NeedFacts(need),
        Some(Verdict::Decided(d)) => Some(d),
        None => None,
    };
    // The undoing's own lines come after the call's, which the containment notice has.
    let shared_lines = base_details.len();
    if !settings(policy).trusted_networks.values().is_empty()
        && key.starts_with("AKIA")
        && ip.parse::<std::net::IpAddr>().is_ok()
        && !settings(policy).is_trusted_ip(&ip)
    {
        let user = if id.is_type("IAMUser") {
            id.user_name.0.clone()
        } else {
            None
        };
        let context = Context {
            why: format!("long-term key {key} used from {ip}, outside the trusted networks"),
            severity: Severity::High,
            details: base_details,
        };
        let v = contain_keys(event.account(), vec![(key, user)], context, policy, facts);
        // The caller's key is contained, and what the call undid is put back too.
        return match (v, undone) {
            (Verdict::Decided(mut d), Some(u)) if u.kind == Kind::Remediate => {
                d.kind = Kind::Remediate;
                d.reason = format!("{}; {}", d.reason, u.reason);
                d.actions.extend(u.actions);
                if let (Some(n), Some(un)) = (d.notice.as_mut(), u.notice) {
                    n.details.extend(un.details.into_iter().skip(shared_lines));
                }
                Verdict::Decided(d)
            }
            (v, _) => v,
        };
    }
    if let Some(d) = undone {
        return Verdict::Decided(d);
    }
    Verdict::Decided(Decision::ignore(format!(
        "{name} by {who}: no access-key signal"
    )))
}

/// The `invokedBy` of a call made in the console: root's own use, unlike a service's.
const CONSOLE: &str = "signin.amazonaws.com";

/// A successful call made with root credentials (not by an AWS service on root's behalf).
/// No API can disable root: people are told. A console sign-in and a root access key are
/// always told; any other call when `notify_root_activity` is on (CIS AWS Foundations 1.7).
fn root_activity(
    r: &CloudTrailRecord,
    name: &str,
    ip: &str,
    policy: &Policy,
    details: Vec<String>,
) -> Option<Decision> {
    let for_user = str_any(&r.request_parameters, &["userName"]);
    let (severity, title) = match (name, &for_user) {
        ("ConsoleLogin", _) => (Severity::Critical, format!("Root console sign-in from {ip}")),
        ("CreateAccessKey", None) => (Severity::Critical, format!("Root access key created from {ip}")),
        _ if !settings(policy).notify_root_activity => return None,
        ("CreateAccessKey", Some(u)) => (
            Severity::High,
            format!("Root created an access key for user {u} from {ip}"),
        ),
        _ => (Severity::High, format!("Root credentials used for {name} from {ip}")),
    };
    Some(Decision::notify(
        "root credentials used: no API can contain root, a human must review",
        Notice {
            severity,
            title,
            details,
        },
    ))
}

/// AWS's own quarantine of a user whose key it found exposed: the managed policy
/// `AWSCompromisedKeyQuarantine*` attached (`AttachUserPolicy`), or, in its newer form, an
/// inline policy of that name (`PutUserPolicy`). The user's older sessions are revoked and
/// the user tagged: AWS's policy denies some actions, not everything a session can do.
fn quarantine(
    event: &Event,
    r: &CloudTrailRecord,
    name: &str,
    policy: &Policy,
    mut details: Vec<String>,
) -> Option<Verdict> {
    let rp = &r.request_parameters;
    let marker = match name {
        "AttachUserPolicy" => str_any(rp, &["policyArn"])
            .filter(|a| a.rsplit('/').next().is_some_and(|n| n.starts_with(QUARANTINE_POLICY)))?,
        "PutUserPolicy" => {
            if rp.is_null() {
                return Some(Verdict::Decided(Decision::ignore(
                    "PutUserPolicy without request parameters proves nothing about quarantine",
                )));
            }
            str_any(rp, &["policyName"]).filter(|n| n.starts_with(QUARANTINE_POLICY))?
        }
        _ => return None,
    };
    let Some(user) = str_any(rp, &["userName"]) else {
        return Some(Verdict::Decided(Decision::ignore(format!(
            "{marker} applied, but the event names no user"
        ))));
    };
    if !made_by_aws(r, &user) {
        let who = r.user_identity.display();
        details.push(format!(
            "{who} gave user {user} a policy named like AWS's quarantine ({marker}); AWS's own quarantine is made by an AWS service, so this is not AWS's signal and nothing was changed"
        ));
        details.push(format!(
            "what to check: why {who} did this; a policy of that name can make tools treat {user}'s keys as exposed"
        ));
        return Some(Verdict::Decided(Decision::notify(
            format!("{marker} applied to {user} by {who}, not by AWS: told, not acted on"),
            Notice {
                severity: Severity::High,
                title: format!("{marker} applied to {user} by {who}, not by AWS"),
                details,
            },
        )));
    }
    details.push(format!(
        "AWS applied {marker} to user {user}: AWS believes a key of this user is exposed"
    ));
    let account = event.account().unwrap_or("*");
    if let Some(p) = policy.is_exempt_principal(&[&format!("arn:aws:iam::{account}:user/{user}")]) {
        return Some(Verdict::Decided(Decision::notify(
            format!("user {user} is exempt by policy pattern `{p}`: notify only"),
            Notice {
                severity: Severity::Critical,
                title: format!("AWS quarantined exempt user {user}"),
                details,
            },
        )));
    }
    let mut actions: Vec<Action> = Vec::new();
    if settings(policy).revoke_sessions {
        actions.push(revoke_sessions(PrincipalKind::User, &user));
    }
    if settings(policy).tag_users {
        actions.push(
            TagUser {
                user_name: Some(user.clone()),
                key: QUARANTINE_TAG.into(),
                reason: format!("AWS quarantine policy {marker}"),
            }
            .into(),
        );
    }
    let notice = |title: String| Notice {
        severity: Severity::Critical,
        title,
        details: details.clone(),
    };
    Some(Verdict::Decided(if actions.is_empty() {
        Decision::notify(
            "revoke_sessions and tag_users are off in the policy: notify only",
            notice(format!("AWS quarantined user {user}")),
        )
    } else {
        Decision::remediate(
            format!("{marker} applied to {user}"),
            actions,
            notice(format!("AWS quarantined user {user}: older sessions revoked")),
        )
    }))
}

/// Whether AWS itself made the call: an AWS service's identity (`AWSService`, which no
/// customer principal can take), or the form AWS's inline quarantine is recorded in: the
/// user's own name, from and through AWS's internal network (`AWS Internal` as both source
/// address and user agent), on that same user only. Anyone else's call, from anywhere, is
/// not AWS's signal.
fn made_by_aws(r: &CloudTrailRecord, target_user: &str) -> bool {
    let id = &r.user_identity;
    if id.is_type("AWSService") {
        return true;
    }
    let internal = |t: &crate::lenient::Text| t.get() == Some("AWS Internal");
    internal(&r.source_ip_address)
        && internal(&r.user_agent)
        && id.is_type("IAMUser")
        && id.user_name.get() == Some(target_user)
}

/// Containment taken back by someone other than trailguard: a key re-activated
/// (`UpdateAccessKey` to Active) or a key created for a user trailguard quarantined, or
/// trailguard's deny-older-sessions policy deleted or overwritten. Whether the user is
/// quarantined is read when the action runs (the user's `trailguard:quarantined` tag), so
/// an unrelated user's key is left alone. `iam_admins` are told, not reverted: that is how
/// a responder lifts a quarantine.
fn containment_undone(
    event: &Event,
    r: &CloudTrailRecord,
    name: &str,
    policy: &Policy,
    facts: &Facts,
    mut details: Vec<String>,
) -> Option<Verdict> {
    let rp = &r.request_parameters;
    let id = &r.user_identity;
    let who = id.display();
    // A user's own call may leave the user name out: it is then the caller's.
    let own_user = || id.is_type("IAMUser").then(|| id.user_name.0.clone()).flatten();
    let admin = policy.is_iam_admin(&id.arns());
    let account = event.account().unwrap_or("*");
    match name {
        "UpdateAccessKey" | "CreateAccessKey" => {
            let (key, user, what) = if name == "UpdateAccessKey" {
                let status = str_any(rp, &["status"])?;
                if !status.eq_ignore_ascii_case("Active") {
                    return None;
                }
                let key = str_any(rp, &["accessKeyId"])?;
                (key, str_any(rp, &["userName"]).or_else(own_user), "re-activated")
            } else {
                // An admin's new key is the responder's or the pipeline's: guard-iam's to
                // report; trailguard cannot tell from the event whether the user is
                // quarantined, and telling every key an admin makes is noise.
                if admin.is_some() {
                    return None;
                }
                let created = r.response_elements.get("accessKey")?;
                let key = str_any(created, &["accessKeyId"])?;
                let user = str_any(created, &["userName"])
                    .or_else(|| str_any(rp, &["userName"]))
                    .or_else(own_user);
                (key, user, "created")
            };
            if !is_access_key_id(&key) {
                return Some(Verdict::Decided(Decision::ignore(format!(
                    "{name}: `{key}` is not a valid access key id (expected {})",
                    IdKind::AccessKey.expected()
                ))));
            }
            let Some(user) = user else {
                return Some(Verdict::Decided(Decision::ignore(format!(
                    "{name} of key {key}: the event names no user"
                ))));
            };
            details.push(format!("key {key} of user {user} {what} by {who}"));
            if let Some(p) = admin {
                details.push(format!(
                    "{who} is an iam_admin (`{p}`): if {user} was quarantined, this lifts the quarantine"
                ));
                return Some(Verdict::Decided(Decision::notify(
                    format!("access key {key} of {user} {what} by iam_admin {who}: told, not reverted"),
                    Notice {
                        severity: Severity::Medium,
                        title: format!("Access key {key} of {user} {what} by an iam_admin"),
                        details,
                    },
                )));
            }
            if let Some(p) =
                policy.is_exempt_principal(&[&format!("arn:aws:iam::{account}:user/{user}")])
            {
                return Some(Verdict::Decided(Decision::ignore(format!(
                    "key {key} of {user} {what}: {user} is exempt by policy pattern `{p}`"
                ))));
            }
            if !settings(policy).tag_users {
                return Some(Verdict::Decided(Decision::ignore(format!(
                    "key {key} of {user} {what}: tag_users is off, so trailguard marks no user quarantined to compare with"
                ))));
            }
            // Only a user trailguard contained (its quarantine tag, read now): any other
            // user's keys are none of this guard's business.
            match facts.user_quarantined(&user) {
                Known::Need(r) => return Some(Verdict::NeedFacts(vec![r])),
                Known::Yes(Some(true)) => {}
                Known::Yes(_) => {
                    return Some(Verdict::Decided(Decision::ignore(format!(
                        "key {key} of {user} {what} by {who}: {user} carries no {QUARANTINE_TAG}, so trailguard contained none of its keys"
                    ))))
                }
            }
            details.push(format!(
                "{user} carries {QUARANTINE_TAG}: trailguard contained a key of {user}; a responder in iam_admins lifts the quarantine"
            ));
            Some(Verdict::Decided(Decision::remediate(
                format!("access key {key} of quarantined user {user} {what} by {who}, not an iam_admin"),
                vec![DeactivateKey::of(Some(user.clone()), key.clone()).into()],
                Notice {
                    severity: Severity::High,
                    title: format!("Access key {key} of quarantined user {user} {what} by {who}"),
                    details,
                },
            )))
        }
        "DeleteUserPolicy" | "DeleteRolePolicy" | "PutUserPolicy" | "PutRolePolicy" => {
            if str_any(rp, &["policyName"]).as_deref() != Some(SESSION_POLICY_NAME) {
                return None;
            }
            let (kind, field, noun) = if name.contains("User") {
                (PrincipalKind::User, "userName", "user")
            } else {
                (PrincipalKind::Role, "roleName", "role")
            };
            let Some(target) = str_any(rp, &[field]) else {
                return Some(Verdict::Decided(Decision::ignore(format!(
                    "{name} of {SESSION_POLICY_NAME}: the event names no {noun}"
                ))));
            };
            let what = if name.starts_with("Delete") {
                "deleted"
            } else {
                "overwritten"
            };
            details.push(format!(
                "trailguard's {SESSION_POLICY_NAME} on {noun} {target} {what} by {who}"
            ));
            if let Some(p) = admin {
                details.push(format!(
                    "{who} is an iam_admin (`{p}`): sessions of {target} issued before containment are no longer denied"
                ));
                return Some(Verdict::Decided(Decision::notify(
                    format!("{SESSION_POLICY_NAME} on {target} {what} by iam_admin {who}: told, not reverted"),
                    Notice {
                        severity: Severity::Medium,
                        title: format!("Containment of {noun} {target} lifted by an iam_admin"),
                        details,
                    },
                )));
            }
            // Only where trailguard contained: a user carries its quarantine tag. Anyone who
            // can put a policy of that name on a role could otherwise make trailguard cut off
            // every running session of a production role; a role is not tagged by
            // containment, so a role's is told (high), not put back.
            let quarantined = match kind {
                PrincipalKind::User => match facts.user_quarantined(&target) {
                    Known::Need(r) => return Some(Verdict::NeedFacts(vec![r])),
                    Known::Yes(q) => q == Some(true),
                },
                PrincipalKind::Role => false,
            };
            if !quarantined {
                details.push(format!(
                    "not put back: nothing shows trailguard contained {noun} {target} (a user carries {QUARANTINE_TAG} when it did); putting it back would deny every session of {target} issued before now. Check who changed it and whether {target} was contained"
                ));
                return Some(Verdict::Decided(Decision::notify(
                    format!("{SESSION_POLICY_NAME} on {noun} {target} {what} by {who}: told, not put back (containment of {target} unproven)"),
                    Notice {
                        severity: Severity::High,
                        title: format!("trailguard's session policy on {noun} {target} {what} by {who}"),
                        details,
                    },
                )));
            }
            // The containment time is not in the event: the policy is put back with a new
            // "now", which still denies every session issued before it, the attacker's
            // included (and any issued while the policy was gone).
            details.push(format!(
                "put back under the same name, denying {noun} {target}'s sessions issued before now"
            ));
            Some(Verdict::Decided(Decision::remediate(
                format!("{SESSION_POLICY_NAME} on {target} {what} by {who}, not an iam_admin"),
                vec![RevokeSessions::of(kind, Some(target.clone())).into()],
                Notice {
                    severity: Severity::Critical,
                    title: format!("Containment of {noun} {target} undone by {who}: put back"),
                    details,
                },
            )))
        }
        _ => None,
    }
}

/// Security Hub findings: GuardDuty's, carried in ASFF, decided as the native finding is.
fn security_hub(event: &Event, d: &SecurityHubDetail, policy: &Policy, facts: &Facts) -> Verdict {
    let Some(f) = d.findings.iter().find(|f| f.is_guardduty()) else {
        return Verdict::Decided(Decision::ignore(format!(
            "Security Hub finding from {} is not a GuardDuty finding",
            d.findings.first().map(|f| f.product()).unwrap_or_else(|| "no product".into())
        )));
    };
    if let Some(why) = f.closed() {
        return Verdict::Decided(Decision::ignore(format!(
            "GuardDuty finding {} in Security Hub is closed: {why}",
            f.guardduty_type().unwrap_or_default()
        )));
    }
    guardduty(event, &f.as_guardduty(), policy, facts)
}

/// Decide on a key as it is now (the sweep): an active honeytoken, or an active key of a
/// user AWS quarantined, is contained as its event would have been.
pub fn decide_state(
    k: &crate::state::KeyState,
    account: Option<&str>,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let id = &k.access_key_id;
    if !k.active {
        return Verdict::Decided(Decision::ignore(format!("key {id} is already inactive")));
    }
    let (why, detail) = if settings(policy).honeytoken_access_keys.contains(id) {
        (
            format!("honeytoken key {id} is active"),
            "a honeytoken must never be usable; its use would have been contained".to_string(),
        )
    } else if let Some(p) = &k.quarantined_by {
        (
            format!("key {id} of {} is active although AWS quarantined the user", k.user_name),
            format!("AWS attached {p}: the key is known to be exposed"),
        )
    } else {
        return Verdict::Decided(Decision::ignore(format!(
            "key {id} is neither a honeytoken nor a quarantined user's"
        )));
    };
    contain_keys(
        account,
        vec![(id.clone(), Some(k.user_name.clone()))],
        Context {
            why,
            severity: Severity::Critical,
            details: vec![detail, crate::state::WHY.to_string()],
        },
        policy,
        facts,
    )
}

fn revoke_sessions(principal: PrincipalKind, name: &str) -> Action {
    RevokeSessions::of(principal, Some(name.to_string())).into()
}

struct Context {
    why: String,
    severity: Severity,
    details: Vec<String>,
}

/// Disable each key (resolving its owner when the event does not name it), revoke the
/// owner's older sessions, tag the owner and summarise what the key did.
fn contain_keys(
    account: Option<&str>,
    keys: Vec<(String, Option<String>)>,
    ctx: Context,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let mut needed = Vec::new();
    let mut resolved = Vec::new();
    let mut assumed = Vec::new();
    for (key, user) in keys {
        match user {
            Some(u) => resolved.push((key, Some(u))),
            None => match facts.key_owner(&key) {
                Known::Need(r) => needed.push(r),
                Known::Yes(owner) => {
                    if owner.is_none() && facts.offline {
                        assumed.push(FactRequest::AccessKeyOwner {
                            access_key_id: key.clone(),
                        });
                    }
                    resolved.push((key, owner))
                }
            },
        }
    }
    if !needed.is_empty() {
        return Verdict::NeedFacts(needed);
    }
    let account = account.unwrap_or("*").to_string();
    let mut actions: Vec<Action> = Vec::new();
    let mut details = ctx.details;
    let mut exempt = Vec::new();
    let mut unknown = Vec::new();
    for (key, user) in &resolved {
        // Offline (the CLI), an owner the event does not name is planned as null: the
        // function resolves it before acting.
        if user.is_none() && !facts.offline {
            unknown.push(key.clone());
            continue;
        }
        if let Some(u) = user {
            if let Some(p) =
                policy.is_exempt_principal(&[&format!("arn:aws:iam::{account}:user/{u}")])
            {
                exempt.push(format!("{key} of {u} (exempt by `{p}`)"));
                continue;
            }
            details.push(format!("key {key} of user {u}"));
        } else {
            details.push(format!("key {key}: owner not in the event (resolved with GetAccessKeyLastUsed at run time)"));
        }
        actions.push(DeactivateKey::of(user.clone(), key.clone()).into());
        if settings(policy).revoke_sessions {
            actions.push(RevokeSessions::of(PrincipalKind::User, user.clone()).into());
        }
        if settings(policy).tag_users {
            actions.push(
                TagUser {
                    user_name: user.clone(),
                    key: QUARANTINE_TAG.into(),
                    reason: ctx.why.clone(),
                }
                .into(),
            );
        }
        if settings(policy).key_activity_hours > 0 {
            actions.push(
                SummarizeKeyActivity {
                    access_key_id: key.clone(),
                    hours: settings(policy).key_activity_hours,
                }
                .into(),
            );
        }
    }
    for k in &unknown {
        details.push(format!("key {k} was not found in account {account}: already deleted, or not this account's key"));
    }
    for e in &exempt {
        details.push(format!("not disabled: {e}"));
    }
    let who = resolved
        .iter()
        .map(|(k, u)| {
            format!(
                "{k}{}",
                u.as_ref().map(|u| format!(" ({u})")).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut d = if actions.is_empty() {
        let reason = if !exempt.is_empty() {
            format!(
                "{}: the key's user is exempt by policy, notify only",
                ctx.why
            )
        } else {
            format!(
                "{}: no such key in this account, nothing to disable",
                ctx.why
            )
        };
        Decision::notify(
            reason,
            Notice {
                severity: ctx.severity,
                title: format!("Access key {who}: {}", ctx.why),
                details,
            },
        )
    } else {
        Decision::remediate(
            ctx.why.clone(),
            actions,
            Notice {
                severity: ctx.severity,
                title: format!("Compromised access key {who}"),
                details,
            },
        )
    };
    d.assumed = assumed;
    Verdict::Decided(d)
}

/// The sweep's view: a honeytoken, or a key of a user AWS quarantined, as it is now.
fn swept(state: &State, account: Option<&str>, policy: &Policy, facts: &Facts) -> Verdict {
    match state {
        State::AccessKey(k) => decide_state(k, account, policy, facts),
        other => super::not_swept(GUARD.name, other),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn call(name: &str, identity: Value, ip: &str, ua: &str, params: Value) -> Event {
        Event::from_value(json!({
            "version": "0", "id": "e1", "source": "aws.iam", "account": "123456789012",
            "region": "us-east-1", "detail-type": "AWS API Call via CloudTrail",
            "detail": {
                "eventName": name, "eventSource": "iam.amazonaws.com", "eventType": "AwsApiCall",
                "userIdentity": identity, "sourceIPAddress": ip, "userAgent": ua,
                "requestParameters": params, "eventID": "r1"
            }
        }))
        .unwrap()
    }

    fn user(name: &str, key: &str) -> Value {
        json!({"type": "IAMUser", "arn": format!("arn:aws:iam::123456789012:user/{name}"),
               "userName": name, "accessKeyId": key, "accountId": "123456789012"})
    }

    fn decided(v: Verdict) -> Decision {
        match v {
            Verdict::Decided(d) => d,
            Verdict::NeedFacts(f) => panic!("asked for {f:?}"),
        }
    }

    fn policy(extra: Value) -> Policy {
        let mut p = json!({"trusted_networks": ["198.51.100.0/24"],
                           "iam_admins": ["arn:aws:iam::*:role/terraform-deployer"]});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Policy::from_json(&p.to_string()).unwrap()
    }

    #[test]
    fn a_quarantine_policy_name_counts_only_when_aws_puts_it() {
        let p = policy(json!({}));
        let params = json!({"userName": "bob", "policyName": "AWSCompromisedKeyQuarantineV3"});
        // AWS's inline form: the user's own name, from AWS's internal network.
        let aws = call("PutUserPolicy", user("bob", "ASIA5EXAMPLEBOBSESS1"), "AWS Internal", "AWS Internal", params.clone());
        assert_eq!(decided(decide(&aws, &p, &Facts::offline())).kind, Kind::Remediate);
        // The same call from an address, or by someone else for bob, or "AWS Internal" for
        // another user: told, not acted on.
        for (who, ip, ua) in [
            ("bob", "198.51.100.7", "aws-cli/2.17"),
            ("bob", "AWS Internal", "aws-cli/2.17"),
            ("mallory", "AWS Internal", "AWS Internal"),
            ("mallory", "198.51.100.7", "aws-cli/2.17"),
        ] {
            let e = call("PutUserPolicy", user(who, "ASIA5EXAMPLEMALLORY1"), ip, ua, params.clone());
            let d = decided(decide(&e, &p, &Facts::offline()));
            assert_eq!(d.kind, Kind::Notify, "{who} {ip} {ua}: {}", d.reason);
            assert!(d.actions.is_empty());
        }
        // An AWS service's identity.
        let svc = call("AttachUserPolicy", json!({"type": "AWSService", "invokedBy": "iam.amazonaws.com"}),
            "iam.amazonaws.com", "iam.amazonaws.com",
            json!({"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"}));
        assert_eq!(decided(decide(&svc, &p, &Facts::offline())).kind, Kind::Remediate);
    }

    #[test]
    fn reactivation_is_reverted_only_for_non_admins_and_only_while_tagging() {
        let params = json!({"userName": "dave", "accessKeyId": "AKIA5EXAMPLEDAVEKEY1", "status": "Active"});
        let e = call("UpdateAccessKey", user("mallory", "ASIA5EXAMPLEMALLORY1"), "198.51.100.7", "cli", params.clone());
        // Online, the user's quarantine tag is asked for first.
        let need = decide(&e, &policy(json!({})), &Facts::default());
        assert!(
            matches!(&need, Verdict::NeedFacts(r) if r == &vec![FactRequest::UserQuarantined { user_name: "dave".into() }]),
            "{need:?}"
        );
        let quarantined = |q: bool| {
            let mut f = Facts::offline();
            f.user_quarantined.insert("dave".into(), Some(q));
            f
        };
        let d = decided(decide(&e, &policy(json!({})), &quarantined(true)));
        assert_eq!(d.kind, Kind::Remediate, "{}", d.reason);
        assert_eq!(
            d.actions,
            vec![Action::from(DeactivateKey::of(
                Some("dave".into()),
                "AKIA5EXAMPLEDAVEKEY1".into()
            ))]
        );
        // A user trailguard did not quarantine: none of its business, and nobody is told.
        let d = decided(decide(&e, &policy(json!({})), &quarantined(false)));
        assert_eq!(d.kind, Kind::Ignore, "{}", d.reason);
        // Without the tag, trailguard cannot tell its quarantined users: nothing to compare.
        let d = decided(decide(&e, &policy(json!({"tag_users": false})), &quarantined(true)));
        assert_eq!(d.kind, Kind::Ignore, "{}", d.reason);
        // The caller's session name is theirs to choose: a session of another role named
        // like the admin role is not an admin.
        let forged_admin = json!({"type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/developer/terraform-deployer",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/developer"}}});
        let e = call("UpdateAccessKey", forged_admin, "198.51.100.7", "cli", params.clone());
        assert_eq!(decided(decide(&e, &policy(json!({})), &quarantined(true))).kind, Kind::Remediate);
        let admin = json!({"type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/terraform-deployer/ir",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/terraform-deployer"}}});
        let e = call("UpdateAccessKey", admin, "198.51.100.7", "cli", params);
        assert_eq!(decided(decide(&e, &policy(json!({})), &quarantined(true))).kind, Kind::Notify);
    }

    #[test]
    fn an_outside_key_undoing_containment_is_contained_and_the_undoing_reverted() {
        let params = json!({"userName": "dave", "accessKeyId": "AKIA5EXAMPLEDAVEKEY1", "status": "Active"});
        let e = call("UpdateAccessKey", user("mallory", "AKIA5EXAMPLEMALLORY1"), "203.0.113.9", "cli", params);
        let mut facts = Facts::offline();
        facts.key_owners.insert("AKIA5EXAMPLEMALLORY1".into(), Some("mallory".into()));
        facts.user_quarantined.insert("dave".into(), Some(true));
        let d = decided(decide(&e, &policy(json!({})), &facts));
        let keys: Vec<&str> = d
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::DeactivateAccessKey(k) => Some(k.access_key_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(keys, ["AKIA5EXAMPLEMALLORY1", "AKIA5EXAMPLEDAVEKEY1"], "{:?}", d.actions);
    }

    #[test]
    fn the_deny_policy_is_put_back_only_on_a_quarantined_user_unless_an_admin_removed_it() {
        let params = json!({"userName": "dave", "policyName": SESSION_POLICY_NAME});
        let e = call("DeleteUserPolicy", user("mallory", "ASIA5EXAMPLEMALLORY1"), "198.51.100.7", "cli", params.clone());
        let mut facts = Facts::offline();
        facts.user_quarantined.insert("dave".into(), Some(true));
        let d = decided(decide(&e, &policy(json!({})), &facts));
        assert_eq!(d.actions, vec![RevokeSessions::of(PrincipalKind::User, Some("dave".into())).into()]);
        // A user trailguard did not contain (or offline, not known to be): told only.
        let d = decided(decide(&e, &policy(json!({})), &Facts::offline()));
        assert_eq!((d.kind, d.actions.len()), (Kind::Notify, 0), "{}", d.reason);
        // A role carries no mark of containment: a policy of that name put on a production
        // role must not make trailguard deny all its running sessions.
        let params = json!({"roleName": "app-ingest", "policyName": SESSION_POLICY_NAME});
        for call_name in ["DeleteRolePolicy", "PutRolePolicy"] {
            let e = call(call_name, user("mallory", "ASIA5EXAMPLEMALLORY1"), "198.51.100.7", "cli", params.clone());
            let d = decided(decide(&e, &policy(json!({})), &Facts::offline()));
            assert_eq!((d.kind, d.actions.len()), (Kind::Notify, 0), "{}", d.reason);
        }
        // Another inline policy of the role is not trailguard's.
        let other = json!({"roleName": "app-ingest", "policyName": "app-permissions"});
        let e = call("DeleteRolePolicy", user("mallory", "ASIA5EXAMPLEMALLORY1"), "198.51.100.7", "cli", other);
        assert_eq!(decided(decide(&e, &policy(json!({})), &Facts::offline())).kind, Kind::Ignore);
    }
}
