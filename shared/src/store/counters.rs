//! Counters with a lifetime: fixed-window rate limits and per-account login-failure records.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::{Store, expiring, from_item, is_condition_failed, key, keys, n, sdk_error};
use crate::error::{Error, Result};

/// The failed-login record of one account.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct LoginFailures {
    /// Failures since `window_start`.
    pub failures: u32,
    /// When the current counting window began (epoch milliseconds).
    pub window_start: i64,
    /// The account refuses logins until then (epoch milliseconds), if set.
    pub locked_until: Option<i64>,
}

impl Store {
    /// Adds one hit to the window `window_start` of a rate-limit key and returns the hits so far
    /// in that window. The item expires with the window.
    pub async fn count_hit(
        &self,
        limit_key: &str,
        window_start: i64,
        window_end: DateTime<Utc>,
    ) -> Result<u64> {
        let mut item_key = key(keys::rate_pk(limit_key), window_start.to_string());
        expiring(&mut item_key, window_end.timestamp() + 1);
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::rate_pk(limit_key),
                window_start.to_string(),
            )))
            .update_expression("ADD hits :one SET expires_at = :expires, expiry_bucket = :bucket")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", item_key[keys::EXPIRES_AT].clone())
            .expression_attribute_values(":bucket", item_key[keys::EXPIRY_BUCKET].clone())
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        let hits = output.attributes.as_ref().and_then(|a| a.get("hits"));
        match hits {
            Some(AttributeValue::N(value)) => value.parse().map_err(Error::internal),
            _ => Err(Error::internal("rate counter returned no hits")),
        }
    }

    /// The failed-login record of an account, if any.
    pub async fn find_login_failures(&self, account: &str) -> Result<Option<LoginFailures>> {
        self.get(key(keys::lockout_pk(account), keys::LOCKOUT_SK))
            .await
    }

    /// Records one failed login: counts it in the current window (starting a new window when
    /// the old one began before `window_floor`) and returns the updated record. The record
    /// expires at `expires_at`.
    pub async fn add_login_failure(
        &self,
        account: &str,
        now: DateTime<Utc>,
        window_floor: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<LoginFailures> {
        let mut attributes = key(keys::lockout_pk(account), keys::LOCKOUT_SK);
        expiring(&mut attributes, expires_at.timestamp());
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::lockout_pk(account), keys::LOCKOUT_SK)))
            .update_expression(
                "ADD failures :one SET expires_at = :expires, expiry_bucket = :bucket",
            )
            .condition_expression("window_start >= :floor")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":floor", n(window_floor.timestamp_millis()))
            .expression_attribute_values(":expires", attributes[keys::EXPIRES_AT].clone())
            .expression_attribute_values(":bucket", attributes[keys::EXPIRY_BUCKET].clone())
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let output = match counted {
            Ok(output) => output,
            Err(e) if is_condition_failed(&e) => self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::lockout_pk(account), keys::LOCKOUT_SK)))
                .update_expression(
                    "SET failures = :one, window_start = :now, expires_at = :expires, expiry_bucket = :bucket \
                     REMOVE locked_until",
                )
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now.timestamp_millis()))
                .expression_attribute_values(":expires", attributes[keys::EXPIRES_AT].clone())
                .expression_attribute_values(":bucket", attributes[keys::EXPIRY_BUCKET].clone())
                .return_values(ReturnValue::AllNew)
                .send()
                .await
                .map_err(|e| sdk_error("UpdateItem", e))?,
            Err(e) => return Err(sdk_error("UpdateItem", e)),
        };
        from_item(output.attributes.unwrap_or_default())
    }

    /// Locks an account until `until`, unless a later lock is already set.
    pub async fn lock_account(&self, account: &str, until: DateTime<Utc>) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::lockout_pk(account), keys::LOCKOUT_SK)))
            .update_expression("SET locked_until = :until")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(locked_until) OR locked_until < :until)")
            .expression_attribute_values(":until", n(until.timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }

    /// Forgets an account's failed logins (after a successful one).
    pub async fn clear_login_failures(&self, account: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::lockout_pk(account), keys::LOCKOUT_SK)))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(())
    }
}
