//! Public S3 buckets: a bucket's public access block switched off or deleted, an ACL (a bucket's, or a new bucket's canned ACL) granting
//! everyone or every AWS account, a bucket policy letting in everyone or an outside account
//! without a condition restricting it to the trusted set. Exactly that is taken back: the
//! block's switches are put back on (never one switched off), the public groups leave the
//! ACL (the owner, named accounts and the log-delivery group keep their grants), the outside
//! principals leave the policy (Deny statements, service principals and restricted
//! statements stay). A bucket tagged with the exemption tag (a public website) is left alone
//! and people are told. Security Hub's S3.2, S3.3 and S3.8 findings and the sweep are
//! decided by the same code. The account's block is guards/account_guardrails.rs's: it needs
//! S3 Control, not S3, and a function of its own keeps each binary small and each role to
//! its own calls.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{
    Action, Step, Notice, PutBucketPublicAccessBlock, RemoveBucketAclGrants, RemoveObjectAclGrants, RestrictBucketPolicy, Severity, UntagBucket,
};
use crate::decision::{Decision, Verdict};
use crate::event::{CloudTrailRecord, Event, EventBody, SecurityHubDetail};
use crate::facts::{FactKind, FactRequest, Facts, Known};
use crate::guards::{Bus, Delivery, GuardSpec, Trigger};
use crate::lenient::{bool_any, items, items_any, scalar_string, str_any};
use crate::policy::{each, GuardSettings, Policy, PolicyError, SettingsSpec};
use crate::state::{
    public_group, BlockFlags, BucketState, State, StateKind,
    AUTHENTICATED_USERS, ALL_USERS,
};

/// The action types it may plan: its declaration's, and (as a set) what its function's
/// clients act for (`ACTION_MASK`; the binary keeps only these actions' code).
pub const ACTIONS: &[&crate::action::ActionInfo] = &[
    &PutBucketPublicAccessBlock::INFO,
    &RemoveBucketAclGrants::INFO,
    &RemoveObjectAclGrants::INFO,
    &RestrictBucketPolicy::INFO,
    &UntagBucket::INFO,
];
pub const ACTION_MASK: u128 = crate::action::mask_of(ACTIONS);

pub static GUARD: GuardSpec = GuardSpec {
    name: "public_bucket",
    function: "revert-public-bucket",
    summary: "Takes back S3 buckets' public access blocks switched off, public ACL grants and bucket policies opened outside the trusted set.",
    triggers: &[
        Trigger {
            rule: "PublicBucketChange",
            pattern: r#"{
                "source": ["aws.s3"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["s3.amazonaws.com"],
                    "eventName": ["PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock",
                                  "DeletePublicAccessBlock", "PutBucketAcl", "CreateBucket",
                                  "PutBucketPolicy", "PutObjectAcl", "PutBucketTagging"],
                    "eventType": ["AwsApiCall"],
                    "errorCode": [{"exists": false}]
                }
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: true,
            condition: None,
        },
        // Security Hub's control findings about public buckets: they name the bucket, and
        // the function decides on it as it is.
        Trigger {
            rule: "S3SecurityHubControl",
            pattern: r#"{
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {"findings": {
                    "ProductArn": [{"suffix": ":product/aws/securityhub"}],
                    "Compliance": {"Status": ["FAILED"]},
                    "RecordState": ["ACTIVE"],
                    "Resources": {"Type": ["AwsS3Bucket"]},
                    "$or": [
                        {"Compliance": {"SecurityControlId": ["S3.2", "S3.3", "S3.8"]}},
                        {"ProductFields": {"ControlId": ["S3.2", "S3.3", "S3.8"]}}
                    ]
                }}
            }"#,
            delivery: Delivery::Changes,
            bus: Bus::Main,
            excludes_own_role: false,
            condition: None,
        },
    ],
    facts: &[
        FactKind::OrganizationAccounts,
        FactKind::BucketTags,
        FactKind::BucketState,
    ],
    actions: ACTIONS,
    reads_every_call: false,
    max_actions_per_hour: 50,
    sweeps: &[StateKind::Buckets],
    settings: Some(&SETTINGS),
    compiled: OnceLock::new(),
};

/// Its decisions, apart from its declaration: only its own function links them.
pub static DECIDER: super::Decider = super::Decider {
    guard: &GUARD,
    event: decide,
    state: Some(swept),
};

