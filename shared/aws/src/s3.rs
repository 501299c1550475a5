//! The S3 port on the SDK client: buckets (s3control.rs holds the account's public access
//! block). Every change reads first: what is already so is `already_done`, and the
//! document before the change (block, ACL, policy) is what `Change::Removed` carries, so the
//! undo writes exactly it back.

use serde_json::{json, Value};
use trailguard_rules::grants;
use trailguard_rules::ops::{self, Op};
use trailguard_rules::state::{public_group, BlockFlags, BucketState};
use trailguard_rules::undo::Acl;
use trailguard_rules::{trust, Tags};

use crate::error::{classify, code_of, PortError};
use crate::ports::{Change, Page, PortResult, S3Port};

/// The S3 client of one account and region.
#[derive(Debug, Clone)]
pub struct S3 {
    pub s3: aws_sdk_s3::Client,
}

/// Buckets listed per page of the sweep: each costs four reads.
const BUCKETS_PER_PAGE: i32 = 50;

pub(crate) const NO_BLOCK: &str = "NoSuchPublicAccessBlockConfiguration";
const NO_BUCKET: &str = "NoSuchBucket";

fn gone(bucket: &str) -> PortResult<Change> {
    Ok(Change::AlreadyDone(format!(
        "bucket {bucket} no longer exists"
    )))
}

pub(crate) fn is<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    code: &str,
) -> bool {
    code_of(e).as_deref() == Some(code)
}

/// A block's switches from either SDK's configuration (S3's, S3 Control's).
macro_rules! flags_of {
    ($c:expr) => {
        BlockFlags {
            block_public_acls: $c.block_public_acls().unwrap_or(false),
            ignore_public_acls: $c.ignore_public_acls().unwrap_or(false),
            block_public_policy: $c.block_public_policy().unwrap_or(false),
            restrict_public_buckets: $c.restrict_public_buckets().unwrap_or(false),
        }
    };
}

pub(crate) use flags_of;

/// Either SDK's configuration from the switches.
macro_rules! config_of {
    ($krate:ident, $f:expr) => {
        $krate::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls($f.block_public_acls)
            .ignore_public_acls($f.ignore_public_acls)
            .block_public_policy($f.block_public_policy)
            .restrict_public_buckets($f.restrict_public_buckets)
            .build()
    };
}

pub(crate) use config_of;

/// The block before a change, as the undo puts it back: its JSON, or empty for none.
pub(crate) fn previous_block(b: Option<BlockFlags>) -> String {
    b.map(|f| serde_json::to_string(&f).unwrap_or_default())
        .unwrap_or_default()
}

