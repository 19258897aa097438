//! Two-factor sign-in: TOTP enrolment and its confirmation, the login's second step (codes
//! accepted once, ±1 step of skew, the account lock), recovery codes, the `mfa_token`'s life,
//! turning it off (by the user, by an administrator), what is stored, and the audit trail.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use shared::domain::{CreatedVia, UserId};
use totp_rs::{Builder, Secret, Totp};

use crate::support::*;

/// A signed-up user with two-factor sign-in on.
pub struct Enrolled {
    pub email: String,
    tokens: Value,
    totp: Totp,
    secret: String,
    recovery: Vec<String>,
}

impl Enrolled {
    pub fn id(&self) -> UserId {
        self.tokens["user"]["id"].as_str().unwrap().parse().unwrap()
    }

    pub fn access(&self) -> String {
        access(&self.tokens)
    }

    fn wrong_code(&self, env: &TestEnv) -> String {
        wrong_code_for(&self.totp, env)
    }

    /// The code of the step `offset` steps from the clock's.
    pub fn code(&self, env: &TestEnv, offset: i64) -> String {
        code_at(&self.totp, env, offset)
    }
}

/// A code that no step within the accepted skew of the clock's has.
fn wrong_code_for(totp: &Totp, env: &TestEnv) -> String {
    let valid: Vec<String> = (-1..=1).map(|offset| code_at(totp, env, offset)).collect();
    (0..4u32)
        .map(|n| format!("{n:06}"))
        .find(|candidate| !valid.contains(candidate))
        .unwrap()
}

fn totp_of(secret: &str) -> Totp {
    Builder::new()
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
}

fn code_at(totp: &Totp, env: &TestEnv, offset: i64) -> String {
    let at = env.ctx.now().timestamp() + offset * 30;
    totp.generate(u64::try_from(at).unwrap()).to_string()
}