/// The policy's `s3` section (guards/account_guardrails.rs reads it too: one set of switches
/// for buckets and for the account).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub s3: S3Settings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    /// The public access block switches put back on, for a bucket and for the account.
    pub public_access_block: Vec<String>,
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            public_access_block: BlockFlags::ALL.names(),
        }
    }
}

impl GuardSettings for Settings {
    fn validate(&mut self) -> Result<(), PolicyError> {
        each("s3.public_access_block", &self.s3.public_access_block, |n| {
            (!BlockFlags::NAMES.contains(&n.as_str())).then(|| {
                format!("`{n}` is not one of {}", BlockFlags::NAMES.join(", "))
            })
        })
    }
}

const SETTINGS: SettingsSpec = SettingsSpec::of::<Settings>();

/// This guard's settings in `policy`.
pub fn settings(policy: &Policy) -> Cow<'_, Settings> {
    policy.section()
}

/// The switches the policy puts back on.
pub(crate) fn enforced(policy: &Policy) -> BlockFlags {
    BlockFlags::of(&settings(policy).s3.public_access_block)
}

pub fn decide(event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    if let EventBody::SecurityHub(d) = &event.body {
        return security_hub(event, d, policy, facts);
    }
    let Some(r) = event.cloudtrail() else {
        return Verdict::Decided(Decision::ignore("not a CloudTrail event"));
    };
    if let Some(d) = super::preamble(r, policy, facts) {
        return Verdict::Decided(d);
    }
    if r.event_source.get() != Some("s3.amazonaws.com") {
        return Verdict::Decided(Decision::ignore(format!(
            "event source {} is not S3",
            r.event_source.get().unwrap_or("?")
        )));
    }
    let name = r.event_name.get().unwrap_or_default();
    let rp = &r.request_parameters;
    let bucket = str_any(rp, &["bucketName", "BucketName"]);
    match (name, bucket) {
        ("PutBucketPublicAccessBlock" | "PutPublicAccessBlock", Some(b)) => {
            bucket_block(r, &b, Some(requested_flags(rp)), policy, facts)
        }
        ("DeleteBucketPublicAccessBlock" | "DeletePublicAccessBlock", Some(b)) => {
            bucket_block(r, &b, None, policy, facts)
        }
        ("PutBucketAcl" | "CreateBucket", Some(b)) => bucket_acl(r, &b, policy, facts),
        ("PutBucketPolicy", Some(b)) => bucket_policy(event, r, &b, policy, facts),
        ("PutObjectAcl", Some(b)) => object_acl(r, &b, policy, facts),
        ("PutBucketTagging", Some(b)) => bucket_tagging(r, &b, policy),
        (other, None) => Verdict::Decided(Decision::ignore(format!("{other} names no bucket"))),
        (other, Some(_)) => Verdict::Decided(Decision::ignore(format!(
            "{other} is not a change trailguard watches on buckets"
        ))),
    }
}

/// The switches a PutPublicAccessBlock sets (a switch left out is off, as S3 takes it).
pub(crate) fn requested_flags(rp: &Value) -> BlockFlags {
    let c = rp
        .get("PublicAccessBlockConfiguration")
        .or_else(|| rp.get("publicAccessBlockConfiguration"))
        .unwrap_or(&Value::Null);
    let on = |k: &str| bool_any(c, &[k]).unwrap_or(false);
    BlockFlags {
        block_public_acls: on("BlockPublicAcls"),
        ignore_public_acls: on("IgnorePublicAcls"),
        block_public_policy: on("BlockPublicPolicy"),
        restrict_public_buckets: on("RestrictPublicBuckets"),
    }
}

pub(crate) fn by(r: &CloudTrailRecord) -> String {
    format!(
        "by {} from {}",
        r.user_identity.display(),
        r.source_ip_address.get().unwrap_or("?")
    )
}

