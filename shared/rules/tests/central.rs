//! A central deployment's decisions: which accounts are acted in, in which mode, and that
//! the member role's changes are trailguard's own only in member accounts.

use std::path::PathBuf;

use serde_json::{json, Value};
use trailguard_rules::event::is_region_name;
use trailguard_rules::{decide_guard_offline, Decider, Event, Kind, Mode, Policy};

fn load(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The open-SSH sample, made in `account`.
fn open_ssh_in(account: &str) -> Event {
    let mut v = load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json");
    v["account"] = json!(account);
    v["detail"]["recipientAccountId"] = json!(account);
    Event::from_value(v).unwrap()
}

fn sg() -> &'static Decider {
    Decider::from_function_name("revert-security-group").unwrap()
}

fn policy(v: Value) -> Policy {
    Policy::from_json(&v.to_string()).unwrap()
}

#[test]
fn only_the_policys_accounts_are_acted_in() {
    let p = policy(
        json!({"accounts": {"include": ["111111111111", "222222222222"], "exclude": ["222222222222"]}}),
    );
    let d = decide_guard_offline(sg(), &open_ssh_in("111111111111"), &p);
    assert_eq!(d.kind, Kind::Remediate, "{d:?}");
    let d = decide_guard_offline(sg(), &open_ssh_in("222222222222"), &p);
    assert_eq!(d.kind, Kind::Ignore);
    assert!(
        d.reason.contains("222222222222") && d.reason.contains("accounts.exclude"),
        "{}",
        d.reason
    );
    let d = decide_guard_offline(sg(), &open_ssh_in("333333333333"), &p);
    assert_eq!(d.kind, Kind::Ignore);
    assert!(d.reason.contains("accounts.include"), "{}", d.reason);
    // The default takes every account; `*` in exclude takes none.
    let d = decide_guard_offline(sg(), &open_ssh_in("333333333333"), &Policy::default());
    assert_eq!(d.kind, Kind::Remediate);
    let none = policy(json!({"accounts": {"exclude": ["*"]}}));
    assert_eq!(
        decide_guard_offline(sg(), &open_ssh_in("333333333333"), &none).kind,
        Kind::Ignore
    );
}

#[test]
fn per_account_modes_override_the_guards_but_not_a_dry_run_ceiling() {
    let p = policy(
        json!({"mode": {"default": "enforce"}, "mode_by_account": {"444444444444": "dry-run", "555555555555": "enforce"}}),
    );
    let d = decide_guard_offline(sg(), &open_ssh_in("444444444444"), &p);
    assert_eq!((d.kind, d.mode), (Kind::Remediate, Mode::DryRun));
    let d = decide_guard_offline(sg(), &open_ssh_in("666666666666"), &p);
    assert_eq!(d.mode, Mode::Enforce);
    let sandbox = policy(
        json!({"mode": {"default": "dry-run"}, "mode_by_account": {"555555555555": "enforce"}}),
    );
    assert_eq!(
        decide_guard_offline(sg(), &open_ssh_in("555555555555"), &sandbox).mode,
        Mode::Enforce
    );
    let ceiling = sandbox.with_mode_ceiling(Mode::DryRun);
    assert_eq!(
        decide_guard_offline(sg(), &open_ssh_in("555555555555"), &ceiling).mode,
        Mode::DryRun
    );
}

#[test]
fn scope_errors_name_the_field() {
    for (policy, field) in [
        (
            json!({"accounts": {"include": ["*", "12345"]}}),
            "accounts.include[1]",
        ),
        (
            json!({"accounts": {"exclude": ["abcdefghijkl"]}}),
            "accounts.exclude[0]",
        ),
        (
            json!({"mode_by_account": {"1234": "enforce"}}),
            "mode_by_account.1234",
        ),
        (
            json!({"mode_by_account": {"123456789012": "yolo"}}),
            "mode_by_account.123456789012",
        ),
        (json!({"accounts": {"includes": []}}), "accounts"),
    ] {
        let e = Policy::from_json(&policy.to_string())
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{policy}: {e}");
    }
}

