//! Typed configuration, read once per cold start from the environment.
//!
//! Every variable is optional and has the documented default (see `.env.example`); a value that
//! is present but malformed stops the process at start-up instead of surprising a request later.

use std::env;
use std::str::FromStr;
use std::time::Duration;

use crate::cursor::{CursorKey, MIN_KEY_BYTES};

/// Sesame's settings. `Config::default()` is the documented defaults; tests override fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SESAME_TABLE`: the DynamoDB table.
    pub table_name: String,
    /// `SESAME_BUCKET`: the S3 bucket of ticket attachments.
    pub bucket_name: String,
    /// `AWS_ENDPOINT_URL`: a local AWS endpoint such as LocalStack; unset in AWS.
    pub aws_endpoint_url: Option<String>,
    /// `AWS_REGION`.
    pub aws_region: String,
    /// `SESAME_ISSUER`: the `iss` claim of access tokens.
    pub issuer: String,
    /// `SESAME_AUDIENCE`: the `aud` claim of access tokens.
    pub audience: String,
    /// `SESAME_ACCESS_TOKEN_TTL_SECS`: access-token lifetime (900).
    pub access_token_ttl: Duration,
    /// `SESAME_SESSION_TTL_DAYS`: absolute session lifetime (30).
    pub session_ttl: Duration,
    /// `SESAME_MAX_SESSIONS`: live sessions per user before the least recently active is evicted (10).
    pub max_sessions: usize,
    /// `SESAME_REFRESH_GRACE_SECS`: how long a rotated-out refresh token gets 409 instead of
    /// revoking the session (10).
    pub refresh_grace: Duration,
    /// `SESAME_TRUST_GEO_HEADERS`: read CloudFront viewer headers into session locations (false).
    pub trust_geo_headers: bool,
    /// `SESAME_SIGNING_KEY`: Ed25519 private key, PKCS#8 PEM. Required in Lambda.
    pub signing_key_pem: Option<String>,
    /// `SESAME_DEV_KEY_PATH`: where a local run keeps its generated key (`.local/dev-signing-key.pem`).
    pub dev_key_path: String,
    /// `SESAME_HASH_CONCURRENCY`: password hashes computed at once (number of CPUs).
    pub hash_concurrency: usize,
    /// `SESAME_LOCKOUT_THRESHOLD`: failed logins within the window that lock an account (5).
    pub lockout_threshold: u32,
    /// `SESAME_LOCKOUT_WINDOW_SECS`: how long failures are counted together (900).
    pub lockout_window: Duration,
    /// `SESAME_LOCKOUT_BASE_SECS`: the first lock's length, doubled per further failure (60).
    pub lockout_base: Duration,
    /// `SESAME_LOCKOUT_MAX_SECS`: the longest lock (900).
    pub lockout_max: Duration,
    /// `SESAME_LOGIN_IP_LIMIT`: login attempts per IP per minute before 429 (30).
    pub login_ip_limit: u64,
    /// `SESAME_CLEANUP_LOOKBACK_DAYS`: how many past expiry days the cleanup looks at (7).
    pub cleanup_lookback_days: u32,
    /// `SESAME_QUOTA_MAX_VIDEOS`: videos a user may have counted against their quota (10).
    pub quota_max_videos: u32,
    /// `SESAME_QUOTA_MAX_DURATION_SECS`: total video duration a user may have counted (600 s).
    pub quota_max_duration: Duration,
    /// `SESAME_QUOTA_MAX_FILE_SIZE_MB`: largest single file a consumption may declare (500 MB).
    pub quota_max_file_size_mb: u32,
    /// `SESAME_QR_TTL_SECS`: how long a QR login code can be scanned, confirmed and collected (60).
    pub qr_ttl: Duration,
    /// `SESAME_QR_URI_SCHEME`: the scheme of the `qr_uri` a phone app opens (`sesame`).
    pub qr_uri_scheme: String,
    /// `SESAME_ADMIN_EMAIL`: the first superuser, created at start-up with
    /// `admin_password` (see `bootstrap`). Unset: no superuser is created.
    pub admin_email: Option<String>,
    /// `SESAME_ADMIN_PASSWORD`: the first superuser's password (in Lambda, from a secret).
    pub admin_password: Option<String>,
    /// `SESAME_CURSOR_KEY`: the HMAC key of list cursors, at least 32 bytes. Required in Lambda
    /// (every instance must accept the others' cursors); a local run generates one per process.
    pub cursor_key: CursorKey,
    /// `SESAME_MAX_TICKET_RESPONSES`: responses and internal notes a ticket takes in all (200).
    pub max_ticket_responses: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            table_name: "sesame".into(),
            bucket_name: "sesame-attachments".into(),
            aws_endpoint_url: None,
            aws_region: "us-east-1".into(),
            issuer: "sesame".into(),
            audience: "sesame-api".into(),
            access_token_ttl: Duration::from_secs(15 * 60),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            max_sessions: 10,
            refresh_grace: Duration::from_secs(10),
            trust_geo_headers: false,
            signing_key_pem: None,
            dev_key_path: ".local/dev-signing-key.pem".into(),
            hash_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            lockout_threshold: 5,
            lockout_window: Duration::from_secs(15 * 60),
            lockout_base: Duration::from_secs(60),
            lockout_max: Duration::from_secs(15 * 60),
            login_ip_limit: 30,
            cleanup_lookback_days: 7,
            quota_max_videos: 10,
            quota_max_duration: Duration::from_secs(600),
            quota_max_file_size_mb: 500,
            qr_ttl: Duration::from_secs(60),
            qr_uri_scheme: "sesame".into(),
            admin_email: None,
            admin_password: None,
            cursor_key: CursorKey::generate(),
            max_ticket_responses: 200,
        }
    }
}

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl Config {
    /// Reads the environment over the defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Config::default();
        Ok(Config {
            table_name: string("SESAME_TABLE").unwrap_or(defaults.table_name),
            bucket_name: string("SESAME_BUCKET").unwrap_or(defaults.bucket_name),
            aws_endpoint_url: string("AWS_ENDPOINT_URL"),
            aws_region: string("AWS_REGION").unwrap_or(defaults.aws_region),
            issuer: string("SESAME_ISSUER").unwrap_or(defaults.issuer),
            audience: string("SESAME_AUDIENCE").unwrap_or(defaults.audience),
            access_token_ttl: parsed("SESAME_ACCESS_TOKEN_TTL_SECS")?
                .map_or(defaults.access_token_ttl, Duration::from_secs),
            session_ttl: parsed::<u64>("SESAME_SESSION_TTL_DAYS")?
                .map_or(defaults.session_ttl, |days| {
                    Duration::from_secs(days * 24 * 3600)
                }),
            max_sessions: parsed("SESAME_MAX_SESSIONS")?.unwrap_or(defaults.max_sessions),
            refresh_grace: parsed("SESAME_REFRESH_GRACE_SECS")?
                .map_or(defaults.refresh_grace, Duration::from_secs),
            trust_geo_headers: parsed("SESAME_TRUST_GEO_HEADERS")?
                .unwrap_or(defaults.trust_geo_headers),
            signing_key_pem: string("SESAME_SIGNING_KEY"),
            dev_key_path: string("SESAME_DEV_KEY_PATH").unwrap_or(defaults.dev_key_path),
            hash_concurrency: parsed("SESAME_HASH_CONCURRENCY")?
                .unwrap_or(defaults.hash_concurrency),
            lockout_threshold: parsed("SESAME_LOCKOUT_THRESHOLD")?
                .unwrap_or(defaults.lockout_threshold),
            lockout_window: parsed("SESAME_LOCKOUT_WINDOW_SECS")?
                .map_or(defaults.lockout_window, Duration::from_secs),
            lockout_base: parsed("SESAME_LOCKOUT_BASE_SECS")?
                .map_or(defaults.lockout_base, Duration::from_secs),
            lockout_max: parsed("SESAME_LOCKOUT_MAX_SECS")?
                .map_or(defaults.lockout_max, Duration::from_secs),
            login_ip_limit: parsed("SESAME_LOGIN_IP_LIMIT")?.unwrap_or(defaults.login_ip_limit),
            cleanup_lookback_days: parsed("SESAME_CLEANUP_LOOKBACK_DAYS")?
                .unwrap_or(defaults.cleanup_lookback_days),
            quota_max_videos: parsed("SESAME_QUOTA_MAX_VIDEOS")?
                .unwrap_or(defaults.quota_max_videos),
            quota_max_duration: parsed("SESAME_QUOTA_MAX_DURATION_SECS")?
                .map_or(defaults.quota_max_duration, Duration::from_secs),
            quota_max_file_size_mb: parsed("SESAME_QUOTA_MAX_FILE_SIZE_MB")?
                .unwrap_or(defaults.quota_max_file_size_mb),
            qr_ttl: parsed("SESAME_QR_TTL_SECS")?.map_or(defaults.qr_ttl, Duration::from_secs),
            qr_uri_scheme: string("SESAME_QR_URI_SCHEME").unwrap_or(defaults.qr_uri_scheme),
            admin_email: string("SESAME_ADMIN_EMAIL"),
            admin_password: string("SESAME_ADMIN_PASSWORD"),
            cursor_key: cursor_key()?.unwrap_or(defaults.cursor_key),
            max_ticket_responses: parsed("SESAME_MAX_TICKET_RESPONSES")?
                .unwrap_or(defaults.max_ticket_responses),
        })
    }
}

/// Whether this process runs inside AWS Lambda.
pub fn is_lambda() -> bool {
    env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// `SESAME_CURSOR_KEY`, which must be long enough; missing is refused only in Lambda.
fn cursor_key() -> Result<Option<CursorKey>, ConfigError> {
    let name = "SESAME_CURSOR_KEY";
    match string(name) {
        Some(raw) => CursorKey::new(raw.as_bytes()).map(Some).ok_or(ConfigError {
            name,
            reason: format!("must be at least {MIN_KEY_BYTES} bytes"),
        }),
        None if is_lambda() => Err(ConfigError {
            name,
            reason: "is required in Lambda".into(),
        }),
        None => Ok(None),
    }
}

fn string(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: FromStr>(name: &'static str) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    string(name)
        .map(|raw| {
            raw.trim().parse().map_err(|e: T::Err| ConfigError {
                name,
                reason: e.to_string(),
            })
        })
        .transpose()
}
