//! Databases made reachable from the internet: an RDS DB instance or cluster, or a Redshift
//! cluster, created, restored or modified publicly accessible. The database is made private
//! again (its other settings untouched); one tagged with the exemption tag is left alone and
//! told. Security Hub's RDS.2 and Redshift.1 findings name a database that is public now:
//! the same decision, on the database as it is.
//!
//! What the call did is read from its response when the response says (`publiclyAccessible`
//! of the instance or cluster it returns: an instance created in a default VPC without the
//! flag is public all the same), else from the request. A modification counts only when its
//! request asked for public access: one that did not ask left it as it was.

use std::sync::OnceLock;

use serde_json::Value;

use crate::action::{
    Action, MakeDbClusterPrivate, MakeDbInstancePrivate, MakeRedshiftClusterPrivate, Notice,
    Severity, UntagDbResource, UntagRedshiftCluster,
};
use crate::ids::IdKind;
use crate::decision::{Decision, Verdict};
use crate::event::{AsffFinding, CloudTrailRecord, Event, EventBody, SecurityHubDetail};
use crate::facts::{tag_is_true, FactKind, Facts, Known, Tags};
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::{bool_any, items_any, str_any};
use crate::policy::Policy;
use crate::state::{DatabaseState, DbKind, State, StateKind};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[
    &MakeDbInstancePrivate::INFO,
    &MakeDbClusterPrivate::INFO,
    &MakeRedshiftClusterPrivate::INFO,
    &UntagDbResource::INFO,
    &UntagRedshiftCluster::INFO,
];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "public_database",
    function: "revert-public-database",
    summary: "Makes RDS instances and clusters and Redshift clusters made publicly accessible private again.",
    triggers: &[
        Trigger {
            rule: "PublicDatabaseChange",
            pattern: r#"{
                "source": ["aws.rds", "aws.redshift"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["rds.amazonaws.com", "redshift.amazonaws.com"],
                    "eventName": ["CreateDBInstance", "CreateDBInstanceReadReplica",
                                  "ModifyDBInstance", "RestoreDBInstanceFromDBSnapshot",
                                  "RestoreDBInstanceToPointInTime", "RestoreDBInstanceFromS3",
                                  "CreateDBCluster", "ModifyDBCluster",
                                  "RestoreDBClusterFromSnapshot", "RestoreDBClusterToPointInTime",
                                  "CreateCluster", "ModifyCluster", "RestoreFromClusterSnapshot",
                                  "AddTagsToResource", "CreateTags"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // Security Hub's control findings about public databases: they name the database,
        // and the function decides on it as it is.
        Trigger {
            rule: "SecurityHubDatabaseControl",
            pattern: r#"{
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {"findings": {
                    "ProductArn": [{"suffix": ":product/aws/securityhub"}],
                    "Compliance": {"Status": ["FAILED"]},
                    "RecordState": ["ACTIVE"],
                    "Resources": {"Type": ["AwsRdsDbInstance", "AwsRedshiftCluster"]},
                    "$or": [
                        {"Compliance": {"SecurityControlId": ["RDS.2", "Redshift.1"]}},
                        {"ProductFields": {"ControlId": ["RDS.2", "Redshift.1"]}}
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
        FactKind::DbInstance,
        FactKind::DbCluster,
        FactKind::RedshiftCluster,
    ],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 50,
    sweeps: &[
        StateKind::DbInstances,
        StateKind::DbClusters,
        StateKind::RedshiftClusters,
    ],
    settings: None,
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// What the Security Hub controls trailguard acts on name: the control, the ASFF resource
/// type, the kind of database.
const CONTROLS: [(&str, &str, DbKind); 2] = [
    ("RDS.2", "AwsRdsDbInstance", DbKind::Instance),
    ("Redshift.1", "AwsRedshiftCluster", DbKind::Redshift),
];

/// Note on a database the call creates: it cannot be modified until it is available.
const STILL_CREATING: &str = "a database still being created cannot be modified: the change fails retryably, Lambda retries the event, the failure queue keeps it, and the reconciliation sweep makes the database private once it is available";

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
    let name = r.event_name.get().unwrap_or_default();
    let source = r.event_source.get().unwrap_or_default();
    if matches!(
        (source, name),
        ("rds.amazonaws.com", "AddTagsToResource") | ("redshift.amazonaws.com", "CreateTags")
    ) {
        return tagged(event, r, policy);
    }
    let Some(call) = Call::of(source, name) else {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} ({source}) is not a database call trailguard watches"
        )));
    };
    let (rp, re) = (&r.request_parameters, &r.response_elements);
    // The response is the database as the call left it; a cluster's or Redshift's comes
    // as the object itself or wrapped (`dBCluster`, `cluster`).
    let response = [&re["dBCluster"], &re["dBInstance"], &re["cluster"]]
        .into_iter()
        .find(|v| v.is_object())
        .unwrap_or(re);
    let id = str_any(response, call.id_keys).or_else(|| str_any(rp, call.request_id_keys));
    let Some(id) = id else {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} names no {}",
            call.kind.name()
        )));
    };
    const FLAG: [&str; 2] = ["publiclyAccessible", "PubliclyAccessible"];
    let asked = bool_any(rp, &FLAG);
    // A change the response shows pending is the call's too.
    let answered = match bool_any(&response["pendingModifiedValues"], &FLAG) {
        Some(true) => Some(true),
        _ => bool_any(response, &FLAG),
    };
    let public = if call.modifies {
        // A modification that did not ask left public access as it was.
        match asked {
            Some(true) => answered.unwrap_or(true),
            Some(false) => false,
            None => {
                return Verdict::Decided(Decision::ignore(format!(
                    "{name} on {id} does not change public access"
                )))
            }
        }
    } else {
        match answered.or(asked) {
            Some(p) => p,
            None => {
                return Verdict::Decided(Decision::ignore(format!(
                    "{name} of {id}: neither the request nor the response says it is publicly accessible"
                )))
            }
        }
    };
    // An exemption the call itself set counts only when a tag admin made the call: anyone
    // allowed to create a database could otherwise create it public and exempt at once. One
    // set by anyone else is taken off, public or not: left on, it would exempt the database
    // from the next change.
    // A modification's response echoes the tags the database already had (a tag admin's
    // exemption among them): only its request's tags are its own.
    let own_tags = if call.modifies { &Value::Null } else { re };
    let set_here = tag_is_true(&event_tags(rp, own_tags), &policy.exempt_tag);
    let by_tag_admin = policy.is_tag_admin(&r.user_identity.arns()).is_some();
    let untag = (set_here && !by_tag_admin)
        .then(|| database_arn(event, r, call.kind, &id, response))
        .flatten()
        .map(|arn| untag_action(call.kind, arn, policy.exempt_tag.clone()));
    if !public {
        let ignored = format!(
            "{} {id} is not publicly accessible after {name}",
            call.kind.name()
        );
        return Verdict::Decided(match untag {
            Some(a) => Decision::remediate(
                format!("{ignored}; it was tagged {}=true by {}, who is not in tag_admins", policy.exempt_tag, r.user_identity.display()),
                vec![a],
                Notice {
                    severity: Severity::High,
                    title: format!("trailguard exemption of {} {id} taken back", call.kind.name()),
                    details: vec![
                        format!("{name} tagged it {}=true", policy.exempt_tag),
                        format!("by {} from {}", r.user_identity.display(), r.source_ip_address.get().unwrap_or("?")),
                        "only a principal in tag_admins may exempt a resource from trailguard".into(),
                    ],
                },
            ),
            None => Decision::ignore(ignored),
        });
    }
    let mut details = vec![format!(
        "by {} from {}",
        r.user_identity.display(),
        r.source_ip_address.get().unwrap_or("?")
    )];
    if asked.is_none() {
        details.push(
            "the request did not ask for public access; the response says the database is publicly accessible (created in a subnet group with an internet gateway, such as a default VPC)"
                .into(),
        );
    }
    if !call.modifies {
        details.push(STILL_CREATING.into());
    }
    if set_here && by_tag_admin {
        return Verdict::Decided(exempt(call.kind, &id, name, policy, details));
    }
    if set_here {
        details.push(format!(
            "the call tagged it {}=true, but its caller is not in tag_admins: the exemption is not honoured",
            policy.exempt_tag
        ));
    }
    match facts.database(call.kind, &id) {
        Known::Need(req) => Verdict::NeedFacts(vec![req]),
        Known::Yes(Some(now)) if !set_here && tag_is_true(&now.tags, &policy.exempt_tag) => {
            Verdict::Decided(exempt(call.kind, &id, name, policy, details))
        }
        Known::Yes(None) if !facts.offline => Verdict::Decided(Decision::ignore(format!(
            "{} {id} no longer exists: nothing to make private",
            call.kind.name()
        ))),
        // Offline the database is taken as untagged (the decision lists the assumption).
        Known::Yes(_) => {
            let mut d = remediate(
                call.kind,
                &id,
                format!("{} {id} made publicly accessible by {name}", call.kind.name()),
                details,
            );
            d.actions.extend(untag);
            Verdict::Decided(d)
        }
    }
}

