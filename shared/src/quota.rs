//! The quota service: per-user usage of videos and video duration that belongs to the user,
//! not to a login, so it survives logout, new logins and new devices.
//!
//! A consumption is counted with one transaction that also stores it under the client's
//! idempotency key; the transaction's condition holds the limits, so no concurrency can exceed
//! them. A retry with the same key counts once; a release gives back exactly what its key
//! consumed, once. An admin reset starts a new epoch: consumptions counted before it are already
//! given back by the reset, so releasing them afterwards changes nothing. Handlers validate input
//! into domain types and call one function here.

use crate::audit::{self, Event, EventType};
use std::time::Duration;

use rand::Rng;

use crate::auth;
use crate::context::Context;
use crate::cursor::{self, Cursor, List};
use crate::domain::{
    Consumption, IdempotencyKey, LimitOverrides, QuotaAmounts, QuotaLimits, QuotaUsage, UserId,
};
use crate::error::{Error, Result};
use crate::http::Page;
use crate::store::QuotaWrite;
use crate::tokens::AccessClaims;
use crate::views::QuotaView;

/// How often a consume or release re-reads and tries again when the usage changed under it.
const WRITE_ATTEMPTS: usize = 30;
/// How long a consumption is remembered under its idempotency key: retries within it count
/// once and it can be released; afterwards the key is forgotten (TTL and the cleanup delete it).
pub const CONSUMPTION_RETENTION_DAYS: i64 = 30;

/// The limits that apply to `usage`: its overrides over the configured defaults.
pub fn limits(ctx: &Context, usage: &QuotaUsage) -> QuotaLimits {
    let config = &ctx.config;
    let default_duration_ms =
        u64::try_from(config.quota_max_duration.as_millis()).unwrap_or(u64::MAX);
    QuotaLimits {
        max_videos: usage
            .overrides
            .max_videos
            .unwrap_or(config.quota_max_videos),
        max_duration_ms: usage
            .overrides
            .max_duration_ms
            .unwrap_or(default_duration_ms),
        max_file_size_mb: usage
            .overrides
            .max_file_size_mb
            .unwrap_or(config.quota_max_file_size_mb),
    }
}

fn view(ctx: &Context, usage: &QuotaUsage) -> QuotaView {
    QuotaView::new(usage, &limits(ctx, usage))
}

/// The quota of `user_id`; a user who never used it has 0 used and the default limits.
pub async fn show(ctx: &Context, user_id: UserId) -> Result<QuotaView> {
    let usage = ctx.store.find_quota(user_id).await?;
    Ok(view(
        ctx,
        &usage.unwrap_or_else(|| QuotaUsage::empty(user_id)),
    ))
}

