//! The audit trail: one record per security-relevant event, written by the request that causes
//! it, and one structured log line per record.
//!
//! A service describes what happened as an [`Event`] (its type, outcome, subject and a few
//! details, never a secret) and hands it to [`record`]. Who acted and from where is not the
//! caller's to say: the actor is the user the request was authenticated as (set by the one
//! guard, `auth::admit`), or `system` outside a request; IP, device and request id come from the
//! request's scope ([`crate::http::request_id`]). Sign-ins, which have no authenticated caller
//! yet, name their actor with [`Event::by`].
//!
//! Events that belong to a session's creation (registration, login, QR collection, the
//! evictions of the session cap) ride in that session's transaction ([`prepare`], then
//! [`committed`] once it landed). Every other event is written after the change it describes
//! ([`record`]): a failure to store it is logged at error level with the whole event and does
//! not fail the request, whose change has already been made, so the log line is the record of
//! last resort.
//!
//! Records expire after `SESAME_AUDIT_RETENTION_DAYS` (TTL and the cleanup index) and are listed
//! newest first from an index chosen by the filter ([`list`]); no list scans the table.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::Principal;
use crate::context::Context;
use crate::cursor::{Cursor, List};
use crate::domain::{SessionId, UserId};
use crate::error::{Error, Result};
use crate::http::{Page, request_id};
use crate::views::Timestamp;

macro_rules! event_types {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:tt,)+) => {
        /// What happened. Serialized as a dotted name (`login.failed`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum EventType {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant,)+
        }

        impl EventType {
            /// Every event type.
            pub const ALL: &[EventType] = &[$(EventType::$variant,)+];

            /// Its dotted name, as in the API and the index key.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)+
                }
            }
        }
    };
}

event_types! {
    /// An account was created (it signs in at once).
    AccountRegistered => "account.registered",
    /// A sign-in opened a session (`details.via`: password, qr, ...).
    LoginSucceeded => "login.succeeded",
    /// A sign-in was refused (`details.reason`: wrong_password, wrong_code, locked, inactive,
    /// unknown_account).
    LoginFailed => "login.failed",
    /// Too many wrong passwords locked the account (`details.lock_secs`).
    AccountLocked => "account.locked",
    /// A user signed out of their current session.
    LoggedOut => "session.logged_out",
    /// A refresh token that had been rotated out was presented again; its session was ended.
    RefreshTokenReused => "refresh_token.reused",
    /// Sessions were ended (`details.by`: self, other_device, admin, cap_eviction,
    /// password_change, deactivation; `details.sessions`).
    SessionEnded => "session.ended",
    /// A user changed their password (or a wrong current password refused it).
    PasswordChanged => "password.changed",
    /// A password was reset through an e-mailed link.
    PasswordReset => "password.reset",
    /// An e-mail address was verified.
    EmailVerified => "email.verified",
    /// An account's e-mail address was changed.
    EmailChanged => "email.changed",
    /// A user changed their own names.
    ProfileUpdated => "profile.updated",
    /// A user turned two-factor sign-in on (confirmed a TOTP enrolment).
    MfaEnabled => "mfa.enabled",
    /// A user turned two-factor sign-in off (or a wrong code or password refused it).
    MfaDisabled => "mfa.disabled",
    /// An administrator turned a user's two-factor sign-in off.
    MfaReset => "mfa.reset",
    /// A user replaced their recovery codes (or a wrong code refused it).
    MfaRecoveryCodesRegenerated => "mfa.recovery_codes_regenerated",
    /// A user registered a passkey.
    PasskeyAdded => "passkey.added",
    /// A user renamed one of their passkeys.
    PasskeyRenamed => "passkey.renamed",
    /// A passkey was removed: by its user, or by Sesame when its signature counter went back
    /// (`details.reason` `possible_clone`).
    PasskeyRemoved => "passkey.removed",
    /// A browser asked for a QR login code.
    QrGenerated => "qr.generated",
    /// A signed-in phone scanned a QR login code.
    QrScanned => "qr.scanned",
    /// The phone confirmed the QR login.
    QrConfirmed => "qr.confirmed",
    /// The phone rejected the QR login.
    QrRejected => "qr.rejected",
    /// The browser collected its session after a confirmed QR login.
    QrCollected => "qr.collected",
    /// A role was created.
    RoleCreated => "role.created",
    /// A role's name, description or permissions changed.
    RoleUpdated => "role.updated",
    /// A role was deleted (and taken from its holders).
    RoleDeleted => "role.deleted",
    /// A resource or action was added to the permission catalog (`details.kind`).
    PermissionCreated => "permission.created",
    /// A resource or action of the catalog was renamed or described anew.
    PermissionUpdated => "permission.updated",
    /// A resource or action was removed from the catalog.
    PermissionDeleted => "permission.deleted",
    /// An administrator changed a user's roles.
    UserRolesChanged => "user.roles_changed",
    /// An administrator changed a user's names or staff/superuser flags.
    UserUpdated => "user.updated",
    /// An administrator activated a user.
    UserActivated => "user.activated",
    /// An administrator deactivated a user (every session ends with it).
    UserDeactivated => "user.deactivated",
    /// An administrator reset a user's quota usage.
    QuotaReset => "quota.reset",
    /// An administrator changed a user's quota limits.
    QuotaLimitsChanged => "quota.limits_changed",
    /// A ticket was assigned to an operator (or unassigned).
    TicketAssigned => "ticket.assigned",
    /// A ticket's status changed (closing included).
    TicketStatusChanged => "ticket.status_changed",
    /// The start-up bootstrap created the first superuser.
    SuperuserCreated => "bootstrap.superuser_created",
    /// The start-up bootstrap promoted an existing account to superuser.
    SuperuserPromoted => "bootstrap.superuser_promoted",
    /// The start-up bootstrap seeded missing resources and actions.
    CatalogSeeded => "bootstrap.catalog_seeded",
}

