//! Browser sessions: the cookie transport of the token pair, and the CSRF defence every
//! cookie-authenticated change goes through.
//!
//! A browser holds its access token and refresh token in `HttpOnly` cookies that script cannot
//! read: the access cookie for the whole site, the refresh cookie only on [`REFRESH_PATH`]. With
//! `Secure` (everywhere but a local server on plain `http`, [`Config::secure_cookies`]) their
//! names take the `__Host-` prefix (the browser then refuses them from any other host, path or
//! insecure origin) or, for the path-scoped refresh cookie, `__Secure-`.
//!
//! Cookies ride along on requests a browser makes for other sites, so a request authenticated by
//! cookie that changes anything must pass [`check_csrf`]: it comes from this origin
//! (`Sec-Fetch-Site`, `Origin`) and presents the session's CSRF token, an HMAC of the session id
//! under the server's key ([`csrf_token`]): nothing to store, unguessable without the key, and
//! valid for exactly one session. The token is also in a cookie script may read ([`Cookie::Csrf`]),
//! for pages that send it in the [`CSRF_HEADER`].

use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::domain::SessionId;
use crate::error::{Error, Result};
use crate::views::TokenResponse;

/// The header a cookie-authenticated request presents its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The one path the refresh cookie is sent to: the refresh route.
pub const REFRESH_PATH: &str = "/v1/auth/refresh";

/// The cookies of a browser session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookie {
    /// The access token (`HttpOnly`, `SameSite=Lax`, the whole site, its token's lifetime).
    Access,
    /// The refresh token (`HttpOnly`, `SameSite=Strict`, only [`REFRESH_PATH`]).
    Refresh,
    /// The session's CSRF token, readable by the site's own script (`SameSite=Lax`).
    Csrf,
    /// A QR login's poll token, kept by the browser that asked (`HttpOnly`, `SameSite=Strict`).
    QrPoll,
}

impl Cookie {
    /// The cookie's name: prefixed when cookies are `Secure`.
    pub fn name(self, config: &Config) -> &'static str {
        match (self, config.secure_cookies()) {
            (Cookie::Access, true) => "__Host-sesame-access",
            (Cookie::Access, false) => "sesame-access",
            (Cookie::Refresh, true) => "__Secure-sesame-refresh",
            (Cookie::Refresh, false) => "sesame-refresh",
            (Cookie::Csrf, true) => "__Host-sesame-csrf",
            (Cookie::Csrf, false) => "sesame-csrf",
            (Cookie::QrPoll, true) => "__Host-sesame-qr",
            (Cookie::QrPoll, false) => "sesame-qr",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Cookie::Refresh => REFRESH_PATH,
            _ => "/",
        }
    }

    fn attributes(self) -> &'static str {
        match self {
            Cookie::Access => "; HttpOnly; SameSite=Lax",
            Cookie::Refresh | Cookie::QrPoll => "; HttpOnly; SameSite=Strict",
            Cookie::Csrf => "; SameSite=Lax",
        }
    }

    /// The `Set-Cookie` value that stores `value` for `max_age_secs`.
    pub fn set(self, config: &Config, value: &str, max_age_secs: u64) -> HeaderValue {
        let secure = if config.secure_cookies() {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{}={value}; Path={}; Max-Age={max_age_secs}{}{secure}",
            self.name(config),
            self.path(),
            self.attributes(),
        );
        HeaderValue::try_from(cookie).expect("cookie values are tokens of URL-safe characters")
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn clear(self, config: &Config) -> HeaderValue {
        self.set(config, "", 0)
    }

    /// This cookie's value in the request's `Cookie` headers, if present and not empty.
    pub fn read(self, config: &Config, headers: &HeaderMap) -> Option<String> {
        let name = self.name(config);
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, value)| *key == name && !value.is_empty())
            .map(|(_, value)| value.to_owned())
    }
}

/// The `Set-Cookie` headers that hold a new or refreshed token pair: access, refresh and CSRF
/// cookies. The refresh and CSRF cookies last as long as the session may.
pub fn sign_in(config: &Config, tokens: &TokenResponse) -> HeaderMap {
    let session_secs = config.session_ttl.as_secs();
    let csrf = tokens
        .session_id
        .parse::<SessionId>()
        .map(|session| csrf_token(config, &session))
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    for cookie in [
        Cookie::Access.set(config, &tokens.access_token, tokens.expires_in),
        Cookie::Refresh.set(config, &tokens.refresh_token, session_secs),
        Cookie::Csrf.set(config, &csrf, session_secs),
    ] {
        headers.append(SET_COOKIE, cookie);
    }
    headers
}

