//! Password changes racing other writes, with the interleaving forced step by step: the other
//! request's read happens first, the password change commits, then the other request commits.

use axum::http::StatusCode;
use serde_json::json;
use shared::auth::{self, ProfileChanges};
use shared::client::ClientInfo;
use shared::domain::{CreatedVia, Device, Location, UserId};

use crate::support::*;

const NEW_PASSWORD: &str = "a completely new passphrase";

async fn change_password(env: &TestEnv, tokens: &serde_json::Value) {
    let changed = env
        .send(
            env.post("/v1/auth/password")
                .bearer(&access(tokens))
                .json(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
}

#[tokio::test]
async fn a_profile_update_read_before_a_password_change_does_not_restore_the_old_password() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("patch-race");
    let tokens = env.register(&email).await;
    // The PATCH authenticates (reading the profile with the old hash) ...
    let stale = auth::authenticate(&env.ctx, &access(&tokens))
        .await
        .unwrap();
    // ... the password change commits ...
    change_password(&env, &tokens).await;
    // ... and then the PATCH writes.
    let changes = ProfileChanges {
        first_name: Some("Grace".into()),
        ..ProfileChanges::default()
    };
    let view = auth::update_profile(&env.ctx, &stale, changes)
        .await
        .unwrap();
    assert_eq!(view.first_name, "Grace");

    assert_error(
        &env.login(&email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let fresh = env.login(&email, NEW_PASSWORD).await;
    assert_eq!(fresh.status, StatusCode::OK, "{:?}", fresh.body);
    assert_eq!(fresh.body["user"]["first_name"], "Grace");
    assert_eq!(fresh.body["user"]["last_name"], "Lovelace");
}

#[tokio::test]
async fn a_login_that_verified_the_old_password_cannot_commit_after_a_password_change() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("login-race");
    let tokens = env.register(&email).await;
    let user: UserId = tokens["user"]["id"].as_str().unwrap().parse().unwrap();
    // A login reads the account and verifies the old password ...
    let account = env
        .ctx
        .store
        .find_user_sessions(user)
        .await
        .unwrap()
        .unwrap();
    assert!(
        env.ctx
            .hasher
            .verify(PASSWORD, &account.user.password_hash)
            .await
            .unwrap()
    );
    // ... the password change commits ...
    change_password(&env, &tokens).await;
    // ... and then the login tries to open its session.
    let client = ClientInfo {
        ip: Some("203.0.113.10".into()),
        device: Device::from_user_agent(Some(CHROME_MAC)),
        location: Location::default(),
    };
    let late = auth::start_session(&env.ctx, account, &client, CreatedVia::Password).await;
    assert!(
        matches!(
            late,
            Err(shared::Error::Unauthorized {
                code: "invalid_credentials",
                ..
            })
        ),
        "the late login is refused like a wrong password"
    );
    let stored = env
        .ctx
        .store
        .find_user_sessions(user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.sessions.len(),
        1,
        "only the session that changed the password is left"
    );
}
