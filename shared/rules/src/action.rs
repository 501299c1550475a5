//! What trailguard can do: plain values that name their target exactly, and the AWS
//! operations each calls (template.yaml grants exactly those; a test keeps the two in step).
//!
//! An action type is one struct implementing [`Step`] plus one line in the `actions!` list
//! below; everything else (its JSON, its IAM actions, its report line) follows from those.

use serde::Serialize;

use crate::ids::{IdKind, Target};
use crate::ops::{self, Op};
pub use crate::permission::Permission;

/// The name of the inline deny policy that cuts off sessions issued before containment.
/// Fixed so responders can find and remove it: `aws iam delete-user-policy --user-name U
/// --policy-name trailguard-revoke-older-sessions`.
pub const SESSION_POLICY_NAME: &str = "trailguard-revoke-older-sessions";

/// The tag trailguard puts on a user whose key it disabled.
pub const QUARANTINE_TAG: &str = "trailguard:quarantined";

/// What every action type says about itself.
pub trait Step {
    /// The AWS operations this step calls, in order.
    fn ops(&self) -> Vec<&'static Op>;
    /// One line for humans: what this step does (or would do).
    fn describe(&self) -> String;
    /// Whether the step changes anything. Read-only steps run in dry-run too.
    fn mutates(&self) -> bool {
        true
    }
    /// The identifiers the step sends to AWS, with the field that names each: none may be
    /// a placeholder (ids.rs).
    fn targets(&self) -> Vec<Target> {
        vec![]
    }
}

/// An action type, statically: its JSON `type` and every operation any instance may call.
/// Guards list the action types they may plan; their functions' roles grant these.
#[derive(Debug)]
pub struct ActionInfo {
    pub type_name: &'static str,
    pub ops: &'static [&'static Op],
}

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident($ty:ident) = $name:literal,)*) => {
        /// One remediation step. Serialised with `"type"` and the target's fields.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "type")]
        pub enum Action {
            $($(#[$doc])* #[serde(rename = $name)] $variant($ty),)*
        }

        impl Action {
            pub fn step(&self) -> &dyn Step {
                match self {
                    $(Action::$variant(s) => s,)*
                }
            }

            pub fn info(&self) -> &'static ActionInfo {
                match self {
                    $(Action::$variant(_) => &$ty::INFO,)*
                }
            }
        }

        $(impl From<$ty> for Action {
            fn from(s: $ty) -> Action {
                Action::$variant(s)
            }
        })*

        /// Every action type.
        pub const ALL_ACTIONS: &[&ActionInfo] = &[$(&$ty::INFO,)*];
    };
}

actions! {
    /// Revoke rules by their security-group-rule ids (one EC2 call).
    RevokeSecurityGroupRules(RevokeRules) = "revoke_security_group_rules",
    /// Revoke rules by their exact permissions (when the event carries no rule ids).
    RevokeSecurityGroupPermissions(RevokePermissions) = "revoke_security_group_permissions",
    /// Put back rules removed from a protected group.
    AuthorizeSecurityGroupPermissions(AuthorizePermissions) = "authorize_security_group_permissions",
    DeactivateAccessKey(DeactivateKey) = "deactivate_access_key",
    RevokeSessions(RevokeSessions) = "revoke_sessions",
    TagUser(TagUser) = "tag_user",
    SummarizeKeyActivity(SummarizeKeyActivity) = "summarize_key_activity",
    DeleteNetworkAclEntry(DeleteNaclEntry) = "delete_network_acl_entry",
    StartLogging(StartLogging) = "start_logging",
    UpdateTrail(UpdateTrail) = "update_trail",
    RestoreManagementEvents(RestoreManagementEvents) = "restore_management_events",
    UnshareImage(UnshareImage) = "unshare_image",
    UnshareSnapshot(UnshareSnapshot) = "unshare_snapshot",
    UnshareDbSnapshot(UnshareDbSnapshot) = "unshare_db_snapshot",
    RemoveLambdaPermission(RemoveLambdaPermission) = "remove_lambda_permission",
    RestrictRoleTrust(RestrictRoleTrust) = "restrict_role_trust",
    RemoveTag(RemoveTag) = "remove_tag",
    UntagRole(UntagRole) = "untag_role",
    /// Take out of a managed prefix list the entries a call added (and nothing it had before).
    RemovePrefixListEntries(RemovePrefixListEntries) = "remove_prefix_list_entries",
}

