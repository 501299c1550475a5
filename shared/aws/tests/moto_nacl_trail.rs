//! revert-network-acl and guard-cloudtrail against moto.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_open_nacl_entry_is_deleted_once() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.1.0.0/16").await;
    let acl = create_acl(&ec2, &vpc).await;
    allow_tcp_entry(&ec2, &acl, 90, "0.0.0.0/0", (22, 22)).await;
    allow_tcp_entry(&ec2, &acl, 200, "0.0.0.0/0", (1024, 65535)).await;
    let mut ev = sample("aws.ec2-CreateNetworkAclEntry-open-ssh.json");
    ev["detail"]["requestParameters"]["networkAclId"] = json!(acl);
    let deps = ec2_deps(&sdk, "revert-network-acl", "{}", None);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let numbers = |acls: aws_sdk_ec2::operation::describe_network_acls::DescribeNetworkAclsOutput| -> Vec<i32> {
        acls.network_acls()[0].entries().iter().filter(|e| e.egress() == Some(false)).filter_map(|e| e.rule_number()).collect()
    };
    let after = numbers(
        ec2.describe_network_acls()
            .network_acl_ids(&acl)
            .send()
            .await
            .unwrap(),
    );
    assert!(!after.contains(&90) && after.contains(&200), "{after:?}");
    for _ in 0..3 {
        let again = process(&deps, ev.clone()).await.unwrap();
        assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");
    }
    // Someone puts entry 90 back as a narrow rule by hand; the old event, redriven, deletes
    // nothing: the entry at that number is no longer the one the event made.
    allow_tcp_entry(&ec2, &acl, 90, "10.0.0.0/8", (22, 22)).await;
    let redriven = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(
        redriven["actions"][0]["outcome"], "already_done",
        "{redriven}"
    );
    assert!(
        redriven.to_string().contains("was replaced since"),
        "{redriven}"
    );
    let kept = numbers(
        ec2.describe_network_acls()
            .network_acl_ids(&acl)
            .send()
            .await
            .unwrap(),
    );
    assert!(kept.contains(&90), "{kept:?}");
    let mut eph = sample("aws.ec2-CreateNetworkAclEntry-ephemeral-ports.json");
    eph["detail"]["requestParameters"]["networkAclId"] = json!(acl);
    assert_eq!(process(&deps, eph).await.unwrap()["decision"], "ignore");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn stopped_logging_is_started_again() {
    let sdk = sdk().await;
    let s3 = create_bucket();
    let ct = aws_sdk_cloudtrail::Client::new(&sdk);
    let name = unique("management-events");
    ct.create_trail()
        .name(&name)
        .s3_bucket_name(&s3)
        .send()
        .await
        .unwrap();
    ct.start_logging().name(&name).send().await.unwrap();
    ct.stop_logging().name(&name).send().await.unwrap();
    assert_eq!(
        ct.get_trail_status()
            .name(&name)
            .send()
            .await
            .unwrap()
            .is_logging(),
        Some(false)
    );
    let mut ev = sample("aws.cloudtrail-StopLogging-by-name.json");
    ev["detail"]["requestParameters"]["name"] = json!(name);
    // The sample's caller also trips the long-term-key guard; this function only sees its own.
    let deps = trail_deps(&sdk, "{}", None);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_eq!(r["actions"].as_array().unwrap().len(), 1);
    assert_eq!(
        ct.get_trail_status()
            .name(&name)
            .send()
            .await
            .unwrap()
            .is_logging(),
        Some(true)
    );
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");

    // trailguard undo: the trail stops logging again, as the remediation found it; again,
    // nothing to undo; a trail deleted since refuses the undo.
    let logging = |ct: aws_sdk_cloudtrail::Client, name: String| async move {
        ct.get_trail_status()
            .name(name)
            .send()
            .await
            .unwrap()
            .is_logging()
    };
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(logging(ct.clone(), name.clone()).await, Some(false));
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    ct.delete_trail().name(&name).send().await.unwrap();
    let undone = common::undo(&sdk, &r, false).await;
    assert!(
        undone["refused"]
            .as_str()
            .is_some_and(|w| w.contains("no longer exists")),
        "{undone}"
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn management_events_recorded_read_only_are_recorded_in_full_again() {
    use aws_sdk_cloudtrail::types::{DataResource, EventSelector, ReadWriteType};
    let sdk = sdk().await;
    let s3 = create_bucket();
    let ct = aws_sdk_cloudtrail::Client::new(&sdk);
    let name = unique("management-events");
    ct.create_trail()
        .name(&name)
        .s3_bucket_name(&s3)
        .send()
        .await
        .unwrap();
    let data = DataResource::builder()
        .r#type("AWS::S3::Object")
        .values("arn:aws:s3:::payroll-exports/")
        .build();
    // The attacker's call: management reads only, the data selector kept.
    ct.put_event_selectors()
        .trail_name(&name)
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::ReadOnly)
                .include_management_events(true)
                .data_resources(data.clone())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut ev = sample("aws.cloudtrail-PutEventSelectors-read-only.json");
    ev["detail"]["requestParameters"]["trailName"] = json!(name);
    let deps = trail_deps(&sdk, "{}", None);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let after = ct
        .get_event_selectors()
        .trail_name(&name)
        .send()
        .await
        .unwrap();
    let selectors = after.event_selectors();
    assert_eq!(selectors.len(), 1, "{selectors:?}");
    assert_eq!(selectors[0].read_write_type(), Some(&ReadWriteType::All));
    assert_eq!(selectors[0].include_management_events(), Some(true));
    assert_eq!(selectors[0].data_resources(), [data]);
    for _ in 0..3 {
        let again = process(&deps, ev.clone()).await.unwrap();
        assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");
    }
    // Global service events switched off, and on again.
    ct.update_trail()
        .name(&name)
        .include_global_service_events(false)
        .send()
        .await
        .unwrap();
    let mut ev = sample("aws.cloudtrail-UpdateTrail-no-global-events.json");
    ev["detail"]["requestParameters"]["name"] = json!(name);
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let trail = ct.get_trail().name(&name).send().await.unwrap();
    assert_eq!(
        trail.trail().unwrap().include_global_service_events(),
        Some(true)
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn advanced_selectors_limited_to_reads_lose_the_limit_and_keep_data_selectors() {
    use aws_sdk_cloudtrail::types::{AdvancedEventSelector, AdvancedFieldSelector};
    let sdk = sdk().await;
    let s3 = create_bucket();
    let ct = aws_sdk_cloudtrail::Client::new(&sdk);
    let name = unique("management-events");
    ct.create_trail()
        .name(&name)
        .s3_bucket_name(&s3)
        .send()
        .await
        .unwrap();
    let field = |f: &str, v: &str| {
        AdvancedFieldSelector::builder()
            .field(f)
            .equals(v)
            .build()
            .unwrap()
    };
    let data = AdvancedEventSelector::builder()
        .name("S3 objects")
        .field_selectors(field("eventCategory", "Data"))
        .field_selectors(field("resources.type", "AWS::S3::Object"))
        .build()
        .unwrap();
    let reads = AdvancedEventSelector::builder()
        .name("Management reads")
        .field_selectors(field("eventCategory", "Management"))
        .field_selectors(field("readOnly", "true"))
        .build()
        .unwrap();
    ct.put_event_selectors()
        .trail_name(&name)
        .advanced_event_selectors(data.clone())
        .advanced_event_selectors(reads)
        .send()
        .await
        .unwrap();
    let mut ev = sample("aws.cloudtrail-PutEventSelectors-advanced-read-only.json");
    ev["detail"]["requestParameters"]["trailName"] = json!(name);
    let deps = trail_deps(&sdk, "{}", None);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    let after = ct
        .get_event_selectors()
        .trail_name(&name)
        .send()
        .await
        .unwrap();
    let all = after.advanced_event_selectors();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0], data);
    assert_eq!(all[1].name(), Some("Management reads"));
    assert_eq!(
        all[1].field_selectors(),
        [field("eventCategory", "Management")]
    );
    let again = process(&deps, ev).await.unwrap();
    assert_eq!(again["actions"][0]["outcome"], "already_done", "{again}");
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn undo_creates_the_deleted_entry_again_unless_its_number_is_taken() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.2.0.0/16").await;
    let acl = create_acl(&ec2, &vpc).await;
    allow_tcp_entry(&ec2, &acl, 90, "0.0.0.0/0", (22, 22)).await;
    let entries = |ec2: aws_sdk_ec2::Client, acl: String| async move {
        let out = ec2
            .describe_network_acls()
            .network_acl_ids(&acl)
            .send()
            .await
            .unwrap();
        let mut v: Vec<String> = out.network_acls()[0]
            .entries()
            .iter()
            .map(|e| format!("{e:?}"))
            .collect();
        v.sort();
        v
    };
    let before = entries(ec2.clone(), acl.clone()).await;
    let mut ev = sample("aws.ec2-CreateNetworkAclEntry-open-ssh.json");
    ev["detail"]["requestParameters"]["networkAclId"] = json!(acl);
    let deps = ec2_deps(&sdk, "revert-network-acl", "{}", None);
    let r = process(&deps, ev.clone()).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    assert_ne!(entries(ec2.clone(), acl.clone()).await, before);

    let undone = undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(
        entries(ec2.clone(), acl.clone()).await,
        before,
        "exactly as before"
    );
    assert_eq!(
        undo_outcomes(&undo(&sdk, &r, false).await),
        ["already_undone"]
    );

    // Deleted again; then someone puts a narrow entry at that number: refused.
    let r = process(&deps, ev).await.unwrap();
    assert_eq!(r["actions"][0]["outcome"], "done", "{r}");
    allow_tcp_entry(&ec2, &acl, 90, "10.0.0.0/8", (22, 22)).await;
    let narrow = entries(ec2.clone(), acl.clone()).await;
    let refused = undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("rule number 90") && w.contains("taken")),
        "{refused}"
    );
    assert_eq!(entries(ec2, acl).await, narrow, "nothing changed");
}
