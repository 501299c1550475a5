//! Events dressed as AWS's, manual requests the stack has no trigger for, and findings that
//! name an account they did not come from: refused before any guard reads them.

use std::path::PathBuf;

use serde_json::{json, Value};
use trailguard_rules::{
    decide, decide_guard, decide_offline, Decider, Event, Facts, Guard, Kind, Policy, Verdict,
};

fn load(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn sample_policy() -> Policy {
    Policy::from_json(&load("meta/policy.json").to_string()).unwrap()
}

fn key() -> Guard {
    Guard::from_function_name("disable-compromised-key").unwrap()
}

/// Decide as the key function would, its own role in `home`.
fn decide_at_home(event: &Event, policy: &Policy, home: &str) -> trailguard_rules::Decision {
    let facts = Facts {
        own_role_arn: Some(format!(
            "arn:aws:iam::{home}:role/trailguard-DisableCompromisedKeyRole-X"
        )),
        ..Facts::offline()
    };
    match decide_guard(Decider::of(key()).unwrap(), event, policy, &facts) {
        Verdict::Decided(d) => d,
        Verdict::NeedFacts(f) => panic!("offline facts answer everything: {f:?}"),
    }
}

#[test]
fn an_aws_detail_type_under_any_other_source_is_refused_whatever_it_names() {
    let policy = sample_policy();
    // Every AWS-shaped detail-type trailguard reads, under sources anyone can put.
    let real = [
        "aws.ec2-DescribeInstances-untrusted-network.json",
        "aws.ec2-RunInstances-root.json",
        "aws.iam-ListUsers-honeytoken.json",
        "aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-high.json",
        "aws.health-AWS_RISK_CREDENTIALS_EXPOSED-key-on-github.json",
        "aws.securityhub-GuardDuty-Policy-IAMUser-RootCredentialUsage.json",
        "aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json",
    ];
    let mut failures = vec![];
    for sample in real {
        let genuine = Event::from_value(load(sample)).unwrap();
        assert_ne!(
            decide_offline(&genuine, &policy).kind,
            Kind::Ignore,
            "{sample}: the genuine event must act, or this test proves nothing"
        );
        for source in ["my.app", "aws", "awsx.iam", "AWS.ec2", "trailguard", ""] {
            let mut v = load(sample);
            v["source"] = json!(source);
            let event = Event::from_value(v).unwrap();
            let d = decide_offline(&event, &policy);
            for g in Guard::all() {
                let per_guard =
                    decide_guard(Decider::of(g).unwrap(), &event, &policy, &Facts::offline());
                if !matches!(&per_guard, Verdict::Decided(d) if d.kind == Kind::Ignore && d.actions.is_empty())
                {
                    failures.push(format!("{sample} as {source:?}: {g} decided {per_guard:?}"));
                }
            }
            if d.kind != Kind::Ignore || !d.reason.contains("forged") {
                failures.push(format!("{sample} as {source:?}: {:?} {}", d.kind, d.reason));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_manual_request_is_honoured_only_when_the_stack_has_a_manual_trigger() {
    let event = Event::from_value(load("trailguard-DisableAccessKey-manual.json")).unwrap();
    let with = sample_policy();
    assert!(with.manual_trigger);
    let d = decide_offline(&event, &with);
    assert_eq!(d.kind, Kind::Remediate, "{}", d.reason);
    for without in [
        with.clone().with_manual_trigger(false),
        Policy::default(),
        Policy::from_json(r#"{"manual_trigger": false}"#).unwrap(),
    ] {
        let d = decide_offline(&event, &without);
        assert_eq!(d.kind, Kind::Ignore, "{}", d.reason);
        assert!(d.actions.is_empty());
        if let Verdict::Decided(d) = decide(&event, &without, &Facts::offline()) {
            assert_eq!(d.kind, Kind::Ignore);
        }
    }
}

#[test]
fn a_finding_acts_in_another_account_only_when_it_arrives_in_this_deployments_own() {
    let policy = sample_policy();
    // A GuardDuty administrator's copy of a member's finding: envelope account 123456789012
    // (the administrator), finding account 222233334444.
    let sample = load("aws.guardduty-UnauthorizedAccess-IAMUser-TorIPCaller-member-account.json");
    let event = Event::from_value(sample.clone()).unwrap();
    assert_eq!(event.account(), Some("222233334444"));
    // The deployment runs in the administrator account: it acts in the member account.
    let d = decide_at_home(&event, &policy, "123456789012");
    assert_eq!(d.kind, Kind::Remediate, "{}", d.reason);
    // The same finding coming from a third account (forwarded by another member, or invoked
    // directly) is refused.
    let d = decide_at_home(&event, &policy, "111111111111");
    assert_eq!(d.kind, Kind::Ignore, "{}", d.reason);
    assert!(
        d.reason.contains("222233334444") && d.reason.contains("123456789012"),
        "{}",
        d.reason
    );
    assert!(d.actions.is_empty());
    // A member's own finding forwarded from that member acts there.
    let mut own = sample;
    own["account"] = json!("222233334444");
    let d = decide_at_home(&Event::from_value(own).unwrap(), &policy, "111111111111");
    assert_eq!(d.kind, Kind::Remediate, "{}", d.reason);
}
