//! RBAC administration routes: CRUD on resources, actions and roles under `/v1/resources`,
//! `/v1/actions` and `/v1/roles`, each taking its caller as `Admin<on::…>` of the resource of
//! the same name. Anyone granted `read` may read the catalog; only superusers change it (the
//! extractor refuses everyone else). Handlers only validate; the work is in [`shared::rbac`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use shared::domain::{CatalogKind, CodeName, Permission, parse_description, parse_name};
use shared::error::ErrorBody;
use shared::http::{IfMatch, Json, Page, PageParams, Query, Tagged};
use shared::rbac::{self, Admin, Changes, NewCatalogItem, NewRole, on};
use shared::routes;
use shared::views::{CatalogItemView, RoleView};
use shared::{Context, Error, Result};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

/// The RBAC administration routes.
pub fn routes() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_resources, create_resource))
        .routes(routes!(get_resource, update_resource, delete_resource))
        .routes(routes!(list_actions, create_action))
        .routes(routes!(get_action, update_action, delete_action))
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
}

/// A new resource or action.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCatalogItemRequest {
    /// Immutable identifier: 1 to 64 of `a-z`, `0-9`, `_`, `-`, starting with a letter.
    #[schema(pattern = "^[a-z][a-z0-9_-]{0,63}$")]
    code_name: String,
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[serde(default)]
    description: Option<String>,
}

impl CreateCatalogItemRequest {
    fn parse(self) -> Result<NewCatalogItem> {
        Ok(NewCatalogItem {
            code_name: CodeName::parse("code_name", &self.code_name)?,
            name: parse_name("name", &self.name)?,
            description: parse_description(self.description.as_deref().unwrap_or(""))?,
        })
    }
}

/// Changes to a resource or action; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateCatalogItemRequest {
    name: Option<String>,
    description: Option<String>,
}

impl UpdateCatalogItemRequest {
    fn parse(self) -> Result<Changes> {
        if self.name.is_none() && self.description.is_none() {
            return Err(nothing_to_change());
        }
        Ok(Changes {
            name: self
                .name
                .as_deref()
                .map(|n| parse_name("name", n))
                .transpose()?,
            description: self
                .description
                .as_deref()
                .map(parse_description)
                .transpose()?,
            permissions: None,
        })
    }
}

fn nothing_to_change() -> Error {
    Error::bad_request("validation_failed", "give at least one field to change")
}

/// One permission: an action (or `all`) on a resource, both by code name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionRequest {
    resource: String,
    action: String,
}

fn parse_permissions(raw: Vec<PermissionRequest>) -> Result<Vec<Permission>> {
    if raw.len() > 400 {
        return Err(Error::invalid_field("permissions", "too many permissions"));
    }
    raw.iter()
        .map(|p| {
            Ok(Permission {
                resource: CodeName::parse("permissions", &p.resource)?,
                action: CodeName::parse("permissions", &p.action)?,
            })
        })
        .collect()
}

/// A new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    /// Immutable identifier: 1 to 64 of `a-z`, `0-9`, `_`, `-`, starting with a letter.
    #[schema(pattern = "^[a-z][a-z0-9_-]{0,63}$")]
    code_name: String,
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    permissions: Vec<PermissionRequest>,
}

/// Changes to a role; absent fields stay as they are, `permissions` replaces the whole set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateRoleRequest {
    name: Option<String>,
    description: Option<String>,
    permissions: Option<Vec<PermissionRequest>>,
}

async fn list_catalog(
    ctx: &Context,
    kind: CatalogKind,
    page: &PageParams,
) -> Result<axum::Json<Page<CatalogItemView>>> {
    Ok(axum::Json(
        rbac::list_catalog(ctx, kind, page.limit()?, page.cursor()?).await?,
    ))
}

/// List resources in code-name order.
#[utoipa::path(get, path = "/v1/resources", tag = "rbac", security(("bearer" = ["resources"])), params(PageParams),
    responses((status = 200, body = Page<CatalogItemView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_resources(
    State(ctx): State<Context>,
    _admin: Admin<on::Resources>,
    Query(page): Query<PageParams>,
) -> Result<axum::Json<Page<CatalogItemView>>> {
    list_catalog(&ctx, CatalogKind::Resource, &page).await
}

/// Create a resource. Superusers only.
#[utoipa::path(post, path = "/v1/resources", tag = "rbac", security(("bearer" = ["resources"])), request_body = CreateCatalogItemRequest,
    responses((status = 201, body = CatalogItemView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, description = "already_exists", body = ErrorBody)))]
