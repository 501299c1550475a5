//! A recording fake of every port: it records each call in order and answers from the
//! world the samples describe (events/meta/world.json) and a small script of answers (what
//! fails, what is already done), so every branch of the handler can be driven.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use trailguard_aws::ports::{InstanceNow, Page, PortResult, TrailEvent};
use trailguard_aws::{
    AliasPort, Change, Claim, Clients, Connect, Deps, Ec2Port, GuardDutyPort, IamPort, KeptPlan,
    KeyPort, LambdaPort, LedgerPort, NotifyPort, OrgPort, PolicyPort, PortError, RdsPort,
    RedshiftPort, S3ControlPort, S3Port, SecurityHubPort, Settings, Slot, Target, TrailPort,
};
use trailguard_rules::facts::{PrefixListFacts, World};
use trailguard_rules::finding::{FindingOutcome, FindingUpdate};
use trailguard_rules::ops::{self, Op};
use trailguard_rules::resources::{PolicyKind, PolicyState};
use trailguard_rules::sweep::{
    AclState, Checkpoint, DatabaseState, DbKind, KeyState, ShareState, State, TrailState,
};
use trailguard_rules::{GroupFacts, Permission, Policy, PrincipalKind, Report, Tags};

/// One breaker's last hour: (epoch ms, actor) of each counted change, and who has been told.
pub type Breaker = (Vec<(i64, String)>, BTreeSet<String>);

#[derive(Default)]
pub struct Fake {
    pub world: World,
    pub calls: Mutex<Vec<String>>,
    /// For each call in `calls`, the AWS operations (`trailguard_rules::ops`) it stands for.
    pub ops_seen: Mutex<Vec<Vec<&'static Op>>>,
    pub connects: Mutex<Vec<Target>>,
    /// Answers by operation name; absent means success (`Change::Done`).
    pub answers: Mutex<HashMap<&'static str, Result<Change, PortError>>>,
    pub trail_events: Option<Result<Vec<TrailEvent>, PortError>>,
    pub published: Mutex<Vec<(String, String)>>,
    pub events_put: Mutex<Vec<(String, Report)>>,
    pub policies: Mutex<Vec<(String, String)>>,
    pub publish_error: Option<PortError>,
    /// The ledger, in memory: breaker times by guard, claims by key (state, owner).
    /// Breaker scope -> (epoch ms and actor of each counted change, who has been told).
    pub breaker: Mutex<HashMap<String, Breaker>>,
    pub claims: Mutex<HashMap<String, (String, String)>>,
    pub connect_error: Option<PortError>,
    /// What a sweep lists, paged two at a time.
    pub state: Mutex<Vec<State>>,
    pub checkpoints: Mutex<HashMap<String, Checkpoint>>,
    /// The reports kept of each event (`keep_report`).
    pub reports: Mutex<HashMap<String, Vec<String>>>,
    /// The plans waiting for approval, by ledger key (`offer_plan`).
    pub plans: Mutex<HashMap<String, KeptPlan>>,
    /// Resource policies written or deleted, by (kind, resource): None once deleted. Those
    /// not here are as the world says.
    pub resource_policies: Mutex<HashMap<(PolicyKind, String), Option<String>>>,
    /// What IAM answers for the account's alias (None: it has none); read for notices, not
    /// recorded in `calls` (it is no part of a decision or an action).
    pub alias: Option<PortResult<Option<String>>>,
}

impl Fake {
    /// A page of the listed state of one kind, two at a time (`token`: the index).
    fn page<T>(
        &self,
        op: &'static str,
        ops: &[&'static Op],
        token: Option<String>,
        pick: fn(&State) -> Option<T>,
    ) -> PortResult<Page<T>> {
        self.record(ops, format!("{op}({})", token.clone().unwrap_or_default()));
        if let Some(e) = self.failure(op) {
            return Err(e);
        }
        let all: Vec<T> = self.state.lock().unwrap().iter().filter_map(pick).collect();
        let start: usize = token.map(|t| t.parse().unwrap()).unwrap_or(0);
        let end = (start + 2).min(all.len());
        let next = (end < all.len()).then(|| end.to_string());
        Ok(Page {
            items: all.into_iter().skip(start).take(end - start).collect(),
            next,
        })
    }
}

/// A security-group revoke: ingress or egress.
fn revoke(egress: bool) -> &'static Op {
    if egress {
        &ops::REVOKE_SG_EGRESS
    } else {
        &ops::REVOKE_SG_INGRESS
    }
}

pub const NOW: i64 = 1_795_000_000; // 2026-11-18T11:06:40Z

pub fn clock() -> i64 {
    NOW
}

pub fn events_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

