//! IAM: a role's trust opened to outsiders is closed again (exactly those principals are
//! taken out of the trust policy); the ways attackers stay in (a key or console password for
//! another user, an administrator policy attached, an inline policy allowing everything,
//! federation tokens, a Roles Anywhere trust anchor, a new OIDC or SAML identity provider)
//! are told, unless made by one of the
//! policy's `iam_admins`, whose job that is. A key created for another user by a non-admin is
//! deactivated when `iam.contain_backdoor_keys` is on.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{Action, DeactivateKey, Notice, PutPasswordPolicy, RestrictRoleTrust, Severity};
use crate::event::EventBody;
use crate::state::{PasswordPolicy, PasswordPolicyState, State, StateKind};
use crate::decision::{Decision, Verdict};
use crate::event::{CloudTrailRecord, Event};
use crate::facts::{tag_is_true, FactKind, Facts, Known, Tags};
use crate::guards::{Bus, outside_accounts, Delivery, GuardSpec, Trigger};
use crate::lenient::{items, items_any, scalar_string, str_any};
use crate::policy::{GuardSettings, Policy, SettingsSpec};
use crate::trust::{self, Unit};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[&RestrictRoleTrust::INFO, &DeactivateKey::INFO, &PutPasswordPolicy::INFO];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "iam",
    function: "guard-iam",
    summary: "Closes role trust opened to outsiders and reports IAM persistence.",
    triggers: &[
        Trigger {
            rule: "IamChange",
            pattern: r#"{
                "source": ["aws.iam"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["iam.amazonaws.com"],
                    "eventName": ["UpdateAssumeRolePolicy", "CreateRole",
                                  "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile",
                                  "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy",
                                  "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy",
                                  "UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // Security Hub's password policy controls (CIS IAM.7, IAM.10 to IAM.17): they name the
        // account; the function reads the policy before it writes.
        Trigger {
            rule: "PasswordPolicySecurityHubControl",
            pattern: r#"{
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {"findings": {
                    "ProductArn": [{"suffix": ":product/aws/securityhub"}],
                    "Compliance": {"Status": ["FAILED"]},
                    "RecordState": ["ACTIVE"],
                    "Resources": {"Type": ["AwsAccount"]},
                    "$or": [
                        {"Compliance": {"SecurityControlId": ["IAM.7", "IAM.10", "IAM.11", "IAM.12", "IAM.13", "IAM.14", "IAM.15", "IAM.16", "IAM.17"]}},
                        {"ProductFields": {"ControlId": ["IAM.7", "IAM.10", "IAM.11", "IAM.12", "IAM.13", "IAM.14", "IAM.15", "IAM.16", "IAM.17"]}}
                    ]
                }}
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
        // A new identity provider: whoever controls it can assume the roles that trust it.
        Trigger {
            rule: "IamIdentityProviderChange",
            pattern: r#"{
                "source": ["aws.iam"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["iam.amazonaws.com"],
                    "eventName": ["CreateOpenIDConnectProvider", "CreateSAMLProvider"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // Long-lived temporary credentials for an IAM user, and a way in from outside AWS.
        // CloudTrail may mark token calls read-only, so this narrow rule takes reads.
        Trigger {
            rule: "IamPersistenceElsewhereRule",
            pattern: r#"{
                "source": ["aws.sts", "aws.rolesanywhere"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventName": ["GetFederationToken", "CreateTrustAnchor"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::ChangesAndReads,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
    ],
    facts: &[FactKind::OrganizationAccounts, FactKind::RoleTags],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 20,
    sweeps: &[StateKind::AccountPasswordPolicy],
    settings: Some(&SETTINGS),
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// The policy's `iam` section: what only this guard reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub iam: IamSettings,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IamSettings {
    /// Deactivate an access key a non-admin created for another user (otherwise told).
    pub contain_backdoor_keys: bool,
    /// The account password policy's baseline: a weaker `UpdateAccountPasswordPolicy`, a
    /// `DeleteAccountPasswordPolicy` or a failed password control puts it back (over what is
    /// stronger). None: those are told.
    pub password_policy: Option<PasswordPolicy>,
}

impl GuardSettings for Settings {
    fn validate(&mut self) -> Result<(), crate::policy::PolicyError> {
        let Some(b) = &self.iam.password_policy else {
            return Ok(());
        };
        let field = crate::policy::field;
        if b.minimum_password_length != 0 && !(6..=128).contains(&b.minimum_password_length) {
            return Err(field(
                "iam.password_policy.minimum_password_length",
                format!("{} is not between 6 and 128 (IAM's limits)", b.minimum_password_length),
            ));
        }
        if let Some(d) = b.max_password_age_days.filter(|d| !(1..=1095).contains(d)) {
            return Err(field(
                "iam.password_policy.max_password_age_days",
                format!("{d} is not between 1 and 1095 (IAM's limits)"),
            ));
        }
        if let Some(n) = b.password_reuse_prevention.filter(|n| !(1..=24).contains(n)) {
            return Err(field(
                "iam.password_policy.password_reuse_prevention",
                format!("{n} is not between 1 and 24 (IAM's limits)"),
            ));
        }
        Ok(())
    }
}

const SETTINGS: SettingsSpec = SettingsSpec::of::<Settings>();

/// This guard's settings in `policy`.
pub fn settings(policy: &Policy) -> Cow<'_, Settings> {
    policy.section()
}

/// Managed policies that make their holder an administrator of the account or of IAM.
const ADMIN_POLICIES: [&str; 2] = [":policy/AdministratorAccess", ":policy/IAMFullAccess"];

pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    if let EventBody::SecurityHub(d) = &event.body {
        return password_control(event, d, policy);
    }
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    if let Some(d) = super::preamble(r, policy, facts) {
        return Verdict::Decided(d);
    }
    let name = r.event_name.get().unwrap_or_default();
    // Before the root check: the baseline holds whoever weakens the policy, root included.
    if matches!(name, "UpdateAccountPasswordPolicy" | "DeleteAccountPasswordPolicy") {
        return password_change(r, name, policy);
    }
    if r.user_identity.is_type("Root") {
        return Verdict::Decided(Decision::ignore(
            "a root call: root activity is told by disable-compromised-key",
        ));
    }
    match name {
        "UpdateAssumeRolePolicy" | "CreateRole" => role_trust(event, r, policy, facts),
        _ => persistence(r, name, policy),
    }
}

/// A password policy weakened or deleted: the baseline put back when the policy has one,
/// else told.
fn password_change(r: &CloudTrailRecord, name: &str, policy: &Policy) -> Verdict {
    let baseline = settings(policy).iam.password_policy.clone();
    let (what, weak) = if name == "DeleteAccountPasswordPolicy" {
        ("the account password policy was deleted".to_string(), None)
    } else {
        let set = PasswordPolicy::from_request(&r.request_parameters);
        let weak = baseline.as_ref().map(|b| set.weaker_than(b));
        if weak.as_ref().is_some_and(Vec::is_empty) {
            return Verdict::Decided(Decision::ignore(
                "the password policy set meets the baseline (iam.password_policy)",
            ));
        }
        (format!("the account password policy was set to:{}", set.cli_args()), weak)
    };
    let mut details = vec![what.clone(), by(r)];
    let Some(baseline) = baseline else {
        details.push(
            "no baseline in the policy (iam.password_policy): nothing is put back".to_string(),
        );
        return Verdict::Decided(Decision::notify(
            format!("{name}: {what}; no baseline to put back"),
            Notice {
                severity: Severity::Medium,
                title: "Account password policy changed".to_string(),
                details,
            },
        ));
    };
    if let Some(w) = weak {
        details.push(format!("weaker than the baseline: {}", w.join(", ")));
    }
    Verdict::Decided(Decision::remediate(
        format!("{what}, weaker than the baseline"),
        vec![PutPasswordPolicy {
            baseline,
            previous: None,
        }
        .into()],
        Notice {
            severity: Severity::High,
            title: "Account password policy weakened".to_string(),
            details,
        },
    ))
}

/// The Security Hub controls about the account password policy this guard puts back.
const PASSWORD_CONTROLS: [&str; 9] = [
    "IAM.7", "IAM.10", "IAM.11", "IAM.12", "IAM.13", "IAM.14", "IAM.15", "IAM.16", "IAM.17",
];

/// A failed password policy control: the baseline put back when the policy has one (the
/// function reads the policy first: one that meets it is already done), else ignored (the
/// control is Security Hub's own report).
fn password_control(event: &Event, d: &crate::event::SecurityHubDetail, policy: &Policy) -> Verdict {
    let (f, control, why) = match super::failed_control(d, &PASSWORD_CONTROLS, "the password policy") {
        Ok(found) => found,
        Err(v) => return *v,
    };
    if let Err(v) = super::finding_account(event, f, &control) {
        return *v;
    }
    let Some(baseline) = settings(policy).iam.password_policy.clone() else {
        return Verdict::Decided(Decision::ignore(format!(
            "{control}: no password policy baseline in the policy (iam.password_policy) to put back"
        )));
    };
    Verdict::Decided(Decision::remediate(
        format!("{control}: the account password policy is weaker than the control requires"),
        vec![PutPasswordPolicy {
            baseline,
            previous: None,
        }
        .into()],
        Notice {
            severity: Severity::Medium,
            title: format!("Account password policy fails {control}"),
            details: vec![why],
        },
    ))
}

fn swept(state: &State, _account: Option<&str>, policy: &Policy, _facts: &Facts) -> Verdict {
    match state {
        State::PasswordPolicy(p) => password_now(p, policy),
        other => super::not_swept(GUARD.name, other),
    }
}

/// The account's password policy as it is (the sweep): the baseline put back when the policy
/// is weaker or absent; without a baseline there is nothing to compare with.
fn password_now(p: &PasswordPolicyState, policy: &Policy) -> Verdict {
    let Some(baseline) = settings(policy).iam.password_policy.clone() else {
        return Verdict::Decided(Decision::ignore(
            "no password policy baseline in the policy (iam.password_policy)",
        ));
    };
    let weak = match &p.policy {
        None => vec!["the account has no password policy (IAM's weakest defaults apply)".to_string()],
        Some(now) => now.weaker_than(&baseline),
    };
    if weak.is_empty() {
        return Verdict::Decided(Decision::ignore(
            "the account password policy meets the baseline (iam.password_policy)",
        ));
    }
    let mut details = weak;
    details.push(crate::state::WHY.to_string());
    Verdict::Decided(Decision::remediate(
        format!("the password policy of account {} is weaker than the baseline", p.account),
        vec![PutPasswordPolicy {
            baseline,
            previous: None,
        }
        .into()],
        Notice {
            severity: Severity::Medium,
            title: "Account password policy weaker than the baseline".to_string(),
            details,
        },
    ))
}

fn by(r: &CloudTrailRecord) -> String {
    format!(
        "by {} from {}",
        r.user_identity.display(),
        r.source_ip_address.get().unwrap_or("?")
    )
}

fn role_trust(event: &Event, r: &CloudTrailRecord, policy: &Policy, facts: &Facts) -> Verdict {
    let name = r.event_name.get().unwrap_or_default();
    let rp = &r.request_parameters;
    let Some(role) = str_any(rp, &["roleName", "RoleName"]) else {
        return Verdict::Decided(Decision::ignore(format!("{name} names no role")));
    };
    let Some(doc) = rp
        .get("policyDocument")
        .or_else(|| rp.get("assumeRolePolicyDocument"))
        .and_then(trust::document)
    else {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} on {role}: the trust policy is not in the event"
        )));
    };
    // Every account a principal or a condition names, to ask about the trusted set once.
    let named = trust::named_accounts(&doc);
    let outside = match outside_accounts(event.account(), &named, policy, facts) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(o) => o,
    };
    let inside = |u: Unit<'_>| match u {
        Unit::Account(a) => !outside.iter().any(|o| o == a),
        Unit::Organization(o) => !policy.organization_id.is_empty() && o == policy.organization_id,
        // An endpoint's owner is not in its id: the attacker's own endpoint would do.
        Unit::Endpoint(_) => false,
    };
    let principals = trust::outsiders(&doc, &inside);
    if principals.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "the trust policy of {role} lets only trusted principals and services assume it"
        )));
    }
    let untrusted_values = trust::untrusted_values(&doc, &inside);
    // A role created with an exempt tag carries it in the event; an existing role's tags are
    // looked up. An exemption given at creation counts only when a tag admin gave it: anyone
    // else's is taken back by guard-tags, and honouring it here would leave the trust open.
    let tags: Tags = if name == "CreateRole" {
        let by_tag_admin = policy.is_tag_admin(&r.user_identity.arns()).is_some();
        items_any(rp, &["tags", "Tags"])
            .into_iter()
            .filter_map(|t| Some((str_any(t, &["key", "Key"])?, str_any(t, &["value", "Value"]).unwrap_or_default())))
            .filter(|(k, _)| by_tag_admin || k != &policy.exempt_tag)
            .collect()
    } else {
        match facts.role_tags(&role) {
            Known::Need(req) => return Verdict::NeedFacts(vec![req]),
            Known::Yes(Some(t)) => t,
            Known::Yes(None) => {
                return Verdict::Decided(Decision::ignore(format!(
                    "role {role} no longer exists: nothing to close"
                )))
            }
        }
    };
    let mut details = vec![
        format!("{name} on role {role} lets these principals assume it: {}", principals.join(", ")),
        by(r),
    ];
    if tag_is_true(&tags, &policy.exempt_tag) {
        details.push(format!("role {role} is tagged {}=true: left as it is", policy.exempt_tag));
        return Verdict::Decided(Decision::notify(
            format!("role {role} trusts principals outside the trusted set, and is exempt"),
            Notice {
                severity: Severity::High,
                title: format!("Exempt role {role} trusts outside principals"),
                details,
            },
        ));
    }
    if principals.iter().any(|p| trust::is_federated(p)) {
        details.push(
            "a federated principal without audience and subject conditions lets in anyone its \
             provider issues a token for: it is taken out of the trust like an outside principal"
                .into(),
        );
    }
    details.push(
        "service principals, trusted accounts and statements a condition restricts to the trusted set are kept".into(),
    );
    Verdict::Decided(Decision::remediate(
        format!("role {role} can be assumed from outside the trusted set"),
        vec![RestrictRoleTrust {
            role_name: role.clone(),
            principals,
            untrusted_values,
        }
        .into()],
        Notice {
            severity: Severity::Critical,
            title: format!("Role {role} opened to outside principals"),
            details,
        },
    ))
}

