//! The EFS file system policy port on the SDK client. A file system without a policy falls
//! back to EFS's default one (every client that reaches a mount target may mount, write and
//! act as root), so a policy is only ever rewritten, never deleted.

use aws_sdk_efs::types::FileSystemDescription;
use aws_sdk_efs::Client;
use trailguard_rules::ops;
use trailguard_rules::resources::{PolicyKind, PolicyState};

use crate::error::{classify, PortError};
use crate::policies::{changed, is_gone, tag_error, tags, to_untag, untag_removed};
use crate::ports::{Change, Page, PolicyPort, PortResult};

const GONE: &[&str] = &["FileSystemNotFound"];
const NO_POLICY: &[&str] = &["PolicyNotFound"];

/// The file system's policy now: Some(None) when it has none, None when it is gone.
async fn policy(c: &Client, id: &str) -> PortResult<Option<Option<String>>> {
    match c
        .describe_file_system_policy()
        .file_system_id(id)
        .send()
        .await
    {
        Ok(o) => Ok(Some(
            o.policy()
                .filter(|p| !p.trim().is_empty())
                .map(String::from),
        )),
        Err(e) if is_gone(&e, NO_POLICY) => Ok(Some(None)),
        Err(e) if is_gone(&e, GONE) => Ok(None),
        Err(e) => Err(classify(&ops::EFS_DESCRIBE_FILE_SYSTEM_POLICY, e)),
    }
}

/// A described file system's policy; its tags come with the description.
async fn file_system_state(
    c: &Client,
    fs: &FileSystemDescription,
) -> PortResult<Option<PolicyState>> {
    let id = fs.file_system_id();
    let Some(policy) = policy(c, id).await? else {
        return Ok(None);
    };
    Ok(Some(PolicyState {
        kind: PolicyKind::FileSystem,
        resource: id.to_string(),
        policy,
        tags: tags(fs.tags().iter().map(|t| (t.key(), t.value()))),
        in_vpc: false,
    }))
}

impl PolicyPort for Client {
    fn serves(&self, kind: PolicyKind) -> bool {
        kind == PolicyKind::FileSystem
    }

    async fn read_policy(&self, _: PolicyKind, id: &str) -> PortResult<Option<Option<String>>> {
        policy(self, id).await
    }

    async fn describe_policy(&self, _: PolicyKind, id: &str) -> PortResult<Option<PolicyState>> {
        let found = match self.describe_file_systems().file_system_id(id).send().await {
            Ok(o) => o,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(classify(&ops::EFS_DESCRIBE_FILE_SYSTEMS, e)),
        };
        match found.file_systems().first() {
            Some(fs) => file_system_state(self, fs).await,
            None => Ok(None),
        }
    }

    async fn put_policy(&self, _: PolicyKind, id: &str, document: &str) -> PortResult<Change> {
        // The lockout safety check stays on: EFS refuses a policy that would lock the caller
        // out of changing it again.
        let r = self
            .put_file_system_policy()
            .file_system_id(id)
            .policy(document)
            .send()
            .await;
        changed(
            r,
            &ops::EFS_PUT_FILE_SYSTEM_POLICY,
            GONE,
            &format!("file system {id}"),
        )
    }

    /// Never deleted: without a policy EFS lets every client that reaches a mount target
    /// mount, write and act as root (restricting tells instead, policies.rs).
    async fn delete_policy(&self, _: PolicyKind, id: &str) -> PortResult<Change> {
        Err(PortError::Permanent {
            op: "PutFileSystemPolicy",
            code: "NotDeletable".into(),
            message: format!(
                "trailguard never deletes the policy of EFS file system {id}: EFS's default \
                 one would let in more"
            ),
        })
    }

    async fn list_policies(
        &self,
        _: PolicyKind,
        token: Option<String>,
    ) -> PortResult<Page<PolicyState>> {
        let page = self
            .describe_file_systems()
            .set_marker(token)
            .max_items(100)
            .send()
            .await
            .map_err(|e| classify(&ops::EFS_DESCRIBE_FILE_SYSTEMS, e))?;
        let mut items = Vec::new();
        for fs in page.file_systems() {
            if let Some(s) = file_system_state(self, fs).await? {
                items.push(s);
            }
        }
        Ok(Page {
            items,
            next: page.next_marker().map(String::from),
        })
    }

    async fn tag_value(
        &self,
        _: PolicyKind,
        id: &str,
        key: &str,
    ) -> PortResult<Option<Option<String>>> {
        match self.describe_file_systems().file_system_id(id).send().await {
            Ok(o) => Ok(o.file_systems().first().map(|f| {
                f.tags()
                    .iter()
                    .find(|t| t.key() == key)
                    .map(|t| t.value().to_string())
            })),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(classify(&ops::EFS_DESCRIBE_FILE_SYSTEMS, e)),
        }
    }

    async fn untag_resource(&self, kind: PolicyKind, id: &str, key: &str) -> PortResult<Change> {
        let what = format!("file system {id}");
        let value = match to_untag(self.tag_value(kind, id, key).await?, &what, key) {
            Ok(v) => v,
            Err(nothing) => return Ok(nothing),
        };
        let r = self
            .untag_resource()
            .resource_id(id)
            .tag_keys(key)
            .send()
            .await;
        untag_removed(changed(r, &ops::EFS_UNTAG_RESOURCE, GONE, &what), value)
    }

    async fn tag_resource(
        &self,
        _: PolicyKind,
        id: &str,
        key: &str,
        value: &str,
    ) -> PortResult<Change> {
        let what = format!("file system {id}");
        let tag = aws_sdk_efs::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .map_err(|e| tag_error(&ops::EFS_TAG_RESOURCE, e))?;
        let r = self.tag_resource().resource_id(id).tags(tag).send().await;
        changed(r, &ops::EFS_TAG_RESOURCE, GONE, &what)
    }
}
