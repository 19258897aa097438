//! Who may use admin rights on whom: only superusers manage RBAC and change roles, nobody
//! escalates through a role they hold, non-superusers never act on a superuser, nobody edits
//! their own roles or active flag, and the last active superuser stays. Every admin route of the
//! served OpenAPI document refuses a user without rights.

use axum::http::{Method, StatusCode};
use futures::future::join_all;
use serde_json::{Map, Value, json};

use crate::rbac::{create_role, seeded, set_roles, user_id};
use crate::support::*;

/// The id of the caller of `token`.
async fn own_id(env: &TestEnv, token: &str) -> String {
    let me = env.send(env.get("/v1/auth/me").bearer(token)).await;
    me.body["id"].as_str().unwrap().to_owned()
}

/// Registers a user holding one new role with `permissions`; returns their token response.
async fn holder(env: &TestEnv, admin: &str, role: &str, permissions: &[(&str, &str)]) -> Value {
    create_role(env, admin, role, permissions).await;
    let tokens = env.register(&TestEnv::email(role)).await;
    set_roles(env, admin, &user_id(&tokens), &[role]).await;
    tokens
}

#[tokio::test]
async fn a_user_admin_cannot_change_roles_nor_their_own_active_flag() {
    let (env, admin) = seeded().await;
    create_role(&env, &admin, "boss", &[("roles", "all")]).await;
    let member = holder(&env, &admin, "user-admins", &[("users", "all")]).await;
    let (token, own) = (access(&member), user_id(&member));
    let other = user_id(&env.register(&TestEnv::email("other")).await);
    env.verify_email_of(&other).await;
    for (path, body) in [
        (&own, json!({"roles": ["user-admins", "boss"]})),
        (&own, json!({"roles": []})),
        (&own, json!({"is_active": false})),
        (&other, json!({"roles": ["boss"]})),
    ] {
        let reply = env
            .send(
                env.patch(&format!("/v1/users/{path}"))
                    .bearer(&token)
                    .json(body.clone()),
            )
            .await;
        assert_error(&reply, StatusCode::FORBIDDEN, "forbidden");
    }
    let renamed = env
        .send(
            env.patch(&format!("/v1/users/{other}"))
                .bearer(&token)
                .json(json!({"first_name": "Grace", "is_staff": true})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    let deactivated = env
        .send(
            env.patch(&format!("/v1/users/{other}"))
                .bearer(&token)
                .json(json!({"is_active": false})),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{:?}", deactivated.body);
    let me = env.send(env.get("/v1/auth/me").bearer(&token)).await;
    assert_eq!(me.body["roles"], json!(["user-admins"]), "nothing changed");
    let theirs = env
        .send(env.get(&format!("/v1/users/{other}")).bearer(&admin))
        .await;
    assert_eq!(theirs.body["roles"], json!([]));
}

#[tokio::test]
async fn rights_on_the_rbac_catalog_let_a_non_superuser_read_it_but_never_change_it() {
    let (env, admin) = seeded().await;
    let member = holder(
        &env,
        &admin,
        "catalog-admins",
        &[("roles", "all"), ("resources", "all"), ("actions", "all")],
    )
    .await;
    let token = access(&member);
    let widen = json!({"permissions": [
        {"resource": "roles", "action": "all"}, {"resource": "users", "action": "all"}
    ]});
    for (method, path, body) in [
        (Method::PATCH, "/v1/roles/catalog-admins", Some(widen)),
        (
            Method::POST,
            "/v1/roles",
            Some(json!({"code_name": "mine", "name": "Mine",
                "permissions": [{"resource": "users", "action": "all"}]})),
        ),
        (Method::DELETE, "/v1/roles/catalog-admins", None),
        (
            Method::POST,
            "/v1/resources",
            Some(json!({"code_name": "reports", "name": "Reports"})),
        ),
        (
            Method::PATCH,
            "/v1/resources/users",
            Some(json!({"name": "People"})),
        ),
        (Method::DELETE, "/v1/actions/read", None),
        (
            Method::POST,
            "/v1/actions",
            Some(json!({"code_name": "export", "name": "Export"})),
        ),
    ] {
        let mut call = env.call(method.clone(), path).bearer(&token);
        if let Some(body) = body {
            call = call.json(body);
        }
        let reply = env.send(call).await;
        assert_error(&reply, StatusCode::FORBIDDEN, "forbidden");
    }
    for path in [
        "/v1/roles",
        "/v1/roles/catalog-admins",
        "/v1/resources",
        "/v1/actions/read",
    ] {
        let reply = env.send(env.get(path).bearer(&token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {:?}", reply.body);
    }
    let role = env
        .send(env.get("/v1/roles/catalog-admins").bearer(&admin))
        .await;
    assert_eq!(role.body["permissions"].as_array().unwrap().len(), 3);
    let users = env.send(env.get("/v1/users").bearer(&token)).await;
    assert_error(&users, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn a_non_superuser_never_acts_on_a_superuser_account() {
    let (env, admin) = seeded().await;
    let root = own_id(&env, &admin).await;
    let member = holder(
        &env,
        &admin,
        "deputies",
        &[("users", "all"), ("sessions", "all")],
    )
    .await;
    let token = access(&member);
    for call in [
        env.patch(&format!("/v1/users/{root}"))
            .json(json!({"first_name": "Mallory"})),
        env.patch(&format!("/v1/users/{root}"))
            .json(json!({"is_active": false})),
        env.post(&format!("/v1/users/{root}/revoke-all")),
        env.delete(&format!("/v1/sessions/users/{root}")),
    ] {
        let reply = env.send(call.bearer(&token)).await;
        assert_error(&reply, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(
        env.me_status(&admin).await,
        StatusCode::OK,
        "still signed in"
    );
    let me = env.send(env.get("/v1/auth/me").bearer(&admin)).await;
    assert_eq!(me.body["first_name"], "Ada");
    let read = env
        .send(env.get(&format!("/v1/users/{root}")).bearer(&token))
        .await;
    assert_eq!(read.status, StatusCode::OK, "reading is not acting");
    let sessions = env
        .send(
            env.get(&format!("/v1/sessions/users/{root}"))
                .bearer(&token),
        )
        .await;
    assert_eq!(sessions.status, StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_users_sessions_needs_update_not_create() {
    let (env, admin) = seeded().await;
    let creator = access(&holder(&env, &admin, "creators", &[("users", "create")]).await);
    let updater = access(&holder(&env, &admin, "updaters", &[("users", "update")]).await);
    let target = env.register(&TestEnv::email("target")).await;
    let path = format!("/v1/users/{}/revoke-all", user_id(&target));
    let refused = env.send(env.post(&path).bearer(&creator)).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(env.me_status(&access(&target)).await, StatusCode::OK);
    let done = env.send(env.post(&path).bearer(&updater)).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(
        env.me_status(&access(&target)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_superuser_cannot_deactivate_themselves_or_change_their_own_roles() {
    let (env, admin) = seeded().await;
    create_role(&env, &admin, "extra", &[]).await;
    let own = own_id(&env, &admin).await;
    for body in [json!({"is_active": false}), json!({"roles": ["extra"]})] {
        let reply = env
            .send(
                env.patch(&format!("/v1/users/{own}"))
                    .bearer(&admin)
                    .json(body),
            )
            .await;
        assert_error(&reply, StatusCode::FORBIDDEN, "forbidden");
    }
    let renamed = env
        .send(
            env.patch(&format!("/v1/users/{own}"))
                .bearer(&admin)
                .json(json!({"last_name": "Byron"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "own names are fine");
    assert_eq!(renamed.body["roles"], json!([]));
}

/// Two superusers deactivating each other at once: at most one succeeds, and an active
/// superuser always remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_superusers_deactivating_each_other_leave_one_active() {
    let (env, first) = seeded().await;
    let second = access(&env.superuser().await);
    let (first_id, second_id) = (own_id(&env, &first).await, own_id(&env, &second).await);
    let deactivate = |token: &str, id: &str| {
        env.send(
            env.patch(&format!("/v1/users/{id}"))
                .bearer(token)
                .json(json!({"is_active": false})),
        )
    };
    let replies = join_all([
        deactivate(&first, &second_id),
        deactivate(&second, &first_id),
    ])
    .await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{replies:?}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
        assert!(
            [StatusCode::CONFLICT, StatusCode::UNAUTHORIZED].contains(&reply.status),
            "{reply:?}"
        );
    }
    let mut active = 0;
    for id in [&first_id, &second_id] {
        let user = env.ctx.store.find_user(id.parse().unwrap()).await.unwrap();
        active += usize::from(user.unwrap().is_active);
    }
    assert_eq!(active, 1);
}

#[tokio::test]
async fn the_last_active_superuser_cannot_be_deactivated_even_from_a_stale_read() {
    let (env, first) = seeded().await;
    let second = access(&env.superuser().await);
    let first_id: shared::domain::UserId = own_id(&env, &first).await.parse().unwrap();
    let second_id: shared::domain::UserId = own_id(&env, &second).await.parse().unwrap();
    let store = &env.ctx.store;
    // Both deactivations start from the same precondition: two active superusers.
    let first_before = store.find_user(first_id).await.unwrap().unwrap();
    let second_before = store.find_user(second_id).await.unwrap().unwrap();
    let deactivated = |user: &shared::domain::User| shared::domain::User {
        is_active: false,
        updated_at: user.updated_at + chrono::Duration::milliseconds(1),
        ..user.clone()
    };
    assert!(
        store
            .update_user_admin(&first_before, &deactivated(&first_before))
            .await
            .unwrap()
    );
    let last = store
        .update_user_admin(&second_before, &deactivated(&second_before))
        .await;
    match last {
        Err(shared::Error::Conflict { code, .. }) => assert_eq!(code, "last_superuser"),
        other => panic!("the last superuser was deactivated: {other:?}"),
    }
    assert!(store.find_user(second_id).await.unwrap().unwrap().is_active);

    let reply = env
        .send(
            env.patch(&format!("/v1/users/{first_id}"))
                .bearer(&second)
                .json(json!({"is_active": true})),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "reactivation counts them again"
    );
    let email = env
        .send(env.get(&format!("/v1/users/{first_id}")).bearer(&second))
        .await
        .body["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = access(&env.login_ok(&email).await);
    let reply = env
        .send(
            env.patch(&format!("/v1/users/{second_id}"))
                .bearer(&first)
                .json(json!({"is_active": false})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
}

/// A plausible value for a path parameter, by name.
fn path_value(name: &str, user: &str) -> String {
    match name {
        "id" | "user_id" => user.to_owned(),
        "code_name" => "users".to_owned(),
        other => panic!("no plausible value for path parameter `{other}`"),
    }
}

/// A body that satisfies `schema` structurally: every required property with a value of its
/// type, following `$ref`s into the document's components.
fn sample(document: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return sample(document, &document["components"]["schemas"][name]);
    }
    for alternatives in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = schema[alternatives]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["type"] != "null").or_else(|| a.first()))
        {
            return sample(document, first);
        }
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    match kind.as_str() {
        Some("object") => {
            let mut object = Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                object.insert(
                    name.to_owned(),
                    sample(document, &schema["properties"][name]),
                );
            }
            Value::Object(object)
        }
        Some("array") => json!([]),
        Some("string") => json!("sample"),
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        _ => Value::Null,
    }
}

/// The resource an operation's security requirement declares (the admin routes), if any.
fn declared_resource(operation: &Value) -> Option<String> {
    operation["security"]
        .as_array()?
        .iter()
        .filter_map(|requirement| requirement["bearer"].as_array())
        .flatten()
        .filter_map(|scope| scope.as_str().map(str::to_owned))
        .next()
}

/// The HTTP method of an operation key of a path item; `None` for other keys (`parameters`,
/// `summary`, ...).
fn operation_method(key: &str) -> Option<Method> {
    [
        "get", "put", "post", "delete", "patch", "head", "options", "trace",
    ]
    .contains(&key)
    .then(|| key.to_uppercase().parse().unwrap())
}

/// Every admin operation of the served document: (method, path template, declared resource).
async fn admin_operations(env: &TestEnv) -> (Value, Vec<(Method, String, String)>) {
    let reply = env.send(env.get("/v1/openapi.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let document = reply.body;
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(method) = operation_method(method) else {
                continue;
            };
            if let Some(resource) = declared_resource(operation) {
                operations.push((method, path.clone(), resource));
            }
        }
    }
    (document, operations)
}

#[tokio::test]
async fn every_admin_route_of_the_document_declares_a_known_resource() {
    let env = TestEnv::new().await;
    let (document, operations) = admin_operations(&env).await;
    let known: Vec<&str> = shared::rbac::Resource::ALL
        .iter()
        .map(|r| r.code_name())
        .collect();
    for (method, path, resource) in &operations {
        assert!(
            known.contains(&resource.as_str()),
            "{method} {path}: {resource}"
        );
    }
    // Every operation under an admin prefix declares its resource, so a new admin route that
    // forgets it is caught here rather than silently skipped by the walk below.
    let admin_prefixes = [
        "/v1/users",
        "/v1/roles",
        "/v1/resources",
        "/v1/actions",
        "/v1/sessions/users",
        "/v1/quota/users",
    ];
    for (path, item) in document["paths"].as_object().unwrap() {
        if !admin_prefixes.iter().any(|p| path.starts_with(p)) {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            if operation_method(method).is_some() {
                assert!(
                    declared_resource(operation).is_some(),
                    "{method} {path} declares no resource"
                );
            }
        }
    }
    assert!(operations.len() >= 25, "{}", operations.len());
}

#[tokio::test]
async fn every_admin_route_of_the_document_refuses_a_user_without_the_right() {
    let (env, admin) = seeded().await;
    let (document, operations) = admin_operations(&env).await;
    let target = user_id(&env.register(&TestEnv::email("target")).await);
    let nobody = access(&env.register(&TestEnv::email("nobody")).await);
    // One user per resource holding every right on every other resource, so a route that
    // checks the wrong resource is caught as well as one that checks none.
    let mut all_but = std::collections::HashMap::new();
    for resource in shared::rbac::Resource::ALL {
        let others: Vec<(&str, &str)> = shared::rbac::Resource::ALL
            .iter()
            .filter(|r| **r != resource)
            .map(|r| (r.code_name(), "all"))
            .collect();
        let role = format!("all-but-{}", resource.code_name());
        let tokens = holder(&env, &admin, &role, &others).await;
        all_but.insert(resource.code_name().to_owned(), access(&tokens));
    }
    for (method, template, resource) in &operations {
        let mut path = template.clone();
        while let Some(start) = path.find('{') {
            let end = start + path[start..].find('}').unwrap();
            let value = path_value(&path[start + 1..end], &target);
            path.replace_range(start..=end, &value);
        }
        let operation = &document["paths"][template][method.as_str().to_lowercase()];
        let body = operation["requestBody"]["content"]["application/json"]["schema"]
            .as_object()
            .map(|schema| sample(&document, &Value::Object(schema.clone())));
        for token in [&nobody, &all_but[resource]] {
            let mut call = env.call(method.clone(), &path).bearer(token);
            if let Some(body) = &body {
                call = call.json(body.clone());
            }
            let reply = env.send(call).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{method} {path} ({resource}): {:?}",
                reply.body
            );
            assert_error(&reply, StatusCode::FORBIDDEN, "forbidden");
        }
    }
}
