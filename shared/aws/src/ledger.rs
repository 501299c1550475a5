//! The ledger port on the DynamoDB client: one table (`pk` string key, `expires_at` TTL)
//! holds each guard's breaker per account (`breaker#<guard>@<account>`: the epoch
//! milliseconds and the actor of the changes it made there in the last hour, and a version) and each action's claim (`claim#<event>#<action>`:
//! who acts, until when, and the outcome). Every write is conditional on what was read, so
//! concurrent deliveries, containers and accounts never count past a limit or both win a
//! claim: the loser reads again and decides again. A function's reports of an event
//! (`report#<event>#<function>`: each delivery's that changed something, and who undid them)
//! are kept for `trailguard undo --event-id`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use trailguard_rules::ops;
use trailguard_rules::sweep::Checkpoint;

use crate::error::{classify, code_of, PortError};
use crate::ports::{Claim, KeptPlan, LedgerPort, PortResult, Slot, ACCOUNT_FACTOR};

const HOUR_MS: i64 = 3_600_000;
/// Optimistic writes retried before giving up with a retryable error.
const MAX_CONFLICTS: usize = 50;

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn num(item: &Item, key: &str) -> Option<i64> {
    item.get(key)?.as_n().ok()?.parse().ok()
}

fn text(item: &Item, key: &str) -> Option<String> {
    item.get(key)?.as_s().ok().cloned()
}

/// The ledger item of one function's reports of an event (and who undid them): each
/// function's apart, since EventBridge gives every rule's target the same event id.
pub fn report_key(event_id: &str, function: &str) -> String {
    format!("report#{event_id}#{function}")
}

/// Append `value` to the list attribute `list` of item `key` (at most `cap` long), and keep
/// the item until `keep_until` unless it is kept longer already: one write when it is, a
/// second without the expiry otherwise. False: the list is full.
async fn append_keeping_longer(
    c: &Client,
    table: &str,
    key: &str,
    list: &str,
    value: &str,
    keep_until: i64,
    cap: Option<i64>,
) -> PortResult<bool> {
    let append = format!("SET {list} = list_append(if_not_exists({list}, :none), :this)");
    let room = cap.map(|_| format!("(attribute_not_exists({list}) OR size({list}) < :max)"));
    for longer in [true, false] {
        let mut update = c
            .update_item()
            .table_name(table)
            .key("pk", s(key))
            .expression_attribute_values(":none", AttributeValue::L(vec![]))
            .expression_attribute_values(":this", AttributeValue::L(vec![s(value)]));
        if let Some(max) = cap {
            update = update.expression_attribute_values(":max", n(max));
        }
        let (expression, condition) = if longer {
            update = update.expression_attribute_values(":keep", n(keep_until));
            let later = "(attribute_not_exists(expires_at) OR expires_at < :keep)";
            (
                format!("{append}, expires_at = :keep"),
                Some(match &room {
                    Some(r) => format!("{r} AND {later}"),
                    None => later.to_string(),
                }),
            )
        } else {
            (append.clone(), room.clone())
        };
        match update
            .update_expression(expression)
            .set_condition_expression(condition)
            .send()
            .await
        {
            Ok(_) => return Ok(true),
            Err(e) if longer && conflict(&code_of(&e)) => continue,
            Err(e) if conflict(&code_of(&e)) => return Ok(false),
            Err(e) => return Err(classify(&ops::LEDGER_UPDATE, e)),
        }
    }
    Ok(false)
}

/// The most reports one item keeps (deliveries of one event that each changed something):
/// far more than redeliveries make, and far below DynamoDB's 400 KB an item.
const MAX_REPORTS: i64 = 25;

fn conflict(code: &Option<String>) -> bool {
    code.as_deref() == Some("ConditionalCheckFailedException")
}

fn contention(table: &str) -> PortError {
    PortError::Transient {
        op: "PutItem",
        code: "LedgerContention".into(),
        message: format!("{table}: {MAX_CONFLICTS} conflicting writes in a row"),
    }
}

