//! Fixed-window rate limits kept in DynamoDB, so every Lambda instance shares them.
//!
//! A limit allows `max` hits per `window` for one key (an IP, a QR code, a user). Windows are
//! aligned to the epoch, so a burst straddling a boundary may get up to twice `max` through;
//! that is the usual price of one write per hit. A hit is one conditional write that counts it
//! only while the window has room ([`crate::store::RateHit`]), so the same write can also be
//! one item of a transaction (the login counts its per-IP hit in the transaction that reserves
//! the password check).
//!
//! Per-IP limits count IPv6 clients by their /64 network ([`ip_subject`]): one subscriber
//! usually holds a whole /64 and can pick any address in it, so a per-address count would be
//! no limit at all.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::client::ClientInfo;
use crate::context::Context;
use crate::error::{Error, Result};
pub use crate::store::RateHit;

/// A named limit: at most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Prefix of the counter key, e.g. `login-ip`.
    pub name: &'static str,
    pub max: u64,
    pub window: Duration,
}

impl Limit {
    /// The hit of `subject` at `now`: the counter of the window `now` falls in.
    pub fn hit_at(&self, subject: &str, now: DateTime<Utc>) -> RateHit {
        let window_ms = self.window.as_millis().max(1) as i64;
        let window_start = now.timestamp_millis().div_euclid(window_ms) * window_ms;
        RateHit {
            key: format!("{}#{subject}", self.name),
            window_start,
            window_end: DateTime::from_timestamp_millis(window_start + window_ms).unwrap_or(now),
            max: self.max,
        }
    }

    /// The hit of the client's address at `now`; IPv6 clients are counted per /64 network
    /// (see [`ip_subject`]).
    pub fn ip_hit_at(&self, client: &ClientInfo, now: DateTime<Utc>) -> RateHit {
        self.hit_at(&ip_subject(client.ip.as_deref()), now)
    }
}

/// The 429 `rate_limited` answer to a refused `hit` at `now`, with a `Retry-After` of the rest
/// of its window.
pub fn refusal(hit: &RateHit, now: DateTime<Utc>) -> Error {
    let retry_after = (hit.window_end - now)
        .to_std()
        .unwrap_or_default()
        .max(Duration::from_secs(1));
    Error::RateLimited { retry_after }
}

/// Counts a hit of `subject` against `limit`; fails with 429 `rate_limited` and a
/// `Retry-After` of the rest of the window when the window's `max` hits are taken.
pub async fn hit(ctx: &Context, limit: Limit, subject: &str) -> Result<()> {
    let now = ctx.now();
    let hit = limit.hit_at(subject, now);
    if ctx.store.count_hit(&hit).await? {
        Ok(())
    } else {
        Err(refusal(&hit, now))
    }
}

/// Counts a hit of the client's address against a per-IP `limit`, like [`hit`]; IPv6 clients
/// are counted per /64 network (see [`ip_subject`]).
pub async fn hit_ip(ctx: &Context, limit: Limit, client: &ClientInfo) -> Result<()> {
    hit(ctx, limit, &ip_subject(client.ip.as_deref())).await
}

/// The subject a client address is counted under: an IPv4 address (also when written as an
/// IPv4-mapped IPv6 address) as it is, an IPv6 address as its /64 network (`2001:db8:1:2::/64`),
/// anything unparseable as given, and a missing address as `unknown`.
pub fn ip_subject(ip: Option<&str>) -> String {
    let Some(raw) = ip else {
        return "unknown".into();
    };
    match raw.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(network))
        }
        Err(_) => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_are_counted_by_their_64_network() {
        let subject = |ip: &str| ip_subject(Some(ip));
        assert_eq!(subject("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            subject("2001:DB8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_ne!(subject("2001:db8:1:3::1"), subject("2001:db8:1:2::1"));
        assert_eq!(subject("203.0.113.10"), "203.0.113.10");
        assert_eq!(subject("::ffff:203.0.113.10"), "203.0.113.10");
        assert_eq!(ip_subject(None), "unknown");
    }
}
