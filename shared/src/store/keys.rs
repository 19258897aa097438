//! Every key format and attribute name of the single table.
//!
//! | item            | pk                | sk                | other keys                         |
//! |-----------------|-------------------|-------------------|------------------------------------|
//! | user profile    | `USER#<user id>`  | `PROFILE`         | gsi1: `USERS` / `<user id>`        |
//! | e-mail claim    | `EMAIL#<email>`   | `EMAIL`           |                                    |
//! | session         | `USER#<user id>`  | `SESSION#<sid>`   | expires_at (TTL)                   |
//! | rate counter    | `RATE#<name>#<subject>` | `<window start ms>` | expires_at (TTL)           |
//! | login failures  | `USER#<user id>` or `USER#unknown-<e-mail hash>` | `LOCKOUT` | expires_at (TTL) |
//! | login history   | `HISTORY#<user id>` | `LOGIN#<uuid v7>` | expires_at (TTL, 90 days)        |
//! | quota usage     | `QUOTA#<user id>` | `USAGE`           | gsi1: `QUOTAS` / `<user id>`       |
//! | consumption     | `QUOTA#<user id>` | `CONSUMPTION#<idempotency key>` | expires_at (TTL, 30 days) |
//! | QR login        | `QR#<code hash>`  | `QR`              | expires_at (TTL, code expiry + 10 min) |
//! | e-mail token    | `TOKEN#<token hash>` | `TOKEN`        | expires_at (TTL, 15 min or 24 h)   |
//! | RBAC resource   | `RBAC`            | `RESOURCE#<code>` | usage: roles naming it             |
//! | RBAC action     | `RBAC`            | `ACTION#<code>`   | usage: roles naming it             |
//! | RBAC role       | `RBAC`            | `ROLE#<code>`     | usage: users holding it; version; deleting |
//! | superuser count | `RBAC`            | `SUPERUSERS`      | active: active superusers          |
//! | ticket          | `TICKET#<id>`     | `TICKET`          | gsi1: `TICKETS#OWNER#<user id>` / `<id>`; gsi2: `TICKETS` / `<id>` |
//! | ticket response | `TICKET#<id>`     | `RESPONSE#<rid>`  |                                    |
//! | attachment      | `TICKET#<id>`     | `ATTACHMENT#<aid>`|                                    |
//! | audit event     | `AUDIT#<yyyy-mm>` | `EVENT#<uuid v7>` | gsi1: `AUDIT#ACTOR#<actor>` / `<uuid>`; gsi2: `AUDIT#SUBJECT#<id>` / `<uuid>`; gsi3: `AUDIT#TYPE#<type>` / `<uuid>`; expires_at (TTL) |
//!
//! Every item with a lifetime also has `expiry_bucket` (its expiry day), which puts it in the
//! sparse `expiry` index that the cleanup function queries instead of scanning.
//!
//! A user's profile, sessions and login-failure record share a partition so that one
//! consistent query returns everything a login needs (the hash, the session cap's sessions,
//! the attempt budget), and an authenticated request reads profile and session in one batch.
//! An e-mail without an account keeps its failure record under a partition of its own, named by
//! a hash of the address, so a login for it sends the same query. A refresh token names its
//! user and session, so a refresh reads both keys in one batch too.
//!
//! A user's quota lives in its own partition: the usage item (counters, per-user limit
//! overrides, the limits version and the reset epoch) and one consumption item per idempotency
//! key, so that consume and release are single transactions over that partition. Usage items are
//! listed for admins through gsi1's `QUOTAS` partition. Quota attributes are named below
//! because the store's update and condition expressions refer to them.
//!
//! RBAC items are few and small, so they share one partition: a consistent query lists each
//! kind in `code_name` order without an index, and `usage` counts (kept in the same transaction
//! as the roles and users that name an item) make "delete only when unused" one conditional
//! delete.
//! A ticket, its responses and its attachment records share a partition: one query loads a
//! ticket with everything shown on its page. Ticket ids are UUID v7, so sorting the index keys by
//! id lists tickets newest first: an owner's from gsi1, everyone's (for operators) from gsi2.
//! Audit events are written once and never changed. Each is listed from the partition its
//! filter names: by subject (gsi2), by actor (gsi1), by type (gsi3), or, unfiltered, from the
//! month partitions of the table itself; event ids are UUID v7, so every one of them sorts by
//! time and a time range is a sort-key range.
//! Attachment objects in S3 are keyed `tickets/<ticket id>/<attachment id>`, never by file name.

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// First generic index: partition and sort attributes.
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// Second generic index (tickets for operators).
pub const GSI2: &str = "gsi2";
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";
/// Third generic index (audit events by type).
pub const GSI3: &str = "gsi3";
pub const GSI3_PK: &str = "gsi3pk";
pub const GSI3_SK: &str = "gsi3sk";
/// Sparse index of items that expire, by day, for the cleanup function.
pub const EXPIRY_INDEX: &str = "expiry";
pub const EXPIRY_BUCKET: &str = "expiry_bucket";
/// Epoch seconds after which an item is dead; the table's TTL attribute.
pub const EXPIRES_AT: &str = "expires_at";

