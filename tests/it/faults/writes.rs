//! Multi-step writes under faults: each step of each write is failed on its own (by DynamoDB
//! operation), and afterwards the state is as before or a retry of the same request completes
//! it, exactly once. The README's recovery table ("Operating Sesame") names what each case
//! leaves behind.

use axum::http::StatusCode;
use serde_json::{Value, json};
use shared::domain::{Email, LoginOutcome, UserId};

use super::{FaultEnv, assert_unavailable};
use crate::support::{PASSWORD, TestEnv, access, refresh};

/// Every DynamoDB operation a request may send: failing each in turn fails each step.
const OPERATIONS: &[&str] = &[
    "GetItem",
    "BatchGetItem",
    "Query",
    "PutItem",
    "UpdateItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

/// A user's stored sessions and the successful logins in their history.
async fn sessions_and_logins(env: &FaultEnv, user: UserId) -> (usize, usize) {
    let sessions = env
        .ctx
        .store
        .find_user_sessions(user)
        .await
        .unwrap()
        .map_or(0, |account| account.sessions.len());
    let logins = env
        .ctx
        .store
        .login_outcomes_since(user, chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap()
        .iter()
        .filter(|(_, outcome)| *outcome == LoginOutcome::Success)
        .count();
    (sessions, logins)
}

fn user_id(tokens: &Value) -> UserId {
    tokens["user"]["id"].as_str().unwrap().parse().unwrap()
}

fn registration(email: &str) -> Value {
    json!({
        "email": email, "password": PASSWORD, "password2": PASSWORD,
        "first_name": "Ada", "last_name": "Lovelace"
    })
}

#[tokio::test]
async fn a_registration_failed_at_any_step_leaves_no_account_and_its_retry_creates_one() {
    let env = FaultEnv::new().await;
    for operation in OPERATIONS {
        let email = TestEnv::email("register");
        env.proxy.throttle().on(operation);
        let reply = env
            .send(env.post("/v1/auth/register").json(registration(&email)))
            .await;
        env.proxy.heal();
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_unavailable(&reply);
            let parsed = Email::parse(&email).unwrap();
            let owner = env.ctx.store.find_user_id_by_email(&parsed).await.unwrap();
            assert_eq!(owner, None, "{operation} failed: no account");
            let retry = env
                .send(env.post("/v1/auth/register").json(registration(&email)))
                .await;
            assert_eq!(retry.status, StatusCode::CREATED, "{:?}", retry.body);
            let user = user_id(&retry.body);
            assert_eq!(sessions_and_logins(&env, user).await, (1, 1), "{operation}");
        } else {
            assert_eq!(
                reply.status,
                StatusCode::CREATED,
                "{operation}: {:?}",
                reply.body
            );
            let user = user_id(&reply.body);
            assert_eq!(sessions_and_logins(&env, user).await, (1, 1), "{operation}");
        }
    }
}

#[tokio::test]
async fn a_login_failed_at_any_step_opens_no_session_and_its_retry_opens_exactly_one() {
    let env = FaultEnv::new().await;
    let email = TestEnv::email("login");
    let user = user_id(&env.register(&email).await);
    let mut expected = (1, 1);
    for operation in OPERATIONS {
        env.proxy.throttle().on(operation);
        let reply = env.login(&email, PASSWORD).await;
        env.proxy.heal();
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_unavailable(&reply);
            assert_eq!(
                sessions_and_logins(&env, user).await,
                expected,
                "{operation}"
            );
            let retry = env.login(&email, PASSWORD).await;
            assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
        } else {
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{operation}: {:?}",
                reply.body
            );
        }
        expected = (expected.0 + 1, expected.1 + 1);
        assert_eq!(
            sessions_and_logins(&env, user).await,
            expected,
            "after {operation}: one session and one history entry per login"
        );
    }
}

