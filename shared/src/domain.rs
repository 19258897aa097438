//! Domain types: validated newtypes and the records Sesame keeps.
//!
//! Values here are already checked: code that holds an [`Email`] never re-validates it. The serde
//! derives describe the stored form (timestamps as epoch numbers so the store can compare them);
//! API responses use the view types in [`crate::views`], never these records directly.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::ValidateEmail;

use crate::error::{Error, Result};

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (UUID v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The UUID itself.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            /// Parses an id from a path or token; anything else is "not found" so that a
            /// malformed id and an unknown one look the same.
            fn from_str(s: &str) -> Result<Self> {
                Uuid::parse_str(s).map(Self).map_err(|_| Error::not_found($what))
            }
        }
    };
}
pub(crate) use uuid_id;

uuid_id!(
    /// A user's id.
    UserId,
    "user"
);
uuid_id!(
    /// A session's id; also the first part of a refresh token.
    SessionId,
    "session"
);

/// An e-mail address, trimmed and lower-cased, so uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Normalizes and validates an address; fails with a 400 naming the `email` field.
    pub fn parse(raw: &str) -> Result<Self> {
        let normalized = raw.trim().to_lowercase();
        if normalized.len() > 254 || !normalized.validate_email() {
            return Err(Error::invalid_field(
                "email",
                "must be a valid e-mail address",
            ));
        }
        Ok(Self(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates a person's name part: trimmed, 1 to 100 characters (or absent when optional).
pub fn parse_name(field: &str, raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid_field(field, "must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

/// A user account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    /// The Argon2id PHC string; never leaves the store or the password module.
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub middle_name: Option<String>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub updated_at: DateTime<Utc>,
    /// Bumped by every session creation; makes the session cap hold under concurrent logins.
    #[serde(default)]
    pub session_version: u64,
    /// When the password was last changed through the API (`None`: never).
    #[serde(default, with = "chrono::serde::ts_milliseconds_option")]
    pub password_changed_at: Option<DateTime<Utc>>,
    /// Bumped by every change of the profile (what a `UserView` shows); administrators' edits
    /// are conditioned on it, and it is the user's `ETag`. Absent (0) on profiles stored before
    /// it existed.
    #[serde(default)]
    pub version: u64,
    /// Whether the owner proved they receive mail at `email` (a verification or e-mail change
    /// link). Absent (false) on profiles stored before it existed.
    #[serde(default)]
    pub email_verified: bool,
    /// Whether sign-ins need a second factor (set with the `MFA` item, in one transaction).
    #[serde(default)]
    pub mfa_enabled: bool,
}

/// What an e-mailed token is for. One mechanism serves all three: a token is good only for its
/// own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// Proves the owner receives mail at the account's address (24 hours).
    VerifyEmail,
    /// Sets a new password without the old one (15 minutes).
    ResetPassword,
    /// Moves the account to a new address, proving it receives mail there (24 hours).
    ChangeEmail,
}

impl TokenPurpose {
    /// How long a token of this purpose may be used.
    pub fn lifetime(self) -> chrono::Duration {
        match self {
            TokenPurpose::VerifyEmail | TokenPurpose::ChangeEmail => chrono::Duration::hours(24),
            TokenPurpose::ResetPassword => chrono::Duration::minutes(15),
        }
    }
}

/// A single-use token sent by mail, as stored: only the SHA-256 of the token is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailToken {
    /// The SHA-256 (hex) of the token in the link.
    #[serde(skip)]
    pub hash: String,
    pub purpose: TokenPurpose,
    pub user_id: UserId,
    /// The address the link was sent to: the account's for verification and reset, the new
    /// one for an e-mail change.
    pub email: Email,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
    /// When the token stops working (epoch seconds in the store's `expires_at`).
    #[serde(skip)]
    pub expires_at: DateTime<Utc>,
}

impl EmailToken {
    /// Whether the token can still be used at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// What kind of device a session runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    Unknown,
}

/// Device, browser and OS parsed from a User-Agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub device_type: DeviceType,
    pub device_name: String,
    pub browser: String,
    pub os: String,
}

/// Where a request came from; parts that are not known are `None`, never guessed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Location {
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
}

/// How a session was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreatedVia {
    Password,
    Register,
    Qr,
    Passkey,
}

/// A refresh token that was rotated out, kept to tell reuse from a made-up token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedRefresh {
    /// SHA-256 of the token's secret, hex.
    pub hash: String,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub rotated_at: DateTime<Utc>,
}

/// One signed-in device: created by a login, ended by logout, revocation, eviction or expiry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub device: Device,
    pub ip: Option<String>,
    pub location: Location,
    pub created_via: CreatedVia,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub last_active_at: DateTime<Utc>,
    /// Absolute end of the session; also the DynamoDB TTL attribute (epoch seconds).
    #[serde(with = "chrono::serde::ts_seconds")]
    pub expires_at: DateTime<Utc>,
    /// SHA-256 of the current refresh token's secret, hex.
    pub refresh_hash: String,
    pub refresh_generation: u64,
    /// The most recent rotated-out refresh tokens, newest last.
    #[serde(default)]
    pub refresh_previous: Vec<RotatedRefresh>,
}

