//! The `auth` route group: registration, login, token refresh and revocation, the caller's
//! profile and password, e-mail verification, password reset and e-mail change, the JWKS and the OpenAPI document, plus user administration
//! ([`users`]) and RBAC administration ([`rbac`]).
//!
//! The OpenAPI document describes every group, so it is built where they are all linked
//! (`local_server::openapi`) and checked in as `openapi.json`; this group serves that file
//! as is and links no other group.
//!
//! [`router`] is the whole group, served by this crate's Lambda binary, by the local
//! all-in-one server and in-process by the tests. Handlers only parse and validate; the work is
//! in [`shared::auth`].

mod audit;
mod mfa;
mod passkeys;
mod rbac;
mod users;

use axum::extract::FromRequest;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use shared::audit::EndedBy;
use shared::auth::{self, NewAccount, ProfileChanges};
use shared::client::ClientInfo;
use shared::config::Config;
use shared::context::SigningContext;
use shared::domain::{Email, SessionId, parse_name};
use shared::email;
use shared::error::ErrorBody;
use shared::http::cookies::{self, Cookie};
use shared::http::{Authenticated, Json, bearer_token};
use shared::routes;
use shared::tokens::RefreshToken;
use shared::views::{CookieSessionView, TokenResponse, UserView};
use shared::{Context, Error, Result};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

/// The servable router of this group. It issues tokens, so it needs the signing key.
pub fn router(ctx: SigningContext) -> axum::Router {
    shared::http::finish_signing(routes(), signing_routes(), ctx)
}

/// This group's routes that only verify tokens, with their OpenAPI description, for merging
/// into a larger router.
pub fn routes() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(logout))
        .routes(routes!(revoke))
        .routes(routes!(revoke_all))
        .routes(routes!(me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(change_email))
        .routes(routes!(jwks))
        .routes(routes!(openapi_json))
        .merge(mfa::routes())
        .merge(passkeys::routes())
        .merge(users::routes())
        .merge(audit::routes())
        .merge(rbac::routes())
}

/// This group's routes that issue tokens (register, login, refresh).
pub fn signing_routes() -> OpenApiRouter<SigningContext> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .merge(mfa::signing_routes())
        .merge(passkeys::signing_routes())
}

/// How a sign-in (registration, login, refresh) hands over its new token pair.
pub use shared::mfa::Transport;

/// A new token pair, handed over as the sign-in's `transport` asked.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SignedIn {
    /// The `bearer` transport: the tokens themselves.
    Bearer(TokenResponse),
    /// The `cookie` transport: the tokens went into `Set-Cookie` headers.
    Cookie(CookieSessionView),
}

/// The answer that hands `pair` over by `transport`; never cached (RFC 6749 §5.1).
pub(crate) fn signed_in(
    config: &Config,
    status: StatusCode,
    transport: Transport,
    pair: TokenResponse,
) -> Result<Response> {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    Ok(match transport {
        Transport::Bearer => (status, no_store, axum::Json(SignedIn::Bearer(pair))).into_response(),
        Transport::Cookie => {
            let csrf = cookies::csrf_token(config, &pair.session_id.parse::<SessionId>()?);
            let set_cookies = cookies::sign_in(config, &pair);
            let body = SignedIn::Cookie(CookieSessionView::new(pair, csrf));
            (status, set_cookies, no_store, axum::Json(body)).into_response()
        }
    })
}

/// Refuses a `cookie` sign-in a browser sent on behalf of another site (login CSRF: it would
/// sign the browser into the other site's account), 403 `cross_site_request`.
pub(crate) fn check_transport(
    config: &Config,
    transport: Transport,
    headers: &HeaderMap,
) -> Result<()> {
    match transport {
        Transport::Bearer => Ok(()),
        Transport::Cookie => cookies::check_origin(config, headers),
    }
}