/// The bucket is exempt (tagged with the exemption tag): told, left alone. None when it is
/// not; the tag lookup when it is not known yet.
fn exempt(bucket: &str, policy: &Policy, facts: &Facts, what: &str) -> Option<Verdict> {
    match facts.bucket_tags(bucket) {
        Known::Need(req) => Some(Verdict::NeedFacts(vec![req])),
        Known::Yes(None) => Some(Verdict::Decided(Decision::ignore(format!(
            "bucket {bucket} no longer exists: nothing to take back"
        )))),
        Known::Yes(Some(tags)) if crate::facts::tag_is_true(&tags, &policy.exempt_tag) => {
            Some(Verdict::Decided(Decision::notify(
                format!("bucket {bucket} is tagged {}=true: left as it is", policy.exempt_tag),
                Notice {
                    severity: Severity::Medium,
                    title: format!("Exempt S3 bucket {bucket} made public"),
                    details: vec![
                        what.to_string(),
                        format!(
                            "the bucket carries {}=true, so trailguard leaves it alone; check that it is meant to be public",
                            policy.exempt_tag
                        ),
                    ],
                },
            )))
        }
        Known::Yes(Some(_)) => None,
    }
}

/// Whether a call that put (`Some`: the switches it set) or deleted (`None`) a public access
/// block weakened it: the switches to put back on and what was done, for people; else the
/// decision to ignore it. `whose`: "bucket b", "account a".
pub(crate) fn weakened(
    requested: Option<BlockFlags>,
    policy: &Policy,
    whose: &str,
) -> Result<(BlockFlags, String), Box<Verdict>> {
    let ignore = |why: String| Box::new(Verdict::Decided(Decision::ignore(why)));
    let wanted = enforced(policy);
    if wanted.names().is_empty() {
        return Err(ignore("s3.public_access_block puts no switch back on".into()));
    }
    let off = requested.unwrap_or_default().lacking(wanted);
    if off.is_empty() {
        return Err(ignore(format!(
            "the public access block of {whose} keeps every enforced switch on"
        )));
    }
    let what = match requested {
        Some(_) => format!("switched off: {}", off.join(", ")),
        None => format!("the public access block of {whose} was deleted"),
    };
    Ok((wanted, what))
}

fn bucket_block(
    r: &CloudTrailRecord,
    bucket: &str,
    requested: Option<BlockFlags>,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let (wanted, what) = match weakened(requested, policy, &format!("bucket {bucket}")) {
        Ok(w) => w,
        Err(v) => return *v,
    };
    if let Some(v) = exempt(bucket, policy, facts, &what) {
        return v;
    }
    let action = PutBucketPublicAccessBlock {
        bucket: bucket.to_string(),
        flags: wanted.names(),
        previous: None,
    };
    Verdict::Decided(Decision::remediate(
        format!("the public access block of bucket {bucket} was weakened"),
        vec![action.into()],
        Notice {
            severity: Severity::High,
            title: format!("S3 bucket {bucket}: public access block weakened"),
            details: vec![what, by(r)],
        },
    ))
}

/// A bucket tagged exempt by anyone but the tag admins: the exemption is taken back (it
/// would switch this guard off for the bucket). S3 replaces the whole tag set, so the
/// request's set is what the bucket carries now.
fn bucket_tagging(r: &CloudTrailRecord, bucket: &str, policy: &Policy) -> Verdict {
    let rp = &r.request_parameters;
    let given = crate::guards::tags::given_tags(rp.get("Tagging").unwrap_or(&Value::Null));
    let untag = |key| {
        UntagBucket {
            bucket: bucket.to_string(),
            key,
            previous: None,
        }
        .into()
    };
    match crate::guards::tags::exemption_given(r, policy, &given, &format!("bucket {bucket}"), untag) {
        Some(d) => Verdict::Decided(d),
        None => Verdict::Decided(Decision::ignore(format!(
            "PutBucketTagging on {bucket} gives no {}=true",
            policy.exempt_tag
        ))),
    }
}

/// The canned ACLs that grant a public group.
fn canned(acl: &str) -> Option<&'static str> {
    match acl.trim().to_ascii_lowercase().as_str() {
        "public-read" | "public-read-write" => Some(ALL_USERS),
        "authenticated-read" => Some(AUTHENTICATED_USERS),
        _ => None,
    }
}

