//! Authorization, the one mechanism every route group uses, and the RBAC catalog service.
//!
//! A protected admin route names its resource (`users`, `sessions`, `tickets`, ...); the HTTP
//! method maps to an action (GET → read, POST → create, PUT/PATCH → update, DELETE → delete) and
//! the caller must be a superuser or hold a role granting that action (or `all`) on the resource.
//! Roles are read afresh on every check (one consistent batch read), so a change to a role or to
//! a user's roles applies to that user's next request.
//!
//! The catalog: resources, actions and roles, addressed by immutable code names. A role's
//! permissions may only name existing resources and actions, and a resource, action or role
//! still in use cannot be deleted; the store keeps both true under concurrency.

use std::collections::BTreeSet;

use axum::http::Method;

use crate::auth::Principal;
use crate::context::Context;
use crate::cursor::{self, Cursor, List};
use crate::domain::{CatalogItem, CatalogKind, CodeName, Permission, Role, User};
use crate::error::{Error, Result};
use crate::http::Page;
use crate::store::Removal;
use crate::views::{CatalogItemView, RoleView};

/// The action that grants every other action on its resource.
pub const ALL: &str = "all";
/// A role names at most this many distinct resources...
pub const MAX_ROLE_RESOURCES: usize = 40;
/// ...and at most this many distinct actions, so one change of a role fits in a transaction.
pub const MAX_ROLE_ACTIONS: usize = 8;
/// How often an edit is retried when a concurrent edit of the same item won.
const EDIT_ATTEMPTS: usize = 5;

/// The action a request method asks for.
pub fn action_for(method: &Method) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => "read",
        Method::POST => "create",
        Method::PUT | Method::PATCH => "update",
        Method::DELETE => "delete",
        _ => ALL,
    }
}

/// Whether `roles` grant `action` on `resource`: some permission names the resource with that
/// action or with `all`.
pub fn grants(roles: &[Role], resource: &str, action: &str) -> bool {
    roles.iter().flat_map(|r| &r.permissions).any(|p| {
        p.resource.as_str() == resource && (p.action.as_str() == action || p.action.as_str() == ALL)
    })
}

/// Whether `user` may perform `action` on `resource`: superusers may do everything; anyone else
/// needs a role granting it. Reads the user's roles consistently (one batch read) unless the
/// answer is known without them.
pub async fn is_allowed(ctx: &Context, user: &User, resource: &str, action: &str) -> Result<bool> {
    if user.is_superuser {
        return Ok(true);
    }
    if user.roles.is_empty() {
        return Ok(false);
    }
    let roles = ctx.store.find_roles(&user.roles).await?;
    Ok(grants(&roles, resource, action))
}

/// Refuses (403 `forbidden`) unless `who` may use `method` on `resource`.
pub async fn authorize(
    ctx: &Context,
    who: &Principal,
    resource: &str,
    method: &Method,
) -> Result<()> {
    if is_allowed(ctx, &who.user, resource, action_for(method)).await? {
        Ok(())
    } else {
        Err(Error::forbidden(
            "forbidden",
            format!("you may not {} {resource}", action_for(method)),
        ))
    }
}

/// A validated new resource or action.
#[derive(Debug)]
pub struct NewCatalogItem {
    pub code_name: CodeName,
    pub name: String,
    pub description: String,
}

/// Changes to a resource, action or role; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Roles only: the new complete set of permissions.
    pub permissions: Option<Vec<Permission>>,
}

/// A validated new role.
#[derive(Debug)]
pub struct NewRole {
    pub code_name: CodeName,
    pub name: String,
    pub description: String,
    pub permissions: Vec<Permission>,
}

/// The code name a cursor of `list` holds, or 400 `invalid_cursor`.
fn cursor_after(ctx: &Context, list: &List, cursor: Option<Cursor>) -> Result<Option<CodeName>> {
    ctx.config
        .cursor_key
        .open(list, cursor.as_ref())?
        .map(|raw| CodeName::parse("cursor", &raw).map_err(|_| cursor::malformed()))
        .transpose()
}

/// A page of `items` of `list`, continuing after the last one when `more` follow.
fn page_of<T>(
    ctx: &Context,
    list: &List,
    items: Vec<T>,
    more: bool,
    last: Option<&CodeName>,
) -> Page<T> {
    let next = last.filter(|_| more).map(CodeName::as_str);
    ctx.config.cursor_key.page(list, items, next)
}

