//! Where an event's changes are made: the function's own account and region, another region
//! of it, or a member account of a central deployment, reached through the member role.
//!
//! A central deployment receives the events of every member account and region on one bus.
//! For an event from account A and region R, the function acts in A and R: in its own
//! account with its own credentials and clients for R; in a member account with the
//! credentials of `arn:aws:iam::A:role/<MemberRoleName>`, assumed once per account for the
//! container's life and refreshed before they expire. Nothing is assumed at cold start, and
//! nothing for an event that is ignored or only planned (the handler connects lazily).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{self, error::CredentialsError, ProvideCredentials};
use aws_credential_types::Credentials;
use trailguard_rules::ops;

use crate::error::{classify, PortError};
use crate::ports::{Clients, Connect, PortResult, Target};

/// Credentials are renewed this long before they expire, so no call starts with credentials
/// that run out during it.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// How long an assumed session lasts (the member role's default maximum is one hour).
const SESSION_SECONDS: i32 = 3600;

/// The clients of every account and region the function has acted in, built on first use.
pub struct Central<C, W> {
    home: Arc<C>,
    home_account: Option<String>,
    home_region: Option<String>,
    member_role: Option<String>,
    function: &'static str,
    base: aws_config::SdkConfig,
    wire: W,
    sts: aws_sdk_sts::Client,
    clients: Mutex<HashMap<(String, String), Arc<C>>>,
    sessions: Mutex<HashMap<String, Arc<MemberCredentials>>>,
}

impl<C, W> Central<C, W>
where
    C: Clients,
    W: Fn(&aws_config::SdkConfig) -> C + Send + Sync,
{
    /// `base` is the function's own configuration, `wire` builds its clients from a
    /// configuration (the same one at cold start and for every other account and region).
    pub fn new(
        base: aws_config::SdkConfig,
        wire: W,
        function: &'static str,
        own_account: Option<String>,
        member_role: Option<String>,
    ) -> Self {
        let home = Arc::new(wire(&base));
        Central {
            home,
            home_account: own_account,
            home_region: base.region().map(|r| r.to_string()),
            member_role,
            function,
            sts: aws_sdk_sts::Client::new(&base),
            base,
            wire,
            clients: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The account the target names, when it is not the function's own.
    fn other_account<'t>(&self, target: &'t Target) -> Option<&'t str> {
        target
            .account
            .as_deref()
            .filter(|a| self.home_account.as_deref() != Some(*a))
    }

    /// The member role's credentials in `account`: one session per account, shared by all
    /// regions, assumed the first time an event needs it.
    async fn session(&self, account: &str, target: &Target) -> PortResult<Arc<MemberCredentials>> {
        let Some(role_name) = &self.member_role else {
            return Err(PortError::Permanent {
                op: ops::ASSUME_ROLE.api,
                code: "NoMemberRole".into(),
                message: format!(
                    "the event is in account {account}, not this function's account {}, and no \
                     member role is configured (MemberRoleName / TRAILGUARD_MEMBER_ROLE_NAME): \
                     trailguard acts only in its own account",
                    self.home_account.as_deref().unwrap_or("(unknown)")
                ),
            });
        };
        let existing = self.lock_sessions().get(account).cloned();
        let session = match existing {
            Some(s) => s,
            None => {
                let s = Arc::new(MemberCredentials {
                    sts: self.sts.clone(),
                    role_arn: self.role_arn(account, role_name),
                    session_name: session_name(self.function, target.event_id.as_deref()),
                    cached: tokio::sync::Mutex::new(None),
                });
                self.lock_sessions().insert(account.to_string(), s.clone());
                s
            }
        };
        // Assume now (or reuse): a role that cannot be assumed is this event's failure,
        // named, not a credentials error deep inside the first call.
        session.get().await?;
        Ok(session)
    }

    /// The member role's ARN in `account`, in the function's partition.
    fn role_arn(&self, account: &str, role_name: &str) -> String {
        let region = self.home_region.as_deref().unwrap_or_default();
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        format!("arn:{partition}:iam::{account}:role/{role_name}")
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<MemberCredentials>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_clients(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<C>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<C, W> Connect for Central<C, W>
where
    C: Clients,
    W: Fn(&aws_config::SdkConfig) -> C + Send + Sync,
{
    type Clients = C;

    async fn connect(&self, target: &Target) -> PortResult<Arc<C>> {
        let account = self.other_account(target);
        let region = target
            .region
            .as_deref()
            .filter(|r| self.home_region.as_deref() != Some(*r));
        if account.is_none() && region.is_none() {
            return Ok(self.home.clone());
        }
        let key = (
            account.unwrap_or("").to_string(),
            region.unwrap_or("").to_string(),
        );
        let cached = self.lock_clients().get(&key).cloned();
        if let Some(c) = cached {
            // The session's credentials renew themselves; the clients stay.
            if let Some(a) = account {
                self.session(a, target).await?;
            }
            return Ok(c);
        }
        let mut config = self.base.to_builder();
        if let Some(r) = region {
            config.set_region(Some(aws_config::Region::new(r.to_string())));
        }
        if let Some(a) = account {
            let session = self.session(a, target).await?;
            config.set_credentials_provider(Some(
                aws_credential_types::provider::SharedCredentialsProvider::new(Shared(session)),
            ));
        }
        let clients = Arc::new((self.wire)(&config.build()));
        self.lock_clients().insert(key, clients.clone());
        Ok(clients)
    }

    fn home(&self) -> Arc<C> {
        self.home.clone()
    }

    fn role_for(&self, target: &Target) -> Option<String> {
        let account = self.other_account(target)?;
        let name = self.member_role.as_deref().unwrap_or("(no member role)");
        Some(self.role_arn(account, name))
    }
}

/// The session name the member account's CloudTrail shows for trailguard's changes: the
/// function, and the event that opened the session (`revert-security-group.3f1c...`).
/// STS allows 2-64 characters of `[\w+=,.@-]`.
pub fn session_name(function: &str, event_id: Option<&str>) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))
            .collect()
    };
    let mut name = format!("trailguard.{}", clean(function));
    if let Some(id) = event_id.map(clean).filter(|i| !i.is_empty()) {
        name.push('.');
        name.push_str(&id);
    }
    name.truncate(64);
    name
}

