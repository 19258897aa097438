//! The QR login service: a browser shows a code, a signed-in phone scans it, sees who is
//! asking and confirms or rejects, and the browser collects its own session.
//!
//! The naive design (whoever presents the code after confirmation gets the tokens) lets anyone
//! who saw the QR image take the session. Here the browser also receives a poll token that is
//! never displayed; status answers 404 without it, and the session is created only in the first
//! status poll that carries it after confirmation, from that poll's own request context. Every
//! state change is one conditional write on the current state and the code's lifetime, so racing
//! calls have exactly one winner, and the browser's request is marked consumed before any token
//! is issued.

use crate::audit::{self, Event, EventType};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{self, Principal};
use crate::client::ClientInfo;
use crate::context::{Context, SigningContext};
use crate::domain::{CreatedVia, Device, DeviceType, Location, QrLogin, QrStatus, UserId};
use crate::error::{Error, Result};
use crate::rate_limit::{self, Limit};
use crate::store::QrStep;
use crate::tokens::{hash_secret, hashes_equal, is_random_secret, random_secret};
use crate::views::Timestamp;
use crate::views::TokenResponse;

/// How often the browser is told to poll, in seconds.
pub const POLL_INTERVAL_SECS: u64 = 2;
/// How long a request's record outlives its code, so late calls get 410 rather than 404.
const RECORD_GRACE: chrono::Duration = chrono::Duration::minutes(10);

/// Codes generated per client IP and minute.
pub const GENERATE_PER_IP: Limit = Limit {
    name: "qr-generate-ip",
    max: 10,
    window: Duration::from_secs(60),
};
/// Status polls per code and second: a browser polling faster is slowed with 429.
pub const POLL_PER_CODE: Limit = Limit {
    name: "qr-poll",
    max: 1,
    window: Duration::from_secs(1),
};
/// Scans, confirmations and rejections per user and minute.
pub const PHONE_PER_USER: Limit = Limit {
    name: "qr-phone",
    max: 30,
    window: Duration::from_secs(60),
};

/// A QR login code as presented by a phone or a browser, kept only as its hash.
pub struct QrCode {
    hash: String,
}

impl QrCode {
    /// Checks the shape of a code (43 base64url characters, as generated); anything else is a
    /// 400 naming the `code` field.
    pub fn parse(raw: &str) -> Result<QrCode> {
        if !is_random_secret(raw) {
            return Err(Error::invalid_field("code", "is not a QR login code"));
        }
        Ok(QrCode {
            hash: hash_secret(raw),
        })
    }
}

/// A new QR login as given to the browser. `poll_token` must stay in the browser: it is the
/// only way to read the request's status and collect the session.
#[derive(Serialize, ToSchema)]
pub struct QrGenerated {
    /// The one-time code to show in the QR image.
    pub code: String,
    /// `<scheme>://qr-login?code=<code>`, the content of the QR image.
    pub qr_uri: String,
    /// The browser's secret for `GET /v1/qr-auth/status/{code}` (header `x-qr-poll-token`).
    pub poll_token: String,
    /// When the code stops working.
    pub expires_at: Timestamp,
    /// How often to poll the status, in seconds.
    pub poll_interval_s: u64,
}

/// How the browser's network position compares with the phone's: a hint against relayed QR
/// codes (QRLJacking), shown before the user decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Proximity {
    /// Both requests came from the same IP address.
    SameIp,
    /// Different IPs in the same country.
    SameCountry,
    /// Different countries: likely a relayed code.
    DifferentCountry,
    /// Not enough information to compare.
    Unknown,
}

/// The browser that asks to be signed in, as shown to the phone by `scan`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QrBrowserView {
    pub ip: Option<String>,
    pub browser: String,
    pub os: String,
    pub device_type: DeviceType,
    pub device_name: String,
    pub location: Location,
    /// When the browser generated the code.
    pub created_at: Timestamp,
    /// When the code stops working.
    pub expires_at: Timestamp,
    pub proximity: Proximity,
}

/// The phone that scanned a code, as the waiting browser sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScannerView {
    pub browser: String,
    pub os: String,
    pub device_type: DeviceType,
    pub device_name: String,
}

impl ScannerView {
    /// "Safari on iOS (iPhone)".
    pub fn summary(&self) -> String {
        format!("{} on {} ({})", self.browser, self.os, self.device_name)
    }
}

impl From<Device> for ScannerView {
    fn from(device: Device) -> ScannerView {
        ScannerView {
            browser: device.browser,
            os: device.os,
            device_type: device.device_type,
            device_name: device.device_name,
        }
    }
}

