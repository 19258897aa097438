//! Typed configuration, read once per cold start from the environment.
//!
//! Every variable is optional and has the documented default (see `.env.example`); a value that
//! is present but malformed stops the process at start-up instead of surprising a request later.
//!
//! Secrets are not in the environment of a deployment: it names Secrets Manager secrets
//! (`SESAME_*_SECRET`), which `Context::from_env` resolves at cold start. Plain-text secret
//! values are accepted only in the explicit local mode (`SESAME_LOCAL_DEV=1`). Secret values are
//! [`SecretString`]s and `Config`'s `Debug` never shows them.

use std::env;
use std::str::FromStr;
use std::time::Duration;

use crate::cursor::{CursorKey, MIN_KEY_BYTES};
use crate::mfa::{MIN_MFA_KEY_BYTES, MfaKey};
use secrecy::{ExposeSecret, SecretString};

/// Sesame's settings. `Config::default()` is the documented defaults; tests override fields.
#[derive(Clone)]
pub struct Config {
    /// `SESAME_TABLE`: the DynamoDB table.
    pub table_name: String,
    /// `SESAME_AWS_*`: timeouts and retries of every AWS client (DynamoDB, S3, Secrets Manager).
    pub aws_calls: AwsCalls,
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
    /// `SESAME_REFRESH_GRACE_SECS`: how long a rotated-out refresh token still returns its
    /// successor instead of revoking the session (10).
    pub refresh_grace: Duration,
    /// `SESAME_TRUST_GEO_HEADERS`: behind CloudFront, take the client IP and location from
    /// CloudFront's viewer headers, on requests that carry the origin secret (false).
    pub trust_geo_headers: bool,
    /// `SESAME_ORIGIN_VERIFY_SECRET`: the secret whose value CloudFront sends in the
    /// `x-origin-verify` header; required when `trust_geo_headers` is on (outside local mode).
    pub origin_verify_secret: Option<String>,
    /// The origin secret's value: resolved from `origin_verify_secret` at cold start, or
    /// `SESAME_ORIGIN_VERIFY` in local mode.
    pub origin_verify: Option<SecretString>,
    /// `SESAME_LOCAL_DEV`: the explicit local mode (`make run`, the local server, the tests):
    /// a missing signing key is generated, plain-text secrets are accepted. Refused in Lambda.
    pub local_dev: bool,
    /// `SESAME_SIGNING_KEY_SECRET`: id or ARN of the secret holding the Ed25519 private key
    /// (PKCS#8 PEM). Read only by the functions that issue tokens.
    pub signing_key_secret: Option<String>,
    /// `SESAME_VERIFY_KEY_SECRET`: id or ARN of the secret holding the matching public key (SPKI
    /// PEM), read by the functions that only verify tokens.
    pub verify_key_secret: Option<String>,
    /// `SESAME_DEV_KEY_PATH`: where local mode keeps its generated key (`.local/dev-signing-key.pem`).
    pub dev_key_path: String,
    /// `SESAME_HASH_CONCURRENCY`: password hashes computed at once (number of CPUs).
    pub hash_concurrency: usize,
    /// `SESAME_LOCKOUT_THRESHOLD`: password checks within the window that lock an account (5).
    pub lockout_threshold: u32,
    /// `SESAME_LOCKOUT_WINDOW_SECS`: how long failures are counted together (900).
    pub lockout_window: Duration,
    /// `SESAME_LOCKOUT_BASE_SECS`: the first lock's length, doubled per further lock until a
    /// correct password (60).
    pub lockout_base: Duration,
    /// `SESAME_LOCKOUT_MAX_SECS`: the longest lock (900).
    pub lockout_max: Duration,
    /// `SESAME_LOGIN_IP_LIMIT`: login attempts per IP per minute before 429 (30).
    pub login_ip_limit: u64,
    /// `SESAME_REGISTER_IP_LIMIT`: registrations per IP per hour before 429 (20).
    pub register_ip_limit: u64,
    /// `SESAME_CLEANUP_LOOKBACK_DAYS`: how many past expiry days the cleanup looks at (7).
    pub cleanup_lookback_days: u32,
    /// `SESAME_AUDIT_RETENTION_DAYS`: how long audit events are kept (365).
    pub audit_retention_days: u32,
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
    /// `SESAME_ADMIN_PASSWORD_SECRET`: id or ARN of the secret holding the first superuser's
    /// password.
    pub admin_password_secret: Option<String>,
    /// The first superuser's password: resolved from `admin_password_secret` at cold start, or
    /// `SESAME_ADMIN_PASSWORD` in local mode. Read it with [`Config::admin_password`].
    pub admin_password: Option<SecretString>,
    /// `SESAME_CURSOR_KEY_SECRET`: id or ARN of the secret holding the HMAC key of list cursors
    /// (at least 32 bytes), shared by every function so each accepts the others' cursors.
    pub cursor_key_secret: Option<String>,
    /// The cursor key: resolved from `cursor_key_secret` at cold start; in local mode
    /// `SESAME_CURSOR_KEY`, or generated per process when unset.
    pub cursor_key: CursorKey,
    /// `SESAME_MFA_KEY_SECRET`: id or ARN of the secret holding the key that seals TOTP secrets
    /// (at least 32 bytes), shared by the functions that enrol or check second factors.
    pub mfa_key_secret: Option<String>,
    /// The TOTP sealing key: resolved from `mfa_key_secret` at cold start; in local mode
    /// `SESAME_MFA_KEY`, or generated per process when unset. `None` in a function deployed
    /// without the secret: it cannot enrol or check second factors (only the auth and web
    /// functions are given it).
    pub mfa_key: Option<MfaKey>,
    /// `SESAME_MAX_TICKET_RESPONSES`: responses and internal notes a ticket takes in all (200).
    pub max_ticket_responses: u32,
    /// `SESAME_PUBLIC_URL`: the origin browsers reach Sesame at (`https://auth.example.com`, no
    /// path). The web app's links and QR codes point to it, and a cookie-authenticated request
    /// carrying an `Origin` must come from it; unset, both follow the request's `Host`. Outside
    /// local mode it must be `https`; local mode defaults to `http://127.0.0.1:3000`, where
    /// cookies drop `Secure`.
    pub public_url: Option<String>,
    /// `SESAME_MAIL_FROM`: the sender of Sesame's mail (`no-reply@example.com`), an address or
    /// domain verified in Amazon SES (local mode verifies it in LocalStack at start-up).
    pub mail_from: String,
    /// `SESAME_MAIL_TEMPLATES`: a directory whose files override the embedded mail templates
    /// (`<kind>.txt`, `<kind>.html`; see `shared::mail`). Unset: the embedded ones.
    pub mail_templates: Option<String>,
    /// `SESAME_REQUIRE_VERIFIED_EMAIL`: refuse the sign-in of accounts whose address is not
    /// verified, 403 `email_not_verified` after a right password (false).
    pub require_verified_email: bool,
    /// `SESAME_WEBAUTHN_RP_ID`: the WebAuthn relying-party id passkeys are bound to (a domain:
    /// `example.com` lets `auth.example.com` and `app.example.com` share them). Unset: the host
    /// of `public_url`; `localhost` in local mode.
    pub webauthn_rp_id: Option<String>,
    /// `SESAME_WEBAUTHN_ORIGINS`: comma-separated origins whose pages may use passkeys (each
    /// within the relying-party id). Unset: `public_url`; in local mode `http://localhost` on
    /// any port.
    pub webauthn_origins: Vec<String>,
}