/// Registers a user, enrols and confirms an authenticator, and moves the clock to the next
/// step (the confirming code's step is used).
pub async fn enrolled(env: &TestEnv, name: &str) -> Enrolled {
    let email = TestEnv::email(name);
    let tokens = env.register(&email).await;
    let enrolment = env
        .send(env.post("/v1/auth/mfa/totp").bearer(&access(&tokens)))
        .await;
    assert_eq!(enrolment.status, StatusCode::OK, "{:?}", enrolment.body);
    let secret = enrolment.body["secret"].as_str().unwrap().to_owned();
    assert!(
        enrolment.body["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Sesame:")
    );
    assert!(enrolment.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let totp = totp_of(&secret);
    let confirmed = env
        .send(
            env.post("/v1/auth/mfa/totp/confirm")
                .bearer(&access(&tokens))
                .json(json!({"code": code_at(&totp, env, 0)})),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    let recovery: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    env.clock.advance(chrono::Duration::seconds(30));
    Enrolled {
        email,
        tokens,
        totp,
        secret,
        recovery,
    }
}

/// The `mfa_token` of a right password on an account with two-factor sign-in.
pub async fn first_step(env: &TestEnv, email: &str) -> String {
    let reply = env.login(email, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["mfa_required"], true, "{:?}", reply.body);
    reply.body["mfa_token"].as_str().unwrap().to_owned()
}

pub async fn second_step(env: &TestEnv, mfa_token: &str, factor: Value) -> Reply {
    let mut body = json!({"mfa_token": mfa_token});
    for (name, value) in factor.as_object().unwrap() {
        body[name] = value.clone();
    }
    env.send(env.post("/v1/auth/login/mfa").json(body)).await
}

async fn sessions_of(env: &TestEnv, user: UserId) -> usize {
    env.ctx
        .store
        .find_user_sessions(user)
        .await
        .unwrap()
        .map_or(0, |account| account.sessions.len())
}

async fn mfa_enabled(env: &TestEnv, token: &str) -> bool {
    let me = env.send(env.get("/v1/auth/me").bearer(token)).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    me.body["mfa_enabled"].as_bool().unwrap()
}

#[tokio::test]
async fn enrolment_is_on_only_after_a_first_valid_code() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("enrol");
    let tokens = env.register(&email).await;
    let token = access(&tokens);
    assert!(!mfa_enabled(&env, &token).await);
    let enrolment = env.send(env.post("/v1/auth/mfa/totp").bearer(&token)).await;
    let totp = totp_of(enrolment.body["secret"].as_str().unwrap());
    let right = code_at(&totp, &env, 0);
    let wrong = wrong_code_for(&totp, &env);
    let refused = env
        .send(
            env.post("/v1/auth/mfa/totp/confirm")
                .bearer(&token)
                .json(json!({"code": wrong})),
        )
        .await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "invalid_code");
    assert!(!mfa_enabled(&env, &token).await);
    // Still off: the password alone signs in.
    assert!(env.login_ok(&email).await["access_token"].is_string());

    let confirmed = env
        .send(
            env.post("/v1/auth/mfa/totp/confirm")
                .bearer(&token)
                .json(json!({"code": right})),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    assert_eq!(
        confirmed.body["recovery_codes"].as_array().unwrap().len(),
        10
    );
    assert!(mfa_enabled(&env, &token).await);
    let again = env.send(env.post("/v1/auth/mfa/totp").bearer(&token)).await;
    assert_error(&again, StatusCode::CONFLICT, "mfa_already_enabled");
    let confirmed_again = env
        .send(
            env.post("/v1/auth/mfa/totp/confirm")
                .bearer(&token)
                .json(json!({"code": right})),
        )
        .await;
    assert_error(&confirmed_again, StatusCode::CONFLICT, "mfa_not_pending");
}

#[tokio::test]
async fn a_login_needs_the_second_step_and_has_no_session_before_it() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "second").await;
    let before = sessions_of(&env, user.id()).await;
    let reply = env.login(&user.email, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["mfa_required"], true);
    assert_eq!(reply.body["methods"], json!(["totp", "recovery_code"]));
    assert!(reply.body.get("access_token").is_none(), "{:?}", reply.body);
    assert!(reply.headers.get("set-cookie").is_none());
    assert_eq!(sessions_of(&env, user.id()).await, before);
    let mfa_token = reply.body["mfa_token"].as_str().unwrap();

    // The pending login is no session: it authenticates nothing, QR approval included.
    assert_eq!(env.me_status(mfa_token).await, StatusCode::UNAUTHORIZED);
    let generated = env.send(env.post("/v1/qr-auth/generate")).await;
    let scan = env
        .send(
            env.post("/v1/qr-auth/scan")
                .bearer(mfa_token)
                .json(json!({"code": generated.body["code"]})),
        )
        .await;
    assert_eq!(scan.status, StatusCode::UNAUTHORIZED, "{:?}", scan.body);

    let done = second_step(&env, mfa_token, json!({"code": user.code(&env, 0)})).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    let token = access(&done.body);
    assert_eq!(env.me_status(&token).await, StatusCode::OK);
    assert_eq!(done.body["user"]["mfa_enabled"], true);
    let account = env
        .ctx
        .store
        .find_user_sessions(user.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.sessions.len(), before + 1);
    let session = account
        .sessions
        .iter()
        .find(|s| s.id.to_string() == done.body["session_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(session.created_via, CreatedVia::Password);
}

#[tokio::test]
async fn a_code_is_accepted_once() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "replay").await;
    let code = user.code(&env, 0);
    let first = second_step(
        &env,
        &first_step(&env, &user.email).await,
        json!({"code": code}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let replayed = second_step(
        &env,
        &first_step(&env, &user.email).await,
        json!({"code": code}),
    )
    .await;
    assert_error(&replayed, StatusCode::UNAUTHORIZED, "invalid_code");
    // An earlier step than the one accepted is refused too.
    let earlier = user.code(&env, -1);
    let older = second_step(
        &env,
        &first_step(&env, &user.email).await,
        json!({"code": earlier}),
    )
    .await;
    assert_error(&older, StatusCode::UNAUTHORIZED, "invalid_code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_parallel_submissions_of_one_code_exactly_one_signs_in() {
    let env = Arc::new(TestEnv::new().await);
    let user = enrolled(&env, "parallel").await;
    let tokens = [
        first_step(&env, &user.email).await,
        first_step(&env, &user.email).await,
    ];
    let code = user.code(&env, 0);
    // Both submissions wait here, so they race for the same step.
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let tasks = tokens.map(|token| {
        let (env, start, code) = (env.clone(), start.clone(), code.clone());
        tokio::spawn(async move {
            start.wait().await;
            second_step(&env, &token, json!({"code": code})).await
        })
    });
    let replies = futures::future::join_all(tasks).await;
    let statuses: Vec<StatusCode> = replies.into_iter().map(|r| r.unwrap().status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::UNAUTHORIZED), "{statuses:?}");
}

#[tokio::test]
async fn codes_one_step_off_are_accepted_and_two_steps_off_refused() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "skew").await;
    env.clock.advance(chrono::Duration::minutes(5));
    let token = first_step(&env, &user.email).await;
    for offset in [-2, 2] {
        let far = second_step(&env, &token, json!({"code": user.code(&env, offset)})).await;
        assert_error(&far, StatusCode::UNAUTHORIZED, "invalid_code");
    }
    let behind = second_step(&env, &token, json!({"code": user.code(&env, -1)})).await;
    assert_eq!(behind.status, StatusCode::OK, "{:?}", behind.body);
    env.clock.advance(chrono::Duration::minutes(5));
    let token = first_step(&env, &user.email).await;
    let ahead = second_step(&env, &token, json!({"code": user.code(&env, 1)})).await;
    assert_eq!(ahead.status, StatusCode::OK, "{:?}", ahead.body);
}

