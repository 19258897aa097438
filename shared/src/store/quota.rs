//! Quota usage items and consumption (idempotency) records.
//!
//! DynamoDB conditions cannot add, so a consumption is checked against the limits by the
//! service on the usage it read, and written with a condition pinning that usage exactly: its
//! counters, the limits version and the reset epoch. A concurrent consumption, limit change or
//! reset sends the service back to re-read instead of slipping through; and a consumption that
//! lands knows the usage it leaves without reading it back.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Get, Put, ReturnValue, TransactGetItem, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};

use super::sessions::{Found, user_and_session_keys};
use super::{Item, Store, expiring, key, keys, n, s, sdk_error};
use crate::domain::{
    Consumption, IdempotencyKey, LimitOverrides, QuotaAmounts, QuotaUsage, Session, SessionId,
    User, UserId,
};
use crate::error::{Error, Result};

/// The caller's profile and session, usage item and consumption under one key, as read
/// together by [`Store::find_user_session_and_quota`].
#[derive(Debug)]
pub struct QuotaRead {
    pub user: Option<User>,
    pub session: Option<Session>,
    pub usage: Option<QuotaUsage>,
    pub consumption: Option<Consumption>,
}

/// How a conditional quota write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaWrite {
    /// Written.
    Done,
    /// A condition failed: the state changed since it was read (or the limit is reached).
    Stale,
    /// Another transaction held the items; nothing was written, try again shortly.
    Contended,
}

/// Names of every quota attribute, for `ExpressionAttributeNames` (some are reserved words).
fn names() -> HashMap<String, String> {
    [
        ("#uid", keys::QUOTA_USER_ID),
        ("#videos", keys::QUOTA_VIDEOS),
        ("#dur", keys::QUOTA_DURATION_MS),
        ("#version", keys::QUOTA_LIMITS_VERSION),
        ("#epoch", keys::QUOTA_EPOCH),
        ("#updated", keys::QUOTA_UPDATED_AT),
        ("#gpk", keys::GSI1_PK),
        ("#gsk", keys::GSI1_SK),
    ]
    .into_iter()
    .map(|(alias, name)| (alias.to_owned(), name.to_owned()))
    .collect()
}

/// `SET` clauses that give a usage item its owner, index keys and timestamp, and create the
/// counters, version and epoch that are still missing.
const USAGE_BASE: &str = "#uid = :uid, #gpk = :gpk, #gsk = :gsk, #updated = :now, \
     #version = if_not_exists(#version, :zero), #epoch = if_not_exists(#epoch, :zero)";

/// Values used by [`USAGE_BASE`].
fn usage_base_values(user_id: UserId, now: DateTime<Utc>) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (":uid".to_owned(), s(user_id.to_string())),
        (":gpk".to_owned(), s(keys::ALL_QUOTAS)),
        (":gsk".to_owned(), s(user_id.to_string())),
        (":now".to_owned(), n(now.timestamp_millis())),
        (":zero".to_owned(), n(0)),
    ])
}

fn usage_key(user_id: UserId) -> Item {
    key(keys::quota_pk(user_id), keys::QUOTA_USAGE_SK)
}

fn consumption_key(user_id: UserId, idempotency_key: &IdempotencyKey) -> Item {
    key(
        keys::quota_pk(user_id),
        keys::consumption_sk(idempotency_key),
    )
}

impl Store {
    /// A user's usage item, read consistently; `None` when they have none yet.
    pub async fn find_quota(&self, user_id: UserId) -> Result<Option<QuotaUsage>> {
        let item = self.get_item(usage_key(user_id)).await?;
        item.map(|item| usage_from_item(&item)).transpose()
    }

    /// A user's usage item and the consumption under `idempotency_key`, as one consistent
    /// snapshot (both may be absent).
    pub async fn find_quota_and_consumption(
        &self,
        user_id: UserId,
        idempotency_key: &IdempotencyKey,
    ) -> Result<(Option<QuotaUsage>, Option<Consumption>)> {
        let get = |k: Item| {
            Get::builder()
                .table_name(&self.table)
                .set_key(Some(k))
                .build()
                .map(|g| TransactGetItem::builder().get(g).build())
                .map_err(Error::internal)
        };
        let output = self
            .client
            .transact_get_items()
            .transact_items(get(usage_key(user_id))?)
            .transact_items(get(consumption_key(user_id, idempotency_key))?)
            .send()
            .await
            .map_err(|e| sdk_error("TransactGetItems", e))?;
        let mut items = output
            .responses
            .unwrap_or_default()
            .into_iter()
            .map(|response| response.item.filter(|item| !item.is_empty()));
        let usage = items.next().flatten();
        let consumption = items.next().flatten();
        Ok((
            usage.map(|item| usage_from_item(&item)).transpose()?,
            consumption
                .map(|item| consumption_from_item(&item, idempotency_key))
                .transpose()?,
        ))
    }