impl Action {
    pub fn type_name(&self) -> &'static str {
        self.info().type_name
    }

    /// The IAM actions the executor calls for this step.
    pub fn iam_actions(&self) -> Vec<&'static str> {
        self.step().ops().iter().map(|o| o.iam).collect()
    }

    pub fn mutates(&self) -> bool {
        self.step().mutates()
    }

    /// Whether a failure of this step must fail the invocation (so Lambda retries and the
    /// failure queue keeps the event). The one place that says so: enrichment never does,
    /// because containment must not wait on or fail because of it.
    pub fn is_critical(&self) -> bool {
        self.mutates()
    }

    pub fn describe(&self) -> String {
        self.step().describe()
    }

    /// Whether this step puts one of the account's safeguards back (logging, a trail's
    /// settings, an exemption taken back) rather than changing a workload. The blast-radius
    /// breaker never holds these back: a flood of changes, forged or real, must not leave
    /// logging off or an attacker's exemption in place for an hour.
    pub fn restores_safeguard(&self) -> bool {
        matches!(
            self,
            Action::StartLogging(_)
                | Action::UpdateTrail(_)
                | Action::RestoreManagementEvents(_)
                | Action::RemoveTag(_)
                | Action::UntagRole(_)
        )
    }
}

fn direction(egress: bool) -> &'static str {
    if egress {
        "egress"
    } else {
        "ingress"
    }
}

fn owner(name: &Option<String>) -> &str {
    name.as_deref().unwrap_or("(owner resolved at run time)")
}

fn describe_all(perms: &[Permission]) -> String {
    perms
        .iter()
        .map(Permission::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevokeRules {
    pub group_id: String,
    pub egress: bool,
    pub rule_ids: Vec<String>,
}

impl RevokeRules {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "revoke_security_group_rules",
        ops: &[&ops::REVOKE_SG_INGRESS, &ops::REVOKE_SG_EGRESS],
    };
}

impl Step for RevokeRules {
    fn ops(&self) -> Vec<&'static Op> {
        vec![if self.egress {
            &ops::REVOKE_SG_EGRESS
        } else {
            &ops::REVOKE_SG_INGRESS
        }]
    }
    fn targets(&self) -> Vec<Target> {
        let mut t = vec![Target::new(
            "group_id",
            &self.group_id,
            IdKind::SecurityGroup,
        )];
        t.extend(
            self.rule_ids
                .iter()
                .map(|r| Target::new("rule_ids", r, IdKind::SecurityGroupRule)),
        );
        t
    }
    fn describe(&self) -> String {
        format!(
            "revoke {} rule(s) {} of {}",
            direction(self.egress),
            self.rule_ids.join(", "),
            self.group_id
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevokePermissions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    pub egress: bool,
    pub permissions: Vec<Permission>,
}

impl RevokePermissions {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "revoke_security_group_permissions",
        ops: &[&ops::REVOKE_SG_INGRESS, &ops::REVOKE_SG_EGRESS],
    };
}

impl Step for RevokePermissions {
    fn ops(&self) -> Vec<&'static Op> {
        vec![if self.egress {
            &ops::REVOKE_SG_EGRESS
        } else {
            &ops::REVOKE_SG_INGRESS
        }]
    }
    fn targets(&self) -> Vec<Target> {
        match (&self.group_id, &self.group_name) {
            (Some(id), _) => vec![Target::new("group_id", id, IdKind::SecurityGroup)],
            (None, Some(name)) => vec![Target::new("group_name", name, IdKind::SecurityGroupName)],
            (None, None) => vec![Target::new("group_id", "", IdKind::SecurityGroup)],
        }
    }
    fn describe(&self) -> String {
        format!(
            "revoke {} {} of {}",
            direction(self.egress),
            describe_all(&self.permissions),
            self.group_id
                .as_deref()
                .or(self.group_name.as_deref())
                .unwrap_or("?")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthorizePermissions {
    pub group_id: String,
    pub egress: bool,
    pub permissions: Vec<Permission>,
}

impl AuthorizePermissions {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "authorize_security_group_permissions",
        ops: &[&ops::AUTHORIZE_SG_INGRESS, &ops::AUTHORIZE_SG_EGRESS],
    };
}

impl Step for AuthorizePermissions {
    fn ops(&self) -> Vec<&'static Op> {
        vec![if self.egress {
            &ops::AUTHORIZE_SG_EGRESS
        } else {
            &ops::AUTHORIZE_SG_INGRESS
        }]
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new(
            "group_id",
            &self.group_id,
            IdKind::SecurityGroup,
        )]
    }
    fn describe(&self) -> String {
        format!(
            "re-authorize {} {} on protected {}",
            direction(self.egress),
            describe_all(&self.permissions),
            self.group_id
        )
    }
}

