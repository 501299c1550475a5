//! The EC2 port on the SDK client.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Filter, ImageAttributeName, IpPermission, IpRange, Ipv6Range, LaunchPermission,
    LaunchPermissionModifications, OperationType, PermissionGroup, PrefixListId,
    RemovePrefixListEntry, SecurityGroupRule, SnapshotAttributeName, UserIdGroupPair,
};
use aws_sdk_ec2::Client;
use trailguard_rules::facts::{GroupRule, PrefixListFacts};
use trailguard_rules::net::Protocol;
use trailguard_rules::state::Ec2DefaultsState;
use trailguard_rules::sweep::{AclEntry, AclState, ShareState};
use trailguard_rules::{GroupFacts, Permission, Tags};

use crate::error::{classify, code_of};
use crate::ports::{read_or, Change, Ec2Port, InstanceNow, Page, PortResult};
use trailguard_rules::ops::{self, Op};

/// A listing's next-page token (an empty one means the end, as a missing one does).
fn next_token(t: Option<&str>) -> Option<String> {
    t.filter(|t| !t.is_empty()).map(String::from)
}

/// Who a launch or create-volume permission list shares with: the accounts, and whether
/// the group `all` (everyone) is among them.
fn shared_with<'a>(
    perms: impl Iterator<Item = (Option<&'a str>, Option<&'a PermissionGroup>)>,
) -> (Vec<String>, bool) {
    let (mut accounts, mut public) = (Vec::new(), false);
    for (user, group) in perms {
        accounts.extend(user.map(String::from));
        public |= group == Some(&PermissionGroup::All);
    }
    (accounts, public)
}

/// Codes that mean "the thing to remove is already gone".
const GONE: &[&str] = &[
    "InvalidPermission.NotFound",
    "InvalidSecurityGroupRuleId.NotFound",
    "InvalidGroup.NotFound",
    "InvalidGroupId.NotFound",
    "InvalidNetworkAclEntry.NotFound",
    "InvalidNetworkAclID.NotFound",
];

fn ip_permission(p: &Permission) -> IpPermission {
    let mut b = IpPermission::builder().ip_protocol(p.protocol.api_name());
    // Ports go back exactly as the request wrote them, so the revoke matches the rule.
    if let Some(f) = p.from_port {
        b = b.from_port(f as i32);
    }
    if let Some(t) = p.to_port {
        b = b.to_port(t as i32);
    }
    if let Some(c) = &p.cidr_ipv4 {
        b = b.ip_ranges(
            IpRange::builder()
                .cidr_ip(c)
                .set_description(p.description.clone())
                .build(),
        );
    }
    if let Some(c) = &p.cidr_ipv6 {
        b = b.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(c)
                .set_description(p.description.clone())
                .build(),
        );
    }
    if let Some(c) = &p.prefix_list_id {
        b = b.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(c)
                .set_description(p.description.clone())
                .build(),
        );
    }
    if let Some(g) = &p.source_group_id {
        b = b.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(g)
                .set_description(p.description.clone())
                .build(),
        );
    }
    b.build()
}

fn tags_of(tags: &[aws_sdk_ec2::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// What a successful revoke said: real EC2 answers a revoke of rules that do not exist with
/// success and lists them in `UnknownIpPermissions`; that is "already done" too.
fn revoked(unknown: usize, asked: usize) -> Change {
    if unknown > 0 && unknown >= asked {
        Change::AlreadyDone("EC2 reported the rules as unknown (already revoked)".into())
    } else {
        Change::Done
    }
}

/// One instance as `DescribeInstances` shows it (None: no such instance).
pub(crate) async fn instance(
    c: &Client,
    instance_id: &str,
) -> PortResult<Option<aws_sdk_ec2::types::Instance>> {
    match c
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id))
            .cloned()),
        Err(e) if code_of(&e).as_deref() == Some("InvalidInstanceID.NotFound") => Ok(None),
        Err(e) => Err(classify(&ops::DESCRIBE_INSTANCES, e)),
    }
}

