//! User administration: listing with filters and cursors, reading and editing users,
//! deactivation ending everything at once, and revoking a user's sessions.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::json;

use crate::rbac::{create_role, seeded, set_roles, user_id};
use crate::support::*;

/// Every user id the list yields when followed page by page with `query`.
async fn walk(env: &TestEnv, admin: &str, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let path = match &cursor {
            Some(c) => format!("/v1/users?{query}&cursor={c}"),
            None => format!("/v1/users?{query}"),
        };
        let page = env.send(env.get(&path).bearer(admin)).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        for user in page.body["items"].as_array().unwrap() {
            assert!(user.get("password_hash").is_none());
            ids.push(user["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
    panic!("the cursors never ended");
}

#[tokio::test]
async fn listing_users_page_by_page_yields_everyone_exactly_once() {
    let (env, admin) = seeded().await;
    for i in 0..6 {
        env.register(&TestEnv::email(&format!("u{i}"))).await;
    }
    for limit in [1, 3, 7, 100] {
        let ids = walk(&env, &admin, &format!("limit={limit}")).await;
        assert_eq!(ids.len(), 7, "limit {limit}: {ids:?}");
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 7, "no one twice");
    }
}

#[tokio::test]
async fn users_are_filtered_by_status_and_role_across_pages() {
    let (env, admin) = seeded().await;
    create_role(&env, &admin, "support", &[("tickets", "all")]).await;
    let mut inactive = HashSet::new();
    let mut supporters = HashSet::new();
    for i in 0..7 {
        let id = user_id(&env.register(&TestEnv::email(&format!("f{i}"))).await);
        if i % 3 == 0 {
            let reply = env
                .send(
                    env.patch(&format!("/v1/users/{id}"))
                        .bearer(&admin)
                        .json(json!({"is_active": false})),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK);
            inactive.insert(id.clone());
        }
        if i % 2 == 1 {
            set_roles(&env, &admin, &id, &["support"]).await;
            supporters.insert(id);
        }
    }
    let found: HashSet<String> = walk(&env, &admin, "limit=1&is_active=false")
        .await
        .into_iter()
        .collect();
    assert_eq!(found, inactive);
    let found: HashSet<String> = walk(&env, &admin, "limit=2&role=support")
        .await
        .into_iter()
        .collect();
    assert_eq!(found, supporters);
    let active = walk(&env, &admin, "limit=2&is_active=true").await;
    assert_eq!(
        active.len(),
        8 - inactive.len(),
        "the superuser is active too"
    );
    let bad = env
        .send(env.get("/v1/users?is_active=maybe").bearer(&admin))
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "validation_failed");
    let bad = env
        .send(env.get("/v1/users?cursor=bm90LWFuLWlk").bearer(&admin))
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_cursor");
}

#[tokio::test]
async fn deactivation_refuses_the_live_token_refresh_and_login_at_once() {
    let (env, admin) = seeded().await;
    let email = TestEnv::email("leaver");
    let tokens = env.register(&email).await;
    let other_device = env.login_ok(&email).await;
    let id = user_id(&tokens);
    let reply = env
        .send(
            env.patch(&format!("/v1/users/{id}"))
                .bearer(&admin)
                .json(json!({"is_active": false})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["is_active"], false);

    assert_eq!(
        env.me_status(&access(&tokens)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.me_status(&access(&other_device)).await,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&tokens)})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    let login = env.login(&email, PASSWORD).await;
    assert_error(&login, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let stored = env
        .ctx
        .store
        .find_user_sessions(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.sessions.is_empty(), "every session was ended");

    let reactivated = env
        .send(
            env.patch(&format!("/v1/users/{id}"))
                .bearer(&admin)
                .json(json!({"is_active": true})),
        )
        .await;
    assert_eq!(reactivated.status, StatusCode::OK);
    env.login_ok(&email).await;
    assert_eq!(
        env.me_status(&access(&tokens)).await,
        StatusCode::UNAUTHORIZED,
        "old sessions stay ended"
    );
}

#[tokio::test]
async fn an_admin_reads_and_edits_a_user_but_cannot_make_a_superuser() {
    let (env, admin) = seeded().await;
    let id = user_id(&env.register(&TestEnv::email("edited")).await);
    env.verify_email_of(&id.to_string()).await;
    let path = format!("/v1/users/{id}");
    let edited = env
        .send(env.patch(&path).bearer(&admin).json(json!({
            "is_staff": true, "first_name": " Grace ", "last_name": "Hopper", "middle_name": "B"
        })))
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    let read = env.send(env.get(&path).bearer(&admin)).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["first_name"], "Grace");
    assert_eq!(read.body["middle_name"], "B");
    assert_eq!(read.body["is_staff"], true);
    assert!(read.body.get("password_hash").is_none());
    let cleared = env
        .send(
            env.patch(&path)
                .bearer(&admin)
                .json(json!({"middle_name": ""})),
        )
        .await;
    assert_eq!(cleared.body["middle_name"], serde_json::Value::Null);

    for (body, code) in [
        (json!({"is_superuser": true}), "unknown_field"),
        (json!({"roles": ["ghost"]}), "unknown_role"),
        (json!({"roles": ["Not Valid"]}), "validation_failed"),
        (json!({"first_name": ""}), "validation_failed"),
        (json!({}), "validation_failed"),
        (json!({"is_active": "no"}), "validation_failed"),
    ] {
        let reply = env.send(env.patch(&path).bearer(&admin).json(body)).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, code);
    }
    let still = env.send(env.get(&path).bearer(&admin)).await;
    assert_eq!(still.body["is_superuser"], false);
    assert_eq!(still.body["roles"], json!([]));

    let unknown = format!("/v1/users/{}", shared::domain::UserId::new());
    for call in [
        env.get(&unknown),
        env.patch(&unknown).json(json!({"is_staff": true})),
        env.post(&format!("{unknown}/revoke-all")),
        env.get("/v1/users/not-a-uuid"),
    ] {
        let reply = env.send(call.bearer(&admin)).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn revoke_all_ends_every_session_of_the_user_who_may_sign_in_again() {
    let (env, admin) = seeded().await;
    let email = TestEnv::email("revoked");
    let tokens = env.register(&email).await;
    let second = env.login_ok(&email).await;
    let reply = env
        .send(
            env.post(&format!("/v1/users/{}/revoke-all", user_id(&tokens)))
                .bearer(&admin),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body, json!({"terminated": 2}));
    assert_eq!(
        env.me_status(&access(&tokens)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.me_status(&access(&second)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.me_status(&admin).await,
        StatusCode::OK,
        "the admin's session is untouched"
    );
    env.login_ok(&email).await;
}