impl EventType {
    /// The event type named `name`, or 400 `invalid_query`.
    pub fn parse(name: &str) -> Result<EventType> {
        EventType::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| Error::bad_request("invalid_query", "type is not an event type"))
    }
}

/// Whether the attempt an event describes succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Subject {
    /// `user`, `role`, `resource`, `action`, `ticket` or `quota`.
    #[serde(rename = "type")]
    pub kind: SubjectKind,
    pub id: String,
}

/// The kinds of things events are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    User,
    Role,
    Resource,
    Action,
    Ticket,
}

impl Subject {
    pub fn user(id: UserId) -> Subject {
        Subject {
            kind: SubjectKind::User,
            id: id.to_string(),
        }
    }

    pub fn of(kind: SubjectKind, id: impl std::fmt::Display) -> Subject {
        Subject {
            kind,
            id: id.to_string(),
        }
    }
}

/// Why sessions ended: `details.by` of [`EventType::SessionEnded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    /// The user, from the session itself (revocation of its refresh token, revoke-all).
    User,
    /// The user, from another of their sessions.
    OtherDevice,
    /// An administrator.
    Admin,
    /// A new session pushed the least recently active one over the cap.
    CapEviction,
    /// The user changed their password (every other session ends).
    PasswordChange,
    /// The password was reset by e-mail (every session ends).
    PasswordReset,
    /// An administrator deactivated the user.
    Deactivation,
}

impl EndedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            EndedBy::User => "self",
            EndedBy::OtherDevice => "other_device",
            EndedBy::Admin => "admin",
            EndedBy::CapEviction => "cap_eviction",
            EndedBy::PasswordChange => "password_change",
            EndedBy::PasswordReset => "password_reset",
            EndedBy::Deactivation => "deactivation",
        }
    }
}

/// The event of `sessions` of `user` ending.
pub fn sessions_ended(user: UserId, by: EndedBy, sessions: &[SessionId]) -> Event {
    Event::new(EventType::SessionEnded)
        .about(user)
        .detail("by", by.as_str())
        .detail(
            "sessions",
            sessions.iter().map(ToString::to_string).collect::<Vec<_>>(),
        )
}

/// The actor of every event that is not a user's.
pub const SYSTEM: &str = "system";

/// An event as a service describes it; [`record`] adds when, who and from where.
#[derive(Debug, Clone)]
pub struct Event {
    kind: EventType,
    outcome: Outcome,
    actor: Option<UserId>,
    subject: Option<Subject>,
    details: Map<String, Value>,
}

