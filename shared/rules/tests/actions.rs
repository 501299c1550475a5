//! Every action type is declared once (action.rs's `actions!` list): its name, its
//! operations, its inverse. These tests hold the declarations to what the code does: the
//! undo command of every action the samples plan is the declared inverse call, with every
//! field of the action in it, quoted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use trailguard_rules::action::{Inverse, Undo, ALL_ACTIONS};
use trailguard_rules::ask::{self, Ask};
use trailguard_rules::facts::World;
use trailguard_rules::{decide_guard, Action, Decider, Decision, Event, Facts, Guard, Policy};

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(events_dir().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn decide_with_world(guard: Guard, event: &Event, policy: &Policy, world: &World) -> Decision {
    ask::settle_in(world, &mut Ask::new(Facts::default()), |facts| {
        decide_guard(Decider::of(guard).unwrap(), event, policy, facts)
    })
    .unwrap_or_else(|s| Decision::ignore(format!("{guard}: {s}")))
}

/// `ModifyDBSnapshotAttribute` -> `modify-db-snapshot-attribute`, as the AWS CLI names it.
fn kebab(api: &str) -> String {
    let chars: Vec<char> = api.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let prev_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
        let acronym_ends = i > 0
            && chars[i - 1].is_ascii_uppercase()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
        if c.is_ascii_uppercase() && (prev_lower || acronym_ends) {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Every action the samples plan, by type.
fn planned() -> BTreeMap<&'static str, Vec<(String, Action)>> {
    let manifest: BTreeMap<String, Value> =
        serde_json::from_value(load("meta/manifest.json")).unwrap();
    let policy = Policy::from_json(&load("meta/policy.json").to_string()).unwrap();
    let world: World = serde_json::from_value(load("meta/world.json")).unwrap();
    let mut by_type: BTreeMap<&'static str, Vec<(String, Action)>> = BTreeMap::new();
    for (fixture, expected) in &manifest {
        let Ok(event) = Event::parse(&load(fixture)) else {
            continue; // malformed samples plan nothing; fixtures.rs pins their errors
        };
        for function in expected["routes_to"].as_array().into_iter().flatten() {
            let Some(guard) = function.as_str().and_then(Guard::from_function_name) else {
                continue;
            };
            let d = decide_with_world(guard, &event, &policy, &world);
            // A function's clients act only for its guard's declared action types (its
            // ACTION_MASK): a plan with another would fail where it is carried out.
            for a in &d.actions {
                assert!(
                    guard
                        .spec()
                        .actions
                        .iter()
                        .any(|i| std::ptr::eq(*i, a.info()) || i.type_name == a.info().type_name),
                    "{fixture}: {guard} plans {}, which it does not declare",
                    a.type_name()
                );
                assert_ne!(
                    a.bit() & trailguard_rules::action::mask_of(guard.spec().actions),
                    0,
                    "{fixture}: {guard}: {} outside its mask",
                    a.type_name()
                );
            }
            for a in d.actions {
                by_type
                    .entry(a.type_name())
                    .or_default()
                    .push((fixture.clone(), a));
            }
        }
    }
    by_type
}

/// A document an S3 action read before changing it (a block, an ACL, a policy).
const PREVIOUS: &str = r#"{"BlockPublicAcls":false,"IgnorePublicAcls":false,"BlockPublicPolicy":false,"RestrictPublicBuckets":false}"#;

#[test]
fn every_action_type_declares_an_inverse_its_plans_follow() {
    let planned = planned();
    let mut failures = Vec::new();
    // Every action type is planned by some sample, so its undo is tried on a real plan.
    for info in ALL_ACTIONS {
        if !planned.contains_key(info.type_name) {
            failures.push(format!("no sample plans {}", info.type_name));
        }
    }
    for info in ALL_ACTIONS {
        let instances = planned
            .get(info.type_name)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match info.inverse {
            Inverse::ReadOnly => {
                for (fixture, a) in instances {
                    if a.mutates() || a.undo(None, None).is_some() {
                        failures.push(format!(
                            "{fixture}: {} is declared read-only",
                            info.type_name
                        ));
                    }
                }
            }
            Inverse::None(why) => {
                if why.len() < 40 {
                    failures.push(format!(
                        "{}: the reason there is no undo is too thin: {why}",
                        info.type_name
                    ));
                }
            }
            Inverse::Calls(ops) => {
                // The AWS CLI names S3's calls under s3api, and S3 Control's under s3control;
                // OpenSearch's (IAM prefix es) under opensearch, EFS's under efs, a key's life
                // (the key port's client) under kms.
                let commands: BTreeSet<String> = ops
                    .iter()
                    .flat_map(|o| {
                        let service = o.client();
                        let cli: &[&str] = match service {
                            "s3" => &["s3api"],
                            "es" => &["opensearch"],
                            "elasticfilesystem" => &["efs"],
                            "kmskeys" => &["kms"],
                            _ => &[service],
                        };
                        cli.iter()
                            .map(|c| format!("aws {c} {} ", kebab(o.api)))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                for (fixture, a) in instances {
                    // An S3 undo writes back the document read before the change: as done.
                    let a = &if a.removed_is_previous() {
                        a.narrowed(&[PREVIOUS.to_string()])
                    } else {
                        a.clone()
                    };
                    match a.undo(None, Some("eu-west-1")) {
                        Some(Undo::Command(c)) => {
                            if !commands.iter().any(|p| c.starts_with(p.as_str())) {
                                failures.push(format!(
                                    "{fixture}: {}'s undo `{c}` is none of its declared inverse calls {commands:?}",
                                    info.type_name
                                ));
                            }
                            let regional = !c.starts_with("aws iam ");
                            if regional != c.ends_with(" --region eu-west-1") {
                                failures.push(format!("{fixture}: `{c}`: --region belongs to every regional call and to no IAM call"));
                            }
                        }
                        other => failures.push(format!(
                            "{fixture}: {} ({}) has no undo command: {other:?}",
                            info.type_name,
                            a.describe()
                        )),
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn undo_commands_name_exactly_what_was_done() {
    let planned = planned();
    let one = |t: &str| -> (String, String) {
        let (fixture, a) = planned
            .get(t)
            .and_then(|v| v.first())
            .unwrap_or_else(|| panic!("no sample plans {t}"));
        match a.undo(None, Some("us-east-1")) {
            Some(Undo::Command(c)) => (fixture.clone(), c),
            other => panic!("{fixture}: {t}: {other:?}"),
        }
    };
    let (f, c) = one("revoke_security_group_rules");
    assert!(
        c.starts_with("aws ec2 authorize-security-group-")
            && c.contains(r#"--ip-permissions '[{"#)
            && c.contains(r#""IpProtocol":"tcp""#),
        "{f}: {c}"
    );
    let (f, c) = one("deactivate_access_key");
    assert!(
        c.starts_with("aws iam update-access-key --user-name ") && c.ends_with("--status Active"),
        "{f}: {c}"
    );
    let (f, c) = one("delete_network_acl_entry");
    assert!(
        c.starts_with("aws ec2 create-network-acl-entry --network-acl-id acl-")
            && c.contains("--rule-action allow"),
        "{f}: {c}"
    );
    let (f, c) = one("start_logging");
    assert!(
        c.starts_with("aws cloudtrail stop-logging --name "),
        "{f}: {c}"
    );
}

#[test]
fn undo_commands_quote_what_came_from_the_event() {
    use trailguard_rules::action::AuthorizePermissions;
    use trailguard_rules::net::Protocol;
    use trailguard_rules::Permission;
    let a: Action = AuthorizePermissions {
        group_id: "sg-0123456789abcdef0".into(),
        egress: false,
        permissions: vec![Permission {
            protocol: Protocol::Tcp,
            from_port: Some(22),
            to_port: Some(22),
            cidr_ipv4: Some("10.0.0.0/8".into()),
            cidr_ipv6: None,
            prefix_list_id: None,
            source_group_id: None,
            description: Some("it's $(id); `rm -rf /`".into()),
        }],
    }
    .into();
    let Some(Undo::Command(c)) = a.undo(None, None) else {
        panic!("no command")
    };
    // The description stays inside one single-quoted word: its own quote is closed,
    // escaped and reopened, and nothing else ends the word.
    assert!(c.contains(r#"it'\''s $(id); `rm -rf /`"#), "{c}");
    assert_eq!(c.matches('\'').count(), 5, "{c}");
}

#[test]
fn the_cli_names_of_inverse_calls() {
    assert_eq!(
        kebab("ModifyDBSnapshotAttribute"),
        "modify-db-snapshot-attribute"
    );
    assert_eq!(
        kebab("AuthorizeSecurityGroupIngress"),
        "authorize-security-group-ingress"
    );
    assert_eq!(kebab("UntagUser"), "untag-user");
}

#[test]
fn an_undo_runs_only_in_the_account_it_was_done_in() {
    let planned = planned();
    let (fixture, a) = &planned["start_logging"][0];
    let Some(Undo::Command(c)) = a.undo(Some("123456789012"), Some("us-east-1")) else {
        panic!("{fixture}: no command")
    };
    assert!(
        c.starts_with(
            r#"[ "$(aws sts get-caller-identity --query Account --output text)" = 123456789012 ] && aws cloudtrail stop-logging --name "#
        ),
        "{fixture}: {c}"
    );
}

#[test]
fn an_undo_puts_back_only_what_the_call_took_away() {
    use trailguard_rules::action::UnshareSnapshot;
    let a: Action = UnshareSnapshot {
        snapshot_id: "snap-0123456789abcdef0".into(),
        accounts: vec!["999988887777".into()],
        public: true,
    }
    .into();
    // Someone made it private before trailguard acted: only the account was still there.
    let done = a.narrowed(&["999988887777".into()]);
    let Some(Undo::Command(c)) = done.undo(None, None) else {
        panic!("no command")
    };
    assert!(
        c.contains("--user-ids 999988887777") && !c.contains("all"),
        "{c}"
    );
    let Some(Undo::Command(c)) = a.narrowed(&["all".into()]).undo(None, None) else {
        panic!("no command")
    };
    assert!(
        c.ends_with("--group-names all") && !c.contains("--user-ids"),
        "{c}"
    );
}

#[test]
fn no_undo_command_reads_a_file_the_event_names() {
    use trailguard_rules::action::RevokePermissions;
    use trailguard_rules::net::Protocol;
    use trailguard_rules::Permission;
    let a: Action = RevokePermissions {
        group_id: None,
        group_name: Some("file:///home/u/.aws/credentials".into()),
        egress: false,
        permissions: vec![Permission {
            protocol: Protocol::Tcp,
            from_port: Some(22),
            to_port: Some(22),
            cidr_ipv4: Some("0.0.0.0/0".into()),
            cidr_ipv6: None,
            prefix_list_id: None,
            source_group_id: None,
            description: None,
        }],
    }
    .into();
    assert!(
        matches!(a.undo(None, None), Some(Undo::None(_))),
        "{:?}",
        a.undo(None, None)
    );
}

#[test]
fn an_s3_undo_writes_back_the_document_read_before_the_change() {
    use trailguard_rules::action::{PutBucketPublicAccessBlock, RestrictBucketPolicy};
    let block: Action = PutBucketPublicAccessBlock {
        bucket: "acme-exports".into(),
        flags: vec!["BlockPublicAcls".into()],
        previous: None,
    }
    .into();
    // Not done: nothing says what was there.
    assert!(matches!(block.undo(None, None), Some(Undo::None(_))));
    let Some(Undo::Command(c)) = block.narrowed(&[PREVIOUS.into()]).undo(None, None) else {
        panic!("no command")
    };
    assert_eq!(
        c,
        format!("aws s3api put-public-access-block --bucket acme-exports --public-access-block-configuration '{PREVIOUS}'")
    );
    // There was no block: the undo deletes the one put.
    let Some(Undo::Command(c)) = block.narrowed(&[String::new()]).undo(None, None) else {
        panic!("no command")
    };
    assert_eq!(
        c,
        "aws s3api delete-public-access-block --bucket acme-exports"
    );
    let policy: Action = RestrictBucketPolicy {
        bucket: "acme-exports".into(),
        principals: vec!["*".into()],
        untrusted_values: vec![],
        previous: None,
    }
    .into();
    let before = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Sid":"it's"}]}"#;
    let Some(Undo::Command(c)) = policy.narrowed(&[before.into()]).undo(None, None) else {
        panic!("no command")
    };
    assert_eq!(
        c,
        r#"aws s3api put-bucket-policy --bucket acme-exports --policy '{"Statement":[{"Effect":"Allow","Principal":"*","Sid":"it'\''s"}]}'"#
    );
}
