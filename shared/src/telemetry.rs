//! Logging set-up: JSON lines (CloudWatch-friendly) in Lambda, readable text locally.
//! Levels come from `RUST_LOG` (default `info`). Nothing logs bodies or credentials.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are ignored.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if crate::config::is_lambda() {
        builder
            .json()
            .with_current_span(false)
            .without_time()
            .try_init()
    } else {
        builder.try_init()
    };
    drop(result);
}
