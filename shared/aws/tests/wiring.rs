//! A function that can plan an action, look up a fact or sweep a kind has the client for it
//! wired, or its cold start fails naming the builder to add (each function's own test runs
//! the same check on its `wire`).

use trailguard_aws::{wiring_problems, Guard, Sdk};

#[test]
fn a_function_without_clients_is_told_which_to_wire() {
    for guard in Guard::all() {
        let problems = wiring_problems(guard.spec(), |_| Sdk::none());
        let needs_clients = !guard.spec().actions.is_empty()
            || !guard.spec().facts.is_empty()
            || !guard.spec().sweeps.is_empty();
        assert_eq!(!problems.is_empty(), needs_clients, "{guard}: {problems:?}");
        for p in &problems {
            assert!(
                p.starts_with(guard.function_name()) && p.contains("add `.with_"),
                "{guard}: {p}"
            );
        }
    }
    let sg = Guard::from_function_name("revert-security-group").unwrap();
    assert_eq!(
        wiring_problems(sg.spec(), |sdk| Sdk::none().with_ledger(sdk)),
        [
            "revert-security-group needs a ec2 client (action revoke_security_group_rules, \
          action revoke_security_group_permissions, action authorize_security_group_permissions, \
          action remove_prefix_list_entries, fact SecurityGroup, fact SecurityGroupRules, \
          fact SecurityGroupState, fact PrefixList, sweep of security groups) and main.rs \
          wires none: add `.with_ec2(sdk)`"
        ]
    );
}
