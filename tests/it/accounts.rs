//! Registration, login, profile and password change.

use axum::http::StatusCode;
use serde_json::json;
use shared::domain::{CreatedVia, DeviceType, UserId};

use crate::support::*;

#[tokio::test]
async fn registration_signs_in_and_me_shows_the_account() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("Ada");
    let tokens = env.register(&format!("  {}  ", email.to_uppercase())).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["user"].get("password_hash").is_none());
    let me = env
        .send(env.get("/v1/auth/me").bearer(&access(&tokens)))
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], email.to_lowercase());
    assert_eq!(me.body["first_name"], "Ada");
    assert_eq!(me.body["is_active"], true);

    let user_id: UserId = me.body["id"].as_str().unwrap().parse().unwrap();
    let stored = env
        .ctx
        .store
        .find_user_sessions(user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.sessions.len(), 1);
    let session = &stored.sessions[0];
    assert_eq!(session.created_via, CreatedVia::Register);
    assert_eq!(session.device.device_type, DeviceType::Desktop);
    assert_eq!(session.device.browser, "Chrome");
    assert_eq!(session.ip.as_deref(), Some("203.0.113.10"));
    assert!(
        stored.user.password_hash.starts_with("$argon2id$"),
        "only the hash is stored"
    );
}

#[tokio::test]
async fn registration_refuses_bad_input_with_field_errors() {
    let env = TestEnv::new().await;
    let valid = json!({"email": "x@example.test", "password": PASSWORD, "password2": PASSWORD,
        "first_name": "A", "last_name": "B"});
    let cases = [
        ("email", json!("not-an-email")),
        ("password", json!("short")),
        ("password", json!("password123")),
        ("password2", json!("something else entirely")),
        ("first_name", json!("   ")),
    ];
    for (field, value) in cases {
        let mut body = valid.clone();
        body[field] = value;
        let reply = env.send(env.post("/v1/auth/register").json(body)).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        let fields = reply.body["error"]["fields"].as_object().unwrap();
        assert!(fields.contains_key(field), "{field}: {:?}", reply.body);
    }
}

#[tokio::test]
async fn an_email_can_register_once_whatever_its_case() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("dup");
    env.register(&email).await;
    let reply = env
        .send(
            env.post("/v1/auth/register")
                .json(json!({"email": email.to_uppercase(), "password": PASSWORD,
            "password2": PASSWORD, "first_name": "A", "last_name": "B"})),
        )
        .await;
    assert_error(&reply, StatusCode::CONFLICT, "email_taken");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("known");
    env.register(&email).await;
    let unknown = env.login(&TestEnv::email("nobody"), PASSWORD).await;
    let wrong = env.login(&email, "wrong password here").await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(
        unknown.body["error"]["message"],
        wrong.body["error"]["message"]
    );
    let ok = env.login_ok(&email).await;
    assert_eq!(env.me_status(&access(&ok)).await, StatusCode::OK);
}

#[tokio::test]
async fn an_inactive_user_cannot_log_in_and_their_tokens_stop_working() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("inactive");
    let tokens = env.register(&email).await;
    let user_id: UserId = tokens["user"]["id"].as_str().unwrap().parse().unwrap();
    // Deactivated in the store alone (the admin route also ends the sessions): the guard's own
    // check of the user is what refuses the still-stored session.
    let before = env.ctx.store.find_user(user_id).await.unwrap().unwrap();
    let after = shared::domain::User {
        is_active: false,
        ..before.clone()
    };
    assert!(
        env.ctx
            .store
            .update_user_admin(&before, &after)
            .await
            .unwrap()
    );

    assert_eq!(
        env.me_status(&access(&tokens)).await,
        StatusCode::UNAUTHORIZED
    );
    let login = env.login(&email, PASSWORD).await;
    assert_error(&login, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let refreshed = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&tokens)})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    let since = env.ctx.now() - chrono::Duration::days(1);
    let history = env
        .ctx
        .store
        .login_outcomes_since(user_id, since)
        .await
        .unwrap();
    assert_eq!(
        history[0].1,
        shared::domain::LoginOutcome::Inactive,
        "the attempt is in the history"
    );
}

