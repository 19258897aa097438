//! The `auth` Lambda: wiring only. It issues tokens, so it reads the signing key (a
//! `SigningContext`). Each cold start seeds the defaults and the first superuser (idempotent)
//! before serving.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let ctx = shared::SigningContext::from_env().await?;
    shared::bootstrap::run(&ctx).await?;
    lambda_http::run(auth::router(ctx)).await
}
