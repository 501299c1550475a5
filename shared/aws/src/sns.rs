//! The SNS topic-policy port on the SDK client. A topic's policy is its `Policy` attribute;
//! it cannot be deleted (policies.rs writes AWS's default instead).

use aws_sdk_sns::Client;
use trailguard_rules::ops;
use trailguard_rules::resources::{PolicyKind, PolicyState};

use crate::error::classify;
use crate::policies::{changed, is_gone, tag_error, tags, to_untag, untag_removed};
use crate::ports::{Change, Page, PolicyPort, PortResult};

const GONE: &[&str] = &["NotFound", "NotFoundException", "ResourceNotFound"];

impl PolicyPort for Client {
    fn serves(&self, kind: PolicyKind) -> bool {
        kind == PolicyKind::Topic
    }

    async fn read_policy(&self, _: PolicyKind, arn: &str) -> PortResult<Option<Option<String>>> {
        match self.get_topic_attributes().topic_arn(arn).send().await {
            Ok(o) => Ok(Some(o.attributes().and_then(|a| a.get("Policy")).cloned())),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::SNS_GET_TOPIC_ATTRIBUTES, e)),
        }
    }

    async fn describe_policy(
        &self,
        kind: PolicyKind,
        arn: &str,
    ) -> PortResult<Option<PolicyState>> {
        let Some(policy) = self.read_policy(kind, arn).await? else {
            return Ok(None);
        };
        let t = match self.list_tags_for_resource().resource_arn(arn).send().await {
            Ok(o) => tags(o.tags().iter().map(|t| (t.key(), t.value()))),
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(classify(&ops::SNS_LIST_TAGS, e)),
        };
        Ok(Some(PolicyState {
            kind: PolicyKind::Topic,
            resource: arn.to_string(),
            policy,
            tags: t,
            in_vpc: false,
        }))
    }

    async fn put_policy(&self, _: PolicyKind, arn: &str, document: &str) -> PortResult<Change> {
        let r = self
            .set_topic_attributes()
            .topic_arn(arn)
            .attribute_name("Policy")
            .attribute_value(document)
            .send()
            .await;
        changed(
            r,
            &ops::SNS_SET_TOPIC_ATTRIBUTES,
            GONE,
            &format!("topic {arn}"),
        )
    }

    async fn delete_policy(&self, kind: PolicyKind, arn: &str) -> PortResult<Change> {
        // Not reached: restrict writes the default policy for a topic.
        let default = trailguard_rules::resources::default_topic_policy(arn)
            .map(|d| d.to_string())
            .unwrap_or_default();
        self.put_policy(kind, arn, &default).await
    }

    async fn list_policies(
        &self,
        kind: PolicyKind,
        token: Option<String>,
    ) -> PortResult<Page<PolicyState>> {
        let page = self
            .list_topics()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&ops::SNS_LIST_TOPICS, e))?;
        let mut items = Vec::new();
        for arn in page.topics().iter().filter_map(|t| t.topic_arn()) {
            if let Some(s) = self.describe_policy(kind, arn).await? {
                items.push(s);
            }
        }
        Ok(Page {
            items,
            next: page.next_token().map(String::from),
        })
    }

    async fn tag_value(
        &self,
        _: PolicyKind,
        arn: &str,
        key: &str,
    ) -> PortResult<Option<Option<String>>> {
        match self.list_tags_for_resource().resource_arn(arn).send().await {
            Ok(o) => Ok(Some(
                o.tags()
                    .iter()
                    .find(|t| t.key() == key)
                    .map(|t| t.value().to_string()),
            )),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::SNS_LIST_TAGS, e)),
        }
    }

    async fn untag_resource(&self, kind: PolicyKind, arn: &str, key: &str) -> PortResult<Change> {
        let what = format!("topic {arn}");
        let value = match to_untag(self.tag_value(kind, arn, key).await?, &what, key) {
            Ok(v) => v,
            Err(nothing) => return Ok(nothing),
        };
        let r = self
            .untag_resource()
            .resource_arn(arn)
            .tag_keys(key)
            .send()
            .await;
        untag_removed(changed(r, &ops::SNS_UNTAG_RESOURCE, GONE, &what), value)
    }

    async fn tag_resource(
        &self,
        _: PolicyKind,
        arn: &str,
        key: &str,
        value: &str,
    ) -> PortResult<Change> {
        let what = format!("topic {arn}");
        let tag = aws_sdk_sns::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .map_err(|e| tag_error(&ops::SNS_TAG_RESOURCE, e))?;
        let r = self.tag_resource().resource_arn(arn).tags(tag).send().await;
        changed(r, &ops::SNS_TAG_RESOURCE, GONE, &what)
    }
}
