//! The Secrets Manager resource-policy port on the SDK client.

use aws_sdk_secretsmanager::Client;
use trailguard_rules::ops;
use trailguard_rules::resources::{PolicyKind, PolicyState};

use crate::error::classify;
use crate::policies::{changed, is_gone, tags, to_untag, untag_removed};
use crate::ports::{Change, Page, PolicyPort, PortResult};

const GONE: &[&str] = &["ResourceNotFoundException"];

impl PolicyPort for Client {
    fn serves(&self, kind: PolicyKind) -> bool {
        kind == PolicyKind::Secret
    }

    async fn read_policy(&self, _: PolicyKind, secret: &str) -> PortResult<Option<Option<String>>> {
        match self.get_resource_policy().secret_id(secret).send().await {
            Ok(o) => Ok(Some(o.resource_policy().map(String::from))),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::SM_GET_RESOURCE_POLICY, e)),
        }
    }

    async fn describe_policy(
        &self,
        kind: PolicyKind,
        secret: &str,
    ) -> PortResult<Option<PolicyState>> {
        let described = match self.describe_secret().secret_id(secret).send().await {
            Ok(o) => o,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(classify(&ops::SM_DESCRIBE_SECRET, e)),
        };
        let Some(policy) = self.read_policy(kind, secret).await? else {
            return Ok(None);
        };
        Ok(Some(PolicyState {
            kind: PolicyKind::Secret,
            resource: secret.to_string(),
            policy,
            tags: tags(
                described
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
            ),
            in_vpc: false,
        }))
    }

    async fn put_policy(&self, _: PolicyKind, secret: &str, document: &str) -> PortResult<Change> {
        let r = self
            .put_resource_policy()
            .secret_id(secret)
            .resource_policy(document)
            .send()
            .await;
        changed(
            r,
            &ops::SM_PUT_RESOURCE_POLICY,
            GONE,
            &format!("secret {secret}"),
        )
    }

    async fn delete_policy(&self, _: PolicyKind, secret: &str) -> PortResult<Change> {
        let r = self.delete_resource_policy().secret_id(secret).send().await;
        changed(
            r,
            &ops::SM_DELETE_RESOURCE_POLICY,
            GONE,
            &format!("secret {secret}"),
        )
    }

    async fn list_policies(
        &self,
        _: PolicyKind,
        token: Option<String>,
    ) -> PortResult<Page<PolicyState>> {
        let page = self
            .list_secrets()
            .set_next_token(token)
            .max_results(100)
            .send()
            .await
            .map_err(|e| classify(&ops::SM_LIST_SECRETS, e))?;
        let mut items = Vec::new();
        for entry in page.secret_list() {
            let Some(arn) = entry.arn() else { continue };
            let policy = match self.get_resource_policy().secret_id(arn).send().await {
                Ok(o) => o.resource_policy().map(String::from),
                Err(e) if is_gone(&e, GONE) => continue,
                Err(e) => return Err(classify(&ops::SM_GET_RESOURCE_POLICY, e)),
            };
            items.push(PolicyState {
                kind: PolicyKind::Secret,
                resource: arn.to_string(),
                policy,
                tags: tags(
                    entry
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
                ),
                in_vpc: false,
            });
        }
        Ok(Page {
            items,
            next: page.next_token().map(String::from),
        })
    }

    async fn tag_value(
        &self,
        _: PolicyKind,
        secret: &str,
        key: &str,
    ) -> PortResult<Option<Option<String>>> {
        match self.describe_secret().secret_id(secret).send().await {
            Ok(o) => Ok(Some(
                o.tags()
                    .iter()
                    .find(|t| t.key() == Some(key))
                    .map(|t| t.value().unwrap_or_default().to_string()),
            )),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::SM_DESCRIBE_SECRET, e)),
        }
    }

    async fn untag_resource(
        &self,
        kind: PolicyKind,
        secret: &str,
        key: &str,
    ) -> PortResult<Change> {
        let what = format!("secret {secret}");
        let value = match to_untag(self.tag_value(kind, secret, key).await?, &what, key) {
            Ok(v) => v,
            Err(nothing) => return Ok(nothing),
        };
        let r = self
            .untag_resource()
            .secret_id(secret)
            .tag_keys(key)
            .send()
            .await;
        untag_removed(changed(r, &ops::SM_UNTAG_RESOURCE, GONE, &what), value)
    }

    async fn tag_resource(
        &self,
        _: PolicyKind,
        secret: &str,
        key: &str,
        value: &str,
    ) -> PortResult<Change> {
        let what = format!("secret {secret}");
        let tag = aws_sdk_secretsmanager::types::Tag::builder()
            .key(key)
            .value(value)
            .build();
        let r = self.tag_resource().secret_id(secret).tags(tag).send().await;
        changed(r, &ops::SM_TAG_RESOURCE, GONE, &what)
    }
}