#[test]
fn the_member_roles_changes_are_trailguards_own_only_in_member_accounts_of_a_central_deployment() {
    // The sample: the member role's session in member account 222233334444.
    let sample = Event::from_value(load(
        "aws.ec2-AuthorizeSecurityGroupIngress-member-role.json",
    ))
    .unwrap();
    let r = sample.cloudtrail().unwrap();
    // A central deployment running in 111122223333: its member role, in a member account, is
    // trailguard's own (the pattern leaves it out, and so does the code).
    let central = Policy::default().with_member_role("trailguard-member", Some("111122223333"));
    assert_eq!(
        trailguard_rules::guards::member_role_session(r, &central).as_deref(),
        Some("arn:aws:iam::222233334444:role/trailguard-member")
    );
    let d = decide_guard_offline(sg(), &sample, &central);
    assert_eq!(d.kind, Kind::Ignore, "{d:?}");
    // The same role name in the central account itself is anyone's: acted on.
    let home = Policy::default().with_member_role("trailguard-member", Some("222233334444"));
    assert_eq!(
        trailguard_rules::guards::member_role_session(r, &home),
        None
    );
    assert_eq!(
        decide_guard_offline(sg(), &sample, &home).kind,
        Kind::Remediate
    );
    // Not a central deployment (no member role), or its own account unknown: a role named
    // `trailguard-member` is anyone's in every account.
    assert_eq!(
        decide_guard_offline(sg(), &sample, &Policy::default()).kind,
        Kind::Remediate
    );
    let unknown = Policy::default().with_member_role("trailguard-member", None);
    assert_eq!(
        decide_guard_offline(sg(), &sample, &unknown).kind,
        Kind::Remediate
    );
    // A role of another name is not trailguard's either.
    let other = Policy::default().with_member_role("someone-else", Some("111122223333"));
    assert_eq!(
        decide_guard_offline(sg(), &sample, &other).kind,
        Kind::Remediate
    );
    // `own_roles` names roles exactly: the role in this account is own, in another it is not.
    let exact = policy(json!({"own_roles": ["arn:aws:iam::222233334444:role/trailguard-member"]}));
    assert_eq!(
        decide_guard_offline(sg(), &sample, &exact).kind,
        Kind::Ignore
    );
    let pinned = policy(json!({"own_roles": ["arn:aws:iam::999999999999:role/trailguard-member"]}));
    assert_eq!(
        decide_guard_offline(sg(), &sample, &pinned).kind,
        Kind::Remediate
    );
    assert!(!trailguard_rules::guards::is_own_role(
        r,
        "arn:aws:iam::*:role/trailguard-member"
    ));
    // A name alone (any account), or a glob, is refused by the policy, naming the field.
    for bad in [
        "arn:aws:iam::*:role/trailguard-member",
        "arn:aws:iam::222233334444:role/trailguard-*",
    ] {
        let e = Policy::from_json(&json!({"own_roles": [bad]}).to_string())
            .unwrap_err()
            .to_string();
        assert!(e.contains("own_roles[0]"), "{bad}: {e}");
    }
}

#[test]
fn accounts_and_regions_that_cannot_be_are_errors_naming_the_field() {
    let mut v = load("aws.ec2-AuthorizeSecurityGroupIngress-open-ssh.json");
    assert!(Event::from_value(v.clone()).unwrap().check_target().is_ok());
    v["account"] = json!("12345678901X");
    let e = Event::from_value(v.clone())
        .unwrap()
        .check_target()
        .unwrap_err()
        .to_string();
    assert!(e.contains("`account`") && e.contains("12345678901X"), "{e}");
    v["account"] = json!("123456789012");
    v["region"] = json!("../../etc");
    let e = Event::from_value(v)
        .unwrap()
        .check_target()
        .unwrap_err()
        .to_string();
    assert!(e.contains("`region`"), "{e}");
    for ok in [
        "us-east-1",
        "eu-west-1",
        "us-gov-west-1",
        "ap-southeast-5",
        "il-central-1",
        "us-isob-east-1",
    ] {
        assert!(is_region_name(ok), "{ok}");
    }
    for bad in [
        "",
        "us-east",
        "us-east-01",
        "US-EAST-1",
        "us_east_1",
        "eu-west-1a",
        "x-y-1",
        "us--east-1",
    ] {
        assert!(!is_region_name(bad), "{bad}");
    }
}
