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

/// An undo port that answers each reversal's check as told, and records the runs.
struct Scripted {
    checks: std::collections::BTreeMap<String, trailguard_aws::undo::Now>,
    runs: std::sync::Mutex<Vec<String>>,
    fail_run: Option<String>,
}

fn user_of(r: &trailguard_rules::undo::Reversal) -> String {
    match r {
        trailguard_rules::undo::Reversal::UntagUser { user_name, .. } => user_name.clone(),
        other => format!("{other:?}"),
    }
}

impl trailguard_aws::undo::UndoPort for Scripted {
    async fn check(
        &self,
        r: &trailguard_rules::undo::Reversal,
    ) -> trailguard_aws::ports::PortResult<trailguard_aws::undo::Now> {
        Ok(self.checks[&user_of(r)].clone())
    }
    async fn run(
        &self,
        r: &trailguard_rules::undo::Reversal,
    ) -> trailguard_aws::ports::PortResult<Change> {
        let u = user_of(r);
        self.runs.lock().unwrap().push(u.clone());
        if self.fail_run.as_deref() == Some(&u) {
            return Err(trailguard_aws::PortError::Transient {
                op: "UntagUser",
                code: "Throttling".into(),
                message: "slow down".into(),
            });
        }
        Ok(Change::Done)
    }
}

fn untag_plan(users: &[&str]) -> trailguard_rules::undo::UndoPlan {
    let actions: Vec<serde_json::Value> = users
        .iter()
        .map(|u| {
            serde_json::json!({"type": "tag_user", "outcome": "done",
                "reversal": {"call": "untag_user", "with": {"user_name": u, "key": "trailguard:quarantined", "value": "v"}}})
        })
        .collect();
    trailguard_rules::undo::plan(&serde_json::json!({"actions": actions})).unwrap()
}

#[tokio::test]
async fn one_step_changed_since_refuses_the_whole_undo_and_a_failure_stops_it() {
    use trailguard_aws::undo::{undo, Now, StepOutcome};
    let port = |checks: &[(&str, Now)], fail: Option<&str>| Scripted {
        checks: checks
            .iter()
            .map(|(u, n)| (u.to_string(), n.clone()))
            .collect(),
        runs: Default::default(),
        fail_run: fail.map(String::from),
    };
    // Planned last first: c, b, a.
    let plan = untag_plan(&["a", "b", "c"]);

    let p = port(
        &[
            ("a", Now::AsLeft),
            ("b", Now::Changed("retagged".into())),
            ("c", Now::AsLeft),
        ],
        None,
    );
    let r = undo(&p, &plan, false).await;
    assert!(
        r.refused.as_deref().is_some_and(|w| w.contains("retagged")),
        "{r:?}"
    );
    assert!(
        p.runs.lock().unwrap().is_empty(),
        "nothing runs when one step is refused"
    );
    assert!(!r.complete());

    let p = port(
        &[
            ("a", Now::AsLeft),
            ("b", Now::AlreadyUndone("gone".into())),
            ("c", Now::AsLeft),
        ],
        None,
    );
    let r = undo(&p, &plan, true).await;
    assert!(p.runs.lock().unwrap().is_empty(), "a dry run runs nothing");
    assert_eq!(r.steps[0].outcome, StepOutcome::WouldRun);
    assert_eq!(
        r.steps[1].outcome,
        StepOutcome::AlreadyUndone("gone".into())
    );
    assert!(r.complete());

    let r = undo(&p, &plan, false).await;
    assert_eq!(*p.runs.lock().unwrap(), ["c", "a"]);
    assert!(r.complete(), "{r:?}");

    let p = port(
        &[("a", Now::AsLeft), ("b", Now::AsLeft), ("c", Now::AsLeft)],
        Some("b"),
    );
    let r = undo(&p, &plan, false).await;
    assert_eq!(*p.runs.lock().unwrap(), ["c", "b"], "stops at the failure");
    assert!(matches!(r.steps[1].outcome, StepOutcome::Failed(_)));
    assert_eq!(r.steps[2].outcome, StepOutcome::NotRun);
    assert!(!r.complete());
}
