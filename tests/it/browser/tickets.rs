//! Ticket attachments in a real browser, on a phone: a file chosen in the ticket page's file
//! input goes from the page's script straight to S3 (the page's Content-Security-Policy and the
//! bucket's CORS rule let it), and the page's download link gives the very same bytes back.

use serde_json::{Value, json};

use super::{Browser, closing, fill, screenshot, scroll_to, served_env, sign_up, wait_for};
use crate::support::{PASSWORD, TestEnv};

/// The Enter key, as WebDriver types it.
const ENTER: &str = "\u{E007}";

#[tokio::test]
async fn a_file_uploaded_through_the_ticket_page_downloads_byte_identical() {
    let (_env, base) = served_env().await;
    let phone = Browser::phone().await;
    let dir = std::env::temp_dir().join(format!("sesame-upload-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("crash log.txt");
    // Every byte value, so any re-encoding on the way would show.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    std::fs::write(&file, &bytes).unwrap();
    closing(&[&phone], async {
        sign_up(&phone, &base, &TestEnv::email("web-upload"), PASSWORD).await;
        phone.goto(&format!("{base}/tickets")).await.unwrap();
        fill(&phone, "/tickets", "subject", "The app crashes").await;
        wait_for(
            &phone,
            "form[action='/tickets'] textarea[name='description']",
            None,
        )
        .await
        .send_keys("The log is attached.")
        .await
        .unwrap();
        // Enter in the subject sends the new ticket (an emulated phone's clicks go astray).
        fill(&phone, "/tickets", "subject", ENTER).await;
        wait_for(&phone, "main", Some("Your ticket was opened.")).await;
        let fits: bool = phone
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth;",
                vec![],
            )
            .await
            .unwrap()
            .as_bool()
            .unwrap();
        assert!(
            fits,
            "the ticket page fits 375 px without scrolling sideways"
        );

        wait_for(&phone, "form[data-upload] input[type='file']", None)
            .await
            .send_keys(file.to_str().unwrap())
            .await
            .unwrap();
        scroll_to(&phone, "#files").await;
        screenshot(&phone, "ticket-upload-chosen").await;
        wait_for(&phone, "form[data-upload] button[type='submit']", None)
            .await
            .send_keys(ENTER)
            .await
            .unwrap();
        // The script reloads the page once S3 took the file.
        let link = wait_for(&phone, "ul.files a", Some("crash log.txt")).await;
        scroll_to(&phone, "#files").await;
        screenshot(&phone, "ticket-upload-listed").await;
        let href = link.attr("href").await.unwrap().expect("a download link");

        // The link answers with a fresh presigned GET; the browser follows it to S3.
        let downloaded = phone
            .execute_async(
                "const [href, done] = arguments;
                 fetch(href)
                   .then((r) => r.ok ? r.arrayBuffer() : Promise.reject(r.status))
                   .then((b) => done(Array.from(new Uint8Array(b))))
                   .catch((e) => done(String(e)));",
                vec![json!(href)],
            )
            .await
            .unwrap();
        let expected: Vec<Value> = bytes.iter().map(|b| json!(b)).collect();
        assert_eq!(
            downloaded,
            Value::Array(expected),
            "the same bytes come back"
        );
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}