/// Set exactly this key Inactive. Never deletes it: the key is evidence. The user is null
/// only in offline decisions (the CLI) where the event does not name the owner; the
/// functions always resolve it first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeactivateKey {
    pub user_name: Option<String>,
    pub access_key_id: String,
}

impl DeactivateKey {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "deactivate_access_key",
        ops: &[&ops::LIST_ACCESS_KEYS, &ops::UPDATE_ACCESS_KEY],
    };

    /// Deactivate this key of this user (None: resolved from the key at run time).
    pub fn of(user_name: Option<String>, access_key_id: String) -> DeactivateKey {
        DeactivateKey {
            user_name,
            access_key_id,
        }
    }
}

impl Step for DeactivateKey {
    // ListAccessKeys first, so a key already Inactive or deleted is reported as already
    // done, and the only mutating call is the one UpdateAccessKey.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        let mut t = vec![Target::new(
            "access_key_id",
            &self.access_key_id,
            IdKind::AccessKey,
        )];
        t.extend(
            self.user_name
                .iter()
                .map(|u| Target::new("user_name", u, IdKind::IamName)),
        );
        t
    }
    fn describe(&self) -> String {
        format!(
            "deactivate access key {} of user {}",
            self.access_key_id,
            owner(&self.user_name)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Role,
}

/// Attach the inline deny-all policy for sessions issued before the action runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevokeSessions {
    pub principal: PrincipalKind,
    pub name: Option<String>,
    pub policy_name: String,
}

impl RevokeSessions {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "revoke_sessions",
        ops: &[&ops::PUT_USER_POLICY, &ops::PUT_ROLE_POLICY],
    };

    pub fn of(principal: PrincipalKind, name: Option<String>) -> RevokeSessions {
        RevokeSessions {
            principal,
            name,
            policy_name: SESSION_POLICY_NAME.into(),
        }
    }

    /// The inline policy that denies everything to sessions issued before `now` (epoch
    /// seconds): what the IAM console's "Revoke active sessions" does. Long-term keys carry
    /// no token issue time, so the condition never matches them; the key itself is
    /// disabled separately.
    pub fn document(now: i64) -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TrailguardRevokeOlderSessions",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": crate::time::format_epoch(now)}}
            }]
        })
        .to_string()
    }
}

