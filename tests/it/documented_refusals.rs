//! The OpenAPI document lists the refusals of the shared HTTP layer on every operation they
//! reach: a body that is not JSON (415), too large (413) or unreadable (400) on each operation
//! taking a body, missing credentials (401) on each secured one, a change by access cookie
//! without the CSRF token (403) on each secured one with an unsafe method, and a store that is
//! unavailable (503, with `Retry-After` like 429) on each one that can fail. Schemathesis (`make fuzz`) found
//! 23 operations answering an undocumented 415 and one an undocumented 400; these tests ask every
//! operation of the served document, so a new route cannot bring the gap back.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::http::cookies::Cookie;

use crate::support::*;

/// Every operation of the document: method, path template and the operation object.
fn operations(document: &Value) -> Vec<(Method, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Ok(method) = method.to_uppercase().parse::<Method>() {
                found.push((method, path.clone(), operation.clone()));
            }
        }
    }
    found
}

/// The path with every `{parameter}` filled by an id that names nothing.
fn concrete(template: &str) -> String {
    let mut path = template.to_owned();
    while let Some(start) = path.find('{') {
        let end = start + path[start..].find('}').unwrap();
        path.replace_range(start..=end, &uuid::Uuid::now_v7().to_string());
    }
    path
}

fn documents(operation: &Value, status: StatusCode) -> bool {
    operation["responses"]
        .get(status.as_str())
        .is_some_and(|response| response["content"]["application/json"].is_object())
}

#[tokio::test]
async fn every_operation_documents_the_shared_refusals_it_answers() {
    let env = TestEnv::new().await;
    let root = access(&env.superuser().await);
    let root_cookie = format!("{}={root}", Cookie::Access.name(&env.ctx.config));
    let document = env.send(env.get("/v1/openapi.json")).await.body;
    let operations = operations(&document);
    let mut asked = 0;
    for (method, template, operation) in &operations {
        let path = concrete(template);
        let call = || env.call(method.clone(), &path);
        let mut refusals = Vec::new();
        if operation["requestBody"].is_object() {
            // The superuser passes every guard, so the body is what is refused.
            let authorized = || call().bearer(&root);
            refusals.extend([
                (
                    authorized().raw("x").header("content-type", "text/plain"),
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ),
                (
                    authorized().raw(format!("\"{}\"", "a".repeat(70 * 1024))),
                    StatusCode::PAYLOAD_TOO_LARGE,
                ),
                (authorized().raw("{"), StatusCode::BAD_REQUEST),
            ]);
        }
        let secured = operation["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty());
        if secured {
            refusals.push((call(), StatusCode::UNAUTHORIZED));
        }
        if secured && !method.is_safe() {
            // A browser's change: the access cookie, but not the session's CSRF token.
            refusals.push((call().header("cookie", &root_cookie), StatusCode::FORBIDDEN));
        }
        for (request, status) in refusals {
            let reply = env.send(request).await;
            assert_eq!(reply.status, status, "{method} {path}: {:?}", reply.body);
            if status == StatusCode::FORBIDDEN {
                assert_eq!(reply.code(), "csrf_token_invalid", "{method} {path}");
            }
            assert!(
                documents(operation, status),
                "{method} {template} answers {status} but does not document it"
            );
            asked += 1;
        }
    }
    assert!(asked >= 80, "{asked} refusals asked");
}

#[tokio::test]
async fn every_fallible_operation_documents_503_and_retry_after() {
    let env = TestEnv::new().await;
    let document = env.send(env.get("/v1/openapi.json")).await.body;
    let mut static_documents = Vec::new();
    for (method, template, operation) in operations(&document) {
        let responses = operation["responses"].as_object().unwrap();
        if responses.keys().all(|status| status.starts_with('2')) {
            static_documents.push(template);
            continue;
        }
        assert!(
            documents(&operation, StatusCode::SERVICE_UNAVAILABLE),
            "{method} {template} does not document 503"
        );
        for status in ["429", "503"] {
            if let Some(response) = responses.get(status) {
                assert!(
                    response["headers"]["retry-after"]["schema"]["type"] == "integer",
                    "{method} {template}: {status} without Retry-After"
                );
            }
        }
    }
    static_documents.sort();
    assert_eq!(
        static_documents,
        ["/.well-known/jwks.json", "/v1/openapi.json"],
        "only the static documents never fail"
    );
}

#[tokio::test]
async fn every_secured_operation_also_takes_the_access_cookie() {
    let env = TestEnv::new().await;
    let document = env.send(env.get("/v1/openapi.json")).await.body;
    assert_eq!(
        document["components"]["securitySchemes"]["cookie"],
        json!({
            "type": "apiKey",
            "in": "cookie",
            "name": "__Host-sesame-access",
            "description": document["components"]["securitySchemes"]["cookie"]["description"],
        })
    );
    let mut secured = 0;
    for (method, template, operation) in operations(&document) {
        let Some(security) = operation["security"].as_array() else {
            continue;
        };
        let scopes = |scheme: &str| -> Vec<Value> {
            security
                .iter()
                .filter_map(|requirement| requirement.get(scheme).cloned())
                .collect()
        };
        assert!(!scopes("bearer").is_empty(), "{method} {template}");
        assert_eq!(
            scopes("bearer"),
            scopes("cookie"),
            "{method} {template} takes the cookie as it takes the Bearer token"
        );
        secured += 1;
    }
    assert!(secured >= 40, "{secured} secured operations");
}
