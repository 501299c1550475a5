//! Counting HTTP attempts, retries included, so a report can say how hard an action was: an
//! interceptor on every SDK client counts into a task-local counter that the executor opens
//! around each action.

use std::cell::Cell;
use std::future::Future;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

tokio::task_local! {
    static ATTEMPTS: Cell<u32>;
}

/// Counts each attempt of each call made inside [`counted`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AttemptCounter;

impl Intercept for AttemptCounter {
    fn name(&self) -> &'static str {
        "trailguard::AttemptCounter"
    }

    fn read_before_attempt(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Calls made outside `counted` (cold start, tests) are not counted.
        let _ = ATTEMPTS.try_with(|c| c.set(c.get() + 1));
        Ok(())
    }
}

/// Run `f`, and say how many HTTP attempts its AWS calls made.
pub async fn counted<F: Future>(f: F) -> (F::Output, u32) {
    ATTEMPTS
        .scope(Cell::new(0), async move {
            let out = f.await;
            (out, ATTEMPTS.with(Cell::get))
        })
        .await
}
