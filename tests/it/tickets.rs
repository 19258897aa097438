//! Support tickets: who sees what, filters and pagination, internal notes, the status workflow
//! and its races, assignment, and attachments through LocalStack's S3.

use std::collections::{BTreeSet, HashSet};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::*;

/// A registered user: id and access token.
struct Member {
    id: String,
    token: String,
}

async fn member(env: &TestEnv, name: &str) -> Member {
    let tokens = env.register(&TestEnv::email(name)).await;
    Member {
        id: tokens["user"]["id"].as_str().unwrap().to_owned(),
        token: access(&tokens),
    }
}

async fn operator(env: &TestEnv) -> Member {
    let tokens = env.superuser().await;
    Member {
        id: tokens["user"]["id"].as_str().unwrap().to_owned(),
        token: access(&tokens),
    }
}

/// Opens a ticket as `who`; returns its id.
async fn open_ticket(
    env: &TestEnv,
    who: &Member,
    subject: &str,
    category: &str,
    priority: &str,
) -> String {
    let reply = env
        .send(env.post("/v1/tickets").bearer(&who.token).json(json!({
            "subject": subject, "description": "It does not work.",
            "category": category, "priority": priority
        })))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn set_status(env: &TestEnv, who: &Member, id: &str, status: &str) -> Reply {
    env.send(
        env.post(&format!("/v1/tickets/{id}/status"))
            .bearer(&who.token)
            .json(json!({"status": status})),
    )
    .await
}

async fn respond(env: &TestEnv, who: &Member, id: &str, message: &str, internal: bool) -> Reply {
    env.send(
        env.post(&format!("/v1/tickets/{id}/responses"))
            .bearer(&who.token)
            .json(json!({"message": message, "is_internal": internal})),
    )
    .await
}

async fn ticket(env: &TestEnv, who: &Member, id: &str) -> Value {
    let reply = env
        .send(env.get(&format!("/v1/tickets/{id}")).bearer(&who.token))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body
}

/// Every page of a list, following cursors; returns the ids in order.
async fn list_all(env: &TestEnv, who: &Member, query: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut path = format!("/v1/tickets?limit={limit}{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let reply = env.send(env.get(&path).bearer(&who.token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        let items = reply.body["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        ids.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
    panic!("the list never ended");
}

async fn attach(env: &TestEnv, who: &Member, id: &str, body: Value) -> Reply {
    env.send(
        env.post(&format!("/v1/tickets/{id}/attachments"))
            .bearer(&who.token)
            .json(body),
    )
    .await
}

fn text_file(name: &str, size: u64) -> Value {
    json!({"file_name": name, "content_type": "text/plain", "size": size})
}

#[tokio::test]
async fn owners_see_only_their_own_tickets() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let bob = member(&env, "bob").await;
    let first = open_ticket(&env, &ada, "Printer", "technical", "low").await;
    let second = open_ticket(&env, &ada, "Invoice", "billing", "high").await;
    let bobs = open_ticket(&env, &bob, "Login", "general", "normal").await;

    let reply = env.send(env.get("/v1/tickets").bearer(&ada.token)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let items = reply.body["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [second.as_str(), first.as_str()],
        "own tickets, newest first"
    );
    assert_eq!(reply.body["next_cursor"], Value::Null);
    assert_eq!(items[0]["response_count"], 0);
    assert_eq!(items[0]["status"], "open");
    assert!(items[0]["updated_at"].is_string());
    assert_eq!(items[0]["owner_id"], ada.id.as_str());

    assert_eq!(list_all(&env, &bob, "", 20).await, [bobs]);
}

#[tokio::test]
async fn another_user_gets_404_on_every_route_of_someone_elses_ticket() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let eve = member(&env, "eve").await;
    let id = open_ticket(&env, &ada, "Private", "general", "normal").await;
    let upload = attach(&env, &ada, &id, text_file("notes.txt", 5)).await;
    assert_eq!(upload.status, StatusCode::CREATED, "{:?}", upload.body);
    let attachment = upload.body["attachment_id"].as_str().unwrap();

    let attempts = [
        env.get(&format!("/v1/tickets/{id}")),
        env.post(&format!("/v1/tickets/{id}/responses"))
            .json(json!({"message": "hi", "is_internal": false})),
        env.post(&format!("/v1/tickets/{id}/status"))
            .json(json!({"status": "in_progress"})),
        env.post(&format!("/v1/tickets/{id}/assign"))
            .json(json!({"operator_id": eve.id})),
        env.post(&format!("/v1/tickets/{id}/close")),
        env.post(&format!("/v1/tickets/{id}/attachments"))
            .json(text_file("x.txt", 5)),
        env.get(&format!("/v1/tickets/{id}/attachments/{attachment}")),
        env.get("/v1/tickets/not-a-uuid"),
        env.get(&format!("/v1/tickets/{id}/attachments/not-a-uuid")),
    ];
    for attempt in attempts {
        let reply = env.send(attempt.bearer(&eve.token)).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    }
    assert!(list_all(&env, &eve, "", 20).await.is_empty());
    let unchanged = ticket(&env, &ada, &id).await;
    assert_eq!(unchanged["status"], "open");
    assert_eq!(unchanged["responses"], json!([]));
}

#[tokio::test]
async fn operators_see_every_ticket() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let bob = member(&env, "bob").await;
    let root = operator(&env).await;
    let a = open_ticket(&env, &ada, "A", "general", "normal").await;
    let b = open_ticket(&env, &bob, "B", "general", "normal").await;
    assert_eq!(list_all(&env, &root, "", 20).await, [b.clone(), a.clone()]);
    assert_eq!(ticket(&env, &root, &a).await["subject"], "A");
}

