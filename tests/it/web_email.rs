//! The web app's pages of e-mailed links and forgotten passwords, driven as a browser would:
//! opening a link shows a form and uses nothing, posting it does; the forgot-password page
//! answers alike for any address; the account page shows the address's state, mails a new
//! verification link and asks for an e-mail change.

use axum::http::StatusCode;

use crate::email::{last_token, mails_to};
use crate::support::*;
use crate::web_support::{form, form_call, html};

async fn post_form(env: &TestEnv, path: &str, fields: &[(&str, &str)]) -> Reply {
    env.send(form_call(env.post(path), fields)).await
}

async fn verified(env: &TestEnv, tokens: &serde_json::Value) -> bool {
    let me = env
        .send(env.get("/v1/auth/me").bearer(&access(tokens)))
        .await;
    me.body["email_verified"] == true
}

#[tokio::test]
async fn a_verification_link_shows_a_form_and_only_the_post_uses_the_token() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("web-verify");
    let tokens = env.register(&email).await;
    let token = last_token(&email, "verify-email").await;

    let opened = env
        .send(env.get(&format!("/verify-email?token={token}")))
        .await;
    assert_eq!(opened.status, StatusCode::OK);
    let page = html(&opened);
    assert!(page.contains(r#"action="/verify-email""#), "{page}");
    assert!(page.contains(&format!(r#"value="{token}""#)), "{page}");
    assert!(
        !verified(&env, &tokens).await,
        "opening the link uses nothing"
    );

    let cross_site = env
        .send(
            env.post("/verify-email")
                .raw(form(&[("token", &token)]))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert!(!verified(&env, &tokens).await);

    let posted = post_form(&env, "/verify-email", &[("token", &token)]).await;
    assert_eq!(posted.status, StatusCode::OK, "{:?}", posted.body);
    assert!(html(&posted).contains("is verified"));
    assert!(verified(&env, &tokens).await);

    let again = post_form(&env, "/verify-email", &[("token", &token)]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(html(&again).contains(r#"role="alert""#));
}

#[tokio::test]
async fn the_forgotten_password_pages_answer_alike_and_reset_with_the_mailed_link() {
    let env = TestEnv::new().await;
    let sign_in = env.send(env.get("/sign-in")).await;
    assert!(html(&sign_in).contains(r#"href="/forgot-password""#));
    let forgot = env.send(env.get("/forgot-password")).await;
    assert_eq!(forgot.status, StatusCode::OK);

    let known = TestEnv::email("web-known");
    env.register(&known).await;
    let unknown = TestEnv::email("web-unknown");
    let for_known = post_form(&env, "/forgot-password", &[("email", &known)]).await;
    let for_unknown = post_form(&env, "/forgot-password", &[("email", &unknown)]).await;
    assert_eq!(for_known.status, StatusCode::OK);
    assert_eq!(for_known.status, for_unknown.status);
    assert_eq!(for_known.body, for_unknown.body);
    assert!(mails_to(&unknown).await.is_empty());

    let token = last_token(&known, "reset-password").await;
    let opened = env
        .send(env.get(&format!("/reset-password?token={token}")))
        .await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(html(&opened).contains(r#"name="new_password""#));
    let weak = post_form(
        &env,
        "/reset-password",
        &[("token", &token), ("new_password", "short")],
    )
    .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(html(&weak).contains(r#"aria-invalid="true""#));
    let new_password = "a brand new web passphrase";
    let done = post_form(
        &env,
        "/reset-password",
        &[("token", &token), ("new_password", new_password)],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(env.login(&known, new_password).await.status, StatusCode::OK);
    let reused = post_form(
        &env,
        "/reset-password",
        &[
            ("token", &token),
            ("new_password", "another web passphrase"),
        ],
    )
    .await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
}

/// Signs in through the web form; returns the page cookies and the CSRF token.
async fn web_session(env: &TestEnv, email: &str) -> (String, String) {
    let reply = post_form(
        env,
        "/sign-in",
        &[
            ("email", email),
            ("password", PASSWORD),
            ("next", "/account"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{:?}", reply.body);
    let pairs: Vec<String> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let cookie = |name: &str| {
        pairs
            .iter()
            .find(|pair| pair.starts_with(&format!("{name}=")))
            .unwrap()
            .clone()
    };
    let (access_cookie, csrf_cookie) = (cookie("sesame-access"), cookie("sesame-csrf"));
    let csrf = csrf_cookie["sesame-csrf=".len()..].to_owned();
    (format!("{access_cookie}; {csrf_cookie}"), csrf)
}

#[tokio::test]
async fn the_account_page_resends_the_verification_and_asks_for_an_email_change() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("web-account");
    env.register(&email).await;
    let (cookie, csrf) = web_session(&env, &email).await;
    let signed_post = |path: &str, fields: &[(&str, &str)]| {
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &csrf));
        env.post(path)
            .raw(form(&fields))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &cookie)
    };

    let account = env
        .send(env.get("/account").header("cookie", &cookie))
        .await;
    assert_eq!(account.status, StatusCode::OK);
    let page = html(&account);
    assert!(page.contains("not verified"), "{page}");
    assert!(page.contains(r#"action="/account/email/resend""#));
    assert!(page.contains(r#"action="/account/email""#));

    let resent = env.send(signed_post("/account/email/resend", &[])).await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER, "{:?}", resent.body);
    assert_eq!(
        resent.headers["location"],
        "/account?done=verification-sent"
    );
    assert_eq!(mails_to(&email).await.len(), 2);

    let new = TestEnv::email("web-new");
    let wrong = env
        .send(signed_post(
            "/account/email",
            &[
                ("new_email", &new),
                ("current_password", "not the password"),
            ],
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let asked = env
        .send(signed_post(
            "/account/email",
            &[("new_email", &new), ("current_password", PASSWORD)],
        ))
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{:?}", asked.body);
    assert_eq!(asked.headers["location"], "/account?done=email-change-sent");
    let token = last_token(&new, "verify-email").await;
    let posted = post_form(&env, "/verify-email", &[("token", &token)]).await;
    assert_eq!(posted.status, StatusCode::OK);
    let account = env
        .send(env.get("/account").header("cookie", &cookie))
        .await;
    let page = html(&account);
    assert!(page.contains(&new), "{page}");
    assert!(!page.contains("not verified"));
}
