//! Signing in and out: the password form (and its second step), the passkey button,
//! registration, and the QR sign-in with a phone (the desktop's live code, and the phone's
//! approval page).
//!
//! The QR code encodes a link to this site's approval page, so a phone camera opens it. The
//! poll token stays in the requesting browser, in an `HttpOnly` cookie ([`Cookie::QrPoll`]):
//! only that browser can read the request's state and collect the session.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use qrcode::QrCode;
use qrcode::render::svg;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use shared::auth::{self, LoginResult, NewAccount};
use shared::client::ClientInfo;
use shared::context::SigningContext;
use shared::domain::{Email, QrStatus, parse_name};
use shared::http::cookies::{self, Cookie};
use shared::mfa::{self, Factor, Transport};
use shared::qr_auth::{self, QrStatusView};
use shared::{Error, Result};

use crate::browser::{self, Browser, Form, NoFields, PublicForm, safe_next, see_other};
use crate::layout::{self, alert, csrf_field, field, form_errors, page};
use crate::passkeys;

pub fn routes() -> Router<SigningContext> {
    Router::new()
        .route("/", get(|| async { see_other("/account") }))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-in/mfa", post(second_step))
        .route("/register", get(register_page).post(register))
        .route("/sign-out", post(sign_out))
        .route("/sign-in/qr", post(new_qr))
        .route("/sign-in/qr/state", get(qr_state))
        .route("/approve", get(approve_page).post(approve))
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

async fn sign_in_page(Query(query): Query<Next>) -> Markup {
    sign_in_form(&safe_next(query.next.as_deref()), "", None)
}

fn sign_in_form(next: &str, email: &str, failure: Option<&str>) -> Markup {
    let none = BTreeMap::new();
    page(
        "Sign in",
        None,
        html! {
            div.columns {
                section aria-labelledby="with-password" {
                    h2 id="with-password" { "With your password" }
                    @if let Some(message) = failure { (alert(message)) }
                    form method="post" action="/sign-in" {
                        input type="hidden" name="next" value=(next);
                        (field("E-mail", "email", "email", email, &none))
                        (field("Password", "password", "password", "", &none))
                        button type="submit" { "Sign in" }
                    }
                    p { a href="/forgot-password" { "Forgot your password?" } }
                    p { "New here? " a href="/register" { "Create an account" } }
                }
                section aria-labelledby="with-passkey" {
                    h2 id="with-passkey" { "With a passkey" }
                    p { "Use a passkey you added to your account: this device's screen lock or a security key." }
                    (passkeys::sign_in_button(next))
                }
                section aria-labelledby="with-phone" {
                    h2 id="with-phone" { "With your phone" }
                    p { "Scan the code with a phone where you are signed in to Sesame, then approve." }
                    div.qr data-qr="/sign-in/qr" data-next=(next) {
                        div.qr-image {}
                        p.qr-state role="status" aria-live="polite" { "Loading a code…" }
                        button.qr-new type="button" hidden { "Show a new code" }
                    }
                    noscript { p { "Signing in with your phone needs JavaScript." } }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct SignIn {
    email: String,
    password: SecretString,
    next: Option<String>,
}

async fn sign_in(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    PublicForm(form): PublicForm<SignIn>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let attempt = async {
        let email = Email::parse(&form.email)?;
        auth::login(
            &ctx,
            &email,
            secrecy::ExposeSecret::expose_secret(&form.password),
            &client,
            Transport::Cookie,
        )
        .await
    };
    match attempt.await {
        Ok(LoginResult::Session(tokens)) => browser::signed_in(&ctx, &tokens, &next),
        Ok(LoginResult::MfaRequired(challenge)) => {
            let passkey = challenge.methods.iter().any(|method| method == "passkey");
            second_step_page(&next, &challenge.mfa_token, passkey, None).into_response()
        }
        Err(error) => {
            let status = error.status();
            let (message, _) = form_errors(&error);
            (status, sign_in_form(&next, &form.email, Some(&message))).into_response()
        }
    }
}

/// The second step of a sign-in on an account with two-factor sign-in. The login's
/// `mfa_token` travels in a hidden field of this page rather than a cookie: the page is only
/// ever the answer to the password's POST (never cached, `no-store` on every page), the token
/// is single use, lives five minutes and is bound to this browser's IP and device, and no
/// other page or script can read it; a cookie would outlive the attempt and need clearing.
/// With `passkey` (the account has one), the page also offers it; the script then hands the
/// token to the API's passkey step itself.
fn second_step_page(next: &str, mfa_token: &str, passkey: bool, failure: Option<&str>) -> Markup {
    let none = BTreeMap::new();
    page(
        "Two-factor sign-in",
        None,
        html! {
            @if let Some(message) = failure { (alert(message)) }
            p { "Enter the 6-digit code from your authenticator app, or one of your recovery codes." }
            form method="post" action="/sign-in/mfa" {
                input type="hidden" name="next" value=(next);
                input type="hidden" name="mfa_token" value=(mfa_token);
                @if passkey { input type="hidden" name="passkey" value="1"; }
                (field("Authentication code", "code", "text", "", &none))
                (field("Or a recovery code", "recovery_code", "text", "", &none))
                button type="submit" { "Verify" }
            }
            @if passkey {
                p { "Or use one of your passkeys instead of a code." }
                (passkeys::second_step_button(next, mfa_token))
            }
            p { a href="/sign-in" { "Start over" } }
        },
    )
}

#[derive(Deserialize)]
struct SecondStep {
    mfa_token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
    /// Set when the page offered a passkey, to offer it again.
    #[serde(default)]
    passkey: Option<String>,
    next: Option<String>,
}

async fn second_step(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    PublicForm(form): PublicForm<SecondStep>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let passkey = form.passkey.is_some();
    let code = form.code.trim();
    let recovery = form.recovery_code.trim();
    let factor = match (code.is_empty(), recovery.is_empty()) {
        (false, true) => Factor::Totp(SecretString::from(code)),
        (true, false) => Factor::RecoveryCode(SecretString::from(recovery)),
        _ => {
            let message = "Enter either the code from your app or a recovery code.";
            return (
                axum::http::StatusCode::BAD_REQUEST,
                second_step_page(&next, &form.mfa_token, passkey, Some(message)),
            )
                .into_response();
        }
    };
    let completed = mfa::complete(
        &ctx,
        &form.mfa_token,
        factor,
        Some(Transport::Cookie),
        &client,
    )
    .await;
    match completed {
        Ok((tokens, _)) => browser::signed_in(&ctx, &tokens, &next),
        Err(error) if error.code() == "invalid_mfa_token" => {
            let (message, _) = form_errors(&error);
            (error.status(), sign_in_form(&next, "", Some(&message))).into_response()
        }
        Err(error) => {
            let (message, _) = form_errors(&error);
            (
                error.status(),
                second_step_page(&next, &form.mfa_token, passkey, Some(&message)),
            )
                .into_response()
        }
    }
}

async fn register_page() -> Markup {
    register_form(&RegisterFields::default(), None, &BTreeMap::new())
}

#[derive(Default, Deserialize)]
struct RegisterFields {
    email: String,
    first_name: String,
    last_name: String,
    #[serde(default)]
    middle_name: String,
}

#[derive(Deserialize)]
struct Register {
    #[serde(flatten)]
    fields: RegisterFields,
    password: SecretString,
    password2: SecretString,
}

fn register_form(
    fields: &RegisterFields,
    failure: Option<&str>,
    errors: &BTreeMap<String, String>,
) -> Markup {
    page(
        "Create an account",
        None,
        html! {
            @if let Some(message) = failure { (alert(message)) }
            form method="post" action="/register" {
                (field("E-mail", "email", "email", &fields.email, errors))
                (field("First name", "first_name", "text", &fields.first_name, errors))
                (field("Middle name (optional)", "middle_name", "text", &fields.middle_name, errors))
                (field("Last name", "last_name", "text", &fields.last_name, errors))
                (field("Password", "password", "password", "", errors))
                p.hint id="password-rules" {
                    "At least 8 characters, not a common password."
                }
                (field("Repeat the password", "password2", "password", "", errors))
                button type="submit" { "Create the account" }
            }
            p { "Already registered? " a href="/sign-in" { "Sign in" } }
        },
    )
}

async fn register(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    PublicForm(form): PublicForm<Register>,
) -> Response {
    let fields = &form.fields;
    let attempt = async {
        let account = NewAccount {
            email: Email::parse(&fields.email)?,
            password: form.password,
            password2: form.password2,
            first_name: parse_name("first_name", &fields.first_name)?,
            last_name: parse_name("last_name", &fields.last_name)?,
            middle_name: match fields.middle_name.trim() {
                "" => None,
                name => Some(parse_name("middle_name", name)?),
            },
        };
        auth::register(&ctx, account, &client).await
    };
    match attempt.await {
        Ok(tokens) => browser::signed_in(&ctx, &tokens, "/account"),
        Err(error) => {
            let status = error.status();
            let (message, errors) = form_errors(&error);
            (status, register_form(fields, Some(&message), &errors)).into_response()
        }
    }
}

async fn sign_out(
    State(ctx): State<SigningContext>,
    Form(browser, NoFields {}): Form<NoFields>,
) -> Response {
    match auth::logout(&ctx, &browser.who).await {
        Ok(()) => (cookies::sign_out(&ctx.config), see_other("/sign-in")).into_response(),
        Err(error) => layout::error_page(error),
    }
}

/// A new QR code for the sign-in page: drawn as SVG, its poll token set as this browser's
/// cookie.
#[derive(Serialize)]
struct NewQr {
    svg: String,
    link: String,
    expires_in_s: u64,
    poll_interval_s: u64,
}

async fn new_qr(
    State(ctx): State<SigningContext>,
    headers: HeaderMap,
    client: ClientInfo,
) -> Result<Response> {
    cookies::check_origin(&ctx.config, &headers)?;
    let generated = qr_auth::generate(&ctx, &client).await?;
    let link = format!(
        "{}/approve?code={}",
        public_url(&ctx, &headers),
        generated.code
    );
    let svg = QrCode::new(link.as_bytes())
        .map_err(Error::internal)?
        .render::<svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    // The page inlines the drawing: no XML declaration in HTML.
    let svg = svg
        .split_once("?>")
        .map_or(svg.as_str(), |(_, drawing)| drawing)
        .to_owned();
    let ttl = ctx.config.qr_ttl.as_secs();
    let poll = format!("{}.{}", generated.code, generated.poll_token);
    Ok((
        [(
            header::SET_COOKIE,
            Cookie::QrPoll.set(&ctx.config, &poll, ttl),
        )],
        axum::Json(NewQr {
            svg,
            link,
            expires_in_s: ttl,
            poll_interval_s: generated.poll_interval_s,
        }),
    )
        .into_response())
}

/// This site's origin: the configured public URL, else `https://` and the request's host.
fn public_url(ctx: &SigningContext, headers: &HeaderMap) -> String {
    ctx.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        format!("https://{host}")
    })
}

/// The state of this browser's QR sign-in, for the page's script.
#[derive(Serialize)]
struct QrState {
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scanned_by: Option<String>,
}

async fn qr_state(
    State(ctx): State<SigningContext>,
    headers: HeaderMap,
    client: ClientInfo,
) -> Response {
    let Some((code, poll)) = Cookie::QrPoll
        .read(&ctx.config, &headers)
        .and_then(|value| {
            value
                .split_once('.')
                .map(|(c, p)| (c.to_owned(), p.to_owned()))
        })
    else {
        return state_json("expired", None);
    };
    let answer = async {
        let code = qr_auth::QrCode::parse(&code)?;
        qr_auth::status(&ctx, &code, Some(&poll), &client).await
    };
    match answer.await {
        Ok(QrStatusView::Collected { tokens, .. }) => {
            let mut set = cookies::sign_in(&ctx.config, &tokens);
            set.append(header::SET_COOKIE, Cookie::QrPoll.clear(&ctx.config));
            (set, state_json("confirmed", None)).into_response()
        }
        Ok(QrStatusView::Status { status, scanned_by }) => {
            let state = match status {
                QrStatus::Pending => "pending",
                QrStatus::Scanned => "scanned",
                QrStatus::Confirmed | QrStatus::Consumed => "confirmed",
                QrStatus::Rejected => "rejected",
                QrStatus::Expired => "expired",
            };
            state_json(state, scanned_by.map(|device| device.summary()))
        }
        Err(Error::NotFound { .. } | Error::Gone { .. }) => state_json("expired", None),
        Err(Error::RateLimited { .. }) => state_json("slow-down", None),
        Err(error) => error.into_response(),
    }
}

fn state_json(state: &'static str, scanned_by: Option<String>) -> Response {
    axum::Json(QrState { state, scanned_by }).into_response()
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

/// The phone's page: what asks to be signed in, before Confirm or Reject.
async fn approve_page(
    State(ctx): State<SigningContext>,
    client: ClientInfo,
    browser: Browser,
    Query(query): Query<Code>,
) -> Response {
    let scanned = async {
        let code = qr_auth::QrCode::parse(&query.code)?;
        qr_auth::scan(&ctx, &browser.who, &code, &client).await
    };
    let requester = match scanned.await {
        Ok(view) => view,
        Err(error) => return layout::error_page(error),
    };
    let location = [
        requester.location.city.as_deref(),
        requester.location.country.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let (hint, warn) = match requester.proximity {
        qr_auth::Proximity::SameIp => ("It is on the same network as this phone.", false),
        qr_auth::Proximity::SameCountry => ("It is in the same country as this phone.", false),
        qr_auth::Proximity::DifferentCountry => (
            "It is in a different country from this phone: if you did not just show this code \
             yourself, reject it.",
            true,
        ),
        qr_auth::Proximity::Unknown => {
            ("Where it is could not be compared with this phone.", false)
        }
    };
    page(
        "Sign in a browser?",
        Some(&browser),
        html! {
            div.approve {
                p { "A browser asks to be signed in as " strong { (browser.user().email.as_str()) } ":" }
                dl.context {
                    dt { "Browser" } dd { (requester.browser) }
                    dt { "System" } dd { (requester.os) }
                    dt { "Device" } dd { (requester.device_name) }
                    dt { "IP address" } dd { (requester.ip.as_deref().unwrap_or("unknown")) }
                    dt { "Location" } dd { @if location.is_empty() { "unknown" } @else { (location) } }
                    dt { "Asked at" } dd { (layout::time(&requester.created_at)) }
                }
                p class=(if warn { "alert" } else { "hint" }) { (hint) }
                div.decide {
                    form method="post" action="/approve" {
                        (csrf_field(&browser))
                        input type="hidden" name="code" value=(query.code);
                        input type="hidden" name="decision" value="confirm";
                        button type="submit" { "Confirm: sign it in" }
                    }
                    form method="post" action="/approve" {
                        (csrf_field(&browser))
                        input type="hidden" name="code" value=(query.code);
                        input type="hidden" name="decision" value="reject";
                        button.secondary type="submit" { "Reject" }
                    }
                }
            }
        },
    )
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Decision {
    Confirm,
    Reject,
}

#[derive(Deserialize)]
struct Approve {
    code: String,
    decision: Decision,
}

async fn approve(
    State(ctx): State<SigningContext>,
    Form(browser, form): Form<Approve>,
) -> Response {
    let decided = async {
        let code = qr_auth::QrCode::parse(&form.code)?;
        match form.decision {
            Decision::Confirm => qr_auth::confirm(&ctx, &browser.who, &code)
                .await
                .map(|()| "approved"),
            Decision::Reject => qr_auth::reject(&ctx, &browser.who, &code)
                .await
                .map(|()| "rejected"),
        }
    };
    match decided.await {
        Ok(done) => see_other(&format!("/account?done={done}")),
        Err(error) => layout::error_page(error),
    }
}