/// The ARN of the database a call created: the response's (`dBInstanceArn`,
/// `dBClusterArn`), or, for Redshift, built from the event's partition, region and account.
fn database_arn(
    event: &Event,
    r: &CloudTrailRecord,
    kind: DbKind,
    id: &str,
    response: &Value,
) -> Option<String> {
    let arn = match kind {
        DbKind::Instance => str_any(response, &["dBInstanceArn", "DBInstanceArn"]),
        DbKind::Cluster => str_any(response, &["dBClusterArn", "DBClusterArn"]),
        DbKind::Redshift => {
            let region = r.aws_region.get().or(event.region())?;
            let account = event.account()?;
            Some(format!("arn:aws:redshift:{region}:{account}:cluster:{id}"))
        }
    }?;
    IdKind::DatabaseArn.is_valid(&arn).then_some(arn)
}

fn untag_action(kind: DbKind, resource_arn: String, key: String) -> Action {
    match kind {
        DbKind::Redshift => UntagRedshiftCluster::new(resource_arn, key).into(),
        DbKind::Instance | DbKind::Cluster => UntagDbResource::new(resource_arn, key).into(),
    }
}

/// A tag call on a database (`AddTagsToResource`, Redshift `CreateTags`): an exemption from
/// anyone but the tag admins is taken back, since this guard honours it.
fn tagged(event: &Event, r: &CloudTrailRecord, policy: &Policy) -> Verdict {
    let rp = &r.request_parameters;
    let name = r.event_name.get().unwrap_or_default();
    let Some(arn) = str_any(rp, &["resourceName", "ResourceName"]) else {
        return Verdict::Decided(Decision::ignore(format!("{name} names no resource")));
    };
    // Only the databases this guard exempts: a snapshot's, a subnet group's tags exempt
    // nothing here.
    if !IdKind::DatabaseArn.is_valid(&arn) {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} on {arn}: not a DB instance, DB cluster or Redshift cluster"
        )));
    }
    // The function acts in the event's account: a resource named in another is not this
    // call's (a tag call cannot reach across accounts).
    let owner = arn.split(':').nth(4);
    if owner != event.account() {
        return Verdict::Decided(Decision::ignore(format!(
            "{name} on {arn}: not a resource of the event's account {}",
            event.account().unwrap_or("?")
        )));
    }
    let redshift = arn.split(':').nth(2) == Some("redshift");
    let given = crate::guards::tags::given_tags(rp.get("tags").or_else(|| rp.get("Tags")).unwrap_or(&Value::Null));
    let untag = |key| {
        if redshift {
            UntagRedshiftCluster::new(arn.clone(), key).into()
        } else {
            UntagDbResource::new(arn.clone(), key).into()
        }
    };
    match crate::guards::tags::exemption_given(r, policy, &given, &arn, untag) {
        Some(d) => Verdict::Decided(d),
        None => Verdict::Decided(Decision::ignore(format!(
            "{name} on {arn} gives no {}=true",
            policy.exempt_tag
        ))),
    }
}

