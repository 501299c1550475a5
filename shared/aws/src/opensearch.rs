//! The OpenSearch domain access-policy port on the SDK client (the OpenSearch API answers
//! for legacy Elasticsearch domains too). A domain's policy is "deleted" by writing an empty
//! one; a domain inside a VPC is reported `in_vpc`.

use aws_sdk_opensearch::types::DomainStatus;
use aws_sdk_opensearch::Client;
use trailguard_rules::ops;
use trailguard_rules::resources::{PolicyKind, PolicyState};

use crate::error::classify;
use crate::policies::{changed, is_gone, tag_error, tags, to_untag, untag_removed};
use crate::ports::{Change, Page, PolicyPort, PortResult};

const GONE: &[&str] = &["ResourceNotFoundException"];
/// DescribeDomains takes at most five names.
const BATCH: usize = 5;
/// Domains per sweep page.
const PAGE: usize = 20;

fn policy_of(text: Option<&str>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty()).map(String::from)
}

/// A domain's policy and tags, from its status (None: being deleted).
async fn domain_state(c: &Client, d: &DomainStatus) -> PortResult<Option<PolicyState>> {
    if d.deleted() == Some(true) {
        return Ok(None);
    }
    let t = match c.list_tags().arn(d.arn()).send().await {
        Ok(o) => tags(o.tag_list().iter().map(|t| (t.key(), t.value()))),
        Err(e) if is_gone(&e, GONE) => return Ok(None),
        Err(e) => return Err(classify(&ops::ES_LIST_TAGS, e)),
    };
    Ok(Some(PolicyState {
        kind: PolicyKind::Domain,
        resource: d.domain_name().to_string(),
        policy: policy_of(d.access_policies()),
        tags: t,
        in_vpc: d.vpc_options().is_some_and(|v| !v.subnet_ids().is_empty()),
    }))
}

async fn describe(c: &Client, names: &[String]) -> PortResult<Vec<DomainStatus>> {
    match c
        .describe_domains()
        .set_domain_names(Some(names.to_vec()))
        .send()
        .await
    {
        Ok(o) => Ok(o.domain_status_list().to_vec()),
        Err(e) if is_gone(&e, GONE) => Ok(vec![]),
        Err(e) => Err(classify(&ops::ES_DESCRIBE_DOMAINS, e)),
    }
}

impl PolicyPort for Client {
    fn serves(&self, kind: PolicyKind) -> bool {
        kind == PolicyKind::Domain
    }

    async fn read_policy(&self, _: PolicyKind, name: &str) -> PortResult<Option<Option<String>>> {
        match self.describe_domain_config().domain_name(name).send().await {
            Ok(o) => Ok(Some(policy_of(
                o.domain_config()
                    .and_then(|c| c.access_policies())
                    .map(|p| p.options()),
            ))),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::ES_DESCRIBE_DOMAIN_CONFIG, e)),
        }
    }

    async fn describe_policy(&self, _: PolicyKind, name: &str) -> PortResult<Option<PolicyState>> {
        let found = describe(self, &[name.to_string()]).await?;
        match found.iter().find(|d| d.domain_name() == name) {
            Some(d) => domain_state(self, d).await,
            None => Ok(None),
        }
    }

    async fn put_policy(&self, _: PolicyKind, name: &str, document: &str) -> PortResult<Change> {
        let r = self
            .update_domain_config()
            .domain_name(name)
            .access_policies(document)
            .send()
            .await;
        changed(
            r,
            &ops::ES_UPDATE_DOMAIN_CONFIG,
            GONE,
            &format!("domain {name}"),
        )
    }

    /// An empty access policy: the domain answers only to signed calls its own account's
    /// IAM policies allow.
    async fn delete_policy(&self, kind: PolicyKind, name: &str) -> PortResult<Change> {
        self.put_policy(kind, name, "").await
    }

    /// One page: up to [`PAGE`] domains after `token` (the last name of the previous page),
    /// in name order. ListDomainNames answers every name at once.
    async fn list_policies(
        &self,
        _: PolicyKind,
        token: Option<String>,
    ) -> PortResult<Page<PolicyState>> {
        let listed = self
            .list_domain_names()
            .send()
            .await
            .map_err(|e| classify(&ops::ES_LIST_DOMAIN_NAMES, e))?;
        let mut names: Vec<String> = listed
            .domain_names()
            .iter()
            .filter_map(|d| d.domain_name().map(String::from))
            .filter(|n| token.as_ref().is_none_or(|t| n > t))
            .collect();
        names.sort();
        names.dedup();
        let more = names.len() > PAGE;
        names.truncate(PAGE);
        let mut items = Vec::new();
        for batch in names.chunks(BATCH) {
            for d in describe(self, batch).await? {
                if let Some(s) = domain_state(self, &d).await? {
                    items.push(s);
                }
            }
        }
        Ok(Page {
            items,
            next: if more { names.last().cloned() } else { None },
        })
    }

    async fn tag_value(
        &self,
        _: PolicyKind,
        arn: &str,
        key: &str,
    ) -> PortResult<Option<Option<String>>> {
        match self.list_tags().arn(arn).send().await {
            Ok(o) => Ok(Some(
                o.tag_list()
                    .iter()
                    .find(|t| t.key() == key)
                    .map(|t| t.value().to_string()),
            )),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::ES_LIST_TAGS, e)),
        }
    }

    async fn untag_resource(&self, kind: PolicyKind, arn: &str, key: &str) -> PortResult<Change> {
        let what = format!("domain {arn}");
        let value = match to_untag(self.tag_value(kind, arn, key).await?, &what, key) {
            Ok(v) => v,
            Err(nothing) => return Ok(nothing),
        };
        let r = self.remove_tags().arn(arn).tag_keys(key).send().await;
        untag_removed(changed(r, &ops::ES_REMOVE_TAGS, GONE, &what), value)
    }

    async fn tag_resource(
        &self,
        _: PolicyKind,
        arn: &str,
        key: &str,
        value: &str,
    ) -> PortResult<Change> {
        let what = format!("domain {arn}");
        let tag = aws_sdk_opensearch::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .map_err(|e| tag_error(&ops::ES_ADD_TAGS, e))?;
        let r = self.add_tags().arn(arn).tag_list(tag).send().await;
        changed(r, &ops::ES_ADD_TAGS, GONE, &what)
    }
}
