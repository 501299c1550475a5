//! The ECR repository-policy port on the SDK client.

use aws_sdk_ecr::Client;
use trailguard_rules::ops;
use trailguard_rules::resources::{PolicyKind, PolicyState};

use crate::error::classify;
use crate::policies::{changed, is_gone, tag_error, tags, to_untag, untag_removed};
use crate::ports::{Change, Page, PolicyPort, PortResult};

const GONE: &[&str] = &["RepositoryNotFoundException"];
const NO_POLICY: &[&str] = &["RepositoryPolicyNotFoundException"];

/// The policy and tags of a repository known to exist, by name and ARN.
async fn repository_state(c: &Client, name: &str, arn: &str) -> PortResult<Option<PolicyState>> {
    {
        let policy = match c.get_repository_policy().repository_name(name).send().await {
            Ok(o) => o.policy_text().map(String::from),
            Err(e) if is_gone(&e, NO_POLICY) => None,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(classify(&ops::ECR_GET_REPOSITORY_POLICY, e)),
        };
        let t = match c.list_tags_for_resource().resource_arn(arn).send().await {
            Ok(o) => tags(o.tags().iter().map(|t| (t.key(), t.value()))),
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(classify(&ops::ECR_LIST_TAGS, e)),
        };
        Ok(Some(PolicyState {
            kind: PolicyKind::Repository,
            resource: name.to_string(),
            policy,
            tags: t,
            in_vpc: false,
        }))
    }
}

impl PolicyPort for Client {
    fn serves(&self, kind: PolicyKind) -> bool {
        kind == PolicyKind::Repository
    }

    async fn read_policy(&self, _: PolicyKind, name: &str) -> PortResult<Option<Option<String>>> {
        match self
            .get_repository_policy()
            .repository_name(name)
            .send()
            .await
        {
            Ok(o) => Ok(Some(o.policy_text().map(String::from))),
            Err(e) if is_gone(&e, NO_POLICY) => Ok(Some(None)),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::ECR_GET_REPOSITORY_POLICY, e)),
        }
    }

    async fn describe_policy(&self, _: PolicyKind, name: &str) -> PortResult<Option<PolicyState>> {
        let repos = match self
            .describe_repositories()
            .repository_names(name)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(classify(&ops::ECR_DESCRIBE_REPOSITORIES, e)),
        };
        let Some(arn) = repos
            .repositories()
            .first()
            .and_then(|r| r.repository_arn())
        else {
            return Ok(None);
        };
        repository_state(self, name, arn).await
    }

    async fn put_policy(&self, _: PolicyKind, name: &str, document: &str) -> PortResult<Change> {
        let r = self
            .set_repository_policy()
            .repository_name(name)
            .policy_text(document)
            .send()
            .await;
        changed(
            r,
            &ops::ECR_SET_REPOSITORY_POLICY,
            GONE,
            &format!("repository {name}"),
        )
    }

    async fn delete_policy(&self, _: PolicyKind, name: &str) -> PortResult<Change> {
        let r = self
            .delete_repository_policy()
            .repository_name(name)
            .send()
            .await;
        match r {
            Err(e) if is_gone(&e, NO_POLICY) => Ok(Change::AlreadyDone(format!(
                "repository {name} has no policy now"
            ))),
            r => changed(
                r,
                &ops::ECR_DELETE_REPOSITORY_POLICY,
                GONE,
                &format!("repository {name}"),
            ),
        }
    }

    async fn list_policies(
        &self,
        _: PolicyKind,
        token: Option<String>,
    ) -> PortResult<Page<PolicyState>> {
        let page = self
            .describe_repositories()
            .set_next_token(token)
            .max_results(100)
            .send()
            .await
            .map_err(|e| classify(&ops::ECR_DESCRIBE_REPOSITORIES, e))?;
        let mut items = Vec::new();
        for r in page.repositories() {
            let (Some(name), Some(arn)) = (r.repository_name(), r.repository_arn()) else {
                continue;
            };
            if let Some(s) = repository_state(self, name, arn).await? {
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
            Err(e) => Err(classify(&ops::ECR_LIST_TAGS, e)),
        }
    }

    async fn untag_resource(&self, kind: PolicyKind, arn: &str, key: &str) -> PortResult<Change> {
        let what = format!("repository {arn}");
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
        untag_removed(changed(r, &ops::ECR_UNTAG_RESOURCE, GONE, &what), value)
    }

    async fn tag_resource(
        &self,
        _: PolicyKind,
        arn: &str,
        key: &str,
        value: &str,
    ) -> PortResult<Change> {
        let what = format!("repository {arn}");
        let tag = aws_sdk_ecr::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .map_err(|e| tag_error(&ops::ECR_TAG_RESOURCE, e))?;
        let r = self.tag_resource().resource_arn(arn).tags(tag).send().await;
        changed(r, &ops::ECR_TAG_RESOURCE, GONE, &what)
    }
}
