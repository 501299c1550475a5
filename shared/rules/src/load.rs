//! The policy with the guards: reading the file (each guard takes its own keys, the rest is
//! the shared form), checking the names of guards the file uses, the one default policy,
//! and the file form back. Above the guards, so the policy itself (`policy/`) never names
//! one.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::guards::{key, Guard};
use crate::policy::{field, Additions, Policy, PolicyError, PolicyFile};

impl Default for Policy {
    /// The one set of defaults: the shared ones and every guard's.
    fn default() -> Self {
        Guard::all()
            .filter_map(|g| g.spec().settings)
            .fold(Policy::shared_default(), |p, s| {
                p.with_section(s, (s.default)())
            })
    }
}

/// The shared form's keys followed by the guards' own, as the file writes them.
#[derive(Serialize)]
struct FileForm {
    #[serde(flatten)]
    shared: PolicyFile,
    #[serde(flatten)]
    guards: Map<String, Value>,
}

impl Policy {
    /// Parse and validate a policy. Fields left out take their defaults; unknown fields are
    /// errors (a typo must not silently weaken the policy).
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        Policy::from_object(crate::policy::parse_object(text)?)
    }

    fn from_object(mut file: Map<String, Value>) -> Result<Policy, PolicyError> {
        let mut sections = Vec::new();
        let mut guard_keys = Vec::new();
        for spec in Guard::all().filter_map(|g| g.spec().settings) {
            let mut own = Map::new();
            for k in spec.keys() {
                if let Some(v) = file.remove(&k) {
                    own.insert(k.clone(), v);
                }
                guard_keys.push(k);
            }
            sections.push((spec, (spec.parse)(own)?));
        }
        let shared_keys = shared_keys();
        if let Some(k) = file.keys().find(|k| !shared_keys.contains(k)) {
            let mut known: Vec<String> = shared_keys.iter().cloned().chain(guard_keys).collect();
            known.sort();
            let expected = known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(PolicyError::Syntax {
                path: k.clone(),
                problem: format!("unknown field `{k}`, expected one of {expected}"),
            });
        }
        let shared: PolicyFile =
            serde_path_to_error::deserialize(Value::Object(file)).map_err(|e| {
                PolicyError::Syntax {
                    path: e.path().to_string(),
                    problem: e.inner().to_string(),
                }
            })?;
        let policy = Policy::from_shared_file(shared)?;
        check_guard_names(&policy)?;
        Ok(sections
            .into_iter()
            .fold(policy, |p, (spec, s)| p.with_section(spec, s)))
    }

    /// The policy as the file writes it, every default filled in: the shared keys, then
    /// each guard's.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.file_form()).unwrap_or_default()
    }

    /// The policy with every default filled in, as JSON (what `trailguard policy default`
    /// prints and what `policy check` echoes back).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.file_form()).unwrap_or_default()
    }

    fn file_form(&self) -> FileForm {
        FileForm {
            shared: self.to_file(),
            guards: self.sections().flat_map(|s| s.to_json()).collect(),
        }
    }

    /// The policy with more honeytoken keys, trusted networks and trusted accounts, and
    /// maybe another organization: the template passes these as parameters, because its
    /// event patterns need them too. Added to the file form and validated like the file.
    pub fn with_additions(&self, add: &Additions) -> Result<Policy, PolicyError> {
        let Value::Object(mut file) = self.to_json() else {
            return Err(field(".", "the policy has no file form"));
        };
        for (key, more) in [
            ("honeytoken_access_keys", &add.honeytoken_access_keys),
            ("trusted_networks", &add.trusted_networks),
            ("trusted_accounts", &add.trusted_accounts),
        ] {
            if let Some(Value::Array(list)) = file.get_mut(key) {
                for k in more {
                    let v = Value::String(k.clone());
                    if !list.contains(&v) {
                        list.push(v);
                    }
                }
            }
        }
        if let Some(org) = &add.organization_id {
            file.insert("organization_id".into(), Value::String(org.clone()));
        }
        Ok(Policy::from_object(file)?.with_deployment_of(self))
    }

    /// The values of a template parameter that some rule patterns use (`"{{Name}}"`): the
    /// template gives the same values to the policy, so the code matches as the rule does.
    pub fn template_parameter(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "HoneytokenAccessKeyIds" => Some(key::settings(self).honeytoken_access_keys.clone()),
            _ => None,
        }
    }

    /// Whether a template condition that creates a rule holds for this policy. Conditions
    /// the policy does not decide hold (the rule exists when the event arrives).
    pub fn template_condition(&self, name: &str) -> bool {
        match name {
            "HasHoneytokens" => !key::settings(self).honeytoken_access_keys.is_empty(),
            "WatchLongTermKeys" => !key::settings(self).trusted_networks.values().is_empty(),
            "HasManualTrigger" => self.manual_trigger,
            _ => true,
        }
    }
}

