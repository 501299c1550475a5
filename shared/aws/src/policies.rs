//! Restricting a resource policy, written once over [`PolicyPort`]'s calls for every kind:
//! read the policy as it is now, judge it as the decision did (`grants::judge`), write it
//! back without exactly the principals the decision named (or delete it when nothing is
//! left, where the service allows), and return the policy as it was for the undo.

use serde_json::Value;
use trailguard_rules::grants;
use trailguard_rules::resources::{self, PolicyKind, Restriction};
use trailguard_rules::trust;

use crate::error::PortError;
use crate::ports::{Change, PolicyPort, PortResult};

/// Take `r.principals` out of the resource's policy as it is now. `Change::Removed` carries
/// the policy as it was (the undo writes it back). The policy is read right before it is
/// rewritten, never taken from the decision's read: a document written from a read taken
/// before the ledger gate (the breaker's slot can wait on other invocations) could put back
/// what a concurrent remediation took out.
pub async fn restrict<P: PolicyPort>(p: &P, r: Restriction<'_>) -> PortResult<Change> {
    let (kind, resource) = (r.kind, r.resource);
    let noun = kind.noun();
    let current = match p.read_policy(kind, resource).await? {
        None => {
            return Ok(Change::AlreadyDone(format!(
                "{noun} {resource} no longer exists"
            )))
        }
        Some(c) => c,
    };
    let Some(text) = current.filter(|t| !t.trim().is_empty()) else {
        return Ok(Change::AlreadyDone(format!(
            "{noun} {resource} has no policy now"
        )));
    };
    let doc =
        trust::document(&Value::String(text.clone())).ok_or_else(|| PortError::Permanent {
            op: "describe_policy",
            code: "UnreadablePolicy".into(),
            message: format!("the policy of {noun} {resource} is not a JSON document"),
        })?;
    // The principals open now, judged as the decision judged them: the accounts it found
    // outside are outside, any other value is the subject of its own event.
    let inside = grants::judge(r.principals, r.untrusted_values);
    let open = grants::open_principals(&doc, &inside);
    if !r.principals.iter().any(|x| open.contains(x)) {
        return Ok(Change::AlreadyDone(format!(
            "the policy of {noun} {resource} no longer lets them in"
        )));
    }
    let change = match grants::without_principals(&doc, r.principals, &inside) {
        Some(left) => {
            if kind == PolicyKind::Key && !grants::keeps_administrator(&left, "kms:PutKeyPolicy") {
                return Err(lockout(resource));
            }
            p.put_policy(kind, resource, &left.to_string()).await?
        }
        None if kind.deletable() => p.delete_policy(kind, resource).await?,
        None if kind == PolicyKind::Topic => {
            // A topic's policy cannot be deleted: AWS's default for the owner account.
            let default =
                resources::default_topic_policy(resource).ok_or_else(|| PortError::Permanent {
                    op: "SetTopicAttributes",
                    code: "NoOwner".into(),
                    message: format!("{resource} is not a topic ARN: no default policy to write"),
                })?;
            p.put_policy(kind, resource, &default.to_string()).await?
        }
        None if kind == PolicyKind::FileSystem => return Err(default_opens(resource)),
        None => return Err(lockout(resource)),
    };
    Ok(match change {
        Change::AlreadyDone(why) => Change::AlreadyDone(why),
        Change::Done | Change::Removed(_) => Change::Removed(vec![text]),
    })
}

/// A key policy left with no administrator: never written.
fn lockout(key: &str) -> PortError {
    PortError::Permanent {
        op: "PutKeyPolicy",
        code: "WouldLockOut".into(),
        message: format!(
            "without them the policy of KMS key {key} would let no one administer the key \
             (kms:PutKeyPolicy), and a key policy cannot be deleted: not written; write one \
             that keeps your administrators"
        ),
    }
}

/// An EFS file system policy left with no statement: never deleted, since EFS's default
/// policy would let in every client that reaches a mount target.
fn default_opens(file_system: &str) -> PortError {
    PortError::Permanent {
        op: "PutFileSystemPolicy",
        code: "WouldOpen".into(),
        message: format!(
            "without them the policy of EFS file system {file_system} would have no statement \
             left, and without a policy EFS lets every client that reaches a mount target \
             mount, write and act as root: not changed; write a policy that names only your \
             own principals"
        ),
    }
}

/// A mutating call's result: done, already done when the resource is gone (`gone` codes),
/// or the classified error.
pub(crate) fn changed<T, E>(
    r: Result<
        T,
        aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    >,
    op: &'static trailguard_rules::ops::Op,
    gone: &[&str],
    what: &str,
) -> PortResult<Change>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(_) => Ok(Change::Done),
        Err(e) if is_gone(&e, gone) => Ok(Change::AlreadyDone(format!("{what} no longer exists"))),
        Err(e) => Err(crate::error::classify(op, e)),
    }
}

/// A tag to take off a resource that no longer exists: nothing to do.
pub(crate) fn gone(what: &str) -> Change {
    Change::AlreadyDone(format!("{what} no longer exists"))
}

/// An untag call's result, with the tag's value before it when it took the tag off (the
/// undo puts that value back).
pub(crate) fn untag_removed(r: PortResult<Change>, value: String) -> PortResult<Change> {
    r.map(|c| match c {
        Change::Done | Change::Removed(_) => Change::Removed(vec![value]),
        other => other,
    })
}

/// The tag's value, read before taking it off: the value, or what the untag call answers
/// when there is nothing to take off (the resource gone, or without the tag).
pub(crate) fn to_untag(
    read: Option<Option<String>>,
    what: &str,
    key: &str,
) -> Result<String, Change> {
    match read {
        None => Err(gone(what)),
        Some(None) => Err(untagged(what, key)),
        Some(Some(v)) => Ok(v),
    }
}

/// A tag builder's error (a required field left out), as a port error.
pub(crate) fn tag_error(
    op: &'static trailguard_rules::ops::Op,
    e: impl std::fmt::Display,
) -> PortError {
    PortError::Permanent {
        op: op.api,
        code: "BuildError".into(),
        message: e.to_string(),
    }
}

/// A tag to take off a resource that no longer carries it: nothing to do.
pub(crate) fn untagged(what: &str, key: &str) -> Change {
    Change::AlreadyDone(format!("{what} no longer carries {key}"))
}

/// Whether a failed call says the resource (or its policy) does not exist.
pub(crate) fn is_gone<E>(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    codes: &[&str],
) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    crate::error::code_of(e).is_some_and(|c| codes.contains(&c.as_str()))
}

/// Tags as a map, from any SDK's key/value pairs.
pub(crate) fn tags<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> trailguard_rules::Tags {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