/// The public groups an ACL request grants: a canned ACL (`x-amz-acl`), `x-amz-grant-*`
/// headers (`uri="http://acs.amazonaws.com/groups/global/AllUsers", id="..."`), or the
/// `AccessControlPolicy` document's grants.
pub fn granted_groups(rp: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |g: &'static str| {
        if !out.iter().any(|o| o == g) {
            out.push(g.to_string());
        }
    };
    // A header is recorded as a list of values, or as one value.
    let values = |v: &Value| -> Vec<String> {
        match v {
            Value::Array(_) | Value::Object(_) => {
                items(v).into_iter().filter_map(scalar_string).collect()
            }
            other => scalar_string(other).into_iter().collect(),
        }
    };
    for k in ["x-amz-acl", "acl", "ACL"] {
        for acl in rp.get(k).map(values).unwrap_or_default() {
            if let Some(g) = canned(&acl) {
                add(g);
            }
        }
    }
    if let Some(m) = rp.as_object() {
        for (k, v) in m {
            if !k.to_ascii_lowercase().starts_with("x-amz-grant-") {
                continue;
            }
            for header in values(v) {
                for part in header.split(',') {
                    if let Some((key, value)) = part.split_once('=') {
                        if key.trim().eq_ignore_ascii_case("uri") {
                            if let Some(g) = public_group(value) {
                                add(g);
                            }
                        }
                    }
                }
            }
        }
    }
    let acl = rp
        .get("AccessControlPolicy")
        .map(|p| p.get("AccessControlList").unwrap_or(p))
        .unwrap_or(&Value::Null);
    for grant in items_any(acl, &["Grant", "Grants", "grant"]) {
        let grantee = grant.get("Grantee").unwrap_or(grant);
        if let Some(g) = str_any(grantee, &["URI", "Uri", "uri"]).as_deref().and_then(public_group)
        {
            add(g);
        }
    }
    out
}

/// The grantees an ACL names by canonical user id or e-mail address other than its owner:
/// other accounts, which an id does not name (trailguard cannot judge them against the
/// trusted set, so they are told, never taken out). A grant header's id is left out: the
/// header does not say who the owner is, and granting the owner is the common case.
pub fn granted_others(rp: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |g: String| {
        if !out.contains(&g) {
            out.push(g);
        }
    };
    if let Some(m) = rp.as_object() {
        for (k, v) in m {
            if !k.to_ascii_lowercase().starts_with("x-amz-grant-") {
                continue;
            }
            let headers: Vec<String> = match v {
                Value::Array(_) | Value::Object(_) => {
                    items(v).into_iter().filter_map(scalar_string).collect()
                }
                other => scalar_string(other).into_iter().collect(),
            };
            for part in headers.iter().flat_map(|h| h.split(',')) {
                if let Some((key, value)) = part.split_once('=') {
                    if key.trim().eq_ignore_ascii_case("emailAddress") {
                        add(format!("e-mail {}", value.trim().trim_matches('"')));
                    }
                }
            }
        }
    }
    let policy = rp.get("AccessControlPolicy").unwrap_or(&Value::Null);
    let owner = str_any(policy.get("Owner").unwrap_or(&Value::Null), &["ID", "Id", "id"]);
    let acl = policy.get("AccessControlList").unwrap_or(policy);
    for grant in items_any(acl, &["Grant", "Grants", "grant"]) {
        let grantee = grant.get("Grantee").unwrap_or(grant);
        if let Some(mail) = str_any(grantee, &["EmailAddress", "emailAddress"]) {
            add(format!("e-mail {mail}"));
        } else if let Some(id) = str_any(grantee, &["ID", "Id", "id"]) {
            if owner.as_deref().is_some_and(|o| o != id) {
                add(format!("canonical user {id}"));
            }
        }
    }
    out
}

