//! The policy: what trailguard enforces, as data. Written as JSON, validated once at cold
//! start; every error names the field that is wrong.
//!
//! This folder holds what several guards share (modes, the accounts in scope, principals,
//! the trusted set, tags, what counts as public); a setting only one guard reads lives in
//! that guard's file as its `Settings`, and the policy carries it as a [`Section`]. The
//! loader above the guards (`load.rs`) reads the file, gives each guard its keys, and builds
//! the one default policy.
//!
//! - `file.rs`: the shared settings as users write them.
//! - `validate.rs`: the checks, each naming its field.
//! - `query.rs`: what the guards and the handler ask the policy.
//! - `section.rs`: guards' own settings, held without naming their types.

mod file;
mod query;
mod section;
mod validate;

use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::net::{PortRange, PortSpec, Protocol};

pub(crate) use file::parse_object;
pub use file::PolicyFile;
pub use query::allowed_by;
pub(crate) use section::Sections;
pub use section::{GuardSettings, Section, SettingsSpec};
pub use validate::{each, field, too_broad, Parsed, WATCHED_TAG_PREFIX};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mode {
    #[serde(rename = "enforce")]
    Enforce,
    #[serde(rename = "dry-run")]
    DryRun,
    /// Plan, keep the plan in the ledger and wait: a person approves it (`trailguard
    /// approve`, through the manual-trigger bus) before the function acts, or rejects it.
    #[serde(rename = "approve")]
    Approve,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "enforce" => Some(Mode::Enforce),
            "dry-run" | "dryrun" | "dry_run" => Some(Mode::DryRun),
            "approve" => Some(Mode::Approve),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
            Mode::Approve => "approve",
        })
    }
}

/// A validated policy. Built only through `Policy::from_json` or `Policy::default` (both in
/// `load.rs`, which knows the guards).
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
    /// Account ids (or `*`) whose events are acted on; `accounts_exclude` wins over it.
    pub accounts_include: Vec<String>,
    pub accounts_exclude: Vec<String>,
    /// Account id -> mode, over the guards' modes (the dry-run ceiling still wins).
    mode_by_account: BTreeMap<String, Mode>,
    /// Whether a manual "Disable Access Key" request is honoured (the stack has a manual
    /// trigger).
    pub manual_trigger: bool,
    /// Whether the Security Hub finding an event carried is updated after acting on it:
    /// RESOLVED when every action is done or already done, NOTIFIED when people were told
    /// (finding.rs). Never in dry-run.
    pub update_findings: bool,
    /// Whether a GuardDuty finding is archived once every action on it is proved done, in
    /// the account it was delivered to (finding.rs). Off by default.
    pub archive_guardduty_findings: bool,
    /// Days the ledger keeps a remediation's report and its actions' reversals for
    /// `trailguard undo --event-id` (7 to 365: never shorter than a claim's exactly-once
    /// window).
    pub undo_retention_days: u32,
    /// Minutes a plan waits for approval (mode `approve`) before it expires: 1 to 10080 (a
    /// week).
    pub approval_ttl_minutes: u32,
    /// A central deployment's member role: its sessions are trailguard's own in member
    /// accounts only (set from the deployment, never from the policy file).
    member_role: Option<MemberRole>,
    /// Each guard's own settings (see `section.rs`).
    sections: Sections,
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

impl Policy {
    /// The shared settings' defaults, without any guard's section: the loader adds those
    /// (`Policy::default` in `load.rs`).
    pub(crate) fn shared_default() -> Policy {
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
            trusted_accounts: vec![],
            organization_id: String::new(),
            iam_admins: vec![],
            tag_admins: vec![],
            max_actions: BTreeMap::new(),
            accounts_include: vec!["*".into()],
            accounts_exclude: vec![],
            mode_by_account: BTreeMap::new(),
            manual_trigger: false,
            update_findings: true,
            archive_guardduty_findings: false,
            undo_retention_days: 30,
            approval_ttl_minutes: 60,
            member_role: None,
            sections: Sections::default(),
        }
    }

    /// The policy with a guard's settings (the loader calls this once per guard).
    pub(crate) fn with_section(mut self, spec: &SettingsSpec, section: Box<dyn Section>) -> Policy {
        self.sections.insert((spec.type_id)(), section);
        self
    }

    /// Every guard's settings, as the file writes them.
    pub(crate) fn sections(&self) -> impl Iterator<Item = &dyn Section> {
        self.sections.iter()
    }

    /// The mode names the policy sets (`mode.<name>`, without `default`).
    pub(crate) fn mode_names(&self) -> impl Iterator<Item = &str> {
        self.modes.keys().map(String::as_str)
    }

    /// The guard names whose breaker the policy sets (`max_actions_per_hour.<name>`).
    pub(crate) fn max_actions_names(&self) -> impl Iterator<Item = &str> {
        self.max_actions.keys().map(String::as_str)
    }

    /// A mode set from outside the policy (`TRAILGUARD_MODE`, the template's `Mode`):
    /// `dry-run` makes every guard plan without acting; `approve` makes every enforcing guard
    /// wait for approval; `enforce` leaves the policy's modes.
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

    /// The policy a person's approval runs under: every `approve` mode (the default, a
    /// guard's, an account's) read as `enforce`. The dry-run ceiling still wins, so an
    /// approval after the deployment went back to dry-run changes nothing.
    pub fn approved(&self) -> Policy {
        let enforce = |m: &Mode| {
            if *m == Mode::Approve {
                Mode::Enforce
            } else {
                *m
            }
        };
        let mut p = self.clone();
        p.ceiling = p.ceiling.map(|c| enforce(&c));
        p.mode_default = enforce(&p.mode_default);
        p.modes.values_mut().for_each(|m| *m = enforce(m));
        p.mode_by_account.values_mut().for_each(|m| *m = enforce(m));
        p
    }

    /// Whether the guard called `guard` may wait for approval in some account (its function
    /// then needs the manual-trigger bus and the ledger: `Settings::from_env` checks).
    pub fn asks_approval(&self, guard: &str) -> bool {
        (self.mode(guard) == Mode::Approve
            || self
                .mode_by_account
                .values()
                .any(|m| self.under_ceiling(*m) == Mode::Approve))
            && self.ceiling != Some(Mode::DryRun)
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

    /// What the deployment set from outside the file (the ceiling, the member role),
    /// carried over to a policy built again from the file form.
    pub(crate) fn with_deployment_of(mut self, other: &Policy) -> Policy {
        self.ceiling = other.ceiling;
        self.member_role = other.member_role.clone();
        self
    }
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
