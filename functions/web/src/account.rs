//! The account page: profile, e-mail address (verification state, a new verification link,
//! changing it) and password, two-factor authentication and passkeys, live sessions (this one
//! marked, sign out one or all others), statistics, login history with failures highlighted,
//! and quota usage.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shared::auth::{self, ProfileChanges};
use shared::client::ClientInfo;
use shared::context::SigningContext;
use shared::cursor::Cursor;
use shared::domain::{Email, LoginOutcome, SessionId, parse_name};
use shared::{Error, Result, email, quota, sessions};

use crate::browser::{Browser, Form, NoFields, see_other};
use crate::layout::{self, alert, csrf_field, notice, page, time};

pub fn routes() -> Router<SigningContext> {
    Router::new()
        .route("/account", get(account))
        .route("/account/profile", post(update_profile))
        .route("/account/password", post(change_password))
        .route("/account/email", post(change_email))
        .route("/account/email/resend", post(resend_verification))
        .route("/account/sessions/others/end", post(end_others))
        .route("/account/sessions/{id}/end", post(end_session))
}

#[derive(Deserialize)]
struct AccountQuery {
    done: Option<String>,
    history: Option<String>,
}

async fn account(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Query(query): Query<AccountQuery>,
) -> Response {
    let banner = notice(query.done.as_deref());
    render(
        &ctx,
        &browser,
        query.history.as_deref(),
        banner,
        StatusCode::OK,
    )
    .await
}

/// The whole account page, with `banner` on top; a failure to load it is an error page.
async fn render(
    ctx: &SigningContext,
    browser: &Browser,
    history_cursor: Option<&str>,
    banner: Markup,
    status: StatusCode,
) -> Response {
    match sections(ctx, browser, history_cursor).await {
        Ok(body) => (
            status,
            page("Your account", Some(browser), html! { (banner) (body) }),
        )
            .into_response(),
        Err(error) => layout::error_page(error),
    }
}

