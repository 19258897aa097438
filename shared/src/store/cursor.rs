//! Opaque list cursors: the base64url (no padding) of a query's start key as a JSON object of
//! string attributes. Decoding checks the shape, so a malformed or tampered cursor is a 400, not
//! a DynamoDB error.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Item, s};
use crate::error::{Error, Result};
use aws_sdk_dynamodb::types::AttributeValue;

fn invalid() -> Error {
    Error::bad_request("invalid_cursor", "the cursor is malformed")
}

/// The cursor of the key attributes `names` of `item`; every one must be a string.
pub(super) fn encode(item: &Item, names: &[&str]) -> Result<String> {
    let key = names
        .iter()
        .map(|name| match item.get(*name) {
            Some(AttributeValue::S(value)) => Ok((*name, value.as_str())),
            _ => Err(Error::internal(format!("key attribute {name} missing"))),
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    let json = serde_json::to_vec(&key).map_err(Error::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The start key in `cursor`, which must hold exactly the string attributes `names`;
/// otherwise 400 `invalid_cursor`.
pub(super) fn decode(cursor: &str, names: &[&str]) -> Result<Item> {
    let json = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let key: HashMap<String, String> = serde_json::from_slice(&json).map_err(|_| invalid())?;
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
    fn a_cursor_round_trips_and_rejects_other_shapes() {
        let item: Item = [("pk", "A"), ("sk", "B"), ("extra", "C")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), s(v)))
            .collect();
        let cursor = encode(&item, &["pk", "sk"]).unwrap();
        let key = decode(&cursor, &["pk", "sk"]).unwrap();
        assert_eq!(key.len(), 2);
        assert_eq!(key["pk"], s("A"));
        for bad in [
            "not base64!".to_owned(),
            URL_SAFE_NO_PAD.encode("[]"),
            URL_SAFE_NO_PAD.encode(r#"{"pk":"A"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"pk":"A","sk":5}"#),
            URL_SAFE_NO_PAD.encode(r#"{"pk":"A","other":"B"}"#),
        ] {
            assert!(decode(&bad, &["pk", "sk"]).is_err(), "{bad}");
        }
    }
}