/// Sort key of a user's profile item.
pub const PROFILE: &str = "PROFILE";
/// Sort key of an e-mail claim item.
pub const EMAIL_SK: &str = "EMAIL";
/// Prefix of session sort keys.
pub const SESSION_PREFIX: &str = "SESSION#";
/// gsi1 partition listing every user.
pub const ALL_USERS: &str = "USERS";

/// Sort key of a user's quota usage item.
pub const QUOTA_USAGE_SK: &str = "USAGE";
/// gsi1 partition listing every quota usage item.
pub const ALL_QUOTAS: &str = "QUOTAS";
/// Quota attributes: the owner, counters (durations in milliseconds), limit overrides, the
/// version bumped by every limit change, the epoch bumped by every reset, and timestamps.
pub const QUOTA_USER_ID: &str = "user_id";
pub const QUOTA_VIDEOS: &str = "videos";
pub const QUOTA_DURATION_MS: &str = "duration_ms";
pub const QUOTA_FILE_SIZE_MB: &str = "file_size_mb";
pub const QUOTA_MAX_VIDEOS: &str = "max_videos";
pub const QUOTA_MAX_DURATION_MS: &str = "max_duration_ms";
pub const QUOTA_MAX_FILE_SIZE_MB: &str = "max_file_size_mb";
pub const QUOTA_LIMITS_VERSION: &str = "limits_version";
pub const QUOTA_EPOCH: &str = "epoch";
pub const QUOTA_UPDATED_AT: &str = "updated_at";
pub const QUOTA_CREATED_AT: &str = "created_at";
pub const QUOTA_RELEASED_AT: &str = "released_at";

/// Partition of every RBAC item (resources, actions, roles).
pub const RBAC_PK: &str = "RBAC";
/// Sort-key prefix of RBAC resources.
pub const RESOURCE_PREFIX: &str = "RESOURCE#";
/// Sort-key prefix of RBAC actions.
pub const ACTION_PREFIX: &str = "ACTION#";
/// Sort-key prefix of RBAC roles.
pub const ROLE_PREFIX: &str = "ROLE#";
/// Number attribute: how many roles name a resource or action, or users hold a role.
pub const RBAC_USAGE: &str = "usage";
/// Number attribute: a role's optimistic-locking version.
pub const RBAC_VERSION: &str = "version";
/// A user profile's list of role code names.
pub const USER_ROLES: &str = "roles";
/// Version attribute of a user profile, bumped by every change of it.
pub const USER_VERSION: &str = "version";
/// Boolean attribute of a role being deleted: it grants nothing, is hidden, and is being
/// stripped from its holders.
pub const RBAC_DELETING: &str = "deleting";
/// Sort key (in the RBAC partition) of the count of active superusers.
pub const SUPERUSERS_SK: &str = "SUPERUSERS";
/// Number attribute of that item: how many superusers are active.
pub const ACTIVE_SUPERUSERS: &str = "active";

pub fn user_pk(user_id: impl std::fmt::Display) -> String {
    format!("USER#{user_id}")
}

pub fn email_pk(email: impl std::fmt::Display) -> String {
    format!("EMAIL#{email}")
}

pub fn session_sk(session_id: impl std::fmt::Display) -> String {
    format!("{SESSION_PREFIX}{session_id}")
}

/// Sort key of a login-failure record.
pub const LOCKOUT_SK: &str = "LOCKOUT";
/// Prefix of login-history sort keys.
pub const LOGIN_PREFIX: &str = "LOGIN#";

pub fn rate_pk(limit_key: &str) -> String {
    format!("RATE#{limit_key}")
}

pub fn history_pk(user_id: impl std::fmt::Display) -> String {
    format!("HISTORY#{user_id}")
}

pub fn history_sk(entry_id: impl std::fmt::Display) -> String {
    format!("{LOGIN_PREFIX}{entry_id}")
}

pub fn quota_pk(user_id: impl std::fmt::Display) -> String {
    format!("QUOTA#{user_id}")
}

pub fn consumption_sk(idempotency_key: impl std::fmt::Display) -> String {
    format!("CONSUMPTION#{idempotency_key}")
}

/// The sort key of an RBAC item: `prefix` is one of the `*_PREFIX` constants.
pub fn rbac_sk(prefix: &str, code_name: &str) -> String {
    format!("{prefix}{code_name}")
}

/// The cleanup bucket (UTC day) of an expiry time given in epoch seconds.
pub fn expiry_bucket(expires_at: i64) -> String {
    let day = chrono::DateTime::from_timestamp(expires_at, 0).unwrap_or_default();
    format!("EXP#{}", day.format("%Y-%m-%d"))
}

