//! One timestamp format in every response: RFC 3339 UTC with exactly three fraction digits.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// Whether `text` starts like a date-time (`2026-12-01T…`), so it must be a timestamp.
fn looks_like_a_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 11
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
}

/// Whether `text` is exactly `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn is_millisecond_utc(text: &str) -> bool {
    const SHAPE: &[u8] = b"0000-00-00T00:00:00.000Z";
    text.len() == SHAPE.len()
        && text.bytes().zip(SHAPE).all(|(b, s)| match s {
            b'0' => b.is_ascii_digit(),
            _ => b == *s,
        })
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// Every timestamp-looking string in `value`, with its JSON path.
fn timestamps(value: &Value, path: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::String(text) if looks_like_a_timestamp(text) => {
            found.push((path.to_owned(), text.clone()))
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                timestamps(item, &format!("{path}[{i}]"), found);
            }
        }
        Value::Object(members) => {
            for (name, member) in members {
                timestamps(member, &format!("{path}.{name}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn the_shape_check_tells_the_three_formats_apart() {
    assert!(is_millisecond_utc("2026-12-01T05:39:34.123Z"));
    for other in [
        "2026-12-01T05:39:34Z",
        "2026-12-01T05:39:34.1Z",
        "2026-12-01T05:39:34.153877582Z",
        "2026-12-01T05:39:34.123+00:00",
    ] {
        assert!(
            looks_like_a_timestamp(other) && !is_millisecond_utc(other),
            "{other}"
        );
    }
}

#[tokio::test]
async fn every_timestamp_in_responses_has_milliseconds_in_utc() {
    let env = TestEnv::new().await;
    // A clock off a whole millisecond, as the wall clock usually is.
    env.clock
        .advance(chrono::Duration::nanoseconds(153_877_582));
    let admin = access(&env.superuser().await);
    let email = TestEnv::email("times");
    let registered = env.register(&email).await;
    let user = access(&registered);
    let user_id = registered["user"]["id"].as_str().unwrap().to_owned();
    let mut bodies = vec![("register".to_owned(), registered.clone())];
    let mut call = async |name: &str, call: Call, status: StatusCode| -> Value {
        let reply = env.send(call).await;
        assert_eq!(reply.status, status, "{name}: {:?}", reply.body);
        bodies.push((name.to_owned(), reply.body.clone()));
        reply.body
    };
    call(
        "login",
        env.post("/v1/auth/login")
            .json(json!({"email": email, "password": PASSWORD})),
        StatusCode::OK,
    )
    .await;
    call("me", env.get("/v1/auth/me").bearer(&user), StatusCode::OK).await;
    call(
        "sessions",
        env.get("/v1/sessions").bearer(&user),
        StatusCode::OK,
    )
    .await;
    call(
        "history",
        env.get("/v1/sessions/history").bearer(&user),
        StatusCode::OK,
    )
    .await;
    call(
        "stats",
        env.get("/v1/sessions/stats").bearer(&user),
        StatusCode::OK,
    )
    .await;
    call(
        "admin sessions",
        env.get(&format!("/v1/sessions/users/{user_id}"))
            .bearer(&admin),
        StatusCode::OK,
    )
    .await;
    let ticket = call(
        "create ticket",
        env.post("/v1/tickets").bearer(&user).json(json!({
            "subject": "Clock", "description": "Times differ.", "category": "technical", "priority": "low"
        })),
        StatusCode::CREATED,
    )
    .await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    call(
        "respond",
        env.post(&format!("/v1/tickets/{id}/responses"))
            .bearer(&user)
            .json(json!({"message": "hello"})),
        StatusCode::CREATED,
    )
    .await;
    call(
        "status",
        env.post(&format!("/v1/tickets/{id}/status"))
            .bearer(&admin)
            .json(json!({"status": "in_progress"})),
        StatusCode::OK,
    )
    .await;
    call(
        "attach",
        env.post(&format!("/v1/tickets/{id}/attachments"))
            .bearer(&user)
            .json(json!({
                "file_name": "log.txt", "content_type": "text/plain", "size": 10
            })),
        StatusCode::CREATED,
    )
    .await;
    let closed = call(
        "close",
        env.post(&format!("/v1/tickets/{id}/close")).bearer(&user),
        StatusCode::OK,
    )
    .await;
    assert_eq!(closed["closed_at"], closed["updated_at"]);
    call(
        "ticket",
        env.get(&format!("/v1/tickets/{id}")).bearer(&admin),
        StatusCode::OK,
    )
    .await;
    call(
        "tickets",
        env.get("/v1/tickets").bearer(&admin),
        StatusCode::OK,
    )
    .await;
    call(
        "thread",
        env.get(&format!("/v1/tickets/{id}/responses"))
            .bearer(&user),
        StatusCode::OK,
    )
    .await;
    call(
        "consume",
        env.post("/v1/quota/consume").bearer(&user).json(json!({
            "videos": 1, "duration_seconds": 2, "file_size_mb": 1, "idempotency_key": "t1"
        })),
        StatusCode::OK,
    )
    .await;
    call("quota", env.get("/v1/quota").bearer(&user), StatusCode::OK).await;
    call(
        "quotas",
        env.get("/v1/quota/users").bearer(&admin),
        StatusCode::OK,
    )
    .await;
    call("users", env.get("/v1/users").bearer(&admin), StatusCode::OK).await;
    call(
        "resource",
        env.post("/v1/resources")
            .bearer(&admin)
            .json(json!({"code_name": "clocks", "name": "Clocks", "description": "d"})),
        StatusCode::CREATED,
    )
    .await;
    call(
        "resources",
        env.get("/v1/resources").bearer(&admin),
        StatusCode::OK,
    )
    .await;
    call(
        "role",
        env.post("/v1/roles")
            .bearer(&admin)
            .json(json!({"code_name": "timekeeper", "name": "T", "permissions": []})),
        StatusCode::CREATED,
    )
    .await;
    call("roles", env.get("/v1/roles").bearer(&admin), StatusCode::OK).await;
    let qr = call("qr", env.post("/v1/qr-auth/generate"), StatusCode::CREATED).await;
    let code = qr["code"].as_str().unwrap().to_owned();
    call(
        "qr scan",
        env.post("/v1/qr-auth/scan")
            .bearer(&user)
            .json(json!({"code": code})),
        StatusCode::OK,
    )
    .await;

    let mut found = Vec::new();
    for (name, body) in &bodies {
        timestamps(body, name, &mut found);
    }
    assert!(found.len() > 40, "only {} timestamps seen", found.len());
    let wrong: Vec<_> = found
        .iter()
        .filter(|(_, text)| !is_millisecond_utc(text))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}
