//! backtest: one batch of a distributed backtest (a Step Functions Distributed Map hands it
//! a batch of archive objects and it writes their partial summary to S3), or the merge of
//! every partial into the run's summary.
//!
//! Wiring only. What it does lives in shared/backtest (lambda.rs). The policy
//! (`TRAILGUARD_POLICY`, inline JSON; empty is the default policy) is validated once, at
//! cold start.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use trailguard_rules::Policy;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let policy = match std::env::var("TRAILGUARD_POLICY")
        .ok()
        .filter(|p| !p.trim().is_empty())
    {
        Some(text) => Policy::from_json(&text)
            .map_err(|e| format!("environment variable TRAILGUARD_POLICY: {e}"))?,
        None => Policy::default(),
    };
    let sdk = trailguard_aws::sdk_config().await;
    let s3 = trailguard_backtest::source::s3_client(&sdk);
    run(service_fn(|event: LambdaEvent<Value>| {
        let (s3, policy) = (&s3, &policy);
        async move {
            trailguard_backtest::lambda::handle(s3, policy, event.payload)
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
