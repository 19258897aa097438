//! The `qr-auth` Lambda: wiring only. Its status poll issues tokens, so it reads the signing
//! key (a `SigningContext`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let ctx = shared::SigningContext::from_env().await?;
    lambda_http::run(qr_auth::router(ctx)).await
}
