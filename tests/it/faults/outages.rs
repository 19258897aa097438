//! A store that hangs, refuses, answers too slowly, cuts answers or throttles: 503 with the
//! error shape and `Retry-After` while it lasts, normal answers once it ends.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use super::{FaultEnv, FaultProxy, assert_unavailable};
use crate::support::{PASSWORD, TestEnv, access};

/// Starts a fault on the proxy.
type Start = fn(&FaultProxy);

/// Every kind of outage, set on every request.
fn outages() -> Vec<(&'static str, Start)> {
    vec![
        ("stall", |p| {
            p.stall();
        }),
        ("refuse", |p| {
            p.refuse();
        }),
        ("delay beyond the operation timeout", |p| {
            p.delay(Duration::from_secs(10));
        }),
        ("cut mid-response", |p| {
            p.cut();
        }),
        ("ThrottlingException", |p| {
            p.throttle();
        }),
        ("ProvisionedThroughputExceededException", |p| {
            p.throttle_as("ProvisionedThroughputExceededException");
        }),
        ("RequestLimitExceeded", |p| {
            p.throttle_as("RequestLimitExceeded");
        }),
    ]
}

#[tokio::test]
async fn every_store_outage_is_a_503_with_retry_after_and_the_next_request_after_it_succeeds() {
    let env = FaultEnv::new().await;
    let email = TestEnv::email("outage");
    let tokens = env.register(&email).await;
    let token = access(&tokens);
    for (name, start) in outages() {
        start(&env.proxy);
        let me = env.send(env.get("/v1/auth/me").bearer(&token)).await;
        assert_unavailable(&me);
        let login = env
            .send(
                env.post("/v1/auth/login")
                    .json(json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_unavailable(&login);
        env.proxy.heal();
        let me = env.send(env.get("/v1/auth/me").bearer(&token)).await;
        assert_eq!(me.status, StatusCode::OK, "after {name}: {:?}", me.body);
        assert_eq!(me.body["email"], email.as_str(), "after {name}");
    }
    let login = env.login(&email, PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
}

#[tokio::test]
async fn a_transaction_cancelled_for_throttling_is_a_503() {
    let env = FaultEnv::new().await;
    let email = TestEnv::email("cancelled");
    env.proxy
        .throttle_as("TransactionCanceledException")
        .on("TransactWriteItems");
    let register = env
        .send(env.post("/v1/auth/register").json(json!({
            "email": email, "password": PASSWORD, "password2": PASSWORD,
            "first_name": "Ada", "last_name": "Lovelace"
        })))
        .await;
    assert_unavailable(&register);
    env.proxy.heal();
    env.register(&email).await;
}

#[tokio::test]
async fn one_throttled_attempt_is_retried_by_the_sdk_and_the_caller_never_sees_it() {
    let env = FaultEnv::new().await;
    let tokens = env.register(&TestEnv::email("retried")).await;
    env.proxy.throttle().on("BatchGetItem").nth(1);
    let me = env
        .send(env.get("/v1/auth/me").bearer(&access(&tokens)))
        .await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(
        env.proxy.seen("BatchGetItem"),
        2,
        "the throttled attempt and its retry"
    );
}

#[tokio::test]
async fn a_slow_store_within_the_timeouts_is_only_slow() {
    let env = FaultEnv::new().await;
    let tokens = env.register(&TestEnv::email("slow")).await;
    env.proxy.delay(Duration::from_millis(50));
    let me = env
        .send(env.get("/v1/auth/me").bearer(&access(&tokens)))
        .await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
}

#[test]
fn the_default_aws_timeouts_fit_inside_the_lambda_timeout_with_margin() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let globals = &template[template.find("Globals:").unwrap()..];
    let seconds: u64 = globals
        .lines()
        .find_map(|line| line.trim().strip_prefix("Timeout:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let calls = shared::config::AwsCalls::default();
    assert!(calls.attempt_timeout <= calls.operation_timeout);
    assert!(
        calls.operation_timeout * 2 < Duration::from_secs(seconds),
        "a failed call ({:?}) must leave at least as much of the function timeout ({seconds} s)",
        calls.operation_timeout
    );
}
