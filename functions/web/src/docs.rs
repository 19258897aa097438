//! The API reference at `/docs`: the OpenAPI document the API serves (`/v1/openapi.json`),
//! shown by the vendored Swagger UI ([`crate::assets`]), public like the document itself.
//!
//! `assets/docs.js` starts the viewer, so no inline script is needed; Swagger UI does set
//! inline styles, so this page alone allows them ([`policy`]). "Try it out" calls this same
//! origin, with the access token given to the Authorize button as a Bearer token.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;
use shared::context::SigningContext;

use crate::assets::href;
use crate::layout::page;

/// Where the API serves its OpenAPI document.
const SPEC_URL: &str = "/v1/openapi.json";

pub fn routes() -> Router<SigningContext> {
    Router::new().route("/docs", get(docs_page))
}

/// The app's policy ([`crate::CONTENT_SECURITY_POLICY`]) with inline styles allowed, which
/// Swagger UI sets on its elements; scripts stay limited to this site's files.
fn policy() -> String {
    crate::CONTENT_SECURITY_POLICY.replace("style-src 'self';", "style-src 'self' 'unsafe-inline';")
}

async fn docs_page() -> Response {
    let body = page(
        "API reference",
        None,
        html! {
            link rel="stylesheet" href=(href("swagger-ui.css"));
            script src=(href("swagger-ui-bundle.js")) defer {}
            script src=(href("docs.js")) defer {}
            p {
                "Every route of the API, from its OpenAPI document ("
                a href=(SPEC_URL) { "openapi.json" } "). To try a route that needs a session, "
                "sign in with " code { "POST /v1/auth/login" } ", then give its access token to "
                "the Authorize button."
            }
            div #swagger-ui data-spec=(SPEC_URL) {
                noscript { p { "The interactive reference needs JavaScript; the document itself is at "
                    a href=(SPEC_URL) { (SPEC_URL) } "." } }
            }
        },
    );
    let mut response = body.into_response();
    if let Ok(policy) = HeaderValue::from_str(&policy()) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}
