//! Two-factor sign-in routes under `/v1/auth/mfa` and the login's second step,
//! `/v1/auth/login/mfa`. Handlers only validate; the work is in [`shared::mfa`].

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::SecretString;
use serde::Deserialize;
use shared::client::ClientInfo;
use shared::context::SigningContext;
use shared::error::ErrorBody;
use shared::http::{Authenticated, Json};
use shared::mfa::{self, Enrolment, Factor, Proof, RecoveryCodes, Transport};
use shared::passkeys::ceremony::{Assertion, Challenge, PublicKeyCredential};
use shared::routes;
use shared::{Context, Error, Result};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::{SignedIn, check_transport, signed_in};

/// The two-factor routes of a signed-in user.
pub fn routes() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(mfa_enrol, mfa_disable))
        .routes(routes!(mfa_confirm))
        .routes(routes!(mfa_regenerate_recovery_codes))
}

/// The login's second step, which issues tokens, and the passkey challenge it may answer.
pub fn signing_routes() -> OpenApiRouter<SigningContext> {
    OpenApiRouter::new()
        .routes(routes!(login_mfa))
        .routes(routes!(login_mfa_passkey))
}

/// A TOTP code: six digits.
fn totp_code(field: &str, code: &str) -> Result<SecretString> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_field(field, "must be 6 digits"));
    }
    Ok(SecretString::from(code))
}

/// A recovery code as handed out (`xxxxx-xxxxx`; case, spaces and dashes do not matter).
fn recovery_code(code: &str) -> Result<SecretString> {
    let letters = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .count();
    if letters != 10 || code.len() > 32 {
        return Err(Error::invalid_field(
            "recovery_code",
            "must be a recovery code (10 letters and digits)",
        ));
    }
    Ok(SecretString::from(code))
}

/// Exactly one of a TOTP code and a recovery code.
fn factor(code: Option<&str>, recovery: Option<&str>) -> Result<Factor> {
    match (code, recovery) {
        (Some(code), None) => Ok(Factor::Totp(totp_code("code", code)?)),
        (None, Some(recovery)) => Ok(Factor::RecoveryCode(recovery_code(recovery)?)),
        _ => Err(Error::invalid_field(
            "code",
            "give either code or recovery_code",
        )),
    }
}

/// A passkey's answer to the challenge of `POST /v1/auth/login/mfa/passkey`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAnswer {
    #[schema(min_length = 1, max_length = 128)]
    challenge_id: String,
    /// The `PublicKeyCredential` `navigator.credentials.get` returned, as its `toJSON()`.
    #[schema(value_type = Object)]
    credential: PublicKeyCredential,
}

/// The second step's body. Holds secrets, so it has no `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginMfaRequest {
    /// The login's `mfa_token`.
    #[schema(min_length = 1, max_length = 128)]
    mfa_token: String,
    /// A TOTP code from the authenticator app (or give `recovery_code`).
    #[schema(value_type = Option<String>, pattern = "^[0-9]{6}$")]
    code: Option<String>,
    /// One of the recovery codes (or give `code`).
    #[schema(value_type = Option<String>, min_length = 10, max_length = 32)]
    recovery_code: Option<String>,
    /// A passkey's answer (or give `code` or `recovery_code`), when `methods` offered `passkey`.
    passkey: Option<PasskeyAnswer>,
    /// The login's transport; when given it must be the one the login asked for.
    #[serde(default)]
    transport: Option<Transport>,
}

/// Complete a login on an account with two-factor sign-in: the `mfa_token` of its right
/// password and a TOTP code (each accepted once) or a recovery code (each works once). The
/// session is the one the password login would have opened, handed over by the login's
/// transport. Wrong codes count toward the account's lock like wrong passwords, and a locked
/// account's code is refused like a wrong one.
#[utoipa::path(post, path = "/v1/auth/login/mfa", tag = "auth", request_body = LoginMfaRequest,
    responses((status = 200, body = SignedIn, headers(("set-cookie" = String, description = "`cookie` transport: the session's cookies, as the login sets them"))),
        (status = 400, body = ErrorBody),
        (status = 401, description = "invalid_mfa_token (unknown, expired, used, another client's), invalid_code (wrong, replayed, or the account is locked)", body = ErrorBody),
        (status = 403, description = "cross_site_request: a `cookie` sign-in from another site", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn login_mfa(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    headers: HeaderMap,
    Json(body): Json<LoginMfaRequest>,
) -> Result<Response> {
    if body.mfa_token.is_empty() || body.mfa_token.len() > 128 {
        return Err(Error::invalid_field("mfa_token", "must be given"));
    }
    let factor = match body.passkey {
        Some(answer) if body.code.is_none() && body.recovery_code.is_none() => {
            Factor::Passkey(Box::new(Assertion {
                challenge_id: answer.challenge_id,
                credential: answer.credential,
            }))
        }
        Some(_) => {
            return Err(Error::invalid_field(
                "passkey",
                "give one of code, recovery_code and passkey",
            ));
        }
        None => factor(body.code.as_deref(), body.recovery_code.as_deref())?,
    };
    if let Some(transport) = body.transport {
        check_transport(&ctx.config, transport, &headers)?;
    }
    let (pair, transport) =
        mfa::complete(&ctx, &body.mfa_token, factor, body.transport, &client).await?;
    if body.transport.is_none() {
        check_transport(&ctx.config, transport, &headers)?;
    }
    signed_in(&ctx.config, StatusCode::OK, transport, pair)
}

/// A login's `mfa_token`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaTokenRequest {
    #[schema(min_length = 1, max_length = 128)]
    mfa_token: String,
}

/// Start a login's second step with a passkey (when its `methods` offered `passkey`): pass
/// `options.publicKey` to `navigator.credentials.get` and send the answer to
/// `POST /v1/auth/login/mfa` as `passkey` within five minutes.
#[utoipa::path(post, path = "/v1/auth/login/mfa/passkey", tag = "auth", request_body = MfaTokenRequest,
    responses((status = 200, body = Challenge), (status = 400, body = ErrorBody),
        (status = 401, description = "invalid_mfa_token", body = ErrorBody),
        (status = 409, description = "no_passkeys: the account has none", body = ErrorBody)))]
