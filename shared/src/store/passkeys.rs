//! A user's passkeys (one `PASSKEY#<credential id>` item each, in their partition) and the
//! WebAuthn ceremonies waiting for a browser's answer (one expiring item each, taken once).

use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::{Store, conditional_write, expiring, from_item, key, keys, n, s, sdk_error, to_item};
use crate::domain::UserId;
use crate::error::Result;

/// A registered passkey. `credential` is webauthn-rs's `Passkey` as JSON (credential id, public
/// key, signature counter): nothing secret, but only the server's copy is trusted.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredPasskey {
    /// The credential id, base64url.
    pub id: String,
    pub name: String,
    pub credential: String,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
    #[serde(default, with = "chrono::serde::ts_milliseconds_option")]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A WebAuthn ceremony's server-side state, stored under the hash of its `challenge_id` until
/// `valid_until` and used once.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Ceremony {
    /// What it is for: `register`, `sign_in` or `second_factor`.
    pub purpose: String,
    /// The user a registration or a second factor is for; none for a passkey sign-in.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// A second factor's pending login (the hash of its `mfa_token`).
    #[serde(default)]
    pub login: Option<String>,
    /// webauthn-rs's ceremony state, JSON.
    pub state: String,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub valid_until: DateTime<Utc>,
}

impl Store {
    /// Adds a passkey to the user's account; `false` when that credential is already there.
    pub async fn put_passkey(&self, user_id: UserId, passkey: &StoredPasskey) -> Result<bool> {
        let item = to_item(
            passkey,
            &[
                (keys::PK, keys::user_pk(user_id)),
                (keys::SK, keys::passkey_sk(&passkey.id)),
            ],
        )?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional_write("PutItem", result)
    }

    /// The user's passkeys, oldest first (one query of their partition's passkey items).
    pub async fn list_passkeys(&self, user_id: UserId) -> Result<Vec<StoredPasskey>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::user_pk(user_id)))
            .expression_attribute_values(":prefix", s(keys::PASSKEY_PREFIX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let mut passkeys = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<StoredPasskey>>>()?;
        passkeys.sort_by_key(|p| p.created_at);
        Ok(passkeys)
    }

    /// Renames one of the user's passkeys, returning it; `None` when it is not theirs.
    pub async fn rename_passkey(
        &self,
        user_id: UserId,
        id: &str,
        name: &str,
    ) -> Result<Option<StoredPasskey>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::passkey_sk(id))))
            .update_expression("SET #name = :name")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes.map(from_item).transpose(),
            Err(e) if super::is_condition_failed(&e) => Ok(None),
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }

    /// Removes one of the user's passkeys; `false` when it is not theirs.
    pub async fn delete_passkey(&self, user_id: UserId, id: &str) -> Result<bool> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::passkey_sk(id))))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        conditional_write("DeleteItem", result)
    }

    /// Records a use of a passkey: its credential as updated by the sign-in (the signature
    /// counter) and the time, provided the stored credential is still `previous` (one
    /// conditional write, so of two uses racing on one counter value only one is accepted).
    pub async fn record_passkey_use(
        &self,
        user_id: UserId,
        id: &str,
        previous: &str,
        credential: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::passkey_sk(id))))
            .update_expression("SET credential = :new, last_used_at = :at")
            .condition_expression("credential = :previous")
            .expression_attribute_values(":new", s(credential))
            .expression_attribute_values(":previous", s(previous))
            .expression_attribute_values(":at", n(at.timestamp_millis()))
            .send()
            .await;
        conditional_write("UpdateItem", result)
    }

    /// Stores a ceremony under the hash of its id, as an expiring item.
    pub async fn put_ceremony(&self, id_hash: &str, ceremony: &Ceremony) -> Result<()> {
        let mut item = to_item(
            ceremony,
            &[
                (keys::PK, keys::ceremony_pk(id_hash)),
                (keys::SK, keys::CEREMONY_SK.to_owned()),
            ],
        )?;
        expiring(&mut item, ceremony.valid_until.timestamp() + 1);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// Takes the ceremony stored under `id_hash` while it is alive at `now`: `None` when it is
    /// unknown, expired or already taken (by a parallel request too).
    pub async fn take_ceremony(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Ceremony>> {
        self.take_alive(key(keys::ceremony_pk(id_hash), keys::CEREMONY_SK), now)
            .await
    }

    /// Deletes the item at `key` with one conditional write while its `valid_until` is after
    /// `now`, returning it; `None` when it is gone, expired or another request took it first.
    /// Single-use items (pending logins, ceremonies) are consumed through this.
    pub(super) async fn take_alive<T: serde::de::DeserializeOwned>(
        &self,
        key: super::Item,
        now: DateTime<Utc>,
    ) -> Result<Option<T>> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression("attribute_exists(pk) AND valid_until > :now")
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes.map(from_item).transpose(),
            Err(e) if super::is_condition_failed(&e) => Ok(None),
            Err(e) => Err(sdk_error("DeleteItem", e)),
        }
    }
}
