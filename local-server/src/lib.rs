//! Every route group merged into one router: served by the local all-in-one server and driven
//! in-process by the integration tests, with the same paths as API Gateway.

use shared::Context;
use utoipa_axum::router::OpenApiRouter;

/// The routes of every route group.
pub fn routes() -> OpenApiRouter<Context> {
    auth::routes()
        .merge(sessions::routes())
        .merge(quota::routes())
        .merge(qr_auth::routes())
        .merge(tickets::routes())
}

/// The servable router of every route group.
pub fn app(ctx: Context) -> axum::Router {
    shared::http::finish(routes(), ctx)
}
