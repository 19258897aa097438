//! QR login requests: created by a browser, then moved through their states, each step one
//! conditional write on the current state and the code's lifetime.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::{Store, from_item, is_condition_failed, key, keys, n, s, sdk_error};
use crate::domain::{Device, QrLogin, QrStatus, UserId};
use crate::error::{Error, Result};

/// A step of a QR login. Each applies only while the code is alive and the request is in the
/// state the step starts from, so of racing steps exactly one wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrStep {
    /// pending → scanned by this user, on this device (scanning again by the same user is
    /// allowed).
    Scan(UserId, Device),
    /// scanned by this user → confirmed.
    Confirm(UserId),
    /// scanned by this user → rejected.
    Reject(UserId),
    /// confirmed → consumed: the browser collects its session (before tokens are issued).
    Consume,
}

fn status_value(status: QrStatus) -> Result<AttributeValue> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(status).map_err(Error::internal)
}

impl Store {
    /// Stores a new QR login; its code hash must be new.
    pub async fn create_qr_login(&self, login: &QrLogin) -> Result<()> {
        let key = [
            (keys::PK, keys::qr_pk(&login.code_hash)),
            (keys::SK, keys::QR_SK.to_owned()),
        ];
        self.put_new_expiring(login, &key, login.expires_at.timestamp())
            .await
    }

    /// The QR login with this code hash, if stored (expired or not: the caller checks).
    pub async fn find_qr_login(&self, code_hash: &str) -> Result<Option<QrLogin>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::qr_pk(code_hash), keys::QR_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        output.item.map(from_item).transpose()
    }

    /// Applies one step to a QR login with a single conditional write and returns the updated
    /// request. Returns `None` when the request is missing, its code has expired at `now`, or it
    /// is not in the step's starting state (another step won); the caller re-reads to tell which.
    pub async fn advance_qr_login(
        &self,
        code_hash: &str,
        step: &QrStep,
        now: DateTime<Utc>,
    ) -> Result<Option<QrLogin>> {
        let (from, to, user) = match *step {
            QrStep::Scan(user, _) => (
                "(#status = :pending OR (#status = :scanned AND scanned_by = :user))",
                QrStatus::Scanned,
                Some(user),
            ),
            QrStep::Confirm(user) => (
                "#status = :scanned AND scanned_by = :user",
                QrStatus::Confirmed,
                Some(user),
            ),
            QrStep::Reject(user) => (
                "#status = :scanned AND scanned_by = :user",
                QrStatus::Rejected,
                Some(user),
            ),
            QrStep::Consume => ("#status = :confirmed", QrStatus::Consumed, None),
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::qr_pk(code_hash), keys::QR_SK)))
            .condition_expression(format!(
                "attribute_exists(pk) AND code_expires_at > :now AND {from}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":to", status_value(to)?)
            .return_values(ReturnValue::AllNew);
        request = match step {
            QrStep::Scan(_, device) => request
                .update_expression(
                    "SET #status = :to, scanned_by = :user, scanned_device = :device",
                )
                .expression_attribute_values(
                    ":device",
                    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(device)
                        .map_err(Error::internal)?,
                )
                .expression_attribute_values(":pending", status_value(QrStatus::Pending)?)
                .expression_attribute_values(":scanned", status_value(QrStatus::Scanned)?),
            QrStep::Confirm(_) | QrStep::Reject(_) => {
                request.expression_attribute_values(":scanned", status_value(QrStatus::Scanned)?)
            }
            QrStep::Consume => request
                .expression_attribute_values(":confirmed", status_value(QrStatus::Confirmed)?),
        };
        request = match (user, step) {
            (Some(user), QrStep::Scan(..)) => {
                request.expression_attribute_values(":user", s(user.to_string()))
            }
            (Some(user), _) => request
                .update_expression("SET #status = :to, scanned_by = :user")
                .expression_attribute_values(":user", s(user.to_string())),
            (None, _) => request.update_expression("SET #status = :to"),
        };
        match request.send().await {
            Ok(output) => from_item(output.attributes.unwrap_or_default()).map(Some),
            Err(e) if is_condition_failed(&e) => Ok(None),
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }
}
