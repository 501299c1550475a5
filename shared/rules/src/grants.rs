//! Resource policies (a bucket's, a queue's, a topic's, a secret's, a key's...): who an Allow
//! statement lets in from outside the trusted set, and the same policy without exactly them.
//! The same judgement as role trust (trust.rs), over every Allow statement rather than those
//! granting an assume call: a condition restricts a statement only by a positive operator on
//! a key that says who calls, with every value inside; Deny statements, service principals
//! and restricted statements stay as they are.
//!
//! One difference: a statement restricted only to a VPC endpoint or a VPC (`aws:SourceVpce`,
//! `aws:SourceVpc`) is the common way to keep a bucket private, but the endpoint's owner is
//! not in its id, so such a grant is told ([`Exposure::endpoint_only`]), never taken back.
//!
//! The guard decides with [`exposure`]; the function, acting later on the policy as it is
//! then, judges it with [`judge`] and writes [`without_principals`] back (or deletes the
//! policy when nothing is left).

use serde_json::Value;

use crate::facts::{Facts, Known};
use crate::policy::Policy;
use crate::trust::{self, Inside, Unit};

/// What a resource policy opens outside the trusted set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// The principals to take out, as the policy writes them: `*` (everyone: `"*"`,
    /// `{"AWS": "*"}`, an Allow with `NotPrincipal`) and AWS principals of outside accounts,
    /// in Allow statements no condition restricts to the trusted set.
    pub open: Vec<String>,
    /// Principals let in from outside only under a VPC endpoint or VPC condition: told.
    pub endpoint_only: Vec<String>,
    /// The accounts and organizations the policy's conditions name that were judged outside:
    /// the function judges the policy it finds the same way ([`judge`]).
    pub untrusted_values: Vec<String>,
    /// S3 canonical user ids an unrestricted Allow statement lets in: an id does not say
    /// which account it is (a CloudFront origin access identity's, or another account's),
    /// so they are told, never taken out.
    pub canonical_users: Vec<String>,
}

