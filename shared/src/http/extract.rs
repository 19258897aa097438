//! Extractors that read who is calling: [`ClientInfo`], [`Authenticated`] and
//! [`VerifiedToken`].

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use lambda_http::request::RequestContext;

use crate::auth::{self, Principal};
use crate::client::{self, ClientInfo};
use crate::config::Config;
use crate::context::Context;
use crate::domain::{Device, Location};
use crate::error::Error;
use crate::http::cookies::{self, Cookie};
use crate::tokens::{self, AccessClaims};

impl<S> FromRequestParts<S> for ClientInfo
where
    S: Send + Sync,
    Context: FromRef<S>,
{
    type Rejection = Error;

    /// The client IP comes from API Gateway's request context in Lambda and from the socket
    /// locally; forwarding headers are not trusted. Behind CloudFront (`trust_geo_headers`),
    /// the IP and location come from CloudFront's viewer headers, but only on a request that
    /// carries the origin secret.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(client_info(parts, &Context::from_ref(state).config))
    }
}

/// The [`ClientInfo`] of a request (see its extractor).
pub(crate) fn client_info(parts: &Parts, config: &Config) -> ClientInfo {
    let viewer = config
        .origin_verify
        .as_ref()
        .filter(|_| config.trust_geo_headers)
        .and_then(|secret| client::cloudfront_viewer(&parts.headers, secret));
    let network_ip = match parts.extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(gateway)) => gateway.http.source_ip.clone(),
        _ => parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string()),
    };
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let (ip, location) = match viewer {
        Some(viewer) => (
            viewer.ip.map(|ip| ip.to_string()).or(network_ip),
            viewer.location,
        ),
        None => (network_ip, Location::default()),
    };
    ClientInfo {
        ip,
        device: Device::from_user_agent(user_agent),
        location,
    }
}

/// The `Bearer` token of the `Authorization` header, if any. A request authenticated without
/// one ([`VerifiedToken`]) was authenticated by the browser session's access cookie.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The caller of a protected route: a verified access token whose session and user were
/// loaded and found live (see [`auth::authenticate`]).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    Context: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let VerifiedToken(claims) = VerifiedToken::from_request_parts(parts, state).await?;
        let ctx = Context::from_ref(state);
        Ok(Authenticated(
            auth::authenticate_claims(&ctx, &claims).await?,
        ))
    }
}

/// A verified access token whose session and user are not loaded yet: for a route whose
/// service loads them in the same round trip as its own data and applies the guard itself
/// (`quota::consume`, through `auth::authenticate_with_quota`). Refuses like
/// [`Authenticated`] does before it reads the store (401 `missing_token`, `invalid_token`).
///
/// The token is the `Bearer` of the `Authorization` header or, without one, the browser
/// session's access cookie ([`Cookie::Access`]); a cookie-authenticated request with an unsafe
/// method must also pass [`cookies::check_csrf`] with the [`cookies::CSRF_HEADER`] (403).
#[derive(Debug, Clone)]
pub struct VerifiedToken(pub AccessClaims);

impl<S> FromRequestParts<S> for VerifiedToken
where
    S: Send + Sync,
    Context: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ctx = Context::from_ref(state);
        if let Some(token) = bearer_token(&parts.headers) {
            let claims = tokens::verify_access_token(&ctx.verifier, &ctx.config, token, ctx.now())?;
            return Ok(VerifiedToken(claims));
        }
        let token = Cookie::Access
            .read(&ctx.config, &parts.headers)
            .ok_or_else(|| Error::unauthorized("missing_token", "an access token is required"))?;
        let claims = tokens::verify_access_token(&ctx.verifier, &ctx.config, &token, ctx.now())?;
        if !parts.method.is_safe() {
            let presented = parts
                .headers
                .get(cookies::CSRF_HEADER)
                .and_then(|v| v.to_str().ok());
            cookies::check_csrf(&ctx.config, &parts.headers, &claims.sid, presented)?;
        }
        Ok(VerifiedToken(claims))
    }
}
