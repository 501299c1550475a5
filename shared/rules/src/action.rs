//! What trailguard can do: plain values that name their target exactly, and the IAM actions
//! each needs (template.yaml grants exactly these; a test keeps the two in step).

use serde::Serialize;

use crate::net::{Peer, PortRange, Protocol};

/// The name of the inline deny policy that cuts off sessions issued before containment.
/// Fixed so responders can find and remove it: `aws iam delete-user-policy --user-name U
/// --policy-name trailguard-revoke-older-sessions`.
pub const SESSION_POLICY_NAME: &str = "trailguard-revoke-older-sessions";

/// The tag trailguard puts on a user whose key it disabled.
pub const QUARANTINE_TAG: &str = "trailguard:quarantined";

/// One security-group permission with exactly one peer, as EC2 takes it back in a revoke or
/// authorize call. Ports are kept exactly as the request wrote them so the revoke matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Permission {
    pub protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Permission {
    pub fn peer(&self) -> Option<Peer> {
        if let Some(c) = self.cidr_ipv4.as_deref().or(self.cidr_ipv6.as_deref()) {
            Some(Peer::cidr(c))
        } else if let Some(p) = &self.prefix_list_id {
            Some(Peer::PrefixList(p.clone()))
        } else {
            self.source_group_id
                .as_ref()
                .map(|g| Peer::Group(g.clone()))
        }
    }

    /// The ports exposed: every port for protocol -1 and for TCP/UDP without bounds.
    pub fn ports(&self) -> PortRange {
        if self.protocol.has_ports() {
            PortRange::from_bounds(self.from_port, self.to_port)
        } else {
            PortRange::ALL
        }
    }

    /// "tcp/22 from 0.0.0.0/0" for humans.
    pub fn describe(&self) -> String {
        let what = match self.protocol {
            Protocol::All => "all traffic".to_string(),
            p if p.has_ports() => format!("{p}/{}", self.ports()),
            p => p.to_string(),
        };
        match self.peer() {
            Some(peer) => format!("{what} from {peer}"),
            None => what,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Role,
}

/// One remediation step. Serialised with `"type"` and the target's fields; the report adds
/// `iam_actions` from [`Action::iam_actions`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Revoke rules by their security-group-rule ids (one EC2 call).
    RevokeSecurityGroupRules {
        group_id: String,
        egress: bool,
        rule_ids: Vec<String>,
    },
    /// Revoke rules by their exact permissions (when the event carries no rule ids).
    RevokeSecurityGroupPermissions {
        #[serde(skip_serializing_if = "Option::is_none")]
        group_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        group_name: Option<String>,
        egress: bool,
        permissions: Vec<Permission>,
    },
    /// Put back rules removed from a protected group.
    AuthorizeSecurityGroupPermissions {
        group_id: String,
        egress: bool,
        permissions: Vec<Permission>,
    },
    /// Set exactly this key Inactive. Never deletes it: the key is evidence. The user is
    /// null only in offline decisions (the CLI) where the event does not name the owner;
    /// the functions always resolve it first.
    DeactivateAccessKey {
        user_name: Option<String>,
        access_key_id: String,
    },
    /// Attach the inline deny-all policy for sessions issued before the action runs.
    RevokeSessions {
        principal: PrincipalKind,
        name: Option<String>,
        policy_name: String,
    },
    /// Tag the user `trailguard:quarantined` = "<time> <reason>".
    TagUser {
        user_name: Option<String>,
        key: String,
        reason: String,
    },
    /// Best effort: summarise what the key did (CloudTrail LookupEvents). Never blocks or
    /// fails containment.
    SummarizeKeyActivity {
        access_key_id: String,
        hours: u32,
    },
    DeleteNetworkAclEntry {
        network_acl_id: String,
        rule_number: i64,
        egress: bool,
    },
    StartLogging {
        trail: String,
    },
    /// Switch back on trail settings an UpdateTrail switched off.
    UpdateTrail {
        trail: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        multi_region: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        log_file_validation: Option<bool>,
    },
}

impl Action {
    /// The IAM actions the executor calls for this step.
    pub fn iam_actions(&self) -> Vec<&'static str> {
        match self {
            Action::RevokeSecurityGroupRules { egress, .. }
            | Action::RevokeSecurityGroupPermissions { egress, .. } => {
                vec![if *egress {
                    "ec2:RevokeSecurityGroupEgress"
                } else {
                    "ec2:RevokeSecurityGroupIngress"
                }]
            }
            Action::AuthorizeSecurityGroupPermissions { egress, .. } => {
                vec![if *egress {
                    "ec2:AuthorizeSecurityGroupEgress"
                } else {
                    "ec2:AuthorizeSecurityGroupIngress"
                }]
            }
            // ListAccessKeys first, so a key already Inactive or deleted is reported as already
            // done, and the only mutating call is the one UpdateAccessKey.
            Action::DeactivateAccessKey { .. } => vec!["iam:ListAccessKeys", "iam:UpdateAccessKey"],
            Action::RevokeSessions {
                principal: PrincipalKind::User,
                ..
            } => vec!["iam:PutUserPolicy"],
            Action::RevokeSessions {
                principal: PrincipalKind::Role,
                ..
            } => vec!["iam:PutRolePolicy"],
            Action::TagUser { .. } => vec!["iam:TagUser"],
            Action::SummarizeKeyActivity { .. } => vec!["cloudtrail:LookupEvents"],
            // DescribeNetworkAcls first, so an entry already deleted is reported as already done.
            Action::DeleteNetworkAclEntry { .. } => {
                vec!["ec2:DescribeNetworkAcls", "ec2:DeleteNetworkAclEntry"]
            }
            // GetTrailStatus first, so a trail already logging is reported as already done.
            Action::StartLogging { .. } => {
                vec!["cloudtrail:GetTrailStatus", "cloudtrail:StartLogging"]
            }
            Action::UpdateTrail { .. } => vec!["cloudtrail:UpdateTrail"],
        }
    }

    /// Whether the step changes anything. Read-only steps run in dry-run too.
    pub fn mutates(&self) -> bool {
        !matches!(self, Action::SummarizeKeyActivity { .. })
    }

    /// Whether a failure of this step must fail the invocation (so Lambda retries).
    /// Enrichment never does: containment must not wait on or fail because of it.
    pub fn is_critical(&self) -> bool {
        self.mutates()
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Action::RevokeSecurityGroupRules { .. } => "revoke_security_group_rules",
            Action::RevokeSecurityGroupPermissions { .. } => "revoke_security_group_permissions",
            Action::AuthorizeSecurityGroupPermissions { .. } => {
                "authorize_security_group_permissions"
            }
            Action::DeactivateAccessKey { .. } => "deactivate_access_key",
            Action::RevokeSessions { .. } => "revoke_sessions",
            Action::TagUser { .. } => "tag_user",
            Action::SummarizeKeyActivity { .. } => "summarize_key_activity",
            Action::DeleteNetworkAclEntry { .. } => "delete_network_acl_entry",
            Action::StartLogging { .. } => "start_logging",
            Action::UpdateTrail { .. } => "update_trail",
        }
    }

    /// One line for humans: what this step does (or would do).
    pub fn describe(&self) -> String {
        match self {
            Action::RevokeSecurityGroupRules {
                group_id,
                egress,
                rule_ids,
            } => {
                format!(
                    "revoke {} rule(s) {} of {group_id}",
                    if *egress { "egress" } else { "ingress" },
                    rule_ids.join(", ")
                )
            }
            Action::RevokeSecurityGroupPermissions {
                group_id,
                group_name,
                egress,
                permissions,
            } => format!(
                "revoke {} {} of {}",
                if *egress { "egress" } else { "ingress" },
                permissions
                    .iter()
                    .map(Permission::describe)
                    .collect::<Vec<_>>()
                    .join("; "),
                group_id.as_deref().or(group_name.as_deref()).unwrap_or("?")
            ),
            Action::AuthorizeSecurityGroupPermissions {
                group_id,
                egress,
                permissions,
            } => format!(
                "re-authorize {} {} on protected {group_id}",
                if *egress { "egress" } else { "ingress" },
                permissions
                    .iter()
                    .map(Permission::describe)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Action::DeactivateAccessKey {
                user_name,
                access_key_id,
            } => format!(
                "deactivate access key {access_key_id} of user {}",
                owner(user_name)
            ),
            Action::RevokeSessions {
                principal,
                name,
                policy_name,
            } => {
                format!(
                    "deny sessions issued before now to {} {} (inline policy {policy_name})",
                    if *principal == PrincipalKind::User {
                        "user"
                    } else {
                        "role"
                    },
                    owner(name)
                )
            }
            Action::TagUser { user_name, key, .. } => {
                format!("tag user {} with {key}", owner(user_name))
            }
            Action::SummarizeKeyActivity {
                access_key_id,
                hours,
            } => format!("summarise the last {hours}h of activity of {access_key_id}"),
            Action::DeleteNetworkAclEntry {
                network_acl_id,
                rule_number,
                egress,
            } => {
                format!(
                    "delete {} entry {rule_number} of {network_acl_id}",
                    if *egress { "egress" } else { "ingress" }
                )
            }
            Action::StartLogging { trail } => format!("start logging on trail {trail}"),
            Action::UpdateTrail {
                trail,
                multi_region,
                log_file_validation,
            } => {
                let mut what = Vec::new();
                if multi_region == &Some(true) {
                    what.push("multi-region");
                }
                if log_file_validation == &Some(true) {
                    what.push("log file validation");
                }
                format!("switch {} back on for trail {trail}", what.join(" and "))
            }
        }
    }
}

fn owner(name: &Option<String>) -> &str {
    name.as_deref().unwrap_or("(owner resolved at run time)")
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
