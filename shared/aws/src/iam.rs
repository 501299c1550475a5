//! The IAM port on the SDK client.

use aws_sdk_iam::types::{StatusType, Tag};
use aws_sdk_iam::Client;
use std::future::Future;
use std::time::Duration;
use trailguard_rules::state::PasswordPolicy;
use trailguard_rules::sweep::KeyState;
use trailguard_rules::{trust, PrincipalKind, Tags};

use crate::error::{classify, code_of, PortError};
use crate::ports::{Change, IamPort, PortResult};
use trailguard_rules::ops::{self, Op};

/// The account's password policy as it is (None: it has none).
pub(crate) async fn password_policy(c: &Client) -> PortResult<Option<PasswordPolicy>> {
    match c.get_account_password_policy().send().await {
        Ok(o) => Ok(o.password_policy().map(|p| PasswordPolicy {
            minimum_password_length: p.minimum_password_length().map_or(8, |n| n.max(0) as u32),
            require_symbols: p.require_symbols(),
            require_numbers: p.require_numbers(),
            require_uppercase: p.require_uppercase_characters(),
            require_lowercase: p.require_lowercase_characters(),
            allow_users_to_change_password: p.allow_users_to_change_password(),
            max_password_age_days: p.max_password_age().filter(|d| *d > 0).map(|d| d as u32),
            password_reuse_prevention: p
                .password_reuse_prevention()
                .filter(|n| *n > 0)
                .map(|n| n as u32),
            hard_expiry: p.hard_expiry().unwrap_or(false),
        })),
        Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => Ok(None),
        Err(e) => Err(classify(&ops::GET_ACCOUNT_PASSWORD_POLICY, e)),
    }
}

/// Set the account's password policy to exactly `p`: UpdateAccountPasswordPolicy resets
/// every parameter it is not given, so all are sent.
pub(crate) async fn write_password_policy(c: &Client, p: &PasswordPolicy) -> PortResult<()> {
    let to_i32 = |n: u32| i32::try_from(n).ok();
    c.update_account_password_policy()
        .set_minimum_password_length(
            Some(p.minimum_password_length)
                .filter(|n| *n >= 6)
                .and_then(to_i32),
        )
        .require_symbols(p.require_symbols)
        .require_numbers(p.require_numbers)
        .require_uppercase_characters(p.require_uppercase)
        .require_lowercase_characters(p.require_lowercase)
        .allow_users_to_change_password(p.allow_users_to_change_password)
        .set_max_password_age(p.max_password_age_days.and_then(to_i32))
        .set_password_reuse_prevention(p.password_reuse_prevention.and_then(to_i32))
        .hard_expiry(p.hard_expiry)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(&ops::UPDATE_ACCOUNT_PASSWORD_POLICY, e))
}

impl IamPort for Client {
    async fn password_policy(&self) -> PortResult<Option<PasswordPolicy>> {
        password_policy(self).await
    }

    async fn put_password_policy(&self, baseline: &PasswordPolicy) -> PortResult<Change> {
        let current = password_policy(self).await?;
        if let Some(c) = current
            .as_ref()
            .filter(|c| c.weaker_than(baseline).is_empty())
        {
            return Ok(Change::AlreadyDone(format!(
                "the account password policy meets the baseline ({})",
                c.cli_args().trim()
            )));
        }
        let new = current.clone().unwrap_or_default().merged(baseline);
        write_password_policy(self, &new).await?;
        let before = current
            .map(|c| c.cli_args().trim().to_string())
            .unwrap_or_default();
        Ok(Change::Removed(vec![before]))
    }

    async fn deactivate_key(&self, user: &str, key_id: &str) -> PortResult<Change> {
        // Read first: an Inactive or deleted key is already contained, and the report says
        // so instead of claiming a change.
        let keys = match self.list_access_keys().user_name(user).send().await {
            Ok(o) => o,
            Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => {
                return Ok(Change::AlreadyDone(format!("user {user} no longer exists")))
            }
            Err(e) => return Err(classify(&ops::LIST_ACCESS_KEYS, e)),
        };
        match keys
            .access_key_metadata()
            .iter()
            .find(|k| k.access_key_id() == Some(key_id))
        {
            None => {
                return Ok(Change::AlreadyDone(format!(
                    "key {key_id} no longer exists (deleted)"
                )))
            }
            Some(k) if k.status() == Some(&StatusType::Inactive) => {
                return Ok(Change::AlreadyDone(format!(
                    "key {key_id} is already Inactive"
                )))
            }
            Some(_) => {}
        }
        let r = self
            .update_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .status(StatusType::Inactive)
            .send()
            .await;
        changed(r, &ops::UPDATE_ACCESS_KEY, || {
            format!("key {key_id} no longer exists (deleted)")
        })
    }

