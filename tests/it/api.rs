//! HTTP conventions: strict input, the error shape, unknown routes and methods, the OpenAPI
//! document, the table definition, and the Lambda adapter.

use axum::http::StatusCode;
use serde_json::json;
use shared::domain::UserId;

use crate::support::*;

#[tokio::test]
async fn malformed_bodies_get_400_or_413_with_the_error_shape() {
    let env = TestEnv::new().await;
    let login = |body: &'static [u8]| env.post("/v1/auth/login").raw(body);
    for (body, code) in [
        (&b"{not json"[..], "invalid_body"),
        (b"[]", "invalid_body"),
        (b"null", "invalid_body"),
        (b"{\"email\": 5, \"password\": \"x\"}", "validation_failed"),
        (
            b"{\"email\": null, \"password\": \"x\"}",
            "validation_failed",
        ),
        (b"{\"email\": \"a@b.io\"}", "validation_failed"),
        (
            b"{\"email\": \"a@b.io\", \"password\": \"x\", \"admin\": true}",
            "unknown_field",
        ),
        (
            b"{\"email\": \"\xff\xfe\", \"password\": \"x\"}",
            "invalid_body",
        ),
    ] {
        let reply = env.send(login(body)).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, code);
    }
    let huge = format!(
        "{{\"email\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(70 * 1024)
    );
    let reply = env.send(env.post("/v1/auth/login").raw(huge)).await;
    assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let plain = env
        .send(
            env.post("/v1/auth/login")
                .header("content-type", "text/plain"),
        )
        .await;
    assert_error(
        &plain,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_use_the_error_shape() {
    let env = TestEnv::new().await;
    let missing = env.send(env.get("/v1/nothing-here")).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    let wrong = env.send(env.delete("/v1/auth/login")).await;
    assert_error(&wrong, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(wrong.headers["allow"].to_str().unwrap().contains("POST"));
    let ok = env.send(env.get("/.well-known/jwks.json")).await;
    assert!(
        ok.headers.contains_key("x-request-id"),
        "every response has a request id"
    );
}

/// Every route of the contract that this build serves, by method and path.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/auth/register"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/login/mfa"),
    ("post", "/v1/auth/mfa/totp"),
    ("delete", "/v1/auth/mfa/totp"),
    ("post", "/v1/auth/mfa/totp/confirm"),
    ("post", "/v1/auth/mfa/recovery-codes"),
    ("post", "/v1/auth/refresh"),
    ("post", "/v1/auth/logout"),
    ("post", "/v1/auth/revoke"),
    ("post", "/v1/auth/revoke-all"),
    ("get", "/v1/auth/me"),
    ("patch", "/v1/auth/me"),
    ("post", "/v1/auth/password"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/sessions"),
    ("get", "/v1/sessions/stats"),
    ("get", "/v1/sessions/history"),
    ("delete", "/v1/sessions/others"),
    ("delete", "/v1/sessions/{id}"),
    ("get", "/v1/sessions/users/{user_id}"),
    ("delete", "/v1/sessions/users/{user_id}"),
    ("get", "/v1/quota"),
    ("post", "/v1/quota/consume"),
    ("post", "/v1/quota/release"),
    ("get", "/v1/quota/users"),
    ("get", "/v1/quota/users/{user_id}"),
    ("post", "/v1/quota/users/{user_id}/reset"),
    ("put", "/v1/quota/users/{user_id}/limits"),
    ("post", "/v1/qr-auth/generate"),
    ("get", "/v1/qr-auth/status/{code}"),
    ("post", "/v1/qr-auth/scan"),
    ("post", "/v1/qr-auth/confirm"),
    ("post", "/v1/qr-auth/reject"),
    ("post", "/v1/auth/verify-email"),
    ("post", "/v1/auth/verify-email/resend"),
    ("post", "/v1/auth/password-reset"),
    ("post", "/v1/auth/password-reset/confirm"),
    ("post", "/v1/auth/me/email"),
    ("get", "/v1/users"),
    ("get", "/v1/users/{id}"),
    ("patch", "/v1/users/{id}"),
    ("post", "/v1/users/{id}/revoke-all"),
    ("delete", "/v1/users/{id}/mfa"),
    ("get", "/v1/resources"),
    ("post", "/v1/resources"),
    ("get", "/v1/resources/{code_name}"),
    ("patch", "/v1/resources/{code_name}"),
    ("delete", "/v1/resources/{code_name}"),
    ("get", "/v1/actions"),
    ("post", "/v1/actions"),
    ("get", "/v1/actions/{code_name}"),
    ("patch", "/v1/actions/{code_name}"),
    ("delete", "/v1/actions/{code_name}"),
    ("get", "/v1/roles"),
    ("post", "/v1/roles"),
    ("get", "/v1/roles/{code_name}"),
    ("patch", "/v1/roles/{code_name}"),
    ("delete", "/v1/roles/{code_name}"),
    ("post", "/v1/tickets"),
    ("get", "/v1/tickets"),
    ("get", "/v1/tickets/{id}"),
    ("post", "/v1/tickets/{id}/responses"),
    ("get", "/v1/tickets/{id}/responses"),
    ("post", "/v1/tickets/{id}/status"),
    ("post", "/v1/tickets/{id}/assign"),
    ("post", "/v1/tickets/{id}/close"),
    ("post", "/v1/tickets/{id}/attachments"),
    ("get", "/v1/audit"),
    ("get", "/v1/auth/me/events"),
    ("get", "/v1/tickets/{id}/attachments/{attachment_id}"),
    ("get", "/v1/auth/passkeys"),
    ("patch", "/v1/auth/passkeys/{id}"),
    ("delete", "/v1/auth/passkeys/{id}"),
    ("post", "/v1/auth/passkeys/register/begin"),
    ("post", "/v1/auth/passkeys/register/finish"),
    ("post", "/v1/auth/passkeys/login/begin"),
    ("post", "/v1/auth/passkeys/login/finish"),
    ("post", "/v1/auth/login/mfa/passkey"),
];

#[tokio::test]
async fn every_routed_path_is_in_the_openapi_document() {
    let env = TestEnv::new().await;
    let reply = env.send(env.get("/v1/openapi.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = reply.body["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is documented"
        );
        let call = env.call(method.to_uppercase().parse().unwrap(), path);
        let served = env.send(call).await;
        // A handler may answer 404 itself (a QR status without its poll token); only the
        // router's fallback says "route not found".
        let unrouted = served.status == StatusCode::METHOD_NOT_ALLOWED
            || (served.status == StatusCode::NOT_FOUND
                && served.body["error"]["message"] == "route not found");
        assert!(!unrouted, "{method} {path} is routed: {:?}", served.status);
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, ROUTES.len(), "no undocumented or stale routes");
}

/// The `Table` resource of `template.yaml` with its whitespace folded to single spaces.
fn template_table() -> String {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let lines: Vec<&str> = template
        .lines()
        .skip_while(|line| *line != "  Table:")
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with("   "))
        .collect();
    lines
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn template_declares_the_table_the_code_creates() {
    let spec = shared::store::table_spec();
    let table = template_table();
    assert!(!table.is_empty(), "template has a Table resource");
    let has = |text: String| assert!(table.contains(&text), "template.yaml lacks `{text}`");
    for (name, kind) in &spec.attributes {
        has(format!("- AttributeName: {name} AttributeType: {kind}"));
    }
    has(format!(
        "KeySchema: - AttributeName: {} KeyType: HASH - AttributeName: {} KeyType: RANGE",
        spec.partition_key, spec.sort_key
    ));
    for (index, partition, sort) in &spec.indexes {
        has(format!(
            "- IndexName: {index} KeySchema: - AttributeName: {partition} KeyType: HASH \
             - AttributeName: {sort} KeyType: RANGE Projection: ProjectionType: ALL"
        ));
    }
    has(format!(
        "TimeToLiveSpecification: AttributeName: {} Enabled: true",
        spec.ttl_attribute
    ));
    let declared = table.matches("AttributeType:").count();
    assert_eq!(
        declared,
        spec.attributes.len(),
        "no extra attribute definitions"
    );
    assert_eq!(
        table.matches("- IndexName:").count(),
        spec.indexes.len(),
        "no extra indexes"
    );
}

#[tokio::test]
async fn the_lambda_adapter_serves_api_gateway_events_with_their_source_ip() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("lambda");
    env.register(&email).await;
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/apigw-login.json"
    ))
    .unwrap()
    .replace("{{EMAIL}}", &email)
    .replace("{{PASSWORD}}", PASSWORD);
    let request = lambda_http::request::from_str(&event).unwrap();
    let reply = env.send_request(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let user_id: UserId = reply.body["user"]["id"].as_str().unwrap().parse().unwrap();
    let stored = env
        .ctx
        .store
        .find_user_sessions(user_id)
        .await
        .unwrap()
        .unwrap();
    let session = stored
        .sessions
        .iter()
        .find(|s| s.id.to_string() == reply.body["session_id"])
        .unwrap();
    assert_eq!(
        session.ip.as_deref(),
        Some("198.51.100.7"),
        "the IP comes from the request context"
    );
    assert_eq!(session.device.os, "iPhone");
}

