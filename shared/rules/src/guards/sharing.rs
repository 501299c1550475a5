//! Resources shared with outsiders: an AMI, an EBS snapshot or an RDS snapshot shared with an
//! account outside the trusted set (or with everyone), a Lambda function opened to everyone
//! or to an outside account. Exactly what the call added for outsiders is taken back; shares
//! with trusted accounts stay. Bucket policies are the public_bucket guard's.

use std::sync::OnceLock;

use serde_json::Value;

use crate::action::{
    Action, Notice, RemoveLambdaPermission, Severity, UnshareDbSnapshot, UnshareImage,
    UnshareSnapshot,
};
use crate::decision::{Decision, Verdict};
use crate::event::{CloudTrailRecord, Event};
use crate::facts::{FactKind, Facts, Known};
use crate::state::{State, StateKind};
use crate::guards::{Bus, outside_accounts, own_organization, Delivery, GuardSpec, Trigger};
use crate::lenient::{items, items_any, scalar_string, str_any};
use crate::policy::Policy;
use crate::trust::{condition_unit, principal_account, Unit};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[
    &UnshareImage::INFO,
    &UnshareSnapshot::INFO,
    &UnshareDbSnapshot::INFO,
    &RemoveLambdaPermission::INFO,
];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "resource_sharing",
    function: "revert-resource-sharing",
    summary: "Takes back AMI, snapshot, RDS snapshot and Lambda shares with outsiders.",
    triggers: &[Trigger {
        rule: "SharingChange",
        pattern: r#"{
            "source": ["aws.ec2", "aws.rds", "aws.lambda"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["ec2.amazonaws.com", "rds.amazonaws.com", "lambda.amazonaws.com"],
                "eventName": ["ModifyImageAttribute", "ModifySnapshotAttribute",
                              "ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute",
                              {"prefix": "AddPermission"}],
                "eventType": ["AwsApiCall"],
                "errorCode": [{"exists": false}]
            }
        }"#,
        delivery: Delivery::Changes,
        bus: Bus::Main,
        excludes_own_role: true,
        condition: None,
    }],
    facts: &[FactKind::OrganizationAccounts],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 50,
    sweeps: &[StateKind::Images, StateKind::Snapshots],
    settings: None,
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// What an EC2 attribute call added: account ids, `group: all`, organization/OU ARNs.
#[derive(Debug, Default)]
struct Added {
    accounts: Vec<String>,
    public: bool,
    organizations: Vec<String>,
}

/// The permissions an EC2 ModifyImageAttribute/ModifySnapshotAttribute call added, in the
/// structured form (`launchPermission.add.items`) or the older flat one (`operationType:
/// add` with `userId`/`userGroup` lists).
fn added(rp: &Value, attribute: &str) -> Added {
    let mut out = Added::default();
    let structured = rp
        .get(attribute)
        .and_then(|p| p.get("add").or_else(|| p.get("Add")))
        .map(items)
        .unwrap_or_default();
    let flat_add = str_any(rp, &["operationType", "OperationType"]).is_some_and(|o| o == "add");
    let mut entries: Vec<&Value> = structured;
    if flat_add {
        // One value is recorded as a scalar, several as a list.
        for keys in [
            &["userId", "UserId", "userIds"][..],
            &["userGroup", "UserGroup", "groupNames"][..],
        ] {
            match keys.iter().find_map(|k| rp.get(*k)) {
                Some(v @ (Value::String(_) | Value::Number(_))) => entries.push(v),
                Some(v) => entries.extend(items(v)),
                None => {}
            }
        }
    }
    for e in entries {
        if let Some(a) = str_any(e, &["userId", "UserId"]).or_else(|| scalar_string(e).filter(|s| s != "all")) {
            if !out.accounts.contains(&a) {
                out.accounts.push(a);
            }
        }
        if str_any(e, &["group", "Group", "userGroup"]).as_deref() == Some("all") || scalar_string(e).as_deref() == Some("all") {
            out.public = true;
        }
        for k in ["organizationArn", "OrganizationArn", "organizationalUnitArn", "OrganizationalUnitArn"] {
            if let Some(arn) = str_any(e, &[k]) {
                out.organizations.push(arn);
            }
        }
    }
    out
}

