//! Conditional requests: tickets, roles and users carry an `ETag`; a write with a current
//! `If-Match` goes through once, a stale one gets 412 and changes nothing, `*` matches any
//! version, weak tags never match, and a malformed `If-Match` is 400 (never ignored).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// The `ETag` header of a reply.
fn etag(reply: &Reply) -> String {
    reply
        .headers
        .get("etag")
        .unwrap_or_else(|| panic!("no ETag on {} {:?}", reply.status, reply.body))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A ticket opened by a fresh user; returns (owner token, operator token, ticket id).
async fn ticket_with_operator(env: &TestEnv) -> (String, String, String) {
    let owner = access(&env.register(&TestEnv::email("owner")).await);
    let operator = access(&env.superuser().await);
    let created = env
        .send(env.post("/v1/tickets").bearer(&owner).json(json!({
            "subject": "Printer", "description": "It is on fire.",
            "category": "technical", "priority": "urgent"
        })))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    etag(&created);
    let id = created.body["id"].as_str().unwrap().to_owned();
    (owner, operator, id)
}

async fn get_ticket(env: &TestEnv, token: &str, id: &str) -> Reply {
    let reply = env
        .send(env.get(&format!("/v1/tickets/{id}")).bearer(token))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply
}

async fn set_status(env: &TestEnv, token: &str, id: &str, status: &str, tag: &str) -> Reply {
    env.send(
        env.post(&format!("/v1/tickets/{id}/status"))
            .bearer(token)
            .header("if-match", tag)
            .json(json!({"status": status})),
    )
    .await
}

#[tokio::test]
async fn a_tickets_etag_lets_one_write_through_and_the_stale_one_gets_412() {
    let env = TestEnv::new().await;
    let (_, operator, id) = ticket_with_operator(&env).await;
    let read = get_ticket(&env, &operator, &id).await;
    let tag = etag(&read);

    let first = set_status(&env, &operator, &id, "in_progress", &tag).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let new_tag = etag(&first);
    assert_ne!(new_tag, tag);

    let stale = set_status(&env, &operator, &id, "awaiting_reply", &tag).await;
    assert_error(
        &stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    let now = get_ticket(&env, &operator, &id).await;
    assert_eq!(now.body["status"], "in_progress", "nothing changed");
    assert_eq!(etag(&now), new_tag);
    assert_eq!(now.body["updated_at"], first.body["updated_at"]);

    // A stale tag is 412 even for a change the workflow would refuse (the precondition first).
    let stale_and_invalid = set_status(&env, &operator, &id, "open", &tag).await;
    assert_error(
        &stale_and_invalid,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );

    let listed = format!("\"v0\", W/{new_tag}, {new_tag}");
    let in_a_list = set_status(&env, &operator, &id, "awaiting_reply", &listed).await;
    assert_eq!(in_a_list.status, StatusCode::OK, "{:?}", in_a_list.body);
    let weak = format!("W/{}", etag(&in_a_list));
    let weak_only = set_status(&env, &operator, &id, "resolved", &weak).await;
    assert_error(
        &weak_only,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    let any = set_status(&env, &operator, &id, "resolved", "*").await;
    assert_eq!(any.status, StatusCode::OK, "{:?}", any.body);

    for malformed in ["v4", "\"v4", "*, \"v4\"", "W/v4"] {
        let reply = set_status(&env, &operator, &id, "in_progress", malformed).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_if_match");
    }
    assert_eq!(
        get_ticket(&env, &operator, &id).await.body["status"],
        "resolved"
    );
}

#[tokio::test]
async fn every_ticket_write_is_tagged_and_refuses_a_stale_tag() {
    let env = TestEnv::new().await;
    let (owner, operator, id) = ticket_with_operator(&env).await;
    let operator_id = env
        .send(env.get("/v1/auth/me").bearer(&operator))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let writes: Vec<(&str, Value)> = vec![
        ("responses", json!({"message": "On it."})),
        ("assign", json!({"operator_id": operator_id})),
        (
            "attachments",
            json!({"file_name": "log.txt", "content_type": "text/plain", "size": 3}),
        ),
        ("status", json!({"status": "in_progress"})),
        ("close", Value::Null),
    ];
    for (route, body) in writes {
        let tag = etag(&get_ticket(&env, &operator, &id).await);
        let call = |tag: &str| {
            let call = env
                .post(&format!("/v1/tickets/{id}/{route}"))
                .bearer(&operator)
                .header("if-match", tag);
            if body.is_null() {
                call
            } else {
                call.json(body.clone())
            }
        };
        let done = env.send(call(&tag)).await;
        assert!(done.status.is_success(), "{route}: {:?}", done.body);
        let written = etag(&done);
        assert_ne!(written, tag, "{route} moves the version");
        assert_eq!(
            etag(&get_ticket(&env, &operator, &id).await),
            written,
            "{route} answers with the ticket's new tag"
        );
        let again = env.send(call(&tag)).await;
        assert_error(
            &again,
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
        );
        assert_eq!(
            etag(&get_ticket(&env, &operator, &id).await),
            written,
            "{route}: the stale write changed nothing"
        );
    }
    let closed = get_ticket(&env, &owner, &id).await;
    assert_eq!(closed.body["status"], "closed");
    assert_eq!(closed.body["response_count"], 1);
    assert_eq!(closed.body["attachments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_owners_tag_does_not_reveal_internal_notes() {
    let env = TestEnv::new().await;
    let (owner, operator, id) = ticket_with_operator(&env).await;
    let owners = etag(&get_ticket(&env, &owner, &id).await);
    let operators = etag(&get_ticket(&env, &operator, &id).await);

    let note = env
        .send(
            env.post(&format!("/v1/tickets/{id}/responses"))
                .bearer(&operator)
                .json(json!({"message": "Customer seems upset.", "is_internal": true})),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED, "{:?}", note.body);
    assert_eq!(
        etag(&get_ticket(&env, &owner, &id).await),
        owners,
        "the owner's tag stays"
    );
    assert_ne!(etag(&get_ticket(&env, &operator, &id).await), operators);

    // The operator's tag is of no use to the owner, and the owner's own tag still holds.
    let close = |tag: &str| {
        env.post(&format!("/v1/tickets/{id}/close"))
            .bearer(&owner)
            .header("if-match", tag)
    };
    let borrowed = env.send(close(&operators)).await;
    assert_error(
        &borrowed,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    // Refusals that do not depend on the request come first: the owner may not change the
    // status at all, whatever the tag.
    let not_an_operator = set_status(&env, &owner, &id, "in_progress", "\"v999\"").await;
    assert_error(&not_an_operator, StatusCode::FORBIDDEN, "forbidden");
    let closed = env.send(close(&owners)).await;
    assert_eq!(closed.status, StatusCode::OK, "{:?}", closed.body);
    assert_ne!(etag(&closed), owners);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_holding_the_same_tag_have_exactly_one_winner() {
    let env = TestEnv::new().await;
    let operator = access(&env.superuser().await);
    for _ in 0..3 {
        let (_, _, id) = ticket_with_operator(&env).await;
        let tag = etag(&get_ticket(&env, &operator, &id).await);
        // Each move is legal after the other too, so without the shared precondition both
        // could succeed one after the other; with it, exactly one can, however they interleave.
        let replies = futures::future::join_all([
            set_status(&env, &operator, &id, "in_progress", &tag),
            set_status(&env, &operator, &id, "awaiting_reply", &tag),
        ])
        .await;
        let won: Vec<&Reply> = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect();
        assert_eq!(won.len(), 1, "{replies:?}");
        let lost = replies.iter().find(|r| r.status != StatusCode::OK).unwrap();
        assert_error(lost, StatusCode::PRECONDITION_FAILED, "precondition_failed");
        let now = get_ticket(&env, &operator, &id).await;
        assert_eq!(now.body["status"], won[0].body["status"]);
        assert_eq!(etag(&now), etag(won[0]));
    }
}

#[tokio::test]
async fn a_roles_etag_guards_its_edits_and_its_deletion() {
    let (env, root) = crate::rbac::seeded().await;
    let created = env
        .send(env.post("/v1/roles").bearer(&root).json(json!({
            "code_name": "desk", "name": "Desk",
            "permissions": [{"resource": "tickets", "action": "read"}]
        })))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let read = env.send(env.get("/v1/roles/desk").bearer(&root)).await;
    let tag = etag(&read);
    assert_eq!(etag(&created), tag);

    let rename = |name: &str, tag: &str| {
        env.patch("/v1/roles/desk")
            .bearer(&root)
            .header("if-match", tag)
            .json(json!({"name": name}))
    };
    let renamed = env.send(rename("Front desk", &tag)).await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    let new_tag = etag(&renamed);
    assert_ne!(new_tag, tag);
    let stale = env.send(rename("Back desk", &tag)).await;
    assert_error(
        &stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    let malformed = env.send(rename("Back desk", "v2")).await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, "invalid_if_match");
    let now = env.send(env.get("/v1/roles/desk").bearer(&root)).await;
    assert_eq!(now.body["name"], "Front desk");
    assert_eq!(etag(&now), new_tag);

    let delete = |tag: &str| {
        env.delete("/v1/roles/desk")
            .bearer(&root)
            .header("if-match", tag)
    };
    let stale_delete = env.send(delete(&tag)).await;
    assert_error(
        &stale_delete,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    let kept = env.send(env.get("/v1/roles/desk").bearer(&root)).await;
    assert_eq!(
        kept.status,
        StatusCode::OK,
        "a stale deletion deletes nothing"
    );
    assert_eq!(etag(&kept), new_tag, "nor marks the role");
    let any = env.send(delete("*")).await;
    assert_eq!(any.status, StatusCode::NO_CONTENT, "{:?}", any.body);
    let gone = env.send(env.get("/v1/roles/desk").bearer(&root)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let missing = env.send(delete("*")).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_users_etag_guards_admin_edits_and_moves_with_every_profile_change() {
    let env = TestEnv::new().await;
    let root = access(&env.superuser().await);
    let ada = env.register(&TestEnv::email("ada")).await;
    env.verify_email_of(ada["user"]["id"].as_str().unwrap())
        .await;
    let path = format!("/v1/users/{}", ada["user"]["id"].as_str().unwrap());
    let read = env.send(env.get(&path).bearer(&root)).await;
    let tag = etag(&read);

    let edit = |body: Value, tag: &str| {
        env.patch(&path)
            .bearer(&root)
            .header("if-match", tag)
            .json(body)
    };
    let staffed = env.send(edit(json!({"is_staff": true}), &tag)).await;
    assert_eq!(staffed.status, StatusCode::OK, "{:?}", staffed.body);
    let new_tag = etag(&staffed);
    assert_ne!(new_tag, tag);
    let stale = env
        .send(edit(json!({"is_staff": false, "first_name": "Eve"}), &tag))
        .await;
    assert_error(
        &stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    let malformed = env.send(edit(json!({"is_staff": false}), "W/")).await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, "invalid_if_match");
    let now = env.send(env.get(&path).bearer(&root)).await;
    assert_eq!(now.body["is_staff"], true);
    assert_eq!(now.body["first_name"], "Ada");
    assert_eq!(etag(&now), new_tag);

    // The user renames themself: the admin's tag is stale now, even within one millisecond.
    let renamed = env
        .send(
            env.patch("/v1/auth/me")
                .bearer(&access(&ada))
                .json(json!({"first_name": "Augusta"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    let overwrite = env.send(edit(json!({"first_name": "Ada"}), &new_tag)).await;
    assert_error(
        &overwrite,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    );
    let any = env.send(edit(json!({"last_name": "King"}), "*")).await;
    assert_eq!(any.status, StatusCode::OK, "{:?}", any.body);
    assert_eq!(any.body["first_name"], "Augusta", "the rename was kept");
    assert_eq!(any.body["last_name"], "King");
}

#[tokio::test]
async fn the_document_describes_if_match_etag_and_412_together() {
    let env = TestEnv::new().await;
    let document = env.send(env.get("/v1/openapi.json")).await.body;
    let mut conditional = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let takes_if_match = operation["parameters"].as_array().is_some_and(|p| {
                p.iter()
                    .any(|p| p["name"] == "If-Match" && p["in"] == "header")
            });
            if !takes_if_match {
                continue;
            }
            conditional.push(format!("{method} {path}"));
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses["412"]["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("precondition_failed")),
                "{method} {path}"
            );
            for (status, response) in responses {
                if status.starts_with('2') && status != "204" {
                    assert!(
                        response["headers"]["ETag"].is_object(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    conditional.sort();
    assert_eq!(
        conditional,
        [
            "delete /v1/roles/{code_name}",
            "patch /v1/roles/{code_name}",
            "patch /v1/users/{id}",
            "post /v1/tickets/{id}/assign",
            "post /v1/tickets/{id}/attachments",
            "post /v1/tickets/{id}/close",
            "post /v1/tickets/{id}/responses",
            "post /v1/tickets/{id}/status",
        ]
    );
}
