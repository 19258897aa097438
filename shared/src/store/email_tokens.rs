//! Single-use e-mail tokens (verification, password reset, e-mail change), stored only as the
//! SHA-256 of the token, and the transactions that consume them.
//!
//! A token is consumed by deleting its item on the condition that it is still there, of the
//! expected purpose and unexpired, in the same transaction as its effect: of two requests with
//! the same token exactly one succeeds, and a token whose effect could not be applied stays
//! unused.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::{
    FailuresReset, Item, Store, Written, conditional_write, expiring, from_item, key, keys, n, s,
    sdk_error, to_item,
};
use crate::domain::{Email, EmailToken, TokenPurpose, UserId};
use crate::error::{Error, Result};

/// How consuming a token ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumed {
    /// The token was used and its effect written.
    Done,
    /// The token was gone, used, expired or of another purpose, or the account no longer
    /// matches it (its address changed meanwhile): nothing was written.
    Invalid,
    /// An e-mail change whose new address was claimed meanwhile: nothing was written.
    EmailTaken,
}

fn token_key(hash: &str) -> Item {
    key(keys::email_token_pk(hash), keys::EMAIL_TOKEN_SK)
}

fn purpose_name(purpose: TokenPurpose) -> &'static str {
    match purpose {
        TokenPurpose::VerifyEmail => "verify_email",
        TokenPurpose::ResetPassword => "reset_password",
        TokenPurpose::ChangeEmail => "change_email",
    }
}

impl Store {
    /// The item of a new token, with its expiry (TTL and cleanup bucket).
    fn email_token_item(token: &EmailToken) -> Result<Item> {
        let mut item = to_item(
            token,
            &[
                (keys::PK, keys::email_token_pk(&token.hash)),
                (keys::SK, keys::EMAIL_TOKEN_SK.to_owned()),
            ],
        )?;
        expiring(&mut item, token.expires_at.timestamp());
        Ok(item)
    }

