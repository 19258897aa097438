//! Strict query strings: the extractor list routes use, and the page-size rule of every list.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page size.
pub const MAX_LIMIT: u32 = 100;

/// A query string whose parse failures are 400s with the error shape (`unknown_field` for
/// parameters the type does not declare, `invalid_query` otherwise). Query types use
/// `#[serde(deny_unknown_fields)]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => {
                let detail = rejection.body_text();
                let detail = detail.rsplit(": ").next().unwrap_or(&detail).to_owned();
                let code = if detail.contains("unknown field") {
                    "unknown_field"
                } else {
                    "invalid_query"
                };
                Err(Error::bad_request(
                    code,
                    format!("the query string is invalid: {detail}"),
                ))
            }
        }
    }
}

/// The page size asked for: [`DEFAULT_LIMIT`] when absent, else 1..=[`MAX_LIMIT`]
/// (400 `validation_failed` on `limit` otherwise).
pub fn page_limit(limit: Option<u32>) -> Result<usize> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        limit @ 1..=MAX_LIMIT => Ok(limit as usize),
        _ => Err(Error::invalid_field(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}