/// Whom an EBS snapshot is shared with: the account ids, and whether everyone may create a
/// volume from it; None when the snapshot does not exist.
pub(crate) async fn snapshot_shares(
    c: &Client,
    snapshot_id: &str,
) -> PortResult<Option<(Vec<String>, bool)>> {
    match c
        .describe_snapshot_attribute()
        .snapshot_id(snapshot_id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
    {
        Ok(a) => {
            let present = a.create_volume_permissions();
            Ok(Some((
                present
                    .iter()
                    .filter_map(|p| p.user_id())
                    .map(String::from)
                    .collect(),
                present
                    .iter()
                    .any(|p| p.group() == Some(&PermissionGroup::All)),
            )))
        }
        Err(e) if code_of(&e).is_some_and(|c| c.starts_with("InvalidSnapshot")) => Ok(None),
        Err(e) => Err(classify(&ops::DESCRIBE_SNAPSHOT_ATTRIBUTE, e)),
    }
}

impl Ec2Port for Client {
    async fn enable_ebs_encryption_by_default(&self) -> PortResult<Change> {
        let now = self
            .get_ebs_encryption_by_default()
            .send()
            .await
            .map_err(|e| classify(&ops::GET_EBS_ENCRYPTION_BY_DEFAULT, e))?;
        if now.ebs_encryption_by_default() == Some(true) {
            return Ok(Change::AlreadyDone(
                "EBS encryption by default is on".into(),
            ));
        }
        self.enable_ebs_encryption_by_default()
            .send()
            .await
            .map_err(|e| classify(&ops::ENABLE_EBS_ENCRYPTION_BY_DEFAULT, e))?;
        Ok(Change::Done)
    }

    async fn enable_snapshot_block_public_access(&self, state: &str) -> PortResult<Change> {
        use trailguard_rules::guards::ec2_guardrails::snapshot_strictness;
        let now = self
            .get_snapshot_block_public_access_state()
            .send()
            .await
            .map_err(|e| classify(&ops::GET_SNAPSHOT_BPA, e))?;
        let before = now
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if snapshot_strictness(&before).unwrap_or(0) >= snapshot_strictness(state).unwrap_or(2) {
            return Ok(Change::AlreadyDone(format!(
                "public sharing of EBS snapshots is blocked ({before})"
            )));
        }
        self.enable_snapshot_block_public_access()
            .state(aws_sdk_ec2::types::SnapshotBlockPublicAccessState::from(
                state,
            ))
            .send()
            .await
            .map_err(|e| classify(&ops::ENABLE_SNAPSHOT_BPA, e))?;
        Ok(Change::Removed(vec![before]))
    }

    async fn instance(&self, instance_id: &str) -> PortResult<Option<InstanceNow>> {
        use aws_sdk_ec2::types::HttpTokensState;
        let found = instance(self, instance_id).await?;
        Ok(found.map(|i| InstanceNow {
            tags: i
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            tokens_required: i.metadata_options().and_then(|m| m.http_tokens())
                == Some(&HttpTokensState::Required),
        }))
    }

    async fn require_imdsv2(
        &self,
        instance_id: &str,
        read: Option<&Option<bool>>,
    ) -> PortResult<Change> {
        use aws_sdk_ec2::types::HttpTokensState;
        // Read first (or take the decision's read of moments ago): an instance gone, or
        // already requiring tokens, is already done.
        let required = read_or(read, async {
            Ok(self.instance(instance_id).await?.map(|i| i.tokens_required))
        })
        .await?;
        let Some(required) = required else {
            return Ok(Change::AlreadyDone(format!(
                "instance {instance_id} does not exist (any more)"
            )));
        };
        if required {
            return Ok(Change::AlreadyDone(format!(
                "instance {instance_id} requires IMDSv2"
            )));
        }
        self.modify_instance_metadata_options()
            .instance_id(instance_id)
            .http_tokens(HttpTokensState::Required)
            .send()
            .await
            .map_err(|e| classify(&ops::MODIFY_INSTANCE_METADATA_OPTIONS, e))?;
        Ok(Change::Done)
    }

    async fn require_imdsv2_default(&self) -> PortResult<Change> {
        use aws_sdk_ec2::types::MetadataDefaultHttpTokensState;
        let now = self
            .get_instance_metadata_defaults()
            .send()
            .await
            .map_err(|e| classify(&ops::GET_INSTANCE_METADATA_DEFAULTS, e))?;
        let before = now
            .account_level()
            .and_then(|a| a.http_tokens())
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        if before == "required" {
            return Ok(Change::AlreadyDone(
                "the account's instance metadata defaults require IMDSv2".into(),
            ));
        }
        self.modify_instance_metadata_defaults()
            .http_tokens(MetadataDefaultHttpTokensState::Required)
            .send()
            .await
            .map_err(|e| classify(&ops::MODIFY_INSTANCE_METADATA_DEFAULTS, e))?;
        Ok(Change::Removed(vec![before]))
    }

    async fn ec2_defaults(&self, account: &str, region: &str) -> PortResult<Ec2DefaultsState> {
        // A region or partition without one of these features answers that it does not know
        // the call: that guardrail is not read, the others are.
        let unknown = |code: Option<String>| {
            code.is_some_and(|c| ["InvalidAction", "UnsupportedOperation"].contains(&c.as_str()))
        };
        let ebs = match self.get_ebs_encryption_by_default().send().await {
            Ok(o) => o.ebs_encryption_by_default(),
            Err(e) if unknown(code_of(&e)) => None,
            Err(e) => return Err(classify(&ops::GET_EBS_ENCRYPTION_BY_DEFAULT, e)),
        };
        let snapshots = match self.get_snapshot_block_public_access_state().send().await {
            Ok(o) => o.state().map(|s| s.as_str().to_string()),
            Err(e) if unknown(code_of(&e)) => None,
            Err(e) => return Err(classify(&ops::GET_SNAPSHOT_BPA, e)),
        };
        let images = match self.get_image_block_public_access_state().send().await {
            Ok(o) => o.image_block_public_access_state().map(String::from),
            Err(e) if unknown(code_of(&e)) => None,
            Err(e) => return Err(classify(&ops::GET_IMAGE_BPA, e)),
        };
        Ok(Ec2DefaultsState {
            account: account.to_string(),
            region: region.to_string(),
            ebs_encryption_by_default: ebs,
            snapshot_block_public_access: snapshots,
            image_block_public_access: images,
        })
    }

    async fn enable_image_block_public_access(&self) -> PortResult<Change> {
        let now = self
            .get_image_block_public_access_state()
            .send()
            .await
            .map_err(|e| classify(&ops::GET_IMAGE_BPA, e))?;
        if now.image_block_public_access_state() == Some("block-new-sharing") {
            return Ok(Change::AlreadyDone(
                "new public sharing of AMIs is blocked".into(),
            ));
        }
        self.enable_image_block_public_access()
            .image_block_public_access_state(
                aws_sdk_ec2::types::ImageBlockPublicAccessEnabledState::BlockNewSharing,
            )
            .send()
            .await
            .map_err(|e| classify(&ops::ENABLE_IMAGE_BPA, e))?;
        Ok(Change::Done)
    }

    async fn revoke_rules(
        &self,
        group_id: &str,
        egress: bool,
        rule_ids: &[String],
    ) -> PortResult<Change> {
        let ids = Some(rule_ids.to_vec());
        if egress {
            let r = self
                .revoke_security_group_egress()
                .group_id(group_id)
                .set_security_group_rule_ids(ids)
                .send()
                .await;
            revoke_result(
                r.map(|o| o.unknown_ip_permissions().len()),
                rule_ids.len(),
                &ops::REVOKE_SG_EGRESS,
            )
        } else {
            let r = self
                .revoke_security_group_ingress()
                .group_id(group_id)
                .set_security_group_rule_ids(ids)
                .send()
                .await;
            revoke_result(
                r.map(|o| o.unknown_ip_permissions().len()),
                rule_ids.len(),
                &ops::REVOKE_SG_INGRESS,
            )
        }
    }

    async fn revoke_permissions(
        &self,
        group_id: Option<&str>,
        group_name: Option<&str>,
        egress: bool,
        perms: &[Permission],
    ) -> PortResult<Change> {
        let ps: Vec<IpPermission> = perms.iter().map(ip_permission).collect();
        if egress {
            let r = self
                .revoke_security_group_egress()
                .set_group_id(group_id.map(String::from))
                .set_ip_permissions(Some(ps))
                .send()
                .await;
            revoke_result(
                r.map(|o| o.unknown_ip_permissions().len()),
                perms.len(),
                &ops::REVOKE_SG_EGRESS,
            )
        } else {
            // EC2 takes a group name instead of an id only for the default VPC, which is
            // where events that name only the group come from.
            let r = self
                .revoke_security_group_ingress()
                .set_group_id(group_id.map(String::from))
                .set_group_name(if group_id.is_none() {
                    group_name.map(String::from)
                } else {
                    None
                })
                .set_ip_permissions(Some(ps))
                .send()
                .await;
            revoke_result(
                r.map(|o| o.unknown_ip_permissions().len()),
                perms.len(),
                &ops::REVOKE_SG_INGRESS,
            )
        }
    }

    async fn authorize_permissions(
        &self,
        group_id: &str,
        egress: bool,
        perms: &[Permission],
    ) -> PortResult<Change> {
        let ps: Vec<IpPermission> = perms.iter().map(ip_permission).collect();
        if egress {
            let r = self
                .authorize_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(Some(ps))
                .send()
                .await;
            authorize_result(r.map(|_| ()), &ops::AUTHORIZE_SG_EGRESS)
        } else {
            let r = self
                .authorize_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(Some(ps))
                .send()
                .await;
            authorize_result(r.map(|_| ()), &ops::AUTHORIZE_SG_INGRESS)
        }
    }

    async fn describe_group(
        &self,
        group_id: Option<&str>,
        group_name: Option<&str>,
    ) -> PortResult<Option<GroupFacts>> {
        let mut req = self.describe_security_groups();
        req = match (group_id, group_name) {
            (Some(id), _) => req.group_ids(id),
            (None, Some(name)) => {
                req.filters(Filter::builder().name("group-name").values(name).build())
            }
            (None, None) => return Ok(None),
        };
        match req.send().await {
            Ok(out) => {
                let groups = out.security_groups();
                // A name is unique only within a VPC; several matches cannot be resolved safely.
                if groups.len() != 1 {
                    return Ok(None);
                }
                let g = &groups[0];
                Ok(Some(GroupFacts {
                    group_id: g.group_id().unwrap_or_default().to_string(),
                    group_name: g.group_name().map(String::from),
                    tags: tags_of(g.tags()),
                    rules: vec![],
                }))
            }
            Err(e) if code_of(&e).is_some_and(|c| GONE.contains(&c.as_str())) => Ok(None),
            Err(e) => Err(classify(&ops::DESCRIBE_SECURITY_GROUPS, e)),
        }
    }

    async fn rule_directions(
        &self,
        group_id: &str,
        rule_ids: &[String],
    ) -> PortResult<BTreeMap<String, bool>> {
        Ok(group_rules(self, group_id)
            .await?
            .iter()
            .filter_map(|r| {
                Some((
                    r.security_group_rule_id()?.to_string(),
                    r.is_egress().unwrap_or(false),
                ))
            })
            .filter(|(id, _)| rule_ids.contains(id))
            .collect())
    }

    async fn group_state(&self, group_id: &str) -> PortResult<Option<GroupFacts>> {
        let Some(mut group) = self.describe_group(Some(group_id), None).await? else {
            return Ok(None);
        };
        group.rules = group_rules(self, group_id)
            .await?
            .iter()
            .filter_map(group_rule)
            .collect();
        Ok(Some(group))
    }

    async fn delete_nacl_entry(
        &self,
        acl_id: &str,
        rule_number: i64,
        egress: bool,
        expected: Option<&AclEntry>,
        read: Option<&Option<AclState>>,
    ) -> PortResult<Change> {
        let Ok(n) = i32::try_from(rule_number) else {
            return Ok(Change::AlreadyDone(format!(
                "rule number {rule_number} cannot exist"
            )));
        };
        // Look first: an entry already deleted is "already done" (some EC2 emulators answer
        // a delete of a missing entry with a 500 that would be retried forever), and an entry
        // replaced since the event (a redrive after someone fixed it by hand) is not the one
        // the event made: entries are deleted by number, so the read is what proves it. The
        // decision's own read of the ACL (its tags), moments ago, serves as that read: one
        // DescribeNetworkAcls per event either way.
        let acl = read_or(read, self.acl_state(acl_id)).await?;
        let Some(acl) = acl else {
            return Ok(Change::AlreadyDone(format!(
                "network ACL {acl_id} no longer exists"
            )));
        };
        let now = acl
            .entries
            .iter()
            .find(|e| e.rule_number == rule_number && e.egress == egress);
        let Some(now) = now else {
            return Ok(Change::AlreadyDone(format!(
                "entry {rule_number} of {acl_id} is already gone"
            )));
        };
        if let Some(want) = expected.filter(|w| !same_entry(w, now)) {
            return Ok(Change::AlreadyDone(format!(
                "entry {rule_number} of {acl_id} was replaced since ({} now, the event's {}): left as it is",
                entry_text(now),
                entry_text(want)
            )));
        }
        match self
            .delete_network_acl_entry()
            .network_acl_id(acl_id)
            .rule_number(n)
            .egress(egress)
            .send()
            .await
        {
            // The entry as it was read, not as the event wrote it (it may have been narrowed
            // since): what the undo creates again.
            Ok(_) => Ok(match serde_json::to_string(now) {
                Ok(read) => Change::Removed(vec![read]),
                Err(_) => Change::Done,
            }),
            Err(e) => gone_or(e, &ops::DELETE_NACL_ENTRY),
        }
    }

    async fn unshare_image(
        &self,
        image_id: &str,
        accounts: &[String],
        public: bool,
        organizations: &[String],
    ) -> PortResult<Change> {
        // Look first: only what is still shared is removed, and nothing left is already done.
        let attr = match self
            .describe_image_attribute()
            .image_id(image_id)
            .attribute(ImageAttributeName::LaunchPermission)
            .send()
            .await
        {
            Ok(a) => a,
            Err(e) if code_of(&e).is_some_and(|c| c.starts_with("InvalidAMIID")) => {
                return Ok(Change::AlreadyDone(format!(
                    "image {image_id} no longer exists"
                )))
            }
            Err(e) => return Err(classify(&ops::DESCRIBE_IMAGE_ATTRIBUTE, e)),
        };
        let remove =
            launch_permissions_present(attr.launch_permissions(), accounts, public, organizations);
        let removed: Vec<String> = remove
            .iter()
            .filter_map(|p| {
                p.user_id()
                    .or(p.organization_arn())
                    .or(p.organizational_unit_arn())
                    .map(String::from)
                    .or_else(|| (p.group() == Some(&PermissionGroup::All)).then(|| "all".into()))
            })
            .collect();
        if remove.is_empty() {
            return Ok(Change::AlreadyDone(format!(
                "image {image_id} is no longer shared with them"
            )));
        }
        match self
            .modify_image_attribute()
            .image_id(image_id)
            .launch_permission(
                LaunchPermissionModifications::builder()
                    .set_remove(Some(remove))
                    .build(),
            )
            .send()
            .await
        {
            Ok(_) => Ok(Change::Removed(removed)),
            Err(e) if code_of(&e).is_some_and(|c| c.starts_with("InvalidAMIID")) => Ok(
                Change::AlreadyDone(format!("image {image_id} no longer exists")),
            ),
            Err(e) => Err(classify(&ops::MODIFY_IMAGE_ATTRIBUTE, e)),
        }
    }

    async fn unshare_snapshot(
        &self,
        snapshot_id: &str,
        accounts: &[String],
        public: bool,
    ) -> PortResult<Change> {
        let Some((shared_with, shared_public)) = snapshot_shares(self, snapshot_id).await? else {
            return Ok(Change::AlreadyDone(format!(
                "snapshot {snapshot_id} no longer exists"
            )));
        };
        let users: Vec<String> = shared_with
            .into_iter()
            .filter(|u| accounts.iter().any(|a| a == u))
            .collect();
        let everyone = public && shared_public;
        let mut removed = users.clone();
        if everyone {
            removed.push("all".into());
        }
        if users.is_empty() && !everyone {
            return Ok(Change::AlreadyDone(format!(
                "snapshot {snapshot_id} is no longer shared with them"
            )));
        }
        // The flat form (operation type, user ids, group names): EC2 takes it as well as the
        // structured one, and it is the form every emulator implements.
        self.modify_snapshot_attribute()
            .snapshot_id(snapshot_id)
            .attribute(SnapshotAttributeName::CreateVolumePermission)
            .operation_type(OperationType::Remove)
            .set_user_ids(Some(users))
            .set_group_names(everyone.then(|| vec!["all".to_string()]))
            .send()
            .await
            .map_err(|e| classify(&ops::MODIFY_SNAPSHOT_ATTRIBUTE, e))?;
        Ok(Change::Removed(removed))
    }

    async fn list_groups(&self, token: Option<String>) -> PortResult<Page<GroupFacts>> {
        let page = self
            .describe_security_groups()
            .max_results(SWEEP_PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&ops::DESCRIBE_SECURITY_GROUPS, e))?;
        let mut groups: Vec<GroupFacts> = page
            .security_groups()
            .iter()
            .map(|g| GroupFacts {
                group_id: g.group_id().unwrap_or_default().to_string(),
                group_name: g.group_name().map(String::from),
                tags: tags_of(g.tags()),
                rules: vec![],
            })
            .collect();
        // Every rule of the page's groups, in as few calls as the rule pages need; group ids
        // go in filters of at most a page's worth (a server that ignores MaxResults answers
        // with more groups than a filter may name).
        let ids: Vec<String> = groups.iter().map(|g| g.group_id.clone()).collect();
        let mut rules: BTreeMap<String, Vec<GroupRule>> = BTreeMap::new();
        for chunk in ids.chunks(SWEEP_PAGE as usize) {
            let mut next: Option<String> = None;
            loop {
                let out = self
                    .describe_security_group_rules()
                    .filters(
                        Filter::builder()
                            .name("group-id")
                            .set_values(Some(chunk.to_vec()))
                            .build(),
                    )
                    .max_results(1000)
                    .set_next_token(next.take())
                    .send()
                    .await
                    .map_err(|e| classify(&ops::DESCRIBE_SG_RULES, e))?;
                for r in out.security_group_rules() {
                    if let (Some(g), Some(rule)) = (r.group_id(), group_rule(r)) {
                        rules.entry(g.to_string()).or_default().push(rule);
                    }
                }
                next = next_token(out.next_token());
                if next.is_none() {
                    break;
                }
            }
        }
        for g in &mut groups {
            g.rules = rules.remove(&g.group_id).unwrap_or_default();
        }
        Ok(Page {
            items: groups,
            next: next_token(page.next_token()),
        })
    }

    async fn list_acls(&self, token: Option<String>) -> PortResult<Page<AclState>> {
        let page = self
            .describe_network_acls()
            .max_results(SWEEP_PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&ops::DESCRIBE_NETWORK_ACLS, e))?;
        let items = page.network_acls().iter().map(acl_state_of).collect();
        Ok(Page {
            items,
            next: next_token(page.next_token()),
        })
    }

    async fn list_image_shares(&self, token: Option<String>) -> PortResult<Page<ShareState>> {
        let page = self
            .describe_images()
            .owners("self")
            .max_results(SWEEP_PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&ops::DESCRIBE_IMAGES, e))?;
        let mut items = Vec::new();
        for image in page.images() {
            let Some(id) = image.image_id() else { continue };
            let attr = match self
                .describe_image_attribute()
                .image_id(id)
                .attribute(ImageAttributeName::LaunchPermission)
                .send()
                .await
            {
                Ok(a) => a,
                // Deregistered since the listing.
                Err(e) if code_of(&e).is_some_and(|c| c.starts_with("InvalidAMIID")) => continue,
                Err(e) => return Err(classify(&ops::DESCRIBE_IMAGE_ATTRIBUTE, e)),
            };
            let perms = attr.launch_permissions();
            let (accounts, public) = shared_with(perms.iter().map(|p| (p.user_id(), p.group())));
            items.push(ShareState {
                id: id.to_string(),
                accounts,
                public,
                organizations: perms
                    .iter()
                    .filter_map(|p| {
                        p.organization_arn()
                            .or(p.organizational_unit_arn())
                            .map(String::from)
                    })
                    .collect(),
                tags: tags_of(image.tags()),
            });
        }
        Ok(Page {
            items,
            next: next_token(page.next_token()),
        })
    }

    async fn list_snapshot_shares(&self, token: Option<String>) -> PortResult<Page<ShareState>> {
        let page = self
            .describe_snapshots()
            .owner_ids("self")
            .max_results(SWEEP_PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&ops::DESCRIBE_SNAPSHOTS, e))?;
        let mut items = Vec::new();
        for snap in page.snapshots() {
            let Some(id) = snap.snapshot_id() else {
                continue;
            };
            let attr = match self
                .describe_snapshot_attribute()
                .snapshot_id(id)
                .attribute(SnapshotAttributeName::CreateVolumePermission)
                .send()
                .await
            {
                Ok(a) => a,
                Err(e) if code_of(&e).is_some_and(|c| c.starts_with("InvalidSnapshot")) => continue,
                Err(e) => return Err(classify(&ops::DESCRIBE_SNAPSHOT_ATTRIBUTE, e)),
            };
            let perms = attr.create_volume_permissions();
            let (accounts, public) = shared_with(perms.iter().map(|p| (p.user_id(), p.group())));
            items.push(ShareState {
                id: id.to_string(),
                accounts,
                public,
                organizations: vec![],
                tags: tags_of(snap.tags()),
            });
        }
        Ok(Page {
            items,
            next: next_token(page.next_token()),
        })
    }

    async fn remove_tag(&self, resource_ids: &[String], key: &str) -> PortResult<Change> {
        let before = tagged(self, resource_ids, key).await?;
        let carrying: Vec<String> = before.keys().cloned().collect();
        if carrying.is_empty() {
            return Ok(Change::AlreadyDone(format!(
                "{} no longer carry {key}",
                resource_ids.join(", ")
            )));
        }
        match self
            .delete_tags()
            .set_resources(Some(carrying.clone()))
            .tags(aws_sdk_ec2::types::Tag::builder().key(key).build())
            .send()
            .await
        {
            // `id=value`: each resource taken off, with the value the undo puts back.
            Ok(_) => Ok(Change::Removed(
                before.iter().map(|(id, v)| format!("{id}={v}")).collect(),
            )),
            Err(e) if code_of(&e).is_some_and(|c| c.ends_with(".NotFound")) => Ok(
                Change::AlreadyDone(format!("{} no longer exist", resource_ids.join(", "))),
            ),
            Err(e) => Err(classify(&ops::DELETE_TAGS, e)),
        }
    }

    async fn prefix_list(&self, prefix_list_id: &str) -> PortResult<Option<PrefixListFacts>> {
        let Some(list) = described_prefix_list(self, prefix_list_id).await? else {
            return Ok(None);
        };
        let cidrs = prefix_list_cidrs(self, prefix_list_id, None).await?;
        Ok(Some(PrefixListFacts {
            prefix_list_id: prefix_list_id.to_string(),
            owner_id: list.owner_id().map(String::from),
            name: list.prefix_list_name().map(String::from),
            cidrs,
        }))
    }

    async fn remove_prefix_list_entries(
        &self,
        prefix_list_id: &str,
        cidrs: &[String],
        previous_version: Option<i64>,
    ) -> PortResult<Change> {
        let Some(version) = described_prefix_list(self, prefix_list_id)
            .await?
            .and_then(|l| l.version())
        else {
            return Ok(Change::AlreadyDone(format!(
                "prefix list {prefix_list_id} no longer exists"
            )));
        };
        let now = prefix_list_cidrs(self, prefix_list_id, None).await?;
        let before = match previous_version {
            Some(v) => prefix_list_cidrs(self, prefix_list_id, Some(v)).await?,
            None => Vec::new(),
        };
        let remove: Vec<&String> = cidrs
            .iter()
            .filter(|c| now.contains(c) && !before.contains(c))
            .collect();
        if remove.is_empty() {
            return Ok(Change::AlreadyDone(format!(
                "prefix list {prefix_list_id} holds none of {} (or held them before the call)",
                cidrs.join(", ")
            )));
        }
        self.modify_managed_prefix_list()
            .prefix_list_id(prefix_list_id)
            .current_version(version)
            .set_remove_entries(Some(
                remove
                    .iter()
                    .map(|c| RemovePrefixListEntry::builder().cidr(*c).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| classify(&ops::MODIFY_MANAGED_PREFIX_LIST, e))?;
        Ok(Change::Removed(remove.into_iter().cloned().collect()))
    }

    async fn acl_state(&self, acl_id: &str) -> PortResult<Option<AclState>> {
        match self
            .describe_network_acls()
            .network_acl_ids(acl_id)
            .send()
            .await
        {
            Ok(out) => Ok(out.network_acls().first().map(acl_state_of)),
            Err(e) if code_of(&e).is_some_and(|c| GONE.contains(&c.as_str())) => Ok(None),
            Err(e) => Err(classify(&ops::DESCRIBE_NETWORK_ACLS, e)),
        }
    }
}

/// Whether the entry EC2 shows at the event's number still lets in what the event let in:
/// an allow for the same block. The block is compared as a network (EC2 stores
/// `1.2.3.4/0` as `0.0.0.0/0`, and IPv6 in one spelling), so a block written oddly in the
/// request cannot make the open entry look replaced. Its protocol and ports may have changed
/// since (a replacement still open to the same block is still deleted); an entry put there
/// for another block, or a deny, is someone else's and is left.
fn same_entry(want: &AclEntry, now: &AclEntry) -> bool {
    want.allow == now.allow && canonical_block(&want.cidr) == canonical_block(&now.cidr)
}

/// A CIDR block as EC2 lists it (`10.0.0.1/8` is `10.0.0.0/8`), to compare a request's
/// spelling with a listing's.
pub(crate) fn canonical_block(c: &Option<String>) -> Option<String> {
    c.as_deref()
        .map(|c| match c.trim().parse::<ipnet::IpNet>() {
            Ok(n) => n.trunc().to_string(),
            Err(_) => c.trim().to_ascii_lowercase(),
        })
}

fn entry_text(e: &AclEntry) -> String {
    format!(
        "{} {} {}{}",
        if e.allow { "allow" } else { "deny" },
        e.protocol,
        e.cidr.as_deref().unwrap_or("?"),
        match (e.from_port, e.to_port) {
            (Some(f), Some(t)) => format!(" {f}-{t}"),
            _ => String::new(),
        }
    )
}

fn acl_state_of(a: &aws_sdk_ec2::types::NetworkAcl) -> AclState {
    AclState {
        network_acl_id: a.network_acl_id().unwrap_or_default().to_string(),
        is_default: a.is_default().unwrap_or(false),
        tags: tags_of(a.tags()),
        entries: a
            .entries()
            .iter()
            .map(|e| AclEntry {
                rule_number: e.rule_number().map(i64::from).unwrap_or(32767),
                egress: e.egress().unwrap_or(false),
                allow: e.rule_action().map(|r| r.as_str()) == Some("allow"),
                protocol: e.protocol().unwrap_or("-1").to_string(),
                from_port: e.port_range().and_then(|p| p.from()).map(i64::from),
                to_port: e.port_range().and_then(|p| p.to()).map(i64::from),
                cidr: e.cidr_block().or(e.ipv6_cidr_block()).map(String::from),
            })
            .collect(),
    }
}

/// The CIDRs of a managed prefix list, now or at `version`, every page.
/// A managed prefix list as EC2 describes it (None: no such list).
async fn described_prefix_list(
    ec2: &Client,
    prefix_list_id: &str,
) -> PortResult<Option<aws_sdk_ec2::types::ManagedPrefixList>> {
    match ec2
        .describe_managed_prefix_lists()
        .prefix_list_ids(prefix_list_id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .prefix_lists()
            .iter()
            .find(|l| l.prefix_list_id() == Some(prefix_list_id))
            .cloned()),
        Err(e) if code_of(&e).is_some_and(|c| c.ends_with(".NotFound")) => Ok(None),
        Err(e) => Err(classify(&ops::DESCRIBE_MANAGED_PREFIX_LISTS, e)),
    }
}

