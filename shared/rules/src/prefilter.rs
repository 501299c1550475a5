//! Which CloudTrail records could reach a guard at all, from a few fields only: a backtest
//! reads millions of records, and most are calls no rule delivers (Describe*, List*, KMS,
//! STS). A record's [`Summary`] (the fields below) is matched against every main-bus rule
//! with its conditions on other fields dropped: a weaker pattern, so a record it refuses is
//! one the real rule refuses too. Only the records it lets through are read whole and decided.

use memchr::memmem::Finder;
use serde_json::{Map, Value};

use crate::guards::{is_read_only_call, Bus, Delivery, Guard};
use crate::pattern::Pattern;
use crate::policy::Policy;

/// The fields of a record the prefilter reads (paths in the EventBridge event).
pub const FIELDS: &[&str] = &[
    "source",
    "detail-type",
    "detail.eventSource",
    "detail.eventName",
    "detail.eventType",
    "detail.errorCode",
    "detail.readOnly",
    "detail.userIdentity.type",
    "detail.userIdentity.invokedBy",
    "detail.userIdentity.accessKeyId",
    "detail.userIdentity.arn",
];

/// The few fields of one record the prefilter reads (absent fields are None).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary<'a> {
    pub event_source: Option<&'a str>,
    pub event_name: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub read_only: Option<bool>,
    pub identity_type: Option<&'a str>,
    pub invoked_by: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
    pub arn: Option<&'a str>,
}

impl Summary<'_> {
    /// The event EventBridge would deliver for the record, with only these fields.
    pub fn to_event(&self) -> Value {
        let mut detail = Map::new();
        let put = |m: &mut Map<String, Value>, k: &str, v: Option<&str>| {
            if let Some(v) = v {
                m.insert(k.into(), Value::String(v.into()));
            }
        };
        put(&mut detail, "eventSource", self.event_source);
        put(&mut detail, "eventName", self.event_name);
        put(&mut detail, "eventType", self.event_type);
        put(&mut detail, "errorCode", self.error_code);
        if let Some(r) = self.read_only {
            detail.insert("readOnly".into(), Value::Bool(r));
        }
        let mut id = Map::new();
        put(&mut id, "type", self.identity_type);
        put(&mut id, "invokedBy", self.invoked_by);
        put(&mut id, "accessKeyId", self.access_key_id);
        put(&mut id, "arn", self.arn);
        detail.insert("userIdentity".into(), Value::Object(id));
        let source = self
            .event_source
            .and_then(|s| s.strip_suffix(".amazonaws.com"))
            .map(|s| format!("aws.{s}"));
        let detail_type = if self.event_type == Some("AwsConsoleSignIn") {
            crate::event::DETAIL_TYPE_CONSOLE_SIGN_IN
        } else {
            crate::event::DETAIL_TYPE_API_CALL
        };
        // Built by moving the parts in: `json!` would serialise `detail` into a copy.
        let mut event = Map::new();
        event.insert("source".into(), source.map_or(Value::Null, Value::String));
        event.insert("detail-type".into(), Value::String(detail_type.into()));
        event.insert("detail".into(), Value::Object(detail));
        Value::Object(event)
    }
}

struct Rule {
    guard: Guard,
    pattern: Pattern,
    reads: bool,
    condition: Option<&'static str>,
    /// Fields the rule lists exact values for (outside any `$or`): a record whose value is
    /// not among them never matches, and is refused without building its event.
    literals: Vec<(Field, Vec<String>)>,
    /// What the record's text must contain for the full pattern to match it, for the fields
    /// the summary does not have ([`Pattern::needles`]): per alternative, lists of which one
    /// must be found. A `CreateTags` call is taken only if its text has `"trailguard:`.
    needles: Vec<Vec<Vec<Finder<'static>>>>,
}

impl Rule {
    /// Whether the record's text holds what one of the full pattern's alternatives needs.
    fn found_in(&self, text: &[u8]) -> bool {
        self.needles.is_empty()
            || self.needles.iter().any(|lists| {
                lists
                    .iter()
                    .all(|list| list.iter().any(|n| n.find(text).is_some()))
            })
    }
}

/// Whether the needles hold for a record's text: a string with a `\u` or `\/` escape may
/// spell a needle's value without its characters (`\u0074railguard:`).
fn needles_hold_for(text: &[u8]) -> bool {
    memchr::memmem::find(text, b"\\u").is_none() && memchr::memmem::find(text, b"\\/").is_none()
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Source,
    DetailType,
    EventName,
    EventType,
    IdentityType,
}

