//! A browser session outlives its access token: once the token has run out, the next page
//! refreshes the session through the API's refresh route (the only path the refresh cookie is
//! sent to) and comes back. A session ended meanwhile, or by a password change elsewhere, goes to
//! sign-in instead.

use std::time::Duration;

use super::{
    Browser, closing, fill, screenshot, served_env, sign_in, sign_up, stored_sessions, submit,
    wait_for,
};
use crate::support::{PASSWORD, TestEnv};

/// Past the access token's lifetime (15 minutes), well within the session's.
const TOKEN_RAN_OUT: Duration = Duration::from_secs(16 * 60);

async fn access_cookie(browser: &Browser) -> String {
    browser
        .get_named_cookie("sesame-access")
        .await
        .expect("the access cookie is set")
        .value()
        .to_owned()
}

#[tokio::test]
async fn a_page_after_the_access_token_ran_out_refreshes_silently_and_comes_back() {
    let (env, base) = served_env().await;
    let desktop = Browser::desktop().await;
    closing(&[&desktop], async {
        let email = TestEnv::email("web-refresh");
        sign_up(&desktop, &base, &email, PASSWORD).await;
        let before = access_cookie(&desktop).await;
        env.clock
            .advance(chrono::Duration::from_std(TOKEN_RAN_OUT).unwrap());

        desktop
            .goto(&format!("{base}/tickets?status=open"))
            .await
            .unwrap();
        wait_for(&desktop, "h1", Some("Tickets")).await;
        screenshot(&desktop, "refresh-came-back").await;
        let url = desktop.current_url().await.unwrap();
        assert_eq!(url.path(), "/tickets");
        assert_eq!(url.query(), Some("status=open"), "back where it was going");
        assert_ne!(access_cookie(&desktop).await, before, "a new access token");
        assert_eq!(
            stored_sessions(&env, &email).await.len(),
            1,
            "the same session, refreshed, not a new sign-in"
        );
    })
    .await;
}

#[tokio::test]
async fn a_session_ended_while_its_token_ran_out_goes_to_sign_in() {
    let (env, base) = served_env().await;
    let first = Browser::desktop().await;
    let second = Browser::desktop().await;
    closing(&[&first, &second], async {
        let email = TestEnv::email("web-refresh-ended");
        sign_up(&first, &base, &email, PASSWORD).await;
        sign_in(&second, &base, &email, PASSWORD).await;
        submit(&second, "/account/sessions/others/end").await;
        wait_for(
            &second,
            ".notice",
            Some("Every other session was signed out"),
        )
        .await;
        env.clock
            .advance(chrono::Duration::from_std(TOKEN_RAN_OUT).unwrap());

        first.goto(&format!("{base}/account")).await.unwrap();
        wait_for(&first, "h1", Some("Sign in")).await;
        screenshot(&first, "refresh-session-ended").await;
        assert_eq!(first.current_url().await.unwrap().path(), "/sign-in");
    })
    .await;
}

#[tokio::test]
async fn a_password_changed_elsewhere_signs_this_browser_out_at_its_next_click() {
    let (_env, base) = served_env().await;
    let first = Browser::desktop().await;
    let second = Browser::desktop().await;
    closing(&[&first, &second], async {
        let email = TestEnv::email("web-password");
        sign_up(&first, &base, &email, PASSWORD).await;
        sign_in(&second, &base, &email, PASSWORD).await;
        fill(&second, "/account/password", "current_password", PASSWORD).await;
        fill(
            &second,
            "/account/password",
            "new_password",
            "a brand new passphrase",
        )
        .await;
        submit(&second, "/account/password").await;
        wait_for(&second, ".notice", Some("Your password was changed")).await;
        screenshot(&second, "password-changed").await;

        first.goto(&format!("{base}/account")).await.unwrap();
        wait_for(&first, "h1", Some("Sign in")).await;
        assert_eq!(first.current_url().await.unwrap().path(), "/sign-in");
        second.refresh().await.unwrap();
        wait_for(&second, "h1", Some("Your account")).await;
    })
    .await;
}
