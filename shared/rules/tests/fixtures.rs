//! Every sample in events/ through one `check(fixture, expected)` helper, against the policy
//! the samples are written for (events/meta/policy.json) and the account they describe
//! (events/meta/world.json). The expectations live in events/meta/manifest.json, which the
//! handler tests and the template checks read too:
//!
//! - `decision` / `actions`: what `trailguard decide` prints (every guard, offline);
//! - `routes_to`: the functions whose rules deliver the sample (checked here against each
//!   guard's patterns, and by scripts/check_template.py against template.yaml);
//! - `functions.<name>`: what that function decides, with the exact plan (`plan`), and the
//!   calls it makes (`calls`, checked by the handler tests).
//!
//! `UPDATE_EXPECT=1 cargo test -p trailguard-rules --test fixtures` rewrites `decision`,
//! `actions` and each function's `decision` and `plan` from what the code decides; review
//! the diff before committing it.
//!
//! The sample table collects what differs for every sample and fails once, listing each
//! failing sample with what differed, so one run shows them all.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use serde_json::{json, Value};
use trailguard_rules::ask::{self, Ask};
use trailguard_rules::event::{CloudTrailRecord, Envelope};
use trailguard_rules::facts::World;
use trailguard_rules::guards::Bus;
use trailguard_rules::{
    decide_guard, decide_offline, Decider, Decision, Event, FactRequest, Facts, Guard, Policy,
};

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn load(name: &str) -> Value {
    let text =
        std::fs::read_to_string(events_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn sample_policy() -> Policy {
    Policy::from_json(&serde_json::to_string(&load("meta/policy.json")).unwrap()).unwrap()
}

fn world() -> World {
    serde_json::from_value(load("meta/world.json")).unwrap()
}

fn bless() -> bool {
    std::env::var("UPDATE_EXPECT").as_deref() == Ok("1")
}

/// What differed for one sample: each entry one line of the failure message.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    /// Note `what` when `ok` does not hold.
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    /// Note it when the code's answer is not the manifest's.
    fn same<T: PartialEq + Debug>(&mut self, got: T, want: T, what: impl FnOnce() -> String) {
        if got != want {
            self.0
                .push(format!("{}: got {got:?}, expected {want:?}", what()));
        }
    }

    /// The same for JSON values, written as JSON.
    fn same_json(&mut self, got: &Value, want: &Value, what: impl FnOnce() -> String) {
        if got != want {
            self.0
                .push(format!("{}: got {got}, expected {want}", what()));
        }
    }
}

/// The text of a panic, for the report.
fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into())
}

/// Decide as the function would: ask, look the facts up in the world, ask again.
fn decide_with_world(
    guard: Guard,
    event: &Event,
    policy: &Policy,
    world: &World,
) -> Result<Decision, String> {
    let mut undeclared: Option<String> = None;
    let decide = |facts: &Facts| decide_guard(Decider::of(guard).unwrap(), event, policy, facts);
    let answer = |r: &FactRequest, facts: &mut Facts| {
        if undeclared.is_none() && !guard.spec().facts.contains(&r.kind()) {
            undeclared = Some(format!(
                "{guard} asked for {r:?}, which it does not declare"
            ));
        }
        world.answer(r, facts);
    };
    let d = ask::settle(&mut Ask::new(Facts::default()), decide, answer)
        .map_err(|s| format!("{guard}: {s}"))?;
    match undeclared {
        Some(e) => Err(e),
        None => Ok(d),
    }
}

/// The plan as the manifest writes it: each action's JSON without its IAM actions.
fn plan(d: &Decision) -> Value {
    Value::Array(
        d.actions
            .iter()
            .map(|a| serde_json::to_value(a).unwrap())
            .collect(),
    )
}

