//! Counters with a lifetime: fixed-window rate limits and per-account login-failure records
//! (the attempt budget that is reserved before a password is hashed, and the lock).

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};

use super::{
    Store, conditional_write, expiring, from_item, is_condition_failed, key, keys, n, sdk_error,
};
use crate::error::{Error, Result};

/// The failed-login record of one account: the attempt budget of its current counting window
/// and its lock history.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct LoginFailures {
    /// Password checks reserved in the current window. A reservation counts as a failure until
    /// the password is found right, which resets the count to zero.
    pub failures: u32,
    /// When the current counting window began (epoch milliseconds).
    pub window_start: i64,
    /// The account refuses password checks until then (epoch milliseconds), if set.
    pub locked_until: Option<i64>,
    /// How many locks the account has had since its last correct password.
    #[serde(default)]
    pub lock_count: u32,
}

/// The rules a reservation of a password check is made under.
#[derive(Debug, Clone, Copy)]
pub struct AttemptBudget {
    /// Checks allowed per counting window.
    pub max: u32,
    /// A window that began before this is over; the next check starts a new one.
    pub window_floor: DateTime<Utc>,
    /// The record is forgotten (TTL) at this time unless written again.
    pub expires_at: DateTime<Utc>,
}

/// What a stored failure record says about the next reservation.
enum Budget {
    /// Not locked, and the current window has checks left.
    InWindow,
    /// Not locked, and there is no current window: a new one starts.
    NewWindow,
    /// Locked, or every check of the current window is taken.
    Exhausted,
}

impl Budget {
    fn of(record: Option<LoginFailures>, now: DateTime<Utc>, budget: AttemptBudget) -> Budget {
        let Some(record) = record else {
            return Budget::NewWindow;
        };
        if record
            .locked_until
            .is_some_and(|until| until > now.timestamp_millis())
        {
            Budget::Exhausted
        } else if record.window_start < budget.window_floor.timestamp_millis() {
            Budget::NewWindow
        } else if record.failures >= budget.max {
            Budget::Exhausted
        } else {
            Budget::InWindow
        }
    }
}

/// How many times a reservation re-reads the record when concurrent reservations changed it
/// between its conditional writes.
const RESERVE_ATTEMPTS: usize = 8;

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

    /// Reserves one password check on an account before the password is hashed, with a
    /// conditional write: `None` when the account is locked or every check of the current
    /// window is taken (then nothing is written). Otherwise the check is counted as a failure
    /// and the updated record is returned; its `failures` tells the caller whether this check
    /// took the window's last slot. Of any number of parallel reservations at most
    /// `budget.max` succeed per window, because each one is conditioned on the count it raises.
    pub async fn reserve_login_attempt(
        &self,
        account: &str,
        now: DateTime<Utc>,
        budget: AttemptBudget,
    ) -> Result<Option<LoginFailures>> {
        let mut expiry = key(keys::lockout_pk(account), keys::LOCKOUT_SK);
        expiring(&mut expiry, budget.expires_at.timestamp());
        let not_locked = "(attribute_not_exists(locked_until) OR locked_until <= :now)";
        // The first try assumes the usual case of a current window; a refusal returns the
        // record, which says which write to try next.
        let mut next = Budget::InWindow;
        for _ in 0..RESERVE_ATTEMPTS {
            let request = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::lockout_pk(account), keys::LOCKOUT_SK)))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now.timestamp_millis()))
                .expression_attribute_values(":floor", n(budget.window_floor.timestamp_millis()))
                .expression_attribute_values(":expires", expiry[keys::EXPIRES_AT].clone())
                .expression_attribute_values(":bucket", expiry[keys::EXPIRY_BUCKET].clone())
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            let request = match next {
                Budget::InWindow => request
                    .update_expression(
                        "ADD failures :one SET expires_at = :expires, expiry_bucket = :bucket",
                    )
                    .condition_expression(format!(
                        "window_start >= :floor AND failures < :max AND {not_locked}"
                    ))
                    .expression_attribute_values(":max", n(budget.max)),
                Budget::NewWindow => request
                    .update_expression(
                        "SET failures = :one, window_start = :now, expires_at = :expires, \
                         expiry_bucket = :bucket REMOVE locked_until",
                    )
                    .condition_expression(format!(
                        "attribute_not_exists(pk) OR (window_start < :floor AND {not_locked})"
                    )),
                Budget::Exhausted => return Ok(None),
            };
            match request.send().await {
                Ok(output) => return from_item(output.attributes.unwrap_or_default()).map(Some),
                Err(e) if is_condition_failed(&e) => {
                    let old = match e.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                            failed.item.clone().map(from_item).transpose()?
                        }
                        _ => None,
                    };
                    next = Budget::of(old, now, budget);
                }
                Err(e) => return Err(sdk_error("UpdateItem", e)),
            }
        }
        // Reservations kept overtaking this one; treat it like a busy store.
        Err(Error::Unavailable)
    }

    /// Locks an account whose window's last check (`reserved`, as returned by
    /// [`reserve_login_attempt`](Self::reserve_login_attempt)) failed: until `until`, counting
    /// one more lock. After the lock one more check is allowed before the next lock (the
    /// window restarts at `until` with `max - 1` checks taken). Nothing happens when the
    /// record changed meanwhile (a correct password reset it).
    pub async fn lock_account(
        &self,
        account: &str,
        reserved: &LoginFailures,
        until: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut expiry = key(keys::lockout_pk(account), keys::LOCKOUT_SK);
        expiring(&mut expiry, expires_at.timestamp());
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::lockout_pk(account), keys::LOCKOUT_SK)))
            .update_expression(
                "SET locked_until = :until, window_start = :until, failures = :rest, \
                 lock_count = :locks, expires_at = :expires, expiry_bucket = :bucket",
            )
            .condition_expression("failures = :reached AND window_start = :started")
            .expression_attribute_values(":until", n(until.timestamp_millis()))
            .expression_attribute_values(":rest", n(reserved.failures.saturating_sub(1)))
            .expression_attribute_values(":locks", n(reserved.lock_count + 1))
            .expression_attribute_values(":reached", n(reserved.failures))
            .expression_attribute_values(":started", n(reserved.window_start))
            .expression_attribute_values(":expires", expiry[keys::EXPIRES_AT].clone())
            .expression_attribute_values(":bucket", expiry[keys::EXPIRY_BUCKET].clone())
            .send()
            .await;
        conditional_write("UpdateItem", result).map(|_| ())
    }

    /// Forgets an account's failures and locks after a correct password: the count of the
    /// current window goes back to zero (checks still in flight were reserved before it and
    /// are forgotten with it) and the lock escalation starts over. The record itself stays
    /// until it expires, so parallel reservations keep finding it instead of racing to
    /// recreate it.
    pub async fn reset_login_failures(&self, account: &str) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::lockout_pk(account), keys::LOCKOUT_SK)))
            .update_expression("SET failures = :zero REMOVE locked_until, lock_count")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        conditional_write("UpdateItem", result).map(|_| ())
    }
}
