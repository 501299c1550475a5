//! The policy: what trailguard enforces, as data. Written as JSON, validated once at cold
//! start; every error names the field that is wrong.
//!
//! One source for the defaults: [`Policy::default`], built from typed values (so it cannot
//! fail); the file form users write ([`PolicyFile`]) takes its defaults from it, and
//! `trailguard policy default` prints it.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::guards::Guard;
use crate::ids::{is_access_key_id, is_account_id, is_organization_id};
use crate::net::{PortRange, PortSpec, Protocol};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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

/// What to do with a ReplaceNetworkAclEntry that opens an ACL: the event does not carry the
/// entry it replaced, so trailguard can only delete the new one or tell people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnReplace {
    Notify,
    Delete,
}

// ---- The file format (what users write) ----

/// The policy as users write it. Every field is optional; left out, it takes the default.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyFile {
    /// `default` and one entry per guard name (`security_group`, `access_key`, ...).
    mode: BTreeMap<String, Mode>,
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
    notify_root_activity: bool,
    notify_console_login_without_mfa: bool,
    trusted_accounts: Vec<String>,
    organization_id: String,
    iam_admins: Vec<String>,
    tag_admins: Vec<String>,
    /// Guard name -> the most mutating actions in any hour (the blast-radius breaker).
    max_actions_per_hour: BTreeMap<String, u32>,
    iam: IamFile,
    network_acl: NetworkAclFile,
    cloudtrail: CloudTrailFile,
    /// The accounts trailguard acts in (central deployments receive every member's events).
    accounts: AccountsFile,
    /// Account id -> mode, over the guards' modes for events from that account.
    mode_by_account: BTreeMap<String, Mode>,
    /// Whether the stack has a manual trigger (its own bus, ManualTriggerPrincipals): only
    /// then is a "Disable Access Key" request honoured. The template sets it
    /// (`TRAILGUARD_MANUAL_TRIGGER`, which wins over this field).
    manual_trigger: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    #[serde(default = "default_include")]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PublicNetworksFile {
    #[serde(default = "default_v4_limit")]
    ipv4_prefix_shorter_than: u8,
    #[serde(default = "default_v6_limit")]
    ipv6_prefix_shorter_than: u8,
    #[serde(default = "default_private_ranges")]
    private_ranges: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct GuardDutyFile {
    #[serde(default = "default_act_at")]
    act_at: f64,
    #[serde(default = "default_notify_at")]
    notify_at: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct NetworkAclFile {
    #[serde(default = "default_ephemeral")]
    ephemeral_ports: Vec<String>,
    #[serde(default = "default_on_replace")]
    on_replace: OnReplace,
    #[serde(default)]
    sweep_default_acls: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CloudTrailFile {
    #[serde(default = "default_true")]
    revert_trail_settings: bool,
    #[serde(default = "default_true")]
    restore_management_events: bool,
    #[serde(default = "default_min_log_retention")]
    min_log_retention_days: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct IamFile {
    #[serde(default)]
    contain_backdoor_keys: bool,
}

// Nested sections take their defaults field by field from the one default policy.
fn default_v4_limit() -> u8 {
    Policy::default().ipv4_prefix_shorter_than
}
fn default_v6_limit() -> u8 {
    Policy::default().ipv6_prefix_shorter_than
}
fn default_private_ranges() -> Vec<String> {
    strings(&Policy::default().private_ranges)
}
fn default_act_at() -> f64 {
    Policy::default().guardduty_act_at
}
fn default_notify_at() -> f64 {
    Policy::default().guardduty_notify_at
}
fn default_ephemeral() -> Vec<String> {
    strings(&Policy::default().nacl_ephemeral_ports)
}
fn default_on_replace() -> OnReplace {
    Policy::default().nacl_on_replace
}
fn default_include() -> Vec<String> {
    Policy::default().accounts_include
}
fn default_true() -> bool {
    true
}
fn default_min_log_retention() -> u32 {
    Policy::default().min_log_retention_days
}

fn strings<T: fmt::Display>(v: &[T]) -> Vec<String> {
    v.iter().map(T::to_string).collect()
}

impl Default for PolicyFile {
    fn default() -> Self {
        Policy::default().to_file()
    }
}

// ---- The validated policy (what the guards read) ----

/// A validated policy. Built only through [`Policy::from_json`] or [`Policy::default`].
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    mode_default: Mode,
    /// Per-guard modes, by guard name.
    modes: BTreeMap<String, Mode>,
    /// A mode forced from outside the policy (the template's `Mode`): dry-run there means
    /// nothing is changed, whatever the policy says.
    ceiling: Option<Mode>,
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
    /// Tell people about any successful call made with root credentials, and about
    /// GuardDuty root findings at any severity.
    pub notify_root_activity: bool,
    /// Tell people about an IAM user signing in to the console without MFA.
    pub notify_console_login_without_mfa: bool,
    /// Accounts resources may be shared with and roles may trust (vendors, your own
    /// accounts), besides the account itself and, when `organization_id` is set, its
    /// organization's accounts.
    pub trusted_accounts: Vec<String>,
    /// The organization whose accounts are trusted (`o-...`), or empty.
    pub organization_id: String,
    /// ARN globs of the principals expected to change IAM (the SSO administrator role, the
    /// deployment pipeline): their IAM changes are not reported.
    pub iam_admins: Vec<String>,
    /// ARN globs of the principals who may add or remove `trailguard:*` tags; anyone else's
    /// change that weakens protection is taken back.
    pub tag_admins: Vec<String>,
    /// Guard name -> breaker limit, for the guards the policy sets (others take their
    /// declared default).
    max_actions: BTreeMap<String, u32>,
    /// Deactivate an access key a non-admin created for another user.
    pub contain_backdoor_keys: bool,
    /// Switch management events back on after a PutEventSelectors switched them off.
    pub restore_management_events: bool,
    /// The shortest expiry, in days, the CloudTrail log buckets may be given.
    pub min_log_retention_days: u32,
    pub nacl_ephemeral_ports: Vec<PortSpec>,
    pub nacl_on_replace: OnReplace,
    /// The sweep also deletes open entries of VPCs' default ACLs (which allow everything by
    /// design).
    pub nacl_sweep_default_acls: bool,
    pub revert_trail_settings: bool,
    /// Account ids (or `*`) whose events are acted on; `accounts_exclude` wins over it.
    pub accounts_include: Vec<String>,
    pub accounts_exclude: Vec<String>,
    /// Account id -> mode, over the guards' modes (the dry-run ceiling still wins).
    mode_by_account: BTreeMap<String, Mode>,
    /// Whether a manual "Disable Access Key" request is honoured (the stack has a manual
    /// trigger).
    pub manual_trigger: bool,
    /// A central deployment's member role: its sessions are trailguard's own in member
    /// accounts only (set from the deployment, never from the policy file).
    member_role: Option<MemberRole>,
}

/// The role a central deployment assumes in member accounts, and the account the
/// deployment itself runs in: a role of that name there (or anywhere, outside a central
/// deployment) is anyone's, not trailguard's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRole {
    pub name: String,
    /// The central account. Unknown: no session of the member role counts as trailguard's.
    pub home_account: Option<String>,
}

/// What is wrong with a policy, naming the field.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PolicyError {
    #[error("policy is not valid JSON for trailguard at `{path}`: {problem}")]
    Syntax { path: String, problem: String },
    #[error("policy field `{field}`: {problem}")]
    Field { field: String, problem: String },
}

