//! The `web` route group: Sesame's web app, server-rendered HTML for people (sign-in with a
//! password, a passkey or a phone's QR scan, registration, the account with its passkeys,
//! sessions, history and quota, support tickets, administration), and the pages of e-mailed
//! links (verification, password reset). The API reference at `/docs`, which the pages link,
//! is the `docs` function's.
//!
//! Pages call the same services as the API, with a browser session held in cookies
//! ([`shared::http::cookies`]); [`browser`] reads it and checks every posted form's CSRF token.
//! Every page answers with a strict Content-Security-Policy ([`security_headers`]): no inline
//! script, no framing.

mod account;
mod activity;
mod admin;
mod assets;
mod browser;
mod email;
mod layout;
mod mfa;
mod passkeys;
mod sign_in;
mod tickets;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use shared::context::SigningContext;
use utoipa_axum::router::OpenApiRouter;

/// The servable router of the web app: its pages behind the shared finishing layers.
pub fn router(ctx: SigningContext) -> axum::Router {
    shared::http::finish_signing(OpenApiRouter::new(), OpenApiRouter::from(routes()), ctx)
}

/// Every page and asset of the web app, for merging into a larger router.
pub fn routes() -> Router<SigningContext> {
    Router::new()
        .merge(sign_in::routes())
        .merge(account::routes())
        .merge(mfa::routes())
        .merge(passkeys::routes())
        .merge(activity::routes())
        .merge(email::routes())
        .merge(tickets::routes())
        .merge(admin::routes())
        .merge(assets::routes())
        .layer(axum::middleware::from_fn(security_headers))
}

/// The policy of every page: scripts, styles and images only from this site (so no inline
/// script runs), forms post only here, no framing, no referrer to other sites. A page that
/// must talk to another origin (uploads straight to S3) widens `connect-src` itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Middleware: the Content-Security-Policy (unless the page set its own), `frame-ancestors`
/// backed by `X-Frame-Options`, and `Referrer-Policy`.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
