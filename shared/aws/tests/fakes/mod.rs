//! A recording fake of every port: it records each call in order and answers from a small
//! script (what exists, what fails), so every branch of the handler can be driven.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value;
use trailguard_aws::ports::{PortResult, TrailEvent};
use trailguard_aws::{Change, Ec2Port, IamPort, NotifyPort, PortError, TrailPort};
use trailguard_rules::{GroupFacts, Permission, PrincipalKind, Tags};

#[derive(Default)]
pub struct Fake {
    pub calls: Mutex<Vec<String>>,
    /// Answers by operation name; absent means success (`Change::Done`).
    pub answers: Mutex<HashMap<&'static str, Result<Change, PortError>>>,
    pub groups: Vec<GroupFacts>,
    pub rule_directions: BTreeMap<String, bool>,
    pub key_owners: HashMap<String, String>,
    pub nacl_tags: HashMap<String, Tags>,
    pub trail_events: Option<Result<Vec<TrailEvent>, PortError>>,
    pub published: Mutex<Vec<(String, String)>>,
    pub events_put: Mutex<Vec<(String, Value)>>,
    pub policies: Mutex<Vec<(String, String)>>,
    pub publish_error: Option<PortError>,
}

impl Fake {
    pub fn answer(&self, op: &'static str, r: Result<Change, PortError>) {
        self.answers.lock().unwrap().insert(op, r);
    }
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
    fn reply(&self, op: &'static str) -> PortResult<Change> {
        self.answers
            .lock()
            .unwrap()
            .get(op)
            .cloned()
            .unwrap_or(Ok(Change::Done))
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
}

impl Ec2Port for &Fake {
    async fn revoke_rules(
        &self,
        group_id: &str,
        egress: bool,
        rule_ids: &[String],
    ) -> PortResult<Change> {
        self.record(format!(
            "RevokeRules({group_id},{},{})",
            if egress { "egress" } else { "ingress" },
            rule_ids.join("+")
        ));
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
        self.record(format!(
            "RevokePermissions({},{},{})",
            group_id.or(group_name).unwrap_or("?"),
            if egress { "egress" } else { "ingress" },
            p.join("+")
        ));
        self.reply("RevokePermissions")
    }
    async fn authorize_permissions(
        &self,
        group_id: &str,
        egress: bool,
        perms: &[Permission],
    ) -> PortResult<Change> {
        let p: Vec<String> = perms.iter().map(|p| p.describe()).collect();
        self.record(format!(
            "Authorize({group_id},{},{})",
            if egress { "egress" } else { "ingress" },
            p.join("+")
        ));
        self.reply("Authorize")
    }
    async fn describe_group(
        &self,
        group_id: Option<&str>,
        group_name: Option<&str>,
    ) -> PortResult<Option<GroupFacts>> {
        self.record(format!(
            "DescribeGroup({})",
            group_id.or(group_name).unwrap_or("?")
        ));
        if let Some(Err(e)) = self.answers.lock().unwrap().get("DescribeGroup") {
            return Err(e.clone());
        }
        Ok(self
            .groups
            .iter()
            .find(|g| {
                Some(g.group_id.as_str()) == group_id
                    || (group_id.is_none() && g.group_name.as_deref() == group_name)
            })
            .cloned())
    }
    async fn rule_directions(
        &self,
        group_id: &str,
        _: &[String],
    ) -> PortResult<BTreeMap<String, bool>> {
        self.record(format!("DescribeRules({group_id})"));
        Ok(self.rule_directions.clone())
    }
    async fn delete_nacl_entry(
        &self,
        acl_id: &str,
        rule_number: i64,
        egress: bool,
    ) -> PortResult<Change> {
        self.record(format!("DeleteNaclEntry({acl_id},{rule_number},{egress})"));
        self.reply("DeleteNaclEntry")
    }
    async fn nacl_tags(&self, acl_id: &str) -> PortResult<Option<Tags>> {
        self.record(format!("DescribeNacl({acl_id})"));
        Ok(Some(
            self.nacl_tags.get(acl_id).cloned().unwrap_or_default(),
        ))
    }
}

impl IamPort for &Fake {
    async fn deactivate_key(&self, user: &str, key_id: &str) -> PortResult<Change> {
        self.record(format!("DeactivateKey({user},{key_id})"));
        self.reply("DeactivateKey")
    }
    async fn put_deny_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> PortResult<Change> {
        self.record(format!("PutDenyPolicy({kind:?},{name},{policy_name})"));
        self.policies
            .lock()
            .unwrap()
            .push((name.to_string(), document.to_string()));
        self.reply("PutDenyPolicy")
    }
    async fn tag_user(&self, user: &str, key: &str, value: &str) -> PortResult<Change> {
        self.record(format!("TagUser({user},{key}={value})"));
        self.reply("TagUser")
    }
    async fn key_owner(&self, key_id: &str) -> PortResult<Option<String>> {
        self.record(format!("KeyOwner({key_id})"));
        Ok(self.key_owners.get(key_id).cloned())
    }
}

impl TrailPort for &Fake {
    async fn start_logging(&self, trail: &str) -> PortResult<Change> {
        self.record(format!("StartLogging({trail})"));
        self.reply("StartLogging")
    }
    async fn update_trail(
        &self,
        trail: &str,
        m: Option<bool>,
        v: Option<bool>,
    ) -> PortResult<Change> {
        self.record(format!("UpdateTrail({trail},{m:?},{v:?})"));
        self.reply("UpdateTrail")
    }
    async fn lookup_key_events(
        &self,
        key_id: &str,
        start: i64,
        end: i64,
        _: usize,
    ) -> PortResult<Vec<TrailEvent>> {
        self.record(format!("LookupEvents({key_id},{})", end - start));
        self.trail_events.clone().unwrap_or_else(|| Ok(vec![]))
    }
}

impl NotifyPort for &Fake {
    async fn publish(&self, subject: &str, message: &str, _: &Value) -> PortResult<()> {
        if let Some(e) = &self.publish_error {
            return Err(e.clone());
        }
        self.published
            .lock()
            .unwrap()
            .push((subject.to_string(), message.to_string()));
        Ok(())
    }
    async fn put_event(&self, detail_type: &str, detail: &Value) -> PortResult<()> {
        self.events_put
            .lock()
            .unwrap()
            .push((detail_type.to_string(), detail.clone()));
        Ok(())
    }
}
