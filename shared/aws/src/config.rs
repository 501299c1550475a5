//! Configuration, read once at cold start. Every error names the variable that is wrong; a
//! bad configuration fails the init, visibly, instead of remediating with the wrong policy.

use thiserror::Error;
use trailguard_rules::{Additions, Decider, Guard, Mode, Policy, PolicyError};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {var}: {source}")]
    Policy {
        var: &'static str,
        source: PolicyError,
    },
    #[error("environment variable {var}: {problem}")]
    Invalid { var: &'static str, problem: String },
}

/// What a function knows about itself and its policy.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The function's guard and its decisions (the only guard's decisions it links).
    pub decider: &'static Decider,
    pub policy: Policy,
    /// The function's own role ARN: its own changes are never acted on.
    pub own_role_arn: Option<String>,
    pub topic_arn: Option<String>,
    pub event_bus: Option<String>,
    /// `AWS_ENDPOINT_URL`, when the clients talk to something other than AWS (an emulator):
    /// messages about calls it does not answer say so.
    pub endpoint_url: Option<String>,
    /// The ledger table (`TRAILGUARD_LEDGER_TABLE`): the breaker's counts and exactly-once
    /// claims. None: neither (a function deployed without the stack's table).
    pub ledger_table: Option<String>,
    /// The region the function runs in (`AWS_REGION`, which Lambda sets): where a sweep
    /// lists.
    pub region: Option<String>,
    /// The most resources one sweep run looks at (`TRAILGUARD_SWEEP_MAX_RESOURCES`; None: as
    /// many as the invocation's time allows). Bounds a run's API calls in very large accounts.
    pub sweep_max_resources: Option<u64>,
    /// The role a central deployment assumes in member accounts (`TRAILGUARD_MEMBER_ROLE_NAME`,
    /// the templates' MemberRoleName). None: the function acts in its own account only.
    pub member_role_name: Option<String>,
    /// The function's own account: from its role ARN, or asked of STS at cold start. Events
    /// from it need no role.
    pub own_account: Option<String>,
}

