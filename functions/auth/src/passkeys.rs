//! Passkey routes under `/v1/auth/passkeys`: register, list, rename and delete a signed-in
//! user's passkeys, and sign in with one alone. Handlers only validate; the work is in
//! [`shared::passkeys`].

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::client::ClientInfo;
use shared::context::SigningContext;
use shared::error::ErrorBody;
use shared::http::{Authenticated, Json};
use shared::passkeys::ceremony::{
    self, Challenge, PublicKeyCredential, RegisterPublicKeyCredential,
};
use shared::passkeys::{self, PasskeyView};
use shared::routes;
use shared::{Context, Error, Result};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::{SignedIn, Transport, check_transport, signed_in};

/// The routes that only verify tokens (or need none).
pub fn routes() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_passkeys))
        .routes(routes!(rename_passkey, delete_passkey))
        .routes(routes!(begin_registration))
        .routes(routes!(finish_registration))
        .routes(routes!(begin_sign_in))
}

/// The passkey sign-in's second call, which issues tokens.
pub fn signing_routes() -> OpenApiRouter<SigningContext> {
    OpenApiRouter::new().routes(routes!(finish_sign_in))
}

/// The caller's passkeys.
#[derive(Serialize, ToSchema)]
pub struct PasskeyList {
    passkeys: Vec<PasskeyView>,
}

/// A passkey id from a path: a credential id, base64url.
fn passkey_id(id: &str) -> Result<&str> {
    let valid = !id.is_empty()
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid
        .then_some(id)
        .ok_or_else(|| Error::not_found("passkey"))
}

/// List the caller's passkeys, oldest first.
#[utoipa::path(get, path = "/v1/auth/passkeys", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, body = PasskeyList), (status = 401, body = ErrorBody)))]
async fn list_passkeys(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
) -> Result<axum::Json<PasskeyList>> {
    let passkeys = passkeys::list(&ctx, who.user.id).await?;
    Ok(axum::Json(PasskeyList { passkeys }))
}

/// A passkey's new name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    #[schema(min_length = 1, max_length = 64)]
    name: String,
}

/// Rename one of the caller's passkeys.
#[utoipa::path(patch, path = "/v1/auth/passkeys/{id}", tag = "passkeys", security(("bearer" = [])),
    params(("id" = String, Path, description = "The passkey's id (its credential id, base64url)")),
    request_body = RenameRequest,
    responses((status = 200, body = PasskeyView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, description = "not one of the caller's passkeys", body = ErrorBody)))]
async fn rename_passkey(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
    Json(body): Json<RenameRequest>,
) -> Result<axum::Json<PasskeyView>> {
    let id = passkey_id(&id)?;
    let view = passkeys::rename(&ctx, who.user.id, id, &body.name).await?;
    Ok(axum::Json(view))
}

/// Remove one of the caller's passkeys: it signs in no more.
#[utoipa::path(delete, path = "/v1/auth/passkeys/{id}", tag = "passkeys", security(("bearer" = [])),
    params(("id" = String, Path, description = "The passkey's id (its credential id, base64url)")),
    responses((status = 204, description = "removed"), (status = 401, body = ErrorBody),
        (status = 404, description = "not one of the caller's passkeys", body = ErrorBody)))]