#[tokio::test]
async fn filters_narrow_the_list_alone_and_combined() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    let mut ids = std::collections::HashMap::new();
    for (name, category, priority) in [
        ("t1", "technical", "high"),
        ("t2", "technical", "low"),
        ("b1", "billing", "high"),
        ("b2", "billing", "urgent"),
        ("g1", "general", "high"),
    ] {
        ids.insert(
            name,
            open_ticket(&env, &ada, name, category, priority).await,
        );
    }
    assert_eq!(
        set_status(&env, &root, &ids["t1"], "in_progress")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        set_status(&env, &root, &ids["b1"], "in_progress")
            .await
            .status,
        StatusCode::OK
    );
    let assigned = env
        .send(
            env.post(&format!("/v1/tickets/{}/assign", ids["b1"]))
                .bearer(&root.token)
                .json(json!({"operator_id": root.id})),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{:?}", assigned.body);

    let assigned_to = format!("&assigned_to={}", root.id);
    let cases: [(&str, &[&str]); 8] = [
        ("", &["t1", "t2", "b1", "b2", "g1"]),
        ("&status=in_progress", &["t1", "b1"]),
        ("&status=open", &["t2", "b2", "g1"]),
        ("&category=billing", &["b1", "b2"]),
        ("&priority=high", &["t1", "b1", "g1"]),
        ("&priority=high&category=technical", &["t1"]),
        (
            "&status=in_progress&priority=high&category=billing",
            &["b1"],
        ),
        ("&status=resolved", &[]),
    ];
    for (query, expected) in cases {
        for who in [&root, &ada] {
            let found: BTreeSet<String> = list_all(&env, who, query, 2).await.into_iter().collect();
            let wanted: BTreeSet<String> = expected.iter().map(|n| ids[n].clone()).collect();
            assert_eq!(found, wanted, "filter {query:?}");
        }
    }
    let found = list_all(&env, &root, &assigned_to, 20).await;
    assert_eq!(found, [ids["b1"].clone()], "assigned_to");
    let combined = list_all(&env, &root, &format!("{assigned_to}&status=open"), 20).await;
    assert!(combined.is_empty());
}