pub fn load(name: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(events_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn world() -> World {
    serde_json::from_value(load("meta/world.json")).unwrap()
}

pub fn sample_policy_json() -> String {
    load("meta/policy.json").to_string()
}

impl Fake {
    /// A fake account as events/meta/world.json describes it.
    pub fn new() -> Fake {
        Fake {
            world: world(),
            ..Fake::default()
        }
    }

    pub fn answer(&self, op: &'static str, r: Result<Change, PortError>) {
        self.answers.lock().unwrap().insert(op, r);
    }
    /// Note a call, with the AWS operations the SDK adapter's method may call for it.
    fn record(&self, ops: &[&'static Op], call: String) {
        self.calls.lock().unwrap().push(call);
        self.ops_seen.lock().unwrap().push(ops.to_vec());
    }
    fn reply(&self, op: &'static str) -> PortResult<Change> {
        self.answers
            .lock()
            .unwrap()
            .get(op)
            .cloned()
            .unwrap_or(Ok(Change::Done))
    }
    fn failure(&self, op: &'static str) -> Option<PortError> {
        match self.answers.lock().unwrap().get(op) {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }
    /// Each call made, with the AWS operations it stands for (what the SDK adapter's
    /// method may call: a read before a change included).
    pub fn calls_with_ops(&self) -> Vec<(String, Vec<&'static Op>)> {
        self.calls()
            .into_iter()
            .zip(self.ops_seen.lock().unwrap().iter().cloned())
            .collect()
    }
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    pub fn ops(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| c.split('(').next().unwrap_or_default().to_string())
            .collect()
    }
    pub fn published(&self) -> Vec<(String, String)> {
        self.published.lock().unwrap().clone()
    }
}

/// The fake as a function's dependencies: every port, for the given guard and policy.
pub fn deps(fake: &Arc<Fake>, guard: &str, policy: &str) -> Deps<Via, Via> {
    Deps {
        connect: Via(fake.clone()),
        notify: Via(fake.clone()),
        settings: settings(guard, policy),
        clock,
    }
}

pub fn settings(guard: &str, policy: &str) -> Settings {
    Settings {
        decider: trailguard_rules::Decider::from_function_name(guard)
            .or_else(|| trailguard_rules::Decider::by_name(guard))
            .unwrap_or_else(|| panic!("no guard {guard}")),
        policy: Policy::from_json(policy).unwrap(),
        own_role_arn: Some(
            "arn:aws:iam::123456789012:role/trailguard-RevertSecurityGroupRole-EXAMPLE".into(),
        ),
        topic_arn: Some("arn:aws:sns:us-east-1:123456789012:trailguard".into()),
        event_bus: None,
        endpoint_url: None,
        ledger_table: None,
        region: Some("us-east-1".into()),
        sweep_max_resources: None,
        member_role_name: None,
        own_account: None,
    }
}

/// The fake behind an `Arc`, as the connector and the notifier.
pub struct Via(pub Arc<Fake>);

impl Connect for Via {
    type Clients = Fake;
    async fn connect(&self, target: &Target) -> PortResult<Arc<Fake>> {
        self.0.connects.lock().unwrap().push(target.clone());
        match &self.0.connect_error {
            Some(e) => Err(e.clone()),
            None => Ok(self.0.clone()),
        }
    }
    fn home(&self) -> Arc<Fake> {
        self.0.clone()
    }
}

impl Clients for Fake {
    type Ec2 = Fake;
    type Iam = Fake;
    type Trail = Fake;
    type Rds = Fake;
    type Lambda = Fake;
    type Org = Fake;
    type Ledger = Fake;
    type Redshift = Fake;
    type Policy = Fake;
    fn policy(&self) -> &Fake {
        self
    }
    fn ledger(&self) -> &Fake {
        self
    }
    fn redshift(&self) -> &Fake {
        self
    }
    type S3 = Fake;
    fn s3(&self) -> &Fake {
        self
    }
    type S3Control = Fake;
    fn s3control(&self) -> &Fake {
        self
    }
    type Keys = Fake;
    fn keys(&self) -> &Fake {
        self
    }
    type GuardDuty = Fake;
    fn guardduty(&self) -> &Fake {
        self
    }
    type SecurityHub = Fake;
    fn securityhub(&self) -> &Fake {
        self
    }
    type Aliases = Fake;
    fn aliases(&self) -> &Fake {
        self
    }
    fn rds(&self) -> &Fake {
        self
    }
    fn lambda(&self) -> &Fake {
        self
    }
    fn org(&self) -> &Fake {
        self
    }
    fn ec2(&self) -> &Fake {
        self
    }
    fn iam(&self) -> &Fake {
        self
    }
    fn trail(&self) -> &Fake {
        self
    }
}

impl Ec2Port for Fake {
    async fn enable_ebs_encryption_by_default(&self) -> PortResult<Change> {
        self.record(
            &[
                &ops::GET_EBS_ENCRYPTION_BY_DEFAULT,
                &ops::ENABLE_EBS_ENCRYPTION_BY_DEFAULT,
            ],
            "EnableEbsEncryptionByDefault()".into(),
        );
        self.reply("EnableEbsEncryptionByDefault")
    }
    async fn enable_snapshot_block_public_access(&self, state: &str) -> PortResult<Change> {
        self.record(
            &[&ops::GET_SNAPSHOT_BPA, &ops::ENABLE_SNAPSHOT_BPA],
            format!("EnableSnapshotBlockPublicAccess({state})"),
        );
        self.reply("EnableSnapshotBlockPublicAccess")
    }
    async fn require_imdsv2(
        &self,
        instance_id: &str,
        read: Option<&Option<bool>>,
    ) -> PortResult<Change> {
        self.record(
            &read_then(
                read,
                &ops::DESCRIBE_INSTANCES,
                &ops::MODIFY_INSTANCE_METADATA_OPTIONS,
            ),
            format!("RequireImdsv2({instance_id})"),
        );
        self.reply("RequireImdsv2")
    }
    async fn instance(&self, instance_id: &str) -> PortResult<Option<InstanceNow>> {
        self.record(
            &[&ops::DESCRIBE_INSTANCES],
            format!("InstanceTags({instance_id})"),
        );
        if let Some(e) = self.failure("InstanceTags") {
            return Err(e);
        }
        // The world holds an instance's tags; its metadata options are not modelled.
        Ok(Some(InstanceNow {
            tags: self
                .world
                .instances
                .get(instance_id)
                .cloned()
                .unwrap_or_default(),
            tokens_required: false,
        }))
    }
    async fn ec2_defaults(
        &self,
        account: &str,
        region: &str,
    ) -> PortResult<trailguard_rules::state::Ec2DefaultsState> {
        self.record(
            &[
                &ops::GET_EBS_ENCRYPTION_BY_DEFAULT,
                &ops::GET_SNAPSHOT_BPA,
                &ops::GET_IMAGE_BPA,
            ],
            format!("Ec2Defaults({account},{region})"),
        );
        if let Some(e) = self.failure("Ec2Defaults") {
            return Err(e);
        }
        let listed = self.state.lock().unwrap().iter().find_map(|s| match s {
            State::Ec2Defaults(d) => Some(d.clone()),
            _ => None,
        });
        Ok(listed.unwrap_or(trailguard_rules::state::Ec2DefaultsState {
            account: account.into(),
            region: region.into(),
            ebs_encryption_by_default: Some(true),
            snapshot_block_public_access: Some("block-all-sharing".into()),
            image_block_public_access: Some("block-new-sharing".into()),
        }))
    }
    async fn require_imdsv2_default(&self) -> PortResult<Change> {
        self.record(
            &[
                &ops::GET_INSTANCE_METADATA_DEFAULTS,
                &ops::MODIFY_INSTANCE_METADATA_DEFAULTS,
            ],
            "RequireImdsv2Default()".into(),
        );
        self.reply("RequireImdsv2Default")
    }
    async fn enable_image_block_public_access(&self) -> PortResult<Change> {
        self.record(
            &[&ops::GET_IMAGE_BPA, &ops::ENABLE_IMAGE_BPA],
            "EnableImageBlockPublicAccess()".into(),
        );
        self.reply("EnableImageBlockPublicAccess")
    }
    async fn list_groups(&self, token: Option<String>) -> PortResult<Page<GroupFacts>> {
        self.page(
            "ListGroups",
            &[&ops::DESCRIBE_SECURITY_GROUPS, &ops::DESCRIBE_SG_RULES],
            token,
            |s| match s {
                State::SecurityGroup(g) => Some(g.clone()),
                _ => None,
            },
        )
    }
    async fn list_acls(&self, token: Option<String>) -> PortResult<Page<AclState>> {
        self.page(
            "ListAcls",
            &[&ops::DESCRIBE_NETWORK_ACLS],
            token,
            |s| match s {
                State::NetworkAcl(a) => Some(a.clone()),
                _ => None,
            },
        )
    }
    async fn list_image_shares(&self, token: Option<String>) -> PortResult<Page<ShareState>> {
        self.page(
            "ListImages",
            &[&ops::DESCRIBE_IMAGES, &ops::DESCRIBE_IMAGE_ATTRIBUTE],
            token,
            |s| match s {
                State::Image(a) => Some(a.clone()),
                _ => None,
            },
        )
    }
    async fn list_snapshot_shares(&self, token: Option<String>) -> PortResult<Page<ShareState>> {
        self.page(
            "ListSnapshots",
            &[&ops::DESCRIBE_SNAPSHOTS, &ops::DESCRIBE_SNAPSHOT_ATTRIBUTE],
            token,
            |s| match s {
                State::Snapshot(a) => Some(a.clone()),
                _ => None,
            },
        )
    }
    async fn revoke_rules(
        &self,
        group_id: &str,
        egress: bool,
        rule_ids: &[String],
    ) -> PortResult<Change> {
        self.record(
            &[revoke(egress)],
            format!(
                "RevokeRules({group_id},{},{})",
                if egress { "egress" } else { "ingress" },
                rule_ids.join("+")
            ),
        );
        self.reply("RevokeRules")
    }
    async fn revoke_permissions(
        &self,
        group_id: Option<&str>,
        group_name: Option<&str>,
        egress: bool,
        perms: &[Permission],
    ) -> PortResult<Change> {
        let p: Vec<String> = perms.iter().map(|p| p.describe()).collect();
        self.record(
            &[revoke(egress)],
            format!(
                "RevokePermissions({},{},{})",
                group_id.or(group_name).unwrap_or("?"),
                if egress { "egress" } else { "ingress" },
                p.join("+")
            ),
        );
        self.reply("RevokePermissions")
    }
    async fn authorize_permissions(
        &self,
        group_id: &str,
        egress: bool,
        perms: &[Permission],
    ) -> PortResult<Change> {
        let p: Vec<String> = perms.iter().map(|p| p.describe()).collect();
        self.record(
            &[if egress {
                &ops::AUTHORIZE_SG_EGRESS
            } else {
                &ops::AUTHORIZE_SG_INGRESS
            }],
            format!(
                "Authorize({group_id},{},{})",
                if egress { "egress" } else { "ingress" },
                p.join("+")
            ),
        );
        self.reply("Authorize")
    }
    async fn describe_group(
        &self,
        group_id: Option<&str>,
        group_name: Option<&str>,
    ) -> PortResult<Option<GroupFacts>> {
        self.record(
            &[&ops::DESCRIBE_SECURITY_GROUPS],
            format!("DescribeGroup({})", group_id.or(group_name).unwrap_or("?")),
        );
        if let Some(e) = self.failure("DescribeGroup") {
            return Err(e);
        }
        Ok(self.world.group(group_id, group_name))
    }
    async fn rule_directions(
        &self,
        group_id: &str,
        rule_ids: &[String],
    ) -> PortResult<BTreeMap<String, bool>> {
        self.record(
            &[&ops::DESCRIBE_SG_RULES],
            format!("DescribeRules({group_id})"),
        );
        Ok(self
            .world
            .rule_directions
            .iter()
            .filter(|(id, _)| rule_ids.contains(id))
            .map(|(k, v)| (k.clone(), *v))
            .collect())
    }
    async fn group_state(&self, group_id: &str) -> PortResult<Option<GroupFacts>> {
        self.record(
            &[&ops::DESCRIBE_SECURITY_GROUPS, &ops::DESCRIBE_SG_RULES],
            format!("DescribeGroupState({group_id})"),
        );
        Ok(self.world.group(Some(group_id), None))
    }
    async fn delete_nacl_entry(
        &self,
        acl_id: &str,
        rule_number: i64,
        egress: bool,
        _: Option<&trailguard_rules::sweep::AclEntry>,
        read: Option<&Option<AclState>>,
    ) -> PortResult<Change> {
        self.record(
            &read_then(read, &ops::DESCRIBE_NETWORK_ACLS, &ops::DELETE_NACL_ENTRY),
            format!("DeleteNaclEntry({acl_id},{rule_number},{egress})"),
        );
        self.reply("DeleteNaclEntry")
    }
    async fn prefix_list(&self, id: &str) -> PortResult<Option<PrefixListFacts>> {
        self.record(
            &[
                &ops::DESCRIBE_MANAGED_PREFIX_LISTS,
                &ops::GET_MANAGED_PREFIX_LIST_ENTRIES,
            ],
            format!("DescribePrefixList({id})"),
        );
        if let Some(e) = self.failure("DescribePrefixList") {
            return Err(e);
        }
        Ok(self.world.prefix_lists.get(id).cloned())
    }
    async fn remove_prefix_list_entries(
        &self,
        id: &str,
        cidrs: &[String],
        previous_version: Option<i64>,
    ) -> PortResult<Change> {
        self.record(
            &[
                &ops::DESCRIBE_MANAGED_PREFIX_LISTS,
                &ops::GET_MANAGED_PREFIX_LIST_ENTRIES,
                &ops::MODIFY_MANAGED_PREFIX_LIST,
            ],
            format!(
                "RemovePrefixListEntries({id},{},{previous_version:?})",
                cidrs.join("+")
            ),
        );
        self.reply("RemovePrefixListEntries")
    }
    async fn acl_state(&self, acl_id: &str) -> PortResult<Option<AclState>> {
        self.record(
            &[&ops::DESCRIBE_NETWORK_ACLS],
            format!("DescribeNaclState({acl_id})"),
        );
        // An ACL the world lists only by its tags: those tags, entries not modelled.
        Ok(self.world.acl_states.get(acl_id).cloned().or_else(|| {
            self.world.network_acls.get(acl_id).map(|tags| AclState {
                network_acl_id: acl_id.to_string(),
                is_default: false,
                tags: tags.clone(),
                entries: vec![],
            })
        }))
    }
    async fn unshare_image(
        &self,
        image_id: &str,
        accounts: &[String],
        public: bool,
        organizations: &[String],
    ) -> PortResult<Change> {
        self.record(
            &[&ops::DESCRIBE_IMAGE_ATTRIBUTE, &ops::MODIFY_IMAGE_ATTRIBUTE],
            format!(
                "UnshareImage({image_id},{},{public},{})",
                accounts.join("+"),
                organizations.join("+")
            ),
        );
        self.reply("UnshareImage")
    }
    async fn remove_tag(&self, resource_ids: &[String], key: &str) -> PortResult<Change> {
        self.record(
            &[&ops::DESCRIBE_TAGS, &ops::DELETE_TAGS],
            format!("RemoveTag({},{key})", resource_ids.join("+")),
        );
        self.reply("RemoveTag")
    }
    async fn unshare_snapshot(
        &self,
        snapshot_id: &str,
        accounts: &[String],
        public: bool,
    ) -> PortResult<Change> {
        self.record(
            &[
                &ops::DESCRIBE_SNAPSHOT_ATTRIBUTE,
                &ops::MODIFY_SNAPSHOT_ATTRIBUTE,
            ],
            format!(
                "UnshareSnapshot({snapshot_id},{},{public})",
                accounts.join("+")
            ),
        );
        self.reply("UnshareSnapshot")
    }
}

impl IamPort for Fake {
    async fn password_policy(&self) -> PortResult<Option<trailguard_rules::state::PasswordPolicy>> {
        self.record(
            &[&ops::GET_ACCOUNT_PASSWORD_POLICY],
            "PasswordPolicy()".into(),
        );
        if let Some(e) = self.failure("PasswordPolicy") {
            return Err(e);
        }
        Ok(self.state.lock().unwrap().iter().find_map(|s| match s {
            State::PasswordPolicy(p) => p.policy.clone(),
            _ => None,
        }))
    }
    async fn put_password_policy(
        &self,
        baseline: &trailguard_rules::state::PasswordPolicy,
    ) -> PortResult<Change> {
        self.record(
            &[
                &ops::GET_ACCOUNT_PASSWORD_POLICY,
                &ops::UPDATE_ACCOUNT_PASSWORD_POLICY,
            ],
            format!("PutPasswordPolicy({})", baseline.cli_args().trim()),
        );
        self.reply("PutPasswordPolicy")
    }
    async fn sweep_keys(&self, _: &[String]) -> PortResult<Vec<KeyState>> {
        Ok(self
            .page(
                "ListKeys",
                &[
                    &ops::GET_ACCESS_KEY_LAST_USED,
                    &ops::LIST_ACCESS_KEYS,
                    &ops::LIST_ENTITIES_FOR_POLICY,
                ],
                None,
                |s| match s {
                    State::AccessKey(k) => Some(k.clone()),
                    _ => None,
                },
            )?
            .items)
    }
    async fn deactivate_key(&self, user: &str, key_id: &str) -> PortResult<Change> {
        self.record(
            &[&ops::LIST_ACCESS_KEYS, &ops::UPDATE_ACCESS_KEY],
            format!("DeactivateKey({user},{key_id})"),
        );
        self.reply("DeactivateKey")
    }
    async fn put_deny_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> PortResult<Change> {
        self.record(
            &[match kind {
                PrincipalKind::User => &ops::PUT_USER_POLICY,
                PrincipalKind::Role => &ops::PUT_ROLE_POLICY,
            }],
            format!("PutDenyPolicy({kind:?},{name},{policy_name})"),
        );
        self.policies
            .lock()
            .unwrap()
            .push((name.to_string(), document.to_string()));
        self.reply("PutDenyPolicy")
    }
    async fn tag_user(&self, user: &str, key: &str, value: &str) -> PortResult<Change> {
        self.record(&[&ops::TAG_USER], format!("TagUser({user},{key}={value})"));
        self.reply("TagUser")
    }
    async fn key_owner(&self, key_id: &str) -> PortResult<Option<String>> {
        self.record(
            &[&ops::GET_ACCESS_KEY_LAST_USED],
            format!("KeyOwner({key_id})"),
        );
        Ok(self.world.key_owners.get(key_id).cloned())
    }
    async fn restrict_role_trust(
        &self,
        role: &str,
        principals: &[String],
        untrusted: &[String],
    ) -> PortResult<Change> {
        let values = if untrusted.is_empty() {
            String::new()
        } else {
            format!(",outside:{}", untrusted.join("+"))
        };
        self.record(
            &[&ops::GET_ROLE, &ops::UPDATE_ASSUME_ROLE_POLICY],
            format!("RestrictRoleTrust({role},{}{values})", principals.join("+")),
        );
        self.reply("RestrictRoleTrust")
    }
    async fn untag_role(&self, role: &str, key: &str) -> PortResult<Change> {
        self.record(
            &[&ops::LIST_ROLE_TAGS, &ops::UNTAG_ROLE],
            format!("UntagRole({role},{key})"),
        );
        self.reply("UntagRole")
    }
    async fn user_has_tag(&self, user: &str, key: &str) -> PortResult<Option<bool>> {
        self.record(&[&ops::LIST_USER_TAGS], format!("UserHasTag({user},{key})"));
        Ok(Some(
            self.world
                .user_tags
                .get(user)
                .is_some_and(|t| t.contains_key(key)),
        ))
    }
    async fn role_tags(&self, role: &str) -> PortResult<Option<Tags>> {
        self.record(&[&ops::GET_ROLE], format!("RoleTags({role})"));
        Ok(self.world.roles.get(role).cloned())
    }
}

impl TrailPort for Fake {
    async fn list_trails(&self) -> PortResult<Vec<TrailState>> {
        Ok(self
            .page(
                "ListTrails",
                &[&ops::DESCRIBE_TRAILS, &ops::GET_TRAIL_STATUS],
                None,
                |s| match s {
                    State::Trail(t) => Some(t.clone()),
                    _ => None,
                },
            )?
            .items)
    }
    async fn trail_is_logging(&self, trail: &str) -> PortResult<Option<bool>> {
        self.record(
            &[&ops::GET_TRAIL_STATUS],
            format!("GetTrailStatus({trail})"),
        );
        match self.reply("GetTrailStatus")? {
            Change::AlreadyDone(_) => Ok(Some(true)),
            Change::Done | Change::Removed(_) => Ok(Some(false)),
        }
    }
    async fn start_logging(&self, trail: &str) -> PortResult<Change> {
        self.record(&[&ops::START_LOGGING], format!("StartLogging({trail})"));
        self.reply("StartLogging")
    }
    async fn update_trail(
        &self,
        trail: &str,
        m: Option<bool>,
        v: Option<bool>,
        g: Option<bool>,
    ) -> PortResult<Change> {
        let global = g.map(|g| format!(",global={g}")).unwrap_or_default();
        self.record(
            &[&ops::UPDATE_TRAIL],
            format!("UpdateTrail({trail},{m:?},{v:?}{global})"),
        );
        self.reply("UpdateTrail")
    }
    async fn lookup_key_events(
        &self,
        key_id: &str,
        start: i64,
        end: i64,
        _: usize,
    ) -> PortResult<Vec<TrailEvent>> {
        self.record(
            &[&ops::LOOKUP_EVENTS],
            format!("LookupEvents({key_id},{})", end - start),
        );
        self.trail_events.clone().unwrap_or_else(|| Ok(vec![]))
    }
    async fn lookup_resource_events(
        &self,
        resource: &str,
        start: i64,
        end: i64,
        _: usize,
    ) -> PortResult<Vec<TrailEvent>> {
        self.record(
            &[&ops::LOOKUP_EVENTS],
            format!("LookupEvents({resource},{})", end - start),
        );
        self.trail_events.clone().unwrap_or_else(|| Ok(vec![]))
    }
    async fn lookup_named_events(
        &self,
        name: &str,
        start: i64,
        end: i64,
        _: usize,
    ) -> PortResult<Vec<TrailEvent>> {
        self.record(
            &[&ops::LOOKUP_EVENTS],
            format!("LookupEventsNamed({name},{})", end - start),
        );
        if let Some(scripted) = &self.trail_events {
            return scripted.clone();
        }
        // The world's key deletions, as KMS's records of them.
        Ok(self
            .world
            .key_deletions
            .iter()
            .filter(|_| name == "ScheduleKeyDeletion")
            .map(|k| TrailEvent {
                name: name.to_string(),
                time: k.at.as_deref().and_then(trailguard_rules::time::epoch),
                source: Some("kms.amazonaws.com".into()),
                resources: vec![k.key_id.clone()],
                principals: k.by.clone(),
                request_parameters: serde_json::json!({"pendingWindowInDays": k.window_days}),
                ..TrailEvent::default()
            })
            .collect())
    }
    async fn restore_management_events(&self, trail: &str) -> PortResult<Change> {
        self.record(
            &[&ops::GET_EVENT_SELECTORS, &ops::PUT_EVENT_SELECTORS],
            format!("RestoreManagementEvents({trail})"),
        );
        self.reply("RestoreManagementEvents")
    }
    async fn trail_buckets(&self) -> PortResult<BTreeSet<String>> {
        self.record(&[&ops::DESCRIBE_TRAILS], "TrailBuckets()".into());
        Ok(self.world.trail_buckets.iter().cloned().collect())
    }
}

impl RdsPort for Fake {
    async fn unshare_db_snapshot(
        &self,
        snapshot: &str,
        cluster: bool,
        values: &[String],
    ) -> PortResult<Change> {
        self.record(
            if cluster {
                &[
                    &ops::DESCRIBE_DB_CLUSTER_SNAPSHOT_ATTRIBUTES,
                    &ops::MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE,
                ]
            } else {
                &[
                    &ops::DESCRIBE_DB_SNAPSHOT_ATTRIBUTES,
                    &ops::MODIFY_DB_SNAPSHOT_ATTRIBUTE,
                ]
            },
            format!(
                "UnshareDbSnapshot({snapshot},{cluster},{})",
                values.join("+")
            ),
        );
        self.reply("UnshareDbSnapshot")
    }
    async fn db_instance(&self, id: &str) -> PortResult<Option<DatabaseState>> {
        self.record(&[&ops::DESCRIBE_DB_INSTANCES], format!("DbInstance({id})"));
        Ok(self.database(DbKind::Instance, id))
    }
    async fn db_cluster(&self, id: &str) -> PortResult<Option<DatabaseState>> {
        self.record(&[&ops::DESCRIBE_DB_CLUSTERS], format!("DbCluster({id})"));
        Ok(self.database(DbKind::Cluster, id))
    }
    async fn list_db_instances(&self, token: Option<String>) -> PortResult<Page<DatabaseState>> {
        self.page(
            "ListDbInstances",
            &[&ops::DESCRIBE_DB_INSTANCES],
            token,
            |s| database_of(s, DbKind::Instance),
        )
    }
    async fn list_db_clusters(&self, token: Option<String>) -> PortResult<Page<DatabaseState>> {
        self.page(
            "ListDbClusters",
            &[&ops::DESCRIBE_DB_CLUSTERS],
            token,
            |s| database_of(s, DbKind::Cluster),
        )
    }
    async fn make_db_instance_private(
        &self,
        id: &str,
        read: Option<&Option<DatabaseState>>,
    ) -> PortResult<Change> {
        self.record(
            &read_then(read, &ops::DESCRIBE_DB_INSTANCES, &ops::MODIFY_DB_INSTANCE),
            format!("MakeDbInstancePrivate({id})"),
        );
        self.reply("MakeDbInstancePrivate")
    }
    async fn remove_db_tag(&self, arn: &str, key: &str) -> PortResult<Change> {
        self.record(
            &[&ops::RDS_LIST_TAGS, &ops::RDS_REMOVE_TAGS],
            format!("RemoveDbTag({arn},{key})"),
        );
        self.reply("RemoveDbTag")
    }
    async fn make_db_cluster_private(&self, id: &str) -> PortResult<Change> {
        self.record(
            &[
                &ops::DESCRIBE_DB_CLUSTERS,
                &ops::DESCRIBE_DB_INSTANCES,
                &ops::MODIFY_DB_INSTANCE,
            ],
            format!("MakeDbClusterPrivate({id})"),
        );
        self.reply("MakeDbClusterPrivate")
    }
}

impl RedshiftPort for Fake {
    async fn redshift_cluster(&self, id: &str) -> PortResult<Option<DatabaseState>> {
        self.record(
            &[&ops::REDSHIFT_DESCRIBE_CLUSTERS],
            format!("RedshiftCluster({id})"),
        );
        Ok(self.database(DbKind::Redshift, id))
    }
    async fn list_redshift_clusters(
        &self,
        token: Option<String>,
    ) -> PortResult<Page<DatabaseState>> {
        self.page(
            "ListRedshiftClusters",
            &[&ops::REDSHIFT_DESCRIBE_CLUSTERS],
            token,
            |s| database_of(s, DbKind::Redshift),
        )
    }
    async fn remove_redshift_tag(&self, arn: &str, key: &str) -> PortResult<Change> {
        self.record(
            &[&ops::REDSHIFT_DESCRIBE_TAGS, &ops::REDSHIFT_DELETE_TAGS],
            format!("RemoveRedshiftTag({arn},{key})"),
        );
        self.reply("RemoveRedshiftTag")
    }
    async fn make_redshift_cluster_private(
        &self,
        id: &str,
        read: Option<&Option<DatabaseState>>,
    ) -> PortResult<Change> {
        self.record(
            &read_then(
                read,
                &ops::REDSHIFT_DESCRIBE_CLUSTERS,
                &ops::REDSHIFT_MODIFY_CLUSTER,
            ),
            format!("MakeRedshiftClusterPrivate({id})"),
        );
        self.reply("MakeRedshiftClusterPrivate")
    }
}

/// The operations of a look-first change: the real port reads only when the decision's read
/// is not handed to it.
fn read_then<T>(read: Option<&T>, look: &'static Op, change: &'static Op) -> Vec<&'static Op> {
    if read.is_some() {
        vec![change]
    } else {
        vec![look, change]
    }
}

impl Fake {
    /// A database of the world (events/meta/world.json).
    fn database(&self, kind: DbKind, id: &str) -> Option<DatabaseState> {
        self.world
            .databases
            .iter()
            .find(|d| d.kind == kind && d.id == id)
            .cloned()
    }
}

fn database_of(s: &State, kind: DbKind) -> Option<DatabaseState> {
    match s {
        State::Database(d) if d.kind == kind => Some(d.clone()),
        _ => None,
    }
}

impl LambdaPort for Fake {
    async fn remove_permission(
        &self,
        function: &str,
        statement_id: &str,
        qualifier: Option<&str>,
    ) -> PortResult<Change> {
        self.record(
            &[&ops::LAMBDA_GET_POLICY, &ops::LAMBDA_REMOVE_PERMISSION],
            format!(
                "RemovePermission({function},{statement_id},{})",
                qualifier.unwrap_or("-")
            ),
        );
        self.reply("RemovePermission")
    }
}

impl S3Port for Fake {
    async fn put_bucket_block(&self, bucket: &str, flags: &[String]) -> PortResult<Change> {
        self.record(
            &[&ops::GET_BUCKET_PAB, &ops::PUT_BUCKET_PAB],
            format!("PutBucketBlock({bucket},{})", flags.join("+")),
        );
        self.reply("PutBucketBlock")
    }
    async fn remove_bucket_acl_grants(
        &self,
        bucket: &str,
        groups: &[String],
    ) -> PortResult<Change> {
        self.record(
            &[&ops::GET_BUCKET_ACL, &ops::PUT_BUCKET_ACL],
            format!("RemoveBucketAclGrants({bucket},{})", groups.join("+")),
        );
        self.reply("RemoveBucketAclGrants")
    }
    async fn remove_object_acl_grants(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        groups: &[String],
    ) -> PortResult<Change> {
        self.record(
            if version_id.is_some() {
                &[&ops::GET_OBJECT_VERSION_ACL, &ops::PUT_OBJECT_VERSION_ACL]
            } else {
                &[&ops::GET_OBJECT_ACL, &ops::PUT_OBJECT_ACL]
            },
            format!(
                "RemoveObjectAclGrants({bucket},{key},{},{})",
                version_id.unwrap_or("-"),
                groups.join("+")
            ),
        );
        self.reply("RemoveObjectAclGrants")
    }
    async fn restrict_bucket_policy(
        &self,
        bucket: &str,
        principals: &[String],
        untrusted: &[String],
    ) -> PortResult<Change> {
        self.record(
            &[
                &ops::GET_BUCKET_POLICY,
                &ops::PUT_BUCKET_POLICY,
                &ops::DELETE_BUCKET_POLICY,
            ],
            format!(
                "RestrictBucketPolicy({bucket},{},{})",
                principals.join("+"),
                untrusted.join("+")
            ),
        );
        self.reply("RestrictBucketPolicy")
    }
    async fn bucket_tags(&self, bucket: &str) -> PortResult<Option<Tags>> {
        self.record(&[&ops::GET_BUCKET_TAGGING], format!("BucketTags({bucket})"));
        if let Some(e) = self.failure("BucketTags") {
            return Err(e);
        }
        Ok(self
            .world
            .buckets
            .iter()
            .find(|b| b.bucket == bucket)
            .map(|b| b.tags.clone()))
    }
    async fn bucket_state(
        &self,
        bucket: &str,
    ) -> PortResult<Option<trailguard_rules::state::BucketState>> {
        self.record(
            &[
                &ops::GET_BUCKET_TAGGING,
                &ops::GET_BUCKET_PAB,
                &ops::GET_BUCKET_ACL,
                &ops::GET_BUCKET_POLICY,
            ],
            format!("BucketState({bucket})"),
        );
        Ok(self
            .world
            .buckets
            .iter()
            .find(|b| b.bucket == bucket)
            .cloned())
    }
    async fn remove_bucket_tag(&self, bucket: &str, key: &str) -> PortResult<Change> {
        self.record(
            &[
                &ops::GET_BUCKET_TAGGING,
                &ops::PUT_BUCKET_TAGGING,
                &ops::DELETE_BUCKET_TAGGING,
            ],
            format!("RemoveBucketTag({bucket},{key})"),
        );
        self.reply("RemoveBucketTag")
    }
    async fn list_buckets(
        &self,
        token: Option<String>,
    ) -> PortResult<Page<trailguard_rules::state::BucketState>> {
        self.page(
            "ListBuckets",
            trailguard_rules::sweep::StateKind::Buckets.ops(),
            token,
            |s| match s {
                State::Bucket(b) => Some(b.clone()),
                _ => None,
            },
        )
    }
}

impl AliasPort for Fake {
    async fn account_alias(&self) -> PortResult<Option<String>> {
        self.alias.clone().unwrap_or(Ok(None))
    }
}

impl SecurityHubPort for Fake {
    /// `UpdateFinding(STATUS, id)`; an answer of `AlreadyDone` stands for Security Hub
    /// not having the finding.
    async fn update_finding(&self, update: &FindingUpdate) -> PortResult<FindingOutcome> {
        self.record(
            &[&ops::SECURITYHUB_BATCH_UPDATE_FINDINGS],
            format!(
                "UpdateFinding({}, {})",
                update.workflow_status.as_str(),
                update.id
            ),
        );
        match self.reply("UpdateFinding")? {
            Change::AlreadyDone(_) => Ok(FindingOutcome::NotFound),
            _ => Ok(FindingOutcome::Updated),
        }
    }
}

impl GuardDutyPort for Fake {
    async fn archive_finding(&self, finding_id: &str) -> PortResult<FindingOutcome> {
        self.record(
            &[
                &ops::GUARDDUTY_LIST_DETECTORS,
                &ops::GUARDDUTY_ARCHIVE_FINDINGS,
            ],
            format!("ArchiveFinding({finding_id})"),
        );
        self.reply("ArchiveFinding")
            .map(|_| FindingOutcome::Updated)
    }
    async fn enable_detector(&self, detector_id: &str) -> PortResult<Change> {
        self.record(
            &[
                &ops::GUARDDUTY_GET_DETECTOR,
                &ops::GUARDDUTY_UPDATE_DETECTOR,
            ],
            format!("EnableDetector({detector_id})"),
        );
        self.reply("EnableDetector")
    }
    async fn detectors(&self) -> PortResult<Vec<(String, String)>> {
        self.record(
            &[&ops::GUARDDUTY_LIST_DETECTORS, &ops::GUARDDUTY_GET_DETECTOR],
            "Detectors()".into(),
        );
        if let Some(e) = self.failure("Detectors") {
            return Err(e);
        }
        let listed = self.state.lock().unwrap().iter().find_map(|s| match s {
            State::Detectors(d) => Some(d.detectors.clone()),
            _ => None,
        });
        Ok(listed.unwrap_or_else(|| {
            self.world
                .detectors
                .clone()
                .map(|d| d.detectors)
                .unwrap_or_default()
        }))
    }
}

impl KeyPort for Fake {
    async fn key_now(
        &self,
        key: &str,
    ) -> PortResult<Option<trailguard_rules::state::EncryptionKeyState>> {
        self.record(
            &[
                &ops::KMS_DESCRIBE_KEY,
                &ops::KMS_LIST_RESOURCE_TAGS,
                &ops::KMS_GET_KEY_ROTATION_STATUS,
            ],
            format!("KeyNow({key})"),
        );
        let mut facts = trailguard_rules::Facts::default();
        self.world.answer(
            &trailguard_rules::FactRequest::EncryptionKey {
                key_id: key.to_string(),
            },
            &mut facts,
        );
        Ok(facts.encryption_keys.remove(key).flatten())
    }
    async fn list_keys(
        &self,
        token: Option<String>,
    ) -> PortResult<Page<trailguard_rules::state::EncryptionKeyState>> {
        self.page(
            "ListKeys",
            &[
                &ops::KMS_LIST_KEYS,
                &ops::KMS_DESCRIBE_KEY,
                &ops::KMS_LIST_RESOURCE_TAGS,
                &ops::KMS_GET_KEY_ROTATION_STATUS,
            ],
            token,
            |s| match s {
                State::EncryptionKey(k) => Some(k.clone()),
                _ => None,
            },
        )
    }
    async fn cancel_key_deletion(
        &self,
        key: &str,
        read: Option<&Option<trailguard_rules::state::EncryptionKeyState>>,
    ) -> PortResult<Change> {
        self.record(
            &read_then(read, &ops::KMS_DESCRIBE_KEY, &ops::KMS_CANCEL_KEY_DELETION),
            format!("CancelKeyDeletion({key})"),
        );
        self.reply("CancelKeyDeletion")
    }
    async fn enable_key(&self, key: &str) -> PortResult<Change> {
        self.record(
            &[&ops::KMS_DESCRIBE_KEY, &ops::KMS_ENABLE_KEY],
            format!("EnableKey({key})"),
        );
        self.reply("EnableKey")
    }
    async fn rotation_on(&self, key: &str) -> PortResult<bool> {
        self.record(
            &[&ops::KMS_GET_KEY_ROTATION_STATUS],
            format!("RotationOn({key})"),
        );
        if let Some(e) = self.failure("RotationOn") {
            return Err(e);
        }
        // "already on" is scripted on the enabling call itself.
        Ok(false)
    }
    async fn enable_key_rotation(&self, key: &str, period: Option<i64>) -> PortResult<Change> {
        self.record(
            &[
                &ops::KMS_GET_KEY_ROTATION_STATUS,
                &ops::KMS_ENABLE_KEY_ROTATION,
            ],
            format!("EnableKeyRotation({key},{period:?})"),
        );
        self.reply("EnableKeyRotation")
    }
}

impl S3ControlPort for Fake {
    async fn put_account_block(&self, account: &str, flags: &[String]) -> PortResult<Change> {
        self.record(
            &[&ops::GET_ACCOUNT_PAB, &ops::PUT_ACCOUNT_PAB],
            format!("PutAccountBlock({account},{})", flags.join("+")),
        );
        self.reply("PutAccountBlock")
    }
    async fn account_block(
        &self,
        account: &str,
    ) -> PortResult<trailguard_rules::state::AccountBlockState> {
        self.record(&[&ops::GET_ACCOUNT_PAB], format!("AccountBlock({account})"));
        if let Some(e) = self.failure("AccountBlock") {
            return Err(e);
        }
        Ok(self
            .state
            .lock()
            .unwrap()
            .iter()
            .find_map(|s| match s {
                State::AccountBlock(a) => Some(a.clone()),
                _ => None,
            })
            .unwrap_or(trailguard_rules::state::AccountBlockState {
                account: account.to_string(),
                block: Some(trailguard_rules::state::BlockFlags::ALL),
            }))
    }
}

/// The ledger's semantics, in memory (the DynamoDB implementation is tested against moto).
impl LedgerPort for Fake {
    async fn take_slot(
        &self,
        _: &str,
        scope: &str,
        actor: &str,
        limit: u32,
        now_ms: i64,
    ) -> PortResult<Slot> {
        let mut b = self.breaker.lock().unwrap();
        let (times, open) = b.entry(scope.to_string()).or_default();
        times.retain(|(t, _)| *t > now_ms - 3_600_000);
        let mine = times.iter().filter(|(_, a)| a == actor).count() as u32;
        let total = times.len() as u32;
        let over = if mine >= limit {
            Some((actor.to_string(), mine, true))
        } else if total >= limit * trailguard_aws::ports::ACCOUNT_FACTOR {
            Some(("*".to_string(), total, false))
        } else {
            None
        };
        match over {
            Some((who, count, by_actor)) => Ok(Slot::Refused {
                count,
                first: open.insert(who),
                by_actor,
            }),
            None => {
                times.push((now_ms, actor.to_string()));
                Ok(Slot::Granted { count: mine + 1 })
            }
        }
    }
    async fn give_back_slot(
        &self,
        _: &str,
        scope: &str,
        actor: &str,
        at_ms: i64,
    ) -> PortResult<()> {
        let mut b = self.breaker.lock().unwrap();
        if let Some((times, _)) = b.get_mut(scope) {
            if let Some(i) = times.iter().position(|(t, a)| *t == at_ms && a == actor) {
                times.remove(i);
            }
        }
        Ok(())
    }
    async fn claim(&self, _: &str, key: &str, owner: &str, _: i64, _: i64) -> PortResult<Claim> {
        let mut c = self.claims.lock().unwrap();
        match c.get(key) {
            Some((state, _)) if state != "acting" => Ok(Claim::Done {
                outcome: state.clone(),
            }),
            Some(_) => Ok(Claim::Busy { lease_until: 0 }),
            None => {
                c.insert(key.to_string(), ("acting".into(), owner.to_string()));
                Ok(Claim::Won)
            }
        }
    }
    async fn mark_undone(&self, _: &str, key: &str, note: &str, _: i64) -> PortResult<bool> {
        let mut c = self.claims.lock().unwrap();
        match c.get_mut(key) {
            Some((state, _)) if state != "acting" => {
                *state = note.to_string();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    async fn claim_state(&self, _: &str, key: &str) -> PortResult<Option<Claim>> {
        Ok(self.claims.lock().unwrap().get(key).map(|(state, _)| {
            if state == "acting" {
                Claim::Busy { lease_until: 0 }
            } else {
                Claim::Done {
                    outcome: state.clone(),
                }
            }
        }))
    }
    async fn claimed_reversal(&self, _: &str, _: &str) -> PortResult<Option<String>> {
        Ok(None)
    }
    async fn finish(
        &self,
        _: &str,
        key: &str,
        owner: &str,
        outcome: &str,
        _: Option<&str>,
        _: i64,
    ) -> PortResult<()> {
        self.claims
            .lock()
            .unwrap()
            .insert(key.to_string(), (outcome.to_string(), owner.to_string()));
        Ok(())
    }
    async fn release(&self, _: &str, key: &str, _: &str) -> PortResult<()> {
        self.claims.lock().unwrap().remove(key);
        Ok(())
    }
    async fn checkpoint(&self, _: &str, key: &str) -> PortResult<Option<Checkpoint>> {
        Ok(self.checkpoints.lock().unwrap().get(key).cloned())
    }
    async fn save_checkpoint(
        &self,
        _: &str,
        key: &str,
        cp: Option<&Checkpoint>,
        _: i64,
    ) -> PortResult<()> {
        let mut c = self.checkpoints.lock().unwrap();
        match cp {
            Some(cp) => c.insert(key.to_string(), cp.clone()),
            None => c.remove(key),
        };
        Ok(())
    }
    async fn reset_breaker(&self, _: &str, scope: &str) -> PortResult<bool> {
        Ok(self.breaker.lock().unwrap().remove(scope).is_some())
    }
    async fn keep_report(&self, _: &str, key: &str, report: &str, _: i64) -> PortResult<()> {
        self.reports
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .push(report.to_string());
        Ok(())
    }
    async fn kept_reports(&self, _: &str, key: &str) -> PortResult<Vec<String>> {
        Ok(self
            .reports
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .unwrap_or_default())
    }
    async fn record_undo(&self, _: &str, _: &str, _: &str, _: i64) -> PortResult<()> {
        Ok(())
    }
    async fn offer_plan(
        &self,
        _: &str,
        key: &str,
        plan: &str,
        approve_by: i64,
        _: i64,
    ) -> PortResult<KeptPlan> {
        if let Some(e) = self.failure("OfferPlan") {
            return Err(e);
        }
        Ok(self
            .plans
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_insert_with(|| KeptPlan {
                plan: plan.to_string(),
                state: "waiting".into(),
                approve_by,
                by: None,
            })
            .clone())
    }
    async fn kept_plan(&self, _: &str, key: &str) -> PortResult<Option<KeptPlan>> {
        Ok(self.plans.lock().unwrap().get(key).cloned())
    }
    async fn settle_plan(
        &self,
        _: &str,
        key: &str,
        from: &str,
        to: &str,
        by: &str,
        now: i64,
    ) -> PortResult<bool> {
        let mut plans = self.plans.lock().unwrap();
        match plans.get_mut(key) {
            Some(p) if p.state == from && (from != "waiting" || p.approve_by >= now) => {
                p.state = to.to_string();
                p.by = Some(by.to_string());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl OrgPort for Fake {
    async fn organization_accounts(&self) -> PortResult<BTreeSet<String>> {
        self.record(&[&ops::LIST_ACCOUNTS], "OrganizationAccounts()".into());
        Ok(self.world.organization_accounts.iter().cloned().collect())
    }
}

impl NotifyPort for Via {
    async fn publish(&self, subject: &str, message: &str, _: &Report) -> PortResult<()> {
        if let Some(e) = &self.0.publish_error {
            return Err(e.clone());
        }
        self.0
            .published
            .lock()
            .unwrap()
            .push((subject.to_string(), message.to_string()));
        Ok(())
    }
    async fn put_event(&self, detail_type: &str, report: &Report) -> PortResult<()> {
        self.0
            .events_put
            .lock()
            .unwrap()
            .push((detail_type.to_string(), report.clone()));
        Ok(())
    }
}

/// The read, write and delete calls of each kind of resource policy.
fn policy_ops(kind: PolicyKind) -> (&'static Op, &'static Op, &'static Op) {
    match kind {
        PolicyKind::Queue => (
            &ops::SQS_GET_QUEUE_ATTRIBUTES,
            &ops::SQS_SET_QUEUE_ATTRIBUTES,
            &ops::SQS_SET_QUEUE_ATTRIBUTES,
        ),
        PolicyKind::Topic => (
            &ops::SNS_GET_TOPIC_ATTRIBUTES,
            &ops::SNS_SET_TOPIC_ATTRIBUTES,
            &ops::SNS_SET_TOPIC_ATTRIBUTES,
        ),
        PolicyKind::Secret => (
            &ops::SM_GET_RESOURCE_POLICY,
            &ops::SM_PUT_RESOURCE_POLICY,
            &ops::SM_DELETE_RESOURCE_POLICY,
        ),
        PolicyKind::Key => (
            &ops::KMS_GET_KEY_POLICY,
            &ops::KMS_PUT_KEY_POLICY,
            &ops::KMS_PUT_KEY_POLICY,
        ),
        PolicyKind::Repository => (
            &ops::ECR_GET_REPOSITORY_POLICY,
            &ops::ECR_SET_REPOSITORY_POLICY,
            &ops::ECR_DELETE_REPOSITORY_POLICY,
        ),
        PolicyKind::Domain => (
            &ops::ES_DESCRIBE_DOMAIN_CONFIG,
            &ops::ES_UPDATE_DOMAIN_CONFIG,
            &ops::ES_UPDATE_DOMAIN_CONFIG,
        ),
        PolicyKind::Vault => (
            &ops::GLACIER_GET_VAULT_ACCESS_POLICY,
            &ops::GLACIER_SET_VAULT_ACCESS_POLICY,
            &ops::GLACIER_DELETE_VAULT_ACCESS_POLICY,
        ),
        PolicyKind::FileSystem => (
            &ops::EFS_DESCRIBE_FILE_SYSTEM_POLICY,
            &ops::EFS_PUT_FILE_SYSTEM_POLICY,
            &ops::EFS_DELETE_FILE_SYSTEM_POLICY,
        ),
    }
}

impl Fake {
    /// A resource as the world describes it, with what was written since.
    fn policy_resource(&self, kind: PolicyKind, resource: &str) -> Option<PolicyState> {
        let mut state = self
            .world
            .policy_resources
            .iter()
            .find(|p| p.kind == kind && p.resource == resource)
            .cloned()?;
        if let Some(p) = self
            .resource_policies
            .lock()
            .unwrap()
            .get(&(kind, resource.to_string()))
        {
            state.policy = p.clone();
        }
        Some(state)
    }
}

/// Every kind is served: the fake stands for every client. Resources the world does not
/// list do not exist.
impl PolicyPort for Fake {
    fn serves(&self, _: PolicyKind) -> bool {
        true
    }
    async fn read_policy(
        &self,
        kind: PolicyKind,
        resource: &str,
    ) -> PortResult<Option<Option<String>>> {
        self.record(
            &[policy_ops(kind).0],
            format!("ReadPolicy({kind:?},{resource})"),
        );
        if let Some(e) = self.failure("ReadPolicy") {
            return Err(e);
        }
        Ok(self.policy_resource(kind, resource).map(|s| s.policy))
    }
    async fn describe_policy(
        &self,
        kind: PolicyKind,
        resource: &str,
    ) -> PortResult<Option<PolicyState>> {
        self.record(
            kind.lookup_ops(),
            format!("DescribePolicy({kind:?},{resource})"),
        );
        if let Some(e) = self.failure("DescribePolicy") {
            return Err(e);
        }
        Ok(self.policy_resource(kind, resource))
    }
    async fn put_policy(
        &self,
        kind: PolicyKind,
        resource: &str,
        document: &str,
    ) -> PortResult<Change> {
        self.record(
            &[policy_ops(kind).1],
            format!("PutPolicy({kind:?},{resource})"),
        );
        let r = self.reply("PutPolicy");
        if matches!(r, Ok(Change::Done)) {
            self.resource_policies
                .lock()
                .unwrap()
                .insert((kind, resource.to_string()), Some(document.to_string()));
        }
        r
    }
    async fn delete_policy(&self, kind: PolicyKind, resource: &str) -> PortResult<Change> {
        self.record(
            &[policy_ops(kind).2],
            format!("DeletePolicy({kind:?},{resource})"),
        );
        let r = self.reply("DeletePolicy");
        if matches!(r, Ok(Change::Done)) {
            self.resource_policies
                .lock()
                .unwrap()
                .insert((kind, resource.to_string()), None);
        }
        r
    }
    async fn list_policies(
        &self,
        kind: PolicyKind,
        token: Option<String>,
    ) -> PortResult<Page<PolicyState>> {
        let ops: &'static [&'static Op] = kind.state_kind().ops();
        self.page("ListPolicies", ops, token, move |s| match s {
            State::ResourcePolicy(p) => Some(p.clone()),
            _ => None,
        })
        .map(|p| Page {
            items: p.items.into_iter().filter(|s| s.kind == kind).collect(),
            next: p.next,
        })
    }
    async fn untag_resource(
        &self,
        kind: PolicyKind,
        resource: &str,
        key: &str,
    ) -> PortResult<Change> {
        // The operations of the kind's untag action type: its tags read, its untag call.
        let ops = trailguard_rules::resources::untag(kind, resource.into(), key.into())
            .map(|a| a.info().ops)
            .unwrap_or_default();
        self.record(ops, format!("UntagResource({kind:?},{resource},{key})"));
        self.reply("UntagResource")
    }
    // `trailguard undo`'s calls: the functions never make them.
    async fn tag_value(
        &self,
        kind: PolicyKind,
        resource: &str,
        key: &str,
    ) -> PortResult<Option<Option<String>>> {
        self.record(&[], format!("TagValue({kind:?},{resource},{key})"));
        match self.failure("TagValue") {
            Some(e) => Err(e),
            None => Ok(Some(None)),
        }
    }
    async fn tag_resource(
        &self,
        kind: PolicyKind,
        resource: &str,
        key: &str,
        value: &str,
    ) -> PortResult<Change> {
        self.record(
            &[],
            format!("TagResource({kind:?},{resource},{key},{value})"),
        );
        self.reply("TagResource")
    }
}
