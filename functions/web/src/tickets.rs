//! The tickets pages: the caller's tickets (for operators, the queue of every ticket) with
//! filters and paging and a form to open one; a ticket with its thread of responses, the reply
//! form, internal notes for operators, the workflow's actions and its attachments.
//!
//! Every page calls the same [`shared::tickets`] service as the API, which decides who sees and
//! does what; the page only leaves out the forms a caller could not use. Each change form
//! carries the ticket's `ETag` as the page was rendered (hidden field `version`), sent to the
//! service as the API's `If-Match`, so a change made on a stale page is refused (412) and the
//! page is shown again as the ticket is now.
//!
//! Files never pass through the web app: the upload form's script (`assets/app.js`) asks
//! `POST /tickets/{id}/attachments` for a presigned S3 PUT and sends the file there itself (the
//! ticket page's Content-Security-Policy lets it connect to the bucket, [`upload_policy`]), and a
//! download link is a route that answers with a fresh presigned GET.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use shared::config::Config;
use shared::context::SigningContext;
use shared::cursor::Cursor;
use shared::domain::UserId;
use shared::http::cookies;
use shared::http::{IfMatch, Page};
use shared::rbac::{self, Action, Resource};
use shared::store::TicketFilter;
use shared::tickets::model::{AttachmentId, Category, Priority, Status, TicketId};
use shared::tickets::views::{AttachmentView, ResponseView, TicketView};
use shared::tickets::{self, FIRST_RESPONSES, MAX_ATTACHMENT_BYTES, NewAttachment, NewTicket};
use shared::{Error, Result};

use crate::account::snake;
use crate::browser::{self, Browser, Form, see_other};
use crate::layout::{self, alert, csrf_field, encode, notice, page, time};

pub fn routes() -> Router<SigningContext> {
    Router::new()
        .route("/tickets", get(list).post(create))
        .route("/tickets/{id}", get(show))
        .route("/tickets/{id}/responses", post(respond))
        .route("/tickets/{id}/status", post(change_status))
        .route("/tickets/{id}/assign", post(assign))
        .route("/tickets/{id}/close", post(close))
        .route("/tickets/{id}/attachments", post(upload))
        .route("/tickets/{id}/attachments/{attachment_id}", get(download))
}

/// Tickets per page of the list.
const PAGE_SIZE: usize = 20;

/// The choices of the forms, in the order they are offered.
const CATEGORIES: [Category; 4] = [
    Category::General,
    Category::Technical,
    Category::Billing,
    Category::Other,
];
const PRIORITIES: [Priority; 4] = [
    Priority::Low,
    Priority::Normal,
    Priority::High,
    Priority::Urgent,
];

/// The file types the upload form offers (the service decides what it accepts).
const ACCEPTED_FILES: &str = ".jpg,.jpeg,.png,.gif,.pdf,.doc,.docx,.txt,.zip";

// ---------------------------------------------------------------------------------------------
// The list and the new-ticket form.

/// Filters, paging and the last action's notice of the list; an empty filter is "any".
#[derive(Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
    category: Option<String>,
    priority: Option<String>,
    assigned_to: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
}

impl ListQuery {
    /// The filter the service takes; 400 for a value that is none of the choices.
    fn filter(&self) -> Result<TicketFilter> {
        Ok(TicketFilter {
            status: choice("status", self.status.as_deref())?,
            category: choice("category", self.category.as_deref())?,
            priority: choice("priority", self.priority.as_deref())?,
            assigned_to: present(self.assigned_to.as_deref())
                .map(|id| user_id("assigned_to", id))
                .transpose()?,
        })
    }

    /// A link to the list with these filters, at `cursor` (or the first page).
    fn href(&self, cursor: Option<&str>) -> String {
        let filters = [
            ("status", &self.status),
            ("category", &self.category),
            ("priority", &self.priority),
            ("assigned_to", &self.assigned_to),
        ];
        let pairs: Vec<(&str, &str)> = filters
            .iter()
            .filter_map(|(name, value)| present(value.as_deref()).map(|value| (*name, value)))
            .chain(cursor.map(|cursor| ("cursor", cursor)))
            .collect();
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        if query.is_empty() {
            "/tickets#list".into()
        } else {
            format!("/tickets?{query}#list")
        }
    }
}

