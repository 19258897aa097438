//! Everything a request needs, built once per cold start and shared by every request.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::blobs::Blobs;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::password::PasswordHasher;
use crate::store::Store;
use crate::tokens::Keys;

/// Configuration, store, attachment bucket, keys, clock and password hasher; cheap to clone.
#[derive(Debug, Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub store: Store,
    pub blobs: Blobs,
    pub keys: Arc<Keys>,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
}

impl Context {
    /// Assembles a context from its parts (tests pass their own store, bucket, keys and clock).
    pub fn new(
        config: Config,
        store: Store,
        blobs: Blobs,
        keys: Keys,
        clock: Arc<dyn Clock>,
    ) -> Context {
        let hasher = PasswordHasher::new(config.hash_concurrency);
        Context {
            config: Arc::new(config),
            store,
            blobs,
            keys: Arc::new(keys),
            clock,
            hasher,
        }
    }

    /// Reads the environment, builds the DynamoDB and S3 clients from one AWS configuration and
    /// loads the signing key. Called once per cold start by every function's `main`.
    pub async fn from_env() -> Result<Context, crate::BoxError> {
        let config = Config::from_env()?;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(config.aws_region.clone()));
        if let Some(endpoint) = &config.aws_endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk_config = loader.load().await;
        let store = Store::connect(&sdk_config, &config.table_name);
        // Local endpoints serve buckets by path only; AWS prefers virtual-hosted addressing.
        let path_style = config.aws_endpoint_url.is_some();
        let blobs = Blobs::connect(&sdk_config, &config.bucket_name, path_style);
        let keys = Keys::load(&config)?;
        Ok(Context::new(
            config,
            store,
            blobs,
            keys,
            Arc::new(SystemClock),
        ))
    }

    /// The current time by this context's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