#[tokio::test]
async fn pagination_returns_every_ticket_exactly_once() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let bob = member(&env, "bob").await;
    let root = operator(&env).await;
    let mut created = Vec::new();
    for i in 0..25 {
        let (who, priority) = if i % 2 == 0 {
            (&ada, "high")
        } else {
            (&bob, "low")
        };
        created.push(open_ticket(&env, who, &format!("T{i}"), "general", priority).await);
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let all = list_all(&env, &root, "", 7).await;
    assert_eq!(all, newest_first, "each ticket once, newest first");
    let high = list_all(&env, &root, "&priority=high", 7).await;
    let expected: Vec<String> = newest_first
        .iter()
        .step_by(1)
        .filter(|id| created.iter().position(|c| c == *id).unwrap() % 2 == 0)
        .cloned()
        .collect();
    assert_eq!(high, expected, "filtered pages hold each match once");
    let adas = list_all(&env, &ada, "", 7).await;
    assert_eq!(adas, expected, "the owner's pages");
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 25);
}

#[tokio::test]
async fn malformed_list_parameters_are_400() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    for _ in 0..3 {
        open_ticket(&env, &ada, "T", "general", "low").await;
    }
    let page = env
        .send(env.get("/v1/tickets?limit=1").bearer(&ada.token))
        .await;
    let adas_cursor = page.body["next_cursor"].as_str().unwrap().to_owned();
    for (query, code) in [
        ("limit=0", "invalid_query"),
        ("limit=101", "invalid_query"),
        ("limit=ten", "invalid_query"),
        ("status=pending", "invalid_query"),
        ("assigned_to=nobody", "invalid_query"),
        ("colour=red", "invalid_query"),
        ("cursor=%%%", "invalid_cursor"),
        ("cursor=bm90LWpzb24", "invalid_cursor"),
        ("cursor=e30", "invalid_cursor"),
    ] {
        let reply = env
            .send(env.get(&format!("/v1/tickets?{query}")).bearer(&ada.token))
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, code);
    }
    let foreign = env
        .send(
            env.get(&format!("/v1/tickets?cursor={adas_cursor}"))
                .bearer(&root.token),
        )
        .await;
    assert_error(&foreign, StatusCode::BAD_REQUEST, "invalid_cursor");
}