async fn list(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Query(query): Query<ListQuery>,
) -> Response {
    let banner = notice(query.done.as_deref());
    let draft = NewTicketForm::default();
    render_list(&ctx, &browser, &query, banner, &draft, StatusCode::OK).await
}

/// The list page with `banner` on top and `draft` in the new-ticket form; a failure to load the
/// list is an error page.
async fn render_list(
    ctx: &SigningContext,
    browser: &Browser,
    query: &ListQuery,
    banner: Markup,
    draft: &NewTicketForm,
    status: StatusCode,
) -> Response {
    match list_sections(ctx, browser, query, draft).await {
        Ok(body) => (
            status,
            page("Tickets", Some(browser), html! { (banner) (body) }),
        )
            .into_response(),
        Err(error) => layout::error_page(error),
    }
}

async fn list_sections(
    ctx: &SigningContext,
    browser: &Browser,
    query: &ListQuery,
    draft: &NewTicketForm,
) -> Result<Markup> {
    let user = browser.user();
    let filter = query.filter()?;
    let cursor = query.cursor.as_deref().map(Cursor::parse).transpose()?;
    // Operators (`read` on tickets) get every ticket from the service; the page says so.
    let operator = rbac::is_allowed(ctx, user, Resource::Tickets, Action::Read).await?;
    let tickets = tickets::list(ctx, user, &filter, PAGE_SIZE, cursor).await?;
    let me = user.id.to_string();
    let statuses = options(&Status::ALL);
    Ok(html! {
        p { a href="#new-ticket" { "Open a new ticket" } }
        section aria-labelledby="list" {
            h2 id="list" {
                @if operator { "Ticket queue: every ticket" } @else { "Your tickets" }
            }
            form.filters method="get" action="/tickets" {
                (select("Status", "filter", "status", &statuses, query.status.as_deref(), Some("Any status"), &BTreeMap::new()))
                (select("Category", "filter", "category", &options(&CATEGORIES), query.category.as_deref(), Some("Any category"), &BTreeMap::new()))
                (select("Priority", "filter", "priority", &options(&PRIORITIES), query.priority.as_deref(), Some("Any priority"), &BTreeMap::new()))
                @if operator {
                    div.field {
                        label for="filter-assigned_to" { "Assigned to (user id)" }
                        input id="filter-assigned_to" name="assigned_to" type="text"
                            value=(query.assigned_to.as_deref().unwrap_or(""));
                    }
                }
                button type="submit" { "Filter" }
                " "
                a href="/tickets#list" { "Clear the filters" }
                @if operator {
                    " · "
                    a href=(format!("/tickets?assigned_to={me}#list")) { "Assigned to me" }
                }
            }
            @if tickets.items.is_empty() {
                p { "No tickets." }
            } @else {
                div.table {
                    table {
                        thead { tr {
                            th { "Subject" } th { "Status" } th { "Category" } th { "Priority" }
                            @if operator { th { "Owner" } th { "Assigned to" } }
                            th { "Responses" } th { "Updated" }
                        } }
                        tbody {
                            @for ticket in &tickets.items {
                                tr data-ticket=(ticket.id) {
                                    td { a href=(format!("/tickets/{}", ticket.id)) { (ticket.subject) } }
                                    td { (label(&ticket.status)) }
                                    td { (label(&ticket.category)) }
                                    td { (label(&ticket.priority)) }
                                    @if operator {
                                        td { (person(&ticket.owner_id, &me)) }
                                        td { @match &ticket.assigned_to {
                                            Some(id) => (person(id, &me)),
                                            None => "nobody",
                                        } }
                                    }
                                    td { (ticket.response_count) }
                                    td { (time(&ticket.updated_at)) }
                                }
                            }
                        }
                    }
                }
            }
            nav.pages aria-label="Ticket pages" {
                @if query.cursor.is_some() { a href=(query.href(None)) { "Newest" } }
                @if let Some(next) = &tickets.next_cursor {
                    a href=(query.href(Some(next))) { "Older" }
                }
            }
        }
        (new_ticket_form(browser, draft))
    })
}

