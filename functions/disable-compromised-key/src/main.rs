//! disable-compromised-key: contains a leaked or abused IAM access key, and only that key.
//!
//! Wiring only. What it decides lives in shared/rules (guards/key.rs); how it acts, reports
//! and notifies lives in shared/aws. Clients are built once, at cold start.

use lambda_runtime::{run, service_fn, Error};
use trailguard_aws::{handle, init, notifier, system_clock, Deps, Guard, Unwired};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (settings, sdk) = init(Guard::AccessKey).await?;
    let deps = Deps {
        ec2: Unwired,
        iam: trailguard_aws::aws_sdk_iam::Client::new(&sdk),
        trail: trailguard_aws::aws_sdk_cloudtrail::Client::new(&sdk),
        notify: notifier(&settings, &sdk),
        settings,
        clock: system_clock,
    };
    run(service_fn(|event| handle(&deps, event))).await
}
