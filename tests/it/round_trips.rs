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

/// A counted environment with a registered user (the registration not counted): the e-mail
/// and the registration's token response.
async fn counted_user() -> (TestEnv, CallCounter, String, serde_json::Value) {
    let (env, counter) = counted().await;
    let email = TestEnv::email("counted");
    let tokens = env.register(&email).await;
    counter.take();
    (env, counter, email, tokens)
}

#[tokio::test]
async fn register_sends_two_requests() {
    let (env, counter) = counted().await;
    env.register(&TestEnv::email("counted")).await;
    assert_eq!(
        counter.take(),
        requests(&[("TransactWriteItems", 1), ("UpdateItem", 1)])
    );
}

#[tokio::test]
async fn a_successful_login_sends_four_requests() {
    let (env, counter, email, _) = counted_user().await;
    // Twice: the first login finds no failure record, the second the one the first reset.
    for round in 0..2 {
        env.login_ok(&email).await;
        assert_eq!(
            counter.take(),
            requests(&[("GetItem", 1), ("Query", 1), ("TransactWriteItems", 2)]),
            "round {round}"
        );
    }
}

#[tokio::test]
async fn me_sessions_list_and_logout_send_one_two_and_two_requests() {
    let (env, counter, _, tokens) = counted_user().await;
    let token = access(&tokens);
    assert_eq!(env.me_status(&token).await, StatusCode::OK);
    assert_eq!(counter.take(), requests(&[("BatchGetItem", 1)]), "me");

    let listed = env.send(env.get("/v1/sessions").bearer(&token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(
        counter.take(),
        requests(&[("BatchGetItem", 1), ("Query", 1)]),
        "sessions list"
    );

    let logout = env.send(env.post("/v1/auth/logout").bearer(&token)).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_eq!(
        counter.take(),
        requests(&[("BatchGetItem", 1), ("TransactWriteItems", 1)]),
        "logout"
    );
}

#[tokio::test]
async fn a_refresh_sends_two_requests() {
    let (env, counter, _, tokens) = counted_user().await;
    let refreshed = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&tokens)})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    assert_eq!(
        counter.take(),
        requests(&[("BatchGetItem", 1), ("UpdateItem", 1)])
    );
}

#[tokio::test]
async fn a_quota_consume_sends_two_requests() {
    let (env, counter, _, tokens) = counted_user().await;
    // Twice: the first creates the usage item, the second counts on the one it read.
    for (round, key) in ["k1", "k2"].into_iter().enumerate() {
        let consumed = env
            .send(env.post("/v1/quota/consume").bearer(&access(&tokens)).json(
                json!({"videos": 1, "duration_seconds": 3.5, "file_size_mb": 2, "idempotency_key": key}),
            ))
            .await;
        assert_eq!(consumed.status, StatusCode::OK, "{:?}", consumed.body);
        assert_eq!(
            consumed.body["usage"]["videos_count"],
            round + 1,
            "the usage the transaction left"
        );
        assert_eq!(
            counter.take(),
            requests(&[("BatchGetItem", 1), ("TransactWriteItems", 1)]),
            "round {round}"
        );
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_send_the_same_requests() {
    let (env, counter, email, _) = counted_user().await;
    // The puts: the login history's entry (for no account, one whose condition fails) and the
    // audit event.
    let failed = requests(&[
        ("GetItem", 1),
        ("PutItem", 2),
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

#[tokio::test]
async fn the_widest_audit_range_reads_only_the_retentions_month_partitions() {
    let (env, counter, _, tokens) = counted_user().await;
    let id = tokens["user"]["id"].as_str().unwrap().parse().unwrap();
    assert!(env.ctx.store.make_superuser(id).await.unwrap());
    counter.take();
    let listed = env
        .send(
            env.get("/v1/audit?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z&limit=100")
                .bearer(&access(&tokens)),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(listed.body["items"][0]["type"], "account.registered");
    let queries = counter.take().get("Query").copied().unwrap_or(0);
    // 366 days of retention and a day ahead span at most 14 months.
    assert!(
        (13..=14).contains(&queries),
        "{queries} month partitions read"
    );
}

#[tokio::test]
async fn a_password_reset_request_sends_the_same_requests_for_known_and_unknown_addresses() {
    let (env, counter, email, _) = counted_user().await;
    let reset = |email: String| {
        env.post("/v1/auth/password-reset")
            .json(json!({ "email": email }))
    };
    let known = env.send(reset(email)).await;
    assert_eq!(known.status, StatusCode::ACCEPTED);
    let for_known = counter.take();
    let unknown = env.send(reset(TestEnv::email("nobody"))).await;
    assert_eq!(unknown.status, StatusCode::ACCEPTED);
    assert_eq!(counter.take(), for_known);
    assert_eq!(
        for_known,
        requests(&[("GetItem", 2), ("PutItem", 1), ("UpdateItem", 2)])
    );
}

#[tokio::test]
async fn a_login_with_a_second_factor_sends_five_then_six_requests() {
    let (env, counter) = counted().await;
    let user = crate::mfa::enrolled(&env, "counted").await;
    counter.take();
    // The password step: claim, the account's partition (with its MFA item), the reservation,
    // the check given back, the pending second step.
    let mfa_token = crate::mfa::first_step(&env, &user.email).await;
    assert_eq!(
        counter.take(),
        requests(&[
            ("GetItem", 1),
            ("PutItem", 1),
            ("Query", 1),
            ("TransactWriteItems", 1),
            ("UpdateItem", 1),
        ]),
        "password step"
    );
    // The code step: the pending step, the account's partition, the reservation, the code's
    // time step accepted, the pending step taken, the session's transaction.
    let code = json!({"code": user.code(&env, 0)});
    let second = crate::mfa::second_step(&env, &mfa_token, code).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    assert_eq!(
        counter.take(),
        requests(&[
            ("DeleteItem", 1),
            ("GetItem", 1),
            ("Query", 1),
            ("TransactWriteItems", 2),
            ("UpdateItem", 1),
        ]),
        "code step"
    );
}

#[tokio::test]
async fn a_passkey_sign_in_sends_two_then_five_requests() {
    use crate::passkeys::{
        added, answer, authenticator, begin_sign_in, finish_sign_in, origin, user_id,
    };
    let (env, counter, _, tokens) = counted_user().await;
    let mut key = authenticator();
    let id = added(&env, &access(&tokens), &mut key).await;
    counter.take();
    // Begin: the per-IP hit, the ceremony stored.
    let (challenge_id, options) = begin_sign_in(&env).await;
    assert_eq!(
        counter.take(),
        requests(&[("PutItem", 1), ("UpdateItem", 1)]),
        "begin"
    );
    // Finish: the per-IP hit, the ceremony taken, the account's partition (with its passkeys),
    // the counter stored, the session's transaction.
    let credential = answer(&mut key, &options, &id, user_id(&tokens), &origin());
    let reply = finish_sign_in(&env, &challenge_id, credential).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        counter.take(),
        requests(&[
            ("DeleteItem", 1),
            ("Query", 1),
            ("TransactWriteItems", 1),
            ("UpdateItem", 2),
        ]),
        "finish"
    );
}
