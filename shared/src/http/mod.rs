//! HTTP glue shared by every route group: strict JSON, the request id, the caller's context,
//! the authenticated-request guard, pagination and the finishing layers of a router.

mod extract;
pub mod json;
mod query;
pub mod request_id;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;

pub use extract::{Authenticated, bearer_token};
pub use json::Json;
pub use query::{PageParams, Query};

use crate::context::Context;
use crate::error::Error;

/// A page of a list: `{"items": [...], "next_cursor": "..." | null}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Turns a route group's routes into a servable router: unknown routes get 404 and wrong
/// methods 405 in the error shape, bodies are capped, every response has `x-request-id`.
pub fn finish(routes: OpenApiRouter<Context>, ctx: Context) -> Router {
    let (router, _) = routes.split_for_parts();
    router
        .fallback(|| async { Error::not_found("route") })
        .layer(DefaultBodyLimit::max(json::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(ctx)
}
