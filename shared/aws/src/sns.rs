//! The SNS topic-policy port on the SDK client. A topic's policy is its `Policy` attribute;
//! it cannot be deleted (policies.rs writes AWS's default instead).

use aws_sdk_sns::Client;
use trailguard_rules::ops;
use trailguard_rules::resources::{PolicyKind, PolicyState};

use crate::error::classify;
use crate::policies::{changed, gone, is_gone, tags, untagged};
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

    async fn untag_resource(&self, _: PolicyKind, arn: &str, key: &str) -> PortResult<Change> {
        let what = format!("topic {arn}");
        let tagged = match self.list_tags_for_resource().resource_arn(arn).send().await {
            Ok(o) => o.tags().iter().any(|t| t.key() == key),
            Err(e) if is_gone(&e, GONE) => return Ok(gone(&what)),
            Err(e) => return Err(classify(&ops::SNS_LIST_TAGS, e)),
        };
        if !tagged {
            return Ok(untagged(&what, key));
        }
        let r = self
            .untag_resource()
            .resource_arn(arn)
            .tag_keys(key)
            .send()
            .await;
        changed(r, &ops::SNS_UNTAG_RESOURCE, GONE, &what)
    }
}
