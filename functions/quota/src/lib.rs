//! The `quota` route group: the caller's quota (read, consume, release) and the admin routes
//! over every user's quota (list, read, reset, per-user limits; resource `quota`).
//!
//! [`router`] is the whole group, served by this crate's Lambda binary, by the local
//! all-in-one server and in-process by the tests. Handlers only parse and validate; the work is
//! in [`shared::quota`].

use axum::extract::{Path, State};
use serde::{Deserialize, Deserializer};
use shared::domain::{
    IdempotencyKey, LimitOverrides, MAX_QUOTA_FILE_SIZE_MB, MAX_QUOTA_VIDEOS, QuotaAmounts, UserId,
    parse_duration_ms, parse_file_size_mb, parse_whole_number,
};
use shared::error::ErrorBody;
use shared::http::{Authenticated, Json, Page, PageParams, Query, VerifiedToken};
use shared::rbac::{Admin, on};
use shared::routes;
use shared::views::QuotaView;
use shared::{Context, Result, quota};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

/// The servable router of this group.
pub fn router(ctx: Context) -> axum::Router {
    shared::http::finish(routes(), ctx)
}

/// This group's routes with their OpenAPI description, for merging into a larger router.
pub fn routes() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(show))
        .routes(routes!(consume))
        .routes(routes!(release))
        .routes(routes!(list_users))
        .routes(routes!(show_user))
        .routes(routes!(reset_user))
        .routes(routes!(set_user_limits))
}

/// The caller's quota: usage, limits and what remains.
#[utoipa::path(get, path = "/v1/quota", tag = "quota", security(("bearer" = [])),
    responses((status = 200, body = QuotaView), (status = 401, body = ErrorBody)))]
async fn show(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
) -> Result<axum::Json<QuotaView>> {
    Ok(axum::Json(quota::show(&ctx, who.user.id).await?))
}

/// A consumption: what an upload counts against the quota, under a key that makes retries
/// count once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumeRequest {
    /// Whole number of videos, 0 to 1000000.
    #[schema(minimum = 0, maximum = 1000000)]
    videos: i64,
    /// Seconds of video, fractions allowed (counted to the millisecond).
    #[schema(minimum = 0, maximum = 100000000)]
    duration_seconds: f64,
    /// Size of the file in MB, fractions allowed; checked against the per-file limit.
    #[schema(minimum = 0, maximum = 1048576)]
    file_size_mb: f64,
    /// 1 to 128 characters of letters, digits, `-`, `_`, `.`, `:`; unique per consumption.
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,128}$")]
    idempotency_key: String,
}

/// Count an upload against the caller's quota. Nothing is counted when it does not fit; the same
/// idempotency key with the same amounts again returns the quota without counting twice.
#[utoipa::path(post, path = "/v1/quota/consume", tag = "quota", security(("bearer" = [])), request_body = ConsumeRequest,
    responses((status = 200, body = QuotaView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "quota_exceeded", body = ErrorBody),
        (status = 409, description = "idempotency_key_reused", body = ErrorBody),
        (status = 413, description = "file_too_large", body = ErrorBody)))]
async fn consume(
    State(ctx): State<Context>,
    VerifiedToken(caller): VerifiedToken,
    Json(body): Json<ConsumeRequest>,
) -> Result<axum::Json<QuotaView>> {
    let amounts = QuotaAmounts {
        videos: parse_whole_number("videos", body.videos, MAX_QUOTA_VIDEOS)?,
        duration_ms: parse_duration_ms("duration_seconds", body.duration_seconds)?,
        file_size_mb: parse_file_size_mb("file_size_mb", body.file_size_mb)?,
    };
    let key = IdempotencyKey::parse(&body.idempotency_key)?;
    // The service authenticates the caller in the same round trip as it reads the quota.
    Ok(axum::Json(
        quota::consume(&ctx, &caller, key, amounts).await?,
    ))
}

/// The consumption to give back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,128}$")]
    idempotency_key: String,
}

/// Give back what a consumption counted (e.g. after a failed upload). Releasing again changes
/// nothing and answers 200.
#[utoipa::path(post, path = "/v1/quota/release", tag = "quota", security(("bearer" = [])), request_body = ReleaseRequest,
    responses((status = 200, body = QuotaView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "no consumption under this key", body = ErrorBody)))]
