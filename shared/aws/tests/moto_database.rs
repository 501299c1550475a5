//! Public databases against moto: an RDS DB instance, an Aurora cluster's instance and a
//! Redshift cluster are made publicly accessible through the SDK, the CloudTrail event (or
//! the Security Hub finding) is built from that call, and revert-public-database runs. Each
//! test asserts the database is private again and everything else is as it was, then
//! redelivers the event (`already_done`), and checks dry-run and the exemption tag.
//!
//! moto 5.2.5 keeps `PubliclyAccessible` for RDS instances and clusters and for Redshift
//! clusters, changes it with ModifyDBInstance and ModifyCluster, and lists tags in
//! DescribeDBInstances (`TagList`) and DescribeClusters (`Tags`). It creates databases
//! directly `available`, so the "still being created" path (a retryable failure) is
//! exercised by the unit tests of the adapter's status check, not here.

mod common;

use common::*;
use serde_json::{json, Value};
use trailguard_aws::Sdk;

/// revert-public-database's dependencies against moto, with its clients.
type DatabaseDeps = trailguard_aws::Deps<
    trailguard_aws::Home<
        Sdk<
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            aws_sdk_rds::Client,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            trailguard_aws::Unwired,
            aws_sdk_redshift::Client,
        >,
    >,
    trailguard_aws::Notifier,
>;

fn database_guard(sdk: &aws_config::SdkConfig, policy: &str) -> DatabaseDeps {
    deps_with(
        sdk,
        "revert-public-database",
        policy,
        Sdk::none().with_rds(sdk).with_redshift(sdk),
    )
}

fn outcome(r: &Value) -> &str {
    r["actions"][0]["outcome"].as_str().unwrap_or("none")
}

const DRY_RUN: &str = r#"{"mode": {"public_database": "dry-run"}}"#;

/// What the fix must leave as it was, and whether it is public.
#[derive(Debug, Clone, PartialEq)]
struct Instance {
    public: Option<bool>,
    class: Option<String>,
    storage: Option<i32>,
    engine: Option<String>,
    backup_retention: Option<i32>,
    security_groups: Vec<String>,
    tags: Vec<(String, String)>,
}

async fn instance(rds: &aws_sdk_rds::Client, id: &str) -> Instance {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap();
    let i = &out.db_instances()[0];
    let mut tags: Vec<(String, String)> = i
        .tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    tags.sort();
    Instance {
        public: i.publicly_accessible(),
        class: i.db_instance_class().map(String::from),
        storage: i.allocated_storage(),
        engine: i.engine().map(String::from),
        backup_retention: i.backup_retention_period(),
        security_groups: i
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(String::from))
            .collect(),
        tags,
    }
}

