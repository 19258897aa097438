//! The account page's "Two-factor authentication" section and its pages: enrol (the QR code,
//! the secret and a first code), the recovery codes (shown once), regenerate them, turn it off.
//! Every action calls the same `shared::mfa` service as the API.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use maud::{Markup, PreEscaped, html};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shared::context::SigningContext;
use shared::mfa::{self, Factor, Proof, RecoveryCodes};

use crate::browser::{Browser, Form, NoFields, see_other};
use crate::layout::{alert, csrf_field, form_errors, page};

pub fn routes() -> Router<SigningContext> {
    Router::new()
        .route("/account/mfa/enrol", post(enrol))
        .route("/account/mfa/confirm", post(confirm))
        .route("/account/mfa/recovery-codes", post(regenerate))
        .route("/account/mfa/disable", post(disable))
}

/// The account page's section: enrol when off; regenerate the recovery codes or turn it off
/// when on.
pub fn section(browser: &Browser) -> Markup {
    let enabled = browser.user().mfa_enabled;
    html! {
        section aria-labelledby="two-factor" {
            h2 id="two-factor" { "Two-factor authentication" }
            @if enabled {
                p { "On: signing in with your password also asks for a code from your authenticator app (or a recovery code)." }
                form method="post" action="/account/mfa/recovery-codes" {
                    (csrf_field(browser))
                    div.field { label for="regenerate_code" { "Code from your app" }
                        input id="regenerate_code" name="code" inputmode="numeric" autocomplete="one-time-code" required; }
                    button type="submit" { "Get new recovery codes" }
                }
                form method="post" action="/account/mfa/disable" {
                    (csrf_field(browser))
                    div.field { label for="disable_code" { "Code from your app" }
                        input id="disable_code" name="code" inputmode="numeric" autocomplete="one-time-code"; }
                    div.field { label for="disable_password" { "Or your password" }
                        input id="disable_password" name="password" type="password" autocomplete="current-password"; }
                    button.secondary type="submit" { "Turn two-factor authentication off" }
                }
            } @else {
                p { "Off. Turn it on to ask for a code from an authenticator app at every sign-in." }
                form method="post" action="/account/mfa/enrol" {
                    (csrf_field(browser))
                    button type="submit" { "Set up an authenticator app" }
                }
            }
        }
    }
}

/// A page of the section's flow, with a way back to the account.
fn flow_page(browser: &Browser, title: &str, body: Markup) -> Markup {
    page(
        title,
        Some(browser),
        html! { (body) p { a href="/account" { "Back to your account" } } },
    )
}

fn failure(browser: &Browser, error: shared::Error) -> Response {
    let (message, _) = form_errors(&error);
    (
        error.status(),
        flow_page(browser, "Two-factor authentication", alert(&message)),
    )
        .into_response()
}

async fn enrol(
    State(ctx): State<SigningContext>,
    Form(browser, NoFields {}): Form<NoFields>,
) -> Response {
    let enrolment = match mfa::begin(&ctx, &browser.who).await {
        Ok(enrolment) => enrolment,
        Err(error) => return failure(&browser, error),
    };
    let body = html! {
        p { "Scan the code with your authenticator app, or type the secret into it. Then enter the code the app shows." }
        // The drawing is generated here from the otpauth URI (rectangles only, no text).
        div.qr-image { (PreEscaped(&enrolment.qr_svg)) }
        p { "Secret: " code.secret { (enrolment.secret) } }
        form method="post" action="/account/mfa/confirm" {
            (csrf_field(&browser))
            div.field { label for="confirm_code" { "Code from your app" }
                input id="confirm_code" name="code" inputmode="numeric" autocomplete="one-time-code" required; }
            button type="submit" { "Turn two-factor authentication on" }
        }
    };
    flow_page(&browser, "Set up an authenticator app", body).into_response()
}

#[derive(Deserialize)]
struct Code {
    code: SecretString,
}

/// The recovery codes, shown this once.
fn codes_page(browser: &Browser, codes: &RecoveryCodes, status: StatusCode) -> Response {
    let body = html! {
        p { "Two-factor authentication is on. Keep these recovery codes somewhere safe: each signs you in once without your app, and they are shown only now." }
        ul.recovery-codes {
            @for code in &codes.recovery_codes { li { code { (code) } } }
        }
    };
    (status, flow_page(browser, "Your recovery codes", body)).into_response()
}

async fn confirm(State(ctx): State<SigningContext>, Form(browser, form): Form<Code>) -> Response {
    match mfa::confirm(&ctx, &browser.who, form.code.expose_secret().trim()).await {
        Ok(codes) => codes_page(&browser, &codes, StatusCode::OK),
        Err(error) => failure(&browser, error),
    }
}

async fn regenerate(
    State(ctx): State<SigningContext>,
    Form(browser, form): Form<Code>,
) -> Response {
    let code = form.code.expose_secret().trim();
    match mfa::regenerate_recovery_codes(&ctx, &browser.who, code).await {
        Ok(codes) => codes_page(&browser, &codes, StatusCode::OK),
        Err(error) => failure(&browser, error),
    }
}

#[derive(Deserialize)]
struct Disable {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

async fn disable(
    State(ctx): State<SigningContext>,
    Form(browser, form): Form<Disable>,
) -> Response {
    let code = form.code.trim();
    let proof = match (code.is_empty(), form.password.is_empty()) {
        (false, true) => Proof::Code(Factor::Totp(SecretString::from(code))),
        (true, false) => Proof::Password(SecretString::from(form.password)),
        _ => {
            let error =
                shared::Error::invalid_field("code", "enter either a code or your password");
            return failure(&browser, error);
        }
    };
    match mfa::disable(&ctx, &browser.who, proof).await {
        Ok(()) => see_other("/account?done=mfa-off"),
        Err(error) => failure(&browser, error),
    }
}