fn tcp(from: u16, to: u16) -> PortSpec {
    PortSpec {
        protocol: Protocol::Tcp,
        ports: PortRange { from, to },
    }
}

fn net(a: [u8; 4], prefix: u8) -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::new(a.into(), prefix).unwrap_or_default())
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            mode_default: Mode::Enforce,
            modes: BTreeMap::new(),
            ceiling: None,
            public_ports: vec![tcp(80, 80), tcp(443, 443)],
            ipv4_prefix_shorter_than: 16,
            ipv6_prefix_shorter_than: 32,
            private_ranges: vec![
                net([10, 0, 0, 0], 8),
                net([172, 16, 0, 0], 12),
                net([192, 168, 0, 0], 16),
            ],
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
            guardduty_act_at: 7.0,
            guardduty_notify_at: 4.0,
            revoke_sessions: true,
            tag_users: true,
            key_activity_hours: 24,
            notify_root_activity: true,
            notify_console_login_without_mfa: true,
            trusted_accounts: vec![],
            organization_id: String::new(),
            iam_admins: vec![],
            tag_admins: vec![],
            max_actions: BTreeMap::new(),
            contain_backdoor_keys: false,
            restore_management_events: true,
            min_log_retention_days: 365,
            nacl_ephemeral_ports: vec![
                tcp(1024, 65535),
                PortSpec {
                    protocol: Protocol::Udp,
                    ports: PortRange {
                        from: 1024,
                        to: 65535,
                    },
                },
            ],
            nacl_on_replace: OnReplace::Notify,
            nacl_sweep_default_acls: false,
            revert_trail_settings: true,
            accounts_include: vec!["*".into()],
            accounts_exclude: vec![],
            mode_by_account: BTreeMap::new(),
            manual_trigger: false,
            member_role: None,
        }
    }
}

