//! The guards: one per function. Each reads one kind of event and decides.

pub mod cloudtrail;
pub mod key;
pub mod nacl;
pub mod sg;

use crate::decision::{Decision, Verdict};
use crate::event::{CloudTrailRecord, Event, EventBody};
use crate::facts::Facts;
use crate::policy::{Guard, Policy};

/// Whether `guard` is the one that handles this event.
pub fn applies(guard: Guard, event: &Event) -> bool {
    match guard {
        Guard::SecurityGroup => ct_event(event, "ec2.amazonaws.com", sg::EVENT_NAMES),
        Guard::NetworkAcl => ct_event(event, "ec2.amazonaws.com", nacl::EVENT_NAMES),
        Guard::Cloudtrail => ct_event(event, "cloudtrail.amazonaws.com", cloudtrail::EVENT_NAMES),
        Guard::AccessKey => matches!(
            event.body,
            EventBody::Health(_)
                | EventBody::GuardDuty(_)
                | EventBody::Manual(_)
                | EventBody::CloudTrail(_)
        ),
    }
}

fn ct_event(event: &Event, service: &str, names: &[&str]) -> bool {
    event.cloudtrail().is_some_and(|r| {
        let from_service = r.event_source.as_deref().is_none_or(|s| s == service);
        from_service && r.event_name.as_deref().is_some_and(|n| names.contains(&n))
    })
}

/// Run one guard.
pub fn run(guard: Guard, event: &Event, policy: &Policy, facts: &Facts) -> Verdict {
    let verdict = match guard {
        Guard::SecurityGroup => sg::decide(event, policy, facts),
        Guard::NetworkAcl => nacl::decide(event, policy, facts),
        Guard::Cloudtrail => cloudtrail::decide(event, policy, facts),
        Guard::AccessKey => key::decide(event, policy, facts),
    };
    match verdict {
        Verdict::Decided(mut d) => {
            d.guard = Some(guard);
            d.mode = policy.mode(guard);
            Verdict::Decided(d)
        }
        need => need,
    }
}

/// The checks every guard of a CloudTrail change makes first: the call failed (nothing
/// changed), the change is trailguard's own (acting on it would loop), or the principal is
/// exempt by policy.
pub(crate) fn preamble(r: &CloudTrailRecord, policy: &Policy, facts: &Facts) -> Option<Decision> {
    if let Some(code) = &r.error_code {
        return Some(Decision::ignore(format!(
            "the call failed ({code}): nothing changed"
        )));
    }
    if let Some(own) = own_role(r, policy, facts) {
        return Some(Decision::ignore(format!(
            "the change was made by trailguard's own role {own}: acting on it would loop"
        )));
    }
    if let Some(p) = policy.is_exempt_principal(&r.user_identity.arns()) {
        return Some(Decision::ignore(format!(
            "principal {} is exempt by policy pattern `{p}`",
            r.user_identity.display()
        )));
    }
    None
}

/// The trailguard role that made this call, if one did: the running function's own role,
/// or one the policy lists in `own_roles`.
pub(crate) fn own_role<'a>(
    r: &CloudTrailRecord,
    policy: &'a Policy,
    facts: &'a Facts,
) -> Option<&'a str> {
    facts
        .own_role_arn
        .iter()
        .chain(policy.own_roles.iter())
        .map(String::as_str)
        .find(|own| is_own_role(r, own))
}

/// Whether the record's caller is the given role (by its role ARN, with or without a path),
/// through its session issuer or its assumed-role ARN.
pub fn is_own_role(r: &CloudTrailRecord, own_role_arn: &str) -> bool {
    let Some((own_account, own_name)) = role_parts(own_role_arn) else {
        return false;
    };
    let id = &r.user_identity;
    if let Some(issuer) = id.session_context.session_issuer.arn.as_deref() {
        if role_parts(issuer) == Some((own_account, own_name)) {
            return true;
        }
    }
    // arn:aws:sts::123456789012:assumed-role/NAME/SESSION
    id.arn.as_deref().is_some_and(|a| {
        let f: Vec<&str> = a.splitn(6, ':').collect();
        f.len() == 6
            && f[2] == "sts"
            && f[4] == own_account
            && f[5]
                .strip_prefix("assumed-role/")
                .and_then(|r| r.split('/').next())
                == Some(own_name)
    })
}

/// (account, role name) of `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
fn role_parts(arn: &str) -> Option<(&str, &str)> {
    let f: Vec<&str> = arn.splitn(6, ':').collect();
    if f.len() != 6 || f[2] != "iam" {
        return None;
    }
    let name = f[5].strip_prefix("role/")?.rsplit('/').next()?;
    Some((f[4], name))
}
