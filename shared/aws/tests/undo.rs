//! The undo command of an action done puts back what the call proved it took away, no
//! more, and runs only in the account it was done in.

mod fakes;

use std::sync::Arc;

use fakes::*;
use trailguard_aws::Change;

#[tokio::test]
async fn a_share_half_gone_before_trailguard_acted_is_put_back_half() {
    // The event shared the snapshot with an account and with everyone; by the time the
    // function acted, only the account was still there.
    let f = Arc::new(Fake::new());
    f.answer(
        "UnshareSnapshot",
        Ok(Change::Removed(vec!["999988887777".into()])),
    );
    let r = deps(&f, "revert-resource-sharing", &sample_policy_json())
        .process(load("aws.ec2-ModifySnapshotAttribute-flat-form.json"))
        .await
        .unwrap()
        .to_value();
    let action = &r["actions"][0];
    assert_eq!(action["public"], true, "the plan as decided: {action}");
    let undo = action["undo"]["command"].as_str().unwrap();
    assert!(
        undo.starts_with(
            r#"[ "$(aws sts get-caller-identity --query Account --output text)" = 123456789012 ] && aws ec2 modify-snapshot-attribute --snapshot-id snap-0c1d2e3f4a5b6c7d8"#
        ) && undo.contains("--user-ids 999988887777")
            && !undo.contains("--group-names"),
        "{undo}"
    );

    assert!(
        action["note"]
            .as_str()
            .is_some_and(|n| n.contains("only 999988887777 still there")),
        "{action}"
    );

    // Both were there: both come back.
    let f = Arc::new(Fake::new());
    f.answer(
        "UnshareSnapshot",
        Ok(Change::Removed(vec!["999988887777".into(), "all".into()])),
    );
    let r = deps(&f, "revert-resource-sharing", &sample_policy_json())
        .process(load("aws.ec2-ModifySnapshotAttribute-flat-form.json"))
        .await
        .unwrap()
        .to_value();
    let undo = r["actions"][0]["undo"]["command"].as_str().unwrap();
    assert!(
        undo.contains("--user-ids 999988887777")
            && undo.ends_with("--group-names all --region us-east-1"),
        "{undo}"
    );
}

#[tokio::test]
async fn logging_started_without_reading_its_status_offers_no_command_to_stop_it() {
    let f = Arc::new(Fake::new());
    f.answer(
        "GetTrailStatus",
        Err(trailguard_aws::PortError::Transient {
            op: "GetTrailStatus",
            code: "ThrottlingException".into(),
            message: "slow down".into(),
        }),
    );
    let r = deps(&f, "guard-cloudtrail", &sample_policy_json())
        .process(load("aws.cloudtrail-StopLogging-remediate.json"))
        .await
        .unwrap()
        .to_value();
    let start = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "start_logging")
        .unwrap();
    assert_eq!(start["outcome"], "done", "{start}");
    assert!(start["undo"]["none"].is_string(), "{start}");
}