/// A managed prefix list's version and CIDRs now (None: no such list), for the undo.
pub(crate) async fn prefix_list_now(
    ec2: &Client,
    prefix_list_id: &str,
) -> PortResult<Option<(i64, Vec<String>)>> {
    // A list being deleted, or deleted, is still described for a while: it is gone.
    let Some(version) = described_prefix_list(ec2, prefix_list_id)
        .await?
        .filter(|l| !l.state().is_some_and(|s| s.as_str().starts_with("delete")))
        .and_then(|l| l.version())
    else {
        return Ok(None);
    };
    let cidrs = prefix_list_cidrs(ec2, prefix_list_id, None).await?;
    Ok(Some((version, cidrs)))
}

async fn prefix_list_cidrs(
    ec2: &Client,
    prefix_list_id: &str,
    version: Option<i64>,
) -> PortResult<Vec<String>> {
    let mut cidrs = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ec2
            .get_managed_prefix_list_entries()
            .prefix_list_id(prefix_list_id)
            .set_target_version(version)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| classify(&ops::GET_MANAGED_PREFIX_LIST_ENTRIES, e))?;
        cidrs.extend(
            page.entries()
                .iter()
                .filter_map(|e| e.cidr().map(String::from)),
        );
        token = next_token(page.next_token());
        if token.is_none() {
            return Ok(cidrs);
        }
    }
}

