//! The web app's admin pages over HTTP, with browser cookies: every page and form decided by
//! the API's authorization (a plain user gets 403 everywhere, a reader only reads), and the
//! changes they make (deactivation signs the user out of the browser and the API, roles,
//! quotas, sessions), versioned forms refused when stale.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{PASSWORD, Reply, TestEnv, access};
use crate::web_support::{Browser, hidden, html};

fn location(reply: &Reply) -> &str {
    reply
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Asserts a `303 See Other` to `to`.
fn assert_see_other(reply: &Reply, to: &str) {
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", html(reply));
    assert_eq!(location(reply), to);
}

fn user_id(tokens: &Value) -> String {
    tokens["user"]["id"].as_str().unwrap().to_owned()
}

/// A fresh env seeded by the bootstrap (default resources and actions, the first superuser),
/// that superuser signed in with the web form, and their API token.
async fn seeded() -> (TestEnv, Browser, String) {
    let email = TestEnv::email("root");
    let env = TestEnv::with_config(|c| {
        c.admin_email = Some(email.clone());
        c.admin_password = Some(PASSWORD.into());
    })
    .await;
    assert!(
        shared::bootstrap::run(&env.ctx)
            .await
            .unwrap()
            .created_admin
    );
    let browser = Browser::sign_in(&env, &email).await;
    let token = access(&env.login_ok(&email).await);
    (env, browser, token)
}

/// A role granting `permissions` (resource, action), created through the API.
async fn role(env: &TestEnv, root: &str, code: &str, permissions: &[(&str, &str)]) {
    let permissions: Vec<Value> = permissions
        .iter()
        .map(|(resource, action)| json!({"resource": resource, "action": action}))
        .collect();
    let reply = env
        .send(env.post("/v1/roles").bearer(root).json(json!({
            "code_name": code, "name": code, "permissions": permissions
        })))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}

/// Gives `user` the roles `roles` through the API.
async fn give(env: &TestEnv, root: &str, user: &str, roles: &[&str]) {
    let reply = env
        .send(
            env.patch(&format!("/v1/users/{user}"))
                .bearer(root)
                .json(json!({ "roles": roles })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
}

async fn is_active(env: &TestEnv, root: &str, user: &str) -> bool {
    let reply = env
        .send(env.get(&format!("/v1/users/{user}")).bearer(root))
        .await;
    reply.body["is_active"].as_bool().unwrap()
}

#[tokio::test]
async fn a_plain_user_is_refused_every_admin_page_and_form() {
    let (env, _, root) = seeded().await;
    let victim = env.register(&TestEnv::email("victim")).await;
    let victim_id = user_id(&victim);
    let email = TestEnv::email("plain");
    env.register(&email).await;
    let mut plain = Browser::sign_in(&env, &email).await;

    let index = plain.get(&env, "/admin").await;
    assert_eq!(index.status, StatusCode::FORBIDDEN);
    assert!(html(&index).contains("no administrative rights"));
    for path in [
        "/admin/users".to_owned(),
        format!("/admin/users/{victim_id}"),
        "/admin/roles".to_owned(),
        "/admin/resources".to_owned(),
        "/admin/actions".to_owned(),
        "/admin/quota".to_owned(),
        format!("/admin/quota/{victim_id}"),
        "/admin/audit".to_owned(),
    ] {
        let reply = plain.get(&env, &path).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "GET {path}");
    }
    let session = victim["session_id"].as_str().unwrap();
    let posts: [(String, &[(&str, &str)]); 9] = [
        (
            format!("/admin/users/{victim_id}/active"),
            &[("active", "false"), ("etag", "\"v1\"")],
        ),
        (
            format!("/admin/users/{victim_id}/roles"),
            &[("etag", "\"v1\"")],
        ),
        (format!("/admin/users/{victim_id}/sessions/end"), &[]),
        (
            format!("/admin/users/{victim_id}/sessions/{session}/end"),
            &[],
        ),
        (
            "/admin/roles".to_owned(),
            &[("code_name", "sneaky"), ("name", "Sneaky")],
        ),
        (
            "/admin/roles/sneaky".to_owned(),
            &[("name", "Sneaky"), ("etag", "\"v1\"")],
        ),
        (
            "/admin/roles/sneaky/delete".to_owned(),
            &[("etag", "\"v1\"")],
        ),
        (format!("/admin/quota/{victim_id}/reset"), &[]),
        (
            format!("/admin/quota/{victim_id}/limits"),
            &[("max_videos", "0")],
        ),
    ];
    for (path, fields) in &posts {
        let reply = plain.post(&env, path, fields).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "POST {path}");
        assert!(html(&reply).contains("forbidden"), "POST {path}");
    }
    assert!(is_active(&env, &root, &victim_id).await);
    assert_eq!(env.me_status(&access(&victim)).await, StatusCode::OK);
    let roles = env.send(env.get("/v1/roles").bearer(&root)).await;
    assert!(
        roles.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["code_name"] != "sneaky")
    );
}

