//! User profiles and e-mail claims.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::{
    Item, Store, UserRef, Written, is_condition_failed, key, keys, n, s, sdk_error, to_item,
};
use chrono::{DateTime, Utc};

use super::history::login_record_put;
use crate::domain::{Email, LoginRecord, Session, User, UserId};
use crate::error::{Error, Result};

impl Store {
    /// The user with this id, read consistently.
    pub async fn find_user(&self, user_id: UserId) -> Result<Option<User>> {
        self.get(key(keys::user_pk(user_id), keys::PROFILE)).await
    }

    /// The id of the user who owns this e-mail address.
    pub async fn find_user_id_by_email(&self, email: &Email) -> Result<Option<UserId>> {
        let claim: Option<UserRef> = self.get(key(keys::email_pk(email), keys::EMAIL_SK)).await?;
        Ok(claim.map(|c| c.user_id))
    }

    /// Creates a user, claims the e-mail address, stores the first session and the history
    /// entry of that login (kept until `history_expires_at`), all or nothing. Fails with 409
    /// `email_taken` when the address belongs to someone else.
    pub async fn create_user(
        &self,
        user: &User,
        first_session: &Session,
        history: &LoginRecord,
        history_expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let profile = user_item(user)?;
        let mut claim = key(keys::email_pk(&user.email), keys::EMAIL_SK);
        claim.insert("user_id".into(), s(user.id.to_string()));
        let mut items = vec![
            put(&self.table, profile, Some("attribute_not_exists(pk)"))?,
            put(&self.table, claim, Some("attribute_not_exists(pk)"))?,
        ];
        items.extend(self.session_puts(first_session)?);
        items.push(login_record_put(&self.table, history, history_expires_at)?);
        match self.transact(items).await? {
            Written::Done => Ok(()),
            Written::Refused(failed) if failed.get(1) == Some(&true) => Err(Error::conflict(
                "email_taken",
                "an account with this e-mail already exists",
            )),
            Written::Refused(failed) => Err(Error::internal(format!(
                "registration refused by conditions {failed:?}"
            ))),
        }
    }

    /// Stores what a user changes about themselves: names, password hash and `updated_at`.
    /// Flags and roles are an administrator's (`update_user_admin`) and are left alone, so a
    /// concurrent admin change is never undone. Fails with 404 when the user does not exist.
    pub async fn update_user_profile(&self, user: &User) -> Result<()> {
        let middle = user
            .middle_name
            .as_ref()
            .map_or(AttributeValue::Null(true), s);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user.id), keys::PROFILE)))
            .update_expression(
                "SET first_name = :first, last_name = :last, middle_name = :middle, \
                 password_hash = :hash, updated_at = :updated",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":first", s(&user.first_name))
            .expression_attribute_values(":last", s(&user.last_name))
            .expression_attribute_values(":middle", middle)
            .expression_attribute_values(":hash", s(&user.password_hash))
            .expression_attribute_values(":updated", n(user.updated_at.timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(Error::not_found("user")),
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }
}

pub(super) fn user_item(user: &User) -> Result<Item> {
    to_item(
        user,
        &[
            (keys::PK, keys::user_pk(user.id)),
            (keys::SK, keys::PROFILE.to_owned()),
            (keys::GSI1_PK, keys::ALL_USERS.to_owned()),
            (keys::GSI1_SK, user.id.to_string()),
        ],
    )
}

/// A Put of a whole item in a transaction, with an optional condition.
pub(super) fn put(table: &str, item: Item, condition: Option<&str>) -> Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .build()
        .map_err(Error::internal)?;
    Ok(TransactWriteItem::builder().put(put).build())
}
