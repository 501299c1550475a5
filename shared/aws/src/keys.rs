//! The KMS key port on the SDK client: a key's life (guards/encryption_keys.rs). Every change
//! reads the key first, so a key already as wanted is `already_done`, and acts on the key's
//! ARN only.

use aws_sdk_kms::types::{KeyManagerType, KeySpec, KeyState, MultiRegionKeyType, OriginType};
use aws_sdk_kms::Client;
use trailguard_rules::ops;
use trailguard_rules::state::EncryptionKeyState;

use crate::error::{classify, code_of};
use crate::policies::{is_gone, tags};
use crate::ports::{read_or, Change, KeyPort, Page, PortResult};

const GONE: &[&str] = &["NotFoundException"];

/// The key id of a key ARN (the key itself when it is an id). The calls are sent with the
/// id: the ARN's account and region already chose the client (the decision checked they are
/// the event's), and some emulators take only ids for these calls.
pub(crate) fn id_of(key: &str) -> &str {
    key.rsplit_once(":key/").map_or(key, |(_, id)| id)
}

/// The key's metadata (None: no such key).
async fn describe(c: &Client, key: &str) -> PortResult<Option<aws_sdk_kms::types::KeyMetadata>> {
    match c.describe_key().key_id(id_of(key)).send().await {
        Ok(o) => Ok(o.key_metadata().cloned()),
        Err(e) if is_gone(&e, GONE) => Ok(None),
        Err(e) => Err(classify(&ops::KMS_DESCRIBE_KEY, e)),
    }
}

fn state_of(m: &aws_sdk_kms::types::KeyMetadata) -> &str {
    m.key_state().map(KeyState::as_str).unwrap_or("?")
}

/// Whether the key can rotate automatically: an enabled customer managed symmetric key with
/// KMS's own material, not a multi-Region replica (its primary rotates it).
fn rotates(m: &aws_sdk_kms::types::KeyMetadata) -> bool {
    m.key_manager() == Some(&KeyManagerType::Customer)
        && m.key_state() == Some(&KeyState::Enabled)
        && m.key_spec().is_none_or(|s| *s == KeySpec::SymmetricDefault)
        && m.origin().is_none_or(|o| *o == OriginType::AwsKms)
        && m.multi_region_configuration()
            .and_then(|c| c.multi_region_key_type())
            != Some(&MultiRegionKeyType::Replica)
}

/// The key as it is, from its metadata: its tags and rotation read for a customer managed
/// key (None: it went away meanwhile).
async fn key_state(
    c: &Client,
    m: &aws_sdk_kms::types::KeyMetadata,
) -> PortResult<Option<EncryptionKeyState>> {
    let key = m.arn().unwrap_or(m.key_id());
    let manager = m
        .key_manager()
        .map(KeyManagerType::as_str)
        .unwrap_or("CUSTOMER")
        .to_string();
    let mut state = EncryptionKeyState {
        key_id: key.to_string(),
        state: state_of(m).to_string(),
        deletion_date: m
            .deletion_date()
            .and_then(|d| trailguard_rules::time::normalize(&d.secs().to_string())),
        manager,
        ..EncryptionKeyState::default()
    };
    if state.manager == "AWS" {
        return Ok(Some(state));
    }
    state.tags = match c.list_resource_tags().key_id(id_of(key)).send().await {
        Ok(o) => tags(o.tags().iter().map(|t| (t.tag_key(), t.tag_value()))),
        Err(e) if is_gone(&e, GONE) => return Ok(None),
        Err(e) => return Err(classify(&ops::KMS_LIST_RESOURCE_TAGS, e)),
    };
    if rotates(m) {
        state.rotation = match c.get_key_rotation_status().key_id(id_of(key)).send().await {
            Ok(o) => Some(o.key_rotation_enabled()),
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            // A key KMS says cannot rotate after all (its spec or origin in an answer
            // older than the model): not a rotation to put back.
            Err(e) if is_gone(&e, &["UnsupportedOperationException"]) => None,
            Err(e) => return Err(classify(&ops::KMS_GET_KEY_ROTATION_STATUS, e)),
        };
    }
    Ok(Some(state))
}

impl KeyPort for Client {
    async fn key_now(&self, key: &str) -> PortResult<Option<EncryptionKeyState>> {
        match describe(self, key).await? {
            Some(m) => key_state(self, &m).await,
            None => Ok(None),
        }
    }