fn details(r: &CloudTrailRecord, what: String) -> Vec<String> {
    vec![
        what,
        format!(
            "by {} from {}",
            r.user_identity.display(),
            r.source_ip_address.get().unwrap_or("?")
        ),
    ]
}

/// Decide on an image or snapshot as it is now (the sweep): take back every share outside
/// the trusted set, as the event that made it would have.
pub fn decide_state(
    st: &crate::state::ShareState,
    image: bool,
    account: Option<&str>,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let (id, kind) = (&st.id, if image { "image" } else { "snapshot" });
    if crate::facts::tag_is_true(&st.tags, &policy.exempt_tag) {
        return Verdict::Decided(Decision::ignore(format!(
            "{kind} {id} is tagged {}=true",
            policy.exempt_tag
        )));
    }
    let outside = match outside_accounts(account, &st.accounts, policy, facts) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(o) => o,
    };
    let orgs: Vec<String> = st
        .organizations
        .iter()
        .filter(|a| !own_organization(a, policy))
        .cloned()
        .collect();
    if outside.is_empty() && !st.public && orgs.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "{kind} {id} is shared only within the trusted set"
        )));
    }
    let action: Action = if image {
        UnshareImage {
            image_id: id.clone(),
            accounts: outside,
            public: st.public,
            organizations: orgs,
        }
        .into()
    } else {
        UnshareSnapshot {
            snapshot_id: id.clone(),
            accounts: outside,
            public: st.public,
        }
        .into()
    };
    let what = action.describe();
    Verdict::Decided(Decision::remediate(
        format!("{kind} {id} is shared outside the trusted set"),
        vec![action],
        Notice {
            severity: Severity::Critical,
            title: format!("EC2 {kind} {id} shared outside the account"),
            details: vec![
                format!("shared: {}", what.trim_start_matches("stop sharing ")),
                crate::state::WHY.to_string(),
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
    if rp.is_null() {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} without request parameters names nothing that was shared"
        )));
    }
    match name {
        "ModifyImageAttribute" | "ModifySnapshotAttribute" => ec2_share(event, r, policy, facts),
        "ModifyDBSnapshotAttribute" | "ModifyDBClusterSnapshotAttribute" => {
            rds_share(event, r, policy, facts)
        }
        n if n.starts_with("AddPermission") => lambda_permission(event, r, policy, facts),
        other => Verdict::Decided(Decision::ignore(format!(
            "{other} is not a share trailguard watches"
        ))),
    }
}