/// The `Set-Cookie` headers that end the browser session when the request was authenticated
/// by its access cookie (no `Bearer` token); none for a `Bearer` client, whose sign-out leaves
/// whatever session a browser holds in cookies alone.
fn sign_out_cookies(config: &Config, headers: &HeaderMap) -> HeaderMap {
    match bearer_token(headers) {
        Some(_) => HeaderMap::new(),
        None => cookies::sign_out(config),
    }
}

/// Registration body. Passwords never appear in logs: this type has no `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(format = Email)]
    email: String,
    #[schema(value_type = String, min_length = 8, max_length = 128)]
    password: SecretString,
    #[schema(value_type = String, min_length = 8, max_length = 128)]
    password2: SecretString,
    #[schema(min_length = 1, max_length = 100)]
    first_name: String,
    #[schema(min_length = 1, max_length = 100)]
    last_name: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    middle_name: Option<String>,
    /// How the new token pair is handed over: `bearer` (the default) or `cookie`.
    #[serde(default)]
    transport: Transport,
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = SignedIn, headers(("set-cookie" = String, description = "`cookie` transport: the access (`HttpOnly`, `SameSite=Lax`), refresh (`HttpOnly`, `SameSite=Strict`, `Path=/v1/auth/refresh`) and CSRF (`SameSite=Lax`) cookies, `Secure` and prefixed `__Host-`/`__Secure-` but on a local server over plain http"))),
        (status = 400, body = ErrorBody),
        (status = 403, description = "cross_site_request: a `cookie` registration from another site", body = ErrorBody),
        (status = 409, description = "email_taken", body = ErrorBody),
        (status = 429, description = "rate_limited: too many registrations from this IP", body = ErrorBody)))]
async fn register(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    headers: HeaderMap,
    Json(body): Json<RegisterRequest>,
) -> Result<Response> {
    check_transport(&ctx.config, body.transport, &headers)?;
    let email = Email::parse(&body.email)?;
    let account = NewAccount {
        email,
        password: body.password,
        password2: body.password2,
        first_name: parse_name("first_name", &body.first_name)?,
        last_name: parse_name("last_name", &body.last_name)?,
        middle_name: optional_name("middle_name", body.middle_name.as_deref())?,
    };
    let pair = auth::register(&ctx, account, &client).await?;
    signed_in(&ctx.config, StatusCode::CREATED, body.transport, pair)
}

pub(crate) fn optional_name(field: &str, raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(name) => parse_name(field, name).map(Some),
    }
}

/// Login body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(format = Email)]
    email: String,
    #[schema(value_type = String, min_length = 1, max_length = 1024)]
    password: SecretString,
    /// How the new token pair is handed over: `bearer` (the default) or `cookie`.
    #[serde(default)]
    transport: Transport,
}

