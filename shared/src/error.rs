//! The one error type of Sesame and its single mapping to an HTTP response.
//!
//! Every fallible function returns [`Result`]. Handlers return it as is; [`Error::into_response`]
//! is the only place that turns a failure into a status code and the contract's error body
//! `{"error": {"code", "message", "request_id", "fields"?}}`. Internal details are logged, never
//! sent to the client.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::request_id;

/// Result with Sesame's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure a caller can act on. The variant decides the status code; `code` is the stable
/// machine-readable `error.code`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that is malformed or breaks a rule (400). `fields` names the offending fields.
    #[error("{message}")]
    Validation {
        code: &'static str,
        message: String,
        fields: BTreeMap<String, String>,
    },
    /// Missing, invalid or expired credentials (401).
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Authenticated but not allowed (403).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// Absent, or belonging to someone else (404).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The request conflicts with the current state (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The thing asked for existed but has expired (410).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// The request's `If-Match` names a version the resource is no longer at (412).
    #[error("the resource changed since the version named in If-Match; reload it and try again")]
    PreconditionFailed,
    /// The body or a declared size is over a limit (413).
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
    /// The body's media type or a declared file type is not accepted (415).
    #[error("{message}")]
    UnsupportedMediaType { code: &'static str, message: String },
    /// The route exists but not with this method (405).
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    /// Too many requests; try again after the given time (429).
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    /// The data store is unavailable or throttling (503).
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// A bug or an unexpected state; details go to the log only (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A 400 with a code and message and no field details.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::Validation {
            code,
            message: message.into(),
            fields: BTreeMap::new(),
        }
    }

    /// A 400 `validation_failed` naming one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Error::Validation {
            code: "validation_failed",
            message: format!("{field}: {message}"),
            fields: BTreeMap::from([(field.to_owned(), message)]),
        }
    }

    /// A 401 with the given code.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Error::Unauthorized {
            code,
            message: message.into(),
        }
    }

    /// A 403 with the given code.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Error::Forbidden {
            code,
            message: message.into(),
        }
    }

    /// A 404 `not_found` for the named kind of thing.
    pub fn not_found(what: &str) -> Self {
        Error::NotFound {
            code: "not_found",
            message: format!("{what} not found"),
        }
    }

    /// A 409 with the given code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A 500 whose message is logged and never sent.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Error::Internal(message.to_string())
    }

    /// The HTTP status of this failure.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Validation { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Gone { .. } => StatusCode::GONE,
            Error::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation { code, .. }
            | Error::Unauthorized { code, .. }
            | Error::Forbidden { code, .. }
            | Error::NotFound { code, .. }
            | Error::Conflict { code, .. }
            | Error::Gone { code, .. }
            | Error::TooLarge { code, .. }
            | Error::UnsupportedMediaType { code, .. } => code,
            Error::MethodNotAllowed => "method_not_allowed",
            Error::PreconditionFailed => "precondition_failed",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable => "service_unavailable",
            Error::Internal(_) => "internal_error",
        }
    }

    /// What a client may read: internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            Error::Unavailable => "The service is temporarily unavailable; try again later.".into(),
            Error::Internal(_) => "Something went wrong on our side; try again later.".into(),
            Error::RateLimited { .. } => "Too many requests; try again later.".into(),
            other => other.to_string(),
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The `error` member of [`ErrorBody`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    pub request_id: String,
    /// On 400s about particular members of the body: each member's path (`subject`,
    /// `permissions[0].resource`) and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Error::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            Error::Unavailable => tracing::warn!("store unavailable"),
            _ => tracing::debug!(
                code = self.code(),
                status = status.as_u16(),
                "request refused"
            ),
        }
        let fields = match &self {
            Error::Validation { fields, .. } if !fields.is_empty() => Some(fields.clone()),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.public_message(),
                request_id: request_id::current(),
                fields,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            Error::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
            Error::Unavailable => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
