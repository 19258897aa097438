//! E-mail verification, password reset and e-mail change, through the routers against
//! LocalStack, whose SES keeps every message it was asked to send (`GET /_aws/ses`).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::domain::UserId;

use crate::support::*;

/// Every message LocalStack's SES holds for `address`, oldest first.
pub async fn mails_to(address: &str) -> Vec<Value> {
    let url = format!("{}/_aws/ses", endpoint());
    let (status, body) = fetch(Method::GET, &url, &[], Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let all: Value = serde_json::from_slice(&body).unwrap();
    all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["Destination"]["ToAddresses"]
                .as_array()
                .is_some_and(|to| to.iter().any(|a| a == address))
        })
        .cloned()
        .collect()
}

/// The link to `page` in a message's text part and its token.
pub fn link_in(mail: &Value, page: &str) -> (String, String) {
    let text = mail["Body"]["text_part"].as_str().unwrap();
    let start = text
        .find(&format!("/{page}?token="))
        .unwrap_or_else(|| panic!("no /{page} link in {text}"));
    let link_start = text[..start]
        .rfind(char::is_whitespace)
        .map_or(0, |i| i + 1);
    let end = text[start..]
        .find(char::is_whitespace)
        .map_or(text.len(), |i| start + i);
    let link = text[link_start..end].to_owned();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    (link, token)
}

/// The token of the only (or last) message to `address` linking to `page`.
pub async fn last_token(address: &str, page: &str) -> String {
    let mails = mails_to(address).await;
    let mail = mails
        .last()
        .unwrap_or_else(|| panic!("no mail to {address}"));
    link_in(mail, page).1
}

async fn verify(env: &TestEnv, token: &str) -> Reply {
    env.send(
        env.post("/v1/auth/verify-email")
            .json(json!({ "token": token })),
    )
    .await
}

async fn me(env: &TestEnv, tokens: &Value) -> Value {
    env.send(env.get("/v1/auth/me").bearer(&access(tokens)))
        .await
        .body
}

async fn request_reset(env: &TestEnv, email: &str) -> Reply {
    env.send(
        env.post("/v1/auth/password-reset")
            .json(json!({ "email": email })),
    )
    .await
}

async fn confirm_reset(env: &TestEnv, token: &str, password: &str) -> Reply {
    env.send(
        env.post("/v1/auth/password-reset/confirm")
            .json(json!({ "token": token, "new_password": password })),
    )
    .await
}

async fn change_email(env: &TestEnv, tokens: &Value, new_email: &str, password: &str) -> Reply {
    env.send(
        env.post("/v1/auth/me/email")
            .bearer(&access(tokens))
            .json(json!({ "new_email": new_email, "current_password": password })),
    )
    .await
}

const NEW_PASSWORD: &str = "a completely new passphrase";

#[tokio::test]
async fn registration_mails_a_link_whose_token_verifies_the_address_once() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("verify");
    let tokens = env.register(&email).await;
    assert_eq!(tokens["user"]["email_verified"], false);

    let mails = mails_to(&email).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail["Source"], env.ctx.config.mail_from);
    assert_eq!(mail["Subject"], "Verify your e-mail address");
    let (link, token) = link_in(mail, "verify-email");
    assert_eq!(
        link,
        format!(
            "{}/verify-email?token={token}",
            env.ctx.config.link_origin()
        )
    );
    let html = mail["Body"]["html_part"].as_str().unwrap();
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    assert!(html.contains("Hello Ada"), "{html}");

    let verified = verify(&env, &token).await;
    assert_eq!(
        verified.status,
        StatusCode::NO_CONTENT,
        "{:?}",
        verified.body
    );
    assert_eq!(me(&env, &tokens).await["email_verified"], true);
    let again = verify(&env, &token).await;
    assert_error(&again, StatusCode::BAD_REQUEST, "invalid_token");
    assert_eq!(
        events(&env, &access(&tokens)).await,
        ["email.verified", "account.registered"]
    );
}

