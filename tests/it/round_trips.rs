//! DynamoDB round trips per endpoint, counted exactly by the store's call counter: every
//! request the SDK sends (retries included) is counted by operation, so the numbers are
//! deterministic and asserted here; a change that adds a request to an endpoint fails.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::json;
use shared::store::{CallCounter, Store};

use crate::support::*;

/// A fresh environment whose store counts its requests.
async fn counted() -> (TestEnv, CallCounter) {
    let env = TestEnv::new().await;
    let counter = CallCounter::new();
    let store = Store::local_counted(
        &endpoint(),
        &env.ctx.config.aws_region,
        &env.ctx.config.table_name,
        &counter,
    );
    (env.with_store(store), counter)
}

/// The expected counts, by operation.
fn requests(expected: &[(&str, u64)]) -> BTreeMap<String, u64> {
    expected
        .iter()
        .map(|(operation, count)| ((*operation).to_owned(), *count))
        .collect()
}

#[tokio::test]
async fn every_endpoint_sends_its_known_number_of_dynamodb_requests() {
    let (env, counter) = counted().await;
    let email = TestEnv::email("counted");

    let tokens = env.register(&email).await;
    assert_eq!(
        counter.take(),
        requests(&[("TransactWriteItems", 1), ("UpdateItem", 1)]),
        "register"
    );

    let login = env.login_ok(&email).await;
    assert_eq!(
        counter.take(),
        requests(&[("GetItem", 1), ("Query", 1), ("TransactWriteItems", 2)]),
        "login"
    );

    assert_eq!(env.me_status(&access(&login)).await, StatusCode::OK);
    assert_eq!(counter.take(), requests(&[("BatchGetItem", 1)]), "me");

    let refreshed = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&login)})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    assert_eq!(
        counter.take(),
        requests(&[("BatchGetItem", 1), ("UpdateItem", 1)]),
        "refresh"
    );

    let listed = env
        .send(env.get("/v1/sessions").bearer(&access(&tokens)))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(
        counter.take(),
        requests(&[("BatchGetItem", 1), ("Query", 1)]),
        "sessions list"
    );

    let consumed = env
        .send(env.post("/v1/quota/consume").bearer(&access(&tokens)).json(
            json!({"videos": 1, "duration_seconds": 3.5, "file_size_mb": 2, "idempotency_key": "k1"}),
        ))
        .await;
    assert_eq!(consumed.status, StatusCode::OK, "{:?}", consumed.body);
    assert_eq!(
        counter.take(),
        requests(&[("BatchGetItem", 1), ("TransactWriteItems", 1)]),
        "quota consume"
    );

    let logout = env
        .send(env.post("/v1/auth/logout").bearer(&access(&tokens)))
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_eq!(
        counter.take(),
        requests(&[("BatchGetItem", 1), ("TransactWriteItems", 1)]),
        "logout"
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_send_the_same_requests() {
    let (env, counter) = counted().await;
    let email = TestEnv::email("known");
    env.register(&email).await;
    counter.take();
    let failed = requests(&[
        ("GetItem", 1),
        ("PutItem", 1),
        ("Query", 1),
        ("TransactWriteItems", 1),
    ]);
    // Twice each: the first failure starts a failure record, the second adds to it.
    for round in 0..2 {
        let wrong = env.login(&email, "a wrong password").await;
        assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(counter.take(), failed, "wrong password, round {round}");
        let nobody = env
            .login(&TestEnv::email("nobody"), "a wrong password")
            .await;
        assert_error(&nobody, StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(counter.take(), failed, "unknown e-mail, round {round}");
    }
}
