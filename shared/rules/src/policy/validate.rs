//! The policy's checks. Every error names the field as the file writes it
//! (`public_ports[1]`, `guardduty.notify_at`), so a user finds the line to fix.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::file::PolicyFile;
use super::{Policy, PolicyError, Sections};
use crate::ids::{is_account_id, is_organization_id};
use crate::net::PortSpec;

/// How long the ledger may keep what `trailguard undo` needs.
const UNDO_RETENTION_DAYS: std::ops::RangeInclusive<u32> = 7..=365;
/// A plan waits at least a minute and at most a week: past that, the change it answers is
/// better looked at afresh.
const APPROVAL_TTL_MINUTES: std::ops::RangeInclusive<u32> = 1..=10_080;

/// An error naming `f`.
pub fn field(f: impl Into<String>, p: impl Into<String>) -> PolicyError {
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

/// A list a guard's settings write as strings (ports, networks), with the values validation
/// parsed from them: the file form and the parsed form in one field, so a setting is
/// declared once. Serialised as the strings; deserialised unparsed, until
/// [`Parsed::parse_ports`] or [`Parsed::parse_networks`] (in the guard's `validate`).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    written: Vec<String>,
    values: Vec<T>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Parsed {
            written: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl<T: fmt::Display> Parsed<T> {
    /// Already parsed values (the defaults).
    pub fn of(values: Vec<T>) -> Parsed<T> {
        Parsed {
            written: values.iter().map(T::to_string).collect(),
            values,
        }
    }
}

impl<T> Parsed<T> {
    /// The parsed values (empty until validated).
    pub fn values(&self) -> &[T] {
        &self.values
    }
}

impl Parsed<PortSpec> {
    /// Parse the strings as port specs (`tcp/22`, `udp/1024-65535`); an error names
    /// `name[i]`. Afterwards the strings are written as the policy reads them.
    pub fn parse_ports(&mut self, name: &str) -> Result<(), PolicyError> {
        *self = Parsed::of(specs(name, &self.written)?);
        Ok(())
    }
}

impl Parsed<IpNet> {
    /// Parse the strings as CIDR blocks (host bits cleared); an error names `name[i]`.
    pub fn parse_networks(&mut self, name: &str) -> Result<(), PolicyError> {
        *self = Parsed::of(nets(name, &self.written)?);
        Ok(())
    }
}

impl<T> Serialize for Parsed<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.written.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Parsed {
            written: Vec::<String>::deserialize(d)?,
            values: Vec::new(),
        })
    }
}

/// Every entry of `list` checked by `ok`; the first that is not names `name[i]`.
pub fn each<T>(
    name: &str,
    list: &[T],
    problem: impl Fn(&T) -> Option<String>,
) -> Result<(), PolicyError> {
    for (i, v) in list.iter().enumerate() {
        if let Some(p) = problem(v) {
            return Err(field(format!("{name}[{i}]"), p));
        }
    }
    Ok(())
}

/// The tag keys trailguard watches for changes: its exemption and protection tags must be
/// among them.
pub const WATCHED_TAG_PREFIX: &str = "trailguard:";

impl Policy {
    /// The shared settings, validated. The names in `mode` and `max_actions_per_hour` are
    /// guards' names: the loader checks them against the registry (`load.rs`).
    pub(crate) fn from_shared_file(file: PolicyFile) -> Result<Policy, PolicyError> {
        let mut mode_default = Policy::shared_default().mode_default;
        let mut modes = BTreeMap::new();
        for (k, m) in &file.mode {
            if k == "default" {
                mode_default = *m;
            } else {
                modes.insert(k.clone(), *m);
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
        for (name, list) in [
            ("exempt_principals", &file.exempt_principals),
            ("iam_admins", &file.iam_admins),
            ("tag_admins", &file.tag_admins),
        ] {
            each(name, list, |p| too_broad(p))?;
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
            each(name, list, |a| {
                (a != "*" && !is_account_id(a))
                    .then(|| format!("`{a}` is not an account id (12 digits) or `*`"))
            })?;
        }
        for a in file.mode_by_account.keys() {
            if !is_account_id(a) {
                return Err(field(
                    format!("mode_by_account.{a}"),
                    format!("`{a}` is not an account id (12 digits)"),
                ));
            }
        }
        each("trusted_accounts", &file.trusted_accounts, |a| {
            (!is_account_id(a)).then(|| format!("`{a}` is not an account id (12 digits)"))
        })?;
        if !(UNDO_RETENTION_DAYS.contains(&file.undo_retention_days)) {
            return Err(field(
                "undo_retention_days",
                format!(
                    "{} days: from {} (a claim's exactly-once window) to {} (a year)",
                    file.undo_retention_days,
                    UNDO_RETENTION_DAYS.start(),
                    UNDO_RETENTION_DAYS.end()
                ),
            ));
        }
        if !(APPROVAL_TTL_MINUTES.contains(&file.approval_ttl_minutes)) {
            return Err(field(
                "approval_ttl_minutes",
                format!(
                    "{} minutes: from {} to {} (a week)",
                    file.approval_ttl_minutes,
                    APPROVAL_TTL_MINUTES.start(),
                    APPROVAL_TTL_MINUTES.end()
                ),
            ));
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
        let trimmed = |list: &[String]| list.iter().map(|s| s.trim().to_string()).collect();
        Ok(Policy {
            mode_default,
            modes,
            ceiling: None,
            public_ports: specs("public_ports", &file.public_ports)?,
            ipv4_prefix_shorter_than: pn.ipv4_prefix_shorter_than,
            ipv6_prefix_shorter_than: pn.ipv6_prefix_shorter_than,
            private_ranges: nets("public_networks.private_ranges", &pn.private_ranges)?,
            allow_public_icmp: file.allow_public_icmp,
            exempt_principals: trimmed(&file.exempt_principals),
            own_roles: file.own_roles.clone(),
            exempt_tag: file.exempt_tag.trim().to_string(),
            protected_tag: file.protected_tag.trim().to_string(),
            trusted_accounts: file.trusted_accounts.clone(),
            organization_id: org.to_string(),
            iam_admins: trimmed(&file.iam_admins),
            tag_admins: trimmed(&file.tag_admins),
            max_actions: file.max_actions_per_hour.clone(),
            accounts_include: file.accounts.include.clone(),
            accounts_exclude: file.accounts.exclude.clone(),
            mode_by_account: file.mode_by_account.clone(),
            manual_trigger: file.manual_trigger,
            update_findings: file.update_findings,
            archive_guardduty_findings: file.archive_guardduty_findings,
            undo_retention_days: file.undo_retention_days,
            approval_ttl_minutes: file.approval_ttl_minutes,
            member_role: None,
            sections: Sections::default(),
        })
    }
}

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