impl Field {
    const ALL: [(Field, &'static [&'static str]); 5] = [
        (Field::Source, &["source"]),
        (Field::DetailType, &["detail-type"]),
        (Field::EventName, &["detail", "eventName"]),
        (Field::EventType, &["detail", "eventType"]),
        (Field::IdentityType, &["detail", "userIdentity", "type"]),
    ];

    /// Whether the record's value of this field is one of `values`.
    fn admits(self, s: &Summary<'_>, values: &[String]) -> bool {
        let one_of = |v: Option<&str>| v.is_some_and(|v| values.iter().any(|x| x == v));
        match self {
            Field::Source => {
                let service = s
                    .event_source
                    .and_then(|e| e.strip_suffix(".amazonaws.com"));
                values
                    .iter()
                    .any(|x| x.strip_prefix("aws.").is_some_and(|x| Some(x) == service))
            }
            Field::DetailType => one_of(Some(if s.event_type == Some("AwsConsoleSignIn") {
                crate::event::DETAIL_TYPE_CONSOLE_SIGN_IN
            } else {
                crate::event::DETAIL_TYPE_API_CALL
            })),
            Field::EventName => one_of(s.event_name),
            Field::EventType => one_of(s.event_type),
            Field::IdentityType => one_of(s.identity_type),
        }
    }
}

/// FNV-1a: the index's keys are short names, hashed once per record; SipHash's protection
/// against chosen keys is not needed for keys the registry declares.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Index<V> = std::collections::HashMap<String, V, std::hash::BuildHasherDefault<Fnv>>;

/// The rules that may take one service's calls, by event name.
#[derive(Default)]
struct ByName {
    /// Event name -> the rules naming it and the rules naming no event name, in rule order.
    named: Index<Vec<usize>>,
    /// The rules naming no event name (for a call no rule names).
    rest: Vec<usize>,
}

impl ByName {
    fn new(rules: &[Rule], of: &[usize]) -> ByName {
        let names = |i: usize| {
            rules[i].literals.iter().find_map(|(f, v)| match f {
                Field::EventName => Some(v),
                _ => None,
            })
        };
        let rest: Vec<usize> = of.iter().copied().filter(|&i| names(i).is_none()).collect();
        let mut named: Index<Vec<usize>> = Index::default();
        for &i in of {
            for n in names(i).into_iter().flatten() {
                named.entry(n.clone()).or_default().push(i);
            }
        }
        for list in named.values_mut() {
            list.extend(&rest);
            list.sort_unstable();
            list.dedup();
        }
        ByName { named, rest }
    }

    fn get(&self, name: Option<&str>) -> &[usize] {
        name.and_then(|n| self.named.get(n)).unwrap_or(&self.rest)
    }
}

/// The main-bus rules of every guard, weakened to [`FIELDS`].
pub struct Prefilter {
    rules: Vec<Rule>,
    /// Service (`ec2` of `ec2.amazonaws.com`) -> the rules that may take its calls, by
    /// event name, in rule order: those naming the service, and those naming no source. A
    /// record is matched only against the rules that could take its service and name.
    by_service: Index<ByName>,
    /// The rules that name no source (for a service no rule names).
    any_service: ByName,
}