/// Check one sample against its manifest entry, noting in `p` everything that differs;
/// with UPDATE_EXPECT=1, rewrite the entry.
fn check(fixture: &str, expected: &mut Value, policy: &Policy, world: &World, p: &mut Problems) {
    let raw = load(fixture);
    let event = match Event::parse(&raw) {
        Ok(e) => e,
        Err(e) => return p.0.push(format!("does not parse: {e}")),
    };
    round_trip(&raw, p);

    // What `trailguard decide` prints: every guard, offline.
    let d = decide_offline(&event, policy);
    let types: Vec<&str> = d.actions.iter().map(|a| a.type_name()).collect();
    if bless() {
        expected["decision"] = json!(d.kind);
        expected["actions"] = json!(types);
    }
    let pretty =
        || serde_json::to_string_pretty(&trailguard_rules::Report::new(&d, Some(&event))).unwrap();
    p.same_json(&json!(d.kind), &expected["decision"], || {
        format!("decision (offline) ({})", d.reason)
    });
    p.same_json(&json!(types), &expected["actions"], || {
        format!("actions (offline), report {}", pretty())
    });
    p.check(!d.reason.is_empty(), || {
        "every decision gives a reason".into()
    });

    // Which functions' rules deliver it, on the bus it is put on (`bus`, the main bus when
    // not said); on any other bus it reaches nothing.
    let routes: Vec<String> = match serde_json::from_value(expected["routes_to"].clone()) {
        Ok(r) => r,
        Err(e) => return p.0.push(format!("routes_to is not a list of names: {e}")),
    };
    let bus = match expected["bus"].as_str() {
        None | Some("main") => Bus::Main,
        Some("manual_trigger") => Bus::ManualTrigger,
        Some(other) => return p.0.push(format!("unknown bus {other}")),
    };
    // A schedule rule's event reaches no pattern: the template's schedule delivers it to
    // every function that sweeps, and each starts its sweep (tested in the handler tests).
    if expected["delivery"] == "schedule" {
        p.check(event.is_scheduled(), || "not a scheduled event".into());
        let mut have: Vec<&str> = Guard::all()
            .filter(|g| !g.spec().sweeps.is_empty())
            .map(|g| g.function_name())
            .collect();
        have.sort();
        let mut want: Vec<&str> = routes.iter().map(String::as_str).collect();
        want.sort();
        p.same(have, want, || {
            "routes_to must be the sweeping functions".into()
        });
        for g in Guard::all() {
            for b in [Bus::Main, Bus::ManualTrigger] {
                p.check(!g.applies_on(b, &event, policy), || {
                    format!("a pattern of {g} matches it on the {b:?} bus")
                });
            }
        }
        return;
    }
    for g in Guard::all() {
        p.same(
            g.applies_on(bus, &event, policy),
            routes.iter().any(|r| r == g.function_name()),
            || {
                format!(
                    "{}'s patterns (on the {bus:?} bus) disagree with routes_to {routes:?}",
                    g.function_name()
                )
            },
        );
        for other in [Bus::Main, Bus::ManualTrigger]
            .into_iter()
            .filter(|b| *b != bus)
        {
            p.check(!g.applies_on(other, &event, policy), || {
                format!("reaches {} on the {other:?} bus too", g.function_name())
            });
        }
    }

    // What each function decides, with the facts the world gives.
    let mut functions: Vec<String> = routes.clone();
    if let Some(extra) = expected["functions"].as_object() {
        functions.extend(extra.keys().filter(|k| !routes.contains(k)).cloned());
    }
    for function in functions {
        let Some(guard) = Guard::from_function_name(&function) else {
            p.0.push(format!("no function {function}"));
            continue;
        };
        let d = match decide_with_world(guard, &event, policy, world) {
            Ok(d) => d,
            Err(e) => {
                p.0.push(format!("{function}: {e}"));
                continue;
            }
        };
        let got = json!({"decision": d.kind, "plan": plan(&d)});
        if bless() {
            let entry = &mut expected["functions"][&function];
            entry["decision"] = got["decision"].clone();
            entry["plan"] = got["plan"].clone();
        }
        let want = &expected["functions"][&function];
        p.same_json(&got["decision"], &want["decision"], || {
            format!("{function} decision ({})", d.reason)
        });
        p.same_json(&got["plan"], &want["plan"], || format!("{function} plan"));
        p.check(!d.reason.is_empty(), || format!("{function}: no reason"));
        if d.kind != trailguard_rules::Kind::Ignore {
            p.check(d.notice.is_some(), || {
                format!("{function}: acting or notifying tells people, and there is no notice")
            });
        }
        for a in &d.actions {
            p.check(
                guard
                    .spec()
                    .actions
                    .iter()
                    .any(|i| i.type_name == a.type_name()),
                || format!("{function} plans {} but does not declare it", a.type_name()),
            );
            p.check(!a.iam_actions().is_empty(), || {
                format!("{a:?} declares no IAM action")
            });
        }
    }
}

