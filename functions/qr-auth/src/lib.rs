//! The `qr-auth` route group: signing a browser in by scanning a QR code with a phone that is
//! already signed in (Telegram-Web style), without the naive design's hole.
//!
//! The browser generates a code and a secret poll token, shows the code as a QR image and polls
//! the status with its token; the phone scans (and sees the browser's context), then confirms
//! or rejects; the browser's first poll after confirmation creates its session. Handlers only
//! parse; the protocol is in [`shared::qr_auth`].

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use shared::client::ClientInfo;
use shared::context::SigningContext;
use shared::error::ErrorBody;
use shared::http::{Authenticated, Json};
use shared::qr_auth::{self, QrBrowserView, QrCode, QrGenerated, QrStatusView};
use shared::routes;
use shared::{Context, Error, Result};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

/// The header that carries the browser's poll token.
pub const POLL_TOKEN_HEADER: &str = "x-qr-poll-token";

/// The servable router of this group. Its status poll issues tokens, so it needs the signing
/// key.
pub fn router(ctx: SigningContext) -> axum::Router {
    shared::http::finish_signing(routes(), signing_routes(), ctx)
}

/// This group's routes that only verify tokens, with their OpenAPI description.
pub fn routes() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(generate))
        .routes(routes!(scan))
        .routes(routes!(confirm))
        .routes(routes!(reject))
}

/// This group's route that issues tokens: the status poll that collects a confirmed login.
pub fn signing_routes() -> OpenApiRouter<SigningContext> {
    OpenApiRouter::new().routes(routes!(status))
}

/// Responses that carry secrets must not be cached (RFC 6749 §5.1).
fn no_store<T: serde::Serialize>(status: StatusCode, body: T) -> impl IntoResponse {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
}

/// Start a QR login: a one-time code for the QR image and the browser's secret poll token.
#[utoipa::path(post, path = "/v1/qr-auth/generate", tag = "qr-auth",
    responses((status = 201, body = QrGenerated), (status = 429, description = "rate_limited", body = ErrorBody)))]
async fn generate(State(ctx): State<Context>, browser: ClientInfo) -> Result<impl IntoResponse> {
    Ok(no_store(
        StatusCode::CREATED,
        qr_auth::generate(&ctx, &browser).await?,
    ))
}

/// The browser's poll. Only the first poll after confirmation returns the token pair.
#[utoipa::path(get, path = "/v1/qr-auth/status/{code}", tag = "qr-auth",
    params(("code" = String, Path, description = "the code from generate"),
        ("x-qr-poll-token" = String, Header, description = "the poll token from generate")),
    responses((status = 200, body = QrStatusView),
        (status = 403, description = "account_inactive: the approving account was deactivated", body = ErrorBody),
        (status = 404, description = "unknown code, or missing or wrong poll token", body = ErrorBody),
        (status = 429, description = "polled faster than once a second", body = ErrorBody)))]
async fn status(
    State(ctx): State<SigningContext>,
    browser: ClientInfo,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<impl IntoResponse> {
    let code = QrCode::parse(&code).map_err(|_| Error::not_found("QR login request"))?;
    let poll_token = headers
        .get(POLL_TOKEN_HEADER)
        .and_then(|value| value.to_str().ok());
    Ok(no_store(
        StatusCode::OK,
        qr_auth::status(&ctx, &code, poll_token, &browser).await?,
    ))
}

/// A scanned code. The code is a secret-like value: this type has no `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The code of the QR login: 43 base64url characters (32 random bytes).
    #[schema(pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    code: String,
}

/// Scan a code with a signed-in phone: returns the browser's context to show before deciding.
#[utoipa::path(post, path = "/v1/qr-auth/scan", tag = "qr-auth", security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 200, body = QrBrowserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "qr_already_scanned, qr_already_decided", body = ErrorBody),
        (status = 410, description = "qr_expired", body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn scan(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    phone: ClientInfo,
    Json(body): Json<CodeRequest>,
) -> Result<axum::Json<QrBrowserView>> {
    let code = QrCode::parse(&body.code)?;
    Ok(axum::Json(qr_auth::scan(&ctx, &who, &code, &phone).await?))
}

/// Approve the login of a browser whose code this account scanned.
#[utoipa::path(post, path = "/v1/qr-auth/confirm", tag = "qr-auth", security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "qr_not_scanned, qr_already_decided", body = ErrorBody),
        (status = 410, description = "qr_expired", body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn confirm(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Json(body): Json<CodeRequest>,
) -> Result<StatusCode> {
    qr_auth::confirm(&ctx, &who, &QrCode::parse(&body.code)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refuse the login of a browser whose code this account scanned.
#[utoipa::path(post, path = "/v1/qr-auth/reject", tag = "qr-auth", security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "qr_not_scanned, qr_already_decided", body = ErrorBody),
        (status = 410, description = "qr_expired", body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn reject(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Json(body): Json<CodeRequest>,
) -> Result<StatusCode> {
    qr_auth::reject(&ctx, &who, &QrCode::parse(&body.code)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