#[tokio::test]
async fn wrong_codes_lock_the_account_and_the_lock_answers_like_a_wrong_code() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "lock").await;
    let token = first_step(&env, &user.email).await;
    let right = user.code(&env, 0);
    let wrong = user.wrong_code(&env);
    // The right password gives its check back; the wrong codes take the window's checks.
    let threshold = env.ctx.config.lockout_threshold;
    for _ in 0..threshold {
        let refused = second_step(&env, &token, json!({"code": wrong})).await;
        assert_error(&refused, StatusCode::UNAUTHORIZED, "invalid_code");
    }
    let locked = second_step(&env, &token, json!({"code": right})).await;
    assert_error(&locked, StatusCode::UNAUTHORIZED, "invalid_code");
    assert_eq!(locked.body["error"]["message"], "the code is wrong");
    let password = env.login(&user.email, PASSWORD).await;
    assert_error(&password, StatusCode::UNAUTHORIZED, "invalid_credentials");
    // After the lock, the same code (its step never accepted) signs in.
    env.clock.advance(chrono::Duration::seconds(61));
    let token = first_step(&env, &user.email).await;
    let after = second_step(&env, &token, json!({"code": user.code(&env, 0)})).await;
    assert_eq!(after.status, StatusCode::OK, "{:?}", after.body);
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "recovery").await;
    let code = &user.recovery[0];
    // Case and the dash do not matter.
    let typed = code.to_uppercase().replace('-', " ");
    let first = second_step(
        &env,
        &first_step(&env, &user.email).await,
        json!({"recovery_code": typed}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let again = second_step(
        &env,
        &first_step(&env, &user.email).await,
        json!({"recovery_code": code}),
    )
    .await;
    assert_error(&again, StatusCode::UNAUTHORIZED, "invalid_code");
    let other = second_step(
        &env,
        &first_step(&env, &user.email).await,
        json!({"recovery_code": user.recovery[1]}),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK, "{:?}", other.body);
}

#[tokio::test]
async fn regenerated_recovery_codes_replace_the_old_ones() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "regen").await;
    let reply = env
        .send(
            env.post("/v1/auth/mfa/recovery-codes")
                .bearer(&user.access())
                .json(json!({"code": user.code(&env, 0)})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let fresh: Vec<String> = reply.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    let old = second_step(
        &env,
        &first_step(&env, &user.email).await,
        json!({"recovery_code": user.recovery[0]}),
    )
    .await;
    assert_error(&old, StatusCode::UNAUTHORIZED, "invalid_code");
    let new = second_step(
        &env,
        &first_step(&env, &user.email).await,
        json!({"recovery_code": fresh[0]}),
    )
    .await;
    assert_eq!(new.status, StatusCode::OK, "{:?}", new.body);
}

#[tokio::test]
async fn an_expired_used_or_misplaced_mfa_token_is_refused() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "token").await;
    let token = first_step(&env, &user.email).await;
    env.clock.advance(chrono::Duration::seconds(5 * 60 + 1));
    let expired = second_step(&env, &token, json!({"code": user.code(&env, 0)})).await;
    assert_error(&expired, StatusCode::UNAUTHORIZED, "invalid_mfa_token");

    let token = first_step(&env, &user.email).await;
    let elsewhere = env
        .send(
            env.post("/v1/auth/login/mfa")
                .client_ip("203.0.113.99")
                .json(json!({"mfa_token": token, "code": user.code(&env, 0)})),
        )
        .await;
    assert_error(&elsewhere, StatusCode::UNAUTHORIZED, "invalid_mfa_token");
    let used = second_step(&env, &token, json!({"code": user.code(&env, 0)})).await;
    assert_eq!(used.status, StatusCode::OK, "{:?}", used.body);
    env.clock.advance(chrono::Duration::seconds(30));
    let reused = second_step(&env, &token, json!({"code": user.code(&env, 0)})).await;
    assert_error(&reused, StatusCode::UNAUTHORIZED, "invalid_mfa_token");
    let unknown = second_step(&env, "not-a-token", json!({"code": user.code(&env, 0)})).await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_mfa_token");
}

