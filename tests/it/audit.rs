//! The audit trail: every security event is recorded by the route that causes it, with its
//! actor, subject and origin; `GET /v1/audit` filters and pages it from indexes; a user reads
//! their own account's events at `GET /v1/auth/me/events`.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};
use shared::audit::EventType;

use crate::rbac::{create_role, seeded, set_roles};
use crate::support::{CHROME_MAC, PASSWORD, SAFARI_IPHONE, TestEnv, access, assert_error, refresh};

/// Every page of `path` (which already has its query, or none), read with `token`.
async fn all_pages(env: &TestEnv, token: &str, path: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let separator = if path.contains('?') { '&' } else { '?' };
    loop {
        let mut url = format!("{path}{separator}limit={limit}");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let reply = env.send(env.get(&url).bearer(token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {:?}", reply.body);
        let page = reply.body["items"].as_array().unwrap();
        assert!(page.len() <= limit);
        items.extend(page.iter().cloned());
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn user_id(tokens: &Value) -> String {
    tokens["user"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_user_reads_their_own_accounts_events_newest_first_with_origin() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("own");
    let tokens = env.register(&email).await;
    let id = user_id(&tokens);
    env.clock.advance(chrono::Duration::seconds(1));
    let wrong = env.login(&email, "not the password").await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    env.clock.advance(chrono::Duration::seconds(1));
    let call = env
        .post("/v1/auth/login")
        .user_agent(SAFARI_IPHONE)
        .client_ip("198.51.100.7")
        .json(json!({"email": email, "password": PASSWORD}));
    let phone = env.send(call).await;
    assert_eq!(phone.status, StatusCode::OK);
    env.clock.advance(chrono::Duration::seconds(1));
    let renamed = env
        .send(
            env.patch("/v1/auth/me")
                .bearer(&access(&tokens))
                .json(json!({"first_name": "Grace"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    env.clock.advance(chrono::Duration::seconds(1));
    let logout = env
        .send(env.post("/v1/auth/logout").bearer(&access(&phone.body)))
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);

    // Someone else's events are not in this account's list.
    env.register(&TestEnv::email("other")).await;

    let events = all_pages(&env, &access(&tokens), "/v1/auth/me/events", 2).await;
    assert_eq!(
        types(&events),
        [
            "session.logged_out",
            "profile.updated",
            "login.succeeded",
            "login.failed",
            "account.registered"
        ]
    );
    for event in &events {
        assert_eq!(event["subject"], json!({"type": "user", "id": id}));
        assert!(event["request_id"].as_str().is_some_and(|r| !r.is_empty()));
        assert!(event["at"].as_str().unwrap().ends_with('Z'));
    }
    let login = &events[2];
    assert_eq!(login["actor"], id);
    assert_eq!(login["outcome"], "success");
    assert_eq!(login["ip"], "198.51.100.7");
    assert_eq!(login["device"], "Safari on iPhone");
    assert_eq!(login["details"]["via"], "password");
    assert_eq!(login["details"]["session_id"], phone.body["session_id"]);
    assert_eq!(events[3]["outcome"], "failure");
    assert_eq!(events[3]["details"]["reason"], "wrong_password");
    // The logout was the phone session's own request: its actor is the user it authenticated.
    assert_eq!(events[0]["actor"], id);
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains("not the password"));
    assert!(!text.contains(&refresh(&tokens)) && !text.contains(&access(&tokens)));
}

#[tokio::test]
async fn the_audit_list_needs_the_audit_right() {
    let (env, admin) = seeded().await;
    let reader = env.register(&TestEnv::email("reader")).await;
    let refused = env
        .send(env.get("/v1/audit").bearer(&access(&reader)))
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    let anonymous = env.send(env.get("/v1/audit")).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    create_role(&env, &admin, "auditor", &[("audit", "read")]).await;
    set_roles(&env, &admin, &user_id(&reader), &["auditor"]).await;
    let allowed = env
        .send(env.get("/v1/audit").bearer(&access(&reader)))
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{:?}", allowed.body);
    assert!(types(allowed.body["items"].as_array().unwrap()).contains(&"user.roles_changed"));
}

#[tokio::test]
async fn the_audit_list_filters_by_actor_subject_type_and_time_and_pages_exactly() {
    let (env, _) = seeded().await;
    let root_email = TestEnv::email("root");
    let root = env.register(&root_email).await;
    assert!(
        env.ctx
            .store
            .make_superuser(user_id(&root).parse().unwrap())
            .await
            .unwrap()
    );
    let started = env.ctx.now();
    let alice = env.register(&TestEnv::email("alice")).await;
    let bob_email = TestEnv::email("bob");
    let bob = env.register(&bob_email).await;
    for _ in 0..3 {
        env.clock.advance(chrono::Duration::seconds(1));
        assert_eq!(
            env.login(&bob_email, "wrong password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Into another month partition.
    env.clock.advance(chrono::Duration::days(40));
    let later = env.ctx.now();
    env.login_ok(&bob_email).await;
    let admin = access(&env.login_ok(&root_email).await);

    let failed = all_pages(&env, &admin, "/v1/audit?type=login.failed", 2).await;
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|e| e["subject"]["id"] == user_id(&bob)));

    let about_bob = all_pages(
        &env,
        &admin,
        &format!("/v1/audit?subject={}", user_id(&bob)),
        1,
    )
    .await;
    assert_eq!(
        types(&about_bob),
        [
            "login.succeeded",
            "login.failed",
            "login.failed",
            "login.failed",
            "account.registered"
        ]
    );
    let ids: BTreeSet<&str> = about_bob
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), about_bob.len(), "no event listed twice");

    let by_alice = all_pages(
        &env,
        &admin,
        &format!("/v1/audit?actor={}", user_id(&alice)),
        5,
    )
    .await;
    assert_eq!(types(&by_alice), ["account.registered"]);

    let since = later.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let recent = all_pages(&env, &admin, &format!("/v1/audit?since={since}"), 5).await;
    assert_eq!(types(&recent), ["login.succeeded", "login.succeeded"]);
    let until =
        (later - chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let from = started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let earlier = all_pages(
        &env,
        &admin,
        &format!("/v1/audit?type=login.failed&since={from}&until={until}"),
        2,
    )
    .await;
    assert_eq!(earlier.len(), 3);

    // Unfiltered, the list spans the month partitions and holds every event once.
    let everything = all_pages(&env, &admin, "/v1/audit", 3).await;
    let all_ids: BTreeSet<&str> = everything
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(all_ids.len(), everything.len());
    let times: Vec<&str> = everything
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert!(
        about_bob
            .iter()
            .all(|e| all_ids.contains(e["id"].as_str().unwrap()))
    );

    // A cursor belongs to its filter.
    let first = env
        .send(
            env.get("/v1/audit?type=login.failed&limit=1")
                .bearer(&admin),
        )
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let other = env
        .send(
            env.get(&format!(
                "/v1/audit?type=login.succeeded&limit=1&cursor={cursor}"
            ))
            .bearer(&admin),
        )
        .await;
    assert_error(&other, StatusCode::BAD_REQUEST, "invalid_cursor");
}

#[tokio::test]
async fn bad_audit_filters_are_refused() {
    let (env, admin) = seeded().await;
    for query in [
        "actor=somebody",
        "type=login.maybe",
        "since=yesterday",
        "until=2026-13-01T00:00:00Z",
        "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
        "subject=a%20b",
        "limit=0",
    ] {
        let reply = env
            .send(env.get(&format!("/v1/audit?{query}")).bearer(&admin))
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_query");
    }
    let reply = env
        .send(env.get("/v1/audit?cursor=abc.def").bearer(&admin))
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_cursor");
}

/// Every event type, caused through its real route; the audit list then holds each of them.
#[tokio::test]
async fn every_event_type_is_recorded_by_the_route_that_causes_it() {
    let admin_email = TestEnv::email("boot");
    let env = TestEnv::with_config(|c| {
        c.admin_email = Some(admin_email.clone());
        c.admin_password = Some(PASSWORD.into());
        c.max_sessions = 2;
    })
    .await;
    shared::bootstrap::run(&env.ctx).await.unwrap();
    let root = access(&env.login_ok(&admin_email).await);
    let send = |call| env.send(call);
    // A second deployment's bootstrap names an account that exists (verified): it is promoted.
    let promoted_email = TestEnv::email("promoted");
    let promoted = env.register(&promoted_email).await;
    env.verify_email_of(&user_id(&promoted)).await;
    let mut other: shared::Context = (*env.ctx).clone();
    let mut config = (*other.config).clone();
    config.admin_email = Some(promoted_email);
    other.config = std::sync::Arc::new(config);
    assert!(shared::bootstrap::run(&other).await.unwrap().promoted_admin);

    // Accounts, sign-ins, locks, cap evictions, refresh reuse.
    let email = TestEnv::email("user");
    let user = env.register(&email).await;
    let uid = user_id(&user);
    let token = access(&user);
    env.login_ok(&email).await;
    env.login_ok(&email).await; // over the cap of 2: the registration's session is evicted
    let unknown = env.login(&TestEnv::email("nobody"), PASSWORD).await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let locked_email = TestEnv::email("locked");
    env.register(&locked_email).await;
    for _ in 0..5 {
        env.login(&locked_email, "wrong password").await;
    }
    let second = env.login_ok(&email).await;
    let rotated = send(
        env.post("/v1/auth/refresh")
            .json(json!({"refresh_token": refresh(&second)})),
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK);
    env.clock.advance(chrono::Duration::seconds(60));
    let reused = send(
        env.post("/v1/auth/refresh")
            .json(json!({"refresh_token": refresh(&second)})),
    )
    .await;
    assert_error(&reused, StatusCode::UNAUTHORIZED, "refresh_token_reused");

    // The user's own changes and session ends.
    let a = env.login_ok(&email).await;
    let b = env.login_ok(&email).await;
    let token = {
        let _ = token;
        access(&b)
    };
    assert_eq!(
        send(
            env.patch("/v1/auth/me")
                .bearer(&token)
                .json(json!({"last_name": "Byron"}))
        )
        .await
        .status,
        StatusCode::OK
    );
    let other = send(
        env.delete(&format!(
            "/v1/sessions/{}",
            a["session_id"].as_str().unwrap()
        ))
        .bearer(&token),
    )
    .await;
    assert_eq!(other.status, StatusCode::NO_CONTENT, "{:?}", other.body);
    env.login_ok(&email).await; // a session for the password change to end
    let changed =
        send(env.post("/v1/auth/password").bearer(&token).json(
            json!({"current_password": PASSWORD, "new_password": "another long passphrase"}),
        ))
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    let revoked = send(
        env.post("/v1/auth/revoke")
            .json(json!({"refresh_token": refresh(&b)})),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let c = access(&env.login(&email, "another long passphrase").await.body);
    assert_eq!(
        send(env.post("/v1/auth/logout").bearer(&c)).await.status,
        StatusCode::NO_CONTENT
    );

    // QR logins: one confirmed and collected, one rejected.
    let phone = access(&env.login(&email, "another long passphrase").await.body);
    for decision in ["confirm", "reject"] {
        let generated = send(env.post("/v1/qr-auth/generate").user_agent(CHROME_MAC)).await;
        let code = generated.body["code"].as_str().unwrap().to_owned();
        let poll = generated.body["poll_token"].as_str().unwrap().to_owned();
        for action in ["scan", decision] {
            let reply = send(
                env.post(&format!("/v1/qr-auth/{action}"))
                    .bearer(&phone)
                    .json(json!({"code": code})),
            )
            .await;
            assert!(reply.status.is_success(), "{action}: {:?}", reply.body);
        }
        env.clock.advance(chrono::Duration::seconds(2));
        let polled = send(
            env.get(&format!("/v1/qr-auth/status/{code}"))
                .header("x-qr-poll-token", &poll),
        )
        .await;
        assert_eq!(polled.status, StatusCode::OK, "{:?}", polled.body);
    }

    // Administration: catalog, roles, users, sessions, quota, tickets.
    for (method, path, body) in [
        (
            "POST",
            "/v1/resources".to_owned(),
            json!({"code_name": "reports", "name": "Reports"}),
        ),
        (
            "PATCH",
            "/v1/resources/reports".to_owned(),
            json!({"name": "Monthly reports"}),
        ),
        ("DELETE", "/v1/resources/reports".to_owned(), Value::Null),
        (
            "POST",
            "/v1/roles".to_owned(),
            json!({"code_name": "support", "name": "Support", "permissions": [{"resource": "tickets", "action": "all"}]}),
        ),
        (
            "PATCH",
            "/v1/roles/support".to_owned(),
            json!({"name": "Support desk"}),
        ),
        (
            "PATCH",
            format!("/v1/users/{uid}"),
            json!({"roles": ["support"], "first_name": "Augusta"}),
        ),
        ("DELETE", "/v1/roles/support".to_owned(), Value::Null),
        (
            "PATCH",
            format!("/v1/users/{uid}"),
            json!({"is_active": false}),
        ),
        (
            "PATCH",
            format!("/v1/users/{uid}"),
            json!({"is_active": true}),
        ),
        ("LOGIN", String::new(), Value::Null),
        ("DELETE", format!("/v1/sessions/users/{uid}"), Value::Null),
        ("POST", format!("/v1/quota/users/{uid}/reset"), Value::Null),
        (
            "PUT",
            format!("/v1/quota/users/{uid}/limits"),
            json!({"max_videos": 5, "max_duration_seconds": null, "max_file_size_mb": null}),
        ),
    ] {
        if method == "LOGIN" {
            env.login(&email, "another long passphrase").await;
            continue;
        }
        let mut call = env.call(method.parse().unwrap(), &path).bearer(&root);
        if !body.is_null() {
            call = call.json(body);
        }
        let reply = send(call).await;
        assert!(
            reply.status.is_success(),
            "{method} {path}: {:?}",
            reply.body
        );
    }
    let owner = access(&env.login(&email, "another long passphrase").await.body);
    let ticket = send(env.post("/v1/tickets").bearer(&owner).json(json!({
        "subject": "Locked out", "description": "Help.", "category": "technical", "priority": "high"
    })))
    .await;
    assert_eq!(ticket.status, StatusCode::CREATED, "{:?}", ticket.body);
    let ticket_id = ticket.body["id"].as_str().unwrap();
    let root_id = env.send(env.get("/v1/auth/me").bearer(&root)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assigned = send(
        env.post(&format!("/v1/tickets/{ticket_id}/assign"))
            .bearer(&root)
            .json(json!({"operator_id": root_id})),
    )
    .await;
    assert_eq!(assigned.status, StatusCode::OK, "{:?}", assigned.body);
    let moved = send(
        env.post(&format!("/v1/tickets/{ticket_id}/status"))
            .bearer(&root)
            .json(json!({"status": "in_progress"})),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);

    let events = all_pages(&env, &root, "/v1/audit", 100).await;
    let seen: BTreeSet<&str> = types(&events).into_iter().collect();
    // The e-mail flows record theirs in tests/it/email.rs, which reads them back.
    let by_email = [
        EventType::PasswordReset,
        EventType::EmailVerified,
        EventType::EmailChanged,
    ];
    // The second factor's are recorded in tests/it/mfa.rs.
    let by_mfa = [
        EventType::MfaEnabled,
        EventType::MfaDisabled,
        EventType::MfaReset,
        EventType::MfaRecoveryCodesRegenerated,
    ];
    // The passkeys' in tests/it/passkeys.rs.
    let by_passkeys = [
        EventType::PasskeyAdded,
        EventType::PasskeyRenamed,
        EventType::PasskeyRemoved,
    ];
    for kind in EventType::ALL
        .iter()
        .filter(|k| !by_email.contains(k) && !by_mfa.contains(k) && !by_passkeys.contains(k))
    {
        assert!(
            seen.contains(kind.as_str()),
            "{} not recorded: {seen:?}",
            kind.as_str()
        );
    }

    let ended_by: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "session.ended")
        .map(|e| e["details"]["by"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = [
        "self",
        "other_device",
        "admin",
        "cap_eviction",
        "password_change",
        "deactivation",
    ]
    .into();
    assert_eq!(ended_by, expected);
    let system: Vec<&str> = events
        .iter()
        .filter(|e| e["actor"] == "system")
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        system.contains(&"bootstrap.superuser_created")
            && system.contains(&"bootstrap.catalog_seeded")
    );
    let assignment = events
        .iter()
        .find(|e| e["type"] == "ticket.assigned")
        .unwrap();
    assert_eq!(assignment["actor"], root_id);
    assert_eq!(
        assignment["subject"],
        json!({"type": "ticket", "id": ticket_id})
    );
    let deactivated = events
        .iter()
        .find(|e| e["type"] == "user.deactivated")
        .unwrap();
    assert_eq!(deactivated["actor"], root_id);
    assert_eq!(deactivated["subject"]["id"], uid);
    let locked = events
        .iter()
        .find(|e| e["type"] == "account.locked")
        .unwrap();
    assert!(locked["details"]["lock_secs"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn audit_events_expire_with_the_retention_and_the_cleanup_finds_them() {
    let env = TestEnv::with_config(|c| c.audit_retention_days = 2).await;
    let tokens = env.register(&TestEnv::email("short")).await;
    let events = all_pages(&env, &access(&tokens), "/v1/auth/me/events", 10).await;
    assert_eq!(types(&events), ["account.registered"]);
    env.clock.advance(chrono::Duration::days(3));
    let report = shared::cleanup::run(&env.ctx).await.unwrap();
    assert_eq!(report.deleted.get("audit"), Some(&1), "{report:?}");
}