/// Resource id -> value of tag `key`, for those of `resource_ids` that carry it.
pub(crate) async fn tagged(
    ec2: &Client,
    resource_ids: &[String],
    key: &str,
) -> PortResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = ec2
            .describe_tags()
            .filters(
                Filter::builder()
                    .name("resource-id")
                    .set_values(Some(resource_ids.to_vec()))
                    .build(),
            )
            .filters(Filter::builder().name("key").values(key).build())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| classify(&ops::DESCRIBE_TAGS, e))?;
        for t in page.tags() {
            if let (Some(r), Some(v)) = (t.resource_id(), t.value()) {
                out.insert(r.to_string(), v.to_string());
            }
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The launch permissions of `wanted` still on an image, as EC2 takes them in a remove.
pub(crate) fn launch_permissions_present(
    present: &[LaunchPermission],
    accounts: &[String],
    public: bool,
    organizations: &[String],
) -> Vec<LaunchPermission> {
    let mut out = Vec::new();
    for p in present {
        if let Some(u) = p.user_id().filter(|u| accounts.iter().any(|a| a == u)) {
            out.push(LaunchPermission::builder().user_id(u).build());
        }
        if public && p.group() == Some(&PermissionGroup::All) {
            out.push(
                LaunchPermission::builder()
                    .group(PermissionGroup::All)
                    .build(),
            );
        }
        if let Some(o) = p
            .organization_arn()
            .filter(|o| organizations.iter().any(|a| a == o))
        {
            out.push(LaunchPermission::builder().organization_arn(o).build());
        }
        if let Some(o) = p
            .organizational_unit_arn()
            .filter(|o| organizations.iter().any(|a| a == o))
        {
            out.push(
                LaunchPermission::builder()
                    .organizational_unit_arn(o)
                    .build(),
            );
        }
    }
    out
}

/// Resources per page of a sweep's listing: pages stay well inside a call's time, and a
/// sweep that runs out of budget loses at most one page of work.
const SWEEP_PAGE: i32 = 100;

/// Every rule of a group, all pages.
async fn group_rules(ec2: &Client, group_id: &str) -> PortResult<Vec<SecurityGroupRule>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ec2
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(group_id).build())
            .max_results(1000)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| classify(&ops::DESCRIBE_SG_RULES, e))?;
        out.extend(page.security_group_rules().iter().cloned());
        token = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(String::from);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// A rule as the rules crate reads it; None for a protocol it cannot name.