impl Exposure {
    pub fn is_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// The principals taken out, for people: `everyone (*)`, `account 210987654321`, ...
    pub fn describe(principals: &[String]) -> String {
        principals
            .iter()
            .map(|p| {
                if p == "*" {
                    "everyone (*)".to_string()
                } else {
                    match trust::principal_account(p) {
                        Some(a) if a == p => format!("account {a}"),
                        _ => p.clone(),
                    }
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether a unit of a condition is inside the trusted set, as a guard decides: an account
/// not among `outside` (those `guards::outside_accounts` refused), the policy's organization;
/// an endpoint only when `endpoints` (its owner is not in its id).
pub fn inside_trusted_set(
    u: Unit<'_>,
    outside: &[String],
    policy: &Policy,
    endpoints: bool,
) -> bool {
    match u {
        Unit::Account(a) => !outside.iter().any(|o| o == a),
        Unit::Organization(o) => !policy.organization_id.is_empty() && o == policy.organization_id,
        Unit::Endpoint(_) => endpoints,
    }
}

/// What a resource policy in `account` opens outside the trusted set (the accounts it names
/// are looked up in the organization when the policy has one).
pub(crate) fn exposure(
    doc: &Value,
    account: Option<&str>,
    policy: &Policy,
    facts: &Facts,
) -> Known<Exposure> {
    let named = trust::named_accounts(doc);
    let outside = match crate::guards::outside_accounts(account, &named, policy, facts) {
        Known::Need(r) => return Known::Need(r),
        Known::Yes(o) => o,
    };
    let strict = |u: Unit<'_>| inside_trusted_set(u, &outside, policy, false);
    let tolerant = |u: Unit<'_>| inside_trusted_set(u, &outside, policy, true);
    let open = open_principals(doc, &tolerant);
    let endpoint_only = open_principals(doc, &strict)
        .into_iter()
        .filter(|p| !open.contains(p))
        .collect();
    let mut canonical_users: Vec<String> = Vec::new();
    for st in crate::lenient::items(doc.get("Statement").unwrap_or(&Value::Null)) {
        if !trust::is_allow(st) || trust::restricted_to(st, &strict) {
            continue;
        }
        let principal = st.get("Principal").unwrap_or(&Value::Null);
        for id in trust::strings(principal.get("CanonicalUser").unwrap_or(&Value::Null)) {
            if !canonical_users.contains(&id) {
                canonical_users.push(id);
            }
        }
    }
    Known::Yes(Exposure {
        open,
        endpoint_only,
        untrusted_values: trust::untrusted_values(doc, &strict),
        canonical_users,
    })
}

/// The principals Allow statements let in from outside (`inside` judges accounts and
/// conditions), as the policy writes them. Service principals are not counted.
pub fn open_principals(doc: &Value, inside: Inside) -> Vec<String> {
    trust::outsiders_of(doc, inside, trust::is_allow)
}

/// The judge the function uses when it acts on a decision: outside are the accounts of the
/// principals the decision named and the condition values it found outside; VPC endpoints
/// count as inside (the decision told about them); any other value is inside (a later
/// change has its own event).
pub fn judge(principals: &[String], untrusted: &[String]) -> impl Fn(Unit<'_>) -> bool {
    let strict = trust::judged_as_decided(principals, untrusted);
    move |u| matches!(u, Unit::Endpoint(_)) || strict(u)
}

/// The policy without `principals` in the unrestricted Allow statements that let them in;
/// statements left with no principal are dropped, and so is everything else unchanged.
/// None when no statement is left (delete the policy, where the service allows it).
pub fn without_principals(doc: &Value, principals: &[String], inside: Inside) -> Option<Value> {
    let statements = trust::kept_statements(doc, principals, inside, trust::is_allow);
    (!statements.is_empty()).then(|| trust::with_statements(doc, statements))
}

/// Whether some Allow statement still lets a principal other than everyone call `action`
/// (`kms:PutKeyPolicy`: someone can still administer a key): an AWS principal that is not
/// `*`, an action list naming it (exactly, by a trailing `*` or `*`), or a `NotAction` not
/// naming it. What [`without_principals`] left is inside the trusted set, so such a principal
/// is one of the account's own.
pub fn keeps_administrator(doc: &Value, action: &str) -> bool {
    let action = action.to_ascii_lowercase();
    let covers = |pattern: &str| {
        let p = pattern.to_ascii_lowercase();
        p == action
            || p.strip_suffix('*')
                .is_some_and(|prefix| action.starts_with(prefix))
    };
    let strings = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => vec![],
        }
    };
    crate::lenient::items(doc.get("Statement").unwrap_or(&Value::Null))
        .into_iter()
        .filter(|st| trust::is_allow(st) && st.get("NotPrincipal").is_none())
        .any(|st| {
            let principals = match st.get("Principal") {
                Some(Value::Object(p)) => strings(p.get("AWS").unwrap_or(&Value::Null)),
                Some(v) => strings(v),
                None => vec![],
            };
            let named = principals.iter().any(|p| p != "*");
            let allowed = match (st.get("Action"), st.get("NotAction")) {
                (Some(a), _) => strings(a).iter().any(|p| covers(p)),
                (None, Some(n)) => !strings(n).iter().any(|p| covers(p)),
                (None, None) => false,
            };
            named && allowed
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWN: &str = "123456789012";
    const OUTSIDER: &str = "210987654321";

    fn policy() -> Policy {
        Policy::default()
    }

    fn decide(doc: &Value) -> Exposure {
        match exposure(doc, Some(OWN), &policy(), &Facts::default()) {
            Known::Yes(e) => e,
            Known::Need(r) => panic!("needs {r:?}"),
        }
    }

    fn statement(principal: Value) -> Value {
        json!({"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    }

    #[test]
    fn canonical_users_are_told_apart_and_never_open() {
        let doc = json!({"Statement": [
            statement(json!({"CanonicalUser": "5f1c0d9e7b3a2c4d6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f"})),
            // Restricted to the own account: not told.
            {"Effect": "Allow", "Principal": {"CanonicalUser": "aa11"}, "Action": "s3:GetObject",
             "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": OWN}}},
            {"Effect": "Deny", "Principal": {"CanonicalUser": "bb22"}, "Action": "s3:*", "Resource": "*"},
        ]});
        let e = decide(&doc);
        assert!(e.open.is_empty(), "{e:?}");
        assert_eq!(
            e.canonical_users,
            vec!["5f1c0d9e7b3a2c4d6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f".to_string()]
        );
    }

    #[test]
    fn everyone_and_outside_accounts_are_open_service_principals_and_own_account_are_not() {
        let doc = json!({"Version": "2012-10-17", "Statement": [
            statement(json!("*")),
            statement(json!({"AWS": [format!("arn:aws:iam::{OUTSIDER}:root"), format!("arn:aws:iam::{OWN}:role/app")]})),
            statement(json!({"Service": "logging.s3.amazonaws.com"})),
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
        ]});
        let e = decide(&doc);
        assert_eq!(
            e.open,
            vec!["*".to_string(), format!("arn:aws:iam::{OUTSIDER}:root")]
        );
        let inside = judge(&e.open, &e.untrusted_values);
        let after = without_principals(&doc, &e.open, &inside).unwrap();
        assert_eq!(
            after["Statement"],
            json!([
                statement(json!({"AWS": format!("arn:aws:iam::{OWN}:role/app")})),
                statement(json!({"Service": "logging.s3.amazonaws.com"})),
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
            ])
        );
        // Done again, nothing is left to take out.
        assert!(open_principals(&after, &inside).is_empty());
    }

    #[test]
    fn a_condition_restricts_by_its_operator_and_values_not_its_key_name() {
        let cond = |op: &str, key: &str, v: &str| {
            let mut s = statement(json!("*"));
            s["Condition"] = json!({op: {key: v}});
            json!({"Statement": [s]})
        };
        assert!(!decide(&cond("StringEquals", "aws:SourceAccount", OWN)).is_open());
        assert!(decide(&cond("StringEquals", "aws:SourceAccount", OUTSIDER)).is_open());
        assert!(decide(&cond("StringNotEquals", "aws:SourceAccount", OWN)).is_open());
        assert!(decide(&cond("StringEqualsIfExists", "aws:SourceAccount", OWN)).is_open());
        assert!(decide(&cond(
            "StringLike",
            "aws:PrincipalArn",
            "arn:aws:iam::*:role/x"
        ))
        .is_open());
        assert!(decide(&cond("IpAddress", "aws:SourceIp", "10.0.0.0/8")).is_open());
        let vpce = decide(&cond(
            "StringEquals",
            "aws:SourceVpce",
            "vpce-0123456789abcdef0",
        ));
        assert_eq!(
            (vpce.open.len(), vpce.endpoint_only),
            (0, vec!["*".to_string()])
        );
    }

    #[test]
    fn a_key_policy_statement_for_the_accounts_own_callers_through_a_service_stays() {
        // AWS's default statement for EBS and other services: `*`, but only callers of the
        // key's own account, only through the service.
        let ebs = json!({"Statement": [{
            "Sid": "Allow access through EBS for all principals in the account",
            "Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:CreateGrant"], "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": OWN, "kms:ViaService": "ec2.us-east-1.amazonaws.com"}}
        }]});
        assert!(!decide(&ebs).is_open());
        let mut outside = ebs.clone();
        outside["Statement"][0]["Condition"]["StringEquals"]["kms:CallerAccount"] = json!(OUTSIDER);
        assert!(decide(&outside).is_open());
    }

    #[test]
    fn not_principal_is_everyone_and_a_policy_left_empty_is_none() {
        let doc = json!({"Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": format!("arn:aws:iam::{OWN}:root")}, "Action": "sqs:*"}});
        let e = decide(&doc);
        assert_eq!(e.open, vec!["*".to_string()]);
        assert_eq!(
            without_principals(&doc, &e.open, &judge(&e.open, &[])),
            None
        );
    }

    #[test]
    fn an_administrator_is_a_named_principal_allowed_the_action() {
        let admin = |principal: Value, action: Value| json!({"Statement": [{"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"}]});
        let root = json!({"AWS": format!("arn:aws:iam::{OWN}:root")});
        assert!(keeps_administrator(
            &admin(root.clone(), json!("kms:*")),
            "kms:PutKeyPolicy"
        ));
        assert!(keeps_administrator(
            &admin(root.clone(), json!(["kms:Put*"])),
            "kms:PutKeyPolicy"
        ));
        assert!(!keeps_administrator(
            &admin(root.clone(), json!("kms:Decrypt")),
            "kms:PutKeyPolicy"
        ));
        assert!(!keeps_administrator(
            &admin(json!("*"), json!("kms:*")),
            "kms:PutKeyPolicy"
        ));
        assert!(!keeps_administrator(
            &json!({"Statement": []}),
            "kms:PutKeyPolicy"
        ));
    }

    #[test]
    fn a_value_the_decision_did_not_see_is_inside_when_acting() {
        // Written after the decision: its own event decides on it.
        let doc =
            json!({"Statement": [statement(json!({"AWS": "arn:aws:iam::111122223333:root"}))]});
        let inside = judge(&[format!("arn:aws:iam::{OUTSIDER}:root")], &[]);
        assert!(open_principals(&doc, &inside).is_empty());
        assert_eq!(
            without_principals(&doc, &["*".into()], &inside),
            Some(json!({"Version": "2012-10-17", "Statement": doc["Statement"]}))
        );
    }
}