#[tokio::test]
async fn internal_notes_are_visible_to_operators_and_absent_for_the_owner() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    let id = open_ticket(&env, &ada, "Refund", "billing", "normal").await;
    let note = respond(&env, &root, &id, "customer seems confused", true).await;
    assert_eq!(note.status, StatusCode::CREATED, "{:?}", note.body);
    assert_eq!(note.body["is_internal"], true);
    let public = respond(&env, &root, &id, "We are on it.", false).await;
    assert_eq!(public.status, StatusCode::CREATED);

    let seen_by_owner = ticket(&env, &ada, &id).await;
    let messages: Vec<&str> = seen_by_owner["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["We are on it."]);
    assert_eq!(seen_by_owner["response_count"], 1);
    assert!(!seen_by_owner.to_string().contains("confused"));
    let listed = env.send(env.get("/v1/tickets").bearer(&ada.token)).await;
    assert_eq!(listed.body["items"][0]["response_count"], 1);

    let seen_by_operator = ticket(&env, &root, &id).await;
    let responses = seen_by_operator["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 2);
    assert_eq!(
        responses[0]["message"], "customer seems confused",
        "chronological"
    );
    assert_eq!(responses[0]["is_internal"], true);
    assert_eq!(responses[1]["is_internal"], false);
    assert_eq!(seen_by_operator["response_count"], 2);
}

#[tokio::test]
async fn non_operators_cannot_change_status_assign_or_post_internal_notes() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    let id = open_ticket(&env, &ada, "Mine", "general", "normal").await;
    assert_error(
        &set_status(&env, &ada, &id, "resolved").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &respond(&env, &ada, &id, "note to self", true).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let assign = env
        .send(
            env.post(&format!("/v1/tickets/{id}/assign"))
                .bearer(&ada.token)
                .json(json!({"operator_id": root.id})),
        )
        .await;
    assert_error(&assign, StatusCode::FORBIDDEN, "forbidden");
    let unchanged = ticket(&env, &ada, &id).await;
    assert_eq!(unchanged["status"], "open");
    assert_eq!(unchanged["assigned_to"], Value::Null);
    assert_eq!(unchanged["response_count"], 0);
}

/// Status-route moves the design allows; every other (from, to) pair is 409.
const ALLOWED: &[(&str, &str)] = &[
    ("open", "in_progress"),
    ("open", "awaiting_reply"),
    ("in_progress", "awaiting_reply"),
    ("in_progress", "resolved"),
    ("awaiting_reply", "in_progress"),
    ("awaiting_reply", "resolved"),
    ("resolved", "in_progress"),
];
const STATUSES: [&str; 5] = [
    "open",
    "in_progress",
    "awaiting_reply",
    "resolved",
    "closed",
];

/// A new ticket brought to `status` by legal moves.
async fn ticket_in(env: &TestEnv, owner: &Member, root: &Member, status: &str) -> String {
    let id = open_ticket(env, owner, "Flow", "technical", "normal").await;
    let path: &[&str] = match status {
        "open" => &[],
        "in_progress" => &["in_progress"],
        "awaiting_reply" => &["awaiting_reply"],
        "resolved" => &["in_progress", "resolved"],
        _ => &[],
    };
    for step in path {
        assert_eq!(
            set_status(env, root, &id, step).await.status,
            StatusCode::OK
        );
    }
    if status == "closed" {
        let closed = env
            .send(
                env.post(&format!("/v1/tickets/{id}/close"))
                    .bearer(&root.token),
            )
            .await;
        assert_eq!(closed.status, StatusCode::OK);
    }
    id
}

#[tokio::test]
async fn status_changes_follow_the_workflow_and_every_other_transition_is_409() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    for from in STATUSES {
        for to in STATUSES {
            let id = ticket_in(&env, &ada, &root, from).await;
            let reply = set_status(&env, &root, &id, to).await;
            if ALLOWED.contains(&(from, to)) {
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{from} -> {to}: {:?}",
                    reply.body
                );
                assert_eq!(reply.body["status"], to);
                assert_eq!(reply.body["closed_at"], Value::Null);
            } else {
                assert_error(&reply, StatusCode::CONFLICT, "invalid_transition");
                assert_eq!(
                    ticket(&env, &root, &id).await["status"],
                    from,
                    "{from} -> {to}"
                );
            }
        }
    }
}

#[tokio::test]
async fn owner_or_operator_closes_any_open_state_once_and_closed_at_is_set() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    for (from, closer) in [
        ("open", &ada),
        ("in_progress", &root),
        ("awaiting_reply", &ada),
        ("resolved", &root),
    ] {
        let id = ticket_in(&env, &ada, &root, from).await;
        let closed = env
            .send(
                env.post(&format!("/v1/tickets/{id}/close"))
                    .bearer(&closer.token),
            )
            .await;
        assert_eq!(closed.status, StatusCode::OK, "{:?}", closed.body);
        assert_eq!(closed.body["status"], "closed");
        assert!(closed.body["closed_at"].is_string());
        let again = env
            .send(
                env.post(&format!("/v1/tickets/{id}/close"))
                    .bearer(&closer.token),
            )
            .await;
        assert_error(&again, StatusCode::CONFLICT, "invalid_transition");
        assert_error(
            &respond(&env, &ada, &id, "hello?", false).await,
            StatusCode::CONFLICT,
            "ticket_closed",
        );
    }
}

#[tokio::test]
async fn responses_move_the_status_by_the_documented_rules() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    // (status before, who responds, internal?, status after)
    let cases = [
        ("open", "operator", false, "awaiting_reply"),
        ("in_progress", "operator", false, "awaiting_reply"),
        ("awaiting_reply", "owner", false, "in_progress"),
        ("open", "owner", false, "open"),
        ("in_progress", "owner", false, "in_progress"),
        ("resolved", "operator", false, "resolved"),
        ("open", "operator", true, "open"),
        ("awaiting_reply", "operator", true, "awaiting_reply"),
    ];
    for (before, author, internal, after) in cases {
        let id = ticket_in(&env, &ada, &root, before).await;
        let who = if author == "owner" { &ada } else { &root };
        let reply = respond(&env, who, &id, "message", internal).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        assert_eq!(
            ticket(&env, &root, &id).await["status"],
            after,
            "{author} responds on {before} (internal: {internal})"
        );
    }
}

