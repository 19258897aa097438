//! The `cleanup` Lambda: wiring only. It runs with a verify-only `Context` and never reads the
//! signing key.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let ctx = shared::Context::from_env().await?;
    let ctx = &ctx;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            cleanup::handle(ctx, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
