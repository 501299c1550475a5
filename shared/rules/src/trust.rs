//! IAM role trust policies: who may assume a role, and the same policy without the principals
//! outside the trusted set. Pure; the guard decides with it, and the function applies it to
//! the role's trust policy as it is when it acts (it may have changed since the event).
//!
//! A condition makes a statement safe by what it allows, never by its key's name: a positive
//! operator on a key that names who calls, with every value inside the trusted set.

use serde_json::{json, Map, Value};

use crate::lenient::{items, scalar_string};

/// A policy document as CloudTrail or IAM gives it: JSON, a JSON string, or a URL-encoded
/// JSON string (IAM's GetRole). None when it is none of these.
pub fn document(v: &Value) -> Option<Value> {
    match v {
        Value::Object(_) => Some(v.clone()),
        Value::String(s) => serde_json::from_str::<Value>(s)
            .ok()
            .or_else(|| serde_json::from_str(&percent_decode(s)).ok())
            .filter(Value::is_object),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            // On the bytes: the two after '%' may split a multi-byte character, which a
            // string slice would panic on.
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(x) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The account an AWS principal belongs to: `123456789012`, `arn:aws:iam::123456789012:root`,
/// a role, user or session ARN. None for `*` (anyone) and for unique ids (`AROA...`), which
/// do not say.
pub fn principal_account(p: &str) -> Option<&str> {
    if crate::ids::is_account_id(p) {
        return Some(p);
    }
    match p.splitn(6, ':').collect::<Vec<&str>>()[..] {
        ["arn", _, _, _, account, _] if crate::ids::is_account_id(account) => Some(account),
        _ => None,
    }
}

/// What a condition value ties a grant to, judged against the trusted set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit<'a> {
    /// A 12-digit account id: an account key's value, or the account field of an ARN.
    Account(&'a str),
    /// An organization id (`o-...`): an organization id key's value, or the first segment of
    /// an organization path.
    Organization(&'a str),
    /// A VPC endpoint or VPC id. Its owner is not in the value: an attacker's own endpoint
    /// satisfies a trust policy that names it.
    Endpoint(&'a str),
}

/// Whether a unit is inside the trusted set. The guard answers from the policy and facts;
/// the function, acting later, from the values the decision found outside.
pub type Inside<'a> = &'a dyn Fn(Unit<'_>) -> bool;

/// Operators that allow only the values they list and fail when the key is missing. Not
/// `...IfExists` (a missing key passes), not `ForAllValues:` (true when the key is missing
/// or empty: a principal outside every organization has no `aws:PrincipalOrgID`), not the
/// negated ones, `Null`, `Bool` or the `IgnoreCase` variants.
pub fn is_positive_operator(op: &str) -> bool {
    let op = op.to_ascii_lowercase();
    let base = op.strip_prefix("foranyvalue:").unwrap_or(&op);
    matches!(
        base,
        "stringequals" | "stringlike" | "arnequals" | "arnlike"
    )
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// The account of an ARN-valued condition, when the ARN fixes it: no wildcard up to and
/// including the account field (`StringLike` lets `*` cross colons, and an IAM path may hold
/// `:`), so `arn:aws:iam::123456789012:role/ci-*` names 123456789012 and
/// `arn:aws:iam:*:123456789012:*` names nobody in particular.
fn arn_account(value: &str) -> Option<&str> {
    match value.splitn(6, ':').collect::<Vec<&str>>()[..] {
        ["arn", partition, service, region, account, _]
            if !has_glob(partition)
                && !has_glob(service)
                && !has_glob(region)
                && crate::ids::is_account_id(account) =>
        {
            Some(account)
        }
        _ => None,
    }
}

/// The unit a value of a condition key ties a grant to. None when the key does not say who
/// calls, or the value is a wildcard or malformed (it allows more than it names).
pub fn condition_unit<'v>(key: &str, value: &'v str) -> Option<Unit<'v>> {
    use crate::ids::{is_account_id, is_organization_id};
    match key.to_ascii_lowercase().as_str() {
        // kms:CallerAccount: the account of whoever calls (AWS's default key policy allows
        // `*` through a service with it set to the key's own account).
        "aws:principalaccount" | "aws:sourceaccount" | "aws:sourceowner" | "kms:calleraccount" => {
            is_account_id(value).then_some(Unit::Account(value))
        }
        "aws:principalorgid" | "aws:sourceorgid" => {
            is_organization_id(value).then_some(Unit::Organization(value))
        }
        // o-x/r-y/ou-z/: the organization written out in full, up to its slash.
        "aws:principalorgpaths" | "aws:sourceorgpaths" => value
            .split_once('/')
            .map(|(org, _)| org)
            .filter(|org| is_organization_id(org))
            .map(Unit::Organization),
        "aws:principalarn" | "aws:sourcearn" => arn_account(value).map(Unit::Account),
        "aws:sourcevpce" => {
            (value.starts_with("vpce-") && !has_glob(value)).then_some(Unit::Endpoint(value))
        }
        "aws:sourcevpc" => {
            (value.starts_with("vpc-") && !has_glob(value)).then_some(Unit::Endpoint(value))
        }
        _ => None,
    }
}

/// The values a condition key allows: a string, a number or a list of them. None when an
/// element is something else (the condition cannot be judged).
fn values(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(a) => a.iter().map(scalar_string).collect(),
        other => scalar_string(other).map(|s| vec![s]),
    }
}

/// Each (operator, key, values) of a statement's condition.
fn conditions(statement: &Value) -> Vec<(&str, &str, &Value)> {
    let Some(ops) = statement.get("Condition").and_then(Value::as_object) else {
        return Vec::new();
    };
    ops.iter()
        .filter_map(|(op, keys)| Some((op, keys.as_object()?)))
        .flat_map(|(op, keys)| keys.iter().map(move |(k, v)| (op.as_str(), k.as_str(), v)))
        .collect()
}

/// Whether the statement's condition restricts it to the trusted set: a positive operator on
/// a key that says who calls, with every value it allows inside. Every operator and key of a
/// condition must hold, so one such pair is enough; a `Null`, a negated operator or an
/// outside value restricts nothing.
pub fn restricted_to(statement: &Value, inside: Inside) -> bool {
    conditions(statement).into_iter().any(|(op, key, v)| {
        is_positive_operator(op)
            && values(v).is_some_and(|vals| {
                !vals.is_empty()
                    && vals
                        .iter()
                        .all(|x| condition_unit(key, x).is_some_and(inside))
            })
    })
}

/// Every account the policy names, as a principal or in a condition: the ones to ask the
/// trusted set about.
pub fn named_accounts(doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for st in items(doc.get("Statement").unwrap_or(&Value::Null)) {
        let principals = st
            .get("Principal")
            .map(|p| strings(p.get("AWS").unwrap_or(&Value::Null)))
            .unwrap_or_default();
        let principal_accounts = principals
            .iter()
            .filter_map(|p| principal_account(p).map(String::from));
        let condition_accounts = conditions(st).into_iter().flat_map(|(_, key, v)| {
            values(v)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|x| match condition_unit(key, &x) {
                    Some(Unit::Account(a)) => Some(a.to_string()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        });
        for a in principal_accounts.chain(condition_accounts) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// The accounts and organizations the policy's conditions name that `inside` refuses. The
/// function, judging the policy as it is when it acts, counts exactly these as outside (and
/// a value it has not seen as inside: a later change has its own event).
pub fn untrusted_values(doc: &Value, inside: Inside) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for st in items(doc.get("Statement").unwrap_or(&Value::Null)) {
        for (_, key, v) in conditions(st) {
            for x in values(v).unwrap_or_default() {
                let unit = match condition_unit(key, &x) {
                    Some(u @ (Unit::Account(_) | Unit::Organization(_))) if !inside(u) => u,
                    _ => continue,
                };
                let (Unit::Account(s) | Unit::Organization(s) | Unit::Endpoint(s)) = unit;
                if !out.iter().any(|o| o == s) {
                    out.push(s.to_string());
                }
            }
        }
    }
    out
}

/// The judge the function uses, acting on a decision: outside are the accounts of the AWS
/// principals it names, the condition values it found outside, and every VPC endpoint, as
/// the guard judged them; any other value is inside (a later change has its own event).
pub fn judged_as_decided(principals: &[String], untrusted: &[String]) -> impl Fn(Unit<'_>) -> bool {
    let mut outside: Vec<String> = untrusted.to_vec();
    outside.extend(
        principals
            .iter()
            .filter(|p| !is_federated(p))
            .filter_map(|p| principal_account(p).map(String::from)),
    );
    move |u| match u {
        Unit::Account(s) | Unit::Organization(s) => !outside.iter().any(|o| o == s),
        Unit::Endpoint(_) => false,
    }
}

pub(crate) fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        other => items(other)
            .into_iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
    }
}

pub(crate) fn is_allow(statement: &Value) -> bool {
    statement
        .get("Effect")
        .and_then(Value::as_str)
        .is_some_and(|e| e.eq_ignore_ascii_case("allow"))
}

/// The calls that assume a role.
const ASSUME: [&str; 3] = [
    "sts:assumerole",
    "sts:assumerolewithwebidentity",
    "sts:assumerolewithsaml",
];

fn action_matches(pattern: &str, action: &str) -> bool {
    crate::glob::matches(&pattern.to_ascii_lowercase(), action)
}

/// Whether an Allow statement lets its principals assume the role: an `Action` (string or
/// list, any case, `*`/`?` globs) matching one of the assume calls, or a `NotAction` that
/// leaves one of them out. Deny statements grant nothing.
pub fn grants_assume_role(statement: &Value) -> bool {
    if !is_allow(statement) {
        return false;
    }
    if let Some(a) = statement.get("Action") {
        let patterns = strings(a);
        return ASSUME
            .iter()
            .any(|x| patterns.iter().any(|p| action_matches(p, x)));
    }
    statement.get("NotAction").is_some_and(|na| {
        let excluded = strings(na);
        ASSUME
            .iter()
            .any(|x| !excluded.iter().any(|p| action_matches(p, x)))
    })
}

/// OIDC issuers that sign tokens for anyone who signs up: the subject has to name the owner
/// (`repo:OWNER/`, `project_path:GROUP/`) in full.
const SHARED_ISSUERS: [&str; 2] = ["token.actions.githubusercontent.com", "gitlab.com"];

/// Whether a subject value names whom it lets in: exactly, or, with a wildcard, after a
/// literal start (for a shared issuer, one that names the owner up to its slash).
fn subject_narrow(issuer: &str, v: &str) -> bool {
    let literal = &v[..v.find(['*', '?']).unwrap_or(v.len())];
    if literal.len() == v.len() {
        return !v.is_empty();
    }
    let shared = SHARED_ISSUERS.iter().any(|h| {
        issuer
            .to_ascii_lowercase()
            .starts_with(&h.to_ascii_lowercase())
    });
    if shared {
        literal
            .split_once('/')
            .is_some_and(|(owner, _)| !owner.is_empty() && !owner.ends_with(':'))
    } else {
        !literal.is_empty()
    }
}

/// Whether a federated principal of an Allow statement lets in whoever its provider signs a
/// token or assertion for. An OIDC provider (`...:oidc-provider/HOST`, or a built-in one such
/// as `accounts.google.com`) needs an audience (`HOST:aud`) and a subject (`HOST:sub`)
/// condition; Cognito needs its audience (the identity pool); a SAML provider needs
/// `SAML:aud` (its IdP, whose metadata the account uploaded, decides who gets an assertion).
/// Each with a positive operator and no value made only of wildcards.
pub fn federated_open(statement: &Value, principal: &str) -> bool {
    let (issuer, saml) = match principal.split_once(":oidc-provider/") {
        Some((_, host)) => (host, false),
        None if principal.contains(":saml-provider/") => ("SAML", true),
        None => (principal, false),
    };
    let holds = |suffix: &str, narrow: &dyn Fn(&str) -> bool| {
        let key = format!("{issuer}:{suffix}");
        conditions(statement).into_iter().any(|(op, k, v)| {
            is_positive_operator(op)
                && k.eq_ignore_ascii_case(&key)
                && values(v).is_some_and(|vals| !vals.is_empty() && vals.iter().all(|x| narrow(x)))
        })
    };
    let audience = holds("aud", &|v| !v.chars().all(|c| c == '*' || c == '?'));
    let needs_subject = !saml && !issuer.eq_ignore_ascii_case("cognito-identity.amazonaws.com");
    let subject = !needs_subject || holds("sub", &|v| subject_narrow(issuer, v));
    !(audience && subject)
}

/// Whether a principal [`outsiders`] names is a federated one (an OIDC or SAML provider, or
/// a built-in web identity provider), not an AWS principal.
pub fn is_federated(principal: &str) -> bool {
    principal.contains(":oidc-provider/")
        || principal.contains(":saml-provider/")
        || (principal != "*" && principal_account(principal).is_none())
}

/// Whether a statement lets everyone in: `Principal: "*"`, or an Allow with `NotPrincipal`
/// (everyone but those it names).
fn everyone(statement: &Value) -> bool {
    statement.get("NotPrincipal").is_some()
        || statement.get("Principal").and_then(Value::as_str) == Some("*")
}

/// The principals of one granting, unrestricted statement that are open: `*`, AWS principals
/// of accounts `inside` refuses, federated principals without narrowing conditions.
fn open_principals(st: &Value, inside: Inside) -> Vec<String> {
    if everyone(st) {
        return vec!["*".into()];
    }
    let Some(p) = st.get("Principal") else {
        return Vec::new();
    };
    let aws = strings(p.get("AWS").unwrap_or(&Value::Null))
        .into_iter()
        .filter(|a| match (a.as_str(), principal_account(a)) {
            ("*", _) => true,
            (_, Some(acct)) => !inside(Unit::Account(acct)),
            _ => false,
        });
    let federated = strings(p.get("Federated").unwrap_or(&Value::Null))
        .into_iter()
        .filter(|f| federated_open(st, f));
    aws.chain(federated).collect()
}

/// The principals (as the policy writes them) that may assume the role and are outside the
/// trusted set: `*`, AWS principals of accounts `inside` refuses, and federated principals
/// any token of their provider satisfies, in Allow statements granting an assume call that
/// no condition restricts to the trusted set. Service principals are not counted.
pub fn outsiders(doc: &Value, inside: Inside) -> Vec<String> {
    outsiders_of(doc, inside, grants_assume_role)
}

/// [`outsiders`] over the statements `grants` picks (an Allow granting what matters).
pub(crate) fn outsiders_of(doc: &Value, inside: Inside, grants: fn(&Value) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for st in items(doc.get("Statement").unwrap_or(&Value::Null)) {
        if !grants(st) || restricted_to(st, inside) {
            continue;
        }
        for p in open_principals(st, inside) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Keep, of a principal list, those not in `principals`; None when none is left.
fn keep(list: &Value, remove: &dyn Fn(&str) -> bool) -> Option<Value> {
    let kept: Vec<String> = strings(list).into_iter().filter(|a| !remove(a)).collect();
    match kept.len() {
        0 => None,
        1 => Some(json!(kept[0])),
        _ => Some(json!(kept)),
    }
}

/// The policy without `principals` in the statements that let them in (the granting,
/// unrestricted statements [`outsiders`] counts; a federated principal only where it is
/// open); Deny statements and restricted ones keep them. Statements left with no principal
/// are dropped, and a policy left with no statement trusts nobody (an explicit deny),
/// because IAM refuses an empty trust policy.
pub fn without(doc: &Value, principals: &[String], inside: Inside) -> Value {
    let mut statements = kept_statements(doc, principals, inside, grants_assume_role);
    if statements.is_empty() {
        statements.push(json!({
            "Sid": "TrailguardTrustsNobody",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sts:AssumeRole"
        }));
    }
    with_statements(doc, statements)
}

/// The document with these statements (its other keys kept, a `Version` added if missing).
pub(crate) fn with_statements(doc: &Value, statements: Vec<Value>) -> Value {
    let mut out = doc.as_object().cloned().unwrap_or_else(Map::new);
    out.insert("Statement".into(), Value::Array(statements));
    out.entry("Version").or_insert(json!("2012-10-17"));
    Value::Object(out)
}

/// The statements of [`without`], over those `grants` picks, with nothing added when none
/// is left.
pub(crate) fn kept_statements(
    doc: &Value,
    principals: &[String],
    inside: Inside,
    grants: fn(&Value) -> bool,
) -> Vec<Value> {
    let mut statements = Vec::new();
    for st in items(doc.get("Statement").unwrap_or(&Value::Null)) {
        if !grants(st) || restricted_to(st, inside) {
            statements.push(st.clone());
            continue;
        }
        if everyone(st) && principals.iter().any(|p| p == "*") {
            continue;
        }
        let open_federated: Vec<String> = strings(
            st.get("Principal")
                .and_then(|p| p.get("Federated"))
                .unwrap_or(&Value::Null),
        )
        .into_iter()
        .filter(|f| federated_open(st, f))
        .collect();
        let mut st = st.clone();
        if let Some(Value::Object(p)) = st.get_mut("Principal") {
            if let Some(aws) = p.remove("AWS") {
                if let Some(kept) = keep(&aws, &|a| principals.iter().any(|x| x == a)) {
                    p.insert("AWS".into(), kept);
                }
            }
            if let Some(fed) = p.remove("Federated") {
                let remove = |f: &str| {
                    principals.iter().any(|x| x == f) && open_federated.iter().any(|o| o == f)
                };
                if let Some(kept) = keep(&fed, &remove) {
                    p.insert("Federated".into(), kept);
                }
            }
            if p.is_empty() {
                continue;
            }
        }
        statements.push(st);
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_never_splits_a_character() {
        for s in [
            "%a\u{e9}",
            "%\u{e9}x",
            "%%\u{1F600}",
            "a%2",
            "%4",
            "%41\u{e9}%2",
        ] {
            let _ = percent_decode(s);
            let _ = document(&serde_json::Value::String(s.to_string()));
        }
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
    }

    const OWN: &str = "123456789012";
    const ORG: &str = "o-a1b2c3d4e5";

    /// The trusted set of these tests: the account and its organization.
    fn inside(u: Unit<'_>) -> bool {
        match u {
            Unit::Account(a) => a == OWN,
            Unit::Organization(o) => o == ORG,
            Unit::Endpoint(_) => false,
        }
    }

    fn statement(condition: Value) -> Value {
        json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Condition": condition})
    }

    #[test]
    fn a_condition_restricts_by_operator_key_and_every_value() {
        let cases: &[(&str, Value, bool)] = &[
            (
                "own organization",
                json!({"StringEquals": {"aws:PrincipalOrgID": ORG}}),
                true,
            ),
            (
                "operator and key in any case",
                json!({"stringequals": {"AWS:PRINCIPALORGID": ORG}}),
                true,
            ),
            (
                "own account, as a list",
                json!({"StringEquals": {"aws:PrincipalAccount": [OWN]}}),
                true,
            ),
            (
                "own account as a number",
                json!({"StringEquals": {"aws:PrincipalAccount": 123456789012_u64}}),
                true,
            ),
            (
                "ForAnyValue over the organization paths",
                json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": format!("{ORG}/r-ab12/*")}}),
                true,
            ),
            (
                "a role ARN glob within the account",
                json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{OWN}:role/ci-*")}}),
                true,
            ),
            (
                "source account",
                json!({"StringEquals": {"aws:SourceAccount": OWN}}),
                true,
            ),
            (
                "source ARN of the account",
                json!({"ArnEquals": {"aws:SourceArn": format!("arn:aws:sns:us-east-1:{OWN}:alerts")}}),
                true,
            ),
            (
                "one restricting pair among others",
                json!({"Null": {"aws:SourceVpc": "true"}, "StringEquals": {"aws:PrincipalOrgID": ORG}}),
                true,
            ),
            (
                "outside account",
                json!({"StringEquals": {"aws:PrincipalAccount": "666666666666"}}),
                false,
            ),
            (
                "own and outside account",
                json!({"StringEquals": {"aws:PrincipalAccount": [OWN, "666666666666"]}}),
                false,
            ),
            (
                "another organization",
                json!({"StringEquals": {"aws:PrincipalOrgID": "o-attacker0000"}}),
                false,
            ),
            (
                "organization wildcard",
                json!({"StringLike": {"aws:PrincipalOrgID": "o-*"}}),
                false,
            ),
            (
                "organization prefix glob",
                json!({"StringLike": {"aws:PrincipalOrgPaths": format!("{ORG}*")}}),
                false,
            ),
            (
                "account wildcard in an ARN",
                json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}}),
                false,
            ),
            (
                "wildcard before the account field",
                json!({"StringLike": {"aws:PrincipalArn": format!("arn:aws:iam:*:{OWN}:*")}}),
                false,
            ),
            (
                "an S3 ARN has no account",
                json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::acme-uploads"}}),
                false,
            ),
            (
                "account glob",
                json!({"StringLike": {"aws:PrincipalAccount": "1234*"}}),
                false,
            ),
            (
                "bare wildcard",
                json!({"StringLike": {"aws:PrincipalAccount": "*"}}),
                false,
            ),
            (
                "IfExists passes a missing key",
                json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": ORG}}),
                false,
            ),
            (
                "ForAllValues passes a missing key",
                json!({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ORG}}),
                false,
            ),
            (
                "negated operator",
                json!({"StringNotEquals": {"aws:PrincipalOrgID": ORG}}),
                false,
            ),
            (
                "negated ARN operator",
                json!({"ArnNotLike": {"aws:PrincipalArn": format!("arn:aws:iam::{OWN}:*")}}),
                false,
            ),
            ("Null", json!({"Null": {"aws:SourceVpc": "true"}}), false),
            (
                "Bool",
                json!({"Bool": {"aws:SecureTransport": "true"}}),
                false,
            ),
            (
                "a key that does not say who calls",
                json!({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}),
                false,
            ),
            (
                "an endpoint anyone can own",
                json!({"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f67890"}}),
                false,
            ),
            (
                "no values",
                json!({"StringEquals": {"aws:PrincipalOrgID": []}}),
                false,
            ),
            (
                "a value that is not a string",
                json!({"StringEquals": {"aws:PrincipalOrgID": [ORG, {"x": 1}]}}),
                false,
            ),
            ("not an object", json!("StringEquals"), false),
        ];
        for (what, condition, safe) in cases {
            assert_eq!(
                restricted_to(&statement(condition.clone()), &inside),
                *safe,
                "{what}"
            );
            let doc = json!({"Statement": [statement(condition.clone())]});
            let expected: &[&str] = if *safe { &[] } else { &["*"] };
            assert_eq!(outsiders(&doc, &inside), expected, "{what}");
        }
        // Without a condition, the operator alone is judged the same way.
        assert!(is_positive_operator("ForAnyValue:ArnLike"));
        assert!(!is_positive_operator("StringEqualsIgnoreCase"));
    }

    #[test]
    fn actions_are_expanded_and_not_action_counts() {
        let cases: &[(&str, Value, bool)] = &[
            ("the call", json!({"Action": "sts:AssumeRole"}), true),
            ("any case", json!({"Action": "STS:assumerole"}), true),
            ("prefix glob", json!({"Action": "sts:Assume*"}), true),
            (
                "single-character glob",
                json!({"Action": "sts:AssumeRol?"}),
                true,
            ),
            ("every action", json!({"Action": "*"}), true),
            (
                "in a list",
                json!({"Action": ["sts:TagSession", "sts:AssumeRoleWithWebIdentity"]}),
                true,
            ),
            ("SAML", json!({"Action": "sts:AssumeRoleWithSAML"}), true),
            (
                "NotAction leaving the calls in",
                json!({"NotAction": "sts:TagSession"}),
                true,
            ),
            (
                "NotAction leaving one in",
                json!({"NotAction": ["sts:AssumeRole", "sts:AssumeRoleWithSAML"]}),
                true,
            ),
            (
                "NotAction excluding them all",
                json!({"NotAction": "sts:Assume*"}),
                false,
            ),
            (
                "other actions",
                json!({"Action": ["sts:TagSession", "sts:SetSourceIdentity"]}),
                false,
            ),
            ("no action", json!({}), false),
        ];
        for (what, action, grants) in cases {
            let mut st = json!({"Effect": "Allow", "Principal": {"AWS": "*"}});
            st.as_object_mut()
                .unwrap()
                .extend(action.as_object().unwrap().clone());
            assert_eq!(grants_assume_role(&st), *grants, "{what}");
            st["Effect"] = json!("Deny");
            assert!(!grants_assume_role(&st), "Deny is no grant: {what}");
        }
    }

    fn web(principal: &str, condition: Value) -> Value {
        json!({"Effect": "Allow", "Principal": {"Federated": principal},
               "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition})
    }

    #[test]
    fn federated_principals_need_audience_and_subject() {
        let gh = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
        let aud = json!({"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"});
        let with_sub = |op: &str, sub: Value| {
            let mut c = json!({"StringEquals": aud.clone()});
            c.as_object_mut()
                .unwrap()
                .entry(op)
                .or_insert(json!({}))
                .as_object_mut()
                .unwrap()
                .insert("token.actions.githubusercontent.com:sub".into(), sub);
            c
        };
        let cases: &[(&str, &str, Value, bool)] = &[
            ("no condition", gh, json!({}), true),
            ("audience only", gh, json!({"StringEquals": aud.clone()}), true),
            ("one branch", gh, with_sub("StringEquals", json!("repo:acme/app:ref:refs/heads/main")), false),
            ("every repository of the owner", gh, with_sub("StringLike", json!("repo:acme/*")), false),
            ("any repository", gh, with_sub("StringLike", json!("repo:*")), true),
            ("an owner prefix", gh, with_sub("StringLike", json!("repo:acme*")), true),
            ("anything", gh, with_sub("StringLike", json!("*")), true),
            ("one wide value among narrow ones", gh, with_sub("StringLike", json!(["repo:acme/app:*", "repo:*"])), true),
            ("subject by a negated operator", gh, with_sub("StringNotEquals", json!("repo:evil/x")), true),
            ("subject IfExists", gh, with_sub("StringLikeIfExists", json!("repo:acme/*")), true),
            ("wildcard audience", gh, json!({"StringLike": {"token.actions.githubusercontent.com:aud": "*",
                "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main"}}), true),
            ("EKS service account", "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
                json!({"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:aud": "sts.amazonaws.com",
                "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub": "system:serviceaccount:app:api"}}), false),
            ("Google without a subject", "accounts.google.com", json!({"StringEquals": {"accounts.google.com:aud": "1234.apps.googleusercontent.com"}}), true),
            ("Cognito with its identity pool", "cognito-identity.amazonaws.com",
                json!({"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:12345678-1234-1234-1234-123456789012"}}), false),
            ("Cognito without", "cognito-identity.amazonaws.com", json!({}), true),
            ("SAML with its audience", "arn:aws:iam::123456789012:saml-provider/Okta",
                json!({"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}), false),
            ("SAML without", "arn:aws:iam::123456789012:saml-provider/Okta", json!({}), true),
        ];
        for (what, principal, condition, open) in cases {
            let st = web(principal, condition.clone());
            assert_eq!(federated_open(&st, principal), *open, "{what}");
            let doc = json!({"Statement": [st]});
            let expected: Vec<String> = if *open {
                vec![principal.to_string()]
            } else {
                vec![]
            };
            assert_eq!(outsiders(&doc, &inside), expected, "{what}");
        }
    }

    #[test]
    fn outsiders_are_the_untrusted_aws_principals() {
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root", "arn:aws:iam::999988887777:root", "AROA5EXAMPLEOLDROLE1"]}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}}
        ]});
        assert_eq!(outsiders(&doc, &inside), ["arn:aws:iam::999988887777:root"]);
        let open = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": ["sts:AssumeRole", "sts:TagSession"]}});
        assert_eq!(outsiders(&open, &inside), ["*"]);
        let not_principal = json!({"Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}});
        assert_eq!(outsiders(&not_principal, &inside), ["*"]);
        // An outside principal whose statement is restricted to the organization matches
        // nobody: it stays.
        let outside_in_org = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}}});
        assert!(outsiders(&outside_in_org, &inside).is_empty());
    }

    #[test]
    fn accounts_and_untrusted_values_are_read_from_principals_and_conditions() {
        let doc = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "sts:AssumeRole"},
            statement(json!({"StringEquals": {"aws:PrincipalAccount": ["666666666666", OWN]}})),
            statement(json!({"StringEquals": {"aws:PrincipalOrgID": "o-attacker0000"}})),
            statement(json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::777777777777:role/*"}, "StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f67890"}}))
        ]});
        assert_eq!(
            named_accounts(&doc),
            ["444455556666", "666666666666", OWN, "777777777777"]
        );
        assert_eq!(
            untrusted_values(&doc, &inside),
            ["666666666666", "o-attacker0000", "777777777777"]
        );
        // The function's judge refuses exactly those, the principals' accounts (never a
        // federated provider's) and every endpoint: it finds the same outsiders.
        let vendorless = |u: Unit<'_>| inside(u) && u != Unit::Account("444455556666");
        let principals = outsiders(&doc, &vendorless);
        let untrusted = untrusted_values(&doc, &vendorless);
        let mut with_provider = principals.clone();
        with_provider.push(format!(
            "arn:aws:iam::{OWN}:oidc-provider/token.actions.githubusercontent.com"
        ));
        let later = judged_as_decided(&with_provider, &untrusted);
        assert_eq!(outsiders(&doc, &later), principals);
        assert!(later(Unit::Account(OWN)) && later(Unit::Organization(ORG)));
        assert!(!later(Unit::Account("666666666666")) && !later(Unit::Account("444455556666")));
        assert!(!later(Unit::Endpoint("vpce-0a1b2c3d4e5f67890")));
    }

    #[test]
    fn without_removes_exactly_those_principals() {
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root", "arn:aws:iam::999988887777:root"]}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole"}
        ]});
        let out = without(
            &doc,
            &[
                "arn:aws:iam::999988887777:root".into(),
                "999988887777".into(),
            ],
            &inside,
        );
        assert_eq!(
            out["Statement"],
            json!([
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}
            ])
        );
        // A Deny naming the outsider, and an Allow restricted to the account, stay as they
        // are; one restricted to an outside account, or by Null, does not.
        let mixed = json!({"Statement": [
            {"Effect": "Deny", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}},
            {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"aws:PrincipalAccount": "666666666666"}}},
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:Assume*",
             "Condition": {"Null": {"aws:SourceVpc": "true"}}}
        ]});
        assert_eq!(outsiders(&mixed, &inside), ["999988887777", "*"]);
        assert_eq!(
            without(&mixed, &["999988887777".into(), "*".into()], &inside)["Statement"],
            json!([mixed["Statement"][0], mixed["Statement"][1]])
        );
        let only = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]});
        assert_eq!(
            without(&only, &["*".into()], &inside)["Statement"][0]["Effect"],
            "Deny"
        );
    }

    #[test]
    fn an_open_federated_principal_is_taken_out_where_it_is_open() {
        let gh = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
        let narrow = web(
            gh,
            json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main"}}),
        );
        let doc = json!({"Statement": [
            narrow,
            {"Effect": "Allow", "Principal": {"Federated": gh, "Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRoleWithWebIdentity"},
            web(gh, json!({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}))
        ]});
        assert_eq!(outsiders(&doc, &inside), [gh]);
        assert_eq!(
            without(&doc, &[gh.into()], &inside)["Statement"],
            json!([doc["Statement"][0],
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRoleWithWebIdentity"}])
        );
    }

    #[test]
    fn documents_in_every_form() {
        let s = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert!(document(&json!(s)).is_some());
        assert!(document(&json!("%7B%22Version%22%3A%222012-10-17%22%7D")).is_some());
        assert!(document(&json!("not json")).is_none());
        assert_eq!(
            principal_account("arn:aws:sts::999988887777:assumed-role/r/s"),
            Some("999988887777")
        );
        assert_eq!(principal_account("*"), None);
        for odd in [
            "",
            "arn",
            "arn:aws",
            "a:b:c:d",
            "AROA5EXAMPLEOLDROLE1",
            "arn:aws:iam::12345:root",
        ] {
            assert_eq!(principal_account(odd), None, "{odd}");
        }
    }
}