async fn create_instance(rds: &aws_sdk_rds::Client, id: &str, public: bool) {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("app")
        .master_user_password("correct-horse-battery")
        .allocated_storage(20)
        .backup_retention_period(3)
        .publicly_accessible(public)
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("team")
                .value("orders")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn modify_event(id: &str) -> Value {
    cloudtrail_event(
        "aws.rds-ModifyDBInstance-public.json",
        json!({"dBInstanceIdentifier": id, "publiclyAccessible": true, "applyImmediately": true}),
        json!({"dBInstanceIdentifier": id, "publiclyAccessible": true, "dBInstanceStatus": "available"}),
    )
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_instance_made_public_is_private_again_and_nothing_else_changed() {
    let sdk = sdk().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let db = unique("orders").to_lowercase();
    create_instance(&rds, &db, false).await;
    // The attacker's call.
    rds.modify_db_instance()
        .db_instance_identifier(&db)
        .publicly_accessible(true)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let before = instance(&rds, &db).await;
    assert_eq!(before.public, Some(true), "moto keeps PubliclyAccessible");

    let deps = database_guard(&sdk, "{}");
    let event = modify_event(&db);
    let r = deps.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let after = instance(&rds, &db).await;
    assert_eq!(after.public, Some(false));
    assert_eq!(
        after,
        Instance {
            public: Some(false),
            ..before.clone()
        },
        "only public access changed"
    );
    // trailguard undo: public again, exactly as the remediation found it.
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(instance(&rds, &db).await, before);
    rds.modify_db_instance()
        .db_instance_identifier(&db)
        .publicly_accessible(false)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let undo = r["actions"][0]["undo"]["command"]
        .as_str()
        .unwrap_or_default();
    assert!(
        undo.contains(&format!(
            "aws rds modify-db-instance --db-instance-identifier {db} --publicly-accessible --region us-east-1"
        )),
        "{r}"
    );

    // Redelivered: nothing left to do, nothing changed.
    let again = deps.run(event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert_eq!(instance(&rds, &db).await, after);

    // Security Hub's RDS.2 finding about it, now that it is private: nothing to do.
    let mut finding = sample("aws.securityhub-RDS.2-public-instance.json");
    finding["detail"]["findings"][0]["Resources"][0]["Id"] =
        json!(format!("arn:aws:rds:us-east-1:{ACCOUNT}:db:{db}"));
    finding["detail"]["findings"][0]["Resources"][0]["Details"]["AwsRdsDbInstance"]
        ["DBInstanceIdentifier"] = json!(db);
    let r = deps.run(finding.clone()).await;
    assert_eq!(r["decision"], "ignore", "{r}");
    // Made public again without an event reaching trailguard: the finding closes it.
    rds.modify_db_instance()
        .db_instance_identifier(&db)
        .publicly_accessible(true)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let r = deps.run(finding).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(instance(&rds, &db).await, after);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_public_instance_stays_public_in_dry_run_or_when_exempt() {
    let sdk = sdk().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let db = unique("demo").to_lowercase();
    // Created public: the response says so, the request need not.
    create_instance(&rds, &db, true).await;
    let event = cloudtrail_event(
        "aws.rds-CreateDBInstance-default-vpc-public.json",
        json!({"dBInstanceIdentifier": db, "engine": "postgres", "dBInstanceClass": "db.t3.micro"}),
        json!({"dBInstanceIdentifier": db, "publiclyAccessible": true, "dBInstanceStatus": "creating"}),
    );
    let before = instance(&rds, &db).await;
    assert_eq!(before.public, Some(true));

    let r = database_guard(&sdk, DRY_RUN).run(event.clone()).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(instance(&rds, &db).await, before);

    // Tagged exempt after the call: looked up, told, left alone.
    let arn = format!("arn:aws:rds:us-east-1:{ACCOUNT}:db:{db}");
    rds.add_tags_to_resource()
        .resource_name(&arn)
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("trailguard:exempt")
                .value("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let tagged = instance(&rds, &db).await;
    let r = database_guard(&sdk, "{}").run(event).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert!(r["actions"].as_array().is_none_or(Vec::is_empty), "{r}");
    assert_eq!(instance(&rds, &db).await, tagged);
    assert_eq!(tagged.public, Some(true));
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_cluster_made_public_has_its_public_instances_made_private() {
    let sdk = sdk().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let cluster = unique("ledger").to_lowercase();
    rds.create_db_cluster()
        .db_cluster_identifier(&cluster)
        .engine("aurora-postgresql")
        .master_username("app")
        .master_user_password("correct-horse-battery")
        .send()
        .await
        .unwrap();
    let (public, private) = (format!("{cluster}-1"), format!("{cluster}-2"));
    for (id, open) in [(&public, true), (&private, false)] {
        rds.create_db_instance()
            .db_instance_identifier(id)
            .db_cluster_identifier(&cluster)
            .db_instance_class("db.r6g.large")
            .engine("aurora-postgresql")
            .publicly_accessible(open)
            .send()
            .await
            .unwrap();
    }
    let private_before = instance(&rds, &private).await;
    let public_before = instance(&rds, &public).await;
    assert_eq!(public_before.public, Some(true));
    let event = cloudtrail_event(
        "aws.rds-CreateDBCluster-multi-az-public.json",
        json!({"dBClusterIdentifier": cluster, "engine": "postgres", "publiclyAccessible": true}),
        json!({"dBClusterIdentifier": cluster, "publiclyAccessible": true, "status": "creating"}),
    );
    // moto's clusters carry no PubliclyAccessible of their own unless asked; the decision
    // reads the event, and the fact lookup only for tags.
    let deps = database_guard(&sdk, "{}");
    let r = deps.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(
        instance(&rds, &public).await,
        Instance {
            public: Some(false),
            ..public_before.clone()
        }
    );
    assert_eq!(instance(&rds, &private).await, private_before);
    let note = r["actions"][0]["note"].as_str().unwrap_or_default();
    assert!(note.contains(&public) && !note.contains(&private), "{r}");
    assert_eq!(outcome(&deps.run(event).await), "already_done");

    // trailguard undo: the member it made private is public again, the other untouched.
    let undone = common::undo(&sdk, &r, true).await;
    assert!(
        undone.to_string().contains(&public) && !undone.to_string().contains(&private),
        "{undone}"
    );
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(instance(&rds, &public).await, public_before);
    assert_eq!(instance(&rds, &private).await, private_before);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
}

/// What the fix must leave as it was on a Redshift cluster.
#[derive(Debug, Clone, PartialEq)]
struct Warehouse {
    public: Option<bool>,
    node_type: Option<String>,
    nodes: Option<i32>,
    user: Option<String>,
    encrypted: Option<bool>,
    tags: Vec<(String, String)>,
}

async fn warehouse(rs: &aws_sdk_redshift::Client, id: &str) -> Warehouse {
    let out = rs
        .describe_clusters()
        .cluster_identifier(id)
        .send()
        .await
        .unwrap();
    let c = &out.clusters()[0];
    let mut tags: Vec<(String, String)> = c
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    tags.sort();
    Warehouse {
        public: c.publicly_accessible(),
        node_type: c.node_type().map(String::from),
        nodes: c.number_of_nodes(),
        user: c.master_username().map(String::from),
        encrypted: c.encrypted(),
        tags,
    }
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_redshift_cluster_made_public_is_private_again_unless_exempt_or_dry_run() {
    let sdk = sdk().await;
    let rs = aws_sdk_redshift::Client::new(&sdk);
    let id = unique("analytics").to_lowercase();
    rs.create_cluster()
        .cluster_identifier(&id)
        .node_type("ra3.xlplus")
        .master_username("admin")
        .master_user_password("Correct-horse-1")
        .cluster_type("multi-node")
        .number_of_nodes(2)
        .encrypted(true)
        .publicly_accessible(false)
        .tags(
            aws_sdk_redshift::types::Tag::builder()
                .key("team")
                .value("bi")
                .build(),
        )
        .send()
        .await
        .unwrap();
    // The attacker's call.
    rs.modify_cluster()
        .cluster_identifier(&id)
        .publicly_accessible(true)
        .send()
        .await
        .unwrap();
    let before = warehouse(&rs, &id).await;
    assert_eq!(before.public, Some(true), "moto keeps PubliclyAccessible");
    let event = cloudtrail_event(
        "aws.redshift-ModifyCluster-public.json",
        json!({"clusterIdentifier": id, "publiclyAccessible": true}),
        json!({"clusterIdentifier": id, "publiclyAccessible": true, "clusterStatus": "available"}),
    );

    let r = database_guard(&sdk, DRY_RUN).run(event.clone()).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(warehouse(&rs, &id).await, before);

    let deps = database_guard(&sdk, "{}");
    let r = deps.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let after = warehouse(&rs, &id).await;
    assert_eq!(
        after,
        Warehouse {
            public: Some(false),
            ..before.clone()
        },
        "only public access changed"
    );
    assert!(
        r["actions"][0]["undo"]["command"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!(
                "aws redshift modify-cluster --cluster-identifier {id} --publicly-accessible --region us-east-1"
            )),
        "{r}"
    );
    let again = deps.run(event.clone()).await;
    assert_eq!(outcome(&again), "already_done", "{again}");
    assert_eq!(warehouse(&rs, &id).await, after);

    // trailguard undo: public again, everything else as it was; then nothing to undo.
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    assert_eq!(warehouse(&rs, &id).await, before);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");
    rs.modify_cluster()
        .cluster_identifier(&id)
        .publicly_accessible(false)
        .send()
        .await
        .unwrap();

    // Made public again, now tagged exempt: told, left alone.
    rs.create_tags()
        .resource_name(format!("arn:aws:redshift:us-east-1:{ACCOUNT}:cluster:{id}"))
        .tags(
            aws_sdk_redshift::types::Tag::builder()
                .key("trailguard:exempt")
                .value("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    rs.modify_cluster()
        .cluster_identifier(&id)
        .publicly_accessible(true)
        .send()
        .await
        .unwrap();
    let exempt = warehouse(&rs, &id).await;
    assert_eq!(exempt.public, Some(true));
    let mut event = event;
    event["id"] = json!(unique("ev"));
    let r = deps.run(event).await;
    assert_eq!(r["decision"], "notify", "{r}");
    assert_eq!(warehouse(&rs, &id).await, exempt);
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn the_sweep_makes_a_public_instance_private_that_no_event_reported() {
    // A region of its own: the other tests' public databases are theirs to check.
    let sdk = sdk()
        .await
        .to_builder()
        .region(aws_config::Region::new("eu-west-2"))
        .build();
    let rds = aws_sdk_rds::Client::new(&sdk);
    let db = unique("quiet").to_lowercase();
    create_instance(&rds, &db, true).await;
    let deps = database_guard(&sdk, "{}");
    let report = deps.sweep(None).await.unwrap();
    let found = report
        .findings
        .iter()
        .find(|f| f.resource == db)
        .unwrap_or_else(|| panic!("{db} not found: {report:?}"));
    assert_eq!(
        found.report.actions[0].outcome,
        Some(trailguard_rules::Status::Done),
        "{report:?}"
    );
    assert_eq!(instance(&rds, &db).await.public, Some(false));
}

/// Running the function's handler.
trait Run {
    fn run(&self, event: Value) -> impl std::future::Future<Output = Value>;
}

impl<C: trailguard_aws::Clients> Run
    for trailguard_aws::Deps<trailguard_aws::Home<C>, trailguard_aws::Notifier>
{
    async fn run(&self, event: Value) -> Value {
        process(self, event).await.unwrap()
    }
}

// ---- exemptions given by anyone but the tag admins ----

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn an_exemption_tag_from_a_non_admin_is_taken_back_and_the_database_is_no_longer_exempt() {
    let sdk = sdk().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let db = unique("orders").to_lowercase();
    create_instance(&rds, &db, true).await;
    let arn = format!("arn:aws:rds:us-east-1:{ACCOUNT}:db:{db}");
    // The attacker exempts the database (a principal outside tag_admins).
    let exempt = || async {
        rds.add_tags_to_resource()
            .resource_name(&arn)
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key("trailguard:exempt")
                    .value("1")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        cloudtrail_event(
            "aws.rds-AddTagsToResource-exempt.json",
            json!({"resourceName": arn, "tags": [{"key": "trailguard:exempt", "value": "1"}]}),
            Value::Null,
        )
    };
    let event = exempt().await;
    let tagged = instance(&rds, &db).await;
    assert!(tagged
        .tags
        .contains(&("trailguard:exempt".into(), "1".into())));
    let r = database_guard(&sdk, DRY_RUN).run(event.clone()).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(instance(&rds, &db).await, tagged);

    let d = database_guard(&sdk, "{}");
    let r = d.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    let after = instance(&rds, &db).await;
    assert_eq!(after.tags, vec![("team".to_string(), "orders".to_string())]);
    assert_eq!(after.public, Some(true), "only the tag is taken back");
    assert!(
        r["actions"][0]["undo"]["command"]
            .as_str()
            .is_some_and(|u| u.contains("aws rds add-tags-to-resource")),
        "{r}"
    );
    let taken = r;
    let again = d.run(event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");

    // No longer exempt: the public database is made private.
    let r = d.run(modify_event(&db)).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(instance(&rds, &db).await.public, Some(false));

    // trailguard undo of the untagging: the exemption back with the value it had, once.
    assert_eq!(
        taken["actions"][0]["reversal"]["call"], "tag_db_resource",
        "{taken}"
    );
    let undone = common::undo(&sdk, &taken, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    let mut tags = instance(&rds, &db).await.tags;
    tags.sort();
    assert_eq!(
        tags,
        [("team", "orders"), ("trailguard:exempt", "1")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    let undone = common::undo(&sdk, &taken, false).await;
    assert_eq!(undo_outcomes(&undone), ["already_undone"], "{undone}");

    // The database deleted and one of the same name made since: another, not exempted.
    rds.remove_tags_from_resource()
        .resource_name(&arn)
        .tag_keys("trailguard:exempt")
        .send()
        .await
        .unwrap();
    rds.delete_db_instance()
        .db_instance_identifier(&db)
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    create_instance(&rds, &db, false).await;
    let refused = common::undo(&sdk, &taken, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("made after the remediation")),
        "{refused}"
    );
    assert!(!instance(&rds, &db)
        .await
        .tags
        .iter()
        .any(|(k, _)| k == "trailguard:exempt"));
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_redshift_exemption_tag_from_a_non_admin_is_taken_back() {
    let sdk = sdk().await;
    let rs = aws_sdk_redshift::Client::new(&sdk);
    let id = unique("warehouse").to_lowercase();
    rs.create_cluster()
        .cluster_identifier(&id)
        .node_type("ra3.xlplus")
        .master_username("admin")
        .master_user_password("Correct-horse-1")
        .cluster_type("single-node")
        .publicly_accessible(false)
        .tags(
            aws_sdk_redshift::types::Tag::builder()
                .key("team")
                .value("bi")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = format!("arn:aws:redshift:us-east-1:{ACCOUNT}:cluster:{id}");
    rs.create_tags()
        .resource_name(&arn)
        .tags(
            aws_sdk_redshift::types::Tag::builder()
                .key("trailguard:exempt")
                .value("yes")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let event = cloudtrail_event(
        "aws.redshift-CreateTags-exempt.json",
        json!({"resourceName": arn, "tags": [{"key": "trailguard:exempt", "value": "yes"}]}),
        Value::Null,
    );
    let before = warehouse(&rs, &id).await;
    let r = database_guard(&sdk, DRY_RUN).run(event.clone()).await;
    assert_eq!(outcome(&r), "dry_run", "{r}");
    assert_eq!(warehouse(&rs, &id).await, before);

    let d = database_guard(&sdk, "{}");
    let r = d.run(event.clone()).await;
    assert_eq!(outcome(&r), "done", "{r}");
    assert_eq!(
        warehouse(&rs, &id).await.tags,
        vec![("team".to_string(), "bi".to_string())]
    );
    let again = d.run(event).await;
    assert_eq!(outcome(&again), "already_done", "{again}");

    // trailguard undo: dry-run changes nothing; then the exemption is back with its value.
    assert_eq!(
        r["actions"][0]["reversal"]["call"], "tag_redshift_cluster",
        "{r}"
    );
    let planned = common::undo(&sdk, &r, true).await;
    assert_eq!(undo_outcomes(&planned), ["would_run"], "{planned}");
    assert_eq!(warehouse(&rs, &id).await.tags.len(), 1);
    let undone = common::undo(&sdk, &r, false).await;
    assert_eq!(undo_outcomes(&undone), ["done"], "{undone}");
    let mut tags = warehouse(&rs, &id).await.tags;
    tags.sort();
    assert_eq!(
        tags,
        [("team", "bi"), ("trailguard:exempt", "yes")].map(|(k, v)| (k.to_string(), v.to_string()))
    );
    // Someone sets another value since: undoing again is refused, and changes nothing.
    rs.create_tags()
        .resource_name(&arn)
        .tags(
            aws_sdk_redshift::types::Tag::builder()
                .key("trailguard:exempt")
                .value("forever")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let refused = common::undo(&sdk, &r, false).await;
    assert!(
        refused["refused"]
            .as_str()
            .is_some_and(|w| w.contains("trailguard:exempt=forever")),
        "{refused}"
    );
    assert!(warehouse(&rs, &id)
        .await
        .tags
        .contains(&("trailguard:exempt".to_string(), "forever".to_string())));
}
