//! The request's scope: its id (the Lambda request id in AWS, a fresh UUID locally), the
//! caller's [`ClientInfo`] and, once the guard admitted it, the authenticated user. The id is
//! sent back as `x-request-id` and put into every error body, so a client report can be matched
//! to the log; the audit trail reads all three ([`scope`]), so no service passes them along.

use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use tracing::Instrument;

use crate::client::ClientInfo;
use crate::config::Config;
use crate::domain::UserId;
use crate::error::Error;

/// What the middleware knows of the request being served.
struct Current {
    id: String,
    client: ClientInfo,
    actor: Mutex<Option<UserId>>,
}

tokio::task_local! {
    static REQUEST: Current;
}

/// The id of the request being served (empty outside a request).
pub fn current() -> String {
    REQUEST.try_with(|r| r.id.clone()).unwrap_or_default()
}

/// The request being served, as the audit trail records it; all `None` outside a request (the
/// scheduled cleanup, the start-up bootstrap).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub id: Option<String>,
    pub client: Option<ClientInfo>,
    /// The user the request was authenticated as.
    pub actor: Option<UserId>,
}

/// The scope of the request being served.
pub fn scope() -> Scope {
    REQUEST
        .try_with(|r| Scope {
            id: Some(r.id.clone()),
            client: Some(r.client.clone()),
            actor: *r.actor.lock().unwrap_or_else(|e| e.into_inner()),
        })
        .unwrap_or_default()
}

/// Names the user the request is authenticated as; called by the guard (`auth::admit`) only.
pub(crate) fn set_actor(user: UserId) {
    let _ = REQUEST.try_with(|r| *r.actor.lock().unwrap_or_else(|e| e.into_inner()) = Some(user));
}

/// Middleware: assigns the request id, reads the caller's [`ClientInfo`] into the request's
/// scope, sets `x-request-id`, and gives the framework's own refusals (405 from the router) the
/// contract's error shape, keeping their `Allow` header.
///
/// The request span names the matched route (`/v1/qr-auth/status/{code}`), never the raw path:
/// paths carry QR codes and ids that do not belong in logs. Unmatched requests log no route.
pub async fn middleware(
    State(config): State<Arc<Config>>,
    request: Request,
    next: Next,
) -> Response {
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
    let (parts, body) = request.into_parts();
    let current = Current {
        id: id.clone(),
        client: super::extract::client_info(&parts, &config),
        actor: Mutex::new(None),
    };
    let request = Request::from_parts(parts, body);
    let mut response = REQUEST
        .scope(current, async move {
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
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(Config::default()),
                middleware,
            ));
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