impl Step for RevokeSessions {
    fn ops(&self) -> Vec<&'static Op> {
        vec![match self.principal {
            PrincipalKind::User => &ops::PUT_USER_POLICY,
            PrincipalKind::Role => &ops::PUT_ROLE_POLICY,
        }]
    }
    fn targets(&self) -> Vec<Target> {
        self.name
            .iter()
            .map(|n| Target::new("name", n, IdKind::IamName))
            .collect()
    }
    fn describe(&self) -> String {
        format!(
            "deny sessions issued before now to {} {} (inline policy {})",
            match self.principal {
                PrincipalKind::User => "user",
                PrincipalKind::Role => "role",
            },
            owner(&self.name),
            self.policy_name
        )
    }
}

/// Tag the user `trailguard:quarantined` = "<time> <reason>".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagUser {
    pub user_name: Option<String>,
    pub key: String,
    pub reason: String,
}

impl TagUser {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "tag_user",
        ops: &[&ops::TAG_USER],
    };

    /// The tag's value at `now`: "<time> <reason>", within what IAM allows in tag values
    /// (letters, digits, spaces and `_ . : / = + - @`, up to 256 characters).
    pub fn value(&self, now: i64) -> String {
        let raw = format!("{} {}", crate::time::format_epoch(now), self.reason);
        raw.chars()
            .map(|c| {
                if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                    c
                } else {
                    ' '
                }
            })
            .take(256)
            .collect()
    }
}

impl Step for TagUser {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        self.user_name
            .iter()
            .map(|u| Target::new("user_name", u, IdKind::IamName))
            .collect()
    }
    fn describe(&self) -> String {
        format!("tag user {} with {}", owner(&self.user_name), self.key)
    }
}

/// Best effort: summarise what the key did (CloudTrail LookupEvents). Never blocks or fails
/// containment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummarizeKeyActivity {
    pub access_key_id: String,
    pub hours: u32,
}

impl SummarizeKeyActivity {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "summarize_key_activity",
        ops: &[&ops::LOOKUP_EVENTS],
    };
}

impl Step for SummarizeKeyActivity {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new(
            "access_key_id",
            &self.access_key_id,
            IdKind::AccessKey,
        )]
    }
    fn describe(&self) -> String {
        format!(
            "summarise the last {}h of activity of {}",
            self.hours, self.access_key_id
        )
    }
    fn mutates(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeleteNaclEntry {
    pub network_acl_id: String,
    pub rule_number: i64,
    pub egress: bool,
}

impl DeleteNaclEntry {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "delete_network_acl_entry",
        ops: &[&ops::DESCRIBE_NETWORK_ACLS, &ops::DELETE_NACL_ENTRY],
    };
}

impl Step for DeleteNaclEntry {
    // DescribeNetworkAcls first, so an entry already deleted is reported as already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![
            Target::new("network_acl_id", &self.network_acl_id, IdKind::NetworkAcl),
            Target::new(
                "rule_number",
                self.rule_number,
                IdKind::NetworkAclRuleNumber,
            ),
        ]
    }
    fn describe(&self) -> String {
        format!(
            "delete {} entry {} of {}",
            direction(self.egress),
            self.rule_number,
            self.network_acl_id
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartLogging {
    pub trail: String,
}

impl StartLogging {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "start_logging",
        ops: &[&ops::GET_TRAIL_STATUS, &ops::START_LOGGING],
    };
}

impl Step for StartLogging {
    // GetTrailStatus first, so a trail already logging is reported as already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("trail", &self.trail, IdKind::Trail)]
    }
    fn describe(&self) -> String {
        format!("start logging on trail {}", self.trail)
    }
}

/// Remove from a customer-managed prefix list the CIDRs a `ModifyManagedPrefixList` added:
/// those still there, and none the list held before the call (`previous_version`, the
/// version the call changed, read with `GetManagedPrefixListEntries --target-version`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemovePrefixListEntries {
    pub prefix_list_id: String,
    pub cidrs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<i64>,
}

