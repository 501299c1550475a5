//! What the guards, the sweep and the handler ask the policy. Modes and breaker limits are
//! asked by guard name: the policy sits below the guards (`Guard::mode_in` and
//! `Guard::max_actions_per_hour` are the callers' way in).

use ipnet::IpNet;

use super::{Mode, Policy};
use crate::net::{PortRange, PortSpec, Protocol};

impl Policy {
    /// The mode the guard called `guard` runs in: the policy's `mode.<guard>`, else
    /// `mode.default`; a ceiling of dry-run ([`Policy::with_mode_ceiling`]) wins over both.
    pub fn mode(&self, guard: &str) -> Mode {
        let own = self.modes.get(guard).copied().unwrap_or(self.mode_default);
        self.under_ceiling(own)
    }

    /// A mode under the ceiling: dry-run wins over everything, approve over enforce.
    pub(crate) fn under_ceiling(&self, mode: Mode) -> Mode {
        match (self.ceiling, mode) {
            (Some(Mode::DryRun), _) => Mode::DryRun,
            (Some(Mode::Approve), Mode::Enforce) => Mode::Approve,
            _ => mode,
        }
    }

    /// The mode the guard called `guard` runs in for an event from `account`:
    /// `mode_by_account.<account>` when the policy sets one (enforce in sandboxes, dry-run in
    /// production), else [`Policy::mode`]; a ceiling of dry-run still wins.
    pub fn mode_in(&self, guard: &str, account: Option<&str>) -> Mode {
        match account.and_then(|a| self.mode_by_account.get(a)) {
            Some(m) => self.under_ceiling(*m),
            None => self.mode(guard),
        }
    }

    /// The breaker's limit for the guard called `guard`: the policy's
    /// `max_actions_per_hour.<guard>`, else `declared` (the guard's own default). 0: no
    /// limit.
    pub fn max_actions_per_hour(&self, guard: &str, declared: u32) -> u32 {
        self.max_actions.get(guard).copied().unwrap_or(declared)
    }

    /// Why an event from `account` is outside the accounts trailguard acts in, or None when
    /// it is inside: listed in (or `*` in) `accounts.include` and not in `accounts.exclude`.
    /// An event that names no account is about the function's own.
    /// Whether what trailguard does depends on the account (`accounts` or `mode_by_account`
    /// say something): then an action in an account it cannot name must not be taken.
    pub fn depends_on_account(&self) -> bool {
        !self.mode_by_account.is_empty()
            || !self.accounts_exclude.is_empty()
            || !self.accounts_include.iter().any(|a| a == "*")
    }

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

    /// The `tag_admins` pattern a principal matches, if one does.
    pub fn is_tag_admin(&self, arns: &[&str]) -> Option<String> {
        first_match(&self.tag_admins, arns)
    }

    /// The `iam_admins` pattern a principal matches, if one does.
    pub fn is_iam_admin(&self, arns: &[&str]) -> Option<String> {
        first_match(&self.iam_admins, arns)
    }

    /// The `exempt_principals` pattern a principal matches, if one does.
    pub fn is_exempt_principal(&self, arns: &[&str]) -> Option<String> {
        first_match(&self.exempt_principals, arns)
    }
}

fn first_match(patterns: &[String], arns: &[&str]) -> Option<String> {
    patterns
        .iter()
        .find(|p| arns.iter().any(|a| crate::glob::principal_matches(p, a)))
        .cloned()
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
