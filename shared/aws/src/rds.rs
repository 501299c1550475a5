//! The RDS port on the SDK client.

use aws_sdk_rds::types::{DbCluster, DbInstance, Tag};
use aws_sdk_rds::Client;
use trailguard_rules::ops;
use trailguard_rules::sweep::{DatabaseState, DbKind};
use trailguard_rules::Tags;

use crate::error::{classify, code_of, PortError};
use crate::ports::{read_or, Change, Page, PortResult, RdsPort};

/// Listing page size (the API's maximum).
const PAGE: i32 = 100;

/// Codes that mean the snapshot is gone.
fn gone(code: Option<String>) -> bool {
    code.is_some_and(|c| c.contains("NotFound"))
}

/// Who may restore an RDS snapshot (its `restore` attribute: account ids, `all`); None when
/// the snapshot does not exist.
pub(crate) async fn snapshot_restore_values(
    c: &Client,
    snapshot: &str,
    cluster: bool,
) -> PortResult<Option<Vec<String>>> {
    let present = if cluster {
        c.describe_db_cluster_snapshot_attributes()
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
        c.describe_db_snapshot_attributes()
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
    match present {
        Ok(p) => Ok(Some(p)),
        Err((code, _)) if gone(code.clone()) => Ok(None),
        Err((_, e)) => Err(e),
    }
}

impl RdsPort for Client {
    async fn unshare_db_snapshot(
        &self,
        snapshot: &str,
        cluster: bool,
        values: &[String],
    ) -> PortResult<Change> {
        // Look first: only values still there are removed, and none left is already done.
        let Some(present) = snapshot_restore_values(self, snapshot, cluster).await? else {
            return Ok(Change::AlreadyDone(format!(
                "snapshot {snapshot} no longer exists"
            )));
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

    async fn db_instance(&self, id: &str) -> PortResult<Option<DatabaseState>> {
        match self
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(o) => Ok(o.db_instances().first().map(instance_state)),
            Err(e) if gone(code_of(&e)) => Ok(None),
            Err(e) => Err(classify(&ops::DESCRIBE_DB_INSTANCES, e)),
        }
    }

    async fn db_cluster(&self, id: &str) -> PortResult<Option<DatabaseState>> {
        match self
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
        {
            Ok(o) => Ok(o.db_clusters().first().map(cluster_state)),
            Err(e) if gone(code_of(&e)) => Ok(None),
            Err(e) => Err(classify(&ops::DESCRIBE_DB_CLUSTERS, e)),
        }
    }

    async fn list_db_instances(&self, token: Option<String>) -> PortResult<Page<DatabaseState>> {
        let o = self
            .describe_db_instances()
            .set_marker(token)
            .max_records(PAGE)
            .send()
            .await
            .map_err(|e| classify(&ops::DESCRIBE_DB_INSTANCES, e))?;
        Ok(Page {
            items: o
                .db_instances()
                .iter()
                // A Multi-AZ DB cluster's instances are public or not as their cluster is
                // (they cannot be modified one by one): the cluster listing covers them.
                // Aurora's instances carry their own setting.
                .filter(|i| {
                    i.db_cluster_identifier().is_none()
                        || i.engine().is_some_and(|e| e.starts_with("aurora"))
                })
                .map(instance_state)
                .collect(),
            next: o.marker().map(String::from),
        })
    }

    async fn make_db_instance_private(
        &self,
        id: &str,
        read: Option<&Option<DatabaseState>>,
    ) -> PortResult<Change> {
        make_instance_private(self, id, read).await
    }

    async fn remove_db_tag(&self, arn: &str, key: &str) -> PortResult<Change> {
        let listed = self
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await;
        let value = match listed {
            Ok(o) => o
                .tag_list()
                .iter()
                .find(|t| t.key() == Some(key))
                .map(|t| t.value().unwrap_or_default().to_string()),
            Err(e) if gone(code_of(&e)) => {
                return Ok(Change::AlreadyDone(format!("{arn} no longer exists")))
            }
            Err(e) => return Err(classify(&ops::RDS_LIST_TAGS, e)),
        };
        let Some(value) = value else {
            return Ok(Change::AlreadyDone(format!("{arn} has no tag {key}")));
        };
        match self
            .remove_tags_from_resource()
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
            Err(e) => Err(classify(&ops::RDS_REMOVE_TAGS, e)),
        }
    }

    async fn make_db_cluster_private(&self, id: &str) -> PortResult<Change> {
        // Read first: the cluster's members, then each one; only those still public are
        // changed, and none public (or the cluster gone) is already done.
        let members: Vec<String> = match self
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
        {
            Ok(o) => o
                .db_clusters()
                .iter()
                .flat_map(|c| c.db_cluster_members())
                .filter_map(|m| m.db_instance_identifier().map(String::from))
                .collect(),
            Err(e) if gone(code_of(&e)) => {
                return Ok(Change::AlreadyDone(format!(
                    "DB cluster {id} no longer exists"
                )))
            }
            Err(e) => return Err(classify(&ops::DESCRIBE_DB_CLUSTERS, e)),
        };
        let mut changed = Vec::new();
        let mut failed = None;
        for m in &members {
            match make_instance_private(self, m, None).await {
                Ok(Change::AlreadyDone(_)) => {}
                Ok(_) => changed.push(m.clone()),
                // The other members are still made private: partial containment beats none.
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        if changed.is_empty() {
            return Ok(Change::AlreadyDone(format!(
                "no instance of DB cluster {id} is publicly accessible"
            )));
        }
        Ok(Change::Removed(changed))
    }

    async fn list_db_clusters(&self, token: Option<String>) -> PortResult<Page<DatabaseState>> {
        let o = self
            .describe_db_clusters()
            .set_marker(token)
            .max_records(PAGE)
            .send()
            .await
            .map_err(|e| classify(&ops::DESCRIBE_DB_CLUSTERS, e))?;
        Ok(Page {
            items: o.db_clusters().iter().map(cluster_state).collect(),
            next: o.marker().map(String::from),
        })
    }
}

/// A database that cannot be modified yet (being created, or another change under way): a
/// retryable failure, so Lambda retries the event and the failure queue keeps it; the
/// reconciliation sweep makes it private once it can be modified.
pub(crate) fn not_yet(op: &'static ops::Op, code: &str, what: &str, status: &str) -> PortError {
    PortError::Transient {
        op: op.api,
        code: code.into(),
        message: format!(
            "{what} is {status} and cannot be modified yet: Lambda retries the event, the \
             failure queue keeps it, and the reconciliation sweep makes it private once it is \
             available"
        ),
    }
}

/// What a database's read says before it is made private (`what`: "DB instance x"): a
/// change already done (gone, or settled and not public), an error when it cannot be told or
/// changed yet (`refuses`: the states in which `op` is refused), or None: make it private.
/// RDS and Redshift show a new `PubliclyAccessible` only once they have applied it, while the
/// status says `modifying`: a database that reads as not public then may still become public
/// from the very change the event reported, so "already done" waits until it is settled
/// (Lambda retries; the sweep is the net).
pub(crate) fn before_private(
    what: &str,
    now: Option<DatabaseState>,
    op: &'static ops::Op,
    code: &str,
    refuses: impl Fn(&str) -> bool,
) -> PortResult<Option<Change>> {
    let Some(now) = now else {
        return Ok(Some(Change::AlreadyDone(format!(
            "{what} no longer exists"
        ))));
    };
    let status = now.status.unwrap_or_default();
    if now.public && refuses(&status) || !now.public && status == "modifying" {
        return Err(not_yet(op, code, what, &status));
    }
    Ok((!now.public).then(|| Change::AlreadyDone(format!("{what} is not publicly accessible"))))
}

/// States in which a modification is refused.
pub(crate) fn unmodifiable(status: &str) -> bool {
    matches!(
        status,
        "creating"
            | "deleting"
            | "rebooting"
            | "renaming"
            | "starting"
            | "stopping"
            | "stopped"
            | "backtracking"
            | "upgrading"
            | "migrating"
            | "restore-error"
    )
}

async fn make_instance_private(
    c: &Client,
    id: &str,
    read: Option<&Option<DatabaseState>>,
) -> PortResult<Change> {
    // Read first (or take the decision's read of moments ago): an instance that is gone, or
    // settled and not public, is already done.
    let now = read_or(read, c.db_instance(id)).await?;
    if let Some(done) = before_private(
        &format!("DB instance {id}"),
        now,
        &ops::MODIFY_DB_INSTANCE,
        "InvalidDBInstanceState",
        unmodifiable,
    )? {
        return Ok(done);
    }
    match c
        .modify_db_instance()
        .db_instance_identifier(id)
        .publicly_accessible(false)
        // No ApplyImmediately: a change to PubliclyAccessible takes effect at once anyway,
        // and ApplyImmediately would also push through every change queued for the
        // maintenance window (class, engine version, storage) under trailguard's name.
        .send()
        .await
    {
        Ok(_) => Ok(Change::Done),
        Err(e) if code_of(&e).as_deref() == Some("InvalidDBInstanceState") => Err(not_yet(
            &ops::MODIFY_DB_INSTANCE,
            "InvalidDBInstanceState",
            &format!("DB instance {id}"),
            "in a state that refuses changes",
        )),
        Err(e) => Err(classify(&ops::MODIFY_DB_INSTANCE, e)),
    }
}

fn tags(list: &[Tag]) -> Tags {
    list.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn instance_state(i: &DbInstance) -> DatabaseState {
    DatabaseState {
        kind: DbKind::Instance,
        id: i.db_instance_identifier().unwrap_or_default().to_string(),
        public: i.publicly_accessible() == Some(true),
        status: i.db_instance_status().map(String::from),
        tags: tags(i.tag_list()),
    }
}

/// An Aurora cluster has no `PubliclyAccessible` of its own (its instances do): not public.
fn cluster_state(c: &DbCluster) -> DatabaseState {
    DatabaseState {
        kind: DbKind::Cluster,
        id: c.db_cluster_identifier().unwrap_or_default().to_string(),
        public: c.publicly_accessible() == Some(true),
        status: c.status().map(String::from),
        tags: tags(c.tag_list()),
    }
}

/// Who a snapshot's `restore` attribute names (account ids, or `all`).
fn restore_values<'a>(attrs: impl Iterator<Item = (Option<&'a str>, &'a [String])>) -> Vec<String> {
    attrs
        .filter(|(name, _)| *name == Some("restore"))
        .flat_map(|(_, values)| values.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_public_is_already_done_only_once_the_database_is_settled() {
        let db = |public: bool, status: &str| {
            Some(DatabaseState {
                kind: trailguard_rules::sweep::DbKind::Instance,
                id: "orders".into(),
                public,
                status: Some(status.into()),
                tags: Default::default(),
            })
        };
        let before = |now| {
            before_private(
                "DB instance orders",
                now,
                &ops::MODIFY_DB_INSTANCE,
                "InvalidDBInstanceState",
                unmodifiable,
            )
        };
        // The event's change to public may not show yet while RDS applies it.
        let e = before(db(false, "modifying")).unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(e.to_string().contains("modifying"), "{e}");
        assert_eq!(
            before(db(false, "available")).unwrap(),
            Some(Change::AlreadyDone(
                "DB instance orders is not publicly accessible".into()
            ))
        );
        assert_eq!(
            before(None).unwrap(),
            Some(Change::AlreadyDone(
                "DB instance orders no longer exists".into()
            ))
        );
        assert!(before(db(true, "creating")).unwrap_err().is_retryable());
        // Public and modifiable: made private.
        assert_eq!(before(db(true, "available")).unwrap(), None);
        assert_eq!(before(db(true, "modifying")).unwrap(), None);
    }

    #[test]
    fn a_database_being_created_fails_retryably_and_says_what_happens_next() {
        assert!(unmodifiable("creating"));
        assert!(!unmodifiable("available"));
        assert!(!unmodifiable("modifying"));
        let e = not_yet(
            &ops::MODIFY_DB_INSTANCE,
            "InvalidDBInstanceState",
            "DB instance orders",
            "creating",
        );
        assert!(e.is_retryable(), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("creating") && text.contains("failure queue") && text.contains("sweep"),
            "{text}"
        );
    }
}