#[tokio::test]
async fn a_cookie_login_gets_its_cookies_only_from_the_second_step() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "cookie").await;
    let reply = env
        .send(
            env.post("/v1/auth/login")
                .json(json!({"email": user.email, "password": PASSWORD, "transport": "cookie"})),
        )
        .await;
    assert_eq!(reply.body["mfa_required"], true, "{:?}", reply.body);
    assert!(reply.headers.get("set-cookie").is_none());
    let token = reply.body["mfa_token"].as_str().unwrap();
    let bearer = second_step(
        &env,
        token,
        json!({"code": user.code(&env, 0), "transport": "bearer"}),
    )
    .await;
    assert_eq!(bearer.status, StatusCode::BAD_REQUEST, "{:?}", bearer.body);
    let done = second_step(&env, token, json!({"code": user.code(&env, 0)})).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert!(done.headers.get("set-cookie").is_some());
    assert!(done.body.get("access_token").is_none());
    assert!(done.body["csrf_token"].is_string(), "{:?}", done.body);
}

#[tokio::test]
async fn turning_it_off_needs_a_code_or_the_password() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "disable").await;
    let token = user.access();
    let disable = |body: Value| env.delete("/v1/auth/mfa/totp").bearer(&token).json(body);
    let nothing = env.send(disable(json!({}))).await;
    assert_eq!(
        nothing.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        nothing.body
    );
    let wrong_password = env
        .send(disable(json!({"password": "not the password"})))
        .await;
    assert_error(
        &wrong_password,
        StatusCode::FORBIDDEN,
        "invalid_current_password",
    );
    let wrong = user.wrong_code(&env);
    let wrong_code = env.send(disable(json!({"code": wrong}))).await;
    assert_error(&wrong_code, StatusCode::FORBIDDEN, "invalid_code");
    assert!(mfa_enabled(&env, &token).await);
    let off = env.send(disable(json!({"password": PASSWORD}))).await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{:?}", off.body);
    assert!(!mfa_enabled(&env, &token).await);
    assert!(env.login_ok(&user.email).await["access_token"].is_string());
    let again = env.send(disable(json!({"password": PASSWORD}))).await;
    assert_error(&again, StatusCode::CONFLICT, "mfa_not_enabled");

    // On again, then off with a code.
    let enrolment = env.send(env.post("/v1/auth/mfa/totp").bearer(&token)).await;
    let totp = totp_of(enrolment.body["secret"].as_str().unwrap());
    let confirmed = env
        .send(
            env.post("/v1/auth/mfa/totp/confirm")
                .bearer(&token)
                .json(json!({"code": code_at(&totp, &env, 0)})),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    env.clock.advance(chrono::Duration::seconds(30));
    let off = env
        .send(disable(json!({"code": code_at(&totp, &env, 0)})))
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{:?}", off.body);
    assert!(!mfa_enabled(&env, &token).await);
}

