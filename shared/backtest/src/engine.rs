//! Deciding one record of an archive: a fast look at a few fields, then, only for records a
//! rule could deliver, the whole record through the rules, as `trailguard decide` does
//! (offline: facts a backtest cannot look up are taken as absent and counted).

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use trailguard_rules::prefilter::{self, Prefilter};
use trailguard_rules::{decide_guard_offline, Decider, Event, Guard, Kind, Policy, Report};

use crate::quick::Fields;
use crate::scan::Step;
use crate::summary::Summary;

/// What a backtest looks at: dates (`YYYY-MM-DD`, inclusive), accounts, regions, functions.
/// Empty lists mean all.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub since: Option<String>,
    pub until: Option<String>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub functions: Vec<String>,
}

impl Filters {
    pub fn day_in(&self, day: &str) -> bool {
        self.since.as_deref().is_none_or(|s| day >= s)
            && self.until.as_deref().is_none_or(|u| day <= u)
    }
    pub fn account_in(&self, a: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|x| x == a)
    }
    pub fn region_in(&self, r: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|x| x == r)
    }
}

/// The policy, the guards in play and the filters, shared by every worker.
pub struct Engine {
    pub policy: Policy,
    pub filters: Filters,
    /// Build each notify and remediate decision's report for `decided` (a decisions file).
    pub reports: bool,
    /// The reference path (`--reference`): every record found by the scanner, parsed whole
    /// and offered to every guard, with no quick reader and no prefilter. Slow; the fast
    /// path must give the same summary, record for record (the tests compare them).
    pub reference: bool,
    guards: Vec<Guard>,
    prefilter: Prefilter,
}

/// The fields of a record read on the fast path, borrowed from its bytes. `&str`, not
/// `Cow`: serde never borrows an `Option<Cow<str>>` (it would allocate every field of every
/// record); a field with escapes fails the view and the record takes the lenient path.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct View<'a> {
    #[serde(borrow)]
    event_source: Option<&'a str>,
    #[serde(borrow)]
    event_name: Option<&'a str>,
    #[serde(borrow)]
    event_type: Option<&'a str>,
    #[serde(borrow)]
    error_code: Option<&'a str>,
    #[serde(borrow)]
    event_time: Option<&'a str>,
    #[serde(borrow)]
    aws_region: Option<&'a str>,
    #[serde(borrow)]
    recipient_account_id: Option<&'a str>,
    #[serde(deserialize_with = "bool_or_text")]
    read_only: Option<bool>,
    #[serde(borrow)]
    user_identity: Option<IdentityView<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct IdentityView<'a> {
    #[serde(borrow, rename = "type")]
    identity_type: Option<&'a str>,
    #[serde(borrow)]
    invoked_by: Option<&'a str>,
    #[serde(borrow)]
    access_key_id: Option<&'a str>,
    #[serde(borrow)]
    arn: Option<&'a str>,
}

impl<'a> View<'a> {
    fn fields(self) -> Fields<'a> {
        let id = self.user_identity.unwrap_or_default();
        Fields {
            record: prefilter::Summary {
                event_source: self.event_source,
                event_name: self.event_name,
                event_type: self.event_type,
                error_code: self.error_code,
                read_only: self.read_only,
                identity_type: id.identity_type,
                invoked_by: id.invoked_by,
                access_key_id: id.access_key_id,
                arn: id.arn,
            },
            event_time: self.event_time,
            aws_region: self.aws_region,
            recipient_account_id: self.recipient_account_id,
        }
    }
}

/// A record read: counted with its separator.
fn counted(s: &mut Summary, len: usize) {
    s.records += 1;
    s.bytes += len as u64 + 1;
}

/// CloudTrail writes `readOnly` as a boolean; some exports write it as a string. Read
/// without buffering (an untagged enum would copy the value first).
fn bool_or_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a boolean, or true/false as a string")
        }
        fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
            Ok(Some(b))
        }
        fn visit_str<E>(self, t: &str) -> Result<Self::Value, E> {
            Ok(t.parse().ok())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
    }
    d.deserialize_option(V)
}

