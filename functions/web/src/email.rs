//! The pages of the e-mailed links and of the forgotten password: `/verify-email` (verification
//! and e-mail change links), `/forgot-password` and `/reset-password`.
//!
//! Opening a link never uses its token: mail scanners fetch links before people do. The page
//! shows a form that posts the token, and only the post uses it. These forms are public
//! (whoever holds the link), so they are [`PublicForm`]s, accepted only from this site.
//! Failures are shown on the page with the status the API gives the same failure.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shared::client::ClientInfo;
use shared::context::SigningContext;
use shared::domain::Email;
use shared::email;

use crate::browser::PublicForm;
use crate::layout::{alert, field, form_errors, page};

pub fn routes() -> Router<SigningContext> {
    Router::new()
        .route("/verify-email", get(verify_page).post(verify))
        .route("/forgot-password", get(forgot_page).post(forgot))
        .route("/reset-password", get(reset_page).post(reset))
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// A failure shown on its page: its status and the alert with its message.
fn failed(
    error: &shared::Error,
    body: impl FnOnce(&str, &BTreeMap<String, String>) -> Markup,
) -> Response {
    let (message, errors) = form_errors(error);
    let mut response = (error.status(), body(&message, &errors)).into_response();
    if let shared::Error::RateLimited { retry_after } = error
        && let Ok(value) = retry_after.as_secs().max(1).to_string().parse()
    {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

async fn verify_page(Query(query): Query<TokenQuery>) -> Markup {
    verify_form(&query.token, None)
}

fn verify_form(token: &str, failure: Option<&str>) -> Markup {
    page(
        "Verify your e-mail address",
        None,
        html! {
            @if let Some(message) = failure { (alert(message)) }
            p { "Confirm the e-mail address this link was sent to." }
            form method="post" action="/verify-email" {
                input type="hidden" name="token" value=(token);
                button type="submit" { "Verify my e-mail address" }
            }
        },
    )
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    token: String,
}

async fn verify(
    State(ctx): State<SigningContext>,
    PublicForm(form): PublicForm<TokenForm>,
) -> Response {
    let token = form.token.trim();
    let outcome = if token.is_empty() {
        Err(email::invalid_token())
    } else {
        email::verify(&ctx, token).await
    };
    match outcome {
        Ok(()) => page(
            "E-mail address verified",
            None,
            html! {
                p.notice role="status" { "Your e-mail address is verified." }
                p { a href="/account" { "Go to your account" } }
            },
        )
        .into_response(),
        Err(error) => failed(&error, |message, _| verify_form(token, Some(message))),
    }
}

async fn forgot_page() -> Markup {
    forgot_form("", None, &BTreeMap::new())
}

fn forgot_form(email: &str, failure: Option<&str>, errors: &BTreeMap<String, String>) -> Markup {
    page(
        "Forgot your password?",
        None,
        html! {
            @if let Some(message) = failure { (alert(message)) }
            p { "Give the e-mail address of your account: we mail you a link to choose a new password." }
            form method="post" action="/forgot-password" {
                (field("E-mail", "email", "email", email, errors))
                button type="submit" { "Mail me a link" }
            }
            p { a href="/sign-in" { "Back to sign-in" } }
        },
    )
}

#[derive(Deserialize)]
struct Forgot {
    #[serde(default)]
    email: String,
}

async fn forgot(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    PublicForm(form): PublicForm<Forgot>,
) -> Response {
    let outcome = match Email::parse(&form.email) {
        Ok(address) => email::request_password_reset(&ctx, &address, &client).await,
        Err(error) => Err(error),
    };
    match outcome {
        // The same page whether or not an account has the address.
        Ok(()) => page(
            "Check your mail",
            None,
            html! {
                p.notice role="status" {
                    "If an account has this address, a link to choose a new password is on its way. It works once and for 15 minutes."
                }
                p { a href="/sign-in" { "Back to sign-in" } }
            },
        )
        .into_response(),
        Err(error) => failed(&error, |message, errors| {
            forgot_form(&form.email, Some(message), errors)
        }),
    }
}

async fn reset_page(Query(query): Query<TokenQuery>) -> Markup {
    reset_form(&query.token, None, &BTreeMap::new())
}

fn reset_form(token: &str, failure: Option<&str>, errors: &BTreeMap<String, String>) -> Markup {
    page(
        "Choose a new password",
        None,
        html! {
            @if let Some(message) = failure { (alert(message)) }
            form method="post" action="/reset-password" {
                input type="hidden" name="token" value=(token);
                (field("New password", "new_password", "password", "", errors))
                p.hint { "At least 8 characters, not a common password. Every session of the account is signed out." }
                button type="submit" { "Set the new password" }
            }
            p { a href="/forgot-password" { "Ask for a new link" } }
        },
    )
}

#[derive(Deserialize)]
struct Reset {
    #[serde(default)]
    token: String,
    new_password: SecretString,
}

async fn reset(State(ctx): State<SigningContext>, PublicForm(form): PublicForm<Reset>) -> Response {
    let token = form.token.trim();
    let outcome = if token.is_empty() {
        Err(email::invalid_token())
    } else {
        email::reset_password(&ctx, token, form.new_password.expose_secret()).await
    };
    match outcome {
        Ok(()) => page(
            "Password changed",
            None,
            html! {
                p.notice role="status" { "Your password was changed; every session was signed out." }
                p { a href="/sign-in" { "Sign in" } }
            },
        )
        .into_response(),
        Err(error) => failed(&error, |message, errors| {
            reset_form(token, Some(message), errors)
        }),
    }
}