impl Settings {
    /// Read `TRAILGUARD_POLICY` (inline JSON; empty means the embedded default) or
    /// `TRAILGUARD_POLICY_FILE`, `TRAILGUARD_HONEYTOKEN_KEYS`, `TRAILGUARD_TRUSTED_NETWORKS` and
    /// `TRAILGUARD_TRUSTED_ACCOUNTS` (comma-separated, added to the policy),
    /// `TRAILGUARD_ORGANIZATION_ID` (replaces the policy's), `TRAILGUARD_MODE` (`enforce` | `dry-run`;
    /// empty keeps the policy's modes), `TRAILGUARD_TOPIC_ARN`, `TRAILGUARD_EVENT_BUS` and
    /// `TRAILGUARD_OWN_ROLE_ARN` through `get`. `TRAILGUARD_MODE=dry-run` makes every guard
    /// plan without acting, whatever the policy says; `enforce` leaves the policy's modes.
    pub fn from_vars(
        decider: &'static Decider,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let non_empty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut policy = match (
            non_empty("TRAILGUARD_POLICY"),
            non_empty("TRAILGUARD_POLICY_FILE"),
        ) {
            (Some(text), _) => Policy::from_json(&text).map_err(|source| ConfigError::Policy {
                var: "TRAILGUARD_POLICY",
                source,
            })?,
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                    var: "TRAILGUARD_POLICY_FILE",
                    problem: format!("{path}: {e}"),
                })?;
                Policy::from_json(&text).map_err(|source| ConfigError::Policy {
                    var: "TRAILGUARD_POLICY_FILE",
                    source,
                })?
            }
            (None, None) => Policy::default(),
        };
        let list = |k: &str| -> Vec<String> {
            non_empty(k)
                .map(|v| {
                    v.split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let additions = Additions {
            honeytoken_access_keys: list("TRAILGUARD_HONEYTOKEN_KEYS"),
            trusted_networks: list("TRAILGUARD_TRUSTED_NETWORKS"),
            trusted_accounts: list("TRAILGUARD_TRUSTED_ACCOUNTS"),
            organization_id: non_empty("TRAILGUARD_ORGANIZATION_ID"),
        };
        if !additions.is_empty() {
            policy = policy
                .with_additions(&additions)
                .map_err(|source| ConfigError::Policy {
                    var: "TRAILGUARD_HONEYTOKEN_KEYS/TRUSTED_NETWORKS/TRUSTED_ACCOUNTS/ORGANIZATION_ID",
                    source,
                })?;
        }
        if let Some(m) = non_empty("TRAILGUARD_MODE") {
            let mode = Mode::parse(&m).ok_or_else(|| ConfigError::Invalid {
                var: "TRAILGUARD_MODE",
                problem: format!("`{m}` is not `enforce`, `dry-run` or `approve`"),
            })?;
            policy = policy.with_mode_ceiling(mode);
        }
        let own_role_arn = non_empty("TRAILGUARD_OWN_ROLE_ARN");
        if let Some(arn) = &own_role_arn {
            if !arn.contains(":role/") {
                return Err(ConfigError::Invalid {
                    var: "TRAILGUARD_OWN_ROLE_ARN",
                    problem: format!("`{arn}` is not a role ARN"),
                });
            }
        }
        let sweep_max_resources = match non_empty("TRAILGUARD_SWEEP_MAX_RESOURCES") {
            None => None,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "TRAILGUARD_SWEEP_MAX_RESOURCES",
                        problem: format!("`{v}` is not a whole number above 0"),
                    })
                }
            },
        };
        let member_role_name = non_empty("TRAILGUARD_MEMBER_ROLE_NAME");
        if let Some(name) = &member_role_name {
            if let Some(problem) = role_name_problem(name) {
                return Err(ConfigError::Invalid {
                    var: "TRAILGUARD_MEMBER_ROLE_NAME",
                    problem,
                });
            }
        }
        let own_account = own_role_arn.as_deref().and_then(account_of_arn);
        if let Some(name) = &member_role_name {
            // The member role's sessions make trailguard's changes in member accounts: there,
            // and only there, they are trailguard's own and never acted on.
            policy = policy.with_member_role(name, own_account.as_deref());
        }
        match non_empty("TRAILGUARD_MANUAL_TRIGGER").as_deref() {
            None => {}
            Some("true") => policy = policy.with_manual_trigger(true),
            Some("false") => policy = policy.with_manual_trigger(false),
            Some(v) => {
                return Err(ConfigError::Invalid {
                    var: "TRAILGUARD_MANUAL_TRIGGER",
                    problem: format!("`{v}` is not `true` or `false`"),
                })
            }
        }
        let ledger_table = non_empty("TRAILGUARD_LEDGER_TABLE");
        // A plan nobody can approve would wait in vain: say so at cold start, naming the field.
        let guard = decider.guard();
        if policy.asks_approval(guard.name()) && !(policy.manual_trigger && ledger_table.is_some())
        {
            return Err(ConfigError::Policy {
                var: "TRAILGUARD_POLICY",
                source: trailguard_rules::PolicyError::Field {
                    field: format!("mode.{}", guard.name()),
                    problem: format!(
                        "`approve` (here or in mode_by_account) needs the stack's manual-trigger bus \
                         (ManualTriggerPrincipals; TRAILGUARD_MANUAL_TRIGGER is {}) and its ledger \
                         table (TRAILGUARD_LEDGER_TABLE is {})",
                        policy.manual_trigger,
                        if ledger_table.is_some() { "set" } else { "not set" }
                    ),
                },
            });
        }
        let topic_arn = non_empty("TRAILGUARD_TOPIC_ARN");
        if let Some(t) = &topic_arn {
            if !t.starts_with("arn:") {
                return Err(ConfigError::Invalid {
                    var: "TRAILGUARD_TOPIC_ARN",
                    problem: format!("`{t}` is not an SNS topic ARN"),
                });
            }
        }
        Ok(Settings {
            decider,
            policy,
            own_role_arn,
            topic_arn,
            event_bus: non_empty("TRAILGUARD_EVENT_BUS"),
            endpoint_url: non_empty("AWS_ENDPOINT_URL"),
            ledger_table,
            region: non_empty("AWS_REGION").or_else(|| non_empty("AWS_DEFAULT_REGION")),
            sweep_max_resources,
            member_role_name,
            own_account,
        })
    }

    pub fn from_env(decider: &'static Decider) -> Result<Settings, ConfigError> {
        Settings::from_vars(decider, |k| std::env::var(k).ok())
    }

    /// The function's guard.
    pub fn guard(&self) -> Guard {
        self.decider.guard()
    }
}

