//! The `docs` route group: the API reference at `/docs`, the OpenAPI document the API serves
//! (`/v1/openapi.json`) shown by the vendored Swagger UI ([`assets`]), public like the document
//! itself. A function of its own, apart from the web app, so that neither carries the other's
//! weight: this one serves static files only and needs no AWS SDK.
//!
//! `assets/docs.js` starts the viewer, so no inline script is needed; Swagger UI does set
//! inline styles, so the policy allows them ([`CONTENT_SECURITY_POLICY`]). "Try it out" calls
//! this same origin, with the access token given to the Authorize button as a Bearer token.

mod assets;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, html};

use crate::assets::href;

/// Where the API serves its OpenAPI document.
const SPEC_URL: &str = "/v1/openapi.json";

/// The servable router of the reference: its page and files, and a 404 for any other path.
pub fn router() -> Router {
    unlayered()
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
}

/// The page and files of the reference, for merging into a larger router (the local server's).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    unlayered().layer(axum::middleware::map_response(security_headers))
}

fn unlayered<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/docs", get(docs_page))
        .merge(assets::routes())
}

/// The policy of the web app's pages (scripts, styles and images only from this site, forms
/// post only here, no framing), with inline styles allowed, which Swagger UI sets on its
/// elements; scripts stay limited to this site's files.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Middleware: the Content-Security-Policy, `frame-ancestors` backed by `X-Frame-Options`,
/// `Referrer-Policy`, and no content sniffing, as the web app sets them.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn docs_page() -> Response {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "API reference · Sesame" }
                link rel="stylesheet" href=(href("swagger-ui.css"));
                script src=(href("swagger-ui-bundle.js")) defer {}
                script src=(href("docs.js")) defer {}
            }
            body {
                header {
                    h1 { "Sesame API reference" }
                    p { a href="/" { "Back to Sesame" } }
                    p {
                        "Every route of the API, from its OpenAPI document ("
                        a href=(SPEC_URL) { "openapi.json" } "). To try a route that needs a "
                        "session, sign in with " code { "POST /v1/auth/login" } ", then give its "
                        "access token to the Authorize button."
                    }
                }
                main id="main" {
                    div #swagger-ui data-spec=(SPEC_URL) {
                        noscript { p { "The interactive reference needs JavaScript; the document "
                            "itself is at " a href=(SPEC_URL) { (SPEC_URL) } "." } }
                    }
                }
            }
        }
    }
    .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such page").into_response()
}
