//! Sessions and the session-owner pointers of refresh tokens.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, KeysAndAttributes, TransactWriteItem, Update,
    WriteRequest,
};
use chrono::{DateTime, Utc};

use super::history::login_record_put;
use super::users::put;
use super::{
    Item, Store, UserRef, conditional_write, expiring, from_item, is_condition_failed, key, keys,
    n, s, sdk_error, to_item,
};
use crate::domain::{LoginRecord, RotatedRefresh, Session, SessionId, User, UserId};
use crate::error::{Error, Result};

/// A user's profile with every stored session (live or not yet deleted), read together.
#[derive(Debug)]
pub struct UserSessions {
    pub user: User,
    pub sessions: Vec<Session>,
}

impl Store {
    /// The user and the session named by an access token, in one consistent round trip.
    pub async fn find_user_and_session(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> Result<(Option<User>, Option<Session>)> {
        let mut wanted = KeysAndAttributes::builder()
            .keys(key(keys::user_pk(user_id), keys::PROFILE))
            .keys(key(keys::user_pk(user_id), keys::session_sk(session_id)))
            .consistent_read(true)
            .build()
            .map_err(Error::internal)?;
        let (mut user, mut session) = (None, None);
        for _ in 0..5 {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, wanted)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            for item in output
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                match item.get(keys::SK) {
                    Some(AttributeValue::S(sk)) if sk == keys::PROFILE => {
                        user = Some(from_item(item)?)
                    }
                    _ => session = Some(from_item(item)?),
                }
            }
            match output
                .unprocessed_keys
                .unwrap_or_default()
                .remove(&self.table)
            {
                Some(rest) if !rest.keys().is_empty() => wanted = rest,
                _ => return Ok((user, session)),
            }
        }
        Err(Error::Unavailable)
    }

    /// A user with all their stored sessions, in one consistent query of their partition.
    pub async fn find_user_sessions(&self, user_id: UserId) -> Result<Option<UserSessions>> {
        let mut user = None;
        let mut sessions = Vec::new();
        for item in self.query_partition(keys::user_pk(user_id)).await? {
            match item.get(keys::SK) {
                Some(AttributeValue::S(sk)) if sk == keys::PROFILE => user = Some(from_item(item)?),
                Some(AttributeValue::S(sk)) if sk.starts_with(keys::SESSION_PREFIX) => {
                    sessions.push(from_item(item)?)
                }
                _ => {}
            }
        }
        Ok(user.map(|user| UserSessions { user, sessions }))
    }

    /// The user a session belongs to, from the session-owner pointer.
    pub async fn find_session_owner(&self, session_id: SessionId) -> Result<Option<UserId>> {
        let owner: Option<UserRef> = self
            .get(key(keys::session_owner_pk(session_id), keys::OWNER_SK))
            .await?;
        Ok(owner.map(|o| o.user_id))
    }

    /// Adds a session, the history entry of the login that opened it (kept until
    /// `history_expires_at`) and removes `evict`, in one transaction, provided the user's
    /// session version is still `expected_version` (then bumped). Returns `false` when another
    /// login changed the user's sessions first; the caller re-reads and tries again.
    pub async fn create_session(
        &self,
        expected_version: u64,
        session: &Session,
        evict: &[SessionId],
        history: &LoginRecord,
        history_expires_at: DateTime<Utc>,
    ) -> Result<bool> {
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
        let mut items = vec![TransactWriteItem::builder().update(bump).build()];
        items.extend(self.session_puts(session)?);
        items.push(login_record_put(&self.table, history, history_expires_at)?);
        for evicted in evict {
            items.extend(self.session_deletes(session.user_id, *evicted, None)?);
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

    /// Deletes one session of a user. Returns whether it existed.
    pub async fn delete_session(&self, user_id: UserId, session_id: SessionId) -> Result<bool> {
        let items = self.session_deletes(user_id, session_id, Some("attribute_exists(pk)"))?;
        self.transact_guarded(items).await
    }

    /// Deletes many sessions of a user (and their owner pointers) in batches.
    pub async fn delete_sessions(&self, user_id: UserId, session_ids: &[SessionId]) -> Result<()> {
        let requests = session_ids
            .iter()
            .flat_map(|sid| {
                [
                    key(keys::user_pk(user_id), keys::session_sk(sid)),
                    key(keys::session_owner_pk(sid), keys::OWNER_SK),
                ]
            })
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(k))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(Error::internal)
            })
            .collect::<Result<Vec<_>>>()?;
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

    /// The Puts that store a session and its owner pointer.
    pub(super) fn session_puts(&self, session: &Session) -> Result<Vec<TransactWriteItem>> {
        let expires_at = session.expires_at.timestamp();
        let mut record = to_item(
            session,
            &[
                (keys::PK, keys::user_pk(session.user_id)),
                (keys::SK, keys::session_sk(session.id)),
            ],
        )?;
        expiring(&mut record, expires_at);
        let mut owner = key(keys::session_owner_pk(session.id), keys::OWNER_SK);
        owner.insert("user_id".into(), s(session.user_id.to_string()));
        expiring(&mut owner, expires_at);
        Ok(vec![
            put(&self.table, record, Some("attribute_not_exists(pk)"))?,
            put(&self.table, owner, None)?,
        ])
    }

    /// The Deletes that remove a session and its owner pointer.
    fn session_deletes(
        &self,
        user_id: UserId,
        session_id: SessionId,
        condition: Option<&str>,
    ) -> Result<Vec<TransactWriteItem>> {
        let delete = |k: Item, condition: Option<&str>| {
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(k))
                .set_condition_expression(condition.map(str::to_owned))
                .build()
                .map(|d| TransactWriteItem::builder().delete(d).build())
                .map_err(Error::internal)
        };
        Ok(vec![
            delete(
                key(keys::user_pk(user_id), keys::session_sk(session_id)),
                condition,
            )?,
            delete(
                key(keys::session_owner_pk(session_id), keys::OWNER_SK),
                None,
            )?,
        ])
    }
}
