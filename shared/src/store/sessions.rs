//! Sessions, in their user's partition.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, KeysAndAttributes, PutRequest, TransactWriteItem,
    Update, WriteRequest,
};
use chrono::{DateTime, Utc};

use super::audit::{audit_item, audit_put};
use super::history::login_record_put;
use super::users::put;
use super::{
    FailuresReset, Item, LoginFailures, Store, conditional_write, expiring, from_item,
    is_condition_failed, key, keys, n, s, sdk_error, to_item,
};
use crate::audit::Record;
use crate::domain::{LoginRecord, RotatedRefresh, Session, SessionId, User, UserId};
use crate::error::{Error, Result};

/// A user's profile with every stored session (live or not yet deleted), read together.
#[derive(Debug)]
pub struct UserSessions {
    pub user: User,
    pub sessions: Vec<Session>,
    /// The user's second factor, read in the same query.
    pub mfa: Option<super::MfaRecord>,
    /// The user's passkeys, read in the same query.
    pub passkeys: Vec<super::StoredPasskey>,
}

/// The keys of a user's profile and one of their sessions.
pub(super) fn user_and_session_keys(user_id: UserId, session_id: SessionId) -> Vec<Item> {
    vec![
        key(keys::user_pk(user_id), keys::PROFILE),
        key(keys::user_pk(user_id), keys::session_sk(session_id)),
    ]
}

/// A profile and a session picked out of a batch read.
#[derive(Default)]
pub(super) struct Found {
    pub user: Option<User>,
    pub session: Option<Session>,
}

