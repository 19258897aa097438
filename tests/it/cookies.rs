//! The API's cookie transport: a browser signs in with `"transport": "cookie"` and holds its
//! tokens in `HttpOnly` cookies; every change it makes with them must come from this site with
//! the session's CSRF token; refresh and sign-out work by cookie; `Bearer` clients see no
//! difference. Also the web app's forms, which take the same cookies and the same CSRF token.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// A site that is not Sesame.
const EVIL: &str = "https://evil.example";

/// The `Set-Cookie` headers of a reply.
fn set_cookies(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// The whole `Set-Cookie` header that sets `name`.
fn set_cookie(reply: &Reply, name: &str) -> String {
    set_cookies(reply)
        .into_iter()
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", set_cookies(reply)))
}

/// The value a reply sets for the cookie `name`.
fn cookie_value(reply: &Reply, name: &str) -> String {
    let cookie = set_cookie(reply, name);
    let (_, rest) = cookie.split_once('=').unwrap();
    rest.split(';').next().unwrap().to_owned()
}

/// The attributes of a `Set-Cookie` header after its value, trimmed.
fn attributes(cookie: &str) -> Vec<&str> {
    cookie.split(';').skip(1).map(str::trim).collect()
}

/// A browser session of a local server (cookies without prefixes): what its cookie jar holds.
struct Browser {
    access: String,
    refresh: String,
    csrf: String,
}

impl Browser {
    /// The jar after a cookie sign-in or refresh.
    fn from(reply: &Reply) -> Browser {
        Browser {
            access: cookie_value(reply, "sesame-access"),
            refresh: cookie_value(reply, "sesame-refresh"),
            csrf: cookie_value(reply, "sesame-csrf"),
        }
    }

    /// The `Cookie` header a browser sends to every path but the refresh route.
    fn cookie(&self) -> String {
        format!("sesame-access={}; sesame-csrf={}", self.access, self.csrf)
    }

    /// The `Cookie` header a browser sends to the refresh route.
    fn refresh_cookie(&self) -> String {
        format!("sesame-refresh={}; sesame-csrf={}", self.refresh, self.csrf)
    }

    /// A call as this browser makes it: its cookies, no `Authorization`.
    fn call(&self, call: Call) -> Call {
        call.header("cookie", &self.cookie())
    }

    /// A change as this site's script makes it: cookies, same origin, the CSRF header.
    fn change(&self, call: Call) -> Call {
        self.call(call)
            .header("sec-fetch-site", "same-origin")
            .header("x-csrf-token", &self.csrf)
    }
}

/// A cookie sign-in with [`PASSWORD`]; the whole reply.
async fn cookie_login(env: &TestEnv, email: &str) -> Reply {
    env.send(env.post("/v1/auth/login").json(json!({
        "email": email, "password": PASSWORD, "transport": "cookie"
    })))
    .await
}

/// Registers `email` and signs in again by cookie; the bearer tokens and the browser.
async fn user_with_browser(env: &TestEnv, name: &str) -> (Value, Browser) {
    let email = TestEnv::email(name);
    let tokens = env.register(&email).await;
    let reply = cookie_login(env, &email).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    (tokens, Browser::from(&reply))
}

/// The caller's profile as the Bearer of `tokens` sees it.
async fn profile(env: &TestEnv, tokens: &Value) -> Value {
    let reply = env
        .send(env.get("/v1/auth/me").bearer(&access(tokens)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body
}

#[tokio::test]
async fn a_cookie_login_sets_the_three_cookies_and_keeps_the_tokens_out_of_the_body() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("jar");
    env.register(&email).await;
    let reply = cookie_login(&env, &email).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let body = reply.body.as_object().unwrap();
    assert_eq!(body["token_type"], "cookie");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["email"], email.as_str());
    assert!(!body.contains_key("access_token") && !body.contains_key("refresh_token"));
    assert_eq!(set_cookies(&reply).len(), 3);

    let access = set_cookie(&reply, "sesame-access");
    assert_eq!(
        attributes(&access),
        ["Path=/", "Max-Age=900", "HttpOnly", "SameSite=Lax"],
        "local mode over http: no Secure"
    );
    let refresh = set_cookie(&reply, "sesame-refresh");
    let session_secs = env.ctx.config.session_ttl.as_secs();
    assert_eq!(
        attributes(&refresh),
        [
            "Path=/v1/auth/refresh",
            &format!("Max-Age={session_secs}"),
            "HttpOnly",
            "SameSite=Strict"
        ]
    );
    let csrf = set_cookie(&reply, "sesame-csrf");
    assert_eq!(
        attributes(&csrf),
        ["Path=/", &format!("Max-Age={session_secs}"), "SameSite=Lax"],
        "the page's script reads the CSRF token"
    );
    let browser = Browser::from(&reply);
    assert_eq!(body["csrf_token"], browser.csrf.as_str());
    for secret in [&browser.access, &browser.refresh] {
        assert!(!reply.body.to_string().contains(secret.as_str()));
    }

    let me = env.send(browser.call(env.get("/v1/auth/me"))).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["email"], email.as_str());
}