pub(crate) async fn get(c: &Client, table: &str, pk: &str) -> PortResult<Option<Item>> {
    let out = c
        .get_item()
        .table_name(table)
        .key("pk", s(pk))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| classify(&ops::LEDGER_GET, e))?;
    Ok(out.item)
}

/// A breaker's last hour: (epoch ms, actor) of each change, and the actors (or `*`, the
/// whole account) whose refusal has been told.
struct Window {
    entries: Vec<(i64, String)>,
    opened: Vec<String>,
}

impl Window {
    fn read(item: Option<&Item>, now_ms: i64) -> Window {
        let list = |k: &str| -> Vec<AttributeValue> {
            item.and_then(|i| i.get(k))
                .and_then(|v| v.as_l().ok())
                .cloned()
                .unwrap_or_default()
        };
        let times = list("times");
        let actors = list("actors");
        let entries = times
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let t: i64 = t.as_n().ok()?.parse().ok()?;
                let a = actors
                    .get(i)
                    .and_then(|a| a.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                Some((t, a))
            })
            .filter(|(t, _)| *t > now_ms - HOUR_MS)
            .collect();
        let opened = list("opened")
            .iter()
            .filter_map(|a| a.as_s().ok().cloned())
            .collect();
        Window { entries, opened }
    }

    /// Count a change by `actor` unless it or the account is at its limit: (count granted,
    /// or the refusal).
    fn take(&mut self, actor: &str, limit: u32, now_ms: i64) -> (u32, Option<Slot>) {
        let by_actor = self.entries.iter().filter(|(_, a)| a == actor).count() as u32;
        let total = self.entries.len() as u32;
        let account_limit = limit.saturating_mul(ACCOUNT_FACTOR);
        let over = if by_actor >= limit {
            Some((actor.to_string(), by_actor, true))
        } else if total >= account_limit {
            Some(("*".to_string(), total, false))
        } else {
            None
        };
        if let Some((who, count, actor_limited)) = over {
            let first = !self.opened.contains(&who);
            if first {
                self.opened.push(who);
            }
            return (
                0,
                Some(Slot::Refused {
                    count,
                    first,
                    by_actor: actor_limited,
                }),
            );
        }
        self.entries.push((now_ms, actor.to_string()));
        // A breaker that had room again may open again, and tell again.
        let entries = &self.entries;
        self.opened.retain(|w| {
            if w == "*" {
                entries.len() as u32 >= account_limit
            } else {
                entries.iter().filter(|(_, a)| a == w).count() as u32 >= limit
            }
        });
        (by_actor + 1, None)
    }
}

impl LedgerPort for Client {
    async fn take_slot(
        &self,
        table: &str,
        scope: &str,
        actor: &str,
        limit: u32,
        now_ms: i64,
    ) -> PortResult<Slot> {
        let pk = format!("breaker#{scope}");
        for attempt in 0..MAX_CONFLICTS {
            if attempt > 0 {
                // Spread the retries of racing writers.
                tokio::time::sleep(std::time::Duration::from_millis(
                    2 + (attempt as u64 * 7) % 23,
                ))
                .await;
            }
            let item = get(self, table, &pk).await?;
            let version = item.as_ref().and_then(|i| num(i, "version"));
            let mut window = Window::read(item.as_ref(), now_ms);
            let (granted, refused) = window.take(actor, limit, now_ms);
            if let Some(Slot::Refused { first: false, .. }) = refused {
                return Ok(refused.unwrap_or(Slot::Granted { count: 0 }));
            }
            let mut put = self
                .put_item()
                .table_name(table)
                .item("pk", s(&pk))
                .item(
                    "times",
                    AttributeValue::L(window.entries.iter().map(|(t, _)| n(*t)).collect()),
                )
                .item(
                    "actors",
                    AttributeValue::L(window.entries.iter().map(|(_, a)| s(a)).collect()),
                )
                .item("version", n(version.unwrap_or(0) + 1))
                // Idle breakers disappear an hour after their last action.
                .item("expires_at", n(now_ms / 1000 + 7200));
            if !window.opened.is_empty() {
                put = put.item(
                    "opened",
                    AttributeValue::L(window.opened.iter().map(s).collect()),
                );
            }
            put = match version {
                Some(v) => put
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", n(v)),
                None => put.condition_expression("attribute_not_exists(pk)"),
            };
            match put.send().await {
                Ok(_) => return Ok(refused.unwrap_or(Slot::Granted { count: granted })),
                Err(e) if conflict(&code_of(&e)) => continue,
                Err(e) => return Err(classify(&ops::LEDGER_PUT, e)),
            }
        }
        Err(contention(table))
    }

