//! Login history: one item per attempt on an existing account, newest found first.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::users::put;
use super::{Item, Store, expiring, from_item, keys, s, sdk_error, to_item};
use crate::domain::{LoginOutcome, LoginRecord, UserId};
use crate::error::{Error, Result};

/// The sort key of the first history entry at or after `at` (UUID v7 strings sort by time).
fn history_sk_at(at: DateTime<Utc>) -> String {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        millis / 1000,
        (millis % 1000) as u32 * 1_000_000,
    );
    let floor = Uuid::new_v7(ts).as_u128() & !((1u128 << 80) - 1);
    keys::history_sk(Uuid::from_u128(floor))
}

/// The item of a login attempt that expires at `expires_at`.
fn login_record_item(record: &LoginRecord, expires_at: DateTime<Utc>) -> Result<Item> {
    let mut item = to_item(
        record,
        &[
            (keys::PK, keys::history_pk(record.user_id)),
            (keys::SK, keys::history_sk(record.id)),
        ],
    )?;
    expiring(&mut item, expires_at.timestamp());
    Ok(item)
}

/// The Put of a login attempt inside a transaction, so a session and the history entry of the
/// login that opened it are written together or not at all.
pub(super) fn login_record_put(
    table: &str,
    record: &LoginRecord,
    expires_at: DateTime<Utc>,
) -> Result<TransactWriteItem> {
    put(table, login_record_item(record, expires_at)?, None)
}

impl Store {
    /// Stores a login attempt; it expires at `expires_at`.
    pub async fn add_login_record(
        &self,
        record: &LoginRecord,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let item = login_record_item(record, expires_at)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// A page of a user's login history, newest first, not older than `since`. `after` is the
    /// sort key of the last entry of the previous page.
    pub async fn list_login_records(
        &self,
        user_id: UserId,
        since: DateTime<Utc>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<LoginRecord>, Option<String>)> {
        let upper = after.map_or_else(|| format!("{}~", keys::LOGIN_PREFIX), str::to_owned);
        if !upper.starts_with(keys::LOGIN_PREFIX) {
            return Err(Error::bad_request(
                "invalid_cursor",
                "the cursor is malformed",
            ));
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(keys::history_pk(user_id)))
            .expression_attribute_values(":low", s(history_sk_at(since)))
            .expression_attribute_values(":high", s(upper.clone()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let mut items: Vec<Item> = output.items.unwrap_or_default();
        // BETWEEN is inclusive: the cursor's own entry is skipped.
        items.retain(
            |item| !matches!(item.get(keys::SK), Some(AttributeValue::S(sk)) if *sk == upper),
        );
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().and_then(|item| match item.get(keys::SK) {
                Some(AttributeValue::S(sk)) => Some(sk.clone()),
                _ => None,
            })
        } else {
            None
        };
        let records = items
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<_>>>()?;
        Ok((records, next))
    }

    /// The outcomes and times of every login attempt of a user since `since`, newest first.
    pub async fn login_outcomes_since(
        &self,
        user_id: UserId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, LoginOutcome)>> {
        #[derive(serde::Deserialize)]
        struct Outcome {
            #[serde(with = "chrono::serde::ts_milliseconds")]
            at: DateTime<Utc>,
            outcome: LoginOutcome,
        }
        let mut outcomes = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk >= :low")
                .expression_attribute_values(":pk", s(keys::history_pk(user_id)))
                .expression_attribute_values(":low", s(history_sk_at(since)))
                .projection_expression("#at, outcome")
                .expression_attribute_names("#at", "at")
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            for item in output.items.unwrap_or_default() {
                let entry: Outcome = from_item(item)?;
                outcomes.push((entry.at, entry.outcome));
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(outcomes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keys_sort_by_time() {
        let now = Utc::now();
        let earlier = history_sk_at(now - chrono::Duration::seconds(1));
        let floor = history_sk_at(now);
        let entry = keys::history_sk(Uuid::now_v7());
        assert!(
            earlier < floor && floor <= entry,
            "{earlier} < {floor} <= {entry}"
        );
    }
}
