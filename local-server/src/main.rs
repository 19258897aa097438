//! The local all-in-one server: every route group on one port, with the same paths as API
//! Gateway, against the configured AWS endpoint (LocalStack for `make run`). Creates the table
//! and the attachment bucket if they are missing, verifies the mail sender in SES, and seeds the
//! table like the auth Lambda's cold start. Local mode logs the link of every mail it sends. Not deployed; the Lambdas are, so it always runs in the explicit local mode
//! (`SESAME_LOCAL_DEV`): without a configured signing key it generates a development key.
//!
//! `local-server --lambda-secrets` sets up and exits instead of serving: it also stores the
//! development key pair and a cursor key as the Secrets Manager secrets that `make invoke` hands
//! a Lambda binary (see `local_server::LAMBDA_SECRETS`).
//! `--print-openapi` prints the OpenAPI document instead and exits (`make openapi`).

use std::net::SocketAddr;

use shared::SigningContext;
use shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), shared::BoxError> {
    if std::env::args().nth(1).as_deref() == Some("--print-openapi") {
        print!("{}", local_server::openapi::document_json());
        return Ok(());
    }
    shared::telemetry::init();
    let ctx = SigningContext::from_config(Config::local_from_env()?).await?;
    ctx.store.create_table().await?;
    shared::bootstrap::run(&ctx).await?;
    ctx.blobs.create_bucket().await?;
    // LocalStack sends only from a verified sender, as SES does.
    ctx.mailer.verify_sender().await?;
    if std::env::args().nth(1).as_deref() == Some("--lambda-secrets") {
        return local_server::store_lambda_secrets(&ctx).await;
    }
    let app = local_server::app(ctx.clone());
    let bind = std::env::var("SESAME_BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    tracing::info!(address = %bind, table = ctx.store.table_name(), "Sesame is serving");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        tokio::signal::ctrl_c().await.ok();
    })
    .await?;
    Ok(())
}
