//! Quota: per-user usage that survives logout, logins and new devices; limits that hold under
//! concurrency; idempotent consume and release; admin routes.

use axum::body::Body;
use axum::http::StatusCode;
use futures::future::join_all;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::*;

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

/// A registered user: id and access token.
struct User {
    id: String,
    token: String,
}

async fn user(env: &TestEnv, name: &str) -> User {
    let tokens = env.register(&TestEnv::email(name)).await;
    User {
        id: tokens["user"]["id"].as_str().unwrap().to_owned(),
        token: access(&tokens),
    }
}

async fn admin(env: &TestEnv) -> String {
    access(&env.superuser().await)
}

async fn quota(env: &TestEnv, token: &str) -> Value {
    let reply = env.send(env.get("/v1/quota").bearer(token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body
}

async fn consume(env: &TestEnv, token: &str, videos: i64, seconds: f64, key: &str) -> Reply {
    env.send(env.post("/v1/quota/consume").bearer(token).json(json!({
        "videos": videos, "duration_seconds": seconds, "file_size_mb": 12.5, "idempotency_key": key
    })))
    .await
}

async fn consume_ok(env: &TestEnv, token: &str, videos: i64, seconds: f64, key: &str) -> Value {
    let reply = consume(env, token, videos, seconds, key).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body
}

async fn release(env: &TestEnv, token: &str, key: &str) -> Reply {
    env.send(
        env.post("/v1/quota/release")
            .bearer(token)
            .json(json!({"idempotency_key": key})),
    )
    .await
}

/// `(videos used, seconds used)` of a quota document.
fn used(doc: &Value) -> (u64, f64) {
    (
        doc["usage"]["videos_count"].as_u64().unwrap(),
        doc["usage"]["total_duration_seconds"].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn a_file_size_finer_than_a_byte_is_kept_to_the_byte() {
    let env = TestEnv::new().await;
    let ada = user(&env, "quota-tiny").await;
    let reply = env
        .send(
            env.post("/v1/quota/consume")
                .bearer(&ada.token)
                .json(json!({
                    "videos": 1, "duration_seconds": 0.0, "file_size_mb": 3.1365645717978456e-235,
                    "idempotency_key": "tiny"
                })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(quota(&env, &ada.token).await["usage"]["videos_count"], 1);
}

#[tokio::test]
async fn a_new_user_has_used_nothing_of_the_default_quota() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    let doc = quota(&env, &a.token).await;
    assert_eq!(
        doc,
        json!({
            "user_id": a.id,
            "usage": {"videos_count": 0, "total_duration_seconds": 0.0},
            "limits": {"max_videos": 10, "max_duration_seconds": 600.0, "max_file_size_mb": 500},
            "remaining": {"videos": 10, "duration_seconds": 600.0},
            "updated_at": null
        })
    );
    let anonymous = env.send(env.get("/v1/quota")).await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "missing_token");
}

#[tokio::test]
async fn quota_belongs_to_the_user_across_logout_new_logins_and_devices() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("a");
    let a = access(&env.register(&email).await);
    let b = user(&env, "b").await;
    let doc = consume_ok(&env, &a, 3, 90.5, "upload-1").await;
    assert_eq!(used(&doc), (3, 90.5));
    assert_eq!(
        doc["remaining"],
        json!({"videos": 7, "duration_seconds": 509.5})
    );

    let logout = env.send(env.post("/v1/auth/logout").bearer(&a)).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let phone = env
        .send(
            env.post("/v1/auth/login")
                .user_agent(IPHONE)
                .json(json!({"email": email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(phone.status, StatusCode::OK, "{:?}", phone.body);
    let a = access(&phone.body);
    assert_eq!(
        used(&quota(&env, &a).await),
        (3, 90.5),
        "a new login on another device sees the same usage"
    );

    assert_eq!(used(&quota(&env, &b.token).await), (0, 0.0));
    consume_ok(&env, &b.token, 1, 10.0, "upload-1").await;
    assert_eq!(
        used(&quota(&env, &a).await),
        (3, 90.5),
        "B's consumption, even under the same key, is B's"
    );

    let root = admin(&env).await;
    let a_id = phone.body["user"]["id"].as_str().unwrap();
    let reset = env
        .send(
            env.post(&format!("/v1/quota/users/{a_id}/reset"))
                .bearer(&root),
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    assert_eq!(used(&reset.body), (0, 0.0));
    assert_eq!(used(&quota(&env, &a).await), (0, 0.0));
    assert_eq!(used(&quota(&env, &b.token).await), (1, 10.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_consumes_never_exceed_the_limit() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    let keys: Vec<String> = (0..30).map(|i| format!("video-{i}")).collect();
    let replies = join_all(keys.iter().map(|key| consume(&env, &a.token, 1, 1.0, key))).await;
    let accepted = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(accepted, 10, "exactly the limit is accepted");
    for refused in replies.iter().filter(|r| r.status != StatusCode::OK) {
        assert_error(refused, StatusCode::FORBIDDEN, "quota_exceeded");
    }
    assert_eq!(used(&quota(&env, &a.token).await), (10, 10.0));
}

#[tokio::test]
async fn a_retried_consume_with_the_same_key_counts_once() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    let first = consume_ok(&env, &a.token, 2, 12.25, "upload-1").await;
    let again = consume_ok(&env, &a.token, 2, 12.25, "upload-1").await;
    assert_eq!(used(&first), (2, 12.25));
    assert_eq!(again, first, "a retry answers as the first time");

    let retries = join_all((0..8).map(|_| consume(&env, &a.token, 1, 1.0, "upload-2"))).await;
    assert!(retries.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(
        used(&quota(&env, &a.token).await),
        (3, 13.25),
        "parallel retries count once"
    );

    let changed = consume(&env, &a.token, 3, 12.25, "upload-1").await;
    assert_error(&changed, StatusCode::CONFLICT, "idempotency_key_reused");
    assert_eq!(used(&quota(&env, &a.token).await), (3, 13.25));
}

#[tokio::test]
async fn release_gives_back_exactly_what_its_key_consumed_once() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    consume_ok(&env, &a.token, 2, 10.25, "failed-upload").await;
    consume_ok(&env, &a.token, 1, 0.5, "good-upload").await;

    let released = release(&env, &a.token, "failed-upload").await;
    assert_eq!(released.status, StatusCode::OK, "{:?}", released.body);
    assert_eq!(used(&released.body), (1, 0.5));

    let twice = join_all((0..5).map(|_| release(&env, &a.token, "failed-upload"))).await;
    for reply in &twice {
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(
            used(&reply.body),
            (1, 0.5),
            "a repeated release changes nothing"
        );
    }

    let reused = consume(&env, &a.token, 2, 10.25, "failed-upload").await;
    assert_error(&reused, StatusCode::CONFLICT, "idempotency_key_reused");
    assert_eq!(used(&quota(&env, &a.token).await), (1, 0.5));
}

#[tokio::test]
async fn releasing_an_unknown_or_someone_elses_key_is_404() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    let b = user(&env, "b").await;
    let unknown = release(&env, &a.token, "never-used").await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");

    consume_ok(&env, &b.token, 1, 5.0, "b-upload").await;
    let others = release(&env, &a.token, "b-upload").await;
    assert_error(&others, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(used(&quota(&env, &b.token).await), (1, 5.0));
}

#[tokio::test]
async fn a_consume_over_the_limit_is_refused_and_changes_nothing() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    consume_ok(&env, &a.token, 8, 500.0, "first").await;

    let too_many = consume(&env, &a.token, 3, 1.0, "second").await;
    assert_error(&too_many, StatusCode::FORBIDDEN, "quota_exceeded");
    let too_long = consume(&env, &a.token, 1, 100.001, "second").await;
    assert_error(&too_long, StatusCode::FORBIDDEN, "quota_exceeded");
    assert_eq!(used(&quota(&env, &a.token).await), (8, 500.0));

    let fits = consume_ok(&env, &a.token, 2, 100.0, "second").await;
    assert_eq!(
        used(&fits),
        (10, 600.0),
        "a refused key was not spent; exactly the limit fits"
    );
    assert_eq!(
        fits["remaining"],
        json!({"videos": 0, "duration_seconds": 0.0})
    );
}

#[tokio::test]
async fn a_file_over_the_per_file_limit_is_413_and_counts_nothing() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    let big = |size: f64| {
        env.post("/v1/quota/consume").bearer(&a.token).json(json!({
            "videos": 1, "duration_seconds": 1, "file_size_mb": size, "idempotency_key": "big"
        }))
    };
    let reply = env.send(big(500.5)).await;
    assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");
    assert_eq!(used(&quota(&env, &a.token).await), (0, 0.0));
    let reply = env.send(big(500.0)).await;
    assert_eq!(reply.status, StatusCode::OK, "the limit itself is allowed");
}

#[tokio::test]
async fn invalid_quota_numbers_and_keys_are_400() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    let valid =
        json!({"videos": 1, "duration_seconds": 1.5, "file_size_mb": 3, "idempotency_key": "k"});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        serde_json::to_vec(&body).unwrap()
    };
    let without = |field: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(field);
        serde_json::to_vec(&body).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("negative videos", with("videos", json!(-1)), "validation_failed"),
        ("huge videos", with("videos", json!(5_000_000)), "validation_failed"),
        ("fractional videos", with("videos", json!(1.5)), "validation_failed"),
        ("negative duration", with("duration_seconds", json!(-0.5)), "validation_failed"),
        ("huge duration", with("duration_seconds", json!(1e12)), "validation_failed"),
        ("NaN as a string", with("duration_seconds", json!("NaN")), "validation_failed"),
        ("Infinity as a string", with("file_size_mb", json!("Infinity")), "validation_failed"),
        ("negative file size", with("file_size_mb", json!(-3)), "validation_failed"),
        ("huge file size", with("file_size_mb", json!(1e9)), "validation_failed"),
        ("null videos", with("videos", Value::Null), "validation_failed"),
        ("empty key", with("idempotency_key", json!("")), "validation_failed"),
        ("key with spaces", with("idempotency_key", json!("a b")), "validation_failed"),
        ("long key", with("idempotency_key", json!("k".repeat(129))), "validation_failed"),
        ("missing key", without("idempotency_key"), "validation_failed"),
        ("missing videos", without("videos"), "validation_failed"),
        ("unknown field", with("bonus", json!(1)), "unknown_field"),
        (
            "number out of range",
            br#"{"videos": 1, "duration_seconds": 1e400, "file_size_mb": 3, "idempotency_key": "k"}"#.to_vec(),
            "invalid_body",
        ),
    ];
    for (case, body, code) in cases {
        let reply = env
            .send(env.post("/v1/quota/consume").bearer(&a.token).raw(body))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {:?}",
            reply.body
        );
        assert_error(&reply, StatusCode::BAD_REQUEST, code);
    }
    let bad_release = env
        .send(
            env.post("/v1/quota/release")
                .bearer(&a.token)
                .json(json!({})),
        )
        .await;
    assert_error(&bad_release, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(used(&quota(&env, &a.token).await), (0, 0.0));
}

#[tokio::test]
async fn durations_keep_their_fractions_and_sums_do_not_drift() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    for i in 0..10 {
        consume_ok(&env, &a.token, 0, 0.1, &format!("tenth-{i}")).await;
    }
    let doc = consume_ok(&env, &a.token, 0, 0.2, "fifth").await;
    assert_eq!(doc["usage"]["total_duration_seconds"], json!(1.2));
    assert_eq!(doc["remaining"]["duration_seconds"], json!(598.8));
}

#[tokio::test]
async fn quota_admin_routes_are_refused_to_a_plain_user_and_served_to_a_superuser() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    let b = user(&env, "b").await;
    let root = admin(&env).await;
    let limits = json!({"max_videos": 5, "max_duration_seconds": null, "max_file_size_mb": null});
    let calls = |token: &str| {
        vec![
            env.get("/v1/quota/users").bearer(token),
            env.get(&format!("/v1/quota/users/{}", b.id)).bearer(token),
            env.post(&format!("/v1/quota/users/{}/reset", b.id))
                .bearer(token),
            env.put(&format!("/v1/quota/users/{}/limits", b.id))
                .bearer(token)
                .json(limits.clone()),
        ]
    };
    for call in calls(&a.token) {
        let reply = env.send(call).await;
        assert_error(&reply, StatusCode::FORBIDDEN, "forbidden");
    }
    let own_id_as_admin_path = env
        .send(
            env.get(&format!("/v1/quota/users/{}", a.id))
                .bearer(&a.token),
        )
        .await;
    assert_error(&own_id_as_admin_path, StatusCode::FORBIDDEN, "forbidden");
    for call in calls(&root) {
        let reply = env.send(call).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }
    assert_eq!(quota(&env, &b.token).await["limits"]["max_videos"], 5);

    for path in [
        "/v1/quota/users/not-a-uuid".to_owned(),
        format!("/v1/quota/users/{}", shared::domain::UserId::new()),
    ] {
        let reply = env.send(env.get(&path).bearer(&root)).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    }
    let unknown = shared::domain::UserId::new();
    let reset = env
        .send(
            env.post(&format!("/v1/quota/users/{unknown}/reset"))
                .bearer(&root),
        )
        .await;
    assert_error(&reset, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn per_user_limits_override_the_defaults_and_null_falls_back() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    let root = admin(&env).await;
    let put_limits = |body: Value| {
        env.put(&format!("/v1/quota/users/{}/limits", a.id))
            .bearer(&root)
            .json(body)
    };
    let reply = env
        .send(put_limits(
            json!({"max_videos": 2, "max_duration_seconds": 30.5, "max_file_size_mb": 50}),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        quota(&env, &a.token).await["limits"],
        json!({"max_videos": 2, "max_duration_seconds": 30.5, "max_file_size_mb": 50})
    );
    consume_ok(&env, &a.token, 2, 30.5, "fits").await;
    let over = consume(&env, &a.token, 1, 0.0, "over").await;
    assert_error(&over, StatusCode::FORBIDDEN, "quota_exceeded");
    let big = env
        .send(env.post("/v1/quota/consume").bearer(&a.token).json(json!({
            "videos": 1, "duration_seconds": 0, "file_size_mb": 50.5, "idempotency_key": "big"
        })))
        .await;
    assert_error(&big, StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");

    let lowered = env
        .send(put_limits(
            json!({"max_videos": 1, "max_duration_seconds": null, "max_file_size_mb": null}),
        ))
        .await;
    assert_eq!(lowered.status, StatusCode::OK, "{:?}", lowered.body);
    assert_eq!(
        lowered.body["remaining"],
        json!({"videos": 0, "duration_seconds": 569.5}),
        "remaining never goes negative"
    );

    let defaults = env
        .send(put_limits(
            json!({"max_videos": null, "max_duration_seconds": null, "max_file_size_mb": null}),
        ))
        .await;
    assert_eq!(
        defaults.body["limits"],
        json!({"max_videos": 10, "max_duration_seconds": 600.0, "max_file_size_mb": 500})
    );
    consume_ok(&env, &a.token, 1, 1.0, "over").await;

    for (body, code) in [
        (
            json!({"max_videos": 3, "max_duration_seconds": null}),
            "validation_failed",
        ),
        (
            json!({"max_videos": -1, "max_duration_seconds": null, "max_file_size_mb": null}),
            "validation_failed",
        ),
        (
            json!({"max_videos": null, "max_duration_seconds": -1, "max_file_size_mb": null}),
            "validation_failed",
        ),
        (
            json!({"max_videos": null, "max_duration_seconds": null, "max_file_size_mb": 1.5}),
            "validation_failed",
        ),
        (
            json!({"max_videos": null, "max_duration_seconds": null, "max_file_size_mb": null, "x": 1}),
            "unknown_field",
        ),
    ] {
        let reply = env.send(put_limits(body)).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, code);
    }
    assert_eq!(quota(&env, &a.token).await["limits"]["max_videos"], 10);
}

#[tokio::test]
async fn a_reset_leaves_earlier_consumptions_nothing_to_give_back() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    let root = admin(&env).await;
    consume_ok(&env, &a.token, 3, 30.0, "before-reset").await;
    let reset = env
        .send(
            env.post(&format!("/v1/quota/users/{}/reset", a.id))
                .bearer(&root),
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK);
    consume_ok(&env, &a.token, 1, 5.0, "after-reset").await;
    let released = release(&env, &a.token, "before-reset").await;
    assert_eq!(released.status, StatusCode::OK, "{:?}", released.body);
    assert_eq!(
        used(&released.body),
        (1, 5.0),
        "the reset already gave it back"
    );
    let released = release(&env, &a.token, "after-reset").await;
    assert_eq!(used(&released.body), (0, 0.0));
}

#[tokio::test]
async fn admins_list_quotas_page_by_page() {
    let env = TestEnv::new().await;
    let root = admin(&env).await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let u = user(&env, name).await;
        consume_ok(&env, &u.token, 1, 1.0, "k").await;
        ids.push(u.id);
    }
    let _never_used = user(&env, "d").await;
    let first = env
        .send(env.get("/v1/quota/users?limit=2").bearer(&root))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = env
        .send(
            env.get(&format!("/v1/quota/users?limit=2&cursor={cursor}"))
                .bearer(&root),
        )
        .await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    let mut listed: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.body["items"].as_array().unwrap())
        .map(|item| {
            assert_eq!(item["usage"]["videos_count"], 1);
            item["user_id"].as_str().unwrap().to_owned()
        })
        .collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids, "every user with usage, once");

    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "cursor=not-a-cursor",
        "cursor=aGVsbG8",
    ] {
        let reply = env
            .send(env.get(&format!("/v1/quota/users?{query}")).bearer(&root))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_error(
            &reply,
            StatusCode::BAD_REQUEST,
            if query.starts_with("cursor") {
                "invalid_cursor"
            } else {
                "invalid_query"
            },
        );
    }
}