impl RemovePrefixListEntries {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "remove_prefix_list_entries",
        ops: &[
            &ops::DESCRIBE_MANAGED_PREFIX_LISTS,
            &ops::GET_MANAGED_PREFIX_LIST_ENTRIES,
            &ops::MODIFY_MANAGED_PREFIX_LIST,
        ],
    };
}

impl Step for RemovePrefixListEntries {
    // The list's version and entries first: ModifyManagedPrefixList needs the current
    // version, and only entries still there, and not there before the call, are removed.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new(
            "prefix_list_id",
            &self.prefix_list_id,
            IdKind::PrefixList,
        )]
    }
    fn describe(&self) -> String {
        format!(
            "remove {} from prefix list {}",
            self.cidrs.join(", "),
            self.prefix_list_id
        )
    }
}

/// Switch back on trail settings an UpdateTrail switched off.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateTrail {
    pub trail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_region: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file_validation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_service_events: Option<bool>,
}

impl UpdateTrail {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "update_trail",
        ops: &[&ops::UPDATE_TRAIL],
    };
}

impl Step for UpdateTrail {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("trail", &self.trail, IdKind::Trail)]
    }
    fn describe(&self) -> String {
        let mut what = Vec::new();
        if self.multi_region == Some(true) {
            what.push("multi-region");
        }
        if self.log_file_validation == Some(true) {
            what.push("log file validation");
        }
        if self.global_service_events == Some(true) {
            what.push("global service events");
        }
        format!(
            "switch {} back on for trail {}",
            what.join(" and "),
            self.trail
        )
    }
}

/// Switch management events back on for a trail, keeping its data-event selectors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreManagementEvents {
    pub trail: String,
}

impl RestoreManagementEvents {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "restore_management_events",
        ops: &[&ops::GET_EVENT_SELECTORS, &ops::PUT_EVENT_SELECTORS],
    };
}

impl Step for RestoreManagementEvents {
    // GetEventSelectors first: the selectors as they are now are kept, and a trail that
    // records management events again is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("trail", &self.trail, IdKind::Trail)]
    }
    fn describe(&self) -> String {
        format!(
            "record management events again on trail {} (data selectors kept)",
            self.trail
        )
    }
}

fn shared_with(accounts: &[String], public: bool, organizations: &[String]) -> String {
    let mut who: Vec<String> = Vec::new();
    if public {
        who.push("everyone (group all)".into());
    }
    who.extend(accounts.iter().map(|a| format!("account {a}")));
    who.extend(organizations.iter().cloned());
    who.join(", ")
}

/// Take back exactly the launch permissions a ModifyImageAttribute gave outsiders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnshareImage {
    pub image_id: String,
    pub accounts: Vec<String>,
    pub public: bool,
    /// Organization and OU ARNs outside the trusted set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
}

impl UnshareImage {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "unshare_image",
        ops: &[&ops::DESCRIBE_IMAGE_ATTRIBUTE, &ops::MODIFY_IMAGE_ATTRIBUTE],
    };
}

impl Step for UnshareImage {
    // DescribeImageAttribute first: only permissions still there are removed, and none
    // left is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        let mut t = vec![Target::new("image_id", &self.image_id, IdKind::Image)];
        t.extend(
            self.accounts
                .iter()
                .map(|a| Target::new("accounts", a, IdKind::Account)),
        );
        t
    }
    fn describe(&self) -> String {
        format!(
            "stop sharing image {} with {}",
            self.image_id,
            shared_with(&self.accounts, self.public, &self.organizations)
        )
    }
}

/// Take back exactly the create-volume permissions a ModifySnapshotAttribute gave outsiders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnshareSnapshot {
    pub snapshot_id: String,
    pub accounts: Vec<String>,
    pub public: bool,
}

impl UnshareSnapshot {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "unshare_snapshot",
        ops: &[
            &ops::DESCRIBE_SNAPSHOT_ATTRIBUTE,
            &ops::MODIFY_SNAPSHOT_ATTRIBUTE,
        ],
    };
}

