//! QR sign-in with three browsers: a desktop shows the code, a signed-in phone opens its link,
//! sees who asks and confirms (or rejects); an onlooker without the desktop's poll cookie learns
//! nothing and gets no session.

use fantoccini::Client;

use super::{
    Browser, closing, cookie_names, page_text, screenshot, scroll_to, served_env, session_rows,
    sign_up, stored_sessions, wait_for, wait_with_clock,
};
use crate::support::{PASSWORD, TestEnv};

/// The approval link of the QR code the sign-in page shows, once it shows one; the drawing's
/// label names the same link.
async fn shown_link(client: &Client, base: &str) -> String {
    let qr = wait_for(client, ".qr[data-link]", None).await;
    let link = qr.attr("data-link").await.unwrap().unwrap();
    assert!(link.starts_with(&format!("{base}/approve?code=")), "{link}");
    let drawing = wait_for(client, ".qr-image svg[aria-label]", None).await;
    assert_eq!(
        drawing.attr("aria-label").await.unwrap().unwrap(),
        format!("QR code: {link}")
    );
    link
}

/// Clicks the phone's Confirm or Reject button (`decision`) on the approval page.
async fn decide(phone: &Client, decision: &str) {
    wait_for(
        phone,
        &format!("form[action='/approve']:has(input[name='decision'][value='{decision}']) button"),
        None,
    )
    .await
    .click()
    .await
    .unwrap();
}

#[tokio::test]
async fn a_phone_signs_in_a_desktop_by_qr_and_an_onlooker_gets_nothing() {
    let (env, base) = served_env().await;
    let desktop = Browser::desktop().await;
    let phone = Browser::phone().await;
    let onlooker = Browser::desktop().await;
    closing(&[&desktop, &phone, &onlooker], async {
        // A long address (about 50 characters), which must wrap on the phone's 375 px.
        let email = TestEnv::email("web-qr-sign-in");
        sign_up(&phone, &base, &email, PASSWORD).await;
        screenshot(&phone, "qr-phone-account").await;

        desktop.goto(&format!("{base}/sign-in")).await.unwrap();
        let link = shown_link(&desktop, &base).await;
        wait_for(&desktop, ".qr[data-state='pending']", None).await;
        screenshot(&desktop, "qr-desktop-code").await;

        // Without the desktop's poll cookie, the state is nobody's business.
        onlooker
            .goto(&format!("{base}/sign-in/qr/state"))
            .await
            .unwrap();
        assert_eq!(page_text(&onlooker).await.trim(), r#"{"state":"expired"}"#);
        screenshot(&onlooker, "qr-onlooker-state").await;

        // The phone sees who asks: the desktop's browser, system and address.
        phone.goto(&link).await.unwrap();
        let context = wait_for(&phone, "dl.context", None)
            .await
            .text()
            .await
            .unwrap();
        screenshot(&phone, "qr-phone-approve").await;
        // A phone's width, and nothing wider than it.
        let widths = phone
            .execute(
                "return [window.innerWidth, document.documentElement.scrollWidth];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(widths, serde_json::json!([375, 375]));
        for shown in ["Chrome", "Linux", "127.0.0.1"] {
            assert!(context.contains(shown), "{shown} not in {context}");
        }
        wait_with_clock(
            &desktop,
            &env.clock,
            ".qr[data-state='scanned']",
            Some("Scanned by"),
        )
        .await;
        screenshot(&desktop, "qr-desktop-scanned").await;

        // The onlooker opening the same link is sent to sign in, and holds no session.
        onlooker.goto(&link).await.unwrap();
        wait_for(&onlooker, "form[action='/sign-in']", None).await;
        screenshot(&onlooker, "qr-onlooker-link").await;
        assert_eq!(onlooker.current_url().await.unwrap().path(), "/sign-in");
        let cookies = cookie_names(&onlooker).await;
        assert!(
            !cookies
                .iter()
                .any(|c| c == "sesame-access" || c == "sesame-refresh"),
            "{cookies:?}"
        );

        decide(&phone, "confirm").await;
        wait_for(&phone, "main", Some("Done: the browser is signed in.")).await;
        screenshot(&phone, "qr-phone-confirmed").await;

        wait_with_clock(&desktop, &env.clock, "h1", Some("Your account")).await;
        scroll_to(&desktop, "#sessions").await;
        screenshot(&desktop, "qr-desktop-account").await;
        assert_eq!(desktop.current_url().await.unwrap().path(), "/account");
        let rows = session_rows(&desktop).await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows.iter().filter(|(_, marked)| *marked).count(), 1);
        assert_eq!(stored_sessions(&env, &email).await.len(), 2);

        // The onlooker's sign-in page shows a code of its own; the phone rejects it.
        let rejected = shown_link(&onlooker, &base).await;
        assert_ne!(rejected, link);
        phone.goto(&rejected).await.unwrap();
        decide(&phone, "reject").await;
        wait_for(
            &phone,
            "main",
            Some("Rejected: the browser was not signed in."),
        )
        .await;
        screenshot(&phone, "qr-phone-rejected").await;
        wait_with_clock(
            &onlooker,
            &env.clock,
            ".qr[data-state='rejected']",
            Some("rejected"),
        )
        .await;
        screenshot(&onlooker, "qr-onlooker-rejected").await;
        let cookies = cookie_names(&onlooker).await;
        assert!(!cookies.iter().any(|c| c == "sesame-access"), "{cookies:?}");
        assert_eq!(stored_sessions(&env, &email).await.len(), 2);
    })
    .await;
}
