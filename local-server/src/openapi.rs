//! The OpenAPI 3.1 document of every route group, served by the auth Lambda at
//! `/v1/openapi.json`. It is built here, where every group is linked anyway, and checked in as
//! `openapi.json` at the repository root (`make openapi` regenerates it; a test fails when it is
//! stale). The auth Lambda serves that file, so it links no other group.

use axum::http::{Method, StatusCode, header};
use shared::error::ErrorBody;
use shared::rbac::Resource;
use utoipa::OpenApi as _;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
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
    document_cookie_transport(&mut document);
    document_optional_bodies(&mut document);
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

/// Every operation of the document, with its method.
fn operations_mut(document: &mut OpenApi) -> impl Iterator<Item = (Method, &mut Operation)> {
    document.paths.paths.values_mut().flat_map(|item| {
        [
            (Method::GET, &mut item.get),
            (Method::PUT, &mut item.put),
            (Method::POST, &mut item.post),
            (Method::DELETE, &mut item.delete),
            (Method::OPTIONS, &mut item.options),
            (Method::HEAD, &mut item.head),
            (Method::PATCH, &mut item.patch),
            (Method::TRACE, &mut item.trace),
        ]
        .into_iter()
        .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
    })
}

/// Whether an operation has a security requirement, so it answers 401 without credentials.
fn is_secured(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|s| !s.is_empty())
}

/// Offers the browser session's access cookie as the alternative to every `bearer`
/// requirement, with the same scopes (the resource an admin route declares): every secured
/// route authenticates through `shared::http::VerifiedToken`, which takes either. A change made
/// with the cookie must also pass the CSRF check; [`document_shared_refusals`] documents its
/// 403.
fn document_cookie_transport(document: &mut OpenApi) {
    for (_, operation) in operations_mut(document) {
        let Some(security) = &mut operation.security else {
            continue;
        };
        let alternatives: Vec<SecurityRequirement> = security
            .iter()
            .map(|requirement| SecurityRequirement::new(COOKIE, bearer_scopes(requirement)))
            .collect();
        security.extend(alternatives);
    }
}

/// The scopes of a `bearer` requirement: none, or the resource an admin route declares
/// (`security(("bearer" = ["users"]))`). `SecurityRequirement` keeps its contents private, so
/// the requirement is compared with each one an annotation may write; an annotation that
/// writes another one stops the document from being built until this learns it.
fn bearer_scopes(requirement: &SecurityRequirement) -> Vec<&'static str> {
    std::iter::once(Vec::new())
        .chain(Resource::ALL.map(|resource| vec![resource.code_name()]))
        .find(|scopes| *requirement == SecurityRequirement::new(BEARER, scopes.clone()))
        .expect("every security requirement is `bearer`, with no scope or one resource")
}

/// Takes `null` out of an optional body's schema. utoipa documents `request_body(content =
/// Option<T>)` (the refresh's, absent for the cookie transport) as `T` or `null`, but every body
/// goes through `shared::http::Json`, which takes only a JSON object: an optional body is
/// absent or a `T`, and a `null` one is 400 `invalid_body`.
fn document_optional_bodies(document: &mut OpenApi) {
    let is_null = |schema: &RefOr<Schema>| {
        matches!(schema, RefOr::T(Schema::Object(object))
            if object.schema_type == SchemaType::Type(Type::Null))
    };
    for (_, operation) in operations_mut(document) {
        let Some(RefOr::T(body)) = &mut operation.request_body else {
            continue;
        };
        for content in body.content.values_mut() {
            if let RefOr::T(content) = content
                && let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema
                && let [schema, null] = one_of.items.as_slice()
                && is_null(null)
            {
                content.schema = Some(schema.clone());
            }
        }
    }
}

/// Documents the refusals that come from the shared HTTP layer rather than from a handler, on
/// every operation they can reach, so no annotation can forget them: a body that cannot be read
/// (400 `invalid_body`), is over 64 KiB (413) or is not JSON (415) on every operation taking a
/// body; missing or dead credentials (401) on every operation with a security requirement, and
/// the CSRF check of a change authenticated by cookie (403 `cross_site_request`,
/// `csrf_token_invalid`) on every such operation with an unsafe method, added to the
/// description of a 403 the operation answers anyway; and 503 `service_unavailable` on every
/// operation that can fail at all (all but the two static documents, the JWKS and the OpenAPI
/// document itself, reach the store). 429 and 503 answers carry `Retry-After`.
fn document_shared_refusals(document: &mut OpenApi) {
    for (method, operation) in operations_mut(document) {
        let secured = is_secured(operation);
        if secured && !method.is_safe() {
            document_csrf_refusal(operation);
        }
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
        if secured {
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

/// The 403 of a change authenticated by the access cookie that fails the CSRF check
/// (`shared::http::cookies::check_csrf`).
const CSRF_REFUSAL: &str = "cross_site_request or csrf_token_invalid (`cookie` security): a change \
    authenticated by the access cookie that came from another site or without the session's CSRF \
    token in `x-csrf-token`";

/// Adds the CSRF refusal to an operation's 403: a new one, or one more reason in the
/// description of the one it documents ("Forbidden" when it had none).
fn document_csrf_refusal(operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    match responses.get_mut("403") {
        Some(RefOr::T(forbidden)) => {
            let reason = match forbidden.description.as_str() {
                "" => "Forbidden",
                reason => reason,
            };
            forbidden.description = format!("{reason}; {CSRF_REFUSAL}");
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            responses.insert("403".to_owned(), error_response(CSRF_REFUSAL).into());
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
    for (_, operation) in operations_mut(document) {
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
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// The security scheme of an access token in the `Authorization` header.
const BEARER: &str = "bearer";
/// The security scheme of an access token in the browser session's cookie.
const COOKIE: &str = "cookie";

/// The two ways to present an access token: `bearer`, and `cookie` for a browser session.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-sesame-access",
                "The access token of a browser session (`POST /v1/auth/login` with \
                 `\"transport\": \"cookie\"`); `sesame-access` on a local server over plain \
                 http. Used only without an `Authorization` header. A change (any method but \
                 GET, HEAD, OPTIONS) must come from this site and present the session's CSRF \
                 token (the sign-in's `csrf_token`) in `x-csrf-token`, else 403.",
            ))),
        );
    }
}
