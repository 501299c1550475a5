//! The Redshift port on the SDK client.

use aws_sdk_redshift::types::Cluster;
use aws_sdk_redshift::Client;
use trailguard_rules::ops;
use trailguard_rules::sweep::{DatabaseState, DbKind};

use crate::error::{classify, code_of};
use crate::ports::Change;
use crate::ports::{read_or, Page, PortResult, RedshiftPort};
use crate::rds::{before_private, not_yet, unmodifiable};

/// Listing page size (the API's maximum).
const PAGE: i32 = 100;

fn gone(code: Option<String>) -> bool {
    code.is_some_and(|c| c.contains("NotFound"))
}

impl RedshiftPort for Client {
    async fn remove_redshift_tag(&self, arn: &str, key: &str) -> PortResult<Change> {
        let listed = self
            .describe_tags()
            .resource_name(arn)
            .tag_keys(key)
            .send()
            .await;
        let value = match listed {
            Ok(o) => o
                .tagged_resources()
                .iter()
                .filter_map(|r| r.tag())
                .find(|t| t.key() == Some(key))
                .map(|t| t.value().unwrap_or_default().to_string()),
            Err(e) if gone(code_of(&e)) => {
                return Ok(Change::AlreadyDone(format!("{arn} no longer exists")))
            }
            Err(e) => return Err(classify(&ops::REDSHIFT_DESCRIBE_TAGS, e)),
        };
        let Some(value) = value else {
            return Ok(Change::AlreadyDone(format!("{arn} has no tag {key}")));
        };
        match self
            .delete_tags()
            .resource_name(arn)
            .tag_keys(key)
            .send()
            .await
        {
            // Taken off: the value it had, which the undo puts back.
            Ok(_) => Ok(Change::Removed(vec![value])),
            Err(e) if gone(code_of(&e)) => {
                Ok(Change::AlreadyDone(format!("{arn} no longer exists")))
            }
            Err(e) => Err(classify(&ops::REDSHIFT_DELETE_TAGS, e)),
        }
    }

    async fn make_redshift_cluster_private(
        &self,
        id: &str,
        read: Option<&Option<DatabaseState>>,
    ) -> PortResult<Change> {
        // Read first (or take the decision's read of moments ago): a cluster that is gone, or
        // settled and not public, is already done.
        let now = read_or(read, self.redshift_cluster(id)).await?;
        let what = format!("Redshift cluster {id}");
        if let Some(done) = before_private(
            &what,
            now,
            &ops::REDSHIFT_MODIFY_CLUSTER,
            "InvalidClusterState",
            |s| unmodifiable(s) || s == "paused",
        )? {
            return Ok(done);
        }
        match self
            .modify_cluster()
            .cluster_identifier(id)
            .publicly_accessible(false)
            .send()
            .await
        {
            Ok(_) => Ok(Change::Done),
            Err(e) if code_of(&e).is_some_and(|c| c.starts_with("InvalidClusterState")) => {
                Err(not_yet(
                    &ops::REDSHIFT_MODIFY_CLUSTER,
                    "InvalidClusterState",
                    &what,
                    "in a state that refuses changes",
                ))
            }
            Err(e) => Err(classify(&ops::REDSHIFT_MODIFY_CLUSTER, e)),
        }
    }

    async fn redshift_cluster(&self, id: &str) -> PortResult<Option<DatabaseState>> {
        match self.describe_clusters().cluster_identifier(id).send().await {
            Ok(o) => Ok(o.clusters().first().map(state)),
            Err(e) if gone(code_of(&e)) => Ok(None),
            Err(e) => Err(classify(&ops::REDSHIFT_DESCRIBE_CLUSTERS, e)),
        }
    }

    async fn list_redshift_clusters(
        &self,
        token: Option<String>,
    ) -> PortResult<Page<DatabaseState>> {
        let o = self
            .describe_clusters()
            .set_marker(token)
            .max_records(PAGE)
            .send()
            .await
            .map_err(|e| classify(&ops::REDSHIFT_DESCRIBE_CLUSTERS, e))?;
        Ok(Page {
            items: o.clusters().iter().map(state).collect(),
            next: o.marker().map(String::from),
        })
    }
}

/// A cluster as trailguard judges it. A change to public that Redshift has not applied yet
/// (`PendingModifiedValues.PubliclyAccessible`) counts as public: the cluster is made private
/// (or, while Redshift refuses changes, retried) instead of passing as already private.
fn state(c: &Cluster) -> DatabaseState {
    let pending_public = c
        .pending_modified_values()
        .and_then(|p| p.publicly_accessible())
        == Some(true);
    DatabaseState {
        kind: DbKind::Redshift,
        id: c.cluster_identifier().unwrap_or_default().to_string(),
        public: c.publicly_accessible() == Some(true) || pending_public,
        status: c.cluster_status().map(String::from),
        tags: c
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshift::types::PendingModifiedValues;

    #[test]
    fn a_change_to_public_not_applied_yet_counts_as_public() {
        let cluster = |now: bool, pending: Option<bool>| {
            let mut b = Cluster::builder()
                .cluster_identifier("analytics")
                .publicly_accessible(now)
                .cluster_status("modifying");
            if let Some(p) = pending {
                b = b.pending_modified_values(
                    PendingModifiedValues::builder()
                        .publicly_accessible(p)
                        .build(),
                );
            }
            state(&b.build()).public
        };
        assert!(cluster(false, Some(true)));
        assert!(cluster(true, None));
        assert!(
            cluster(true, Some(false)),
            "public until Redshift applies the change"
        );
        assert!(!cluster(false, Some(false)));
        assert!(!cluster(false, None));
    }
}