impl Event {
    /// A successful `kind`.
    pub fn new(kind: EventType) -> Event {
        Event {
            kind,
            outcome: Outcome::Success,
            actor: None,
            subject: None,
            details: Map::new(),
        }
    }

    /// A refused `kind`.
    pub fn failed(kind: EventType) -> Event {
        Event {
            outcome: Outcome::Failure,
            ..Event::new(kind)
        }
    }

    /// What the event is about.
    pub fn subject(mut self, subject: Subject) -> Event {
        self.subject = Some(subject);
        self
    }

    /// About a user.
    pub fn about(self, user: UserId) -> Event {
        self.subject(Subject::user(user))
    }

    /// Names the actor of a request that is not (yet) authenticated: a sign-in.
    pub fn by(mut self, actor: UserId) -> Event {
        self.actor = Some(actor);
        self
    }

    /// Adds a detail. Never a secret: details are listed to administrators and logged.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Event {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// An event as stored: the [`Event`] with its id (UUID v7, so ids sort by time), time, actor
/// and the request's origin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: Uuid,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub at: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub outcome: Outcome,
    /// A user id, or [`SYSTEM`].
    pub actor: String,
    pub subject: Option<Subject>,
    pub ip: Option<String>,
    pub device: Option<String>,
    pub request_id: Option<String>,
    pub details: Map<String, Value>,
    /// When it is deleted (the retention after `at`); stored as the item's TTL only.
    #[serde(skip)]
    pub expires_at: DateTime<Utc>,
}

/// An audit event as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub id: String,
    pub at: Timestamp,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub outcome: Outcome,
    /// The acting user's id, or `system`.
    pub actor: String,
    pub subject: Option<Subject>,
    pub ip: Option<String>,
    /// Browser, OS and device of the request, e.g. `Chrome on Linux computer`.
    pub device: Option<String>,
    pub request_id: Option<String>,
    /// A few facts about the event (never a secret).
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
}

impl From<Record> for EventView {
    fn from(record: Record) -> EventView {
        EventView {
            id: record.id.to_string(),
            at: record.at.into(),
            kind: record.kind,
            outcome: record.outcome,
            actor: record.actor,
            subject: record.subject,
            ip: record.ip,
            device: record.device,
            request_id: record.request_id,
            details: record.details,
        }
    }
}

/// The stored form of `event` at the context's current time, with the request's actor and
/// origin. Write it with the change it describes, then call [`committed`].
pub fn prepare(ctx: &Context, event: Event) -> Record {
    let scope = request_id::scope();
    let actor = event
        .actor
        .or(scope.actor)
        .map_or_else(|| SYSTEM.to_owned(), |id| id.to_string());
    let at = ctx.now();
    Record {
        id: event_id(at),
        at,
        expires_at: at + chrono::Duration::days(i64::from(ctx.config.audit_retention_days)),
        kind: event.kind,
        outcome: event.outcome,
        actor,
        subject: event.subject,
        ip: scope.client.as_ref().and_then(|c| c.ip.clone()),
        device: scope.client.map(|c| match c.device.browser.as_str() {
            "unknown" => c.device.device_name,
            browser => format!("{browser} on {}", c.device.device_name),
        }),
        request_id: scope.id,
        details: event.details,
    }
}

/// A UUID v7 for an event at `at` (the context's clock, not the wall clock, so time ranges
/// and ids agree in tests too): the millisecond, then a process-wide counter (40 bits), so the
/// events of one process sort in the order they were made even within a millisecond, then
/// random bits.
fn event_id(at: DateTime<Utc>) -> Uuid {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed) & ((1 << 40) - 1);
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    // bytes[0] and [1] become rand_a (its top nibble is the version), bytes[2]'s top two bits
    // the variant: the counter fills the 12 bits of rand_a and the next 28 of rand_b.
    bytes[0] = ((count >> 36) & 0x0F) as u8;
    bytes[1] = ((count >> 28) & 0xFF) as u8;
    bytes[2] = ((count >> 22) & 0x3F) as u8;
    bytes[3] = ((count >> 14) & 0xFF) as u8;
    bytes[4] = ((count >> 6) & 0xFF) as u8;
    bytes[5] = (((count & 0x3F) as u8) << 2) | (bytes[5] & 0x03);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

