//! QR login: the protocol end to end, the binding of the session to the browser's poll token,
//! one-time state changes under real parallel requests, expiry, rate limits and refusals.

use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde_json::json;
use shared::domain::{CreatedVia, DeviceType, UserId};

use tower::ServiceExt;

use crate::support::*;

/// Where the browser that shows the QR code calls from.
const BROWSER_IP: &str = "198.51.100.7";
/// Where the phone that scans it calls from.
const PHONE_IP: &str = "192.0.2.44";

/// A generated QR login as the browser holds it.
struct Qr {
    code: String,
    poll_token: String,
}

/// Generates a QR login from a desktop Chrome at [`BROWSER_IP`].
async fn generate(env: &TestEnv) -> Qr {
    let reply = env
        .send(
            env.post("/v1/qr-auth/generate")
                .header("user-agent", CHROME_MAC)
                .client_ip(BROWSER_IP),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    Qr {
        code: reply.body["code"].as_str().unwrap().to_owned(),
        poll_token: reply.body["poll_token"].as_str().unwrap().to_owned(),
    }
}

/// A status poll from the browser with the given poll token (none: no header). The clock first
/// moves by the poll interval, as a well-behaved browser waits between polls.
async fn poll(env: &TestEnv, code: &str, poll_token: Option<&str>) -> Reply {
    env.clock.advance(chrono::Duration::seconds(2));
    let mut call = env
        .get(&format!("/v1/qr-auth/status/{code}"))
        .header("user-agent", CHROME_MAC)
        .client_ip(BROWSER_IP);
    if let Some(token) = poll_token {
        call = call.header("x-qr-poll-token", token);
    }
    env.send(call).await
}

/// `scan`, `confirm` or `reject` from an iPhone at [`PHONE_IP`].
async fn phone(env: &TestEnv, action: &str, access_token: &str, code: &str) -> Reply {
    env.send(
        env.post(&format!("/v1/qr-auth/{action}"))
            .header("user-agent", SAFARI_IPHONE)
            .client_ip(PHONE_IP)
            .bearer(access_token)
            .json(json!({"code": code})),
    )
    .await
}

/// Registers the phone's user; returns its access token and id.
async fn phone_user(env: &TestEnv, name: &str) -> (String, UserId) {
    let tokens = env.register(&TestEnv::email(name)).await;
    let id = tokens["user"]["id"].as_str().unwrap().parse().unwrap();
    (access(&tokens), id)
}

/// The status of a successful poll.
fn status_of(reply: &Reply) -> &str {
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["status"].as_str().unwrap()
}

/// How many sessions a user has created by QR.
async fn qr_sessions(env: &TestEnv, user: UserId) -> usize {
    let account = env
        .ctx
        .store
        .find_user_sessions(user)
        .await
        .unwrap()
        .unwrap();
    account
        .sessions
        .iter()
        .filter(|s| s.created_via == CreatedVia::Qr)
        .count()
}

/// Moves the clock just past the next multiple of `period_ms`, so a rate-limit window starts.
fn start_window(env: &TestEnv, period_ms: i64) {
    let now = env.ctx.now().timestamp_millis();
    env.clock.advance(chrono::Duration::milliseconds(
        period_ms - now % period_ms + 5,
    ));
}

#[tokio::test]
async fn a_phone_that_scans_and_confirms_signs_the_browser_in_once() {
    let env = TestEnv::new().await;
    let (phone_token, user) = phone_user(&env, "happy").await;
    let generated = env
        .send(
            env.post("/v1/qr-auth/generate")
                .header("user-agent", CHROME_MAC)
                .client_ip(BROWSER_IP),
        )
        .await;
    assert_eq!(
        generated.status,
        StatusCode::CREATED,
        "{:?}",
        generated.body
    );
    assert_eq!(generated.headers["cache-control"], "no-store");
    let code = generated.body["code"].as_str().unwrap();
    let poll_token = generated.body["poll_token"].as_str().unwrap();
    assert_eq!(code.len(), 43, "256 random bits, base64url");
    assert_ne!(code, poll_token);
    assert_eq!(
        generated.body["qr_uri"],
        format!("sesame://qr-login?code={code}")
    );
    assert_eq!(generated.body["poll_interval_s"], 2);
    let expires_at: chrono::DateTime<chrono::Utc> = generated.body["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let lifetime = (expires_at - env.ctx.now()).num_seconds();
    assert!((50..=60).contains(&lifetime), "{lifetime}");

    assert_eq!(
        status_of(&poll(&env, code, Some(poll_token)).await),
        "pending"
    );

    let scanned = phone(&env, "scan", &phone_token, code).await;
    assert_eq!(scanned.status, StatusCode::OK, "{:?}", scanned.body);
    let browser = &scanned.body;
    assert_eq!(browser["ip"], BROWSER_IP);
    assert_eq!(browser["browser"], "Chrome");
    assert_eq!(browser["os"], "Mac OSX");
    assert_eq!(browser["device_type"], "desktop");
    assert_eq!(browser["device_name"], "Mac OSX computer");
    assert_eq!(
        browser["location"],
        json!({"country": null, "region": null, "city": null})
    );
    assert_eq!(browser["expires_at"], generated.body["expires_at"]);
    assert!(browser["created_at"].is_string());
    assert_eq!(browser["proximity"], "unknown");
    let waiting = poll(&env, code, Some(poll_token)).await;
    assert_eq!(status_of(&waiting), "scanned");
    assert_eq!(
        waiting.body["scanned_by"],
        json!({"browser": "Safari", "os": "iPhone", "device_type": "mobile", "device_name": "iPhone"}),
        "the waiting browser learns which phone scanned it"
    );

    let confirmed = phone(&env, "confirm", &phone_token, code).await;
    assert_eq!(
        confirmed.status,
        StatusCode::NO_CONTENT,
        "{:?}",
        confirmed.body
    );

    let collected = poll(&env, code, Some(poll_token)).await;
    assert_eq!(status_of(&collected), "confirmed");
    assert_eq!(collected.headers["cache-control"], "no-store");
    assert_eq!(collected.body["token_type"], "Bearer");
    assert_eq!(collected.body["user"]["id"], user.to_string());
    let me = env
        .send(env.get("/v1/auth/me").bearer(&access(&collected.body)))
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], user.to_string());
    let refreshed = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&collected.body)})),
        )
        .await;
    assert_eq!(
        refreshed.status,
        StatusCode::OK,
        "the refresh token works too"
    );

    let again = poll(&env, code, Some(poll_token)).await;
    assert_eq!(again.body, json!({"status": "consumed"}), "no second pair");
    assert_eq!(qr_sessions(&env, user).await, 1);
}

