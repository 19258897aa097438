//! Conditional requests (RFC 9110 §13): the `ETag` of a versioned resource and the `If-Match`
//! precondition of a write.
//!
//! Tickets, roles and users carry a version that every change bumps in a conditional write.
//! Their responses name it as a strong entity-tag ([`ETag`], sent by [`Tagged`]); a write
//! route takes [`IfMatch`] and hands it to its service, which checks it with
//! [`IfMatch::check`] against the very snapshot its conditional write is conditioned on, so a
//! write whose precondition held when it was read is refused by the store if the resource moved
//! before it landed, and then answered 412 on the next read. The check happens after the
//! resource was found and the caller authorized (a missing resource stays 404) and before the
//! request's own rules (an invalid transition of a stale ticket is 412, not 409).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Required, Type};

use crate::error::{Error, Result};

/// A strong entity-tag naming one version of a resource, e.g. `"v7"`. It is opaque to clients:
/// they send it back in `If-Match`, never parse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(String);

impl ETag {
    /// The tag of a resource at `version`.
    pub fn of_version(version: u64) -> ETag {
        ETag(format!("v{version}"))
    }

    /// The tag of one view of a resource at `version`, `kind` telling views apart (letters
    /// only), for resources whose callers see different versions of it.
    pub fn of_view(kind: &'static str, version: u64) -> ETag {
        debug_assert!(kind.bytes().all(|b| b.is_ascii_alphabetic()));
        ETag(format!("{kind}{version}"))
    }

    /// The header value: the tag in quotes.
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&format!("\"{}\"", self.0))
            .expect("an entity-tag made of letters and digits is a valid header value")
    }
}

/// A response carrying the [`ETag`] of the resource version it shows or has just written.
#[derive(Debug)]
pub struct Tagged<T> {
    pub etag: ETag,
    pub body: T,
}

impl<T> Tagged<T> {
    /// `body` as of `etag`.
    pub fn new(etag: ETag, body: T) -> Tagged<T> {
        Tagged { etag, body }
    }

    /// The same tag on another body (the JSON of a view, a status code with it).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Tagged<U> {
        Tagged {
            etag: self.etag,
            body: f(self.body),
        }
    }
}

impl<T: IntoResponse> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        let mut response = self.body.into_response();
        response
            .headers_mut()
            .insert(header::ETAG, self.etag.header_value());
        response
    }
}

/// One entity-tag of an `If-Match` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    weak: bool,
    opaque: String,
}

/// The `If-Match` precondition of a write (RFC 9110 §13.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IfMatch {
    /// No `If-Match`: the write applies to whatever version it finds (and is still
    /// conditioned on that version, so it never overwrites a concurrent change unseen).
    #[default]
    Absent,
    /// `If-Match: *`: any current version.
    Any,
    /// A list of entity-tags; only a strong one equal to the current tag matches (weak tags
    /// never match, as §13.1.1 demands strong comparison).
    Tags(Vec<EntityTag>),
}

impl IfMatch {
    /// Whether the request carries a precondition at all.
    pub fn is_present(&self) -> bool {
        *self != IfMatch::Absent
    }

    /// Passes when the precondition holds for a resource whose current version is `current`;
    /// fails with 412 `precondition_failed` otherwise.
    pub fn check(&self, current: &ETag) -> Result<()> {
        let holds = match self {
            IfMatch::Absent | IfMatch::Any => true,
            IfMatch::Tags(tags) => tags.iter().any(|t| !t.weak && t.opaque == current.0),
        };
        if holds {
            Ok(())
        } else {
            Err(Error::PreconditionFailed)
        }
    }

    /// Reads every `If-Match` field of `headers`; 400 `invalid_if_match` when one is neither
    /// `*` nor a comma-separated list of quoted entity-tags, or `*` is mixed with tags.
    pub fn from_headers(headers: &HeaderMap) -> Result<IfMatch> {
        let mut any = false;
        let mut tags = Vec::new();
        let mut present = false;
        for value in headers.get_all(header::IF_MATCH) {
            present = true;
            let value = value.as_bytes().trim_ascii();
            if value == b"*" {
                any = true;
            } else {
                parse_tags(value, &mut tags)?;
            }
        }
        match (present, any, tags.is_empty()) {
            (false, _, _) => Ok(IfMatch::Absent),
            (true, true, true) => Ok(IfMatch::Any),
            (true, true, false) => Err(malformed()),
            (true, false, _) => Ok(IfMatch::Tags(tags)),
        }
    }
}