/// The shared AWS configuration: region, credentials and `AWS_ENDPOINT_URL` (which points
/// every client at moto in the tests and the demo) from the environment.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts())
        .load()
        .await
}

/// A call that hangs must not eat the invocation: each attempt gets 5 s (AWS answers these
/// calls in well under a second), the call with its retries 20 s, so a 30 s function still
/// has time to report the failure, notify and return a retryable error.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(std::time::Duration::from_secs(5))
        .operation_timeout(std::time::Duration::from_secs(20))
        .build()
}

/// The HTTPS client the SDK clients share: hyper and rustls with ring, trusting the system's
/// certificates. The SDK's default client is rustls with aws-lc, which makes each binary
/// about 1.5 MB larger for the same handshakes.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// When the template did not pass the role ARN (a `cargo lambda deploy` without it), ask
/// STS once at cold start: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` names the role
/// and the account. A caller that is not a role (a local run with a user's keys) still
/// tells the account.
pub async fn discover_own_role(sdk: &aws_config::SdkConfig) -> (Option<String>, Option<String>) {
    let Ok(out) = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
    else {
        return (None, None);
    };
    let account = out.account().map(String::from);
    let role = out.arn().and_then(|arn| {
        let f: Vec<&str> = arn.splitn(6, ':').collect();
        let role = f.get(5)?.strip_prefix("assumed-role/")?.split('/').next()?;
        Some(format!("arn:{}:iam::{}:role/{role}", f.get(1)?, f.get(4)?))
    });
    (role, account)
}

/// The account of an ARN (`arn:aws:iam::123456789012:role/x`).
pub fn account_of_arn(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| trailguard_rules::ids::is_account_id(a))
        .map(String::from)
}