#[tokio::test]
async fn the_qr_session_has_the_browsers_device_and_ip_and_is_in_the_approvers_history() {
    let env = TestEnv::new().await;
    let (phone_token, user) = phone_user(&env, "binding").await;
    let qr = generate(&env).await;
    phone(&env, "scan", &phone_token, &qr.code).await;
    phone(&env, "confirm", &phone_token, &qr.code).await;
    let collected = poll(&env, &qr.code, Some(&qr.poll_token)).await;
    assert_eq!(status_of(&collected), "confirmed");

    let account = env
        .ctx
        .store
        .find_user_sessions(user)
        .await
        .unwrap()
        .unwrap();
    let session = account
        .sessions
        .iter()
        .find(|s| s.id.to_string() == collected.body["session_id"])
        .expect("the QR session is stored");
    assert_eq!(session.created_via, CreatedVia::Qr);
    assert_eq!(session.ip.as_deref(), Some(BROWSER_IP));
    assert_eq!(session.device.device_type, DeviceType::Desktop);
    assert_eq!(session.device.browser, "Chrome");
    assert_eq!(session.device.os, "Mac OSX");

    let listed = env.send(env.get("/v1/sessions").bearer(&phone_token)).await;
    let view = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == collected.body["session_id"])
        .expect("listed among the user's sessions")
        .clone();
    assert_eq!(view["created_via"], "qr");
    assert_eq!(view["device_type"], "desktop");
    assert_eq!(view["ip"], BROWSER_IP);

    let history = env
        .send(env.get("/v1/sessions/history").bearer(&phone_token))
        .await;
    let newest = &history.body["items"][0];
    assert_eq!(newest["method"], "qr");
    assert_eq!(newest["outcome"], "success");
    assert_eq!(newest["ip"], BROWSER_IP);
}

