//! The KMS key-policy port on the SDK client. A key always has its `default` policy: it is
//! never deleted, and policies.rs never writes one that leaves no administrator.

use aws_sdk_kms::types::KeyManagerType;
use aws_sdk_kms::Client;
use trailguard_rules::ops;
use trailguard_rules::resources::{PolicyKind, PolicyState};

use crate::error::{classify, PortError};
use crate::policies::{changed, is_gone, tag_error, tags, to_untag, untag_removed};
use crate::ports::{Change, Page, PolicyPort, PortResult};

const GONE: &[&str] = &["NotFoundException"];

impl PolicyPort for Client {
    fn serves(&self, kind: PolicyKind) -> bool {
        kind == PolicyKind::Key
    }

    async fn read_policy(&self, _: PolicyKind, key: &str) -> PortResult<Option<Option<String>>> {
        match self
            .get_key_policy()
            .key_id(key)
            .policy_name("default")
            .send()
            .await
        {
            Ok(o) => Ok(Some(o.policy().map(String::from))),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::KMS_GET_KEY_POLICY, e)),
        }
    }

    async fn describe_policy(
        &self,
        kind: PolicyKind,
        key: &str,
    ) -> PortResult<Option<PolicyState>> {
        let Some(policy) = self.read_policy(kind, key).await? else {
            return Ok(None);
        };
        let t = match self.list_resource_tags().key_id(key).send().await {
            Ok(o) => tags(o.tags().iter().map(|t| (t.tag_key(), t.tag_value()))),
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(classify(&ops::KMS_LIST_RESOURCE_TAGS, e)),
        };
        Ok(Some(PolicyState {
            kind: PolicyKind::Key,
            resource: key.to_string(),
            policy,
            tags: t,
            in_vpc: false,
        }))
    }

    async fn put_policy(&self, _: PolicyKind, key: &str, document: &str) -> PortResult<Change> {
        let r = self
            .put_key_policy()
            .key_id(key)
            .policy_name("default")
            .policy(document)
            .send()
            .await;
        changed(r, &ops::KMS_PUT_KEY_POLICY, GONE, &format!("key {key}"))
    }

    async fn delete_policy(&self, _: PolicyKind, key: &str) -> PortResult<Change> {
        Err(PortError::Permanent {
            op: "PutKeyPolicy",
            code: "NotDeletable".into(),
            message: format!("the policy of KMS key {key} cannot be deleted"),
        })
    }

    async fn list_policies(
        &self,
        kind: PolicyKind,
        token: Option<String>,
    ) -> PortResult<Page<PolicyState>> {
        let page = self
            .list_keys()
            .set_marker(token)
            .limit(100)
            .send()
            .await
            .map_err(|e| classify(&ops::KMS_LIST_KEYS, e))?;
        let mut items = Vec::new();
        for key in page.keys().iter().filter_map(|k| k.key_id()) {
            // AWS managed keys' policies are AWS's: they cannot be changed.
            let managed = match self.describe_key().key_id(key).send().await {
                Ok(o) => o
                    .key_metadata()
                    .and_then(|m| m.key_manager())
                    .is_some_and(|m| *m == KeyManagerType::Aws),
                Err(e) if is_gone(&e, GONE) => continue,
                Err(e) => return Err(classify(&ops::KMS_DESCRIBE_KEY, e)),
            };
            if managed {
                continue;
            }
            if let Some(s) = self.describe_policy(kind, key).await? {
                items.push(s);
            }
        }
        Ok(Page {
            items,
            next: page
                .truncated()
                .then(|| page.next_marker().map(String::from))
                .flatten(),
        })
    }

    async fn tag_value(
        &self,
        _: PolicyKind,
        key_id: &str,
        key: &str,
    ) -> PortResult<Option<Option<String>>> {
        // A key has at most 50 tags: one page of 50 holds them all.
        match self
            .list_resource_tags()
            .key_id(key_id)
            .limit(50)
            .send()
            .await
        {
            Ok(o) => Ok(Some(
                o.tags()
                    .iter()
                    .find(|t| t.tag_key() == key)
                    .map(|t| t.tag_value().to_string()),
            )),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::KMS_LIST_RESOURCE_TAGS, e)),
        }
    }

    async fn untag_resource(
        &self,
        kind: PolicyKind,
        key_id: &str,
        key: &str,
    ) -> PortResult<Change> {
        let what = format!("key {key_id}");
        let value = match to_untag(self.tag_value(kind, key_id, key).await?, &what, key) {
            Ok(v) => v,
            Err(nothing) => return Ok(nothing),
        };
        let r = self
            .untag_resource()
            .key_id(key_id)
            .tag_keys(key)
            .send()
            .await;
        untag_removed(changed(r, &ops::KMS_UNTAG_RESOURCE, GONE, &what), value)
    }

    async fn tag_resource(
        &self,
        _: PolicyKind,
        key_id: &str,
        key: &str,
        value: &str,
    ) -> PortResult<Change> {
        let what = format!("key {key_id}");
        let tag = aws_sdk_kms::types::Tag::builder()
            .tag_key(key)
            .tag_value(value)
            .build()
            .map_err(|e| tag_error(&ops::KMS_TAG_RESOURCE, e))?;
        let r = self.tag_resource().key_id(key_id).tags(tag).send().await;
        changed(r, &ops::KMS_TAG_RESOURCE, GONE, &what)
    }
}
