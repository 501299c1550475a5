//! The shared settings as users write them. Every field is optional; left out, it takes the
//! default, and the defaults come from the one default policy (`Policy::shared_default`).
//! Guards' own keys are not here: each guard's `Settings` is its own file form.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{Mode, Policy, PolicyError};

/// The shared part of the policy as users write it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyFile {
    /// `default` and one entry per guard name (`security_group`, `access_key`, ...).
    pub(crate) mode: BTreeMap<String, Mode>,
    pub(crate) public_ports: Vec<String>,
    pub(crate) public_networks: PublicNetworksFile,
    pub(crate) allow_public_icmp: bool,
    pub(crate) exempt_principals: Vec<String>,
    pub(crate) own_roles: Vec<String>,
    pub(crate) exempt_tag: String,
    pub(crate) protected_tag: String,
    pub(crate) trusted_accounts: Vec<String>,
    pub(crate) organization_id: String,
    pub(crate) iam_admins: Vec<String>,
    pub(crate) tag_admins: Vec<String>,
    /// Guard name -> the most mutating actions in any hour (the blast-radius breaker).
    pub(crate) max_actions_per_hour: BTreeMap<String, u32>,
    /// The accounts trailguard acts in (central deployments receive every member's events).
    pub(crate) accounts: AccountsFile,
    /// Account id -> mode, over the guards' modes for events from that account.
    pub(crate) mode_by_account: BTreeMap<String, Mode>,
    /// Whether the stack has a manual trigger (its own bus, ManualTriggerPrincipals): only
    /// then is a "Disable Access Key" request honoured. The template sets it
    /// (`TRAILGUARD_MANUAL_TRIGGER`, which wins over this field).
    pub(crate) manual_trigger: bool,
    /// After acting on a Security Hub finding (or telling people of it), set its workflow
    /// status and a note (finding.rs).
    pub(crate) update_findings: bool,
    /// Archive a GuardDuty finding once its credentials are contained (finding.rs).
    pub(crate) archive_guardduty_findings: bool,
    /// Days the ledger keeps what `trailguard undo` needs: the reports and each action's
    /// reversal.
    pub(crate) undo_retention_days: u32,
    /// Minutes a plan of mode `approve` waits for a person's approval.
    pub(crate) approval_ttl_minutes: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountsFile {
    #[serde(default = "default_include")]
    pub(crate) include: Vec<String>,
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublicNetworksFile {
    #[serde(default = "default_v4_limit")]
    pub(crate) ipv4_prefix_shorter_than: u8,
    #[serde(default = "default_v6_limit")]
    pub(crate) ipv6_prefix_shorter_than: u8,
    #[serde(default = "default_private_ranges")]
    pub(crate) private_ranges: Vec<String>,
}

// Nested sections take their defaults field by field from the one default policy.
fn default_v4_limit() -> u8 {
    Policy::shared_default().ipv4_prefix_shorter_than
}
fn default_v6_limit() -> u8 {
    Policy::shared_default().ipv6_prefix_shorter_than
}
fn default_private_ranges() -> Vec<String> {
    strings(&Policy::shared_default().private_ranges)
}
fn default_include() -> Vec<String> {
    Policy::shared_default().accounts_include
}

pub(crate) fn strings<T: fmt::Display>(v: &[T]) -> Vec<String> {
    v.iter().map(T::to_string).collect()
}

impl Default for PolicyFile {
    fn default() -> Self {
        Policy::shared_default().to_file()
    }
}

impl Policy {
    /// The shared settings in the form users write, every default filled in.
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
            trusted_accounts: self.trusted_accounts.clone(),
            organization_id: self.organization_id.clone(),
            iam_admins: self.iam_admins.clone(),
            tag_admins: self.tag_admins.clone(),
            max_actions_per_hour: self.max_actions.clone(),
            accounts: AccountsFile {
                include: self.accounts_include.clone(),
                exclude: self.accounts_exclude.clone(),
            },
            mode_by_account: self.mode_by_account.clone(),
            manual_trigger: self.manual_trigger,
            update_findings: self.update_findings,
            archive_guardduty_findings: self.archive_guardduty_findings,
            undo_retention_days: self.undo_retention_days,
            approval_ttl_minutes: self.approval_ttl_minutes,
        }
    }
}

/// The policy file's top-level object, read so that a key written twice is an error at
/// any depth (as serde's structs refuse a field written twice, and a policy must not say
/// two things). Anything but an object is the error the shared file form gives for it.
pub(crate) fn parse_object(text: &str) -> Result<Map<String, Value>, PolicyError> {
    let syntax = |path: String, problem: String| PolicyError::Syntax { path, problem };
    let de = &mut serde_json::Deserializer::from_str(text);
    let Strict(value) = serde_path_to_error::deserialize(de)
        .map_err(|e| syntax(e.path().to_string(), e.inner().to_string()))?;
    match value {
        Value::Object(m) => Ok(m),
        other => match serde_path_to_error::deserialize::<_, PolicyFile>(other) {
            Err(e) => Err(syntax(e.path().to_string(), e.inner().to_string())),
            Ok(_) => Err(syntax(".".into(), "the policy is not a JSON object".into())),
        },
    }
}

/// A JSON value whose objects name each key once.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Strict(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                return Err(de::Error::custom(format!("duplicate field `{k}`")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(Strict(Value::Object(out)))
    }
}