impl Session {
    /// Whether the session is still usable at `now` (reads never trust TTL deletion).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }
}

/// How a login attempt on an existing account ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginOutcome {
    Success,
    WrongPassword,
    Locked,
    Inactive,
}

/// One entry of a user's login history, kept 90 days.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRecord {
    /// Time-ordered (UUID v7), so history sorts by it.
    pub id: Uuid,
    pub user_id: UserId,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub at: DateTime<Utc>,
    pub outcome: LoginOutcome,
    pub method: CreatedVia,
    pub ip: Option<String>,
    pub device: Device,
    pub location: Location,
}

/// Largest number of videos a request or a limit may name.
pub const MAX_QUOTA_VIDEOS: u32 = 1_000_000;
/// Largest duration, in seconds, a request or a limit may name (about three years).
pub const MAX_QUOTA_DURATION_SECONDS: f64 = 100_000_000.0;
/// Largest file size, in MB, a request or a limit may name (1 TiB).
pub const MAX_QUOTA_FILE_SIZE_MB: u32 = 1_048_576;

/// Validates a count such as videos or megabytes: a whole number from 0 to `max`; fails with a
/// 400 naming `field`.
pub fn parse_whole_number(field: &str, raw: i64, max: u32) -> Result<u32> {
    u32::try_from(raw)
        .ok()
        .filter(|value| *value <= max)
        .ok_or_else(|| {
            Error::invalid_field(field, format!("must be a whole number from 0 to {max}"))
        })
}

/// Validates a duration in seconds (fractions allowed) and returns it in whole milliseconds,
/// the unit quota sums are kept in so they never drift. Fails with a 400 naming `field` unless
/// it is finite and from 0 to [`MAX_QUOTA_DURATION_SECONDS`].
pub fn parse_duration_ms(field: &str, seconds: f64) -> Result<u64> {
    if !seconds.is_finite() || !(0.0..=MAX_QUOTA_DURATION_SECONDS).contains(&seconds) {
        return Err(Error::invalid_field(
            field,
            format!("must be a number of seconds from 0 to {MAX_QUOTA_DURATION_SECONDS}"),
        ));
    }
    // In range, so the product is a small non-negative integer after rounding.
    Ok((seconds * 1000.0).round() as u64)
}

/// Validates a file size in MB (fractions allowed): finite, from 0 to
/// [`MAX_QUOTA_FILE_SIZE_MB`]; fails with a 400 naming `field`. The size is kept to the byte
/// (six decimals): finer fractions mean nothing, and DynamoDB cannot store a number as small
/// as 1e-130.
pub fn parse_file_size_mb(field: &str, megabytes: f64) -> Result<f64> {
    if !megabytes.is_finite() || !(0.0..=f64::from(MAX_QUOTA_FILE_SIZE_MB)).contains(&megabytes) {
        return Err(Error::invalid_field(
            field,
            format!("must be a number of MB from 0 to {MAX_QUOTA_FILE_SIZE_MB}"),
        ));
    }
    Ok((megabytes * 1e6).round() / 1e6)
}

/// A client-chosen key that makes a quota consumption count once, however often it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Accepts 1 to 128 characters of ASCII letters, digits, `-`, `_`, `.` and `:` (a UUID
    /// fits); anything else is a 400 naming `idempotency_key`.
    pub fn parse(raw: &str) -> Result<Self> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        if raw.is_empty() || raw.len() > 128 || !raw.chars().all(allowed) {
            return Err(Error::invalid_field(
                "idempotency_key",
                "must be 1 to 128 characters of letters, digits, '-', '_', '.' or ':'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one consumption counts against a quota. Durations are whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotaAmounts {
    pub videos: u32,
    pub duration_ms: u64,
    pub file_size_mb: f64,
}

/// A user's own limits; `None` means the configured default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    pub max_videos: Option<u32>,
    pub max_duration_ms: Option<u64>,
    pub max_file_size_mb: Option<u32>,
}

/// The limits that apply to a user: their overrides over the configured defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimits {
    pub max_videos: u32,
    pub max_duration_ms: u64,
    pub max_file_size_mb: u32,
}

/// A user's quota usage item. A user without one has used nothing and has default limits.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaUsage {
    pub user_id: UserId,
    pub videos: u32,
    pub duration_ms: u64,
    pub overrides: LimitOverrides,
    /// Bumped by every limit change, so a consumption checked against old limits cannot land.
    pub limits_version: u64,
    /// Bumped by every reset, so releasing a consumption from before a reset gives nothing back.
    pub epoch: u64,
    pub updated_at: Option<DateTime<Utc>>,
}

impl QuotaUsage {
    /// The usage of a user who has no usage item yet.
    pub fn empty(user_id: UserId) -> Self {
        QuotaUsage {
            user_id,
            videos: 0,
            duration_ms: 0,
            overrides: LimitOverrides::default(),
            limits_version: 0,
            epoch: 0,
            updated_at: None,
        }
    }
}

