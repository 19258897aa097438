//! The scheduled cleanup: deletes items whose `expires_at` has passed but which DynamoDB's TTL
//! has not removed yet (it may lag by up to two days). It queries the sparse `expiry` index day
//! by day instead of scanning the table, and is idempotent: a second run finds nothing more.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::context::Context;
use crate::error::Result;
use crate::store::keys;

/// What one run deleted, per kind of item.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct CleanupReport {
    pub deleted: BTreeMap<String, usize>,
    /// The expiry-day buckets that were looked at.
    pub buckets: Vec<String>,
}

impl CleanupReport {
    /// Items deleted in all.
    pub fn total(&self) -> usize {
        self.deleted.values().sum()
    }
}

/// Deletes every expired item of the last `cleanup_lookback_days` expiry days.
pub async fn run(ctx: &Context) -> Result<CleanupReport> {
    let now = ctx.now();
    let mut report = CleanupReport::default();
    for days_ago in (0..=ctx.config.cleanup_lookback_days).rev() {
        let day = now - chrono::Duration::days(i64::from(days_ago));
        let bucket = keys::expiry_bucket(day.timestamp());
        for item in ctx.store.find_expired(&bucket, now).await? {
            if ctx.store.delete_expired(&item, now).await? {
                *report.deleted.entry(item.kind.clone()).or_default() += 1;
            }
        }
        report.buckets.push(bucket);
    }
    tracing::info!(deleted = ?report.deleted, total = report.total(), "cleanup finished");
    Ok(report)
}
