//! The request id: the Lambda request id in AWS, a fresh UUID locally. It is sent back as
//! `x-request-id` and put into every error body, so a client report can be matched to the log.

use axum::extract::{MatchedPath, Request};
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
///
/// The request span names the matched route (`/v1/qr-auth/status/{code}`), never the raw path:
/// paths carry QR codes and ids that do not belong in logs. Unmatched requests log no route.
pub async fn middleware(request: Request, next: Next) -> Response {
    let id = request
        .extensions()
        .get::<lambda_http::Context>()
        .map(|lambda| lambda.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), route);
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// Collects everything the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_request_span_names_the_route_not_the_path() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = Router::new()
            .route("/v1/qr-auth/status/{code}", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(middleware));
        let request = Request::builder()
            .uri("/v1/qr-auth/status/SECRET-QR-CODE")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("/v1/qr-auth/status/{code}"), "{logged}");
        assert!(!logged.contains("SECRET-QR-CODE"), "{logged}");
    }
}