/// Two writers hold the same snapshot of a ticket and are released together by a barrier, so
/// their version-conditioned writes overlap by construction: exactly one lands, whatever the
/// interleaving, and the ticket is the winner's. (Through HTTP, two changes sending the same
/// `If-Match` race in `conditional::writers_holding_the_same_tag_have_exactly_one_winner`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_status_changes_let_exactly_one_win() {
    use shared::tickets::model::{Status, TicketId};
    use std::sync::Arc;

    let env = Arc::new(TestEnv::new().await);
    let ada = member(&env, "ada").await;
    for _ in 0..3 {
        let id: TicketId = open_ticket(&env, &ada, "Race", "general", "normal")
            .await
            .parse()
            .unwrap();
        let snapshot = env.ctx.store.find_ticket(id).await.unwrap().unwrap();
        let start = Arc::new(tokio::sync::Barrier::new(2));
        let writers = [Status::InProgress, Status::AwaitingReply].map(|status| {
            let (env, start) = (env.clone(), start.clone());
            let mut next = snapshot.clone();
            next.status = status;
            next.version += 1;
            next.public_version += 1;
            tokio::spawn(async move {
                start.wait().await;
                (status, env.ctx.store.update_ticket(&next).await.unwrap())
            })
        });
        let outcomes: Vec<(Status, bool)> = futures::future::join_all(writers)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let won: Vec<Status> = outcomes
            .iter()
            .filter(|(_, written)| *written)
            .map(|(status, _)| *status)
            .collect();
        assert_eq!(won.len(), 1, "{outcomes:?}");
        let stored = env.ctx.store.find_ticket(id).await.unwrap().unwrap();
        assert_eq!(stored.status, won[0]);
        assert_eq!(stored.version, snapshot.version + 1, "one change, not two");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_responses_are_all_kept_and_counted() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    let id = open_ticket(&env, &ada, "Busy", "general", "normal").await;
    let replies = futures::future::join_all((0..4).map(|i| {
        let who = if i % 2 == 0 { &ada } else { &root };
        respond(&env, who, &id, "same time", false)
    }))
    .await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::CREATED),
        "{replies:?}"
    );
    let stored = ticket(&env, &root, &id).await;
    assert_eq!(stored["responses"].as_array().unwrap().len(), 4);
    assert_eq!(stored["response_count"], 4);
}

#[tokio::test]
async fn tickets_are_assigned_to_operators_only() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    let id = open_ticket(&env, &ada, "Assign", "general", "normal").await;
    let assign = |target: String| {
        env.post(&format!("/v1/tickets/{id}/assign"))
            .bearer(&root.token)
            .json(json!({"operator_id": target}))
    };
    let not_operator = env.send(assign(ada.id.clone())).await;
    assert_error(&not_operator, StatusCode::BAD_REQUEST, "not_an_operator");
    let unknown = env.send(assign(uuid::Uuid::now_v7().to_string())).await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "not_an_operator");
    let ok = env.send(assign(root.id.clone())).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["assigned_to"], root.id.as_str());
    assert_eq!(
        ticket(&env, &ada, &id).await["assigned_to"],
        root.id.as_str()
    );
}

