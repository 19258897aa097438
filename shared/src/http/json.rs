//! Strict JSON input: the body extractor every handler uses.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Largest accepted request body (64 KiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body whose parse failures are 400s with the error shape (`unknown_field` for fields
/// the type does not declare, `invalid_body` otherwise), 413 when over [`MAX_BODY_BYTES`] and
/// 415 without a JSON content type. Request types use `#[serde(deny_unknown_fields)]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
    }
}

fn rejection_to_error(rejection: JsonRejection) -> Error {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge {
            code: "body_too_large",
            message: format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::UnsupportedMediaType {
            code: "unsupported_media_type",
            message: "send the body as application/json".into(),
        },
        _ => {
            let detail = rejection.body_text();
            let detail = detail.rsplit(": ").next().unwrap_or(&detail).to_owned();
            let code = if detail.contains("unknown field") {
                "unknown_field"
            } else {
                "invalid_body"
            };
            Error::bad_request(code, format!("the request body is invalid: {detail}"))
        }
    }
}
