//! The `auth` Lambda: wiring only. Each cold start seeds the defaults and the first superuser
//! (idempotent) before serving.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let ctx = shared::Context::from_env().await?;
    shared::bootstrap::run(&ctx).await?;
    lambda_http::run(auth::router(ctx)).await
}
