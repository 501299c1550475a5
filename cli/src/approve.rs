//! `trailguard approve ID` and `trailguard reject ID`: a person's answer to a plan a
//! function kept in mode `approve`. Approving puts an "Approve Plan" event naming the plan
//! on the manual-trigger bus (only ManualTriggerPrincipals may): the function that kept it
//! reads it from the ledger, decides its event again and acts. Rejecting settles it in the
//! ledger, so a later approval does nothing. Both read the plan first and say where it
//! stands.

use std::process::ExitCode;

use serde_json::{json, Value};
use trailguard_aws::{KeptPlan, LedgerPort};
use trailguard_rules::approval::{self, PlanState, StoredPlan};

use crate::remote::{caller_arn, env, get, manual_bus, put_manual, runtime};

fn plan_id<'a>(f: &'a [(&'static str, String)]) -> Result<&'a str, String> {
    let id = get(f, "ID").unwrap_or_default().trim();
    if !approval::is_plan_id(id) {
        return Err(format!(
            "`{id}` is not a plan id (16 hex digits, as the notice's `trailguard approve ...` names it)"
        ));
    }
    Ok(id)
}

fn table(f: &[(&'static str, String)]) -> Result<String, String> {
    get(f, "--table")
        .map(String::from)
        .or_else(|| env("TRAILGUARD_LEDGER_TABLE"))
        .ok_or_else(|| {
            "--table is required (the stack's LedgerTableName output), or TRAILGUARD_LEDGER_TABLE"
                .to_string()
        })
}

fn now() -> i64 {
    trailguard_aws::system_clock()
}

/// The plan as kept, read, and where it stands now (a waiting plan past its time is expired).
async fn read(
    ledger: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &str,
) -> Result<(KeptPlan, StoredPlan, PlanState), String> {
    let kept = ledger
        .kept_plan(table, &approval::ledger_key(id))
        .await
        .map_err(|e| format!("{table}: {e}"))?
        .ok_or_else(|| {
            format!("no plan {id} in {table}: it was never kept, or it is past its retention")
        })?;
    let plan: StoredPlan = serde_json::from_str(&kept.plan)
        .map_err(|e| format!("plan {id} in {table} cannot be read: {e}"))?;
    let state = match PlanState::parse(&kept.state) {
        Some(PlanState::Waiting) if now() > kept.approve_by => PlanState::Expired,
        Some(s) => s,
        None => return Err(format!("plan {id} is in an unknown state `{}`", kept.state)),
    };
    Ok((kept, plan, state))
}

/// What the plan would do, for the person deciding (one line each; the JSON has it all).
/// Where the function will act is where the kept event is: its account, region and call are
/// shown from the event itself (the function refuses a plan whose own fields differ).
fn summary(id: &str, kept: &KeptPlan, plan: &StoredPlan, state: PlanState) -> Value {
    let e = &plan.event;
    json!({
        "plan_id": id,
        "function": plan.function,
        "state": state.as_str(),
        "by": kept.by,
        "approve_by": trailguard_rules::time::format_epoch(kept.approve_by),
        "account": e.get("account"),
        "region": e.get("region"),
        "event": {
            "id": e.get("id"),
            "source": e.get("source"),
            "detail_type": e.get("detail-type"),
            "name": e["detail"].get("eventName"),
            "actor": e["detail"]["userIdentity"].get("arn"),
        },
        "reason": plan.reason,
        "actions": plan.actions,
    })
}

fn not_waiting(id: &str, kept: &KeptPlan, state: PlanState) -> String {
    match state {
        PlanState::Expired => format!(
            "plan {id} expired at {}: nothing will be done (the change is still as it was; \
             look at it afresh)",
            trailguard_rules::time::format_epoch(kept.approve_by)
        ),
        s => format!(
            "plan {id} is {} already{}",
            s.as_str(),
            kept.by
                .as_deref()
                .map(|b| format!(" (by {})", approval::approver(Some(b))))
                .unwrap_or_default()
        ),
    }
}

/// A plan that still waits, as read for a person's answer.
struct Waiting {
    sdk: aws_config::SdkConfig,
    ledger: aws_sdk_dynamodb::Client,
    kept: KeptPlan,
    plan: StoredPlan,
}

/// The plan `id`, read with the usual credentials; an error naming its state unless it waits.
async fn waiting(table: &str, id: &str) -> Result<Waiting, String> {
    let sdk = trailguard_aws::sdk_config().await;
    let ledger = aws_sdk_dynamodb::Client::new(&sdk);
    let (kept, plan, state) = read(&ledger, table, id).await?;
    if state != PlanState::Waiting {
        return Err(not_waiting(id, &kept, state));
    }
    Ok(Waiting {
        sdk,
        ledger,
        kept,
        plan,
    })
}

/// `trailguard approve ID [--bus NAME] [--table NAME]`.
pub fn approve(f: &[(&'static str, String)]) -> Result<ExitCode, String> {
    let id = plan_id(f)?;
    let table = table(f)?;
    let bus = manual_bus(f)?;
    runtime()?.block_on(async {
        let Waiting {
            sdk, kept, plan, ..
        } = waiting(&table, id).await?;
        let caller = caller_arn(&sdk).await;
        // The digest of the plan shown here: the function runs it only if it reads this one.
        let detail = json!({
            "planId": id,
            "function": plan.function,
            "requestedBy": caller,
            "planDigest": trailguard_aws::approve::plan_digest(&kept.plan),
        });
        let event = put_manual(&sdk, &bus, approval::DETAIL_TYPE, &detail).await?;
        let mut out = summary(id, &kept, &plan, PlanState::Waiting);
        out["approval_event"] = json!(event);
        out["bus"] = json!(bus);
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        eprintln!(
            "approved: {} decides the plan's event again as the resources are now, does only \
             what the plan holds, and tells the topic",
            plan.function
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// `trailguard reject ID [--table NAME]`.
pub fn reject(f: &[(&'static str, String)]) -> Result<ExitCode, String> {
    let id = plan_id(f)?;
    let table = table(f)?;
    runtime()?.block_on(async {
        let Waiting {
            sdk,
            ledger,
            kept,
            plan,
        } = waiting(&table, id).await?;
        let by = caller_arn(&sdk)
            .await
            .unwrap_or_else(|| "a caller STS did not name".into());
        let key = approval::ledger_key(id);
        let settled = ledger
            .settle_plan(
                &table,
                &key,
                "waiting",
                PlanState::Rejected.as_str(),
                &by,
                now(),
            )
            .await
            .map_err(|e| format!("{table}: {e}"))?;
        if !settled {
            // Someone (or the clock) was first: say what happened instead.
            let (kept, _, state) = read(&ledger, &table, id).await?;
            return Err(not_waiting(id, &kept, state));
        }
        let mut out = summary(id, &kept, &plan, PlanState::Rejected);
        out["by"] = json!(by);
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        eprintln!("rejected: an approval of plan {id} now does nothing");
        Ok(ExitCode::SUCCESS)
    })
}