    /// What a consumption needs, in one consistent batch read: the caller's profile and
    /// session (named by their access token, for the authentication guard), their usage item
    /// and the consumption under `idempotency_key` (each may be absent). The items are read
    /// consistently one by one, not as a snapshot; the consumption's transaction pins what it
    /// relies on.
    pub async fn find_user_session_and_quota(
        &self,
        user_id: UserId,
        session_id: SessionId,
        idempotency_key: &IdempotencyKey,
    ) -> Result<QuotaRead> {
        let mut wanted = user_and_session_keys(user_id, session_id);
        wanted.push(usage_key(user_id));
        wanted.push(consumption_key(user_id, idempotency_key));
        let mut found = Found::default();
        let (mut usage, mut consumption) = (None, None);
        for item in self.batch_get(wanted).await? {
            if found.sort(item.clone())? {
                continue;
            }
            match item.get(keys::SK) {
                Some(AttributeValue::S(sk)) if sk == keys::QUOTA_USAGE_SK => {
                    usage = Some(usage_from_item(&item)?)
                }
                _ => consumption = Some(consumption_from_item(&item, idempotency_key)?),
            }
        }
        Ok(QuotaRead {
            user: found.user,
            session: found.session,
            usage,
            consumption,
        })
    }

    /// Counts `consumption` against its user's usage and stores it under its idempotency key,
    /// in one transaction. It lands only if the usage is still exactly the `seen` one (counters,
    /// limits version and epoch; or still absent), which the caller checked the amounts
    /// against, and the key is unused; otherwise [`QuotaWrite::Stale`] and nothing changed.
    /// Because the usage it lands on is the one seen, the usage it leaves is known without
    /// reading it back: `seen` plus the amounts, updated at `now`.
    pub async fn consume_quota(
        &self,
        seen: Option<&QuotaUsage>,
        consumption: &Consumption,
        now: DateTime<Utc>,
    ) -> Result<QuotaWrite> {
        let user_id = consumption.user_id;
        let amounts = consumption.amounts;
        let mut values = usage_base_values(user_id, now);
        values.insert(":v".into(), n(amounts.videos));
        values.insert(":d".into(), n(amounts.duration_ms));
        let condition = match seen {
            None => "attribute_not_exists(pk)",
            Some(usage) => {
                values.insert(":version".into(), n(usage.limits_version));
                values.insert(":epoch".into(), n(usage.epoch));
                values.insert(":seen_v".into(), n(usage.videos));
                values.insert(":seen_d".into(), n(usage.duration_ms));
                "#version = :version AND #epoch = :epoch AND #videos = :seen_v AND #dur = :seen_d"
            }
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(usage_key(user_id)))
            .update_expression(format!(
                "SET {USAGE_BASE}, #videos = if_not_exists(#videos, :zero) + :v, \
                 #dur = if_not_exists(#dur, :zero) + :d"
            ))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names()))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(Error::internal)?;
        let mut record = consumption_key(user_id, &consumption.key);
        record.insert(keys::QUOTA_USER_ID.into(), s(user_id.to_string()));
        record.insert(keys::QUOTA_VIDEOS.into(), n(amounts.videos));
        record.insert(keys::QUOTA_DURATION_MS.into(), n(amounts.duration_ms));
        record.insert(keys::QUOTA_FILE_SIZE_MB.into(), n(amounts.file_size_mb));
        record.insert(keys::QUOTA_EPOCH.into(), n(consumption.epoch));
        record.insert(
            keys::QUOTA_CREATED_AT.into(),
            n(consumption.created_at.timestamp_millis()),
        );
        expiring(&mut record, consumption.expires_at.timestamp());
        // An expired record that TTL has not removed yet is overwritten like an absent one.
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(pk) OR #expires <= :now")
            .expression_attribute_names("#expires", keys::EXPIRES_AT)
            .expression_attribute_values(":now", n(now.timestamp()))
            .build()
            .map_err(Error::internal)?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        self.transact_quota(items).await
    }

    /// Marks a consumption released and, when `give_back` (it was counted in the current
    /// epoch), subtracts its amounts from the usage, in one transaction. Lands only if the
    /// consumption is still unreleased and, when giving back, the usage is still in the
    /// consumption's epoch; otherwise [`QuotaWrite::Stale`] and nothing changed.
    pub async fn release_quota(
        &self,
        consumption: &Consumption,
        give_back: bool,
        now: DateTime<Utc>,
    ) -> Result<QuotaWrite> {
        let user_id = consumption.user_id;
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(consumption_key(user_id, &consumption.key)))
            .update_expression("SET #released = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#released)")
            .expression_attribute_names("#released", keys::QUOTA_RELEASED_AT)
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .build()
            .map_err(Error::internal)?;
        let mut items = vec![TransactWriteItem::builder().update(mark).build()];
        if give_back {
            let amounts = consumption.amounts;
            let mut values = usage_base_values(user_id, now);
            values.insert(":v".into(), n(amounts.videos));
            values.insert(":d".into(), n(amounts.duration_ms));
            values.insert(":epoch".into(), n(consumption.epoch));
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(usage_key(user_id)))
                .update_expression(format!(
                    "SET {USAGE_BASE}, #videos = #videos - :v, #dur = #dur - :d"
                ))
                .condition_expression("#epoch = :epoch AND #videos >= :v AND #dur >= :d")
                .set_expression_attribute_names(Some(names()))
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(Error::internal)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        self.transact_quota(items).await
    }

    /// Sets a user's counters to zero and starts a new epoch (so consumptions from before
    /// cannot be given back again), creating the usage item if needed. Returns the new usage.
    pub async fn reset_quota(&self, user_id: UserId, now: DateTime<Utc>) -> Result<QuotaUsage> {
        let mut values = usage_base_values(user_id, now);
        values.insert(":one".into(), n(1));
        self.update_usage(
            user_id,
            "SET #uid = :uid, #gpk = :gpk, #gsk = :gsk, #updated = :now, \
             #version = if_not_exists(#version, :zero), \
             #epoch = if_not_exists(#epoch, :zero) + :one, #videos = :zero, #dur = :zero"
                .to_owned(),
            names(),
            values,
        )
        .await
    }

    /// Replaces a user's limit overrides (`None` removes one, falling back to the default) and
    /// bumps the limits version, so consumptions checked against the old limits are retried.
    /// Creates the usage item if needed. Returns the new usage.
    pub async fn set_quota_limits(
        &self,
        user_id: UserId,
        overrides: &LimitOverrides,
        now: DateTime<Utc>,
    ) -> Result<QuotaUsage> {
        let mut names = names();
        let mut values = usage_base_values(user_id, now);
        values.insert(":one".into(), n(1));
        let mut set = vec![
            "#uid = :uid, #gpk = :gpk, #gsk = :gsk, #updated = :now".to_owned(),
            "#version = if_not_exists(#version, :zero) + :one".to_owned(),
            "#epoch = if_not_exists(#epoch, :zero)".to_owned(),
            "#videos = if_not_exists(#videos, :zero)".to_owned(),
            "#dur = if_not_exists(#dur, :zero)".to_owned(),
        ];
        let mut remove = Vec::new();
        for (alias, name, value) in [
            (
                "max_videos",
                keys::QUOTA_MAX_VIDEOS,
                overrides.max_videos.map(u64::from),
            ),
            (
                "max_dur",
                keys::QUOTA_MAX_DURATION_MS,
                overrides.max_duration_ms,
            ),
            (
                "max_file",
                keys::QUOTA_MAX_FILE_SIZE_MB,
                overrides.max_file_size_mb.map(u64::from),
            ),
        ] {
            names.insert(format!("#{alias}"), name.to_owned());
            match value {
                Some(value) => {
                    values.insert(format!(":{alias}"), n(value));
                    set.push(format!("#{alias} = :{alias}"));
                }
                None => remove.push(format!("#{alias}")),
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        self.update_usage(user_id, expression, names, values).await
    }

    /// One page of at most `limit` usage items from the admin index, in user-id order, starting
    /// after `after`; also returns the user id to continue after when more follow (one item
    /// more than the page is read to know, so the last page never points at an empty one).
    pub async fn list_quotas(
        &self,
        limit: usize,
        after: Option<UserId>,
    ) -> Result<(Vec<QuotaUsage>, Option<UserId>)> {
        let start = after.map(|user_id| {
            let mut start = usage_key(user_id);
            start.insert(keys::GSI1_PK.into(), s(keys::ALL_QUOTAS));
            start.insert(keys::GSI1_SK.into(), s(user_id.to_string()));
            start
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("#gpk = :gpk")
            .expression_attribute_names("#gpk", keys::GSI1_PK)
            .expression_attribute_values(":gpk", s(keys::ALL_QUOTAS))
            .limit(i32::try_from(limit + 1).map_err(Error::internal)?)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let mut usages = output
            .items
            .unwrap_or_default()
            .iter()
            .map(usage_from_item)
            .collect::<Result<Vec<_>>>()?;
        let more = usages.len() > limit;
        usages.truncate(limit);
        let next = usages.last().filter(|_| more).map(|usage| usage.user_id);
        Ok((usages, next))
    }

    /// Runs an update on a usage item and returns the item as written.
    async fn update_usage(
        &self,
        user_id: UserId,
        expression: String,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
    ) -> Result<QuotaUsage> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(usage_key(user_id)))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        let item = output
            .attributes
            .ok_or_else(|| Error::internal("UpdateItem returned no attributes"))?;
        usage_from_item(&item)
    }

    /// Runs a quota transaction, telling failed conditions from contention.
    async fn transact_quota(&self, items: Vec<TransactWriteItem>) -> Result<QuotaWrite> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(QuotaWrite::Done),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) if codes.iter().any(|c| c == "ConditionalCheckFailed") => {
                    Ok(QuotaWrite::Stale)
                }
                Some(codes) if codes.iter().any(|c| c == "TransactionConflict") => {
                    Ok(QuotaWrite::Contended)
                }
                _ => Err(sdk_error("TransactWriteItems", e)),
            },
        }
    }
}