async fn login_mfa_passkey(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    Json(body): Json<MfaTokenRequest>,
) -> Result<Response> {
    if body.mfa_token.is_empty() || body.mfa_token.len() > 128 {
        return Err(Error::invalid_field("mfa_token", "must be given"));
    }
    let challenge = mfa::begin_passkey(&ctx, &body.mfa_token, &client).await?;
    Ok(no_store(axum::Json(challenge)))
}

/// Start (or restart) enrolling a TOTP authenticator: the secret, its `otpauth://` URI and the
/// URI as a QR code. Two-factor sign-in is on only once `POST /v1/auth/mfa/totp/confirm` took a
/// first code.
#[utoipa::path(post, path = "/v1/auth/mfa/totp", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Enrolment), (status = 401, body = ErrorBody),
        (status = 409, description = "mfa_already_enabled", body = ErrorBody)))]
async fn mfa_enrol(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
) -> Result<Response> {
    let enrolment = mfa::begin(&ctx, &who).await?;
    Ok(no_store(axum::Json(enrolment)))
}

/// A response never cached: it shows a secret.
fn no_store(body: impl axum::response::IntoResponse) -> Response {
    use axum::response::IntoResponse;
    ([(axum::http::header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// A TOTP code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A code from the authenticator app.
    #[schema(value_type = String, pattern = "^[0-9]{6}$")]
    code: String,
}

/// Turn two-factor sign-in on with a first code of the enrolled secret; returns the ten
/// recovery codes, shown only this once. A wrong code leaves it off.
#[utoipa::path(post, path = "/v1/auth/mfa/totp/confirm", tag = "auth", security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 400, description = "invalid_code", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, description = "mfa_not_pending", body = ErrorBody)))]
async fn mfa_confirm(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Json(body): Json<CodeRequest>,
) -> Result<Response> {
    let code = totp_code("code", &body.code)?;
    let codes = mfa::confirm(&ctx, &who, secrecy::ExposeSecret::expose_secret(&code)).await?;
    Ok(no_store(axum::Json(codes)))
}

/// Replace the recovery codes (the old ones stop working), after a TOTP code.
#[utoipa::path(post, path = "/v1/auth/mfa/recovery-codes", tag = "auth", security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "invalid_code (wrong, replayed, or the account is locked)", body = ErrorBody),
        (status = 409, description = "mfa_not_enabled", body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn mfa_regenerate_recovery_codes(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Json(body): Json<CodeRequest>,
) -> Result<Response> {
    let code = totp_code("code", &body.code)?;
    let codes =
        mfa::regenerate_recovery_codes(&ctx, &who, secrecy::ExposeSecret::expose_secret(&code))
            .await?;
    Ok(no_store(axum::Json(codes)))
}

/// What proves the caller may turn two-factor sign-in off: one of a TOTP code, a recovery code
/// and the password. Holds secrets, so it has no `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    #[schema(value_type = Option<String>, pattern = "^[0-9]{6}$")]
    code: Option<String>,
    #[schema(value_type = Option<String>, min_length = 10, max_length = 32)]
    recovery_code: Option<String>,
    #[schema(value_type = Option<String>, min_length = 1, max_length = 1024)]
    password: Option<SecretString>,
}

/// Turn two-factor sign-in off (or drop an unconfirmed enrolment), proven by a code or the
/// password; both are checked under the login's brute-force rules.
#[utoipa::path(delete, path = "/v1/auth/mfa/totp", tag = "auth", security(("bearer" = [])), request_body = DisableRequest,
    responses((status = 204, description = "two-factor sign-in is off"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "invalid_code, invalid_current_password (wrong, or the account is locked)", body = ErrorBody),
        (status = 409, description = "mfa_not_enabled", body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn mfa_disable(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Json(body): Json<DisableRequest>,
) -> Result<StatusCode> {
    let proof = match body.password {
        Some(password) if body.code.is_none() && body.recovery_code.is_none() => {
            let length = secrecy::ExposeSecret::expose_secret(&password).len();
            if length == 0 || length > 1024 {
                return Err(Error::invalid_field("password", "must be given"));
            }
            Proof::Password(password)
        }
        Some(_) => {
            return Err(Error::invalid_field(
                "password",
                "give one of code, recovery_code and password",
            ));
        }
        None => Proof::Code(factor(body.code.as_deref(), body.recovery_code.as_deref())?),
    };
    mfa::disable(&ctx, &who, proof).await?;
    Ok(StatusCode::NO_CONTENT)
}
