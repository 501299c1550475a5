//! "What an event would do" and "what the sweep does" cannot disagree: for every sample
//! whose change leaves a state the sweep lists (a rule opened, an entry added, a trail
//! stopped, a honeytoken used, an image or snapshot shared), the state is built from the
//! sample alone and decided by the sweep; its plan must be the event's plan, restricted to
//! what a state can show (the event's plan may also revoke sessions, tag the user or
//! summarise activity: facts about the call, not the state).
//!
//! Every sweeping guard must be compared on at least two samples; when one is short, the
//! failure lists its remediating samples for which no state form is built here. All
//! disagreements are collected and reported in one failure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use trailguard_rules::ask::{self, Ask};
use trailguard_rules::facts::{GroupRule, World};
use trailguard_rules::resources::PolicyState;
use trailguard_rules::sweep::{self, AclEntry, AclState, KeyState, ShareState, State, TrailState};
use trailguard_rules::{
    decide_guard, Decider, Decision, Event, Facts, GroupFacts, Guard, Kind, Policy, Verdict,
};

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(events_dir().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A list in any of CloudTrail's shapes: an array, `{"items": [...]}`, or one object.
fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => match o.get("items") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(_) => vec![],
            None if o.is_empty() => vec![],
            None => vec![v],
        },
        _ => vec![],
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int(v: &Value, key: &str) -> Option<i64> {
    text(v, key)?.parse().ok()
}