/// One call trailguard reads: which database it is about, where its id is, whether it
/// modifies an existing one.
struct Call {
    kind: DbKind,
    modifies: bool,
    /// The id in the response (the database as the call left it: a renamed one's new id).
    id_keys: &'static [&'static str],
    request_id_keys: &'static [&'static str],
}

impl Call {
    fn of(source: &str, name: &str) -> Option<Call> {
        const INSTANCE: &[&str] = &["dBInstanceIdentifier", "DBInstanceIdentifier"];
        const CLUSTER: &[&str] = &["dBClusterIdentifier", "DBClusterIdentifier"];
        const REDSHIFT: &[&str] = &["clusterIdentifier", "ClusterIdentifier"];
        let instance = |modifies, request_id_keys| Call {
            kind: DbKind::Instance,
            modifies,
            id_keys: INSTANCE,
            request_id_keys,
        };
        Some(match (source, name) {
            ("rds.amazonaws.com", "ModifyDBInstance") => instance(true, INSTANCE),
            ("rds.amazonaws.com", "RestoreDBInstanceToPointInTime") => instance(
                false,
                &["targetDBInstanceIdentifier", "TargetDBInstanceIdentifier"],
            ),
            (
                "rds.amazonaws.com",
                "CreateDBInstance"
                | "CreateDBInstanceReadReplica"
                | "RestoreDBInstanceFromDBSnapshot"
                | "RestoreDBInstanceFromS3",
            ) => instance(false, INSTANCE),
            (
                "rds.amazonaws.com",
                "CreateDBCluster"
                | "ModifyDBCluster"
                | "RestoreDBClusterFromSnapshot"
                | "RestoreDBClusterToPointInTime",
            ) => Call {
                kind: DbKind::Cluster,
                modifies: name == "ModifyDBCluster",
                id_keys: CLUSTER,
                request_id_keys: CLUSTER,
            },
            (
                "redshift.amazonaws.com",
                "CreateCluster" | "ModifyCluster" | "RestoreFromClusterSnapshot",
            ) => Call {
                kind: DbKind::Redshift,
                modifies: name == "ModifyCluster",
                id_keys: REDSHIFT,
                request_id_keys: REDSHIFT,
            },
            _ => return None,
        })
    }
}