/// One page of at most `limit` resources or actions in code-name order, after the decoded
/// `cursor` of the previous page (400 `invalid_cursor` when it is not one of ours).
pub async fn list_catalog(
    ctx: &Context,
    kind: CatalogKind,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Page<CatalogItemView>> {
    let list = List::Catalog(kind);
    let after = cursor_after(ctx, &list, cursor)?;
    let (items, more) = ctx
        .store
        .list_catalog_items(kind, limit, after.as_ref())
        .await?;
    let last = items.last().map(|i| i.code_name.clone());
    let views = items.iter().map(CatalogItemView::from).collect();
    Ok(page_of(ctx, &list, views, more, last.as_ref()))
}

/// Creates a resource or action. Fails with 409 `already_exists` when the code name is taken.
pub async fn create_catalog_item(
    ctx: &Context,
    kind: CatalogKind,
    new: NewCatalogItem,
) -> Result<CatalogItemView> {
    let now = ctx.now();
    let item = CatalogItem {
        code_name: new.code_name,
        name: new.name,
        description: new.description,
        created_at: now,
        updated_at: now,
    };
    if !ctx.store.create_catalog_item(kind, &item).await? {
        return Err(Error::conflict(
            "already_exists",
            format!(
                "a {} with code name `{}` already exists",
                kind.noun(),
                item.code_name
            ),
        ));
    }
    Ok(CatalogItemView::from(&item))
}

/// The resource or action with this code name, or 404.
pub async fn find_catalog_item(
    ctx: &Context,
    kind: CatalogKind,
    code_name: &CodeName,
) -> Result<CatalogItemView> {
    ctx.store
        .find_catalog_item(kind, code_name)
        .await?
        .map(|item| CatalogItemView::from(&item))
        .ok_or_else(|| Error::not_found(kind.noun()))
}

/// Changes a resource's or action's name and description (its code name never changes), or 404.
pub async fn update_catalog_item(
    ctx: &Context,
    kind: CatalogKind,
    code_name: &CodeName,
    changes: Changes,
) -> Result<CatalogItemView> {
    let current = ctx
        .store
        .find_catalog_item(kind, code_name)
        .await?
        .ok_or_else(|| Error::not_found(kind.noun()))?;
    let name = changes.name.unwrap_or(current.name);
    let description = changes.description.unwrap_or(current.description);
    ctx.store
        .update_catalog_item(kind, code_name, &name, &description, ctx.now())
        .await?
        .map(|item| CatalogItemView::from(&item))
        .ok_or_else(|| Error::not_found(kind.noun()))
}

/// Deletes a resource or action. Fails with 404 when it does not exist and 409 `in_use` while a
/// role names it.
pub async fn delete_catalog_item(
    ctx: &Context,
    kind: CatalogKind,
    code_name: &CodeName,
) -> Result<()> {
    match ctx.store.delete_catalog_item(kind, code_name).await? {
        Removal::Deleted => Ok(()),
        Removal::InUse => Err(Error::conflict(
            "in_use",
            format!(
                "{} `{code_name}` is used by a role; remove it from every role first",
                kind.noun()
            ),
        )),
        Removal::Missing | Removal::Stale => Err(Error::not_found(kind.noun())),
    }
}

/// Sorts and de-duplicates permissions and checks the per-role limits (400
/// `too_many_permissions`).
fn normalize_permissions(mut permissions: Vec<Permission>) -> Result<Vec<Permission>> {
    permissions.sort();
    permissions.dedup();
    let resources: BTreeSet<&CodeName> = permissions.iter().map(|p| &p.resource).collect();
    let actions: BTreeSet<&CodeName> = permissions.iter().map(|p| &p.action).collect();
    if resources.len() > MAX_ROLE_RESOURCES || actions.len() > MAX_ROLE_ACTIONS {
        return Err(Error::bad_request(
            "too_many_permissions",
            format!(
                "a role may name at most {MAX_ROLE_RESOURCES} resources and {MAX_ROLE_ACTIONS} actions"
            ),
        ));
    }
    Ok(permissions)
}

/// One page of at most `limit` roles in code-name order, after the decoded `cursor` of the
/// previous page (400 `invalid_cursor` when it is not one of ours).
pub async fn list_roles(
    ctx: &Context,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Page<RoleView>> {
    let after = cursor_after(ctx, &List::Roles, cursor)?;
    let (roles, more) = ctx.store.list_roles(limit, after.as_ref()).await?;
    let views = roles.iter().map(RoleView::from).collect();
    Ok(page_of(
        ctx,
        &List::Roles,
        views,
        more,
        roles.last().map(|r| &r.code_name),
    ))
}

/// Creates a role. Fails with 409 `already_exists` when the code name is taken, 400
/// `unknown_resource`/`unknown_action` when a permission names something missing (checked in
/// the same transaction) and 400 `too_many_permissions` over the limits.
pub async fn create_role(ctx: &Context, new: NewRole) -> Result<RoleView> {
    let now = ctx.now();
    let role = Role {
        code_name: new.code_name,
        name: new.name,
        description: new.description,
        permissions: normalize_permissions(new.permissions)?,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    ctx.store.create_role(&role).await?;
    Ok(RoleView::from(&role))
}

/// The role with this code name, or 404.
pub async fn find_role(ctx: &Context, code_name: &CodeName) -> Result<RoleView> {
    ctx.store
        .find_role(code_name)
        .await?
        .map(|role| RoleView::from(&role))
        .ok_or_else(|| Error::not_found("role"))
}

/// Changes a role's name, description or permissions; its holders get the new rights on their
/// next request. Fails like [`create_role`] for bad permissions and with 404 when it does not
/// exist; a concurrent edit is never lost (optimistic version check, retried).
pub async fn update_role(
    ctx: &Context,
    code_name: &CodeName,
    changes: Changes,
) -> Result<RoleView> {
    let permissions = changes.permissions.map(normalize_permissions).transpose()?;
    for _ in 0..EDIT_ATTEMPTS {
        let before = ctx
            .store
            .find_role(code_name)
            .await?
            .ok_or_else(|| Error::not_found("role"))?;
        let after = Role {
            name: changes.name.clone().unwrap_or_else(|| before.name.clone()),
            description: changes
                .description
                .clone()
                .unwrap_or_else(|| before.description.clone()),
            permissions: permissions
                .clone()
                .unwrap_or_else(|| before.permissions.clone()),
            version: before.version + 1,
            updated_at: ctx.now(),
            ..before.clone()
        };
        if ctx.store.update_role(&before, &after).await? {
            return Ok(RoleView::from(&after));
        }
    }
    Err(Error::conflict(
        "concurrent_update",
        "the role is being changed by someone else; try again",
    ))
}

/// Deletes a role. Fails with 404 when it does not exist and 409 `in_use` while a user holds it.
pub async fn delete_role(ctx: &Context, code_name: &CodeName) -> Result<()> {
    for _ in 0..EDIT_ATTEMPTS {
        let role = ctx
            .store
            .find_role(code_name)
            .await?
            .ok_or_else(|| Error::not_found("role"))?;
        match ctx.store.delete_role(&role).await? {
            Removal::Deleted => return Ok(()),
            Removal::Missing => return Err(Error::not_found("role")),
            Removal::InUse => {
                return Err(Error::conflict(
                    "in_use",
                    format!("role `{code_name}` is held by a user; take it from every user first"),
                ));
            }
            Removal::Stale => {}
        }
    }
    Err(Error::conflict(
        "concurrent_update",
        "the role is being changed by someone else; try again",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(permissions: &[(&str, &str)]) -> Role {
        let code = |s: &str| CodeName::parse("x", s).unwrap();
        Role {
            code_name: code("r"),
            name: "R".into(),
            description: String::new(),
            permissions: permissions
                .iter()
                .map(|(resource, action)| Permission {
                    resource: code(resource),
                    action: code(action),
                })
                .collect(),
            version: 1,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn every_method_asks_for_its_action_and_only_that_action_or_all_grants_it() {
        let methods = [
            (Method::GET, "read"),
            (Method::HEAD, "read"),
            (Method::POST, "create"),
            (Method::PUT, "update"),
            (Method::PATCH, "update"),
            (Method::DELETE, "delete"),
        ];
        let granted = ["read", "create", "update", "delete", ALL];
        for (method, wanted) in &methods {
            assert_eq!(action_for(method), *wanted, "{method}");
            for action in granted {
                let roles = [role(&[("users", action)])];
                let expected = action == *wanted || action == ALL;
                assert_eq!(
                    grants(&roles, "users", action_for(method)),
                    expected,
                    "{method} with `{action}` granted"
                );
                assert!(
                    !grants(&roles, "roles", action_for(method)),
                    "a permission on users says nothing about roles"
                );
            }
        }
    }

    #[test]
    fn unusual_methods_need_all() {
        assert_eq!(action_for(&Method::OPTIONS), ALL);
        assert!(!grants(&[role(&[("users", "read")])], "users", ALL));
        assert!(grants(&[role(&[("users", ALL)])], "users", ALL));
    }

    #[test]
    fn permissions_are_deduplicated_and_limited() {
        let twice = role(&[("users", "read"), ("users", "read")]).permissions;
        assert_eq!(normalize_permissions(twice).unwrap().len(), 1);
        let names: Vec<String> = (0..=MAX_ROLE_RESOURCES).map(|i| format!("r{i}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "read")).collect();
        assert!(normalize_permissions(role(&pairs).permissions).is_err());
    }
}
