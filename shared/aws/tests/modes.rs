//! One place decides a decision's guard, mode and scope (`trailguard_rules::settle`): an
//! account `mode_by_account` sets to dry-run is changed neither by an event, nor by the
//! sweep, nor by a manual trigger; the same policy with another account in dry-run changes
//! it (so each test can fail).

mod fakes;

use std::sync::Arc;

use fakes::*;
use serde_json::json;
use trailguard_rules::sweep::State;
use trailguard_rules::{GroupFacts, Mode};

/// The account the fakes (and the samples) are in.
const ACCOUNT: &str = "123456789012";
const ANOTHER: &str = "210987654321";

fn dry_run_in(account: &str, extra: serde_json::Value) -> String {
    let mut p = json!({"mode_by_account": {account: "dry-run"}});
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    p.to_string()
}

fn open_group() -> State {
    State::SecurityGroup(GroupFacts {
        group_id: "sg-0123456789abcdef0".into(),
        group_name: None,
        tags: Default::default(),
        rules: serde_json::from_value(json!([{"rule_id": "sgr-0123456789abcdef0", "egress": false,
            "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ipv4": "0.0.0.0/0"}]))
        .unwrap(),
    })
}

fn mutating(f: &Fake) -> Vec<String> {
    f.ops()
        .into_iter()
        .filter(|o| {
            !matches!(
                o.as_str(),
                "ListGroups"
                    | "DescribeGroup"
                    | "DescribeRules"
                    | "GroupState"
                    | "KeyOwner"
                    | "LookupEvents"
                    | "UserHasTag"
            )
        })
        .collect()
}

#[tokio::test]
async fn a_sweep_does_not_change_an_account_set_to_dry_run() {
    for (account, changes) in [(ACCOUNT, false), (ANOTHER, true)] {
        let f = Arc::new(Fake::new());
        *f.state.lock().unwrap() = vec![open_group()];
        let r = deps(&f, "revert-security-group", &dry_run_in(account, json!({})))
            .sweep(None)
            .await
            .unwrap();
        let expected = if changes { Mode::Enforce } else { Mode::DryRun };
        assert_eq!(r.mode, expected, "dry-run in {account}: the sweep's mode");
        assert_eq!(
            mutating(&f).is_empty(),
            !changes,
            "dry-run in {account}: the sweep called {:?}",
            f.ops()
        );
        assert_eq!(r.count("dry_run"), u64::from(!changes), "{account}");
        assert_eq!(r.count("done"), u64::from(changes), "{account}");
        for finding in &r.findings {
            assert_eq!(
                finding.report.mode, expected,
                "{account}: {}",
                finding.resource
            );
        }
    }
}

#[tokio::test]
async fn an_event_does_not_change_an_account_set_to_dry_run() {
    for (account, changes) in [(ACCOUNT, false), (ANOTHER, true)] {
        let f = Arc::new(Fake::new());
        let r = deps(&f, "revert-security-group", &dry_run_in(account, json!({})))
            .process(load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json"))
            .await
            .unwrap();
        assert_eq!(r.mode == Mode::Enforce, changes, "dry-run in {account}");
        assert_eq!(
            mutating(&f).is_empty(),
            !changes,
            "dry-run in {account}: the event made {:?}",
            f.ops()
        );
    }
}

#[tokio::test]
async fn a_manual_trigger_does_not_change_an_account_set_to_dry_run() {
    for (account, changes) in [(ACCOUNT, false), (ANOTHER, true)] {
        let f = Arc::new(Fake::new());
        let r = deps(
            &f,
            "disable-compromised-key",
            &dry_run_in(account, json!({"manual_trigger": true})),
        )
        .process(load("trailguard-DisableAccessKey-manual.json"))
        .await
        .unwrap();
        assert_eq!(r.mode == Mode::Enforce, changes, "dry-run in {account}");
        assert_eq!(
            f.ops().iter().any(|o| o == "DeactivateKey"),
            changes,
            "dry-run in {account}: the manual trigger made {:?}",
            f.ops()
        );
    }
}
