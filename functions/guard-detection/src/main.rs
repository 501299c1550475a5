//! guard-detection: reports logging and threat detection being switched off.
//!
//! Wiring only. What it decides lives in shared/rules (guards/detection.rs); how it reports
//! and notifies lives in shared/aws. It acts on no resource, so it wires no client.

use lambda_runtime::{run, service_fn, Error};
use trailguard_aws::{guards::detection, Deps, Sdk};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deps = Deps::from_env(&detection::GUARD, |_| Sdk::none()).await?;
    run(service_fn(|event| deps.handle(event))).await
}
