//! HTTP glue shared by every route group: strict JSON, the request id, the caller's context,
//! the authenticated-request guard, pagination, conditional requests (`ETag`, `If-Match`) and
//! the finishing layers of a router.

pub mod conditional;
pub mod cookies;
mod extract;
mod headers;
pub mod json;
mod query;
pub mod request_id;
mod routes;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;

pub use conditional::{ETag, IfMatch, Tagged};
pub use extract::{Authenticated, VerifiedToken, bearer_token};
pub use json::Json;
pub use query::{PageParams, Query};

use crate::context::{Context, SigningContext};
use crate::error::Error;

/// A page of a list: `{"items": [...], "next_cursor": "..." | null}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Turns a route group's routes into a servable router: unknown routes get 404 and wrong
/// methods 405 in the error shape, bodies are capped, every response has `x-request-id` and
/// the security headers of [`headers`].
pub fn finish(routes: OpenApiRouter<Context>, ctx: Context) -> Router {
    let (router, _) = routes.split_for_parts();
    router
        .fallback(|| async { Error::not_found("route") })
        .layer(DefaultBodyLimit::max(json::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            ctx.config.clone(),
            request_id::middleware,
        ))
        .layer(axum::middleware::from_fn(headers::middleware))
        .with_state(ctx)
}

/// Like [`finish`] for a group that issues tokens: `signing` routes get the whole
/// [`SigningContext`], every other route only its verify-only [`Context`].
pub fn finish_signing(
    routes: OpenApiRouter<Context>,
    signing: OpenApiRouter<SigningContext>,
    ctx: SigningContext,
) -> Router {
    finish(routes.merge(signing.with_state(ctx.clone())), ctx.into())
}
