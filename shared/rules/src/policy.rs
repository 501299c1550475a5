//! The policy: what trailguard enforces, as data. Written as JSON, validated once at cold
//! start; every error names the field that is wrong.

use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::net::{PortRange, PortSpec, Protocol};

/// The policy trailguard uses when none is given: documented in the README.
pub const DEFAULT_POLICY_JSON: &str = include_str!("default-policy.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    #[serde(rename = "enforce")]
    Enforce,
    #[serde(rename = "dry-run")]
    DryRun,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "enforce" => Some(Mode::Enforce),
            "dry-run" | "dryrun" | "dry_run" => Some(Mode::DryRun),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
        })
    }
}

/// The four guards trailguard runs, one per Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    SecurityGroup,
    AccessKey,
    NetworkAcl,
    Cloudtrail,
}

impl Guard {
    pub const ALL: [Guard; 4] = [
        Guard::SecurityGroup,
        Guard::NetworkAcl,
        Guard::Cloudtrail,
        Guard::AccessKey,
    ];

    /// The function (crate and template resource) that runs this guard.
    pub fn function_name(self) -> &'static str {
        match self {
            Guard::SecurityGroup => "revert-security-group",
            Guard::AccessKey => "disable-compromised-key",
            Guard::NetworkAcl => "revert-network-acl",
            Guard::Cloudtrail => "guard-cloudtrail",
        }
    }

    pub fn from_function_name(name: &str) -> Option<Guard> {
        Guard::ALL.into_iter().find(|g| g.function_name() == name)
    }

    pub fn key(self) -> &'static str {
        match self {
            Guard::SecurityGroup => "security_group",
            Guard::AccessKey => "access_key",
            Guard::NetworkAcl => "network_acl",
            Guard::Cloudtrail => "cloudtrail",
        }
    }
}

/// What to do with a ReplaceNetworkAclEntry that opens an ACL: the event does not carry the
/// entry it replaced, so trailguard can only delete the new one or tell people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnReplace {
    Notify,
    Delete,
}