#[tokio::test]
async fn an_attachment_round_trips_through_s3() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    let id = open_ticket(&env, &ada, "Screenshot", "technical", "normal").await;
    let bytes = b"%PDF-1.7 not really a pdf".to_vec();
    let upload = attach(
        &env,
        &ada,
        &id,
        json!({"file_name": "secret-plan.pdf", "content_type": "application/pdf", "size": bytes.len()}),
    )
    .await;
    assert_eq!(upload.status, StatusCode::CREATED, "{:?}", upload.body);
    let attachment = upload.body["attachment_id"].as_str().unwrap();
    let url = upload.body["upload_url"].as_str().unwrap();
    assert!(
        !url.contains("secret-plan"),
        "the key never holds the file name"
    );
    assert!(
        url.contains(&format!("/tickets/{id}/{attachment}?")),
        "{url}"
    );
    let signed = url.split("X-Amz-SignedHeaders=").nth(1).unwrap();
    let signed = signed.split('&').next().unwrap();
    assert!(
        signed.contains("content-length") && signed.contains("content-type"),
        "{signed}"
    );
    assert_eq!(
        upload.body["upload_headers"]["content-type"],
        "application/pdf"
    );
    assert!(upload.body["expires_at"].is_string());

    let (status, _) = fetch(
        Method::PUT,
        url,
        &[("content-type", "application/pdf")],
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    for who in [&ada, &root] {
        let download = env
            .send(
                env.get(&format!("/v1/tickets/{id}/attachments/{attachment}"))
                    .bearer(&who.token),
            )
            .await;
        assert_eq!(download.status, StatusCode::OK, "{:?}", download.body);
        assert!(download.body["expires_at"].is_string());
        let (status, body) = fetch(
            Method::GET,
            download.body["download_url"].as_str().unwrap(),
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, bytes);
    }
    let shown = ticket(&env, &ada, &id).await;
    assert_eq!(shown["attachments"][0]["file_name"], "secret-plan.pdf");
    assert_eq!(shown["attachments"][0]["size"], bytes.len());
    assert_eq!(shown["attachments"][0]["response_id"], Value::Null);
}