async fn delete_passkey(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    passkeys::delete(&ctx, who.user.id, passkey_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A response never cached: it carries a one-time challenge.
fn no_store(body: impl IntoResponse) -> Response {
    ([(axum::http::header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// Start registering a passkey on the caller's account: pass `options.publicKey` to
/// `navigator.credentials.create` (e.g. through `PublicKeyCredential.parseCreationOptionsFromJSON`)
/// and send its answer to `/v1/auth/passkeys/register/finish` within five minutes.
#[utoipa::path(post, path = "/v1/auth/passkeys/register/begin", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, body = Challenge), (status = 401, body = ErrorBody),
        (status = 409, description = "too_many_passkeys (20 per account)", body = ErrorBody)))]
async fn begin_registration(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
) -> Result<Response> {
    Ok(no_store(axum::Json(
        ceremony::begin_registration(&ctx, &who).await?,
    )))
}

/// The browser's answer to a registration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishRegistrationRequest {
    /// The `challenge_id` of `/v1/auth/passkeys/register/begin`.
    #[schema(min_length = 1, max_length = 128)]
    challenge_id: String,
    /// A name to tell it by ("Passkey N" when left out).
    #[schema(min_length = 1, max_length = 64)]
    name: Option<String>,
    /// The `PublicKeyCredential` `navigator.credentials.create` returned, as its `toJSON()`
    /// (binary fields base64url).
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

/// Finish registering a passkey: it is on the account from now and signs in alone.
#[utoipa::path(post, path = "/v1/auth/passkeys/register/finish", tag = "passkeys", security(("bearer" = [])),
    request_body = FinishRegistrationRequest,
    responses((status = 201, body = PasskeyView),
        (status = 400, description = "invalid_challenge (unknown, used, expired, another user's), invalid_passkey (the answer does not verify), or a malformed body", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, description = "passkey_exists", body = ErrorBody)))]
async fn finish_registration(
    State(ctx): State<Context>,
    Authenticated(who): Authenticated,
    Json(body): Json<FinishRegistrationRequest>,
) -> Result<(StatusCode, axum::Json<PasskeyView>)> {
    let view = ceremony::finish_registration(
        &ctx,
        &who,
        &body.challenge_id,
        body.name.as_deref(),
        &body.credential,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// Start signing in with a passkey (no e-mail, no password): pass `options.publicKey` to
/// `navigator.credentials.get` (`options.mediation` is `conditional`, for a sign-in form's
/// autofill; leave it out for a button) and send its answer to
/// `/v1/auth/passkeys/login/finish` within five minutes.
#[utoipa::path(post, path = "/v1/auth/passkeys/login/begin", tag = "passkeys",
    responses((status = 200, body = Challenge), (status = 429, body = ErrorBody)))]
async fn begin_sign_in(State(ctx): State<Context>, client: ClientInfo) -> Result<Response> {
    Ok(no_store(axum::Json(
        ceremony::begin_sign_in(&ctx, &client).await?,
    )))
}

/// The browser's answer to a passkey sign-in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishSignInRequest {
    /// The `challenge_id` of `/v1/auth/passkeys/login/begin`.
    #[schema(min_length = 1, max_length = 128)]
    challenge_id: String,
    /// The `PublicKeyCredential` `navigator.credentials.get` returned, as its `toJSON()`.
    #[schema(value_type = Object)]
    credential: PublicKeyCredential,
    /// How the new token pair is handed over: `bearer` (the default) or `cookie`.
    #[serde(default)]
    transport: Transport,
}

/// Finish signing in with a passkey: a session opens as a password login's would
/// (`created_via` `passkey`), with no second step (a passkey verifies its user itself).
#[utoipa::path(post, path = "/v1/auth/passkeys/login/finish", tag = "passkeys",
    request_body = FinishSignInRequest,
    responses((status = 200, body = SignedIn, headers(("set-cookie" = String, description = "`cookie` transport: the session's cookies, as the login sets them"))),
        (status = 400, description = "invalid_challenge (unknown, used, expired), or a malformed body", body = ErrorBody),
        (status = 401, description = "invalid_passkey: the answer does not verify, names no passkey of an active account, or its counter went back (that passkey is removed)", body = ErrorBody),
        (status = 403, description = "cross_site_request, email_not_verified", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn finish_sign_in(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    headers: HeaderMap,
    Json(body): Json<FinishSignInRequest>,
) -> Result<Response> {
    check_transport(&ctx.config, body.transport, &headers)?;
    let pair =
        ceremony::finish_sign_in(&ctx, &body.challenge_id, &body.credential, &client).await?;
    signed_in(&ctx.config, StatusCode::OK, body.transport, pair)
}
