//! revert-storage-policy: takes principals outside the trusted set back out of ECR repository,
//! OpenSearch domain, Glacier vault and EFS file system policies.
//!
//! Wiring only. What it decides lives in shared/rules (guards/storage_policy.rs); how it
//! acts, reports and notifies lives in shared/aws.

use lambda_runtime::{run, service_fn, Error};
use trailguard_aws::{guards::storage_policy, Acting, Clients, Deps, Sdk, SdkConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = Deps::from_env(&storage_policy::DECIDER, wire).await?;
    run(service_fn(|event| deps.handle(event))).await
}

/// The clients the function acts through, in its own account and in any other.
pub fn wire(sdk: &SdkConfig) -> impl Clients {
    // Only its guard's action types: the binary keeps no other action's code.
    Acting::<_, { storage_policy::ACTION_MASK }>(
        Sdk::none()
            .with_account_alias(sdk)
            .with_ecr(sdk)
            .with_opensearch(sdk)
            .with_glacier(sdk)
            .with_efs(sdk)
            .with_organizations(sdk)
            .with_ledger(sdk),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn main_wires_every_client_its_guard_needs() {
        assert_eq!(
            trailguard_aws::wiring_problems(&super::storage_policy::GUARD, super::wire),
            Vec::<String>::new()
        );
    }

    #[test]
    fn links_only_its_own_guards_decisions() {
        // Kept in this test binary as in the function's, so its symbols say what it links.
        std::hint::black_box(super::main as fn() -> _);
        let linked = trailguard_aws::decisions_linked_here().unwrap();
        assert_eq!(linked, ["storage_policy".to_string()].into());
    }
}
