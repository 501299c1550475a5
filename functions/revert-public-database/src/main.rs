//! revert-public-database: makes RDS DB instances and clusters and Redshift clusters that a
//! call made publicly accessible (or that Security Hub finds public) private again.
//!
//! Wiring only. What it decides lives in shared/rules (guards/public_database.rs); how it
//! acts, reports and notifies lives in shared/aws. Settings, policy and clients are built
//! once, at cold start.

use lambda_runtime::{run, service_fn, Error};
use trailguard_aws::{guards::public_database, Acting, Clients, Deps, Sdk, SdkConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = Deps::from_env(&public_database::DECIDER, wire).await?;
    run(service_fn(|event| deps.handle(event))).await
}

/// The clients the function acts through, in its own account and in any other.
fn wire(sdk: &SdkConfig) -> impl Clients {
    // Only its guard's action types: the binary keeps no other action's code.
    Acting::<_, { public_database::ACTION_MASK }>(
        Sdk::none()
            .with_account_alias(sdk)
            .with_rds(sdk)
            .with_redshift(sdk)
            .with_securityhub(sdk)
            .with_ledger(sdk),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn main_wires_every_client_its_guard_needs() {
        assert_eq!(
            trailguard_aws::wiring_problems(&super::public_database::GUARD, super::wire),
            Vec::<String>::new()
        );
    }

    #[test]
    fn links_only_its_own_guards_decisions() {
        // Kept in this test binary as in the function's, so its symbols say what it links.
        std::hint::black_box(super::main as fn() -> _);
        let linked = trailguard_aws::decisions_linked_here().unwrap();
        assert_eq!(linked, ["public_database".to_string()].into());
    }
}