    /// The Put of a new token, for a transaction (registration stores its verification token
    /// with the account).
    pub(super) fn email_token_put(&self, token: &EmailToken) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Store::email_token_item(token)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Stores a new token.
    pub async fn create_email_token(&self, token: &EmailToken) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Store::email_token_item(token)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// Sends the request [`create_email_token`](Self::create_email_token) sends, with a
    /// condition that fails so that nothing is stored: a password reset for an unknown address
    /// costs the same DynamoDB requests as one for an account.
    pub async fn add_no_email_token(&self) -> Result<()> {
        let mut item = token_key(&crate::tokens::hash_secret(&crate::tokens::random_secret()));
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

    /// The token with this hash, read consistently, expired or not.
    pub async fn find_email_token(&self, hash: &str) -> Result<Option<EmailToken>> {
        let Some(item) = self.get_item(token_key(hash)).await? else {
            return Ok(None);
        };
        let expires_at = match item.get(keys::EXPIRES_AT) {
            Some(AttributeValue::N(secs)) => secs.parse::<i64>().ok(),
            _ => None,
        }
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .unwrap_or_default();
        let mut token: EmailToken = from_item(item)?;
        token.hash = hash.to_owned();
        token.expires_at = expires_at;
        Ok(Some(token))
    }

    /// The guard of every consumption: deletes the token only while it is there, of its
    /// purpose and unexpired at `now`.
    fn consume_token(&self, token: &EmailToken, now: DateTime<Utc>) -> Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(token_key(&token.hash)))
            .condition_expression(
                "attribute_exists(pk) AND purpose = :purpose AND user_id = :user \
                 AND #expires > :now",
            )
            .expression_attribute_names("#expires", keys::EXPIRES_AT)
            .expression_attribute_values(":purpose", s(purpose_name(token.purpose)))
            .expression_attribute_values(":user", s(token.user_id.to_string()))
            .expression_attribute_values(":now", n(now.timestamp()))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Uses a verification token: marks the account's address verified (bumping the profile
    /// version), provided the account still has the address the token was sent to.
    pub async fn verify_email(&self, token: &EmailToken, now: DateTime<Utc>) -> Result<Consumed> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(token.user_id), keys::PROFILE)))
            .update_expression(
                "SET email_verified = :yes, updated_at = :updated, \
                 #version = if_not_exists(#version, :zero) + :one",
            )
            .condition_expression("attribute_exists(pk) AND #email = :email")
            .expression_attribute_names("#version", keys::USER_VERSION)
            .expression_attribute_names("#email", keys::USER_EMAIL)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":updated", n(now.timestamp_millis()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":email", s(token.email.as_str()))
            .build()
            .map_err(Error::internal)?;
        let items = vec![
            self.consume_token(token, now)?,
            TransactWriteItem::builder().update(update).build(),
        ];
        Ok(match self.transact(items).await? {
            Written::Done => Consumed::Done,
            Written::Refused(..) => Consumed::Invalid,
        })
    }

    /// Uses a password-reset token: replaces the password hash, bumps the profile and session
    /// versions (as a password change does) and clears the account's failure record (its lock),
    /// all in one transaction.
    pub async fn reset_password(
        &self,
        token: &EmailToken,
        new_hash: &str,
        reset: FailuresReset<'_>,
    ) -> Result<Consumed> {
        let now = reset.now;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(token.user_id), keys::PROFILE)))
            .update_expression(
                "SET password_hash = :new, updated_at = :updated, password_changed_at = :updated, \
                 session_version = if_not_exists(session_version, :zero) + :one, \
                 #version = if_not_exists(#version, :zero) + :one",
            )
            .condition_expression("attribute_exists(pk) AND #email = :email")
            .expression_attribute_names("#version", keys::USER_VERSION)
            .expression_attribute_names("#email", keys::USER_EMAIL)
            .expression_attribute_values(":new", s(new_hash))
            .expression_attribute_values(":updated", n(now.timestamp_millis()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":email", s(token.email.as_str()))
            .build()
            .map_err(Error::internal)?;
        let items = vec![
            self.consume_token(token, now)?,
            TransactWriteItem::builder().update(update).build(),
            self.failures_reset_item(reset)?,
        ];
        Ok(match self.transact(items).await? {
            Written::Done => Consumed::Done,
            Written::Refused(..) => Consumed::Invalid,
        })
    }

    /// Uses an e-mail change token: moves the account from `old` to the token's address, which
    /// becomes verified, and moves the e-mail claim with it, all in one transaction. The new
    /// address must still be free ([`Consumed::EmailTaken`]).
    pub async fn change_email(
        &self,
        token: &EmailToken,
        old: &Email,
        now: DateTime<Utc>,
    ) -> Result<Consumed> {
        let user = s(token.user_id.to_string());
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(token.user_id), keys::PROFILE)))
            .update_expression(
                "SET #email = :new, email_verified = :yes, updated_at = :updated, \
                 #version = if_not_exists(#version, :zero) + :one",
            )
            .condition_expression("attribute_exists(pk) AND #email = :old")
            .expression_attribute_names("#version", keys::USER_VERSION)
            .expression_attribute_names("#email", keys::USER_EMAIL)
            .expression_attribute_values(":new", s(token.email.as_str()))
            .expression_attribute_values(":old", s(old.as_str()))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":updated", n(now.timestamp_millis()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(Error::internal)?;
        let release = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::email_pk(old), keys::EMAIL_SK)))
            .condition_expression("user_id = :user")
            .expression_attribute_values(":user", user.clone())
            .build()
            .map_err(Error::internal)?;
        let mut claim = key(keys::email_pk(&token.email), keys::EMAIL_SK);
        claim.insert("user_id".into(), user);
        let items = vec![
            self.consume_token(token, now)?,
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().delete(release).build(),
            super::users::put(&self.table, claim, Some("attribute_not_exists(pk)"))?,
        ];
        Ok(match self.transact(items).await? {
            Written::Done => Consumed::Done,
            Written::Refused(failed, _) if failed.iter().take(3).any(|f| *f) => Consumed::Invalid,
            Written::Refused(..) => Consumed::EmailTaken,
        })
    }

    /// Marks a user's address verified directly (tests and tools; the API goes through a
    /// token). Returns `false` when the user does not exist.
    pub async fn mark_email_verified(&self, user_id: UserId, now: DateTime<Utc>) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(user_id), keys::PROFILE)))
            .update_expression(
                "SET email_verified = :yes, updated_at = :updated, \
                 #version = if_not_exists(#version, :zero) + :one",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#version", keys::USER_VERSION)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":updated", n(now.timestamp_millis()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        conditional_write("UpdateItem", result)
    }
}
