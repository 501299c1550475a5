//! The ports: one small trait per AWS service trailguard calls, implemented directly on the
//! SDK clients (see ec2.rs, iam.rs, trail.rs, notify.rs) and by recording fakes in tests.
//! Handlers are generic over them, so a function links only the clients it uses.

use std::collections::BTreeMap;
use std::future::Future;

use serde_json::Value;
use trailguard_rules::{GroupFacts, Permission, PrincipalKind, Tags};

use crate::error::PortError;

/// The result of a mutating call that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Done,
    /// Nothing to do: the state was already what the action wants (why).
    AlreadyDone(String),
}

pub type PortResult<T> = Result<T, PortError>;

pub trait Ec2Port: Send + Sync {
    fn revoke_rules(
        &self,
        group_id: &str,
        egress: bool,
        rule_ids: &[String],
    ) -> impl Future<Output = PortResult<Change>> + Send;
    fn revoke_permissions(
        &self,
        group_id: Option<&str>,
        group_name: Option<&str>,
        egress: bool,
        perms: &[Permission],
    ) -> impl Future<Output = PortResult<Change>> + Send;
    fn authorize_permissions(
        &self,
        group_id: &str,
        egress: bool,
        perms: &[Permission],
    ) -> impl Future<Output = PortResult<Change>> + Send;
    fn describe_group(
        &self,
        group_id: Option<&str>,
        group_name: Option<&str>,
    ) -> impl Future<Output = PortResult<Option<GroupFacts>>> + Send;
    /// Rule id -> is egress, for the rules that exist.
    fn rule_directions(
        &self,
        group_id: &str,
        rule_ids: &[String],
    ) -> impl Future<Output = PortResult<BTreeMap<String, bool>>> + Send;
    fn delete_nacl_entry(
        &self,
        acl_id: &str,
        rule_number: i64,
        egress: bool,
    ) -> impl Future<Output = PortResult<Change>> + Send;
    /// None when the ACL does not exist.
    fn nacl_tags(&self, acl_id: &str) -> impl Future<Output = PortResult<Option<Tags>>> + Send;
}

pub trait IamPort: Send + Sync {
    fn deactivate_key(
        &self,
        user: &str,
        key_id: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send;
    fn put_deny_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send;
    fn tag_user(
        &self,
        user: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = PortResult<Change>> + Send;
    /// The user owning a key, or None when the key does not exist in this account.
    fn key_owner(&self, key_id: &str) -> impl Future<Output = PortResult<Option<String>>> + Send;
}

/// One CloudTrail event of the forensic lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailEvent {
    pub name: String,
    pub time: Option<i64>,
    pub source_ip: Option<String>,
    pub region: Option<String>,
}

pub trait TrailPort: Send + Sync {
    fn start_logging(&self, trail: &str) -> impl Future<Output = PortResult<Change>> + Send;
    fn update_trail(
        &self,
        trail: &str,
        multi_region: Option<bool>,
        log_file_validation: Option<bool>,
    ) -> impl Future<Output = PortResult<Change>> + Send;
    /// Events made with a key between two epoch seconds, at most `max_pages` pages.
    fn lookup_key_events(
        &self,
        key_id: &str,
        start: i64,
        end: i64,
        max_pages: usize,
    ) -> impl Future<Output = PortResult<Vec<TrailEvent>>> + Send;
}

pub trait NotifyPort: Send + Sync {
    /// Publish to the notification topic (no-op when none is configured).
    fn publish(
        &self,
        subject: &str,
        message: &str,
        report: &Value,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Put a "Remediation Performed" event on the configured bus (no-op when none).
    fn put_event(
        &self,
        detail_type: &str,
        detail: &Value,
    ) -> impl Future<Output = PortResult<()>> + Send;
}

/// A port a function was built without: every call says so. The rules route each event to
/// one guard, so a function never reaches a port it does not wire; if it did, the error is
/// clear and permanent instead of a silent no-op.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwired;

impl Ec2Port for Unwired {
    async fn revoke_rules(&self, _: &str, _: bool, _: &[String]) -> PortResult<Change> {
        Err(PortError::NotWired {
            op: "RevokeSecurityGroup*",
        })
    }
    async fn revoke_permissions(
        &self,
        _: Option<&str>,
        _: Option<&str>,
        _: bool,
        _: &[Permission],
    ) -> PortResult<Change> {
        Err(PortError::NotWired {
            op: "RevokeSecurityGroup*",
        })
    }
    async fn authorize_permissions(
        &self,
        _: &str,
        _: bool,
        _: &[Permission],
    ) -> PortResult<Change> {
        Err(PortError::NotWired {
            op: "AuthorizeSecurityGroup*",
        })
    }
    async fn describe_group(
        &self,
        _: Option<&str>,
        _: Option<&str>,
    ) -> PortResult<Option<GroupFacts>> {
        Err(PortError::NotWired {
            op: "DescribeSecurityGroups",
        })
    }
    async fn rule_directions(&self, _: &str, _: &[String]) -> PortResult<BTreeMap<String, bool>> {
        Err(PortError::NotWired {
            op: "DescribeSecurityGroupRules",
        })
    }
    async fn delete_nacl_entry(&self, _: &str, _: i64, _: bool) -> PortResult<Change> {
        Err(PortError::NotWired {
            op: "DeleteNetworkAclEntry",
        })
    }
    async fn nacl_tags(&self, _: &str) -> PortResult<Option<Tags>> {
        Err(PortError::NotWired {
            op: "DescribeNetworkAcls",
        })
    }
}

impl IamPort for Unwired {
    async fn deactivate_key(&self, _: &str, _: &str) -> PortResult<Change> {
        Err(PortError::NotWired {
            op: "UpdateAccessKey",
        })
    }
    async fn put_deny_policy(
        &self,
        _: PrincipalKind,
        _: &str,
        _: &str,
        _: &str,
    ) -> PortResult<Change> {
        Err(PortError::NotWired {
            op: "PutUserPolicy/PutRolePolicy",
        })
    }
    async fn tag_user(&self, _: &str, _: &str, _: &str) -> PortResult<Change> {
        Err(PortError::NotWired { op: "TagUser" })
    }
    async fn key_owner(&self, _: &str) -> PortResult<Option<String>> {
        Err(PortError::NotWired {
            op: "GetAccessKeyLastUsed",
        })
    }
}

impl TrailPort for Unwired {
    async fn start_logging(&self, _: &str) -> PortResult<Change> {
        Err(PortError::NotWired { op: "StartLogging" })
    }
    async fn update_trail(&self, _: &str, _: Option<bool>, _: Option<bool>) -> PortResult<Change> {
        Err(PortError::NotWired { op: "UpdateTrail" })
    }
    async fn lookup_key_events(
        &self,
        _: &str,
        _: i64,
        _: i64,
        _: usize,
    ) -> PortResult<Vec<TrailEvent>> {
        Err(PortError::NotWired { op: "LookupEvents" })
    }
}
