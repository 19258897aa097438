//! The real Lambda binaries: every function's `bootstrap` (its debug build) runs under the
//! Runtime API emulator (`lambda-emulator`) against LocalStack and answers the events in
//! `events/`. This covers what the in-process tests cannot: each `main.rs`, the configuration
//! read from the environment as a deployment sets it (no local mode, keys and cursor key from
//! Secrets Manager), and the cold start through `lambda_runtime`.
//!
//! The binaries are built on first use by the cargo that runs the tests, into the same target
//! directory (cargo releases its build lock before it runs test binaries).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use lambda_emulator::{Error, Function, Invocation};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::store::Store;
use shared::tokens::Signer;

use crate::secrets::create_secret;
use crate::support::*;

/// The function crates; each builds one binary of the same name.
const FUNCTIONS: [&str; 8] = [
    "auth", "sessions", "qr-auth", "tickets", "quota", "cleanup", "web", "docs",
];

/// One test's deployment: a fresh table and the secrets, named as `template.yaml` names them.
struct Deployment {
    env: Vec<(String, String)>,
    signing_key_secret: String,
}

impl Deployment {
    async fn new() -> Deployment {
        let table = format!("sesame-test-{}", uuid::Uuid::new_v4().simple());
        Store::local_with(&endpoint(), "us-east-1", &table, &PATIENT)
            .create_table()
            .await
            .expect("the local AWS endpoint is up (make localstack)");
        let (signer, private_pem) = Signer::generate().unwrap();
        let signing_key_secret = create_secret("signing-key", private_pem.expose_secret()).await;
        let verify_key_secret = create_secret("verify-key", &signer.verifier().public_pem()).await;
        let cursor_key_secret = create_secret("cursor-key", &"cursor-key-".repeat(4)).await;
        let mfa_key_secret = create_secret("mfa-key", &"mfa-key-".repeat(5)).await;
        let env = [
            ("AWS_ENDPOINT_URL", endpoint()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("SESAME_TABLE", table),
            (
                "SESAME_BUCKET",
                format!("sesame-test-{}", uuid::Uuid::new_v4().simple()),
            ),
            ("SESAME_VERIFY_KEY_SECRET", verify_key_secret),
            ("SESAME_CURSOR_KEY_SECRET", cursor_key_secret),
            ("SESAME_MFA_KEY_SECRET", mfa_key_secret),
            // The tests' patient AWS timeouts (see `PATIENT`), for a loaded LocalStack.
            ("SESAME_AWS_CONNECT_TIMEOUT_MS", "5000".into()),
            ("SESAME_AWS_ATTEMPT_TIMEOUT_MS", "30000".into()),
            ("SESAME_AWS_OPERATION_TIMEOUT_MS", "60000".into()),
            ("SESAME_HASH_CONCURRENCY", "2".into()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        Deployment {
            env,
            signing_key_secret,
        }
    }

    /// Starts a function's binary with this deployment's environment. Only the functions that
    /// issue tokens (the web app signs people in) get the signing key, as in `template.yaml`.
    async fn start(&self, function: &str) -> Function {
        let mut env = self.env.clone();
        if matches!(function, "auth" | "qr-auth" | "web") {
            env.push((
                "SESAME_SIGNING_KEY_SECRET".into(),
                self.signing_key_secret.clone(),
            ));
        }
        Function::start(binary(function), env)
            .await
            .expect("the binary starts")
    }
}

/// The path of a function's binary, building all of them on first use.
fn binary(function: &str) -> PathBuf {
    static PROFILE_DIR: OnceLock<PathBuf> = OnceLock::new();
    PROFILE_DIR.get_or_init(build_binaries).join(function)
}

/// Builds the function binaries with the cargo that runs the tests, into the directory of this
/// test binary's profile (`target/debug`), and returns that directory.
fn build_binaries() -> PathBuf {
    let test_binary = std::env::current_exe().unwrap();
    // target/<profile>/deps/it-<hash>
    let profile_dir = test_binary.parent().and_then(Path::parent).unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(&cargo);
    build
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["build", "--quiet", "--bins", "--target-dir"])
        .arg(target_dir);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    for function in FUNCTIONS {
        build.args(["-p", function]);
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?}: {e}"));
    assert!(status.success(), "building the function binaries failed");
    for function in FUNCTIONS {
        let binary = profile_dir.join(function);
        assert!(binary.is_file(), "{} was not built", binary.display());
    }
    profile_dir.to_owned()
}

/// An event from `events/`.
fn event(path: &str) -> Value {
    let full = format!("{}/../events/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The event with a bearer token.
fn bearer(mut event: Value, token: &str) -> Value {
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    event
}

/// The event with another JSON body.
fn body(mut event: Value, body: Value) -> Value {
    event["body"] = json!(body.to_string());
    event
}

/// An HTTP API function's answer: its status and decoded JSON body.
#[derive(Debug)]
struct HttpReply {
    status: u16,
    body: Value,
}

impl HttpReply {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Invokes an HTTP API function and decodes its API Gateway response.
async fn call(function: &mut Function, event: Value) -> HttpReply {
    let Invocation { response, .. } = match function.invoke(event).await {
        Ok(invocation) => invocation,
        Err(error) => panic!("{}: {error}", function.name()),
    };
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    let body = match response["body"].as_str() {
        None | Some("") => Value::Null,
        Some(text) => serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}")),
    };
    HttpReply {
        status: response["statusCode"].as_u64().unwrap() as u16,
        body,
    }
}

/// Registers a fresh user through the auth binary and signs them in; returns the login's token
/// response.
async fn signed_in(auth: &mut Function) -> Value {
    let email = TestEnv::email("lambda");
    let credentials = json!({"email": email, "password": PASSWORD});
    let registration = json!({
        "email": email, "password": PASSWORD, "password2": PASSWORD,
        "first_name": "Ada", "last_name": "Lovelace"
    });
    let registered = call(auth, body(event("auth/register.json"), registration)).await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    let login = call(auth, body(event("auth/login.json"), credentials)).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.body["user"]["email"], email.as_str());
    login.body
}

#[tokio::test]
async fn the_auth_binary_registers_signs_in_and_publishes_its_key() {
    let deployment = Deployment::new().await;
    let mut auth = deployment.start("auth").await;
    let tokens = signed_in(&mut auth).await;

    let cold_start = auth.cold_start().expect("measured at the first answer");
    let init = auth.init_duration().expect("the runtime polled");
    assert!(init <= cold_start, "{init:?} {cold_start:?}");
    assert!(auth.peak_rss().is_some_and(|bytes| bytes > 1 << 20));

    let me = call(&mut auth, bearer(event("auth/me.json"), &access(&tokens))).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["id"], tokens["user"]["id"]);
    let jwks = call(&mut auth, event("auth/jwks.json")).await;
    assert_eq!(jwks.status, 200, "{:?}", jwks.body);
    assert_eq!(jwks.body["keys"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn the_verify_only_binaries_serve_a_token_the_auth_binary_issued() {
    let deployment = Deployment::new().await;
    // Started together, so their cold starts overlap the auth calls.
    let mut auth = deployment.start("auth").await;
    let mut sessions = deployment.start("sessions").await;
    let mut quota = deployment.start("quota").await;
    let mut tickets = deployment.start("tickets").await;
    let mut qr_auth = deployment.start("qr-auth").await;
    let tokens = signed_in(&mut auth).await;
    let token = access(&tokens);

    let listed = call(&mut sessions, bearer(event("sessions/list.json"), &token)).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        2,
        "the registration's and the login's: {items:?}"
    );
    let current: Vec<&Value> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{items:?}");
    assert_eq!(current[0]["id"], tokens["session_id"], "the login's");

    let consumed = call(&mut quota, bearer(event("quota/consume.json"), &token)).await;
    assert_eq!(consumed.status, 200, "{:?}", consumed.body);
    let shown = call(&mut quota, bearer(event("quota/show.json"), &token)).await;
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    assert_eq!(shown.body, consumed.body, "the consumption was stored");

    let created = call(&mut tickets, bearer(event("tickets/create.json"), &token)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["subject"], "Cannot upload a video");
    assert_eq!(created.body["status"], "open");

    let generated = call(&mut qr_auth, event("qr-auth/generate.json")).await;
    assert_eq!(generated.status, 201, "{:?}", generated.body);
    assert!(
        generated.body["qr_uri"]
            .as_str()
            .unwrap()
            .starts_with("sesame://")
    );
}

#[tokio::test]
async fn every_http_binary_refuses_a_request_without_a_token_in_the_error_shape() {
    let deployment = Deployment::new().await;
    for (function, path) in [
        ("auth", "auth/me.json"),
        ("sessions", "sessions/list.json"),
        ("quota", "quota/consume.json"),
        ("tickets", "tickets/create.json"),
    ] {
        let mut binary = deployment.start(function).await;
        let refused = call(&mut binary, event(path)).await;
        assert_eq!(refused.status, 401, "{function}: {:?}", refused.body);
        assert!(!refused.code().is_empty(), "{function}: {:?}", refused.body);
        assert!(
            refused.body["error"]["message"].is_string(),
            "{function}: {:?}",
            refused.body
        );
    }
}

#[tokio::test]
async fn the_web_binary_serves_its_sign_in_page() {
    let deployment = Deployment::new().await;
    let mut web = deployment.start("web").await;
    let Invocation { response, .. } = web
        .invoke(event("web/sign-in.json"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    let headers = &response["headers"];
    assert_eq!(
        headers["content-type"], "text/html; charset=utf-8",
        "{response}"
    );
    assert!(
        headers["content-security-policy"]
            .as_str()
            .is_some_and(|policy| policy.contains("script-src 'self';")),
        "{response}"
    );
    let html = response["body"].as_str().unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<form"), "{html}");
    assert!(
        html.contains(r#"name="next" value="/tickets""#),
        "the page keeps where to go after signing in: {html}"
    );
}

#[tokio::test]
async fn the_docs_binary_serves_the_api_reference_and_its_files() {
    let deployment = Deployment::new().await;
    let mut docs = deployment.start("docs").await;
    let Invocation { response, .. } = docs
        .invoke(event("docs/docs.json"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    let headers = &response["headers"];
    assert_eq!(
        headers["content-type"], "text/html; charset=utf-8",
        "{response}"
    );
    let policy = headers["content-security-policy"].as_str().unwrap_or("");
    assert!(policy.contains("script-src 'self';"), "{response}");
    assert!(policy.contains("frame-ancestors 'none'"), "{response}");
    assert_eq!(headers["x-frame-options"], "DENY", "{response}");
    let html = response["body"].as_str().unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains(r#"data-spec="/v1/openapi.json""#), "{html}");

    // Its files, under the `/docs/{proxy+}` route of the same function.
    let start = html
        .find("/docs/assets/docs.js?v=")
        .expect("docs.js is linked");
    let (path, query) = html[start..start + html[start..].find('"').unwrap()]
        .split_once('?')
        .unwrap();
    let mut asset = event("docs/docs.json");
    asset["routeKey"] = json!("GET /docs/{proxy+}");
    asset["requestContext"]["routeKey"] = asset["routeKey"].clone();
    asset["rawPath"] = json!(path);
    asset["requestContext"]["http"]["path"] = json!(path);
    asset["rawQueryString"] = json!(query);
    let Invocation { response, .. } = docs.invoke(asset).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        response["headers"]["cache-control"], "public, max-age=31536000, immutable",
        "{response}"
    );
    assert!(
        response["body"]
            .as_str()
            .is_some_and(|script| script.contains("SwaggerUIBundle")),
        "{response}"
    );

    // Any other path of its routes is not found, with the same headers.
    let mut other = event("docs/docs.json");
    other["routeKey"] = json!("GET /docs/{proxy+}");
    other["requestContext"]["routeKey"] = other["routeKey"].clone();
    other["rawPath"] = json!("/docs/v1/users");
    other["requestContext"]["http"]["path"] = json!("/docs/v1/users");
    let Invocation { response, .. } = docs.invoke(other).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response["statusCode"], 404, "{response}");
    assert_eq!(response["headers"]["x-frame-options"], "DENY", "{response}");
}

#[tokio::test]
async fn the_cleanup_binary_answers_the_scheduled_event_with_its_summary() {
    let deployment = Deployment::new().await;
    let mut cleanup = deployment.start("cleanup").await;
    let invocation = cleanup
        .invoke(event("cleanup/scheduled.json"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let report = invocation.response;
    assert_eq!(report["deleted"], json!({}), "a fresh table: {report}");
    assert_eq!(
        report["buckets"].as_array().map(Vec::len),
        Some(8),
        "today and the seven lookback days: {report}"
    );
}

#[tokio::test]
async fn a_binary_without_its_key_secret_fails_its_cold_start_naming_the_setting() {
    let deployment = Deployment::new().await;
    let env = deployment
        .env
        .iter()
        .filter(|(name, _)| name != "SESAME_VERIFY_KEY_SECRET");
    let mut sessions = Function::start(binary("sessions"), env.cloned())
        .await
        .unwrap();
    match sessions.invoke(event("sessions/list.json")).await {
        Err(Error::Exited { status, output }) => {
            assert!(!status.success());
            assert!(output.contains("SESAME_VERIFY_KEY_SECRET"), "{output}");
        }
        other => panic!("expected the process to exit, got {other:?}"),
    }
}
