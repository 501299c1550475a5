//! The RDS port on the SDK client.

use aws_sdk_rds::Client;
use trailguard_rules::ops;

use crate::error::{classify, code_of};
use crate::ports::{Change, PortResult, RdsPort};

/// Codes that mean the snapshot is gone.
fn gone(code: Option<String>) -> bool {
    code.is_some_and(|c| c.contains("NotFound"))
}

impl RdsPort for Client {
    async fn unshare_db_snapshot(
        &self,
        snapshot: &str,
        cluster: bool,
        values: &[String],
    ) -> PortResult<Change> {
        // Look first: only values still there are removed, and none left is already done.
        let present = if cluster {
            self.describe_db_cluster_snapshot_attributes()
                .db_cluster_snapshot_identifier(snapshot)
                .send()
                .await
                .map(|o| {
                    let attrs = o
                        .db_cluster_snapshot_attributes_result()
                        .map(|r| r.db_cluster_snapshot_attributes())
                        .unwrap_or_default();
                    restore_values(
                        attrs
                            .iter()
                            .map(|a| (a.attribute_name(), a.attribute_values())),
                    )
                })
                .map_err(|e| {
                    (
                        code_of(&e),
                        classify(&ops::DESCRIBE_DB_CLUSTER_SNAPSHOT_ATTRIBUTES, e),
                    )
                })
        } else {
            self.describe_db_snapshot_attributes()
                .db_snapshot_identifier(snapshot)
                .send()
                .await
                .map(|o| {
                    let attrs = o
                        .db_snapshot_attributes_result()
                        .map(|r| r.db_snapshot_attributes())
                        .unwrap_or_default();
                    restore_values(
                        attrs
                            .iter()
                            .map(|a| (a.attribute_name(), a.attribute_values())),
                    )
                })
                .map_err(|e| {
                    (
                        code_of(&e),
                        classify(&ops::DESCRIBE_DB_SNAPSHOT_ATTRIBUTES, e),
                    )
                })
        };
        let present = match present {
            Ok(p) => p,
            Err((code, _)) if gone(code.clone()) => {
                return Ok(Change::AlreadyDone(format!(
                    "snapshot {snapshot} no longer exists"
                )))
            }
            Err((_, e)) => return Err(e),
        };
        let remove: Vec<String> = values
            .iter()
            .filter(|v| present.contains(v))
            .cloned()
            .collect();
        if remove.is_empty() {
            return Ok(Change::AlreadyDone(format!(
                "snapshot {snapshot} is no longer shared with them"
            )));
        }
        if cluster {
            self.modify_db_cluster_snapshot_attribute()
                .db_cluster_snapshot_identifier(snapshot)
                .attribute_name("restore")
                .set_values_to_remove(Some(remove.clone()))
                .send()
                .await
                .map_err(|e| classify(&ops::MODIFY_DB_CLUSTER_SNAPSHOT_ATTRIBUTE, e))?;
        } else {
            self.modify_db_snapshot_attribute()
                .db_snapshot_identifier(snapshot)
                .attribute_name("restore")
                .set_values_to_remove(Some(remove.clone()))
                .send()
                .await
                .map_err(|e| classify(&ops::MODIFY_DB_SNAPSHOT_ATTRIBUTE, e))?;
        }
        Ok(Change::Removed(remove))
    }
}

/// Who a snapshot's `restore` attribute names (account ids, or `all`).
fn restore_values<'a>(attrs: impl Iterator<Item = (Option<&'a str>, &'a [String])>) -> Vec<String> {
    attrs
        .filter(|(name, _)| *name == Some("restore"))
        .flat_map(|(_, values)| values.iter().cloned())
        .collect()
}
