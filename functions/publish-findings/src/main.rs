//! publish-findings: the remediations the functions keep in the ledger, imported into the
//! account's Security Hub as findings of its own default product (only when the stack's
//! ImportFindings parameter is `true`).
//!
//! Wiring only. What it does lives in shared/aws (publish.rs) and shared/rules
//! (imported.rs). Settings and clients are built once, at cold start; a setting that is
//! wrong stops the cold start with an error that names its variable.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use trailguard_aws::publish::{handle, PublishSettings};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let settings = PublishSettings::from_vars(|k| std::env::var(k).ok())?;
    let sdk = trailguard_aws::sdk_config().await;
    let ledger = aws_sdk_dynamodb::Client::new(&sdk);
    let hub = aws_sdk_securityhub::Client::new(&sdk);
    run(service_fn(|event: LambdaEvent<Value>| {
        let (ledger, hub, settings) = (&ledger, &hub, &settings);
        async move {
            let out = handle(
                ledger,
                hub,
                settings,
                &event.payload,
                trailguard_aws::system_clock(),
            )
            .await
            .map_err(Error::from)?;
            // The answer is the function's log line too: what was imported, skipped, refused.
            println!("{out}");
            Ok::<Value, Error>(out)
        }
    }))
    .await
}