fn bucket_acl(r: &CloudTrailRecord, bucket: &str, policy: &Policy, facts: &Facts) -> Verdict {
    let name = r.event_name.get().unwrap_or_default();
    let groups = granted_groups(&r.request_parameters);
    let others = granted_others(&r.request_parameters);
    let told = (!others.is_empty()).then(|| {
        format!(
            "also granted to {} (told, kept: an id does not say which account it is)",
            others.join(", ")
        )
    });
    if groups.is_empty() {
        return Verdict::Decided(match told {
            Some(t) => Decision::notify(
                format!("{name} on {bucket} grants other accounts by id or e-mail"),
                Notice {
                    severity: Severity::Medium,
                    title: format!("S3 bucket {bucket} ACL grants other accounts"),
                    details: vec![t, by(r)],
                },
            ),
            None => Decision::ignore(format!(
                "{name} on {bucket} grants nothing to everyone (AllUsers) or every AWS account (AuthenticatedUsers)"
            )),
        });
    }
    let action = RemoveBucketAclGrants {
        bucket: bucket.to_string(),
        groups,
        previous: None,
    };
    let what = format!(
        "the ACL grants {}",
        action
            .groups
            .iter()
            .map(|g| g.rsplit('/').next().unwrap_or(g))
            .collect::<Vec<_>>()
            .join(" and ")
    );
    if let Some(v) = exempt(bucket, policy, facts, &what) {
        return v;
    }
    let mut details = vec![what, by(r)];
    details.extend(told);
    Verdict::Decided(Decision::remediate(
        format!("{name} made bucket {bucket} public through its ACL"),
        vec![action.into()],
        Notice {
            severity: Severity::Critical,
            title: format!("S3 bucket {bucket} made public by its ACL"),
            details,
        },
    ))
}

/// A `PutObjectAcl` (a data event: it reaches EventBridge only from a trail that logs S3
/// data events) granting everyone or every AWS account: those grants leave that object's
/// ACL (that version's, when the call named one).
fn object_acl(r: &CloudTrailRecord, bucket: &str, policy: &Policy, facts: &Facts) -> Verdict {
    let rp = &r.request_parameters;
    let Some(key) = str_any(rp, &["key", "Key"]) else {
        return Verdict::Decided(Decision::ignore("PutObjectAcl names no object key"));
    };
    let groups = granted_groups(rp);
    if groups.is_empty() {
        return Verdict::Decided(Decision::ignore(format!(
            "PutObjectAcl on s3://{bucket}/{key} grants nothing to everyone (AllUsers) or every AWS account (AuthenticatedUsers)"
        )));
    }
    let action = RemoveObjectAclGrants {
        bucket: bucket.to_string(),
        key: key.clone(),
        version_id: str_any(rp, &["versionId", "VersionId"]),
        groups,
        previous: None,
    };
    let what = format!("the object's ACL: {}", action.describe());
    if let Some(v) = exempt(bucket, policy, facts, &what) {
        return v;
    }
    Verdict::Decided(Decision::remediate(
        format!("PutObjectAcl made s3://{bucket}/{key} public"),
        vec![action.into()],
        Notice {
            severity: Severity::High,
            title: format!("S3 object in {bucket} made public by its ACL"),
            details: vec![what, by(r)],
        },
    ))
}

fn bucket_policy(
    event: &Event,
    r: &CloudTrailRecord,
    bucket: &str,
    policy: &Policy,
    facts: &Facts,
) -> Verdict {
    let rp = &r.request_parameters;
    let Some(doc) = rp
        .get("bucketPolicy")
        .or_else(|| rp.get("policy"))
        .and_then(crate::trust::document)
    else {
        return Verdict::Decided(Decision::ignore(format!(
            "PutBucketPolicy on {bucket}: the policy is not in the event"
        )));
    };
    policy_verdict(bucket, &doc, event.account(), policy, facts, by(r))
}

