//! RBAC: the method → action table, roles granting and losing access on the next request, the
//! resource/action/role catalog with its conflicts and validation, and the bootstrap.

use axum::http::{Method, StatusCode};
use futures::future::join_all;
use serde_json::{Value, json};
use shared::domain::{CatalogKind, CodeName};

use crate::support::*;

/// A fresh env with the default actions and resources, and a superuser's access token.
pub async fn seeded() -> (TestEnv, String) {
    let env = TestEnv::new().await;
    shared::bootstrap::run(&env.ctx).await.unwrap();
    let admin = access(&env.superuser().await);
    (env, admin)
}

/// Creates a role through the API, asserting success.
pub async fn create_role(
    env: &TestEnv,
    admin: &str,
    code_name: &str,
    permissions: &[(&str, &str)],
) {
    let reply = env
        .send(env.post("/v1/roles").bearer(admin).json(json!({
            "code_name": code_name, "name": code_name, "permissions": permissions_json(permissions)
        })))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}

fn permissions_json(permissions: &[(&str, &str)]) -> Value {
    permissions
        .iter()
        .map(|(resource, action)| json!({"resource": resource, "action": action}))
        .collect()
}

/// Gives a user exactly these roles through the API, asserting success.
pub async fn set_roles(env: &TestEnv, admin: &str, user_id: &str, roles: &[&str]) {
    let reply = env
        .send(
            env.patch(&format!("/v1/users/{user_id}"))
                .bearer(admin)
                .json(json!({ "roles": roles })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["roles"], json!(roles));
}

/// The id of the user of a token response.
pub fn user_id(tokens: &Value) -> String {
    tokens["user"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_method_needs_its_action_or_all_on_a_real_admin_route() {
    let (env, admin) = seeded().await;
    let member = env.register(&TestEnv::email("member")).await;
    let token = access(&member);
    let target = user_id(&env.register(&TestEnv::email("target")).await);
    create_role(&env, &admin, "probe", &[]).await;
    set_roles(&env, &admin, &user_id(&member), &["probe"]).await;
    for granted in ["read", "create", "update", "delete", "all"] {
        let reply = env
            .send(env.patch("/v1/roles/probe").bearer(&admin).json(json!({
                "permissions": permissions_json(&[("quota", granted), ("sessions", granted)])
            })))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        for (method, wanted) in [
            (Method::GET, "read"),
            (Method::POST, "create"),
            (Method::PUT, "update"),
            (Method::DELETE, "delete"),
        ] {
            let call = match method {
                Method::GET => env.get("/v1/quota/users"),
                Method::POST => env.post(&format!("/v1/quota/users/{target}/reset")),
                Method::PUT => env.put(&format!("/v1/quota/users/{target}/limits")).json(
                    json!({"max_videos": 3, "max_duration_seconds": null, "max_file_size_mb": null}),
                ),
                _ => env.delete(&format!("/v1/sessions/users/{target}")),
            };
            let reply = env.send(call.bearer(&token)).await;
            let allowed = granted == wanted || granted == "all";
            if allowed {
                assert!(
                    reply.status.is_success(),
                    "{method} with `{granted}`: {:?}",
                    reply.body
                );
            } else {
                assert_error(&reply, StatusCode::FORBIDDEN, "forbidden");
            }
        }
    }
}

#[tokio::test]
async fn granting_a_role_applies_on_the_next_request_and_removing_it_too() {
    let (env, admin) = seeded().await;
    create_role(&env, &admin, "user-readers", &[("users", "read")]).await;
    let member = env.register(&TestEnv::email("promoted")).await;
    let token = access(&member);
    let list = || env.get("/v1/users").bearer(&token);
    assert_error(&env.send(list()).await, StatusCode::FORBIDDEN, "forbidden");

    set_roles(&env, &admin, &user_id(&member), &["user-readers"]).await;
    let granted = env.send(list()).await;
    assert_eq!(granted.status, StatusCode::OK, "same token, no new login");
    let edit = env
        .send(
            env.patch(&format!("/v1/users/{}", user_id(&member)))
                .bearer(&token)
                .json(json!({"roles": []})),
        )
        .await;
    assert_error(&edit, StatusCode::FORBIDDEN, "forbidden");

    let widened = env
        .send(env.patch("/v1/roles/user-readers").bearer(&admin).json(
            json!({"permissions": permissions_json(&[("users", "read"), ("users", "update")])}),
        ))
        .await;
    assert_eq!(widened.status, StatusCode::OK);
    let edit = env
        .send(
            env.patch(&format!("/v1/users/{}", user_id(&member)))
                .bearer(&token)
                .json(json!({"first_name": "Grace"})),
        )
        .await;
    assert_eq!(
        edit.status,
        StatusCode::OK,
        "a role change also applies at once"
    );

    set_roles(&env, &admin, &user_id(&member), &[]).await;
    assert_error(&env.send(list()).await, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn code_names_are_unique_per_kind() {
    let (env, admin) = seeded().await;
    for group in ["resources", "actions"] {
        let body = json!({"code_name": "reports", "name": "Reports", "description": "Monthly"});
        let first = env
            .send(
                env.post(&format!("/v1/{group}"))
                    .bearer(&admin)
                    .json(body.clone()),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        assert_eq!(first.body["code_name"], "reports");
        assert_eq!(first.body["description"], "Monthly");
        let again = env
            .send(env.post(&format!("/v1/{group}")).bearer(&admin).json(body))
            .await;
        assert_error(&again, StatusCode::CONFLICT, "already_exists");
    }
    create_role(&env, &admin, "auditors", &[("reports", "read")]).await;
    let again = env
        .send(
            env.post("/v1/roles")
                .bearer(&admin)
                .json(json!({"code_name": "auditors", "name": "Other"})),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "already_exists");
}

#[tokio::test]
async fn permissions_must_name_existing_resources_and_actions() {
    let (env, admin) = seeded().await;
    for (permission, code) in [
        (("ghosts", "read"), "unknown_resource"),
        (("users", "haunt"), "unknown_action"),
    ] {
        let create = env
            .send(env.post("/v1/roles").bearer(&admin).json(json!({
                "code_name": "spooky", "name": "Spooky",
                "permissions": permissions_json(&[("users", "read"), permission])
            })))
            .await;
        assert_error(&create, StatusCode::BAD_REQUEST, code);
    }
    let missing = env.send(env.get("/v1/roles/spooky").bearer(&admin)).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");

    create_role(&env, &admin, "readers", &[("users", "read")]).await;
    let edit = env
        .send(
            env.patch("/v1/roles/readers")
                .bearer(&admin)
                .json(json!({"permissions": permissions_json(&[("ghosts", "read")])})),
        )
        .await;
    assert_error(&edit, StatusCode::BAD_REQUEST, "unknown_resource");
    let kept = env.send(env.get("/v1/roles/readers").bearer(&admin)).await;
    assert_eq!(
        kept.body["permissions"],
        permissions_json(&[("users", "read")])
    );
}

#[tokio::test]
async fn resources_and_actions_in_use_cannot_be_deleted() {
    let (env, admin) = seeded().await;
    create_role(&env, &admin, "ticket-desk", &[("tickets", "update")]).await;
    for path in ["/v1/resources/tickets", "/v1/actions/update"] {
        let reply = env.send(env.delete(path).bearer(&admin)).await;
        assert_error(&reply, StatusCode::CONFLICT, "in_use");
    }
    let role = env
        .send(env.delete("/v1/roles/ticket-desk").bearer(&admin))
        .await;
    assert_eq!(role.status, StatusCode::NO_CONTENT, "{:?}", role.body);
    for path in ["/v1/resources/tickets", "/v1/actions/update"] {
        let reply = env.send(env.delete(path).bearer(&admin)).await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "{path}: {:?}",
            reply.body
        );
        let again = env.send(env.delete(path).bearer(&admin)).await;
        assert_error(&again, StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn editing_a_role_moves_what_it_keeps_in_use() {
    let (env, admin) = seeded().await;
    create_role(&env, &admin, "mover", &[("quota", "read")]).await;
    let moved = env
        .send(
            env.patch("/v1/roles/mover")
                .bearer(&admin)
                .json(json!({"permissions": permissions_json(&[("sessions", "delete")])})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let freed = env
        .send(env.delete("/v1/resources/quota").bearer(&admin))
        .await;
    assert_eq!(
        freed.status,
        StatusCode::NO_CONTENT,
        "quota is no longer named"
    );
    let held = env
        .send(env.delete("/v1/resources/sessions").bearer(&admin))
        .await;
    assert_error(&held, StatusCode::CONFLICT, "in_use");
}

#[tokio::test]
async fn creating_a_role_while_deleting_its_resource_never_leaves_a_dangling_permission() {
    let (env, admin) = seeded().await;
    for round in 0..8 {
        let resource = format!("contested-{round}");
        let created = env
            .send(
                env.post("/v1/resources")
                    .bearer(&admin)
                    .json(json!({"code_name": resource, "name": "Contested"})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        let role = format!("claimant-{round}");
        let replies = join_all([
            env.send(env.post("/v1/roles").bearer(&admin).json(json!({
                "code_name": role, "name": "Claimant",
                "permissions": permissions_json(&[(&resource, "read")])
            }))),
            env.send(
                env.delete(&format!("/v1/resources/{resource}"))
                    .bearer(&admin),
            ),
        ])
        .await;
        let (role_reply, delete_reply) = (&replies[0], &replies[1]);
        let role_code = CodeName::parse("x", &role).unwrap();
        let resource_code = CodeName::parse("x", &resource).unwrap();
        let stored_role = env.ctx.store.find_role(&role_code).await.unwrap();
        let stored_resource = env
            .ctx
            .store
            .find_catalog_item(CatalogKind::Resource, &resource_code)
            .await
            .unwrap();
        if role_reply.status == StatusCode::CREATED {
            assert_error(delete_reply, StatusCode::CONFLICT, "in_use");
            assert!(stored_role.is_some() && stored_resource.is_some());
        } else {
            assert_error(role_reply, StatusCode::BAD_REQUEST, "unknown_resource");
            assert_eq!(delete_reply.status, StatusCode::NO_CONTENT);
            assert!(stored_role.is_none() && stored_resource.is_none());
        }
    }
}

#[tokio::test]
async fn roles_are_listed_page_by_page_read_edited_and_deleted() {
    let (env, admin) = seeded().await;
    for code in ["c-role", "a-role", "b-role"] {
        create_role(&env, &admin, code, &[("users", "read"), ("users", "read")]).await;
    }
    let first = env.send(env.get("/v1/roles?limit=2").bearer(&admin)).await;
    assert_eq!(first.status, StatusCode::OK);
    let codes: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code_name"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["a-role", "b-role"]);
    assert_eq!(
        first.body["items"][0]["permissions"],
        permissions_json(&[("users", "read")]),
        "duplicate permissions are kept once"
    );
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = env
        .send(
            env.get(&format!("/v1/roles?limit=2&cursor={cursor}"))
                .bearer(&admin),
        )
        .await;
    assert_eq!(second.body["items"][0]["code_name"], "c-role");
    assert_eq!(second.body["next_cursor"], Value::Null);

    let edited = env
        .send(env.patch("/v1/roles/a-role").bearer(&admin).json(json!({
            "name": "Alpha", "description": "first",
            "permissions": permissions_json(&[("roles", "all")])
        })))
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    let read = env.send(env.get("/v1/roles/a-role").bearer(&admin)).await;
    assert_eq!(read.body["name"], "Alpha");
    assert_eq!(read.body["description"], "first");
    assert_eq!(
        read.body["permissions"],
        permissions_json(&[("roles", "all")])
    );

    let deleted = env
        .send(env.delete("/v1/roles/a-role").bearer(&admin))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = env.send(env.get("/v1/roles/a-role").bearer(&admin)).await;
    assert_error(&gone, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn resources_and_actions_are_listed_read_and_renamed() {
    let (env, admin) = seeded().await;
    let actions = env.send(env.get("/v1/actions").bearer(&admin)).await;
    let codes: Vec<&str> = actions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code_name"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["all", "create", "delete", "read", "update"]);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/resources?limit=3&cursor={c}"),
            None => "/v1/resources?limit=3".to_owned(),
        };
        let page = env.send(env.get(&path).bearer(&admin)).await;
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["code_name"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
    let renamed = env
        .send(
            env.patch("/v1/resources/quota")
                .bearer(&admin)
                .json(json!({"name": "Video quota"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    let read = env
        .send(env.get("/v1/resources/quota").bearer(&admin))
        .await;
    assert_eq!(read.body["name"], "Video quota");
    assert_eq!(
        read.body["code_name"], "quota",
        "the code name never changes"
    );
}

#[tokio::test]
async fn bad_rbac_input_is_refused_with_the_error_shape() {
    let (env, admin) = seeded().await;
    let post = |path: &str, body: Value| env.post(path).bearer(&admin).json(body);
    for (call, status, code) in [
        (
            post(
                "/v1/resources",
                json!({"code_name": "Bad Name", "name": "X"}),
            ),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            post("/v1/actions", json!({"code_name": "ok", "name": "  "})),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            post(
                "/v1/roles",
                json!({"code_name": "ok", "name": "X", "owner": "me"}),
            ),
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (
            post(
                "/v1/roles",
                json!({"code_name": "ok", "name": "X", "permissions": [{"resource": "users"}]}),
            ),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            env.patch("/v1/roles/nobody").bearer(&admin).json(json!({})),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            env.get("/v1/roles?limit=0").bearer(&admin),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            env.get("/v1/roles?limit=101").bearer(&admin),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            env.get("/v1/resources?cursor=%21%21").bearer(&admin),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            env.get("/v1/roles/Not%20A%20Code").bearer(&admin),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            env.get("/v1/actions/missing").bearer(&admin),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            env.patch("/v1/resources/missing")
                .bearer(&admin)
                .json(json!({"name": "X"})),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            env.get("/v1/roles"),
            StatusCode::UNAUTHORIZED,
            "missing_token",
        ),
    ] {
        let reply = env.send(call).await;
        assert_error(&reply, status, code);
    }
    let many: Vec<(String, &str)> = (0..41).map(|i| (format!("r{i}"), "read")).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(r, a)| (r.as_str(), *a)).collect();
    let reply = env
        .send(post(
            "/v1/roles",
            json!({"code_name": "big", "name": "Big", "permissions": permissions_json(&many)}),
        ))
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "too_many_permissions");
}

fn admin_config(email: String) -> impl FnOnce(&mut shared::config::Config) {
    move |c| {
        c.admin_email = Some(email);
        c.admin_password = Some(PASSWORD.into());
    }
}

#[tokio::test]
async fn bootstrap_twice_creates_nothing_twice() {
    let email = TestEnv::email("admin");
    let env = TestEnv::with_config(admin_config(email.clone())).await;
    let first = shared::bootstrap::run(&env.ctx).await.unwrap();
    assert_eq!(first.created_items, 13);
    assert!(first.created_admin);
    let second = shared::bootstrap::run(&env.ctx).await.unwrap();
    assert_eq!(second, shared::bootstrap::Outcome::default(), "nothing new");

    let admin = access(&env.login_ok(&email).await);
    let me = env.send(env.get("/v1/auth/me").bearer(&admin)).await;
    assert_eq!(me.body["is_superuser"], true);
    let users = env.send(env.get("/v1/users").bearer(&admin)).await;
    assert_eq!(users.body["items"].as_array().unwrap().len(), 1);
    let actions = env.send(env.get("/v1/actions").bearer(&admin)).await;
    assert_eq!(actions.body["items"].as_array().unwrap().len(), 5);
    let resources = env.send(env.get("/v1/resources").bearer(&admin)).await;
    assert_eq!(resources.body["items"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn racing_cold_starts_bootstrap_once() {
    let email = TestEnv::email("admin");
    let env = TestEnv::with_config(admin_config(email.clone())).await;
    let outcomes = join_all((0..3).map(|_| shared::bootstrap::run(&env.ctx))).await;
    let outcomes: Vec<_> = outcomes.into_iter().map(Result::unwrap).collect();
    assert_eq!(outcomes.iter().map(|o| o.created_items).sum::<usize>(), 13);
    assert_eq!(outcomes.iter().filter(|o| o.created_admin).count(), 1);
    let admin = access(&env.login_ok(&email).await);
    let users = env.send(env.get("/v1/users").bearer(&admin)).await;
    assert_eq!(users.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bootstrap_never_promotes_an_account_registered_with_another_password() {
    let email = TestEnv::email("squatter");
    let env = TestEnv::with_config(|c| {
        c.admin_email = Some(email.clone());
        c.admin_password = Some("the operator's own passphrase".into());
    })
    .await;
    let squatter = env.register(&email).await;
    let outcome = shared::bootstrap::run(&env.ctx).await.unwrap();
    assert!(!outcome.promoted_admin && !outcome.created_admin);
    assert!(outcome.refused_promotion, "{outcome:?}");
    let token = access(&squatter);
    let me = env.send(env.get("/v1/auth/me").bearer(&token)).await;
    assert_eq!(me.body["is_superuser"], false);
    let users = env.send(env.get("/v1/users").bearer(&token)).await;
    assert_error(&users, StatusCode::FORBIDDEN, "forbidden");
    let again = shared::bootstrap::run(&env.ctx).await.unwrap();
    assert!(!again.promoted_admin, "a later cold start refuses too");
}

#[tokio::test]
async fn bootstrap_promotes_an_existing_account_whose_password_is_the_configured_one() {
    let email = TestEnv::email("existing");
    let env = TestEnv::with_config(admin_config(email.clone())).await;
    let tokens = env.register(&email).await;
    // A promotion also needs a verified address (`email.rs` tests the refusal).
    env.verify_email_of(tokens["user"]["id"].as_str().unwrap())
        .await;
    let outcome = shared::bootstrap::run(&env.ctx).await.unwrap();
    assert!(outcome.promoted_admin && !outcome.created_admin && !outcome.refused_promotion);
    let users = env
        .send(env.get("/v1/users").bearer(&access(&tokens)))
        .await;
    assert_eq!(
        users.status,
        StatusCode::OK,
        "the live token has the new rights"
    );
    env.login_ok(&email).await;
}