    async fn give_back_slot(
        &self,
        table: &str,
        scope: &str,
        actor: &str,
        at_ms: i64,
    ) -> PortResult<()> {
        let pk = format!("breaker#{scope}");
        for _ in 0..MAX_CONFLICTS {
            let Some(item) = get(self, table, &pk).await? else {
                return Ok(());
            };
            let Some(version) = num(&item, "version") else {
                return Ok(());
            };
            let mut window = Window::read(Some(&item), i64::MIN / 2);
            let Some(i) = window
                .entries
                .iter()
                .position(|(t, a)| *t == at_ms && a == actor)
            else {
                return Ok(());
            };
            window.entries.remove(i);
            let r = self
                .update_item()
                .table_name(table)
                .key("pk", s(&pk))
                .update_expression("SET times = :times, actors = :actors, version = :next")
                .condition_expression("version = :v")
                .expression_attribute_values(
                    ":times",
                    AttributeValue::L(window.entries.iter().map(|(t, _)| n(*t)).collect()),
                )
                .expression_attribute_values(
                    ":actors",
                    AttributeValue::L(window.entries.iter().map(|(_, a)| s(a)).collect()),
                )
                .expression_attribute_values(":next", n(version + 1))
                .expression_attribute_values(":v", n(version))
                .send()
                .await;
            match r {
                Ok(_) => return Ok(()),
                Err(e) if conflict(&code_of(&e)) => continue,
                Err(e) => return Err(classify(&ops::LEDGER_UPDATE, e)),
            }
        }
        Err(contention(table))
    }

    async fn claim(
        &self,
        table: &str,
        key: &str,
        owner: &str,
        now: i64,
        lease: i64,
    ) -> PortResult<Claim> {
        for _ in 0..MAX_CONFLICTS {
            let r = self
                .put_item()
                .table_name(table)
                .item("pk", s(key))
                .item("state", s("acting"))
                .item("owner", s(owner))
                .item("lease_until", n(now + lease))
                .item("expires_at", n(now + 7 * 86_400))
                // Free, or held by a delivery whose lease ran out (it crashed mid-action).
                .condition_expression(
                    "attribute_not_exists(pk) OR (#state = :acting AND lease_until < :now)",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":acting", s("acting"))
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match r {
                Ok(_) => return Ok(Claim::Won),
                Err(e) if conflict(&code_of(&e)) => {
                    if let Some(c) = self.claim_state(table, key).await? {
                        return Ok(c);
                    }
                    // Released between the write and the read: try again.
                }
                Err(e) => return Err(classify(&ops::LEDGER_PUT, e)),
            }
        }
        Err(contention(table))
    }

    async fn claim_state(&self, table: &str, key: &str) -> PortResult<Option<Claim>> {
        Ok(get(self, table, key)
            .await?
            .map(|item| match text(&item, "state").as_deref() {
                Some("done") => Claim::Done {
                    outcome: text(&item, "outcome").unwrap_or_else(|| "done".into()),
                },
                _ => Claim::Busy {
                    lease_until: num(&item, "lease_until").unwrap_or(0),
                },
            }))
    }

