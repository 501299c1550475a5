//! The reconciliation sweep against moto: changes made with no event at all (as if
//! trailguard had not been deployed) are found and reverted, compliant resources are left
//! alone, 2,000 groups are swept within a budget, and a second sweep has nothing to do.
//!
//! Every test sweeps a region of its own: a sweep looks at a whole region, and the other
//! tests running beside it create open rules of their own in us-east-1.

mod common;

use aws_config::Region;
use aws_sdk_ec2::types::{IpPermission, IpRange};
use common::*;
use trailguard_aws::attempts::counted;
use trailguard_rules::sweep::StateKind;

async fn sdk_in(region: &'static str) -> aws_config::SdkConfig {
    sdk()
        .await
        .into_builder()
        .region(Region::new(region))
        .build()
}

fn in_region(mut d: Ec2Deps, region: &str) -> Ec2Deps {
    d.settings.region = Some(region.into());
    d
}

use common::create_group as group;

async fn open(ec2: &aws_sdk_ec2::Client, group_id: &str, port: i32, cidr: &str) {
    ec2.authorize_security_group_ingress()
        .group_id(group_id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// (protocol/port, cidr) of a group's ingress rules.
async fn ingress(ec2: &aws_sdk_ec2::Client, group_id: &str) -> Vec<String> {
    let out = ec2
        .describe_security_groups()
        .group_ids(group_id)
        .send()
        .await
        .unwrap();
    let mut v: Vec<String> = out.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges().iter().map(move |r| {
                format!(
                    "{}/{} {}",
                    p.ip_protocol().unwrap_or("?"),
                    p.from_port().unwrap_or(-1),
                    r.cidr_ip().unwrap_or("?")
                )
            })
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_rule_opened_without_an_event_is_revoked_and_the_rest_is_left_alone() {
    const REGION: &str = "eu-west-3";
    let sdk = sdk_in(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.31.0.0/16").await;
    let opened = group(&ec2, &vpc, &unique("opened"), &[]).await;
    open(&ec2, &opened, 22, "0.0.0.0/0").await;
    open(&ec2, &opened, 443, "0.0.0.0/0").await;
    let internal = group(&ec2, &vpc, &unique("internal"), &[]).await;
    open(&ec2, &internal, 22, "10.0.0.0/8").await;
    let exempt = group(
        &ec2,
        &vpc,
        &unique("exempt"),
        &[("trailguard:exempt", "true")],
    )
    .await;
    open(&ec2, &exempt, 3389, "0.0.0.0/0").await;

    // The topic lives in the stack's home region, whatever region is swept.
    let home = common::sdk().await;
    let (topic, queue) = topic_with_queue(&home).await;
    let mut d = in_region(
        ec2_deps(&sdk, "revert-security-group", "{}", Some(topic.clone())),
        REGION,
    );
    d.notify = notifier(&home, Some(topic));
    let r = d.sweep(None).await.unwrap();

    assert_eq!(
        ingress(&ec2, &opened).await,
        ["tcp/443 0.0.0.0/0"],
        "SSH from anywhere is revoked, HTTPS stays"
    );
    assert_eq!(ingress(&ec2, &internal).await, ["tcp/22 10.0.0.0/8"]);
    assert_eq!(
        ingress(&ec2, &exempt).await,
        ["tcp/3389 0.0.0.0/0"],
        "exempt groups are left alone"
    );
    assert!(r.complete);
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    assert_eq!(r.findings[0].resource, opened);
    assert_eq!(r.count("done"), 1);
    let messages = drain(&home, &queue).await;
    assert_eq!(messages.len(), 1, "one notification for the sweep");
    assert!(
        messages[0].contains("The reconciliation sweep"),
        "{}",
        messages[0]
    );

    // The second sweep finds nothing to do: it lists, and changes nothing.
    let (second, requests) = counted(d.sweep(None)).await;
    let second = second.unwrap();
    assert!(second.findings.is_empty(), "{:#?}", second.findings);
    assert!(second.outcomes.is_empty());
    assert_eq!(
        requests, 2,
        "one DescribeSecurityGroups and one DescribeSecurityGroupRules, nothing else"
    );
    assert_eq!(
        drain(&home, &queue).await.len(),
        0,
        "a sweep with nothing found is silent"
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn two_thousand_groups_are_swept_within_the_budget_and_resumed_from_the_checkpoint() {
    const REGION: &str = "ap-southeast-2";
    const GROUPS: usize = 2000;
    const BUDGET: u64 = 700;
    let sdk = sdk_in(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let table = create_ledger_table(&sdk).await;
    let vpc = create_vpc(&ec2, "10.32.0.0/16").await;
    // Every 100th group is opened to the world.
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..8 {
        let (ec2, vpc) = (ec2.clone(), vpc.clone());
        tasks.spawn(async move {
            let mut opened = Vec::new();
            for i in (lane..GROUPS).step_by(8) {
                let id = group(&ec2, &vpc, &format!("bulk-{i}"), &[]).await;
                if i % 100 == 0 {
                    open(&ec2, &id, 22, "0.0.0.0/0").await;
                    opened.push(id);
                }
            }
            opened
        });
    }
    let mut ids = Vec::new();
    while let Some(opened) = tasks.join_next().await {
        ids.extend(opened.unwrap());
    }
    assert_eq!(ids.len(), GROUPS / 100);

    let mut d = deps_with(
        &sdk,
        "revert-security-group",
        "{}",
        trailguard_aws::Sdk::none().with_ec2(&sdk).with_ledger(&sdk),
    );
    d.settings.region = Some(REGION.into());
    d.settings.ledger_table = Some(table);
    // A run may look at BUDGET resources: the budget stops it, the checkpoint carries on.
    d.settings.sweep_max_resources = Some(BUDGET);
    let mut runs = Vec::new();
    loop {
        let r = d.sweep(None).await.unwrap();
        let done = r.complete;
        runs.push(r);
        assert!(runs.len() <= 6, "the sweep never finished");
        if done {
            break;
        }
    }
    // 2,000 groups, the default group of each VPC in the region, BUDGET a run.
    let listed: u64 = runs
        .iter()
        .map(|r| r.listed[&StateKind::SecurityGroups])
        .sum();
    assert!(listed >= GROUPS as u64, "{listed}");
    assert_eq!(
        runs.len() as u64,
        listed.div_ceil(BUDGET),
        "every run but the last used its whole budget"
    );
    for r in &runs[..runs.len() - 1] {
        assert_eq!(r.listed[&StateKind::SecurityGroups], BUDGET);
        assert!(r.checkpoint.is_some() && r.stopped.as_deref().unwrap().contains("MAX_RESOURCES"));
    }
    for (a, b) in runs.iter().zip(runs.iter().skip(1)) {
        assert_eq!(
            b.resumed_from, a.checkpoint,
            "each run continues where the last stopped"
        );
    }
    let fixed: usize = runs.iter().map(|r| r.findings.len()).sum();
    assert_eq!(fixed, GROUPS / 100, "each opened group found exactly once");
    for id in &ids {
        assert!(ingress(&ec2, id).await.is_empty(), "{id} still open");
    }

    // Without a resource budget one run sweeps them all within the invocation's time.
    d.settings.sweep_max_resources = None;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let started = std::time::Instant::now();
    let r = d.sweep(Some(deadline)).await.unwrap();
    assert!(r.complete && r.findings.is_empty());
    assert_eq!(r.listed[&StateKind::SecurityGroups], listed);
    eprintln!(
        "swept {listed} groups in {:?} ({} runs of {BUDGET} before)",
        started.elapsed(),
        runs.len()
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_stopped_trail_logs_again_after_the_sweep() {
    const REGION: &str = "sa-east-1";
    let sdk = sdk_in(REGION).await;
    let bucket = create_bucket();
    let ct = aws_sdk_cloudtrail::Client::new(&sdk);
    let name = unique("swept-trail");
    ct.create_trail()
        .name(&name)
        .s3_bucket_name(&bucket)
        .enable_log_file_validation(true)
        .send()
        .await
        .unwrap();
    // Created, never started: as good as stopped, and no event says so.
    let mut d = trail_deps(&sdk, "{}", None);
    d.settings.region = Some(REGION.into());
    let r = d.sweep(None).await.unwrap();
    let status = ct.get_trail_status().name(&name).send().await.unwrap();
    assert_eq!(status.is_logging(), Some(true), "{r:#?}");
    assert!(r.findings.iter().any(|f| f.resource == name));
    let again = d.sweep(None).await.unwrap();
    assert!(
        again.findings.iter().all(|f| f.resource != name),
        "{again:#?}"
    );
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_account_set_to_dry_run_is_not_changed_by_the_sweep() {
    const REGION: &str = "eu-north-1";
    let sdk = sdk_in(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.33.0.0/16").await;
    let opened = group(&ec2, &vpc, &unique("dry"), &[]).await;
    open(&ec2, &opened, 22, "0.0.0.0/0").await;

    // This account in dry-run: the sweep finds the rule, plans its revoke, and leaves it.
    let policy = format!(r#"{{"mode_by_account": {{"{ACCOUNT}": "dry-run"}}}}"#);
    let d = in_region(
        ec2_deps(&sdk, "revert-security-group", &policy, None),
        REGION,
    );
    let r = d.sweep(None).await.unwrap();
    assert_eq!(r.mode, trailguard_rules::Mode::DryRun);
    assert_eq!(r.count("dry_run"), 1, "{:#?}", r.findings);
    assert_eq!(r.count("done"), 0);
    assert_eq!(ingress(&ec2, &opened).await, ["tcp/22 0.0.0.0/0"]);

    // Another account in dry-run: this one is enforced, and the report says how to undo it.
    let policy = r#"{"mode_by_account": {"210987654321": "dry-run"}}"#;
    let d = in_region(
        ec2_deps(&sdk, "revert-security-group", policy, None),
        REGION,
    );
    let r = d.sweep(None).await.unwrap();
    assert_eq!(r.count("done"), 1, "{:#?}", r.findings);
    assert!(ingress(&ec2, &opened).await.is_empty());
    let undo = serde_json::to_value(&r.findings[0].report.actions[0].undo).unwrap();
    let command = undo["command"].as_str().unwrap();
    assert!(
        command.contains(&format!(
            "= {ACCOUNT} ] && aws ec2 authorize-security-group-ingress --group-id {opened}"
        )) && command.ends_with(&format!("--region {REGION}")),
        "{command}"
    );

    // The command's --ip-permissions, sent as the AWS CLI would, puts the rule back exactly.
    let json = command
        .split("--ip-permissions '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap();
    let perms: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    for p in perms {
        let mut b = IpPermission::builder()
            .ip_protocol(p["IpProtocol"].as_str().unwrap())
            .from_port(p["FromPort"].as_i64().unwrap() as i32)
            .to_port(p["ToPort"].as_i64().unwrap() as i32);
        for r in p["IpRanges"].as_array().unwrap() {
            b = b.ip_ranges(
                IpRange::builder()
                    .cidr_ip(r["CidrIp"].as_str().unwrap())
                    .build(),
            );
        }
        ec2.authorize_security_group_ingress()
            .group_id(&opened)
            .ip_permissions(b.build())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(ingress(&ec2, &opened).await, ["tcp/22 0.0.0.0/0"]);
}
