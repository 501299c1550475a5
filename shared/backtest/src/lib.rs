//! `trailguard backtest`: what trailguard would have done over an archive of CloudTrail logs,
//! before it enforces anything. Used by the CLI on one machine and by the backtest Lambda
//! (one batch of objects per invocation, under a Step Functions Distributed Map); both
//! produce the same [`Summary`], and summaries merge.

pub mod engine;
pub mod gunzip;
pub mod html;
pub mod lambda;
pub mod quick;
pub mod render;
pub mod run;
pub mod scan;
pub mod skip;
pub mod source;
pub mod summary;

pub use engine::{Engine, Filters, Sift};
pub use summary::Summary;

/// The IAM actions the backtest function calls (declared with the others in ops.rs).
pub fn iam_actions() -> Vec<&'static str> {
    trailguard_rules::ops::BACKTEST
        .iter()
        .map(|o| o.iam)
        .collect()
}

/// The name of a batch's partial summary: the same for the same objects, so a retried batch
/// overwrites its own partial instead of adding a second one.
pub fn partial_name(keys: &[String]) -> String {
    let hash = keys.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, k| {
        k.bytes().chain(std::iter::once(0)).fold(h, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    });
    format!("partial-{hash:016x}.json")
}

/// Every partial summary under `s3://bucket/prefix`, merged.
pub async fn merge_partials(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<(Summary, usize), String> {
    let keys = source::s3_keys(s3, bucket, prefix).await?;
    let mut total = Summary::default();
    let mut n = 0;
    for (key, _) in keys.iter().filter(|(k, _)| k.ends_with(".json")) {
        let bytes = source::s3_get(s3, bucket, key)
            .await
            .map_err(|e| format!("s3://{bucket}/{key}: {e}"))?;
        let part: Summary = serde_json::from_slice(&bytes)
            .map_err(|e| format!("s3://{bucket}/{key}: not a partial summary: {e}"))?;
        total.merge(&part);
        n += 1;
    }
    Ok((total, n))
}