#[tokio::test]
async fn an_onlooker_with_only_the_code_gets_404_at_every_stage_and_never_tokens() {
    let env = TestEnv::new().await;
    let (phone_token, user) = phone_user(&env, "onlooker").await;
    let qr = generate(&env).await;
    let guessed = shared::tokens::random_secret();
    let onlooker = async |env: &TestEnv| {
        for token in [
            None,
            Some(guessed.as_str()),
            Some(qr.code.as_str()),
            Some(""),
        ] {
            let reply = poll(env, &qr.code, token).await;
            assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
            assert!(reply.body.get("access_token").is_none());
        }
    };
    onlooker(&env).await;
    phone(&env, "scan", &phone_token, &qr.code).await;
    onlooker(&env).await;
    phone(&env, "confirm", &phone_token, &qr.code).await;
    onlooker(&env).await;
    assert_eq!(
        qr_sessions(&env, user).await,
        0,
        "the onlooker's polls created nothing"
    );
    let collected = poll(&env, &qr.code, Some(&qr.poll_token)).await;
    assert_eq!(
        status_of(&collected),
        "confirmed",
        "the browser still collects"
    );
    onlooker(&env).await;
    assert_eq!(qr_sessions(&env, user).await, 1);
}

#[tokio::test]
async fn a_rejected_login_reads_rejected_and_can_no_longer_be_confirmed() {
    let env = TestEnv::new().await;
    let (phone_token, user) = phone_user(&env, "reject").await;
    let qr = generate(&env).await;
    phone(&env, "scan", &phone_token, &qr.code).await;
    let rejected = phone(&env, "reject", &phone_token, &qr.code).await;
    assert_eq!(
        rejected.status,
        StatusCode::NO_CONTENT,
        "{:?}",
        rejected.body
    );
    let polled = poll(&env, &qr.code, Some(&qr.poll_token)).await;
    assert_eq!(polled.body, json!({"status": "rejected"}));
    for action in ["confirm", "reject"] {
        let late = phone(&env, action, &phone_token, &qr.code).await;
        assert_error(&late, StatusCode::CONFLICT, "qr_already_decided");
    }
    let rescan = phone(&env, "scan", &phone_token, &qr.code).await;
    assert_error(&rescan, StatusCode::CONFLICT, "qr_already_decided");
    assert_eq!(
        status_of(&poll(&env, &qr.code, Some(&qr.poll_token)).await),
        "rejected"
    );
    assert_eq!(qr_sessions(&env, user).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_confirmations_have_exactly_one_winner() {
    let env = TestEnv::new().await;
    let (phone_token, _) = phone_user(&env, "double").await;
    let qr = generate(&env).await;
    phone(&env, "scan", &phone_token, &qr.code).await;
    let replies =
        futures::future::join_all((0..8).map(|_| phone(&env, "confirm", &phone_token, &qr.code)))
            .await;
    let winners = replies
        .iter()
        .filter(|r| r.status == StatusCode::NO_CONTENT)
        .count();
    assert_eq!(
        winners,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for loser in replies
        .iter()
        .filter(|r| r.status != StatusCode::NO_CONTENT)
    {
        assert_error(loser, StatusCode::CONFLICT, "qr_already_decided");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_confirmation_racing_a_rejection_has_exactly_one_winner() {
    let env = TestEnv::new().await;
    let (phone_token, user) = phone_user(&env, "race").await;
    let qr = generate(&env).await;
    phone(&env, "scan", &phone_token, &qr.code).await;
    let actions = [
        "confirm", "reject", "confirm", "reject", "confirm", "reject",
    ];
    let replies = futures::future::join_all(
        actions
            .iter()
            .map(|action| phone(&env, action, &phone_token, &qr.code)),
    )
    .await;
    let winners: Vec<&str> = actions
        .iter()
        .zip(&replies)
        .filter(|(_, r)| r.status == StatusCode::NO_CONTENT)
        .map(|(action, _)| *action)
        .collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    for loser in replies
        .iter()
        .filter(|r| r.status != StatusCode::NO_CONTENT)
    {
        assert_error(loser, StatusCode::CONFLICT, "qr_already_decided");
    }
    let polled = poll(&env, &qr.code, Some(&qr.poll_token)).await;
    let expected = if winners[0] == "confirm" {
        ("confirmed", 1)
    } else {
        ("rejected", 0)
    };
    assert_eq!(status_of(&polled), expected.0);
    assert_eq!(qr_sessions(&env, user).await, expected.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_polls_after_confirmation_issue_one_token_pair() {
    let env = TestEnv::new().await;
    let (phone_token, user) = phone_user(&env, "polls").await;
    let qr = generate(&env).await;
    phone(&env, "scan", &phone_token, &qr.code).await;
    phone(&env, "confirm", &phone_token, &qr.code).await;
    let replies =
        futures::future::join_all((0..6).map(|_| poll(&env, &qr.code, Some(&qr.poll_token)))).await;
    let with_tokens = replies
        .iter()
        .filter(|r| r.body.get("access_token").is_some())
        .count();
    assert_eq!(
        with_tokens,
        1,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    assert_eq!(qr_sessions(&env, user).await, 1);
}

#[tokio::test]
async fn an_expired_code_gets_410_and_creates_no_session() {
    let env = TestEnv::new().await;
    let (phone_token, user) = phone_user(&env, "expired").await;
    let unscanned = generate(&env).await;
    let scanned = generate(&env).await;
    let confirmed = generate(&env).await;
    phone(&env, "scan", &phone_token, &scanned.code).await;
    phone(&env, "scan", &phone_token, &confirmed.code).await;
    phone(&env, "confirm", &phone_token, &confirmed.code).await;
    env.clock.advance(chrono::Duration::seconds(61));

    let late_scan = phone(&env, "scan", &phone_token, &unscanned.code).await;
    assert_error(&late_scan, StatusCode::GONE, "qr_expired");
    for action in ["confirm", "reject"] {
        let late = phone(&env, action, &phone_token, &scanned.code).await;
        assert_error(&late, StatusCode::GONE, "qr_expired");
    }
    for qr in [&unscanned, &scanned, &confirmed] {
        let polled = poll(&env, &qr.code, Some(&qr.poll_token)).await;
        assert_eq!(polled.body, json!({"status": "expired"}));
    }
    assert_eq!(
        qr_sessions(&env, user).await,
        0,
        "a confirmation not collected in time is void"
    );

    env.clock.advance(chrono::Duration::minutes(10));
    let gone = poll(&env, &confirmed.code, Some(&confirmed.poll_token)).await;
    assert_error(&gone, StatusCode::NOT_FOUND, "not_found");
    let gone = phone(&env, "scan", &phone_token, &unscanned.code).await;
    assert_error(&gone, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn polling_faster_than_once_a_second_gets_429_with_retry_after() {
    let env = TestEnv::new().await;
    let qr = generate(&env).await;
    start_window(&env, 1000);
    let status = |qr: &Qr| {
        env.send(
            env.get(&format!("/v1/qr-auth/status/{}", qr.code))
                .header("x-qr-poll-token", &qr.poll_token),
        )
    };
    let replies = futures::future::join_all([status(&qr), status(&qr), status(&qr)]).await;
    assert!(replies.iter().any(|r| r.status == StatusCode::OK));
    let limited = replies
        .iter()
        .find(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .expect("a poll within the same second is refused");
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(limited.headers["retry-after"], "1");
    env.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(status(&qr).await.status, StatusCode::OK, "polling resumes");
}

#[tokio::test]
async fn the_eleventh_code_from_one_ip_within_a_minute_gets_429() {
    let env = TestEnv::new().await;
    start_window(&env, 60_000);
    let from = |ip: &str| env.send(env.post("/v1/qr-auth/generate").client_ip(ip));
    for _ in 0..10 {
        assert_eq!(from(BROWSER_IP).await.status, StatusCode::CREATED);
    }
    let limited = from(BROWSER_IP).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(
        from(PHONE_IP).await.status,
        StatusCode::CREATED,
        "other IPs are unaffected"
    );
    env.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(from(BROWSER_IP).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn deciding_needs_a_prior_scan_by_the_same_account() {
    let env = TestEnv::new().await;
    let (phone_token, user) = phone_user(&env, "noscan").await;
    let (other_token, _) = phone_user(&env, "other").await;
    let qr = generate(&env).await;
    for action in ["confirm", "reject"] {
        let early = phone(&env, action, &phone_token, &qr.code).await;
        assert_error(&early, StatusCode::CONFLICT, "qr_not_scanned");
    }
    assert_eq!(
        phone(&env, "scan", &phone_token, &qr.code).await.status,
        StatusCode::OK
    );
    assert_eq!(
        phone(&env, "scan", &phone_token, &qr.code).await.status,
        StatusCode::OK,
        "the same account may scan again"
    );
    let taken = phone(&env, "scan", &other_token, &qr.code).await;
    assert_error(&taken, StatusCode::CONFLICT, "qr_already_scanned");
    for action in ["confirm", "reject"] {
        let foreign = phone(&env, action, &other_token, &qr.code).await;
        assert_error(&foreign, StatusCode::CONFLICT, "qr_not_scanned");
    }
    assert_eq!(
        status_of(&poll(&env, &qr.code, Some(&qr.poll_token)).await),
        "scanned"
    );
    assert_eq!(
        phone(&env, "confirm", &phone_token, &qr.code).await.status,
        StatusCode::NO_CONTENT
    );
    let collected = poll(&env, &qr.code, Some(&qr.poll_token)).await;
    assert_eq!(collected.body["user"]["id"], user.to_string());
}

#[tokio::test]
async fn malformed_qr_requests_get_400_and_unknown_codes_404() {
    let env = TestEnv::new().await;
    let (phone_token, _) = phone_user(&env, "input").await;
    let qr = generate(&env).await;
    for action in ["scan", "confirm", "reject"] {
        let path = format!("/v1/qr-auth/{action}");
        let missing = env
            .send(env.post(&path).bearer(&phone_token).json(json!({})))
            .await;
        assert_error(&missing, StatusCode::BAD_REQUEST, "validation_failed");
        let unknown_field = env
            .send(
                env.post(&path)
                    .bearer(&phone_token)
                    .json(json!({"code": qr.code, "user_id": "someone"})),
            )
            .await;
        assert_error(&unknown_field, StatusCode::BAD_REQUEST, "unknown_field");
        for bad in [json!(""), json!("short"), json!(42), json!(null)] {
            let reply = env
                .send(
                    env.post(&path)
                        .bearer(&phone_token)
                        .json(json!({"code": bad})),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{bad}: {:?}",
                reply.body
            );
        }
        let unknown = phone(&env, action, &phone_token, &shared::tokens::random_secret()).await;
        assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
        let anonymous = env
            .send(env.post(&path).json(json!({"code": qr.code})))
            .await;
        assert_error(&anonymous, StatusCode::UNAUTHORIZED, "missing_token");
    }
    let malformed = poll(&env, "not-a-code", Some(&qr.poll_token)).await;
    assert_error(&malformed, StatusCode::NOT_FOUND, "not_found");
    let unknown = poll(&env, &shared::tokens::random_secret(), Some(&qr.poll_token)).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_deactivated_approver_gives_the_browser_no_tokens() {
    let env = TestEnv::new().await;
    let (phone_token, user) = phone_user(&env, "inactive").await;
    let qr = generate(&env).await;
    phone(&env, "scan", &phone_token, &qr.code).await;
    phone(&env, "confirm", &phone_token, &qr.code).await;
    let before = env.ctx.store.find_user(user).await.unwrap().unwrap();
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

    let refused = poll(&env, &qr.code, Some(&qr.poll_token)).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "account_inactive");
    assert_eq!(
        poll(&env, &qr.code, Some(&qr.poll_token)).await.body,
        json!({"status": "consumed"})
    );
    assert_eq!(qr_sessions(&env, user).await, 0);
}

#[tokio::test]
async fn scan_hints_whether_the_browser_is_near_the_phone() {
    let env = TestEnv::with_config(|c| c.trust_geo_headers = true).await;
    let (phone_token, _) = phone_user(&env, "proximity").await;
    let generated = env
        .send(
            env.post("/v1/qr-auth/generate")
                .client_ip(BROWSER_IP)
                .header("cloudfront-viewer-country", "DE")
                .header("cloudfront-viewer-city", "Berlin"),
        )
        .await;
    let code = generated.body["code"].as_str().unwrap();
    let scan_from = |ip: &str, country: Option<&str>| {
        let mut call = env
            .post("/v1/qr-auth/scan")
            .bearer(&phone_token)
            .client_ip(ip)
            .json(json!({"code": code}));
        if let Some(country) = country {
            call = call.header("cloudfront-viewer-country", country);
        }
        env.send(call)
    };
    for (ip, country, proximity) in [
        (BROWSER_IP, Some("DE"), "same_ip"),
        (PHONE_IP, Some("DE"), "same_country"),
        (PHONE_IP, Some("NL"), "different_country"),
        (PHONE_IP, None, "unknown"),
    ] {
        let reply = scan_from(ip, country).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(reply.body["proximity"], proximity, "{ip} {country:?}");
        assert_eq!(reply.body["location"]["country"], "DE");
        assert_eq!(reply.body["location"]["city"], "Berlin");
    }
}

#[tokio::test]
async fn the_qr_lambda_binds_the_session_to_the_polling_requests_source_ip() {
    let env = TestEnv::new().await;
    let (phone_token, user) = phone_user(&env, "lambda").await;
    let qr = generate(&env).await;
    phone(&env, "scan", &phone_token, &qr.code).await;
    phone(&env, "confirm", &phone_token, &qr.code).await;
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/apigw-qr-status.json"
    ))
    .unwrap()
    .replace("{{CODE}}", &qr.code)
    .replace("{{POLL_TOKEN}}", &qr.poll_token);
    let request = lambda_http::request::from_str(&event).unwrap();
    let response = qr_auth::router(env.ctx.clone())
        .oneshot(request.map(axum::body::Body::new))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], "confirmed");
    let account = env
        .ctx
        .store
        .find_user_sessions(user)
        .await
        .unwrap()
        .unwrap();
    let session = account
        .sessions
        .iter()
        .find(|s| s.id.to_string() == body["session_id"])
        .expect("the QR session is stored");
    assert_eq!(
        session.ip.as_deref(),
        Some("203.0.113.99"),
        "the API Gateway source IP of the poll"
    );
    assert_eq!(session.device.browser, "Firefox");
}

#[tokio::test]
async fn cleanup_removes_a_qr_login_once_its_record_has_expired() {
    let env = TestEnv::new().await;
    let qr = generate(&env).await;
    env.clock.advance(chrono::Duration::minutes(5));
    let early = crate::cleanup::run_cleanup(&env).await;
    assert_eq!(
        early.deleted.get("qr"),
        None,
        "kept for late callers: {early:?}"
    );
    assert_eq!(
        status_of(&poll(&env, &qr.code, Some(&qr.poll_token)).await),
        "expired"
    );
    env.clock.advance(chrono::Duration::minutes(6));
    let report = crate::cleanup::run_cleanup(&env).await;
    assert_eq!(report.deleted.get("qr"), Some(&1), "{report:?}");
}
