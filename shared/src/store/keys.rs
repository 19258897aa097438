//! Every key format and attribute name of the single table.
//!
//! | item            | pk                | sk                | other keys                         |
//! |-----------------|-------------------|-------------------|------------------------------------|
//! | user profile    | `USER#<user id>`  | `PROFILE`         | gsi1: `USERS` / `<user id>`        |
//! | e-mail claim    | `EMAIL#<email>`   | `EMAIL`           |                                    |
//! | session         | `USER#<user id>`  | `SESSION#<sid>`   | expires_at (TTL)                   |
//! | session owner   | `SESSION#<sid>`   | `OWNER`           | expires_at (TTL)                   |
//!
//! A user's profile and sessions share a partition so that one consistent query returns both
//! (the session cap needs them together), and an authenticated request reads both keys in one
//! batch. The owner item maps a refresh token's session id back to its user.

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// First generic index: partition and sort attributes.
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// Sparse index of items that expire, by day, for the cleanup function.
pub const EXPIRY_INDEX: &str = "expiry";
pub const EXPIRY_BUCKET: &str = "expiry_bucket";
/// Epoch seconds after which an item is dead; the table's TTL attribute.
pub const EXPIRES_AT: &str = "expires_at";

/// Sort key of a user's profile item.
pub const PROFILE: &str = "PROFILE";
/// Sort key of an e-mail claim item.
pub const EMAIL_SK: &str = "EMAIL";
/// Sort key of a session-owner item.
pub const OWNER_SK: &str = "OWNER";
/// Prefix of session sort keys.
pub const SESSION_PREFIX: &str = "SESSION#";
/// gsi1 partition listing every user.
pub const ALL_USERS: &str = "USERS";

pub fn user_pk(user_id: impl std::fmt::Display) -> String {
    format!("USER#{user_id}")
}

pub fn email_pk(email: impl std::fmt::Display) -> String {
    format!("EMAIL#{email}")
}

pub fn session_sk(session_id: impl std::fmt::Display) -> String {
    format!("{SESSION_PREFIX}{session_id}")
}

pub fn session_owner_pk(session_id: impl std::fmt::Display) -> String {
    format!("SESSION#{session_id}")
}

/// The cleanup bucket (UTC day) of an expiry time given in epoch seconds.
pub fn expiry_bucket(expires_at: i64) -> String {
    let day = chrono::DateTime::from_timestamp(expires_at, 0).unwrap_or_default();
    format!("EXP#{}", day.format("%Y-%m-%d"))
}
