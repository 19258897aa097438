//! Placeholder.

use axum::Router;
use shared::context::SigningContext;

pub fn routes() -> Router<SigningContext> {
    Router::new()
}
