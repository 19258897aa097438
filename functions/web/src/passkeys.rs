//! Passkeys in the web app: the account page's "Passkeys" section (the list, rename, delete,
//! and the "Add a passkey" button), and the passkey buttons of the sign-in pages.
//!
//! Renaming and deleting are plain forms calling `shared::passkeys`, as the API's handlers do.
//! The ceremonies themselves need the browser's WebAuthn API, so `assets/app.js` runs them
//! against the API's passkey routes (same origin, the session's cookies and CSRF token): these
//! functions render only the elements it starts from (`data-passkey`), with the button
//! disabled and a sentence saying why until the script finds WebAuthn.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use maud::{Markup, html};
use serde::Deserialize;
use shared::context::SigningContext;
use shared::passkeys::{self, PasskeyView};
use shared::views::Timestamp;

use crate::browser::{Browser, Form, NoFields};
use crate::layout::{csrf_field, time};

pub fn routes() -> Router<SigningContext> {
    Router::new()
        .route("/account/passkeys/{id}/rename", post(rename))
        .route("/account/passkeys/{id}/delete", post(delete))
}

/// The account page's section: the account's passkeys, each with a rename form and a delete
/// button, and the button that adds one (with an optional name).
pub fn section(browser: &Browser, list: &[PasskeyView]) -> Markup {
    html! {
        section aria-labelledby="passkeys" {
            h2 id="passkeys" { "Passkeys" }
            p { "A passkey signs you in with this device's screen lock or a security key, without your password. With two-factor authentication on, it can also be the second step." }
            @if list.is_empty() {
                p.passkeys-none { "No passkeys yet." }
            } @else {
                div.table {
                    table {
                        thead { tr { th { "Name" } th { "Added" } th { "Last used" } th { span.visually-hidden { "Actions" } } } }
                        tbody {
                            @for passkey in list {
                                @let field = format!("passkey-name-{}", passkey.id);
                                tr data-passkey-id=(passkey.id) {
                                    td.passkey-name { (passkey.name) }
                                    td { (time(&Timestamp::from(passkey.created_at))) }
                                    td { @match passkey.last_used_at {
                                        Some(at) => (time(&Timestamp::from(at))),
                                        None => "never",
                                    } }
                                    td {
                                        form.inline method="post" action=(format!("/account/passkeys/{}/rename", passkey.id)) {
                                            (csrf_field(browser))
                                            label.visually-hidden for=(field) { "New name for " (passkey.name) }
                                            input.passkey-rename id=(field) name="name" value=(passkey.name) required maxlength="64" autocomplete="off";
                                            " "
                                            button.secondary type="submit" { "Rename" }
                                        }
                                        " "
                                        form.inline method="post" action=(format!("/account/passkeys/{}/delete", passkey.id)) {
                                            (csrf_field(browser))
                                            button.secondary type="submit" aria-label=(format!("Delete {}", passkey.name)) { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // No form: the script runs the ceremony; without it nothing could post here.
            div.passkey-add data-passkey="register" data-begin="/v1/auth/passkeys/register/begin"
                data-finish="/v1/auth/passkeys/register/finish" data-done="/account?done=passkey-added" {
                div.field {
                    label for="new_passkey_name" { "Name of the new passkey (optional)" }
                    input id="new_passkey_name" name="name" maxlength="64" autocomplete="off" placeholder="e.g. Work laptop";
                }
                button type="button" disabled { "Add a passkey" }
                (support_hint("Adding a passkey"))
                p.alert role="alert" hidden {}
            }
        }
    }
}

/// The sign-in page's passkey button: a passkey alone signs in, then the browser goes to
/// `next`.
pub fn sign_in_button(next: &str) -> Markup {
    html! {
        div.passkey-sign-in data-passkey="sign-in" data-begin="/v1/auth/passkeys/login/begin"
            data-finish="/v1/auth/passkeys/login/finish" data-next=(next) {
            button.secondary type="button" disabled { "Sign in with a passkey" }
            (support_hint("Signing in with a passkey"))
            p.alert role="alert" hidden {}
        }
    }
}

/// The second step's passkey button, for an account with passkeys: it completes the sign-in
/// of `mfa_token` with one, then the browser goes to `next`.
pub fn second_step_button(next: &str, mfa_token: &str) -> Markup {
    html! {
        div.passkey-second-step data-passkey="second-step" data-begin="/v1/auth/login/mfa/passkey"
            data-finish="/v1/auth/login/mfa" data-mfa-token=(mfa_token) data-next=(next) {
            button.secondary type="button" disabled { "Use a passkey" }
            (support_hint("Using a passkey"))
            p.alert role="alert" hidden {}
        }
    }
}

/// Why a passkey button is disabled; the script removes it when the browser has WebAuthn (and
/// says so when it has not).
fn support_hint(what: &str) -> Markup {
    html! {
        p.hint data-passkey-unsupported {
            (what) " needs JavaScript and a browser with passkey (WebAuthn) support."
        }
    }
}

#[derive(Deserialize)]
struct Rename {
    name: String,
}

async fn rename(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, form): Form<Rename>,
) -> Response {
    let renamed = passkeys::rename(&ctx, browser.user().id, &id, form.name.trim()).await;
    crate::account::done(&ctx, &browser, renamed.map(|_| "passkey-renamed")).await
}

async fn delete(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, NoFields {}): Form<NoFields>,
) -> Response {
    let deleted = passkeys::delete(&ctx, browser.user().id, &id).await;
    crate::account::done(&ctx, &browser, deleted.map(|()| "passkey-deleted")).await
}
