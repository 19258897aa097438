//! Authorization: the one mechanism every route group uses.
//!
//! A protected admin route names its resource (`users`, `sessions`, `tickets`, ...); the HTTP
//! method maps to an action (GET → read, POST → create, PUT/PATCH → update, DELETE → delete) and
//! the caller must be a superuser or hold a role granting that action (or `all`) on the resource.

use axum::http::Method;

use crate::auth::Principal;
use crate::context::Context;
use crate::domain::User;
use crate::error::{Error, Result};

/// The action a request method asks for.
pub fn action_for(method: &Method) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => "read",
        Method::POST => "create",
        Method::PUT | Method::PATCH => "update",
        Method::DELETE => "delete",
        _ => "all",
    }
}

/// Whether `user` may perform `action` on `resource`.
pub async fn is_allowed(
    _ctx: &Context,
    user: &User,
    _resource: &str,
    _action: &str,
) -> Result<bool> {
    Ok(user.is_superuser)
}

/// Refuses (403 `forbidden`) unless `who` may use `method` on `resource`.
pub async fn authorize(
    ctx: &Context,
    who: &Principal,
    resource: &str,
    method: &Method,
) -> Result<()> {
    if is_allowed(ctx, &who.user, resource, action_for(method)).await? {
        Ok(())
    } else {
        Err(Error::forbidden(
            "forbidden",
            format!("you may not {} {resource}", action_for(method)),
        ))
    }
}