fn ec2_share(event: &Event, r: &CloudTrailRecord, policy: &Policy, facts: &Facts) -> Verdict {
    let name = r.event_name.get().unwrap_or_default();
    let rp = &r.request_parameters;
    let image = name == "ModifyImageAttribute";
    let (id, attribute, kind) = if image {
        (str_any(rp, &["imageId", "ImageId"]), "launchPermission", "image")
    } else {
        (str_any(rp, &["snapshotId", "SnapshotId"]), "createVolumePermission", "snapshot")
    };
    let Some(id) = id else {
        return Verdict::Decided(Decision::ignore(format!("{name} names no {kind}")));
    };
    let add = added(rp, attribute);
    if add.accounts.is_empty() && !add.public && add.organizations.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} on {id} adds no {attribute}"
        )));
    }
    let outside = match outside_accounts(event.account(), &add.accounts, policy, facts) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(o) => o,
    };
    let orgs: Vec<String> = add
        .organizations
        .iter()
        .filter(|a| !own_organization(a, policy))
        .cloned()
        .collect();
    if outside.is_empty() && !add.public && orgs.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "{kind} {id} is shared only within the trusted set"
        )));
    }
    let action: Action = if image {
        UnshareImage {
            image_id: id.clone(),
            accounts: outside.clone(),
            public: add.public,
            organizations: orgs,
        }
        .into()
    } else {
        UnshareSnapshot {
            snapshot_id: id.clone(),
            accounts: outside.clone(),
            public: add.public,
        }
        .into()
    };
    let who = action.describe();
    let mut d = details(r, format!("shared: {}", who.trim_start_matches("stop sharing ")));
    let kept: Vec<&String> = add.accounts.iter().filter(|a| !outside.contains(a)).collect();
    if !kept.is_empty() {
        d.push(format!(
            "kept (trusted): {}",
            kept.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    Verdict::Decided(Decision::remediate(
        format!(
            "{kind} {id} shared outside the trusted set{}",
            if add.public { ", publicly" } else { "" }
        ),
        vec![action],
        Notice {
            severity: Severity::Critical,
            title: format!("EC2 {kind} {id} shared outside the account"),
            details: d,
        },
    ))
}

fn rds_share(event: &Event, r: &CloudTrailRecord, policy: &Policy, facts: &Facts) -> Verdict {
    let name = r.event_name.get().unwrap_or_default();
    let rp = &r.request_parameters;
    let cluster = name == "ModifyDBClusterSnapshotAttribute";
    let id = if cluster {
        str_any(rp, &["dBClusterSnapshotIdentifier", "DBClusterSnapshotIdentifier"])
    } else {
        str_any(rp, &["dBSnapshotIdentifier", "DBSnapshotIdentifier"])
    };
    let Some(id) = id else {
        return Verdict::Decided(Decision::ignore(format!("{name} names no snapshot")));
    };
    let attribute = str_any(rp, &["attributeName", "AttributeName"]).unwrap_or_default();
    if !attribute.eq_ignore_ascii_case("restore") {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} changes attribute `{attribute}`, not who may restore the snapshot"
        )));
    }
    let values: Vec<String> = items_any(rp, &["valuesToAdd", "ValuesToAdd"])
        .into_iter()
        .filter_map(scalar_string)
        .collect();
    let public = values.iter().any(|v| v.eq_ignore_ascii_case("all"));
    let accounts: Vec<String> = values.iter().filter(|v| !v.eq_ignore_ascii_case("all")).cloned().collect();
    let outside = match outside_accounts(event.account(), &accounts, policy, facts) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(o) => o,
    };
    if outside.is_empty() && !public {
        return Verdict::Decided(Decision::ignore(format!(
            "RDS snapshot {id} is shared only within the trusted set"
        )));
    }
    let mut remove = outside.clone();
    if public {
        remove.push("all".into());
    }
    let action = UnshareDbSnapshot {
        snapshot: id.clone(),
        cluster,
        values: remove,
    };
    let d = details(r, format!("shared: {}", action.describe_target()));
    Verdict::Decided(Decision::remediate(
        format!("RDS snapshot {id} shared outside the trusted set"),
        vec![action.into()],
        Notice {
            severity: Severity::Critical,
            title: format!("RDS {}snapshot {id} shared outside the account", if cluster { "cluster " } else { "" }),
            details: d,
        },
    ))
}

