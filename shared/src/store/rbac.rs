//! RBAC resources, actions and roles, in the `RBAC` partition.
//!
//! Each resource, action and role carries a `usage` count: how many roles name the resource or
//! action, how many users hold the role. Counts change in the same transaction as the role or
//! user that causes them, and those transactions check that every item they count still
//! exists; deletion is conditional on a count of zero. So under any concurrency a role never
//! names a missing resource or action, and a user never holds a missing role.
//!
//! A role is deleted in steps, since its holders may be more than one transaction can change:
//! it is first marked `deleting` (from then on every read here treats it as absent, so it
//! grants nothing, and no transaction may count a new holder on it), then taken from its
//! holders in batches (each batch one transaction with the matching decrement), then deleted
//! once its count is zero. Every intermediate state keeps the counts exact, and repeating the
//! deletion resumes where an interrupted one stopped.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, ReturnValue, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::user_admin::VERSION_IS_PREVIOUS;
use super::users::put;
use super::{
    CONFLICT_ATTEMPTS, Item, Store, Written, conditional_write, conflict_backoff, from_item,
    is_condition_failed, key, keys, n, s, sdk_error, to_item,
};
use crate::domain::{CatalogItem, CatalogKind, CodeName, Role, User};
use crate::error::{Error, Result};

/// What became of a conditional deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Deleted,
    /// There was nothing to delete.
    Missing,
    /// Something still names the item (`usage` > 0).
    InUse,
    /// The item changed since it was read (roles only); read again and retry.
    Stale,
}

/// What a usage update counts: a resource or action, by code name.
type Counted = (CatalogKind, CodeName);

/// The sort-key prefix of a catalog kind.
pub(super) fn catalog_prefix(kind: CatalogKind) -> &'static str {
    match kind {
        CatalogKind::Resource => keys::RESOURCE_PREFIX,
        CatalogKind::Action => keys::ACTION_PREFIX,
    }
}

fn rbac_key(prefix: &str, code_name: &CodeName) -> Item {
    key(
        keys::RBAC_PK.to_owned(),
        keys::rbac_sk(prefix, code_name.as_str()),
    )
}

fn millis(at: DateTime<Utc>) -> AttributeValue {
    n(at.timestamp_millis())
}

