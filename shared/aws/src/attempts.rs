//! Counting HTTP attempts, retries included, so a report can say how hard an action was, and
//! naming the calls made, so it can say which AWS operations the action and the decision
//! took: an interceptor on every SDK client counts into task-locals that the executor opens
//! around each action and the handler around each decision.

use std::cell::{Cell, RefCell};
use std::future::Future;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

tokio::task_local! {
    static ATTEMPTS: Cell<u32>;
    static CALLS: RefCell<Vec<String>>;
}

/// Counts each attempt of each call made inside [`counted`], and names each call made inside
/// [`recorded`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AttemptCounter;

impl Intercept for AttemptCounter {
    fn name(&self) -> &'static str {
        "trailguard::AttemptCounter"
    }

    fn read_before_serialization(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Once per call, however many attempts it takes; not `read_before_execution`, which
        // runs for a client's interceptors before the operation's name is in the bag.
        if let Some(m) = cfg.load::<Metadata>() {
            let _ = CALLS.try_with(|c| c.borrow_mut().push(m.name().to_string()));
        }
        Ok(())
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

/// Run `f`, and name the AWS operations it called, in order (`DescribeNetworkAcls`).
pub async fn recorded<F: Future>(f: F) -> (F::Output, Vec<String>) {
    CALLS
        .scope(RefCell::new(vec![]), async move {
            let out = f.await;
            (out, CALLS.with(|c| c.take()))
        })
        .await
}

/// What an action's calls took: HTTP attempts (retries included) and the operations called.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    pub attempts: u32,
    pub calls: Vec<String>,
}

/// Run `f`, and say what its AWS calls took.
pub async fn measured<F: Future>(f: F) -> (F::Output, Traffic) {
    // The action's future on the heap: each layer that holds it by value adds its size to
    // the caller's (and a debug build's test thread overflows its stack).
    let ((out, attempts), calls) = recorded(Box::pin(counted(f))).await;
    (out, Traffic { attempts, calls })
}