/// The state the sample's call left behind, as the sweep would list it (tags from the
/// sample world, like the event's facts).
fn state_left(guard: &str, detail: &Value, policy: &Policy, world: &World) -> Option<State> {
    let name = detail["eventName"].as_str()?;
    let rp = &detail["requestParameters"];
    let resp = &detail["responseElements"];
    match (guard, name) {
        ("encryption_keys", "ScheduleKeyDeletion" | "DisableKeyRotation") => {
            // The key as the world has it after the call: pending deletion, or rotation off.
            let id = text(rp, "keyId")?;
            let id = id.rsplit('/').next()?.to_string();
            let mut k = world
                .encryption_keys
                .iter()
                .find(|k| k.key_id.ends_with(&format!("/{id}")))?
                .clone();
            if name == "DisableKeyRotation" {
                k.rotation = Some(false);
            }
            Some(State::EncryptionKey(k))
        }
        ("account_guardrails", "UpdateDetector") => {
            Some(State::Detectors(trailguard_rules::state::DetectorsState {
                account: detail["recipientAccountId"].as_str()?.into(),
                region: detail["awsRegion"].as_str()?.into(),
                detectors: vec![(text(rp, "detectorId")?, "DISABLED".into())],
            }))
        }
        ("ec2_guardrails", _) => {
            let mut d = trailguard_rules::state::Ec2DefaultsState {
                account: detail["recipientAccountId"].as_str()?.into(),
                region: detail["awsRegion"].as_str()?.into(),
                ebs_encryption_by_default: Some(true),
                snapshot_block_public_access: Some("block-all-sharing".into()),
                image_block_public_access: Some("block-new-sharing".into()),
            };
            let nested =
                |k: &str| text(rp, k).or_else(|| rp.as_object()?.values().find_map(|v| text(v, k)));
            match name {
                "DisableEbsEncryptionByDefault" => d.ebs_encryption_by_default = Some(false),
                "DisableImageBlockPublicAccess" => {
                    d.image_block_public_access = Some("unblocked".into())
                }
                "DisableSnapshotBlockPublicAccess" => {
                    d.snapshot_block_public_access = Some("unblocked".into())
                }
                "EnableSnapshotBlockPublicAccess" => {
                    d.snapshot_block_public_access = Some(nested("State")?)
                }
                _ => return None,
            }
            Some(State::Ec2Defaults(d))
        }
        ("iam", "UpdateAccountPasswordPolicy" | "DeleteAccountPasswordPolicy") => Some(
            State::PasswordPolicy(trailguard_rules::state::PasswordPolicyState {
                account: detail["recipientAccountId"].as_str()?.into(),
                policy: (name == "UpdateAccountPasswordPolicy")
                    .then(|| trailguard_rules::state::PasswordPolicy::from_request(rp)),
            }),
        ),
        ("security_group", "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress") => {
            let set = items(resp.get("securityGroupRuleSet")?);
            let group_id = set.first().and_then(|r| text(r, "groupId"))?;
            let rules: Option<Vec<GroupRule>> = set
                .iter()
                .map(|r| {
                    serde_json::from_value(json!({
                        "rule_id": text(r, "securityGroupRuleId")?,
                        "egress": r["isEgress"].as_bool().unwrap_or(name.ends_with("Egress")),
                        "protocol": text(r, "ipProtocol")?,
                        "from_port": int(r, "fromPort"),
                        "to_port": int(r, "toPort"),
                        "cidr_ipv4": text(r, "cidrIpv4"),
                        "cidr_ipv6": text(r, "cidrIpv6"),
                        "prefix_list_id": text(r, "prefixListId"),
                    }))
                    .ok()
                })
                .collect();
            let tags = world
                .security_groups
                .iter()
                .find(|g| g.group_id == group_id)
                .map(|g| g.tags.clone())
                .unwrap_or_default();
            Some(State::SecurityGroup(GroupFacts {
                group_id,
                group_name: None,
                tags,
                rules: rules?,
            }))
        }
        ("network_acl", "CreateNetworkAclEntry" | "ReplaceNetworkAclEntry") => {
            let id = text(rp, "networkAclId")?;
            let ports = &rp["portRange"];
            Some(State::NetworkAcl(AclState {
                tags: world.network_acls.get(&id).cloned().unwrap_or_default(),
                network_acl_id: id,
                is_default: false,
                entries: vec![AclEntry {
                    rule_number: int(rp, "ruleNumber")?,
                    egress: rp["egress"].as_bool().unwrap_or(false),
                    allow: text(rp, "ruleAction")?.eq_ignore_ascii_case("allow"),
                    protocol: text(rp, "aclProtocol").or_else(|| text(rp, "protocol"))?,
                    from_port: int(ports, "from"),
                    to_port: int(ports, "to"),
                    cidr: text(rp, "cidrBlock").or_else(|| text(rp, "ipv6CidrBlock")),
                }],
            }))
        }
        ("cloudtrail", "StopLogging") => Some(State::Trail(TrailState {
            trail: text(rp, "name")?,
            is_logging: false,
            log_file_validation: true,
            tags: Default::default(),
        })),
        ("access_key", _) => {
            let key = detail["userIdentity"]["accessKeyId"].as_str()?;
            trailguard_rules::guards::key::settings(policy)
                .honeytoken_access_keys
                .iter()
                .any(|k| k == key)
                .then(|| {
                    State::AccessKey(KeyState {
                        access_key_id: key.into(),
                        user_name: detail["userIdentity"]["userName"]
                            .as_str()
                            .unwrap_or("honeytoken")
                            .into(),
                        active: true,
                        quarantined_by: None,
                    })
                })
        }
        ("resource_sharing", "ModifyImageAttribute" | "ModifySnapshotAttribute") => {
            let image = name == "ModifyImageAttribute";
            let (id_key, attr) = if image {
                ("imageId", "launchPermission")
            } else {
                ("snapshotId", "createVolumePermission")
            };
            // The flat form (`operationType: add` with `userId` and `userGroup` lists) says
            // the same as `{attr: {add: [...]}}`.
            let flat =
                rp.get(attr).is_none() && text(rp, "operationType").as_deref() == Some("add");
            let flat_list = |key: &str| -> Vec<String> {
                match &rp[key] {
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                    Value::String(s) => vec![s.clone()],
                    _ => vec![],
                }
            };
            let added = if flat {
                let mut v: Vec<Value> = flat_list("userId")
                    .into_iter()
                    .map(|u| json!({"userId": u}))
                    .collect();
                v.extend(
                    flat_list("userGroup")
                        .into_iter()
                        .map(|g| json!({"group": g})),
                );
                v
            } else {
                items(rp.get(attr)?.get("add")?)
                    .into_iter()
                    .cloned()
                    .collect()
            };
            Some({
                let st = ShareState {
                    id: text(rp, id_key)?,
                    accounts: added.iter().filter_map(|a| text(a, "userId")).collect(),
                    public: added
                        .iter()
                        .any(|a| text(a, "group").as_deref() == Some("all")),
                    organizations: added
                        .iter()
                        .filter_map(|a| {
                            text(a, "organizationArn").or_else(|| text(a, "organizationalUnitArn"))
                        })
                        .collect(),
                    tags: Default::default(),
                };
                if image {
                    State::Image(st)
                } else {
                    State::Snapshot(st)
                }
            })
        }
        // A database the call left publicly accessible, as the describe calls list it (its
        // tags from the sample world, like the event's facts).
        ("public_database", _) => {
            let re = &detail["responseElements"];
            let (kind, key) = match name {
                "CreateDBCluster" | "ModifyDBCluster" => {
                    (sweep::DbKind::Cluster, "dBClusterIdentifier")
                }
                "CreateCluster" | "ModifyCluster" | "RestoreFromClusterSnapshot" => {
                    (sweep::DbKind::Redshift, "clusterIdentifier")
                }
                _ => (sweep::DbKind::Instance, "dBInstanceIdentifier"),
            };
            let id = text(re, key)?;
            let tags = world
                .databases
                .iter()
                .find(|d| d.kind == kind && d.id == id)
                .map(|d| d.tags.clone())
                .unwrap_or_default();
            Some(State::Database(sweep::DatabaseState {
                kind,
                id,
                public: re["publiclyAccessible"] == json!(true),
                status: text(re, "dBInstanceStatus")
                    .or_else(|| text(re, "status"))
                    .or_else(|| text(re, "clusterStatus")),
                tags,
            }))
        }
        ("public_bucket" | "account_guardrails", _) => bucket_left(name, detail, world),
        ("resource_policy" | "storage_policy", _) => {
            // The resource's policy as the call wrote it.
            let (kind, resource, field): (&str, Option<String>, &Value) = match name {
                "SetQueueAttributes" => {
                    ("queue", text(rp, "queueUrl"), &rp["attributes"]["Policy"])
                }
                "SetTopicAttributes" => ("topic", text(rp, "topicArn"), &rp["attributeValue"]),
                "PutResourcePolicy" => ("secret", text(rp, "secretId"), &rp["resourcePolicy"]),
                "PutKeyPolicy" => ("key", text(rp, "keyId"), &rp["policy"]),
                "SetRepositoryPolicy" => {
                    ("repository", text(rp, "repositoryName"), &rp["policyText"])
                }
                "CreateDomain"
                | "UpdateDomainConfig"
                | "CreateElasticsearchDomain"
                | "UpdateElasticsearchDomainConfig" => {
                    ("domain", text(rp, "domainName"), &rp["accessPolicies"])
                }
                "SetVaultAccessPolicy" => ("vault", text(rp, "vaultName"), &rp["policy"]["policy"]),
                "PutFileSystemPolicy" => ("file_system", text(rp, "fileSystemId"), &rp["policy"]),
                _ => return None,
            };
            // A domain the call put inside a VPC (its subnets in the request).
            let in_vpc = ["vPCOptions", "VPCOptions"].iter().any(|k| {
                rp[*k]["subnetIds"]
                    .as_array()
                    .or(rp[*k]["SubnetIds"].as_array())
                    .is_some_and(|a| !a.is_empty())
            });
            let resource = resource?;
            let tags = world
                .policy_resources
                .iter()
                .find(|p| p.resource == resource)
                .map(|p| p.tags.clone())
                .unwrap_or_default();
            Some(State::ResourcePolicy(PolicyState {
                kind: serde_json::from_value(json!(kind)).ok()?,
                resource,
                policy: Some(field.as_str()?.to_string()),
                tags,
                in_vpc,
            }))
        }
        _ => None,
    }
}

