//! The `tickets` route group: support tickets, their responses and internal notes, the status
//! workflow, assignment to operators, and attachments through presigned S3 URLs.
//!
//! [`router`] is the whole group, served by this crate's Lambda binary, by the local
//! all-in-one server and in-process by the tests. Handlers only parse and validate; the work and
//! the access rules are in [`shared::tickets`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use shared::domain::UserId;
use shared::error::ErrorBody;
use shared::http::{Authenticated, IfMatch, Json, Page, PageParams, Query, Tagged};
use shared::routes;
use shared::store::TicketFilter;
use shared::tickets::model::{AttachmentId, Category, Priority, ResponseId, Status, TicketId};
use shared::tickets::views::{
    DownloadView, ResponseView, TicketDetailView, TicketView, UploadView,
};
use shared::tickets::{self, NewAttachment, NewTicket};
use shared::{Context, Result};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// The servable router of this group.
pub fn router(ctx: Context) -> axum::Router {
    shared::http::finish(routes(), ctx)
}

/// This group's routes with their OpenAPI description, for merging into a larger router.
pub fn routes() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(respond, responses))
        .routes(routes!(change_status))
        .routes(routes!(assign))
        .routes(routes!(close))
        .routes(routes!(add_attachment))
        .routes(routes!(download))
}

/// New ticket body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketRequest {
    #[schema(min_length = 1, max_length = 200)]
    subject: String,
    #[schema(min_length = 1, max_length = 10000)]
    description: String,
    category: Category,
    priority: Priority,
}

