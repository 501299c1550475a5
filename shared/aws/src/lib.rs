//! The effectful side every trailguard function shares: AWS ports implemented on the SDK
//! clients, the executor, the report, notification and metrics. Decisions come from the
//! pure `trailguard-rules` crate; this crate only carries them out.

pub mod config;
pub mod ec2;
pub mod error;
pub mod forensics;
pub mod handler;
pub mod iam;
pub mod message;
pub mod metrics;
pub mod notify;
pub mod ports;
pub mod trail;

pub use config::{sdk_config, Settings};
pub use error::{HandlerError, PortError};
pub use handler::{handle, process, system_clock, Deps};
pub use notify::Notifier;
pub use ports::{Change, Ec2Port, IamPort, NotifyPort, TrailPort, Unwired};
pub use trailguard_rules::Guard;

/// Build the settings and shared AWS configuration once, at cold start. Errors name the
/// variable that is wrong.
pub async fn init(
    guard: Guard,
) -> Result<(Settings, aws_config::SdkConfig), lambda_runtime::Error> {
    let mut settings = Settings::from_env(guard)?;
    let sdk = sdk_config().await;
    if settings.own_role_arn.is_none() {
        settings.own_role_arn = config::discover_own_role(&sdk).await;
    }
    Ok((settings, sdk))
}

/// The notifier every function uses: SNS, and EventBridge when a bus is configured.
pub fn notifier(settings: &Settings, sdk: &aws_config::SdkConfig) -> Notifier {
    Notifier {
        sns: aws_sdk_sns::Client::new(sdk),
        topic_arn: settings.topic_arn.clone(),
        events: aws_sdk_eventbridge::Client::new(sdk),
        event_bus: settings.event_bus.clone(),
    }
}

// The SDK crates, so function crates wire clients without depending on them directly (and
// so every crate resolves the same SDK features: one build of the SDK for the workspace).
pub use aws_sdk_cloudtrail;
pub use aws_sdk_ec2;
pub use aws_sdk_iam;
