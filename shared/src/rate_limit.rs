//! Fixed-window rate limits kept in DynamoDB, so every Lambda instance shares them.
//!
//! A limit allows `max` hits per `window` for one key (an IP, a QR code, a user). Windows are
//! aligned to the epoch, so a burst straddling a boundary may get up to twice `max` through;
//! that is the usual price of one write per hit.

use std::time::Duration;

use crate::context::Context;
use crate::error::{Error, Result};

/// A named limit: at most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Prefix of the counter key, e.g. `login-ip`.
    pub name: &'static str,
    pub max: u64,
    pub window: Duration,
}

/// Counts a hit of `subject` against `limit`; fails with 429 `rate_limited` and a
/// `Retry-After` of the rest of the window when the limit is exceeded.
pub async fn hit(ctx: &Context, limit: Limit, subject: &str) -> Result<()> {
    let now = ctx.now();
    let window_ms = limit.window.as_millis().max(1) as i64;
    let window_start = now.timestamp_millis().div_euclid(window_ms) * window_ms;
    let window_end =
        chrono::DateTime::from_timestamp_millis(window_start + window_ms).unwrap_or(now);
    let hits = ctx
        .store
        .count_hit(
            &format!("{}#{subject}", limit.name),
            window_start,
            window_end,
        )
        .await?;
    if hits > limit.max {
        let retry_after = (window_end - now)
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_secs(1));
        return Err(Error::RateLimited { retry_after });
    }
    Ok(())
}