impl std::fmt::Debug for Config {
    /// Every setting except secret values, which show only whether they are set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |secret: &Option<SecretString>| secret.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("aws_calls", &self.aws_calls)
            .field("bucket_name", &self.bucket_name)
            .field("aws_endpoint_url", &self.aws_endpoint_url)
            .field("aws_region", &self.aws_region)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("session_ttl", &self.session_ttl)
            .field("max_sessions", &self.max_sessions)
            .field("refresh_grace", &self.refresh_grace)
            .field("trust_geo_headers", &self.trust_geo_headers)
            .field("origin_verify_secret", &self.origin_verify_secret)
            .field("origin_verify", &redacted(&self.origin_verify))
            .field("local_dev", &self.local_dev)
            .field("signing_key_secret", &self.signing_key_secret)
            .field("verify_key_secret", &self.verify_key_secret)
            .field("dev_key_path", &self.dev_key_path)
            .field("hash_concurrency", &self.hash_concurrency)
            .field("lockout_threshold", &self.lockout_threshold)
            .field("lockout_window", &self.lockout_window)
            .field("lockout_base", &self.lockout_base)
            .field("lockout_max", &self.lockout_max)
            .field("login_ip_limit", &self.login_ip_limit)
            .field("cleanup_lookback_days", &self.cleanup_lookback_days)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("quota_max_videos", &self.quota_max_videos)
            .field("quota_max_duration", &self.quota_max_duration)
            .field("quota_max_file_size_mb", &self.quota_max_file_size_mb)
            .field("qr_ttl", &self.qr_ttl)
            .field("qr_uri_scheme", &self.qr_uri_scheme)
            .field("admin_email", &self.admin_email)
            .field("admin_password_secret", &self.admin_password_secret)
            .field("admin_password", &redacted(&self.admin_password))
            .field("cursor_key_secret", &self.cursor_key_secret)
            .field("cursor_key", &self.cursor_key)
            .field("mfa_key_secret", &self.mfa_key_secret)
            .field("mfa_key", &self.mfa_key)
            .field("max_ticket_responses", &self.max_ticket_responses)
            .field("public_url", &self.public_url)
            .field("mail_from", &self.mail_from)
            .field("mail_templates", &self.mail_templates)
            .field("require_verified_email", &self.require_verified_email)
            .field("webauthn_rp_id", &self.webauthn_rp_id)
            .field("webauthn_origins", &self.webauthn_origins)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            table_name: "sesame".into(),
            aws_calls: AwsCalls::default(),
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
            origin_verify_secret: None,
            origin_verify: None,
            local_dev: false,
            signing_key_secret: None,
            verify_key_secret: None,
            dev_key_path: ".local/dev-signing-key.pem".into(),
            hash_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            lockout_threshold: 5,
            lockout_window: Duration::from_secs(15 * 60),
            lockout_base: Duration::from_secs(60),
            lockout_max: Duration::from_secs(15 * 60),
            login_ip_limit: 30,
            register_ip_limit: 20,
            cleanup_lookback_days: 7,
            audit_retention_days: 365,
            quota_max_videos: 10,
            quota_max_duration: Duration::from_secs(600),
            quota_max_file_size_mb: 500,
            qr_ttl: Duration::from_secs(60),
            qr_uri_scheme: "sesame".into(),
            admin_email: None,
            admin_password_secret: None,
            admin_password: None,
            cursor_key_secret: None,
            cursor_key: CursorKey::generate(),
            mfa_key_secret: None,
            mfa_key: Some(MfaKey::generate()),
            max_ticket_responses: 200,
            public_url: None,
            mail_from: "no-reply@example.com".into(),
            mail_templates: None,
            require_verified_email: false,
            webauthn_rp_id: None,
            webauthn_origins: Vec::new(),
        }
    }
}