// ---- The file format (what users write) ----

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct PolicyFile {
    mode: ModeFile,
    public_ports: Vec<String>,
    public_networks: PublicNetworksFile,
    allow_public_icmp: bool,
    exempt_principals: Vec<String>,
    own_roles: Vec<String>,
    exempt_tag: String,
    protected_tag: String,
    protected_security_groups: Vec<String>,
    protected_network_acls: Vec<String>,
    egress_denied_ports: Vec<String>,
    honeytoken_access_keys: Vec<String>,
    trusted_networks: Vec<String>,
    guardduty: GuardDutyFile,
    revoke_sessions: bool,
    tag_users: bool,
    key_activity_hours: u32,
    network_acl: NetworkAclFile,
    cloudtrail: CloudTrailFile,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct ModeFile {
    default: Mode,
    security_group: Option<Mode>,
    access_key: Option<Mode>,
    network_acl: Option<Mode>,
    cloudtrail: Option<Mode>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct PublicNetworksFile {
    ipv4_prefix_shorter_than: u8,
    ipv6_prefix_shorter_than: u8,
    private_ranges: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct GuardDutyFile {
    act_at: f64,
    notify_at: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct NetworkAclFile {
    ephemeral_ports: Vec<String>,
    on_replace: OnReplace,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct CloudTrailFile {
    revert_trail_settings: bool,
}

impl Default for PolicyFile {
    fn default() -> Self {
        PolicyFile {
            mode: ModeFile::default(),
            public_ports: vec!["tcp/80".into(), "tcp/443".into()],
            public_networks: PublicNetworksFile::default(),
            allow_public_icmp: true,
            exempt_principals: vec![],
            own_roles: vec![],
            exempt_tag: "trailguard:exempt".into(),
            protected_tag: "trailguard:protected".into(),
            protected_security_groups: vec![],
            protected_network_acls: vec![],
            egress_denied_ports: vec![],
            honeytoken_access_keys: vec![],
            trusted_networks: vec![],
            guardduty: GuardDutyFile::default(),
            revoke_sessions: true,
            tag_users: true,
            key_activity_hours: 24,
            network_acl: NetworkAclFile::default(),
            cloudtrail: CloudTrailFile::default(),
        }
    }
}

impl Default for ModeFile {
    fn default() -> Self {
        ModeFile {
            default: Mode::Enforce,
            security_group: None,
            access_key: None,
            network_acl: None,
            cloudtrail: None,
        }
    }
}

impl Default for PublicNetworksFile {
    fn default() -> Self {
        PublicNetworksFile {
            ipv4_prefix_shorter_than: 16,
            ipv6_prefix_shorter_than: 32,
            private_ranges: vec![
                "10.0.0.0/8".into(),
                "172.16.0.0/12".into(),
                "192.168.0.0/16".into(),
            ],
        }
    }
}

impl Default for GuardDutyFile {
    fn default() -> Self {
        GuardDutyFile {
            act_at: 7.0,
            notify_at: 4.0,
        }
    }
}

impl Default for NetworkAclFile {
    fn default() -> Self {
        NetworkAclFile {
            ephemeral_ports: vec!["tcp/1024-65535".into(), "udp/1024-65535".into()],
            on_replace: OnReplace::Notify,
        }
    }
}

impl Default for CloudTrailFile {
    fn default() -> Self {
        CloudTrailFile {
            revert_trail_settings: true,
        }
    }
}

// ---- The validated policy (what the guards read) ----

/// A validated policy. Built only through [`Policy::from_json`] or [`Policy::default`].
#[derive(Debug, Clone)]
pub struct Policy {
    modes: [(Guard, Mode); 4],
    pub public_ports: Vec<PortSpec>,
    pub ipv4_prefix_shorter_than: u8,
    pub ipv6_prefix_shorter_than: u8,
    pub private_ranges: Vec<IpNet>,
    pub allow_public_icmp: bool,
    pub exempt_principals: Vec<String>,
    /// trailguard's own role ARNs beyond the running function's (which the functions always
    /// know): changes by these are never acted on. Lets `trailguard decide` see loops.
    pub own_roles: Vec<String>,
    /// Empty when tag-based exemption is switched off.
    pub exempt_tag: String,
    /// Empty when tag-based protection is switched off.
    pub protected_tag: String,
    pub protected_security_groups: Vec<String>,
    pub protected_network_acls: Vec<String>,
    pub egress_denied_ports: Vec<PortSpec>,
    pub honeytoken_access_keys: Vec<String>,
    pub trusted_networks: Vec<IpNet>,
    pub guardduty_act_at: f64,
    pub guardduty_notify_at: f64,
    pub revoke_sessions: bool,
    /// Tag the owner of a contained key `trailguard:quarantined`.
    pub tag_users: bool,
    /// How far back the key-activity summary looks; 0 switches it off.
    pub key_activity_hours: u32,
    pub nacl_ephemeral_ports: Vec<PortSpec>,
    pub nacl_on_replace: OnReplace,
    pub revert_trail_settings: bool,
    file: PolicyFile,
}

/// What is wrong with a policy, naming the field.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PolicyError {
    #[error("policy is not valid JSON for trailguard at `{path}`: {problem}")]
    Syntax { path: String, problem: String },
    #[error("policy field `{field}`: {problem}")]
    Field { field: String, problem: String },
}

impl Default for Policy {
    fn default() -> Self {
        // The embedded default is checked by a unit test, so the fallback is never used; it
        // keeps the promise never to panic, and fails safe: it changes nothing.
        Policy::from_json(DEFAULT_POLICY_JSON).unwrap_or_else(|_| inert_policy())
    }
}

/// A policy that plans but never acts (every guard in dry-run), built without validation.
fn inert_policy() -> Policy {
    let file = PolicyFile::default();
    Policy {
        modes: [
            (Guard::SecurityGroup, Mode::DryRun),
            (Guard::AccessKey, Mode::DryRun),
            (Guard::NetworkAcl, Mode::DryRun),
            (Guard::Cloudtrail, Mode::DryRun),
        ],
        public_ports: vec![],
        ipv4_prefix_shorter_than: 16,
        ipv6_prefix_shorter_than: 32,
        private_ranges: vec![],
        allow_public_icmp: true,
        exempt_principals: vec![],
        own_roles: vec![],
        exempt_tag: String::new(),
        protected_tag: String::new(),
        protected_security_groups: vec![],
        protected_network_acls: vec![],
        egress_denied_ports: vec![],
        honeytoken_access_keys: vec![],
        trusted_networks: vec![],
        guardduty_act_at: 7.0,
        guardduty_notify_at: 4.0,
        revoke_sessions: true,
        tag_users: true,
        key_activity_hours: 24,
        nacl_ephemeral_ports: vec![],
        nacl_on_replace: OnReplace::Notify,
        revert_trail_settings: false,
        file,
    }
}

impl Policy {
    /// Parse and validate a policy. Fields left out take their defaults; unknown fields are
    /// errors (a typo must not silently weaken the policy).
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let file: PolicyFile =
            serde_path_to_error::deserialize(de).map_err(|e| PolicyError::Syntax {
                path: e.path().to_string(),
                problem: e.inner().to_string(),
            })?;
        Policy::validate(file)
    }

    fn validate(file: PolicyFile) -> Result<Policy, PolicyError> {
        let field = |f: String, p: String| PolicyError::Field {
            field: f,
            problem: p,
        };
        let specs = |name: &str, list: &[String]| -> Result<Vec<PortSpec>, PolicyError> {
            list.iter()
                .enumerate()
                .map(|(i, s)| PortSpec::parse(s).map_err(|p| field(format!("{name}[{i}]"), p)))
                .collect()
        };
        let nets = |name: &str, list: &[String]| -> Result<Vec<IpNet>, PolicyError> {
            list.iter()
                .enumerate()
                .map(|(i, s)| {
                    s.trim().parse::<IpNet>().map(|n| n.trunc()).map_err(|_| {
                        field(
                            format!("{name}[{i}]"),
                            format!("`{s}` is not a CIDR block such as 10.0.0.0/8"),
                        )
                    })
                })
                .collect()
        };
        let pn = &file.public_networks;
        if pn.ipv4_prefix_shorter_than > 32 {
            return Err(field(
                "public_networks.ipv4_prefix_shorter_than".into(),
                "must be 0 to 32".into(),
            ));
        }
        if pn.ipv6_prefix_shorter_than > 128 {
            return Err(field(
                "public_networks.ipv6_prefix_shorter_than".into(),
                "must be 0 to 128".into(),
            ));
        }
        let g = &file.guardduty;
        for (name, v) in [
            ("guardduty.act_at", g.act_at),
            ("guardduty.notify_at", g.notify_at),
        ] {
            if !(0.0..=10.0).contains(&v) {
                return Err(field(
                    name.into(),
                    format!("{v} is outside GuardDuty's severity scale 0-10"),
                ));
            }
        }
        if g.notify_at > g.act_at {
            return Err(field("guardduty.notify_at".into(), format!("{} is above act_at {}: findings serious enough to act on must also be notified", g.notify_at, g.act_at)));
        }
        for (i, p) in file.exempt_principals.iter().enumerate() {
            if p.trim().is_empty() {
                return Err(field(
                    format!("exempt_principals[{i}]"),
                    "empty pattern".into(),
                ));
            }
            if p.trim() == "*" {
                return Err(field(
                    format!("exempt_principals[{i}]"),
                    "`*` would exempt everyone; use mode dry-run to switch remediation off".into(),
                ));
            }
        }
        for (i, r) in file.own_roles.iter().enumerate() {
            if !(r.starts_with("arn:") && r.contains(":role/")) {
                return Err(field(
                    format!("own_roles[{i}]"),
                    format!("`{r}` is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
                ));
            }
        }
        for (i, k) in file.honeytoken_access_keys.iter().enumerate() {
            if !is_access_key_id(k) {
                return Err(field(
                    format!("honeytoken_access_keys[{i}]"),
                    format!(
                        "`{k}` is not an access key id (AKIA... or ASIA..., 16-128 characters)"
                    ),
                ));
            }
        }
        for (name, list, prefix) in [
            (
                "protected_security_groups",
                &file.protected_security_groups,
                "sg-",
            ),
            (
                "protected_network_acls",
                &file.protected_network_acls,
                "acl-",
            ),
        ] {
            for (i, id) in list.iter().enumerate() {
                if !id.starts_with(prefix) {
                    return Err(field(
                        format!("{name}[{i}]"),
                        format!("`{id}` is not an id starting with {prefix}"),
                    ));
                }
            }
        }
        if file.key_activity_hours > 90 * 24 {
            return Err(field(
                "key_activity_hours".into(),
                format!(
                    "{} is beyond the 90 days CloudTrail's event history keeps",
                    file.key_activity_hours
                ),
            ));
        }
        let m = &file.mode;
        Ok(Policy {
            modes: [
                (Guard::SecurityGroup, m.security_group.unwrap_or(m.default)),
                (Guard::AccessKey, m.access_key.unwrap_or(m.default)),
                (Guard::NetworkAcl, m.network_acl.unwrap_or(m.default)),
                (Guard::Cloudtrail, m.cloudtrail.unwrap_or(m.default)),
            ],
            public_ports: specs("public_ports", &file.public_ports)?,
            ipv4_prefix_shorter_than: pn.ipv4_prefix_shorter_than,
            ipv6_prefix_shorter_than: pn.ipv6_prefix_shorter_than,
            private_ranges: nets("public_networks.private_ranges", &pn.private_ranges)?,
            allow_public_icmp: file.allow_public_icmp,
            exempt_principals: file
                .exempt_principals
                .iter()
                .map(|s| s.trim().to_string())
                .collect(),
            own_roles: file.own_roles.clone(),
            exempt_tag: file.exempt_tag.trim().to_string(),
            protected_tag: file.protected_tag.trim().to_string(),
            protected_security_groups: file.protected_security_groups.clone(),
            protected_network_acls: file.protected_network_acls.clone(),
            egress_denied_ports: specs("egress_denied_ports", &file.egress_denied_ports)?,
            honeytoken_access_keys: file.honeytoken_access_keys.clone(),
            trusted_networks: nets("trusted_networks", &file.trusted_networks)?,
            guardduty_act_at: g.act_at,
            guardduty_notify_at: g.notify_at,
            revoke_sessions: file.revoke_sessions,
            tag_users: file.tag_users,
            key_activity_hours: file.key_activity_hours,
            nacl_ephemeral_ports: specs(
                "network_acl.ephemeral_ports",
                &file.network_acl.ephemeral_ports,
            )?,
            nacl_on_replace: file.network_acl.on_replace,
            revert_trail_settings: file.cloudtrail.revert_trail_settings,
            file,
        })
    }

    /// The policy with more honeytoken keys and trusted networks: the template passes these
    /// as parameters, because its event patterns need them too. Validated like the file.
    pub fn with_additions(
        &self,
        honeytokens: &[String],
        trusted_networks: &[String],
    ) -> Result<Policy, PolicyError> {
        let mut file = self.file.clone();
        file.honeytoken_access_keys.extend(
            honeytokens
                .iter()
                .filter(|k| !file.honeytoken_access_keys.contains(k))
                .cloned()
                .collect::<Vec<_>>(),
        );
        file.trusted_networks
            .extend(trusted_networks.iter().cloned());
        let modes = self.modes;
        let mut p = Policy::validate(file)?;
        p.modes = modes;
        Ok(p)
    }

    pub fn mode(&self, guard: Guard) -> Mode {
        self.modes
            .iter()
            .find(|(g, _)| *g == guard)
            .map(|(_, m)| *m)
            .unwrap_or(Mode::DryRun)
    }

    /// Force one mode for every guard (the `TRAILGUARD_MODE` environment variable and the
    /// template's Mode parameter): dry-run there wins over the policy file.
    pub fn with_mode_override(mut self, mode: Mode) -> Policy {
        for (_, m) in self.modes.iter_mut() {
            *m = mode;
        }
        self.file.mode = ModeFile {
            default: mode,
            security_group: None,
            access_key: None,
            network_acl: None,
            cloudtrail: None,
        };
        self
    }

    /// The policy with every default filled in, as JSON (what `trailguard policy default`
    /// prints and what `policy check` echoes back).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.file).unwrap_or_default()
    }

    /// Whether a CIDR counts as public: shorter than the policy's prefix limit and not
    /// inside one of its private ranges.
    pub fn is_public(&self, net: &IpNet) -> bool {
        let limit = match net {
            IpNet::V4(_) => self.ipv4_prefix_shorter_than,
            IpNet::V6(_) => self.ipv6_prefix_shorter_than,
        };
        net.prefix_len() < limit && !self.private_ranges.iter().any(|p| p.contains(net))
    }

    /// Whether `(protocol, ports)` from a public source is allowed by `public_ports` (and
    /// `allow_public_icmp`).
    pub fn publicly_allowed(&self, protocol: Protocol, ports: PortRange) -> bool {
        allowed_by(&self.public_ports, protocol, ports)
            || (protocol.is_icmp() && self.allow_public_icmp)
    }

    pub fn is_exempt_principal(&self, arns: &[&str]) -> Option<String> {
        self.exempt_principals
            .iter()
            .find(|p| arns.iter().any(|a| crate::glob::matches(p, a)))
            .cloned()
    }

    pub fn is_trusted_ip(&self, ip: &str) -> bool {
        match ip.trim().parse::<std::net::IpAddr>() {
            Ok(addr) => self.trusted_networks.iter().any(|n| n.contains(&addr)),
            Err(_) => false,
        }
    }
}

/// Whether every port of `(protocol, ports)` is in one of `specs`.
pub fn allowed_by(specs: &[PortSpec], protocol: Protocol, ports: PortRange) -> bool {
    if specs.iter().any(|s| s.protocol == Protocol::All) {
        return true;
    }
    if protocol == Protocol::All {
        return false;
    }
    let ranges: Vec<PortRange> = specs
        .iter()
        .filter(|s| s.protocol == protocol)
        .map(|s| s.ports)
        .collect();
    if protocol.has_ports() {
        crate::net::covered(ports, &ranges)
    } else {
        !ranges.is_empty()
    }
}

/// Whether `s` looks like an IAM access key id (long-term AKIA or temporary ASIA).
pub fn is_access_key_id(s: &str) -> bool {
    (16..=128).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| !c.is_ascii_lowercase())
        && s.starts_with(|c: char| c.is_ascii_uppercase())
}

/// IAM actions every function needs to tell people: the SNS notification and the optional
/// "Remediation Performed" event.
pub const NOTIFY_IAM_ACTIONS: [&str; 2] = ["sns:Publish", "events:PutEvents"];

impl Guard {
    /// Every IAM action this guard's function can call: its remediation steps, its fact
    /// lookups, and notification. template.yaml grants exactly these (a test checks).
    pub fn iam_actions(self) -> std::collections::BTreeSet<&'static str> {
        use crate::action::{Action, PrincipalKind};
        use crate::facts::FactRequest;
        let s = String::new;
        let actions: Vec<Action> = match self {
            Guard::SecurityGroup => [false, true]
                .into_iter()
                .flat_map(|egress| {
                    [
                        Action::RevokeSecurityGroupRules {
                            group_id: s(),
                            egress,
                            rule_ids: vec![],
                        },
                        Action::RevokeSecurityGroupPermissions {
                            group_id: None,
                            group_name: None,
                            egress,
                            permissions: vec![],
                        },
                        Action::AuthorizeSecurityGroupPermissions {
                            group_id: s(),
                            egress,
                            permissions: vec![],
                        },
                    ]
                })
                .collect(),
            Guard::AccessKey => vec![
                Action::DeactivateAccessKey {
                    user_name: None,
                    access_key_id: s(),
                },
                Action::RevokeSessions {
                    principal: PrincipalKind::User,
                    name: None,
                    policy_name: s(),
                },
                Action::RevokeSessions {
                    principal: PrincipalKind::Role,
                    name: None,
                    policy_name: s(),
                },
                Action::TagUser {
                    user_name: None,
                    key: s(),
                    reason: s(),
                },
                Action::SummarizeKeyActivity {
                    access_key_id: s(),
                    hours: 0,
                },
            ],
            Guard::NetworkAcl => vec![Action::DeleteNetworkAclEntry {
                network_acl_id: s(),
                rule_number: 0,
                egress: false,
            }],
            Guard::Cloudtrail => vec![
                Action::StartLogging { trail: s() },
                Action::UpdateTrail {
                    trail: s(),
                    multi_region: None,
                    log_file_validation: None,
                },
            ],
        };
        let facts: Vec<FactRequest> = match self {
            Guard::SecurityGroup => vec![
                FactRequest::SecurityGroup {
                    group_id: None,
                    group_name: None,
                },
                FactRequest::SecurityGroupRules {
                    group_id: s(),
                    rule_ids: vec![],
                },
            ],
            Guard::AccessKey => vec![FactRequest::AccessKeyOwner { access_key_id: s() }],
            Guard::NetworkAcl => vec![FactRequest::NetworkAcl {
                network_acl_id: s(),
            }],
            Guard::Cloudtrail => vec![],
        };
        actions
            .iter()
            .flat_map(|a| a.iam_actions())
            .chain(facts.iter().map(|f| f.iam_action()))
            .chain(NOTIFY_IAM_ACTIONS)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid_and_matches_the_code_defaults() {
        let p = Policy::from_json(DEFAULT_POLICY_JSON).unwrap();
        let from_empty = Policy::from_json("{}").unwrap();
        assert_eq!(p.to_json_pretty(), from_empty.to_json_pretty());
        assert_eq!(p.mode(Guard::SecurityGroup), Mode::Enforce);
    }

    #[test]
    fn errors_name_the_field() {
        let e = Policy::from_json(r#"{"public_ports": ["tcp/80", "tcp/http"]}"#).unwrap_err();
        assert!(e.to_string().contains("public_ports[1]"), "{e}");
        let e = Policy::from_json(r#"{"guardduty": {"act_at": "high"}}"#).unwrap_err();
        assert!(e.to_string().contains("guardduty.act_at"), "{e}");
        let e = Policy::from_json(r#"{"exempt_principal": []}"#).unwrap_err();
        assert!(e.to_string().contains("exempt_principal"), "{e}");
        let e = Policy::from_json(r#"{"trusted_networks": ["10.0.0.0/33"]}"#).unwrap_err();
        assert!(e.to_string().contains("trusted_networks[0]"), "{e}");
        let e = Policy::from_json(r#"{"mode": {"access_key": "sometimes"}}"#).unwrap_err();
        assert!(e.to_string().contains("mode.access_key"), "{e}");
        let e = Policy::from_json(r#"{"guardduty": {"act_at": 3, "notify_at": 5}}"#).unwrap_err();
        assert!(e.to_string().contains("guardduty.notify_at"), "{e}");
        let e = Policy::from_json(r#"{"honeytoken_access_keys": ["nope"]}"#).unwrap_err();
        assert!(e.to_string().contains("honeytoken_access_keys[0]"), "{e}");
        let e = Policy::from_json("[1,2]").unwrap_err();
        assert!(matches!(e, PolicyError::Syntax { .. }), "{e}");
    }

    #[test]
    fn public_definition() {
        let p = Policy::default();
        let n = |s: &str| s.parse::<IpNet>().unwrap();
        assert!(p.is_public(&n("0.0.0.0/0")));
        assert!(p.is_public(&n("1.0.0.0/8")));
        assert!(!p.is_public(&n("203.0.113.0/24")));
        assert!(!p.is_public(&n("10.0.0.0/8")));
        assert!(!p.is_public(&n("172.16.0.0/12")));
        assert!(p.is_public(&n("::/0")));
        assert!(!p.is_public(&n("2001:db8::/48")));
        assert!(p.publicly_allowed(Protocol::Tcp, PortRange { from: 443, to: 443 }));
        assert!(!p.publicly_allowed(Protocol::Tcp, PortRange { from: 22, to: 22 }));
        assert!(!p.publicly_allowed(Protocol::All, PortRange::ALL));
        assert!(p.publicly_allowed(Protocol::Icmp, PortRange::ALL));
        assert!(!p.publicly_allowed(Protocol::Udp, PortRange { from: 443, to: 443 }));
    }

    #[test]
    fn override_forces_dry_run() {
        let p = Policy::default().with_mode_override(Mode::DryRun);
        assert!(Guard::ALL.iter().all(|g| p.mode(*g) == Mode::DryRun));
    }
}