/// The new-ticket form as posted: kept as text, so a refused one is shown again as typed.
#[derive(Deserialize)]
struct NewTicketForm {
    subject: String,
    description: String,
    category: String,
    priority: String,
    /// The message of each field the service refused, when shown again.
    #[serde(skip)]
    errors: BTreeMap<String, String>,
}

impl Default for NewTicketForm {
    fn default() -> Self {
        NewTicketForm {
            subject: String::new(),
            description: String::new(),
            category: snake(&Category::General),
            priority: snake(&Priority::Normal),
            errors: BTreeMap::new(),
        }
    }
}

impl NewTicketForm {
    /// The validated ticket, with the API's rules for its fields.
    fn parse(&self) -> Result<NewTicket> {
        Ok(NewTicket {
            subject: tickets::text("subject", &self.subject, 200)?,
            description: tickets::text("description", &self.description, 10_000)?,
            category: required("category", self.category.as_str())?,
            priority: required("priority", self.priority.as_str())?,
        })
    }
}

fn new_ticket_form(browser: &Browser, draft: &NewTicketForm) -> Markup {
    let errors = &draft.errors;
    html! {
        section aria-labelledby="new-ticket" {
            h2 id="new-ticket" { "Open a ticket" }
            form method="post" action="/tickets" {
                (csrf_field(browser))
                div.field {
                    label for="f-subject" { "Subject" }
                    input id="f-subject" name="subject" type="text" value=(draft.subject)
                        maxlength="200" required
                        aria-invalid=[errors.get("subject").map(|_| "true")]
                        aria-describedby=[errors.get("subject").map(|_| "f-subject-error")];
                    (field_error("f-subject", "subject", errors))
                }
                div.field {
                    label for="f-description" { "Description" }
                    textarea id="f-description" name="description" maxlength="10000" required
                        aria-invalid=[errors.get("description").map(|_| "true")]
                        aria-describedby=[errors.get("description").map(|_| "f-description-error")]
                        { (draft.description) }
                    (field_error("f-description", "description", errors))
                }
                (select("Category", "f", "category", &options(&CATEGORIES), Some(&draft.category), None, errors))
                (select("Priority", "f", "priority", &options(&PRIORITIES), Some(&draft.priority), None, errors))
                button type="submit" { "Open the ticket" }
            }
        }
    }
}

