//! Query strings: the strict extractor and the list parameters `limit` and `cursor`.

use axum::extract::{FromRequestParts, Query as AxumQuery};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::cursor::Cursor;
use crate::error::{Error, Result};

/// A query string parsed into `T`; failures are 400 `invalid_query` with the error shape.
#[derive(Debug, Clone, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        AxumQuery::<T>::from_request_parts(parts, state)
            .await
            .map(|AxumQuery(value)| Query(value))
            .map_err(|rejection| {
                let detail = rejection.body_text();
                let detail = detail.rsplit(": ").next().unwrap_or(&detail).to_owned();
                Error::bad_request(
                    "invalid_query",
                    format!("the query string is invalid: {detail}"),
                )
            })
    }
}

/// `?limit=` (default 20, 1 to 100) and `?cursor=` (opaque, the `next_cursor` of a previous
/// page of the same list).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 512)]
    pub cursor: Option<String>,
}

impl PageParams {
    /// The page size, or 400 `invalid_query` outside 1..=100.
    pub fn limit(&self) -> Result<usize> {
        match self.limit {
            None => Ok(20),
            Some(limit @ 1..=100) => Ok(limit as usize),
            Some(_) => Err(Error::bad_request(
                "invalid_query",
                "limit must be between 1 and 100",
            )),
        }
    }

    /// The client's cursor, shape-checked (400 `invalid_cursor` when it cannot be one of ours);
    /// the list that issued it verifies it with [`crate::cursor::CursorKey::open`].
    pub fn cursor(&self) -> Result<Option<Cursor>> {
        self.cursor.as_deref().map(Cursor::parse).transpose()
    }
}