fn group_rule(r: &SecurityGroupRule) -> Option<GroupRule> {
    Some(GroupRule {
        rule_id: r.security_group_rule_id()?.to_string(),
        egress: r.is_egress().unwrap_or(false),
        permission: Permission {
            protocol: Protocol::parse(r.ip_protocol()?)?,
            from_port: r.from_port().map(i64::from),
            to_port: r.to_port().map(i64::from),
            cidr_ipv4: r.cidr_ipv4().map(String::from),
            cidr_ipv6: r.cidr_ipv6().map(String::from),
            prefix_list_id: r.prefix_list_id().map(String::from),
            source_group_id: r
                .referenced_group_info()
                .and_then(|g| g.group_id())
                .map(String::from),
            description: r.description().map(String::from),
        },
    })
}

type Sdk<E> = aws_smithy_runtime_api::client::result::SdkError<
    E,
    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
>;

fn revoke_result<E>(r: Result<usize, Sdk<E>>, asked: usize, op: &'static Op) -> PortResult<Change>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(unknown) => Ok(revoked(unknown, asked)),
        Err(e) => gone_or(e, op),
    }
}

fn authorize_result<E>(r: Result<(), Sdk<E>>, op: &'static Op) -> PortResult<Change>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(()) => Ok(Change::Done),
        Err(e) if code_of(&e).as_deref() == Some("InvalidPermission.Duplicate") => {
            Ok(Change::AlreadyDone("the rules are already present".into()))
        }
        Err(e) => Err(classify(op, e)),
    }
}

