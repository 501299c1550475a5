//! Facts the event does not carry but a decision may depend on. The guards ask for exactly
//! the facts they need ([`FactRequest`]); the caller fetches those and decides again.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum FactRequest {
    /// A security group's id and tags (by id, or by name when the event names only that).
    SecurityGroup {
        #[serde(skip_serializing_if = "Option::is_none")]
        group_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        group_name: Option<String>,
    },
    /// Whether each of these rules is ingress or egress (ModifySecurityGroupRules does not say).
    SecurityGroupRules {
        group_id: String,
        rule_ids: Vec<String>,
    },
    /// The IAM user that owns an access key.
    AccessKeyOwner { access_key_id: String },
    /// A network ACL's tags.
    NetworkAcl { network_acl_id: String },
}

impl FactRequest {
    /// The IAM action the lookup needs.
    pub fn iam_action(&self) -> &'static str {
        match self {
            FactRequest::SecurityGroup { .. } => "ec2:DescribeSecurityGroups",
            FactRequest::SecurityGroupRules { .. } => "ec2:DescribeSecurityGroupRules",
            FactRequest::AccessKeyOwner { .. } => "iam:GetAccessKeyLastUsed",
            FactRequest::NetworkAcl { .. } => "ec2:DescribeNetworkAcls",
        }
    }
}

pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFacts {
    pub group_id: String,
    pub group_name: Option<String>,
    pub tags: Tags,
}

/// What the caller knows. Empty at first; filled with the answers to the requests.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The role the function runs as: its own changes are never acted on.
    pub own_role_arn: Option<String>,
    /// Groups looked up, by id or name. A request answered with "no such group" is
    /// recorded in `missing_groups`.
    pub security_groups: Vec<GroupFacts>,
    pub missing_groups: Vec<String>,
    /// Rule id -> is egress. Rules absent here after a lookup no longer exist.
    pub rule_directions: BTreeMap<String, bool>,
    pub rules_looked_up: bool,
    /// Access key id -> owning user (None: no such key in this account).
    pub key_owners: BTreeMap<String, Option<String>>,
    pub network_acls: BTreeMap<String, Tags>,
    /// Offline (the CLI): facts not given are taken as absent instead of requested, and the
    /// decision says what it assumed.
    pub offline: bool,
}

pub(crate) enum Known<T> {
    Yes(T),
    Need(FactRequest),
}

impl Facts {
    pub fn offline() -> Facts {
        Facts {
            offline: true,
            ..Facts::default()
        }
    }

    pub(crate) fn group(&self, id: Option<&str>, name: Option<&str>) -> Known<Option<GroupFacts>> {
        let found = self.security_groups.iter().find(|g| match (id, name) {
            (Some(i), _) => g.group_id == i,
            (None, Some(n)) => g.group_name.as_deref() == Some(n),
            _ => false,
        });
        if let Some(g) = found {
            return Known::Yes(Some(g.clone()));
        }
        let key = id.or(name).unwrap_or_default();
        if self.offline || self.missing_groups.iter().any(|m| m == key) {
            return Known::Yes(None);
        }
        Known::Need(FactRequest::SecurityGroup {
            group_id: id.map(String::from),
            group_name: if id.is_none() {
                name.map(String::from)
            } else {
                None
            },
        })
    }

    pub(crate) fn key_owner(&self, key: &str) -> Known<Option<String>> {
        match self.key_owners.get(key) {
            Some(o) => Known::Yes(o.clone()),
            None if self.offline => Known::Yes(None),
            None => Known::Need(FactRequest::AccessKeyOwner {
                access_key_id: key.to_string(),
            }),
        }
    }

    pub(crate) fn nacl_tags(&self, id: &str) -> Known<Tags> {
        match self.network_acls.get(id) {
            Some(t) => Known::Yes(t.clone()),
            None if self.offline => Known::Yes(Tags::new()),
            None => Known::Need(FactRequest::NetworkAcl {
                network_acl_id: id.to_string(),
            }),
        }
    }
}

/// Whether a tag is set to a true value ("true", "yes", "1", any case).
pub fn tag_is_true(tags: &Tags, key: &str) -> bool {
    !key.is_empty()
        && tags
            .get(key)
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1"))
}
