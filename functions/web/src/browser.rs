//! Who is using the web app: the browser session read from its cookies, judged by the same
//! guard as every API request ([`auth::authenticate_claims`]), and the CSRF check of every
//! form a page posts ([`Form`]).
//!
//! A page asked for without a live session never answers 401: the browser is sent where it
//! can go on. No access cookie but a session's CSRF cookie (its access token ran out): the
//! refresh page, whose script refreshes through the API's refresh route (the only path the
//! refresh cookie is sent to) and reloads. A session that ended (signed out elsewhere, a
//! deactivated account, a changed password): cookies cleared and off to sign-in, at the very
//! next navigation.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use shared::auth::{self, Principal};
use shared::context::SigningContext;
use shared::http::IfMatch;
use shared::http::cookies::{self, Cookie};
use shared::{Error, tokens};

use crate::layout;

/// A signed-in browser: the caller, and its session's CSRF token for the page's forms.
pub struct Browser {
    pub who: Principal,
    pub csrf: String,
}

impl Browser {
    /// The signed-in user.
    pub fn user(&self) -> &shared::domain::User {
        &self.who.user
    }
}

impl FromRequestParts<SigningContext> for Browser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &SigningContext,
    ) -> Result<Self, Self::Rejection> {
        let config = &ctx.config;
        let next = return_path(parts);
        let Some(token) = Cookie::Access.read(config, &parts.headers) else {
            return Err(match Cookie::Csrf.read(config, &parts.headers) {
                Some(_) => layout::refresh_page(&next),
                None => to_sign_in(&next),
            });
        };
        let Ok(claims) = tokens::verify_access_token(&ctx.verifier, config, &token, ctx.now())
        else {
            return Err(layout::refresh_page(&next));
        };
        match auth::authenticate_claims(ctx, &claims).await {
            Ok(who) => Ok(Browser {
                csrf: cookies::csrf_token(config, &who.session.id),
                who,
            }),
            Err(Error::Unauthorized { .. }) => Err(signed_out(ctx, &next)),
            Err(error) => Err(layout::error_page(error)),
        }
    }
}

/// Where to come back to after signing in: this page for a `GET`, else the page the form was
/// on (a same-origin `Referer`), else the account page.
fn return_path(parts: &Parts) -> String {
    if parts.method == Method::GET {
        return parts
            .uri
            .path_and_query()
            .map_or("/account".into(), |p| p.to_string());
    }
    parts
        .headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|referer| referer.parse::<Uri>().ok())
        .and_then(|uri| uri.path_and_query().map(|p| p.to_string()))
        .map_or("/account".into(), |path| safe_next(Some(&path)))
}

/// A local path to go to after signing in: only `/`-rooted paths of this site (never `//host`
/// or a scheme), else the account page.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.contains(['\r', '\n']) =>
        {
            path.to_owned()
        }
        _ => "/account".into(),
    }
}

/// A redirect to the sign-in page that comes back to `next`.
pub fn to_sign_in(next: &str) -> Response {
    let next = percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC);
    Redirect::to(&format!("/sign-in?next={next}")).into_response()
}

/// The answer to a browser whose session ended: cookies cleared, sent to sign in.
pub fn signed_out(ctx: &SigningContext, next: &str) -> Response {
    (cookies::sign_out(&ctx.config), to_sign_in(next)).into_response()
}

/// A page's redirect after a change (`303 See Other`, so the browser fetches it with `GET`).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// Signs the browser in with a new token pair: the session cookies, then `next`.
pub fn signed_in(
    ctx: &SigningContext,
    tokens: &shared::views::TokenResponse,
    next: &str,
) -> Response {
    (cookies::sign_in(&ctx.config, tokens), see_other(next)).into_response()
}

/// A posted form of a signed-in browser: the browser, and the fields `T`, accepted only when
/// it came from this site with the session's CSRF token (field `csrf_token`), else a 403 page.
pub struct Form<T>(pub Browser, pub T);