    async fn list_keys(&self, token: Option<String>) -> PortResult<Page<EncryptionKeyState>> {
        let page = self
            .list_keys()
            .set_marker(token)
            .send()
            .await
            .map_err(|e| classify(&ops::KMS_LIST_KEYS, e))?;
        let mut items = Vec::new();
        for k in page.keys() {
            let Some(id) = k.key_arn().or(k.key_id()) else {
                continue;
            };
            let read = match describe(self, id).await {
                Ok(Some(m)) => key_state(self, &m).await,
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            match read {
                Ok(Some(state)) => items.push(state),
                Ok(None) => {}
                // A key whose policy shuts trailguard's role out (anyone allowed to create
                // keys can make one): listed as unreadable, so that it cannot stop the sweep
                // of every other key. Throttling stops the page: the next run retries.
                Err(e) if !e.is_retryable() => items.push(EncryptionKeyState {
                    key_id: id.to_string(),
                    state: "?".into(),
                    unreadable: Some(e.to_string()),
                    ..EncryptionKeyState::default()
                }),
                Err(e) => return Err(e),
            }
        }
        Ok(Page {
            items,
            next: page
                .next_marker()
                .filter(|_| page.truncated())
                .map(String::from),
        })
    }

    async fn cancel_key_deletion(
        &self,
        key: &str,
        read: Option<&Option<EncryptionKeyState>>,
    ) -> PortResult<Change> {
        // Read first (or take the decision's read of moments ago): a key gone, or not
        // pending deletion, is already done.
        let read = read.map(|k| k.as_ref().map(|k| k.state.clone()));
        let state = read_or(read.as_ref(), async {
            Ok(describe(self, key).await?.map(|m| state_of(&m).to_string()))
        })
        .await?;
        let Some(state) = state else {
            return Ok(Change::AlreadyDone(format!("KMS key {key} does not exist")));
        };
        if !matches!(state.as_str(), "PendingDeletion" | "PendingReplicaDeletion") {
            return Ok(Change::AlreadyDone(format!(
                "KMS key {key} is not pending deletion (it is {state})"
            )));
        }
        match self.cancel_key_deletion().key_id(id_of(key)).send().await {
            Ok(_) => Ok(Change::Done),
            // The read said pending, KMS says the key is not: someone (another delivery)
            // cancelled it since. Read again: only a key that exists and is no longer pending
            // is done; a key gone (its deletion completed) is a failure, never "done".
            Err(e) if code_of(&e).as_deref() == Some("KMSInvalidStateException") => {
                match describe(self, key).await? {
                    Some(m)
                        if !matches!(
                            m.key_state(),
                            Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
                        ) =>
                    {
                        Ok(Change::AlreadyDone(format!(
                            "KMS key {key} is not pending deletion (it is {})",
                            state_of(&m)
                        )))
                    }
                    _ => Err(classify(&ops::KMS_CANCEL_KEY_DELETION, e)),
                }
            }
            Err(e) => Err(classify(&ops::KMS_CANCEL_KEY_DELETION, e)),
        }
    }

    async fn enable_key(&self, key: &str) -> PortResult<Change> {
        if let Some(m) = describe(self, key).await? {
            if m.key_state() == Some(&KeyState::Enabled) {
                return Ok(Change::AlreadyDone(format!("KMS key {key} is enabled")));
            }
        }
        self.enable_key()
            .key_id(id_of(key))
            .send()
            .await
            .map_err(|e| classify(&ops::KMS_ENABLE_KEY, e))?;
        Ok(Change::Done)
    }

    async fn rotation_on(&self, key: &str) -> PortResult<bool> {
        Ok(self
            .get_key_rotation_status()
            .key_id(id_of(key))
            .send()
            .await
            .map_err(|e| classify(&ops::KMS_GET_KEY_ROTATION_STATUS, e))?
            .key_rotation_enabled())
    }

    async fn enable_key_rotation(&self, key: &str, period_days: Option<i64>) -> PortResult<Change> {
        if self.rotation_on(key).await? {
            return Ok(Change::AlreadyDone(format!(
                "automatic rotation of KMS key {key} is on"
            )));
        }
        self.enable_key_rotation()
            .key_id(id_of(key))
            .set_rotation_period_in_days(period_days.and_then(|d| i32::try_from(d).ok()))
            .send()
            .await
            .map_err(|e| classify(&ops::KMS_ENABLE_KEY_ROTATION, e))?;
        Ok(Change::Done)
    }
}