/// Parse, serialise, parse again: the typed model must be stable.
fn round_trip(raw: &Value, p: &mut Problems) {
    let env: Envelope = match serde_json::from_value(raw.clone()) {
        Ok(e) => e,
        Err(e) => return p.0.push(format!("not an envelope: {e}")),
    };
    let again: Envelope = serde_json::from_value(serde_json::to_value(&env).unwrap()).unwrap();
    p.same(&env, &again, || "envelope round trip".into());
    if let Some(r) = Event::parse(raw).ok().as_ref().and_then(Event::cloudtrail) {
        let back: CloudTrailRecord =
            serde_json::from_value(serde_json::to_value(r).unwrap()).unwrap();
        p.same(r, &back, || "CloudTrail record round trip".into());
    }
}

/// One failure message for every sample that failed: each sample, then what differed.
fn report(failures: &[(String, Vec<String>)], of: usize) -> String {
    let mut out = format!("{} of {of} samples fail:\n", failures.len());
    for (fixture, problems) in failures {
        out += &format!("- {fixture}\n");
        for p in problems {
            out += &format!("    {}\n", p.replace('\n', "\n      "));
        }
    }
    out
}

#[test]
fn every_sample_decides_as_its_manifest_says() {
    let mut manifest: BTreeMap<String, Value> =
        serde_json::from_value(load("meta/manifest.json")).unwrap();
    let (policy, world) = (sample_policy(), world());
    let mut failures: Vec<(String, Vec<String>)> = Vec::new();
    for (fixture, expected) in manifest.iter_mut() {
        let mut p = Problems::default();
        // A panic in the code under test is one more thing that failed for this sample.
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| {
            check(fixture, expected, &policy, &world, &mut p)
        })) {
            p.0.push(format!("panicked: {}", panic_text(&*e)));
        }
        if !p.0.is_empty() {
            failures.push((fixture.clone(), p.0));
        }
    }
    // Blessing rewrites the manifest only when nothing else failed: what it cannot rewrite
    // (routes, reasons, declarations) is to be fixed first. A new sample's entry is written
    // by hand with its `routes_to` and `functions`; blessing fills in the rest.
    let rewritten = bless() && failures.is_empty();
    if rewritten {
        let text = serde_json::to_string_pretty(&manifest).unwrap() + "\n";
        std::fs::write(events_dir().join("meta/manifest.json"), text).unwrap();
    }
    // Every sample is in the manifest.
    let mut on_disk: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    for f in on_disk {
        if !manifest.contains_key(&f) {
            failures.push((f, vec!["not in events/meta/manifest.json".into()]));
        }
    }
    assert!(
        failures.is_empty(),
        "{}{}",
        report(&failures, manifest.len()),
        if bless() && !rewritten {
            "(UPDATE_EXPECT=1: events/meta/manifest.json was not rewritten)"
        } else {
            ""
        }
    );
    assert!(manifest.len() >= 40, "only {} samples", manifest.len());
}

