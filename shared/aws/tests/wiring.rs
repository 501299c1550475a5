//! A function that can plan an action, look up a fact or sweep a kind has the client for it
//! wired, and every function the one that reads the account's alias for its notices, or its
//! cold start fails naming the builder to add (each function's own test runs the same check
//! on its `wire`).

use trailguard_aws::{wiring_problems, Guard, Sdk};

#[test]
fn a_function_without_clients_is_told_which_to_wire() {
    for guard in Guard::all() {
        let problems = wiring_problems(guard.spec(), |_| Sdk::none());
        let needs_clients = !guard.spec().actions.is_empty()
            || !guard.spec().facts.is_empty()
            || !guard.spec().sweeps.is_empty();
        let alias = format!(
            "{} needs an IAM client for the account's alias in its notices and main.rs wires \
             none: add `.with_account_alias(sdk)`",
            guard.function_name()
        );
        assert_eq!(problems.last(), Some(&alias), "{guard}");
        assert_eq!(problems.len() > 1, needs_clients, "{guard}: {problems:?}");
        assert_eq!(
            wiring_problems(guard.spec(), |sdk| Sdk::none().with_account_alias(sdk)).len(),
            problems.len() - 1,
            "{guard}"
        );
        for p in &problems {
            assert!(
                p.starts_with(guard.function_name()) && p.contains("add `.with_"),
                "{guard}: {p}"
            );
        }
    }
    let sg = Guard::from_function_name("revert-security-group").unwrap();
    assert_eq!(
        wiring_problems(sg.spec(), |sdk| Sdk::none()
            .with_account_alias(sdk)
            .with_ledger(sdk)),
        [
            "revert-security-group needs a ec2 client (action revoke_security_group_rules, \
          action revoke_security_group_permissions, action authorize_security_group_permissions, \
          action remove_prefix_list_entries, fact SecurityGroup, fact SecurityGroupRules, \
          fact SecurityGroupState, fact PrefixList, sweep of security groups) and main.rs \
          wires none: add `.with_ec2(sdk)`"
        ]
    );
}