/// A status poll's answer: the status, with the token pair exactly once.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum QrStatusView {
    /// The first poll after confirmation: status `confirmed` and the new session's token pair.
    Collected {
        status: QrStatus,
        #[serde(flatten)]
        tokens: Box<TokenResponse>,
    },
    /// Every other poll: the status, and once scanned the phone that scanned it.
    Status {
        status: QrStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        scanned_by: Option<ScannerView>,
    },
}

fn not_found() -> Error {
    Error::not_found("QR login request")
}

fn expired() -> Error {
    Error::Gone {
        code: "qr_expired",
        message: "this QR code has expired; generate a new one".into(),
    }
}

fn already_decided() -> Error {
    Error::conflict(
        "qr_already_decided",
        "this login request was already confirmed or rejected",
    )
}

/// Creates a QR login for the calling browser, which is remembered (IP, device, location) to be
/// shown to the phone. Fails with 429 beyond [`GENERATE_PER_IP`].
pub async fn generate(ctx: &Context, browser: &ClientInfo) -> Result<QrGenerated> {
    rate_limit::hit_ip(ctx, GENERATE_PER_IP, browser).await?;
    // Stored times have millisecond precision; the answer shows the stored ones.
    let now = ctx.now().trunc_subsecs(3);
    let code = random_secret();
    let poll_token = random_secret();
    let lifetime = chrono::Duration::from_std(ctx.config.qr_ttl).map_err(Error::internal)?;
    let login = QrLogin {
        code_hash: hash_secret(&code),
        poll_hash: hash_secret(&poll_token),
        status: QrStatus::Pending,
        ip: browser.ip.clone(),
        device: browser.device.clone(),
        location: browser.location.clone(),
        scanned_by: None,
        scanned_device: None,
        created_at: now,
        code_expires_at: now + lifetime,
        expires_at: now + lifetime + RECORD_GRACE,
    };
    ctx.store.create_qr_login(&login).await?;
    audit::record(
        ctx,
        Event::new(EventType::QrGenerated).detail("qr", audit_id(&login.code_hash)),
    )
    .await;
    Ok(QrGenerated {
        qr_uri: format!("{}://qr-login?code={code}", ctx.config.qr_uri_scheme),
        code,
        poll_token,
        expires_at: login.code_expires_at.into(),
        poll_interval_s: POLL_INTERVAL_SECS,
    })
}

/// The stored request of a code, unless it is gone (404).
async fn find_live(ctx: &Context, code: &QrCode, now: DateTime<Utc>) -> Result<QrLogin> {
    ctx.store
        .find_qr_login(&code.hash)
        .await?
        .filter(|login| login.is_live(now))
        .ok_or_else(not_found)
}

/// The browser's poll. Without the request's poll token the answer is 404 whatever the state,
/// so someone who only saw the code learns nothing and can never collect the session. Polls
/// faster than [`POLL_PER_CODE`] get 429.
///
/// The first poll after confirmation marks the request consumed (one conditional write, so of
/// parallel polls only one continues) and then starts a session for the approving user with
/// this poll's own client context, returning status `confirmed` with the token pair. Later polls
/// answer `consumed`. If the approving account is no longer active, no session is created (403
/// `account_inactive`).
pub async fn status(
    ctx: &SigningContext,
    code: &QrCode,
    poll_token: Option<&str>,
    browser: &ClientInfo,
) -> Result<QrStatusView> {
    let now = ctx.now();
    let login = find_live(ctx, code, now).await?;
    let presented = poll_token.map(hash_secret);
    if !presented.is_some_and(|hash| hashes_equal(&hash, &login.poll_hash)) {
        return Err(not_found());
    }
    rate_limit::hit(ctx, POLL_PER_CODE, &code.hash).await?;
    let status = login.status_at(now);
    if status != QrStatus::Confirmed {
        let scanned_by = match status {
            QrStatus::Scanned => login.scanned_device.map(ScannerView::from),
            _ => None,
        };
        return Ok(QrStatusView::Status { status, scanned_by });
    }
    let Some(consumed) = ctx
        .store
        .advance_qr_login(&code.hash, &QrStep::Consume, now)
        .await?
    else {
        // Another poll collected the session first, or the code expired meanwhile.
        let status = find_live(ctx, code, ctx.now()).await?.status_at(ctx.now());
        return Ok(QrStatusView::Status {
            status,
            scanned_by: None,
        });
    };
    let approver = consumed
        .scanned_by
        .ok_or_else(|| Error::internal("a confirmed QR login has no approver"))?;
    let account = ctx
        .store
        .find_user_sessions(approver)
        .await?
        .filter(|account| account.user.is_active)
        .ok_or_else(|| {
            Error::forbidden(
                "account_inactive",
                "the account that approved this login is no longer active",
            )
        })?;
    let tokens = auth::start_session(ctx, account, browser, CreatedVia::Qr).await?;
    tracing::info!(user_id = %approver, session_id = %tokens.session_id, "QR login collected");
    Ok(QrStatusView::Collected {
        status: QrStatus::Confirmed,
        tokens: Box::new(tokens),
    })
}

