//! The `qr-auth` Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let ctx = shared::Context::from_env().await?;
    lambda_http::run(qr_auth::router(ctx)).await
}
