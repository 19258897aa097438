//! The `web` Lambda: wiring only. It signs users in (password and QR), so it reads the signing
//! key (a `SigningContext`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let ctx = shared::context::SigningContext::from_env().await?;
    lambda_http::run(web::router(ctx)).await
}
