//! The IAM port on the SDK client.

use aws_sdk_iam::types::{StatusType, Tag};
use aws_sdk_iam::Client;
use trailguard_rules::sweep::KeyState;
use trailguard_rules::{trust, PrincipalKind, Tags};

use crate::error::{classify, code_of, PortError};
use crate::ports::{Change, IamPort, PortResult};
use trailguard_rules::ops::{self, Op};

impl IamPort for Client {
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

    async fn restrict_role_trust(&self, role: &str, principals: &[String]) -> PortResult<Change> {
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
        // Every AWS principal that may assume the role now (nothing counted as trusted).
        let named = trust::outsiders(&doc, &|_| false);
        if !principals.iter().any(|p| named.contains(p)) {
            return Ok(Change::AlreadyDone(format!(
                "the trust policy of {role} no longer lets them assume it"
            )));
        }
        let restricted = trust::without(&doc, principals);
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
        if !tags.tags().iter().any(|t| t.key() == key) {
            return Ok(Change::AlreadyDone(format!(
                "role {role} no longer carries {key}"
            )));
        }
        let r = self.untag_role().role_name(role).tag_keys(key).send().await;
        changed(r, &ops::UNTAG_ROLE, gone)
    }

    async fn role_tags(&self, role: &str) -> PortResult<Option<Tags>> {
        match self.get_role().role_name(role).send().await {
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