#[tokio::test]
async fn an_administrator_resets_a_users_second_factor_and_others_may_not() {
    let env = TestEnv::new().await;
    let root = access(&env.superuser().await);
    let user = enrolled(&env, "reset").await;
    let other = env.register(&TestEnv::email("other")).await;
    let path = format!("/v1/users/{}/mfa", user.id());
    let refused = env.send(env.delete(&path).bearer(&access(&other))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert!(mfa_enabled(&env, &user.access()).await);
    let reset = env.send(env.delete(&path).bearer(&root)).await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{:?}", reset.body);
    assert!(!mfa_enabled(&env, &user.access()).await);
    assert!(env.login_ok(&user.email).await["access_token"].is_string());
    let again = env.send(env.delete(&path).bearer(&root)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{:?}", again.body);
}

#[tokio::test]
async fn the_totp_secret_is_not_stored_in_clear() {
    let env = TestEnv::new().await;
    let user = enrolled(&env, "at-rest").await;
    let stored = env
        .ctx
        .store
        .stored_mfa_item(user.id())
        .await
        .unwrap()
        .expect("the MFA item");
    let secret = user.secret.trim_end_matches('=');
    assert!(!stored.contains(secret), "{stored}");
    assert!(!stored.to_lowercase().contains(&secret.to_lowercase()));
    let hex: String = Secret::try_from_base32(&user.secret)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!stored.contains(&hex));
    for code in &user.recovery {
        assert!(!stored.contains(code.as_str()), "{stored}");
    }
}

#[tokio::test]
async fn second_factor_changes_and_wrong_codes_are_audited() {
    let env = TestEnv::new().await;
    let root = access(&env.superuser().await);
    let user = enrolled(&env, "audit").await;
    let token = user.access();
    let regenerated = env
        .send(
            env.post("/v1/auth/mfa/recovery-codes")
                .bearer(&token)
                .json(json!({"code": user.code(&env, 0)})),
        )
        .await;
    assert_eq!(regenerated.status, StatusCode::OK);
    env.clock.advance(chrono::Duration::seconds(30));
    let wrong = second_step(
        &env,
        &first_step(&env, &user.email).await,
        json!({"code": user.wrong_code(&env)}),
    )
    .await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_code");
    let off = env
        .send(
            env.delete("/v1/auth/mfa/totp")
                .bearer(&token)
                .json(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT);
    let again = enrolled(&env, "audit-reset").await;
    let reset = env
        .send(
            env.delete(&format!("/v1/users/{}/mfa", again.id()))
                .bearer(&root),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT);

    let events = env.send(env.get("/v1/audit?limit=100").bearer(&root)).await;
    let events = events.body["items"].as_array().unwrap().clone();
    let has = |kind: &str, subject: UserId| {
        events.iter().any(|e| {
            e["type"] == kind
                && e["outcome"] == "success"
                && e["subject"]["id"].as_str() == Some(&subject.to_string())
        })
    };
    assert!(has("mfa.enabled", user.id()), "{events:?}");
    assert!(has("mfa.recovery_codes_regenerated", user.id()));
    assert!(has("mfa.disabled", user.id()));
    assert!(has("mfa.reset", again.id()));
    assert!(events.iter().any(|e| e["type"] == "login.failed"
        && e["outcome"] == "failure"
        && e["details"]["reason"] == "wrong_code"
        && e["subject"]["id"].as_str() == Some(&user.id().to_string())));
}
