//! Field-level validation errors: every route's body, broken one member at a time, is refused
//! with 400 and `error.fields` naming that member by its path (`permissions[0].resource`).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// Who sends a case's request.
#[derive(Clone, Copy)]
enum Caller {
    Anonymous,
    User,
    Superuser,
}

/// One way to break a valid body, and the field the refusal must name.
enum Break {
    /// The member at this path gets this value (a wrong type, `null`, an unknown enum value).
    Set(&'static str, Value),
    /// The required member at this path is left out.
    Remove(&'static str),
}

/// The JSON pointer of a field path as `error.fields` writes it: `a[0].b` → `/a/0/b`.
fn pointer(field: &str) -> String {
    let mut pointer = String::new();
    for part in field.split(['.', '[']) {
        pointer.push('/');
        pointer.push_str(part.trim_end_matches(']'));
    }
    pointer
}

/// `body` broken as `how` says; returns it with the field the refusal must name.
fn broken(body: &Value, how: &Break) -> (Value, &'static str) {
    let mut body = body.clone();
    let (field, value) = match how {
        Break::Set(field, value) => (*field, Some(value.clone())),
        Break::Remove(field) => (*field, None),
    };
    let path = pointer(field);
    let (parent, name) = path.rsplit_once('/').unwrap();
    let parent = body
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{field}"));
    match (parent, value) {
        (Value::Object(members), Some(value)) => {
            members.insert(name.to_owned(), value);
        }
        (Value::Object(members), None) => {
            members.remove(name).unwrap_or_else(|| panic!("{field}"));
        }
        (Value::Array(items), Some(value)) => items[name.parse::<usize>().unwrap()] = value,
        (other, _) => panic!("{field} is not in an object or array: {other}"),
    }
    (body, field)
}

/// A route, a body it accepts as far as parsing goes, and the ways it is broken.
struct Case {
    method: Method,
    path: String,
    caller: Caller,
    body: Value,
    breaks: Vec<Break>,
}

fn cases() -> Vec<Case> {
    use Break::*;
    use Caller::*;
    let id = "0190f5d4-3c1e-7000-8000-000000000001";
    let ticket = "/v1/tickets/0190f5d4-3c1e-7000-8000-000000000002";
    let permissions = json!([{"resource": "tickets", "action": "read"}]);
    vec![
        Case {
            method: Method::POST,
            path: "/v1/auth/register".into(),
            caller: Anonymous,
            body: json!({"email": "a@example.test", "password": PASSWORD, "password2": PASSWORD,
                "first_name": "A", "last_name": "B"}),
            breaks: vec![
                Set("email", json!(5)),
                Set("password", Value::Null),
                Set("middle_name", json!(["x"])),
                Remove("first_name"),
            ],
        },
        Case {
            method: Method::POST,
            path: "/v1/auth/login".into(),
            caller: Anonymous,
            body: json!({"email": "a@example.test", "password": PASSWORD}),
            breaks: vec![
                Set("email", Value::Null),
                Set("password", json!({})),
                Remove("password"),
            ],
        },
        Case {
            method: Method::POST,
            path: "/v1/auth/refresh".into(),
            caller: Anonymous,
            body: json!({"refresh_token": "x.y"}),
            breaks: vec![Set("refresh_token", json!(1)), Remove("refresh_token")],
        },
        Case {
            method: Method::PATCH,
            path: "/v1/auth/me".into(),
            caller: User,
            body: json!({"first_name": "A"}),
            breaks: vec![Set("first_name", json!(5)), Set("last_name", json!(true))],
        },
        Case {
            method: Method::POST,
            path: "/v1/auth/password".into(),
            caller: User,
            body: json!({"current_password": PASSWORD, "new_password": PASSWORD}),
            breaks: vec![Set("new_password", Value::Null), Remove("current_password")],
        },
        Case {
            method: Method::POST,
            path: "/v1/auth/verify-email".into(),
            caller: Anonymous,
            body: json!({"token": "x"}),
            breaks: vec![Set("token", json!(5)), Remove("token")],
        },
        Case {
            method: Method::POST,
            path: "/v1/auth/password-reset".into(),
            caller: Anonymous,
            body: json!({"email": "a@example.test"}),
            breaks: vec![Set("email", Value::Null), Remove("email")],
        },
        Case {
            method: Method::POST,
            path: "/v1/auth/password-reset/confirm".into(),
            caller: Anonymous,
            body: json!({"token": "x", "new_password": PASSWORD}),
            breaks: vec![Set("token", json!([])), Remove("new_password")],
        },
        Case {
            method: Method::POST,
            path: "/v1/auth/me/email".into(),
            caller: User,
            body: json!({"new_email": "b@example.test", "current_password": PASSWORD}),
            breaks: vec![Set("new_email", json!(1)), Remove("current_password")],
        },
        Case {
            method: Method::POST,
            path: "/v1/roles".into(),
            caller: Superuser,
            body: json!({"code_name": "agents", "name": "Agents", "permissions": permissions}),
            breaks: vec![
                Set("name", Value::Null),
                Set("permissions", json!("all")),
                Set("permissions[0]", json!("tickets:read")),
                Set("permissions[0].resource", json!(5)),
                Remove("permissions[0].action"),
            ],
        },
        Case {
            method: Method::PATCH,
            path: "/v1/roles/agents".into(),
            caller: Superuser,
            body: json!({"permissions": permissions}),
            breaks: vec![
                Set("permissions[0].action", Value::Null),
                Set("description", json!(1)),
            ],
        },
        Case {
            method: Method::POST,
            path: "/v1/resources".into(),
            caller: Superuser,
            body: json!({"code_name": "videos", "name": "Videos"}),
            breaks: vec![Set("code_name", json!(5)), Remove("name")],
        },
        Case {
            method: Method::POST,
            path: "/v1/actions".into(),
            caller: Superuser,
            body: json!({"code_name": "publish", "name": "Publish"}),
            breaks: vec![Set("description", json!([]))],
        },
        Case {
            method: Method::PATCH,
            path: "/v1/users/0190f5d4-3c1e-7000-8000-000000000001".into(),
            caller: Superuser,
            body: json!({"is_active": true, "roles": ["agents"]}),
            breaks: vec![Set("is_active", json!("no")), Set("roles[0]", json!(5))],
        },
        Case {
            method: Method::POST,
            path: "/v1/tickets".into(),
            caller: User,
            body: json!({"subject": "S", "description": "D", "category": "general",
                "priority": "normal"}),
            breaks: vec![
                Set("category", json!("complaint")),
                Set("priority", json!("")),
                Set("subject", Value::Null),
                Set("priority", json!(1)),
                Remove("description"),
            ],
        },
        Case {
            method: Method::POST,
            path: format!("{ticket}/status"),
            caller: User,
            body: json!({"status": "resolved"}),
            breaks: vec![Set("status", json!("done")), Remove("status")],
        },
        Case {
            method: Method::POST,
            path: format!("{ticket}/responses"),
            caller: User,
            body: json!({"message": "M"}),
            breaks: vec![Set("is_internal", json!("yes")), Remove("message")],
        },
        Case {
            method: Method::POST,
            path: format!("{ticket}/assign"),
            caller: User,
            body: json!({"operator_id": id}),
            breaks: vec![Set("operator_id", json!("not-a-uuid"))],
        },
        Case {
            method: Method::POST,
            path: format!("{ticket}/attachments"),
            caller: User,
            body: json!({"file_name": "a.txt", "content_type": "text/plain", "size": 1}),
            breaks: vec![Set("size", json!(-1)), Set("size", json!("big"))],
        },
        Case {
            method: Method::POST,
            path: "/v1/quota/consume".into(),
            caller: User,
            body: json!({"videos": 1, "duration_seconds": 1.5, "file_size_mb": 1,
                "idempotency_key": "k"}),
            breaks: vec![
                Set("videos", json!(1.5)),
                Set("videos", Value::Null),
                Set("duration_seconds", json!("NaN")),
                Remove("idempotency_key"),
            ],
        },
        Case {
            method: Method::POST,
            path: "/v1/quota/release".into(),
            caller: User,
            body: json!({"idempotency_key": "k"}),
            breaks: vec![Set("idempotency_key", json!(5))],
        },
        Case {
            method: Method::PUT,
            path: format!("/v1/quota/users/{id}/limits"),
            caller: Superuser,
            body: json!({"max_videos": 1, "max_duration_seconds": null, "max_file_size_mb": null}),
            breaks: vec![Set("max_videos", json!("ten")), Remove("max_videos")],
        },
        Case {
            method: Method::POST,
            path: "/v1/qr-auth/scan".into(),
            caller: User,
            body: json!({"code": "c"}),
            breaks: vec![Set("code", json!(5)), Remove("code")],
        },
    ]
}

/// Asserts a 400 with `code` whose `fields` names exactly `field`.
fn assert_names(reply: &Reply, code: &str, field: &str, what: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, code),
        "{what}: {:?}",
        reply.body
    );
    assert_error(reply, StatusCode::BAD_REQUEST, code);
    let fields = reply.body["error"]["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no fields in {:?}", reply.body));
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        [field],
        "{what}: {:?}",
        reply.body
    );
    assert!(
        fields[field]
            .as_str()
            .is_some_and(|reason| !reason.is_empty()),
        "{what}: a reason is given"
    );
}

