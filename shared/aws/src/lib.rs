//! The effectful side every trailguard function shares: AWS ports implemented on the SDK
//! clients, the executor, the handler, notification and metrics. Decisions come from the
//! pure `trailguard-rules` crate; this crate only carries them out.

pub mod attempts;
pub mod config;
pub mod ec2;
pub mod error;
pub mod executor;
pub mod forensics;
pub mod handler;
pub mod iam;
pub mod metrics;
pub mod notify;
pub mod ports;
pub mod trail;

use std::sync::Arc;

pub use config::{sdk_config, Settings};
pub use error::{HandlerError, PortError};
pub use handler::{system_clock, Deps, Incoming};
pub use notify::Notifier;
pub use ports::{
    Change, Clients, Connect, Ec2Port, Home, IamPort, NotifyPort, Sdk, Target, TrailPort, Unwired,
};
pub use trailguard_rules::guards;
pub use trailguard_rules::Guard;

use attempts::AttemptCounter;

impl<E, I, T> Sdk<E, I, T> {
    /// Wire the EC2 client.
    pub fn with_ec2(self, sdk: &aws_config::SdkConfig) -> Sdk<aws_sdk_ec2::Client, I, T> {
        let conf = aws_sdk_ec2::config::Builder::from(sdk)
            .interceptor(AttemptCounter)
            .build();
        Sdk {
            ec2: aws_sdk_ec2::Client::from_conf(conf),
            iam: self.iam,
            trail: self.trail,
        }
    }

    /// Wire the IAM client.
    pub fn with_iam(self, sdk: &aws_config::SdkConfig) -> Sdk<E, aws_sdk_iam::Client, T> {
        let conf = aws_sdk_iam::config::Builder::from(sdk)
            .interceptor(AttemptCounter)
            .build();
        Sdk {
            ec2: self.ec2,
            iam: aws_sdk_iam::Client::from_conf(conf),
            trail: self.trail,
        }
    }

    /// Wire the CloudTrail client.
    pub fn with_cloudtrail(
        self,
        sdk: &aws_config::SdkConfig,
    ) -> Sdk<E, I, aws_sdk_cloudtrail::Client> {
        let conf = aws_sdk_cloudtrail::config::Builder::from(sdk)
            .interceptor(AttemptCounter)
            .build();
        Sdk {
            ec2: self.ec2,
            iam: self.iam,
            trail: aws_sdk_cloudtrail::Client::from_conf(conf),
        }
    }
}

impl<C: Clients> Deps<Home<C>, Notifier> {
    /// Cold start: settings from the environment (errors name the variable), the shared
    /// AWS configuration, the function's own role, and the clients `wire` builds, once.
    pub async fn from_env(
        guard: &'static guards::GuardSpec,
        wire: impl FnOnce(&aws_config::SdkConfig) -> C,
    ) -> Result<Self, lambda_runtime::Error> {
        let mut settings = Settings::from_env(Guard(guard))?;
        let sdk = sdk_config().await;
        if settings.own_role_arn.is_none() {
            settings.own_role_arn = config::discover_own_role(&sdk).await;
        }
        Ok(Deps {
            connect: Home(Arc::new(wire(&sdk))),
            notify: Notifier::new(&settings, &sdk),
            settings,
            clock: system_clock,
        })
    }
}