#[test]
fn the_open_ssh_sample_revokes_exactly_the_ssh_rule() {
    let event = Event::parse(&load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json")).unwrap();
    let d = decide_offline(&event, &Policy::default());
    let json = trailguard_rules::Report::new(&d, Some(&event)).to_value();
    assert_eq!(
        json["actions"][0]["rule_ids"],
        json!(["sgr-0aa11bb22cc33dd44"])
    );
    assert_eq!(json["actions"][0]["group_id"], "sg-0a1b2c3d4e5f60789");
    assert_eq!(
        json["actions"][0]["iam_actions"],
        json!(["ec2:RevokeSecurityGroupIngress"])
    );
    assert_eq!(json["event"]["source_ip"], "203.0.113.45");
    // Offline, the group's tags are unknown: the decision says it assumed none.
    assert_eq!(json["assumed_absent"][0]["fact"], "security_group");
}

#[test]
fn non_iso_and_numeric_shapes_are_normalised() {
    let event = Event::parse(&load(
        "aws.ec2-AuthorizeSecurityGroupIngress-split-world-numeric-account.json",
    ))
    .unwrap();
    let json =
        trailguard_rules::Report::new(&decide_offline(&event, &Policy::default()), Some(&event))
            .to_value();
    assert_eq!(json["event"]["account"], "123456789012");
    assert_eq!(json["event"]["time"], "2026-11-20T10:15:30Z");
    let h = Event::parse(&load(
        "aws.health-AWS_RISK_CREDENTIALS_COMPROMISED-org-view.json",
    ))
    .unwrap();
    assert_eq!(h.account(), Some("123456789012"));
}

#[test]
fn policy_knobs_change_decisions() {
    // The default policy has no honeytokens, no trusted networks and no exempt principals.
    let def = Policy::default();
    for (fixture, decision) in [
        ("aws.iam-ListUsers-honeytoken.json", "ignore"),
        ("aws.ec2-DescribeInstances-untrusted-network.json", "ignore"),
        (
            "aws.ec2-AuthorizeSecurityGroupIngress-exempt-principal.json",
            "remediate",
        ),
        (
            "aws.ec2-AuthorizeSecurityGroupEgress-protected-group.json",
            "ignore",
        ),
    ] {
        let e = Event::parse(&load(fixture)).unwrap();
        assert_eq!(
            json!(decide_offline(&e, &def).kind),
            decision,
            "{fixture} under the default policy"
        );
    }
    // Dry-run is carried on the decision; the plan is the same.
    let dry = sample_policy().with_mode_ceiling(trailguard_rules::Mode::DryRun);
    let e = Event::parse(&load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json")).unwrap();
    let d = decide_offline(&e, &dry);
    assert_eq!(d.mode, trailguard_rules::Mode::DryRun);
    assert_eq!(d.actions.len(), 1);
    // Egress denied by policy.
    let p = Policy::from_json(r#"{"egress_denied_ports": ["tcp/25"]}"#).unwrap();
    let mut raw = load("aws.ec2-AuthorizeSecurityGroupEgress-protected-group.json");
    raw["detail"]["requestParameters"]["groupId"] = "sg-0123456789abcdef0".into();
    raw["detail"]["responseElements"]["securityGroupRuleSet"]["items"][0]["groupId"] =
        "sg-0123456789abcdef0".into();
    let e = Event::parse(&raw).unwrap();
    assert_eq!(
        decide_offline(&e, &p).kind,
        trailguard_rules::Kind::Remediate
    );
}

#[test]
fn every_guard_declares_what_its_role_needs() {
    for g in Guard::all() {
        let iam = g.iam_actions();
        assert!(iam.contains("sns:Publish"), "{g}");
        for a in g.spec().actions {
            for op in a.ops {
                assert!(iam.contains(op.iam), "{g}: {} missing", op.iam);
            }
        }
    }
}