#[tokio::test]
async fn deployed_cookies_are_secure_and_prefixed_and_only_this_origin_signs_in() {
    let origin = "https://auth.example.test";
    let env = TestEnv::with_config(|config| {
        config.local_dev = false;
        config.public_url = Some(origin.into());
    })
    .await;
    let email = TestEnv::email("deployed");
    env.register(&email).await;
    let login = || {
        env.post("/v1/auth/login")
            .json(json!({"email": email, "password": PASSWORD, "transport": "cookie"}))
    };
    let reply = env.send(login().header("origin", origin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let session_secs = env.ctx.config.session_ttl.as_secs();
    for (name, expected) in [
        (
            "__Host-sesame-access",
            vec![
                "Path=/",
                "Max-Age=900",
                "HttpOnly",
                "SameSite=Lax",
                "Secure",
            ],
        ),
        (
            "__Secure-sesame-refresh",
            vec![
                "Path=/v1/auth/refresh",
                &format!("Max-Age={session_secs}"),
                "HttpOnly",
                "SameSite=Strict",
                "Secure",
            ],
        ),
        (
            "__Host-sesame-csrf",
            vec![
                "Path=/",
                &format!("Max-Age={session_secs}"),
                "SameSite=Lax",
                "Secure",
            ],
        ),
    ] {
        assert_eq!(attributes(&set_cookie(&reply, name)), expected, "{name}");
    }
    let access = cookie_value(&reply, "__Host-sesame-access");
    let csrf = cookie_value(&reply, "__Host-sesame-csrf");
    let cookie = format!("__Host-sesame-access={access}; __Host-sesame-csrf={csrf}");
    let me = env
        .send(env.get("/v1/auth/me").header("cookie", &cookie))
        .await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    let unprefixed = env
        .send(
            env.get("/v1/auth/me")
                .header("cookie", &format!("sesame-access={access}")),
        )
        .await;
    assert_error(&unprefixed, StatusCode::UNAUTHORIZED, "missing_token");

    let change = || {
        env.patch("/v1/auth/me")
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(json!({"first_name": "Grace"}))
    };
    let cross = env.send(change().header("origin", EVIL)).await;
    assert_error(&cross, StatusCode::FORBIDDEN, "cross_site_request");
    let same = env.send(change().header("origin", origin)).await;
    assert_eq!(same.status, StatusCode::OK, "{:?}", same.body);
    assert_eq!(same.body["first_name"], "Grace");

    let refused = env.send(login().header("origin", EVIL)).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "cross_site_request");
    assert!(set_cookies(&refused).is_empty());
}

#[tokio::test]
async fn a_cookie_login_from_another_site_is_refused_before_any_session_starts() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("login-csrf");
    let tokens = env.register(&email).await;
    let login = || {
        env.post("/v1/auth/login")
            .json(json!({"email": email, "password": PASSWORD, "transport": "cookie"}))
    };
    for call in [
        login().header("origin", EVIL),
        login().header("sec-fetch-site", "cross-site"),
    ] {
        let reply = env.send(call).await;
        assert_error(&reply, StatusCode::FORBIDDEN, "cross_site_request");
        assert!(set_cookies(&reply).is_empty());
    }
    let sessions = env
        .send(env.get("/v1/sessions").bearer(&access(&tokens)))
        .await;
    assert_eq!(
        sessions.body["items"].as_array().unwrap().len(),
        1,
        "only the registration's session: {:?}",
        sessions.body
    );
    let bearer = env
        .send(
            env.post("/v1/auth/login")
                .header("origin", EVIL)
                .json(json!({"email": email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        bearer.status,
        StatusCode::OK,
        "a bearer sign-in sets no cookie, so any site may ask: {:?}",
        bearer.body
    );
    assert!(set_cookies(&bearer).is_empty());
    assert!(bearer.body["access_token"].is_string());
}

#[tokio::test]
async fn a_cookie_registration_signs_the_browser_in() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("cookie-register");
    let register = || {
        env.post("/v1/auth/register").json(json!({
            "email": email, "password": PASSWORD, "password2": PASSWORD,
            "first_name": "Ada", "last_name": "Lovelace", "transport": "cookie"
        }))
    };
    let refused = env.send(register().header("origin", EVIL)).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "cross_site_request");
    assert_eq!(
        env.login(&email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "no account was made"
    );
    let reply = env.send(register()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["token_type"], "cookie");
    assert!(reply.body.get("access_token").is_none());
    let me = env
        .send(Browser::from(&reply).call(env.get("/v1/auth/me")))
        .await;
    assert_eq!(me.body["email"], email.as_str());
}

#[tokio::test]
async fn an_unknown_transport_is_refused_naming_the_member() {
    let env = TestEnv::new().await;
    let reply = env
        .send(env.post("/v1/auth/login").json(json!({
            "email": "a@example.test", "password": PASSWORD, "transport": "carrier-pigeon"
        })))
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(reply.body["error"]["fields"]["transport"].is_string());
}

#[tokio::test]
async fn a_bearer_token_wins_over_cookies_and_needs_no_csrf_token() {
    let env = TestEnv::new().await;
    let (bearer_user, _) = user_with_browser(&env, "bearer").await;
    let (_, browser) = user_with_browser(&env, "cookie").await;
    let me = env
        .send(
            browser
                .call(env.get("/v1/auth/me"))
                .bearer(&access(&bearer_user)),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], bearer_user["user"]["id"]);
    let change = env
        .send(
            browser
                .call(env.patch("/v1/auth/me"))
                .header("origin", EVIL)
                .bearer(&access(&bearer_user))
                .json(json!({"first_name": "Bea"})),
        )
        .await;
    assert_eq!(change.status, StatusCode::OK, "{:?}", change.body);
    assert_eq!(change.body["id"], bearer_user["user"]["id"]);
    assert_eq!(change.body["first_name"], "Bea");
    let logout = env
        .send(
            browser
                .call(env.post("/v1/auth/logout"))
                .bearer(&access(&bearer_user)),
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert!(
        set_cookies(&logout).is_empty(),
        "a bearer sign-out leaves the browser's own session alone"
    );
    let still = env.send(browser.call(env.get("/v1/auth/me"))).await;
    assert_eq!(still.status, StatusCode::OK, "{:?}", still.body);
}

#[tokio::test]
async fn a_cookie_change_needs_this_sessions_csrf_token_and_this_site() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("csrf");
    let tokens = env.register(&email).await;
    let browser = Browser::from(&cookie_login(&env, &email).await);
    let other = Browser::from(&cookie_login(&env, &email).await);
    assert_ne!(browser.csrf, other.csrf, "each session has its own token");
    let rename = |call: Call| call.json(json!({"first_name": "Mallory"}));

    let without = env
        .send(rename(browser.call(env.patch("/v1/auth/me"))))
        .await;
    assert_error(&without, StatusCode::FORBIDDEN, "csrf_token_invalid");
    let others = env
        .send(rename(
            browser
                .call(env.patch("/v1/auth/me"))
                .header("x-csrf-token", &other.csrf),
        ))
        .await;
    assert_error(&others, StatusCode::FORBIDDEN, "csrf_token_invalid");
    for (header, value) in [("origin", EVIL), ("sec-fetch-site", "cross-site")] {
        let cross = env
            .send(rename(
                browser
                    .change(env.patch("/v1/auth/me"))
                    .header(header, value),
            ))
            .await;
        assert_error(&cross, StatusCode::FORBIDDEN, "cross_site_request");
    }
    assert_eq!(profile(&env, &tokens).await["first_name"], "Ada");

    let end_others = env
        .send(browser.call(env.delete("/v1/sessions/others")))
        .await;
    assert_error(&end_others, StatusCode::FORBIDDEN, "csrf_token_invalid");
    let alive = env.send(other.call(env.get("/v1/auth/me"))).await;
    assert_eq!(alive.status, StatusCode::OK, "nothing ended");

    let done = env
        .send(rename(browser.change(env.patch("/v1/auth/me"))))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(profile(&env, &tokens).await["first_name"], "Mallory");
    let ended = env
        .send(browser.change(env.delete("/v1/sessions/others")))
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{:?}", ended.body);
    let gone = env.send(other.call(env.get("/v1/auth/me"))).await;
    assert_error(&gone, StatusCode::UNAUTHORIZED, "session_ended");
}

/// A refresh by cookie, as the page's script sends it: no body, the refresh cookie, the CSRF
/// header.
fn cookie_refresh(env: &TestEnv, browser: &Browser) -> Call {
    env.post("/v1/auth/refresh")
        .header("cookie", &browser.refresh_cookie())
        .header("x-csrf-token", &browser.csrf)
}

#[tokio::test]
async fn a_refresh_by_cookie_rotates_the_cookies_and_detects_reuse() {
    let env = TestEnv::new().await;
    let (_, browser) = user_with_browser(&env, "cookie-refresh").await;

    let bare = env
        .send(
            env.post("/v1/auth/refresh")
                .header("cookie", &browser.refresh_cookie()),
        )
        .await;
    assert_error(&bare, StatusCode::FORBIDDEN, "csrf_token_invalid");
    let cross = env
        .send(cookie_refresh(&env, &browser).header("origin", EVIL))
        .await;
    assert_error(&cross, StatusCode::FORBIDDEN, "cross_site_request");

    let reply = env.send(cookie_refresh(&env, &browser)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(reply.body["token_type"], "cookie");
    assert!(reply.body.get("refresh_token").is_none());
    let rotated = Browser::from(&reply);
    assert_ne!(rotated.refresh, browser.refresh);
    assert_eq!(
        rotated.csrf, browser.csrf,
        "the session, and its token, stay"
    );
    assert_eq!(reply.body["csrf_token"], rotated.csrf.as_str());
    let me = env.send(rotated.call(env.get("/v1/auth/me"))).await;
    assert_eq!(me.status, StatusCode::OK);

    let retry = env.send(cookie_refresh(&env, &browser)).await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    assert_eq!(
        Browser::from(&retry).refresh,
        rotated.refresh,
        "another tab within the grace gets the same successor"
    );
    env.clock.advance(chrono::Duration::seconds(11));
    let reuse = env.send(cookie_refresh(&env, &browser)).await;
    assert_error(&reuse, StatusCode::UNAUTHORIZED, "refresh_token_reused");
    let after = env.send(rotated.call(env.get("/v1/auth/me"))).await;
    assert_error(&after, StatusCode::UNAUTHORIZED, "session_ended");
    let next = env.send(cookie_refresh(&env, &rotated)).await;
    assert_eq!(
        next.status,
        StatusCode::UNAUTHORIZED,
        "the thief's pair dies too"
    );
}

#[tokio::test]
async fn a_cookie_logout_clears_the_cookies_and_ends_the_session() {
    let env = TestEnv::new().await;
    let (_, browser) = user_with_browser(&env, "cookie-logout").await;
    let refused = env.send(browser.call(env.post("/v1/auth/logout"))).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "csrf_token_invalid");

    let reply = env.send(browser.change(env.post("/v1/auth/logout"))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    assert_cleared(&reply);
    let me = env.send(browser.call(env.get("/v1/auth/me"))).await;
    assert_error(&me, StatusCode::UNAUTHORIZED, "session_ended");
    let refresh = env.send(cookie_refresh(&env, &browser)).await;
    assert_eq!(
        refresh.status,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        refresh.body
    );
}

#[tokio::test]
async fn a_cookie_revoke_all_clears_the_cookies_and_ends_every_session() {
    let env = TestEnv::new().await;
    let (tokens, browser) = user_with_browser(&env, "cookie-revoke-all").await;
    let reply = env
        .send(browser.change(env.post("/v1/auth/revoke-all")))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    assert_cleared(&reply);
    let me = env.send(browser.call(env.get("/v1/auth/me"))).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        env.me_status(&access(&tokens)).await,
        StatusCode::UNAUTHORIZED
    );
}

/// Asserts the reply clears the three session cookies.
fn assert_cleared(reply: &Reply) {
    let mut cleared: Vec<String> = set_cookies(reply);
    cleared.sort();
    assert_eq!(
        cleared,
        [
            "sesame-access=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
            "sesame-csrf=; Path=/; Max-Age=0; SameSite=Lax",
            "sesame-refresh=; Path=/v1/auth/refresh; Max-Age=0; HttpOnly; SameSite=Strict",
        ]
    );
}

#[tokio::test]
async fn the_web_apps_forms_need_the_sessions_csrf_token_and_this_site() {
    let env = TestEnv::new().await;
    let (tokens, browser) = user_with_browser(&env, "web-form").await;
    let form = |csrf: &str| {
        browser
            .call(env.post("/account/profile"))
            .raw(format!(
                "csrf_token={csrf}&first_name=Eve&middle_name=&last_name=Hacker"
            ))
            .header("content-type", "application/x-www-form-urlencoded")
    };
    let wrong = env.send(form("not-the-token")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.body.as_str().unwrap().contains("csrf_token_invalid"));
    let cross = env.send(form(&browser.csrf).header("origin", EVIL)).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(cross.body.as_str().unwrap().contains("cross_site_request"));
    let unchanged = profile(&env, &tokens).await;
    assert_eq!(
        (&unchanged["first_name"], &unchanged["last_name"]),
        (&json!("Ada"), &json!("Lovelace"))
    );

    let saved = env.send(form(&browser.csrf)).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{:?}", saved.body);
    assert_eq!(profile(&env, &tokens).await["first_name"], "Eve");
}
