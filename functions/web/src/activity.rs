//! Security activity: the account's own audit events (`/account/activity`) and the table of
//! events the admin audit page shows too.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;
use shared::audit::{self, EventView, Outcome};
use shared::context::SigningContext;
use shared::cursor::Cursor;

use crate::browser::Browser;
use crate::layout::{self, encode, page, time};

pub fn routes() -> Router<SigningContext> {
    Router::new().route("/account/activity", get(activity))
}

#[derive(Deserialize)]
struct ActivityQuery {
    cursor: Option<String>,
}

/// The caller's own account's events, newest first, 25 a page.
async fn activity(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Query(query): Query<ActivityQuery>,
) -> Response {
    let listed = async {
        let cursor = query.cursor.as_deref().map(Cursor::parse).transpose()?;
        audit::list_own(&ctx, &browser.who, 25, cursor).await
    };
    match listed.await {
        Ok(listed) => page(
            "Security activity",
            Some(&browser),
            html! {
                p.crumbs { a href="/account" { "Your account" } }
                p { "Sign-ins, failed attempts, ended sessions and changes to your account, newest first. \
                     Something you do not recognise? Change your password and sign out everywhere." }
                (events_table(&listed.items, false))
                nav.pages aria-label="Pages" {
                    @if query.cursor.is_some() { a href="/account/activity" { "Newest" } }
                    @if let Some(next) = &listed.next_cursor {
                        a href=(format!("/account/activity?cursor={}", encode(next))) { "Older" }
                    }
                }
            },
        )
        .into_response(),
        Err(error) => layout::error_page(error),
    }
}

/// A table of audit events; `with_actor` adds who acted and what the event was about (the
/// admin view: a user's own list is all about them).
pub fn events_table(events: &[EventView], with_actor: bool) -> Markup {
    html! {
        div.table {
            table.events {
                thead { tr {
                    th { "When" } th { "Event" } th { "Outcome" }
                    @if with_actor { th { "Actor" } th { "Subject" } }
                    th { "IP" } th { "Device" } th { "Details" }
                } }
                tbody {
                    @for event in events {
                        tr.failed[event.outcome == Outcome::Failure] data-event=(event.kind.as_str()) {
                            td { (time(&event.at)) }
                            td { code { (event.kind.as_str()) } }
                            td { @match event.outcome { Outcome::Success => "success", Outcome::Failure => "failure" } }
                            @if with_actor {
                                td { (event.actor) }
                                td { @if let Some(subject) = &event.subject {
                                    (serde_json::to_value(subject.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
                                    " " (subject.id)
                                } }
                            }
                            td { (event.ip.as_deref().unwrap_or("")) }
                            td { (event.device.as_deref().unwrap_or("")) }
                            td { @for (key, value) in &event.details {
                                span.detail { (key) ": " (value_text(value)) } " "
                            } }
                        }
                    }
                }
            }
        }
        @if events.is_empty() { p { "No events." } }
    }
}

/// A detail's value as text: strings without quotes, lists joined.
fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(items) => {
            items.iter().map(value_text).collect::<Vec<_>>().join(", ")
        }
        serde_json::Value::Null => "none".into(),
        other => other.to_string(),
    }
}
