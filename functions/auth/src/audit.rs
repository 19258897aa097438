//! The audit trail's routes: `GET /v1/audit` for administrators (resource `audit`) and
//! `GET /v1/auth/me/events`, the caller's own account's events. The work is in
//! [`shared::audit`].

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use shared::audit::{self, EventType, EventView, Filter};
use shared::error::ErrorBody;
use shared::http::{Authenticated, Page, PageParams, Query};
use shared::rbac::{Admin, on};
use shared::routes;
use shared::{Context, Error, Result};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;

/// The audit routes.
pub fn routes() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(my_events))
}

/// `?limit=&cursor=&actor=&subject=&type=&since=&until=` of the audit list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page (of the same filter).
    #[param(max_length = 512)]
    cursor: Option<String>,
    /// Only events caused by this user id, or `system`.
    #[param(max_length = 100)]
    actor: Option<String>,
    /// Only events about this user id, role code name, resource or action code name, or
    /// ticket id.
    #[param(max_length = 100, pattern = "^[A-Za-z0-9_-]+$")]
    subject: Option<String>,
    /// Only events of this type.
    #[param(value_type = Option<EventType>)]
    r#type: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<String>,
    /// Only events at or before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    until: Option<String>,
}

/// An RFC 3339 time of the query, or 400 `invalid_query`.
fn time(name: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>> {
    raw.map(|raw| {
        DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                Error::bad_request("invalid_query", format!("{name} must be an RFC 3339 time"))
            })
    })
    .transpose()
}

/// Security events (sign-ins and their failures, session ends, password and profile changes,
/// QR logins, RBAC and user administration, quota and ticket changes, bootstrap), newest
/// first. Filters combine; each list is read from an index, never by scanning. Without `since`
/// the list goes back as far as the retention (`SESAME_AUDIT_RETENTION_DAYS`).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", security(("bearer" = ["audit"])), params(AuditQuery),
    responses((status = 200, body = Page<EventView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_events(
    State(ctx): State<Context>,
    _admin: Admin<on::Audit>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<Page<EventView>>> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let filter = Filter {
        actor: query.actor,
        subject: query.subject,
        kind: query.r#type.as_deref().map(EventType::parse).transpose()?,
        since: time("since", query.since.as_deref())?,
        until: time("until", query.until.as_deref())?,
    }
    .checked()?;
    Ok(axum::Json(
        audit::list(&ctx, &filter, page.limit()?, page.cursor()?).await?,
    ))
}

/// The security events of the caller's own account (sign-ins and failures, session ends,
/// password and profile changes, changes administrators made to it), newest first.
#[utoipa::path(get, path = "/v1/auth/me/events", tag = "auth", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<EventView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn my_events(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Query(page): Query<PageParams>,
) -> Result<axum::Json<Page<EventView>>> {
    Ok(axum::Json(
        audit::list_own(&ctx, &who, page.limit()?, page.cursor()?).await?,
    ))
}