/// What IAM would refuse in a role name: 1-64 letters, digits and `+=,.@_-`.
pub fn role_name_problem(name: &str) -> Option<String> {
    let bad: Vec<char> = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
        .collect();
    if name.is_empty() || name.len() > 64 {
        Some(format!(
            "`{name}` is not a role name: IAM role names are 1-64 characters"
        ))
    } else if !bad.is_empty() {
        Some(format!(
            "`{name}` is not a role name: IAM refuses {:?} (letters, digits and +=,.@_- only)",
            bad
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sg() -> &'static Decider {
        Decider::by_name("security_group").unwrap()
    }

    fn key() -> &'static Decider {
        Decider::by_name("access_key").unwrap()
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn errors_name_the_variable_and_field() {
        let e = Settings::from_vars(
            sg(),
            vars(&[("TRAILGUARD_POLICY", r#"{"public_ports": ["tcp/x"]}"#)]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("TRAILGUARD_POLICY") && e.contains("public_ports[0]"),
            "{e}"
        );
        let e = Settings::from_vars(sg(), vars(&[("TRAILGUARD_MODE", "yolo")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("TRAILGUARD_MODE"), "{e}");
        let e = Settings::from_vars(sg(), vars(&[("TRAILGUARD_TOPIC_ARN", "my-topic")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("TRAILGUARD_TOPIC_ARN"), "{e}");
    }

    #[test]
    fn template_lists_are_added_to_the_policy() {
        let s = Settings::from_vars(
            key(),
            vars(&[
                ("TRAILGUARD_HONEYTOKEN_KEYS", "AKIA5HONEYTOKEN00001, "),
                ("TRAILGUARD_TRUSTED_NETWORKS", "198.51.100.0/24"),
            ]),
        )
        .unwrap();
        assert_eq!(
            trailguard_rules::guards::key::settings(&s.policy).honeytoken_access_keys,
            ["AKIA5HONEYTOKEN00001"]
        );
        assert!(trailguard_rules::guards::key::settings(&s.policy).is_trusted_ip("198.51.100.7"));
        let e = Settings::from_vars(key(), vars(&[("TRAILGUARD_TRUSTED_NETWORKS", "office")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("trusted_networks[0]"), "{e}");
    }

    #[test]
    fn the_trusted_set_comes_from_the_template_parameters() {
        let s = Settings::from_vars(
            key(),
            vars(&[
                (
                    "TRAILGUARD_POLICY",
                    r#"{"trusted_accounts": ["444455556666"]}"#,
                ),
                ("TRAILGUARD_TRUSTED_ACCOUNTS", "111122223333, 444455556666"),
                ("TRAILGUARD_ORGANIZATION_ID", "o-a1b2c3d4e5"),
            ]),
        )
        .unwrap();
        assert_eq!(s.policy.trusted_accounts, ["444455556666", "111122223333"]);
        assert_eq!(s.policy.organization_id, "o-a1b2c3d4e5");
        let e = Settings::from_vars(key(), vars(&[("TRAILGUARD_TRUSTED_ACCOUNTS", "vendor")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("trusted_accounts[0]"), "{e}");
        let e = Settings::from_vars(key(), vars(&[("TRAILGUARD_ORGANIZATION_ID", "ou-x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("organization_id"), "{e}");
    }

    #[test]
    fn mode_override_and_defaults() {
        let s = Settings::from_vars(
            key(),
            vars(&[("TRAILGUARD_MODE", "dry-run"), ("TRAILGUARD_POLICY", "")]),
        )
        .unwrap();
        assert_eq!(key().guard().mode(&s.policy), Mode::DryRun);
        let s = Settings::from_vars(key(), vars(&[])).unwrap();
        assert_eq!(key().guard().mode(&s.policy), Mode::Enforce);
        // Enforce from outside leaves a guard the policy keeps in dry-run alone.
        let s = Settings::from_vars(
            key(),
            vars(&[
                ("TRAILGUARD_MODE", "enforce"),
                (
                    "TRAILGUARD_POLICY",
                    r#"{"mode": {"access_key": "dry-run"}}"#,
                ),
            ]),
        )
        .unwrap();
        assert_eq!(key().guard().mode(&s.policy), Mode::DryRun);
        assert!(s.topic_arn.is_none());
    }

    #[test]
    fn the_member_role_is_checked_and_becomes_trailguards_own() {
        for bad in ["trailguard member", "role/x", "", &"r".repeat(65)] {
            let e = Settings::from_vars(sg(), vars(&[("TRAILGUARD_MEMBER_ROLE_NAME", bad)]));
            if bad.is_empty() {
                // Empty is unset: a function of its own account only.
                assert!(e.unwrap().member_role_name.is_none());
                continue;
            }
            let e = e.unwrap_err().to_string();
            assert!(e.contains("TRAILGUARD_MEMBER_ROLE_NAME"), "{e}");
        }
        let s = Settings::from_vars(
            sg(),
            vars(&[
                ("TRAILGUARD_MEMBER_ROLE_NAME", "trailguard-member"),
                (
                    "TRAILGUARD_OWN_ROLE_ARN",
                    "arn:aws:iam::111122223333:role/trailguard-RevertSecurityGroupRole-X",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(s.member_role_name.as_deref(), Some("trailguard-member"));
        assert_eq!(s.own_account.as_deref(), Some("111122223333"));
        let member = s.policy.member_role().unwrap();
        assert_eq!(member.name, "trailguard-member");
        assert_eq!(member.home_account.as_deref(), Some("111122223333"));
        assert!(s.policy.own_roles.is_empty());
    }
}