/// The member role's credentials in one account, assumed on first use and renewed when
/// they near their expiry.
#[derive(Debug)]
pub struct MemberCredentials {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    session_name: String,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl MemberCredentials {
    async fn get(&self) -> Result<Credentials, PortError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let fresh = c
                .expiry()
                .is_none_or(|e| e > SystemTime::now() + RENEW_BEFORE);
            if fresh {
                return Ok(c.clone());
            }
        }
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| self.explain(classify(&ops::ASSUME_ROLE, e)))?;
        let Some(c) = out.credentials() else {
            return Err(PortError::Permanent {
                op: ops::ASSUME_ROLE.api,
                code: "NoCredentials".into(),
                message: format!("STS assumed {} but returned no credentials", self.role_arn),
            });
        };
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "trailguard-member-role",
        );
        *cached = Some(creds.clone());
        Ok(creds)
    }

    /// A refusal names the role and what to check: the role must exist in the member account
    /// and trust this function's role (member.yaml sets both up).
    fn explain(&self, e: PortError) -> PortError {
        match e {
            PortError::AccessDenied { code, message, .. }
            | PortError::Permanent { code, message, .. } => PortError::Permanent {
                op: ops::ASSUME_ROLE.api,
                message: format!(
                    "cannot assume {} ({code}: {message}): the member role is missing in that \
                         account, or its trust policy does not trust this function's role \
                         (deploy member.yaml there with this stack's function role ARNs)",
                    self.role_arn
                ),
                code,
            },
            other => other,
        }
    }
}

/// The SDK's credentials provider over a shared member session.
#[derive(Debug)]
struct Shared(Arc<MemberCredentials>);

impl ProvideCredentials for Shared {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.0
                .get()
                .await
                .map_err(|e| CredentialsError::provider_error(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_what_sts_accepts() {
        assert_eq!(
            session_name(
                "revert-security-group",
                Some("3f1c2a9e-0000-4000-8000-1234")
            ),
            "trailguard.revert-security-group.3f1c2a9e-0000-4000-8000-1234"
        );
        let long = session_name("disable-compromised-key", Some(&"x/y ".repeat(40)));
        assert_eq!(long.len(), 64);
        assert!(long
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)));
        assert_eq!(session_name("guard-iam", None), "trailguard.guard-iam");
    }
}
