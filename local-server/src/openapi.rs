//! The OpenAPI 3.1 document of every route group, served by the auth Lambda at
//! `/v1/openapi.json`. It is built here, where every group is linked anyway, and checked in as
//! `openapi.json` at the repository root (`make openapi` regenerates it; a test fails when it is
//! stale). The auth Lambda serves that file, so it links no other group.

use axum::http::{StatusCode, header};
use shared::error::ErrorBody;
use utoipa::OpenApi as _;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};
use utoipa_axum::router::OpenApiRouter;

/// The document of every route group. Each group crate describes its own routes; this merges
/// them under the document's title and security scheme, then adds what the shared HTTP layer
/// answers on every operation. The result validates against the official OpenAPI 3.1 schema (a
/// test runs `openapi-spec-validator` on the served document).
pub fn document() -> OpenApi {
    let mut document = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::routes())
        .into_openapi();
    document.merge(crate::signing_routes().into_openapi());
    document_shared_refusals(&mut document);
    describe_responses(&mut document);
    document
}

/// The document as `openapi.json` holds it: pretty-printed, ending in a newline, so changes to
/// the API read as small diffs.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

/// Every operation of the document.
fn operations_mut(document: &mut OpenApi) -> impl Iterator<Item = &mut Operation> {
    document.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
    })
}

/// Documents the refusals that come from the shared HTTP layer rather than from a handler, on
/// every operation they can reach, so no annotation can forget them: a body that cannot be read
/// (400 `invalid_body`), is over 64 KiB (413) or is not JSON (415) on every operation taking a
/// body; missing or dead credentials (401) on every operation with a security requirement; and
/// 503 `service_unavailable` on every operation that can fail at all (all but the two static
/// documents, the JWKS and the OpenAPI document itself, reach the store). 429 and 503 answers carry `Retry-After`.
fn document_shared_refusals(document: &mut OpenApi) {
    for operation in operations_mut(document) {
        let responses = &mut operation.responses.responses;
        let fallible = responses.keys().any(|status| !status.starts_with('2'));
        let mut refusals = Vec::new();
        if operation.request_body.is_some() {
            refusals.extend([
                ("400", "invalid_body, unknown_field or validation_failed"),
                ("413", "body_too_large: the body is over 64 KiB"),
                (
                    "415",
                    "unsupported_media_type: the body is not application/json",
                ),
            ]);
        }
        if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
            refusals.push((
                "401",
                "missing, invalid or expired access token, or a session that ended",
            ));
        }
        if fallible {
            refusals.push(("503", "service_unavailable: the store is unavailable or throttling; retry after `Retry-After`"));
        }
        for (status, description) in refusals {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| error_response(description).into());
        }
        for (status, response) in responses.iter_mut() {
            if let ("429" | "503", RefOr::T(response)) = (status.as_str(), response) {
                response
                    .headers
                    .entry(header::RETRY_AFTER.as_str().to_owned())
                    .or_insert_with(|| retry_after_header().into());
            }
        }
    }
}

/// An error response with the contract's error body.
fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build()
}

/// `Retry-After`: whole seconds to wait before trying again.
fn retry_after_header() -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        ))
        .description(Some("seconds to wait before trying again"))
        .build()
}

/// Gives every response without a description its status code's reason phrase ("Not Found").
/// OpenAPI requires a description on each response, and most annotations only name a status and
/// a body, whose meaning the status already says.
fn describe_responses(document: &mut OpenApi) {
    for operation in operations_mut(document) {
        for (status, response) in &mut operation.responses.responses {
            if let RefOr::T(response) = response
                && response.description.is_empty()
            {
                response.description = StatusCode::from_bytes(status.as_bytes())
                    .ok()
                    .and_then(|status| status.canonical_reason())
                    .unwrap_or("Response")
                    .to_owned();
            }
        }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Sesame", description = "Authentication and session service", version = "1.0.0"),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
