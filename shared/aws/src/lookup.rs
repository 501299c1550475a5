//! Fact lookups: the facts loop (`trailguard_rules::ask`) driven through the ports, for an
//! event and for a sweep's resource alike.

use std::time::{Duration, Instant};

use trailguard_rules::ask::{Ask, Next};
use trailguard_rules::{Decision, FactRequest, Facts, Verdict};

use crate::error::PortError;
use crate::lazy::Lazy;
use crate::ports::{
    Clients, Connect, Ec2Port, GuardDutyPort, IamPort, KeyPort, OrgPort, PolicyPort, RdsPort,
    RedshiftPort, S3Port, TrailPort,
};

/// Why no decision came out of the lookups.
#[derive(Debug)]
pub(crate) enum Unsettled {
    /// A lookup (or connecting to the target) failed.
    Lookup(PortError),
    /// The rules kept asking (see `trailguard_rules::ask::ROUNDS`); each caller says so in
    /// its own words.
    Stuck,
}

/// Decide, looking up exactly the facts the rules ask for: in the target's account (connected
/// on first use, so a decision that needs no fact connects nowhere) and, for the
/// organization's accounts, in the function's own. The time spent connecting and looking up
/// is added to `aws`.
pub(crate) async fn settle<C: Connect>(
    clients: &mut Lazy<'_, C>,
    facts: Facts,
    mut decide: impl FnMut(&Facts) -> Verdict,
    aws: &mut Duration,
) -> Result<(Decision, Facts), Unsettled> {
    let mut ask = Ask::new(facts);
    loop {
        match ask.next(decide(ask.facts())) {
            Next::Decided(d) => return Ok((d, ask.into_facts())),
            Next::Stuck(_) => return Err(Unsettled::Stuck),
            Next::Fetch(requests) => {
                let t = Instant::now();
                let c = clients.get().await.map_err(Unsettled::Lookup)?;
                let home = clients.connect.home();
                for r in &requests {
                    fetch(&*c, &*home, r, ask.facts_mut())
                        .await
                        .map_err(Unsettled::Lookup)?;
                }
                *aws += t.elapsed();
            }
        }
    }
}

