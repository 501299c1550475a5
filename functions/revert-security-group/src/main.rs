//! revert-security-group: reverts security-group rules that open a group to the internet.
//!
//! Wiring only. What it decides lives in shared/rules (guards/sg.rs); how it acts, reports
//! and notifies lives in shared/aws. Settings, policy and clients are built once, at cold
//! start.

use lambda_runtime::{run, service_fn, Error};
use trailguard_aws::{guards::sg, Deps, Sdk};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deps = Deps::from_env(&sg::GUARD, |sdk| Sdk::none().with_ec2(sdk).with_ledger(sdk)).await?;
    run(service_fn(|event| deps.handle(event))).await
}
