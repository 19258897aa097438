//! The one translation of AWS SDK failures into [`Error`], for every client Sesame has
//! (DynamoDB here, S3 in `blobs`, Secrets Manager in `secrets`, SES in `mail`).
//!
//! A failure that says "try again later" becomes [`Error::Unavailable`] (503 with
//! `Retry-After`): throttling (`ThrottlingException`, `ProvisionedThroughputExceededException`,
//! `RequestLimitExceeded`, S3's `SlowDown`, a transaction cancelled for throttling or a
//! conflicting transaction), a 5xx from the service, a timed-out call, a connection that could
//! not be made or broke mid-response. Anything else is a bug or a misconfiguration and becomes
//! [`Error::Internal`] (500). Domain answers (a failed condition) are decided by the callers
//! before they get here. The SDK has already retried what its standard mode retries, so by the
//! time a failure arrives here the configured attempts or the operation timeout are spent.

use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

use crate::error::Error;

/// Error codes of AWS services that mean "too many requests now" or "briefly broken".
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Cancellation reasons of a transaction that mean "try again later".
const TRANSIENT_CANCELLATIONS: &[&str] = &[
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
    "TransactionConflict",
];

/// Translates a failed SDK call of `service` (`"DynamoDB"`, `"S3"`, ...) and logs it with its
/// detail, which never reaches the client.
pub(crate) fn aws_error<E: ProvideErrorMetadata + Debug>(
    service: &'static str,
    operation: &str,
    error: SdkError<E>,
) -> Error {
    let transient = is_transient(&error);
    if transient {
        tracing::warn!(service, operation, error = ?error, "AWS call failed; answering 503");
        Error::Unavailable
    } else {
        tracing::error!(service, operation, error = ?error, "AWS call failed");
        Error::internal(format!("{service} {operation} failed"))
    }
}

/// Translates a failed TransactWriteItems that is not a refusal by conditions: a cancellation
/// for throttling or conflicts is a 503 like any other throttling.
pub(super) fn transaction_error(error: SdkError<TransactWriteItemsError>) -> Error {
    if let Some(TransactWriteItemsError::TransactionCanceledException(e)) = error.as_service_error()
    {
        let throttled = e.cancellation_reasons().iter().any(|r| {
            r.code()
                .is_some_and(|c| TRANSIENT_CANCELLATIONS.contains(&c))
        });
        if throttled {
            tracing::warn!(error = ?error, "TransactWriteItems cancelled for throttling; answering 503");
            return Error::Unavailable;
        }
    }
    aws_error("DynamoDB", "TransactWriteItems", error)
}

/// Whether a failure is worth retrying later: timeouts, connections that failed or broke,
/// unparseable responses, throttling codes and 5xx answers.
fn is_transient<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => {
            e.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
                || e.raw().status().is_server_error()
        }
        _ => false,
    }
}