/// Open a support ticket.
#[utoipa::path(post, path = "/v1/tickets", tag = "tickets", security(("bearer" = [])),
    request_body = CreateTicketRequest,
    responses((status = 201, body = TicketView, headers(("ETag" = String, description = "The ticket's version as the caller sees it; send it back in `If-Match`"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn create(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Json(body): Json<CreateTicketRequest>,
) -> Result<Tagged<(StatusCode, axum::Json<TicketView>)>> {
    let new = NewTicket {
        subject: tickets::text("subject", &body.subject, 200)?,
        description: tickets::text("description", &body.description, 10_000)?,
        category: body.category,
        priority: body.priority,
    };
    let view = tickets::create(&ctx, &who.user, new).await?;
    Ok(view.map(|view| (StatusCode::CREATED, axum::Json(view))))
}

/// List filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    status: Option<Status>,
    category: Option<Category>,
    priority: Option<Priority>,
    /// An operator's user id.
    #[param(value_type = Option<String>, format = Uuid)]
    assigned_to: Option<UserId>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List tickets, newest first: operators see every ticket, users their own.
#[utoipa::path(get, path = "/v1/tickets", tag = "tickets", security(("bearer" = [])), params(ListQuery),
    operation_id = "list_tickets",
    responses((status = 200, body = Page<TicketView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<Page<TicketView>>> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let filter = TicketFilter {
        status: query.status,
        category: query.category,
        priority: query.priority,
        assigned_to: query.assigned_to,
    };
    let (limit, cursor) = (page.limit()?, page.cursor()?);
    Ok(axum::Json(
        tickets::list(&ctx, &who.user, &filter, limit, cursor).await?,
    ))
}

/// A ticket with its first 20 responses (chronological; `responses_next_cursor` continues them
/// in `GET /v1/tickets/{id}/responses`) and attachments; internal notes for operators only.
#[utoipa::path(get, path = "/v1/tickets/{id}", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id")),
    responses((status = 200, body = TicketDetailView, headers(("ETag" = String, description = "The ticket's version as the caller sees it; send it back in `If-Match`"))), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<Tagged<axum::Json<TicketDetailView>>> {
    let id: TicketId = id.parse()?;
    Ok(tickets::get(&ctx, &who.user, id).await?.map(axum::Json))
}

/// A page of a ticket's responses, oldest first; internal notes for operators only.
#[utoipa::path(get, path = "/v1/tickets/{id}/responses", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id"), PageParams),
    responses((status = 200, body = Page<ResponseView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn responses(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
    Query(page): Query<PageParams>,
) -> Result<axum::Json<Page<ResponseView>>> {
    let id: TicketId = id.parse()?;
    let (limit, cursor) = (page.limit()?, page.cursor()?);
    Ok(axum::Json(
        tickets::responses(&ctx, &who.user, id, limit, cursor).await?,
    ))
}

/// Response body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RespondRequest {
    #[schema(min_length = 1, max_length = 10000)]
    message: String,
    /// An internal note between operators (operators only).
    #[serde(default)]
    is_internal: bool,
}

/// Respond to a ticket (or add an internal note).
#[utoipa::path(post, path = "/v1/tickets/{id}/responses", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id"), IfMatch), request_body = RespondRequest,
    responses((status = 201, body = ResponseView, headers(("ETag" = String, description = "The ticket's version as the caller sees it; send it back in `If-Match`"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "ticket_closed, or too_many_responses: the ticket holds the most responses it takes", body = ErrorBody),
        (status = 412, description = "precondition_failed: the ticket is no longer at the version `If-Match` names", body = ErrorBody)))]
async fn respond(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
    if_match: IfMatch,
    Json(body): Json<RespondRequest>,
) -> Result<Tagged<(StatusCode, axum::Json<ResponseView>)>> {
    let id: TicketId = id.parse()?;
    let message = tickets::text("message", &body.message, 10_000)?;
    let view = tickets::respond(&ctx, &who.user, id, message, body.is_internal, &if_match).await?;
    Ok(view.map(|view| (StatusCode::CREATED, axum::Json(view))))
}

/// Status change body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    status: Status,
}

/// Move a ticket through the workflow (operators).
#[utoipa::path(post, path = "/v1/tickets/{id}/status", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id"), IfMatch), request_body = StatusRequest,
    responses((status = 200, body = TicketView, headers(("ETag" = String, description = "The ticket's version as the caller sees it; send it back in `If-Match`"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "invalid_transition or ticket_changed", body = ErrorBody),
        (status = 412, description = "precondition_failed: the ticket is no longer at the version `If-Match` names", body = ErrorBody)))]
async fn change_status(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
    if_match: IfMatch,
    Json(body): Json<StatusRequest>,
) -> Result<Tagged<axum::Json<TicketView>>> {
    let id: TicketId = id.parse()?;
    let view = tickets::change_status(&ctx, &who.user, id, body.status, &if_match).await?;
    Ok(view.map(axum::Json))
}

/// Assignment body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    #[schema(value_type = String, format = Uuid)]
    operator_id: UserId,
}

/// Assign a ticket to an operator (operators).
#[utoipa::path(post, path = "/v1/tickets/{id}/assign", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id"), IfMatch), request_body = AssignRequest,
    responses((status = 200, body = TicketView, headers(("ETag" = String, description = "The ticket's version as the caller sees it; send it back in `If-Match`"))), (status = 400, description = "not_an_operator", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 412, description = "precondition_failed: the ticket is no longer at the version `If-Match` names", body = ErrorBody)))]
async fn assign(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
    if_match: IfMatch,
    Json(body): Json<AssignRequest>,
) -> Result<Tagged<axum::Json<TicketView>>> {
    let id: TicketId = id.parse()?;
    let view = tickets::assign(&ctx, &who.user, id, body.operator_id, &if_match).await?;
    Ok(view.map(axum::Json))
}

/// Close a ticket (its owner or an operator).
#[utoipa::path(post, path = "/v1/tickets/{id}/close", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id"), IfMatch),
    responses((status = 200, body = TicketView, headers(("ETag" = String, description = "The ticket's version as the caller sees it; send it back in `If-Match`"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "invalid_transition or ticket_changed", body = ErrorBody),
        (status = 412, description = "precondition_failed: the ticket is no longer at the version `If-Match` names", body = ErrorBody)))]
async fn close(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
    if_match: IfMatch,
) -> Result<Tagged<axum::Json<TicketView>>> {
    let id: TicketId = id.parse()?;
    let view = tickets::close(&ctx, &who.user, id, &if_match).await?;
    Ok(view.map(axum::Json))
}

/// Attachment request body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRequest {
    #[schema(min_length = 1, max_length = 255)]
    file_name: String,
    /// jpeg, png, gif, pdf, doc, docx, txt or zip, by media type.
    content_type: String,
    /// Size in bytes, at most 10 MiB.
    size: u64,
    /// Attach to one of the caller's responses instead of the ticket.
    #[serde(default)]
    response_id: Option<String>,
}

/// Get a presigned upload URL for a new attachment (5 minutes).
#[utoipa::path(post, path = "/v1/tickets/{id}/attachments", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id"), IfMatch), request_body = AttachmentRequest,
    responses((status = 201, body = UploadView, headers(("ETag" = String, description = "The ticket's version as the caller sees it; send it back in `If-Match`"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "too_many_attachments or ticket_closed", body = ErrorBody),
        (status = 412, description = "precondition_failed: the ticket is no longer at the version `If-Match` names", body = ErrorBody),
        (status = 413, description = "file_too_large", body = ErrorBody),
        (status = 415, description = "unsupported_file_type", body = ErrorBody)))]
async fn add_attachment(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
    if_match: IfMatch,
    Json(body): Json<AttachmentRequest>,
) -> Result<Tagged<(StatusCode, axum::Json<UploadView>)>> {
    let id: TicketId = id.parse()?;
    let response_id = body
        .response_id
        .map(|r| r.parse::<ResponseId>())
        .transpose()?;
    let new = NewAttachment::parse(&body.file_name, &body.content_type, body.size, response_id)?;
    let view = tickets::attachments::add(&ctx, &who.user, id, new, &if_match).await?;
    Ok(view.map(|view| (StatusCode::CREATED, axum::Json(view))))
}

/// Get a presigned download URL for an attachment (5 minutes).
#[utoipa::path(get, path = "/v1/tickets/{id}/attachments/{attachment_id}", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "Ticket id"), ("attachment_id" = String, Path, description = "Attachment id")),
    responses((status = 200, body = DownloadView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn download(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Result<axum::Json<DownloadView>> {
    let id: TicketId = id.parse()?;
    let attachment_id: AttachmentId = attachment_id.parse()?;
    Ok(axum::Json(
        tickets::attachments::download(&ctx, &who.user, id, attachment_id).await?,
    ))
}
