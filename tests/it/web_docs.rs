//! The API reference at `/docs` (the `docs` function, merged into the local server): a public
//! page that starts the vendored Swagger UI from this site's own files under a
//! Content-Security-Policy that still allows no inline script, and the embedded files it links
//! under `/docs/assets/`, served as immutable.

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use crate::support::*;

/// A response header as text.
fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
}

/// The directives of a Content-Security-Policy, by name.
fn directive<'a>(policy: &'a str, name: &str) -> Vec<&'a str> {
    policy
        .split(';')
        .map(str::split_whitespace)
        .find_map(|mut words| (words.next() == Some(name)).then(|| words.collect()))
        .unwrap_or_else(|| panic!("no {name} in {policy}"))
}

/// The link of `name` in the page: `/docs/assets/<name>?v=<hash>`.
fn link(html: &str, name: &str) -> String {
    let start = html
        .find(&format!("/docs/assets/{name}?v="))
        .unwrap_or_else(|| panic!("{name} is not linked: {html}"));
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

/// A vendored or own file of the docs crate, as the repository holds it.
fn source(path: &str) -> String {
    let full = format!(
        "{}/../functions/docs/assets/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[tokio::test]
async fn the_docs_page_is_public_and_allows_inline_styles_but_no_inline_script() {
    let env = TestEnv::new().await;
    let page = env.send(env.get("/docs")).await;
    assert_eq!(page.status, StatusCode::OK, "no sign-in needed: {page:?}");
    assert_eq!(
        header(&page.headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let html = page.body.as_str().unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");

    let policy = header(&page.headers, header::CONTENT_SECURITY_POLICY);
    assert_eq!(directive(policy, "script-src"), ["'self'"], "{policy}");
    assert_eq!(
        directive(policy, "style-src"),
        ["'self'", "'unsafe-inline'"],
        "Swagger UI sets inline styles: {policy}"
    );
    assert_eq!(directive(policy, "img-src"), ["'self'", "data:"]);
    assert_eq!(directive(policy, "connect-src"), ["'self'"], "{policy}");
    assert_eq!(directive(policy, "frame-ancestors"), ["'none'"], "{policy}");
    assert_eq!(directive(policy, "object-src"), ["'none'"], "{policy}");
    assert_eq!(header(&page.headers, header::X_FRAME_OPTIONS), "DENY");
    assert_eq!(
        header(&page.headers, header::REFERRER_POLICY),
        "same-origin"
    );
    assert_eq!(
        header(&page.headers, header::X_CONTENT_TYPE_OPTIONS),
        "nosniff"
    );
    assert!(html.contains("Sesame API reference"), "{html}");
    assert!(
        html.contains(r#"<a href="/">"#),
        "a way back to the app: {html}"
    );
    assert!(!html.contains("<script>"), "no inline script: {html}");
    assert!(
        !html.contains(" style="),
        "no inline style of its own: {html}"
    );

    // The viewer reads the API's own document, served by the same router: "Try it out" calls
    // this origin (the document names no other server).
    assert!(
        html.contains(r#"id="swagger-ui" data-spec="/v1/openapi.json""#),
        "{html}"
    );
    let document = env.send(env.get("/v1/openapi.json")).await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(document.body["servers"], Value::Null, "same origin");
    assert!(document.body["components"]["securitySchemes"]["bearer"].is_object());

    // The page of a signed-out visitor keeps the strict policy of every other page.
    let sign_in = env.send(env.get("/sign-in")).await;
    let strict = header(&sign_in.headers, header::CONTENT_SECURITY_POLICY);
    assert_eq!(directive(strict, "style-src"), ["'self'"], "{strict}");
}

#[tokio::test]
async fn the_docs_page_links_the_vendored_viewer_served_as_immutable() {
    let env = TestEnv::new().await;
    let page = env.send(env.get("/docs")).await;
    let html = page.body.as_str().unwrap();
    for (name, media_type, path) in [
        (
            "swagger-ui-bundle.js",
            "text/javascript; charset=utf-8",
            "vendor/swagger-ui/swagger-ui-bundle.js",
        ),
        (
            "swagger-ui.css",
            "text/css; charset=utf-8",
            "vendor/swagger-ui/swagger-ui.css",
        ),
        ("docs.js", "text/javascript; charset=utf-8", "docs.js"),
    ] {
        let href = link(html, name);
        let served = env.send(env.get(&href)).await;
        assert_eq!(served.status, StatusCode::OK, "{href}");
        assert_eq!(
            header(&served.headers, header::CONTENT_TYPE),
            media_type,
            "{href}"
        );
        assert_eq!(
            header(&served.headers, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{href}"
        );
        assert!(
            served.body.as_str() == Some(source(path).as_str()),
            "{href} serves the file as vendored"
        );
    }
    // The starter reads the spec from the page, so the page needs no inline script.
    assert!(source("docs.js").contains("dataset.spec"));
}

#[tokio::test]
async fn an_unknown_asset_is_not_found() {
    let env = TestEnv::new().await;
    for path in [
        "/docs/assets/swagger-ui.js",
        "/docs/assets/swagger-ui-bundle.js.map",
        "/docs/assets/vendor%2Fswagger-ui%2FLICENSE",
        "/docs/assets/..%2Fsrc%2Flib.rs",
        "/docs/assets/..%2F..%2Fweb%2Fassets%2Fapp.css",
        // The web app's files no longer hold the viewer.
        "/assets/swagger-ui-bundle.js",
        "/assets/docs.js",
    ] {
        let reply = env.send(env.get(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {reply:?}");
    }
}
