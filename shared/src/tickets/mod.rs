//! The tickets service: support tickets between users and operators.
//!
//! Operators are users whose roles grant actions on the `tickets` resource (superusers always):
//! `read` lets them see every ticket and its internal notes; `update` lets them act on other
//! people's tickets (respond, write internal notes, change status, assign, close, attach files)
//! and makes them assignable. Owners see and act on their own tickets only; to anyone else
//! without `read`, someone else's ticket does not exist (404).
//!
//! Every change of a ticket is written on the condition that its `version` did not move since
//! it was read, so concurrent changes never overwrite each other: the loser of a race gets 409
//! `ticket_changed` (responses and attachments, whose outcome does not depend on what the
//! caller saw, are retried instead).
//!
//! Conditional requests: every answer about one ticket carries its `ETag` ([`etag`]), and every
//! change takes an `If-Match`, checked against the snapshot the version-conditioned write
//! replaces (a stale tag is 412 `precondition_failed`, and nothing is written). With `If-Match`
//! the precondition is what the caller's decision rests on, so a write that lost a race is
//! re-read and retried while the precondition still holds, and 412 once it does not. Operators
//! see every change, so their tag names `version`; an owner's tag names `public_version`, which
//! internal notes leave alone, so the tag does not reveal them either.
//!
//! Responses move the status: the owner's response on `awaiting_reply` → `in_progress`; an
//! operator's public response on `open` or `in_progress` → `awaiting_reply`; internal notes
//! move nothing and leave `updated_at` alone, so the owner cannot notice them. Nobody responds
//! to a closed ticket (409 `ticket_closed`).

/// Attachments go to S3: only with the `blobs` feature (the tickets function enables it).
#[cfg(feature = "blobs")]
pub mod attachments;
pub mod model;
pub mod views;

use crate::audit::{self, Event, EventType, Subject, SubjectKind};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::context::Context;
use crate::domain::{User, UserId};
use crate::error::{Error, Result};
use crate::rbac::{self, Action, Resource};
use crate::store::{TicketFilter, TicketScope};
use model::{
    Category, FileType, Priority, Response, ResponseId, Status, Ticket, TicketId, TicketThread,
};
use views::{ResponseView, TicketDetailView, TicketView};

use crate::cursor::{self, Cursor, List};
use crate::http::{ETag, IfMatch, Page, Tagged};

/// Files per ticket, and per response.
pub const MAX_ATTACHMENTS: u32 = 5;
/// Largest attachment in bytes (10 MiB).
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;
/// Lifetime of upload and download URLs (`attachments`).
pub const URL_TTL: Duration = Duration::from_secs(5 * 60);
/// How often a change is retried when the ticket changed meanwhile (responses and attachments
/// always; other changes only under an `If-Match` that still holds).
const WRITE_ATTEMPTS: usize = 10;
/// Responses shown with a ticket; the rest are paged through `responses`.
pub const FIRST_RESPONSES: usize = 20;

/// A validated new ticket.
#[derive(Debug)]
pub struct NewTicket {
    pub subject: String,
    pub description: String,
    pub category: Category,
    pub priority: Priority,
}

/// A validated attachment request (`attachments::add`).
#[derive(Debug)]
pub struct NewAttachment {
    pub file_name: String,
    pub file_type: FileType,
    pub size: u64,
    pub response_id: Option<ResponseId>,
}

impl NewAttachment {
    /// A declared file, checked by the rules of every route that takes one: a name of 1 to 255
    /// characters without control characters, a type known by media type and extension (415),
    /// 1 byte to [`MAX_ATTACHMENT_BYTES`] (413 `file_too_large`).
    pub fn parse(
        file_name: &str,
        content_type: &str,
        size: u64,
        response_id: Option<ResponseId>,
    ) -> Result<NewAttachment> {
        let file_name = text("file_name", file_name, 255)?;
        if file_name.chars().any(char::is_control) {
            return Err(Error::invalid_field(
                "file_name",
                "must not contain control characters",
            ));
        }
        let file_type = FileType::of(content_type, &file_name)?;
        if size == 0 {
            return Err(Error::invalid_field("size", "must be at least 1 byte"));
        }
        if size > MAX_ATTACHMENT_BYTES {
            return Err(Error::TooLarge {
                code: "file_too_large",
                message: format!("files may be at most {MAX_ATTACHMENT_BYTES} bytes"),
            });
        }
        Ok(NewAttachment {
            file_name,
            file_type,
            size,
            response_id,
        })
    }
}

