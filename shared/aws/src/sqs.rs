//! The SQS queue-policy port on the SDK client. A queue's policy is its `Policy` attribute;
//! setting it to "" deletes it.

use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;
use trailguard_rules::ops;
use trailguard_rules::resources::{PolicyKind, PolicyState};

use crate::error::classify;
use crate::policies::{changed, is_gone, tags, to_untag, untag_removed};
use crate::ports::{Change, Page, PolicyPort, PortResult};

const GONE: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NonExistentQueue",
];

impl PolicyPort for Client {
    fn serves(&self, kind: PolicyKind) -> bool {
        kind == PolicyKind::Queue
    }

    async fn read_policy(&self, _: PolicyKind, url: &str) -> PortResult<Option<Option<String>>> {
        match self
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::Policy)
            .send()
            .await
        {
            Ok(o) => Ok(Some(
                o.attributes()
                    .and_then(|a| a.get(&QueueAttributeName::Policy))
                    .cloned(),
            )),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::SQS_GET_QUEUE_ATTRIBUTES, e)),
        }
    }

    async fn describe_policy(
        &self,
        kind: PolicyKind,
        url: &str,
    ) -> PortResult<Option<PolicyState>> {
        let Some(policy) = self.read_policy(kind, url).await? else {
            return Ok(None);
        };
        let t = match self.list_queue_tags().queue_url(url).send().await {
            Ok(o) => tags(
                o.tags()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            ),
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(classify(&ops::SQS_LIST_QUEUE_TAGS, e)),
        };
        Ok(Some(PolicyState {
            kind: PolicyKind::Queue,
            resource: url.to_string(),
            policy,
            tags: t,
            in_vpc: false,
        }))
    }

    async fn put_policy(&self, _: PolicyKind, url: &str, document: &str) -> PortResult<Change> {
        let r = self
            .set_queue_attributes()
            .queue_url(url)
            .attributes(QueueAttributeName::Policy, document)
            .send()
            .await;
        changed(
            r,
            &ops::SQS_SET_QUEUE_ATTRIBUTES,
            GONE,
            &format!("queue {url}"),
        )
    }

    async fn delete_policy(&self, kind: PolicyKind, url: &str) -> PortResult<Change> {
        self.put_policy(kind, url, "").await
    }

    async fn list_policies(
        &self,
        kind: PolicyKind,
        token: Option<String>,
    ) -> PortResult<Page<PolicyState>> {
        let page = self
            .list_queues()
            .set_next_token(token)
            .max_results(100)
            .send()
            .await
            .map_err(|e| classify(&ops::SQS_LIST_QUEUES, e))?;
        let mut items = Vec::new();
        for url in page.queue_urls() {
            if let Some(s) = self.describe_policy(kind, url).await? {
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
        url: &str,
        key: &str,
    ) -> PortResult<Option<Option<String>>> {
        match self.list_queue_tags().queue_url(url).send().await {
            Ok(o) => Ok(Some(o.tags().and_then(|t| t.get(key)).cloned())),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::SQS_LIST_QUEUE_TAGS, e)),
        }
    }

    async fn untag_resource(&self, kind: PolicyKind, url: &str, key: &str) -> PortResult<Change> {
        let what = format!("queue {url}");
        let value = match to_untag(self.tag_value(kind, url, key).await?, &what, key) {
            Ok(v) => v,
            Err(nothing) => return Ok(nothing),
        };
        let r = self.untag_queue().queue_url(url).tag_keys(key).send().await;
        untag_removed(changed(r, &ops::SQS_UNTAG_QUEUE, GONE, &what), value)
    }

    async fn tag_resource(
        &self,
        _: PolicyKind,
        url: &str,
        key: &str,
        value: &str,
    ) -> PortResult<Change> {
        let what = format!("queue {url}");
        let r = self
            .tag_queue()
            .queue_url(url)
            .tags(key, value)
            .send()
            .await;
        changed(r, &ops::SQS_TAG_QUEUE, GONE, &what)
    }
}