/// An ACL as `--access-control-policy` takes it.
fn acl_json(
    owner: Option<&aws_sdk_s3::types::Owner>,
    grants: &[aws_sdk_s3::types::Grant],
) -> String {
    let grants: Vec<Value> = grants
        .iter()
        .map(|g| {
            let mut grantee = serde_json::Map::new();
            if let Some(t) = g.grantee() {
                grantee.insert("Type".into(), json!(t.r#type().as_str()));
                for (k, v) in [
                    ("ID", t.id()),
                    ("URI", t.uri()),
                    ("EmailAddress", t.email_address()),
                    ("DisplayName", t.display_name()),
                ] {
                    if let Some(v) = v {
                        grantee.insert(k.into(), json!(v));
                    }
                }
            }
            json!({"Grantee": grantee, "Permission": g.permission().map(|p| p.as_str())})
        })
        .collect();
    let mut doc = json!({ "Grants": grants });
    if let Some(o) = owner {
        let mut owner = serde_json::Map::new();
        if let Some(id) = o.id() {
            owner.insert("ID".into(), json!(id));
        }
        if let Some(n) = o.display_name() {
            owner.insert("DisplayName".into(), json!(n));
        }
        doc["Owner"] = Value::Object(owner);
    }
    doc.to_string()
}

/// The public group a grant is to, if it is to one.
fn public_grantee(g: &aws_sdk_s3::types::Grant) -> Option<&'static str> {
    g.grantee().and_then(|t| t.uri()).and_then(public_group)
}

/// An ACL the report kept, as the S3 API takes it.
fn access_control_policy(acl: &Acl) -> PortResult<aws_sdk_s3::types::AccessControlPolicy> {
    use aws_sdk_s3::types::{AccessControlPolicy, Grant, Grantee, Owner, Permission, Type};
    let mut grants = Vec::with_capacity(acl.grants.len());
    for g in &acl.grants {
        let grantee = Grantee::builder()
            .r#type(Type::from(g.grantee_type.as_str()))
            .set_id(g.id.clone())
            .set_uri(g.uri.clone())
            .set_email_address(g.email.clone())
            .build()
            .map_err(|e| PortError::Permanent {
                op: "PutBucketAcl",
                code: "InvalidGrantee".into(),
                message: e.to_string(),
            })?;
        grants.push(
            Grant::builder()
                .grantee(grantee)
                .permission(Permission::from(g.permission.as_str()))
                .build(),
        );
    }
    let owner = Owner::builder()
        .set_id(acl.owner_id.clone())
        .set_display_name(acl.owner_name.clone())
        .build();
    Ok(AccessControlPolicy::builder()
        .set_grants(Some(grants))
        .owner(owner)
        .build())
}

/// A public access block as the S3 API takes it.
pub(crate) fn block_config(f: BlockFlags) -> aws_sdk_s3::types::PublicAccessBlockConfiguration {
    config_of!(aws_sdk_s3, f)
}

impl S3 {
    /// A bucket's tags as (key, value) pairs: None when the bucket does not exist, empty
    /// when it has none.
    pub(crate) async fn tag_set(&self, bucket: &str) -> PortResult<Option<Vec<(String, String)>>> {
        match self.s3.get_bucket_tagging().bucket(bucket).send().await {
            Ok(o) => Ok(Some(
                o.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            )),
            Err(e) if is(&e, "NoSuchTagSet") => Ok(Some(vec![])),
            Err(e) if is(&e, NO_BUCKET) => Ok(None),
            Err(e) => Err(classify(&ops::GET_BUCKET_TAGGING, e)),
        }
    }

    /// A bucket's public access block: None when the bucket does not exist, `Some(None)`
    /// when it has no block.
    pub(crate) async fn block(
        &self,
        bucket: &str,
    ) -> Result<Option<Option<BlockFlags>>, PortError> {
        match self
            .s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(o) => Ok(Some(
                o.public_access_block_configuration().map(|c| flags_of!(c)),
            )),
            Err(e) if is(&e, NO_BLOCK) => Ok(Some(None)),
            Err(e) if is(&e, NO_BUCKET) => Ok(None),
            Err(e) => Err(classify(&ops::GET_BUCKET_PAB, e)),
        }
    }

    /// A bucket's ACL, read as the undo compares it (None: no such bucket).
    pub(crate) async fn acl(&self, bucket: &str) -> PortResult<Option<Acl>> {
        match self.s3.get_bucket_acl().bucket(bucket).send().await {
            // Read through the JSON the report keeps: one conversion for both sides.
            Ok(o) => trailguard_rules::undo::acl(&acl_json(o.owner(), o.grants()))
                .map(Some)
                .map_err(|message| PortError::Permanent {
                    op: "GetBucketAcl",
                    code: "UnreadableAcl".into(),
                    message,
                }),
            Err(e) if is(&e, NO_BUCKET) => Ok(None),
            Err(e) => Err(classify(&ops::GET_BUCKET_ACL, e)),
        }
    }

    /// Write a bucket's ACL as the report kept it.
    pub(crate) async fn put_acl(&self, bucket: &str, acl: &Acl) -> PortResult<Change> {
        let policy = access_control_policy(acl)?;
        self.s3
            .put_bucket_acl()
            .bucket(bucket)
            .access_control_policy(policy)
            .send()
            .await
            .map(|_| Change::Done)
            .map_err(|e| classify(&ops::PUT_BUCKET_ACL, e))
    }

    /// An object's ACL (of one version, when named), read as the undo compares it, and for
    /// the latest object when it was written (epoch seconds) and its version id (a bucket that
    /// keeps versions; `null` is none). None: no such object.
    pub(crate) async fn object_acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> PortResult<Option<(Acl, Option<(i64, Option<String>)>)>> {
        let written = match version_id {
            Some(_) => None,
            None => match self.s3.head_object().bucket(bucket).key(key).send().await {
                Ok(o) => Some((
                    o.last_modified().map_or(i64::MAX, |t| t.secs()),
                    o.version_id().filter(|v| *v != "null").map(String::from),
                )),
                // HeadObject answers a missing object with a bare 404.
                Err(e) if is(&e, NO_BUCKET) || is(&e, "NotFound") || is(&e, "NoSuchKey") => {
                    return Ok(None)
                }
                Err(e) => return Err(classify(&ops::HEAD_OBJECT, e)),
            },
        };
        let get = if version_id.is_some() {
            &ops::GET_OBJECT_VERSION_ACL
        } else {
            &ops::GET_OBJECT_ACL
        };
        match self
            .s3
            .get_object_acl()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(String::from))
            .send()
            .await
        {
            Ok(o) => trailguard_rules::undo::acl(&acl_json(o.owner(), o.grants()))
                .map(|acl| Some((acl, written)))
                .map_err(|message| PortError::Permanent {
                    op: "GetObjectAcl",
                    code: "UnreadableAcl".into(),
                    message,
                }),
            Err(e) if is(&e, NO_BUCKET) || is(&e, "NoSuchKey") || is(&e, "NoSuchVersion") => {
                Ok(None)
            }
            Err(e) => Err(classify(get, e)),
        }
    }

    /// Write an object's ACL (of one version, when named) as the report kept it.
    pub(crate) async fn put_object_acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        acl: &Acl,
    ) -> PortResult<Change> {
        let put = if version_id.is_some() {
            &ops::PUT_OBJECT_VERSION_ACL
        } else {
            &ops::PUT_OBJECT_ACL
        };
        self.s3
            .put_object_acl()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(String::from))
            .access_control_policy(access_control_policy(acl)?)
            .send()
            .await
            .map(|_| Change::Done)
            .map_err(|e| classify(put, e))
    }

    /// When a bucket was made (epoch seconds), from the account's bucket list: None when
    /// it is not in it.
    pub(crate) async fn made_at(&self, bucket: &str) -> PortResult<Option<i64>> {
        let mut token = None;
        loop {
            let out = self
                .s3
                .list_buckets()
                .prefix(bucket)
                .max_buckets(BUCKETS_PER_PAGE)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| classify(&ops::LIST_BUCKETS, e))?;
            if let Some(b) = out.buckets().iter().find(|b| b.name() == Some(bucket)) {
                return Ok(b.creation_date().map(|d| d.secs()));
            }
            match out.continuation_token() {
                Some(t) => token = Some(t.to_string()),
                None => return Ok(None),
            }
        }
    }

    /// The public groups a bucket's ACL grants (None: no such bucket).
    async fn public_groups(&self, bucket: &str) -> Result<Option<Vec<String>>, PortError> {
        match self.s3.get_bucket_acl().bucket(bucket).send().await {
            Ok(o) => {
                let mut groups: Vec<String> = Vec::new();
                for g in o.grants().iter().filter_map(public_grantee) {
                    if !groups.iter().any(|x| x == g) {
                        groups.push(g.to_string());
                    }
                }
                Ok(Some(groups))
            }
            Err(e) if is(&e, NO_BUCKET) => Ok(None),
            Err(e) => Err(classify(&ops::GET_BUCKET_ACL, e)),
        }
    }

    /// A bucket's policy text (Ok(None): none; Err(None) in the outer option: no bucket).
    pub(crate) async fn policy(&self, bucket: &str) -> Result<Option<Option<String>>, PortError> {
        match self.s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(o) => Ok(Some(o.policy().map(String::from))),
            Err(e) if is(&e, "NoSuchBucketPolicy") => Ok(Some(None)),
            Err(e) if is(&e, NO_BUCKET) => Ok(None),
            Err(e) => Err(classify(&ops::GET_BUCKET_POLICY, e)),
        }
    }
}

