//! The admin pages: users (activation, roles, their sessions), roles and their permissions, the
//! catalog of resources and actions, and quotas.
//!
//! Every page and every form is authorized by the mechanism of the API ([`rbac::authorize`],
//! [`rbac::is_allowed`]) on the same [`Resource`] and [`Action`] as the API route doing the same
//! thing: a page asks for `read`, a form for the action of the API route's method (a change of a
//! user is `update` on `users`, a quota reset `create` on `quota` (a POST), its limits `update`
//! (a PUT), ending a user's sessions `delete` on `sessions`). A page shows only what its
//! caller's roles allow; anything else, typed in by hand, is a 403 page. The services apply the
//! rest of the rules (only superusers change roles, nobody deactivates themselves).
//!
//! Versioned writes (a user, a role) carry the entity-tag of the version the page showed in the
//! hidden field `etag`, and hand it to the service as the `If-Match` the API would read, so a
//! form older than the last change is refused with the 412 message.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use shared::audit::{self, EventType};
use shared::context::{Context, SigningContext};
use shared::cursor::Cursor;
use shared::domain::{
    CatalogKind, CodeName, LimitOverrides, MAX_QUOTA_FILE_SIZE_MB, MAX_QUOTA_VIDEOS, Permission,
    SessionId, UserId, parse_description, parse_duration_ms, parse_name, parse_whole_number,
};
use shared::http::{ETag, IfMatch, Page, PageParams};
use shared::rbac::{self, Action, Changes, NewRole, Resource};
use shared::store::UserFilter;
use shared::users::{self, UserChanges};
use shared::views::{CatalogItemView, QuotaView, RoleView};
use shared::{Error, Result, quota, sessions};

use crate::account::{place, snake};
use crate::activity;
use crate::browser::{self, Browser, Form, see_other};
use crate::layout::{self, alert, csrf_field, encode, notice, page, time};

pub fn routes() -> Router<SigningContext> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/users", get(users_page))
        .route("/admin/users/{id}", get(user_page))
        .route("/admin/users/{id}/active", post(set_active))
        .route("/admin/users/{id}/roles", post(set_roles))
        .route("/admin/users/{id}/sessions/end", post(end_all_sessions))
        .route(
            "/admin/users/{id}/sessions/{session}/end",
            post(end_session),
        )
        .route("/admin/roles", get(roles_page).post(create_role))
        .route("/admin/roles/{code}", get(role_page).post(update_role))
        .route("/admin/roles/{code}/delete", post(delete_role))
        .route("/admin/resources", get(resources_page))
        .route("/admin/actions", get(actions_page))
        .route("/admin/quota", get(quotas_page))
        .route("/admin/quota/{id}", get(quota_page))
        .route("/admin/quota/{id}/reset", post(reset_quota))
        .route("/admin/quota/{id}/limits", post(set_limits))
        .route("/admin/audit", get(audit_page))
}

/// The sections of the index: the resource whose `read` opens it, where, what.
const SECTIONS: [(Resource, &str, &str, &str); 6] = [
    (
        Resource::Users,
        "/admin/users",
        "Users",
        "Accounts: activate and deactivate, roles, their sessions.",
    ),
    (
        Resource::Roles,
        "/admin/roles",
        "Roles and permissions",
        "What each role may do.",
    ),
    (
        Resource::Resources,
        "/admin/resources",
        "Resources",
        "What permissions guard.",
    ),
    (
        Resource::Actions,
        "/admin/actions",
        "Actions",
        "What permissions allow.",
    ),
    (
        Resource::Quota,
        "/admin/quota",
        "Quotas",
        "Usage and limits: reset, own limits.",
    ),
    (
        Resource::Audit,
        "/admin/audit",
        "Audit trail",
        "Security events: sign-ins, session ends, changes, by whom and from where.",
    ),
];

/// `/admin`: the sections the caller may read; a 403 page when there are none.
async fn index(State(ctx): State<SigningContext>, browser: Browser) -> Response {
    let mut open = Vec::new();
    for section in SECTIONS {
        match may(&ctx, &browser, section.0, Action::Read).await {
            Ok(true) => open.push(section),
            Ok(false) => {}
            Err(error) => return layout::error_page(error),
        }
    }
    if open.is_empty() {
        let body = alert(
            "Your roles give you no administrative rights here. An administrator can give you a role that has some.",
        );
        return (
            StatusCode::FORBIDDEN,
            page("Administration", Some(&browser), body),
        )
            .into_response();
    }
    let body = html! {
        ul.sections {
            @for (_, href, title, about) in open {
                li { a href=(href) { (title) } " — " (about) }
            }
        }
    };
    page("Administration", Some(&browser), body).into_response()
}

/// A page's title and content, before the shell.
struct Screen {
    title: String,
    body: Markup,
}