impl Prefilter {
    pub fn new(guards: &[Guard]) -> Prefilter {
        let mut rules = Vec::new();
        for g in guards {
            for t in g.spec().triggers.iter().filter(|t| t.bus == Bus::Main) {
                let full = t.pattern_json();
                let weak = project(&full, "").unwrap_or_else(|| Value::Object(Map::new()));
                let literals = Field::ALL
                    .iter()
                    .filter_map(|(field, path)| {
                        let v = path.iter().try_fold(&weak, |v, k| v.get(*k))?;
                        // Plain strings only: `{{Parameter}}` and operators are left to the
                        // pattern.
                        let values = v
                            .as_array()?
                            .iter()
                            .map(|x| {
                                x.as_str()
                                    .filter(|s| !s.starts_with("{{"))
                                    .map(String::from)
                            })
                            .collect::<Option<Vec<_>>>()?;
                        Some((*field, values))
                    })
                    .collect();
                // Conditions on the summary's fields are the weak pattern's; a parameter's
                // values are the policy's, and give no needle.
                let needles = Pattern::parse(&full)
                    .map(|p| {
                        p.needles("detail", &|path| !FIELDS.contains(&path))
                            .into_iter()
                            .map(|lists| {
                                lists
                                    .iter()
                                    .map(|list| {
                                        list.iter()
                                            .map(|n| Finder::new(n.as_bytes()).into_owned())
                                            .collect()
                                    })
                                    .collect::<Vec<Vec<Finder<'static>>>>()
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                // An alternative with no list constrains nothing: the rule needs no needle.
                let needles = if needles.iter().any(Vec::is_empty) {
                    Vec::new()
                } else {
                    needles
                };
                if let Ok(pattern) = Pattern::parse(&weak) {
                    rules.push(Rule {
                        guard: *g,
                        pattern,
                        reads: t.delivery == Delivery::ChangesAndReads,
                        condition: t.condition,
                        literals,
                        needles,
                    });
                }
            }
        }
        let any_service: Vec<usize> = (0..rules.len())
            .filter(|&i| {
                !rules[i]
                    .literals
                    .iter()
                    .any(|(f, _)| matches!(f, Field::Source))
            })
            .collect();
        let mut services: Index<Vec<usize>> = Index::default();
        for (i, r) in rules.iter().enumerate() {
            for (f, values) in &r.literals {
                if matches!(f, Field::Source) {
                    for v in values.iter().filter_map(|v| v.strip_prefix("aws.")) {
                        services.entry(v.to_string()).or_default().push(i);
                    }
                }
            }
        }
        let by_service = services
            .into_iter()
            .map(|(service, mut list)| {
                list.extend(&any_service);
                list.sort_unstable();
                list.dedup();
                let by_name = ByName::new(&rules, &list);
                (service, by_name)
            })
            .collect();
        Prefilter {
            any_service: ByName::new(&rules, &any_service),
            rules,
            by_service,
        }
    }

    /// The guards whose rules might deliver the record (a superset of those that do).
    pub fn candidates(&self, s: &Summary<'_>, policy: &Policy) -> Vec<Guard> {
        self.candidates_in(s, None, policy)
    }

    /// [`Prefilter::candidates`], also reading the record's JSON text (`text`, the record
    /// as the log file holds it) for the values the rules name in fields the summary does
    /// not have: most `CreateTags` calls tag nothing a rule watches.
    pub fn candidates_in(
        &self,
        s: &Summary<'_>,
        text: Option<&[u8]>,
        policy: &Policy,
    ) -> Vec<Guard> {
        let mut out: Vec<Guard> = Vec::new();
        let mut event: Option<Value> = None;
        let mut searchable: Option<bool> = None;
        // Only the rules that may take this service's calls of this name: a few, not all.
        let service = s
            .event_source
            .and_then(|e| e.strip_suffix(".amazonaws.com"));
        let rules = service
            .and_then(|svc| self.by_service.get(svc))
            .unwrap_or(&self.any_service)
            .get(s.event_name);
        for r in rules.iter().map(|&i| &self.rules[i]) {
            if out.contains(&r.guard) {
                continue;
            }
            if !r.literals.iter().all(|(f, values)| f.admits(s, values)) {
                continue;
            }
            if r.condition.is_some_and(|c| !policy.template_condition(c)) {
                continue;
            }
            let e = event.get_or_insert_with(|| s.to_event());
            if is_read_only_call(e) && !r.reads {
                continue;
            }
            let params = |name: &str| policy.template_parameter(name);
            if !r.pattern.matches_with(e, &params) {
                continue;
            }
            if let Some(text) = text.filter(|_| !r.needles.is_empty()) {
                if *searchable.get_or_insert_with(|| needles_hold_for(text)) && !r.found_in(text) {
                    continue;
                }
            }
            out.push(r.guard);
        }
        out
    }
}

/// The pattern with every condition on a field outside [`FIELDS`] dropped (None: nothing
/// left). A `$or` with a branch left empty constrains nothing and goes.
fn project(v: &Value, prefix: &str) -> Option<Value> {
    let Value::Object(o) = v else {
        return None;
    };
    let mut out = Map::new();
    for (k, x) in o {
        if k == "$or" {
            let branches: Vec<Option<Value>> = x
                .as_array()
                .map(|a| a.iter().map(|b| project(b, prefix)).collect())
                .unwrap_or_default();
            if !branches.is_empty() && branches.iter().all(Option::is_some) {
                out.insert(
                    k.clone(),
                    Value::Array(branches.into_iter().flatten().collect()),
                );
            }
            continue;
        }
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match x {
            Value::Object(_) => {
                if let Some(p) = project(x, &path) {
                    out.insert(k.clone(), p);
                }
            }
            _ if FIELDS.contains(&path.as_str()) => {
                out.insert(k.clone(), x.clone());
            }
            _ => {}
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn weakened_patterns_keep_only_what_the_summary_has() {
        let p = json!({"source": ["aws.iam"], "detail": {"eventName": ["PutUserPolicy"],
            "requestParameters": {"policyName": [{"prefix": "AWSCompromisedKeyQuarantine"}]},
            "$or": [{"userIdentity": {"type": ["Root"]}}, {"additionalEventData": {"MFAUsed": ["No"]}}]}});
        assert_eq!(
            project(&p, "").unwrap(),
            json!({"source": ["aws.iam"], "detail": {"eventName": ["PutUserPolicy"]}})
        );
    }
}