/// One counted consumption, kept under its idempotency key so a retry counts once and a
/// release gives back exactly this much, once.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumption {
    pub user_id: UserId,
    pub key: IdempotencyKey,
    pub amounts: QuotaAmounts,
    /// The usage epoch it was counted in.
    pub epoch: u64,
    pub created_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    /// When the record is forgotten: after it, the key is unknown (a retry counts anew, a
    /// release is 404), and TTL and the cleanup delete it.
    pub expires_at: DateTime<Utc>,
}

impl Consumption {
    /// Whether the record still counts at `now` (reads never trust TTL to have removed it).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// Where a QR login stands. `Expired` is never stored: it is what an undecided or uncollected
/// request reads as once its code's lifetime has passed (see [`QrLogin::status_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QrStatus {
    /// Shown by the browser, not scanned yet.
    Pending,
    /// Scanned by a signed-in phone, waiting for its user's decision.
    Scanned,
    /// Approved; the browser's next poll collects the session.
    Confirmed,
    /// Refused by the phone's user.
    Rejected,
    /// The code's lifetime passed before the login was completed.
    Expired,
    /// The browser collected its session; nothing more can happen.
    Consumed,
}

/// A QR login request: created by a browser, scanned and decided by a signed-in phone, and
/// collected by the same browser. Only hashes of the code and of the poll token are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QrLogin {
    /// SHA-256 of the code shown in the QR image, hex.
    pub code_hash: String,
    /// SHA-256 of the poll token only the creating browser holds, hex.
    pub poll_hash: String,
    pub status: QrStatus,
    /// The creating browser's IP, device and location, shown to the phone before it decides.
    pub ip: Option<String>,
    pub device: Device,
    pub location: Location,
    /// The user whose phone scanned the code.
    pub scanned_by: Option<UserId>,
    /// The phone that scanned it, shown to the waiting browser.
    #[serde(default)]
    pub scanned_device: Option<Device>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
    /// End of the code's lifetime: after it nothing can be scanned, decided or collected.
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub code_expires_at: DateTime<Utc>,
    /// End of the record (the code's end plus a grace, so late calls learn it expired); the
    /// DynamoDB TTL attribute (epoch seconds).
    #[serde(with = "chrono::serde::ts_seconds")]
    pub expires_at: DateTime<Utc>,
}

impl QrLogin {
    /// Whether the record still exists at `now` (reads never trust TTL deletion).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }

    /// The status as of `now`: pending, scanned and confirmed requests read as expired once
    /// the code's lifetime has passed.
    pub fn status_at(&self, now: DateTime<Utc>) -> QrStatus {
        match self.status {
            QrStatus::Pending | QrStatus::Scanned | QrStatus::Confirmed
                if now >= self.code_expires_at =>
            {
                QrStatus::Expired
            }
            status => status,
        }
    }
}

/// The immutable identifier of an RBAC resource, action or role (DESIGN 4a "RBAC ids"):
/// 1 to 64 characters of `a-z`, `0-9`, `_` and `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CodeName(String);

impl CodeName {
    /// Validates a code name from a request body; fails with a 400 naming `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        let valid = (1..=64).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid {
            return Err(Error::invalid_field(
                field,
                "must be 1 to 64 characters of a-z, 0-9, _ and -, starting with a letter",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Parses a code name from a URL path; one that cannot exist is a 404 for `what`.
    pub fn from_path(what: &str, raw: &str) -> Result<Self> {
        Self::parse("code_name", raw).map_err(|_| Error::not_found(what))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates a free-text description: trimmed, at most 1000 characters.
pub fn parse_description(raw: &str) -> Result<String> {
    let description = raw.trim();
    if description.chars().count() > 1000 {
        return Err(Error::invalid_field(
            "description",
            "must be at most 1000 characters",
        ));
    }
    Ok(description.to_owned())
}

/// The two kinds of named things permissions are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogKind {
    Resource,
    Action,
}

impl CatalogKind {
    /// The word for one item, used in messages ("resource", "action").
    pub fn noun(self) -> &'static str {
        match self {
            CatalogKind::Resource => "resource",
            CatalogKind::Action => "action",
        }
    }
}

/// An RBAC resource (what a route protects) or action (what a method does to it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogItem {
    pub code_name: CodeName,
    pub name: String,
    pub description: String,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub updated_at: DateTime<Utc>,
}

/// The right to perform `action` on `resource`; the action `all` grants every action.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Permission {
    pub resource: CodeName,
    pub action: CodeName,
}

/// A named set of permissions that users are given.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub code_name: CodeName,
    pub name: String,
    pub description: String,
    pub permissions: Vec<Permission>,
    /// Bumped by every change; makes concurrent edits and deletion exact.
    pub version: u64,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub updated_at: DateTime<Utc>,
}

impl Role {
    /// The distinct resources its permissions name.
    pub fn resources(&self) -> std::collections::BTreeSet<&CodeName> {
        self.permissions.iter().map(|p| &p.resource).collect()
    }

    /// The distinct actions its permissions name.
    pub fn actions(&self) -> std::collections::BTreeSet<&CodeName> {
        self.permissions.iter().map(|p| &p.action).collect()
    }
}
