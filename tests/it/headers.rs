//! Every response carries `X-Content-Type-Options: nosniff`; every response to a request with
//! credentials, and every token response, carries `Cache-Control: no-store`.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("headers");
    let tokens = env.register(&email).await;
    let token = access(&tokens);
    let login = json!({"email": email, "password": PASSWORD});
    let calls = [
        ("me", env.get("/v1/auth/me").bearer(&token), StatusCode::OK),
        (
            "sessions",
            env.get("/v1/sessions").bearer(&token),
            StatusCode::OK,
        ),
        ("quota", env.get("/v1/quota").bearer(&token), StatusCode::OK),
        (
            "tickets",
            env.get("/v1/tickets").bearer(&token),
            StatusCode::OK,
        ),
        (
            "login",
            env.post("/v1/auth/login").json(login),
            StatusCode::OK,
        ),
        (
            "bad token",
            env.get("/v1/auth/me").bearer("not-a-jwt"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no token",
            env.get("/v1/sessions"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "bad json",
            env.post("/v1/auth/login").raw("{"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown route",
            env.get("/v1/nowhere").bearer(&token),
            StatusCode::NOT_FOUND,
        ),
        (
            "wrong method",
            env.delete("/v1/auth/login"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "cookie",
            env.get("/v1/auth/me").header("cookie", "sesame-access=x"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "page",
            env.get("/account").header("cookie", "sesame-access=x"),
            StatusCode::OK,
        ),
        (
            "qr poll",
            env.get("/v1/qr-auth/status/unknown")
                .header("x-qr-poll-token", "x"),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (name, call, status) in calls {
        let reply = env.send(call).await;
        assert_eq!(reply.status, status, "{name}: {:?}", reply.body);
        assert_eq!(reply.headers["x-content-type-options"], "nosniff", "{name}");
        assert_eq!(reply.headers["cache-control"], "no-store", "{name}");
    }
    let jwks = env.send(env.get("/.well-known/jwks.json")).await;
    assert_eq!(jwks.headers["x-content-type-options"], "nosniff");
    assert_eq!(
        jwks.headers["cache-control"], "public, max-age=300",
        "public keys may be cached"
    );
    let stylesheet = env
        .send(
            env.get("/assets/app.css")
                .header("cookie", "sesame-access=x; sesame-csrf=y"),
        )
        .await;
    assert_eq!(stylesheet.status, StatusCode::OK);
    assert_eq!(
        stylesheet.headers["cache-control"], "public, max-age=31536000, immutable",
        "the web app's files are the same for everyone, cookies or not"
    );
}