fn s3_changed<T, E>(
    r: Result<
        T,
        aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    >,
    op: &'static Op,
    bucket: &str,
    previous: String,
) -> PortResult<Change>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(_) => Ok(Change::Removed(vec![previous])),
        Err(e) if is(&e, NO_BUCKET) => gone(bucket),
        Err(e) => Err(classify(op, e)),
    }
}

impl S3Port for S3 {
    async fn put_bucket_block(&self, bucket: &str, flags: &[String]) -> PortResult<Change> {
        let wanted = BlockFlags::of(flags);
        let Some(current) = self.block(bucket).await? else {
            return gone(bucket);
        };
        if current.unwrap_or_default().lacking(wanted).is_empty() {
            return Ok(Change::AlreadyDone(format!(
                "the public access block of bucket {bucket} already has {} on",
                wanted.names().join(", ")
            )));
        }
        // The enforced switches over those on: a switch on is never switched off.
        let new = current.unwrap_or_default().or(wanted);
        let r = self
            .s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(block_config(new))
            .send()
            .await;
        s3_changed(r, &ops::PUT_BUCKET_PAB, bucket, previous_block(current))
    }

    async fn remove_bucket_acl_grants(
        &self,
        bucket: &str,
        groups: &[String],
    ) -> PortResult<Change> {
        let acl = match self.s3.get_bucket_acl().bucket(bucket).send().await {
            Ok(o) => o,
            Err(e) if is(&e, NO_BUCKET) => return gone(bucket),
            Err(e) => return Err(classify(&ops::GET_BUCKET_ACL, e)),
        };
        let public = |g: &aws_sdk_s3::types::Grant| {
            public_grantee(g).is_some_and(|p| groups.iter().any(|x| x == p))
        };
        if !acl.grants().iter().any(public) {
            return Ok(Change::AlreadyDone(format!(
                "the ACL of bucket {bucket} no longer grants them anything"
            )));
        }
        let kept: Vec<aws_sdk_s3::types::Grant> = acl
            .grants()
            .iter()
            .filter(|g| !public(g))
            .cloned()
            .collect();
        let policy = aws_sdk_s3::types::AccessControlPolicy::builder()
            .set_grants(Some(kept))
            .set_owner(acl.owner().cloned())
            .build();
        let r = self
            .s3
            .put_bucket_acl()
            .bucket(bucket)
            .access_control_policy(policy)
            .send()
            .await;
        s3_changed(
            r,
            &ops::PUT_BUCKET_ACL,
            bucket,
            acl_json(acl.owner(), acl.grants()),
        )
    }