#[tokio::test]
async fn a_rotation_whose_answer_was_lost_hands_out_its_successor() {
    let env = FaultEnv::new().await;
    let tokens = env.register(&TestEnv::email("rotation")).await;
    // The rotation is applied, its answer cut; the SDK's retry then finds the token rotated.
    let before = env.proxy.seen("UpdateItem");
    env.proxy.cut().on("UpdateItem").nth(1);
    let reply = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&tokens)})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        env.proxy.seen("UpdateItem") - before,
        2,
        "the cut attempt and its retry"
    );
    env.proxy.heal();
    let next = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&reply.body)})),
        )
        .await;
    assert_eq!(
        next.status,
        StatusCode::OK,
        "the successor works: {:?}",
        next.body
    );
}

#[tokio::test]
async fn a_refresh_that_failed_before_rotating_can_be_retried_with_the_same_token() {
    let env = FaultEnv::new().await;
    let tokens = env.register(&TestEnv::email("refresh")).await;
    for operation in ["BatchGetItem", "UpdateItem"] {
        env.proxy.throttle().on(operation);
        let reply = env
            .send(
                env.post("/v1/auth/refresh")
                    .json(json!({"refresh_token": refresh(&tokens)})),
            )
            .await;
        assert_unavailable(&reply);
        env.proxy.heal();
    }
    let retry = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&tokens)})),
        )
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
}

