//! The web app's tickets pages, driven as a browser would (cookies from the sign-in form, forms
//! with the CSRF token and the page's version): list, filters and paging, a new ticket, the
//! thread and replies, internal notes, the operators' workflow, stale forms, and attachments
//! uploaded straight to LocalStack's S3 and downloaded through the page's redirect.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::*;
use crate::web_support::{form_call, html};

/// A user signed in through the web form: their id, the page cookies, the CSRF token, and an
/// API token for setting things up quickly.
struct Visitor {
    id: String,
    cookie: String,
    csrf: String,
    token: String,
}

/// Registers `name` through the API, then signs in with the web form.
async fn visitor(env: &TestEnv, name: &str) -> Visitor {
    let email = TestEnv::email(name);
    let tokens = env.register(&email).await;
    signed_in(env, &email, &tokens).await
}

/// A superuser (an operator on tickets), signed in with the web form.
async fn operator(env: &TestEnv) -> Visitor {
    let tokens = env.superuser().await;
    let email = tokens["user"]["email"].as_str().unwrap().to_owned();
    signed_in(env, &email, &tokens).await
}

async fn signed_in(env: &TestEnv, email: &str, tokens: &serde_json::Value) -> Visitor {
    let fields = [
        ("email", email),
        ("password", PASSWORD),
        ("next", "/tickets"),
    ];
    let reply = env.send(form_call(env.post("/sign-in"), &fields)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{:?}", reply.body);
    assert_eq!(reply.headers["location"], "/tickets");
    let pairs: Vec<String> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let cookie = |name: &str| {
        pairs
            .iter()
            .find(|pair| pair.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {pairs:?}"))
            .clone()
    };
    let (access_cookie, csrf_cookie) = (cookie("sesame-access"), cookie("sesame-csrf"));
    Visitor {
        id: tokens["user"]["id"].as_str().unwrap().to_owned(),
        csrf: csrf_cookie["sesame-csrf=".len()..].to_owned(),
        cookie: format!("{access_cookie}; {csrf_cookie}"),
        token: access(tokens),
    }
}

/// A page as `who` sees it.
async fn page(env: &TestEnv, who: &Visitor, path: &str) -> Reply {
    env.send(env.get(path).header("cookie", &who.cookie)).await
}

/// Posts a page's form as `who`, with the session's CSRF token.
async fn post(env: &TestEnv, who: &Visitor, path: &str, fields: &[(&str, &str)]) -> Reply {
    let mut fields = fields.to_vec();
    fields.push(("csrf_token", &who.csrf));
    let call = form_call(env.post(path), &fields).header("cookie", &who.cookie);
    env.send(call).await
}

/// Asserts that no two elements of a page share an id (labels point to the one they mean).
fn assert_unique_ids(reply: &Reply) {
    let mut seen = std::collections::BTreeSet::new();
    for id in html(reply).split(r#" id=""#).skip(1) {
        let id = id.split('"').next().unwrap();
        assert!(seen.insert(id), "the id {id} is used twice");
    }
}

/// The `version` hidden field of a ticket page (the `ETag` it was rendered at).
fn version(reply: &Reply) -> String {
    let html = html(reply);
    let start = html
        .find(r#"name="version" value=""#)
        .expect("the page has change forms")
        + r#"name="version" value=""#.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&quot;", "\"")
}

/// Opens a ticket with the page's form; returns its id.
async fn open_ticket(env: &TestEnv, who: &Visitor, subject: &str, category: &str) -> String {
    let reply = post(
        env,
        who,
        "/tickets",
        &[
            ("subject", subject),
            ("description", "It does not work.\n\nSince Monday."),
            ("category", category),
            ("priority", "high"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{:?}", reply.body);
    let location = reply.headers["location"].to_str().unwrap();
    let id = location
        .strip_prefix("/tickets/")
        .and_then(|rest| rest.strip_suffix("?done=ticket-opened"))
        .unwrap_or_else(|| panic!("{location}"));
    id.to_owned()
}

#[tokio::test]
async fn a_user_opens_a_ticket_finds_it_in_the_filtered_list_and_replies() {
    let env = TestEnv::new().await;
    let ada = visitor(&env, "ada").await;
    let empty = page(&env, &ada, "/tickets").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(html(&empty).contains("Your tickets"));
    assert!(html(&empty).contains("No tickets."));
    assert_unique_ids(&empty);
    assert!(
        !html(&empty).contains("Ticket queue"),
        "a user has no queue"
    );

    let refused = post(
        &env,
        &ada,
        "/tickets",
        &[
            ("subject", "  "),
            ("description", "Kept as typed"),
            ("category", "billing"),
            ("priority", "low"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(html(&refused).contains(r#"id="f-subject-error""#));
    assert!(html(&refused).contains("Kept as typed"));
    assert!(html(&refused).contains(r#"<option value="billing" selected>"#));

    let id = open_ticket(&env, &ada, "Printer on fire", "technical").await;
    let shown = page(&env, &ada, &format!("/tickets/{id}?done=ticket-opened")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_unique_ids(&shown);
    let body = html(&shown);
    assert!(body.contains("<h1>Printer on fire</h1>"));
    assert!(body.contains("Your ticket was opened."));
    assert!(body.contains("<p>It does not work.</p><p>Since Monday.</p>"));
    assert!(body.contains("No responses yet."));
    assert!(
        !body.contains("Internal note"),
        "no internal notes for a user"
    );

    for (query, listed) in [
        ("", true),
        ("?status=open", true),
        ("?status=closed", false),
        ("?category=technical&priority=high", true),
        ("?category=billing", false),
        ("?status=&category=&priority=", true),
    ] {
        let list = page(&env, &ada, &format!("/tickets{query}")).await;
        assert_eq!(list.status, StatusCode::OK, "{query}");
        assert_eq!(
            html(&list).contains(&format!(r#"href="/tickets/{id}""#)),
            listed,
            "{query}"
        );
    }
    let bad = page(&env, &ada, "/tickets?status=sleeping").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let reply = post(
        &env,
        &ada,
        &format!("/tickets/{id}/responses"),
        &[
            ("version", &version(&shown)),
            ("message", "Also the scanner."),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{:?}", reply.body);
    assert_eq!(
        reply.headers["location"],
        format!("/tickets/{id}?done=replied")
    );
    let thread = page(&env, &ada, &format!("/tickets/{id}?done=replied")).await;
    assert!(html(&thread).contains("Your response was added."));
    assert!(html(&thread).contains("Also the scanner."));
    assert!(html(&thread).contains("You"));
}

#[tokio::test]
async fn the_list_and_the_thread_page_with_older_and_later_links() {
    let env = TestEnv::new().await;
    let ada = visitor(&env, "ada").await;
    let mut ids = Vec::new();
    for i in 0..21 {
        let created = env
            .send(env.post("/v1/tickets").bearer(&ada.token).json(json!({
                "subject": format!("Ticket {i}"), "description": "x",
                "category": "general", "priority": "normal"
            })))
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let first = page(&env, &ada, "/tickets?category=general").await;
    let listed = |reply: &Reply, id: &str| html(reply).contains(&format!("/tickets/{id}\""));
    assert!(listed(&first, &ids[20]), "newest first");
    assert!(!listed(&first, &ids[0]), "20 to a page");
    let older = html(&first)
        .split(r#"<a href=""#)
        .filter_map(|link| link.split_once(r#"">Older<"#))
        .map(|(href, _)| {
            href.replace("&amp;", "&")
                .replace("#list", "")
                .replace("#thread", "")
        })
        .next()
        .expect("an Older link");
    assert!(older.contains("category=general"), "{older}");
    let second = page(&env, &ada, &older).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(listed(&second, &ids[0]));
    assert!(!listed(&second, &ids[20]));
    assert!(!html(&second).contains(">Older<"), "the last page");
    assert!(html(&second).contains(">Newest<"));

    let id = &ids[0];
    for i in 0..21 {
        let reply = env
            .send(
                env.post(&format!("/v1/tickets/{id}/responses"))
                    .bearer(&ada.token)
                    .json(json!({"message": format!("Message number {i}.")})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let thread = page(&env, &ada, &format!("/tickets/{id}")).await;
    assert!(html(&thread).contains("Message number 19."));
    assert!(!html(&thread).contains("Message number 20."));
    let later = html(&thread)
        .split(r#"<a href=""#)
        .filter_map(|link| link.split_once(r#"">Later responses<"#))
        .map(|(href, _)| {
            href.replace("&amp;", "&")
                .replace("#list", "")
                .replace("#thread", "")
        })
        .next()
        .expect("a Later responses link");
    let rest = page(&env, &ada, &later).await;
    assert_eq!(rest.status, StatusCode::OK);
    assert!(html(&rest).contains("Message number 20."));
    assert!(!html(&rest).contains("Message number 19."));
    assert!(html(&rest).contains(">First responses<"));
}

#[tokio::test]
async fn someone_elses_ticket_is_a_404_page() {
    let env = TestEnv::new().await;
    let ada = visitor(&env, "ada").await;
    let eve = visitor(&env, "eve").await;
    let id = open_ticket(&env, &ada, "Private", "general").await;
    let shown = page(&env, &ada, &format!("/tickets/{id}")).await;
    let version = version(&shown);

    let peek = page(&env, &eve, &format!("/tickets/{id}")).await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);
    assert!(!html(&peek).contains("Private"));
    let list = page(&env, &eve, "/tickets").await;
    assert!(!html(&list).contains(&id));
    for (path, fields) in [
        ("responses", vec![("message", "Hi")]),
        ("close", vec![]),
        ("status", vec![("status", "in_progress")]),
    ] {
        let mut fields = fields;
        fields.push(("version", &version));
        let reply = post(&env, &eve, &format!("/tickets/{id}/{path}"), &fields).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    let download = page(
        &env,
        &eve,
        &format!("/tickets/{id}/attachments/{}", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(download.status, StatusCode::NOT_FOUND);
    let malformed = page(&env, &ada, "/tickets/not-a-ticket").await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_user_can_neither_post_an_internal_note_nor_change_the_status_or_assignment() {
    let env = TestEnv::new().await;
    let ada = visitor(&env, "ada").await;
    let id = open_ticket(&env, &ada, "Mine", "general").await;
    let shown = page(&env, &ada, &format!("/tickets/{id}")).await;
    let body = html(&shown);
    assert!(!body.contains(r#"name="is_internal""#));
    assert!(!body.contains(&format!(r#"action="/tickets/{id}/status""#)));
    assert!(!body.contains(&format!(r#"action="/tickets/{id}/assign""#)));
    assert!(body.contains(&format!(r#"action="/tickets/{id}/close""#)));
    let at = version(&shown);

    let note = post(
        &env,
        &ada,
        &format!("/tickets/{id}/responses"),
        &[
            ("version", &at),
            ("message", "Sneaky note"),
            ("is_internal", "true"),
        ],
    )
    .await;
    assert_eq!(note.status, StatusCode::FORBIDDEN);
    assert!(html(&note).contains("only operators may do this to a ticket"));
    assert!(
        html(&note).contains("Sneaky note"),
        "the text is offered again"
    );
    let status = post(
        &env,
        &ada,
        &format!("/tickets/{id}/status"),
        &[("version", &at), ("status", "in_progress")],
    )
    .await;
    assert_eq!(status.status, StatusCode::FORBIDDEN);
    let assign = post(
        &env,
        &ada,
        &format!("/tickets/{id}/assign"),
        &[("version", &at), ("operator_id", &ada.id)],
    )
    .await;
    assert_eq!(assign.status, StatusCode::FORBIDDEN);

    let after = page(&env, &ada, &format!("/tickets/{id}")).await;
    assert!(!html(&after).contains("Sneaky note"));
    assert!(html(&after).contains(r#"data-status="open""#));
    assert_eq!(version(&after), at, "nothing changed");

    let closed = post(
        &env,
        &ada,
        &format!("/tickets/{id}/close"),
        &[("version", &at)],
    )
    .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{:?}", closed.body);
    let closed = page(&env, &ada, &format!("/tickets/{id}?done=closed")).await;
    assert!(html(&closed).contains("The ticket was closed."));
    assert!(html(&closed).contains(r#"data-status="closed""#));
    assert!(html(&closed).contains("This ticket is closed."));
    assert!(
        !html(&closed).contains(r#"id="f-message""#),
        "no replies to a closed ticket"
    );
    assert!(!html(&closed).contains("data-upload"));
}

#[tokio::test]
async fn operators_work_the_queue_with_notes_assignment_and_the_workflow() {
    let env = TestEnv::new().await;
    let ada = visitor(&env, "ada").await;
    let root = operator(&env).await;
    let id = open_ticket(&env, &ada, "Help", "billing").await;

    let queue = page(&env, &root, "/tickets").await;
    assert!(html(&queue).contains("Ticket queue: every ticket"));
    assert_unique_ids(&queue);
    assert!(html(&queue).contains(&format!(r#"href="/tickets/{id}""#)));
    assert!(html(&queue).contains(&ada.id), "the owner is named");
    let mine = page(&env, &root, &format!("/tickets?assigned_to={}", root.id)).await;
    assert!(!html(&mine).contains(&format!(r#"href="/tickets/{id}""#)));

    let shown = page(&env, &root, &format!("/tickets/{id}")).await;
    assert_unique_ids(&shown);
    let body = html(&shown);
    assert!(body.contains(r#"<option value="in_progress">"#));
    assert!(body.contains(r#"<option value="awaiting_reply">"#));
    assert!(
        !body.contains(r#"<option value="resolved">"#),
        "open cannot go to resolved"
    );
    assert!(!body.contains(r#"<option value="open">"#));

    let note = post(
        &env,
        &root,
        &format!("/tickets/{id}/responses"),
        &[
            ("version", &version(&shown)),
            ("message", "Refund approved by finance."),
            ("is_internal", "true"),
        ],
    )
    .await;
    assert_eq!(note.status, StatusCode::SEE_OTHER, "{:?}", note.body);
    assert_eq!(
        note.headers["location"],
        format!("/tickets/{id}?done=noted")
    );
    let shown = page(&env, &root, &format!("/tickets/{id}")).await;
    assert!(html(&shown).contains(r#"<article class="response internal""#));
    assert!(html(&shown).contains("<strong>Internal note</strong>"));
    assert!(html(&shown).contains("Refund approved by finance."));
    let owner_view = page(&env, &ada, &format!("/tickets/{id}")).await;
    assert!(!html(&owner_view).contains("Refund approved"));
    assert!(!html(&owner_view).contains("Internal note"));

    let assigned = post(
        &env,
        &root,
        &format!("/tickets/{id}/assign"),
        &[("version", &version(&shown)), ("operator_id", &root.id)],
    )
    .await;
    assert_eq!(
        assigned.status,
        StatusCode::SEE_OTHER,
        "{:?}",
        assigned.body
    );
    let shown = page(&env, &root, &format!("/tickets/{id}?done=assigned")).await;
    assert!(html(&shown).contains("The ticket was assigned."));
    let mine = page(&env, &root, &format!("/tickets?assigned_to={}", root.id)).await;
    assert!(html(&mine).contains(&format!(r#"href="/tickets/{id}""#)));
    let not_an_operator = post(
        &env,
        &root,
        &format!("/tickets/{id}/assign"),
        &[("version", &version(&shown)), ("operator_id", &ada.id)],
    )
    .await;
    assert_eq!(not_an_operator.status, StatusCode::BAD_REQUEST);
    assert!(html(&not_an_operator).contains("tickets can only be assigned to operators"));

    let moved = post(
        &env,
        &root,
        &format!("/tickets/{id}/status"),
        &[("version", &version(&shown)), ("status", "in_progress")],
    )
    .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{:?}", moved.body);
    let shown = page(&env, &root, &format!("/tickets/{id}?done=status")).await;
    assert!(html(&shown).contains("The status was changed."));
    assert!(html(&shown).contains(r#"data-status="in_progress""#));
    assert!(html(&shown).contains(r#"<option value="resolved">"#));
    let off_workflow = post(
        &env,
        &root,
        &format!("/tickets/{id}/status"),
        &[("version", &version(&shown)), ("status", "open")],
    )
    .await;
    assert_eq!(off_workflow.status, StatusCode::CONFLICT);
    assert_eq!(
        page(&env, &ada, &format!("/tickets/{id}")).await.status,
        StatusCode::OK
    );
    let owner_view = page(&env, &ada, &format!("/tickets/{id}")).await;
    assert!(html(&owner_view).contains("a support operator"));
}

#[tokio::test]
async fn a_stale_form_is_refused_with_412_and_the_ticket_as_it_is_now() {
    let env = TestEnv::new().await;
    let ada = visitor(&env, "ada").await;
    let root = operator(&env).await;
    let id = open_ticket(&env, &ada, "Slow", "general").await;
    let stale = page(&env, &ada, &format!("/tickets/{id}")).await;
    let answered = env
        .send(
            env.post(&format!("/v1/tickets/{id}/responses"))
                .bearer(&root.token)
                .json(json!({"message": "Have you tried turning it off?"})),
        )
        .await;
    assert_eq!(answered.status, StatusCode::CREATED);

    let reply = post(
        &env,
        &ada,
        &format!("/tickets/{id}/responses"),
        &[("version", &version(&stale)), ("message", "My draft reply")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::PRECONDITION_FAILED);
    let body = html(&reply);
    assert!(body.contains("This ticket changed since the page was loaded"));
    assert!(
        body.contains("Have you tried turning it off?"),
        "as it is now"
    );
    assert!(
        body.contains(">My draft reply</textarea>"),
        "the draft kept"
    );
    let fresh = version(&reply);
    assert_ne!(fresh, version(&stale));

    let close = post(
        &env,
        &ada,
        &format!("/tickets/{id}/close"),
        &[("version", &version(&stale))],
    )
    .await;
    assert_eq!(close.status, StatusCode::PRECONDITION_FAILED);
    let again = post(
        &env,
        &ada,
        &format!("/tickets/{id}/responses"),
        &[("version", &fresh), ("message", "My draft reply")],
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{:?}", again.body);
}

#[tokio::test]
async fn an_attachment_uploads_straight_to_s3_and_downloads_through_the_page() {
    let env = TestEnv::new().await;
    let ada = visitor(&env, "ada").await;
    let id = open_ticket(&env, &ada, "Logs", "technical").await;
    let shown = page(&env, &ada, &format!("/tickets/{id}")).await;
    assert!(html(&shown).contains(&format!(
        r#"<form data-upload action="/tickets/{id}/attachments" method="post">"#
    )));
    assert!(html(&shown).contains(r#"<p role="status">"#));
    let policy = shown.headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains(&format!(
            "connect-src 'self' {}",
            endpoint().trim_end_matches('/')
        )),
        "{policy}"
    );
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let list = page(&env, &ada, "/tickets").await;
    assert!(
        list.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("connect-src 'self';"),
        "other pages keep the site's policy"
    );

    let bytes = b"line one\nline two\n".to_vec();
    let size = bytes.len().to_string();
    let declared = [
        ("file_name", "server log.txt"),
        ("content_type", "text/plain"),
        ("size", size.as_str()),
    ];
    let slot = post(&env, &ada, &format!("/tickets/{id}/attachments"), &declared).await;
    assert_eq!(slot.status, StatusCode::CREATED, "{:?}", slot.body);
    let url = slot.body["upload_url"].as_str().unwrap();
    let headers: Vec<(String, String)> = slot.body["upload_headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    assert!(
        headers
            .iter()
            .any(|(name, value)| name == "content-type" && value == "text/plain")
    );

    // The page's origin may PUT there from script (the bucket's CORS rule).
    let (preflight, _) = fetch(
        Method::OPTIONS,
        url,
        &[
            ("origin", "http://127.0.0.1:3000"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type"),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(preflight, StatusCode::OK);
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let (put, _) = fetch(Method::PUT, url, &borrowed, bytes.clone()).await;
    assert_eq!(put, StatusCode::OK);

    let shown = page(&env, &ada, &format!("/tickets/{id}")).await;
    let attachment = slot.body["attachment_id"].as_str().unwrap();
    let link = format!("/tickets/{id}/attachments/{attachment}");
    assert!(html(&shown).contains(&format!(r#"<a href="{link}">server log.txt</a>"#)));
    let redirect = page(&env, &ada, &link).await;
    assert_eq!(redirect.status, StatusCode::SEE_OTHER);
    let location = redirect.headers["location"].to_str().unwrap();
    assert!(location.starts_with(&endpoint()), "{location}");
    let (status, body) = fetch(Method::GET, location, &[], Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, bytes, "the same bytes come back");
}

#[tokio::test]
async fn upload_refusals_are_json_errors() {
    let env = TestEnv::new().await;
    let ada = visitor(&env, "ada").await;
    let eve = visitor(&env, "eve").await;
    let id = open_ticket(&env, &ada, "Files", "general").await;
    let path = format!("/tickets/{id}/attachments");
    let text = [
        ("file_name", "a.txt"),
        ("content_type", "text/plain"),
        ("size", "3"),
    ];

    let unsupported = post(
        &env,
        &ada,
        &path,
        &[
            ("file_name", "a.exe"),
            ("content_type", "application/x-msdownload"),
            ("size", "3"),
        ],
    )
    .await;
    assert_error(
        &unsupported,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_file_type",
    );
    let huge = post(
        &env,
        &ada,
        &path,
        &[
            ("file_name", "a.txt"),
            ("content_type", "text/plain"),
            ("size", "20000000"),
        ],
    )
    .await;
    assert_error(&huge, StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");
    let someone_elses = post(&env, &eve, &path, &text).await;
    assert_error(&someone_elses, StatusCode::NOT_FOUND, "not_found");

    let no_token = env
        .send(form_call(env.post(&path), &text).header("cookie", &ada.cookie))
        .await;
    assert_error(&no_token, StatusCode::FORBIDDEN, "csrf_token_invalid");
    let signed_out = env.send(form_call(env.post(&path), &text)).await;
    assert_error(&signed_out, StatusCode::UNAUTHORIZED, "signed_out");
}
