//! What administrators do to user profiles: list them, change their flags, names and roles,
//! and create or promote the configured first superuser.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::Written;
use super::users::{put, user_item};
use super::{CONFLICT_ATTEMPTS, Item, Store, from_item, key, keys, n, s, sdk_error};
use crate::domain::{CodeName, User, UserId};
use crate::error::{Error, Result};

/// The condition that a profile is still at version `:previous` (with `:zero` bound to 0): a
/// profile stored before versions existed is at version 0.
pub(super) const VERSION_IS_PREVIOUS: &str =
    "(#version = :previous OR (attribute_not_exists(#version) AND :previous = :zero))";

/// At most this many queries of the user index serve one filtered page, so a filter that
/// matches little cannot make one request read the whole index.
const LIST_QUERIES: usize = 10;

/// Which users a listing keeps.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub is_active: Option<bool>,
    /// Only users holding this role.
    pub role: Option<CodeName>,
}

fn index_start(after: UserId) -> Item {
    let mut start = key(keys::user_pk(after), keys::PROFILE);
    start.insert(keys::GSI1_PK.to_owned(), s(keys::ALL_USERS));
    start.insert(keys::GSI1_SK.to_owned(), s(after.to_string()));
    start
}

impl Store {
    /// Users in id (creation) order after `after` that pass `filter`: at most `limit`, and the
    /// id to continue after, if the index may hold more. A page can be short (even empty) with a
    /// continuation when the filter skipped many users; following it loses and repeats no one.
    pub async fn list_users(
        &self,
        limit: usize,
        after: Option<UserId>,
        filter: &UserFilter,
    ) -> Result<(Vec<User>, Option<UserId>)> {
        let mut conditions = Vec::new();
        let mut values = vec![(":all", s(keys::ALL_USERS))];
        if let Some(active) = filter.is_active {
            conditions.push("is_active = :active");
            values.push((":active", AttributeValue::Bool(active)));
        }
        if let Some(role) = &filter.role {
            conditions.push("contains(#roles, :role)");
            values.push((":role", s(role.as_str())));
        }
        let filter_expression = (!conditions.is_empty()).then(|| conditions.join(" AND "));
        let mut users = Vec::new();
        let mut start = after.map(index_start);
        for _ in 0..LIST_QUERIES {
            // One more than the page: when it comes back, the page is full and more follow, so
            // the last page never points at an empty one.
            let remaining = i32::try_from(limit + 1 - users.len()).map_err(Error::internal)?;
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI1)
                .key_condition_expression("gsi1pk = :all")
                .set_filter_expression(filter_expression.clone())
                .limit(remaining)
                .set_exclusive_start_key(start);
            if filter.role.is_some() {
                query = query.expression_attribute_names("#roles", keys::USER_ROLES);
            }
            for (name, value) in &values {
                query = query.expression_attribute_values(*name, value.clone());
            }
            let output = query.send().await.map_err(|e| sdk_error("Query", e))?;
            for item in output.items.unwrap_or_default() {
                users.push(from_item::<User>(item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() || users.len() > limit {
                break;
            }
        }
        if users.len() > limit {
            users.truncate(limit);
            let next = users.last().map(|u| u.id);
            return Ok((users, next));
        }
        let next = match start.as_ref().and_then(|k| k.get(keys::GSI1_SK)) {
            Some(AttributeValue::S(id)) => Some(id.parse()?),
            _ => None,
        };
        Ok((users, next))
    }

    /// Writes an administrator's change of a user's names, `is_active`, `is_staff` and roles as
    /// version `after.version`, provided the profile is still at `before.version` (so unchanged
    /// since `before` was read, superuser flag included), and
    /// in the same transaction moves the holder counts of the roles added and removed and, when
    /// a superuser's active flag changes, the count of active superusers. Returns `false` when
    /// the profile changed or vanished meanwhile; fails with 400 `unknown_role` when an added
    /// role does not exist (or is being deleted) and 409 `last_superuser` when it would
    /// deactivate the last active superuser. The user's session version is bumped too, so a
    /// login racing with a deactivation re-reads the user and is refused.
    pub async fn update_user_admin(&self, before: &User, after: &User) -> Result<bool> {
        let middle = after
            .middle_name
            .as_ref()
            .map_or(AttributeValue::Null(true), s);
        let roles = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(&after.roles)
            .map_err(Error::internal)?;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::user_pk(before.id), keys::PROFILE)))
            .update_expression(
                "SET first_name = :first, last_name = :last, middle_name = :middle, \
                 is_active = :active, is_staff = :staff, #roles = :roles, updated_at = :updated, \
                 session_version = if_not_exists(session_version, :zero) + :one, #version = :next",
            )
            .condition_expression(format!(
                "attribute_exists(pk) AND {VERSION_IS_PREVIOUS} AND is_superuser = :superuser"
            ))
            .expression_attribute_names("#roles", keys::USER_ROLES)
            .expression_attribute_names("#version", keys::USER_VERSION)
            .expression_attribute_values(":first", s(&after.first_name))
            .expression_attribute_values(":last", s(&after.last_name))
            .expression_attribute_values(":middle", middle)
            .expression_attribute_values(":active", AttributeValue::Bool(after.is_active))
            .expression_attribute_values(":staff", AttributeValue::Bool(after.is_staff))
            .expression_attribute_values(":roles", roles)
            .expression_attribute_values(":updated", n(after.updated_at.timestamp_millis()))
            .expression_attribute_values(":next", n(after.version))
            .expression_attribute_values(":previous", n(before.version))
            .expression_attribute_values(":superuser", AttributeValue::Bool(before.is_superuser))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(Error::internal)?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        let counts_superuser = before.is_superuser && before.is_active != after.is_active;
        if counts_superuser {
            items.push(self.superuser_count(if after.is_active { 1 } else { -1 })?);
        }
        let first_role = items.len();
        let mut added = Vec::new();
        for role in after.roles.iter().filter(|r| !before.roles.contains(r)) {
            let code_name = CodeName::parse("roles", role)?;
            items.push(self.usage_update(keys::ROLE_PREFIX, &code_name, 1)?);
            added.push(code_name);
        }
        for role in before.roles.iter().filter(|r| !after.roles.contains(r)) {
            let code_name = CodeName::parse("roles", role)?;
            items.push(self.usage_update(keys::ROLE_PREFIX, &code_name, -1)?);
        }
        match self.transact(items).await? {
            Written::Done => Ok(true),
            Written::Refused(failed, _) if failed.first() == Some(&true) => Ok(false),
            Written::Refused(failed, _) if counts_superuser && failed.get(1) == Some(&true) => {
                Err(last_superuser())
            }
            Written::Refused(failed, _) => {
                let missing = failed
                    .iter()
                    .skip(first_role)
                    .position(|f| *f)
                    .and_then(|i| added.get(i));
                Err(match missing {
                    Some(role) => {
                        Error::bad_request("unknown_role", format!("role `{role}` does not exist"))
                    }
                    None => Error::internal("a user's transaction failed an unexpected condition"),
                })
            }
        }
    }

    /// An update moving the count of active superusers by `delta`; a decrement fails its
    /// condition when it would leave none.
    fn superuser_count(&self, delta: i64) -> Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::RBAC_PK.to_owned(), keys::SUPERUSERS_SK)))
            .update_expression("SET #active = if_not_exists(#active, :zero) + :delta")
            .expression_attribute_names("#active", keys::ACTIVE_SUPERUSERS)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":delta", n(delta));
        if delta < 0 {
            update = update
                .condition_expression("#active >= :needed")
                .expression_attribute_values(":needed", n(1 - delta));
        }
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(Error::internal)?)
            .build())
    }

    /// Stores a user without a session (the configured first superuser), claiming the
    /// e-mail address and counting an active superuser in the same transaction. Returns
    /// `false` when the address is taken.
    pub async fn create_user_without_session(&self, user: &User) -> Result<bool> {
        let mut claim = key(keys::email_pk(&user.email), keys::EMAIL_SK);
        claim.insert("user_id".into(), s(user.id.to_string()));
        let mut items = vec![
            put(
                &self.table,
                user_item(user)?,
                Some("attribute_not_exists(pk)"),
            )?,
            put(&self.table, claim, Some("attribute_not_exists(pk)"))?,
        ];
        if user.is_superuser && user.is_active {
            items.push(self.superuser_count(1)?);
        }
        Ok(matches!(self.transact(items).await?, Written::Done))
    }

    /// Makes an existing user a superuser, touching nothing else but the count of active
    /// superusers (in the same transaction). Returns `false` when the user does not exist or
    /// already was one.
    pub async fn make_superuser(&self, user_id: UserId) -> Result<bool> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let Some(user) = self.find_user(user_id).await? else {
                return Ok(false);
            };
            if user.is_superuser {
                return Ok(false);
            }
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::user_pk(user_id), keys::PROFILE)))
                .update_expression(
                    "SET is_superuser = :yes, #version = if_not_exists(#version, :zero) + :one",
                )
                .condition_expression(
                    "attribute_exists(pk) AND is_superuser = :no AND is_active = :active",
                )
                .expression_attribute_names("#version", keys::USER_VERSION)
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .expression_attribute_values(":no", AttributeValue::Bool(false))
                .expression_attribute_values(":active", AttributeValue::Bool(user.is_active))
                .build()
                .map_err(Error::internal)?;
            let mut items = vec![TransactWriteItem::builder().update(update).build()];
            if user.is_active {
                items.push(self.superuser_count(1)?);
            }
            // A refusal means the profile changed between the read and the write: read again.
            if self.transact_guarded(items).await? {
                return Ok(true);
            }
        }
        Err(Error::Unavailable)
    }
}

fn last_superuser() -> Error {
    Error::conflict(
        "last_superuser",
        "this is the last active superuser; make another one active first",
    )
}
