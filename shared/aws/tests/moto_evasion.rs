//! Evasions against moto (issue 22): rules that open a group through a managed prefix list,
//! and prefix lists opened to the internet.

mod common;

use aws_sdk_ec2::types::{AddPrefixListEntry, Filter, IpPermission, PrefixListId};
use common::*;
use serde_json::json;

async fn prefix_list(ec2: &aws_sdk_ec2::Client, name: &str, cidrs: &[&str]) -> String {
    let mut req = ec2
        .create_managed_prefix_list()
        .prefix_list_name(name)
        .max_entries(10)
        .address_family("IPv4");
    for c in cidrs {
        req = req.entries(AddPrefixListEntry::builder().cidr(*c).build());
    }
    req.send()
        .await
        .unwrap()
        .prefix_list()
        .unwrap()
        .prefix_list_id()
        .unwrap()
        .to_string()
}

/// (rule id, from port, prefix list id) of the group's ingress rules.
async fn ingress(ec2: &aws_sdk_ec2::Client, group: &str) -> Vec<(String, i32, Option<String>)> {
    let out = ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group).build())
        .send()
        .await
        .unwrap();
    let mut v: Vec<_> = out
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| {
            (
                r.security_group_rule_id().unwrap().to_string(),
                r.from_port().unwrap_or(-1),
                r.prefix_list_id().map(String::from),
            )
        })
        .collect();
    v.sort();
    v
}

fn from_list(port: i32, list: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .prefix_list_ids(PrefixListId::builder().prefix_list_id(list).build())
        .build()
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_rule_from_a_prefix_list_holding_the_internet_is_revoked_alone() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.3.0.0/16").await;
    let group = create_group(&ec2, &vpc, &unique("web"), &[]).await;
    let open = prefix_list(&ec2, &unique("partners"), &["198.51.100.0/24", "0.0.0.0/0"]).await;
    let narrow = prefix_list(&ec2, &unique("offices"), &["198.51.100.0/24"]).await;
    // SSH from the open list, and from the narrow one: only the first is the internet.
    for perm in [from_list(22, &open), from_list(3389, &narrow)] {
        ec2.authorize_security_group_ingress()
            .group_id(&group)
            .ip_permissions(perm)
            .send()
            .await
            .unwrap();
    }
    let before = ingress(&ec2, &group).await;
    let rule = |port: i32| before.iter().find(|r| r.1 == port).unwrap().clone();
    let (open_rule, narrow_rule) = (rule(22), rule(3389));
    assert_eq!(open_rule.2.as_deref(), Some(open.as_str()));

    let mut ev = sample("aws.ec2-AuthorizeSecurityGroupIngress-prefix-list-public.json");
    let d = &mut ev["detail"];
    d["requestParameters"]["groupId"] = json!(group);
    d["requestParameters"]["ipPermissions"]["items"][0]["prefixListIds"]["items"][0]
        ["prefixListId"] = json!(open);
    let item = &mut d["responseElements"]["securityGroupRuleSet"]["items"][0];
    item["groupId"] = json!(group);
    item["securityGroupRuleId"] = json!(open_rule.0);
    item["prefixListId"] = json!(open);
    let deps = ec2_deps(&sdk, "revert-security-group", "{}", None);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["decision"], "remediate", "{r}");
    assert_eq!(r["actions"][0]["rule_ids"], json!([open_rule.0]), "{r}");
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(ingress(&ec2, &group).await, vec![narrow_rule.clone()]);
    let again = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // The same rule from the narrow list is left alone.
    let mut benign = ev.clone();
    let d = &mut benign["detail"];
    d["requestParameters"]["ipPermissions"]["items"][0]["fromPort"] = json!(3389);
    d["requestParameters"]["ipPermissions"]["items"][0]["toPort"] = json!(3389);
    d["requestParameters"]["ipPermissions"]["items"][0]["prefixListIds"]["items"][0]
        ["prefixListId"] = json!(narrow);
    let item = &mut d["responseElements"]["securityGroupRuleSet"]["items"][0];
    item["securityGroupRuleId"] = json!(narrow_rule.0);
    item["prefixListId"] = json!(narrow);
    item["fromPort"] = json!(3389);
    item["toPort"] = json!(3389);
    let r = process(&deps, benign).await.unwrap();
    assert_eq!(r["decision"], "ignore", "{r}");
    assert_eq!(ingress(&ec2, &group).await, vec![narrow_rule]);
}

async fn entries(ec2: &aws_sdk_ec2::Client, list: &str) -> Vec<String> {
    let out = ec2
        .get_managed_prefix_list_entries()
        .prefix_list_id(list)
        .send()
        .await
        .unwrap();
    let mut v: Vec<String> = out
        .entries()
        .iter()
        .filter_map(|e| e.cidr().map(String::from))
        .collect();
    v.sort();
    v
}