async fn create(
    State(ctx): State<SigningContext>,
    Form(browser, mut form): Form<NewTicketForm>,
) -> Response {
    let created = match form.parse() {
        Ok(new) => tickets::create(&ctx, browser.user(), new).await,
        Err(error) => Err(error),
    };
    match created {
        Ok(ticket) => see_other(&format!("/tickets/{}?done=ticket-opened", ticket.body.id)),
        Err(error) => {
            let status = error.status();
            let (message, fields) = layout::form_errors(&error);
            form.errors = fields;
            let query = ListQuery::default();
            render_list(&ctx, &browser, &query, alert(&message), &form, status).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One ticket.

/// A ticket page's query: the last action's notice, and which page of the thread.
#[derive(Deserialize)]
struct TicketQuery {
    done: Option<String>,
    responses: Option<String>,
}

async fn show(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Path(id): Path<String>,
    Query(query): Query<TicketQuery>,
) -> Response {
    let id = match id.parse::<TicketId>() {
        Ok(id) => id,
        Err(error) => return layout::error_page(error),
    };
    let view = TicketPage {
        id,
        thread_cursor: query.responses.as_deref(),
        banner: notice(query.done.as_deref()),
        draft: "",
        status: StatusCode::OK,
    };
    view.render(&ctx, &browser).await
}

/// What a ticket page shows besides the ticket: the thread's page, a banner on top, the text
/// of a refused response to offer again, and the status to answer with.
struct TicketPage<'a> {
    id: TicketId,
    thread_cursor: Option<&'a str>,
    banner: Markup,
    draft: &'a str,
    status: StatusCode,
}

impl TicketPage<'_> {
    /// The page, with the ticket page's Content-Security-Policy; a ticket the caller may not
    /// see (or a failure to load it) is an error page.
    async fn render(self, ctx: &SigningContext, browser: &Browser) -> Response {
        match self.sections(ctx, browser).await {
            Ok((title, body)) => {
                let page = page(&title, Some(browser), html! { (self.banner) (body) });
                let mut response = (self.status, page).into_response();
                if let Some(policy) = upload_policy(&ctx.config) {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_SECURITY_POLICY, policy);
                }
                response
            }
            Err(error) => layout::error_page(error),
        }
    }

    /// The ticket's subject and the page's sections.
    async fn sections(&self, ctx: &SigningContext, browser: &Browser) -> Result<(String, Markup)> {
        let user = browser.user();
        let cursor = self.thread_cursor.map(Cursor::parse).transpose()?;
        let detail = tickets::get(ctx, user, self.id).await?;
        let version = detail
            .etag
            .header_value()
            .to_str()
            .map_err(Error::internal)?
            .to_owned();
        let detail = detail.body;
        let thread = match cursor {
            None => Page {
                items: detail.responses,
                next_cursor: detail.responses_next_cursor,
            },
            Some(cursor) => {
                tickets::responses(ctx, user, self.id, FIRST_RESPONSES, Some(cursor)).await?
            }
        };
        // Operators (`update` on tickets) get the operators' forms; the service decides anyway.
        let operator = rbac::is_allowed(ctx, user, Resource::Tickets, Action::Update).await?;
        let me = user.id.to_string();
        let ticket = &detail.ticket;
        let you = Viewer {
            me: &me,
            owner: &ticket.owner_id,
            operator,
        };
        let forms = Forms {
            browser,
            version: &version,
            ticket: &ticket.id,
        };
        let open = ticket.status != Status::Closed;
        let participant = you.is_owner() || operator;
        let body = html! {
            p { a href="/tickets" { "All tickets" } }
            (details(ticket, &you))
            @if participant { (actions(ticket, &you, &forms)) }
            section aria-labelledby="thread" {
                h2 id="thread" { "Responses" }
                @if thread.items.is_empty() {
                    p { "No responses yet." }
                } @else {
                    ol.thread {
                        @for response in &thread.items { li { (response_item(response, &you)) } }
                    }
                }
                nav.pages aria-label="Response pages" {
                    @if self.thread_cursor.is_some() {
                        a href=(format!("/tickets/{}#thread", ticket.id)) { "First responses" }
                    }
                    @if let Some(next) = &thread.next_cursor {
                        a href=(format!("/tickets/{}?responses={}#thread", ticket.id, encode(next))) { "Later responses" }
                    }
                }
            }
            @if open && participant { (reply_form(&forms, &you, self.draft)) }
            (attachments(ticket, &detail.attachments, open && participant))
        };
        Ok((ticket.subject.clone(), body))
    }
}

/// Who is looking at a ticket, for naming the people on it.
struct Viewer<'a> {
    me: &'a str,
    owner: &'a str,
    /// Acts as an operator (`update` on tickets).
    operator: bool,
}

impl Viewer<'_> {
    fn is_owner(&self) -> bool {
        self.me == self.owner
    }

    /// The author of a response: the viewer, the ticket's owner, or support (with their id
    /// for operators).
    fn name(&self, id: &str) -> Markup {
        if id == self.me {
            html! { "You" }
        } else if id == self.owner {
            html! { "The ticket's owner" }
        } else if self.operator {
            html! { "Support " code { (id) } }
        } else {
            html! { "Support" }
        }
    }
}

/// What every change form of one ticket page holds: the CSRF token and the version the page
/// shows, posted to one of the ticket's routes.
struct Forms<'a> {
    browser: &'a Browser,
    version: &'a str,
    ticket: &'a str,
}

