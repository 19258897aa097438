//! User profiles and e-mail claims.

use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::audit::audit_put;
use super::history::login_record_put;
use super::{
    Item, Store, UserRef, Written, conditional_write, from_item, is_condition_failed, key, keys, n,
    s, sdk_error, to_item,
};
use crate::audit::Record;
use crate::domain::{Email, EmailToken, LoginRecord, Session, User, UserId};
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

    /// Creates a user, claims the e-mail address, stores the first session, the history
    /// entry of that login (kept until `history_expires_at`) and the address's verification
    /// token, all or nothing. Fails with 409 `email_taken` when the address belongs to someone
    /// else.
    pub async fn create_user(
        &self,
        user: &User,
        first_session: &Session,
        history: &LoginRecord,
        history_expires_at: DateTime<Utc>,
        verification: &EmailToken,
        audit: &Record,
    ) -> Result<()> {
        let profile = user_item(user)?;
        let mut claim = key(keys::email_pk(&user.email), keys::EMAIL_SK);
        claim.insert("user_id".into(), s(user.id.to_string()));
        let mut items = vec![
            put(&self.table, profile, Some("attribute_not_exists(pk)"))?,
            put(&self.table, claim, Some("attribute_not_exists(pk)"))?,
        ];
        items.push(self.session_put(first_session)?);
        items.push(login_record_put(&self.table, history, history_expires_at)?);
        items.push(self.email_token_put(verification)?);
        items.push(audit_put(&self.table, audit)?);
        match self.transact(items).await? {
            Written::Done => Ok(()),
            Written::Refused(failed, _) if failed.get(1) == Some(&true) => Err(Error::conflict(
                "email_taken",
                "an account with this e-mail already exists",
            )),
            Written::Refused(failed, _) => Err(Error::internal(format!(
                "registration refused by conditions {failed:?}"
            ))),
        }
    }

    /// Changes a user's own names and `updated_at` and bumps the profile version, writing only
    /// those attributes, so a concurrent change of anything else (the password, flags, roles) is
    /// never undone, and an administrator's edit conditioned on the old version fails. `None`
    /// leaves a name as it is; `Some(None)` removes the middle name. Returns the user as
    /// stored afterwards; fails with 404 when the user does not exist.
    pub async fn update_user_names(
        &self,
        user_id: UserId,
        changes: &ProfileChanges,
        now: DateTime<Utc>,
    ) -> Result<User> {
        let mut sets = vec![
            "updated_at = :updated",
            "#version = if_not_exists(#version, :zero) + :one",
        ];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::PROFILE)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#version", keys::USER_VERSION)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":updated", n(now.timestamp_millis()))
            .return_values(ReturnValue::AllNew);
        if let Some(first) = &changes.first_name {
            sets.push("first_name = :first");
            request = request.expression_attribute_values(":first", s(first));
        }
        if let Some(last) = &changes.last_name {
            sets.push("last_name = :last");
            request = request.expression_attribute_values(":last", s(last));
        }
        if let Some(middle) = &changes.middle_name {
            sets.push("middle_name = :middle");
            let middle = middle.as_ref().map_or(AttributeValue::Null(true), s);
            request = request.expression_attribute_values(":middle", middle);
        }
        let result = request
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await;
        match result {
            Ok(output) => from_item(output.attributes.unwrap_or_default()),
            Err(e) if is_condition_failed(&e) => Err(Error::not_found("user")),
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }

    /// Replaces a user's password hash, provided it is still `old_hash`, and bumps the user's
    /// profile version (its `updated_at` changes) and session version, so a login that verified the old password and has not yet stored its
    /// session is refused (see `auth::start_session`). Returns `false`, writing nothing, when
    /// the hash changed meanwhile or the user is gone.
    pub async fn change_password_hash(
        &self,
        user_id: UserId,
        old_hash: &str,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::PROFILE)))
            .update_expression(
                "SET password_hash = :new, updated_at = :updated, password_changed_at = :updated, \
                 session_version = if_not_exists(session_version, :zero) + :one, \
                 #version = if_not_exists(#version, :zero) + :one",
            )
            .condition_expression("password_hash = :old")
            .expression_attribute_names("#version", keys::USER_VERSION)
            .expression_attribute_values(":new", s(new_hash))
            .expression_attribute_values(":old", s(old_hash))
            .expression_attribute_values(":updated", n(now.timestamp_millis()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        conditional_write("UpdateItem", result)
    }
}

/// Changes to a user's own names: `None` leaves a name as it is, `Some(None)` removes the
/// middle name.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<Option<String>>,
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