#[tokio::test]
async fn every_route_names_the_member_its_body_gets_wrong() {
    let env = TestEnv::new().await;
    let user = access(&env.register(&TestEnv::email("fields")).await);
    let root = access(&env.superuser().await);
    for case in cases() {
        let send = |body: Value| {
            let call = env.call(case.method.clone(), &case.path).json(body);
            let call = match case.caller {
                Caller::Anonymous => call,
                Caller::User => call.bearer(&user),
                Caller::Superuser => call.bearer(&root),
            };
            env.send(call)
        };
        for how in &case.breaks {
            let (body, field) = broken(&case.body, how);
            let what = format!("{} {} with {body}", case.method, case.path);
            assert_names(&send(body).await, "validation_failed", field, &what);
        }
        // A member the route does not declare is named too, with its own code; nested ones by
        // their path.
        let mut unknown = case.body.clone();
        unknown["surplus"] = json!(1);
        let what = format!("{} {} with an unknown field", case.method, case.path);
        assert_names(&send(unknown).await, "unknown_field", "surplus", &what);
        if case.body["permissions"].is_array() {
            let (body, _) = broken(
                &case.body,
                &Break::Set("permissions[0].scope", json!("all")),
            );
            let what = format!("{} {} with {body}", case.method, case.path);
            assert_names(
                &send(body).await,
                "unknown_field",
                "permissions[0].scope",
                &what,
            );
        }
    }
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_invalid_without_fields() {
    let env = TestEnv::new().await;
    for body in [
        &b"[\"a@example.test\", \"pw\"]"[..],
        b"null",
        b"5",
        b"{\"email\": ",
    ] {
        let reply = env.send(env.post("/v1/auth/login").raw(body)).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_body");
        assert!(reply.body["error"].get("fields").is_none(), "{reply:?}");
    }
}