impl Forms<'_> {
    /// The ticket's route `path`.
    fn action(&self, path: &str) -> String {
        format!("/tickets/{}/{path}", self.ticket)
    }

    /// The hidden fields of a change form.
    fn hidden(&self) -> Markup {
        html! {
            (csrf_field(self.browser))
            input type="hidden" name="version" value=(self.version);
        }
    }
}

fn details(ticket: &TicketView, you: &Viewer<'_>) -> Markup {
    html! {
        section aria-labelledby="details" {
            h2 id="details" { "Details" }
            dl.context {
                dt { "Status" } dd data-status=(ticket.status) { (label(&ticket.status)) }
                dt { "Category" } dd { (label(&ticket.category)) }
                dt { "Priority" } dd { (label(&ticket.priority)) }
                @if you.operator { dt { "Owner" } dd { (person(&ticket.owner_id, you.me)) } }
                dt { "Assigned to" } dd { @match &ticket.assigned_to {
                    Some(id) if you.operator => (person(id, you.me)),
                    Some(_) => "a support operator",
                    None => "nobody yet",
                } }
                dt { "Opened" } dd { (time(&ticket.created_at)) }
                dt { "Updated" } dd { (time(&ticket.updated_at)) }
                @if let Some(closed) = &ticket.closed_at { dt { "Closed" } dd { (time(closed)) } }
            }
            h3 { "Description" }
            (paragraphs(&ticket.description))
        }
    }
}

/// The workflow's forms: for operators status change and assignment; closing for operators
/// and the owner. Only the moves the workflow allows are offered.
fn actions(ticket: &TicketView, you: &Viewer<'_>, forms: &Forms<'_>) -> Markup {
    let moves: Vec<Status> = Status::ALL
        .into_iter()
        .filter(|next| ticket.status.can_move_to(*next))
        .collect();
    let open = ticket.status != Status::Closed;
    html! {
        section aria-labelledby="actions" {
            h2 id="actions" { "Actions" }
            @if you.operator && !moves.is_empty() {
                form method="post" action=(forms.action("status")) {
                    (forms.hidden())
                    (select("New status", "f", "status", &options(&moves), None, None, &BTreeMap::new()))
                    button type="submit" { "Change the status" }
                }
            }
            @if you.operator && open {
                @if ticket.assigned_to.as_deref() != Some(you.me) {
                    form method="post" action=(forms.action("assign")) {
                        (forms.hidden())
                        input type="hidden" name="operator_id" value=(you.me);
                        button.secondary type="submit" { "Assign to me" }
                    }
                }
                form method="post" action=(forms.action("assign")) {
                    (forms.hidden())
                    div.field {
                        label for="f-operator_id" { "Assign to an operator (user id)" }
                        input id="f-operator_id" name="operator_id" type="text" required;
                    }
                    button.secondary type="submit" { "Assign" }
                }
            }
            @if ticket.status.can_close() {
                form method="post" action=(forms.action("close")) {
                    (forms.hidden())
                    button.danger type="submit" { "Close the ticket" }
                }
            } @else {
                p { "This ticket is closed." }
            }
        }
    }
}

/// One response; an internal note is marked as such in words and style.
fn response_item(response: &ResponseView, you: &Viewer<'_>) -> Markup {
    html! {
        article.response.internal[response.is_internal] data-response=(response.id) {
            p {
                @if response.is_internal { strong { "Internal note" } " · " }
                (you.name(&response.author_id)) " · " (time(&response.created_at))
            }
            (paragraphs(&response.message))
        }
    }
}

fn reply_form(forms: &Forms<'_>, you: &Viewer<'_>, draft: &str) -> Markup {
    html! {
        section aria-labelledby="reply" {
            h2 id="reply" { "Respond" }
            form method="post" action=(forms.action("responses")) {
                (forms.hidden())
                div.field {
                    label for="f-message" { "Message" }
                    textarea id="f-message" name="message" maxlength="10000" required { (draft) }
                }
                @if you.operator {
                    div.field.check {
                        label for="f-is_internal" {
                            input id="f-is_internal" name="is_internal" type="checkbox" value="true";
                            " Internal note (only operators see it)"
                        }
                    }
                }
                button type="submit" { "Send" }
            }
        }
    }
}