/// The types of the caller's own audit events, newest first.
async fn events(env: &TestEnv, access_token: &str) -> Vec<String> {
    let reply = env
        .send(env.get("/v1/auth/me/events").bearer(access_token))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn wrong_expired_and_wrong_purpose_tokens_are_refused_alike() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("tokens");
    env.register(&email).await;
    let verification = last_token(&email, "verify-email").await;

    let unknown = shared::tokens::random_secret();
    for token in [unknown.as_str(), "not-a-token", "x'; DROP TABLE"] {
        assert_error(
            &verify(&env, token).await,
            StatusCode::BAD_REQUEST,
            "invalid_token",
        );
        assert_error(
            &confirm_reset(&env, token, NEW_PASSWORD).await,
            StatusCode::BAD_REQUEST,
            "invalid_token",
        );
    }
    let empty = verify(&env, "").await;
    assert_error(&empty, StatusCode::BAD_REQUEST, "validation_failed");

    // A reset token does not verify, a verification token does not reset.
    assert_eq!(
        request_reset(&env, &email).await.status,
        StatusCode::ACCEPTED
    );
    let reset = last_token(&email, "reset-password").await;
    assert_error(
        &verify(&env, &reset).await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    );
    assert_error(
        &confirm_reset(&env, &verification, NEW_PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    );

    // A day later the verification link has expired.
    env.clock.advance(chrono::Duration::hours(24));
    assert_error(
        &verify(&env, &verification).await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    );
    let later = env.login_ok(&email).await;
    assert_eq!(me(&env, &later).await["email_verified"], false);
}

#[tokio::test]
async fn resending_the_verification_is_rate_limited_per_user() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("resend");
    let tokens = env.register(&email).await;
    let resend = || {
        env.post("/v1/auth/verify-email/resend")
            .bearer(&access(&tokens))
    };
    for _ in 0..shared::email::RESEND_PER_USER.max {
        let reply = env.send(resend()).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    }
    let limited = env.send(resend()).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    let mails = mails_to(&email).await;
    assert_eq!(mails.len(), 4, "registration and three resends");

    // Every link works until it is used or expires; using one verifies the address.
    let (_, first) = link_in(&mails[1], "verify-email");
    assert_eq!(verify(&env, &first).await.status, StatusCode::NO_CONTENT);
    let done = env.send(resend()).await;
    assert_error(&done, StatusCode::CONFLICT, "email_already_verified");
    let anonymous = env.send(env.post("/v1/auth/verify-email/resend")).await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "missing_token");
}

#[tokio::test]
async fn a_reset_for_a_known_and_an_unknown_address_answers_alike() {
    let env = TestEnv::new().await;
    let known = TestEnv::email("known");
    env.register(&known).await;
    let unknown = TestEnv::email("unknown");

    let for_known = request_reset(&env, &known).await;
    let for_unknown = request_reset(&env, &unknown).await;
    assert_eq!(for_known.status, StatusCode::ACCEPTED);
    assert_eq!(for_known.status, for_unknown.status);
    assert_eq!(for_known.body, for_unknown.body);
    let mut known_headers = for_known.headers.clone();
    let mut unknown_headers = for_unknown.headers.clone();
    known_headers.remove("x-request-id");
    unknown_headers.remove("x-request-id");
    assert_eq!(known_headers, unknown_headers);

    let mails = mails_to(&known).await;
    assert_eq!(mails.len(), 2, "verification and reset");
    assert_eq!(mails[1]["Subject"], "Reset your password");
    assert!(mails_to(&unknown).await.is_empty());
}