/// The tags a call set (`tags` in the request) or the response shows (`tagList`, `tags`).
fn event_tags(rp: &Value, re: &Value) -> Tags {
    let response = [&re["dBCluster"], &re["dBInstance"], &re["cluster"], re];
    let lists = items_any(rp, &["tags", "Tags"]).into_iter().chain(
        response
            .into_iter()
            .flat_map(|r| items_any(r, &["tagList", "TagList", "tags", "Tags"])),
    );
    lists
        .filter_map(|t| {
            Some((
                str_any(t, &["key", "Key"])?,
                str_any(t, &["value", "Value"]).unwrap_or_default(),
            ))
        })
        .collect()
}

fn action(kind: DbKind, id: &str) -> Action {
    match kind {
        DbKind::Instance => MakeDbInstancePrivate {
            db_instance: id.to_string(),
        }
        .into(),
        DbKind::Cluster => MakeDbClusterPrivate {
            db_cluster: id.to_string(),
            instances: vec![],
        }
        .into(),
        DbKind::Redshift => MakeRedshiftClusterPrivate {
            cluster: id.to_string(),
        }
        .into(),
    }
}

fn remediate(kind: DbKind, id: &str, reason: String, details: Vec<String>) -> Decision {
    Decision::remediate(
        reason,
        vec![action(kind, id)],
        Notice {
            severity: Severity::Critical,
            title: format!("{} {id} publicly accessible", kind.name()),
            details,
        },
    )
}

