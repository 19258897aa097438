//! The sessions route group, the session cap, login history and brute-force protection.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn sessions_of(reply: &Reply) -> &Vec<Value> {
    reply.body["items"].as_array().expect("a page of sessions")
}

#[tokio::test]
async fn sessions_show_parsed_devices_location_and_the_current_one() {
    let env = TestEnv::with_config(|c| c.trust_geo_headers = true).await;
    let email = TestEnv::email("devices");
    env.register(&email).await;
    env.send(
        env.post("/v1/auth/revoke-all")
            .bearer(&access(&env.login_ok(&email).await)),
    )
    .await;
    let mac = env.login_from(&email, CHROME_MAC, "198.51.100.1").await;
    let phone = env
        .send(
            env.post("/v1/auth/login")
                .header("user-agent", SAFARI_IPHONE)
                .client_ip("198.51.100.2")
                .header("cloudfront-viewer-country", "DE")
                .header("cloudfront-viewer-country-region", "BE")
                .header("cloudfront-viewer-city", "Berlin")
                .json(json!({"email": email, "password": PASSWORD})),
        )
        .await
        .body;
    let windows = env
        .login_from(&email, FIREFOX_WINDOWS, "198.51.100.3")
        .await;

    let reply = env
        .send(env.get("/v1/sessions").bearer(&access(&phone)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let items = sessions_of(&reply);
    assert_eq!(items.len(), 3);
    assert_eq!(reply.body["next_cursor"], Value::Null);
    let find = |tokens: &Value| {
        items
            .iter()
            .find(|s| s["id"] == tokens["session_id"])
            .unwrap()
            .clone()
    };
    let (mac_view, phone_view, windows_view) = (find(&mac), find(&phone), find(&windows));
    assert_eq!(
        (
            mac_view["device_type"].as_str(),
            mac_view["browser"].as_str(),
            mac_view["os"].as_str(),
            mac_view["ip"].as_str()
        ),
        (
            Some("desktop"),
            Some("Chrome"),
            Some("Mac OSX"),
            Some("198.51.100.1")
        )
    );
    assert_eq!(
        (
            phone_view["device_type"].as_str(),
            phone_view["browser"].as_str()
        ),
        (Some("mobile"), Some("Safari"))
    );
    assert_eq!(
        phone_view["location"],
        json!({"country": "DE", "region": "BE", "city": "Berlin"})
    );
    assert_eq!(windows_view["browser"], "Firefox");
    assert_eq!(
        windows_view["location"],
        json!({"country": null, "region": null, "city": null})
    );
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(phone_view["current"], true);
    for view in items {
        assert_eq!(view["created_via"], "password");
        for field in ["created_at", "last_active_at", "expires_at", "device_name"] {
            assert!(view[field].is_string(), "{field}");
        }
    }
}

#[tokio::test]
async fn terminating_a_session_kills_its_access_and_refresh_tokens() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("terminate");
    let laptop = env.register(&email).await;
    let phone = env.login_ok(&email).await;
    let path = format!("/v1/sessions/{}", phone["session_id"].as_str().unwrap());
    let reply = env.send(env.delete(&path).bearer(&access(&laptop))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    assert_eq!(
        env.me_status(&access(&phone)).await,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&phone)})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(env.me_status(&access(&laptop)).await, StatusCode::OK);
    let again = env.send(env.delete(&path).bearer(&access(&laptop))).await;
    assert_error(&again, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_current_session_is_ended_by_logout_not_by_delete() {
    let env = TestEnv::new().await;
    let tokens = env.register(&TestEnv::email("current")).await;
    let path = format!("/v1/sessions/{}", tokens["session_id"].as_str().unwrap());
    let reply = env.send(env.delete(&path).bearer(&access(&tokens))).await;
    assert_error(&reply, StatusCode::CONFLICT, "use_logout");
    assert_eq!(env.me_status(&access(&tokens)).await, StatusCode::OK);
}

#[tokio::test]
async fn another_users_session_is_not_found_and_stays_alive() {
    let env = TestEnv::new().await;
    let alice = env.register(&TestEnv::email("alice")).await;
    let bob = env.register(&TestEnv::email("bob")).await;
    let bobs = format!("/v1/sessions/{}", bob["session_id"].as_str().unwrap());
    let reply = env.send(env.delete(&bobs).bearer(&access(&alice))).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(env.me_status(&access(&bob)).await, StatusCode::OK);
    let garbage = env
        .send(
            env.delete("/v1/sessions/not-a-uuid")
                .bearer(&access(&alice)),
        )
        .await;
    assert_error(&garbage, StatusCode::NOT_FOUND, "not_found");
    let listed = env
        .send(env.get("/v1/sessions").bearer(&access(&alice)))
        .await;
    assert!(
        sessions_of(&listed)
            .iter()
            .all(|s| s["id"] != bob["session_id"])
    );
}

#[tokio::test]
async fn terminate_others_keeps_only_the_current_session() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("others");
    let first = env.register(&email).await;
    let second = env.login_ok(&email).await;
    let third = env.login_ok(&email).await;
    let reply = env
        .send(env.delete("/v1/sessions/others").bearer(&access(&second)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["terminated"], 2);
    assert_eq!(
        env.me_status(&access(&first)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.me_status(&access(&third)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(env.me_status(&access(&second)).await, StatusCode::OK);
}

#[tokio::test]
async fn an_eleventh_login_evicts_the_least_recently_active_session() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("cap");
    let mut logins = vec![env.register(&email).await];
    for minute in 1..10 {
        env.clock.advance(chrono::Duration::minutes(1));
        logins.push(env.login_ok(&email).await);
        assert_eq!(logins.len(), minute + 1);
    }
    // The first session was used recently, so the second is now the least recently active.
    env.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(env.me_status(&access(&logins[0])).await, StatusCode::OK);
    let eleventh = env.login_ok(&email).await;
    let listed = env
        .send(env.get("/v1/sessions").bearer(&access(&eleventh)))
        .await;
    assert_eq!(sessions_of(&listed).len(), 10);
    assert_eq!(
        env.me_status(&access(&logins[1])).await,
        StatusCode::UNAUTHORIZED,
        "evicted"
    );
    let refreshed = env
        .send(
            env.post("/v1/auth/refresh")
                .json(json!({"refresh_token": refresh(&logins[1])})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        env.me_status(&access(&logins[0])).await,
        StatusCode::OK,
        "recently active survives"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_logins_never_leave_more_than_ten_sessions() {
    // Every password check in flight counts against the account's budget until it succeeds,
    // so twenty parallel logins need a budget of twenty.
    let env = TestEnv::with_config(|c| {
        c.login_ip_limit = 100;
        c.lockout_threshold = 20;
    })
    .await;
    let email = TestEnv::email("parallel");
    env.register(&email).await;
    let replies = futures::future::join_all((0..20).map(|_| env.login(&email, PASSWORD))).await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let user_id = replies[0].body["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let stored = env
        .ctx
        .store
        .find_user_sessions(user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.sessions.len(), 10, "the store itself holds ten");
    let alive = futures::future::join_all(
        replies
            .iter()
            .map(|r| env.me_status(access(&r.body).leak())),
    )
    .await;
    assert_eq!(alive.iter().filter(|s| **s == StatusCode::OK).count(), 10);
}

#[tokio::test]
async fn expired_sessions_do_not_count_toward_the_cap() {
    let env = TestEnv::with_config(|c| c.max_sessions = 2).await;
    let email = TestEnv::email("expired");
    let old = env.register(&email).await;
    env.clock.advance(chrono::Duration::days(31));
    let a = env.login_ok(&email).await;
    let b = env.login_ok(&email).await;
    assert_eq!(
        env.me_status(&access(&a)).await,
        StatusCode::OK,
        "the expired one made room"
    );
    assert_eq!(env.me_status(&access(&b)).await, StatusCode::OK);
    assert_eq!(env.me_status(&access(&old)).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn history_lists_failures_and_successes_newest_first_for_the_owner_only() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("history");
    env.register(&email).await;
    env.clock.advance(chrono::Duration::seconds(1));
    env.login(&email, "wrong password one").await;
    env.clock.advance(chrono::Duration::seconds(1));
    let tokens = env.login_from(&email, SAFARI_IPHONE, "192.0.2.44").await;
    let stranger = env.register(&TestEnv::email("stranger")).await;
    env.login(&TestEnv::email("nobody"), PASSWORD).await;

    let reply = env
        .send(env.get("/v1/sessions/history").bearer(&access(&tokens)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let outcomes: Vec<(&str, &str)> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["outcome"].as_str().unwrap(),
                i["method"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("success", "password"),
            ("wrong_password", "password"),
            ("success", "register")
        ]
    );
    let newest = &reply.body["items"][0];
    assert_eq!(
        (newest["ip"].as_str(), newest["device_type"].as_str()),
        (Some("192.0.2.44"), Some("mobile"))
    );

    let first = env
        .send(
            env.get("/v1/sessions/history?limit=2")
                .bearer(&access(&tokens)),
        )
        .await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().expect("more pages");
    let second = env
        .send(
            env.get(&format!("/v1/sessions/history?limit=2&cursor={cursor}"))
                .bearer(&access(&tokens)),
        )
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["items"][0]["outcome"], "success");
    assert_eq!(second.body["next_cursor"], Value::Null);

    let theirs = env
        .send(env.get("/v1/sessions/history").bearer(&access(&stranger)))
        .await;
    assert_eq!(
        theirs.body["items"].as_array().unwrap().len(),
        1,
        "only the stranger's own registration"
    );
    for bad in ["?limit=0", "?limit=101", "?limit=x", "?cursor=%%%"] {
        let reply = env
            .send(
                env.get(&format!("/v1/sessions/history{bad}"))
                    .bearer(&access(&tokens)),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {:?}",
            reply.body
        );
    }
}

#[tokio::test]
async fn stats_count_sessions_and_recent_failures() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("stats");
    env.register(&email).await;
    env.login(&email, "wrong password one").await;
    env.login(&email, "wrong password two").await;
    let phone = env.login_from(&email, SAFARI_IPHONE, "192.0.2.1").await;
    let reply = env
        .send(env.get("/v1/sessions/stats").bearer(&access(&phone)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["active"], 2);
    assert_eq!(reply.body["limit"], 10);
    assert_eq!(
        reply.body["by_device_type"],
        json!({"desktop": 1, "mobile": 1})
    );
    assert_eq!(reply.body["by_browser"], json!({"Chrome": 1, "Safari": 1}));
    assert_eq!(reply.body["failed_attempts_30d"], 2);
    assert!(reply.body["last_login_at"].is_string());
}

#[tokio::test]
async fn repeated_failures_lock_the_account_with_the_same_answer_until_the_lock_lifts() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("lock");
    env.register(&email).await;
    for _ in 0..5 {
        assert_error(
            &env.login(&email, "wrong password").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
    }
    let locked = env.login(&email, PASSWORD).await;
    assert_error(&locked, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let wrong = env.login(&email, "wrong password").await;
    assert_eq!(
        locked.body["error"]["message"], wrong.body["error"]["message"],
        "locked looks like a wrong password"
    );

    env.clock.advance(chrono::Duration::seconds(61));
    let tokens = env.login_ok(&email).await;
    let history = env
        .send(env.get("/v1/sessions/history").bearer(&access(&tokens)))
        .await;
    let outcomes: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(&outcomes[..3], ["success", "locked", "locked"]);

    // The success reset the counter: four more failures do not lock.
    for _ in 0..4 {
        env.login(&email, "wrong password").await;
    }
    env.login_ok(&email).await;
}

#[tokio::test]
async fn locks_double_per_further_failure_up_to_the_cap() {
    let env = TestEnv::with_config(|c| c.lockout_max = std::time::Duration::from_secs(120)).await;
    let email = TestEnv::email("double");
    env.register(&email).await;
    for _ in 0..5 {
        env.login(&email, "wrong password").await;
    }
    env.clock.advance(chrono::Duration::seconds(61));
    env.login(&email, "wrong password").await; // sixth failure: locked for 2 minutes
    env.clock.advance(chrono::Duration::seconds(90));
    assert_eq!(
        env.login(&email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "still locked"
    );
    env.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(env.login(&email, PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn too_many_attempts_from_one_ip_get_429_with_retry_after() {
    let env = TestEnv::with_config(|c| c.login_ip_limit = 3).await;
    let email = TestEnv::email("ip");
    env.register(&email).await;
    for _ in 0..3 {
        let reply = env
            .send(
                env.post("/v1/auth/login")
                    .client_ip("192.0.2.99")
                    .json(json!({"email": email, "password": "nope nope"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let limited = env
        .send(
            env.post("/v1/auth/login")
                .client_ip("192.0.2.99")
                .json(json!({"email": email, "password": PASSWORD})),
        )
        .await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The test clock stands at the start of a minute window (`support::test_epoch`) and does
    // not move, so all four attempts share the window and the whole minute is left, however
    // slowly they ran.
    assert_eq!(retry, 60);
    let elsewhere = env
        .send(
            env.post("/v1/auth/login")
                .client_ip("192.0.2.100")
                .json(json!({"email": email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::OK,
        "other IPs are not affected"
    );
    env.clock.advance(chrono::Duration::seconds(61));
    let later = env
        .send(
            env.post("/v1/auth/login")
                .client_ip("192.0.2.99")
                .json(json!({"email": email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(later.status, StatusCode::OK);
}

#[tokio::test]
async fn admin_session_routes_need_the_sessions_resource() {
    let env = TestEnv::new().await;
    let victim_email = TestEnv::email("victim");
    let victim = env.register(&victim_email).await;
    let plain = env.register(&TestEnv::email("plain")).await;
    let admin = env.superuser().await;
    let path = format!(
        "/v1/sessions/users/{}",
        victim["user"]["id"].as_str().unwrap()
    );

    assert_error(
        &env.send(env.get(&path).bearer(&access(&plain))).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &env.send(env.delete(&path).bearer(&access(&plain))).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(env.me_status(&access(&victim)).await, StatusCode::OK);

    let listed = env.send(env.get(&path).bearer(&access(&admin))).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(sessions_of(&listed).len(), 1);
    assert_eq!(sessions_of(&listed)[0]["current"], false);
    let ended = env.send(env.delete(&path).bearer(&access(&admin))).await;
    assert_eq!(ended.body["terminated"], 1);
    assert_eq!(
        env.me_status(&access(&victim)).await,
        StatusCode::UNAUTHORIZED
    );
    let unknown = format!("/v1/sessions/users/{}", uuid::Uuid::now_v7());
    assert_error(
        &env.send(env.get(&unknown).bearer(&access(&admin))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}