/// Look up one fact: in the event's account (`c`), or for the organization's accounts in the
/// function's own (`home`), where the organization is visible.
pub(crate) async fn fetch<C: Clients>(
    c: &C,
    home: &C,
    r: &FactRequest,
    facts: &mut Facts,
) -> Result<(), PortError> {
    match r {
        FactRequest::SecurityGroup {
            group_id,
            group_name,
        } => match c
            .ec2()
            .describe_group(group_id.as_deref(), group_name.as_deref())
            .await?
        {
            Some(g) => facts.security_groups.push(g),
            None => facts
                .missing_groups
                .push(group_id.clone().or(group_name.clone()).unwrap_or_default()),
        },
        FactRequest::SecurityGroupRules { group_id, rule_ids } => {
            facts.rule_directions = c.ec2().rule_directions(group_id, rule_ids).await?;
            facts.rules_looked_up = true;
        }
        FactRequest::AccessKeyOwner { access_key_id } => {
            let owner = c.iam().key_owner(access_key_id).await?;
            facts.key_owners.insert(access_key_id.clone(), owner);
        }
        FactRequest::SecurityGroupState { group_id } => {
            let state = c.ec2().group_state(group_id).await?;
            facts.group_states.insert(group_id.clone(), state);
        }
        FactRequest::NetworkAcl { network_acl_id } => {
            // The whole ACL is read, not only its tags: the entry's delete takes this read
            // (executor::Context::read) instead of reading again.
            let state = c.ec2().acl_state(network_acl_id).await?;
            let tags = state.as_ref().map(|a| a.tags.clone()).unwrap_or_default();
            facts.network_acls.insert(network_acl_id.clone(), tags);
            facts.acl_states.insert(network_acl_id.clone(), state);
        }
        FactRequest::OrganizationAccounts => {
            facts.organization_accounts = Some(home.org().organization_accounts().await?);
        }
        FactRequest::UserQuarantined { user_name } => {
            let q = c
                .iam()
                .user_has_tag(user_name, trailguard_rules::action::QUARANTINE_TAG)
                .await?;
            facts.user_quarantined.insert(user_name.clone(), q);
        }
        FactRequest::InstanceTags { instance_id } => {
            // Its metadata options come with the tags (one DescribeInstances): requiring
            // IMDSv2 takes them instead of reading the instance again.
            let found = c.ec2().instance(instance_id).await?;
            facts.instance_tokens_required.insert(
                instance_id.clone(),
                found.as_ref().map(|i| i.tokens_required),
            );
            facts
                .instance_tags
                .insert(instance_id.clone(), found.map(|i| i.tags));
        }
        FactRequest::RoleTags { role_name } => {
            let tags = c.iam().role_tags(role_name).await?;
            facts.role_tags.insert(role_name.clone(), tags);
        }
        FactRequest::TrailBuckets => {
            facts.trail_buckets = Some(c.trail().trail_buckets().await?);
        }
        FactRequest::NetworkAclState { network_acl_id } => {
            let state = c.ec2().acl_state(network_acl_id).await?;
            facts.acl_states.insert(network_acl_id.clone(), state);
        }
        FactRequest::Database { kind, id } => {
            use trailguard_rules::sweep::DbKind;
            let state = match kind {
                DbKind::Instance => c.rds().db_instance(id).await?,
                DbKind::Cluster => c.rds().db_cluster(id).await?,
                DbKind::Redshift => c.redshift().redshift_cluster(id).await?,
            };
            facts.databases.insert((*kind, id.clone()), state);
        }
        FactRequest::BucketTags { bucket } => {
            let tags = c.s3().bucket_tags(bucket).await?;
            facts.bucket_tags.insert(bucket.clone(), tags);
        }
        FactRequest::BucketState { bucket } => {
            let state = c.s3().bucket_state(bucket).await?;
            facts.bucket_states.insert(bucket.clone(), state);
        }
        FactRequest::PolicyResource { kind, resource } => {
            let state = c.policy().describe_policy(*kind, resource).await?;
            facts
                .policy_resources
                .insert((*kind, resource.clone()), state);
        }
        FactRequest::EncryptionKey { key_id } => {
            let key = c.keys().key_now(key_id).await?;
            facts.encryption_keys.insert(key_id.clone(), key);
        }
        FactRequest::KeyDeletion { key_id } => {
            let scheduled = key_deletion(c, key_id).await?;
            facts.key_deletions.insert(key_id.clone(), scheduled);
        }
        FactRequest::Detectors => {
            facts.detectors = Some(trailguard_rules::state::DetectorsState {
                detectors: c.guardduty().detectors().await?,
                ..Default::default()
            });
        }
        FactRequest::PrefixList { prefix_list_id } => {
            let list = c.ec2().prefix_list(prefix_list_id).await?;
            facts.prefix_lists.insert(prefix_list_id.clone(), list);
        }
    }
    Ok(())
}

/// Pages of the region's `ScheduleKeyDeletion` events read to find who scheduled a key's
/// deletion (50 each): deletions are rare, and one not found is told, never cancelled.
const DELETION_PAGES: usize = 10;

/// Who scheduled `key`'s pending deletion: the newest successful `ScheduleKeyDeletion` naming
/// it in CloudTrail's event history of the last 31 days (KMS's records only).
async fn key_deletion<C: Clients>(
    c: &C,
    key: &str,
) -> Result<Option<trailguard_rules::state::KeyDeletion>, PortError> {
    use trailguard_rules::guards::encryption_keys::{self, KeyEvent};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let read = c
        .trail()
        .lookup_named_events(
            "ScheduleKeyDeletion",
            now - encryption_keys::DELETION_LOOKBACK_SECONDS,
            now + 1,
            DELETION_PAGES,
        )
        .await?;
    // Every page read was full: there may be more, and the one looked for among them.
    let truncated = read.len() >= DELETION_PAGES * 50;
    let events: Vec<KeyEvent> = read
        .into_iter()
        .filter(|e| e.source.as_deref() == Some("kms.amazonaws.com"))
        .map(crate::executor::key_event)
        .collect();
    Ok(match encryption_keys::deletion_scheduled(&events, key) {
        Some(found) => Some(trailguard_rules::state::KeyDeletion {
            history_truncated: truncated,
            ..found
        }),
        None if truncated => Some(trailguard_rules::state::KeyDeletion {
            key_id: key.to_string(),
            history_truncated: true,
            ..Default::default()
        }),
        None => None,
    })
}