/// How long Sesame waits for AWS and how often it retries, for every SDK client. A call to a
/// hung or unreachable service ends after at most `operation_timeout` with a 503, so the
/// defaults keep a request well inside the Lambda function's timeout (10 s in `template.yaml`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AwsCalls {
    /// `SESAME_AWS_CONNECT_TIMEOUT_MS`: opening a connection (1000).
    pub connect_timeout: Duration,
    /// `SESAME_AWS_ATTEMPT_TIMEOUT_MS`: one attempt of a call, from sending it to the end of its
    /// response (1500).
    pub attempt_timeout: Duration,
    /// `SESAME_AWS_OPERATION_TIMEOUT_MS`: a whole call, every attempt and backoff included
    /// (3000).
    pub operation_timeout: Duration,
    /// `SESAME_AWS_MAX_ATTEMPTS`: attempts per call, the first one included (3). Retries follow
    /// the SDK's standard mode: throttling, transient and timed-out attempts only.
    pub max_attempts: u32,
    /// `SESAME_AWS_RETRY_BASE_MS`: the base of the jittered exponential backoff between
    /// attempts (50); a backoff never exceeds one second.
    pub retry_base: Duration,
}

impl Default for AwsCalls {
    fn default() -> Self {
        AwsCalls {
            connect_timeout: Duration::from_millis(1000),
            attempt_timeout: Duration::from_millis(1500),
            operation_timeout: Duration::from_millis(3000),
            max_attempts: 3,
            retry_base: Duration::from_millis(50),
        }
    }
}