fn attachments(ticket: &TicketView, files: &[AttachmentView], may_upload: bool) -> Markup {
    html! {
        section aria-labelledby="files" {
            h2 id="files" { "Attachments" }
            @if files.is_empty() {
                p { "No files." }
            } @else {
                ul.files {
                    @for file in files {
                        li data-attachment=(file.id) {
                            a href=(format!("/tickets/{}/attachments/{}", ticket.id, file.id)) { (file.file_name) }
                            " (" (size(file.size)) ", " (time(&file.created_at))
                            @if file.response_id.is_some() { ", on a response" }
                            ")"
                        }
                    }
                }
            }
            @if may_upload {
                form data-upload action=(format!("/tickets/{}/attachments", ticket.id)) method="post" {
                    div.field {
                        label for="f-file" { "Attach a file" }
                        input id="f-file" name="file" type="file" accept=(ACCEPTED_FILES) required
                            aria-describedby="f-file-rules";
                    }
                    p.hint id="f-file-rules" {
                        "JPEG, PNG, GIF, PDF, DOC, DOCX, TXT or ZIP, up to "
                        (MAX_ATTACHMENT_BYTES / (1024 * 1024)) " MB; at most "
                        (tickets::MAX_ATTACHMENTS) " files per ticket."
                    }
                    button type="submit" { "Upload" }
                    p role="status" {}
                }
                noscript { p.hint { "Uploading files needs JavaScript." } }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Changes of a ticket.

/// A reply as posted.
#[derive(Deserialize)]
struct ReplyForm {
    version: String,
    message: String,
    #[serde(default)]
    is_internal: bool,
}

async fn respond(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, form): Form<ReplyForm>,
) -> Response {
    let Ok(id) = id.parse::<TicketId>() else {
        return layout::error_page(Error::not_found("ticket"));
    };
    let outcome = async {
        let if_match = browser::if_match(&form.version)?;
        let message = tickets::text("message", &form.message, 10_000)?;
        tickets::respond(
            &ctx,
            browser.user(),
            id,
            message,
            form.is_internal,
            &if_match,
        )
        .await?;
        Ok(if form.is_internal { "noted" } else { "replied" })
    };
    let outcome = outcome.await;
    after(&ctx, &browser, id, outcome, &form.message).await
}

/// A status change as posted.
#[derive(Deserialize)]
struct StatusForm {
    version: String,
    status: String,
}

async fn change_status(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, form): Form<StatusForm>,
) -> Response {
    let Ok(id) = id.parse::<TicketId>() else {
        return layout::error_page(Error::not_found("ticket"));
    };
    let outcome = async {
        let if_match = browser::if_match(&form.version)?;
        let status = required("status", &form.status)?;
        tickets::change_status(&ctx, browser.user(), id, status, &if_match).await?;
        Ok("status")
    };
    let outcome = outcome.await;
    after(&ctx, &browser, id, outcome, "").await
}

/// An assignment as posted.
#[derive(Deserialize)]
struct AssignForm {
    version: String,
    operator_id: String,
}

async fn assign(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, form): Form<AssignForm>,
) -> Response {
    let Ok(id) = id.parse::<TicketId>() else {
        return layout::error_page(Error::not_found("ticket"));
    };
    let outcome = async {
        let if_match = browser::if_match(&form.version)?;
        let operator = user_id("operator_id", form.operator_id.trim())?;
        tickets::assign(&ctx, browser.user(), id, operator, &if_match).await?;
        Ok("assigned")
    };
    let outcome = outcome.await;
    after(&ctx, &browser, id, outcome, "").await
}

/// A form that only carries the version it acts on.
#[derive(Deserialize)]
struct VersionForm {
    version: String,
}

async fn close(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, form): Form<VersionForm>,
) -> Response {
    let Ok(id) = id.parse::<TicketId>() else {
        return layout::error_page(Error::not_found("ticket"));
    };
    let outcome = async {
        let if_match = browser::if_match(&form.version)?;
        tickets::close(&ctx, browser.user(), id, &if_match).await?;
        Ok("closed")
    };
    let outcome = outcome.await;
    after(&ctx, &browser, id, outcome, "").await
}