fn gone_or<E>(
    e: aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    op: &'static Op,
) -> PortResult<Change>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match code_of(&e) {
        Some(c) if GONE.contains(&c.as_str()) => {
            Ok(Change::AlreadyDone(format!("{c}: already gone")))
        }
        _ => Err(classify(op, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(allow: bool, protocol: &str, cidr: &str, ports: Option<(i64, i64)>) -> AclEntry {
        AclEntry {
            rule_number: 90,
            egress: false,
            allow,
            protocol: protocol.into(),
            from_port: ports.map(|p| p.0),
            to_port: ports.map(|p| p.1),
            cidr: Some(cidr.into()),
        }
    }

    #[test]
    fn an_entry_is_the_event_s_while_it_allows_the_same_block() {
        let event = entry(true, "6", "1.2.3.4/0", Some((22, 22)));
        // EC2 stores the block as a network: still the event's entry, deleted.
        assert!(same_entry(
            &event,
            &entry(true, "6", "0.0.0.0/0", Some((22, 22)))
        ));
        assert!(same_entry(
            &entry(true, "-1", "0:0::0/0", None),
            &entry(true, "-1", "::/0", None)
        ));
        assert!(same_entry(
            &entry(true, "6", "2001:DB8::/32", Some((22, 22))),
            &entry(true, "6", "2001:db8::/32", Some((22, 22)))
        ));
        // Replaced but still open to the same block (another port): still deleted.
        assert!(same_entry(
            &event,
            &entry(true, "6", "0.0.0.0/0", Some((23, 23)))
        ));
        // Someone else's: a narrower block, or a deny.
        assert!(!same_entry(
            &event,
            &entry(true, "6", "10.0.0.0/8", Some((22, 22)))
        ));
        assert!(!same_entry(
            &event,
            &entry(false, "6", "0.0.0.0/0", Some((22, 22)))
        ));
    }
}
