//! Every paginated list, driven from one table: pages of any size return every item exactly
//! once and in order, the last page ends with `next_cursor: null`, and a cursor that is not the
//! list's own (forged, tampered, oversized, malformed, another list's, another user's) is 400
//! `invalid_cursor`, never a 500.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestEnv, access, assert_error};

/// A list route, who reads it, and the member that identifies an item.
struct ListRoute {
    name: &'static str,
    path: String,
    token: String,
    id: &'static str,
    /// How many items the world below puts in it, when the test knows exactly.
    expected: Option<usize>,
}

/// A world with at least five items in every list, and the list routes over it.
async fn world(env: &TestEnv) -> Vec<ListRoute> {
    let admin = access(&env.superuser().await);
    let email = TestEnv::email("lister");
    let user_tokens = env.register(&email).await;
    let user = access(&user_tokens);
    let user_id = user_tokens["user"]["id"].as_str().unwrap().to_owned();
    // Five history entries beside the registration: four logins and one wrong password; the
    // logins also make five live sessions.
    for _ in 0..4 {
        env.login_ok(&email).await;
    }
    assert_eq!(
        env.login(&email, "not the password").await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut ticket = String::new();
    for n in 0..5 {
        let reply = env
            .send(env.post("/v1/tickets").bearer(&user).json(json!({
                "subject": format!("ticket {n}"), "description": "It does not work.",
                "category": "general", "priority": "normal"
            })))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        ticket = reply.body["id"].as_str().unwrap().to_owned();
    }
    for n in 0..5 {
        let reply = env
            .send(
                env.post(&format!("/v1/tickets/{ticket}/responses"))
                    .bearer(&user)
                    .json(json!({"message": format!("response {n}")})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    for n in 0..5 {
        let token = access(&env.register(&TestEnv::email("quota")).await);
        let reply = env
            .send(env.post("/v1/quota/consume").bearer(&token).json(json!({
                "videos": 1, "duration_seconds": 1.5, "file_size_mb": 1, "idempotency_key": format!("k{n}")
            })))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }
    for n in 0..5 {
        for (path, body) in [
            (
                "/v1/resources",
                json!({"code_name": format!("res{n}"), "name": "R", "description": "d"}),
            ),
            (
                "/v1/actions",
                json!({"code_name": format!("act{n}"), "name": "A", "description": "d"}),
            ),
            (
                "/v1/roles",
                json!({"code_name": format!("role{n}"), "name": "Role", "permissions": []}),
            ),
        ] {
            let reply = env.send(env.post(path).bearer(&admin).json(body)).await;
            assert_eq!(
                reply.status,
                StatusCode::CREATED,
                "{path}: {:?}",
                reply.body
            );
        }
    }
    let route = |name, path: String, token: &str, id, expected| ListRoute {
        name,
        path,
        token: token.to_owned(),
        id,
        expected,
    };
    vec![
        route("history", "/v1/sessions/history".into(), &user, "id", None),
        route("sessions", "/v1/sessions".into(), &user, "id", Some(5)),
        route(
            "admin sessions",
            format!("/v1/sessions/users/{user_id}"),
            &admin,
            "id",
            Some(5),
        ),
        route("users", "/v1/users".into(), &admin, "id", Some(7)),
        route("roles", "/v1/roles".into(), &admin, "code_name", None),
        route(
            "resources",
            "/v1/resources".into(),
            &admin,
            "code_name",
            None,
        ),
        route("actions", "/v1/actions".into(), &admin, "code_name", None),
        route("own tickets", "/v1/tickets".into(), &user, "id", Some(5)),
        route(
            "operator tickets",
            "/v1/tickets".into(),
            &admin,
            "id",
            Some(5),
        ),
        route(
            "quotas",
            "/v1/quota/users".into(),
            &admin,
            "user_id",
            Some(5),
        ),
        route(
            "ticket thread",
            format!("/v1/tickets/{ticket}/responses"),
            &user,
            "id",
            Some(5),
        ),
    ]
}

fn with_query(path: &str, query: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}{query}")
}

/// One page of a list; asserts 200.
async fn page(env: &TestEnv, list: &ListRoute, limit: usize, cursor: Option<&str>) -> Value {
    let mut path = with_query(&list.path, &format!("limit={limit}"));
    if let Some(cursor) = cursor {
        path = with_query(&path, &format!("cursor={cursor}"));
    }
    let reply = env.send(env.get(&path).bearer(&list.token)).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}: {:?}",
        list.name,
        reply.body
    );
    reply.body
}

/// Every page of size `limit`, following cursors; the ids in order. Asserts that only the
/// last page lacks a cursor, that no page is over `limit`, and that only the last page is
/// short (none of these lists is filtered), so the last page is never an empty one.
async fn walk(env: &TestEnv, list: &ListRoute, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let body = page(env, list, limit, cursor.as_deref()).await;
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= limit, "{}: page over {limit}", list.name);
        ids.extend(
            items
                .iter()
                .map(|item| item[list.id].as_str().unwrap().to_owned()),
        );
        match body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(
                    items.len(),
                    limit,
                    "{}: a short page points at another",
                    list.name
                );
                cursor = Some(next.to_owned());
            }
            None => {
                assert!(
                    !items.is_empty() || ids.is_empty(),
                    "{}: the last page of {limit} is empty",
                    list.name
                );
                return ids;
            }
        }
    }
    panic!("{}: the list never ended", list.name);
}

