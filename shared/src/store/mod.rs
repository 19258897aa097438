//! The DynamoDB store: the only module that imports `aws_sdk_dynamodb`.
//!
//! Services call typed methods (`find_user`, `create_session`, ...) and never see an
//! `AttributeValue`. SDK errors are translated here: a failed condition becomes a domain answer
//! (`false`, `None` or a 409); everything else goes through [`errors`], the one translation of
//! AWS failures: throttling and outages become [`Error::Unavailable`] (503), anything else
//! [`Error::Internal`] with the detail in the log. [`CallCounter`] counts the
//! requests a store sends, for measurements.

mod audit;
mod calls;
pub use calls::CallCounter;
mod counters;
mod cursor;
mod email_tokens;
pub use email_tokens::Consumed;
mod errors;
pub(crate) use errors::aws_error;
mod expiry;
mod history;
mod mfa;
pub use mfa::{MfaRecord, MfaState, PendingLogin};
mod passkeys;
pub use passkeys::{Ceremony, StoredPasskey};
pub mod keys;
mod qr_auth;
pub use qr_auth::QrStep;
mod sessions;
pub use sessions::{Opening, UserSessions};
mod quota;
pub use quota::{QuotaRead, QuotaWrite};
mod rbac;
pub use rbac::Removal;
mod table;
mod user_admin;
pub use user_admin::UserFilter;
mod tickets;
pub use tickets::{TicketFilter, TicketPage, TicketScope};
mod users;
pub use users::ProfileChanges;

use std::collections::HashMap;
use std::fmt::Debug;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use counters::{AttemptBudget, FailuresReset, LoginFailures, RateHit, Reservation};
pub use expiry::ExpiredItem;
pub use table::{TableSpec, table_spec};

use crate::config::AwsCalls;
use crate::error::{Error, Result};

type Item = HashMap<String, AttributeValue>;

/// A handle on Sesame's table; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    /// Builds the DynamoDB client from the shared AWS configuration (region, credentials,
    /// timeouts and retries and, locally, the endpoint).
    pub fn connect(sdk_config: &aws_config::SdkConfig, table: &str) -> Store {
        Store::new(Client::new(sdk_config), table)
    }

    /// A store on an existing client and table.
    pub fn new(client: Client, table: &str) -> Store {
        Store {
            client,
            table: table.to_owned(),
        }
    }

    /// A store on a local endpoint with static test credentials (LocalStack, DynamoDB Local)
    /// and the default timeouts and retries.
    pub fn local(endpoint: &str, region: &str, table: &str) -> Store {
        Store::local_with(endpoint, region, table, &AwsCalls::default())
    }

    /// Like [`Store::local`], with the given timeouts and retries (the fault tests use short
    /// ones).
    pub fn local_with(endpoint: &str, region: &str, table: &str, calls: &AwsCalls) -> Store {
        Store::new(
            Client::from_conf(local_config(endpoint, region, calls).build()),
            table,
        )
    }

    /// One item by key, read consistently.
    async fn get_item(&self, key: Item) -> Result<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(output.item)
    }

    /// Every item of one partition, read consistently page by page (partitions that are read
    /// whole are small: a user with their sessions, a ticket with its thread).
    async fn query_partition(&self, pk: String) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// One record by key, read consistently.
    async fn get<T: DeserializeOwned>(&self, key: Item) -> Result<Option<T>> {
        self.get_item(key).await?.map(from_item).transpose()
    }

    /// The table this store writes to.
    pub fn table_name(&self) -> &str {
        &self.table
    }
}

/// Client configuration for a local endpoint with static test credentials.
fn local_config(
    endpoint: &str,
    region: &str,
    calls: &AwsCalls,
) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .http_client(crate::config::http_client())
        .timeout_config(calls.timeout_config())
        .retry_config(calls.retry_config())
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "sesame-local",
        ))
}

/// Translates a DynamoDB failure that is not a domain answer (see [`errors`]).
fn sdk_error<E: ProvideErrorMetadata + Debug>(operation: &str, error: SdkError<E>) -> Error {
    aws_error("DynamoDB", operation, error)
}

/// Which items (by position) failed their condition when a TransactWriteItems was cancelled,
/// with the stored item of each that asked for it (`ReturnValuesOnConditionCheckFailure`);
/// `None` when the failure was something else.
fn cancelled_conditions(error: &SdkError<TransactWriteItemsError>) -> Option<Refusal> {
    match error.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            let reasons = e.cancellation_reasons();
            Some(Refusal {
                failed: reasons
                    .iter()
                    .map(|r| r.code() == Some("ConditionalCheckFailed"))
                    .collect(),
                old: reasons
                    .iter()
                    .map(|r| r.item().filter(|item| !item.is_empty()).cloned())
                    .collect(),
            })
        }
        _ => None,
    }
}

