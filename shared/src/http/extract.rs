//! Extractors that read who is calling: [`ClientInfo`] and [`Authenticated`].

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;

use crate::auth::{self, Principal};
use crate::client::ClientInfo;
use crate::context::Context;
use crate::domain::{Device, Location};
use crate::error::Error;

impl FromRequestParts<Context> for ClientInfo {
    type Rejection = Error;

    /// The client IP comes from API Gateway's request context in Lambda and from the socket
    /// locally; forwarding headers are not trusted. Geo headers are read only when configured.
    async fn from_request_parts(parts: &mut Parts, ctx: &Context) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<RequestContext>() {
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
        let location = if ctx.config.trust_geo_headers {
            Location::from_headers(&parts.headers)
        } else {
            Location::default()
        };
        Ok(ClientInfo {
            ip,
            device: Device::from_user_agent(user_agent),
            location,
        })
    }
}

/// The `Bearer` token of the `Authorization` header, if any.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
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

impl FromRequestParts<Context> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, ctx: &Context) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)
            .ok_or_else(|| Error::unauthorized("missing_token", "an access token is required"))?;
        Ok(Authenticated(auth::authenticate(ctx, token).await?))
    }
}