impl UnshareDbSnapshot {
    fn describe_target(&self) -> String {
        self.values
            .iter()
            .map(|v| if v == "all" { "everyone (all)".to_string() } else { format!("account {v}") })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn lambda_permission(event: &Event, r: &CloudTrailRecord, policy: &Policy, facts: &Facts) -> Verdict {
    let rp = &r.request_parameters;
    let (Some(function), Some(sid)) = (
        str_any(rp, &["functionName", "FunctionName"]),
        str_any(rp, &["statementId", "StatementId"]),
    ) else {
        return Verdict::Decided(Decision::ignore("AddPermission names no function or statement"));
    };
    let principal = str_any(rp, &["principal", "Principal"]).unwrap_or_default();
    // The request's conditions, as the key each becomes in the function's policy.
    let conditions: Vec<(&str, String)> = [
        ("aws:SourceAccount", ["sourceAccount", "SourceAccount"]),
        ("aws:SourceArn", ["sourceArn", "SourceArn"]),
        ("aws:PrincipalOrgID", ["principalOrgID", "PrincipalOrgID"]),
    ]
    .into_iter()
    .filter_map(|(key, fields)| Some((key, str_any(rp, &fields)?)))
    .collect();
    let named: Vec<String> = principal_account(&principal)
        .map(String::from)
        .into_iter()
        .chain(conditions.iter().filter_map(|(key, v)| match condition_unit(key, v) {
            Some(Unit::Account(a)) => Some(a.to_string()),
            _ => None,
        }))
        .collect();
    let outside = match outside_accounts(event.account(), &named, policy, facts) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(o) => o,
    };
    let inside = |u: Unit<'_>| trusted_unit(u, &outside, policy);
    // A condition restricts the grant only when what it names is inside the trusted set: an
    // attacker's own organization, account or resource lets the attacker in.
    if let Some((key, v)) = conditions
        .iter()
        .find(|(key, v)| condition_unit(key, v).is_some_and(inside))
    {
        return Verdict::Decided(Decision::ignore(format!(
            "permission {sid} on {function} is restricted by {key} {v}, inside the trusted set"
        )));
    }
    let outside = principal == "*"
        || principal_account(&principal).is_some_and(|a| outside.iter().any(|o| o == a));
    if !outside {
        return Verdict::Decided(Decision::ignore(format!(
            "permission {sid} on {function} grants {principal}, which is trusted or a service"
        )));
    }
    let action = RemoveLambdaPermission {
        function_name: function.clone(),
        statement_id: sid.clone(),
        qualifier: str_any(rp, &["qualifier", "Qualifier"]),
    };
    let mut d = details(
        r,
        format!(
            "statement {sid} lets {} call {}",
            if principal == "*" { "everyone".to_string() } else { principal.clone() },
            str_any(rp, &["action", "Action"]).unwrap_or_else(|| "the function".into())
        ),
    );
    for (key, v) in &conditions {
        d.push(format!("condition {key} = {v}: outside the trusted set, restricts nothing"));
    }
    if let Some(url) = str_any(rp, &["functionUrlAuthType", "FunctionUrlAuthType"]) {
        d.push(format!("function URL auth type: {url}"));
    }
    Verdict::Decided(Decision::remediate(
        format!("function {function} opened to {} without a condition restricting it to the trusted set", if principal == "*" { "everyone" } else { "an outside account" }),
        vec![action.into()],
        Notice {
            severity: Severity::Critical,
            title: format!("Lambda function {function} opened outside the account"),
            details: d,
        },
    ))
}

/// Whether a condition's unit is inside the trusted set: an account not among `outside` (the
/// named accounts [`outside_accounts`] refused), the policy's organization. An endpoint's
/// owner is not in its id.
fn trusted_unit(u: Unit<'_>, outside: &[String], policy: &Policy) -> bool {
    match u {
        Unit::Account(a) => !outside.iter().any(|o| o == a),
        Unit::Organization(o) => !policy.organization_id.is_empty() && o == policy.organization_id,
        Unit::Endpoint(_) => false,
    }
}

/// The sweep's view: an image or a snapshot, with whom it is shared now.
fn swept(state: &State, account: Option<&str>, policy: &Policy, facts: &Facts) -> Verdict {
    match state {
        State::Image(s) => decide_state(s, true, account, policy, facts),
        State::Snapshot(s) => decide_state(s, false, account, policy, facts),
        other => super::not_swept(GUARD.name, other),
    }
}
