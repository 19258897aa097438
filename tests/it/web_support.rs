//! A browser over HTTP for the web app's page tests: the cookies the app set, signed-in page
//! requests with them, forms posted with the session's CSRF token, and readers of the HTML.

use std::collections::BTreeMap;

use axum::http::StatusCode;

use crate::support::{PASSWORD, Reply, TestEnv};

/// A browser: the cookies the web app set in it.
pub struct Browser {
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A fresh browser that posted the sign-in form for `email` with [`PASSWORD`], and the
    /// answer (a redirect, or the second step's page when the account has a second factor).
    pub async fn sign_in_form(env: &TestEnv, email: &str) -> (Browser, Reply) {
        let mut browser = Browser {
            cookies: BTreeMap::new(),
        };
        let fields = [
            ("email", email),
            ("password", PASSWORD),
            ("next", "/account"),
        ];
        let reply = env.send(form_call(env.post("/sign-in"), &fields)).await;
        browser.keep(&reply);
        (browser, reply)
    }

    /// A browser signed in as `email` with the web form.
    pub async fn sign_in(env: &TestEnv, email: &str) -> Browser {
        let (browser, reply) = Browser::sign_in_form(env, email).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{:?}", reply.body);
        assert!(browser.cookies.contains_key("sesame-access"));
        browser
    }

    /// Takes the cookies a reply sets (an empty one is cleared).
    pub fn keep(&mut self, reply: &Reply) {
        for value in reply.headers.get_all("set-cookie") {
            let cookie = value.to_str().unwrap();
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, env: &TestEnv, path: &str) -> Reply {
        let reply = env
            .send(env.get(path).header("cookie", &self.cookie_header()))
            .await;
        self.keep(&reply);
        reply
    }

    /// Posts a form of a signed-in page, with the session's CSRF token.
    pub async fn post(&mut self, env: &TestEnv, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.cookies.get("sesame-csrf").cloned().unwrap_or_default();
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        let call = form_call(env.post(path), &all).header("cookie", &self.cookie_header());
        let reply = env.send(call).await;
        self.keep(&reply);
        reply
    }
}

/// `call` with `fields` as its `application/x-www-form-urlencoded` body.
pub fn form_call(call: crate::support::Call, fields: &[(&str, &str)]) -> crate::support::Call {
    call.raw(form(fields))
        .header("content-type", "application/x-www-form-urlencoded")
}

/// An `application/x-www-form-urlencoded` body.
pub fn form(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The HTML of a page.
pub fn html(reply: &Reply) -> &str {
    reply
        .body
        .as_str()
        .unwrap_or_else(|| panic!("{:?}", reply.body))
}

/// The value of the first hidden field `name` of a page.
pub fn hidden(reply: &Reply, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let page = html(reply);
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}
