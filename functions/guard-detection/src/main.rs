//! guard-detection: reports logging and threat detection being switched off.
//!
//! Wiring only. What it decides lives in shared/rules (guards/detection.rs); how it reports
//! and notifies lives in shared/aws. It acts on no resource, so it wires no client.

use lambda_runtime::{run, service_fn, Error};
use trailguard_aws::{guards::detection, Clients, Deps, Sdk, SdkConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = Deps::from_env(&detection::GUARD, wire).await?;
    run(service_fn(|event| deps.handle(event))).await
}

/// The clients the function acts through, in its own account and in any other.
fn wire(_sdk: &SdkConfig) -> impl Clients {
    Sdk::none()
}

#[cfg(test)]
mod tests {
    #[test]
    fn main_wires_every_client_its_guard_needs() {
        assert_eq!(
            trailguard_aws::wiring_problems(&super::detection::GUARD, super::wire),
            Vec::<String>::new()
        );
    }
}
