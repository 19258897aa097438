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