/// Logs records that were written with the change they describe.
pub fn committed(records: &[Record]) {
    for record in records {
        log(record);
    }
}

/// The structured log line of a record: one JSON object per event.
fn log(record: &Record) {
    let json = serde_json::to_string(record).unwrap_or_default();
    tracing::info!(target: "sesame::audit", audit = %json, "audit event");
}

/// Records `event` after the change it describes: logs it and stores it. A store failure is
/// logged with the event and not returned: the change has been made, and refusing the request
/// now would only make its client repeat it.
pub async fn record(ctx: &Context, event: Event) {
    let record = prepare(ctx, event);
    log(&record);
    if let Err(error) = ctx.store.put_audit_record(&record).await {
        tracing::error!(%error, id = %record.id, "audit event not stored; the log line above is its record");
    }
}

/// Which events to list; every member narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// A user id or `system`.
    pub actor: Option<String>,
    /// A subject's id (user, role code name, ticket id, ...).
    pub subject: Option<String>,
    pub kind: Option<EventType>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// At or before.
    pub until: Option<DateTime<Utc>>,
}

impl Filter {
    /// Checks the filter's values: 400 `invalid_query` for an actor or subject that cannot be
    /// one, or a time range that ends before it starts.
    pub fn checked(self) -> Result<Filter> {
        let invalid = |message: &str| Error::bad_request("invalid_query", message.to_owned());
        let is_id = |value: &str| {
            !value.is_empty()
                && value.len() <= 100
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if let Some(actor) = &self.actor
            && actor != SYSTEM
            && actor.parse::<UserId>().is_err()
        {
            return Err(invalid("actor must be a user id or system"));
        }
        if self.subject.as_deref().is_some_and(|s| !is_id(s)) {
            return Err(invalid("subject must be an id"));
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since > until
        {
            return Err(invalid("since must not be after until"));
        }
        Ok(self)
    }

    /// The list a cursor of this filter belongs to: a digest of the filter, so a cursor is
    /// accepted only with the filter that issued it.
    fn list(&self) -> List {
        let canonical = format!(
            "actor={:?};subject={:?};type={:?};since={:?};until={:?}",
            self.actor,
            self.subject,
            self.kind.map(EventType::as_str),
            self.since.map(|t| t.timestamp_millis()),
            self.until.map(|t| t.timestamp_millis()),
        );
        let digest = Sha256::digest(canonical.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        List::Audit(id)
    }
}

/// A page of events matching `filter`, newest first. The time range is cut to what can be
/// stored: back to the retention, forward to now.
pub async fn list(
    ctx: &Context,
    filter: &Filter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Page<EventView>> {
    let list = filter.list();
    let before = match ctx.config.cursor_key.open(&list, cursor.as_ref())? {
        Some(position) => Some(Uuid::parse_str(&position).map_err(|_| crate::cursor::malformed())?),
        None => None,
    };
    // Nothing older than the retention is kept, and nothing is newer than now (a day of
    // leeway for other instances' clocks), so a wider range reads no more partitions.
    let now = ctx.now();
    let retention = chrono::Duration::days(i64::from(ctx.config.audit_retention_days) + 1);
    let oldest = now - retention;
    let newest = now + chrono::Duration::days(1);
    let since = filter.since.map_or(oldest, |since| since.max(oldest));
    let until = filter.until.map_or(now, |until| until.min(newest));
    let (records, next) = ctx
        .store
        .list_audit_records(filter, since, until, before, limit)
        .await?;
    let next = next.map(|id| id.to_string());
    Ok(ctx.config.cursor_key.page(
        &list,
        records.into_iter().map(EventView::from).collect(),
        next.as_deref(),
    ))
}

/// A page of the events about the caller's own account, newest first.
pub async fn list_own(
    ctx: &Context,
    who: &Principal,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Page<EventView>> {
    let filter = Filter {
        subject: Some(who.user.id.to_string()),
        ..Filter::default()
    };
    list(ctx, &filter, limit, cursor).await
}