#[tokio::test]
async fn a_logout_that_failed_leaves_the_session_and_its_retry_ends_it() {
    let env = FaultEnv::new().await;
    let tokens = env.register(&TestEnv::email("logout")).await;
    let token = access(&tokens);
    env.proxy.throttle().on("TransactWriteItems");
    let reply = env.send(env.post("/v1/auth/logout").bearer(&token)).await;
    assert_unavailable(&reply);
    env.proxy.heal();
    assert_eq!(env.me_status(&token).await, StatusCode::OK);
    let retry = env.send(env.post("/v1/auth/logout").bearer(&token)).await;
    assert_eq!(retry.status, StatusCode::NO_CONTENT, "{:?}", retry.body);
    assert_eq!(env.me_status(&token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_change_whose_session_ends_failed_is_finished_by_its_retry() {
    let env = FaultEnv::new().await;
    let email = TestEnv::email("password");
    let mine = access(&env.register(&email).await);
    let other = access(&env.login_ok(&email).await);
    let change = json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"});
    env.proxy.throttle().on("BatchWriteItem");
    let reply = env
        .send(
            env.post("/v1/auth/password")
                .bearer(&mine)
                .json(change.clone()),
        )
        .await;
    assert_unavailable(&reply);
    env.proxy.heal();
    let retry = env
        .send(env.post("/v1/auth/password").bearer(&mine).json(change))
        .await;
    assert_eq!(retry.status, StatusCode::NO_CONTENT, "{:?}", retry.body);
    assert_eq!(env.me_status(&other).await, StatusCode::UNAUTHORIZED);
    assert_eq!(env.me_status(&mine).await, StatusCode::OK);
    let login = env.login(&email, "a brand new passphrase").await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
}

#[tokio::test]
async fn a_deactivation_whose_session_ends_failed_is_finished_by_its_retry() {
    let env = FaultEnv::new().await;
    let admin = access(&env.superuser().await);
    let tokens = env.register(&TestEnv::email("deactivated")).await;
    let user = user_id(&tokens);
    let path = format!("/v1/users/{user}");
    env.proxy.throttle().on("BatchWriteItem");
    let reply = env
        .send(
            env.patch(&path)
                .bearer(&admin)
                .json(json!({"is_active": false})),
        )
        .await;
    assert_unavailable(&reply);
    env.proxy.heal();
    assert_eq!(
        env.me_status(&access(&tokens)).await,
        StatusCode::UNAUTHORIZED
    );
    let retry = env
        .send(
            env.patch(&path)
                .bearer(&admin)
                .json(json!({"is_active": false})),
        )
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    assert_eq!(
        sessions_and_logins(&env, user).await.0,
        0,
        "no session left"
    );
}

#[tokio::test]
async fn a_consumption_whose_answer_was_lost_counts_once_when_retried() {
    let env = FaultEnv::new().await;
    let token = access(&env.register(&TestEnv::email("quota")).await);
    let consume = json!({"videos": 1, "duration_seconds": 30, "file_size_mb": 10, "idempotency_key": "upload-1"});
    // Every attempt is applied or not, and every answer is lost: the caller sees a 503.
    env.proxy.cut().on("TransactWriteItems");
    let reply = env
        .send(
            env.post("/v1/quota/consume")
                .bearer(&token)
                .json(consume.clone()),
        )
        .await;
    assert_unavailable(&reply);
    env.proxy.heal();
    let retry = env
        .send(
            env.post("/v1/quota/consume")
                .bearer(&token)
                .json(consume.clone()),
        )
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    assert_eq!(retry.body["usage"]["videos_count"], 1, "{:?}", retry.body);
    let release = json!({"idempotency_key": "upload-1"});
    env.proxy.cut().on("TransactWriteItems");
    let reply = env
        .send(
            env.post("/v1/quota/release")
                .bearer(&token)
                .json(release.clone()),
        )
        .await;
    assert_unavailable(&reply);
    env.proxy.heal();
    let retry = env
        .send(env.post("/v1/quota/release").bearer(&token).json(release))
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    assert_eq!(retry.body["usage"]["videos_count"], 0, "{:?}", retry.body);
}

/// A confirmed QR login from generation to the collecting poll, which runs under whatever
/// fault is set by `fault`; returns that poll's reply and the code and poll token.
async fn collect_qr(
    env: &FaultEnv,
    phone: &str,
    fault: impl Fn(&FaultEnv),
) -> (Value, String, String) {
    let generated = env.send(env.post("/v1/qr-auth/generate")).await;
    assert_eq!(
        generated.status,
        StatusCode::CREATED,
        "{:?}",
        generated.body
    );
    let code = generated.body["code"].as_str().unwrap().to_owned();
    let poll_token = generated.body["poll_token"].as_str().unwrap().to_owned();
    for action in ["scan", "confirm"] {
        let reply = env
            .send(
                env.post(&format!("/v1/qr-auth/{action}"))
                    .bearer(phone)
                    .json(json!({"code": code})),
            )
            .await;
        assert!(reply.status.is_success(), "{action}: {:?}", reply.body);
    }
    fault(env);
    let polled = poll_qr(env, &code, &poll_token).await;
    env.proxy.heal();
    (polled, code, poll_token)
}

/// A browser's status poll, a poll interval after the previous one.
async fn poll_qr(env: &FaultEnv, code: &str, poll_token: &str) -> Value {
    env.clock.advance(chrono::Duration::seconds(2));
    let reply = env
        .send(
            env.get(&format!("/v1/qr-auth/status/{code}"))
                .header("x-qr-poll-token", poll_token),
        )
        .await;
    json!({"status": reply.status.as_u16(), "body": reply.body, "retry_after": reply.headers.contains_key("retry-after")})
}

#[tokio::test]
async fn a_qr_collection_whose_session_write_failed_issues_nothing_and_a_new_code_recovers() {
    let env = FaultEnv::new().await;
    let tokens = env.register(&TestEnv::email("qr")).await;
    let (phone, user) = (access(&tokens), user_id(&tokens));
    let (failed, code, poll_token) = collect_qr(&env, &phone, |env| {
        env.proxy.throttle().on("TransactWriteItems");
    })
    .await;
    assert_eq!(failed["status"], 503, "{failed:?}");
    assert_eq!(failed["body"]["error"]["code"], "service_unavailable");
    assert_eq!(failed["retry_after"], true);
    // The request was consumed before the session write failed: no tokens, no session.
    let later = poll_qr(&env, &code, &poll_token).await;
    assert_eq!(later["body"]["status"], "consumed", "{later:?}");
    assert!(later["body"].get("access_token").is_none());
    assert_eq!(
        sessions_and_logins(&env, user).await,
        (1, 1),
        "only the phone's"
    );
    // Recovery: a new code, scanned and confirmed again.
    let (collected, _, _) = collect_qr(&env, &phone, |_| {}).await;
    assert_eq!(collected["body"]["status"], "confirmed", "{collected:?}");
    assert!(collected["body"]["access_token"].is_string());
    assert_eq!(sessions_and_logins(&env, user).await, (2, 2));
}