/// Sign in with e-mail and password. With `"transport": "cookie"` (a browser), the tokens go
/// into `HttpOnly` cookies and the body holds only the session's CSRF token; such a sign-in is
/// refused from another site. On an account with two-factor sign-in a right password opens no
/// session: the answer is `{mfa_required: true, mfa_token, methods}`, for
/// `POST /v1/auth/login/mfa`.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse, headers(("set-cookie" = String, description = "`cookie` transport: the access (`HttpOnly`, `SameSite=Lax`), refresh (`HttpOnly`, `SameSite=Strict`, `Path=/v1/auth/refresh`) and CSRF (`SameSite=Lax`) cookies, `Secure` and prefixed `__Host-`/`__Secure-` but on a local server over plain http"))),
        (status = 400, body = ErrorBody),
        (status = 401, description = "invalid_credentials", body = ErrorBody),
        (status = 403, description = "cross_site_request: a `cookie` sign-in from another site; email_not_verified: the password was right but the address is not verified and `SESAME_REQUIRE_VERIFIED_EMAIL` is on", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn login(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Response> {
    check_transport(&ctx.config, body.transport, &headers)?;
    let email = Email::parse(&body.email)?;
    let password = body.password.expose_secret();
    if password.is_empty() || password.len() > 1024 {
        return Err(Error::invalid_field("password", "must be given"));
    }
    match auth::login(&ctx, &email, password, &client, body.transport).await? {
        auth::LoginResult::Session(pair) => {
            signed_in(&ctx.config, StatusCode::OK, body.transport, pair)
        }
        auth::LoginResult::MfaRequired(challenge) => Ok((
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(challenge),
        )
            .into_response()),
    }
}

/// The answer to a right password: the session, or (on an account with two-factor sign-in)
/// the second step it still needs.
// The document's description of the two answers; the handler serializes each directly.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    /// Signed in: the token pair, handed over by the `transport` asked for.
    SignedIn(SignedIn),
    /// No session yet: complete the login with `POST /v1/auth/login/mfa`.
    MfaRequired(shared::mfa::MfaChallenge),
}

/// A refresh token in a body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// Exchange a refresh token for a new pair (the old one is rotated out). Parallel refreshes of
/// one token, and a retry within the grace, all get the same new refresh token; a token rotated
/// out earlier, or whose successor was rotated too, revokes the session. The token is the
/// body's or, for a request without a body, the browser session's refresh cookie: then the
/// new pair goes into the cookies and the answer is a `CookieSessionView`, and the request must
/// come from this site with the session's CSRF token (`x-csrf-token`, 403 otherwise).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshRequest>,
        description = "The refresh token (`bearer` transport); absent for the `cookie` transport, \
            which sends the refresh cookie and `x-csrf-token` instead"),
    responses((status = 200, body = SignedIn, headers(("set-cookie" = String, description = "`cookie` transport: the access (`HttpOnly`, `SameSite=Lax`), refresh (`HttpOnly`, `SameSite=Strict`, `Path=/v1/auth/refresh`) and CSRF (`SameSite=Lax`) cookies, `Secure` and prefixed `__Host-`/`__Secure-` but on a local server over plain http"))),
        (status = 401, body = ErrorBody),
        (status = 403, description = "cross_site_request, csrf_token_invalid (`cookie` transport)", body = ErrorBody)))]
async fn refresh(
    State(ctx): State<SigningContext>,
    request: axum::extract::Request,
) -> Result<Response> {
    let headers = request.headers();
    let from_cookie = (!headers.contains_key(header::CONTENT_TYPE))
        .then(|| Cookie::Refresh.read(&ctx.config, headers))
        .flatten();
    if let Some(raw) = from_cookie {
        let session = RefreshToken::parse(&raw)?.session_id;
        let presented = headers
            .get(cookies::CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        cookies::check_csrf(&ctx.config, headers, &session, presented)?;
        let pair = auth::refresh(&ctx, &raw).await?;
        return signed_in(&ctx.config, StatusCode::OK, Transport::Cookie, pair);
    }
    let Json(body) = Json::<RefreshRequest>::from_request(request, &ctx).await?;
    let pair = auth::refresh(&ctx, &body.refresh_token).await?;
    signed_in(&ctx.config, StatusCode::OK, Transport::Bearer, pair)
}

/// End the current session. Signed in by cookie, the browser's session cookies are cleared.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, headers(("set-cookie" = String, description = "authenticated by the access cookie: the session's cookies cleared (`Max-Age=0`)"))),
        (status = 401, body = ErrorBody)))]
async fn logout(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    headers: HeaderMap,
) -> Result<impl IntoResponse> {
    auth::logout(&ctx, &who).await?;
    Ok((
        StatusCode::NO_CONTENT,
        sign_out_cookies(&ctx.config, &headers),
    ))
}

/// End the session a refresh token belongs to. An unknown token is not an error (RFC 7009).
#[utoipa::path(post, path = "/v1/auth/revoke", tag = "auth", request_body = RefreshRequest,
    responses((status = 204), (status = 400, body = ErrorBody)))]
