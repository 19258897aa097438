//! Strict JSON input: the body extractor every handler uses.
//!
//! Every route's body goes through [`Json`], so every route answers bad input with the same
//! error shape. A failure that concerns one field names it in `error.fields`, keyed by its path
//! in the body: `subject`, `permissions[0].resource` (object members joined with `.`, array
//! indexes in brackets, as `serde_path_to_error` prints them).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::Error;

/// Largest accepted request body (64 KiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body, parsed strictly. Request types use `#[serde(deny_unknown_fields)]`.
///
/// Rejections, all with the contract's error shape:
/// - 415 `unsupported_media_type` without a JSON content type;
/// - 413 `body_too_large` over [`MAX_BODY_BYTES`];
/// - 400 `invalid_body` when the body is not JSON, or not the JSON object the route expects;
/// - 400 `unknown_field` for a member the type does not declare, named in `fields`;
/// - 400 `validation_failed` for a member with the wrong type, `null`, an unknown enum value or
///   an out-of-range number, and for a missing required member, each named in `fields`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(Error::UnsupportedMediaType {
                code: "unsupported_media_type",
                message: "send the body as application/json".into(),
            });
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge {
                        code: "body_too_large",
                        message: format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
                    },
                    _ => Error::bad_request("invalid_body", "the request body could not be read"),
                })?;
        parse(&bytes).map(Json)
    }
}

/// Whether the request declares a JSON body: `application/json` or an `application/*+json`
/// type, parameters such as `charset` allowed (the same rule as `axum::Json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(Ok(content_type)) = headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|subtype| subtype == "json" || subtype.ends_with("+json"))
}

/// Parses one JSON value of type `T` that fills the whole body, mapping a failure to the error
/// documented on [`Json`].
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // serde would also read a struct from an array of its members in order; every request body
    // is an object, so an array (or any other value) is refused before it gets that far.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(Error::bad_request(
            "invalid_body",
            "the request body must be a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let error = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => {
            deserializer.end().map_err(|error| not_json(&error))?;
            return Ok(value);
        }
        Err(error) => error,
    };
    let path = error.path().to_string();
    let error = error.into_inner();
    if error.classify() == Category::Data {
        return Err(member_error(&path, reason(&error)));
    }
    // serde_json reports a few type errors as syntax errors ("expected value" for a number where
    // an enum is expected); when the body is well-formed JSON, the member is what is wrong. The
    // check parses into a `Value` because that, unlike `IgnoredAny`, validates every string's
    // UTF-8 and every number's range.
    if serde_json::from_slice::<serde_json::Value>(bytes).is_ok() {
        return Err(member_error(&path, "has the wrong type".into()));
    }
    Err(not_json(&error))
}

/// The 400 for a body that is not JSON at all.
fn not_json(error: &serde_json::Error) -> Error {
    Error::bad_request(
        "invalid_body",
        format!("the request body is not valid JSON: {}", reason(error)),
    )
}

/// The 400 for well-formed JSON whose member at `path` (`.` for the body itself) does not fit
/// the route's type, for the given reason.
fn member_error(path: &str, reason: String) -> Error {
    // `serde_path_to_error` stands on an unknown member when serde rejects it, but on the
    // enclosing object when serde finds a member missing; serde names the missing member only in
    // its fixed message "missing field `name`", so the name is taken from there.
    if reason.starts_with("unknown field `") {
        return field_error(
            "unknown_field",
            path.to_owned(),
            "is not a known field".into(),
        );
    }
    let missing = reason
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    if let Some(name) = missing {
        let field = match path {
            "." => name.to_owned(),
            parent => format!("{parent}.{name}"),
        };
        return field_error("validation_failed", field, "is required".into());
    }
    if path == "." {
        return Error::bad_request(
            "invalid_body",
            format!("the request body is invalid: {reason}"),
        );
    }
    field_error("validation_failed", path.to_owned(), reason)
}

fn field_error(code: &'static str, field: String, reason: String) -> Error {
    Error::Validation {
        code,
        message: format!("{field}: {reason}"),
        fields: [(field, reason)].into(),
    }
}

/// serde_json's message without its ` at line L column C` suffix, which means nothing to a
/// client that did not lay out the body by hand.
fn reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    message
        .strip_suffix(&position)
        .unwrap_or(&message)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Role {
        name: String,
        #[serde(default)]
        permissions: Vec<Permission>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Permission {
        resource: String,
        action: Action,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Action {
        Read,
    }

    /// The code and the `fields` of parsing `body` as a [`Role`].
    fn refusal(body: impl AsRef<[u8]>) -> (&'static str, BTreeMap<String, String>) {
        let body = body.as_ref();
        match parse::<Role>(body) {
            Err(Error::Validation { code, fields, .. }) => (code, fields),
            other => panic!("{body:?} is refused with 400, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_body_parses() {
        let role: Role =
            parse(br#"{"name": "a", "permissions": [{"resource": "r", "action": "read"}]}"#)
                .unwrap();
        assert_eq!(role.name, "a");
        assert_eq!(role.permissions[0].resource, "r");
        assert_eq!(role.permissions[0].action, Action::Read);
    }

    #[test]
    fn a_failure_in_a_member_names_its_path() {
        for (body, code, field) in [
            (r#"{"name": null}"#, "validation_failed", "name"),
            (r#"{"name": 5}"#, "validation_failed", "name"),
            (r#"{}"#, "validation_failed", "name"),
            (r#"{"name": "a", "admin": 1}"#, "unknown_field", "admin"),
            (
                r#"{"name": "a", "permissions": [{"resource": "r", "action": "fly"}]}"#,
                "validation_failed",
                "permissions[0].action",
            ),
            (
                r#"{"name": "a", "permissions": [{"resource": "r", "action": "read"}, {"action": "read"}]}"#,
                "validation_failed",
                "permissions[1].resource",
            ),
            (
                r#"{"name": "a", "permissions": [{"resource": "r", "action": "read", "x": 1}]}"#,
                "unknown_field",
                "permissions[0].x",
            ),
            (
                r#"{"name": "a", "permissions": {}}"#,
                "validation_failed",
                "permissions",
            ),
            (
                r#"{"name": "a", "permissions": [{"resource": "r", "action": 1}]}"#,
                "validation_failed",
                "permissions[0].action",
            ),
        ] {
            let (got_code, fields) = refusal(body);
            assert_eq!(got_code, code, "{body}");
            assert_eq!(fields.keys().collect::<Vec<_>>(), [field], "{body}");
            assert!(!fields[field].contains("line"), "{body}: {fields:?}");
        }
    }

    #[test]
    fn a_body_that_is_not_a_well_formed_object_names_no_field() {
        for body in [
            &b"{not json"[..],
            b"[]",
            br#"["a", []]"#,
            b"null",
            b"5",
            br#"{"name": "a"} {}"#,
            b"{\"name\": \"\xff\xfe\"}",
            br#"{"name": "a", "permissions": [{"resource": 1e400}]}"#,
            b"",
        ] {
            let (code, fields) = refusal(body);
            assert_eq!(code, "invalid_body", "{body:?}");
            assert!(fields.is_empty(), "{body:?}");
        }
    }

    #[test]
    fn json_content_types_are_recognised_with_parameters() {
        let with = |value: &'static str| {
            HeaderMap::from_iter([(header::CONTENT_TYPE, value.parse().unwrap())])
        };
        for accepted in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json(&with(accepted)), "{accepted}");
        }
        for refused in ["text/plain", "application/jsonx", "text/json", ""] {
            assert!(!is_json(&with(refused)), "{refused}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