/// `?limit=&cursor=` of a list page, and the notice of the last change.
#[derive(Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    done: Option<String>,
}

impl ListQuery {
    /// The page size and cursor, checked as the API checks them.
    fn page(&self) -> Result<(usize, Option<Cursor>)> {
        let params = PageParams {
            limit: self.limit,
            cursor: self.cursor.clone(),
        };
        Ok((params.limit()?, params.cursor()?))
    }
}

/// The notice of the last change on a page that is not a list.
#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

/// A posted form's fields in order, repeated names (checkbox groups) included.
#[derive(Deserialize)]
#[serde(transparent)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value named `name`, or `""`.
    fn one(&self, name: &str) -> &str {
        self.all(name).next().unwrap_or("")
    }

    /// Every value named `name`.
    fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The `If-Match` of a versioned write: the entity-tag the page was shown with (field
    /// `etag`), read as the API reads the header.
    fn if_match(&self) -> Result<IfMatch> {
        browser::if_match(self.one("etag"))
    }
}

/// The hidden field carrying the version a versioned form was rendered at.
fn etag_field(etag: &ETag) -> Markup {
    let value = etag.header_value();
    html! { input type="hidden" name="etag" value=(value.to_str().unwrap_or_default()); }
}

/// Whether the caller may perform `action` on `resource` (the API's decision).
async fn may(ctx: &Context, browser: &Browser, resource: Resource, action: Action) -> Result<bool> {
    rbac::is_allowed(ctx, browser.user(), resource, action).await
}

/// Refuses (403) unless the caller may perform `action` on `resource` (the API's decision).
async fn authorize(
    ctx: &Context,
    browser: &Browser,
    resource: Resource,
    action: Action,
) -> Result<()> {
    rbac::authorize(ctx, &browser.who, resource, action).await
}

/// A screen in the shell with `banner` on top, or the failure's page.
fn show(browser: &Browser, banner: Markup, screen: Result<Screen>) -> Response {
    match screen {
        Ok(screen) => page(
            &screen.title,
            Some(browser),
            html! { (banner) (screen.body) },
        )
        .into_response(),
        Err(error) => layout::error_page(error),
    }
}

/// After a change: on to the address `outcome` names, or the page the form was on (`again`)
/// with the failure on top and its status; the failure's own page when that page cannot be
/// shown either.
async fn after(
    browser: &Browser,
    outcome: Result<String>,
    again: impl Future<Output = Result<Screen>>,
) -> Response {
    let error = match outcome {
        Ok(to) => return see_other(&to),
        Err(error) => error,
    };
    match again.await {
        Ok(screen) => (
            error.status(),
            page(
                &screen.title,
                Some(browser),
                html! { (alert(&error.public_message())) (screen.body) },
            ),
        )
            .into_response(),
        Err(_) => layout::error_page(error),
    }
}

/// The way back to the index.
fn back() -> Markup {
    html! { p.crumbs { a href="/admin" { "Administration" } } }
}

/// Links to the first and the next page of a list at `base`.
fn pager(base: &str, query: &ListQuery, next: Option<&str>) -> Markup {
    let limit = query
        .limit
        .map(|l| format!("limit={l}&"))
        .unwrap_or_default();
    html! {
        nav.pages aria-label="Pages" {
            @if query.cursor.is_some() { a href=(format!("{base}?{limit}")) { "First page" } }
            @if let Some(next) = next {
                a href=(format!("{base}?{limit}cursor={}", encode(next))) { "Next page" }
            }
        }
    }
}

/// Every item of a paged list, page after page.
async fn whole<T, F>(mut fetch: impl FnMut(Option<Cursor>) -> F) -> Result<Vec<T>>
where
    F: Future<Output = Result<Page<T>>>,
{
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = fetch(cursor).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(Cursor::parse(&next)?),
            None => return Ok(items),
        }
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

// Users.

async fn users_page(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Query(query): Query<ListQuery>,
) -> Response {
    let banner = notice(query.done.as_deref());
    show(&browser, banner, users_screen(&ctx, &browser, &query).await)
}

async fn users_screen(ctx: &Context, browser: &Browser, query: &ListQuery) -> Result<Screen> {
    authorize(ctx, browser, Resource::Users, Action::Read).await?;
    let (limit, cursor) = query.page()?;
    let listed = users::list(ctx, limit, cursor, &UserFilter::default()).await?;
    let body = html! {
        (back())
        div.table {
            table {
                thead { tr { th { "E-mail" } th { "Name" } th { "Active" } th { "Rights" } th { "Roles" } th { "Registered" } } }
                tbody {
                    @for user in &listed.items {
                        tr.inactive[!user.is_active] {
                            td { a href=(format!("/admin/users/{}", user.id)) { (user.email) } }
                            td { (user.first_name) " " (user.last_name) }
                            td { (yes_no(user.is_active)) }
                            td { @if user.is_superuser { "superuser" } @else if user.is_staff { "staff" } }
                            td { (user.roles.join(", ")) }
                            td { (time(&user.created_at)) }
                        }
                    }
                }
            }
        }
        (pager("/admin/users", query, listed.next_cursor.as_deref()))
    };
    Ok(Screen {
        title: "Users".into(),
        body,
    })
}

