//! The backtest Lambda's two requests, as a Step Functions Distributed Map sends them:
//!
//! - a batch (`ItemBatcher`): `{"Items": [{"Key": "...", ...}], "BatchInput": {"bucket":
//!   "...", "output": "s3://bucket/run/"}}` -> the objects decided, one partial summary
//!   written to `<output>partials/<name>.json` (the name follows from the keys, so a retried
//!   batch overwrites its own partial);
//! - the merge (the state after the map): `{"merge": "s3://bucket/run/"}` -> every partial
//!   merged, `summary.json`, `summary.md` and `summary.html` (the page) written next to them.
//!
//! The merge is [`crate::merge_partials`], the same code `trailguard backtest --merge` runs.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::engine::{Engine, Filters};
use crate::run::{self, Options};
use crate::source::parse_s3_url;
use crate::{html, merge_partials, partial_name, render};

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Request {
    Merge {
        merge: String,
    },
    Batch {
        #[serde(rename = "Items")]
        items: Vec<Item>,
        #[serde(rename = "BatchInput")]
        batch: BatchInput,
    },
}

#[derive(Debug, Deserialize)]
pub struct Item {
    #[serde(rename = "Key")]
    pub key: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct BatchInput {
    /// The archive's bucket.
    pub bucket: String,
    /// Where partial summaries go: `s3://bucket/prefix/`.
    pub output: String,
    pub since: Option<String>,
    pub until: Option<String>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub functions: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Response {
    pub written: String,
    pub objects: u64,
    pub records: u64,
    pub skipped: u64,
}

async fn put(
    s3: &aws_sdk_s3::Client,
    url: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<(), String> {
    let (bucket, key) = parse_s3_url(url).ok_or(format!("`{url}` is not an s3:// URL"))?;
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .content_type(content_type)
        .body(body.into())
        .send()
        .await
        .map_err(|e| {
            format!(
                "writing {url}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            )
        })?;
    Ok(())
}

fn dir(url: &str) -> String {
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

/// Handle one request. Errors are the invocation's error (Step Functions retries the batch,
/// then the map's tolerated-failure count decides).
pub async fn handle(
    s3: &aws_sdk_s3::Client,
    policy: &trailguard_rules::Policy,
    request: Value,
) -> Result<Value, String> {
    let request: Request = serde_json::from_value(request)
        .map_err(|e| format!("not a backtest batch or merge request: {e}"))?;
    match request {
        Request::Merge { merge } => {
            let base = dir(&merge);
            let (bucket, prefix) = parse_s3_url(&format!("{base}partials/"))
                .ok_or(format!("`{merge}` is not an s3:// URL"))?;
            let (summary, n) = merge_partials(s3, &bucket, &prefix).await?;
            put(
                s3,
                &format!("{base}summary.json"),
                serde_json::to_vec_pretty(&summary).unwrap_or_default(),
                "application/json",
            )
            .await?;
            put(
                s3,
                &format!("{base}summary.md"),
                render::render(&summary, true).into_bytes(),
                "text/markdown",
            )
            .await?;
            put(
                s3,
                &format!("{base}summary.html"),
                html::html(&summary).into_bytes(),
                "text/html; charset=utf-8",
            )
            .await?;
            Ok(
                json!({"partials": n, "summary": format!("{base}summary.json"), "objects": summary.objects, "records": summary.records, "skipped": summary.skipped}),
            )
        }
        Request::Batch { items, batch } => {
            if batch.bucket.is_empty() || batch.output.is_empty() {
                return Err(
                    "BatchInput needs `bucket` (the archive) and `output` (s3://bucket/prefix/)"
                        .into(),
                );
            }
            let filters = Filters {
                since: batch.since,
                until: batch.until,
                accounts: batch.accounts,
                regions: batch.regions,
                functions: batch.functions,
            };
            let engine = Arc::new(Engine::new(policy.clone(), filters)?);
            let keys: Vec<String> = items.into_iter().map(|i| i.key).collect();
            // A Lambda has one or two cores: decide on both, fetch a few objects ahead.
            let opts = Arc::new(Options {
                jobs: 0,
                fetches: 8,
                ..Options::default()
            });
            let summary = run::s3(engine, s3, &batch.bucket, &keys, opts).await;
            let written = format!("{}partials/{}", dir(&batch.output), partial_name(&keys));
            put(
                s3,
                &written,
                serde_json::to_vec(&summary).unwrap_or_default(),
                "application/json",
            )
            .await?;
            Ok(serde_json::to_value(Response {
                written,
                objects: summary.objects,
                records: summary.records,
                skipped: summary.skipped,
            })
            .unwrap_or(Value::Null))
        }
    }
}