/// A reason with its ids taken out (`snapshot snap-0ab… shared outside the trusted set` ->
/// `snapshot {id} shared outside the trusted set`), so reasons of one kind count together.
pub fn reason_class(reason: &str) -> String {
    let placeholder = |token: &str| -> Option<&'static str> {
        let t = token
            .trim_end_matches([',', '.', ';', ':', ')'])
            .trim_start_matches('(');
        let t = t.trim_matches('`');
        if t.starts_with("arn:") {
            return Some("{arn}");
        }
        if (t.starts_with("AKIA") || t.starts_with("ASIA")) && t.len() >= 16 {
            return Some("{key}");
        }
        if t.len() == 12 && t.chars().all(|c| c.is_ascii_digit()) {
            return Some("{account}");
        }
        if t.parse::<std::net::IpAddr>().is_ok() {
            return Some("{ip}");
        }
        let id_prefix = [
            "sg-", "sgr-", "snap-", "ami-", "acl-", "i-", "vpc-", "subnet-", "eni-", "o-", "ou-",
            "r-",
        ];
        if let Some(rest) = id_prefix.iter().find_map(|p| t.strip_prefix(p)) {
            if rest.len() >= 6 && rest.chars().all(|c| c.is_ascii_hexdigit()) {
                return Some("{id}");
            }
        }
        None
    };
    reason
        .split(' ')
        .map(|tok| match placeholder(tok) {
            Some(p) => {
                let t = tok.trim_end_matches([',', '.', ';', ':', ')']);
                format!("{p}{}", &tok[t.len()..])
            }
            None => tok.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The day of a CloudTrail time (`2026-08-01T10:15:30Z`, or the older forms the rules read).
fn day_of(time: &str) -> Option<String> {
    let t = trailguard_rules::time::normalize(time)?;
    Some(t.get(..10)?.to_string())
}

/// Whether these bytes may be an EventBridge event rather than a CloudTrail record: the
/// rules read an object with a top-level `source` or `detail-type` as an event (its fields
/// are elsewhere), so the record's view must not judge it. Either key anywhere, or a `\u`
/// escape (which could spell one), says "maybe", and the rules see the object whole;
/// CloudTrail writes neither key, so real records are sifted.
fn maybe_event(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"\"detail-type\"").is_some()
        || memchr::memmem::find(bytes, b"\"source\"").is_some()
        || memchr::memmem::find(bytes, b"\\u").is_some()
}

/// What [`Engine::sift`] made of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sift {
    /// A record of this many bytes no rule delivers: skip it.
    Skip(usize),
    /// A record of this many bytes these guards could act on (every guard a rule delivers
    /// it to is among them): decide it.
    Decide(usize, Vec<Guard>),
    /// The buffer ends inside the record: read more and ask again.
    NeedMore,
    /// Not a record the quick reader reads: let the scanner find its end.
    Scan,
}

impl Engine {
    pub fn new(policy: Policy, filters: Filters) -> Result<Engine, String> {
        let guards: Vec<Guard> = Guard::all()
            .filter(|g| {
                filters.functions.is_empty()
                    || filters.functions.iter().any(|f| f == g.function_name())
            })
            .collect();
        if guards.is_empty() {
            return Err(format!(
                "no function is called {} (one of: {})",
                filters.functions.join(", "),
                Guard::function_names()
            ));
        }
        Ok(Engine {
            reports: false,
            reference: false,
            prefilter: Prefilter::new(&guards),
            policy,
            filters,
            guards,
        })
    }