#[tokio::test]
async fn every_list_pages_each_item_exactly_once_in_order() {
    let env = TestEnv::new().await;
    for list in world(&env).await {
        let all = walk(&env, &list, 100).await;
        assert!(all.len() >= 5, "{}: {} items", list.name, all.len());
        if let Some(expected) = list.expected {
            assert_eq!(all.len(), expected, "{}", list.name);
        }
        for size in [1, 2, all.len()] {
            assert_eq!(
                walk(&env, &list, size).await,
                all,
                "{} with pages of {size}",
                list.name
            );
        }
    }
}

#[tokio::test]
async fn history_pages_of_two_reach_the_fifth_entry() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("history");
    let token = access(&env.register(&email).await);
    for _ in 0..5 {
        assert_eq!(
            env.login(&email, "wrong password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let list = ListRoute {
        name: "history",
        path: "/v1/sessions/history".into(),
        token,
        id: "id",
        expected: None,
    };
    let ids = walk(&env, &list, 2).await;
    let failures = ids.len();
    assert!(failures >= 5, "only {failures} entries reached");
}

/// Flips one character of a cursor's position part, keeping its shape.
fn tampered(cursor: &str) -> String {
    let (position, tag) = cursor.split_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(position).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    format!("{}.{tag}", URL_SAFE_NO_PAD.encode(bytes))
}

#[tokio::test]
async fn cursors_that_are_not_the_lists_own_are_400_on_every_list() {
    let env = TestEnv::new().await;
    let lists = world(&env).await;
    // Someone else's history cursor: the same list shape, another user's.
    let other_email = TestEnv::email("other");
    let other = access(&env.register(&other_email).await);
    for _ in 0..3 {
        env.login(&other_email, PASSWORD).await;
    }
    let other_history = ListRoute {
        name: "other history",
        path: "/v1/sessions/history".into(),
        token: other,
        id: "id",
        expected: None,
    };
    let foreign = page(&env, &other_history, 1, None).await["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    for (n, list) in lists.iter().enumerate() {
        let own = page(&env, list, 1, None).await["next_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        // Three on: never the same list under another route (own and admin session lists of
        // one user are one list).
        let neighbour = &lists[(n + 3) % lists.len()];
        let neighbours = page(&env, neighbour, 1, None).await["next_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        let (position, _) = own.split_once('.').unwrap();
        let unsigned = URL_SAFE_NO_PAD.encode(URL_SAFE_NO_PAD.decode(position).unwrap());
        let cases = [
            ("garbage", "garbage".to_owned()),
            ("empty", String::new()),
            (
                "oversized",
                format!("{}.{}", "A".repeat(2000), "B".repeat(43)),
            ),
            ("not base64", "%21%21%21.%3F%3F".to_owned()),
            ("unsigned position", unsigned),
            ("tampered position", tampered(&own)),
            ("truncated tag", own[..own.len() - 4].to_owned()),
            ("another list's", neighbours),
            ("another user's", foreign.clone()),
            (
                "forged json",
                format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(r#"{"pk":"USER#x"}"#),
                    "A".repeat(43)
                ),
            ),
        ];
        for (case, cursor) in cases {
            let path = with_query(&list.path, &format!("cursor={cursor}"));
            let reply = env.send(env.get(&path).bearer(&list.token)).await;
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::BAD_REQUEST, "invalid_cursor"),
                "{}: {case}: {:?}",
                list.name,
                reply.body
            );
            assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_cursor");
        }
        for limit in ["0", "101", "word", "-1"] {
            let path = with_query(&list.path, &format!("limit={limit}"));
            let reply = env.send(env.get(&path).bearer(&list.token)).await;
            assert_eq!(
                reply.code(),
                "invalid_query",
                "{}: limit={limit}",
                list.name
            );
            assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_query");
        }
    }
}

#[tokio::test]
async fn a_paged_session_list_still_marks_the_current_session() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("current");
    env.register(&email).await;
    env.login_ok(&email).await;
    let current = env.login_ok(&email).await;
    let list = ListRoute {
        name: "sessions",
        path: "/v1/sessions".into(),
        token: access(&current),
        id: "id",
        expected: Some(3),
    };
    let mut marked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let body = page(&env, &list, 1, cursor.as_deref()).await;
        for item in body["items"].as_array().unwrap() {
            if item["current"] == true {
                marked.push(item["id"].as_str().unwrap().to_owned());
            }
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(marked, [current["session_id"].as_str().unwrap()]);
}