async fn revoke(
    State(ctx): State<Context>,
    Json(body): Json<RefreshRequest>,
) -> Result<StatusCode> {
    auth::revoke(&ctx, &body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of the caller, this one included. Signed in by cookie, the browser's
/// session cookies are cleared.
#[utoipa::path(post, path = "/v1/auth/revoke-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, headers(("set-cookie" = String, description = "authenticated by the access cookie: the session's cookies cleared (`Max-Age=0`)"))),
        (status = 401, body = ErrorBody)))]
async fn revoke_all(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    headers: HeaderMap,
) -> Result<impl IntoResponse> {
    auth::end_all_sessions(&ctx, who.user.id, None, EndedBy::User).await?;
    Ok((
        StatusCode::NO_CONTENT,
        sign_out_cookies(&ctx.config, &headers),
    ))
}

/// The caller's profile.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
async fn me(Authenticated(who): Authenticated) -> axum::Json<UserView> {
    axum::Json(UserView::from(&who.user))
}

/// Profile changes; absent fields stay as they are, an empty `middle_name` removes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateMeRequest {
    #[schema(min_length = 1, max_length = 100)]
    first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    last_name: Option<String>,
    #[schema(max_length = 100)]
    middle_name: Option<String>,
}

/// Change the caller's names.
#[utoipa::path(patch, path = "/v1/auth/me", tag = "auth", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn update_me(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Json(body): Json<UpdateMeRequest>,
) -> Result<axum::Json<UserView>> {
    if body.first_name.is_none() && body.last_name.is_none() && body.middle_name.is_none() {
        return Err(Error::bad_request(
            "validation_failed",
            "give at least one field to change",
        ));
    }
    let changes = ProfileChanges {
        first_name: body
            .first_name
            .as_deref()
            .map(|n| parse_name("first_name", n))
            .transpose()?,
        last_name: body
            .last_name
            .as_deref()
            .map(|n| parse_name("last_name", n))
            .transpose()?,
        middle_name: body
            .middle_name
            .as_deref()
            .map(|n| optional_name("middle_name", Some(n)))
            .transpose()?,
    };
    Ok(axum::Json(auth::update_profile(&ctx, &who, changes).await?))
}

/// Password change body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String)]
    current_password: SecretString,
    #[schema(value_type = String, min_length = 8, max_length = 128)]
    new_password: SecretString,
}

/// Change the password; every other session of the caller ends. Wrong current passwords count
/// toward the account lock and go to the login history.
#[utoipa::path(post, path = "/v1/auth/password", tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "invalid_current_password (also while the account is locked)", body = ErrorBody),
        (status = 429, description = "rate_limited: too many password changes for this user", body = ErrorBody)))]
async fn change_password(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    client: ClientInfo,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<StatusCode> {
    auth::change_password(
        &ctx,
        &who,
        body.current_password.expose_secret(),
        body.new_password.expose_secret(),
        &client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A token from an e-mailed link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The `token` parameter of the link.
    #[schema(value_type = String, min_length = 1, max_length = 256)]
    token: SecretString,
}

/// The token of a request: 400 `validation_failed` when empty or oversized (any other wrong
/// token is `invalid_token`).
fn token_of(field: &str, token: &SecretString) -> Result<String> {
    let raw = token.expose_secret().trim();
    if raw.is_empty() || raw.len() > 256 {
        return Err(Error::invalid_field(field, "must be 1 to 256 characters"));
    }
    Ok(raw.to_owned())
}

/// Verify an e-mail address with the token of a verification link, or of an e-mail change link
/// (the account then moves to the new address, and the old one gets a notice). The address is
/// verified at once; the answer has no body (the link may be opened on another device than the
/// signed-in one). Tokens work once: unknown, used, expired or other tokens are refused alike.
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth", request_body = TokenRequest,
    responses((status = 204, description = "verified (and, for an e-mail change, moved)"),
        (status = 400, description = "validation_failed; invalid_token: unknown, used, expired or of another purpose", body = ErrorBody),
        (status = 409, description = "email_taken: the new address of an e-mail change was claimed since the link was sent", body = ErrorBody)))]