/// Marks a pending request as scanned by the caller and returns the browser's context with a
/// [`Proximity`] hint comparing it with the phone's request. Scanning again by the same user is
/// allowed; scanned by someone else → 409 `qr_already_scanned`; decided → 409
/// `qr_already_decided`; expired → 410 `qr_expired`; unknown → 404.
pub async fn scan(
    ctx: &Context,
    who: &Principal,
    code: &QrCode,
    phone: &ClientInfo,
) -> Result<QrBrowserView> {
    let user = who.user.id;
    rate_limit::hit(ctx, PHONE_PER_USER, &user.to_string()).await?;
    let Some(login) = ctx
        .store
        .advance_qr_login(
            &code.hash,
            &QrStep::Scan(user, phone.device.clone()),
            ctx.now(),
        )
        .await?
    else {
        let now = ctx.now();
        return Err(match find_live(ctx, code, now).await?.status_at(now) {
            QrStatus::Expired => expired(),
            QrStatus::Pending | QrStatus::Scanned => Error::conflict(
                "qr_already_scanned",
                "this QR code was scanned by another account",
            ),
            QrStatus::Confirmed | QrStatus::Rejected | QrStatus::Consumed => already_decided(),
        });
    };
    tracing::info!(user_id = %user, "QR login scanned");
    let event = Event::new(EventType::QrScanned)
        .about(user)
        .detail("qr", audit_id(&code.hash))
        .detail("browser_ip", login.ip.clone());
    audit::record(ctx, event).await;
    Ok(QrBrowserView {
        proximity: proximity(&login, phone),
        ip: login.ip,
        browser: login.device.browser,
        os: login.device.os,
        device_type: login.device.device_type,
        device_name: login.device.device_name,
        location: login.location,
        created_at: login.created_at.into(),
        expires_at: login.code_expires_at.into(),
    })
}

/// Approves a request the caller scanned; the browser's next poll collects the session.
/// See [`decide`] for the refusals.
pub async fn confirm(ctx: &Context, who: &Principal, code: &QrCode) -> Result<()> {
    decide(ctx, who.user.id, code, QrStep::Confirm(who.user.id)).await
}

/// Refuses a request the caller scanned; the browser's polls then answer `rejected`.
/// See [`decide`] for the refusals.
pub async fn reject(ctx: &Context, who: &Principal, code: &QrCode) -> Result<()> {
    decide(ctx, who.user.id, code, QrStep::Reject(who.user.id)).await
}

/// Applies a confirmation or rejection with one conditional write. Refusals: not scanned by
/// this user (pending, or scanned by another account) → 409 `qr_not_scanned`; already
/// confirmed or rejected (so of two racing decisions one wins) → 409 `qr_already_decided`;
/// expired → 410 `qr_expired`; unknown → 404.
async fn decide(ctx: &Context, user: UserId, code: &QrCode, step: QrStep) -> Result<()> {
    rate_limit::hit(ctx, PHONE_PER_USER, &user.to_string()).await?;
    if ctx
        .store
        .advance_qr_login(&code.hash, &step, ctx.now())
        .await?
        .is_some()
    {
        tracing::info!(user_id = %user, ?step, "QR login decided");
        let kind = match step {
            QrStep::Reject(_) => EventType::QrRejected,
            _ => EventType::QrConfirmed,
        };
        let event = Event::new(kind)
            .about(user)
            .detail("qr", audit_id(&code.hash));
        audit::record(ctx, event).await;
        return Ok(());
    }
    let now = ctx.now();
    Err(match find_live(ctx, code, now).await?.status_at(now) {
        QrStatus::Expired => expired(),
        QrStatus::Pending | QrStatus::Scanned => Error::conflict(
            "qr_not_scanned",
            "scan this QR code with this account before deciding",
        ),
        QrStatus::Confirmed | QrStatus::Rejected | QrStatus::Consumed => already_decided(),
    })
}

/// How the audit trail names a QR login: the start of its code's hash (never the code), the
/// same in every event of one login.
fn audit_id(code_hash: &str) -> String {
    code_hash.chars().take(16).collect()
}

/// Compares where the browser and the phone called from: the same IP, else the same or a
/// different country when both are known, else unknown.
fn proximity(browser: &QrLogin, phone: &ClientInfo) -> Proximity {
    if browser.ip.is_some() && browser.ip == phone.ip {
        return Proximity::SameIp;
    }
    match (&browser.location.country, &phone.location.country) {
        (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => Proximity::SameCountry,
        (Some(_), Some(_)) => Proximity::DifferentCountry,
        _ => Proximity::Unknown,
    }
}
