//! EventBridge event patterns, matched the way EventBridge matches them, so the code can say
//! which events a rule delivers (and `trailguard patterns` can print what template.yaml must
//! contain). Supported: exact values, `prefix`, `suffix`, `equals-ignore-case`, `exists`,
//! `anything-but` (values, `prefix`, `suffix`, `equals-ignore-case`, `wildcard`), `numeric`,
//! `cidr`, `wildcard` and `$or`. Arrays in the event match when any element matches, and
//! fields inside arrays of objects are reached through the array, as EventBridge does.
//!
//! scripts/check_template.py checks this matcher against LocalStack's port of AWS's
//! event-ruler on every sample.

use ipnet::IpNet;
use serde_json::{Map, Value};

/// A parsed pattern: alternatives (from `$or`), each a list of fields that must all match.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    alternatives: Vec<Vec<Field>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Field {
    path: Vec<String>,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    /// `"{{Name}}"`: one of the values of the deploy-time parameter `Name`.
    Parameter(String),
    Equals(Value),
    Exists(bool),
    Prefix(String, bool),
    Suffix(String, bool),
    EqualsIgnoreCase(String),
    Wildcard(String),
    Numeric(Vec<(String, f64)>),
    Cidr(IpNet),
    AnythingBut(Vec<Value>),
    AnythingButPrefix(Vec<String>),
    AnythingButSuffix(Vec<String>),
    AnythingButIgnoreCase(Vec<String>),
    AnythingButWildcard(Vec<String>),
}

impl Pattern {
    /// Parse a pattern. Errors name the field that is wrong.
    pub fn parse(v: &Value) -> Result<Pattern, String> {
        let Value::Object(o) = v else {
            return Err("a pattern is a JSON object".into());
        };
        let mut alternatives = vec![Vec::new()];
        flatten(o, &mut Vec::new(), &mut alternatives)?;
        Ok(Pattern { alternatives })
    }

    pub fn matches(&self, event: &Value) -> bool {
        self.matches_with(event, &|_| None)
    }

    /// Match with the values of deploy-time parameters (`"{{Name}}"` in the pattern); a
    /// parameter without values matches nothing.
    pub fn matches_with(
        &self,
        event: &Value,
        params: &dyn Fn(&str) -> Option<Vec<String>>,
    ) -> bool {
        self.alternatives
            .iter()
            .any(|fields| fields.iter().all(|f| f.matches(event, params)))
    }

    /// What an event's JSON text must contain for the pattern to match it, per alternative
    /// (the pattern matches only if, for some alternative, each of its lists has one needle
    /// in the text), for the fields under `under` that `keep` accepts. A field gives a list
    /// only when each of its conditions is an exact string (the needle `"value"`) or a
    /// case-sensitive prefix (`"prefix`), each free of `"`, `\` and control characters: such
    /// a string is written as it is unless the text uses a `\u` or `\/` escape, so the
    /// needles only hold for a text without either (the caller checks).
    pub fn needles(&self, under: &str, keep: &dyn Fn(&str) -> bool) -> Vec<Vec<Vec<String>>> {
        let plain = |s: &str| !s.is_empty() && !s.chars().any(|c| c == '"' || c == '\\' || c < ' ');
        self.alternatives
            .iter()
            .map(|fields| {
                fields
                    .iter()
                    .filter(|f| f.path.first().is_some_and(|p| p == under) && f.path.len() > 1)
                    .filter(|f| keep(&f.path.join(".")))
                    .filter_map(|f| {
                        f.conditions
                            .iter()
                            .map(|c| match c {
                                Condition::Equals(Value::String(s)) if plain(s) => {
                                    Some(format!("\"{s}\""))
                                }
                                Condition::Prefix(p, false) if plain(p) => Some(format!("\"{p}")),
                                _ => None,
                            })
                            .collect::<Option<Vec<String>>>()
                            .filter(|n| !n.is_empty())
                    })
                    .collect()
            })
            .collect()
    }
}