/// Counts `amounts` against the quota of the caller (an access token verified into `caller`)
/// under `key` and returns the quota after it.
///
/// Without contention this is two DynamoDB requests: one batch read of the caller's profile
/// and session (the authentication guard, [`auth::authenticate_with_quota`]), usage item and
/// consumption under `key`; and one transaction that counts the amounts and stores the
/// consumption, conditioned on the usage read, so the quota after it is known without reading
/// it again. When the usage changed first, it is read again (with the consumption) and tried
/// again.
///
/// Fails with 401 like every protected route, 413 `file_too_large` when the declared file is
/// over the user's per-file limit, 403 `quota_exceeded` when the videos or the duration would go
/// over a limit (nothing is counted), and 409 `idempotency_key_reused` when `key` was used for
/// other amounts or was released. The same key with the same amounts again (within
/// [`CONSUMPTION_RETENTION_DAYS`]) returns the current quota without counting again. A
/// consumption of no videos and no duration is 400 `empty_consumption` (it would store a record
/// that counts nothing). 503 when the usage keeps changing under it.
pub async fn consume(
    ctx: &Context,
    caller: &AccessClaims,
    key: IdempotencyKey,
    amounts: QuotaAmounts,
) -> Result<QuotaView> {
    let (who, mut stored, mut existing) = auth::authenticate_with_quota(ctx, caller, &key).await?;
    let user_id = who.user.id;
    if amounts.videos == 0 && amounts.duration_ms == 0 {
        let reason = "videos and duration_seconds cannot both be 0";
        return Err(Error::Validation {
            code: "empty_consumption",
            message: format!("a consumption must count something: {reason}"),
            fields: [("videos", reason), ("duration_seconds", reason)]
                .into_iter()
                .map(|(field, reason)| (field.to_owned(), reason.to_owned()))
                .collect(),
        });
    }
    for attempt in 0..WRITE_ATTEMPTS {
        if attempt > 0 {
            (stored, existing) = ctx.store.find_quota_and_consumption(user_id, &key).await?;
        }
        let now = ctx.now();
        let usage = stored.clone().unwrap_or_else(|| QuotaUsage::empty(user_id));
        if let Some(existing) = existing.as_ref().filter(|c| c.is_live(now)) {
            check_replay(existing, &amounts)?;
            return Ok(view(ctx, &usage));
        }
        let limits = limits(ctx, &usage);
        if amounts.file_size_mb > f64::from(limits.max_file_size_mb) {
            return Err(Error::TooLarge {
                code: "file_too_large",
                message: format!(
                    "the file is larger than your limit of {} MB",
                    limits.max_file_size_mb
                ),
            });
        }
        if !fits(&usage, &limits, &amounts) {
            return Err(Error::forbidden(
                "quota_exceeded",
                format!(
                    "this would exceed your quota ({} of {} videos used)",
                    usage.videos, limits.max_videos
                ),
            ));
        }
        let consumption = Consumption {
            user_id,
            key: key.clone(),
            amounts,
            epoch: usage.epoch,
            created_at: now,
            released_at: None,
            expires_at: now + chrono::Duration::days(CONSUMPTION_RETENTION_DAYS),
        };
        match ctx
            .store
            .consume_quota(stored.as_ref(), &consumption, now)
            .await?
        {
            QuotaWrite::Done => {
                tracing::info!(%user_id, videos = amounts.videos, duration_ms = amounts.duration_ms, "quota consumed");
                // The write landed on exactly `usage`, so this is the usage it left.
                let after = QuotaUsage {
                    videos: usage.videos + amounts.videos,
                    duration_ms: usage.duration_ms + amounts.duration_ms,
                    updated_at: Some(now),
                    ..usage
                };
                return Ok(view(ctx, &after));
            }
            QuotaWrite::Stale => {}
            QuotaWrite::Contended => back_off(attempt).await,
        }
    }
    Err(Error::Unavailable)
}

/// Gives back what `key` consumed from the quota of `user_id` and returns the quota after it.
/// A consumption already released, or counted before an admin reset, changes nothing and still
/// answers 200. Fails with 404 when `user_id` has no consumption under `key` (or it is older
/// than [`CONSUMPTION_RETENTION_DAYS`]); 503 when the usage keeps changing under it.
pub async fn release(ctx: &Context, user_id: UserId, key: IdempotencyKey) -> Result<QuotaView> {
    for attempt in 0..WRITE_ATTEMPTS {
        let (stored, existing) = ctx.store.find_quota_and_consumption(user_id, &key).await?;
        let consumption = existing
            .filter(|c| c.is_live(ctx.now()))
            .ok_or_else(|| Error::not_found("consumption"))?;
        let usage = stored.unwrap_or_else(|| QuotaUsage::empty(user_id));
        if consumption.released_at.is_some() {
            return Ok(view(ctx, &usage));
        }
        let give_back = consumption.epoch == usage.epoch;
        match ctx
            .store
            .release_quota(&consumption, give_back, ctx.now())
            .await?
        {
            QuotaWrite::Done => {
                tracing::info!(%user_id, give_back, "quota released");
                return show(ctx, user_id).await;
            }
            QuotaWrite::Stale => {}
            QuotaWrite::Contended => back_off(attempt).await,
        }
    }
    Err(Error::Unavailable)
}

