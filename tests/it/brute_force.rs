//! Attacks on passwords: parallel guessing against the account lock, locks that must escalate,
//! IPv6 clients rotating addresses, brute force through the password-change route, unlimited
//! registrations, and unknown e-mails told apart by the store work they cost.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use shared::domain::{Email, LoginOutcome, UserId};
use shared::store::{CallCounter, Store};

use crate::support::*;

fn user_id(tokens: &serde_json::Value) -> UserId {
    tokens["user"]["id"].as_str().unwrap().parse().unwrap()
}

/// How many of a user's recorded login attempts had each outcome.
async fn outcomes(env: &TestEnv, user: UserId) -> (usize, usize) {
    let history = env
        .ctx
        .store
        .login_outcomes_since(user, env.ctx.now() - chrono::Duration::days(1))
        .await
        .unwrap();
    let count = |wanted: LoginOutcome| history.iter().filter(|(_, o)| *o == wanted).count();
    (
        count(LoginOutcome::WrongPassword),
        count(LoginOutcome::Locked),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_guesses_get_no_more_verifications_than_the_threshold() {
    let env = Arc::new(TestEnv::new().await);
    let email = TestEnv::email("burst");
    let tokens = env.register(&email).await;
    let guesses = 20;
    // Every guess waits here until all of them are ready, so all of them race the lock.
    let start = Arc::new(tokio::sync::Barrier::new(guesses));
    let tasks = (0..guesses).map(|i| {
        let (env, start, email) = (env.clone(), start.clone(), email.clone());
        tokio::spawn(async move {
            start.wait().await;
            env.login(&email, &format!("wrong guess number {i}")).await
        })
    });
    let replies = futures::future::join_all(tasks).await;
    for reply in replies {
        let reply = reply.unwrap();
        assert_error(&reply, StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(
            reply.body["error"]["message"],
            "the e-mail or password is wrong"
        );
    }
    let threshold = env.ctx.config.lockout_threshold as usize;
    assert_eq!(
        outcomes(&env, user_id(&tokens)).await,
        (threshold, guesses - threshold),
        "only the threshold's worth of guesses was checked against the hash"
    );
    assert_error(
        &env.login(&email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn locks_keep_doubling_across_windows_until_a_successful_login() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("escalate");
    env.register(&email).await;
    for _ in 0..5 {
        env.login(&email, "wrong password").await;
    }
    // Long after the first lock and its counting window, the next round of failures locks
    // twice as long as the first.
    env.clock.advance(chrono::Duration::minutes(20));
    for _ in 0..5 {
        env.login(&email, "wrong password").await;
    }
    env.clock.advance(chrono::Duration::seconds(90));
    assert_eq!(
        env.login(&email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "the second lock lasts two minutes"
    );
    env.clock.advance(chrono::Duration::seconds(31));
    env.login_ok(&email).await;

    // The successful login reset the escalation: the next lock is the base length again.
    for _ in 0..5 {
        env.login(&email, "wrong password").await;
    }
    env.clock.advance(chrono::Duration::seconds(61));
    env.login_ok(&email).await;
}

#[tokio::test]
async fn ipv6_clients_share_the_per_ip_limit_of_their_64_network() {
    let env = TestEnv::with_config(|c| c.login_ip_limit = 2).await;
    let email = TestEnv::email("v6");
    env.register(&email).await;
    let attempt = |ip: &'static str| {
        env.send(
            env.post("/v1/auth/login")
                .client_ip(ip)
                .json(json!({"email": email, "password": "wrong password"})),
        )
    };
    assert_eq!(
        attempt("2001:db8:1:2::1").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt("2001:db8:1:2:aaaa::2").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_error(
        &attempt("2001:db8:1:2:ffff:ffff:ffff:ffff").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    assert_eq!(
        attempt("2001:db8:1:3::1").await.status,
        StatusCode::UNAUTHORIZED,
        "another /64 has its own budget"
    );
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_account_lock_and_the_history() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("stolen");
    let tokens = env.register(&email).await;
    let change =
        |current: &'static str| {
            env.send(env.post("/v1/auth/password").bearer(&access(&tokens)).json(
                json!({"current_password": current, "new_password": "a brand new passphrase"}),
            ))
        };
    for _ in 0..5 {
        assert_error(
            &change("a guess at the password").await,
            StatusCode::FORBIDDEN,
            "invalid_current_password",
        );
    }
    let locked = change(PASSWORD).await;
    assert_error(&locked, StatusCode::FORBIDDEN, "invalid_current_password");
    assert_error(
        &env.login(&email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    assert_eq!(
        outcomes(&env, user_id(&tokens)).await,
        (5, 2),
        "five wrong passwords, then the change and the login refused as locked"
    );
    env.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(change(PASSWORD).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn registrations_are_limited_per_ip() {
    let env = TestEnv::with_config(|c| c.register_ip_limit = 2).await;
    let register = |ip: &'static str| {
        env.send(env.post("/v1/auth/register").client_ip(ip).json(json!({
            "email": TestEnv::email("many"), "password": PASSWORD, "password2": PASSWORD,
            "first_name": "A", "last_name": "B"
        })))
    };
    assert_eq!(register("198.51.100.7").await.status, StatusCode::CREATED);
    assert_eq!(register("198.51.100.7").await.status, StatusCode::CREATED);
    let limited = register("198.51.100.7").await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(register("198.51.100.8").await.status, StatusCode::CREATED);
    env.clock.advance(chrono::Duration::hours(1));
    assert_eq!(register("198.51.100.7").await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_unknown_email_costs_the_same_store_requests_as_a_wrong_password() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("known");
    env.register(&email).await;
    let counter = CallCounter::new();
    let ctx = env.ctx.clone().with_store(Store::local_counted(
        &endpoint(),
        &env.ctx.config.aws_region,
        &env.ctx.config.table_name,
        &counter,
    ));
    let client = shared::client::ClientInfo {
        ip: Some("203.0.113.10".into()),
        device: shared::domain::Device::from_user_agent(Some(CHROME_MAC)),
        location: shared::domain::Location::default(),
    };
    let known = Email::parse(&email).unwrap();
    let unknown = Email::parse(&TestEnv::email("nobody")).unwrap();
    // Twice each: a first failure starts the account's failure record, a second one adds to it.
    for round in 0..2 {
        let wrong =
            shared::auth::login(&ctx, &known, "wrong password", &client, Default::default()).await;
        assert!(wrong.is_err());
        let for_wrong_password = counter.take();
        let nobody = shared::auth::login(
            &ctx,
            &unknown,
            "wrong password",
            &client,
            Default::default(),
        )
        .await;
        assert!(nobody.is_err());
        let for_unknown_email = counter.take();
        assert_eq!(for_wrong_password, for_unknown_email, "round {round}");
    }
}

#[tokio::test]
async fn password_changes_are_limited_per_user() {
    // A budget the lock never reaches, so only the per-user limit can refuse.
    let env = TestEnv::with_config(|c| c.lockout_threshold = 1000).await;
    let tokens = env.register(&TestEnv::email("hammer")).await;
    let other = env.register(&TestEnv::email("bystander")).await;
    let attempt = |tokens: &serde_json::Value| {
        env.send(
            env.post("/v1/auth/password")
                .bearer(&access(tokens))
                .json(json!({"current_password": "a guess at the password", "new_password": "a brand new passphrase"})),
        )
    };
    for _ in 0..shared::auth::PASSWORD_CHANGE_PER_USER.max {
        assert_error(
            &attempt(&tokens).await,
            StatusCode::FORBIDDEN,
            "invalid_current_password",
        );
    }
    let limited = attempt(&tokens).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    assert_error(
        &attempt(&other).await,
        StatusCode::FORBIDDEN,
        "invalid_current_password",
    );
}