/// A database tagged with the exemption tag: left alone, and told.
fn exempt(kind: DbKind, id: &str, why: &str, policy: &Policy, mut details: Vec<String>) -> Decision {
    details.retain(|d| d != STILL_CREATING);
    details.push(format!(
        "left publicly accessible: it is tagged {}=true",
        policy.exempt_tag
    ));
    Decision::notify(
        format!(
            "{} {id} is publicly accessible ({why}) and tagged {}=true: left alone",
            kind.name(),
            policy.exempt_tag
        ),
        Notice {
            severity: Severity::Medium,
            title: format!("{} {id} publicly accessible (exempt)", kind.name()),
            details,
        },
    )
}

/// Decide on a database as it is now (the sweep, a Security Hub finding).
pub fn decide_state(st: &DatabaseState, policy: &Policy, why: &str) -> Decision {
    let (kind, id) = (st.kind, &st.id);
    if !st.public {
        return Decision::ignore(format!("{} {id} is not publicly accessible", kind.name()));
    }
    if tag_is_true(&st.tags, &policy.exempt_tag) {
        return exempt(kind, id, why, policy, vec![why.to_string()]);
    }
    let mut details = vec![why.to_string()];
    if let Some(s) = st.status.as_deref().filter(|s| *s != "available") {
        details.push(format!("status: {s}"));
    }
    remediate(
        kind,
        id,
        format!("{} {id} is publicly accessible", kind.name()),
        details,
    )
}

/// The sweep's view: a database as listed.
fn swept(state: &State, _account: Option<&str>, policy: &Policy, _facts: &Facts) -> Verdict {
    match state {
        State::Database(d) => Verdict::Decided(decide_state(d, policy, crate::state::WHY)),
        other => super::not_swept(GUARD.name, other),
    }
}

/// The database a finding's resource names: from its details, or from its ARN
/// (`arn:aws:rds:R:A:db:ID`, `arn:aws:redshift:R:A:cluster:ID`).
fn finding_database(f: &AsffFinding, resource_type: &str) -> Option<String> {
    f.resources
        .iter()
        .filter(|r| r.resource_type.get() == Some(resource_type))
        .find_map(|r| {
            str_any(
                &r.details[resource_type],
                &["DBInstanceIdentifier", "DbInstanceIdentifier", "ClusterIdentifier"],
            )
            .or_else(|| {
                let arn = r.id.get()?;
                let (_, id) = arn.rsplit_once(":db:").or_else(|| arn.rsplit_once(":cluster:"))?;
                Some(id.to_string())
            })
        })
}