#[tokio::test]
async fn the_quota_lambda_serves_an_api_gateway_consume_event() {
    let env = TestEnv::new().await;
    let a = user(&env, "a").await;
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/apigw-login.json"
    ))
    .unwrap();
    let mut event: Value = serde_json::from_str(&fixture).unwrap();
    event["routeKey"] = json!("POST /v1/quota/consume");
    event["rawPath"] = json!("/v1/quota/consume");
    event["requestContext"]["routeKey"] = json!("POST /v1/quota/consume");
    event["requestContext"]["http"]["path"] = json!("/v1/quota/consume");
    event["headers"]["authorization"] = json!(format!("Bearer {}", a.token));
    event["body"] = json!(
        r#"{"videos": 1, "duration_seconds": 2.5, "file_size_mb": 1, "idempotency_key": "lambda"}"#
    );
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = quota::router(env.ctx.context().clone())
        .oneshot(request.map(Body::new))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(used(&doc), (1, 2.5));
    assert_eq!(used(&quota(&env, &a.token).await), (1, 2.5));
}

#[tokio::test]
async fn a_consumption_that_counts_nothing_is_400_naming_both_amounts() {
    let env = TestEnv::new().await;
    let token = access(&env.register(&TestEnv::email("empty")).await);
    let reply = consume(&env, &token, 0, 0.0, "nothing").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "empty_consumption");
    let fields = reply.body["error"]["fields"].as_object().unwrap();
    assert!(fields.contains_key("videos") && fields.contains_key("duration_seconds"));
    // Nothing was stored under the key: it is free for a real consumption.
    assert_eq!(
        release(&env, &token, "nothing").await.status,
        StatusCode::NOT_FOUND
    );
    consume_ok(&env, &token, 1, 0.0, "nothing").await;
}

#[tokio::test]
async fn idempotency_records_are_forgotten_after_thirty_days_and_cleaned_up() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("retention");
    let token = access(&env.register(&email).await);
    consume_ok(&env, &token, 1, 10.0, "upload-1").await;
    // Within the retention a retry counts once.
    env.clock.advance(chrono::Duration::days(29));
    let token = access(&env.login_ok(&email).await);
    let retried = consume_ok(&env, &token, 1, 10.0, "upload-1").await;
    assert_eq!(retried["usage"]["videos_count"], 1);
    // After it the key is unknown: a release is 404 and the same key counts anew.
    env.clock.advance(chrono::Duration::days(2));
    let token = access(&env.login_ok(&email).await);
    assert_eq!(
        release(&env, &token, "upload-1").await.status,
        StatusCode::NOT_FOUND
    );
    let counted = consume_ok(&env, &token, 1, 10.0, "upload-1").await;
    assert_eq!(counted["usage"]["videos_count"], 2);
    // The new record lives another 30 days; the cleanup deletes the records once they expire.
    env.clock.advance(chrono::Duration::days(31));
    let report = crate::cleanup::run_cleanup(&env).await;
    assert_eq!(report.deleted.get("quota"), Some(&1), "{report:?}");
}
