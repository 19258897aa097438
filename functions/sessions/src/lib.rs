//! The `sessions` route group: a user's live sessions (with device, browser, OS, IP, location
//! and the current one marked), their statistics and login history, ending sessions, and the
//! admin routes over another user's sessions (resource `sessions`).
//!
//! Handlers only parse; the work is in [`shared::sessions`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use shared::error::ErrorBody;
use shared::http::{Authenticated, Page, PageParams, Query};
use shared::rbac::{Admin, on};
use shared::routes;
use shared::sessions::{self, HistoryItem, SessionStats, SessionView, Terminated};
use shared::{Context, Result};
use utoipa_axum::router::OpenApiRouter;

/// The servable router of this group.
pub fn router(ctx: Context) -> axum::Router {
    shared::http::finish(routes(), ctx)
}

/// This group's routes with their OpenAPI description.
pub fn routes() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(stats))
        .routes(routes!(history))
        .routes(routes!(terminate_others))
        .routes(routes!(terminate))
        .routes(routes!(list_for_user, terminate_all_for_user))
}

/// A page of the caller's live sessions, most recently active first; the current one has
/// `current: true`.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<SessionView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Query(page): Query<PageParams>,
) -> Result<axum::Json<Page<SessionView>>> {
    Ok(axum::Json(
        sessions::list_own(&ctx, &who, page.limit()?, page.cursor()?).await?,
    ))
}

/// Counts of the caller's sessions by device, browser and origin, and recent login figures.
#[utoipa::path(get, path = "/v1/sessions/stats", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = SessionStats), (status = 401, body = ErrorBody)))]
async fn stats(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
) -> Result<axum::Json<SessionStats>> {
    Ok(axum::Json(sessions::stats(&ctx, &who).await?))
}

/// The caller's login attempts, failures included, newest first.
#[utoipa::path(get, path = "/v1/sessions/history", tag = "sessions", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<HistoryItem>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn history(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Query(page): Query<PageParams>,
) -> Result<axum::Json<Page<HistoryItem>>> {
    Ok(axum::Json(
        sessions::history(&ctx, &who, page.limit()?, page.cursor()?).await?,
    ))
}

/// End every session of the caller except the current one.
#[utoipa::path(delete, path = "/v1/sessions/others", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = Terminated), (status = 401, body = ErrorBody)))]
async fn terminate_others(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
) -> Result<axum::Json<Terminated>> {
    Ok(axum::Json(sessions::terminate_others(&ctx, &who).await?))
}

/// End another of the caller's sessions.
#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "session id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "use_logout: this is the current session", body = ErrorBody)))]
async fn terminate(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    sessions::terminate(&ctx, &who, id.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of another user's live sessions (admin, resource `sessions`).
#[utoipa::path(get, path = "/v1/sessions/users/{user_id}", tag = "sessions", security(("bearer" = ["sessions"])),
    params(("user_id" = String, Path), PageParams),
    responses((status = 200, body = Page<SessionView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_for_user(
    State(ctx): State<Context>,
    _admin: Admin<on::Sessions>,
    Path(user_id): Path<String>,
    Query(page): Query<PageParams>,
) -> Result<axum::Json<Page<SessionView>>> {
    let (limit, cursor) = (page.limit()?, page.cursor()?);
    Ok(axum::Json(
        sessions::list_for_user(&ctx, user_id.parse()?, limit, cursor).await?,
    ))
}

/// End every session of another user (admin, resource `sessions`). Only a superuser ends a
/// superuser's sessions.
#[utoipa::path(delete, path = "/v1/sessions/users/{user_id}", tag = "sessions", security(("bearer" = ["sessions"])),
    params(("user_id" = String, Path)),
    responses((status = 200, body = Terminated), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn terminate_all_for_user(
    State(ctx): State<Context>,
    admin: Admin<on::Sessions>,
    Path(user_id): Path<String>,
) -> Result<axum::Json<Terminated>> {
    Ok(axum::Json(
        sessions::terminate_all_for_user(&ctx, admin.user(), user_id.parse()?).await?,
    ))
}