/// Free text of a ticket (subject, description, message, file name): trimmed, 1 to `max`
/// characters, else a 400 naming `field`.
pub fn text(field: &str, raw: &str, max: usize) -> Result<String> {
    let value = raw.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(Error::invalid_field(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// What the caller may do with one ticket.
#[derive(Debug, Clone, Copy)]
struct Access {
    owner: bool,
    /// Sees internal notes.
    operator_read: bool,
    /// Acts as an operator.
    operator_update: bool,
}

async fn may(ctx: &Context, user: &User, action: Action) -> Result<bool> {
    rbac::is_allowed(ctx, user, Resource::Tickets, action).await
}

/// The caller's rights on `ticket`; someone else's ticket without `read` is a 404.
async fn access(ctx: &Context, user: &User, ticket: &Ticket) -> Result<Access> {
    let owner = ticket.owner_id == user.id;
    let operator_read = may(ctx, user, Action::Read).await?;
    if !owner && !operator_read {
        return Err(Error::not_found("ticket"));
    }
    let operator_update = may(ctx, user, Action::Update).await?;
    Ok(Access {
        owner,
        operator_read,
        operator_update,
    })
}

impl Access {
    /// Refuses (403) unless the caller acts as an operator.
    fn require_operator(self) -> Result<()> {
        if self.operator_update {
            Ok(())
        } else {
            Err(Error::forbidden(
                "forbidden",
                "only operators may do this to a ticket",
            ))
        }
    }

    /// Refuses (403) unless the caller owns the ticket or acts as an operator.
    fn require_participant(self) -> Result<()> {
        if self.owner {
            Ok(())
        } else {
            self.require_operator()
        }
    }
}

/// The ticket's whole thread and the caller's rights on it; 404 when it does not exist or the
/// caller may not see it.
async fn load_thread(ctx: &Context, user: &User, id: TicketId) -> Result<(TicketThread, Access)> {
    let thread = ctx
        .store
        .find_ticket_thread(id)
        .await?
        .ok_or_else(|| Error::not_found("ticket"))?;
    let access = access(ctx, user, &thread.ticket).await?;
    Ok((thread, access))
}

async fn load(ctx: &Context, id: TicketId) -> Result<Ticket> {
    ctx.store
        .find_ticket(id)
        .await?
        .ok_or_else(|| Error::not_found("ticket"))
}

/// The `ETag` of `ticket` for a caller who does (`internal`) or does not see internal notes.
pub fn etag(ticket: &Ticket, internal: bool) -> ETag {
    if internal {
        ETag::of_version(ticket.version)
    } else {
        ETag::of_view("p", ticket.public_version)
    }
}

/// `view` of `ticket`, tagged for the caller.
fn tagged<T>(ticket: &Ticket, access: Access, view: T) -> Tagged<T> {
    Tagged::new(etag(ticket, access.operator_read), view)
}

/// Bumps the versions of a ticket for one change: `public` when its owner can see it.
fn bump(ticket: &mut Ticket, public: bool) {
    ticket.version += 1;
    if public {
        ticket.public_version += 1;
    }
}

fn changed() -> Error {
    Error::conflict(
        "ticket_changed",
        "the ticket was changed meanwhile; reload it and try again",
    )
}

fn closed() -> Error {
    Error::conflict("ticket_closed", "the ticket is closed")
}

/// Opens a ticket owned by `user`, in status `open`.
pub async fn create(ctx: &Context, user: &User, new: NewTicket) -> Result<Tagged<TicketView>> {
    let now = ctx.now();
    let ticket = Ticket {
        id: TicketId::new(),
        owner_id: user.id,
        subject: new.subject,
        description: new.description,
        category: new.category,
        priority: new.priority,
        status: Status::Open,
        assigned_to: None,
        public_responses: 0,
        internal_responses: 0,
        attachment_count: 0,
        version: 1,
        public_version: 1,
        created_at: now,
        updated_at: now,
        closed_at: None,
    };
    ctx.store.create_ticket(&ticket).await?;
    let internal = may(ctx, user, Action::Read).await?;
    Ok(Tagged::new(
        etag(&ticket, internal),
        TicketView::new(&ticket, internal),
    ))
}

/// A page of tickets, newest first: every ticket for operators (`read`), the caller's own
/// otherwise, narrowed by `filter`, after `cursor` of a previous page. Fails with 400
/// `invalid_cursor` for a cursor this list did not hand out (an owner's cursor is not an
/// operator's, nor another owner's).
pub async fn list(
    ctx: &Context,
    user: &User,
    filter: &TicketFilter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Page<TicketView>> {
    let operator = may(ctx, user, Action::Read).await?;
    let scope = if operator {
        TicketScope::All
    } else {
        TicketScope::Owner(user.id)
    };
    let key = &ctx.config.cursor_key;
    let list = List::Tickets(scope);
    let position = key.open(&list, cursor.as_ref())?;
    let page = ctx
        .store
        .list_tickets(scope, filter, limit, position.as_deref())
        .await?;
    let items = page
        .tickets
        .iter()
        .map(|t| TicketView::new(t, operator))
        .collect();
    Ok(key.page(&list, items, page.next_position.as_deref()))
}

/// The ticket with the first [`FIRST_RESPONSES`] responses in chronological order (the rest
/// through [`responses`] with `responses_next_cursor`) and its attachments. Internal notes and
/// files on them are left out unless the caller is an operator. Tagged with the ticket's
/// [`etag`] for the caller.
pub async fn get(ctx: &Context, user: &User, id: TicketId) -> Result<Tagged<TicketDetailView>> {
    let (thread, access) = load_thread(ctx, user, id).await?;
    let internal = access.operator_read;
    let hidden: Vec<ResponseId> = thread
        .responses
        .iter()
        .filter(|r| r.is_internal)
        .map(|r| r.id)
        .collect();
    let mut visible: Vec<&Response> = thread
        .responses
        .iter()
        .filter(|r| internal || !r.is_internal)
        .collect();
    let more = visible.len() > FIRST_RESPONSES;
    visible.truncate(FIRST_RESPONSES);
    let next = visible.last().filter(|_| more).map(|r| {
        ctx.config
            .cursor_key
            .seal(&List::Thread(id), &r.id.to_string())
    });
    let view = TicketDetailView {
        ticket: TicketView::new(&thread.ticket, internal),
        responses: visible.into_iter().map(ResponseView::from).collect(),
        responses_next_cursor: next,
        attachments: thread
            .attachments
            .iter()
            .filter(|a| internal || a.response_id.is_none_or(|r| !hidden.contains(&r)))
            .map(Into::into)
            .collect(),
    };
    Ok(tagged(&thread.ticket, access, view))
}

/// A page of a ticket's responses in chronological order after `cursor` (from
/// `responses_next_cursor` or a previous page); internal notes for operators only. The same
/// access rule as [`get`] (404 for a ticket the caller cannot see); 400 `invalid_cursor` for a
/// cursor of another list.
pub async fn responses(
    ctx: &Context,
    user: &User,
    id: TicketId,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Page<ResponseView>> {
    let ticket = load(ctx, id).await?;
    let access = access(ctx, user, &ticket).await?;
    let key = &ctx.config.cursor_key;
    let list = List::Thread(id);
    let after = key
        .open(&list, cursor.as_ref())?
        .map(|p| p.parse::<ResponseId>().map_err(|_| cursor::malformed()))
        .transpose()?;
    let (page, next) = ctx
        .store
        .list_responses(id, access.operator_read, limit, after)
        .await?;
    let items = page.iter().map(ResponseView::from).collect();
    Ok(key.page(&list, items, next.map(|r| r.to_string()).as_deref()))
}

/// Adds a response. Internal notes need an operator (403); responding to someone else's
/// ticket needs an operator (403); a closed ticket takes no responses (409 `ticket_closed`),
/// nor does one holding `max_ticket_responses` already (409 `too_many_responses`; the count is
/// part of the version-checked write, so racing responses cannot pass it); a stale `if_match`
/// is 412. The ticket's counters and status (see the module rules) change in the same
/// transaction; the answer is tagged with the ticket's new [`etag`].
pub async fn respond(
    ctx: &Context,
    user: &User,
    id: TicketId,
    message: String,
    is_internal: bool,
    if_match: &IfMatch,
) -> Result<Tagged<ResponseView>> {
    for _ in 0..WRITE_ATTEMPTS {
        let ticket = load(ctx, id).await?;
        let access = access(ctx, user, &ticket).await?;
        access.require_participant()?;
        if_match.check(&etag(&ticket, access.operator_read))?;
        if is_internal {
            access.require_operator()?;
        }
        if ticket.status == Status::Closed {
            return Err(closed());
        }
        let max = ctx.config.max_ticket_responses;
        if ticket.public_responses + ticket.internal_responses >= max {
            return Err(Error::conflict(
                "too_many_responses",
                format!("a ticket takes at most {max} responses; open a new ticket"),
            ));
        }
        let now = ctx.now();
        let response = Response {
            id: ResponseId::new(),
            ticket_id: id,
            author_id: user.id,
            message: message.clone(),
            is_internal,
            attachment_count: 0,
            created_at: now,
        };
        let mut next = ticket.clone();
        bump(&mut next, !is_internal);
        if is_internal {
            next.internal_responses += 1;
        } else {
            next.public_responses += 1;
            next.updated_at = now;
            next.status = match (access.owner, ticket.status) {
                (true, Status::AwaitingReply) => Status::InProgress,
                (false, Status::Open | Status::InProgress) => Status::AwaitingReply,
                (_, status) => status,
            };
        }
        if ctx.store.add_response(&next, &response).await? {
            record_change(ctx, &ticket, &next).await;
            return Ok(tagged(&next, access, ResponseView::from(&response)));
        }
    }
    Err(changed())
}

/// Records a ticket's change of status or assignee in the audit trail.
async fn record_change(ctx: &Context, before: &Ticket, after: &Ticket) {
    let subject = Subject::of(SubjectKind::Ticket, after.id);
    if before.status != after.status {
        let event = Event::new(EventType::TicketStatusChanged)
            .subject(subject.clone())
            .detail("from", before.status.to_string())
            .detail("to", after.status.to_string());
        audit::record(ctx, event).await;
    }
    if before.assigned_to != after.assigned_to {
        let event = Event::new(EventType::TicketAssigned)
            .subject(subject)
            .detail("to", after.assigned_to.map(|id| id.to_string()));
        audit::record(ctx, event).await;
    }
}

/// Changes ticket `id` on behalf of `user`: on each read, once the caller may see it and
/// `may_act` lets them act on it (403 otherwise), checks `if_match`, then `allowed` (the route's
/// rules about the request, on the same snapshot), then writes `apply`'s
/// change, made at one `now` (so every timestamp it writes is the same), on the condition that
/// the ticket is still that snapshot. A lost race is 409 `ticket_changed` without `If-Match`;
/// with it, the ticket is read again and the precondition decides (412 once it fails).
async fn change(
    ctx: &Context,
    user: &User,
    id: TicketId,
    if_match: &IfMatch,
    may_act: fn(Access) -> Result<()>,
    allowed: impl Fn(&Ticket) -> Result<()>,
    apply: impl Fn(&mut Ticket, DateTime<Utc>),
) -> Result<Tagged<TicketView>> {
    for _ in 0..WRITE_ATTEMPTS {
        let ticket = load(ctx, id).await?;
        let access = access(ctx, user, &ticket).await?;
        may_act(access)?;
        if_match.check(&etag(&ticket, access.operator_read))?;
        allowed(&ticket)?;
        let now = ctx.now();
        let mut next = ticket.clone();
        apply(&mut next, now);
        bump(&mut next, true);
        next.updated_at = now;
        if ctx.store.update_ticket(&next).await? {
            record_change(ctx, &ticket, &next).await;
            let view = TicketView::new(&next, access.operator_read);
            return Ok(tagged(&next, access, view));
        }
        if !if_match.is_present() {
            break;
        }
    }
    Err(changed())
}

fn invalid_transition(from: Status, to: Status) -> Error {
    Error::conflict(
        "invalid_transition",
        format!("a ticket cannot go from {from} to {to}"),
    )
}

/// Moves a ticket through the workflow ([`Status::can_move_to`]); operators only (403).
/// Fails with 412 for a stale `if_match`, 409 `invalid_transition` off the workflow and 409
/// `ticket_changed` when someone else changed the ticket first (see [`change`]).
pub async fn change_status(
    ctx: &Context,
    user: &User,
    id: TicketId,
    status: Status,
    if_match: &IfMatch,
) -> Result<Tagged<TicketView>> {
    let allowed = |ticket: &Ticket| {
        if !ticket.status.can_move_to(status) {
            return Err(invalid_transition(ticket.status, status));
        }
        Ok(())
    };
    let apply = |ticket: &mut Ticket, _| ticket.status = status;
    change(
        ctx,
        user,
        id,
        if_match,
        Access::require_operator,
        allowed,
        apply,
    )
    .await
}

/// Assigns a ticket to an operator; operators only (403). The assignee must be an active
/// user with `update` on tickets, else 400 `not_an_operator`; a stale `if_match` is 412; a
/// closed ticket is 409 `ticket_closed`.
pub async fn assign(
    ctx: &Context,
    user: &User,
    id: TicketId,
    operator_id: UserId,
    if_match: &IfMatch,
) -> Result<Tagged<TicketView>> {
    let assignee = ctx.store.find_user(operator_id).await?;
    let is_operator = match &assignee {
        Some(assignee) if assignee.is_active => may(ctx, assignee, Action::Update).await?,
        _ => false,
    };
    let allowed = |ticket: &Ticket| {
        if !is_operator {
            return Err(Error::bad_request(
                "not_an_operator",
                "tickets can only be assigned to operators",
            ));
        }
        if ticket.status == Status::Closed {
            return Err(closed());
        }
        Ok(())
    };
    let apply = |ticket: &mut Ticket, _| ticket.assigned_to = Some(operator_id);
    change(
        ctx,
        user,
        id,
        if_match,
        Access::require_operator,
        allowed,
        apply,
    )
    .await
}

/// Closes a ticket (owner or operator, else 403) and sets `closed_at`; a stale `if_match` is
/// 412, a closed ticket 409 `invalid_transition`.
pub async fn close(
    ctx: &Context,
    user: &User,
    id: TicketId,
    if_match: &IfMatch,
) -> Result<Tagged<TicketView>> {
    let allowed = |ticket: &Ticket| {
        if !ticket.status.can_close() {
            return Err(invalid_transition(ticket.status, Status::Closed));
        }
        Ok(())
    };
    let apply = |ticket: &mut Ticket, now| {
        ticket.status = Status::Closed;
        ticket.closed_at = Some(now);
    };
    change(
        ctx,
        user,
        id,
        if_match,
        Access::require_participant,
        allowed,
        apply,
    )
    .await
}