fn malformed() -> Error {
    Error::bad_request(
        "invalid_if_match",
        "If-Match must be * or a comma-separated list of quoted entity-tags, such as \"v7\"",
    )
}

/// Appends the entity-tags of one `#entity-tag` list (RFC 9110 §5.6.1, §8.8.3) to `tags`.
/// Empty list elements are allowed, as the list rule says.
fn parse_tags(mut rest: &[u8], tags: &mut Vec<EntityTag>) -> Result<()> {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    loop {
        while let Some((first, tail)) = rest.split_first()
            && (is_ows(first) || *first == b',')
        {
            rest = tail;
        }
        if rest.is_empty() {
            return Ok(());
        }
        let weak = rest.starts_with(b"W/");
        if weak {
            rest = &rest[2..];
        }
        let Some(body) = rest.strip_prefix(b"\"") else {
            return Err(malformed());
        };
        // etagc = %x21 / %x23-7E / obs-text: anything visible but the quote.
        let end = body.iter().position(|b| *b == b'"').ok_or_else(malformed)?;
        let opaque = &body[..end];
        if opaque.iter().any(|b| *b < 0x21 || *b == 0x7f) {
            return Err(malformed());
        }
        tags.push(EntityTag {
            weak,
            opaque: String::from_utf8_lossy(opaque).into_owned(),
        });
        rest = &body[end + 1..];
        while let Some((first, tail)) = rest.split_first()
            && is_ows(first)
        {
            rest = tail;
        }
        match rest.split_first() {
            None => return Ok(()),
            Some((b',', _)) => {}
            Some(_) => return Err(malformed()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        IfMatch::from_headers(&parts.headers)
    }
}

impl utoipa::IntoParams for IfMatch {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("If-Match")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Write only if the resource is still at this version: an `ETag` from an \
                     earlier response (`\"v7\"`), a list of them, or `*`. A stale tag gets 412 \
                     `precondition_failed` and changes nothing; a malformed value is 400 \
                     `invalid_if_match`.",
                ))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> Result<IfMatch> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        }
        IfMatch::from_headers(&headers)
    }

    #[test]
    fn strong_tags_in_any_list_match_and_weak_ones_never_do() {
        let v7 = ETag::of_version(7);
        let holds = |values: &[&str]| parse(values).unwrap().check(&v7).is_ok();
        assert!(holds(&[]));
        assert!(holds(&["*"]));
        assert!(holds(&[" * "]));
        assert!(holds(&["\"v7\""]));
        assert!(holds(&["\"v6\", \"v7\""]));
        assert!(holds(&["\"v6\"", "\"v7\""]));
        assert!(holds(&[", ,\"v6\" ,\t\"v7\","]));
        assert!(!holds(&["\"v6\""]));
        assert!(!holds(&["W/\"v7\""]));
        assert!(!holds(&["W/\"v7\", \"v8\""]));
        assert!(!holds(&[""]), "an empty list names no version");
        assert!(!holds(&["\"V7\""]), "tags compare exactly");
    }

    #[test]
    fn anything_else_is_malformed() {
        for bad in [
            "v7",
            "\"v7",
            "\"v7\" \"v8\"",
            "\"v7\"x",
            "w/\"v7\"",
            "W/v7",
            "*, \"v7\"",
            "**",
            "\"a b\"",
        ] {
            let error = parse(&[bad]).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::Validation {
                        code: "invalid_if_match",
                        ..
                    }
                ),
                "{bad}: {error:?}"
            );
        }
        assert!(
            parse(&["*", "\"v7\""]).is_err(),
            "* with tags in another field"
        );
    }

    #[test]
    fn the_header_is_the_quoted_tag() {
        assert_eq!(ETag::of_version(7).header_value(), "\"v7\"");
        assert_eq!(ETag::of_view("o", 3).header_value(), "\"o3\"");
    }
}