    async fn put_deny_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> PortResult<Change> {
        // PutUserPolicy/PutRolePolicy overwrite a policy of the same name: redelivery
        // replaces it, never adds a second one.
        let gone = || format!("{name} no longer exists: no sessions to revoke");
        match kind {
            PrincipalKind::User => {
                let r = self
                    .put_user_policy()
                    .user_name(name)
                    .policy_name(policy_name)
                    .policy_document(document)
                    .send()
                    .await;
                changed(r, &ops::PUT_USER_POLICY, gone)
            }
            PrincipalKind::Role => {
                let r = self
                    .put_role_policy()
                    .role_name(name)
                    .policy_name(policy_name)
                    .policy_document(document)
                    .send()
                    .await;
                changed(r, &ops::PUT_ROLE_POLICY, gone)
            }
        }
    }

    async fn tag_user(&self, user: &str, key: &str, value: &str) -> PortResult<Change> {
        let tag =
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| PortError::Permanent {
                    op: "TagUser",
                    code: "BuildError".into(),
                    message: e.to_string(),
                })?;
        let r = self.tag_user().user_name(user).tags(tag).send().await;
        changed(r, &ops::TAG_USER, || {
            format!("user {user} no longer exists")
        })
    }

    async fn restrict_role_trust(
        &self,
        role: &str,
        principals: &[String],
        untrusted: &[String],
    ) -> PortResult<Change> {
        // The trust policy as it is now: the event's may have been changed since.
        let current = match self.get_role().role_name(role).send().await {
            Ok(o) => o,
            Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => {
                return Ok(Change::AlreadyDone(format!("role {role} no longer exists")))
            }
            Err(e) => return Err(classify(&ops::GET_ROLE, e)),
        };
        let doc = current
            .role()
            .and_then(|r| r.assume_role_policy_document())
            .and_then(|d| trust::document(&serde_json::Value::String(d.to_string())))
            .ok_or_else(|| PortError::Permanent {
                op: "GetRole",
                code: "UnreadableTrustPolicy".into(),
                message: format!("the trust policy of {role} is not a JSON document"),
            })?;
        // The principals open now, judged as the decision judged them: the accounts it found
        // outside are outside, any other value is the subject of its own event.
        let inside = trust::judged_as_decided(principals, untrusted);
        let open = trust::outsiders(&doc, &inside);
        if !principals.iter().any(|p| open.contains(p)) {
            return Ok(Change::AlreadyDone(format!(
                "the trust policy of {role} no longer lets them assume it"
            )));
        }
        let restricted = trust::without(&doc, principals, &inside);
        let r = self
            .update_assume_role_policy()
            .role_name(role)
            .policy_document(restricted.to_string())
            .send()
            .await;
        changed(r, &ops::UPDATE_ASSUME_ROLE_POLICY, || {
            format!("role {role} no longer exists")
        })
    }

    async fn untag_role(&self, role: &str, key: &str) -> PortResult<Change> {
        let gone = || format!("role {role} no longer exists");
        let tags = match self.list_role_tags().role_name(role).send().await {
            Ok(o) => o,
            Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => {
                return Ok(Change::AlreadyDone(gone()))
            }
            Err(e) => return Err(classify(&ops::LIST_ROLE_TAGS, e)),
        };
        let Some(value) = tags
            .tags()
            .iter()
            .find(|t| t.key() == key)
            .map(|t| t.value().to_string())
        else {
            return Ok(Change::AlreadyDone(format!(
                "role {role} no longer carries {key}"
            )));
        };
        let r = self.untag_role().role_name(role).tag_keys(key).send().await;
        // Taken off: the value it had, which the undo puts back.
        changed(r, &ops::UNTAG_ROLE, gone).map(|c| match c {
            Change::Done => Change::Removed(vec![value]),
            other => other,
        })
    }

    async fn role_tags(&self, role: &str) -> PortResult<Option<Tags>> {
        settled_role_tags(|| read_role_tags(self, role), ROLE_TAG_SETTLE).await
    }

    async fn sweep_keys(&self, honeytokens: &[String]) -> PortResult<Vec<KeyState>> {
        let mut out: Vec<KeyState> = Vec::new();
        let keys_of = |user: String| async move {
            self.list_access_keys()
                .user_name(&user)
                .send()
                .await
                .map(|o| (user, o.access_key_metadata().to_vec()))
                .map_err(|e| classify(&ops::LIST_ACCESS_KEYS, e))
        };
        for key in honeytokens {
            let Some(user) = self.key_owner(key).await? else {
                continue;
            };
            let (user, keys) = keys_of(user).await?;
            if let Some(k) = keys
                .iter()
                .find(|k| k.access_key_id() == Some(key.as_str()))
            {
                out.push(KeyState {
                    access_key_id: key.clone(),
                    user_name: user,
                    active: k.status() == Some(&StatusType::Active),
                    quarantined_by: None,
                });
            }
        }
        for version in QUARANTINE_POLICIES {
            let arn = format!("arn:aws:iam::aws:policy/{version}");
            let mut marker: Option<String> = None;
            loop {
                let page = match self
                    .list_entities_for_policy()
                    .policy_arn(&arn)
                    .entity_filter(aws_sdk_iam::types::EntityType::User)
                    .set_marker(marker.take())
                    .send()
                    .await
                {
                    Ok(p) => p,
                    // A version AWS has not published (or this partition lacks).
                    Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => break,
                    Err(e) => return Err(classify(&ops::LIST_ENTITIES_FOR_POLICY, e)),
                };
                for u in page.policy_users() {
                    let Some(name) = u.user_name() else { continue };
                    let (user, keys) = keys_of(name.to_string()).await?;
                    for k in keys
                        .iter()
                        .filter(|k| k.status() == Some(&StatusType::Active))
                    {
                        out.push(KeyState {
                            access_key_id: k.access_key_id().unwrap_or_default().to_string(),
                            user_name: user.clone(),
                            active: true,
                            quarantined_by: Some(version.to_string()),
                        });
                    }
                }
                marker = page
                    .marker()
                    .map(String::from)
                    .filter(|_| page.is_truncated());
                if marker.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn user_has_tag(&self, user: &str, key: &str) -> PortResult<Option<bool>> {
        // IAM users carry at most 50 tags: one page of 100 holds them all.
        match self
            .list_user_tags()
            .user_name(user)
            .max_items(100)
            .send()
            .await
        {
            Ok(o) => Ok(Some(o.tags().iter().any(|t| t.key() == key))),
            Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(classify(&ops::LIST_USER_TAGS, e)),
        }
    }

    async fn key_owner(&self, key_id: &str) -> PortResult<Option<String>> {
        match self
            .get_access_key_last_used()
            .access_key_id(key_id)
            .send()
            .await
        {
            Ok(o) => Ok(o.user_name().filter(|u| !u.is_empty()).map(String::from)),
            // IAM answers an unknown key with NoSuchEntity, or AccessDenied when the key
            // belongs to another account; only the first means "not here".
            Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(classify(&ops::GET_ACCESS_KEY_LAST_USED, e)),
        }
    }
}

/// The versions of AWS's managed quarantine policy (attached to users whose key AWS found
/// exposed).
const QUARANTINE_POLICIES: [&str; 3] = [
    "AWSCompromisedKeyQuarantine",
    "AWSCompromisedKeyQuarantineV2",
    "AWSCompromisedKeyQuarantineV3",
];

/// A mutating IAM call's result: done, already done when the user, role or key it names no
/// longer exists (`NoSuchEntity`), or the classified error.
fn changed<T, E>(
    r: Result<
        T,
        aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    >,
    op: &'static Op,
    gone: impl FnOnce() -> String,
) -> PortResult<Change>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(_) => Ok(Change::Done),
        Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => Ok(Change::AlreadyDone(gone())),
        Err(e) => Err(classify(op, e)),
    }
}