#[tokio::test]
async fn a_reset_sets_the_password_ends_every_session_clears_the_lock_and_works_once() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("reset");
    let first = env.register(&email).await;
    let second = env.login_ok(&email).await;
    // Lock the account with wrong passwords: even the right one is refused now.
    for _ in 0..env.ctx.config.lockout_threshold {
        let wrong = env.login(&email, "not the password at all").await;
        assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    assert_eq!(
        env.login(&email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        request_reset(&env, &email).await.status,
        StatusCode::ACCEPTED
    );
    let token = last_token(&email, "reset-password").await;
    let weak = confirm_reset(&env, &token, "short").await;
    assert_error(&weak, StatusCode::BAD_REQUEST, "validation_failed");
    let common = confirm_reset(&env, &token, "password123").await;
    assert_error(&common, StatusCode::BAD_REQUEST, "validation_failed");

    let done = confirm_reset(&env, &token, NEW_PASSWORD).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{:?}", done.body);
    assert_eq!(
        env.me_status(&access(&first)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.me_status(&access(&second)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_error(
        &env.login(&email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let signed_in = env.login(&email, NEW_PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "the lock is cleared");

    let reused = confirm_reset(&env, &token, "yet another long passphrase").await;
    assert_error(&reused, StatusCode::BAD_REQUEST, "invalid_token");
    assert_eq!(env.login(&email, NEW_PASSWORD).await.status, StatusCode::OK);
    let recorded = events(&env, &access(&signed_in.body)).await;
    let reset_at = recorded.iter().position(|t| t == "password.reset").unwrap();
    assert_eq!(recorded[reset_at - 1], "session.ended", "{recorded:?}");
    let ended = env
        .send(
            env.get("/v1/auth/me/events?limit=100")
                .bearer(&access(&signed_in.body)),
        )
        .await;
    let by: Vec<&str> = ended.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "session.ended")
        .map(|e| e["details"]["by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["password_reset"]);
}

#[tokio::test]
async fn a_reset_link_expires_after_15_minutes() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("expiry");
    env.register(&email).await;
    assert_eq!(
        request_reset(&env, &email).await.status,
        StatusCode::ACCEPTED
    );
    let token = last_token(&email, "reset-password").await;
    env.clock.advance(chrono::Duration::minutes(15));
    let late = confirm_reset(&env, &token, NEW_PASSWORD).await;
    assert_error(&late, StatusCode::BAD_REQUEST, "invalid_token");
    assert_eq!(env.login(&email, PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_reset_token_works_once_under_a_race() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("race");
    env.register(&email).await;
    assert_eq!(
        request_reset(&env, &email).await.status,
        StatusCode::ACCEPTED
    );
    let token = last_token(&email, "reset-password").await;
    let passwords = [
        "first racing passphrase",
        "second racing passphrase",
        "third racing passphrase",
    ];
    let replies = futures::future::join_all(
        passwords
            .iter()
            .map(|password| confirm_reset(&env, &token, password)),
    )
    .await;
    let won: Vec<&str> = replies
        .iter()
        .zip(passwords)
        .filter(|(reply, _)| reply.status == StatusCode::NO_CONTENT)
        .map(|(_, password)| password)
        .collect();
    assert_eq!(won.len(), 1, "{replies:?}");
    for reply in replies
        .iter()
        .filter(|r| r.status != StatusCode::NO_CONTENT)
    {
        assert_error(reply, StatusCode::BAD_REQUEST, "invalid_token");
    }
    assert_eq!(env.login(&email, won[0]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn reset_requests_are_rate_limited_per_address_and_per_ip() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("limited");
    for _ in 0..shared::email::RESET_PER_ADDRESS.max {
        assert_eq!(
            request_reset(&env, &email).await.status,
            StatusCode::ACCEPTED
        );
    }
    let limited = request_reset(&env, &email).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));

    let from = |email: &str| {
        env.post("/v1/auth/password-reset")
            .client_ip("198.51.100.7")
            .json(json!({ "email": email }))
    };
    for i in 0..shared::email::RESET_PER_IP.max {
        let reply = env.send(from(&TestEnv::email(&format!("ip{i}")))).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
    }
    let limited = env.send(from(&TestEnv::email("one-more"))).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let bad = request_reset(&env, "not an address").await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test]
async fn changing_the_email_needs_the_password_and_a_link_to_the_new_address() {
    let env = TestEnv::new().await;
    let old = TestEnv::email("old");
    let new = TestEnv::email("new");
    let tokens = env.register(&old).await;

    let wrong = change_email(&env, &tokens, &new, "not the password at all").await;
    assert_error(&wrong, StatusCode::FORBIDDEN, "invalid_current_password");
    assert_eq!(events(&env, &access(&tokens)).await[0], "email.changed");
    let same = change_email(&env, &tokens, &old, PASSWORD).await;
    assert_error(&same, StatusCode::BAD_REQUEST, "validation_failed");
    let asked = change_email(&env, &tokens, &new, PASSWORD).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    assert_eq!(
        me(&env, &tokens).await["email"],
        old,
        "nothing moves before the link"
    );

    let mails = mails_to(&new).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["Subject"], "Confirm your new e-mail address");
    let (_, token) = link_in(&mails[0], "verify-email");
    let confirmed = verify(&env, &token).await;
    assert_eq!(
        confirmed.status,
        StatusCode::NO_CONTENT,
        "{:?}",
        confirmed.body
    );

    let now = me(&env, &tokens).await;
    assert_eq!(now["email"], new);
    assert_eq!(now["email_verified"], true);
    let notices = mails_to(&old).await;
    assert_eq!(notices.len(), 2, "verification, then the notice");
    assert_eq!(notices[1]["Subject"], "Your e-mail address was changed");
    assert!(
        notices[1]["Body"]["text_part"]
            .as_str()
            .unwrap()
            .contains(&new)
    );
    assert_error(
        &env.login(&old, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let signed_in = env.login(&new, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK);
    let changes = env
        .send(
            env.get("/v1/audit?type=email.changed")
                .bearer(&access(&tokens)),
        )
        .await;
    assert_eq!(
        changes.status,
        StatusCode::FORBIDDEN,
        "the trail is for auditors"
    );
    let own = env
        .send(
            env.get("/v1/auth/me/events")
                .bearer(&access(&signed_in.body)),
        )
        .await;
    let change = &own.body["items"][1];
    assert_eq!(change["type"], "email.changed", "{:?}", own.body);
    assert_eq!(change["outcome"], "success");
    assert_eq!(change["details"], json!({"from": old, "to": new}));
    assert_error(
        &verify(&env, &token).await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    );
    // The old address is free again.
    env.register(&old).await;
}

#[tokio::test]
async fn an_email_change_to_a_taken_address_is_refused() {
    let env = TestEnv::new().await;
    let mine = TestEnv::email("mine");
    let taken = TestEnv::email("taken");
    let tokens = env.register(&mine).await;
    env.register(&taken).await;
    let refused = change_email(&env, &tokens, &taken, PASSWORD).await;
    assert_error(&refused, StatusCode::CONFLICT, "email_taken");

    // Claimed between the request and the link: the change is refused, nothing moves.
    let later = TestEnv::email("later");
    assert_eq!(
        change_email(&env, &tokens, &later, PASSWORD).await.status,
        StatusCode::ACCEPTED
    );
    let token = last_token(&later, "verify-email").await;
    env.register(&later).await;
    let conflict = verify(&env, &token).await;
    assert_error(&conflict, StatusCode::CONFLICT, "email_taken");
    assert_eq!(me(&env, &tokens).await["email"], mine);
    assert_eq!(env.login(&mine, PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn required_verification_refuses_unverified_sign_in_after_the_right_password() {
    let env = TestEnv::with_config(|c| c.require_verified_email = true).await;
    let email = TestEnv::email("required");
    env.register(&email).await;
    let wrong = env.login(&email, "not the password at all").await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let unverified = env.login(&email, PASSWORD).await;
    assert_error(&unverified, StatusCode::FORBIDDEN, "email_not_verified");
    let token = last_token(&email, "verify-email").await;
    assert_eq!(verify(&env, &token).await.status, StatusCode::NO_CONTENT);
    assert_eq!(env.login(&email, PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unverified_account_is_not_made_staff() {
    let env = TestEnv::new().await;
    let root = access(&env.superuser().await);
    let email = TestEnv::email("staff");
    let user = env.register(&email).await;
    let path = format!("/v1/users/{}", user["user"]["id"].as_str().unwrap());
    let staff = || {
        env.patch(&path)
            .bearer(&root)
            .json(json!({"is_staff": true}))
    };
    let refused = env.send(staff()).await;
    assert_error(&refused, StatusCode::CONFLICT, "email_not_verified");
    let token = last_token(&email, "verify-email").await;
    assert_eq!(verify(&env, &token).await.status, StatusCode::NO_CONTENT);
    let made = env.send(staff()).await;
    assert_eq!(made.status, StatusCode::OK, "{:?}", made.body);
    assert_eq!(made.body["is_staff"], true);
}

#[tokio::test]
async fn the_bootstrap_creates_a_verified_admin_and_promotes_only_a_verified_account() {
    let admin = TestEnv::email("admin");
    let configured = admin.clone();
    let env = TestEnv::with_config(|c| {
        c.admin_email = Some(configured);
        c.admin_password = Some(PASSWORD.into());
    })
    .await;
    let tokens = env.register(&admin).await;
    let outcome = shared::bootstrap::run(&env.ctx).await.unwrap();
    assert!(outcome.refused_promotion, "{outcome:?}");
    assert_eq!(me(&env, &tokens).await["is_superuser"], false);
    let token = last_token(&admin, "verify-email").await;
    assert_eq!(verify(&env, &token).await.status, StatusCode::NO_CONTENT);
    let outcome = shared::bootstrap::run(&env.ctx).await.unwrap();
    assert!(outcome.promoted_admin, "{outcome:?}");
    assert_eq!(me(&env, &tokens).await["is_superuser"], true);

    let fresh = TestEnv::email("fresh-admin");
    let configured = fresh.clone();
    let env = TestEnv::with_config(|c| {
        c.admin_email = Some(configured);
        c.admin_password = Some(PASSWORD.into());
    })
    .await;
    assert!(
        shared::bootstrap::run(&env.ctx)
            .await
            .unwrap()
            .created_admin
    );
    let signed_in = env.login_ok(&fresh).await;
    assert_eq!(signed_in["user"]["email_verified"], true);
    let id: UserId = signed_in["user"]["id"].as_str().unwrap().parse().unwrap();
    assert!(
        env.ctx
            .store
            .find_user(id)
            .await
            .unwrap()
            .unwrap()
            .is_superuser
    );
}