/// The bucket (or the account's block) an S3 sample's call left behind.
fn bucket_left(name: &str, detail: &Value, world: &World) -> Option<State> {
    use trailguard_rules::state::{AccountBlockState, BlockFlags, BucketState};
    let rp = &detail["requestParameters"];
    let flags = |rp: &Value| -> Option<BlockFlags> {
        let c = rp.get("PublicAccessBlockConfiguration")?;
        let on = |k: &str| c[k].as_bool().unwrap_or(false);
        Some(BlockFlags {
            block_public_acls: on("BlockPublicAcls"),
            ignore_public_acls: on("IgnorePublicAcls"),
            block_public_policy: on("BlockPublicPolicy"),
            restrict_public_buckets: on("RestrictPublicBuckets"),
        })
    };
    if name.contains("Account") {
        return Some(State::AccountBlock(AccountBlockState {
            account: detail["recipientAccountId"].as_str()?.into(),
            block: flags(rp),
        }));
    }
    let bucket = text(rp, "bucketName")?;
    let mut st = BucketState {
        tags: world
            .buckets
            .iter()
            .find(|b| b.bucket == bucket)
            .map(|b| b.tags.clone())
            .unwrap_or_default(),
        bucket,
        block: Some(BlockFlags::ALL),
        public_groups: vec![],
        policy: None,
    };
    match name {
        "PutBucketPublicAccessBlock" => st.block = flags(rp),
        "DeleteBucketPublicAccessBlock" | "DeletePublicAccessBlock" => st.block = None,
        "PutBucketAcl" | "CreateBucket" => {
            st.public_groups = trailguard_rules::guards::public_bucket::granted_groups(rp)
        }
        "PutBucketPolicy" => {
            st.policy = Some(match &rp["bucketPolicy"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        }
        _ => return None,
    }
    Some(State::Bucket(st))
}

fn decide_with(world: &World, f: impl FnMut(&Facts) -> Verdict) -> Decision {
    ask::settle_in(world, &mut Ask::new(Facts::default()), f).unwrap_or_else(|s| panic!("{s}"))
}

/// What a state can show: the changes to the resource itself, as JSON, without what only
/// the call tells (when it was made, the window it asked for).
fn state_changes(d: &Decision) -> Vec<Value> {
    const CALL_FIELDS: [&str; 3] = ["scheduled_at", "pending_window_days", "disabled_at"];
    const STATE_ACTIONS: [&str; 25] = [
        "enable_detector",
        "enable_ebs_encryption_by_default",
        "enable_snapshot_block_public_access",
        "enable_image_block_public_access",
        "cancel_key_deletion",
        "enable_key_rotation",
        "put_password_policy",
        "restrict_queue_policy",
        "restrict_topic_policy",
        "restrict_secret_policy",
        "restrict_key_policy",
        "restrict_repository_policy",
        "restrict_domain_policy",
        "restrict_vault_policy",
        "restrict_file_system_policy",
        "revoke_security_group_rules",
        "delete_network_acl_entry",
        "start_logging",
        "deactivate_access_key",
        "unshare_image",
        "unshare_snapshot",
        "put_bucket_public_access_block",
        "put_account_public_access_block",
        "remove_bucket_acl_grants",
        "restrict_bucket_policy",
    ];
    let mut v: Vec<Value> = d
        .actions
        .iter()
        .filter(|a| STATE_ACTIONS.contains(&a.type_name()))
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap();
            if let Some(o) = v.as_object_mut() {
                for f in CALL_FIELDS {
                    o.remove(f);
                }
            }
            v
        })
        .collect();
    v.sort_by_key(|a| a.to_string());
    v
}

