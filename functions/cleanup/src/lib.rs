//! The `cleanup` function: run hourly by an EventBridge schedule (or by hand with
//! `events/scheduled.json`), it deletes expired items that DynamoDB's TTL has not removed yet
//! and returns how many of each kind it deleted. The work is in [`shared::cleanup`].

use shared::cleanup::CleanupReport;
use shared::{Context, Result};

/// Handles one scheduled event. The event's content is not needed: the run looks at the
/// current time only, so a hand-made invocation behaves like a scheduled one.
pub async fn handle(ctx: &Context, event: serde_json::Value) -> Result<CleanupReport> {
    tracing::info!(source = ?event.get("source"), time = ?event.get("time"), "cleanup triggered");
    shared::cleanup::run(ctx).await
}
