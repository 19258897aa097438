//! Passkeys in a real Chromium, with a WebDriver virtual authenticator (W3C WebAuthn §11) in
//! place of a device's screen lock: the account page adds one, it signs in alone, it is renamed
//! and deleted through the page; and with two-factor sign-in on, it completes the password's
//! second step.
//!
//! The app is served at `http://localhost:<port>` ([`served_env_on_localhost`]): WebAuthn
//! takes no IP address as the relying party's id.

use fantoccini::Client;
use fantoccini::key::Key;
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{Value, json};
use totp_rs::{Builder, Secret};

use super::{
    Browser, closing, fill, screenshot, scroll_to, served_env_on_localhost, session_rows, sign_up,
    submit, wait_for,
};
use crate::support::{PASSWORD, TestEnv};

/// A command of WebDriver's WebAuthn extension, which fantoccini has no helper for:
/// `method` on `session/{id}/webauthn/<path>`, with a JSON body for `POST`.
#[derive(Debug)]
struct WebAuthnCommand {
    method: axum::http::Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.expect("a WebDriver session");
        base_url.join(&format!("session/{session}/webauthn/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

/// Gives `client`'s browser a virtual platform authenticator (CTAP2, resident keys, user
/// verification that always succeeds, so no prompt waits for a person); returns its id.
async fn add_authenticator(client: &Client) -> String {
    let added = client
        .issue_cmd(WebAuthnCommand {
            method: axum::http::Method::POST,
            path: "authenticator".into(),
            body: Some(json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
            })),
        })
        .await
        .expect("chromedriver adds a virtual authenticator");
    added
        .as_str()
        .unwrap_or_else(|| panic!("an authenticator id, not {added}"))
        .to_owned()
}

/// Whether the virtual authenticator's user verification succeeds from now on (`false`: as if
/// the person cancelled the prompt).
async fn set_user_verified(client: &Client, authenticator: &str, verified: bool) {
    client
        .issue_cmd(WebAuthnCommand {
            method: axum::http::Method::POST,
            path: format!("authenticator/{authenticator}/uv"),
            body: Some(json!({ "isUserVerified": verified })),
        })
        .await
        .expect("the virtual authenticator's user verification is set");
}

/// The credentials the virtual authenticator holds.
async fn credentials(client: &Client, authenticator: &str) -> Vec<Value> {
    let held = client
        .issue_cmd(WebAuthnCommand {
            method: axum::http::Method::GET,
            path: format!("authenticator/{authenticator}/credentials"),
            body: None,
        })
        .await
        .expect("the virtual authenticator's credentials");
    held.as_array().cloned().unwrap_or_default()
}

/// Clicks the passkey button of `kind` (`register`, `sign-in`, `second-step`) once the page's
/// script has enabled it.
async fn click_passkey(client: &Client, kind: &str) {
    wait_for(
        client,
        &format!("[data-passkey='{kind}'] button:enabled"),
        None,
    )
    .await
    .click()
    .await
    .unwrap();
}

/// Adds a passkey named `name` on the account page (with the button, or with Enter in the
/// name field when `by_keyboard`) and waits for the page to list it.
async fn add_passkey(client: &Client, name: &str, by_keyboard: bool) {
    // The script has started: the button is enabled.
    wait_for(client, "[data-passkey='register'] button:enabled", None).await;
    let field = wait_for(client, "#new_passkey_name", None).await;
    field.send_keys(name).await.unwrap();
    if by_keyboard {
        field.send_keys(&Key::Enter.to_string()).await.unwrap();
    } else {
        click_passkey(client, "register").await;
    }
    wait_for(client, "main", Some("Your passkey was added.")).await;
    wait_for(client, "tr[data-passkey-id] .passkey-name", Some(name)).await;
}

/// Posts the rename form `action` with `name`.
async fn rename_to(client: &Client, action: &str, name: &str) {
    let field = format!("form[action='{action}'] input[name='name']");
    wait_for(client, &field, None).await.clear().await.unwrap();
    fill(client, action, "name", name).await;
    submit(client, action).await;
}

/// The names the account page lists as passkeys.
async fn listed_passkeys(client: &Client) -> Vec<String> {
    let mut names = Vec::new();
    for cell in client
        .find_all(fantoccini::Locator::Css(
            "tr[data-passkey-id] .passkey-name",
        ))
        .await
        .unwrap()
    {
        names.push(cell.text().await.unwrap());
    }
    names
}

/// The `created_via` of every stored session of the account of `email`, as the API names it.
async fn stored_created_via(env: &TestEnv, email: &str) -> Vec<String> {
    let email = shared::domain::Email::parse(email).unwrap();
    let user = env
        .ctx
        .store
        .find_user_id_by_email(&email)
        .await
        .unwrap()
        .expect("the account exists");
    let found = env.ctx.store.find_user_sessions(user).await.unwrap();
    found
        .map(|found| {
            found
                .sessions
                .iter()
                .map(|session| {
                    let via = serde_json::to_value(session.created_via).unwrap();
                    via.as_str().unwrap_or_default().to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Signs out with the navigation's button and waits for the sign-in page.
async fn sign_out(client: &Client) {
    submit(client, "/sign-out").await;
    wait_for(client, "form[action='/sign-in']", None).await;
}

#[tokio::test]
async fn a_passkey_added_on_the_account_page_signs_in_alone_then_is_renamed_and_deleted() {
    let (env, base) = served_env_on_localhost().await;
    let desktop = Browser::desktop().await;
    closing(&[&desktop], async {
        let authenticator = add_authenticator(&desktop).await;
        let email = TestEnv::email("web-passkey");
        sign_up(&desktop, &base, &email, PASSWORD).await;
        scroll_to(&desktop, "#passkeys").await;
        wait_for(&desktop, ".passkeys-none", Some("No passkeys yet.")).await;
        // The script found WebAuthn: the sentence about its absence is gone.
        wait_for(&desktop, "[data-passkey='register'] button:enabled", None).await;
        assert!(
            !wait_for(
                &desktop,
                "[data-passkey='register'] [data-passkey-unsupported]",
                None
            )
            .await
            .is_displayed()
            .await
            .unwrap()
        );
        screenshot(&desktop, "passkey-account-none").await;
        // As served, before any script: the button disabled, with the sentence why.
        let served = desktop
            .execute(
                "return fetch('/account').then((response) => response.text());",
                vec![],
            )
            .await
            .unwrap();
        let served = served.as_str().unwrap();
        assert!(
            served.contains(r#"<button type="button" disabled>Add a passkey</button>"#),
            "{served}"
        );
        assert!(served.contains("Adding a passkey needs JavaScript and a browser with passkey"));

        // A cancelled prompt adds nothing, and says so.
        set_user_verified(&desktop, &authenticator, false).await;
        click_passkey(&desktop, "register").await;
        wait_for(
            &desktop,
            "[data-passkey='register'][data-state='failed']",
            None,
        )
        .await;
        let alert = wait_for(&desktop, "[data-passkey='register'] [role='alert']", None).await;
        assert!(alert.is_displayed().await.unwrap());
        assert!(
            alert
                .text()
                .await
                .unwrap()
                .starts_with("Not added: no passkey was used"),
            "{}",
            alert.text().await.unwrap()
        );
        screenshot(&desktop, "passkey-account-cancelled").await;
        assert!(credentials(&desktop, &authenticator).await.is_empty());
        set_user_verified(&desktop, &authenticator, true).await;

        add_passkey(&desktop, "Test laptop", false).await;
        scroll_to(&desktop, "#passkeys").await;
        screenshot(&desktop, "passkey-account-added").await;
        assert_eq!(listed_passkeys(&desktop).await, vec!["Test laptop"]);
        let held = credentials(&desktop, &authenticator).await;
        assert_eq!(held.len(), 1, "{held:?}");
        assert_eq!(held[0]["isResidentCredential"], true, "{held:?}");
        assert_eq!(held[0]["rpId"], "localhost", "{held:?}");

        // Signed out, the passkey alone signs in: no e-mail, no password.
        sign_out(&desktop).await;
        assert!(stored_created_via(&env, &email).await.is_empty());
        screenshot(&desktop, "passkey-sign-in").await;
        click_passkey(&desktop, "sign-in").await;
        wait_for(&desktop, "h1", Some("Your account")).await;
        assert_eq!(desktop.current_url().await.unwrap().path(), "/account");
        let rows = session_rows(&desktop).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(rows[0].1, "{rows:?}");
        assert_eq!(stored_created_via(&env, &email).await, vec!["passkey"]);
        // Its use is on the list.
        let row = wait_for(&desktop, "tr[data-passkey-id]", Some("Test laptop")).await;
        assert!(!row.text().await.unwrap().contains("never"));
        scroll_to(&desktop, "#passkeys").await;
        screenshot(&desktop, "passkey-account-used").await;

        // Renamed through its form; a blank name is refused with the service's message.
        let id = row.attr("data-passkey-id").await.unwrap().unwrap();
        let rename = format!("/account/passkeys/{id}/rename");
        rename_to(&desktop, &rename, "   ").await;
        wait_for(
            &desktop,
            "p.alert[role='alert']",
            Some("1 to 64 characters"),
        )
        .await;
        assert_eq!(listed_passkeys(&desktop).await, vec!["Test laptop"]);
        rename_to(&desktop, &rename, "Work laptop").await;
        wait_for(&desktop, "main", Some("The passkey was renamed.")).await;
        assert_eq!(listed_passkeys(&desktop).await, vec!["Work laptop"]);

        // Deleted, it no longer signs in, though the authenticator still holds it.
        submit(&desktop, &format!("/account/passkeys/{id}/delete")).await;
        wait_for(&desktop, "main", Some("The passkey was deleted")).await;
        wait_for(&desktop, ".passkeys-none", Some("No passkeys yet.")).await;
        assert!(listed_passkeys(&desktop).await.is_empty());
        scroll_to(&desktop, "#passkeys").await;
        screenshot(&desktop, "passkey-account-deleted").await;
        sign_out(&desktop).await;
        click_passkey(&desktop, "sign-in").await;
        let refused = wait_for(&desktop, "[data-passkey='sign-in'] [role='alert']", None).await;
        wait_for(
            &desktop,
            "[data-passkey='sign-in'][data-state='failed']",
            None,
        )
        .await;
        assert!(refused.is_displayed().await.unwrap());
        let said = refused.text().await.unwrap();
        assert!(said.starts_with("Not signed in: "), "{said}");
        screenshot(&desktop, "passkey-sign-in-refused").await;
        assert_eq!(desktop.current_url().await.unwrap().path(), "/sign-in");
        assert!(stored_created_via(&env, &email).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn with_two_factor_sign_in_on_a_passkey_completes_the_password_step() {
    let (env, base) = served_env_on_localhost().await;
    let desktop = Browser::desktop().await;
    closing(&[&desktop], async {
        add_authenticator(&desktop).await;
        let email = TestEnv::email("web-passkey-mfa");
        sign_up(&desktop, &base, &email, PASSWORD).await;

        // Two-factor sign-in on, through the account page, with a code made at the test's
        // time.
        submit(&desktop, "/account/mfa/enrol").await;
        let secret = wait_for(&desktop, "code.secret", None)
            .await
            .text()
            .await
            .unwrap();
        let totp = Builder::new()
            .with_secret(Secret::try_from_base32(&secret).unwrap())
            .build()
            .unwrap();
        let now = u64::try_from(env.ctx.now().timestamp()).unwrap();
        fill(
            &desktop,
            "/account/mfa/confirm",
            "code",
            &totp.generate(now).to_string(),
        )
        .await;
        submit(&desktop, "/account/mfa/confirm").await;
        wait_for(&desktop, "h1", Some("Your recovery codes")).await;
        desktop.goto(&format!("{base}/account")).await.unwrap();
        add_passkey(&desktop, "Phone", true).await;

        // The password leads to the second step, which offers the passkey.
        sign_out(&desktop).await;
        fill(&desktop, "/sign-in", "email", &email).await;
        fill(&desktop, "/sign-in", "password", PASSWORD).await;
        submit(&desktop, "/sign-in").await;
        wait_for(&desktop, "h1", Some("Two-factor sign-in")).await;
        screenshot(&desktop, "passkey-second-step").await;
        assert!(stored_created_via(&env, &email).await.is_empty());
        click_passkey(&desktop, "second-step").await;
        wait_for(&desktop, "h1", Some("Your account")).await;
        assert_eq!(desktop.current_url().await.unwrap().path(), "/account");
        assert_eq!(stored_created_via(&env, &email).await.len(), 1);
        let row = wait_for(&desktop, "tr[data-passkey-id]", Some("Phone")).await;
        assert!(!row.text().await.unwrap().contains("never"));
        screenshot(&desktop, "passkey-second-step-done").await;
    })
    .await;
}