/// A short name for the kind of an item, for the cleanup report: `session`, `lockout`, or the
/// lower-cased partition-key prefix (`rate`, `history`, ...).
pub fn kind_of(pk: &str, sk: &str) -> String {
    match pk.split('#').next().unwrap_or_default() {
        "USER" if sk.starts_with(SESSION_PREFIX) => "session".into(),
        "USER" if sk == LOCKOUT_SK => "lockout".into(),
        prefix => prefix.to_lowercase(),
    }
}

/// Sort key of an e-mailed token (verification, password reset, e-mail change).
pub const EMAIL_TOKEN_SK: &str = "TOKEN";
/// The e-mail address attribute of a user profile (conditions of the e-mail flows name it).
pub const USER_EMAIL: &str = "email";

/// Partition key of an e-mailed token: the SHA-256 of the token, never the token itself.
pub fn email_token_pk(token_hash: &str) -> String {
    format!("TOKEN#{token_hash}")
}

/// Sort key of a QR login item.
pub const QR_SK: &str = "QR";

/// Partition key of a QR login: the SHA-256 of its code, never the code itself.
pub fn qr_pk(code_hash: &str) -> String {
    format!("QR#{code_hash}")
}

/// Sort key of a ticket item.
pub const TICKET_SK: &str = "TICKET";
/// Prefix of ticket-response sort keys.
pub const RESPONSE_PREFIX: &str = "RESPONSE#";
/// Prefix of attachment-record sort keys.
pub const ATTACHMENT_PREFIX: &str = "ATTACHMENT#";
/// gsi2 partition listing every ticket.
pub const ALL_TICKETS: &str = "TICKETS";
/// Version attribute of a ticket (optimistic locking).
pub const VERSION: &str = "version";
/// Version of a ticket as its owner sees it (every change but internal notes).
pub const PUBLIC_VERSION: &str = "public_version";
/// Attachment-count attribute of a ticket or response item.
pub const ATTACHMENT_COUNT: &str = "attachment_count";

pub fn ticket_pk(ticket_id: impl std::fmt::Display) -> String {
    format!("TICKET#{ticket_id}")
}

/// gsi1 partition of one user's tickets.
pub fn owner_tickets(user_id: impl std::fmt::Display) -> String {
    format!("TICKETS#OWNER#{user_id}")
}

pub fn response_sk(response_id: impl std::fmt::Display) -> String {
    format!("{RESPONSE_PREFIX}{response_id}")
}

pub fn attachment_sk(attachment_id: impl std::fmt::Display) -> String {
    format!("{ATTACHMENT_PREFIX}{attachment_id}")
}

/// The S3 object key of an attachment: ids only, so no user-chosen text reaches S3.
pub fn attachment_object(
    ticket_id: impl std::fmt::Display,
    attachment_id: impl std::fmt::Display,
) -> String {
    format!("tickets/{ticket_id}/{attachment_id}")
}

/// Prefix of audit-event sort keys in the month partitions.
pub const EVENT_PREFIX: &str = "EVENT#";

/// The month partition of audit events at `at`.
pub fn audit_pk(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("AUDIT#{}", at.format("%Y-%m"))
}

pub fn audit_sk(event_id: impl std::fmt::Display) -> String {
    format!("{EVENT_PREFIX}{event_id}")
}

/// gsi1 partition of the events a user (or `system`) caused.
pub fn audit_actor(actor: &str) -> String {
    format!("AUDIT#ACTOR#{actor}")
}

/// gsi2 partition of the events about one user, role, ticket, ...
pub fn audit_subject(id: &str) -> String {
    format!("AUDIT#SUBJECT#{id}")
}

/// gsi3 partition of the events of one type.
pub fn audit_type(kind: &str) -> String {
    format!("AUDIT#TYPE#{kind}")
}

/// Sort key of a user's second factor (TOTP secret, recovery-code hashes), in their partition,
/// so a login's one query of the account reads it with the profile.
pub const MFA_SK: &str = "MFA";
/// Profile attribute: whether the user's second factor is enabled (shown in `UserView`).
pub const MFA_ENABLED: &str = "mfa_enabled";

/// Sort-key prefix of a user's passkeys (`PASSKEY#<credential id>`), in their partition, so a
/// login's one query of the account reads them with the profile.
pub const PASSKEY_PREFIX: &str = "PASSKEY#";

/// Sort key of the passkey whose credential id is `id` (base64url).
pub fn passkey_sk(id: &str) -> String {
    format!("{PASSKEY_PREFIX}{id}")
}

/// Sort key of a WebAuthn ceremony's state.
pub const CEREMONY_SK: &str = "CEREMONY";

/// Partition key of a WebAuthn ceremony waiting for its answer: the SHA-256 of its
/// `challenge_id`, never the id itself.
pub fn ceremony_pk(id_hash: &str) -> String {
    format!("WEBAUTHN#{id_hash}")
}

/// Sort key of a pending second login step.
pub const MFA_LOGIN_SK: &str = "MFA_LOGIN";

/// Partition key of a pending second login step: the SHA-256 of its `mfa_token`, never the
/// token itself.
pub fn mfa_login_pk(token_hash: &str) -> String {
    format!("MFA_LOGIN#{token_hash}")
}