impl<T: DeserializeOwned> FromRequest<SigningContext> for Form<T> {
    type Rejection = Response;

    async fn from_request(request: Request, ctx: &SigningContext) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        // A post from another site is refused as such first: its browser does not send the
        // `SameSite` session cookies, so it would otherwise look signed out.
        cookies::check_origin(&ctx.config, &parts.headers).map_err(layout::error_page)?;
        let browser = Browser::from_request_parts(&mut parts, ctx).await?;
        let fields = read_form(&parts.headers, body)
            .await
            .map_err(layout::error_page)?;
        let presented = serde_urlencoded::from_bytes::<CsrfField>(&fields)
            .ok()
            .map(|field| field.csrf_token);
        cookies::check_csrf(
            &ctx.config,
            &parts.headers,
            &browser.who.session.id,
            presented.as_deref(),
        )
        .map_err(layout::error_page)?;
        let form = parse_form(&fields).map_err(layout::error_page)?;
        Ok(Form(browser, form))
    }
}

/// A posted form of a browser not signed in (sign-in, registration): accepted only from this
/// site ([`cookies::check_origin`]).
pub struct PublicForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<SigningContext> for PublicForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, ctx: &SigningContext) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        cookies::check_origin(&ctx.config, &parts.headers).map_err(layout::error_page)?;
        let fields = read_form(&parts.headers, body)
            .await
            .map_err(layout::error_page)?;
        Ok(PublicForm(parse_form(&fields).map_err(layout::error_page)?))
    }
}

/// The fields of a form that posts nothing but its CSRF token (a sign-out button).
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// The `If-Match` of a versioned form: the entity-tag its page was shown with (a hidden field),
/// read as the API reads the header; empty or malformed → 400 `invalid_if_match`.
pub fn if_match(version: &str) -> Result<IfMatch, Error> {
    let invalid = || {
        Error::bad_request(
            "invalid_if_match",
            "this form names no version; reload the page and try again",
        )
    };
    if version.is_empty() {
        return Err(invalid());
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        header::IF_MATCH,
        axum::http::HeaderValue::from_str(version).map_err(|_| invalid())?,
    );
    IfMatch::from_headers(&headers)
}

#[derive(serde::Deserialize)]
struct CsrfField {
    csrf_token: String,
}

async fn read_form(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, Error> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(Error::UnsupportedMediaType {
            code: "unsupported_media_type",
            message: "pages post forms (application/x-www-form-urlencoded)".into(),
        });
    }
    axum::body::to_bytes(body, shared::http::json::MAX_BODY_BYTES)
        .await
        .map_err(|_| Error::TooLarge {
            code: "body_too_large",
            message: "this form is too large".into(),
        })
}

fn parse_form<T: DeserializeOwned>(fields: &[u8]) -> Result<T, Error> {
    serde_urlencoded::from_bytes(fields)
        .map_err(|e| Error::bad_request("invalid_form", format!("this form is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_signing_in() {
        assert_eq!(
            safe_next(Some("/tickets?status=open")),
            "/tickets?status=open"
        );
        for outside in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "/a\r\nSet-Cookie: x=y",
        ] {
            assert_eq!(safe_next(Some(outside)), "/account", "{outside:?}");
        }
        assert_eq!(safe_next(None), "/account");
    }

    #[test]
    fn a_forms_version_is_the_if_match_of_the_api() {
        let etag = shared::http::ETag::of_version(3);
        assert!(if_match("\"v3\"").unwrap().check(&etag).is_ok());
        assert!(matches!(
            if_match("\"v2\"").unwrap().check(&etag),
            Err(Error::PreconditionFailed)
        ));
        assert!(if_match("v3").is_err(), "a tag is quoted");
        assert!(if_match("\"v3\"\n").is_err());
        assert!(if_match("").is_err());
    }
}
