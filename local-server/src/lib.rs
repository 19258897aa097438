//! Every route group and the web app merged into one router: served by the local all-in-one server and driven
//! in-process by the integration tests, with the same paths as API Gateway, and the OpenAPI
//! document of them all ([`openapi`]).

pub mod openapi;

use shared::Context;
use shared::context::SigningContext;
use utoipa_axum::router::OpenApiRouter;

/// The routes of every route group that only verify tokens.
pub fn routes() -> OpenApiRouter<Context> {
    auth::routes()
        .merge(sessions::routes())
        .merge(quota::routes())
        .merge(qr_auth::routes())
        .merge(tickets::routes())
}

/// The routes of every route group that issue tokens, the web app's pages (which sign
/// browsers in) and the API reference (which needs no context at all).
pub fn signing_routes() -> OpenApiRouter<SigningContext> {
    auth::signing_routes()
        .merge(qr_auth::signing_routes())
        .merge(OpenApiRouter::from(web::routes()))
        .merge(OpenApiRouter::from(docs::routes()))
}

/// The servable router of every route group.
pub fn app(ctx: SigningContext) -> axum::Router {
    shared::http::finish_signing(routes(), signing_routes(), ctx)
}

/// The Secrets Manager secrets that `make invoke` names for a Lambda binary, which reads its keys
/// as a deployment does (no local mode): the local server's development key pair, so tokens work
/// across `make run` and `make invoke`, a list-cursor key and a TOTP sealing key. The Makefile's
/// `LAMBDA_ENV` names the same secrets.
pub const LAMBDA_SECRETS: [(&str, &str); 4] = [
    ("SESAME_SIGNING_KEY_SECRET", "sesame-local/signing-key"),
    ("SESAME_VERIFY_KEY_SECRET", "sesame-local/verify-key"),
    ("SESAME_CURSOR_KEY_SECRET", "sesame-local/cursor-key"),
    ("SESAME_MFA_KEY_SECRET", "sesame-local/mfa-key"),
];

/// Stores the [`LAMBDA_SECRETS`] on the local endpoint: the development key pair of `ctx` (from
/// its key file) every time, the cursor and MFA keys only when missing, so earlier cursors and
/// enrolments stay valid.
/// Fails without a local endpoint (`AWS_ENDPOINT_URL`) or key file.
pub async fn store_lambda_secrets(ctx: &SigningContext) -> Result<(), shared::BoxError> {
    let config = &ctx.config;
    let endpoint = config
        .aws_endpoint_url
        .as_deref()
        .ok_or("storing the Lambda secrets needs a local AWS endpoint (AWS_ENDPOINT_URL)")?;
    let secrets = shared::secrets::Secrets::local(endpoint, &config.aws_region);
    let [(_, signing), (_, verify), (_, cursor), (_, mfa)] = LAMBDA_SECRETS;
    let private_pem = std::fs::read_to_string(&config.dev_key_path)
        .map_err(|e| format!("{}: {e}", config.dev_key_path))?;
    secrets.put(signing, &private_pem).await?;
    secrets
        .put(verify, &ctx.signer.verifier().public_pem())
        .await?;
    for key in [cursor, mfa] {
        if secrets.read(key).await.is_err() {
            secrets.put(key, &shared::tokens::random_secret()).await?;
        }
    }
    Ok(())
}
