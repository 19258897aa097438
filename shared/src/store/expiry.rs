//! Finding and deleting items whose lifetime is over, through the sparse `expiry` index.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::{Item, Store, conditional_write, key, keys, n, s, sdk_error};
use crate::error::Result;

/// The key of an expired item and what kind of item it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredItem {
    pub kind: String,
    pk: String,
    sk: String,
}

impl Store {
    /// Items of one expiry-day bucket whose `expires_at` is before `now`.
    pub async fn find_expired(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<ExpiredItem>> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::EXPIRY_INDEX)
                .key_condition_expression("expiry_bucket = :bucket AND expires_at < :now")
                .expression_attribute_values(":bucket", s(bucket))
                .expression_attribute_values(":now", n(now.timestamp()))
                .projection_expression("pk, sk")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            for item in output.items.unwrap_or_default() {
                if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                    (item.get(keys::PK), item.get(keys::SK))
                {
                    found.push(ExpiredItem {
                        kind: keys::kind_of(pk, sk),
                        pk: pk.clone(),
                        sk: sk.clone(),
                    });
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    /// Deletes an item if it is still expired at `now` (the index is eventually consistent and
    /// must not decide on its own). Returns whether it was deleted.
    pub async fn delete_expired(&self, item: &ExpiredItem, now: DateTime<Utc>) -> Result<bool> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(item.pk.clone(), item.sk.clone())))
            .condition_expression("expires_at < :now")
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        conditional_write("DeleteItem", result)
    }
}
