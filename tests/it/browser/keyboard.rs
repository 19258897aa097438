//! The pages work from the keyboard: every input has its label, and signing in is Tab, type,
//! Tab, type, Enter.

use fantoccini::Locator;
use fantoccini::key::Key;

use super::{Browser, closing, served_env, sign_up, wait_for};
use crate::support::{PASSWORD, TestEnv};

#[tokio::test]
async fn signing_in_takes_only_the_keyboard_and_every_input_is_labelled() {
    let (_env, base) = served_env().await;
    let first = Browser::desktop().await;
    let second = Browser::desktop().await;
    closing(&[&first, &second], async {
        let email = TestEnv::email("web-keyboard");
        sign_up(&first, &base, &email, PASSWORD).await;

        second.goto(&format!("{base}/sign-in")).await.unwrap();
        wait_for(&second, "form[action='/sign-in']", None).await;
        for input in second
            .find_all(Locator::Css("input:not([type=hidden])"))
            .await
            .unwrap()
        {
            let id = input
                .attr("id")
                .await
                .unwrap()
                .expect("every input has an id");
            let labels = second
                .find_all(Locator::Css(&format!("label[for='{id}']")))
                .await
                .unwrap();
            assert_eq!(labels.len(), 1, "input #{id} has exactly one label");
        }
        // Tab from the top of the page to the e-mail field (through the header's links).
        let mut reached = false;
        for _ in 0..12 {
            let body = second.find(Locator::Css("body")).await.unwrap();
            let focused = second.active_element().await.unwrap();
            if focused.attr("name").await.unwrap().as_deref() == Some("email") {
                reached = true;
                break;
            }
            let target = if focused.tag_name().await.unwrap() == "body" {
                body
            } else {
                focused
            };
            target.send_keys(&Key::Tab.to_string()).await.unwrap();
        }
        assert!(reached, "Tab reaches the e-mail field");
        let typed = format!("{email}{}{PASSWORD}{}", Key::Tab, Key::Enter);
        second
            .active_element()
            .await
            .unwrap()
            .send_keys(&typed)
            .await
            .unwrap();
        wait_for(&second, "h1", Some("Your account")).await;
    })
    .await;
}
