//! List positions: a query's start key as a JSON object of string attributes (the HTTP layer
//! makes it opaque with base64url). Decoding checks the shape, so a malformed or tampered
//! cursor is a 400, not a DynamoDB error.

use std::collections::{BTreeMap, HashMap};

use super::{Item, s};
use crate::error::{Error, Result};
use aws_sdk_dynamodb::types::AttributeValue;

fn invalid() -> Error {
    Error::bad_request("invalid_cursor", "the cursor is malformed")
}

/// The position of the key attributes `names` of `item`; every one must be a string.
pub(super) fn encode(item: &Item, names: &[&str]) -> Result<String> {
    let key = names
        .iter()
        .map(|name| match item.get(*name) {
            Some(AttributeValue::S(value)) => Ok((*name, value.as_str())),
            _ => Err(Error::internal(format!("key attribute {name} missing"))),
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    serde_json::to_string(&key).map_err(Error::internal)
}

/// The start key at `position`, which must hold exactly the string attributes `names`;
/// otherwise 400 `invalid_cursor`.
pub(super) fn decode(position: &str, names: &[&str]) -> Result<Item> {
    let key: HashMap<String, String> = serde_json::from_str(position).map_err(|_| invalid())?;
    if key.len() != names.len() || !names.iter().all(|name| key.contains_key(*name)) {
        return Err(invalid());
    }
    Ok(key
        .into_iter()
        .map(|(name, value)| (name, s(value)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_round_trips_and_other_shapes_are_refused() {
        let item: Item = [("pk", "A"), ("sk", "B"), ("extra", "C")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), s(v)))
            .collect();
        let cursor = encode(&item, &["pk", "sk"]).unwrap();
        let key = decode(&cursor, &["pk", "sk"]).unwrap();
        assert_eq!(key.len(), 2);
        assert_eq!(key["pk"], s("A"));
        for bad in [
            "not json",
            "[]",
            r#"{"pk":"A"}"#,
            r#"{"pk":"A","sk":5}"#,
            r#"{"pk":"A","other":"B"}"#,
        ] {
            assert!(decode(bad, &["pk", "sk"]).is_err(), "{bad}");
        }
    }
}
