//! Response bodies shared by route groups. Records never go to clients directly: these views
//! choose what is shown (no password hashes, no refresh-token hashes).

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use crate::domain::{CatalogItem, QuotaLimits, QuotaUsage, Role, User};

/// A point in time as every response shows it: RFC 3339 in UTC with exactly three fraction
/// digits (`2026-12-01T04:30:55.231Z`), whatever precision the value had. Views hold this,
/// never a bare `DateTime`, so no response can print another format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ToSchema)]
#[schema(value_type = String, format = DateTime, example = "2026-12-01T04:30:55.231Z")]
pub struct Timestamp(DateTime<Utc>);

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Timestamp(at)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

/// A user as shown to the user and to admins.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    /// Whether the address was verified (a verification or e-mail change link was followed).
    pub email_verified: bool,
    pub first_name: String,
    pub last_name: String,
    pub middle_name: Option<String>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub roles: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Whether sign-ins need a second factor (TOTP or a recovery code).
    pub mfa_enabled: bool,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        UserView {
            id: user.id.to_string(),
            email: user.email.to_string(),
            email_verified: user.email_verified,
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            middle_name: user.middle_name.clone(),
            is_active: user.is_active,
            is_staff: user.is_staff,
            is_superuser: user.is_superuser,
            roles: user.roles.clone(),
            created_at: user.created_at.into(),
            updated_at: user.updated_at.into(),
            mfa_enabled: user.mfa_enabled,
        }
    }
}

/// The answer to a successful login, registration, refresh or QR confirmation. Its `Debug`
/// leaves the tokens out.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    pub session_id: String,
    pub user: UserView,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("session_id", &self.session_id)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The answer to a sign-in or refresh over the cookie transport: the tokens went into `HttpOnly`
/// cookies ([`crate::http::cookies`]), so the body holds none, only the session's CSRF token,
/// which every cookie-authenticated change presents in `x-csrf-token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CookieSessionView {
    /// Always `cookie`.
    pub token_type: &'static str,
    /// Access-token (and access-cookie) lifetime in seconds.
    pub expires_in: u64,
    pub session_id: String,
    pub csrf_token: String,
    pub user: UserView,
}

impl CookieSessionView {
    /// The body that goes with the cookies of `tokens`.
    pub fn new(tokens: TokenResponse, csrf_token: String) -> CookieSessionView {
        CookieSessionView {
            token_type: "cookie",
            expires_in: tokens.expires_in,
            session_id: tokens.session_id,
            csrf_token,
            user: tokens.user,
        }
    }
}

/// A user's quota: what they used, what applies to them and what is left. Durations are
/// seconds with millisecond precision.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    pub user_id: String,
    pub usage: QuotaUsageView,
    pub limits: QuotaLimitsView,
    pub remaining: QuotaRemainingView,
    /// When the usage or limits last changed; `null` for a user who never used their quota.
    pub updated_at: Option<Timestamp>,
}

/// The `usage` member of [`QuotaView`].
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaUsageView {
    pub videos_count: u32,
    pub total_duration_seconds: f64,
}

/// The `limits` member of [`QuotaView`]: the user's own limits or, where they have none, the
/// defaults.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaLimitsView {
    pub max_videos: u32,
    pub max_duration_seconds: f64,
    pub max_file_size_mb: u32,
}

/// The `remaining` member of [`QuotaView`]; never negative, even when an admin lowered a limit
/// below the usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaRemainingView {
    pub videos: u32,
    pub duration_seconds: f64,
}

impl QuotaView {
    /// The document of a usage under the limits that apply to it.
    pub fn new(usage: &QuotaUsage, limits: &QuotaLimits) -> Self {
        QuotaView {
            user_id: usage.user_id.to_string(),
            usage: QuotaUsageView {
                videos_count: usage.videos,
                total_duration_seconds: seconds(usage.duration_ms),
            },
            limits: QuotaLimitsView {
                max_videos: limits.max_videos,
                max_duration_seconds: seconds(limits.max_duration_ms),
                max_file_size_mb: limits.max_file_size_mb,
            },
            remaining: QuotaRemainingView {
                videos: limits.max_videos.saturating_sub(usage.videos),
                duration_seconds: seconds(limits.max_duration_ms.saturating_sub(usage.duration_ms)),
            },
            updated_at: usage.updated_at.map(Timestamp::from),
        }
    }
}

/// Milliseconds as seconds with a fraction: the nearest `f64` to the exact decimal, so it prints
/// with at most three decimals.
fn seconds(milliseconds: u64) -> f64 {
    milliseconds as f64 / 1000.0
}

/// An RBAC resource or action.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogItemView {
    pub code_name: String,
    pub name: String,
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<&CatalogItem> for CatalogItemView {
    fn from(item: &CatalogItem) -> Self {
        CatalogItemView {
            code_name: item.code_name.to_string(),
            name: item.name.clone(),
            description: item.description.clone(),
            created_at: item.created_at.into(),
            updated_at: item.updated_at.into(),
        }
    }
}

/// One permission of a role: an action (or `all`) on a resource, both by code name.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionView {
    pub resource: String,
    pub action: String,
}

/// A role with its permissions.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub code_name: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<PermissionView>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<&Role> for RoleView {
    fn from(role: &Role) -> Self {
        RoleView {
            code_name: role.code_name.to_string(),
            name: role.name.clone(),
            description: role.description.clone(),
            permissions: role
                .permissions
                .iter()
                .map(|p| PermissionView {
                    resource: p.resource.to_string(),
                    action: p.action.to_string(),
                })
                .collect(),
            created_at: role.created_at.into(),
            updated_at: role.updated_at.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_always_show_three_fraction_digits() {
        for (nanos, shown) in [
            (0, "2026-12-01T04:30:55.000Z"),
            (231_000_000, "2026-12-01T04:30:55.231Z"),
            (153_877_582, "2026-12-01T04:30:55.153Z"),
        ] {
            let at = DateTime::from_timestamp(1_796_099_455, nanos).unwrap();
            let json = serde_json::to_string(&Timestamp::from(at)).unwrap();
            assert_eq!(json, format!("\"{shown}\""));
        }
    }
}