impl Step for UnshareSnapshot {
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        let mut t = vec![Target::new(
            "snapshot_id",
            &self.snapshot_id,
            IdKind::Snapshot,
        )];
        t.extend(
            self.accounts
                .iter()
                .map(|a| Target::new("accounts", a, IdKind::Account)),
        );
        t
    }
    fn describe(&self) -> String {
        format!(
            "stop sharing snapshot {} with {}",
            self.snapshot_id,
            shared_with(&self.accounts, self.public, &[])
        )
    }
}

/// Take back exactly the `restore` values a ModifyDB(Cluster)SnapshotAttribute added for
/// outsiders (`all` for public).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnshareDbSnapshot {
    pub snapshot: String,
    pub cluster: bool,
    pub values: Vec<String>,
}

impl UnshareDbSnapshot {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "unshare_db_snapshot",
        ops: &[
            &ops::DESCRIBE_DB_SNAPSHOT_ATTRIBUTES,
            &ops::MODIFY_DB_SNAPSHOT_ATTRIBUTE,
            &ops::DESCRIBE_DB_CLUSTER_SNAPSHOT_ATTRIBUTES,
            &ops::MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE,
        ],
    };
}

impl Step for UnshareDbSnapshot {
    fn ops(&self) -> Vec<&'static Op> {
        if self.cluster {
            vec![
                &ops::DESCRIBE_DB_CLUSTER_SNAPSHOT_ATTRIBUTES,
                &ops::MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE,
            ]
        } else {
            vec![
                &ops::DESCRIBE_DB_SNAPSHOT_ATTRIBUTES,
                &ops::MODIFY_DB_SNAPSHOT_ATTRIBUTE,
            ]
        }
    }
    fn targets(&self) -> Vec<Target> {
        let mut t = vec![Target::new("snapshot", &self.snapshot, IdKind::DbSnapshot)];
        t.extend(
            self.values
                .iter()
                .filter(|v| v.as_str() != "all")
                .map(|a| Target::new("values", a, IdKind::Account)),
        );
        t
    }
    fn describe(&self) -> String {
        let public = self.values.iter().any(|v| v == "all");
        let accounts: Vec<String> = self
            .values
            .iter()
            .filter(|v| *v != "all")
            .cloned()
            .collect();
        format!(
            "stop sharing RDS {}snapshot {} with {}",
            if self.cluster { "cluster " } else { "" },
            self.snapshot,
            shared_with(&accounts, public, &[])
        )
    }
}

/// Remove exactly the statement an AddPermission put on a function's resource policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoveLambdaPermission {
    pub function_name: String,
    pub statement_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
}

impl RemoveLambdaPermission {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "remove_lambda_permission",
        ops: &[&ops::LAMBDA_GET_POLICY, &ops::LAMBDA_REMOVE_PERMISSION],
    };
}

impl Step for RemoveLambdaPermission {
    // GetPolicy first: a statement already gone is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![
            Target::new("function_name", &self.function_name, IdKind::LambdaFunction),
            Target::new("statement_id", &self.statement_id, IdKind::StatementId),
        ]
    }
    fn describe(&self) -> String {
        format!(
            "remove permission {} from function {}{}",
            self.statement_id,
            self.function_name,
            self.qualifier
                .as_deref()
                .map(|q| format!(":{q}"))
                .unwrap_or_default()
        )
    }
}

/// Set a role's trust policy to the same document without the principals outside the
/// trusted set (trust.rs says how).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestrictRoleTrust {
    pub role_name: String,
    pub principals: Vec<String>,
    /// The accounts and organizations the trust's conditions named that the decision found
    /// outside the trusted set: the function judges the trust as it is when it acts the same
    /// way (`trust::inside_unless`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub untrusted_values: Vec<String>,
}

