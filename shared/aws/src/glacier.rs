//! The Glacier vault access-policy port on the SDK client (every call names the account as
//! `-`: the caller's own).

use aws_sdk_glacier::types::VaultAccessPolicy;
use aws_sdk_glacier::Client;
use trailguard_rules::ops;
use trailguard_rules::resources::{PolicyKind, PolicyState};

use crate::error::classify;
use crate::policies::{changed, is_gone, tags, to_untag, untag_removed};
use crate::ports::{Change, Page, PolicyPort, PortResult};

/// Glacier answers ResourceNotFoundException both for a vault that does not exist and for
/// a vault without an access policy.
const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];
const OWN: &str = "-";

/// The vault's policy (None: none, or no vault; ListTagsForVault tells which).
async fn policy(c: &Client, name: &str) -> PortResult<Option<String>> {
    match c
        .get_vault_access_policy()
        .account_id(OWN)
        .vault_name(name)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .policy()
            .and_then(|p| p.policy())
            .filter(|p| !p.trim().is_empty())
            .map(String::from)),
        Err(e) if is_gone(&e, NOT_FOUND) => Ok(None),
        Err(e) => Err(classify(&ops::GLACIER_GET_VAULT_ACCESS_POLICY, e)),
    }
}

/// The policy and tags of a vault by name; None when it does not exist.
async fn vault_state(c: &Client, name: &str) -> PortResult<Option<PolicyState>> {
    let policy = policy(c, name).await?;
    let t = match c
        .list_tags_for_vault()
        .account_id(OWN)
        .vault_name(name)
        .send()
        .await
    {
        Ok(o) => tags(
            o.tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        Err(e) if is_gone(&e, NOT_FOUND) => return Ok(None),
        Err(e) => return Err(classify(&ops::GLACIER_LIST_TAGS, e)),
    };
    Ok(Some(PolicyState {
        kind: PolicyKind::Vault,
        resource: name.to_string(),
        policy,
        tags: t,
        in_vpc: false,
    }))
}

impl PolicyPort for Client {
    fn serves(&self, kind: PolicyKind) -> bool {
        kind == PolicyKind::Vault
    }

    /// A vault that no longer exists reads as one without a policy (Glacier answers both the
    /// same): either way there is nothing to take out.
    async fn read_policy(&self, _: PolicyKind, name: &str) -> PortResult<Option<Option<String>>> {
        Ok(Some(policy(self, name).await?))
    }

    async fn describe_policy(&self, _: PolicyKind, name: &str) -> PortResult<Option<PolicyState>> {
        vault_state(self, name).await
    }

    async fn put_policy(&self, _: PolicyKind, name: &str, document: &str) -> PortResult<Change> {
        let r = self
            .set_vault_access_policy()
            .account_id(OWN)
            .vault_name(name)
            .policy(VaultAccessPolicy::builder().policy(document).build())
            .send()
            .await;
        changed(
            r,
            &ops::GLACIER_SET_VAULT_ACCESS_POLICY,
            NOT_FOUND,
            &format!("vault {name}"),
        )
    }

    async fn delete_policy(&self, _: PolicyKind, name: &str) -> PortResult<Change> {
        let r = self
            .delete_vault_access_policy()
            .account_id(OWN)
            .vault_name(name)
            .send()
            .await;
        match r {
            Err(e) if is_gone(&e, NOT_FOUND) => Ok(Change::AlreadyDone(format!(
                "vault {name} has no access policy now (or no longer exists)"
            ))),
            r => changed(
                r,
                &ops::GLACIER_DELETE_VAULT_ACCESS_POLICY,
                NOT_FOUND,
                &format!("vault {name}"),
            ),
        }
    }

    async fn list_policies(
        &self,
        _: PolicyKind,
        token: Option<String>,
    ) -> PortResult<Page<PolicyState>> {
        let page = self
            .list_vaults()
            .account_id(OWN)
            .set_marker(token)
            .limit(50)
            .send()
            .await
            .map_err(|e| classify(&ops::GLACIER_LIST_VAULTS, e))?;
        let mut items = Vec::new();
        for v in page.vault_list() {
            let Some(name) = v.vault_name() else { continue };
            if let Some(s) = vault_state(self, name).await? {
                items.push(s);
            }
        }
        Ok(Page {
            items,
            next: page.marker().map(String::from),
        })
    }

    async fn tag_value(
        &self,
        _: PolicyKind,
        vault: &str,
        key: &str,
    ) -> PortResult<Option<Option<String>>> {
        match self
            .list_tags_for_vault()
            .account_id(OWN)
            .vault_name(vault)
            .send()
            .await
        {
            Ok(o) => Ok(Some(o.tags().and_then(|t| t.get(key)).cloned())),
            Err(e) if is_gone(&e, NOT_FOUND) => Ok(None),
            Err(e) => Err(classify(&ops::GLACIER_LIST_TAGS, e)),
        }
    }

    async fn untag_resource(&self, kind: PolicyKind, vault: &str, key: &str) -> PortResult<Change> {
        let what = format!("vault {vault}");
        let value = match to_untag(self.tag_value(kind, vault, key).await?, &what, key) {
            Ok(v) => v,
            Err(nothing) => return Ok(nothing),
        };
        let r = self
            .remove_tags_from_vault()
            .account_id(OWN)
            .vault_name(vault)
            .tag_keys(key)
            .send()
            .await;
        untag_removed(
            changed(r, &ops::GLACIER_REMOVE_TAGS, NOT_FOUND, &what),
            value,
        )
    }

    async fn tag_resource(
        &self,
        _: PolicyKind,
        vault: &str,
        key: &str,
        value: &str,
    ) -> PortResult<Change> {
        let what = format!("vault {vault}");
        let r = self
            .add_tags_to_vault()
            .account_id(OWN)
            .vault_name(vault)
            .tags(key, value)
            .send()
            .await;
        changed(r, &ops::GLACIER_ADD_TAGS, NOT_FOUND, &what)
    }
}
