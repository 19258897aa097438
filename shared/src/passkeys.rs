//! Passkeys (WebAuthn): a user registers them on their account, then signs in with one alone
//! (a discoverable credential: no e-mail, no password) or, when two-factor sign-in is on, uses
//! one as the second step of a password login.
//!
//! - The ceremonies ([`ceremony`], webauthn-rs, behind the `passkeys` feature) are two calls
//!   each: `begin` stores webauthn-rs's state for [`CEREMONY_TTL`] under the hash of a random
//!   `challenge_id` and returns the options for `navigator.credentials`; `finish` takes that
//!   state with one conditional delete (so a challenge answers once, and only for the user and
//!   login it was made for) and verifies the browser's answer against it.
//! - Passkeys require user verification (a PIN or biometric on the device), so a passkey
//!   sign-in is multi-factor by itself and opens a session at once (`created_via` `passkey`),
//!   even on accounts with two-factor sign-in on. A password lock (failed passwords) does not
//!   block it: nobody can guess a passkey.
//! - A signature counter that did not move forward means a cloned authenticator (webauthn-rs's
//!   `CredentialPossibleCompromise`); as the library advises, the sign-in is refused and that
//!   passkey removed (`passkey.removed`, reason `possible_clone`).
//! - The list, rename and delete below need no WebAuthn code, so functions without the feature
//!   (the web app's account page) serve them too.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, Event, EventType};
use crate::context::Context;
use crate::domain::UserId;
use crate::error::{Error, Result};
use crate::store::StoredPasskey;

#[cfg(feature = "passkeys")]
pub mod ceremony;

/// Passkeys one account may hold.
pub const MAX_PASSKEYS: usize = 20;
/// How long a ceremony waits for the browser's answer.
pub const CEREMONY_TTL: chrono::Duration = chrono::Duration::minutes(5);
/// The longest passkey name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A passkey as its owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PasskeyView {
    /// The credential id (base64url): the passkey's id in the API.
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The last sign-in with it, if any.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&StoredPasskey> for PasskeyView {
    fn from(passkey: &StoredPasskey) -> PasskeyView {
        PasskeyView {
            id: passkey.id.clone(),
            name: passkey.name.clone(),
            created_at: passkey.created_at,
            last_used_at: passkey.last_used_at,
        }
    }
}

/// A passkey name as given: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn checked_name(name: &str) -> Result<String> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            "name",
            "must be 1 to 64 characters without control characters",
        ));
    }
    Ok(name.to_owned())
}

/// The user's passkeys, oldest first.
pub async fn list(ctx: &Context, user: UserId) -> Result<Vec<PasskeyView>> {
    let passkeys = ctx.store.list_passkeys(user).await?;
    Ok(passkeys.iter().map(PasskeyView::from).collect())
}

/// Renames one of the user's passkeys; 404 when it is not theirs.
pub async fn rename(ctx: &Context, user: UserId, id: &str, name: &str) -> Result<PasskeyView> {
    let name = checked_name(name)?;
    let passkey = ctx
        .store
        .rename_passkey(user, id, &name)
        .await?
        .ok_or_else(|| Error::not_found("passkey"))?;
    audit::record(
        ctx,
        Event::new(EventType::PasskeyRenamed)
            .about(user)
            .detail("passkey_id", id),
    )
    .await;
    Ok(PasskeyView::from(&passkey))
}

/// Removes one of the user's passkeys; 404 when it is not theirs. Sessions it opened stay
/// (end them from the sessions list).
pub async fn delete(ctx: &Context, user: UserId, id: &str) -> Result<()> {
    if !ctx.store.delete_passkey(user, id).await? {
        return Err(Error::not_found("passkey"));
    }
    audit::record(
        ctx,
        Event::new(EventType::PasskeyRemoved)
            .about(user)
            .detail("passkey_id", id)
            .detail("reason", "removed"),
    )
    .await;
    Ok(())
}