fn field(f: impl Into<String>, p: impl Into<String>) -> PolicyError {
    PolicyError::Field {
        field: f.into(),
        problem: p.into(),
    }
}

fn specs(name: &str, list: &[String]) -> Result<Vec<PortSpec>, PolicyError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| PortSpec::parse(s).map_err(|p| field(format!("{name}[{i}]"), p)))
        .collect()
}

fn nets(name: &str, list: &[String]) -> Result<Vec<IpNet>, PolicyError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            s.trim().parse::<IpNet>().map(|n| n.trunc()).map_err(|_| {
                field(
                    format!("{name}[{i}]"),
                    format!("`{s}` is not a CIDR block (e.g. 203.0.113.0/24)"),
                )
            })
        })
        .collect()
}

/// What the deployment's parameters add to the policy (template parameters arrive as
/// environment variables): lists are added to the policy's, an organization replaces it.
#[derive(Debug, Clone, Default)]
pub struct Additions {
    pub honeytoken_access_keys: Vec<String>,
    pub trusted_networks: Vec<String>,
    pub trusted_accounts: Vec<String>,
    pub organization_id: Option<String>,
}

impl Additions {
    pub fn is_empty(&self) -> bool {
        self.honeytoken_access_keys.is_empty()
            && self.trusted_networks.is_empty()
            && self.trusted_accounts.is_empty()
            && self.organization_id.is_none()
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
        let mut mode_default = Mode::Enforce;
        let mut modes = BTreeMap::new();
        for (k, m) in &file.mode {
            if k == "default" {
                mode_default = *m;
            } else if Guard::by_name(k).is_some() {
                modes.insert(k.clone(), *m);
            } else {
                return Err(field(
                    format!("mode.{k}"),
                    format!(
                        "no guard is called `{k}` (one of: default, {})",
                        Guard::all()
                            .map(|g| g.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let pn = &file.public_networks;
        if pn.ipv4_prefix_shorter_than > 32 {
            return Err(field(
                "public_networks.ipv4_prefix_shorter_than",
                "an IPv4 prefix is at most 32",
            ));
        }
        if pn.ipv6_prefix_shorter_than > 128 {
            return Err(field(
                "public_networks.ipv6_prefix_shorter_than",
                "an IPv6 prefix is at most 128",
            ));
        }
        let g = &file.guardduty;
        for (name, v) in [
            ("guardduty.act_at", g.act_at),
            ("guardduty.notify_at", g.notify_at),
        ] {
            if !(0.0..=10.0).contains(&v) {
                return Err(field(
                    name,
                    format!("{v} is outside GuardDuty's severity scale 0-10"),
                ));
            }
        }
        if g.notify_at > g.act_at {
            return Err(field(
                "guardduty.notify_at",
                format!(
                    "{} is above act_at {}: findings serious enough to act on must also be notified",
                    g.notify_at, g.act_at
                ),
            ));
        }
        for (name, list) in [
            ("exempt_principals", &file.exempt_principals),
            ("iam_admins", &file.iam_admins),
            ("tag_admins", &file.tag_admins),
        ] {
            for (i, p) in list.iter().enumerate() {
                if let Some(problem) = too_broad(p) {
                    return Err(field(format!("{name}[{i}]"), problem));
                }
            }
        }
        for (name, tag) in [
            ("exempt_tag", &file.exempt_tag),
            ("protected_tag", &file.protected_tag),
        ] {
            if !tag.is_empty() && !tag.starts_with(WATCHED_TAG_PREFIX) {
                return Err(field(
                    name,
                    format!(
                        "`{tag}` does not start with `{WATCHED_TAG_PREFIX}`: only those tag keys are watched, so anyone could set this one to switch trailguard off"
                    ),
                ));
            }
        }
        let mut max_actions = BTreeMap::new();
        for (k, n) in &file.max_actions_per_hour {
            match Guard::by_name(k) {
                Some(g) if g.spec().actions.is_empty() => {
                    return Err(field(
                        format!("max_actions_per_hour.{k}"),
                        format!("guard `{k}` never acts, so it has no breaker"),
                    ))
                }
                Some(_) => {
                    max_actions.insert(k.clone(), *n);
                }
                None => {
                    return Err(field(
                        format!("max_actions_per_hour.{k}"),
                        format!(
                            "no guard is called `{k}` (one of: {})",
                            Guard::all()
                                .filter(|g| !g.spec().actions.is_empty())
                                .map(|g| g.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ))
                }
            }
        }
        for (i, r) in file.own_roles.iter().enumerate() {
            let account = r.split(':').nth(4).unwrap_or_default();
            if !(r.starts_with("arn:") && r.contains(":role/")) {
                return Err(field(
                    format!("own_roles[{i}]"),
                    format!("`{r}` is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
                ));
            }
            // A role name alone is anyone's: whoever creates a role of that name in any
            // account would make changes trailguard never looks at.
            if !is_account_id(account) || r.contains(['*', '?']) {
                return Err(field(
                    format!("own_roles[{i}]"),
                    format!(
                        "`{r}` must name one role exactly, in one account (no `*` or `?`): a name alone \
                         would let anyone who creates a role of that name act unseen. A central \
                         deployment's member role is known from the template (MemberRoleName)"
                    ),
                ));
            }
        }
        for (name, list) in [
            ("accounts.include", &file.accounts.include),
            ("accounts.exclude", &file.accounts.exclude),
        ] {
            for (i, a) in list.iter().enumerate() {
                if a != "*" && !is_account_id(a) {
                    return Err(field(
                        format!("{name}[{i}]"),
                        format!("`{a}` is not an account id (12 digits) or `*`"),
                    ));
                }
            }
        }
        for a in file.mode_by_account.keys() {
            if !is_account_id(a) {
                return Err(field(
                    format!("mode_by_account.{a}"),
                    format!("`{a}` is not an account id (12 digits)"),
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
        for (i, a) in file.trusted_accounts.iter().enumerate() {
            if !is_account_id(a) {
                return Err(field(
                    format!("trusted_accounts[{i}]"),
                    format!("`{a}` is not an account id (12 digits)"),
                ));
            }
        }
        let org = file.organization_id.trim();
        if !org.is_empty() && !is_organization_id(org) {
            return Err(field(
                "organization_id",
                format!(
                    "`{org}` is not an organization id (o- and 10-32 lower-case letters or digits)"
                ),
            ));
        }
        if file.key_activity_hours > 90 * 24 {
            return Err(field(
                "key_activity_hours",
                format!(
                    "{} is beyond the 90 days CloudTrail's event history keeps",
                    file.key_activity_hours
                ),
            ));
        }
        Ok(Policy {
            mode_default,
            modes,
            ceiling: None,
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
            notify_root_activity: file.notify_root_activity,
            notify_console_login_without_mfa: file.notify_console_login_without_mfa,
            trusted_accounts: file.trusted_accounts.clone(),
            organization_id: org.to_string(),
            iam_admins: file
                .iam_admins
                .iter()
                .map(|s| s.trim().to_string())
                .collect(),
            tag_admins: file
                .tag_admins
                .iter()
                .map(|s| s.trim().to_string())
                .collect(),
            max_actions,
            contain_backdoor_keys: file.iam.contain_backdoor_keys,
            restore_management_events: file.cloudtrail.restore_management_events,
            min_log_retention_days: file.cloudtrail.min_log_retention_days,
            nacl_ephemeral_ports: specs(
                "network_acl.ephemeral_ports",
                &file.network_acl.ephemeral_ports,
            )?,
            nacl_on_replace: file.network_acl.on_replace,
            nacl_sweep_default_acls: file.network_acl.sweep_default_acls,
            revert_trail_settings: file.cloudtrail.revert_trail_settings,
            accounts_include: file.accounts.include.clone(),
            accounts_exclude: file.accounts.exclude.clone(),
            mode_by_account: file.mode_by_account.clone(),
            manual_trigger: file.manual_trigger,
            member_role: None,
        })
    }

    /// The policy in the form users write, every default filled in.
    pub fn to_file(&self) -> PolicyFile {
        let mut mode = BTreeMap::from([("default".to_string(), self.mode_default)]);
        mode.extend(self.modes.iter().map(|(k, m)| (k.clone(), *m)));
        PolicyFile {
            mode,
            public_ports: strings(&self.public_ports),
            public_networks: PublicNetworksFile {
                ipv4_prefix_shorter_than: self.ipv4_prefix_shorter_than,
                ipv6_prefix_shorter_than: self.ipv6_prefix_shorter_than,
                private_ranges: strings(&self.private_ranges),
            },
            allow_public_icmp: self.allow_public_icmp,
            exempt_principals: self.exempt_principals.clone(),
            own_roles: self.own_roles.clone(),
            exempt_tag: self.exempt_tag.clone(),
            protected_tag: self.protected_tag.clone(),
            protected_security_groups: self.protected_security_groups.clone(),
            protected_network_acls: self.protected_network_acls.clone(),
            egress_denied_ports: strings(&self.egress_denied_ports),
            honeytoken_access_keys: self.honeytoken_access_keys.clone(),
            trusted_networks: strings(&self.trusted_networks),
            guardduty: GuardDutyFile {
                act_at: self.guardduty_act_at,
                notify_at: self.guardduty_notify_at,
            },
            revoke_sessions: self.revoke_sessions,
            tag_users: self.tag_users,
            key_activity_hours: self.key_activity_hours,
            notify_root_activity: self.notify_root_activity,
            notify_console_login_without_mfa: self.notify_console_login_without_mfa,
            trusted_accounts: self.trusted_accounts.clone(),
            organization_id: self.organization_id.clone(),
            iam_admins: self.iam_admins.clone(),
            tag_admins: self.tag_admins.clone(),
            max_actions_per_hour: self.max_actions.clone(),
            iam: IamFile {
                contain_backdoor_keys: self.contain_backdoor_keys,
            },
            network_acl: NetworkAclFile {
                ephemeral_ports: strings(&self.nacl_ephemeral_ports),
                on_replace: self.nacl_on_replace,
                sweep_default_acls: self.nacl_sweep_default_acls,
            },
            cloudtrail: CloudTrailFile {
                revert_trail_settings: self.revert_trail_settings,
                restore_management_events: self.restore_management_events,
                min_log_retention_days: self.min_log_retention_days,
            },
            accounts: AccountsFile {
                include: self.accounts_include.clone(),
                exclude: self.accounts_exclude.clone(),
            },
            mode_by_account: self.mode_by_account.clone(),
            manual_trigger: self.manual_trigger,
        }
    }

    /// The policy with more honeytoken keys and trusted networks: the template passes these
    /// as parameters, because its event patterns need them too. Validated like the file.
    pub fn with_additions(&self, add: &Additions) -> Result<Policy, PolicyError> {
        let mut file = self.to_file();
        let extend = |to: &mut Vec<String>, from: &[String]| {
            for k in from {
                if !to.contains(k) {
                    to.push(k.clone());
                }
            }
        };
        extend(
            &mut file.honeytoken_access_keys,
            &add.honeytoken_access_keys,
        );
        extend(&mut file.trusted_networks, &add.trusted_networks);
        extend(&mut file.trusted_accounts, &add.trusted_accounts);
        if let Some(org) = &add.organization_id {
            file.organization_id = org.clone();
        }
        let mut p = Policy::validate(file)?;
        p.ceiling = self.ceiling;
        p.member_role = self.member_role.clone();
        Ok(p)
    }

    /// The mode a guard runs in: the policy's `mode.<guard>`, else `mode.default`; a ceiling
    /// of dry-run ([`Policy::with_mode_ceiling`]) wins over both.
    pub fn mode(&self, guard: Guard) -> Mode {
        let own = self
            .modes
            .get(guard.name())
            .copied()
            .unwrap_or(self.mode_default);
        match self.ceiling {
            Some(Mode::DryRun) => Mode::DryRun,
            _ => own,
        }
    }

    /// The mode a guard runs in for an event from `account`: `mode_by_account.<account>`
    /// when the policy sets one (enforce in sandboxes, dry-run in production), else
    /// [`Policy::mode`]; a ceiling of dry-run still wins.
    pub fn mode_in(&self, guard: Guard, account: Option<&str>) -> Mode {
        match (
            self.ceiling,
            account.and_then(|a| self.mode_by_account.get(a)),
        ) {
            (Some(Mode::DryRun), _) => Mode::DryRun,
            (_, Some(m)) => *m,
            _ => self.mode(guard),
        }
    }

    /// Why an event from `account` is outside the accounts trailguard acts in, or None when
    /// it is inside: listed in (or `*` in) `accounts.include` and not in `accounts.exclude`.
    /// An event that names no account is about the function's own.
    pub fn out_of_scope(&self, account: Option<&str>) -> Option<String> {
        let a = account?;
        let listed = |list: &[String]| list.iter().any(|x| x == "*" || x == a);
        if listed(&self.accounts_exclude) {
            Some(format!(
                "account {a} is excluded by the policy (accounts.exclude): trailguard does not act there"
            ))
        } else if !listed(&self.accounts_include) {
            Some(format!(
                "account {a} is outside the policy's accounts.include: trailguard does not act there"
            ))
        } else {
            None
        }
    }

    /// A mode set from outside the policy (`TRAILGUARD_MODE`, the template's `Mode`):
    /// `dry-run` makes every guard plan without acting; `enforce` leaves the policy's modes.
    pub fn with_mode_ceiling(mut self, mode: Mode) -> Policy {
        self.ceiling = Some(mode);
        self
    }

    /// The deployment's word on the manual trigger (`TRAILGUARD_MANUAL_TRIGGER`): it wins
    /// over the file, so a policy cannot honour requests the stack has no bus for.
    pub fn with_manual_trigger(mut self, on: bool) -> Policy {
        self.manual_trigger = on;
        self
    }

    /// A central deployment's member role, and the central account it runs in.
    pub fn with_member_role(mut self, name: &str, home_account: Option<&str>) -> Policy {
        self.member_role = Some(MemberRole {
            name: name.to_string(),
            home_account: home_account.map(String::from),
        });
        self
    }

    pub fn member_role(&self) -> Option<&MemberRole> {
        self.member_role.as_ref()
    }

    /// The policy with every default filled in, as JSON (what `trailguard policy default`
    /// prints and what `policy check` echoes back).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.to_file()).unwrap_or_default()
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

    /// The values of a template parameter that some rule patterns use (`"{{Name}}"`): the
    /// template gives the same values to the policy, so the code matches as the rule does.
    pub fn template_parameter(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "HoneytokenAccessKeyIds" => Some(self.honeytoken_access_keys.clone()),
            _ => None,
        }
    }

    /// Whether a template condition that creates a rule holds for this policy. Conditions
    /// the policy does not decide hold (the rule exists when the event arrives).
    pub fn template_condition(&self, name: &str) -> bool {
        match name {
            "HasHoneytokens" => !self.honeytoken_access_keys.is_empty(),
            "WatchLongTermKeys" => !self.trusted_networks.is_empty(),
            "HasManualTrigger" => self.manual_trigger,
            _ => true,
        }
    }

    /// The breaker's limit for a guard: the policy's `max_actions_per_hour.<name>`, else the
    /// guard's declared default. 0: no limit.
    pub fn max_actions_per_hour(&self, guard: Guard) -> u32 {
        self.max_actions
            .get(guard.name())
            .copied()
            .unwrap_or(guard.spec().max_actions_per_hour)
    }

    /// The `tag_admins` pattern a principal matches, if one does.
    pub fn is_tag_admin(&self, arns: &[&str]) -> Option<String> {
        self.tag_admins
            .iter()
            .find(|p| arns.iter().any(|a| crate::glob::principal_matches(p, a)))
            .cloned()
    }

    /// The `iam_admins` pattern a principal matches, if one does.
    pub fn is_iam_admin(&self, arns: &[&str]) -> Option<String> {
        self.iam_admins
            .iter()
            .find(|p| arns.iter().any(|a| crate::glob::principal_matches(p, a)))
            .cloned()
    }

    pub fn is_exempt_principal(&self, arns: &[&str]) -> Option<String> {
        self.exempt_principals
            .iter()
            .find(|p| arns.iter().any(|a| crate::glob::principal_matches(p, a)))
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

/// The tag keys trailguard watches for changes: its exemption and protection tags must be
/// among them.
pub const WATCHED_TAG_PREFIX: &str = "trailguard:";

/// Why a principal pattern is too broad to exempt anyone with, or None. A pattern must name
/// principals: an ARN whose account is `*` or twelve digits and whose name (after `user/`,
/// `role/` and any path; for `assumed-role/` the role's name, not the session's, which the
/// caller chooses) has at least three letters or digits, so `*`, `arn:aws:iam::*:role/*`,
/// `arn:aws:iam::*:role/*-*-*-*`, `arn:aws:sts::*:assumed-role/*/admin` and
/// `arn:aws:iam::123456789012:*` are refused and `arn:aws:iam::*:role/BreakGlass*` is not.
pub fn too_broad(pattern: &str) -> Option<String> {
    let p = pattern.trim();
    if p.is_empty() {
        return Some("empty pattern".into());
    }
    let everyone = || {
        format!(
            "`{p}` matches every principal (or every one of an account); name the principals, e.g. arn:aws:iam::*:role/BreakGlassAdmin"
        )
    };
    let Some(fields) = p
        .strip_prefix("arn:")
        .map(|r| r.splitn(5, ':').collect::<Vec<_>>())
        .filter(|f| f.len() == 5)
    else {
        return Some(if p.chars().all(|c| c == '*' || c == '?') {
            everyone()
        } else {
            format!("`{p}` is not an ARN pattern (arn:aws:iam::ACCOUNT:role/NAME)")
        });
    };
    let (account, resource) = (fields[3], fields[4]);
    if account != "*" && !is_account_id(account) {
        return Some(format!(
            "`{p}`: the account `{account}` is neither `*` nor a 12-digit account id; a partial account glob matches accounts no one chose"
        ));
    }
    // The part that names someone: the name after the path (`role/team/*` names no role);
    // for a session, the role (its session name is the caller's choice, so it names no one).
    let (name, session) = match resource.split_once('/') {
        Some(("assumed-role", rest)) => (rest.split('/').next().unwrap_or_default(), true),
        Some((_, rest)) => (rest.rsplit('/').next().unwrap_or_default(), false),
        None => (resource, false),
    };
    let named = name.chars().filter(|c| c.is_alphanumeric()).count();
    if named < 3 && session {
        return Some(format!(
            "`{p}` names no role: a session is matched by its role, and its session name is whoever assumes the role's choice; name the role, e.g. arn:aws:sts::*:assumed-role/BreakGlassAdmin/*"
        ));
    }
    if named < 3 || resource == "root" && account == "*" {
        return Some(everyone());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(name: &str) -> Guard {
        Guard::by_name(name).unwrap()
    }

    #[test]
    fn one_source_for_the_defaults() {
        let d = Policy::default();
        assert_eq!(Policy::from_json("{}").unwrap(), d);
        assert_eq!(Policy::from_json(&d.to_json_pretty()).unwrap(), d);
        // A nested section given in part takes the rest of its defaults.
        let p = Policy::from_json(r#"{"guardduty": {"act_at": 8}}"#).unwrap();
        assert_eq!(p.guardduty_notify_at, d.guardduty_notify_at);
        assert_eq!(d.mode(guard("security_group")), Mode::Enforce);
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
        let e = Policy::from_json(r#"{"mode": {"acess_key": "dry-run"}}"#).unwrap_err();
        assert!(e.to_string().contains("mode.acess_key"), "{e}");
        let e = Policy::from_json(r#"{"guardduty": {"act_at": 3, "notify_at": 5}}"#).unwrap_err();
        assert!(e.to_string().contains("guardduty.notify_at"), "{e}");
        let e = Policy::from_json(r#"{"honeytoken_access_keys": ["nope"]}"#).unwrap_err();
        assert!(e.to_string().contains("honeytoken_access_keys[0]"), "{e}");
        let e = Policy::from_json("[1,2]").unwrap_err();
        assert!(matches!(e, PolicyError::Syntax { .. }), "{e}");
    }

    #[test]
    fn exemptions_must_name_principals() {
        for broad in [
            "*",
            "arn:*",
            "arn:aws:iam::*:role/*",
            "arn:aws:iam::*:user/*",
            "arn:aws:iam::123456789012:*",
            "arn:aws:iam::123456789012:role/*",
            "arn:aws:sts::*:assumed-role/*/*",
            "arn:aws:iam::*:root",
            "arn:aws:iam::*:role/a?",
            // Only wildcards and separators: every role with three dashes in its name.
            "arn:aws:iam::*:role/*-*-*-*",
            "arn:aws:iam::*:user/*_*.*+*=*,*@*",
            "arn:aws:iam::123456789012:role/service-role/*",
            // The session name is the caller's choice: it names no one.
            "arn:aws:sts::*:assumed-role/*/BreakGlassAdmin",
            "arn:aws:sts::123456789012:assumed-role/*-*/terraform",
            // A partial account glob matches accounts no one chose.
            "arn:aws:iam::1234*:role/BreakGlassAdmin",
            "arn:aws:iam::*:*",
        ] {
            for f in ["exempt_principals", "tag_admins", "iam_admins"] {
                let json = serde_json::json!({ f: ["arn:aws:iam::*:role/BreakGlassAdmin", broad] });
                let e = Policy::from_json(&json.to_string())
                    .unwrap_err()
                    .to_string();
                assert!(e.contains(&format!("{f}[1]")), "{broad}: {e}");
            }
        }
        for named in [
            "arn:aws:iam::*:role/BreakGlassAdmin",
            "arn:aws:iam::*:user/breakglass-*",
            "arn:aws:sts::*:assumed-role/terraform-*/*",
            "arn:aws:iam::123456789012:root",
            "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_SecurityAdmin_*",
            "arn:aws:sts::123456789012:assumed-role/BreakGlassAdmin/*",
            "arn:aws:iam::*:role/ops-*-admin",
        ] {
            assert_eq!(too_broad(named), None, "{named}");
        }
        let e = Policy::from_json(r#"{"tag_admins": ["security team"]}"#).unwrap_err();
        assert!(e.to_string().contains("tag_admins[0]"), "{e}");
    }

    #[test]
    fn trailguard_tags_are_the_watched_ones() {
        let e = Policy::from_json(r#"{"exempt_tag": "skip-remediation"}"#).unwrap_err();
        assert!(e.to_string().contains("exempt_tag"), "{e}");
        assert!(Policy::from_json(r#"{"exempt_tag": "trailguard:skip"}"#).is_ok());
        assert!(Policy::from_json(r#"{"protected_tag": ""}"#).is_ok());
    }

    #[test]
    fn breaker_limits_per_guard() {
        let p = Policy::from_json(r#"{"max_actions_per_hour": {"access_key": 5}}"#).unwrap();
        assert_eq!(p.max_actions_per_hour(guard("access_key")), 5);
        assert_eq!(
            p.max_actions_per_hour(guard("security_group")),
            guard("security_group").spec().max_actions_per_hour
        );
        assert_eq!(Policy::from_json(&p.to_json_pretty()).unwrap(), p);
        let e = Policy::from_json(r#"{"max_actions_per_hour": {"keys": 5}}"#).unwrap_err();
        assert!(e.to_string().contains("max_actions_per_hour.keys"), "{e}");
        let e = Policy::from_json(r#"{"max_actions_per_hour": {"detection": 5}}"#).unwrap_err();
        assert!(e.to_string().contains("never acts"), "{e}");
        // Every guard that acts has a breaker by default; those that do not, none.
        for g in Guard::all() {
            assert_eq!(
                g.spec().max_actions_per_hour > 0,
                !g.spec().actions.is_empty(),
                "{}",
                g.name()
            );
        }
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
    fn modes_per_guard_and_the_ceiling() {
        let p = Policy::from_json(r#"{"mode": {"default": "dry-run", "access_key": "enforce"}}"#)
            .unwrap();
        assert_eq!(p.mode(guard("access_key")), Mode::Enforce);
        assert_eq!(p.mode(guard("security_group")), Mode::DryRun);
        let enforce = p.clone().with_mode_ceiling(Mode::Enforce);
        assert_eq!(enforce.mode(guard("security_group")), Mode::DryRun);
        let dry = Policy::default().with_mode_ceiling(Mode::DryRun);
        assert!(Guard::all().all(|g| dry.mode(g) == Mode::DryRun));
        let back = Policy::from_json(&p.to_json_pretty()).unwrap();
        assert_eq!(back, p);
    }
}
