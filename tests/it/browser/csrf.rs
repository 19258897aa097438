//! Forged posts in a real browser: a form another site posts on the user's behalf, and a form
//! of the site whose CSRF token was tampered with, are both refused with a 403 page, and
//! nothing changes.

use axum::response::Html;
use axum::routing::get;

use super::{
    Browser, closing, fill, screenshot, serve, served_env, session_rows, sign_in, sign_up,
    stored_sessions, submit, wait_for,
};
use crate::support::{PASSWORD, TestEnv};

#[tokio::test]
async fn a_post_from_another_site_is_refused() {
    let (env, base) = served_env().await;
    // `localhost` is another site than `127.0.0.1`.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let attacker = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let target = format!("{base}/account/sessions/others/end");
    serve(
        listener,
        axum::Router::new().route(
            "/",
            get(move || async move {
                Html(format!(
                    "<!DOCTYPE html><title>Win a prize</title>\
                     <form method=post action=\"{target}\"><input name=csrf_token value=guess></form>\
                     <script>document.forms[0].submit()</script>"
                ))
            }),
        ),
    );
    let victim = Browser::desktop().await;
    let other = Browser::desktop().await;
    closing(&[&victim, &other], async {
        let email = TestEnv::email("web-cross-site");
        sign_up(&victim, &base, &email, PASSWORD).await;
        sign_in(&other, &base, &email, PASSWORD).await;
        assert_eq!(stored_sessions(&env, &email).await.len(), 2);

        victim.goto(&format!("{attacker}/")).await.unwrap();
        wait_for(&victim, "main code", Some("cross_site_request")).await;
        screenshot(&victim, "cross-site-refused").await;
        assert_eq!(
            victim.current_url().await.unwrap().as_str(),
            format!("{base}/account/sessions/others/end")
        );
        wait_for(&victim, "h1", Some("Forbidden")).await;

        assert_eq!(stored_sessions(&env, &email).await.len(), 2);
        victim.goto(&format!("{base}/account")).await.unwrap();
        wait_for(&victim, "h1", Some("Your account")).await;
        screenshot(&victim, "cross-site-account").await;
        assert_eq!(session_rows(&victim).await.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_forged_csrf_token_is_refused() {
    let (env, base) = served_env().await;
    let desktop = Browser::desktop().await;
    closing(&[&desktop], async {
        let email = TestEnv::email("web-csrf");
        sign_up(&desktop, &base, &email, PASSWORD).await;
        let first_name = "input[name='first_name']";
        let field = wait_for(&desktop, first_name, None).await;
        field.clear().await.unwrap();
        fill(&desktop, "/account/profile", "first_name", "Mallory").await;
        desktop
            .execute(
                "document.querySelector(\"form[action='/account/profile'] \
                 input[name='csrf_token']\").value = 'forged';",
                vec![],
            )
            .await
            .unwrap();
        submit(&desktop, "/account/profile").await;
        wait_for(&desktop, "main code", Some("csrf_token_invalid")).await;
        wait_for(&desktop, "h1", Some("Forbidden")).await;
        screenshot(&desktop, "csrf-forged-refused").await;
        let user = shared::domain::Email::parse(&email).unwrap();
        let id = env
            .ctx
            .store
            .find_user_id_by_email(&user)
            .await
            .unwrap()
            .unwrap();
        let stored = env.ctx.store.find_user_sessions(id).await.unwrap().unwrap();
        assert_eq!(stored.user.first_name, "Ada");

        // The same form with its own token goes through: the token was all that was wrong.
        desktop.goto(&format!("{base}/account")).await.unwrap();
        let field = wait_for(&desktop, first_name, None).await;
        assert_eq!(field.prop("value").await.unwrap().as_deref(), Some("Ada"));
        field.clear().await.unwrap();
        fill(&desktop, "/account/profile", "first_name", "Grace").await;
        submit(&desktop, "/account/profile").await;
        wait_for(&desktop, "main", Some("Your profile was saved.")).await;
        screenshot(&desktop, "csrf-genuine-saved").await;
        let stored = env.ctx.store.find_user_sessions(id).await.unwrap().unwrap();
        assert_eq!(stored.user.first_name, "Grace");
    })
    .await;
}