/// How long the role-tags lookup waits before reading an exempt role's tags again: long
/// enough for guard-tags, delivered the TagRole of the same moment, to take back an
/// exemption a non-admin granted (one EventBridge delivery and two IAM calls), well under
/// the functions' 30-second timeout.
pub const ROLE_TAG_SETTLE: Duration = Duration::from_secs(6);

async fn read_role_tags(client: &Client, role: &str) -> PortResult<Option<Tags>> {
    match client.get_role().role_name(role).send().await {
        Ok(o) => Ok(Some(
            o.role()
                .map(|r| {
                    r.tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        )),
        Err(e) if code_of(&e).as_deref() == Some("NoSuchEntity") => Ok(None),
        Err(e) => Err(classify(&ops::GET_ROLE, e)),
    }
}

/// Whether the tags carry one of trailguard's tags (`trailguard:` keys, the only ones
/// guard-tags watches and takes back) set to a true value: an exemption a caller may have
/// added a moment ago.
fn claims_exemption(tags: &Tags) -> bool {
    tags.keys()
        .any(|k| k.starts_with("trailguard:") && trailguard_rules::facts::tag_is_true(tags, k))
}

/// A role's tags for a decision, settled. guard-iam asks for them only when a role's trust
/// was opened and an exemption is the one thing that would stop it acting. An attacker who
/// tags the role `trailguard:exempt=true` and changes its trust in the same second would have
/// guard-iam read the exemption before guard-tags takes it back; so when the tags claim an
/// exemption, they are read again after `settle`, and the second reading decides. A role
/// without trailguard's tags costs one read and no wait; an exemption a tag admin granted is
/// still there on the second read.
pub async fn settled_role_tags<F, Fut>(read: F, settle: Duration) -> PortResult<Option<Tags>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = PortResult<Option<Tags>>>,
{
    let first = read().await?;
    if !first.as_ref().is_some_and(claims_exemption) {
        return Ok(first);
    }
    tokio::time::sleep(settle).await;
    read().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A recording read: answers `answers` in turn, and counts the reads.
    struct Reads {
        answers: Vec<Option<Tags>>,
        count: Mutex<usize>,
    }

    impl Reads {
        fn new(answers: Vec<Option<Tags>>) -> Reads {
            Reads {
                answers,
                count: Mutex::new(0),
            }
        }
        async fn read(&self) -> PortResult<Option<Tags>> {
            let mut n = self.count.lock().unwrap();
            let a = self.answers[(*n).min(self.answers.len() - 1)].clone();
            *n += 1;
            Ok(a)
        }
        fn count(&self) -> usize {
            *self.count.lock().unwrap()
        }
    }

    const SETTLE: Duration = Duration::from_millis(30);

    #[tokio::test]
    async fn an_exemption_taken_back_while_settling_is_not_honoured() {
        let reads = Reads::new(vec![
            Some(tags(&[("team", "platform"), ("trailguard:exempt", "true")])),
            Some(tags(&[("team", "platform")])),
        ]);
        let started = std::time::Instant::now();
        let got = settled_role_tags(|| reads.read(), SETTLE).await.unwrap();
        assert_eq!(got, Some(tags(&[("team", "platform")])));
        assert_eq!(reads.count(), 2);
        assert!(started.elapsed() >= SETTLE);
    }

    #[tokio::test]
    async fn an_exemption_still_there_after_settling_is_honoured() {
        let exempt = Some(tags(&[("trailguard:exempt", "TRUE")]));
        let reads = Reads::new(vec![exempt.clone(), exempt.clone()]);
        let got = settled_role_tags(|| reads.read(), SETTLE).await.unwrap();
        assert_eq!(got, exempt);
        assert_eq!(reads.count(), 2);
    }

    #[tokio::test]
    async fn tags_without_an_exemption_are_read_once_without_waiting() {
        for answer in [
            None,
            Some(tags(&[("team", "platform")])),
            Some(tags(&[("trailguard:exempt", "false")])),
        ] {
            let reads = Reads::new(vec![answer.clone(), Some(tags(&[("x", "y")]))]);
            let started = std::time::Instant::now();
            let got = settled_role_tags(|| reads.read(), Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(got, answer);
            assert_eq!(reads.count(), 1);
            assert!(started.elapsed() < Duration::from_secs(1));
        }
    }

    #[test]
    fn the_settle_is_well_under_the_function_timeout() {
        assert!(ROLE_TAG_SETTLE >= Duration::from_secs(3));
        assert!(ROLE_TAG_SETTLE <= Duration::from_secs(10));
    }
}