/// The `Set-Cookie` headers that end a browser session: every session cookie cleared.
pub fn sign_out(config: &Config) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for cookie in [Cookie::Access, Cookie::Refresh, Cookie::Csrf] {
        headers.append(SET_COOKIE, cookie.clear(config));
    }
    headers
}

/// The CSRF token of a session: the server's HMAC of its id.
pub fn csrf_token(config: &Config, session: &SessionId) -> String {
    config.cursor_key.tag("csrf", &session.to_string())
}

/// Refuses (403 `cross_site_request`) a request a browser sent on behalf of another site:
/// `Sec-Fetch-Site` other than `same-origin` (or `none`, typed by the user), or an `Origin`
/// other than [`Config::public_url`] (or, without one, the request's own `Host`). A request
/// with neither header (not a browser's) passes; cookie-authenticated ones still need the token.
pub fn check_origin(config: &Config, headers: &HeaderMap) -> Result<()> {
    let refuse = || {
        Err(Error::forbidden(
            "cross_site_request",
            "this request came from another site",
        ))
    };
    let header = |name| headers.get(name).map(|v| v.to_str().unwrap_or_default());
    if let Some(site) = header("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return refuse();
    }
    let Some(origin) = header(ORIGIN.as_str()) else {
        return Ok(());
    };
    let same = match &config.public_url {
        Some(public) => origin == public,
        None => origin
            .split_once("://")
            .is_some_and(|(_, host)| Some(host) == header(HOST.as_str())),
    };
    if same { Ok(()) } else { refuse() }
}

/// Refuses a cookie-authenticated change that is cross-site ([`check_origin`]) or does not
/// present the CSRF token of `session` (403 `csrf_token_invalid`), compared in constant time.
pub fn check_csrf(
    config: &Config,
    headers: &HeaderMap,
    session: &SessionId,
    presented: Option<&str>,
) -> Result<()> {
    check_origin(config, headers)?;
    let expected = csrf_token(config, session);
    match presented {
        Some(token) if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        _ => Err(Error::forbidden(
            "csrf_token_invalid",
            "this change needs the session's CSRF token",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Config {
        Config {
            local_dev: true,
            public_url: Some(crate::config::LOCAL_PUBLIC_URL.into()),
            ..Config::default()
        }
    }

    fn deployed() -> Config {
        Config {
            public_url: Some("https://auth.example.com".into()),
            ..Config::default()
        }
    }

    #[test]
    fn deployed_cookies_are_secure_and_prefixed_local_ones_plain() {
        let cookie = Cookie::Access.set(&deployed(), "token", 900);
        assert_eq!(
            cookie,
            "__Host-sesame-access=token; Path=/; Max-Age=900; HttpOnly; SameSite=Lax; Secure"
        );
        let refresh = Cookie::Refresh.set(&deployed(), "r", 60);
        assert_eq!(
            refresh,
            "__Secure-sesame-refresh=r; Path=/v1/auth/refresh; Max-Age=60; HttpOnly; \
             SameSite=Strict; Secure"
        );
        assert_eq!(
            Cookie::Csrf.clear(&local()),
            "sesame-csrf=; Path=/; Max-Age=0; SameSite=Lax"
        );
    }

    #[test]
    fn a_cookie_is_read_by_its_exact_name() {
        let config = local();
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("x-sesame-access=no; a=b"));
        headers.append(COOKIE, HeaderValue::from_static("sesame-access=yes"));
        assert_eq!(
            Cookie::Access.read(&config, &headers).as_deref(),
            Some("yes")
        );
        assert_eq!(Cookie::Refresh.read(&config, &headers), None);
    }

    #[test]
    fn only_same_origin_requests_with_the_sessions_token_pass() {
        let config = deployed();
        let session = SessionId::new();
        let token = csrf_token(&config, &session);
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            headers
        };
        let same = with(&[
            ("origin", "https://auth.example.com"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(check_csrf(&config, &same, &session, Some(&token)).is_ok());
        assert!(check_csrf(&config, &same, &SessionId::new(), Some(&token)).is_err());
        assert!(check_csrf(&config, &same, &session, None).is_err());
        for cross in [
            with(&[("origin", "https://evil.example")]),
            with(&[("sec-fetch-site", "cross-site")]),
            with(&[("sec-fetch-site", "same-site")]),
        ] {
            assert!(check_csrf(&config, &cross, &session, Some(&token)).is_err());
        }
        let by_host = Config {
            public_url: None,
            ..deployed()
        };
        let host = with(&[
            ("origin", "https://api.example.com"),
            ("host", "api.example.com"),
        ]);
        assert!(check_origin(&by_host, &host).is_ok());
        let other = with(&[
            ("origin", "https://evil.example"),
            ("host", "api.example.com"),
        ]);
        assert!(check_origin(&by_host, &other).is_err());
    }
}