fn security_hub(d: &SecurityHubDetail, policy: &Policy, facts: &Facts) -> Verdict {
    let ids = CONTROLS.map(|(c, _, _)| c);
    let (f, control, why) = match super::failed_control(d, &ids, "a database control") {
        Ok(found) => found,
        Err(v) => return *v,
    };
    let Some(&(_, resource_type, kind)) = CONTROLS.iter().find(|(c, _, _)| *c == control) else {
        return Verdict::Decided(Decision::ignore(format!("{control} is not a database control")));
    };
    let Some(id) = finding_database(f, resource_type) else {
        return Verdict::Decided(Decision::ignore(format!(
            "{control} finding names no {}",
            kind.name()
        )));
    };
    match facts.database(kind, &id) {
        Known::Need(r) => Verdict::NeedFacts(vec![r]),
        Known::Yes(Some(now)) => Verdict::Decided(decide_state(&now, policy, &why)),
        Known::Yes(None) if facts.offline => Verdict::Decided(Decision::notify(
            format!(
                "{control} on {id}: whether it is public and its tags are not in the finding; the function looks them up"
            ),
            Notice {
                severity: Severity::High,
                title: format!("{} {id} fails {control}", kind.name()),
                details: vec![why],
            },
        )),
        Known::Yes(None) => Verdict::Decided(Decision::ignore(format!(
            "{} {id} no longer exists: nothing to make private",
            kind.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(source: &str, name: &str, rp: Value, re: Value) -> Event {
        Event::from_value(json!({
            "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail",
            "source": format!("aws.{}", source.split('.').next().unwrap()),
            "account": "123456789012", "region": "us-east-1",
            "detail": {
                "eventSource": source, "eventName": name, "eventType": "AwsApiCall",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/bob", "accountId": "123456789012"},
                "requestParameters": rp, "responseElements": re
            }
        }))
        .unwrap()
    }

    fn decided(e: &Event, facts: &Facts) -> Decision {
        match decide(e, &Policy::default(), facts) {
            Verdict::Decided(d) => d,
            Verdict::NeedFacts(r) => panic!("asks {r:?}"),
        }
    }

    fn known(kind: DbKind, id: &str, public: bool, tags: &[(&str, &str)]) -> Facts {
        let mut f = Facts::default();
        f.databases.insert(
            (kind, id.into()),
            Some(DatabaseState {
                kind,
                id: id.into(),
                public,
                status: Some("available".into()),
                tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            }),
        );
        f
    }

    #[test]
    fn the_response_says_whether_a_created_instance_is_public() {
        let facts = known(DbKind::Instance, "orders", true, &[]);
        // Created without asking, public all the same (default VPC).
        let e = record(
            "rds.amazonaws.com",
            "CreateDBInstance",
            json!({"dBInstanceIdentifier": "orders"}),
            json!({"dBInstanceIdentifier": "orders", "publiclyAccessible": true}),
        );
        let d = decided(&e, &facts);
        assert_eq!(d.actions.len(), 1, "{d:?}");
        // Asked, but the response says it is not (a private subnet group).
        let e = record(
            "rds.amazonaws.com",
            "CreateDBInstance",
            json!({"dBInstanceIdentifier": "orders", "publiclyAccessible": true}),
            json!({"dBInstanceIdentifier": "orders", "publiclyAccessible": false}),
        );
        assert!(decided(&e, &facts).actions.is_empty());
    }

    #[test]
    fn a_modification_counts_only_when_it_asked_for_public_access() {
        let facts = known(DbKind::Instance, "orders", true, &[]);
        let e = record(
            "rds.amazonaws.com",
            "ModifyDBInstance",
            json!({"dBInstanceIdentifier": "orders", "allocatedStorage": 50}),
            json!({"dBInstanceIdentifier": "orders", "publiclyAccessible": true}),
        );
        assert!(decided(&e, &facts).actions.is_empty());
        let e = record(
            "rds.amazonaws.com",
            "ModifyDBInstance",
            json!({"dBInstanceIdentifier": "orders", "publiclyAccessible": true}),
            json!({"dBInstanceIdentifier": "orders", "publiclyAccessible": true}),
        );
        assert_eq!(decided(&e, &facts).actions.len(), 1);
    }

    #[test]
    fn an_exempt_database_is_told_not_changed_and_cloudhsm_is_not_redshift() {
        let facts = known(DbKind::Redshift, "analytics", true, &[("trailguard:exempt", "true")]);
        let e = record(
            "redshift.amazonaws.com",
            "ModifyCluster",
            json!({"clusterIdentifier": "analytics", "publiclyAccessible": true}),
            Value::Null,
        );
        let d = decided(&e, &facts);
        assert!(d.actions.is_empty());
        assert_eq!(d.kind, crate::decision::Kind::Notify);
        let e = record(
            "cloudhsmv2.amazonaws.com",
            "ModifyCluster",
            json!({"clusterIdentifier": "analytics", "publiclyAccessible": true}),
            Value::Null,
        );
        assert_eq!(decided(&e, &facts).kind, crate::decision::Kind::Ignore);
    }
}