/// After a change: back to the ticket with its notice, or the ticket again (as it is now) with
/// the failure on top, its status, and the refused response's text in the reply form.
async fn after(
    ctx: &SigningContext,
    browser: &Browser,
    id: TicketId,
    outcome: Result<&str>,
    draft: &str,
) -> Response {
    match outcome {
        Ok(done) => see_other(&format!("/tickets/{id}?done={done}")),
        Err(error) => {
            let message = match &error {
                Error::PreconditionFailed => "This ticket changed since the page was loaded; it \
                    is shown below as it is now. Check it and try again."
                    .to_owned(),
                other => other.public_message(),
            };
            let view = TicketPage {
                id,
                thread_cursor: None,
                banner: alert(&message),
                draft,
                status: error.status(),
            };
            view.render(ctx, browser).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Attachments.

/// An upload request as `assets/app.js` posts it.
#[derive(Deserialize)]
struct UploadForm {
    csrf_token: Option<String>,
    file_name: String,
    content_type: String,
    size: u64,
}

/// Answers the upload form's script with the service's presigned PUT (`UploadView`: 201,
/// `upload_url`, `upload_headers`); refusals are the API's JSON errors, which the script shows.
/// The upload does not depend on what the page showed, so it takes no `If-Match`.
async fn upload(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    browser: std::result::Result<Browser, Response>,
    headers: HeaderMap,
    form: std::result::Result<axum::Form<UploadForm>, FormRejection>,
) -> Result<Response> {
    let browser = browser.map_err(|rejection| {
        if rejection.status().is_server_error() {
            Error::Unavailable
        } else {
            Error::unauthorized(
                "signed_out",
                "your session ended; reload the page to sign in again",
            )
        }
    })?;
    let axum::Form(form) =
        form.map_err(|rejection| Error::bad_request("invalid_form", rejection.body_text()))?;
    cookies::check_csrf(
        &ctx.config,
        &headers,
        &browser.who.session.id,
        form.csrf_token.as_deref(),
    )?;
    let id: TicketId = id.parse()?;
    let new = new_attachment(&form)?;
    let view = tickets::attachments::add(&ctx, browser.user(), id, new, &IfMatch::Absent).await?;
    Ok(view
        .map(|view| (StatusCode::CREATED, axum::Json(view)))
        .into_response())
}

/// The declared file, with the API's rules for each field (name, type by media type and
/// extension, size).
fn new_attachment(form: &UploadForm) -> Result<NewAttachment> {
    NewAttachment::parse(&form.file_name, &form.content_type, form.size, None)
}

/// A download link: a redirect to a fresh presigned GET, so a page left open still downloads.
async fn download(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Response {
    let download = async {
        let id: TicketId = id.parse()?;
        let attachment_id: AttachmentId = attachment_id.parse()?;
        tickets::attachments::download(&ctx, browser.user(), id, attachment_id).await
    };
    match download.await {
        Ok(view) => see_other(&view.download_url),
        Err(error) => layout::error_page(error),
    }
}

/// The ticket page's Content-Security-Policy: the site's policy, also letting script connect
/// to the attachment bucket (the upload's `PUT`).
fn upload_policy(config: &Config) -> Option<HeaderValue> {
    let connect = format!("connect-src 'self' {}", bucket_origin(config));
    let policy = crate::CONTENT_SECURITY_POLICY.replace("connect-src 'self'", &connect);
    HeaderValue::from_str(&policy).ok()
}

/// The origin presigned URLs point to: the local endpoint (path-style addressing), else the
/// bucket's virtual-hosted S3 origin.
fn bucket_origin(config: &Config) -> String {
    match &config.aws_endpoint_url {
        Some(endpoint) => endpoint
            .parse::<Uri>()
            .ok()
            .and_then(|uri| Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?)))
            .unwrap_or_else(|| endpoint.trim_end_matches('/').to_owned()),
        None => format!(
            "https://{}.s3.{}.amazonaws.com",
            config.bucket_name, config.aws_region
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing and pieces of markup.

/// A form value that is there (not empty).
fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|value| !value.is_empty())
}

/// One of an enum's values by its API name; none for an empty value, 400 for anything else.
fn choice<T: DeserializeOwned>(field: &str, raw: Option<&str>) -> Result<Option<T>> {
    present(raw)
        .map(|value| {
            serde_json::from_value(serde_json::Value::String(value.to_owned()))
                .map_err(|_| Error::invalid_field(field, "must be one of the listed choices"))
        })
        .transpose()
}

/// One of an enum's values by its API name, which must be there.
fn required<T: DeserializeOwned>(field: &str, raw: &str) -> Result<T> {
    choice(field, Some(raw))?.ok_or_else(|| Error::invalid_field(field, "choose one"))
}

fn user_id(field: &str, raw: &str) -> Result<UserId> {
    raw.parse()
        .map_err(|_| Error::invalid_field(field, "must be a user id"))
}

/// An enum's values as (API name, label) choices.
fn options<T: serde::Serialize>(values: &[T]) -> Vec<(String, String)> {
    values.iter().map(|v| (snake(v), label(v))).collect()
}

/// An enum value for people: `in_progress` → "In progress".
fn label(value: &impl serde::Serialize) -> String {
    let name = snake(value).replace('_', " ");
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name,
    }
}

/// A labelled select of `choices` with the id `<prefix>-<name>`, `selected` chosen; `any` adds
/// a first, empty choice.
fn select(
    label: &str,
    prefix: &str,
    name: &str,
    choices: &[(String, String)],
    selected: Option<&str>,
    any: Option<&str>,
    errors: &BTreeMap<String, String>,
) -> Markup {
    let id = format!("{prefix}-{name}");
    let error = errors.get(name);
    html! {
        div.field {
            label for=(id) { (label) }
            select id=(id) name=(name)
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| format!("{id}-error"))] {
                @if let Some(any) = any { option value="" { (any) } }
                @for (value, text) in choices {
                    option value=(value) selected[selected == Some(value.as_str())] { (text) }
                }
            }
            (field_error(&id, name, errors))
        }
    }
}