async fn release(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Json(body): Json<ReleaseRequest>,
) -> Result<axum::Json<QuotaView>> {
    let key = IdempotencyKey::parse(&body.idempotency_key)?;
    Ok(axum::Json(quota::release(&ctx, who.user.id, key).await?))
}

/// The quotas of users who used theirs or have own limits (others have 0 used and the defaults).
#[utoipa::path(get, path = "/v1/quota/users", tag = "quota", security(("bearer" = ["quota"])),
    operation_id = "list_quota_users",
    params(PageParams),
    responses((status = 200, body = Page<QuotaView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_users(
    State(ctx): State<Context>,
    _admin: Admin<on::Quota>,
    Query(page): Query<PageParams>,
) -> Result<axum::Json<Page<QuotaView>>> {
    Ok(axum::Json(
        quota::list(&ctx, page.limit()?, page.cursor()?).await?,
    ))
}

/// A user's quota.
#[utoipa::path(get, path = "/v1/quota/users/{user_id}", tag = "quota", security(("bearer" = ["quota"])),
    params(("user_id" = String, Path)),
    responses((status = 200, body = QuotaView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn show_user(
    State(ctx): State<Context>,
    _admin: Admin<on::Quota>,
    Path(user_id): Path<String>,
) -> Result<axum::Json<QuotaView>> {
    let user_id: UserId = user_id.parse()?;
    Ok(axum::Json(quota::show_user(&ctx, user_id).await?))
}

/// Set a user's usage to zero; their limits stay.
#[utoipa::path(post, path = "/v1/quota/users/{user_id}/reset", tag = "quota", security(("bearer" = ["quota"])),
    params(("user_id" = String, Path)),
    responses((status = 200, body = QuotaView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reset_user(
    State(ctx): State<Context>,
    _admin: Admin<on::Quota>,
    Path(user_id): Path<String>,
) -> Result<axum::Json<QuotaView>> {
    let user_id: UserId = user_id.parse()?;
    Ok(axum::Json(quota::reset(&ctx, user_id).await?))
}

/// A user's own limits. Every field must be present; `null` means the configured default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    /// Whole number of videos, 0 to 1000000, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, required = true)]
    max_videos: Option<Option<i64>>,
    /// Seconds, fractions allowed, 0 to 100000000, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, required = true)]
    max_duration_seconds: Option<Option<f64>>,
    /// Whole number of MB, 0 to 1048576, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, required = true)]
    max_file_size_mb: Option<Option<i64>>,
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`, by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A field that must be present but may be `null`.
fn required<T>(field: &str, value: Option<Option<T>>) -> Result<Option<T>> {
    value.ok_or_else(|| shared::Error::invalid_field(field, "is required (null for the default)"))
}

/// Replace a user's own limits; `null` falls back to the default.
#[utoipa::path(put, path = "/v1/quota/users/{user_id}/limits", tag = "quota", security(("bearer" = ["quota"])),
    params(("user_id" = String, Path)), request_body = LimitsRequest,
    responses((status = 200, body = QuotaView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_user_limits(
    State(ctx): State<Context>,
    _admin: Admin<on::Quota>,
    Path(user_id): Path<String>,
    Json(body): Json<LimitsRequest>,
) -> Result<axum::Json<QuotaView>> {
    let user_id: UserId = user_id.parse()?;
    let overrides = LimitOverrides {
        max_videos: required("max_videos", body.max_videos)?
            .map(|raw| parse_whole_number("max_videos", raw, MAX_QUOTA_VIDEOS))
            .transpose()?,
        max_duration_ms: required("max_duration_seconds", body.max_duration_seconds)?
            .map(|raw| parse_duration_ms("max_duration_seconds", raw))
            .transpose()?,
        max_file_size_mb: required("max_file_size_mb", body.max_file_size_mb)?
            .map(|raw| parse_whole_number("max_file_size_mb", raw, MAX_QUOTA_FILE_SIZE_MB))
            .transpose()?,
    };
    Ok(axum::Json(
        quota::set_limits(&ctx, user_id, overrides).await?,
    ))
}