    async fn remove_object_acl_grants(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        groups: &[String],
    ) -> PortResult<Change> {
        let (get, put) = match version_id {
            Some(_) => (&ops::GET_OBJECT_VERSION_ACL, &ops::PUT_OBJECT_VERSION_ACL),
            None => (&ops::GET_OBJECT_ACL, &ops::PUT_OBJECT_ACL),
        };
        let gone = || {
            Ok(Change::AlreadyDone(format!(
                "object s3://{bucket}/{key} no longer exists"
            )))
        };
        let acl = match self
            .s3
            .get_object_acl()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(String::from))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if is(&e, NO_BUCKET) || is(&e, "NoSuchKey") || is(&e, "NoSuchVersion") => {
                return gone()
            }
            Err(e) => return Err(classify(get, e)),
        };
        let public = |g: &aws_sdk_s3::types::Grant| {
            public_grantee(g).is_some_and(|p| groups.iter().any(|x| x == p))
        };
        if !acl.grants().iter().any(public) {
            return Ok(Change::AlreadyDone(format!(
                "the ACL of s3://{bucket}/{key} no longer grants them anything"
            )));
        }
        let kept: Vec<aws_sdk_s3::types::Grant> = acl
            .grants()
            .iter()
            .filter(|g| !public(g))
            .cloned()
            .collect();
        let policy = aws_sdk_s3::types::AccessControlPolicy::builder()
            .set_grants(Some(kept))
            .set_owner(acl.owner().cloned())
            .build();
        match self
            .s3
            .put_object_acl()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(String::from))
            .access_control_policy(policy)
            .send()
            .await
        {
            Ok(_) => Ok(Change::Removed(vec![acl_json(acl.owner(), acl.grants())])),
            Err(e) if is(&e, NO_BUCKET) || is(&e, "NoSuchKey") || is(&e, "NoSuchVersion") => gone(),
            Err(e) => Err(classify(put, e)),
        }
    }

    async fn restrict_bucket_policy(
        &self,
        bucket: &str,
        principals: &[String],
        untrusted: &[String],
    ) -> PortResult<Change> {
        // The policy as it is now: the event's may have been changed since.
        let text = match self.policy(bucket).await? {
            None => return gone(bucket),
            Some(None) => {
                return Ok(Change::AlreadyDone(format!(
                    "bucket {bucket} no longer has a policy"
                )))
            }
            Some(Some(t)) => t,
        };
        let doc =
            trust::document(&Value::String(text.clone())).ok_or_else(|| PortError::Permanent {
                op: "GetBucketPolicy",
                code: "UnreadablePolicy".into(),
                message: format!("the policy of bucket {bucket} is not a JSON document"),
            })?;
        // Judged as the decision judged it: the accounts it found outside are outside, any
        // other value is the subject of its own event.
        let inside = grants::judge(principals, untrusted);
        let open = grants::open_principals(&doc, &inside);
        let take: Vec<String> = principals
            .iter()
            .filter(|p| open.contains(p))
            .cloned()
            .collect();
        if take.is_empty() {
            return Ok(Change::AlreadyDone(format!(
                "the policy of bucket {bucket} no longer lets them in"
            )));
        }
        match grants::without_principals(&doc, &take, &inside) {
            Some(restricted) => {
                let r = self
                    .s3
                    .put_bucket_policy()
                    .bucket(bucket)
                    .policy(restricted.to_string())
                    .send()
                    .await;
                s3_changed(r, &ops::PUT_BUCKET_POLICY, bucket, text)
            }
            None => {
                let r = self.s3.delete_bucket_policy().bucket(bucket).send().await;
                s3_changed(r, &ops::DELETE_BUCKET_POLICY, bucket, text)
            }
        }
    }

    async fn bucket_tags(&self, bucket: &str) -> PortResult<Option<Tags>> {
        match self.s3.get_bucket_tagging().bucket(bucket).send().await {
            Ok(o) => Ok(Some(
                o.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            )),
            Err(e) if is(&e, "NoSuchTagSet") => Ok(Some(Tags::new())),
            Err(e) if is(&e, NO_BUCKET) => Ok(None),
            Err(e) => Err(classify(&ops::GET_BUCKET_TAGGING, e)),
        }
    }

    async fn bucket_state(&self, bucket: &str) -> PortResult<Option<BucketState>> {
        let Some(tags) = self.bucket_tags(bucket).await? else {
            return Ok(None);
        };
        let Some(block) = self.block(bucket).await? else {
            return Ok(None);
        };
        let Some(public_groups) = self.public_groups(bucket).await? else {
            return Ok(None);
        };
        let Some(policy) = self.policy(bucket).await? else {
            return Ok(None);
        };
        Ok(Some(BucketState {
            bucket: bucket.to_string(),
            tags,
            block,
            public_groups,
            policy,
        }))
    }

    async fn remove_bucket_tag(&self, bucket: &str, key: &str) -> PortResult<Change> {
        // S3 writes a bucket's whole tag set: read it, write it back without the key.
        let set: Vec<aws_sdk_s3::types::Tag> =
            match self.s3.get_bucket_tagging().bucket(bucket).send().await {
                Ok(o) => o.tag_set().to_vec(),
                Err(e) if is(&e, "NoSuchTagSet") => vec![],
                Err(e) if is(&e, NO_BUCKET) => return gone(bucket),
                Err(e) => return Err(classify(&ops::GET_BUCKET_TAGGING, e)),
            };
        if !set.iter().any(|t| t.key() == key) {
            return Ok(Change::AlreadyDone(format!(
                "bucket {bucket} has no tag {key}"
            )));
        }
        let previous = json!({"TagSet": set
            .iter()
            .map(|t| json!({"Key": t.key(), "Value": t.value()}))
            .collect::<Vec<_>>()})
        .to_string();
        let kept: Vec<aws_sdk_s3::types::Tag> =
            set.into_iter().filter(|t| t.key() != key).collect();
        if kept.is_empty() {
            let r = self.s3.delete_bucket_tagging().bucket(bucket).send().await;
            return s3_changed(r, &ops::DELETE_BUCKET_TAGGING, bucket, previous);
        }
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .set_tag_set(Some(kept))
            .build()
            .map_err(|e| PortError::Permanent {
                op: "PutBucketTagging",
                code: "InvalidTagging".into(),
                message: e.to_string(),
            })?;
        let r = self
            .s3
            .put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging)
            .send()
            .await;
        s3_changed(r, &ops::PUT_BUCKET_TAGGING, bucket, previous)
    }

    async fn list_buckets(&self, token: Option<String>) -> PortResult<Page<BucketState>> {
        // This region's buckets: the others are swept where they are.
        let region = self.s3.config().region().map(|r| r.to_string());
        let out = self
            .s3
            .list_buckets()
            .max_buckets(BUCKETS_PER_PAGE)
            .set_bucket_region(region)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| classify(&ops::LIST_BUCKETS, e))?;
        let mut items = Vec::new();
        for b in out.buckets() {
            let Some(name) = b.name() else { continue };
            // A bucket deleted since the listing is not there to sweep.
            if let Some(state) = self.bucket_state(name).await? {
                items.push(state);
            }
        }
        Ok(Page {
            items,
            next: out.continuation_token().map(String::from),
        })
    }
}