/// Whether an inline policy allows every action on every resource.
fn allows_everything(doc: &Value) -> bool {
    items(doc.get("Statement").unwrap_or(&Value::Null))
        .into_iter()
        .any(|st| {
            let all = |key: &str| {
                let v = st.get(key).unwrap_or(&Value::Null);
                scalar_string(v)
                    .into_iter()
                    .chain(items(v).into_iter().filter_map(scalar_string))
                    .any(|a| a == "*" || a == "*:*")
            };
            st.get("Effect").and_then(Value::as_str) == Some("Allow") && all("Action") && all("Resource")
        })
}

fn persistence(r: &CloudTrailRecord, name: &str, policy: &Policy) -> Verdict {
    let rp = &r.request_parameters;
    let caller = &r.user_identity;
    if let Some(p) = policy.is_iam_admin(&caller.arns()) {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} by {}, an IAM administrator by policy pattern `{p}`",
            caller.display()
        )));
    }
    let target_user = str_any(rp, &["userName", "UserName"]);
    let for_another = |u: &Option<String>| match (u, caller.is_type("IAMUser")) {
        (Some(u), true) => caller.user_name.get() != Some(u.as_str()),
        (Some(_), false) => true,
        (None, _) => false,
    };
    let notice = |severity, title: String, what: String| Notice {
        severity,
        title,
        details: vec![what, by(r)],
    };
    let d = match name {
        "CreateAccessKey" if for_another(&target_user) => {
            let user = target_user.clone().unwrap_or_default();
            let key = r
                .response_elements
                .get("accessKey")
                .and_then(|k| str_any(k, &["accessKeyId", "AccessKeyId"]));
            let n = notice(
                Severity::High,
                format!("Access key created for another user: {user}"),
                format!(
                    "{} created key {} for {user}: a way back in that outlives the caller's own credentials",
                    caller.display(),
                    key.as_deref().unwrap_or("(not in the event)")
                ),
            );
            match key.filter(|_| settings(policy).iam.contain_backdoor_keys) {
                Some(k) => Decision::remediate(
                    format!("{} created an access key for {user}, and iam.contain_backdoor_keys is on", caller.display()),
                    vec![Action::from(DeactivateKey::of(Some(user.clone()), k))],
                    n,
                ),
                None => Decision::notify(format!("an access key was created for another user, {user}"), n),
            }
        }
        "CreateLoginProfile" | "UpdateLoginProfile" if for_another(&target_user) => {
            let user = target_user.clone().unwrap_or_default();
            Decision::notify(
                format!("{name}: a console password was set for another user, {user}"),
                notice(
                    Severity::High,
                    format!("Console password set for user {user}"),
                    format!("{name} for {user}: whoever set it can now sign in as {user}"),
                ),
            )
        }
        "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy" => {
            let arn = str_any(rp, &["policyArn", "PolicyArn"]).unwrap_or_default();
            if !ADMIN_POLICIES.iter().any(|p| arn.ends_with(p)) {
                return Verdict::Decided(Decision::ignore(format!("{name} attaches {arn}, not an administrator policy")));
            }
            let holder = str_any(rp, &["userName", "roleName", "groupName", "UserName", "RoleName", "GroupName"]).unwrap_or_default();
            Decision::notify(
                format!("{name}: {arn} attached to {holder}"),
                notice(
                    Severity::High,
                    format!("Administrator policy attached to {holder}"),
                    format!("{arn} attached to {holder}"),
                ),
            )
        }
        "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" => {
            let Some(doc) = rp.get("policyDocument").and_then(trust::document) else {
                return Verdict::Decided(Decision::ignore(format!("{name}: the policy is not in the event")));
            };
            if !allows_everything(&doc) {
                return Verdict::Decided(Decision::ignore(format!("{name}: the inline policy does not allow everything")));
            }
            let holder = str_any(rp, &["userName", "roleName", "groupName"]).unwrap_or_default();
            let policy_name = str_any(rp, &["policyName", "PolicyName"]).unwrap_or_default();
            Decision::notify(
                format!("{name}: inline policy {policy_name} allows every action on every resource to {holder}"),
                notice(
                    Severity::High,
                    format!("Inline administrator policy on {holder}"),
                    format!("inline policy {policy_name} on {holder} allows \"*\" on \"*\""),
                ),
            )
        }
        "GetFederationToken" if caller.is_type("IAMUser") => Decision::notify(
            format!("{} took a federation token", caller.display()),
            notice(
                Severity::Medium,
                format!("Federation token taken by {}", caller.display()),
                "GetFederationToken gives temporary credentials that keep working after the \
                 user's access key is disabled (for up to 36 hours)"
                    .to_string(),
            ),
        ),
        "CreateOpenIDConnectProvider" | "CreateSAMLProvider" => {
            let saml = name == "CreateSAMLProvider";
            // The provider's ARN is in the response; its URL or name in the request.
            let provider = str_any(
                &r.response_elements,
                &["openIDConnectProviderArn", "sAMLProviderArn", "samlProviderArn", "SAMLProviderArn"],
            )
            .or_else(|| str_any(rp, &["url", "Url", "name", "Name"]))
            .unwrap_or_else(|| "(not in the event)".into());
            let mut n = notice(
                Severity::High,
                format!("{} identity provider created: {provider}", if saml { "SAML" } else { "OpenID Connect" }),
                format!(
                    "{name}: {provider} is a new identity provider; anyone controlling it can assume \
                     the roles whose trust names it"
                ),
            );
            if !saml {
                let audiences: Vec<String> = items_any(rp, &["clientIDList", "ClientIDList"])
                    .into_iter()
                    .filter_map(scalar_string)
                    .collect();
                n.details.push(format!(
                    "audiences (client ids): {}",
                    if audiences.is_empty() { "none listed".to_string() } else { audiences.join(", ") }
                ));
            }
            n.details.push(
                "what to check: who asked for it, and that every role trusting it requires its \
                 audience and a specific subject"
                    .to_string(),
            );
            Decision::notify(format!("{name} by {}: {provider}", caller.display()), n)
        }
        "CreateTrustAnchor" => Decision::notify(
            "an IAM Roles Anywhere trust anchor was created".to_string(),
            notice(
                Severity::High,
                "IAM Roles Anywhere trust anchor created".to_string(),
                format!(
                    "trust anchor {}: certificates it trusts can assume roles from outside AWS",
                    str_any(rp, &["name", "Name"]).unwrap_or_default()
                ),
            ),
        ),
        _ => {
            return Verdict::Decided(Decision::ignore(format!(
                "{name} by {} is not an IAM change trailguard acts on",
                caller.display()
            )))
        }
    };
    Verdict::Decided(d)
}