fn flatten(
    o: &Map<String, Value>,
    path: &mut Vec<String>,
    alternatives: &mut Vec<Vec<Field>>,
) -> Result<(), String> {
    for (key, value) in o {
        if key == "$or" {
            let Value::Array(branches) = value else {
                return Err(format!("{}: $or takes a list of patterns", dotted(path)));
            };
            let mut next = Vec::new();
            for b in branches {
                let Value::Object(bo) = b else {
                    return Err(format!("{}: $or branches are objects", dotted(path)));
                };
                for alt in alternatives.iter() {
                    let mut extended = vec![alt.clone()];
                    flatten(bo, path, &mut extended)?;
                    next.extend(extended);
                }
            }
            if !next.is_empty() {
                *alternatives = next;
            }
            continue;
        }
        path.push(key.clone());
        match value {
            Value::Object(inner) => flatten(inner, path, alternatives)?,
            Value::Array(list) => {
                let conditions = list
                    .iter()
                    .map(|c| condition(c).map_err(|e| format!("{}: {e}", dotted(path))))
                    .collect::<Result<Vec<_>, _>>()?;
                for alt in alternatives.iter_mut() {
                    alt.push(Field {
                        path: path.clone(),
                        conditions: conditions.clone(),
                    });
                }
            }
            other => {
                return Err(format!(
                    "{}: match values must be in a list, found {other}",
                    dotted(path)
                ))
            }
        }
        path.pop();
    }
    Ok(())
}

fn dotted(path: &[String]) -> String {
    if path.is_empty() {
        "(top)".into()
    } else {
        path.join(".")
    }
}

fn strings(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .ok_or("expected strings".to_string())
            })
            .collect(),
        _ => Err(format!("expected a string or a list of strings, found {v}")),
    }
}

fn condition(c: &Value) -> Result<Condition, String> {
    if let Some(name) = c
        .as_str()
        .and_then(|s| s.strip_prefix("{{"))
        .and_then(|s| s.strip_suffix("}}"))
    {
        return Ok(Condition::Parameter(name.to_string()));
    }
    let Value::Object(o) = c else {
        return Ok(Condition::Equals(c.clone()));
    };
    let Some((op, arg)) = o.iter().next().filter(|_| o.len() == 1) else {
        return Err(format!("a matcher object has exactly one key: {c}"));
    };
    let ignore_case = |v: &Value| {
        v.get("equals-ignore-case")
            .and_then(Value::as_str)
            .map(String::from)
    };
    Ok(match op.as_str() {
        "exists" => Condition::Exists(arg.as_bool().ok_or("exists takes true or false")?),
        "prefix" => match arg {
            Value::String(s) => Condition::Prefix(s.clone(), false),
            o => Condition::Prefix(ignore_case(o).ok_or("prefix takes a string")?, true),
        },
        "suffix" => match arg {
            Value::String(s) => Condition::Suffix(s.clone(), false),
            o => Condition::Suffix(ignore_case(o).ok_or("suffix takes a string")?, true),
        },
        "equals-ignore-case" => Condition::EqualsIgnoreCase(
            arg.as_str()
                .ok_or("equals-ignore-case takes a string")?
                .into(),
        ),
        "wildcard" => Condition::Wildcard(arg.as_str().ok_or("wildcard takes a string")?.into()),
        "cidr" => Condition::Cidr(
            arg.as_str()
                .and_then(|s| s.parse::<IpNet>().ok())
                .ok_or("cidr takes a CIDR block")?,
        ),
        "numeric" => {
            let list = arg.as_array().ok_or("numeric takes a list")?;
            let mut out = Vec::new();
            for pair in list.chunks(2) {
                let (Some(op), Some(n)) = (pair[0].as_str(), pair.get(1).and_then(Value::as_f64))
                else {
                    return Err("numeric takes operator and number pairs".into());
                };
                if !["=", "<", ">", "<=", ">="].contains(&op) {
                    return Err(format!("unknown numeric operator {op}"));
                }
                out.push((op.to_string(), n));
            }
            Condition::Numeric(out)
        }
        "anything-but" => match arg {
            Value::Array(a) => Condition::AnythingBut(a.clone()),
            Value::Object(inner) => {
                let Some((k, v)) = inner.iter().next().filter(|_| inner.len() == 1) else {
                    return Err("anything-but takes one matcher".into());
                };
                match k.as_str() {
                    "prefix" => Condition::AnythingButPrefix(strings(v)?),
                    "suffix" => Condition::AnythingButSuffix(strings(v)?),
                    "equals-ignore-case" => Condition::AnythingButIgnoreCase(strings(v)?),
                    "wildcard" => Condition::AnythingButWildcard(strings(v)?),
                    other => return Err(format!("anything-but does not take {other}")),
                }
            }
            scalar => Condition::AnythingBut(vec![scalar.clone()]),
        },
        other => return Err(format!("unknown matcher {other}")),
    })
}

type Params<'a> = &'a dyn Fn(&str) -> Option<Vec<String>>;