/// The quota of an existing user, for admins; 404 when there is no such user.
pub async fn show_user(ctx: &Context, user_id: UserId) -> Result<QuotaView> {
    require_user(ctx, user_id).await?;
    show(ctx, user_id).await
}

/// Sets the usage of an existing user to zero (their limits stay); 404 when there is no such
/// user. Consumptions counted before the reset can no longer be given back.
pub async fn reset(ctx: &Context, user_id: UserId) -> Result<QuotaView> {
    require_user(ctx, user_id).await?;
    let usage = ctx.store.reset_quota(user_id, ctx.now()).await?;
    tracing::info!(%user_id, "quota reset");
    audit::record(ctx, Event::new(EventType::QuotaReset).about(user_id)).await;
    Ok(view(ctx, &usage))
}

/// Replaces the limit overrides of an existing user (`None` = the default) and returns their
/// quota; 404 when there is no such user. Consumptions in flight are checked against the new
/// limits. Limits below the current usage are allowed: nothing more can be consumed until the
/// usage falls under them.
pub async fn set_limits(
    ctx: &Context,
    user_id: UserId,
    overrides: LimitOverrides,
) -> Result<QuotaView> {
    require_user(ctx, user_id).await?;
    let usage = ctx
        .store
        .set_quota_limits(user_id, &overrides, ctx.now())
        .await?;
    tracing::info!(%user_id, "quota limits set");
    let event = Event::new(EventType::QuotaLimitsChanged)
        .about(user_id)
        .detail("max_videos", overrides.max_videos)
        .detail("max_duration_ms", overrides.max_duration_ms)
        .detail("max_file_size_mb", overrides.max_file_size_mb);
    audit::record(ctx, event).await;
    Ok(view(ctx, &usage))
}

/// One page of `limit` quotas of users who have used their quota or have own limits, in user-id
/// order, after `cursor` (which holds the last user id of the previous page). Fails with 400
/// `invalid_cursor` for a cursor this list did not hand out.
pub async fn list(ctx: &Context, limit: usize, cursor: Option<Cursor>) -> Result<Page<QuotaView>> {
    let key = &ctx.config.cursor_key;
    let after = key
        .open(&List::Quotas, cursor.as_ref())?
        .map(|position| position.parse::<UserId>().map_err(|_| cursor::malformed()))
        .transpose()?;
    let (usages, next) = ctx.store.list_quotas(limit, after).await?;
    let items = usages.iter().map(|usage| view(ctx, usage)).collect();
    let next = next.map(|user_id| user_id.to_string());
    Ok(key.page(&List::Quotas, items, next.as_deref()))
}

async fn require_user(ctx: &Context, user_id: UserId) -> Result<()> {
    match ctx.store.find_user(user_id).await? {
        Some(_) => Ok(()),
        None => Err(Error::not_found("user")),
    }
}

/// Whether `amounts` fit under `limits` on top of `usage`.
fn fits(usage: &QuotaUsage, limits: &QuotaLimits, amounts: &QuotaAmounts) -> bool {
    u64::from(usage.videos) + u64::from(amounts.videos) <= u64::from(limits.max_videos)
        && usage.duration_ms.saturating_add(amounts.duration_ms) <= limits.max_duration_ms
}

/// A key seen before answers as before only when it is a true retry: same amounts, still counted.
fn check_replay(existing: &Consumption, amounts: &QuotaAmounts) -> Result<()> {
    if existing.released_at.is_some() {
        return Err(Error::conflict(
            "idempotency_key_reused",
            "this idempotency key's consumption was released; use a new key",
        ));
    }
    if existing.amounts != *amounts {
        return Err(Error::conflict(
            "idempotency_key_reused",
            "this idempotency key was used for different amounts",
        ));
    }
    Ok(())
}

async fn back_off(attempt: usize) {
    let millis = rand::rng().random_range(5..25) * (1 + attempt.min(4)) as u64;
    tokio::time::sleep(Duration::from_millis(millis)).await;
}