/// The message of field `name` when it was refused, as `<id>-error` (which the field points
/// to).
fn field_error(id: &str, name: &str, errors: &BTreeMap<String, String>) -> Markup {
    html! {
        @if let Some(message) = errors.get(name) {
            p.error id=(format!("{id}-error")) { (message) }
        }
    }
}

/// A user, "you" when it is the viewer.
fn person(id: &str, me: &str) -> Markup {
    if id == me {
        html! { "you" }
    } else {
        html! { code { (id) } }
    }
}

/// Text as paragraphs: a blank line separates them, a line break is kept.
fn paragraphs(text: &str) -> Markup {
    html! {
        @for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
            p {
                @for (i, line) in paragraph.lines().enumerate() {
                    @if i > 0 { br; }
                    (line)
                }
            }
        }
    }
}

/// A file size for people.
fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        b if b >= KIB * KIB => format!("{:.1} MB", b as f64 / (KIB * KIB) as f64),
        b if b >= KIB => format!("{:.1} KB", b as f64 / KIB as f64),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticket_page_may_connect_to_the_bucket_and_nowhere_else() {
        let deployed = Config {
            bucket_name: "attachments".into(),
            aws_region: "eu-west-1".into(),
            aws_endpoint_url: None,
            ..Config::default()
        };
        let policy = upload_policy(&deployed).unwrap();
        let policy = policy.to_str().unwrap();
        assert!(
            policy.contains("connect-src 'self' https://attachments.s3.eu-west-1.amazonaws.com;"),
            "{policy}"
        );
        assert_eq!(
            policy.replace(" https://attachments.s3.eu-west-1.amazonaws.com", ""),
            crate::CONTENT_SECURITY_POLICY,
            "nothing else is widened"
        );
        let local = Config {
            aws_endpoint_url: Some("http://localhost:4566/".into()),
            ..deployed
        };
        assert_eq!(bucket_origin(&local), "http://localhost:4566");
    }
}