/// A bucket policy's verdict: the outside principals out; endpoint-only grants told.
fn policy_verdict(
    bucket: &str,
    doc: &Value,
    account: Option<&str>,
    policy: &Policy,
    facts: &Facts,
    context: String,
) -> Verdict {
    let e = match crate::grants::exposure(doc, account, policy, facts) {
        Known::Need(req) => return Verdict::NeedFacts(vec![req]),
        Known::Yes(e) => e,
    };
    let endpoint = (!e.endpoint_only.is_empty()).then(|| {
        format!(
            "let in only through a VPC endpoint or VPC whose owner the policy does not say (told, kept): {}",
            crate::grants::Exposure::describe(&e.endpoint_only)
        )
    });
    let canonical = (!e.canonical_users.is_empty()).then(|| {
        format!(
            "let in by canonical user id (told, kept: an id does not say which account it is, a CloudFront origin access identity's or another's): {}",
            e.canonical_users.join(", ")
        )
    });
    if e.open.is_empty() && endpoint.is_none() {
        if let Some(c) = canonical {
            return Verdict::Decided(Decision::notify(
                format!("the policy of bucket {bucket} lets principals in by canonical user id"),
                Notice {
                    severity: Severity::Medium,
                    title: format!("S3 bucket {bucket} policy grants canonical users"),
                    details: vec![c, context],
                },
            ));
        }
    }
    if e.open.is_empty() {
        return Verdict::Decided(match endpoint {
            Some(d) => Decision::notify(
                format!("the policy of bucket {bucket} lets principals in through a VPC endpoint condition only"),
                Notice {
                    severity: Severity::Medium,
                    title: format!("S3 bucket {bucket} policy grants through a VPC endpoint"),
                    details: [Some(d), Some(context), canonical].into_iter().flatten().collect(),
                },
            ),
            None => Decision::ignore(format!(
                "the policy of bucket {bucket} grants only trusted principals, services, or under restricting conditions"
            )),
        });
    }
    let what = format!(
        "granted without a restricting condition to: {}",
        crate::grants::Exposure::describe(&e.open)
    );
    if let Some(v) = exempt(bucket, policy, facts, &what) {
        return v;
    }
    let mut details = vec![what, context];
    details.extend(endpoint);
    details.extend(canonical);
    Verdict::Decided(Decision::remediate(
        format!("the policy of bucket {bucket} grants access outside the trusted set"),
        vec![RestrictBucketPolicy {
            bucket: bucket.to_string(),
            principals: e.open,
            untrusted_values: e.untrusted_values,
            previous: None,
        }
        .into()],
        Notice {
            severity: Severity::Critical,
            title: format!("S3 bucket {bucket} policy opened outside the account"),
            details,
        },
    ))
}

/// Which parts of a bucket a decision on its state looks at.
#[derive(Clone, Copy)]
struct Parts {
    block: bool,
    grants: bool,
}

/// A bucket as it is now (the sweep, a Security Hub finding): the block's switches, the
/// ACL's public grants, the policy's outside principals, each decided as its event would be.
fn decide_bucket(
    b: &BucketState,
    account: Option<&str>,
    policy: &Policy,
    facts: &Facts,
    parts: Parts,
    why: &str,
) -> Verdict {
    let bucket = &b.bucket;
    if crate::facts::tag_is_true(&b.tags, &policy.exempt_tag) {
        return Verdict::Decided(Decision::ignore(format!(
            "bucket {bucket} is tagged {}=true",
            policy.exempt_tag
        )));
    }
    let mut actions: Vec<Action> = Vec::new();
    let mut details: Vec<String> = Vec::new();
    let mut notices: Vec<String> = Vec::new();
    let wanted = enforced(policy);
    if parts.block && !wanted.names().is_empty() {
        let off = b.block.unwrap_or_default().lacking(wanted);
        if !off.is_empty() {
            details.push(match b.block {
                Some(_) => format!("public access block switches off: {}", off.join(", ")),
                None => "no public access block".to_string(),
            });
            actions.push(
                PutBucketPublicAccessBlock {
                    bucket: bucket.clone(),
                    flags: wanted.names(),
                    previous: None,
                }
                .into(),
            );
        }
    }
    if parts.grants {
        if !b.public_groups.is_empty() {
            let a = RemoveBucketAclGrants {
                bucket: bucket.clone(),
                groups: b.public_groups.clone(),
                previous: None,
            };
            details.push(format!("the ACL: {}", a.describe()));
            actions.push(a.into());
        }
        if let Some(doc) = b
            .policy
            .as_deref()
            .and_then(|p| crate::trust::document(&Value::String(p.to_string())))
        {
            match policy_verdict(bucket, &doc, account, policy, facts, String::new()) {
                Verdict::NeedFacts(r) => return Verdict::NeedFacts(r),
                Verdict::Decided(d) => {
                    if d.kind == crate::decision::Kind::Notify {
                        notices.extend(
                            d.notice.into_iter().flat_map(|n| n.details).filter(|s| !s.is_empty()),
                        );
                    }
                    for a in d.actions {
                        details.push(format!("the policy: {}", a.describe()));
                        actions.push(a);
                    }
                }
            }
        }
    }
    if actions.is_empty() {
        if !notices.is_empty() {
            notices.push(why.to_string());
            return Verdict::Decided(Decision::notify(
                format!("bucket {bucket}: a grant through a VPC endpoint condition only"),
                Notice {
                    severity: Severity::Medium,
                    title: format!("S3 bucket {bucket} policy grants through a VPC endpoint"),
                    details: notices,
                },
            ));
        }
        return Verdict::Decided(Decision::ignore(format!(
            "bucket {bucket} is not public: its block, ACL and policy keep it to the trusted set"
        )));
    }
    details.extend(notices);
    details.push(why.to_string());
    Verdict::Decided(Decision::remediate(
        format!("bucket {bucket} is open outside the trusted set"),
        actions,
        Notice {
            severity: Severity::Critical,
            title: format!("S3 bucket {bucket} is public"),
            details,
        },
    ))
}

