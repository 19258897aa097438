//! The `tickets` Lambda: wiring only. It verifies tokens with the public key and never reads
//! the signing key (a verify-only `Context`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let ctx = shared::Context::from_env().await?;
    lambda_http::run(tickets::router(ctx)).await
}
