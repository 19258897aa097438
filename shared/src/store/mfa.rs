//! A user's second factor (one `MFA` item in their partition, its flag on the profile) and the
//! pending second login steps. Every acceptance of a code is one conditional write, so a code
//! is accepted once however many requests present it at the same time.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::{Store, conditional_write, expiring, key, keys, n, s, sdk_error, to_item};
use crate::domain::UserId;
use crate::error::{Error, Result};

/// Whether a second factor is waiting for its first code or in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaState {
    Pending,
    Enabled,
}

/// A user's stored second factor. The secret is sealed (AES-256-GCM, `mfa::MfaKey`); the
/// recovery codes are SHA-256 hashes.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct MfaRecord {
    pub state: MfaState,
    /// The sealed TOTP secret (nonce and ciphertext, base64).
    pub secret: String,
    /// The last accepted TOTP time step; only later steps are accepted.
    #[serde(default)]
    pub last_step: Option<u64>,
    /// Hashes of the unused recovery codes (a string set; absent when none are left).
    #[serde(default)]
    pub recovery: Vec<String>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for MfaRecord {
    /// Leaves the sealed secret and the hashes out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRecord")
            .field("state", &self.state)
            .field("last_step", &self.last_step)
            .field("recovery_codes", &self.recovery.len())
            .finish_non_exhaustive()
    }
}

impl MfaRecord {
    /// Whether logins of its user need a second step.
    pub fn is_enabled(&self) -> bool {
        self.state == MfaState::Enabled
    }
}

/// A login whose password was right, waiting for its second step; stored under the hash of its
/// `mfa_token` until `expires_at`.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct PendingLogin {
    pub user_id: UserId,
    /// SHA-256 of the password hash checked: a password changed since refuses the step.
    pub password_check: String,
    /// The client the first step came from (its IP and User-Agent's device).
    pub ip: Option<String>,
    pub device: String,
    /// How the session is handed over: `bearer` or `cookie`.
    pub transport: String,
    /// The end of its life (milliseconds; `expires_at`, in seconds, is TTL's).
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub valid_until: DateTime<Utc>,
}

fn string_set(values: &[String]) -> AttributeValue {
    AttributeValue::Ss(values.to_vec())
}

impl Store {
    /// The user's second factor, if any (read consistently).
    pub async fn find_mfa(&self, user_id: UserId) -> Result<Option<MfaRecord>> {
        self.get(key(keys::user_pk(user_id), keys::MFA_SK)).await
    }

