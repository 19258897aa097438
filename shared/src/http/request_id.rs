//! The request id: the Lambda request id in AWS, a fresh UUID locally. It is sent back as
//! `x-request-id` and put into every error body, so a client report can be matched to the log.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use tracing::Instrument;

use crate::error::Error;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served (empty outside a request).
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Middleware: assigns the request id, sets `x-request-id`, and gives the framework's own
/// refusals (405 from the router) the contract's error shape, keeping their `Allow` header.
pub async fn middleware(request: Request, next: Next) -> Response {
    let id = request
        .extensions()
        .get::<lambda_http::Context>()
        .map(|lambda| lambda.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = REQUEST_ID
        .scope(id.clone(), async move {
            let response = next.run(request).await;
            if response.status() == StatusCode::METHOD_NOT_ALLOWED
                && !response.headers().contains_key(header::CONTENT_TYPE)
            {
                let allow = response.headers().get(header::ALLOW).cloned();
                let mut refusal = Error::MethodNotAllowed.into_response();
                if let Some(allow) = allow {
                    refusal.headers_mut().insert(header::ALLOW, allow);
                }
                return refusal;
            }
            response
        })
        .instrument(span.clone())
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), "served"));
    response
}