/// The HTTP client every AWS client (DynamoDB, S3, Secrets Manager) sends its requests with:
/// the SDK's hyper client with rustls on ring. The SDK's default crypto, aws-lc, is larger:
/// with it the auth and tickets zips are over Lambda's 5 MB budget (`make build-lambdas`).
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

impl AwsCalls {
    /// The SDK's timeouts: connect, per attempt, per operation.
    pub fn timeout_config(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    /// The SDK's standard retry mode with at most `max_attempts` attempts and full-jitter
    /// exponential backoff from `retry_base`, capped at one second.
    pub fn retry_config(&self) -> aws_config::retry::RetryConfig {
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(self.max_attempts.max(1))
            .with_initial_backoff(self.retry_base)
            .with_max_backoff(Duration::from_secs(1))
    }

    fn read_env(defaults: AwsCalls) -> Result<Self, ConfigError> {
        let millis = |name| parsed(name).map(|v: Option<u64>| v.map(Duration::from_millis));
        let calls = AwsCalls {
            connect_timeout: millis("SESAME_AWS_CONNECT_TIMEOUT_MS")?
                .unwrap_or(defaults.connect_timeout),
            attempt_timeout: millis("SESAME_AWS_ATTEMPT_TIMEOUT_MS")?
                .unwrap_or(defaults.attempt_timeout),
            operation_timeout: millis("SESAME_AWS_OPERATION_TIMEOUT_MS")?
                .unwrap_or(defaults.operation_timeout),
            max_attempts: parsed("SESAME_AWS_MAX_ATTEMPTS")?.unwrap_or(defaults.max_attempts),
            retry_base: millis("SESAME_AWS_RETRY_BASE_MS")?.unwrap_or(defaults.retry_base),
        };
        if calls.max_attempts == 0 {
            return Err(ConfigError {
                name: "SESAME_AWS_MAX_ATTEMPTS",
                reason: "must be at least 1".into(),
            });
        }
        if calls.attempt_timeout > calls.operation_timeout {
            return Err(ConfigError {
                name: "SESAME_AWS_ATTEMPT_TIMEOUT_MS",
                reason: "must not exceed SESAME_AWS_OPERATION_TIMEOUT_MS".into(),
            });
        }
        Ok(calls)
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
    /// Reads the environment over the defaults. Fails on a malformed value and on secret
    /// settings that do not fit the mode (see [`Config::check_secrets`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        let config = Config::read_env()?;
        config.check_secrets(is_lambda())?;
        Ok(config)
    }

    /// Reads the environment like [`Config::from_env`], in the explicit local mode whatever
    /// `SESAME_LOCAL_DEV` says: what the local server, which is never deployed, runs with.
    pub fn local_from_env() -> Result<Self, ConfigError> {
        let config = Config {
            local_dev: true,
            ..Config::read_env()?
        };
        config.check_secrets(is_lambda())?;
        Ok(config)
    }

    /// The first superuser's password, if configured.
    pub fn admin_password(&self) -> Option<&str> {
        self.admin_password
            .as_ref()
            .map(ExposeSecret::expose_secret)
    }

    /// Checks the secret settings before any is resolved: local mode is refused in Lambda;
    /// plain-text secret values are accepted only in local mode; trusting CloudFront's headers
    /// needs the origin secret that proves a request came through CloudFront.
    pub fn check_secrets(&self, in_lambda: bool) -> Result<(), ConfigError> {
        let refuse = |name, reason: &str| {
            Err(ConfigError {
                name,
                reason: reason.to_owned(),
            })
        };
        if self.local_dev && in_lambda {
            return refuse(
                "SESAME_LOCAL_DEV",
                "local development mode is refused in Lambda",
            );
        }
        if !self.local_dev && self.admin_password.is_some() {
            return refuse(
                "SESAME_ADMIN_PASSWORD",
                "a plain-text password is accepted only with SESAME_LOCAL_DEV=1; \
                 name a Secrets Manager secret in SESAME_ADMIN_PASSWORD_SECRET",
            );
        }
        if !self.local_dev && self.origin_verify.is_some() {
            return refuse(
                "SESAME_ORIGIN_VERIFY",
                "a plain-text origin secret is accepted only with SESAME_LOCAL_DEV=1; \
                 name a Secrets Manager secret in SESAME_ORIGIN_VERIFY_SECRET",
            );
        }
        if !self.local_dev
            && self
                .public_url
                .as_ref()
                .is_some_and(|url| !url.starts_with("https://"))
        {
            return refuse(
                "SESAME_PUBLIC_URL",
                "browsers must reach Sesame over https: set SESAME_PUBLIC_URL to its https origin",
            );
        }
        if self.trust_geo_headers
            && self.origin_verify.is_none()
            && self.origin_verify_secret.is_none()
        {
            return refuse(
                "SESAME_TRUST_GEO_HEADERS",
                "trusting CloudFront headers needs SESAME_ORIGIN_VERIFY_SECRET, the secret \
                 CloudFront sends in x-origin-verify",
            );
        }
        Ok(())
    }

    fn read_env() -> Result<Self, ConfigError> {
        let defaults = Config::default();
        let local_dev = parsed::<u8>("SESAME_LOCAL_DEV")?.is_some_and(|flag| flag == 1);
        Ok(Config {
            table_name: string("SESAME_TABLE").unwrap_or(defaults.table_name),
            aws_calls: AwsCalls::read_env(defaults.aws_calls)?,
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
            origin_verify_secret: string("SESAME_ORIGIN_VERIFY_SECRET"),
            origin_verify: string("SESAME_ORIGIN_VERIFY").map(SecretString::from),
            local_dev,
            signing_key_secret: string("SESAME_SIGNING_KEY_SECRET"),
            verify_key_secret: string("SESAME_VERIFY_KEY_SECRET"),
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
            register_ip_limit: parsed("SESAME_REGISTER_IP_LIMIT")?
                .unwrap_or(defaults.register_ip_limit),
            cleanup_lookback_days: parsed("SESAME_CLEANUP_LOOKBACK_DAYS")?
                .unwrap_or(defaults.cleanup_lookback_days),
            audit_retention_days: parsed("SESAME_AUDIT_RETENTION_DAYS")?
                .unwrap_or(defaults.audit_retention_days),
            quota_max_videos: parsed("SESAME_QUOTA_MAX_VIDEOS")?
                .unwrap_or(defaults.quota_max_videos),
            quota_max_duration: parsed("SESAME_QUOTA_MAX_DURATION_SECS")?
                .map_or(defaults.quota_max_duration, Duration::from_secs),
            quota_max_file_size_mb: parsed("SESAME_QUOTA_MAX_FILE_SIZE_MB")?
                .unwrap_or(defaults.quota_max_file_size_mb),
            qr_ttl: parsed("SESAME_QR_TTL_SECS")?.map_or(defaults.qr_ttl, Duration::from_secs),
            qr_uri_scheme: string("SESAME_QR_URI_SCHEME").unwrap_or(defaults.qr_uri_scheme),
            admin_email: string("SESAME_ADMIN_EMAIL"),
            admin_password_secret: string("SESAME_ADMIN_PASSWORD_SECRET"),
            admin_password: string("SESAME_ADMIN_PASSWORD").map(SecretString::from),
            cursor_key_secret: string("SESAME_CURSOR_KEY_SECRET"),
            cursor_key: cursor_key(local_dev)?.unwrap_or(defaults.cursor_key),
            mfa_key_secret: string("SESAME_MFA_KEY_SECRET"),
            mfa_key: mfa_key(local_dev)?.or(defaults.mfa_key),
            max_ticket_responses: parsed("SESAME_MAX_TICKET_RESPONSES")?
                .unwrap_or(defaults.max_ticket_responses),
            public_url: string("SESAME_PUBLIC_URL")
                .map(|url| url.trim_end_matches('/').to_owned())
                .or_else(|| local_dev.then(|| LOCAL_PUBLIC_URL.to_owned())),
            mail_from: string("SESAME_MAIL_FROM").unwrap_or(defaults.mail_from),
            mail_templates: string("SESAME_MAIL_TEMPLATES"),
            require_verified_email: parsed("SESAME_REQUIRE_VERIFIED_EMAIL")?
                .unwrap_or(defaults.require_verified_email),
            webauthn_rp_id: string("SESAME_WEBAUTHN_RP_ID"),
            webauthn_origins: string("SESAME_WEBAUTHN_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                        .filter(|origin| !origin.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// The public URL of local mode, `make run`'s address.
pub const LOCAL_PUBLIC_URL: &str = "http://127.0.0.1:3000";

impl Config {
    /// The origin links in mail point at: `public_url`, or the local server's address.
    pub fn link_origin(&self) -> &str {
        self.public_url.as_deref().unwrap_or(LOCAL_PUBLIC_URL)
    }

    /// Whether browser cookies carry `Secure` (and so may take the `__Host-` and `__Secure-`
    /// prefixes): always, except for a local-mode server reached over plain `http`.
    pub fn secure_cookies(&self) -> bool {
        !(self.local_dev
            && self
                .public_url
                .as_ref()
                .is_none_or(|url| url.starts_with("http://")))
    }
}

/// Whether this process runs inside AWS Lambda.
pub fn is_lambda() -> bool {
    env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// `SESAME_CURSOR_KEY`, which must be long enough; missing is refused only in Lambda.
/// `SESAME_CURSOR_KEY`, a plain-text key accepted only in local mode (elsewhere the key comes
/// from `SESAME_CURSOR_KEY_SECRET`).
fn cursor_key(local_dev: bool) -> Result<Option<CursorKey>, ConfigError> {
    let name = "SESAME_CURSOR_KEY";
    match string(name) {
        Some(_) if !local_dev => Err(ConfigError {
            name,
            reason: "a plain-text cursor key is accepted only with SESAME_LOCAL_DEV=1; \
                     name a Secrets Manager secret in SESAME_CURSOR_KEY_SECRET"
                .into(),
        }),
        Some(raw) => CursorKey::new(raw.as_bytes()).map(Some).ok_or(ConfigError {
            name,
            reason: format!("must be at least {MIN_KEY_BYTES} bytes"),
        }),
        None => Ok(None),
    }
}

/// `SESAME_MFA_KEY`, a plain-text key accepted only in local mode (elsewhere the key comes from
/// `SESAME_MFA_KEY_SECRET`).
fn mfa_key(local_dev: bool) -> Result<Option<MfaKey>, ConfigError> {
    let name = "SESAME_MFA_KEY";
    match string(name) {
        Some(_) if !local_dev => Err(ConfigError {
            name,
            reason: "a plain-text MFA key is accepted only with SESAME_LOCAL_DEV=1; \
                     name a Secrets Manager secret in SESAME_MFA_KEY_SECRET"
                .into(),
        }),
        Some(raw) => MfaKey::new(raw.as_bytes()).map(Some).ok_or(ConfigError {
            name,
            reason: format!("must be at least {MIN_MFA_KEY_BYTES} bytes"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_secret_value() {
        let config = Config {
            admin_password: Some("hunter2 is my admin passphrase".into()),
            origin_verify: Some("origin-secret-f00d".into()),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("f00d"), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
    }

    #[test]
    fn secret_settings_must_fit_the_mode() {
        let plain_password = Config {
            admin_password: Some("a long local passphrase".into()),
            ..Config::default()
        };
        assert!(plain_password.check_secrets(false).is_err());
        let local = Config {
            local_dev: true,
            ..plain_password.clone()
        };
        assert!(local.check_secrets(false).is_ok());
        assert!(local.check_secrets(true).is_err(), "local mode in Lambda");
        let untrusted_cloudfront = Config {
            trust_geo_headers: true,
            ..Config::default()
        };
        assert!(untrusted_cloudfront.check_secrets(true).is_err());
        let cloudfront = Config {
            origin_verify_secret: Some("sesame/origin-verify".into()),
            ..untrusted_cloudfront
        };
        assert!(cloudfront.check_secrets(true).is_ok());
    }

    #[test]
    fn browsers_get_secure_cookies_except_from_a_local_http_server() {
        let plain = Config {
            public_url: Some("http://auth.example.com".into()),
            ..Config::default()
        };
        assert!(
            plain.check_secrets(true).is_err(),
            "http outside local mode"
        );
        assert!(plain.secure_cookies(), "never insecure outside local mode");
        let deployed = Config {
            public_url: Some("https://auth.example.com".into()),
            ..Config::default()
        };
        assert!(deployed.check_secrets(true).is_ok());
        assert!(deployed.secure_cookies());
        let local = Config {
            local_dev: true,
            ..plain
        };
        assert!(local.check_secrets(false).is_ok());
        assert!(!local.secure_cookies());
        let local_https = Config {
            local_dev: true,
            ..deployed
        };
        assert!(local_https.secure_cookies());
    }
}