#[tokio::test]
async fn patch_me_changes_names_and_refuses_bad_fields() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("names")).await;
    let token = access(&tokens);
    let reply = env
        .send(
            env.patch("/v1/auth/me")
                .bearer(&token)
                .json(json!({"first_name": "Grace", "middle_name": "B."})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["first_name"], "Grace");
    assert_eq!(reply.body["last_name"], "Lovelace");
    assert_eq!(reply.body["middle_name"], "B.");
    let cleared = env
        .send(
            env.patch("/v1/auth/me")
                .bearer(&token)
                .json(json!({"middle_name": ""})),
        )
        .await;
    assert_eq!(cleared.body["middle_name"], serde_json::Value::Null);
    let me = env.send(env.get("/v1/auth/me").bearer(&token)).await;
    assert_eq!(me.body["first_name"], "Grace");

    let unknown = env
        .send(
            env.patch("/v1/auth/me")
                .bearer(&token)
                .json(json!({"email": "x@y.z"})),
        )
        .await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "unknown_field");
    let empty = env
        .send(env.patch("/v1/auth/me").bearer(&token).json(json!({})))
        .await;
    assert_error(&empty, StatusCode::BAD_REQUEST, "validation_failed");
    let wrong_type = env
        .send(
            env.patch("/v1/auth/me")
                .bearer(&token)
                .json(json!({"first_name": 7})),
        )
        .await;
    assert_error(&wrong_type, StatusCode::BAD_REQUEST, "validation_failed");
    let anonymous = env
        .send(env.patch("/v1/auth/me").json(json!({"first_name": "X"})))
        .await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "missing_token");
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_ends_other_sessions() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("pw");
    let phone = env.register(&email).await;
    let laptop = env.login_ok(&email).await;
    let new_password = "a different long passphrase";

    let wrong = env
        .send(
            env.post("/v1/auth/password")
                .bearer(&access(&laptop))
                .json(json!({"current_password": "not it at all", "new_password": new_password})),
        )
        .await;
    assert_error(&wrong, StatusCode::FORBIDDEN, "invalid_current_password");
    let weak = env
        .send(
            env.post("/v1/auth/password")
                .bearer(&access(&laptop))
                .json(json!({"current_password": PASSWORD, "new_password": "12345678"})),
        )
        .await;
    assert_error(&weak, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(
        env.me_status(&access(&phone)).await,
        StatusCode::OK,
        "refusals change nothing"
    );

    let changed = env
        .send(
            env.post("/v1/auth/password")
                .bearer(&access(&laptop))
                .json(json!({"current_password": PASSWORD, "new_password": new_password})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    assert_eq!(
        env.me_status(&access(&laptop)).await,
        StatusCode::OK,
        "the current session stays"
    );
    assert_eq!(
        env.me_status(&access(&phone)).await,
        StatusCode::UNAUTHORIZED,
        "other sessions end"
    );
    assert_error(
        &env.login(&email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    assert_eq!(env.login(&email, new_password).await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_kills_the_access_token_on_the_next_request() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("logout");
    let tokens = env.register(&email).await;
    let other = env.login_ok(&email).await;
    let logout = env
        .send(env.post("/v1/auth/logout").bearer(&access(&tokens)))
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let after = env
        .send(env.get("/v1/auth/me").bearer(&access(&tokens)))
        .await;
    assert_error(&after, StatusCode::UNAUTHORIZED, "session_ended");
    let refreshed = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&tokens)})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        env.me_status(&access(&other)).await,
        StatusCode::OK,
        "only that session ended"
    );
}

#[tokio::test]
async fn revoke_ends_the_session_of_a_refresh_token() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("revoke");
    let tokens = env.register(&email).await;
    let other = env.login_ok(&email).await;
    let reply = env
        .send(
            env.post("/v1/auth/revoke")
                .json(json!({"refresh_token": refresh(&tokens)})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.me_status(&access(&tokens)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(env.me_status(&access(&other)).await, StatusCode::OK);
    let unknown = env
        .send(
            env.post("/v1/auth/revoke")
                .json(json!({"refresh_token": "garbage"})),
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::NO_CONTENT,
        "RFC 7009: unknown tokens are not an error"
    );
    let missing = env.send(env.post("/v1/auth/revoke").json(json!({}))).await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test]
async fn revoke_all_ends_every_session_of_the_caller_only() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("all");
    let first = env.register(&email).await;
    let second = env.login_ok(&email).await;
    let stranger = env.register(&TestEnv::email("stranger")).await;
    let reply = env
        .send(env.post("/v1/auth/revoke-all").bearer(&access(&second)))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.me_status(&access(&first)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.me_status(&access(&second)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(env.me_status(&access(&stranger)).await, StatusCode::OK);
}

#[tokio::test]
async fn sessions_end_after_their_absolute_lifetime() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("old")).await;
    env.clock.advance(chrono::Duration::days(29));
    let refreshed = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&tokens)})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    env.clock
        .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    // A token minted just now for the session proves the session's own expiry refuses it.
    let user_id: UserId = tokens["user"]["id"].as_str().unwrap().parse().unwrap();
    let session_id = tokens["session_id"].as_str().unwrap().parse().unwrap();
    let (fresh, _) = shared::tokens::issue_access_token(
        &env.ctx.signer,
        &env.ctx.config,
        user_id,
        session_id,
        env.ctx.now(),
    )
    .unwrap();
    let me = env.send(env.get("/v1/auth/me").bearer(&fresh)).await;
    assert_error(&me, StatusCode::UNAUTHORIZED, "session_ended");
    let again = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&refreshed.body)})),
        )
        .await;
    assert_error(&again, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
}

#[tokio::test]
async fn changes_to_a_user_apply_on_their_next_request_without_a_new_login() {
    let env = TestEnv::new().await;
    let tokens = env.superuser().await;
    let me = env
        .send(env.get("/v1/auth/me").bearer(&access(&tokens)))
        .await;
    assert_eq!(me.body["is_superuser"], true);
    assert_eq!(
        tokens["user"]["is_superuser"], false,
        "the token was issued before the promotion"
    );
}