#[tokio::test]
async fn a_users_reader_sees_users_but_not_roles_and_cannot_deactivate() {
    let (env, _, root) = seeded().await;
    let victim_email = TestEnv::email("victim");
    let victim = env.register(&victim_email).await;
    let victim_id = user_id(&victim);
    let email = TestEnv::email("reader");
    let reader = env.register(&email).await;
    role(&env, &root, "user-reader", &[("users", "read")]).await;
    give(&env, &root, &user_id(&reader), &["user-reader"]).await;
    let mut browser = Browser::sign_in(&env, &email).await;

    let index = browser.get(&env, "/admin").await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(html(&index).contains("href=\"/admin/users\""));
    assert!(!html(&index).contains("href=\"/admin/roles\""));
    assert!(!html(&index).contains("href=\"/admin/quota\""));

    let users = browser.get(&env, "/admin/users").await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(html(&users).contains(&victim_email));
    let page = browser
        .get(&env, &format!("/admin/users/{victim_id}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(html(&page).contains(&victim_email));
    assert!(
        !html(&page).contains("Deactivate"),
        "no form it may not use"
    );
    assert!(
        !html(&page).contains("Terminate"),
        "no sessions without sessions:read"
    );
    assert_eq!(
        browser.get(&env, "/admin/roles").await.status,
        StatusCode::FORBIDDEN
    );

    // The form typed in by hand, with the right version: still refused.
    let etag = env
        .send(env.get(&format!("/v1/users/{victim_id}")).bearer(&root))
        .await
        .headers["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let refused = browser
        .post(
            &env,
            &format!("/admin/users/{victim_id}/active"),
            &[("active", "false"), ("etag", &etag)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(html(&refused).contains("you may not update users"));
    assert!(is_active(&env, &root, &victim_id).await);
    assert_eq!(env.me_status(&access(&victim)).await, StatusCode::OK);
}

#[tokio::test]
async fn a_superuser_deactivates_a_user_who_is_signed_out_of_the_browser_and_the_api() {
    let (env, mut root, root_token) = seeded().await;
    let victim_email = TestEnv::email("victim");
    let victim = env.register(&victim_email).await;
    let victim_id = user_id(&victim);
    let mut victim_browser = Browser::sign_in(&env, &victim_email).await;
    assert_eq!(
        victim_browser.get(&env, "/account").await.status,
        StatusCode::OK
    );

    // The list pages with the cursor.
    let first = root.get(&env, "/admin/users?limit=1").await;
    assert_eq!(first.status, StatusCode::OK);
    let next = html(&first)
        .split("cursor=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next page")
        .to_owned();
    let second = root
        .get(&env, &format!("/admin/users?limit=1&cursor={next}"))
        .await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(html(&second).contains("First page"));
    let listed = format!("{}{}", html(&first), html(&second));
    assert!(listed.contains(&victim_email));

    let path = format!("/admin/users/{victim_id}");
    let page = root.get(&env, &path).await;
    assert_eq!(page.status, StatusCode::OK);
    let etag = hidden(&page, "etag");
    let done = root
        .post(
            &env,
            &format!("{path}/active"),
            &[("active", "false"), ("etag", &etag)],
        )
        .await;
    assert_see_other(&done, &format!("{path}?done=user-deactivated"));
    let shown = root.get(&env, location(&done)).await;
    assert!(html(&shown).contains("The user was deactivated"));
    assert!(!is_active(&env, &root_token, &victim_id).await);

    // The victim's very next page: signed out, cookies cleared, off to sign in.
    let next_page = victim_browser.get(&env, "/account").await;
    assert_eq!(next_page.status, StatusCode::SEE_OTHER);
    assert!(location(&next_page).starts_with("/sign-in"));
    assert!(!victim_browser.cookies.contains_key("sesame-access"));
    assert_eq!(
        env.me_status(&access(&victim)).await,
        StatusCode::UNAUTHORIZED
    );

    // The form as it was rendered, before the deactivation: stale.
    let stale = root
        .post(
            &env,
            &format!("{path}/active"),
            &[("active", "true"), ("etag", &etag)],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert!(html(&stale).contains("changed since"));
    assert!(!is_active(&env, &root_token, &victim_id).await);

    // Nobody deactivates themselves: their own page has no such form.
    let own_id = env
        .send(env.get("/v1/auth/me").bearer(&root_token))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = root.get(&env, &format!("/admin/users/{own_id}")).await;
    assert!(!html(&own).contains("Deactivate"));
}

#[tokio::test]
async fn roles_are_created_edited_given_and_deleted_from_the_pages() {
    let (env, mut root, root_token) = seeded().await;
    let holder = env.register(&TestEnv::email("holder")).await;
    let holder_id = user_id(&holder);

    let catalog = root.get(&env, "/admin/resources").await;
    assert_eq!(catalog.status, StatusCode::OK);
    assert!(html(&catalog).contains("<code>quota</code>"));
    let actions = root.get(&env, "/admin/actions").await;
    assert!(html(&actions).contains("<code>read</code>"));

    let created = root
        .post(
            &env,
            "/admin/roles",
            &[
                ("code_name", "auditor"),
                ("name", "Auditor"),
                ("description", "Reads users"),
                ("permission", "users:read"),
                ("permission", "quota:read"),
            ],
        )
        .await;
    assert_see_other(&created, "/admin/roles/auditor?done=role-created");
    let list = root.get(&env, "/admin/roles").await;
    assert!(html(&list).contains("read on quota, read on users"));
    // The same code name again: refused, the form kept as it was filled in.
    let taken = root
        .post(
            &env,
            "/admin/roles",
            &[
                ("code_name", "auditor"),
                ("name", "Second"),
                ("permission", "tickets:read"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(html(&taken).contains("already exists"));
    assert!(html(&taken).contains("value=\"Second\""));
    assert!(html(&taken).contains("value=\"tickets:read\" checked"));
    let page = root.get(&env, location(&created)).await;
    assert!(html(&page).contains("The role was created"));
    assert!(html(&page).contains("value=\"users:read\" checked"));
    let first = hidden(&page, "etag");

    let saved = root
        .post(
            &env,
            "/admin/roles/auditor",
            &[
                ("name", "Quota keeper"),
                ("description", ""),
                ("permission", "quota:all"),
                ("etag", &first),
            ],
        )
        .await;
    assert_see_other(&saved, "/admin/roles/auditor?done=role-saved");
    let stale = root
        .post(
            &env,
            "/admin/roles/auditor",
            &[("name", "Lost"), ("etag", &first)],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert!(html(&stale).contains("changed since"));
    let api = env
        .send(env.get("/v1/roles/auditor").bearer(&root_token))
        .await;
    assert_eq!(api.body["name"], "Quota keeper");
    assert_eq!(
        api.body["permissions"],
        json!([{"resource": "quota", "action": "all"}])
    );

    // Given to a user on the user's page.
    let user_page = root.get(&env, &format!("/admin/users/{holder_id}")).await;
    assert!(html(&user_page).contains("value=\"auditor\""));
    let given = root
        .post(
            &env,
            &format!("/admin/users/{holder_id}/roles"),
            &[("role", "auditor"), ("etag", &hidden(&user_page, "etag"))],
        )
        .await;
    assert_see_other(&given, &format!("/admin/users/{holder_id}?done=user-roles"));
    let holder_view = env
        .send(
            env.get(&format!("/v1/users/{holder_id}"))
                .bearer(&root_token),
        )
        .await;
    assert_eq!(holder_view.body["roles"], json!(["auditor"]));

    let page = root.get(&env, "/admin/roles/auditor").await;
    let deleted = root
        .post(
            &env,
            "/admin/roles/auditor/delete",
            &[("etag", &hidden(&page, "etag"))],
        )
        .await;
    assert_see_other(&deleted, "/admin/roles?done=role-deleted");
    assert_eq!(
        root.get(&env, "/admin/roles/auditor").await.status,
        StatusCode::NOT_FOUND
    );
    let holder_view = env
        .send(
            env.get(&format!("/v1/users/{holder_id}"))
                .bearer(&root_token),
        )
        .await;
    assert_eq!(holder_view.body["roles"], json!([]));
}

#[tokio::test]
async fn quotas_are_listed_reset_and_limited_from_the_pages() {
    let (env, mut root, _) = seeded().await;
    let user = env.register(&TestEnv::email("uploader")).await;
    let id = user_id(&user);
    let consumed = env
        .send(env.post("/v1/quota/consume").bearer(&access(&user)).json(json!({
            "videos": 2, "duration_seconds": 30.5, "file_size_mb": 1, "idempotency_key": "k1"
        })))
        .await;
    assert_eq!(consumed.status, StatusCode::OK, "{:?}", consumed.body);

    let list = root.get(&env, "/admin/quota").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(html(&list).contains(&format!("/admin/quota/{id}")));
    let page = root.get(&env, &format!("/admin/quota/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(html(&page).contains("30.5 s of"));

    let reset = root
        .post(&env, &format!("/admin/quota/{id}/reset"), &[])
        .await;
    assert_see_other(&reset, &format!("/admin/quota/{id}?done=quota-reset"));
    let own = env.send(env.get("/v1/quota").bearer(&access(&user))).await;
    assert_eq!(own.body["usage"]["videos_count"], 0);

    let limited = root
        .post(
            &env,
            &format!("/admin/quota/{id}/limits"),
            &[
                ("max_videos", "3"),
                ("max_duration_seconds", ""),
                ("max_file_size_mb", "7"),
            ],
        )
        .await;
    assert_see_other(&limited, &format!("/admin/quota/{id}?done=quota-limits"));
    let own = env.send(env.get("/v1/quota").bearer(&access(&user))).await;
    assert_eq!(own.body["limits"]["max_videos"], 3);
    assert_eq!(own.body["limits"]["max_file_size_mb"], 7);
    let page = root.get(&env, &format!("/admin/quota/{id}")).await;
    assert!(
        html(&page)
            .contains("name=\"max_videos\" type=\"number\" min=\"0\" step=\"1\" value=\"3\"")
    );

    let invalid = root
        .post(
            &env,
            &format!("/admin/quota/{id}/limits"),
            &[("max_videos", "-1"), ("max_file_size_mb", "many")],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    let own = env.send(env.get("/v1/quota").bearer(&access(&user))).await;
    assert_eq!(own.body["limits"]["max_videos"], 3);
}

#[tokio::test]
async fn a_users_sessions_are_terminated_one_or_all_from_the_pages() {
    let (env, mut root, _) = seeded().await;
    let email = TestEnv::email("traveller");
    let first = env.register(&email).await;
    let second = env.login_ok(&email).await;
    let third = env.login_ok(&email).await;
    let id = user_id(&first);
    let path = format!("/admin/users/{id}");

    let page = root.get(&env, &path).await;
    let listed = html(&page).matches("data-session=").count();
    assert_eq!(listed, 3);
    let session = second["session_id"].as_str().unwrap();
    let ended = root
        .post(&env, &format!("{path}/sessions/{session}/end"), &[])
        .await;
    assert_see_other(&ended, &format!("{path}?done=user-session-ended"));
    assert_eq!(
        env.me_status(&access(&second)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(env.me_status(&access(&third)).await, StatusCode::OK);
    let again = root
        .post(&env, &format!("{path}/sessions/{session}/end"), &[])
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let all = root.post(&env, &format!("{path}/sessions/end"), &[]).await;
    assert_see_other(&all, &format!("{path}?done=user-sessions-ended"));
    for tokens in [&first, &third] {
        assert_eq!(
            env.me_status(&access(tokens)).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let page = root.get(&env, &path).await;
    assert!(html(&page).contains("No live sessions."));
}

#[tokio::test]
async fn a_users_editor_deactivates_plain_users_but_changes_no_roles_and_no_superuser() {
    let (env, _, root) = seeded().await;
    let root_id = env.send(env.get("/v1/auth/me").bearer(&root)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let plain = env.register(&TestEnv::email("plain")).await;
    let plain_id = user_id(&plain);
    let email = TestEnv::email("editor");
    let editor = env.register(&email).await;
    role(&env, &root, "user-editor", &[("users", "all")]).await;
    give(&env, &root, &user_id(&editor), &["user-editor"]).await;
    let mut browser = Browser::sign_in(&env, &email).await;

    let page = browser.get(&env, &format!("/admin/users/{plain_id}")).await;
    assert!(html(&page).contains("Deactivate"));
    assert!(
        !html(&page).contains("Save the roles"),
        "only superusers change roles"
    );
    let etag = hidden(&page, "etag");
    let roles = browser
        .post(
            &env,
            &format!("/admin/users/{plain_id}/roles"),
            &[("role", "user-editor"), ("etag", &etag)],
        )
        .await;
    assert_eq!(roles.status, StatusCode::FORBIDDEN);
    assert!(html(&roles).contains("only a superuser may change a user"));

    let superuser = browser.get(&env, &format!("/admin/users/{root_id}")).await;
    assert_eq!(superuser.status, StatusCode::OK);
    assert!(!html(&superuser).contains("Deactivate"));
    let root_etag = env
        .send(env.get(&format!("/v1/users/{root_id}")).bearer(&root))
        .await
        .headers["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let refused = browser
        .post(
            &env,
            &format!("/admin/users/{root_id}/active"),
            &[("active", "false"), ("etag", &root_etag)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(is_active(&env, &root, &root_id).await);

    let done = browser
        .post(
            &env,
            &format!("/admin/users/{plain_id}/active"),
            &[("active", "false"), ("etag", &etag)],
        )
        .await;
    assert_see_other(
        &done,
        &format!("/admin/users/{plain_id}?done=user-deactivated"),
    );
    assert!(!is_active(&env, &root, &plain_id).await);
    assert_eq!(
        env.me_status(&access(&plain)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_audit_page_filters_events_and_a_user_sees_their_own_activity() {
    let (env, mut root, _) = seeded().await;
    let email = TestEnv::email("watched");
    let watched = env.register(&email).await;
    let watched_id = user_id(&watched);
    assert_eq!(
        env.login(&email, "wrong password").await.status,
        StatusCode::UNAUTHORIZED
    );

    let everything = root.get(&env, "/admin/audit").await;
    assert_eq!(everything.status, StatusCode::OK, "{}", html(&everything));
    assert!(html(&everything).contains("data-event=\"account.registered\""));
    assert!(html(&everything).contains("data-event=\"bootstrap.superuser_created\""));
    let failed = root
        .get(
            &env,
            &format!("/admin/audit?type=login.failed&subject={watched_id}"),
        )
        .await;
    assert_eq!(failed.status, StatusCode::OK);
    assert_eq!(
        html(&failed).matches("data-event=").count(),
        1,
        "{}",
        html(&failed)
    );
    assert!(html(&failed).contains("wrong_password"));
    let bad = root.get(&env, "/admin/audit?actor=nobody").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let mut own = Browser::sign_in(&env, &email).await;
    let activity = own.get(&env, "/account/activity").await;
    assert_eq!(activity.status, StatusCode::OK);
    let page = html(&activity);
    for kind in ["login.succeeded", "login.failed", "account.registered"] {
        assert!(
            page.contains(&format!("data-event=\"{kind}\"")),
            "{kind}: {page}"
        );
    }
    assert!(
        !page.contains("bootstrap."),
        "only the account's own events"
    );
    assert!(html(&own.get(&env, "/account").await).contains("href=\"/account/activity\""));
}
