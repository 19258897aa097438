//! Everything a request needs, built once per cold start and shared by every request.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::password::PasswordHasher;
use crate::store::Store;
use crate::tokens::Keys;

/// Configuration, store, keys, clock and password hasher; cheap to clone.
#[derive(Debug, Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub store: Store,
    pub keys: Arc<Keys>,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
}

impl Context {
    /// Assembles a context from its parts (tests pass their own store, keys and clock).
    pub fn new(config: Config, store: Store, keys: Keys, clock: Arc<dyn Clock>) -> Context {
        let hasher = PasswordHasher::new(config.hash_concurrency);
        Context {
            config: Arc::new(config),
            store,
            keys: Arc::new(keys),
            clock,
            hasher,
        }
    }

    /// Reads the environment, connects to DynamoDB and loads the signing key. Called once per
    /// cold start by every function's `main`.
    pub async fn from_env() -> Result<Context, crate::BoxError> {
        let config = Config::from_env()?;
        let store = Store::connect(&config).await;
        let keys = Keys::load(&config)?;
        Ok(Context::new(config, store, keys, Arc::new(SystemClock)))
    }

    /// The current time by this context's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