#[tokio::test]
async fn geo_headers_become_the_location_only_when_trusted() {
    for trusted in [true, false] {
        let env = TestEnv::with_config(|c| c.trust_geo_headers = trusted).await;
        let reply = env
            .send(env.post("/v1/auth/register")
                .header("cloudfront-viewer-country", "NL")
                .header("cloudfront-viewer-city", "Amsterdam")
                .json(json!({"email": TestEnv::email("geo"), "password": PASSWORD, "password2": PASSWORD,
                    "first_name": "A", "last_name": "B"})))
            .await;
        let user_id: UserId = reply.body["user"]["id"].as_str().unwrap().parse().unwrap();
        let stored = env
            .ctx
            .store
            .find_user_sessions(user_id)
            .await
            .unwrap()
            .unwrap();
        let location = &stored.sessions[0].location;
        if trusted {
            assert_eq!(
                (location.country.as_deref(), location.city.as_deref()),
                (Some("NL"), Some("Amsterdam"))
            );
            assert_eq!(
                location.region, None,
                "absent parts are unknown, not invented"
            );
        } else {
            assert_eq!(location, &shared::domain::Location::default());
        }
    }
}

/// The auth Lambda serves the checked-in `openapi.json` as is, so it must be exactly what the
/// route groups describe now.
#[test]
fn the_checked_in_openapi_document_is_the_generated_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    // Not `assert_eq!`: a diff of two whole documents would bury the one line that matters.
    assert!(
        checked_in == local_server::openapi::document_json(),
        "openapi.json differs from the document the route groups describe: run `make openapi` \
         and commit the result"
    );
}

/// The OpenAPI validator `make openapi-validator` installs (`make test` does it first).
const OPENAPI_VALIDATOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../localstack/.venv/bin/openapi-spec-validator"
);

#[tokio::test]
async fn the_served_openapi_document_is_valid_openapi_3_1() {
    let validator = std::path::Path::new(OPENAPI_VALIDATOR);
    assert!(
        validator.exists(),
        "{OPENAPI_VALIDATOR} is missing: run `make openapi-validator` (part of `make test`) to \
         install openapi-spec-validator into the git-ignored localstack/.venv"
    );
    let env = TestEnv::new().await;
    let reply = env.send(env.get("/v1/openapi.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let file = std::env::temp_dir().join(format!("sesame-openapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, serde_json::to_vec(&reply.body).unwrap()).unwrap();
    let output = std::process::Command::new(validator)
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .arg(&file)
        .output()
        .expect("openapi-spec-validator runs");
    std::fs::remove_file(&file).unwrap();
    assert!(
        output.status.success(),
        "the served document is not valid OpenAPI 3.1:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
