//! Counters with a lifetime: fixed-window rate limits and per-account login-failure records
//! (the attempt budget that is reserved before a password is hashed, and the lock).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};

use super::{Item, Store, Written, conditional_write, expiring, from_item, key, keys, n};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// How many times a reservation is tried at least when concurrent checks changed the record
/// between its read and its write (see [`reserve_attempts`]).
const RESERVE_ATTEMPTS: usize = 16;

/// How many times a reservation is tried. Every retry follows another check's write: one of at
/// most `max` reservations of the window, the lock, or the reset after a correct password (each
/// of which follows a reservation), so `2 × max + 2` retries outlast any burst of guesses and of
/// parallel logins of the account's owner; more means the store keeps failing, which is a 503.
fn reserve_attempts(budget: AttemptBudget) -> usize {
    let max = usize::try_from(budget.max).unwrap_or(usize::MAX);
    RESERVE_ATTEMPTS.max(max.saturating_mul(2).saturating_add(2))
}

/// A hit of a fixed-window rate limit: the counter of one window of one key.
#[derive(Debug, Clone)]
pub struct RateHit {
    /// `<limit name>#<subject>`.
    pub key: String,
    /// The window's start (epoch milliseconds).
    pub window_start: i64,
    /// The window's end; the counter expires with it.
    pub window_end: DateTime<Utc>,
    /// Hits allowed in the window.
    pub max: u64,
}

/// The outcome of reserving a password check (see [`Store::reserve_login_attempt`]).
#[derive(Debug)]
pub enum Reservation {
    /// Reserved: the record as the reservation left it (its `failures` counts this check).
    Reserved(LoginFailures),
    /// The account is locked or every check of its window is taken: nothing was reserved (the
    /// rate hit, if any, was counted).
    Exhausted,
    /// The rate hit's window is full: nothing was written.
    RateLimited,
}

/// Clearing an account's failure record after a correct password, as one item of a
/// transaction (the login's session transaction, or on its own).
#[derive(Debug, Clone, Copy)]
pub struct FailuresReset<'a> {
    pub account: &'a str,
    pub now: DateTime<Utc>,
    /// When a record that vanished meanwhile is forgotten again.
    pub expires_at: DateTime<Utc>,
}

/// The key of an account's failure record: in the user's partition, so the login's query of
/// that partition reads it with the profile and sessions (`account` is a user id, or the hashed
/// key of an e-mail without an account, whose partition holds nothing else).
fn failures_key(account: &str) -> Item {
    key(keys::user_pk(account), keys::LOCKOUT_SK)
}

/// The expression parts of a rate hit: `ADD hits` only while fewer than `max` were counted.
fn rate_hit_parts(hit: &RateHit) -> (Item, HashMap<String, AttributeValue>) {
    let item_key = key(keys::rate_pk(&hit.key), hit.window_start.to_string());
    let mut expiry = item_key.clone();
    expiring(&mut expiry, hit.window_end.timestamp() + 1);
    let values = HashMap::from([
        (":one".to_owned(), n(1)),
        (":max".to_owned(), n(hit.max)),
        (":expires".to_owned(), expiry[keys::EXPIRES_AT].clone()),
        (":bucket".to_owned(), expiry[keys::EXPIRY_BUCKET].clone()),
    ]);
    (item_key, values)
}

const RATE_HIT_UPDATE: &str = "ADD hits :one SET expires_at = :expires, expiry_bucket = :bucket";
const RATE_HIT_CONDITION: &str = "attribute_not_exists(hits) OR hits < :max";

impl Store {
    /// Counts a hit in its window unless the window's `max` hits are taken: `true` when
    /// counted, `false` when refused (then nothing is written). The counter expires with the
    /// window.
    pub async fn count_hit(&self, hit: &RateHit) -> Result<bool> {
        let (item_key, values) = rate_hit_parts(hit);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .update_expression(RATE_HIT_UPDATE)
            .condition_expression(RATE_HIT_CONDITION)
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        conditional_write("UpdateItem", result)
    }

