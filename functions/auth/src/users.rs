//! User administration routes under `/v1/users`, each taking its caller as `Admin<on::Users>`. Handlers only validate; the work is in [`shared::users`].

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shared::domain::{CodeName, UserId, parse_name};
use shared::error::ErrorBody;
use shared::http::{IfMatch, Json, Page, PageParams, Query, Tagged};
use shared::rbac::{Admin, on};
use shared::routes;
use shared::store::UserFilter;
use shared::users::{self, UserChanges};
use shared::views::UserView;
use shared::{Context, Error, Result};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::optional_name;

/// The user administration routes.
pub fn routes() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user, update_user))
        .routes(routes!(revoke_all_sessions))
        .routes(routes!(reset_mfa))
}

/// `?limit=&cursor=&is_active=&role=` of the user list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 512)]
    cursor: Option<String>,
    /// `true` or `false`: only active or only inactive users.
    #[param(value_type = Option<bool>)]
    is_active: Option<String>,
    /// Only users holding the role with this code name.
    role: Option<String>,
}

/// List users in creation order. A filtered page may hold fewer than `limit` users (even none)
/// while `next_cursor` is set; follow it until it is `null`.
#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = ["users"])), params(ListUsersQuery),
    responses((status = 200, body = Page<UserView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_users(
    State(ctx): State<Context>,
    _admin: Admin<on::Users>,
    Query(query): Query<ListUsersQuery>,
) -> Result<axum::Json<Page<UserView>>> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let is_active = match query.is_active.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(Error::invalid_field("is_active", "must be true or false")),
    };
    let role = query
        .role
        .as_deref()
        .map(|r| CodeName::parse("role", r))
        .transpose()?;
    let filter = UserFilter { is_active, role };
    Ok(axum::Json(
        users::list(&ctx, page.limit()?, page.cursor()?, &filter).await?,
    ))
}

/// A user by id.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", security(("bearer" = ["users"])),
    params(("id" = String, Path)),
    responses((status = 200, body = UserView, headers(("ETag" = String, description = "The profile's version; send it back in `If-Match`"))), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(ctx): State<Context>,
    _admin: Admin<on::Users>,
    Path(id): Path<String>,
) -> Result<Tagged<axum::Json<UserView>>> {
    let id: UserId = id.parse()?;
    Ok(users::find(&ctx, id).await?.map(axum::Json))
}

/// An administrator's changes to a user; absent fields stay as they are, `roles` replaces the
/// whole list, an empty `middle_name` removes it. `is_superuser` cannot be set here.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateUserRequest {
    is_active: Option<bool>,
    is_staff: Option<bool>,
    /// Role code names; each must exist.
    roles: Option<Vec<String>>,
    first_name: Option<String>,
    last_name: Option<String>,
    middle_name: Option<String>,
}

/// Change a user's flags, names or roles. Deactivation ends every session of the user at once.
/// Only superusers change roles or edit a superuser; nobody changes their own roles or active
/// flag here.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", security(("bearer" = ["users"])),
    params(("id" = String, Path), IfMatch), request_body = UpdateUserRequest,
    responses((status = 200, body = UserView, headers(("ETag" = String, description = "The profile's version; send it back in `If-Match`"))),
        (status = 400, description = "validation_failed, unknown_field, unknown_role, too_many_roles, invalid_if_match", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden: no `users:update`; `roles` changed by a non-superuser; own `roles` or `is_active`; a superuser edited by a non-superuser", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "last_superuser: the last active superuser cannot be deactivated; email_not_verified: only a verified address is made staff", body = ErrorBody),
        (status = 412, description = "precondition_failed: the user is no longer at the version `If-Match` names", body = ErrorBody)))]
async fn update_user(
    State(ctx): State<Context>,
    admin: Admin<on::Users>,
    Path(id): Path<String>,
    if_match: IfMatch,
    Json(body): Json<UpdateUserRequest>,
) -> Result<Tagged<axum::Json<UserView>>> {
    let id: UserId = id.parse()?;
    let changes = UserChanges {
        is_active: body.is_active,
        is_staff: body.is_staff,
        roles: body
            .roles
            .map(|roles| roles.iter().map(|r| CodeName::parse("roles", r)).collect())
            .transpose()?,
        first_name: body
            .first_name
            .as_deref()
            .map(|n| parse_name("first_name", n))
            .transpose()?,
        last_name: body
            .last_name
            .as_deref()
            .map(|n| parse_name("last_name", n))
            .transpose()?,
        middle_name: body
            .middle_name
            .as_deref()
            .map(|n| optional_name("middle_name", Some(n)))
            .transpose()?,
    };
    if changes.is_active.is_none()
        && changes.is_staff.is_none()
        && changes.roles.is_none()
        && changes.first_name.is_none()
        && changes.last_name.is_none()
        && changes.middle_name.is_none()
    {
        return Err(Error::bad_request(
            "validation_failed",
            "give at least one field to change",
        ));
    }
    let user = users::update(&ctx, admin.user(), id, changes, &if_match).await?;
    Ok(user.map(axum::Json))
}

/// How many sessions were ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Terminated {
    pub terminated: usize,
}

/// End every session of a user (they stay active and can sign in again). Needs `update` on
/// `users`: it changes an existing account. Its profile (and so its `ETag`) stays as it is, so
/// the route takes no `If-Match`.
#[utoipa::path(post, path = "/v1/users/{id}/revoke-all", tag = "users", security(("bearer" = ["users"])),
    params(("id" = String, Path)),
    responses((status = 200, body = Terminated), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_all_sessions(
    State(ctx): State<Context>,
    admin: Admin<on::Users, on::Updating>,
    Path(id): Path<String>,
) -> Result<axum::Json<Terminated>> {
    let id: UserId = id.parse()?;
    let terminated = users::revoke_all(&ctx, admin.user(), id).await?;
    Ok(axum::Json(Terminated { terminated }))
}

/// Turn a user's two-factor sign-in off (a user who lost their authenticator and recovery
/// codes); they sign in with their password alone until they enrol again. Needs `update` on
/// `users`. Audited as `mfa.reset`.
#[utoipa::path(delete, path = "/v1/users/{id}/mfa", tag = "users", security(("bearer" = ["users"])),
    params(("id" = String, Path)),
    responses((status = 204, description = "the second factor was removed"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, description = "not_found: no such user, or no second factor", body = ErrorBody)))]
async fn reset_mfa(
    State(ctx): State<Context>,
    admin: Admin<on::Users, on::Updating>,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode> {
    let id: UserId = id.parse()?;
    shared::mfa::reset(&ctx, admin.user(), id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