    /// For `trailguard decide --only-acted`, at the start of a log file's record (`rest`):
    /// how long the record is, and whether any guard could act on it. A record no rule
    /// delivers (the prefilter, on a few fields read without parsing the rest) is decided
    /// `ignore` by every guard, so it is skipped unread. An EventBridge event, or a record the
    /// quick reader cannot see through, goes to the rules through the scanner.
    pub fn sift(&self, rest: &[u8], eof: bool) -> Sift {
        match crate::quick::read(rest) {
            crate::quick::Quick::Record(_, used) if maybe_event(&rest[..used]) => Sift::Scan,
            crate::quick::Quick::Record(f, used) => {
                let candidates =
                    self.prefilter
                        .candidates_in(&f.record, Some(&rest[..used]), &self.policy);
                if candidates.is_empty() {
                    Sift::Skip(used)
                } else {
                    Sift::Decide(used, candidates)
                }
            }
            crate::quick::Quick::NeedMore if !eof => Sift::NeedMore,
            _ => Sift::Scan,
        }
    }

    /// [`Engine::sift`] for a record the scanner found (the quick reader could not read it in
    /// place): the guards that could act on it (empty: none, skip it), or None for what is
    /// not a CloudTrail record (an EventBridge event: the rules see it whole).
    pub fn sift_scanned(&self, bytes: &[u8]) -> Option<Vec<Guard>> {
        if maybe_event(bytes) {
            return None;
        }
        match serde_json::from_slice::<View>(bytes) {
            Ok(v) if v.event_name.is_some() => Some(self.prefilter.candidates_in(
                &v.fields().record,
                Some(bytes),
                &self.policy,
            )),
            _ => None,
        }
    }

    /// The one-pass path for a log file's records: parse the view straight from the read
    /// buffer (`rest` starts at a record); serde finds where the record ends. A record the
    /// view cannot read goes to [`Engine::record`] through the scanner.
    pub fn parse_record(
        &self,
        rest: &[u8],
        eof: bool,
        s: &mut Summary,
        source: &str,
        decided: &mut dyn FnMut(&Report),
    ) -> Step {
        if self.reference {
            return Step::Scan;
        }
        match crate::quick::read(rest) {
            crate::quick::Quick::Record(f, used) => {
                counted(s, used);
                self.view(f, &rest[..used], s, source, decided);
                return Step::Used(used);
            }
            crate::quick::Quick::NeedMore if !eof => return Step::NeedMore,
            _ => {}
        }
        // What the quick reader leaves (escapes, unusual types): serde's view.
        let mut it = serde_json::Deserializer::from_slice(rest).into_iter::<View>();
        match it.next() {
            Some(Ok(v)) if v.event_name.is_some() => {
                let used = it.byte_offset();
                counted(s, used);
                self.view(v.fields(), &rest[..used], s, source, decided);
                Step::Used(used)
            }
            Some(Err(e)) if e.is_eof() && !eof => Step::NeedMore,
            _ => Step::Scan,
        }
    }

    /// Decide one record (or event) and count it in `s`; `decided` receives the report of
    /// every notify or remediate decision (the `decide` schema).
    pub fn record(
        &self,
        bytes: &[u8],
        s: &mut Summary,
        source: &str,
        decided: &mut dyn FnMut(&Report),
    ) {
        counted(s, bytes.len());
        if self.reference {
            return self.decide(self.guards.clone(), None, false, bytes, s, source, decided);
        }
        match serde_json::from_slice::<View>(bytes) {
            Ok(v) if v.event_name.is_some() => self.view(v.fields(), bytes, s, source, decided),
            // An EventBridge event, or a record the fast path cannot read: the lenient
            // reader decides.
            _ => self.decide(self.guards.clone(), None, false, bytes, s, source, decided),
        }
    }