    /// A rate hit as an item of a transaction; its condition fails when the window is full.
    fn rate_hit_item(&self, hit: &RateHit) -> Result<TransactWriteItem> {
        let (item_key, values) = rate_hit_parts(hit);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .update_expression(RATE_HIT_UPDATE)
            .condition_expression(RATE_HIT_CONDITION)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// An account's failure record, read consistently (`None`: no failures remembered).
    pub async fn find_login_failures(&self, account: &str) -> Result<Option<LoginFailures>> {
        self.get(failures_key(account)).await
    }

    /// Reserves one password check on an account before the password is hashed, in one
    /// transaction with the caller's rate `hit` (if any), so that a refused hit spends no
    /// check and a reserved check is counted against the client.
    ///
    /// `seen` is the record as last read (`None`: none stored). The reservation is written
    /// only over exactly that record, so its result is known without reading it back; when a
    /// concurrent check changed it first, the transaction returns the stored record and the
    /// reservation is tried again on it. Of any number of parallel reservations at most
    /// `budget.max` succeed per window. A reserved check counts as a failure until a correct
    /// password resets the record; the returned `failures` tells the caller whether this check
    /// took the window's last slot.
    pub async fn reserve_login_attempt(
        &self,
        account: &str,
        mut seen: Option<LoginFailures>,
        now: DateTime<Utc>,
        budget: AttemptBudget,
        hit: Option<&RateHit>,
    ) -> Result<Reservation> {
        for _ in 0..reserve_attempts(budget) {
            let mut items = hit
                .map(|hit| self.rate_hit_item(hit))
                .into_iter()
                .collect::<Result<Vec<_>>>()?;
            let next = match Budget::of(seen.clone(), now, budget) {
                Budget::Exhausted if items.is_empty() => return Ok(Reservation::Exhausted),
                Budget::Exhausted => None,
                fresh => Some(self.reservation_item(account, seen.as_ref(), fresh, now, budget)?),
            };
            let reserved = next.map(|(item, record)| {
                items.push(item);
                record
            });
            match self.transact(items).await? {
                Written::Done => {
                    return Ok(reserved.map_or(Reservation::Exhausted, Reservation::Reserved));
                }
                Written::Refused(failed, _) if hit.is_some() && failed.first() == Some(&true) => {
                    return Ok(Reservation::RateLimited);
                }
                Written::Refused(_, mut old) => {
                    seen = old.pop().flatten().map(from_item).transpose()?;
                }
            }
        }
        // Reservations kept overtaking this one; treat it like a busy store.
        Err(Error::Unavailable)
    }

    /// The write that reserves a check on `seen` (`fresh` says whether the current window
    /// continues or a new one starts) and the record it leaves.
    fn reservation_item(
        &self,
        account: &str,
        seen: Option<&LoginFailures>,
        fresh: Budget,
        now: DateTime<Utc>,
        budget: AttemptBudget,
    ) -> Result<(TransactWriteItem, LoginFailures)> {
        let mut expiry = failures_key(account);
        expiring(&mut expiry, budget.expires_at.timestamp());
        let (expression, record) = match fresh {
            Budget::InWindow => (
                "SET failures = :next, expires_at = :expires, expiry_bucket = :bucket",
                LoginFailures {
                    failures: seen.map_or(0, |r| r.failures) + 1,
                    ..seen.cloned().unwrap_or_default()
                },
            ),
            _ => (
                "SET failures = :next, window_start = :now, expires_at = :expires, \
                 expiry_bucket = :bucket REMOVE locked_until",
                LoginFailures {
                    failures: 1,
                    window_start: now.timestamp_millis(),
                    locked_until: None,
                    lock_count: seen.map_or(0, |r| r.lock_count),
                },
            ),
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(failures_key(account)))
            .update_expression(expression)
            .expression_attribute_values(":next", n(record.failures))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":expires", expiry[keys::EXPIRES_AT].clone())
            .expression_attribute_values(":bucket", expiry[keys::EXPIRY_BUCKET].clone())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let update = match seen {
            None => update.condition_expression("attribute_not_exists(pk)"),
            Some(seen) => update
                .condition_expression(
                    "failures = :seen AND window_start = :started \
                     AND (attribute_not_exists(locked_until) OR locked_until <= :now)",
                )
                .expression_attribute_values(":seen", n(seen.failures))
                .expression_attribute_values(":started", n(seen.window_start)),
        }
        .build()
        .map_err(Error::internal)?;
        Ok((TransactWriteItem::builder().update(update).build(), record))
    }

    /// Gives back one reserved check of an account that is not locked at `now` (a right
    /// password on an account with a second factor: the password is no failure, but the
    /// record's escalation must stay for the codes that follow, so it is not reset). Nothing
    /// happens when there is nothing to give back or the account was locked meanwhile.
    pub async fn release_login_attempt(&self, account: &str, now: DateTime<Utc>) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(failures_key(account)))
            .update_expression("SET failures = failures - :one")
            .condition_expression(
                "failures > :zero AND (attribute_not_exists(locked_until) OR locked_until <= :now)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .send()
            .await;
        conditional_write("UpdateItem", result).map(|_| ())
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
        let mut expiry = failures_key(account);
        expiring(&mut expiry, expires_at.timestamp());
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(failures_key(account)))
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

    /// Forgets an account's failures and locks after a correct password (see
    /// [`failures_reset_item`](Self::failures_reset_item)), on its own.
    pub async fn reset_login_failures(&self, reset: FailuresReset<'_>) -> Result<()> {
        self.transact(vec![self.failures_reset_item(reset)?])
            .await
            .map(|_| ())
    }

    /// The write that forgets an account's failures and locks after a correct password: the
    /// count of the current window goes back to zero (checks still in flight were reserved
    /// before it and are forgotten with it) and the lock escalation starts over. The record
    /// itself stays until it expires, so parallel reservations keep finding it; one that
    /// vanished meanwhile is written whole again.
    pub(super) fn failures_reset_item(
        &self,
        reset: FailuresReset<'_>,
    ) -> Result<TransactWriteItem> {
        let mut expiry = failures_key(reset.account);
        expiring(&mut expiry, reset.expires_at.timestamp());
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(failures_key(reset.account)))
            .update_expression(
                "SET failures = :zero, window_start = if_not_exists(window_start, :now), \
                 expires_at = if_not_exists(expires_at, :expires), \
                 expiry_bucket = if_not_exists(expiry_bucket, :bucket) \
                 REMOVE locked_until, lock_count",
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(reset.now.timestamp_millis()))
            .expression_attribute_values(":expires", expiry[keys::EXPIRES_AT].clone())
            .expression_attribute_values(":bucket", expiry[keys::EXPIRY_BUCKET].clone())
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