async fn verify_email(
    State(ctx): State<Context>,
    Json(body): Json<TokenRequest>,
) -> Result<StatusCode> {
    email::verify(&ctx, &token_of("token", &body.token)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mail the caller a new verification link.
#[utoipa::path(post, path = "/v1/auth/verify-email/resend", tag = "auth", security(("bearer" = [])),
    responses((status = 202, description = "a new link is on its way"),
        (status = 401, body = ErrorBody),
        (status = 409, description = "email_already_verified", body = ErrorBody),
        (status = 429, description = "rate_limited: too many verification mails for this user", body = ErrorBody)))]
async fn resend_verification(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
) -> Result<StatusCode> {
    email::resend_verification(&ctx, &who).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Password-reset request body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[schema(format = Email)]
    email: String,
}

/// Ask for a password-reset link. The answer is the same whether or not an account has the
/// address; only an existing, active account is mailed a link (single use, 15 minutes).
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth", request_body = PasswordResetRequest,
    responses((status = 202, description = "if an account has this address, a link is on its way"),
        (status = 400, body = ErrorBody),
        (status = 429, description = "rate_limited: too many requests from this IP or for this address", body = ErrorBody)))]
async fn request_password_reset(
    State(ctx): State<Context>,
    client: ClientInfo,
    Json(body): Json<PasswordResetRequest>,
) -> Result<StatusCode> {
    let email = Email::parse(&body.email)?;
    email::request_password_reset(&ctx, &email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Password-reset confirmation body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirmRequest {
    /// The `token` parameter of the reset link.
    #[schema(value_type = String, min_length = 1, max_length = 256)]
    token: SecretString,
    #[schema(value_type = String, min_length = 8, max_length = 128)]
    new_password: SecretString,
}

/// Set a new password with the token of a reset link. Every session of the account ends and
/// its lock is cleared.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth", request_body = PasswordResetConfirmRequest,
    responses((status = 204, description = "the password is changed; every session ended"),
        (status = 400, description = "validation_failed (also a password the policy refuses); invalid_token: unknown, used, expired or of another purpose", body = ErrorBody)))]
async fn confirm_password_reset(
    State(ctx): State<Context>,
    Json(body): Json<PasswordResetConfirmRequest>,
) -> Result<StatusCode> {
    let token = token_of("token", &body.token)?;
    email::reset_password(&ctx, &token, body.new_password.expose_secret()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// E-mail change body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmailRequest {
    #[schema(format = Email)]
    new_email: String,
    #[schema(value_type = String)]
    current_password: SecretString,
}

/// Ask to move the account to another address: a confirmation link goes to the new address,
/// and the account moves when it is used (`POST /v1/auth/verify-email`). Wrong current
/// passwords count toward the account lock and go to the login history.
#[utoipa::path(post, path = "/v1/auth/me/email", tag = "auth", security(("bearer" = [])), request_body = ChangeEmailRequest,
    responses((status = 202, description = "a confirmation link is on its way to the new address"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "invalid_current_password (also while the account is locked)", body = ErrorBody),
        (status = 409, description = "email_taken", body = ErrorBody),
        (status = 429, description = "rate_limited: too many e-mail changes for this user", body = ErrorBody)))]
async fn change_email(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    client: ClientInfo,
    Json(body): Json<ChangeEmailRequest>,
) -> Result<StatusCode> {
    let new_email = Email::parse(&body.new_email)
        .map_err(|_| Error::invalid_field("new_email", "must be a valid e-mail address"))?;
    email::request_email_change(
        &ctx,
        &who,
        &new_email,
        body.current_password.expose_secret(),
        &client,
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}

/// The public keys that verify access tokens (RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JWK Set", content_type = "application/json")))]
async fn jwks(State(ctx): State<Context>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(ctx.verifier.jwks().clone()),
    )
}

/// The OpenAPI document of every route group, generated by `make openapi`.
const DOCUMENT_JSON: &str = include_str!("../../../openapi.json");

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT_JSON)
}