    async fn finish(
        &self,
        table: &str,
        key: &str,
        owner: &str,
        outcome: &str,
        reversal: Option<&str>,
        keep_until: i64,
    ) -> PortResult<()> {
        let mut update = self.update_item().table_name(table).key("pk", s(key));
        update = match reversal {
            // Kept for `trailguard undo` (the policy's retention, never under a claim's 7
            // days: the retention is at least that, counted from now, after the claim).
            Some(r) => update
                .update_expression(
                    "SET #state = :done, outcome = :outcome, reversal = :reversal, \
                     expires_at = :keep",
                )
                .expression_attribute_values(":reversal", s(r))
                .expression_attribute_values(":keep", n(keep_until)),
            None => update.update_expression("SET #state = :done, outcome = :outcome"),
        };
        let r = update
            .condition_expression("#owner = :me")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":outcome", s(outcome))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match r {
            // The lease ran out and another delivery took over: its outcome stands.
            Err(e) if conflict(&code_of(&e)) => Ok(()),
            Err(e) => Err(classify(&ops::LEDGER_UPDATE, e)),
            Ok(_) => Ok(()),
        }
    }

    async fn claimed_reversal(&self, table: &str, key: &str) -> PortResult<Option<String>> {
        // Once undone, never again: a claim marked undone holds no reversal to run.
        Ok(get(self, table, key).await?.and_then(|item| {
            let undone =
                text(&item, "outcome").is_some_and(|o| o.starts_with(crate::executor::UNDONE_BY));
            (text(&item, "state").as_deref() == Some("done") && !undone)
                .then(|| text(&item, "reversal"))
                .flatten()
        }))
    }

    async fn release(&self, table: &str, key: &str, owner: &str) -> PortResult<()> {
        let r = self
            .delete_item()
            .table_name(table)
            .key("pk", s(key))
            .condition_expression("#owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match r {
            Err(e) if conflict(&code_of(&e)) => Ok(()),
            Err(e) => Err(classify(&ops::LEDGER_DELETE, e)),
            Ok(_) => Ok(()),
        }
    }

    async fn checkpoint(&self, table: &str, key: &str) -> PortResult<Option<Checkpoint>> {
        let Some(item) = get(self, table, key).await? else {
            return Ok(None);
        };
        // A checkpoint this release cannot read is dropped: the sweep starts over, which
        // costs calls but misses nothing.
        Ok(text(&item, "kind")
            .and_then(|k| serde_json::from_value(serde_json::Value::String(k)).ok())
            .map(|kind| Checkpoint {
                kind,
                token: text(&item, "token"),
                skip: num(&item, "skip").unwrap_or(0).max(0) as u64,
            }))
    }

    async fn save_checkpoint(
        &self,
        table: &str,
        key: &str,
        checkpoint: Option<&Checkpoint>,
        now: i64,
    ) -> PortResult<()> {
        let Some(cp) = checkpoint else {
            self.delete_item()
                .table_name(table)
                .key("pk", s(key))
                .send()
                .await
                .map_err(|e| classify(&ops::LEDGER_DELETE, e))?;
            return Ok(());
        };
        let kind = serde_json::to_value(cp.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let mut put = self
            .put_item()
            .table_name(table)
            .item("pk", s(key))
            .item("kind", s(kind))
            .item("skip", n(cp.skip as i64))
            // Next-page tokens expire within hours; a stale checkpoint is worth nothing.
            .item("expires_at", n(now + 86_400));
        if let Some(token) = &cp.token {
            put = put.item("token", s(token));
        }
        put.send()
            .await
            .map_err(|e| classify(&ops::LEDGER_PUT, e))?;
        Ok(())
    }

    async fn mark_undone(
        &self,
        table: &str,
        key: &str,
        note: &str,
        keep_until: i64,
    ) -> PortResult<bool> {
        // A claim lives 7 days; `keep_until` (the undo's time and then some) is always later.
        let r = self
            .update_item()
            .table_name(table)
            .key("pk", s(key))
            .update_expression("SET outcome = :note, expires_at = :keep")
            .condition_expression("#state = :done")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":note", s(note))
            .expression_attribute_values(":keep", n(keep_until))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if conflict(&code_of(&e)) => Ok(false),
            Err(e) => Err(classify(&ops::LEDGER_UPDATE, e)),
        }
    }

    async fn keep_report(
        &self,
        table: &str,
        key: &str,
        report: &str,
        keep_until: i64,
    ) -> PortResult<()> {
        // Appended, never replaced: a redelivery that finished what an earlier one began
        // adds its own, and `undo --event-id` undoes both.
        if append_keeping_longer(
            self,
            table,
            key,
            "reports",
            report,
            keep_until,
            Some(MAX_REPORTS),
        )
        .await?
        {
            Ok(())
        } else {
            Err(PortError::Permanent {
                op: ops::LEDGER_UPDATE.api,
                code: "TooManyReports".into(),
                message: format!("{key} keeps {MAX_REPORTS} reports already"),
            })
        }
    }

    async fn kept_reports(&self, table: &str, key: &str) -> PortResult<Vec<String>> {
        let Some(item) = get(self, table, key).await? else {
            return Ok(vec![]);
        };
        Ok(item
            .get("reports")
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|r| r.as_s().ok().cloned()).collect())
            .unwrap_or_default())
    }

    async fn record_undo(
        &self,
        table: &str,
        key: &str,
        record: &str,
        keep_until: i64,
    ) -> PortResult<()> {
        append_keeping_longer(self, table, key, "undone", record, keep_until, None)
            .await
            .map(|_| ())
    }

    async fn offer_plan(
        &self,
        table: &str,
        key: &str,
        plan: &str,
        approve_by: i64,
        keep_until: i64,
    ) -> PortResult<KeptPlan> {
        let r = self
            .put_item()
            .table_name(table)
            .item("pk", s(key))
            .item("plan", s(plan))
            .item("state", s("waiting"))
            .item("approve_by", n(approve_by))
            .item("expires_at", n(keep_until))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(KeptPlan {
                plan: plan.to_string(),
                state: "waiting".into(),
                approve_by,
                by: None,
            }),
            Err(e) if conflict(&code_of(&e)) => {
                self.kept_plan(table, key)
                    .await?
                    .ok_or_else(|| PortError::Transient {
                        op: ops::LEDGER_GET.api,
                        code: "PlanVanished".into(),
                        message: format!("{key}: kept, then gone before it could be read"),
                    })
            }
            Err(e) => Err(classify(&ops::LEDGER_PUT, e)),
        }
    }

    async fn kept_plan(&self, table: &str, key: &str) -> PortResult<Option<KeptPlan>> {
        Ok(get(self, table, key).await?.and_then(|item| {
            Some(KeptPlan {
                plan: text(&item, "plan")?,
                state: text(&item, "state")?,
                approve_by: num(&item, "approve_by")?,
                by: text(&item, "by"),
            })
        }))
    }

    async fn settle_plan(
        &self,
        table: &str,
        key: &str,
        from: &str,
        to: &str,
        by: &str,
        now: i64,
    ) -> PortResult<bool> {
        let mut update = self
            .update_item()
            .table_name(table)
            .key("pk", s(key))
            .update_expression("SET #state = :to, #by = :by, settled_at = :now")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#by", "by")
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .expression_attribute_values(":by", s(by))
            .expression_attribute_values(":now", n(now));
        update = if from == "waiting" {
            update.condition_expression("#state = :from AND approve_by >= :now")
        } else {
            update.condition_expression("#state = :from")
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if conflict(&code_of(&e)) => Ok(false),
            Err(e) => Err(classify(&ops::LEDGER_UPDATE, e)),
        }
    }

    async fn reset_breaker(&self, table: &str, scope: &str) -> PortResult<bool> {
        let out = self
            .delete_item()
            .table_name(table)
            .key("pk", s(format!("breaker#{scope}")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify(&ops::LEDGER_DELETE, e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}