#[tokio::test]
async fn a_sixth_file_on_a_ticket_or_response_is_refused() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let id = open_ticket(&env, &ada, "Files", "general", "normal").await;
    for i in 0..5 {
        let reply = attach(&env, &ada, &id, text_file(&format!("{i}.txt"), 10)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let sixth = attach(&env, &ada, &id, text_file("6.txt", 10)).await;
    assert_error(&sixth, StatusCode::CONFLICT, "too_many_attachments");

    let response = respond(&env, &ada, &id, "more files", false).await;
    let response_id = response.body["id"].as_str().unwrap();
    let on_response = |name: &str| json!({"file_name": name, "content_type": "image/png", "size": 10, "response_id": response_id});
    let replies = futures::future::join_all(
        (0..6).map(|i| attach(&env, &ada, &id, on_response(&format!("{i}.png")))),
    )
    .await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(
        created, 5,
        "five per response, even in parallel: {replies:?}"
    );
    let refused = replies
        .iter()
        .find(|r| r.status != StatusCode::CREATED)
        .unwrap();
    assert_error(refused, StatusCode::CONFLICT, "too_many_attachments");
    assert_eq!(
        ticket(&env, &ada, &id).await["attachments"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

#[tokio::test]
async fn oversize_and_unsupported_files_are_refused() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let id = open_ticket(&env, &ada, "Files", "general", "normal").await;
    let ten_mib = 10 * 1024 * 1024;
    let at_limit = attach(&env, &ada, &id, text_file("big.txt", ten_mib)).await;
    assert_eq!(at_limit.status, StatusCode::CREATED);
    let over = attach(&env, &ada, &id, text_file("bigger.txt", ten_mib + 1)).await;
    assert_error(&over, StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");
    for (name, content_type) in [
        ("virus.exe", "application/x-msdownload"),
        ("image.svg", "image/svg+xml"),
        ("photo.png", "application/pdf"),
        ("noextension", "text/plain"),
    ] {
        let reply = attach(
            &env,
            &ada,
            &id,
            json!({"file_name": name, "content_type": content_type, "size": 10}),
        )
        .await;
        assert_error(
            &reply,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_file_type",
        );
    }
    let empty = attach(&env, &ada, &id, text_file("empty.txt", 0)).await;
    assert_error(&empty, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(
        ticket(&env, &ada, &id).await["attachments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn files_on_internal_notes_are_hidden_from_the_owner() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    let id = open_ticket(&env, &ada, "Logs", "technical", "normal").await;
    let note = respond(&env, &root, &id, "see the attached log", true).await;
    let note_id = note.body["id"].as_str().unwrap();
    let upload = attach(
        &env,
        &root,
        &id,
        json!({"file_name": "server.log.txt", "content_type": "text/plain", "size": 3, "response_id": note_id}),
    )
    .await;
    assert_eq!(upload.status, StatusCode::CREATED, "{:?}", upload.body);
    let attachment = upload.body["attachment_id"].as_str().unwrap();

    assert_eq!(ticket(&env, &ada, &id).await["attachments"], json!([]));
    assert_eq!(
        ticket(&env, &root, &id).await["attachments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let path = format!("/v1/tickets/{id}/attachments/{attachment}");
    let hidden = env.send(env.get(&path).bearer(&ada.token)).await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "not_found");
    let on_note = attach(
        &env,
        &ada,
        &id,
        json!({"file_name": "a.txt", "content_type": "text/plain", "size": 3, "response_id": note_id}),
    )
    .await;
    assert_error(&on_note, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_tickets_lambda_serves_api_gateway_events() {
    let env = TestEnv::new().await;
    let ada = member(&env, "ada").await;
    let root = operator(&env).await;
    let open = open_ticket(&env, &ada, "Via Lambda", "general", "normal").await;
    let moved = open_ticket(&env, &ada, "Moved", "general", "normal").await;
    assert_eq!(
        set_status(&env, &root, &moved, "in_progress").await.status,
        StatusCode::OK
    );
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/apigw-tickets.json"
    ))
    .unwrap()
    .replace("{{TOKEN}}", &ada.token);
    let request = lambda_http::request::from_str(&event).unwrap();
    let response = tickets::router(env.ctx.context().clone())
        .oneshot(request.map(Body::new))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let ids: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [open.as_str()], "the query string reaches the handler");
}

#[tokio::test]
async fn a_ticket_takes_at_most_the_configured_number_of_responses() {
    let env = TestEnv::with_config(|config| config.max_ticket_responses = 3).await;
    let owner = member(&env, "owner").await;
    let op = operator(&env).await;
    let id = open_ticket(&env, &owner, "Full", "general", "normal").await;
    respond(&env, &owner, &id, "one", false).await;
    respond(&env, &op, &id, "two", true).await;
    respond(&env, &op, &id, "three", false).await;
    for (who, internal) in [(&owner, false), (&op, true)] {
        let reply = respond(&env, who, &id, "four", internal).await;
        assert_error(&reply, StatusCode::CONFLICT, "too_many_responses");
    }
    assert_eq!(ticket(&env, &op, &id).await["response_count"], 3);
}

#[tokio::test]
async fn a_ticket_shows_its_first_twenty_responses_and_pages_the_rest() {
    let env = TestEnv::new().await;
    let owner = member(&env, "owner").await;
    let op = operator(&env).await;
    let id = open_ticket(&env, &owner, "Long thread", "general", "normal").await;
    for n in 0..22 {
        let reply = respond(&env, &owner, &id, &format!("message {n}"), false).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    respond(&env, &op, &id, "internal note", true).await;
    let shown = ticket(&env, &owner, &id).await;
    let first = shown["responses"].as_array().unwrap();
    assert_eq!(first.len(), 20);
    assert_eq!(first[0]["message"], "message 0");
    let cursor = shown["responses_next_cursor"].as_str().unwrap();
    let reply = env
        .send(
            env.get(&format!("/v1/tickets/{id}/responses?cursor={cursor}"))
                .bearer(&owner.token),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let rest: Vec<&str> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    // The owner never sees the internal note, on any page.
    assert_eq!(rest, ["message 20", "message 21"]);
    assert_eq!(reply.body["next_cursor"], Value::Null);
    // Someone who cannot see the ticket cannot page its thread either.
    let stranger = member(&env, "stranger").await;
    let reply = env
        .send(
            env.get(&format!("/v1/tickets/{id}/responses"))
                .bearer(&stranger.token),
        )
        .await;
    assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
}