impl Found {
    /// Keeps `item` when it is a profile or a session; `false` for anything else.
    pub fn sort(&mut self, item: Item) -> Result<bool> {
        match item.get(keys::SK) {
            Some(AttributeValue::S(sk)) if sk == keys::PROFILE => {
                self.user = Some(from_item(item)?)
            }
            Some(AttributeValue::S(sk)) if sk.starts_with(keys::SESSION_PREFIX) => {
                self.session = Some(from_item(item)?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// What a new session's transaction writes besides the session.
pub struct Opening<'a> {
    /// Sessions removed to make room (the cap, expired ones).
    pub evict: &'a [SessionId],
    /// The history entry of the login that opened it, kept until `history_expires_at`.
    pub history: &'a LoginRecord,
    pub history_expires_at: DateTime<Utc>,
    /// A password login clears the account's failure record.
    pub reset: Option<FailuresReset<'a>>,
    /// The audit records of the sign-in and of the sessions it evicted.
    pub audit: &'a [Record],
}

impl Store {
    /// The user and the session named by an access token, in one consistent round trip.
    pub async fn find_user_and_session(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> Result<(Option<User>, Option<Session>)> {
        let items = self
            .batch_get(user_and_session_keys(user_id, session_id))
            .await?;
        let mut found = Found::default();
        for item in items {
            found.sort(item)?;
        }
        Ok((found.user, found.session))
    }

    /// Items by key, each read consistently, in one BatchGetItem (and more only for keys
    /// DynamoDB left unprocessed). Absent items are left out.
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>> {
        let mut wanted = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(Error::internal)?;
        let mut found = Vec::new();
        for _ in 0..5 {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, wanted)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            found.extend(
                output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default(),
            );
            match output
                .unprocessed_keys
                .unwrap_or_default()
                .remove(&self.table)
            {
                Some(rest) if !rest.keys().is_empty() => wanted = rest,
                _ => return Ok(found),
            }
        }
        Err(Error::Unavailable)
    }

    /// A user with all their stored sessions, in one consistent query of their partition.
    pub async fn find_user_sessions(&self, user_id: UserId) -> Result<Option<UserSessions>> {
        Ok(self.find_login_account(&user_id.to_string()).await?.0)
    }

    /// What a login needs of an account, in one consistent query of its partition: the user
    /// with their stored sessions, and the account's failure record. `account` is a user id, or
    /// the key of an e-mail without an account (whose partition holds only its failure record),
    /// so both kinds of login send the same request.
    pub async fn find_login_account(
        &self,
        account: &str,
    ) -> Result<(Option<UserSessions>, Option<LoginFailures>)> {
        let mut user = None;
        let mut sessions = Vec::new();
        let mut failures = None;
        let mut mfa = None;
        let mut passkeys = Vec::new();
        for item in self.query_partition(keys::user_pk(account)).await? {
            match item.get(keys::SK) {
                Some(AttributeValue::S(sk)) if sk == keys::PROFILE => user = Some(from_item(item)?),
                Some(AttributeValue::S(sk)) if sk == keys::LOCKOUT_SK => {
                    failures = Some(from_item(item)?)
                }
                Some(AttributeValue::S(sk)) if sk.starts_with(keys::SESSION_PREFIX) => {
                    sessions.push(from_item(item)?)
                }
                Some(AttributeValue::S(sk)) if sk == keys::MFA_SK => mfa = Some(from_item(item)?),
                Some(AttributeValue::S(sk)) if sk.starts_with(keys::PASSKEY_PREFIX) => {
                    passkeys.push(from_item(item)?)
                }
                _ => {}
            }
        }
        Ok((
            user.map(|user| UserSessions {
                user,
                sessions,
                mfa,
                passkeys,
            }),
            failures,
        ))
    }

    /// Adds a session and everything of [`Opening`] in one transaction, provided the user's
    /// session version is still `expected_version` (then bumped). Returns `false` when another
    /// login changed the user's sessions first; the caller re-reads and tries again.
    pub async fn create_session(
        &self,
        expected_version: u64,
        session: &Session,
        opening: Opening<'_>,
    ) -> Result<bool> {
        let Opening {
            evict,
            history,
            history_expires_at,
            reset,
            audit,
        } = opening;
        let bump = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(session.user_id), keys::PROFILE)))
            .update_expression("SET session_version = :next")
            .condition_expression(
                "attribute_exists(pk) AND (session_version = :expected OR (attribute_not_exists(session_version) AND :expected = :zero))",
            )
            .expression_attribute_values(":next", n(expected_version + 1))
            .expression_attribute_values(":expected", n(expected_version))
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(Error::internal)?;
        let mut items = vec![
            TransactWriteItem::builder().update(bump).build(),
            self.session_put(session)?,
        ];
        items.push(login_record_put(&self.table, history, history_expires_at)?);
        if let Some(reset) = reset {
            items.push(self.failures_reset_item(reset)?);
        }
        for evicted in evict {
            items.push(self.session_delete(session.user_id, *evicted, None)?);
        }
        for record in audit {
            items.push(audit_put(&self.table, record)?);
        }
        self.transact_guarded(items).await
    }

    /// Replaces a session's refresh token if it still holds `current` (so of many parallel
    /// refreshes exactly one wins). `previous` is the new list of rotated-out tokens.
    /// Returns `false` when the session changed or vanished meanwhile.
    pub async fn rotate_refresh_token(
        &self,
        current: &Session,
        new_hash: &str,
        previous: &[RotatedRefresh],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let previous = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(previous)
            .map_err(Error::internal)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(current.user_id), keys::session_sk(current.id))))
            .update_expression(
                "SET refresh_hash = :new, refresh_generation = :next, refresh_previous = :previous, last_active_at = :now",
            )
            .condition_expression("refresh_hash = :old AND refresh_generation = :generation")
            .expression_attribute_values(":new", s(new_hash))
            .expression_attribute_values(":next", n(current.refresh_generation + 1))
            .expression_attribute_values(":previous", previous)
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":old", s(&current.refresh_hash))
            .expression_attribute_values(":generation", n(current.refresh_generation))
            .send()
            .await;
        conditional_write("UpdateItem", result)
    }

    /// Records activity on a session unless it was recorded after `unless_after`, so a busy
    /// session is written at most once per interval.
    pub async fn touch_session(
        &self,
        user_id: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
        unless_after: DateTime<Utc>,
    ) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::user_pk(user_id),
                keys::session_sk(session_id),
            )))
            .update_expression("SET last_active_at = :now")
            .condition_expression("attribute_exists(pk) AND last_active_at < :threshold")
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":threshold", n(unless_after.timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }

    /// Deletes one session of a user and stores the `audit` record of its end, in one
    /// transaction. Returns whether it existed (when it did not, nothing is written).
    pub async fn delete_session(
        &self,
        user_id: UserId,
        session_id: SessionId,
        audit: &Record,
    ) -> Result<bool> {
        let item = self.session_delete(user_id, session_id, Some("attribute_exists(pk)"))?;
        self.transact_guarded(vec![item, audit_put(&self.table, audit)?])
            .await
    }

    /// Deletes many sessions of a user in batches, the first of which also stores the `audit`
    /// record of their end.
    pub async fn delete_sessions(
        &self,
        user_id: UserId,
        session_ids: &[SessionId],
        audit: &Record,
    ) -> Result<()> {
        let record = PutRequest::builder()
            .set_item(Some(audit_item(audit)?))
            .build()
            .map(|put| WriteRequest::builder().put_request(put).build())
            .map_err(Error::internal)?;
        let deletes = session_ids
            .iter()
            .map(|sid| key(keys::user_pk(user_id), keys::session_sk(sid)))
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(k))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(Error::internal)
            })
            .collect::<Result<Vec<_>>>()?;
        let requests: Vec<WriteRequest> = std::iter::once(record).chain(deletes).collect();
        for chunk in requests.chunks(25) {
            let mut pending = HashMap::from([(self.table.clone(), chunk.to_vec())]);
            for attempt in 0.. {
                let output = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchWriteItem", e))?;
                pending = output.unprocessed_items.unwrap_or_default();
                if pending.values().all(Vec::is_empty) {
                    break;
                }
                if attempt == 5 {
                    return Err(Error::Unavailable);
                }
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
            }
        }
        Ok(())
    }

    /// The Put that stores a new session.
    pub(super) fn session_put(&self, session: &Session) -> Result<TransactWriteItem> {
        let mut record = to_item(
            session,
            &[
                (keys::PK, keys::user_pk(session.user_id)),
                (keys::SK, keys::session_sk(session.id)),
            ],
        )?;
        expiring(&mut record, session.expires_at.timestamp());
        put(&self.table, record, Some("attribute_not_exists(pk)"))
    }

    /// The Delete that removes a session.
    fn session_delete(
        &self,
        user_id: UserId,
        session_id: SessionId,
        condition: Option<&str>,
    ) -> Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::user_pk(user_id),
                keys::session_sk(session_id),
            )))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}