/// The cancellation reason codes of a cancelled transaction.
fn cancellation_codes(error: &SdkError<TransactWriteItemsError>) -> Option<Vec<String>> {
    match error.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(
            e.cancellation_reasons()
                .iter()
                .filter_map(|r| r.code().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

fn string(item: &Item, name: &str) -> Result<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(Error::internal(format!("quota item lacks string {name}"))),
    }
}

fn user_id(item: &Item, name: &str) -> Result<UserId> {
    string(item, name)?
        .parse()
        .map_err(|_| Error::internal(format!("quota item has a malformed {name}")))
}

fn number<T: FromStr>(item: &Item, name: &str) -> Result<Option<T>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(value)) => value
            .parse()
            .map(Some)
            .map_err(|_| Error::internal(format!("quota item has a malformed {name}"))),
        Some(_) => Err(Error::internal(format!(
            "quota item has a non-number {name}"
        ))),
    }
}

fn required<T: FromStr>(item: &Item, name: &str) -> Result<T> {
    number(item, name)?.ok_or_else(|| Error::internal(format!("quota item lacks {name}")))
}

fn millis(item: &Item, name: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(number::<i64>(item, name)?.and_then(DateTime::from_timestamp_millis))
}

fn usage_from_item(item: &Item) -> Result<QuotaUsage> {
    Ok(QuotaUsage {
        user_id: user_id(item, keys::QUOTA_USER_ID)?,
        videos: required(item, keys::QUOTA_VIDEOS)?,
        duration_ms: required(item, keys::QUOTA_DURATION_MS)?,
        overrides: LimitOverrides {
            max_videos: number(item, keys::QUOTA_MAX_VIDEOS)?,
            max_duration_ms: number(item, keys::QUOTA_MAX_DURATION_MS)?,
            max_file_size_mb: number(item, keys::QUOTA_MAX_FILE_SIZE_MB)?,
        },
        limits_version: required(item, keys::QUOTA_LIMITS_VERSION)?,
        epoch: required(item, keys::QUOTA_EPOCH)?,
        updated_at: millis(item, keys::QUOTA_UPDATED_AT)?,
    })
}

fn consumption_from_item(item: &Item, idempotency_key: &IdempotencyKey) -> Result<Consumption> {
    Ok(Consumption {
        user_id: user_id(item, keys::QUOTA_USER_ID)?,
        key: idempotency_key.clone(),
        amounts: QuotaAmounts {
            videos: required(item, keys::QUOTA_VIDEOS)?,
            duration_ms: required(item, keys::QUOTA_DURATION_MS)?,
            file_size_mb: required(item, keys::QUOTA_FILE_SIZE_MB)?,
        },
        epoch: required(item, keys::QUOTA_EPOCH)?,
        created_at: millis(item, keys::QUOTA_CREATED_AT)?
            .ok_or_else(|| Error::internal("consumption lacks created_at"))?,
        released_at: millis(item, keys::QUOTA_RELEASED_AT)?,
        expires_at: number::<i64>(item, keys::EXPIRES_AT)?
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| Error::internal("consumption lacks expires_at"))?,
    })
}