async fn create_resource(
    State(ctx): State<Context>,
    _admin: Admin<on::Resources>,
    Json(body): Json<CreateCatalogItemRequest>,
) -> Result<(StatusCode, axum::Json<CatalogItemView>)> {
    let new = body.parse()?;
    let created = rbac::create_catalog_item(&ctx, CatalogKind::Resource, new).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// A resource by code name.
#[utoipa::path(get, path = "/v1/resources/{code_name}", tag = "rbac", security(("bearer" = ["resources"])),
    params(("code_name" = String, Path)),
    responses((status = 200, body = CatalogItemView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_resource(
    State(ctx): State<Context>,
    _admin: Admin<on::Resources>,
    Path(code_name): Path<String>,
) -> Result<axum::Json<CatalogItemView>> {
    let code_name = CodeName::from_path("resource", &code_name)?;
    Ok(axum::Json(
        rbac::find_catalog_item(&ctx, CatalogKind::Resource, &code_name).await?,
    ))
}

/// Change a resource's name or description. Superusers only.
#[utoipa::path(patch, path = "/v1/resources/{code_name}", tag = "rbac", security(("bearer" = ["resources"])),
    params(("code_name" = String, Path)), request_body = UpdateCatalogItemRequest,
    responses((status = 200, body = CatalogItemView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_resource(
    State(ctx): State<Context>,
    _admin: Admin<on::Resources>,
    Path(code_name): Path<String>,
    Json(body): Json<UpdateCatalogItemRequest>,
) -> Result<axum::Json<CatalogItemView>> {
    let code_name = CodeName::from_path("resource", &code_name)?;
    let changes = body.parse()?;
    Ok(axum::Json(
        rbac::update_catalog_item(&ctx, CatalogKind::Resource, &code_name, changes).await?,
    ))
}

/// Delete a resource no role names. Superusers only.
#[utoipa::path(delete, path = "/v1/resources/{code_name}", tag = "rbac", security(("bearer" = ["resources"])),
    params(("code_name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "in_use", body = ErrorBody)))]
async fn delete_resource(
    State(ctx): State<Context>,
    _admin: Admin<on::Resources>,
    Path(code_name): Path<String>,
) -> Result<StatusCode> {
    let code_name = CodeName::from_path("resource", &code_name)?;
    rbac::delete_catalog_item(&ctx, CatalogKind::Resource, &code_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List actions in code-name order.
#[utoipa::path(get, path = "/v1/actions", tag = "rbac", security(("bearer" = ["actions"])), params(PageParams),
    responses((status = 200, body = Page<CatalogItemView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_actions(
    State(ctx): State<Context>,
    _admin: Admin<on::Actions>,
    Query(page): Query<PageParams>,
) -> Result<axum::Json<Page<CatalogItemView>>> {
    list_catalog(&ctx, CatalogKind::Action, &page).await
}

/// Create an action. Superusers only.
#[utoipa::path(post, path = "/v1/actions", tag = "rbac", security(("bearer" = ["actions"])), request_body = CreateCatalogItemRequest,
    responses((status = 201, body = CatalogItemView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, description = "already_exists", body = ErrorBody)))]
async fn create_action(
    State(ctx): State<Context>,
    _admin: Admin<on::Actions>,
    Json(body): Json<CreateCatalogItemRequest>,
) -> Result<(StatusCode, axum::Json<CatalogItemView>)> {
    let new = body.parse()?;
    let created = rbac::create_catalog_item(&ctx, CatalogKind::Action, new).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// An action by code name.
#[utoipa::path(get, path = "/v1/actions/{code_name}", tag = "rbac", security(("bearer" = ["actions"])),
    params(("code_name" = String, Path)),
    responses((status = 200, body = CatalogItemView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_action(
    State(ctx): State<Context>,
    _admin: Admin<on::Actions>,
    Path(code_name): Path<String>,
) -> Result<axum::Json<CatalogItemView>> {
    let code_name = CodeName::from_path("action", &code_name)?;
    Ok(axum::Json(
        rbac::find_catalog_item(&ctx, CatalogKind::Action, &code_name).await?,
    ))
}

/// Change an action's name or description. Superusers only.
#[utoipa::path(patch, path = "/v1/actions/{code_name}", tag = "rbac", security(("bearer" = ["actions"])),
    params(("code_name" = String, Path)), request_body = UpdateCatalogItemRequest,
    responses((status = 200, body = CatalogItemView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_action(
    State(ctx): State<Context>,
    _admin: Admin<on::Actions>,
    Path(code_name): Path<String>,
    Json(body): Json<UpdateCatalogItemRequest>,
) -> Result<axum::Json<CatalogItemView>> {
    let code_name = CodeName::from_path("action", &code_name)?;
    let changes = body.parse()?;
    Ok(axum::Json(
        rbac::update_catalog_item(&ctx, CatalogKind::Action, &code_name, changes).await?,
    ))
}

/// Delete an action no role names. Superusers only.
#[utoipa::path(delete, path = "/v1/actions/{code_name}", tag = "rbac", security(("bearer" = ["actions"])),
    params(("code_name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "in_use", body = ErrorBody)))]
async fn delete_action(
    State(ctx): State<Context>,
    _admin: Admin<on::Actions>,
    Path(code_name): Path<String>,
) -> Result<StatusCode> {
    let code_name = CodeName::from_path("action", &code_name)?;
    rbac::delete_catalog_item(&ctx, CatalogKind::Action, &code_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List roles in code-name order.
#[utoipa::path(get, path = "/v1/roles", tag = "rbac", security(("bearer" = ["roles"])), params(PageParams),
    responses((status = 200, body = Page<RoleView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_roles(
    State(ctx): State<Context>,
    _admin: Admin<on::Roles>,
    Query(page): Query<PageParams>,
) -> Result<axum::Json<Page<RoleView>>> {
    Ok(axum::Json(
        rbac::list_roles(&ctx, page.limit()?, page.cursor()?).await?,
    ))
}

/// Create a role. Its permissions must name existing resources and actions. Superusers only.
#[utoipa::path(post, path = "/v1/roles", tag = "rbac", security(("bearer" = ["roles"])), request_body = CreateRoleRequest,
    responses((status = 201, body = RoleView, headers(("ETag" = String, description = "The role's version; send it back in `If-Match`"))),
        (status = 400, description = "validation_failed, unknown_resource, unknown_action, too_many_permissions", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "already_exists", body = ErrorBody)))]
async fn create_role(
    State(ctx): State<Context>,
    _admin: Admin<on::Roles>,
    Json(body): Json<CreateRoleRequest>,
) -> Result<Tagged<(StatusCode, axum::Json<RoleView>)>> {
    let new = NewRole {
        code_name: CodeName::parse("code_name", &body.code_name)?,
        name: parse_name("name", &body.name)?,
        description: parse_description(body.description.as_deref().unwrap_or(""))?,
        permissions: parse_permissions(body.permissions)?,
    };
    let role = rbac::create_role(&ctx, new).await?;
    Ok(role.map(|role| (StatusCode::CREATED, axum::Json(role))))
}

/// A role by code name.
#[utoipa::path(get, path = "/v1/roles/{code_name}", tag = "rbac", security(("bearer" = ["roles"])),
    params(("code_name" = String, Path)),
    responses((status = 200, body = RoleView, headers(("ETag" = String, description = "The role's version; send it back in `If-Match`"))), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_role(
    State(ctx): State<Context>,
    _admin: Admin<on::Roles>,
    Path(code_name): Path<String>,
) -> Result<Tagged<axum::Json<RoleView>>> {
    let code_name = CodeName::from_path("role", &code_name)?;
    Ok(rbac::find_role(&ctx, &code_name).await?.map(axum::Json))
}

/// Change a role's name, description or permissions; holders get the new rights on their next
/// request. Superusers only.
#[utoipa::path(patch, path = "/v1/roles/{code_name}", tag = "rbac", security(("bearer" = ["roles"])),
    params(("code_name" = String, Path), IfMatch), request_body = UpdateRoleRequest,
    responses((status = 200, body = RoleView, headers(("ETag" = String, description = "The role's version; send it back in `If-Match`"))),
        (status = 400, description = "validation_failed, unknown_resource, unknown_action, too_many_permissions, invalid_if_match", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 412, description = "precondition_failed: the role is no longer at the version `If-Match` names", body = ErrorBody)))]
async fn update_role(
    State(ctx): State<Context>,
    _admin: Admin<on::Roles>,
    Path(code_name): Path<String>,
    if_match: IfMatch,
    Json(body): Json<UpdateRoleRequest>,
) -> Result<Tagged<axum::Json<RoleView>>> {
    let code_name = CodeName::from_path("role", &code_name)?;
    if body.name.is_none() && body.description.is_none() && body.permissions.is_none() {
        return Err(nothing_to_change());
    }
    let changes = Changes {
        name: body
            .name
            .as_deref()
            .map(|n| parse_name("name", n))
            .transpose()?,
        description: body
            .description
            .as_deref()
            .map(parse_description)
            .transpose()?,
        permissions: body.permissions.map(parse_permissions).transpose()?,
    };
    let role = rbac::update_role(&ctx, &code_name, changes, &if_match).await?;
    Ok(role.map(axum::Json))
}

/// Delete a role and take it from every user holding it. It grants nothing from the start of
/// the request; when the request returns, no user holds it. An interrupted deletion (503) is
/// completed by repeating it (without `If-Match`, or with `*`). Superusers only.
#[utoipa::path(delete, path = "/v1/roles/{code_name}", tag = "rbac", security(("bearer" = ["roles"])),
    params(("code_name" = String, Path), IfMatch),
    responses((status = 204), (status = 400, description = "invalid_if_match", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 412, description = "precondition_failed: the role is no longer at the version `If-Match` names", body = ErrorBody),
        (status = 503, description = "service_unavailable: repeat the request to finish the deletion", body = ErrorBody)))]
async fn delete_role(
    State(ctx): State<Context>,
    _admin: Admin<on::Roles>,
    Path(code_name): Path<String>,
    if_match: IfMatch,
) -> Result<StatusCode> {
    let code_name = CodeName::from_path("role", &code_name)?;
    rbac::delete_role(&ctx, &code_name, &if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}