/// How often a write is retried when DynamoDB reports a conflicting concurrent transaction.
pub(super) const CONFLICT_ATTEMPTS: u32 = 8;

/// How a transaction ended when it did not fail outright.
pub(super) enum Written {
    Done,
    /// Cancelled by failed conditions: `true` at the position of each failing item.
    Refused(Vec<bool>, StoredItems),
}

/// The stored items of a cancelled transaction, by position: `Some` for an item whose condition
/// failed, that asked for its old values and existed.
pub(super) type StoredItems = Vec<Option<Item>>;

/// The cancellation reasons of a transaction, by position.
struct Refusal {
    failed: Vec<bool>,
    old: StoredItems,
}

impl Written {
    /// Whether the transaction was written; `false` when the condition of its first item (its
    /// guard) failed. A failure of any other item's condition is a bug in the caller's guard.
    fn guarded(self) -> Result<bool> {
        match self {
            Written::Done => Ok(true),
            Written::Refused(failed, _) if failed.first() == Some(&true) => Ok(false),
            Written::Refused(failed, _) => Err(Error::internal(format!(
                "unexpected failed conditions {failed:?}"
            ))),
        }
    }
}

/// Waits before retrying a write that collided with a concurrent transaction: exponential
/// backoff (10 ms doubling up to 160 ms) with jitter over its upper half, so writers that
/// collided do not all retry at the same instant and collide again.
pub(super) async fn conflict_backoff(attempt: u32) {
    let ceiling = 10u64 << attempt.min(4);
    let wait = rand::random_range(ceiling / 2..=ceiling);
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
}

/// Whether a transaction was cancelled only because another transaction touched its items.
fn is_transaction_conflict(error: &SdkError<TransactWriteItemsError>) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("TransactionConflict")),
        _ => false,
    }
}

impl Store {
    /// Runs a TransactWriteItems, retrying with backoff while DynamoDB reports a conflicting
    /// concurrent transaction; failed conditions come back as [`Written::Refused`].
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Written> {
        for attempt in 0..CONFLICT_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Written::Done),
                Err(e) if is_transaction_conflict(&e) => conflict_backoff(attempt).await,
                Err(e) => match cancelled_conditions(&e) {
                    Some(refusal) if refusal.failed.contains(&true) => {
                        return Ok(Written::Refused(refusal.failed, refusal.old));
                    }
                    _ => return Err(errors::transaction_error(e)),
                },
            }
        }
        Err(Error::Unavailable)
    }

    /// Runs a transaction whose first item is its guard: `false` when the guard's condition
    /// failed and nothing was written.
    pub(super) async fn transact_guarded(&self, items: Vec<TransactWriteItem>) -> Result<bool> {
        self.transact(items).await?.guarded()
    }
}

/// The outcome of a conditional single-item write: `true` when written, `false` when its
/// condition failed; any other failure is translated by [`sdk_error`].
fn conditional_write<O, E: ProvideErrorMetadata + Debug>(
    operation: &str,
    result: std::result::Result<O, SdkError<E>>,
) -> Result<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failed(&e) => Ok(false),
        Err(e) => Err(sdk_error(operation, e)),
    }
}

/// Whether an SDK error is a failed condition of a single-item write.
fn is_condition_failed<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Serializes a record and adds its key attributes.
fn to_item<T: Serialize>(record: &T, key_attributes: &[(&str, String)]) -> Result<Item> {
    let mut item: Item =
        serde_dynamo::aws_sdk_dynamodb_1::to_item(record).map_err(Error::internal)?;
    for (name, value) in key_attributes {
        item.insert((*name).to_owned(), s(value.clone()));
    }
    Ok(item)
}

/// Deserializes a record, ignoring key attributes.
fn from_item<T: DeserializeOwned>(item: Item) -> Result<T> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item).map_err(Error::internal)
}

/// The key map of an item.
fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}

/// Gives an item its expiry: the TTL attribute and the cleanup index's day bucket. Every item
/// with a lifetime is written through this so the cleanup function can find it.
fn expiring(item: &mut Item, expires_at: i64) {
    item.insert(keys::EXPIRES_AT.to_owned(), n(expires_at));
    item.insert(
        keys::EXPIRY_BUCKET.to_owned(),
        s(keys::expiry_bucket(expires_at)),
    );
}

/// An item that points at a user (an e-mail claim).
#[derive(serde::Deserialize)]
struct UserRef {
    user_id: crate::domain::UserId,
}
