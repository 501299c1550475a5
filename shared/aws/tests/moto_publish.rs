//! publish-findings against moto: a remediation the ledger keeps becomes one Security Hub
//! finding of the account's own product (BatchImportFindings, which moto models), updated
//! by a redelivery and by an undo; stream records that are not this ledger's, or not a
//! function's report, import nothing.

mod common;

use common::*;
use serde_json::{json, Value};
use trailguard_aws::publish::{handle, PublishSettings};
use trailguard_aws::{LedgerPort, Sdk};

fn stream_record(table: &str, key: &str, event_name: &str) -> Value {
    json!({
        "eventID": unique("rec"),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"Keys": {"pk": {"S": key}}, "SequenceNumber": "100", "SizeBytes": 40,
                     "StreamViewType": "KEYS_ONLY"},
        "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}/stream/2026-12-07T00:00:00.000")
    })
}

fn finding(id: &str) -> Option<Value> {
    securityhub_findings(id).into_iter().next()
}

fn count(id: &str) -> usize {
    securityhub_findings(id).len()
}

#[tokio::test]
#[ignore = "needs moto server: bash scripts/test.sh"]
async fn a_kept_remediation_is_imported_once_and_updated_by_its_undo() {
    let sdk = sdk().await;
    let table = create_ledger_table(&sdk).await;
    let (_ec2, group, rule) = open_group(&sdk).await;
    let mut deps = deps_with(
        &sdk,
        "revert-security-group",
        "{}",
        Sdk::none().with_ec2(&sdk).with_ledger(&sdk),
    );
    deps.settings.ledger_table = Some(table.clone());
    let mut event = opened(ACCOUNT, "us-east-1", &group, &rule);
    let event_id = unique("publish");
    event["id"] = json!(event_id);
    let report = process(&deps, event).await.unwrap();
    assert_eq!(report["actions"][0]["outcome"], "done", "{report}");
    assert_eq!(
        report["actions"][0]["targets"][0],
        json!({"field": "group_id", "kind": "security_group", "id": group}),
        "{report}"
    );

    let settings = PublishSettings::from_vars(|k| match k {
        "TRAILGUARD_LEDGER_TABLE" => Some(table.clone()),
        "TRAILGUARD_FINDINGS_PRODUCT_ARN" => Some(format!(
            "arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default"
        )),
        _ => None,
    })
    .unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let hub = aws_sdk_securityhub::Client::new(&sdk);
    let key = trailguard_aws::ledger::report_key(&event_id, "revert-security-group");
    let id = format!("trailguard/revert-security-group/{event_id}");

    // Records that are not this ledger's reports import nothing, and say why.
    let other_stream = {
        let mut r = stream_record(&table, &key, "INSERT");
        r["eventSourceARN"] = json!(format!(
            "arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}-other/stream/2026-12-07T00:00:00.000"
        ));
        r
    };
    let mut forged_source = stream_record(&table, &key, "INSERT");
    forged_source["eventSource"] = json!("custom.dynamodb");
    let batch = json!({"Records": [
        other_stream,
        forged_source,
        stream_record(&table, &key, "REMOVE"),
        stream_record(&table, "claim#x#0", "INSERT"),
        stream_record(&table, &format!("report#{}#revert-security-group", unique("none")), "INSERT"),
    ]});
    let out = handle(
        &dynamodb,
        &hub,
        &settings,
        &batch,
        trailguard_aws::system_clock(),
    )
    .await
    .unwrap();
    assert_eq!(out["imported"], json!([]), "{out}");
    let whys: Vec<&str> = out["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["why"].as_str().unwrap())
        .collect();
    assert_eq!(
        whys,
        [
            "not this ledger's stream",
            "not a DynamoDB stream record",
            "not a write (an item expired or removed)",
            "not a report of a function",
            "the ledger no longer keeps it"
        ],
        "{out}"
    );
    assert!(finding(&id).is_none());

    // The report's own record (twice in one batch, as a stream may deliver it): one finding.
    let batch = json!({"Records": [stream_record(&table, &key, "INSERT"), stream_record(&table, &key, "MODIFY")]});
    let out = handle(
        &dynamodb,
        &hub,
        &settings,
        &batch,
        trailguard_aws::system_clock(),
    )
    .await
    .unwrap();
    assert_eq!(out["imported"], json!([id]), "{out}");
    let f = finding(&id).expect("imported");
    assert_eq!(count(&id), 1);
    assert_eq!(
        f["ProductArn"],
        format!("arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default")
    );
    assert_eq!(f["AwsAccountId"], ACCOUNT);
    assert_eq!(f["GeneratorId"], "trailguard/revert-security-group");
    assert_eq!(f["Severity"]["Label"], "MEDIUM", "{f}");
    assert_eq!(f["Resources"][0]["Type"], "AwsEc2SecurityGroup", "{f}");
    assert_eq!(
        f["Resources"][0]["Id"],
        format!("arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{group}")
    );
    assert_eq!(f["ProductFields"]["trailguard/EventId"], event_id.as_str());
    assert!(
        f["Remediation"]["Recommendation"]["Text"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "trailguard undo --dry-run --function revert-security-group --table TABLE --event-id {event_id} (TABLE: "
            )),
        "{f}"
    );

    // An undo recorded beside the report: the same finding, now informational.
    let undo = json!({"undone_by": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
                      "at": "2026-12-07T12:00:00Z", "steps": [{"outcome": "done"}]});
    dynamodb
        .record_undo(
            &table,
            &key,
            &undo.to_string(),
            trailguard_aws::system_clock() + 3600,
        )
        .await
        .unwrap();
    let out = handle(
        &dynamodb,
        &hub,
        &settings,
        &json!({"Records": [stream_record(&table, &key, "MODIFY")]}),
        trailguard_aws::system_clock(),
    )
    .await
    .unwrap();
    assert_eq!(out["imported"], json!([id]), "{out}");
    let g = finding(&id).unwrap();
    assert_eq!(count(&id), 1);
    assert_eq!(g["Severity"]["Label"], "INFORMATIONAL", "{g}");
    assert!(g["Title"].as_str().unwrap().ends_with("(undone)"), "{g}");
    assert_eq!(g["ProductFields"]["trailguard/Undone"], "true");

    // Not a stream event at all: an error that says what it takes.
    let e = handle(&dynamodb, &hub, &settings, &json!({"detail": {}}), 0)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("DynamoDB stream"), "{e}");
}