    /// A CloudTrail record (it names its call), seen through its view: filters, prefilter,
    /// and the whole record to the rules only if a rule could deliver it.
    fn view(
        &self,
        f: Fields<'_>,
        bytes: &[u8],
        s: &mut Summary,
        source: &str,
        decided: &mut dyn FnMut(&Report),
    ) {
        if !self.in_scope(f.recipient_account_id, f.aws_region, f.event_time) {
            s.records_filtered += 1;
            return;
        }
        let candidates = self
            .prefilter
            .candidates_in(&f.record, Some(bytes), &self.policy);
        if candidates.is_empty() {
            s.not_delivered += 1;
            return;
        }
        let day = f.event_time.and_then(day_of);
        self.decide(candidates, day, true, bytes, s, source, decided);
    }

    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        candidates: Vec<Guard>,
        day: Option<String>,
        fast: bool,
        bytes: &[u8],
        s: &mut Summary,
        source: &str,
        decided: &mut dyn FnMut(&Report),
    ) {
        // The record's bytes checked as UTF-8 at once (a fast pass), then parsed as text:
        // serde then checks no string on its own, which was a tenth of a decision's time.
        let event = match std::str::from_utf8(bytes)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Value>(text).map_err(|e| e.to_string()))
            .and_then(|v| Event::from_value(v).map_err(|e| e.to_string()))
        {
            Ok(e) => e,
            Err(_) => {
                s.bad_records += 1;
                return;
            }
        };
        let day = day.or_else(|| {
            event
                .envelope
                .time
                .get()
                .or_else(|| event.cloudtrail().and_then(|r| r.event_time.get()))
                .and_then(day_of)
        });
        if !fast && !self.in_scope(event.account(), event.region(), day.as_deref()) {
            s.records_filtered += 1;
            return;
        }
        let mut delivered = false;
        for g in candidates {
            if !g.applies(&event, &self.policy) {
                continue;
            }
            delivered = true;
            // Every guard has its decisions (a test in the rules crate holds it).
            let Some(decider) = Decider::of(g) else {
                continue;
            };
            let d = decide_guard_offline(decider, &event, &self.policy);
            let function = g.function_name().to_string();
            let kind = match d.kind {
                Kind::Ignore => "ignore",
                Kind::Notify => "notify",
                Kind::Remediate => "remediate",
            };
            *s.decisions
                .entry(function.clone())
                .or_default()
                .entry(kind.into())
                .or_default() += 1;
            let on = day.clone().unwrap_or_else(|| "unknown".into());
            if d.kind != Kind::Ignore {
                *s.daily
                    .entry(on.clone())
                    .or_default()
                    .entry(function.clone())
                    .or_default()
                    .entry(kind.into())
                    .or_default() += 1;
            }
            *s.timeline
                .entry(on)
                .or_default()
                .entry(kind.into())
                .or_default() += 1;
            for a in &d.assumed {
                let name = serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.get("fact").and_then(Value::as_str).map(String::from))
                    .unwrap_or_else(|| "fact".into());
                *s.assumed.entry(name).or_default() += 1;
            }
            if d.kind == Kind::Ignore {
                continue;
            }
            *s.reasons
                .entry(function.clone())
                .or_default()
                .entry(kind.into())
                .or_default()
                .entry(reason_class(&d.reason))
                .or_default() += 1;
            if d.kind == Kind::Remediate && d.mode == trailguard_rules::Mode::Approve {
                *s.awaiting_approval.entry(function.clone()).or_default() += 1;
            }
            if d.kind == Kind::Remediate {
                let actor = match event.cloudtrail() {
                    Some(r) => Some(r.user_identity.display()),
                    None => trailguard_rules::report::EventSummary::of(&event).actor,
                }
                .unwrap_or_else(|| "(unknown)".into());
                *s.actors
                    .entry(actor)
                    .or_default()
                    .entry(function)
                    .or_default() += 1;
            }
            // The report (decide's schema) only for a decisions file: building it for every
            // decision would cost more than deciding.
            if self.reports {
                let mut report = Report::new(&d, Some(&event));
                report.source_file = Some(source.to_string());
                decided(&report);
            }
        }
        if !delivered {
            s.not_delivered += 1;
        }
    }

    fn in_scope(&self, account: Option<&str>, region: Option<&str>, time: Option<&str>) -> bool {
        let f = &self.filters;
        if f.accounts.is_empty() && f.regions.is_empty() && f.since.is_none() && f.until.is_none() {
            return true;
        }
        account.is_none_or(|a| f.account_in(a))
            && region.is_none_or(|r| f.region_in(r))
            && time
                .and_then(|t| {
                    if t.len() == 10 {
                        Some(t.to_string())
                    } else {
                        day_of(t)
                    }
                })
                .is_none_or(|d| f.day_in(&d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_the_view_cannot_borrow_takes_the_lenient_path() {
        let sample: Value = serde_json::from_str(include_str!(
            "../../../events/aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json"
        ))
        .unwrap();
        let text = sample["detail"].to_string();
        // The same record with its event name written with an escape, as some exporters do.
        let escaped = text.replace(
            "\"AuthorizeSecurityGroupIngress\"",
            "\"Authorize\\u0053ecurityGroupIngress\"",
        );
        assert_ne!(escaped, text);
        let engine = Engine::new(Policy::default(), Filters::default()).unwrap();
        for t in [&text, &escaped] {
            let mut s = Summary::default();
            let (_, n) = crate::scan::for_each_element(
                format!("{{\"Records\": [{t}]}}").as_bytes(),
                |rest, eof| {
                    engine.parse_record(rest, eof, &mut Summary::default(), "x", &mut |_| {})
                },
                |rec| engine.record(rec, &mut s, "x", &mut |_| {}),
            )
            .unwrap();
            assert_eq!(n, 1);
            if t == &escaped {
                assert_eq!(s.count("revert-security-group", "remediate"), 1, "{s:?}");
            }
        }
    }

    #[test]
    fn remediations_that_would_wait_for_approval_are_counted_per_function() {
        let sample: Value = serde_json::from_str(include_str!(
            "../../../events/aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json"
        ))
        .unwrap();
        let log = format!("{{\"Records\": [{0}, {0}]}}", sample["detail"]);
        let count = |policy: &str| {
            let engine =
                Engine::new(Policy::from_json(policy).unwrap(), Filters::default()).unwrap();
            // The quick reader decides as it parses; the lenient path when a record is whole.
            let s = std::cell::RefCell::new(Summary::default());
            crate::scan::for_each_element(
                log.as_bytes(),
                |rest, eof| engine.parse_record(rest, eof, &mut s.borrow_mut(), "x", &mut |_| {}),
                |rec| engine.record(rec, &mut s.borrow_mut(), "x", &mut |_| {}),
            )
            .unwrap();
            let s = s.into_inner();
            assert_eq!(s.count("revert-security-group", "remediate"), 2, "{s:?}");
            s.awaiting_approval
        };
        assert!(count("{}").is_empty());
        assert_eq!(
            count(r#"{"mode": {"security_group": "approve"}}"#),
            [("revert-security-group".to_string(), 2)].into()
        );
        // Another account's mode: not this record's.
        assert!(count(r#"{"mode_by_account": {"210987654321": "approve"}}"#).is_empty());
    }

    #[test]
    fn reasons_of_one_kind_count_together() {
        assert_eq!(
            reason_class("long-term key AKIA5EXAMPLE001366B2 used from 192.0.2.237, outside the trusted networks"),
            "long-term key {key} used from {ip}, outside the trusted networks"
        );
        assert_eq!(
            reason_class("snapshot snap-03c87c3508b501e10 shared outside the trusted set"),
            "snapshot {id} shared outside the trusted set"
        );
        assert_eq!(
            reason_class(
                "logging was stopped on trail arn:aws:cloudtrail:us-east-1:111122223333:trail/x"
            ),
            "logging was stopped on trail {arn}"
        );
        assert_eq!(
            reason_class("tcp/22 from 0.0.0.0/0 exposes tcp 22"),
            "tcp/22 from 0.0.0.0/0 exposes tcp 22"
        );
    }
}
