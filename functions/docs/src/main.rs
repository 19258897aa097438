//! The `docs` Lambda: wiring only. It serves static files, so it reads no configuration,
//! secrets or keys.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    lambda_http::run(docs::router()).await
}