async fn user_page(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Path(id): Path<String>,
    Query(query): Query<Done>,
) -> Response {
    let banner = notice(query.done.as_deref());
    show(&browser, banner, user_screen(&ctx, &browser, &id).await)
}

/// A user: the profile, the forms the caller may use on it, their sessions (with `read` on
/// `sessions`) and a link to their quota (with `read` on `quota`).
async fn user_screen(ctx: &Context, browser: &Browser, id: &str) -> Result<Screen> {
    authorize(ctx, browser, Resource::Users, Action::Read).await?;
    let user_id: UserId = id.parse()?;
    let found = users::find(ctx, user_id).await?;
    let user = &found.body;
    let actor = browser.user();
    let myself = actor.id == user_id;
    // Whom the caller may change at all: nobody but a superuser changes a superuser.
    let may_act = actor.is_superuser || !user.is_superuser;
    let may_update = may_act && may(ctx, browser, Resource::Users, Action::Update).await?;
    let roles = if actor.is_superuser && !myself {
        whole(|cursor| rbac::list_roles(ctx, 100, cursor)).await?
    } else {
        Vec::new()
    };
    let sessions = if may(ctx, browser, Resource::Sessions, Action::Read).await? {
        Some(sessions::list_for_user(ctx, user_id, 100, None).await?)
    } else {
        None
    };
    let may_end = may_act && may(ctx, browser, Resource::Sessions, Action::Delete).await?;
    let quota = may(ctx, browser, Resource::Quota, Action::Read).await?;
    let base = format!("/admin/users/{user_id}");
    let body = html! {
        (back())
        p { a href="/admin/users" { "All users" } }
        dl.profile {
            dt { "E-mail" } dd { (user.email) }
            dt { "Name" } dd { (user.first_name) " " (user.middle_name.as_deref().unwrap_or("")) " " (user.last_name) }
            dt { "Active" } dd { (yes_no(user.is_active)) }
            dt { "Staff" } dd { (yes_no(user.is_staff)) }
            dt { "Superuser" } dd { (yes_no(user.is_superuser)) }
            dt { "Roles" } dd { @if user.roles.is_empty() { "none" } @else { (user.roles.join(", ")) } }
            dt { "Registered" } dd { (time(&user.created_at)) }
            dt { "Changed" } dd { (time(&user.updated_at)) }
        }
        @if quota { p { a href=(format!("/admin/quota/{user_id}")) { "Quota" } } }
        @if may_update && !myself {
            section aria-labelledby="activation" {
                h2 id="activation" { "Activation" }
                form method="post" action=(format!("{base}/active")) {
                    (csrf_field(browser))
                    (etag_field(&found.etag))
                    @if user.is_active {
                        input type="hidden" name="active" value="false";
                        p.hint { "A deactivated user cannot sign in, and every session of theirs ends now." }
                        button.danger type="submit" { "Deactivate" }
                    } @else {
                        input type="hidden" name="active" value="true";
                        button type="submit" { "Activate" }
                    }
                }
            }
        }
        @if !roles.is_empty() {
            section aria-labelledby="roles" {
                h2 id="roles" { "Roles" }
                form method="post" action=(format!("{base}/roles")) {
                    (csrf_field(browser))
                    (etag_field(&found.etag))
                    fieldset {
                        legend { "Roles this user holds" }
                        @for role in &roles {
                            @let id = format!("role-{}", role.code_name);
                            div.check {
                                input type="checkbox" id=(id) name="role" value=(role.code_name)
                                    checked[user.roles.contains(&role.code_name)];
                                label for=(id) { (role.name) " (" code { (role.code_name) } ")" }
                            }
                        }
                    }
                    button type="submit" { "Save the roles" }
                }
            }
        }
        @if let Some(sessions) = &sessions {
            section aria-labelledby="sessions" {
                h2 id="sessions" { "Sessions" }
                @if sessions.items.is_empty() {
                    p { "No live sessions." }
                } @else {
                    div.table {
                        table {
                            thead { tr { th { "Device" } th { "Browser" } th { "System" } th { "IP" } th { "Location" }
                                th { "Signed in" } th { "Last active" } th { "Method" }
                                @if may_end { th { span.visually-hidden { "Action" } } } } }
                            tbody {
                                @for session in &sessions.items {
                                    tr data-session=(session.id) {
                                        td { (session.device_name) }
                                        td { (session.browser) }
                                        td { (session.os) }
                                        td { (session.ip.as_deref().unwrap_or("unknown")) }
                                        td { (place(&session.location)) }
                                        td { (time(&session.created_at)) }
                                        td { (time(&session.last_active_at)) }
                                        td { (snake(&session.created_via)) }
                                        @if may_end {
                                            td {
                                                form.inline method="post" action=(format!("{base}/sessions/{}/end", session.id)) {
                                                    (csrf_field(browser))
                                                    button.secondary type="submit" { "Terminate" }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if may_end {
                        form method="post" action=(format!("{base}/sessions/end")) {
                            (csrf_field(browser))
                            button.danger type="submit" { "Terminate every session" }
                        }
                    }
                }
            }
        }
    };
    Ok(Screen {
        title: format!("User {}", user.email),
        body,
    })
}

async fn set_active(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, fields): Form<Fields>,
) -> Response {
    let outcome = async {
        authorize(&ctx, &browser, Resource::Users, Action::Update).await?;
        let user_id: UserId = id.parse()?;
        let active = match fields.one("active") {
            "true" => true,
            "false" => false,
            _ => return Err(Error::invalid_field("active", "must be true or false")),
        };
        let changes = UserChanges {
            is_active: Some(active),
            ..UserChanges::default()
        };
        users::update(&ctx, browser.user(), user_id, changes, &fields.if_match()?).await?;
        let done = if active {
            "user-activated"
        } else {
            "user-deactivated"
        };
        Ok(format!("/admin/users/{user_id}?done={done}"))
    };
    after(&browser, outcome.await, user_screen(&ctx, &browser, &id)).await
}

async fn set_roles(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, fields): Form<Fields>,
) -> Response {
    let outcome = async {
        authorize(&ctx, &browser, Resource::Users, Action::Update).await?;
        let user_id: UserId = id.parse()?;
        let roles = fields
            .all("role")
            .map(|role| CodeName::parse("roles", role))
            .collect::<Result<Vec<_>>>()?;
        let changes = UserChanges {
            roles: Some(roles),
            ..UserChanges::default()
        };
        users::update(&ctx, browser.user(), user_id, changes, &fields.if_match()?).await?;
        Ok(format!("/admin/users/{user_id}?done=user-roles"))
    };
    after(&browser, outcome.await, user_screen(&ctx, &browser, &id)).await
}

async fn end_session(
    State(ctx): State<SigningContext>,
    Path((id, session)): Path<(String, String)>,
    Form(browser, _): Form<Fields>,
) -> Response {
    let outcome = async {
        authorize(&ctx, &browser, Resource::Sessions, Action::Delete).await?;
        let user_id: UserId = id.parse()?;
        let session_id: SessionId = session.parse()?;
        sessions::terminate_for_user(&ctx, browser.user(), user_id, session_id).await?;
        Ok(format!("/admin/users/{user_id}?done=user-session-ended"))
    };
    after(&browser, outcome.await, user_screen(&ctx, &browser, &id)).await
}

async fn end_all_sessions(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, _): Form<Fields>,
) -> Response {
    let outcome = async {
        authorize(&ctx, &browser, Resource::Sessions, Action::Delete).await?;
        let user_id: UserId = id.parse()?;
        sessions::terminate_all_for_user(&ctx, browser.user(), user_id).await?;
        Ok(format!("/admin/users/{user_id}?done=user-sessions-ended"))
    };
    after(&browser, outcome.await, user_screen(&ctx, &browser, &id)).await
}

// Roles.

async fn roles_page(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Query(query): Query<ListQuery>,
) -> Response {
    let banner = notice(query.done.as_deref());
    let screen = roles_screen(&ctx, &browser, &query, &Fields(Vec::new())).await;
    show(&browser, banner, screen)
}

/// The roles with their permissions, and the form of a new role for those who may create one,
/// filled from `draft` (a refused new role's fields).
async fn roles_screen(
    ctx: &Context,
    browser: &Browser,
    query: &ListQuery,
    draft: &Fields,
) -> Result<Screen> {
    authorize(ctx, browser, Resource::Roles, Action::Read).await?;
    let (limit, cursor) = query.page()?;
    let listed = rbac::list_roles(ctx, limit, cursor).await?;
    let create = if may(ctx, browser, Resource::Roles, Action::Create).await? {
        Some(catalog(ctx).await?)
    } else {
        None
    };
    let checked: BTreeSet<(String, String)> = draft
        .all("permission")
        .filter_map(|raw| raw.split_once(':'))
        .map(|(resource, action)| (resource.to_owned(), action.to_owned()))
        .collect();
    let body = html! {
        (back())
        div.table {
            table {
                thead { tr { th { "Role" } th { "Name" } th { "Permissions" } } }
                tbody {
                    @for role in &listed.items {
                        tr {
                            td { a href=(format!("/admin/roles/{}", role.code_name)) { code { (role.code_name) } } }
                            td { (role.name) }
                            td { (permissions(role)) }
                        }
                    }
                }
            }
        }
        (pager("/admin/roles", query, listed.next_cursor.as_deref()))
        @if let Some((resources, actions)) = &create {
            section aria-labelledby="new-role" {
                h2 id="new-role" { "New role" }
                form method="post" action="/admin/roles" {
                    (csrf_field(browser))
                    div.field { label for="code_name" { "Code name" }
                        input id="code_name" name="code_name" value=(draft.one("code_name")) required aria-describedby="code-name-rules"; }
                    p.hint id="code-name-rules" { "Lower-case letters, digits, _ and -, starting with a letter; it never changes." }
                    (role_fields(draft.one("name"), draft.one("description")))
                    (grid(resources, actions, &checked))
                    button type="submit" { "Create the role" }
                }
            }
        }
    };
    Ok(Screen {
        title: "Roles and permissions".into(),
        body,
    })
}

/// A role's permissions in words.
fn permissions(role: &RoleView) -> String {
    if role.permissions.is_empty() {
        return "none".into();
    }
    role.permissions
        .iter()
        .map(|p| format!("{} on {}", p.action, p.resource))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every resource and action, for a grid of permissions.
async fn catalog(ctx: &Context) -> Result<(Vec<CatalogItemView>, Vec<CatalogItemView>)> {
    let resources =
        whole(|cursor| rbac::list_catalog(ctx, CatalogKind::Resource, 100, cursor)).await?;
    let actions = whole(|cursor| rbac::list_catalog(ctx, CatalogKind::Action, 100, cursor)).await?;
    Ok((resources, actions))
}

/// The name and description inputs of a role.
fn role_fields(name: &str, description: &str) -> Markup {
    html! {
        div.field { label for="name" { "Name" }
            input id="name" name="name" value=(name) required maxlength="100"; }
        div.field { label for="description" { "Description" }
            textarea id="description" name="description" maxlength="1000" { (description) } }
    }
}

/// Checkboxes for every action on every resource (field `permission`, `resource:action`),
/// `held` checked.
fn grid(
    resources: &[CatalogItemView],
    actions: &[CatalogItemView],
    held: &BTreeSet<(String, String)>,
) -> Markup {
    html! {
        fieldset.permissions {
            legend { "Permissions" }
            div.table {
                table {
                    thead { tr { th { "Resource" } @for action in actions { th scope="col" { (action.name) } } } }
                    tbody {
                        @for resource in resources {
                            tr {
                                th scope="row" { (resource.name) }
                                @for action in actions {
                                    @let id = format!("p-{}-{}", resource.code_name, action.code_name);
                                    @let checked = held.contains(&(resource.code_name.clone(), action.code_name.clone()));
                                    td {
                                        input type="checkbox" id=(id) name="permission"
                                            value=(format!("{}:{}", resource.code_name, action.code_name))
                                            checked[checked];
                                        label.visually-hidden for=(id) { (action.name) " on " (resource.name) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The permissions a form checked (`resource:action`).
fn parse_permissions(fields: &Fields) -> Result<Vec<Permission>> {
    let invalid = || Error::invalid_field("permissions", "must be resource:action");
    fields
        .all("permission")
        .map(|raw| {
            let (resource, action) = raw.split_once(':').ok_or_else(invalid)?;
            Ok(Permission {
                resource: CodeName::parse("permissions", resource)?,
                action: CodeName::parse("permissions", action)?,
            })
        })
        .collect()
}

async fn create_role(
    State(ctx): State<SigningContext>,
    Form(browser, fields): Form<Fields>,
) -> Response {
    let outcome = async {
        authorize(&ctx, &browser, Resource::Roles, Action::Create).await?;
        let new = NewRole {
            code_name: CodeName::parse("code_name", fields.one("code_name"))?,
            name: parse_name("name", fields.one("name"))?,
            description: parse_description(fields.one("description"))?,
            permissions: parse_permissions(&fields)?,
        };
        let role = rbac::create_role(&ctx, new).await?;
        Ok(format!(
            "/admin/roles/{}?done=role-created",
            role.body.code_name
        ))
    };
    let list = ListQuery {
        limit: None,
        cursor: None,
        done: None,
    };
    let again = roles_screen(&ctx, &browser, &list, &fields);
    after(&browser, outcome.await, again).await
}

async fn role_page(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Path(code): Path<String>,
    Query(query): Query<Done>,
) -> Response {
    let banner = notice(query.done.as_deref());
    show(&browser, banner, role_screen(&ctx, &browser, &code).await)
}

/// A role: its permissions, and the forms to edit or delete it for those who may.
async fn role_screen(ctx: &Context, browser: &Browser, code: &str) -> Result<Screen> {
    authorize(ctx, browser, Resource::Roles, Action::Read).await?;
    let code_name = CodeName::from_path("role", code)?;
    let found = rbac::find_role(ctx, &code_name).await?;
    let role = &found.body;
    let edit = if may(ctx, browser, Resource::Roles, Action::Update).await? {
        Some(catalog(ctx).await?)
    } else {
        None
    };
    let delete = may(ctx, browser, Resource::Roles, Action::Delete).await?;
    let held: BTreeSet<(String, String)> = role
        .permissions
        .iter()
        .map(|p| (p.resource.clone(), p.action.clone()))
        .collect();
    let base = format!("/admin/roles/{}", role.code_name);
    let body = html! {
        (back())
        p { a href="/admin/roles" { "All roles" } }
        dl.profile {
            dt { "Code name" } dd { code { (role.code_name) } }
            dt { "Name" } dd { (role.name) }
            dt { "Description" } dd { (role.description) }
            dt { "Permissions" } dd { (permissions(role)) }
            dt { "Changed" } dd { (time(&role.updated_at)) }
        }
        @if let Some((resources, actions)) = &edit {
            section aria-labelledby="edit" {
                h2 id="edit" { "Edit" }
                form method="post" action=(base) {
                    (csrf_field(browser))
                    (etag_field(&found.etag))
                    (role_fields(&role.name, &role.description))
                    (grid(resources, actions, &held))
                    button type="submit" { "Save the role" }
                }
            }
        }
        @if delete {
            section aria-labelledby="delete" {
                h2 id="delete" { "Delete" }
                form method="post" action=(format!("{base}/delete")) {
                    (csrf_field(browser))
                    (etag_field(&found.etag))
                    p.hint { "Every user holding this role loses it." }
                    button.danger type="submit" { "Delete the role" }
                }
            }
        }
    };
    Ok(Screen {
        title: format!("Role {}", role.name),
        body,
    })
}

async fn update_role(
    State(ctx): State<SigningContext>,
    Path(code): Path<String>,
    Form(browser, fields): Form<Fields>,
) -> Response {
    let outcome = async {
        authorize(&ctx, &browser, Resource::Roles, Action::Update).await?;
        let code_name = CodeName::from_path("role", &code)?;
        let changes = Changes {
            name: Some(parse_name("name", fields.one("name"))?),
            description: Some(parse_description(fields.one("description"))?),
            permissions: Some(parse_permissions(&fields)?),
        };
        rbac::update_role(&ctx, &code_name, changes, &fields.if_match()?).await?;
        Ok(format!("/admin/roles/{code_name}?done=role-saved"))
    };
    after(&browser, outcome.await, role_screen(&ctx, &browser, &code)).await
}

async fn delete_role(
    State(ctx): State<SigningContext>,
    Path(code): Path<String>,
    Form(browser, fields): Form<Fields>,
) -> Response {
    let outcome = async {
        authorize(&ctx, &browser, Resource::Roles, Action::Delete).await?;
        let code_name = CodeName::from_path("role", &code)?;
        rbac::delete_role(&ctx, &code_name, &fields.if_match()?).await?;
        Ok("/admin/roles?done=role-deleted".to_owned())
    };
    after(&browser, outcome.await, role_screen(&ctx, &browser, &code)).await
}

// The catalog.

async fn resources_page(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Query(query): Query<ListQuery>,
) -> Response {
    let screen = catalog_screen(&ctx, &browser, CatalogKind::Resource, &query).await;
    show(&browser, html! {}, screen)
}

async fn actions_page(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Query(query): Query<ListQuery>,
) -> Response {
    let screen = catalog_screen(&ctx, &browser, CatalogKind::Action, &query).await;
    show(&browser, html! {}, screen)
}

/// A page of resources or actions.
async fn catalog_screen(
    ctx: &Context,
    browser: &Browser,
    kind: CatalogKind,
    query: &ListQuery,
) -> Result<Screen> {
    let (resource, title, base) = match kind {
        CatalogKind::Resource => (Resource::Resources, "Resources", "/admin/resources"),
        CatalogKind::Action => (Resource::Actions, "Actions", "/admin/actions"),
    };
    authorize(ctx, browser, resource, Action::Read).await?;
    let (limit, cursor) = query.page()?;
    let listed = rbac::list_catalog(ctx, kind, limit, cursor).await?;
    let body = html! {
        (back())
        div.table {
            table {
                thead { tr { th { "Code name" } th { "Name" } th { "Description" } } }
                tbody {
                    @for item in &listed.items {
                        tr { td { code { (item.code_name) } } td { (item.name) } td { (item.description) } }
                    }
                }
            }
        }
        (pager(base, query, listed.next_cursor.as_deref()))
    };
    Ok(Screen {
        title: title.into(),
        body,
    })
}

// The audit trail.

/// The audit page's filter and page.
#[derive(Deserialize)]
struct AuditQuery {
    actor: Option<String>,
    subject: Option<String>,
    r#type: Option<String>,
    cursor: Option<String>,
}

async fn audit_page(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Query(query): Query<AuditQuery>,
) -> Response {
    show(
        &browser,
        html! {},
        audit_screen(&ctx, &browser, &query).await,
    )
}

/// The filter form and a page of the events it selects (empty fields filter nothing).
async fn audit_screen(ctx: &Context, browser: &Browser, query: &AuditQuery) -> Result<Screen> {
    authorize(ctx, browser, Resource::Audit, Action::Read).await?;
    let given = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
    let kind = given(&query.r#type)
        .as_deref()
        .map(EventType::parse)
        .transpose()?;
    let filter = audit::Filter {
        actor: given(&query.actor),
        subject: given(&query.subject),
        kind,
        ..audit::Filter::default()
    }
    .checked()?;
    let cursor = query.cursor.as_deref().map(Cursor::parse).transpose()?;
    let listed = audit::list(ctx, &filter, 50, cursor).await?;
    let mut base = format!(
        "/admin/audit?actor={}&subject={}&type=",
        encode(filter.actor.as_deref().unwrap_or("")),
        encode(filter.subject.as_deref().unwrap_or(""))
    );
    base.push_str(kind.map_or("", EventType::as_str));
    let body = html! {
        (back())
        form.filters method="get" action="/admin/audit" {
            div.field { label for="type" { "Event" }
                select id="type" name="type" {
                    option value="" { "Any" }
                    @for each in EventType::ALL {
                        option value=(each.as_str()) selected[Some(*each) == kind] { (each.as_str()) }
                    }
                } }
            div.field { label for="actor" { "Actor (user id or system)" }
                input id="actor" name="actor" value=(filter.actor.as_deref().unwrap_or("")); }
            div.field { label for="subject" { "About (user id, role, ticket id)" }
                input id="subject" name="subject" value=(filter.subject.as_deref().unwrap_or("")); }
            button type="submit" { "Show" }
        }
        (activity::events_table(&listed.items, true))
        nav.pages aria-label="Pages" {
            @if query.cursor.is_some() { a href=(base) { "Newest" } }
            @if let Some(next) = &listed.next_cursor {
                a href=(format!("{base}&cursor={}", encode(next))) { "Older" }
            }
        }
    };
    Ok(Screen {
        title: "Audit trail".into(),
        body,
    })
}

// Quotas.

async fn quotas_page(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Query(query): Query<ListQuery>,
) -> Response {
    show(
        &browser,
        html! {},
        quotas_screen(&ctx, &browser, &query).await,
    )
}

/// The quotas of users who used theirs or have own limits.
async fn quotas_screen(ctx: &Context, browser: &Browser, query: &ListQuery) -> Result<Screen> {
    authorize(ctx, browser, Resource::Quota, Action::Read).await?;
    let (limit, cursor) = query.page()?;
    let listed = quota::list(ctx, limit, cursor).await?;
    let body = html! {
        (back())
        p.hint { "Users who used their quota or have own limits; everyone else has used nothing under the defaults." }
        div.table {
            table {
                thead { tr { th { "User" } th { "Videos" } th { "Duration (s)" } th { "File size (MB)" } th { "Changed" } } }
                tbody {
                    @for item in &listed.items {
                        tr {
                            td { a href=(format!("/admin/quota/{}", item.user_id)) { (item.user_id) } }
                            td { (item.usage.videos_count) " of " (item.limits.max_videos) }
                            td { (item.usage.total_duration_seconds) " of " (item.limits.max_duration_seconds) }
                            td { "up to " (item.limits.max_file_size_mb) }
                            td { @if let Some(at) = &item.updated_at { (time(at)) } }
                        }
                    }
                }
            }
        }
        (pager("/admin/quota", query, listed.next_cursor.as_deref()))
    };
    Ok(Screen {
        title: "Quotas".into(),
        body,
    })
}

async fn quota_page(
    State(ctx): State<SigningContext>,
    browser: Browser,
    Path(id): Path<String>,
    Query(query): Query<Done>,
) -> Response {
    let banner = notice(query.done.as_deref());
    show(&browser, banner, quota_screen(&ctx, &browser, &id).await)
}

/// A user's quota, with the reset and limits forms for those who may use them.
async fn quota_screen(ctx: &Context, browser: &Browser, id: &str) -> Result<Screen> {
    authorize(ctx, browser, Resource::Quota, Action::Read).await?;
    let user_id: UserId = id.parse()?;
    let shown = quota::show_user(ctx, user_id).await?;
    let reset = may(ctx, browser, Resource::Quota, Action::Create).await?;
    let limits = may(ctx, browser, Resource::Quota, Action::Update).await?;
    let user = may(ctx, browser, Resource::Users, Action::Read).await?;
    let base = format!("/admin/quota/{user_id}");
    let body = html! {
        (back())
        p { a href="/admin/quota" { "All quotas" }
            @if user { " · " a href=(format!("/admin/users/{user_id}")) { "The user" } } }
        dl.profile {
            dt { "Videos" } dd { (shown.usage.videos_count) " of " (shown.limits.max_videos) }
            dt { "Duration" } dd { (shown.usage.total_duration_seconds) " s of " (shown.limits.max_duration_seconds) " s" }
            dt { "Largest file" } dd { (shown.limits.max_file_size_mb) " MB" }
            dt { "Changed" } dd { @match &shown.updated_at { Some(at) => (time(at)), None => "never" } }
        }
        @if reset {
            section aria-labelledby="reset" {
                h2 id="reset" { "Reset" }
                form method="post" action=(format!("{base}/reset")) {
                    (csrf_field(browser))
                    p.hint { "Sets the usage to zero; the limits stay." }
                    button.danger type="submit" { "Reset the usage" }
                }
            }
        }
        @if limits {
            section aria-labelledby="limits" {
                h2 id="limits" { "Limits" }
                (limits_form(ctx, browser, &base, &shown))
            }
        }
    };
    Ok(Screen {
        title: "Quota".into(),
        body,
    })
}

/// The form of a user's own limits: each field filled where the user's limit is not the
/// default; an empty field means the default.
fn limits_form(ctx: &Context, browser: &Browser, base: &str, shown: &QuotaView) -> Markup {
    let config = &ctx.config;
    let default_seconds = config.quota_max_duration.as_secs_f64();
    let own = |value: String, default: String| {
        if value == default {
            String::new()
        } else {
            value
        }
    };
    let videos = own(
        shown.limits.max_videos.to_string(),
        config.quota_max_videos.to_string(),
    );
    let duration = own(
        shown.limits.max_duration_seconds.to_string(),
        default_seconds.to_string(),
    );
    let size = own(
        shown.limits.max_file_size_mb.to_string(),
        config.quota_max_file_size_mb.to_string(),
    );
    html! {
        form method="post" action=(format!("{base}/limits")) {
            (csrf_field(browser))
            p.hint id="limits-rules" { "Leave a field empty for the default." }
            div.field { label for="max_videos" { "Videos (default " (config.quota_max_videos) ")" }
                input id="max_videos" name="max_videos" type="number" min="0" step="1" value=(videos) aria-describedby="limits-rules"; }
            div.field { label for="max_duration_seconds" { "Duration in seconds (default " (default_seconds) ")" }
                input id="max_duration_seconds" name="max_duration_seconds" type="number" min="0" step="any" value=(duration) aria-describedby="limits-rules"; }
            div.field { label for="max_file_size_mb" { "File size in MB (default " (config.quota_max_file_size_mb) ")" }
                input id="max_file_size_mb" name="max_file_size_mb" type="number" min="0" step="1" value=(size) aria-describedby="limits-rules"; }
            button type="submit" { "Save the limits" }
        }
    }
}

async fn reset_quota(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, _): Form<Fields>,
) -> Response {
    let outcome = async {
        authorize(&ctx, &browser, Resource::Quota, Action::Create).await?;
        let user_id: UserId = id.parse()?;
        quota::reset(&ctx, user_id).await?;
        Ok(format!("/admin/quota/{user_id}?done=quota-reset"))
    };
    after(&browser, outcome.await, quota_screen(&ctx, &browser, &id)).await
}

/// A number of a limits form: `None` when empty (the default).
fn number<T: std::str::FromStr>(fields: &Fields, name: &str) -> Result<Option<T>> {
    match fields.one(name).trim() {
        "" => Ok(None),
        raw => raw
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid_field(name, "must be a number")),
    }
}

async fn set_limits(
    State(ctx): State<SigningContext>,
    Path(id): Path<String>,
    Form(browser, fields): Form<Fields>,
) -> Response {
    let outcome = async {
        authorize(&ctx, &browser, Resource::Quota, Action::Update).await?;
        let user_id: UserId = id.parse()?;
        let overrides = LimitOverrides {
            max_videos: number::<i64>(&fields, "max_videos")?
                .map(|raw| parse_whole_number("max_videos", raw, MAX_QUOTA_VIDEOS))
                .transpose()?,
            max_duration_ms: number::<f64>(&fields, "max_duration_seconds")?
                .map(|raw| parse_duration_ms("max_duration_seconds", raw))
                .transpose()?,
            max_file_size_mb: number::<i64>(&fields, "max_file_size_mb")?
                .map(|raw| parse_whole_number("max_file_size_mb", raw, MAX_QUOTA_FILE_SIZE_MB))
                .transpose()?,
        };
        quota::set_limits(&ctx, user_id, overrides).await?;
        Ok(format!("/admin/quota/{user_id}?done=quota-limits"))
    };
    after(&browser, outcome.await, quota_screen(&ctx, &browser, &id)).await
}