async fn version(ec2: &aws_sdk_ec2::Client, list: &str) -> i64 {
    ec2.describe_managed_prefix_lists()
        .prefix_list_ids(list)
        .send()
        .await
        .unwrap()
        .prefix_lists()[0]
        .version()
        .unwrap()
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_internet_added_to_a_prefix_list_is_taken_out_and_nothing_else() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let list = prefix_list(&ec2, &unique("offices"), &["198.51.100.0/24"]).await;
    let before = version(&ec2, &list).await;
    // The attacker's call: the internet and a narrow range, in one change.
    ec2.modify_managed_prefix_list()
        .prefix_list_id(&list)
        .current_version(before)
        .add_entries(AddPrefixListEntry::builder().cidr("0.0.0.0/0").build())
        .add_entries(AddPrefixListEntry::builder().cidr("192.0.2.0/28").build())
        .send()
        .await
        .unwrap();
    let mut ev = sample("aws.ec2-ModifyManagedPrefixList-add-world.json");
    let req = &mut ev["detail"]["requestParameters"]["ModifyManagedPrefixListRequest"];
    req["PrefixListId"] = json!(list);
    req["CurrentVersion"] = json!(before);
    let deps = ec2_deps(&sdk, "revert-security-group", "{}", None);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(
        entries(&ec2, &list).await,
        ["192.0.2.0/28", "198.51.100.0/24"]
    );
    let again = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // trailguard undo: the entry taken out is added back, once; the list is as the
    // attacker's call left it.
    assert_eq!(
        r["actions"][0]["reversal"]["call"], "add_prefix_list_entries",
        "{r}"
    );
    let planned = common::undo(&sdk, &r, true).await;
    assert_eq!(undo_outcomes(&planned), ["would_run"], "{planned}");
    assert_eq!(entries(&ec2, &list).await.len(), 2);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(
        entries(&ec2, &list).await,
        ["0.0.0.0/0", "192.0.2.0/28", "198.51.100.0/24"]
    );
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    // A list deleted since: refused, nothing made.
    ec2.delete_managed_prefix_list()
        .prefix_list_id(&list)
        .send()
        .await
        .unwrap();
    let refused = common::undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("no longer exists")),
        "{refused}"
    );

    // A list that held 0.0.0.0/0 before the call keeps it: the call did not add it.
    let open = prefix_list(&ec2, &unique("open"), &["0.0.0.0/0"]).await;
    let v = version(&ec2, &open).await;
    ec2.modify_managed_prefix_list()
        .prefix_list_id(&open)
        .current_version(v)
        .add_entries(AddPrefixListEntry::builder().cidr("0.0.0.0/0").build())
        .send()
        .await
        .unwrap();
    let req = &mut ev["detail"]["requestParameters"]["ModifyManagedPrefixListRequest"];
    req["PrefixListId"] = json!(open);
    req["CurrentVersion"] = json!(v);
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "already_done", "{r}");
    assert_eq!(entries(&ec2, &open).await, ["0.0.0.0/0"]);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_subnet_moved_to_an_acl_open_to_the_internet_is_told() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.4.0.0/16").await;
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.4.1.0/24")
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    let acl = ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .network_acl()
        .unwrap()
        .network_acl_id()
        .unwrap()
        .to_string();
    ec2.create_network_acl_entry()
        .network_acl_id(&acl)
        .rule_number(100)
        .protocol("-1")
        .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
        .egress(false)
        .cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let current = ec2
        .describe_network_acls()
        .filters(
            Filter::builder()
                .name("association.subnet-id")
                .values(&subnet)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let association = current.network_acls()[0]
        .associations()
        .iter()
        .find(|a| a.subnet_id() == Some(subnet.as_str()))
        .unwrap()
        .network_acl_association_id()
        .unwrap()
        .to_string();
    let new = ec2
        .replace_network_acl_association()
        .association_id(&association)
        .network_acl_id(&acl)
        .send()
        .await
        .unwrap()
        .new_association_id()
        .unwrap()
        .to_string();
    let mut ev = sample("aws.ec2-ReplaceNetworkAclAssociation-open-acl.json");
    ev["detail"]["requestParameters"] = json!({"associationId": association, "networkAclId": acl});
    ev["detail"]["responseElements"]["newAssociationId"] = json!(new);
    let deps = ec2_deps(&sdk, "revert-network-acl", "{}", None);
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["decision"], "notify", "{r}");
    assert!(r["actions"].as_array().unwrap().is_empty(), "{r}");
    let text = r["notice"].to_string();
    assert!(
        text.contains(&acl) && text.contains("rule 100: all traffic from 0.0.0.0/0"),
        "{text}"
    );
}
