//! The files of the API reference, embedded in the binary (no CDN, no build step): the starter
//! `docs.js` and the vendored Swagger UI. Each is linked with its content's hash in the query
//! ([`href`]), so it is served as immutable for a year and a new build is fetched at once.
//!
//! The web app serves its own files the same way (`functions/web/src/assets.rs`); the few lines
//! of hashing are repeated rather than shared, so that this function depends on neither the web
//! crate nor `shared` (and so on no AWS SDK).

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Where the files are served: `/docs/assets/{name}`.
const PREFIX: &str = "/docs/assets";

/// An embedded file: name, media type, bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "docs.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/docs.js"),
    },
    // Swagger UI, vendored from npm by `assets/vendor/update-swagger-ui.sh` (version and licence
    // in `assets/vendor/swagger-ui/README.md`).
    Asset {
        name: "swagger-ui-bundle.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/swagger-ui/swagger-ui-bundle.js"),
    },
    Asset {
        name: "swagger-ui.css",
        media_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/swagger-ui/swagger-ui.css"),
    },
];

/// FNV-1a of the bytes: a version tag for the link, not a security measure.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The version tag of every file, in [`ASSETS`] order, hashed once per process (the bundle
/// alone is 1.7 MB).
static VERSIONS: LazyLock<Vec<u64>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| fingerprint(asset.bytes))
        .collect()
});

/// The link of an embedded file, versioned by its content.
pub fn href(name: &str) -> String {
    let version = ASSETS
        .iter()
        .position(|asset| asset.name == name)
        .map_or(0, |index| VERSIONS[index]);
    format!("{PREFIX}/{name}?v={version:016x}")
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route(&format!("{PREFIX}/{{name}}"), get(serve))
}

async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.media_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
