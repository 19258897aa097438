//! Login history: one item per attempt on an existing account, newest found first.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::users::put;
use super::{
    Item, Store, conditional_write, expiring, from_item, key, keys, s, sdk_error, to_item,
};
use crate::cursor;
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

    /// Sends the request [`add_login_record`](Self::add_login_record) sends, for an attempt on
    /// no account, with a condition that fails so that nothing is stored: a login with an
    /// unknown e-mail costs the same DynamoDB requests as a wrong password.
    pub async fn add_no_login_record(&self) -> Result<()> {
        let mut item = key(
            keys::history_pk(UserId::new()),
            keys::history_sk(Uuid::now_v7()),
        );
        expiring(&mut item, 0);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        conditional_write("PutItem", result).map(|_| ())
    }

    /// A page of at most `limit` entries of a user's login history, newest first, not older
    /// than `since`, and the sort key to continue after when more follow. `after` is the sort
    /// key of the last entry of the previous page; one that is not a history key is a 400
    /// `invalid_cursor`. The query starts exclusively after it and reads one entry more than the
    /// page, so no entry is skipped and the last page has no continuation.
    pub async fn list_login_records(
        &self,
        user_id: UserId,
        since: DateTime<Utc>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<LoginRecord>, Option<String>)> {
        let start = match after {
            Some(sk) if sk.starts_with(keys::LOGIN_PREFIX) => {
                Some(key(keys::history_pk(user_id), sk))
            }
            Some(_) => return Err(cursor::malformed()),
            None => None,
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(keys::history_pk(user_id)))
            .expression_attribute_values(":low", s(history_sk_at(since)))
            .expression_attribute_values(":high", s(format!("{}~", keys::LOGIN_PREFIX)))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).map_err(Error::internal)?)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let mut items: Vec<Item> = output.items.unwrap_or_default();
        let more = items.len() > limit;
        items.truncate(limit);
        let next = match items.last().and_then(|item| item.get(keys::SK)) {
            Some(AttributeValue::S(sk)) if more => Some(sk.clone()),
            _ => None,
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
