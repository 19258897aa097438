//! Fault tests: Sesame's store talks to LocalStack through a [`FaultProxy`] with short
//! timeouts, so a hung, unreachable, throttling or flaky store is a deterministic test.
//! During a fault every answer is a 503 `service_unavailable` with `Retry-After` and the error
//! shape (a hang would hit [`FaultEnv::send`]'s generous deadline and fail the test); after
//! [`FaultProxy::heal`] the same process answers again and the state is consistent.

mod outages;
mod proxy;
mod writes;

use std::ops::Deref;
use std::time::Duration;

use axum::http::StatusCode;
use shared::config::{AwsCalls, Config};
use shared::store::Store;

pub use proxy::FaultProxy;

use crate::support::{Call, Reply, TestEnv, assert_error, endpoint};

/// Timeouts shorter than the defaults so faults resolve quickly, yet long enough that a healthy
/// LocalStack on a loaded 2-core machine never runs into them (an attempt that timed out there
/// would add a retry the tests count).
pub const FAST: AwsCalls = AwsCalls {
    connect_timeout: Duration::from_millis(1000),
    attempt_timeout: Duration::from_millis(2000),
    operation_timeout: Duration::from_millis(4000),
    max_attempts: 2,
    retry_base: Duration::from_millis(10),
};

/// How long a test waits for any one answer before calling it a hang.
const DEADLINE: Duration = Duration::from_secs(30);

/// A [`TestEnv`] whose store goes through a [`FaultProxy`] with [`FAST`] timeouts. The table
/// is created directly, with the default timeouts, before any fault.
pub struct FaultEnv {
    pub env: TestEnv,
    pub proxy: FaultProxy,
}

impl Deref for FaultEnv {
    type Target = TestEnv;

    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

impl FaultEnv {
    pub async fn new() -> FaultEnv {
        FaultEnv::with_config(|_| {}).await
    }

    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> FaultEnv {
        let proxy = FaultProxy::start(&endpoint()).await;
        let env = TestEnv::with_config(adjust).await;
        let config = &env.ctx.config;
        let store = Store::local_with(
            &proxy.endpoint(),
            &config.aws_region,
            &config.table_name,
            &FAST,
        );
        FaultEnv {
            env: env.with_store(store),
            proxy,
        }
    }

    /// Sends a call; fails the test if no answer comes within a generous deadline.
    pub async fn send(&self, call: Call) -> Reply {
        tokio::time::timeout(DEADLINE, self.env.send(call))
            .await
            .expect("an answer within the deadline, not a hang")
    }
}

/// The contract's 503: status, `service_unavailable`, the error shape and `Retry-After`.
pub fn assert_unavailable(reply: &Reply) {
    assert_error(
        reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    let retry_after = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "Retry-After: {retry_after:?}"
    );
}