impl Field {
    fn matches(&self, event: &Value, params: Params) -> bool {
        let mut values = Vec::new();
        values_at(event, &self.path, &mut values);
        self.conditions.iter().any(|c| match c {
            Condition::Parameter(name) => {
                let allowed = params(name).unwrap_or_default();
                values
                    .iter()
                    .any(|v| v.as_str().is_some_and(|s| allowed.iter().any(|a| a == s)))
            }
            c => c.matches(&values),
        })
    }
}

/// Every scalar at `path`, reaching through arrays at any level. Objects at the end of the
/// path and empty arrays count as absent, as in EventBridge.
fn values_at<'a>(v: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| values_at(i, path, out)),
        Value::Object(m) => {
            if let Some((first, rest)) = path.split_first() {
                if let Some(child) = m.get(first) {
                    values_at(child, rest, out);
                }
            }
        }
        scalar if path.is_empty() => out.push(scalar),
        _ => {}
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// AWS's wildcard: `*` matches any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    crate::glob::matches_star_only(pattern, text)
}

impl Condition {
    fn matches(&self, values: &[&Value]) -> bool {
        match self {
            Condition::Exists(want) => *want != values.is_empty(),
            _ => values.iter().any(|v| self.matches_one(v)),
        }
    }

    fn matches_one(&self, v: &Value) -> bool {
        let s = v.as_str();
        match self {
            Condition::Equals(x) => json_eq(v, x),
            Condition::Exists(_) | Condition::Parameter(_) => true,
            Condition::Prefix(p, false) => s.is_some_and(|s| s.starts_with(p.as_str())),
            Condition::Prefix(p, true) => {
                s.is_some_and(|s| s.to_lowercase().starts_with(&p.to_lowercase()))
            }
            Condition::Suffix(p, false) => s.is_some_and(|s| s.ends_with(p.as_str())),
            Condition::Suffix(p, true) => {
                s.is_some_and(|s| s.to_lowercase().ends_with(&p.to_lowercase()))
            }
            Condition::EqualsIgnoreCase(p) => {
                s.is_some_and(|s| s.to_lowercase() == p.to_lowercase())
            }
            Condition::Wildcard(p) => s.is_some_and(|s| wildcard(p, s)),
            Condition::Cidr(net) => s
                .and_then(|s| s.parse::<std::net::IpAddr>().ok())
                .is_some_and(|ip| net.contains(&ip)),
            Condition::Numeric(ops) => v.as_f64().is_some_and(|n| {
                ops.iter().all(|(op, x)| match op.as_str() {
                    "=" => n == *x,
                    "<" => n < *x,
                    ">" => n > *x,
                    "<=" => n <= *x,
                    _ => n >= *x,
                })
            }),
            Condition::AnythingBut(list) => !list.iter().any(|x| json_eq(v, x)),
            Condition::AnythingButPrefix(list) => {
                s.is_none_or(|s| !list.iter().any(|p| s.starts_with(p.as_str())))
            }
            Condition::AnythingButSuffix(list) => {
                s.is_none_or(|s| !list.iter().any(|p| s.ends_with(p.as_str())))
            }
            Condition::AnythingButIgnoreCase(list) => {
                s.is_none_or(|s| !list.iter().any(|p| p.to_lowercase() == s.to_lowercase()))
            }
            Condition::AnythingButWildcard(list) => {
                s.is_none_or(|s| !list.iter().any(|p| wildcard(p, s)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(p: Value, e: Value) -> bool {
        Pattern::parse(&p).unwrap().matches(&e)
    }

    #[test]
    fn needles_come_only_from_exact_strings_and_prefixes() {
        let p = Pattern::parse(&json!({"source": ["aws.ec2"], "detail": {
            "eventName": ["CreateTags"],
            "requestParameters": {
                "tagSet": {"items": {"key": [{"prefix": "trailguard:"}, "owner"]}},
                "enable": [false, "false"],
                "name": [{"prefix": {"equals-ignore-case": "x"}}],
                "id": ["{{Ids}}"],
                "quote": ["a\"b"],
                "path": ["a/b"]
            }
        }}))
        .unwrap();
        let all = p.needles("detail", &|_| true);
        assert_eq!(
            all,
            vec![vec![
                vec!["\"CreateTags\"".to_string()],
                vec!["\"a/b\"".to_string()],
                vec!["\"trailguard:".to_string(), "\"owner\"".to_string()],
            ]]
        );
        let kept = p.needles("detail", &|path| path != "detail.eventName");
        assert_eq!(kept[0].len(), 2);
        // Each `$or` branch is an alternative with its own lists.
        let or = Pattern::parse(&json!({"detail": {"$or": [
            {"a": ["x"]}, {"b": [{"exists": true}]}
        ]}}))
        .unwrap();
        assert_eq!(
            or.needles("detail", &|_| true),
            vec![vec![vec!["\"x\"".to_string()]], vec![]]
        );
    }

    #[test]
    fn values_prefixes_and_exists() {
        let p = json!({"source": ["aws.ec2"], "detail": {"eventName": ["A", "B"], "errorCode": [{"exists": false}]}});
        assert!(m(
            p.clone(),
            json!({"source": "aws.ec2", "detail": {"eventName": "B"}})
        ));
        assert!(!m(
            p.clone(),
            json!({"source": "aws.ec2", "detail": {"eventName": "B", "errorCode": "X"}})
        ));
        assert!(!m(
            p.clone(),
            json!({"source": "aws.iam", "detail": {"eventName": "B"}})
        ));
        // An empty list or object is absent, as in EventBridge.
        assert!(m(
            p.clone(),
            json!({"source": "aws.ec2", "detail": {"eventName": "A", "errorCode": []}})
        ));
        assert!(m(
            p,
            json!({"source": "aws.ec2", "detail": {"eventName": "A", "errorCode": {}}})
        ));
        assert!(m(
            json!({"k": [{"prefix": "AKIA"}]}),
            json!({"k": "AKIA123"})
        ));
        assert!(!m(
            json!({"k": [{"prefix": "AKIA"}]}),
            json!({"k": "ASIA123"})
        ));
    }

    #[test]
    fn arrays_of_objects_are_reached_through() {
        let p = json!({"detail": {"findings": {"ProductName": ["GuardDuty"], "Resources": {"Type": ["AwsIamAccessKey"]}}}});
        let e = json!({"detail": {"findings": [{"ProductName": "GuardDuty", "Resources": [{"Type": "AwsEc2Instance"}, {"Type": "AwsIamAccessKey"}]}]}});
        assert!(m(p.clone(), e));
        assert!(!m(
            p,
            json!({"detail": {"findings": [{"ProductName": "Inspector"}]}})
        ));
    }

    #[test]
    fn anything_but_and_or() {
        let p = json!({"$or": [{"u": {"type": [{"anything-but": "AssumedRole"}]}}, {"u": {"arn": [{"anything-but": {"prefix": "arn:aws:sts::1:assumed-role/tg/"}}]}}]});
        assert!(m(p.clone(), json!({"u": {"type": "IAMUser"}})));
        assert!(m(
            p.clone(),
            json!({"u": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/dev/x"}})
        ));
        assert!(!m(
            p,
            json!({"u": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/tg/x"}})
        ));
        // anything-but needs the field.
        assert!(!m(json!({"k": [{"anything-but": ["x"]}]}), json!({})));
    }

    #[test]
    fn numbers_cidr_wildcards() {
        assert!(m(json!({"s": [{"numeric": [">=", 7]}]}), json!({"s": 8.0})));
        assert!(!m(
            json!({"s": [{"numeric": [">=", 7]}]}),
            json!({"s": "8"})
        ));
        assert!(m(
            json!({"ip": [{"cidr": "10.0.0.0/8"}]}),
            json!({"ip": "10.1.2.3"})
        ));
        assert!(m(
            json!({"a": [{"wildcard": "arn:aws:iam::*:role/x"}]}),
            json!({"a": "arn:aws:iam::1:role/x"})
        ));
    }

    #[test]
    fn parameters_take_their_values_at_match_time() {
        let p = Pattern::parse(&json!({"k": ["{{Keys}}"]})).unwrap();
        let keys = |n: &str| (n == "Keys").then(|| vec!["AKIA1".to_string()]);
        assert!(p.matches_with(&json!({"k": "AKIA1"}), &keys));
        assert!(!p.matches_with(&json!({"k": "AKIA2"}), &keys));
        assert!(!p.matches(&json!({"k": "AKIA1"})));
    }

    #[test]
    fn bad_patterns_name_the_field() {
        let e = Pattern::parse(&json!({"detail": {"eventName": "A"}})).unwrap_err();
        assert!(e.contains("detail.eventName"), "{e}");
        let e = Pattern::parse(&json!({"detail": {"x": [{"bogus": 1}]}})).unwrap_err();
        assert!(e.contains("detail.x") && e.contains("bogus"), "{e}");
    }
}
