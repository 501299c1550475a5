//! IAM role trust policies: who may assume a role, and the same policy without the principals
//! outside the trusted set. Pure; the guard decides with it, and the function applies it to
//! the role's trust policy as it is when it acts (it may have changed since the event).

use serde_json::{json, Map, Value};

use crate::lenient::items;

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
            if let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
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
    if crate::policy::is_account_id(p) {
        return Some(p);
    }
    match p.splitn(6, ':').collect::<Vec<&str>>()[..] {
        ["arn", _, _, _, account, _] if crate::policy::is_account_id(account) => Some(account),
        _ => None,
    }
}

/// Conditions that tie a grant to known accounts, resources or networks: a statement carrying
/// one of these is not open to the world, whoever its principal is.
const RESTRICTING_KEYS: [&str; 7] = [
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourcevpce",
    "aws:sourcevpc",
];

/// Whether a statement's condition restricts it to known accounts or resources.
pub fn restricted(statement: &Value) -> bool {
    statement
        .get("Condition")
        .and_then(Value::as_object)
        .is_some_and(|ops| {
            ops.values().any(|keys| {
                keys.as_object().is_some_and(|k| {
                    k.keys()
                        .any(|key| RESTRICTING_KEYS.contains(&key.to_ascii_lowercase().as_str()))
                })
            })
        })
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        other => items(other)
            .into_iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
    }
}

fn grants_assume_role(statement: &Value) -> bool {
    statement.get("Effect").and_then(Value::as_str) == Some("Allow")
        && strings(statement.get("Action").unwrap_or(&Value::Null))
            .iter()
            .any(|a| {
                let a = a.to_ascii_lowercase();
                a == "*" || a == "sts:*" || a.starts_with("sts:assumerole")
            })
}

/// The AWS principals (as the policy writes them) that may assume the role and are outside
/// the trusted set: `*`, or a principal of an account `trusted` refuses. Service and
/// federated principals, and statements restricted by condition, are not counted.
pub fn outsiders(doc: &Value, trusted: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for st in items(doc.get("Statement").unwrap_or(&Value::Null)) {
        if !grants_assume_role(st) || restricted(st) {
            continue;
        }
        let aws: Vec<String> = match st.get("Principal") {
            Some(Value::String(s)) if s == "*" => vec!["*".into()],
            Some(p) => strings(p.get("AWS").unwrap_or(&Value::Null)),
            None => vec![],
        };
        for p in aws {
            let outside = match (p.as_str(), principal_account(&p)) {
                ("*", _) => true,
                (_, Some(acct)) => !trusted(acct),
                _ => false,
            };
            if outside && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// The policy without `principals` in the statements that let them in (unconditioned Allows
/// of sts:AssumeRole, the ones [`outsiders`] counts); Deny statements and conditioned ones
/// keep them. Statements left with no principal are dropped, and a policy left with no
/// statement trusts nobody (an explicit deny), because IAM refuses an empty trust policy.
pub fn without(doc: &Value, principals: &[String]) -> Value {
    let mut statements = Vec::new();
    for st in items(doc.get("Statement").unwrap_or(&Value::Null)) {
        if !grants_assume_role(st) || restricted(st) {
            statements.push(st.clone());
            continue;
        }
        let mut st = st.clone();
        let everyone = st.get("Principal").and_then(Value::as_str) == Some("*");
        if everyone && principals.iter().any(|p| p == "*") {
            continue;
        }
        if let Some(Value::Object(p)) = st.get_mut("Principal") {
            if let Some(aws) = p.get("AWS").cloned() {
                let kept: Vec<String> = strings(&aws)
                    .into_iter()
                    .filter(|a| !principals.contains(a))
                    .collect();
                match kept.len() {
                    0 => {
                        p.remove("AWS");
                    }
                    1 => {
                        p.insert("AWS".into(), json!(kept[0]));
                    }
                    _ => {
                        p.insert("AWS".into(), json!(kept));
                    }
                }
            }
            if p.is_empty() {
                continue;
            }
        }
        statements.push(st);
    }
    if statements.is_empty() {
        statements.push(json!({
            "Sid": "TrailguardTrustsNobody",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sts:AssumeRole"
        }));
    }
    let mut out = doc.as_object().cloned().unwrap_or_else(Map::new);
    out.insert("Statement".into(), Value::Array(statements));
    out.entry("Version").or_insert(json!("2012-10-17"));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(a: &str) -> bool {
        a == "123456789012"
    }

    #[test]
    fn outsiders_are_the_untrusted_aws_principals() {
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root", "arn:aws:iam::999988887777:root", "AROA5EXAMPLEOLDROLE1"]}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}
        ]});
        assert_eq!(outsiders(&doc, &own), ["arn:aws:iam::999988887777:root"]);
        let open = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": ["sts:AssumeRole", "sts:TagSession"]}});
        assert_eq!(outsiders(&open, &own), ["*"]);
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
        );
        assert_eq!(
            out["Statement"],
            json!([
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}
            ])
        );
        // A Deny naming the outsider, and a conditioned Allow, stay as they are.
        let mixed = json!({"Statement": [
            {"Effect": "Deny", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}},
            {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole"}
        ]});
        assert_eq!(
            without(&mixed, &["999988887777".into()])["Statement"],
            json!([mixed["Statement"][0], mixed["Statement"][1]])
        );
        let only = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]});
        assert_eq!(
            without(&only, &["*".into()])["Statement"][0]["Effect"],
            "Deny"
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