/// How many samples each sweeping guard must be compared on.
const MIN_COMPARED: usize = 2;

#[test]
fn a_sweep_plans_what_the_event_planned() {
    let manifest: BTreeMap<String, Value> =
        serde_json::from_value(load("meta/manifest.json")).unwrap();
    let policy = Policy::from_json(&load("meta/policy.json").to_string()).unwrap();
    let world: World = serde_json::from_value(load("meta/world.json")).unwrap();
    let sweeping: Vec<Guard> = Guard::all()
        .filter(|g| !g.spec().sweeps.is_empty())
        .collect();
    // Per sweeping guard: the samples compared, and the remediating samples for which no
    // state form is built (refused, ignored and notify-only samples leave no state).
    let mut compared = BTreeMap::<&str, Vec<&str>>::new();
    let mut no_state = BTreeMap::<&str, Vec<&str>>::new();
    let mut disagreements: Vec<String> = Vec::new();
    for (fixture, expected) in &manifest {
        let raw = load(fixture);
        let event = Event::parse(&raw).unwrap();
        if event.is_scheduled() {
            continue;
        }
        for function in expected["routes_to"].as_array().into_iter().flatten() {
            let guard = Guard::from_function_name(function.as_str().unwrap()).unwrap();
            if !sweeping.contains(&guard) {
                continue;
            }
            let by_event = decide_with(&world, |f| {
                decide_guard(Decider::of(guard).unwrap(), &event, &policy, f)
            });
            // Only a change that was made is left in the state (not one refused, ignored as
            // our own, or exempt by who made it).
            if by_event.kind != Kind::Remediate {
                continue;
            }
            let Some(state) = state_left(guard.name(), &raw["detail"], &policy, &world) else {
                no_state.entry(guard.name()).or_default().push(fixture);
                continue;
            };
            let account = raw["account"].as_str();
            let by_sweep = decide_with(&world, |f| {
                sweep::decide_state(Decider::of(guard).unwrap(), &state, account, &policy, f)
            });
            let (swept, evented) = (state_changes(&by_sweep), state_changes(&by_event));
            if swept != evented {
                disagreements.push(format!(
                    "{fixture}: the sweep plans {} ({}), the event {} ({})",
                    json!(swept),
                    by_sweep.reason,
                    json!(evented),
                    by_event.reason
                ));
            }
            if by_sweep.mode != by_event.mode {
                disagreements.push(format!(
                    "{fixture}: the sweep's mode is {:?}, the event's {:?}",
                    by_sweep.mode, by_event.mode
                ));
            }
            compared.entry(guard.name()).or_default().push(fixture);
        }
    }
    // Every sweeping guard is compared on several samples; when one is short, the samples
    // it remediates without a state form say where a state form is missing.
    for g in &sweeping {
        let n = compared.get(g.name()).map_or(0, Vec::len);
        if n < MIN_COMPARED {
            disagreements.push(format!(
                "{}: {n} sample(s) compared with a state form, {MIN_COMPARED} needed; \
                 remediating samples with no state form built: {:?}",
                g.name(),
                no_state.get(g.name()).cloned().unwrap_or_default()
            ));
        }
    }
    let counts: BTreeMap<&str, usize> = compared.iter().map(|(g, v)| (*g, v.len())).collect();
    eprintln!("compared: {counts:?}; remediating with no state form: {no_state:?}");
    assert!(
        disagreements.is_empty(),
        "{} problems (compared: {counts:?}):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