/// The sweep's view: each bucket.
fn swept(state: &State, account: Option<&str>, policy: &Policy, facts: &Facts) -> Verdict {
    match state {
        State::Bucket(b) => decide_bucket(
            b,
            account,
            policy,
            facts,
            Parts {
                block: true,
                grants: true,
            },
            crate::state::WHY,
        ),
        other => super::not_swept(GUARD.name, other),
    }
}

/// The Security Hub controls about public buckets: S3.8 (a bucket's block), S3.2 and S3.3
/// (a bucket readable or writable by the public: its ACL and policy, looked up). S3.1 (the
/// account's block) is guards/account_guardrails.rs's.
const CONTROLS: [&str; 3] = ["S3.2", "S3.3", "S3.8"];

fn security_hub(event: &Event, d: &SecurityHubDetail, policy: &Policy, facts: &Facts) -> Verdict {
    let (f, control, why) = match super::failed_control(d, &CONTROLS, "a bucket control") {
        Ok(found) => found,
        Err(v) => return *v,
    };
    let bucket = f
        .resources
        .iter()
        .filter(|r| r.resource_type.get() == Some("AwsS3Bucket"))
        .find_map(|r| {
            r.id.get()
                .and_then(|id| id.strip_prefix("arn:aws:s3:::").or_else(|| id.rsplit_once(":::").map(|(_, b)| b)))
                .map(String::from)
                .or_else(|| str_any(&r.details["AwsS3Bucket"], &["Name"]))
        });
    let Some(bucket) = bucket else {
        return Verdict::Decided(Decision::ignore(format!("{control} finding names no bucket")));
    };
    let parts = Parts {
        block: control == "S3.8",
        grants: control != "S3.8",
    };
    match facts.bucket_state(&bucket) {
        Known::Need(r) => Verdict::NeedFacts(vec![r]),
        Known::Yes(Some(b)) => decide_bucket(&b, event.account(), policy, facts, parts, &why),
        Known::Yes(None) if facts.offline => {
            let mut d = Decision::notify(
                format!("{control} on bucket {bucket}: the bucket's state is not in the finding; the function looks it up"),
                Notice {
                    severity: Severity::High,
                    title: format!("S3 bucket {bucket} fails {control}"),
                    details: vec![why],
                },
            );
            d.assumed.push(FactRequest::BucketState { bucket });
            Verdict::Decided(d)
        }
        Known::Yes(None) => Verdict::Decided(Decision::ignore(format!(
            "bucket {bucket} no longer exists: nothing to take back"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canned_acls_grant_headers_and_documents_name_the_public_groups() {
        assert_eq!(granted_groups(&json!({"x-amz-acl": ["public-read"]})), vec![ALL_USERS]);
        assert_eq!(
            granted_groups(&json!({"x-amz-acl": "authenticated-read"})),
            vec![AUTHENTICATED_USERS]
        );
        assert!(granted_groups(&json!({"x-amz-acl": ["private"]})).is_empty());
        assert!(granted_groups(&json!({"x-amz-acl": ["log-delivery-write"]})).is_empty());
        assert_eq!(
            granted_groups(&json!({"x-amz-grant-read": "id=\"abc\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""})),
            vec![ALL_USERS]
        );
        let doc = json!({"AccessControlPolicy": {"AccessControlList": {"Grant": [
            {"Grantee": {"xsi:type": "CanonicalUser", "ID": "abc"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"xsi:type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "Permission": "WRITE"},
            {"Grantee": {"xsi:type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}, "Permission": "READ"}
        ]}}});
        assert_eq!(granted_groups(&doc), vec![AUTHENTICATED_USERS]);
    }
}
