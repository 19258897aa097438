//! Counting the DynamoDB requests a store sends, per operation, for measurements (`bench/`).
//!
//! [`CallCounter`] is an SDK interceptor installed on the store's client by
//! [`Store::local_counted`]: every HTTP request the SDK is about to send to DynamoDB (retries
//! included) adds one to its operation's count, so the numbers are exact, not estimated. The
//! SDK types stay in this module, as the `shared::store` invariant wants; callers only see
//! operation names and counts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use super::Store;

/// DynamoDB requests sent per operation name (`GetItem`, `TransactWriteItems`, ...) since the
/// counter was made or last taken; cheap to clone (clones share the counts).
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// A counter at zero.
    pub fn new() -> CallCounter {
        CallCounter::default()
    }

    /// The counts since the last `take` (or since creation), and resets them to zero.
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        // A panic while holding the lock cannot leave a count half-written.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or("unknown", Metadata::name)
            .to_owned();
        *self.lock().entry(operation).or_default() += 1;
        Ok(())
    }
}

impl Store {
    /// Like [`Store::local`], with `counter` counting every request the store sends.
    pub fn local_counted(
        endpoint: &str,
        region: &str,
        table: &str,
        counter: &CallCounter,
    ) -> Store {
        let config = super::local_config(endpoint, region, &crate::config::AwsCalls::default())
            .interceptor(counter.clone())
            .build();
        Store::new(aws_sdk_dynamodb::Client::from_conf(config), table)
    }
}