/// The shared form's top-level keys.
fn shared_keys() -> Vec<String> {
    match serde_json::to_value(PolicyFile::default()) {
        Ok(Value::Object(m)) => m.into_iter().map(|(k, _)| k).collect(),
        _ => Vec::new(),
    }
}

/// `mode.<guard>` and `max_actions_per_hour.<guard>` name guards, and a breaker only a
/// guard that acts.
fn check_guard_names(policy: &Policy) -> Result<(), PolicyError> {
    let names = |acting: bool| {
        Guard::all()
            .filter(|g| !acting || !g.spec().actions.is_empty())
            .map(|g| g.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(k) = policy.mode_names().find(|k| Guard::by_name(k).is_none()) {
        return Err(field(
            format!("mode.{k}"),
            format!(
                "no guard is called `{k}` (one of: default, {})",
                names(false)
            ),
        ));
    }
    for k in policy.max_actions_names() {
        match Guard::by_name(k) {
            Some(g) if g.spec().actions.is_empty() => {
                return Err(field(
                    format!("max_actions_per_hour.{k}"),
                    format!("guard `{k}` never acts, so it has no breaker"),
                ))
            }
            Some(_) => {}
            None => {
                return Err(field(
                    format!("max_actions_per_hour.{k}"),
                    format!("no guard is called `{k}` (one of: {})", names(true)),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ipnet::IpNet;

    use crate::guards::{key, Guard};
    use crate::net::{PortRange, Protocol};
    use crate::policy::{too_broad, Mode, Policy, PolicyError};

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
        assert_eq!(
            key::settings(&p).guardduty.notify_at,
            key::settings(&d).guardduty.notify_at
        );
        assert_eq!(guard("security_group").mode(&d), Mode::Enforce);
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
        assert_eq!(guard("access_key").max_actions_per_hour(&p), 5);
        assert_eq!(
            guard("security_group").max_actions_per_hour(&p),
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
    fn undo_retention_is_a_week_to_a_year() {
        assert_eq!(Policy::default().undo_retention_days, 30);
        let p = Policy::from_json(r#"{"undo_retention_days": 90}"#).unwrap();
        assert_eq!(p.undo_retention_days, 90);
        assert_eq!(Policy::from_json(&p.to_json_pretty()).unwrap(), p);
        for bad in ["6", "366", "0"] {
            let e = Policy::from_json(&format!(r#"{{"undo_retention_days": {bad}}}"#)).unwrap_err();
            assert!(
                e.to_string().contains("`undo_retention_days`") && e.to_string().contains("from 7"),
                "{e}"
            );
        }
        let e = Policy::from_json(r#"{"undo_retention_days": "30"}"#).unwrap_err();
        assert!(e.to_string().contains("undo_retention_days"), "{e}");
    }

    #[test]
    fn approval_waits_a_minute_to_a_week_and_approve_sits_between_the_other_modes() {
        assert_eq!(Policy::default().approval_ttl_minutes, 60);
        let p = Policy::from_json(
            r#"{"approval_ttl_minutes": 15, "mode": {"default": "enforce", "iam": "approve"},
                "mode_by_account": {"210987654321": "approve", "444455556666": "dry-run"}}"#,
        )
        .unwrap();
        assert_eq!(p.approval_ttl_minutes, 15);
        assert_eq!(Policy::from_json(&p.to_json_pretty()).unwrap(), p);
        for bad in ["0", "10081"] {
            let e =
                Policy::from_json(&format!(r#"{{"approval_ttl_minutes": {bad}}}"#)).unwrap_err();
            assert!(e.to_string().contains("`approval_ttl_minutes`"), "{e}");
        }
        let iam = guard("iam");
        let sg = guard("security_group");
        assert_eq!(iam.mode(&p), Mode::Approve);
        assert_eq!(sg.mode_in(&p, Some("210987654321")), Mode::Approve);
        assert_eq!(sg.mode_in(&p, Some("123456789012")), Mode::Enforce);
        assert!(p.asks_approval("security_group") && p.asks_approval("iam"));
        // An approval runs with approve read as enforce; dry-run stays dry-run.
        let approved = p.approved();
        assert_eq!(iam.mode(&approved), Mode::Enforce);
        assert_eq!(sg.mode_in(&approved, Some("210987654321")), Mode::Enforce);
        assert_eq!(sg.mode_in(&approved, Some("444455556666")), Mode::DryRun);
        // The template's Mode: dry-run wins over approve, approve over enforce.
        let dry = p.clone().with_mode_ceiling(Mode::DryRun);
        assert_eq!(iam.mode(&dry), Mode::DryRun);
        assert_eq!(sg.mode_in(&dry, Some("210987654321")), Mode::DryRun);
        assert_eq!(iam.mode(&dry.approved()), Mode::DryRun);
        assert!(!dry.asks_approval("iam"));
        let waits = Policy::default().with_mode_ceiling(Mode::Approve);
        assert!(Guard::all().all(|g| g.mode(&waits) == Mode::Approve));
        assert_eq!(sg.mode_in(&waits, Some("444455556666")), Mode::Approve);
        assert!(Guard::all().all(|g| g.mode(&waits.approved()) == Mode::Enforce));
        assert_eq!(Mode::parse(" Approve "), Some(Mode::Approve));
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
        assert_eq!(guard("access_key").mode(&p), Mode::Enforce);
        assert_eq!(guard("security_group").mode(&p), Mode::DryRun);
        let enforce = p.clone().with_mode_ceiling(Mode::Enforce);
        assert_eq!(guard("security_group").mode(&enforce), Mode::DryRun);
        let dry = Policy::default().with_mode_ceiling(Mode::DryRun);
        assert!(Guard::all().all(|g| g.mode(&dry) == Mode::DryRun));
        let back = Policy::from_json(&p.to_json_pretty()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn guards_take_their_own_keys() {
        // A key has one owner: the shared form or exactly one guard.
        let mut owner: std::collections::BTreeMap<String, String> = super::shared_keys()
            .into_iter()
            .map(|k| (k, "shared".into()))
            .collect();
        for g in Guard::all() {
            for k in g.spec().settings.map(|s| s.keys()).unwrap_or_default() {
                if let Some(other) = owner.insert(k.clone(), g.name().into()) {
                    panic!("`{k}` is both {other}'s and {g}'s");
                }
            }
        }
        // Each guard's defaults are valid: `SettingsSpec::default` relies on it.
        for g in Guard::all() {
            if let Some(spec) = g.spec().settings {
                let keys = serde_json::Value::Object((spec.default)().to_json());
                assert!((spec.parse)(serde_json::Map::new()).is_ok(), "{g}");
                let json = keys.to_string();
                assert!(Policy::from_json(&json).is_ok(), "{g}: {json}");
            }
        }
        let e =
            Policy::from_json(r#"{"network_acl": {"ephemeral_ports": ["tcp/x"]}}"#).unwrap_err();
        assert!(
            matches!(&e, PolicyError::Field { field, .. } if field == "network_acl.ephemeral_ports[0]"),
            "{e}"
        );
        let e = Policy::from_json(r#"{"egress_denied_ports": ["smtp"]}"#).unwrap_err();
        assert!(
            matches!(&e, PolicyError::Field { field, .. } if field == "egress_denied_ports[0]"),
            "{e}"
        );
        let e = Policy::from_json(r#"{"protected_network_acls": ["sg-1"]}"#).unwrap_err();
        assert!(
            matches!(&e, PolicyError::Field { field, .. } if field == "protected_network_acls[0]"),
            "{e}"
        );
        let e = Policy::from_json(r#"{"key_activity_hours": 9999}"#).unwrap_err();
        assert!(
            matches!(&e, PolicyError::Field { field, .. } if field == "key_activity_hours"),
            "{e}"
        );
        let e = Policy::from_json(r#"{"cloudtrail": {"min_log_retention": 1}}"#).unwrap_err();
        assert!(e.to_string().contains("min_log_retention"), "{e}");
        // An unknown top-level key is named, with every key the policy knows.
        let e = Policy::from_json(r#"{"revoke_session": false}"#).unwrap_err();
        assert!(
            matches!(&e, PolicyError::Syntax { path, .. } if path == "revoke_session"),
            "{e}"
        );
        for k in ["`mode`", "`revoke_sessions`", "`network_acl`", "`iam`"] {
            assert!(e.to_string().contains(k), "{k}: {e}");
        }
        // A key written twice says two things: refused, at any depth.
        let e = Policy::from_json(r#"{"tag_users": true, "tag_users": false}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field `tag_users`"), "{e}");
        let e = Policy::from_json(
            r#"{"iam": {"contain_backdoor_keys": true, "contain_backdoor_keys": false}}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("duplicate field `contain_backdoor_keys`"),
            "{e}"
        );
    }

    #[test]
    fn a_guard_reads_what_the_file_says() {
        let p = Policy::from_json(
            r#"{"iam": {"contain_backdoor_keys": true}, "trusted_networks": ["10.1.2.3/16"],
                "network_acl": {"on_replace": "delete"}, "cloudtrail": {"min_log_retention_days": 30}}"#,
        )
        .unwrap();
        assert!(crate::guards::iam::settings(&p).iam.contain_backdoor_keys);
        assert!(key::settings(&p).is_trusted_ip("10.1.200.1"));
        assert!(!key::settings(&p).is_trusted_ip("10.2.0.1"));
        assert_eq!(
            crate::guards::nacl::settings(&p).network_acl.on_replace,
            crate::guards::nacl::OnReplace::Delete
        );
        assert_eq!(
            crate::guards::cloudtrail::settings(&p)
                .cloudtrail
                .min_log_retention_days,
            30
        );
        // Written back as the policy reads it (host bits cleared), and read back the same.
        assert!(p.to_json_pretty().contains("\"10.1.0.0/16\""));
        assert_eq!(Policy::from_json(&p.to_json_pretty()).unwrap(), p);
        assert_ne!(p, Policy::default());
    }

    #[test]
    fn additions_reach_the_guards_settings() {
        let add = crate::policy::Additions {
            honeytoken_access_keys: vec!["AKIA5HONEYTOKEN00001".into()],
            trusted_networks: vec!["203.0.113.0/24".into()],
            trusted_accounts: vec!["111122223333".into()],
            organization_id: Some("o-a1b2c3d4e5".into()),
        };
        let base = Policy::default().with_mode_ceiling(Mode::DryRun);
        let p = base.with_additions(&add).unwrap();
        assert_eq!(
            key::settings(&p).honeytoken_access_keys,
            ["AKIA5HONEYTOKEN00001"]
        );
        assert!(key::settings(&p).is_trusted_ip("203.0.113.9"));
        assert_eq!(p.trusted_accounts, ["111122223333"]);
        assert_eq!(p.organization_id, "o-a1b2c3d4e5");
        assert!(
            p.template_condition("HasHoneytokens") && p.template_condition("WatchLongTermKeys")
        );
        assert_eq!(guard("access_key").mode(&p), Mode::DryRun);
        let bad = crate::policy::Additions {
            honeytoken_access_keys: vec!["nope".into()],
            ..Default::default()
        };
        let e = Policy::default().with_additions(&bad).unwrap_err();
        assert!(e.to_string().contains("honeytoken_access_keys[0]"), "{e}");
    }
}