async fn sections(
    ctx: &SigningContext,
    browser: &Browser,
    history_cursor: Option<&str>,
) -> Result<Markup> {
    let who = &browser.who;
    let cursor = history_cursor.map(Cursor::parse).transpose()?;
    let sessions = sessions::list_own(ctx, who, 50, None).await?;
    let stats = sessions::stats(ctx, who).await?;
    let history = sessions::history(ctx, who, 20, cursor).await?;
    let usage = quota::show(ctx, who.user.id).await?;
    let passkeys = shared::passkeys::list(ctx, who.user.id).await?;
    let user = browser.user();
    Ok(html! {
        section aria-labelledby="profile" {
            h2 id="profile" { "Profile" }
            form method="post" action="/account/profile" {
                (csrf_field(browser))
                p { "E-mail: " strong { (user.email.as_str()) } }
                div.field { label for="first_name" { "First name" }
                    input id="first_name" name="first_name" value=(user.first_name) required; }
                div.field { label for="middle_name" { "Middle name" }
                    input id="middle_name" name="middle_name" value=(user.middle_name.as_deref().unwrap_or("")); }
                div.field { label for="last_name" { "Last name" }
                    input id="last_name" name="last_name" value=(user.last_name) required; }
                button type="submit" { "Save the profile" }
            }
        }
        section aria-labelledby="email" {
            h2 id="email" { "E-mail address" }
            p {
                strong { (user.email.as_str()) } " — "
                @if user.email_verified { "verified" } @else { strong { "not verified" } }
            }
            @if !user.email_verified {
                form method="post" action="/account/email/resend" {
                    (csrf_field(browser))
                    button.secondary type="submit" { "Mail me a new verification link" }
                }
            }
            form method="post" action="/account/email" {
                (csrf_field(browser))
                div.field { label for="new_email" { "New e-mail address" }
                    input id="new_email" name="new_email" type="email" autocomplete="email" required; }
                div.field { label for="email_current_password" { "Current password" }
                    input id="email_current_password" name="current_password" type="password" autocomplete="current-password" required; }
                p.hint { "We mail a link to the new address; the address changes when you follow it, and the old one is told." }
                button type="submit" { "Change the e-mail address" }
            }
        }
        section aria-labelledby="password" {
            h2 id="password" { "Password" }
            form method="post" action="/account/password" {
                (csrf_field(browser))
                div.field { label for="current_password" { "Current password" }
                    input id="current_password" name="current_password" type="password" autocomplete="current-password" required; }
                div.field { label for="new_password" { "New password" }
                    input id="new_password" name="new_password" type="password" autocomplete="new-password" required aria-describedby="new-password-rules"; }
                p.hint id="new-password-rules" { "At least 8 characters, not a common password. Every other session is signed out." }
                button type="submit" { "Change the password" }
            }
        }
        (crate::mfa::section(browser))
        (crate::passkeys::section(browser, &passkeys))
        section aria-labelledby="sessions" {
            h2 id="sessions" { "Where you are signed in" }
            div.table {
                table {
                    thead { tr { th { "Device" } th { "Browser" } th { "System" } th { "IP" } th { "Location" }
                        th { "Signed in" } th { "Last active" } th { span.visually-hidden { "Action" } } } }
                    tbody {
                        @for session in &sessions.items {
                            tr.current[session.current] data-session=(session.id) {
                                td { (session.device_name) " (" (format!("{:?}", session.device_type).to_lowercase()) ")" }
                                td { (session.browser) }
                                td { (session.os) }
                                td { (session.ip.as_deref().unwrap_or("unknown")) }
                                td { (place(&session.location)) }
                                td { (time(&session.created_at)) }
                                td { (time(&session.last_active_at)) }
                                td {
                                    @if session.current {
                                        strong { "This browser" }
                                    } @else {
                                        form.inline method="post" action=(format!("/account/sessions/{}/end", session.id)) {
                                            (csrf_field(browser))
                                            button.secondary type="submit" { "Sign out" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if sessions.items.len() > 1 {
                form method="post" action="/account/sessions/others/end" {
                    (csrf_field(browser))
                    button.secondary type="submit" { "Sign out all other sessions" }
                }
            }
        }
        section aria-labelledby="stats" {
            h2 id="stats" { "Statistics" }
            dl.stats {
                dt { "Live sessions" } dd { (stats.active) " of " (stats.limit) }
                dt { "Last sign-in" } dd { @match &stats.last_login_at { Some(at) => (time(at)), None => "never" } }
                dt { "Failed sign-ins, 30 days" } dd { (stats.failed_attempts_30d) }
                dt { "By device" } dd { (counts(&stats.by_device_type)) }
                dt { "By browser" } dd { (counts(&stats.by_browser)) }
                dt { "By sign-in method" } dd { (counts(&stats.by_created_via)) }
            }
        }
        section aria-labelledby="history" {
            h2 id="history" { "Sign-in history" }
            p { a href="/account/activity" { "All security activity" } " — sign-ins, ended sessions and every change to your account." }
            div.table {
                table {
                    thead { tr { th { "When" } th { "Outcome" } th { "Method" } th { "IP" } th { "Browser" } th { "System" } th { "Location" } } }
                    tbody {
                        @for item in &history.items {
                            @let failed = item.outcome != LoginOutcome::Success;
                            tr.failed[failed] {
                                td { (time(&item.at)) }
                                td { @if failed { strong { (snake(&item.outcome)) } } @else { (snake(&item.outcome)) } }
                                td { (snake(&item.method)) }
                                td { (item.ip.as_deref().unwrap_or("unknown")) }
                                td { (item.browser) }
                                td { (item.os) }
                                td { (place(&item.location)) }
                            }
                        }
                    }
                }
            }
            nav.pages aria-label="History pages" {
                @if history_cursor.is_some() { a href="/account#history" { "Newest" } }
                @if let Some(next) = &history.next_cursor {
                    a href=(format!("/account?history={}#history", layout::encode(next))) { "Older" }
                }
            }
        }
        section aria-labelledby="quota" {
            h2 id="quota" { "Quota" }
            (bar("Videos", f64::from(usage.usage.videos_count), f64::from(usage.limits.max_videos), ""))
            (bar("Duration", usage.usage.total_duration_seconds, usage.limits.max_duration_seconds, " s"))
            p.hint { "Files up to " (usage.limits.max_file_size_mb) " MB." }
        }
    })
}

/// A usage bar: a `<meter>` with its figures in words.
fn bar(label: &str, used: f64, max: f64, unit: &str) -> Markup {
    html! {
        div.meter {
            label { (label) ": " (used) (unit) " of " (max) (unit)
                meter min="0" max=(max) value=(used) { (used) " of " (max) } }
        }
    }
}

fn counts(map: &std::collections::BTreeMap<String, usize>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter()
        .map(|(name, count)| format!("{name}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A location as "City, Region, Country", or "unknown".
pub fn place(location: &shared::domain::Location) -> String {
    let parts = [&location.city, &location.region, &location.country]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>();
    if parts.is_empty() {
        "unknown".into()
    } else {
        parts.join(", ")
    }
}

/// An enum as the API spells it (`wrong_password`).
pub fn snake(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct Profile {
    first_name: String,
    last_name: String,
    #[serde(default)]
    middle_name: String,
}

async fn update_profile(
    State(ctx): State<SigningContext>,
    Form(browser, form): Form<Profile>,
) -> Response {
    let changes = async {
        Ok::<_, Error>(ProfileChanges {
            first_name: Some(parse_name("first_name", &form.first_name)?),
            last_name: Some(parse_name("last_name", &form.last_name)?),
            middle_name: Some(match form.middle_name.trim() {
                "" => None,
                name => Some(parse_name("middle_name", name)?),
            }),
        })
    };
    let saved = match changes.await {
        Ok(changes) => auth::update_profile(&ctx, &browser.who, changes).await,
        Err(error) => Err(error),
    };
    done(&ctx, &browser, saved.map(|_| "profile")).await
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: SecretString,
    new_password: SecretString,
}

async fn change_password(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    Form(browser, form): Form<PasswordChange>,
) -> Response {
    let changed = auth::change_password(
        &ctx,
        &browser.who,
        form.current_password.expose_secret(),
        form.new_password.expose_secret(),
        &client,
    )
    .await;
    done(&ctx, &browser, changed.map(|()| "password")).await
}

#[derive(Deserialize)]
struct EmailChange {
    new_email: String,
    current_password: SecretString,
}

async fn change_email(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    Form(browser, form): Form<EmailChange>,
) -> Response {
    let asked = match Email::parse(&form.new_email) {
        Ok(new_email) => {
            email::request_email_change(
                &ctx,
                &browser.who,
                &new_email,
                form.current_password.expose_secret(),
                &client,
            )
            .await
        }
        Err(error) => Err(error),
    };
    done(&ctx, &browser, asked.map(|()| "email-change-sent")).await
}

async fn resend_verification(
    State(ctx): State<SigningContext>,
    Form(browser, NoFields {}): Form<NoFields>,
) -> Response {
    let sent = email::resend_verification(&ctx, &browser.who).await;
    done(&ctx, &browser, sent.map(|()| "verification-sent")).await
}

async fn end_session(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, NoFields {}): Form<NoFields>,
) -> Response {
    let ended = match id.parse::<SessionId>() {
        Ok(id) => sessions::terminate(&ctx, &browser.who, id).await,
        Err(error) => Err(error),
    };
    done(&ctx, &browser, ended.map(|()| "signed-out")).await
}

async fn end_others(
    State(ctx): State<SigningContext>,
    Form(browser, NoFields {}): Form<NoFields>,
) -> Response {
    let ended = sessions::terminate_others(&ctx, &browser.who).await;
    done(&ctx, &browser, ended.map(|_| "others")).await
}

/// After an action: back to the account page with its notice, or the page again with the
/// failure on top (and its status).
pub(crate) async fn done(
    ctx: &SigningContext,
    browser: &Browser,
    outcome: Result<&str>,
) -> Response {
    match outcome {
        Ok(done) => see_other(&format!("/account?done={done}")),
        Err(error) => {
            let status = error.status();
            let banner = alert(&error.public_message());
            render(ctx, browser, None, banner, status).await
        }
    }
}
