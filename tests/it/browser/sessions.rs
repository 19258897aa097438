//! The account page's sessions in real browsers: registering shows exactly this browser's
//! session; a session signed out from another browser is gone at that browser's next click.

use fantoccini::Locator;

use super::{
    Browser, closing, cookie_names, fill, screenshot, scroll_to, served_env, session_rows, sign_in,
    sign_up, stored_sessions, submit, wait_for,
};
use crate::support::{PASSWORD, TestEnv};

#[tokio::test]
async fn registering_shows_exactly_this_browsers_session() {
    let (env, base) = served_env().await;
    let desktop = Browser::desktop().await;
    closing(&[&desktop], async {
        let email = TestEnv::email("web-register");
        desktop.goto(&format!("{base}/register")).await.unwrap();
        fill(&desktop, "/register", "email", &email).await;
        screenshot(&desktop, "register-form").await;
        desktop.goto(&format!("{base}/sign-in")).await.unwrap();
        wait_for(&desktop, "h1", Some("Sign in")).await;
        screenshot(&desktop, "register-sign-in").await;

        sign_up(&desktop, &base, &email, PASSWORD).await;
        screenshot(&desktop, "register-account").await;
        scroll_to(&desktop, "#sessions").await;
        screenshot(&desktop, "register-account-sessions").await;
        assert!(desktop.current_url().await.unwrap().path() == "/account");
        let rows = session_rows(&desktop).await;
        let stored = stored_sessions(&env, &email).await;
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert_eq!(rows, vec![(stored[0].clone(), true)]);
        let signed_in_as = wait_for(&desktop, "form[action='/sign-out'] button", None).await;
        assert!(signed_in_as.text().await.unwrap().contains(&email));
    })
    .await;
}

#[tokio::test]
async fn a_session_signed_out_elsewhere_is_gone_at_its_next_click() {
    let (env, base) = served_env().await;
    let first = Browser::desktop().await;
    let second = Browser::desktop().await;
    closing(&[&first, &second], async {
        let email = TestEnv::email("web-sessions");
        sign_up(&first, &base, &email, PASSWORD).await;
        sign_in(&second, &base, &email, PASSWORD).await;
        screenshot(&second, "sign-out-elsewhere-second-account").await;

        first.refresh().await.unwrap();
        wait_for(&first, "form[action='/account/sessions/others/end']", None).await;
        scroll_to(&first, "#sessions").await;
        screenshot(&first, "sign-out-elsewhere-two-sessions").await;
        let rows = session_rows(&first).await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        let (own, _) = rows.iter().find(|(_, marked)| *marked).unwrap().clone();
        let (other, _) = rows.iter().find(|(_, marked)| !*marked).unwrap().clone();
        assert_eq!(session_rows(&second).await.len(), 2);

        let action = format!("/account/sessions/{other}/end");
        submit(&first, &action).await;
        wait_for(&first, "main", Some("That session was signed out.")).await;
        scroll_to(&first, "#sessions").await;
        screenshot(&first, "sign-out-elsewhere-signed-out").await;
        assert_eq!(session_rows(&first).await, vec![(own.clone(), true)]);
        assert_eq!(stored_sessions(&env, &email).await, vec![own]);

        // The second browser's next click: it lands on sign-in, its cookies cleared.
        second
            .find(Locator::Css("nav a[href='/account']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&second, "form[action='/sign-in']", None).await;
        screenshot(&second, "sign-out-elsewhere-second-sign-in").await;
        let url = second.current_url().await.unwrap();
        assert_eq!(url.path(), "/sign-in");
        assert_eq!(url.query(), Some("next=%2Faccount"));
        let cookies = cookie_names(&second).await;
        assert!(
            !cookies.iter().any(|name| name == "sesame-access"),
            "{cookies:?}"
        );
    })
    .await;
}