impl Store {
    /// An update adding `delta` to the `usage` of an existing RBAC item; the transaction fails
    /// if the item does not exist, or when `delta` is positive and the item is a role being
    /// deleted (nobody newly takes up a role on its way out).
    pub(super) fn usage_update(
        &self,
        prefix: &str,
        code_name: &CodeName,
        delta: i64,
    ) -> Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(rbac_key(prefix, code_name)))
            .update_expression("SET #usage = if_not_exists(#usage, :zero) + :delta")
            .expression_attribute_names("#usage", keys::RBAC_USAGE)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":delta", n(delta));
        update = if delta > 0 {
            update
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(#deleting)")
                .expression_attribute_names("#deleting", keys::RBAC_DELETING)
        } else {
            update.condition_expression("attribute_exists(pk)")
        };
        let update = update.build().map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Stores a new resource or action. Returns `false` when its code name is taken.
    pub async fn create_catalog_item(&self, kind: CatalogKind, item: &CatalogItem) -> Result<bool> {
        let mut record = to_item(
            item,
            &[
                (keys::PK, keys::RBAC_PK.to_owned()),
                (
                    keys::SK,
                    keys::rbac_sk(catalog_prefix(kind), item.code_name.as_str()),
                ),
            ],
        )?;
        record.insert(keys::RBAC_USAGE.to_owned(), n(0));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional_write("PutItem", result)
    }

    /// The resource or action with this code name, read consistently.
    pub async fn find_catalog_item(
        &self,
        kind: CatalogKind,
        code_name: &CodeName,
    ) -> Result<Option<CatalogItem>> {
        self.find_rbac_item(catalog_prefix(kind), code_name).await
    }

    /// The resources or actions among `code_names` that exist, in one consistent batch read.
    pub async fn find_catalog_items(
        &self,
        kind: CatalogKind,
        code_names: &[String],
    ) -> Result<Vec<CatalogItem>> {
        self.find_rbac_items(catalog_prefix(kind), code_names).await
    }

    /// Up to `limit` resources or actions in code-name order after `after`, and whether more
    /// follow.
    pub async fn list_catalog_items(
        &self,
        kind: CatalogKind,
        limit: usize,
        after: Option<&CodeName>,
    ) -> Result<(Vec<CatalogItem>, bool)> {
        self.list_rbac_items(catalog_prefix(kind), limit, after)
            .await
    }

    /// Changes a resource's or action's name and description; `None` when it does not exist.
    pub async fn update_catalog_item(
        &self,
        kind: CatalogKind,
        code_name: &CodeName,
        name: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CatalogItem>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(rbac_key(catalog_prefix(kind), code_name)))
            .update_expression("SET #name = :name, #description = :description, updated_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#description", "description")
            .expression_attribute_values(":name", s(name))
            .expression_attribute_values(":description", s(description))
            .expression_attribute_values(":now", millis(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes.map(from_item).transpose(),
            Err(e) if is_condition_failed(&e) => Ok(None),
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }

    /// Deletes a resource or action unless a role names it (one conditional delete).
    pub async fn delete_catalog_item(
        &self,
        kind: CatalogKind,
        code_name: &CodeName,
    ) -> Result<Removal> {
        let prefix = catalog_prefix(kind);
        for attempt in 0..CONFLICT_ATTEMPTS {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(rbac_key(prefix, code_name)))
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(#usage) OR #usage = :zero)",
                )
                .expression_attribute_names("#usage", keys::RBAC_USAGE)
                .expression_attribute_values(":zero", n(0))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Removal::Deleted),
                Err(e) if is_condition_failed(&e) => {
                    let exists = self
                        .find_rbac_item::<CatalogItem>(prefix, code_name)
                        .await?
                        .is_some();
                    return Ok(if exists {
                        Removal::InUse
                    } else {
                        Removal::Missing
                    });
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_transaction_conflict_exception()) =>
                {
                    conflict_backoff(attempt).await
                }
                Err(e) => return Err(sdk_error("DeleteItem", e)),
            }
        }
        Err(Error::Unavailable)
    }

    /// Stores a new role and counts it on every resource and action it names, all or nothing.
    /// Fails with 409 `already_exists` when the code name is taken and 400
    /// `unknown_resource`/`unknown_action` when a permission names something missing.
    pub async fn create_role(&self, role: &Role) -> Result<()> {
        let mut record = to_item(
            role,
            &[
                (keys::PK, keys::RBAC_PK.to_owned()),
                (
                    keys::SK,
                    keys::rbac_sk(keys::ROLE_PREFIX, role.code_name.as_str()),
                ),
            ],
        )?;
        record.insert(keys::RBAC_USAGE.to_owned(), n(0));
        let mut items = vec![put(&self.table, record, Some("attribute_not_exists(pk)"))?];
        let (counts, named) = self.role_counts(None, role)?;
        items.extend(counts);
        match self.transact(items).await? {
            Written::Done => Ok(()),
            Written::Refused(failed, _) if failed.first() == Some(&true) => Err(Error::conflict(
                "already_exists",
                format!("a role with code name `{}` already exists", role.code_name),
            )),
            Written::Refused(failed, _) => Err(unknown_item(&failed, 1, &named)),
        }
    }

    /// The role with this code name, read consistently.
    pub async fn find_role(&self, code_name: &CodeName) -> Result<Option<Role>> {
        self.find_rbac_item(keys::ROLE_PREFIX, code_name).await
    }

    /// The roles among `code_names` that exist, in one consistent batch read.
    pub async fn find_roles(&self, code_names: &[String]) -> Result<Vec<Role>> {
        self.find_rbac_items(keys::ROLE_PREFIX, code_names).await
    }

    /// Up to `limit` roles in code-name order after `after`, and whether more follow.
    pub async fn list_roles(
        &self,
        limit: usize,
        after: Option<&CodeName>,
    ) -> Result<(Vec<Role>, bool)> {
        self.list_rbac_items(keys::ROLE_PREFIX, limit, after).await
    }

    /// Replaces a role's name, description and permissions if it is still at `before.version`,
    /// moving the usage counts of the resources and actions added and removed in the same
    /// transaction. Returns `false` when the role changed or vanished meanwhile; fails with 400
    /// `unknown_resource`/`unknown_action` when an added permission names something missing.
    pub async fn update_role(&self, before: &Role, after: &Role) -> Result<bool> {
        let permissions = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(&after.permissions)
            .map_err(Error::internal)?;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(rbac_key(keys::ROLE_PREFIX, &before.code_name)))
            .update_expression(
                "SET #name = :name, #description = :description, #permissions = :permissions, \
                 #version = :next, updated_at = :now",
            )
            .condition_expression("#version = :version")
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#description", "description")
            .expression_attribute_names("#permissions", "permissions")
            .expression_attribute_names("#version", keys::RBAC_VERSION)
            .expression_attribute_values(":name", s(&after.name))
            .expression_attribute_values(":description", s(&after.description))
            .expression_attribute_values(":permissions", permissions)
            .expression_attribute_values(":next", n(after.version))
            .expression_attribute_values(":version", n(before.version))
            .expression_attribute_values(":now", millis(after.updated_at))
            .build()
            .map_err(Error::internal)?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        let (counts, named) = self.role_counts(Some(before), after)?;
        items.extend(counts);
        match self.transact(items).await? {
            Written::Done => Ok(true),
            Written::Refused(failed, _) if failed.first() == Some(&true) => Ok(false),
            Written::Refused(failed, _) => Err(unknown_item(&failed, 1, &named)),
        }
    }

    /// Deletes a role (normally marked by [`Store::mark_role_deleting`]) still at its read
    /// version unless a user holds it, and uncounts it from its resources and actions, all or
    /// nothing.
    pub async fn delete_role(&self, role: &Role) -> Result<Removal> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(rbac_key(keys::ROLE_PREFIX, &role.code_name)))
            .condition_expression(
                "#version = :version AND (attribute_not_exists(#usage) OR #usage = :zero)",
            )
            .expression_attribute_names("#version", keys::RBAC_VERSION)
            .expression_attribute_names("#usage", keys::RBAC_USAGE)
            .expression_attribute_values(":version", n(role.version))
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(Error::internal)?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        let unused = Role {
            permissions: Vec::new(),
            ..role.clone()
        };
        items.extend(self.role_counts(Some(role), &unused)?.0);
        match self.transact(items).await? {
            Written::Done => Ok(Removal::Deleted),
            Written::Refused(..) => Ok(match self.find_role_marked(&role.code_name).await? {
                None => Removal::Missing,
                Some((current, _)) if current.version != role.version => Removal::Stale,
                Some(_) => Removal::InUse,
            }),
        }
    }

    /// The role with this code name, deleting or not, and whether it is being deleted.
    async fn find_role_marked(&self, code_name: &CodeName) -> Result<Option<(Role, bool)>> {
        let Some(item) = self
            .get_item(rbac_key(keys::ROLE_PREFIX, code_name))
            .await?
        else {
            return Ok(None);
        };
        let deleting = item.contains_key(keys::RBAC_DELETING);
        Ok(Some((from_item(item)?, deleting)))
    }

    /// Marks a role as being deleted (idempotent) and returns it as marked; `None` when it does
    /// not exist. From then on it grants nothing, every read but this one treats it as absent,
    /// and nobody can newly take it up; its holders keep it listed until
    /// [`Store::strip_role`] takes it from them. `accept` is asked about every version read
    /// before it is marked (conditioned on that version), and its error ends the attempt.
    pub async fn mark_role_deleting(
        &self,
        code_name: &CodeName,
        accept: &(dyn Fn(&Role) -> Result<()> + Sync),
    ) -> Result<Option<Role>> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let Some((role, deleting)) = self.find_role_marked(code_name).await? else {
                return Ok(None);
            };
            accept(&role)?;
            if deleting {
                return Ok(Some(role));
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(rbac_key(keys::ROLE_PREFIX, code_name)))
                .update_expression("SET #deleting = :yes, #version = :next")
                .condition_expression("#version = :version")
                .expression_attribute_names("#deleting", keys::RBAC_DELETING)
                .expression_attribute_names("#version", keys::RBAC_VERSION)
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .expression_attribute_values(":next", n(role.version + 1))
                .expression_attribute_values(":version", n(role.version))
                .send()
                .await;
            if conditional_write("UpdateItem", result)? {
                return Ok(Some(Role {
                    version: role.version + 1,
                    ..role
                }));
            }
        }
        Err(Error::Unavailable)
    }

    /// Takes the role `code_name` from every user in `holders` (each as read, holding it) and
    /// uncounts them from the role, in one transaction: so at most 99 holders. Each profile is
    /// written as its next version on the condition that it is still at the version read.
    /// Returns `false`, writing nothing, when one of the profiles changed since it was read.
    pub async fn strip_role(
        &self,
        code_name: &CodeName,
        holders: &[User],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut items = Vec::with_capacity(holders.len() + 1);
        for user in holders {
            let roles: Vec<&String> = user
                .roles
                .iter()
                .filter(|r| r.as_str() != code_name.as_str())
                .collect();
            let roles = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(roles)
                .map_err(Error::internal)?;
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::user_pk(user.id), keys::PROFILE)))
                .update_expression("SET #roles = :roles, updated_at = :updated, #version = :next")
                .condition_expression(VERSION_IS_PREVIOUS)
                .expression_attribute_names("#roles", keys::USER_ROLES)
                .expression_attribute_names("#version", keys::USER_VERSION)
                .expression_attribute_values(":roles", roles)
                .expression_attribute_values(":updated", millis(now))
                .expression_attribute_values(":next", n(user.version + 1))
                .expression_attribute_values(":previous", n(user.version))
                .expression_attribute_values(":zero", n(0))
                .build()
                .map_err(Error::internal)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let count = i64::try_from(holders.len()).map_err(Error::internal)?;
        items.push(self.usage_update(keys::ROLE_PREFIX, code_name, -count)?);
        match self.transact(items).await? {
            Written::Done => Ok(true),
            Written::Refused(failed, _) if failed.last() == Some(&true) => Err(Error::internal(
                "a role vanished while it was being taken from its holders",
            )),
            Written::Refused(..) => Ok(false),
        }
    }

    /// The usage updates that move a role from `before` (empty for a new role) to `after`:
    /// +1 for each resource and action it starts naming, -1 for each it stops naming. Also
    /// returns what each update counts, in the same order (for error messages).
    fn role_counts(
        &self,
        before: Option<&Role>,
        after: &Role,
    ) -> Result<(Vec<TransactWriteItem>, Vec<Counted>)> {
        let old_resources: BTreeSet<&CodeName> =
            before.iter().flat_map(|r| r.resources()).collect();
        let old_actions: BTreeSet<&CodeName> = before.iter().flat_map(|r| r.actions()).collect();
        let mut updates = Vec::new();
        let mut named = Vec::new();
        for (kind, old, new) in [
            (CatalogKind::Resource, old_resources, after.resources()),
            (CatalogKind::Action, old_actions, after.actions()),
        ] {
            let prefix = catalog_prefix(kind);
            for added in new.difference(&old) {
                updates.push(self.usage_update(prefix, added, 1)?);
                named.push((kind, (*added).clone()));
            }
            for removed in old.difference(&new) {
                updates.push(self.usage_update(prefix, removed, -1)?);
                named.push((kind, (*removed).clone()));
            }
        }
        Ok((updates, named))
    }

    /// One RBAC item, read consistently; a role being deleted counts as absent.
    async fn find_rbac_item<T: DeserializeOwned>(
        &self,
        prefix: &str,
        code_name: &CodeName,
    ) -> Result<Option<T>> {
        self.get_item(rbac_key(prefix, code_name))
            .await?
            .filter(|item| !item.contains_key(keys::RBAC_DELETING))
            .map(from_item)
            .transpose()
    }

    /// The items of one kind among `code_names` that exist, read consistently in batches of 100;
    /// roles being deleted count as absent.
    async fn find_rbac_items<T: DeserializeOwned>(
        &self,
        prefix: &str,
        code_names: &[String],
    ) -> Result<Vec<T>> {
        let wanted: Vec<&String> = code_names
            .iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut found = Vec::new();
        for chunk in wanted.chunks(100) {
            let mut request = KeysAndAttributes::builder().consistent_read(true);
            for code_name in chunk {
                request = request.keys(key(
                    keys::RBAC_PK.to_owned(),
                    keys::rbac_sk(prefix, code_name),
                ));
            }
            let mut pending = request.build().map_err(Error::internal)?;
            for attempt in 0.. {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", e))?;
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if !item.contains_key(keys::RBAC_DELETING) {
                        found.push(from_item(item)?);
                    }
                }
                match output
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(&self.table)
                {
                    Some(rest) if !rest.keys().is_empty() && attempt < 5 => pending = rest,
                    Some(rest) if !rest.keys().is_empty() => return Err(Error::Unavailable),
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    /// Up to `limit` items of one kind in code-name order after `after`, and whether more
    /// follow; roles being deleted are left out (the query goes on past them, so a page is
    /// short only at the end).
    async fn list_rbac_items<T: DeserializeOwned>(
        &self,
        prefix: &str,
        limit: usize,
        after: Option<&CodeName>,
    ) -> Result<(Vec<T>, bool)> {
        let mut start = after.map(|code_name| rbac_key(prefix, code_name));
        let mut items = Vec::new();
        loop {
            let wanted = limit + 1 - items.len();
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .filter_expression("attribute_not_exists(#deleting)")
                .expression_attribute_names("#deleting", keys::RBAC_DELETING)
                .expression_attribute_values(":pk", s(keys::RBAC_PK))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .limit(i32::try_from(wanted).map_err(Error::internal)?)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            for item in output.items.unwrap_or_default() {
                items.push(from_item(item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() || items.len() > limit {
                break;
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        Ok((items, more))
    }
}

/// The 400 for the first failing count update, at positions from `offset` on.
fn unknown_item(failed: &[bool], offset: usize, named: &[Counted]) -> Error {
    let first = failed
        .iter()
        .skip(offset)
        .position(|f| *f)
        .and_then(|i| named.get(i));
    match first {
        Some((CatalogKind::Resource, code_name)) => Error::bad_request(
            "unknown_resource",
            format!("resource `{code_name}` does not exist"),
        ),
        Some((CatalogKind::Action, code_name)) => Error::bad_request(
            "unknown_action",
            format!("action `{code_name}` does not exist"),
        ),
        None => Error::internal("a role's transaction failed an unexpected condition"),
    }
}
