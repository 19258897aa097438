//! Administration in real browsers: an administrator deactivates a user from the user's admin
//! page, and that user's browser is signed out at its very next navigation.

use fantoccini::Locator;

use super::{
    Browser, closing, cookie_names, screenshot, served_env, sign_in, stored_sessions, submit,
    wait_for,
};
use crate::support::{PASSWORD, TestEnv};

#[tokio::test]
async fn a_deactivated_users_browser_is_signed_out_at_its_next_navigation() {
    let (env, base) = served_env().await;
    let root = env.superuser().await;
    let root_email = root["user"]["email"].as_str().unwrap().to_owned();
    let email = TestEnv::email("web-deactivated");
    let user = env.register(&email).await;
    let user_id = user["user"]["id"].as_str().unwrap().to_owned();
    let admin = Browser::desktop().await;
    let phone = Browser::phone().await;
    closing(&[&admin, &phone], async {
        sign_in(&phone, &base, &email, PASSWORD).await;
        sign_in(&admin, &base, &root_email, PASSWORD).await;

        admin.goto(&format!("{base}/admin")).await.unwrap();
        screenshot(&admin, "admin-index").await;
        wait_for(&admin, "main a[href='/admin/users']", None)
            .await
            .click()
            .await
            .unwrap();
        let link = format!("a[href='/admin/users/{user_id}']");
        wait_for(&admin, &link, Some(&email)).await;
        screenshot(&admin, "admin-users").await;
        admin
            .find(Locator::Css(&link))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&admin, "h1", Some(&email)).await;
        screenshot(&admin, "admin-user").await;
        submit(&admin, &format!("/admin/users/{user_id}/active")).await;
        wait_for(&admin, "main", Some("The user was deactivated")).await;
        screenshot(&admin, "admin-user-deactivated").await;
        let id = user_id.parse().unwrap();
        let stored = env.ctx.store.find_user(id).await.unwrap().unwrap();
        assert!(!stored.is_active);
        assert!(stored_sessions(&env, &email).await.is_empty());

        // The user's browser, at its next click: on the sign-in page, its cookies cleared.
        phone
            .find(Locator::Css("nav a[href='/account']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&phone, "form[action='/sign-in']", None).await;
        screenshot(&phone, "admin-deactivated-user-signed-out").await;
        let url = phone.current_url().await.unwrap();
        assert_eq!(url.path(), "/sign-in");
        let cookies = cookie_names(&phone).await;
        assert!(
            !cookies.iter().any(|name| name == "sesame-access"),
            "{cookies:?}"
        );
    })
    .await;
}
