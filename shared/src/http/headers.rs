//! Response headers every route gets, in one layer: `X-Content-Type-Options: nosniff` on every
//! response (errors and 404s included), and `Cache-Control: no-store` on every response to a
//! request that carried credentials (a bearer token, cookies or a QR poll token), so no cache keeps a
//! user's data or tokens, unless its handler declared it `public` (the same for everyone: the
//! JWKS, the web app's files, which browsers fetch with their cookies). Other responses get
//! `no-store` unless their handler chose a policy.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The header a QR login poll authenticates with.
const QR_POLL_TOKEN: &str = "x-qr-poll-token";

/// Middleware: sets the security headers described in the module documentation.
pub async fn middleware(request: Request, next: Next) -> Response {
    let has_credentials = request.headers().contains_key(header::AUTHORIZATION)
        || request.headers().contains_key(header::COOKIE)
        || request.headers().contains_key(QR_POLL_TOKEN);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let public = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|policy| policy.starts_with("public"));
    if has_credentials && !public || !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
