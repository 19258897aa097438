//! The page shell every page renders in, and the pieces forms are built from.
//!
//! Pages are plain HTML forms that work without script; `assets/app.js` adds the live parts
//! (the QR sign-in, the silent refresh, attachment uploads, passkey ceremonies) from `data-`
//! attributes, since the Content-Security-Policy allows no inline script.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use shared::Error;
use shared::views::Timestamp;

use crate::browser::Browser;

/// A whole page: head, the navigation of a signed-in browser (or of a visitor), `body`.
pub fn page(title: &str, browser: Option<&Browser>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Sesame" }
                link rel="stylesheet" href=(crate::assets::href("app.css"));
                script src=(crate::assets::href("app.js")) defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "Sesame" }
                    nav aria-label="Main" {
                        @if let Some(browser) = browser {
                            a href="/account" { "Account" }
                            a href="/tickets" { "Tickets" }
                            a href="/admin" { "Admin" }
                            a href="/docs" { "API" }
                            form.inline method="post" action="/sign-out" {
                                (csrf_field(browser))
                                button.link type="submit" { "Sign out " (browser.user().email.as_str()) }
                            }
                        } @else {
                            a href="/sign-in" { "Sign in" }
                            a href="/register" { "Register" }
                            a href="/docs" { "API" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden field carrying the session's CSRF token, in every form of a signed-in page.
pub fn csrf_field(browser: &Browser) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(browser.csrf); }
}

/// A labelled input with the message of its field's error, if any.
pub fn field(
    label: &str,
    name: &str,
    kind: &str,
    value: &str,
    errors: &BTreeMap<String, String>,
) -> Markup {
    let id = format!("f-{name}");
    let error = errors.get(name);
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind) value=(value)
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| format!("{id}-error"))];
            @if let Some(message) = error {
                p.error id=(format!("{id}-error")) { (message) }
            }
        }
    }
}

/// The message of a failed form, with each field's message (for [`field`]).
pub fn form_errors(error: &Error) -> (String, BTreeMap<String, String>) {
    let fields = match error {
        Error::Validation { fields, .. } => fields.clone(),
        _ => BTreeMap::new(),
    };
    (error.public_message(), fields)
}

/// A banner for the outcome of the last action (`?done=` after a redirect), from a fixed table
/// so nothing a link carries is shown as is.
pub fn notice(done: Option<&str>) -> Markup {
    let message = match done {
        Some("profile") => "Your profile was saved.",
        Some("password") => "Your password was changed; every other session was signed out.",
        Some("verification-sent") => "A new verification link is on its way to your address.",
        Some("email-change-sent") => {
            "A confirmation link is on its way to the new address; your address changes when you follow it."
        }
        Some("signed-out") => "That session was signed out.",
        Some("others") => "Every other session was signed out.",
        Some("mfa-off") => "Two-factor authentication is off.",
        Some("passkey-added") => "Your passkey was added.",
        Some("passkey-renamed") => "The passkey was renamed.",
        Some("passkey-deleted") => "The passkey was deleted; it no longer signs you in.",
        Some("approved") => "Done: the browser is signed in.",
        Some("rejected") => "Rejected: the browser was not signed in.",
        Some("saved") => "Saved.",
        Some("ticket-opened") => "Your ticket was opened.",
        Some("replied") => "Your response was added.",
        Some("noted") => "The internal note was added.",
        Some("status") => "The status was changed.",
        Some("assigned") => "The ticket was assigned.",
        Some("closed") => "The ticket was closed.",
        Some("user-activated") => "The user was activated.",
        Some("user-deactivated") => "The user was deactivated; every session of theirs ended.",
        Some("user-roles") => "The user's roles were saved.",
        Some("user-session-ended") => "That session of the user was terminated.",
        Some("user-sessions-ended") => "Every session of the user was terminated.",
        Some("role-created") => "The role was created.",
        Some("role-saved") => "The role was saved.",
        Some("role-deleted") => "The role was deleted and taken from every holder.",
        Some("quota-reset") => "The usage was reset.",
        Some("quota-limits") => "The limits were saved.",
        _ => return html! {},
    };
    html! { p.notice role="status" { (message) } }
}

/// An alert for a failed action on a page.
pub fn alert(message: &str) -> Markup {
    html! { p.alert role="alert" { (message) } }
}

/// A time as the API shows it, in a `<time>` element.
pub fn time(at: &Timestamp) -> Markup {
    let text = serde_json::to_value(at)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    html! { time datetime=(text) { (text.replace('T', " ").trim_end_matches('Z')) " UTC" } }
}

/// A failure as a page, with the status (and headers, such as `Retry-After`) of the API's
/// answer to the same failure.
pub fn error_page(error: Error) -> Response {
    let status = error.status();
    let title = status.canonical_reason().unwrap_or("Error").to_owned();
    let message = error.public_message();
    let code = error.code();
    let api = error.into_response();
    let body = page(
        &title,
        None,
        html! {
            (alert(&message))
            p { "Code: " code { (code) } }
            p { a href="/account" { "Back to your account" } " · " a href="/sign-in" { "Sign in" } }
        },
    );
    let mut response = (status, body).into_response();
    if let Some(retry) = api.headers().get(header::RETRY_AFTER) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry.clone());
    }
    response
}

/// The page a browser whose access token ran out gets: its script refreshes the session through
/// the API's refresh route and reloads `next`, or goes to sign-in if the session is gone.
pub fn refresh_page(next: &str) -> Response {
    let body = page(
        "Signing you in again",
        None,
        html! {
            div data-refresh=(next) {
                p { "One moment…" }
                noscript { p { a href=(format!("/sign-in?next={}", encode(next))) { "Sign in again" } } }
            }
        },
    );
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `text` percent-encoded for a query string.
pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