impl RestrictRoleTrust {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "restrict_role_trust",
        ops: &[&ops::GET_ROLE, &ops::UPDATE_ASSUME_ROLE_POLICY],
    };
}

impl Step for RestrictRoleTrust {
    // GetRole first: the trust policy as it is now is changed, and one without those
    // principals is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("role_name", &self.role_name, IdKind::IamName)]
    }
    fn describe(&self) -> String {
        format!(
            "remove {} from the trust policy of role {}",
            self.principals.join(", "),
            self.role_name
        )
    }
}

/// Take a tag off EC2 resources where it still is (an exemption granted by someone not
/// allowed to grant it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoveTag {
    pub resource_ids: Vec<String>,
    pub key: String,
}

impl RemoveTag {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "remove_tag",
        ops: &[&ops::DESCRIBE_TAGS, &ops::DELETE_TAGS],
    };
}

impl Step for RemoveTag {
    // DescribeTags first: resources that no longer carry the tag are already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        self.resource_ids
            .iter()
            .map(|r| Target::new("resource_ids", r, IdKind::Ec2Resource))
            .collect()
    }
    fn describe(&self) -> String {
        format!(
            "remove tag {} from {}",
            self.key,
            self.resource_ids.join(", ")
        )
    }
}

/// Take a tag off an IAM role where it still is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UntagRole {
    pub role_name: String,
    pub key: String,
}

impl UntagRole {
    pub const INFO: ActionInfo = ActionInfo {
        type_name: "untag_role",
        ops: &[&ops::LIST_ROLE_TAGS, &ops::UNTAG_ROLE],
    };
}

impl Step for UntagRole {
    // ListRoleTags first: a role without the tag (or gone) is already done.
    fn ops(&self) -> Vec<&'static Op> {
        Self::INFO.ops.to_vec()
    }
    fn targets(&self) -> Vec<Target> {
        vec![Target::new("role_name", &self.role_name, IdKind::IamName)]
    }
    fn describe(&self) -> String {
        format!("remove tag {} from role {}", self.key, self.role_name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// What people should be told, beyond the actions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub severity: Severity,
    pub title: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_type_and_the_target_fields() {
        let a: Action = RevokeRules {
            group_id: "sg-1".into(),
            egress: false,
            rule_ids: vec!["sgr-1".into()],
        }
        .into();
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"type": "revoke_security_group_rules", "group_id": "sg-1", "egress": false, "rule_ids": ["sgr-1"]})
        );
        assert_eq!(a.iam_actions(), ["ec2:RevokeSecurityGroupIngress"]);
        assert!(a.is_critical());
    }

    #[test]
    fn every_instance_calls_only_what_its_type_declares() {
        let samples: Vec<Action> = vec![
            RevokeRules {
                group_id: "g".into(),
                egress: true,
                rule_ids: vec![],
            }
            .into(),
            RevokeSessions::of(PrincipalKind::Role, None).into(),
            SummarizeKeyActivity {
                access_key_id: "k".into(),
                hours: 1,
            }
            .into(),
        ];
        for a in &samples {
            for op in a.step().ops() {
                assert!(a.info().ops.contains(&op), "{a:?} calls {op:?}");
            }
        }
        assert!(!samples[2].is_critical());
    }

    #[test]
    fn documents_and_tag_values() {
        let doc: serde_json::Value =
            serde_json::from_str(&RevokeSessions::document(1_795_000_000)).unwrap();
        assert_eq!(
            doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-11-18T11:06:40Z"
        );
        let t = TagUser {
            user_name: None,
            key: QUARANTINE_TAG.into(),
            reason: "GuardDuty <x> \"y\"".repeat(40),
        };
        let v = t.value(0);
        assert!(
            v.starts_with("1970-01-01T00:00:00Z GuardDuty  x   y "),
            "{v}"
        );
        assert_eq!(v.chars().count(), 256);
    }
}
