//! Deleting a role takes it from every holder at once: it grants nothing from the first moment,
//! no user view shows it afterwards, usage counts stay exact across batches, and an interrupted
//! deletion completes when repeated.

use axum::http::StatusCode;
use serde_json::json;
use shared::domain::{CodeName, Email, User, UserId};

use crate::rbac::{create_role, seeded, set_roles, user_id};
use crate::support::*;

/// More holders than one deletion transaction strips, so the deletion takes several batches.
const MANY: usize = 60;

/// Stores `count` users holding `role` directly (no password hashing, no sessions), counting
/// them on the role through the same store call the admin route uses; returns their ids.
async fn holders(env: &TestEnv, role: &str, count: usize) -> Vec<UserId> {
    let mut ids = Vec::new();
    for i in 0..count {
        let now = env.ctx.now();
        let user = User {
            id: UserId::new(),
            email: Email::parse(&TestEnv::email(&format!("holder{i}"))).unwrap(),
            password_hash: "not a hash: this account never signs in".into(),
            first_name: "Holder".into(),
            last_name: format!("{i}"),
            middle_name: None,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            roles: Vec::new(),
            created_at: now,
            updated_at: now,
            session_version: 0,
            password_changed_at: None,
            mfa_enabled: false,
            version: 1,
            email_verified: false,
        };
        assert!(
            env.ctx
                .store
                .create_user_without_session(&user)
                .await
                .unwrap()
        );
        let holding = User {
            roles: vec![role.to_owned()],
            updated_at: now + chrono::Duration::milliseconds(1),
            ..user.clone()
        };
        assert!(
            env.ctx
                .store
                .update_user_admin(&user, &holding)
                .await
                .unwrap()
        );
        ids.push(user.id);
    }
    ids
}

#[tokio::test]
async fn deleting_a_held_role_takes_it_from_every_holder_at_once() {
    let (env, admin) = seeded().await;
    let created = env
        .send(
            env.post("/v1/resources")
                .bearer(&admin)
                .json(json!({"code_name": "reports", "name": "Reports"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    create_role(
        &env,
        &admin,
        "auditors",
        &[("reports", "read"), ("users", "read")],
    )
    .await;
    let member = env.register(&TestEnv::email("auditor")).await;
    let token = access(&member);
    set_roles(&env, &admin, &user_id(&member), &["auditors"]).await;
    let many = holders(&env, "auditors", MANY).await;
    assert_eq!(
        env.send(env.get("/v1/users").bearer(&token)).await.status,
        StatusCode::OK
    );

    let deleted = env
        .send(env.delete("/v1/roles/auditors").bearer(&admin))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);

    let refused = env.send(env.get("/v1/users").bearer(&token)).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    let me = env.send(env.get("/v1/auth/me").bearer(&token)).await;
    assert_eq!(me.body["roles"], json!([]));
    for id in &many {
        let user = env.ctx.store.find_user(*id).await.unwrap().unwrap();
        assert!(user.roles.is_empty(), "{id} still holds {:?}", user.roles);
    }
    let view = env
        .send(env.get(&format!("/v1/users/{}", many[0])).bearer(&admin))
        .await;
    assert_eq!(view.body["roles"], json!([]));
    let listed = env
        .send(env.get("/v1/users?role=auditors").bearer(&admin))
        .await;
    assert_eq!(listed.body["items"], json!([]));
    let gone = env.send(env.get("/v1/roles/auditors").bearer(&admin)).await;
    assert_error(&gone, StatusCode::NOT_FOUND, "not_found");
    let again = env
        .send(env.delete("/v1/roles/auditors").bearer(&admin))
        .await;
    assert_error(&again, StatusCode::NOT_FOUND, "not_found");
    // The counts stayed exact: the role's resource is named by nothing now.
    let freed = env
        .send(env.delete("/v1/resources/reports").bearer(&admin))
        .await;
    assert_eq!(freed.status, StatusCode::NO_CONTENT, "{:?}", freed.body);
    // A new role of the same name starts with no holders.
    create_role(&env, &admin, "auditors", &[("users", "read")]).await;
    assert_error(
        &env.send(env.get("/v1/users").bearer(&token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn an_interrupted_role_deletion_grants_nothing_and_completes_when_repeated() {
    let (env, admin) = seeded().await;
    create_role(&env, &admin, "desk", &[("users", "read")]).await;
    let member = env.register(&TestEnv::email("desk")).await;
    let token = access(&member);
    set_roles(&env, &admin, &user_id(&member), &["desk"]).await;
    let member_id: UserId = user_id(&member).parse().unwrap();
    let read_before = env.ctx.store.find_user(member_id).await.unwrap().unwrap();
    let other = user_id(&env.register(&TestEnv::email("other")).await);

    // The first step of a deletion, as if the request had stopped right after it.
    let code = CodeName::parse("role", "desk").unwrap();
    assert!(
        env.ctx
            .store
            .mark_role_deleting(&code, &|_| Ok(()))
            .await
            .unwrap()
            .is_some()
    );

    let refused = env.send(env.get("/v1/users").bearer(&token)).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    let hidden = env.send(env.get("/v1/roles/desk").bearer(&admin)).await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "not_found");
    let roles = env.send(env.get("/v1/roles").bearer(&admin)).await;
    assert_eq!(roles.body["items"], json!([]));
    let edit = env
        .send(
            env.patch("/v1/roles/desk")
                .bearer(&admin)
                .json(json!({"name": "Desk"})),
        )
        .await;
    assert_error(&edit, StatusCode::NOT_FOUND, "not_found");
    let granted = env
        .send(
            env.patch(&format!("/v1/users/{other}"))
                .bearer(&admin)
                .json(json!({"roles": ["desk"]})),
        )
        .await;
    assert_error(&granted, StatusCode::BAD_REQUEST, "unknown_role");

    let completed = env.send(env.delete("/v1/roles/desk").bearer(&admin)).await;
    assert_eq!(
        completed.status,
        StatusCode::NO_CONTENT,
        "{:?}",
        completed.body
    );
    let me = env.send(env.get("/v1/auth/me").bearer(&token)).await;
    assert_eq!(me.body["roles"], json!([]));

    // An admin edit read before the deletion cannot write the role back.
    let stale_edit = User {
        first_name: "Stale".into(),
        updated_at: read_before.updated_at + chrono::Duration::milliseconds(1),
        ..read_before.clone()
    };
    assert!(
        !env.ctx
            .store
            .update_user_admin(&read_before, &stale_edit)
            .await
            .unwrap()
    );
    create_role(&env, &admin, "desk", &[]).await;
}