    /// Stores a new pending enrolment, replacing an earlier pending one; `false` when the user's
    /// second factor is already enabled.
    pub async fn put_pending_mfa(&self, user_id: UserId, record: &MfaRecord) -> Result<bool> {
        let mut item = to_item(
            record,
            &[
                (keys::PK, keys::user_pk(user_id)),
                (keys::SK, keys::MFA_SK.to_owned()),
            ],
        )?;
        item.remove("recovery");
        item.remove("last_step");
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s("pending"))
            .send()
            .await;
        conditional_write("PutItem", result)
    }

    /// Enables the pending second factor sealed as `secret` (the one whose code was checked),
    /// remembering `step` as used and storing the recovery-code hashes; sets the profile's flag
    /// and bumps its version in the same transaction. `false` when the enrolment was replaced,
    /// confirmed or removed meanwhile.
    pub async fn enable_mfa(
        &self,
        user_id: UserId,
        secret: &str,
        step: u64,
        recovery: &[String],
    ) -> Result<bool> {
        let enable = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::MFA_SK)))
            .update_expression("SET #state = :enabled, last_step = :step, recovery = :codes")
            .condition_expression("#state = :pending AND secret = :secret")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":enabled", s("enabled"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":secret", s(secret))
            .expression_attribute_values(":step", n(step))
            .expression_attribute_values(":codes", string_set(recovery))
            .build()
            .map_err(Error::internal)?;
        let items = vec![
            TransactWriteItem::builder().update(enable).build(),
            self.mfa_flag(user_id, true)?,
        ];
        self.transact_guarded(items).await
    }

    /// The profile update setting its MFA flag (a profile write: it bumps `version`).
    fn mfa_flag(&self, user_id: UserId, enabled: bool) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::PROFILE)))
            .update_expression(format!(
                "SET {} = :flag, {v} = if_not_exists({v}, :zero) + :one",
                keys::MFA_ENABLED,
                v = keys::USER_VERSION
            ))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":flag", AttributeValue::Bool(enabled))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Accepts TOTP time step `step` of an enabled second factor, with one conditional write:
    /// `false` when that step or a later one was already accepted (a replay, or a parallel
    /// request that won). With `recovery`, the recovery-code hashes are replaced in the same
    /// write.
    pub async fn accept_totp_step(
        &self,
        user_id: UserId,
        step: u64,
        recovery: Option<&[String]>,
    ) -> Result<bool> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::MFA_SK)))
            .condition_expression(
                "#state = :enabled AND (attribute_not_exists(last_step) OR last_step < :step)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":enabled", s("enabled"))
            .expression_attribute_values(":step", n(step));
        request = match recovery {
            Some(codes) => request
                .update_expression("SET last_step = :step, recovery = :codes")
                .expression_attribute_values(":codes", string_set(codes)),
            None => request.update_expression("SET last_step = :step"),
        };
        conditional_write("UpdateItem", request.send().await)
    }

    /// Spends the recovery code hashed as `hash`, with one conditional write: `false` when it is
    /// not (or no longer) one of the user's.
    pub async fn use_recovery_code(&self, user_id: UserId, hash: &str) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::MFA_SK)))
            .update_expression("DELETE recovery :code")
            .condition_expression("#state = :enabled AND contains(recovery, :hash)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":enabled", s("enabled"))
            .expression_attribute_values(":hash", s(hash))
            .expression_attribute_values(":code", string_set(&[hash.to_owned()]))
            .send()
            .await;
        conditional_write("UpdateItem", result)
    }

    /// Removes the user's second factor (pending or enabled) and clears the profile's flag in
    /// one transaction; `false` when there was none.
    pub async fn delete_mfa(&self, user_id: UserId) -> Result<bool> {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::MFA_SK)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(Error::internal)?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            self.mfa_flag(user_id, false)?,
        ];
        self.transact_guarded(items).await
    }

    /// Stores a pending second login step under its token's hash, as an expiring item.
    pub async fn put_pending_login(&self, token_hash: &str, login: &PendingLogin) -> Result<()> {
        let mut item = to_item(
            login,
            &[
                (keys::PK, keys::mfa_login_pk(token_hash)),
                (keys::SK, keys::MFA_LOGIN_SK.to_owned()),
            ],
        )?;
        expiring(&mut item, login.valid_until.timestamp() + 1);
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

    /// The pending login stored under `token_hash`, if any (expired or not: the caller checks).
    pub async fn find_pending_login(&self, token_hash: &str) -> Result<Option<PendingLogin>> {
        self.get(key(keys::mfa_login_pk(token_hash), keys::MFA_LOGIN_SK))
            .await
    }

    /// Takes the pending login while it is alive at `now`, returning it; `None` when it is
    /// gone, expired or another request took it first.
    pub async fn take_pending_login(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingLogin>> {
        self.take_alive(key(keys::mfa_login_pk(token_hash), keys::MFA_LOGIN_SK), now)
            .await
    }
}

impl Store {
    /// The user's stored `MFA` item exactly as DynamoDB holds it, printed attribute by
    /// attribute: for tests and operators checking what is at rest (no secret appears in it).
    pub async fn stored_mfa_item(&self, user_id: UserId) -> Result<Option<String>> {
        let item = self
            .get_item(key(keys::user_pk(user_id), keys::MFA_SK))
            .await?;
        Ok(item.map(|item| format!("{item:?}")))
    }
}
