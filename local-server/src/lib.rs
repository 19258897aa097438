//! Every route group merged into one router: served by the local all-in-one server and driven
//! in-process by the integration tests, with the same paths as API Gateway, and the OpenAPI
//! document of them all ([`openapi`]).

pub mod openapi;

use shared::Context;
use shared::context::SigningContext;
use utoipa_axum::router::OpenApiRouter;

/// The routes of every route group that only verify tokens.
pub fn routes() -> OpenApiRouter<Context> {
    auth::routes()
        .merge(sessions::routes())
        .merge(quota::routes())
        .merge(qr_auth::routes())
        .merge(tickets::routes())
}

/// The routes of every route group that issue tokens.
pub fn signing_routes() -> OpenApiRouter<SigningContext> {
    auth::signing_routes().merge(qr_auth::signing_routes())
}

/// The servable router of every route group.
pub fn app(ctx: SigningContext) -> axum::Router {
    shared::http::finish_signing(routes(), signing_routes(), ctx)
}
