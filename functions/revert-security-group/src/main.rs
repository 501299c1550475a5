//! revert-security-group: reverts security-group rules that open a group to the internet.
//!
//! Wiring only. What it decides lives in shared/rules (guards/sg.rs); how it acts, reports
//! and notifies lives in shared/aws. Clients are built once, at cold start.

use lambda_runtime::{run, service_fn, Error};
use trailguard_aws::{handle, init, notifier, system_clock, Deps, Guard, Unwired};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (settings, sdk) = init(Guard::SecurityGroup).await?;
    let deps = Deps {
        ec2: trailguard_aws::aws_sdk_ec2::Client::new(&sdk),
        iam: Unwired,
        trail: Unwired,
        notify: notifier(&settings, &sdk),
        settings,
        clock: system_clock,
    };
    run(service_fn(|event| handle(&deps, event))).await
}
