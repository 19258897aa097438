//! List cursors: the one mechanism by which every paginated list hands out and takes back
//! positions.
//!
//! A cursor is `<position>.<tag>`, both base64url: the position is whatever the list needs to
//! continue (a user id, a code name, a DynamoDB start key as JSON), and the tag is an
//! HMAC-SHA256 over the list's identity and the position, keyed with [`CursorKey`]. A cursor is
//! therefore only accepted by the list that issued it (the identity names the list and, where
//! the list is someone's, whose), and a forged, tampered, truncated or oversized cursor is a 400
//! `invalid_cursor` before any of it reaches the store. Lists still parse the position strictly
//! after it verified, so a key leak could not turn a cursor into a 500 either.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::domain::{CatalogKind, UserId};
use crate::error::{Error, Result};
use crate::http::Page;
use crate::store::TicketScope;
use crate::tickets::model::TicketId;

/// The longest cursor accepted, in characters; every cursor Sesame issues is far shorter.
pub const MAX_CURSOR_CHARS: usize = 512;
/// The shortest accepted `SESAME_CURSOR_KEY`, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The refusal of every cursor that is not one this list issued.
pub fn malformed() -> Error {
    Error::bad_request("invalid_cursor", "the cursor is malformed")
}

/// A `cursor` query parameter that has the shape of a cursor (bounded length, base64url
/// characters and one separator); whether it is genuine is decided by [`CursorKey::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// Checks the shape of a client's cursor: 400 `invalid_cursor` when it is empty, longer
    /// than [`MAX_CURSOR_CHARS`] or anything but `<base64url>.<base64url>`.
    pub fn parse(raw: &str) -> Result<Cursor> {
        let well_formed = raw.len() <= MAX_CURSOR_CHARS
            && raw.split_once('.').is_some_and(|(position, tag)| {
                !position.is_empty()
                    && !tag.is_empty()
                    && (position.bytes().chain(tag.bytes()))
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if well_formed {
            Ok(Cursor(raw.to_owned()))
        } else {
            Err(malformed())
        }
    }
}

/// Which list a cursor belongs to. Part of every tag, so a cursor of one list (or of one
/// user's list) is refused by every other.
#[derive(Debug, Clone, Copy)]
pub enum List {
    /// A user's login history.
    History(UserId),
    /// A user's live sessions (their own list and the admin view of it).
    Sessions(UserId),
    /// The admin list of users.
    Users,
    /// The RBAC roles.
    Roles,
    /// The RBAC resources or actions.
    Catalog(CatalogKind),
    /// A ticket list: one owner's, or everyone's for operators.
    Tickets(TicketScope),
    /// The responses of one ticket.
    Thread(TicketId),
    /// The admin list of quotas.
    Quotas,
    /// The audit events of one filter (a digest of it: see `audit::Filter`).
    Audit([u8; 16]),
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            List::History(user) => write!(f, "history/{user}"),
            List::Sessions(user) => write!(f, "sessions/{user}"),
            List::Users => f.write_str("users"),
            List::Roles => f.write_str("roles"),
            List::Catalog(kind) => write!(f, "catalog/{}", kind.noun()),
            List::Tickets(TicketScope::Owner(user)) => write!(f, "tickets/owner/{user}"),
            List::Tickets(TicketScope::All) => f.write_str("tickets/all"),
            List::Thread(ticket) => write!(f, "thread/{ticket}"),
            List::Quotas => f.write_str("quotas"),
            List::Audit(filter) => {
                f.write_str("audit/")?;
                filter.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// The HMAC key that signs cursors (`SESAME_CURSOR_KEY`) and tags CSRF tokens ([`CursorKey::tag`]). It never appears in `Debug` output.
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(<redacted>)")
    }
}

impl CursorKey {
    /// A key from configured bytes; `None` when shorter than [`MIN_KEY_BYTES`].
    pub fn new(bytes: &[u8]) -> Option<CursorKey> {
        (bytes.len() >= MIN_KEY_BYTES).then(|| CursorKey(bytes.to_vec()))
    }

    /// A fresh random key, for local runs and tests: cursors then last as long as the process.
    pub fn generate() -> CursorKey {
        let mut bytes = vec![0; MIN_KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        CursorKey(bytes)
    }

    fn mac(&self, list: &List, position: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(list.to_string().as_bytes());
        mac.update(&[0]);
        mac.update(position);
        mac
    }

    /// The opaque cursor of `position` in `list`.
    pub fn seal(&self, list: &List, position: &str) -> String {
        let tag = self.mac(list, position.as_bytes()).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(position),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The position a cursor of `list` holds, checked in constant time; 400 `invalid_cursor`
    /// when this key did not issue it for this list.
    pub fn open(&self, list: &List, cursor: Option<&Cursor>) -> Result<Option<String>> {
        let Some(Cursor(raw)) = cursor else {
            return Ok(None);
        };
        let (position, tag) = raw.split_once('.').ok_or_else(malformed)?;
        let position = URL_SAFE_NO_PAD.decode(position).map_err(|_| malformed())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| malformed())?;
        self.mac(list, &position)
            .verify_slice(&tag)
            .map_err(|_| malformed())?;
        String::from_utf8(position)
            .map(Some)
            .map_err(|_| malformed())
    }

    /// The tag of `message` for `purpose` (`"csrf"`): this key's HMAC of both, base64url. Each
    /// purpose is its own domain, apart from every list's cursors.
    pub fn tag(&self, purpose: &str, message: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(b"tag:");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// A page of `items` whose `next_cursor` seals `next` (the position after the last item,
    /// `None` on the last page) for `list`.
    pub fn page<T>(&self, list: &List, items: Vec<T>, next: Option<&str>) -> Page<T> {
        Page {
            items,
            next_cursor: next.map(|position| self.seal(list, position)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserId {
        UserId::new()
    }

    #[test]
    fn a_sealed_position_opens_only_for_its_list_and_key() {
        let key = CursorKey::generate();
        let alice = List::History(user());
        let sealed = key.seal(&alice, "LOGIN#1");
        let cursor = Cursor::parse(&sealed).unwrap();
        assert_eq!(
            key.open(&alice, Some(&cursor)).unwrap().as_deref(),
            Some("LOGIN#1")
        );
        assert!(key.open(&List::History(user()), Some(&cursor)).is_err());
        assert!(key.open(&List::Users, Some(&cursor)).is_err());
        assert!(CursorKey::generate().open(&alice, Some(&cursor)).is_err());
        let (position, tag) = sealed.split_once('.').unwrap();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("LOGIN#2"));
        assert!(
            key.open(&alice, Some(&Cursor::parse(&forged).unwrap()))
                .is_err()
        );
        let truncated = format!("{position}.{}", &tag[..10]);
        assert!(
            key.open(&alice, Some(&Cursor::parse(&truncated).unwrap()))
                .is_err()
        );
    }

    #[test]
    fn cursors_of_the_wrong_shape_are_refused_before_any_work() {
        let too_long = "a".repeat(MAX_CURSOR_CHARS) + ".b";
        for bad in [
            "", ".", "abc", "a.", ".b", "a.b.c", "a+b.c", "a b.c", &too_long,
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        assert!(CursorKey::new(&[7; MIN_KEY_BYTES - 1]).is_none());
        let key = CursorKey::new(&[7; MIN_KEY_BYTES]).unwrap();
        assert_eq!(format!("{key:?}"), "CursorKey(<redacted>)");
    }
}
