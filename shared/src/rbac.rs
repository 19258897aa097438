//! Authorization, the one mechanism every route group uses, and the RBAC catalog service.
//!
//! An admin handler takes its caller as [`Admin<R>`](Admin), which names the guarded
//! [`Resource`] by type (`Admin<on::Users>`) and authorizes before the handler runs: the HTTP
//! method maps to an [`Action`] (GET → read, POST → create, PUT/PATCH → update, DELETE → delete)
//! and the caller must be a superuser or hold a role granting that action (or `all`) on the
//! resource. Roles never grant more than reading the RBAC catalog: only superusers change roles,
//! resources and actions. Roles are read afresh on every check (one consistent batch read), so a
//! change to a role or to a user's roles applies to that user's next request. Services add the
//! rules about whom an admin acts on ([`ensure_may_act_on`]).
//!
//! The catalog: resources, actions and roles, addressed by immutable code names. A role's
//! permissions may only name existing resources and actions, and a resource or action still
//! named by a role cannot be deleted; deleting a role takes it from every holder. The store
//! keeps all of it true under concurrency.

use crate::audit::{self, Event, EventType, Subject, SubjectKind};
use std::collections::BTreeSet;
use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;

use crate::auth::Principal;
use crate::context::Context;
use crate::cursor::{self, Cursor, List};
use crate::domain::{CatalogItem, CatalogKind, CodeName, Permission, Role, User, UserId};
use crate::error::{Error, Result};
use crate::http::{Authenticated, ETag, IfMatch, Page, Tagged};
use crate::store::{Removal, UserFilter};
use crate::views::{CatalogItemView, RoleView};

/// The resources the routes guard: the admin surface of each route group, and tickets (whose
/// operators are the holders of rights on it). Seeded by the bootstrap; their code names are
/// what permissions name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Users,
    Roles,
    Resources,
    Actions,
    Sessions,
    Tickets,
    Quota,
    /// The audit trail (read only).
    Audit,
}

impl Resource {
    /// Every resource, in catalog order.
    pub const ALL: [Resource; 8] = [
        Resource::Users,
        Resource::Roles,
        Resource::Resources,
        Resource::Actions,
        Resource::Sessions,
        Resource::Tickets,
        Resource::Quota,
        Resource::Audit,
    ];

    /// The code name permissions use for it.
    pub fn code_name(self) -> &'static str {
        match self {
            Resource::Users => "users",
            Resource::Roles => "roles",
            Resource::Resources => "resources",
            Resource::Actions => "actions",
            Resource::Sessions => "sessions",
            Resource::Tickets => "tickets",
            Resource::Quota => "quota",
            Resource::Audit => "audit",
        }
    }

    /// Its display name in the seeded catalog.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Users => "Users",
            Resource::Roles => "Roles",
            Resource::Resources => "Resources",
            Resource::Actions => "Actions",
            Resource::Sessions => "Sessions",
            Resource::Tickets => "Tickets",
            Resource::Quota => "Quota",
            Resource::Audit => "Audit trail",
        }
    }
}

/// The built-in actions: one per kind of request method, and `all`. Administrators may add
/// more to the catalog; routes only ask for these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
    All,
}

impl Action {
    /// Every built-in action, in catalog order.
    pub const ALL: [Action; 5] = [
        Action::Read,
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::All,
    ];

    /// The code name permissions use for it.
    pub fn code_name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::All => "all",
        }
    }

    /// Its display name in the seeded catalog.
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "Read",
            Action::Create => "Create",
            Action::Update => "Update",
            Action::Delete => "Delete",
            Action::All => "All actions",
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code_name())
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code_name())
    }
}
/// A role names at most this many distinct resources...
pub const MAX_ROLE_RESOURCES: usize = 40;
/// ...and at most this many distinct actions, so one change of a role fits in a transaction.
pub const MAX_ROLE_ACTIONS: usize = 8;
/// How often an edit is retried when a concurrent edit of the same item won.
const EDIT_ATTEMPTS: usize = 5;

/// The action a request method asks for.
pub fn action_for(method: &Method) -> Action {
    match *method {
        Method::GET | Method::HEAD => Action::Read,
        Method::POST => Action::Create,
        Method::PUT | Method::PATCH => Action::Update,
        Method::DELETE => Action::Delete,
        _ => Action::All,
    }
}

/// Whether `roles` grant `action` on `resource`: some permission names the resource with that
/// action or with `all`.
pub fn grants(roles: &[Role], resource: Resource, action: Action) -> bool {
    roles.iter().flat_map(|r| &r.permissions).any(|p| {
        p.resource.as_str() == resource.code_name()
            && (p.action.as_str() == action.code_name()
                || p.action.as_str() == Action::All.code_name())
    })
}

/// Whether `user` may perform `action` on `resource`: superusers may do everything; anyone else
/// needs a role granting it, and no role grants more than reading the RBAC catalog itself
/// (roles, resources, actions), which only superusers manage. Reads the user's roles
/// consistently (one batch read) unless the answer is known without them.
pub async fn is_allowed(
    ctx: &Context,
    user: &User,
    resource: Resource,
    action: Action,
) -> Result<bool> {
    if user.is_superuser {
        return Ok(true);
    }
    let catalog = matches!(
        resource,
        Resource::Roles | Resource::Resources | Resource::Actions
    );
    if user.roles.is_empty() || (catalog && action != Action::Read) {
        return Ok(false);
    }
    let roles = ctx.store.find_roles(&user.roles).await?;
    Ok(grants(&roles, resource, action))
}

/// Refuses (403 `forbidden`) unless `who` may perform `action` on `resource`.
pub async fn authorize(
    ctx: &Context,
    who: &Principal,
    resource: Resource,
    action: Action,
) -> Result<()> {
    if is_allowed(ctx, &who.user, resource, action).await? {
        Ok(())
    } else {
        Err(forbidden(format!("you may not {action} {resource}")))
    }
}

/// The 403 of every refused admin request.
pub fn forbidden(message: impl Into<String>) -> Error {
    Error::forbidden("forbidden", message)
}

/// Refuses (403) a non-superuser's change to a superuser's account: edits, deactivation and
/// ending their sessions. Reading is allowed.
pub fn ensure_may_act_on(actor: &User, target: &User) -> Result<()> {
    if target.is_superuser && !actor.is_superuser {
        return Err(forbidden(
            "only a superuser may act on a superuser's account",
        ));
    }
    Ok(())
}

/// The resource an [`Admin`] extractor guards, named by a type so that the handler's signature
/// states it once: `Admin<on::Users>`.
pub trait Guarded {
    const RESOURCE: Resource;
}

/// Which action an [`Admin`] extractor asks for.
pub trait Asks {
    fn action(method: &Method) -> Action;
}

/// Type-level names of the [`Resource`]s and of the actions a route may ask for instead of its
/// method's, for [`Admin`].
pub mod on {
    use axum::http::Method;

    use super::{Action, Asks, Guarded, Resource, action_for};

    macro_rules! markers {
        ($($marker:ident),*) => {$(
            #[doc = concat!("The `", stringify!($marker), "` resource.")]
            #[derive(Debug)]
            pub enum $marker {}
            impl Guarded for $marker {
                const RESOURCE: Resource = Resource::$marker;
            }
        )*};
    }

    markers!(
        Users, Roles, Resources, Actions, Sessions, Tickets, Quota, Audit
    );

    /// The action of the request's method (the default).
    #[derive(Debug)]
    pub enum ByMethod {}

    impl Asks for ByMethod {
        fn action(method: &Method) -> Action {
            action_for(method)
        }
    }

    /// `update`, for a POST that changes an existing thing rather than creating one.
    #[derive(Debug)]
    pub enum Updating {}

    impl Asks for Updating {
        fn action(_: &Method) -> Action {
            Action::Update
        }
    }
}

/// The caller of an admin route, authorized on `R` for the action `A` names (by default the
/// request method's): an authenticated user who is a superuser or holds a role granting that
/// action on `R::RESOURCE` (see [`is_allowed`]). The check runs in the extractor, before the
/// handler and before the body is read, so an admin handler cannot forget it: it gets its
/// caller only through this. Missing or bad credentials are 401, missing rights 403
/// `forbidden`.
pub struct Admin<R, A = on::ByMethod>(pub Principal, PhantomData<(R, A)>);

impl<R, A> Admin<R, A> {
    /// The authorized caller.
    pub fn user(&self) -> &User {
        &self.0.user
    }
}

impl<R: Guarded, A: Asks> FromRequestParts<Context> for Admin<R, A> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, ctx: &Context) -> Result<Self> {
        let Authenticated(who) = Authenticated::from_request_parts(parts, ctx).await?;
        authorize(ctx, &who, R::RESOURCE, A::action(&parts.method)).await?;
        Ok(Admin(who, PhantomData))
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
    record_catalog(ctx, EventType::PermissionCreated, kind, &item.code_name).await;
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
    let updated = ctx
        .store
        .update_catalog_item(kind, code_name, &name, &description, ctx.now())
        .await?
        .map(|item| CatalogItemView::from(&item))
        .ok_or_else(|| Error::not_found(kind.noun()))?;
    record_catalog(ctx, EventType::PermissionUpdated, kind, code_name).await;
    Ok(updated)
}

/// Records a change of the permission catalog in the audit trail.
async fn record_catalog(ctx: &Context, kind: EventType, item: CatalogKind, code_name: &CodeName) {
    let subject = match item {
        CatalogKind::Resource => SubjectKind::Resource,
        CatalogKind::Action => SubjectKind::Action,
    };
    let event = Event::new(kind)
        .subject(Subject::of(subject, code_name))
        .detail("kind", item.noun());
    audit::record(ctx, event).await;
}

/// Deletes a resource or action. Fails with 404 when it does not exist and 409 `in_use` while a
/// role names it.
pub async fn delete_catalog_item(
    ctx: &Context,
    kind: CatalogKind,
    code_name: &CodeName,
) -> Result<()> {
    match ctx.store.delete_catalog_item(kind, code_name).await? {
        Removal::Deleted => {
            record_catalog(ctx, EventType::PermissionDeleted, kind, code_name).await;
            Ok(())
        }
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
/// the same transaction) and 400 `too_many_permissions` over the limits. Tagged with the new
/// role's version.
pub async fn create_role(ctx: &Context, new: NewRole) -> Result<Tagged<RoleView>> {
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
    record_role(ctx, EventType::RoleCreated, &role).await;
    Ok(tagged(&role))
}

/// Records a role's creation or change, with its permissions as they are now.
async fn record_role(ctx: &Context, kind: EventType, role: &Role) {
    let permissions: Vec<String> = role
        .permissions
        .iter()
        .map(|p| format!("{}:{}", p.resource, p.action))
        .collect();
    let event = Event::new(kind)
        .subject(Subject::of(SubjectKind::Role, &role.code_name))
        .detail("permissions", permissions)
        .detail("version", role.version);
    audit::record(ctx, event).await;
}

/// A role's view with the `ETag` of its version.
fn tagged(role: &Role) -> Tagged<RoleView> {
    Tagged::new(ETag::of_version(role.version), RoleView::from(role))
}

/// The role with this code name, tagged with its version, or 404.
pub async fn find_role(ctx: &Context, code_name: &CodeName) -> Result<Tagged<RoleView>> {
    ctx.store
        .find_role(code_name)
        .await?
        .map(|role| tagged(&role))
        .ok_or_else(|| Error::not_found("role"))
}

/// Changes a role's name, description or permissions; its holders get the new rights on their
/// next request. Fails like [`create_role`] for bad permissions, with 404 when it does not
/// exist and 412 when it is no longer at the version `if_match` names; a concurrent edit is
/// never lost (optimistic version check on the snapshot the precondition passed, retried while
/// the precondition holds). Tagged with the new version.
pub async fn update_role(
    ctx: &Context,
    code_name: &CodeName,
    changes: Changes,
    if_match: &IfMatch,
) -> Result<Tagged<RoleView>> {
    let permissions = changes.permissions.map(normalize_permissions).transpose()?;
    for _ in 0..EDIT_ATTEMPTS {
        let before = ctx
            .store
            .find_role(code_name)
            .await?
            .ok_or_else(|| Error::not_found("role"))?;
        if_match.check(&ETag::of_version(before.version))?;
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
            record_role(ctx, EventType::RoleUpdated, &after).await;
            return Ok(tagged(&after));
        }
    }
    Err(Error::conflict(
        "concurrent_update",
        "the role is being changed by someone else; try again",
    ))
}

/// How many holders one transaction takes a deleted role from (a transaction holds at most 100
/// items: these users and the role's count).
const STRIP_BATCH: usize = 50;
/// How often a deletion walks the holders again when the role still counts some (the user
/// index is eventually consistent, so a holder added just before the mark may show up late).
const DELETE_PASSES: usize = 3;

/// Deletes a role and takes it from every user holding it, as one request; fails with 404 when
/// it does not exist. The role stops granting anything at once (it is marked before its
/// holders are touched, see `store::rbac`); when the request returns no user holds it, and no
/// view shows it. If it fails midway (503), the role stays marked, hidden and powerless, and
/// repeating the deletion (without `If-Match`, or with `*`: marking bumped its version)
/// completes it. A role no longer at the version `if_match` names is 412 and stays as it is:
/// the precondition is checked on the version the marking is conditioned on.
pub async fn delete_role(ctx: &Context, code_name: &CodeName, if_match: &IfMatch) -> Result<()> {
    let precondition = |role: &Role| if_match.check(&ETag::of_version(role.version));
    for pass in 0..DELETE_PASSES {
        // Later passes resume this deletion, whose own marking moved the version.
        let accept: &(dyn Fn(&Role) -> Result<()> + Sync) = if pass == 0 {
            &precondition
        } else {
            &|_| Ok(())
        };
        let Some(role) = ctx.store.mark_role_deleting(code_name, accept).await? else {
            // Gone already: either it never existed, or a concurrent deletion finished it.
            return if pass == 0 {
                Err(Error::not_found("role"))
            } else {
                Ok(())
            };
        };
        strip_holders(ctx, code_name).await?;
        match ctx.store.delete_role(&role).await? {
            Removal::Deleted | Removal::Missing => {
                tracing::info!(%code_name, "role deleted and taken from its holders");
                let event = Event::new(EventType::RoleDeleted)
                    .subject(Subject::of(SubjectKind::Role, code_name));
                audit::record(ctx, event).await;
                return Ok(());
            }
            Removal::InUse | Removal::Stale => {}
        }
    }
    Err(Error::Unavailable)
}

/// Takes the role from every user the user index lists as holding it, batch by batch.
async fn strip_holders(ctx: &Context, code_name: &CodeName) -> Result<()> {
    let filter = UserFilter {
        role: Some(code_name.clone()),
        ..UserFilter::default()
    };
    let mut after = None;
    loop {
        let (listed, next) = ctx.store.list_users(STRIP_BATCH, after, &filter).await?;
        let ids: Vec<UserId> = listed.iter().map(|u| u.id).collect();
        strip_batch(ctx, code_name, &ids).await?;
        match next {
            Some(id) => after = Some(id),
            None => return Ok(()),
        }
    }
}

/// Takes the role from those of `ids` who hold it now, in one transaction, retried when one of
/// them changed meanwhile.
async fn strip_batch(ctx: &Context, code_name: &CodeName, ids: &[UserId]) -> Result<()> {
    for _ in 0..EDIT_ATTEMPTS {
        // The index may lag behind, and a holder may have been edited since: strip what each
        // profile holds now, read consistently.
        let mut holders = Vec::new();
        for id in ids {
            if let Some(user) = ctx.store.find_user(*id).await?
                && user.roles.iter().any(|r| r.as_str() == code_name.as_str())
            {
                holders.push(user);
            }
        }
        if holders.is_empty() || ctx.store.strip_role(code_name, &holders, ctx.now()).await? {
            return Ok(());
        }
    }
    Err(Error::conflict(
        "concurrent_update",
        "the role's holders are being changed by someone else; try again",
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
            (Method::GET, Action::Read),
            (Method::HEAD, Action::Read),
            (Method::POST, Action::Create),
            (Method::PUT, Action::Update),
            (Method::PATCH, Action::Update),
            (Method::DELETE, Action::Delete),
        ];
        for (method, wanted) in &methods {
            assert_eq!(action_for(method), *wanted, "{method}");
            for action in Action::ALL {
                let roles = [role(&[("users", action.code_name())])];
                let expected = action == *wanted || action == Action::All;
                assert_eq!(
                    grants(&roles, Resource::Users, action_for(method)),
                    expected,
                    "{method} with `{action}` granted"
                );
                assert!(
                    !grants(&roles, Resource::Roles, action_for(method)),
                    "a permission on users says nothing about roles"
                );
            }
        }
    }

    #[test]
    fn unusual_methods_need_all() {
        assert_eq!(action_for(&Method::OPTIONS), Action::All);
        let read = [role(&[("users", "read")])];
        assert!(!grants(&read, Resource::Users, Action::All));
        assert!(grants(
            &[role(&[("users", "all")])],
            Resource::Users,
            Action::All
        ));
    }

    #[test]
    fn permissions_are_deduplicated_and_limited() {
        let twice = role(&[("users", "read"), ("users", "read")]).permissions;
        assert_eq!(normalize_permissions(twice).unwrap().len(), 1);
        let names: Vec<String> = (0..=MAX_ROLE_RESOURCES).map(|i| format!("r{i}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "read")).collect();
        assert!(normalize_permissions(role(&pairs).permissions).is_err());
    }

    #[test]
    fn code_names_are_unique_and_valid() {
        let resources: BTreeSet<&str> = Resource::ALL.iter().map(|r| r.code_name()).collect();
        let actions: BTreeSet<&str> = Action::ALL.iter().map(|a| a.code_name()).collect();
        assert_eq!(resources.len(), Resource::ALL.len());
        assert_eq!(actions.len(), Action::ALL.len());
        for code in resources.iter().chain(&actions) {
            CodeName::parse("code_name", code).unwrap();
        }
    }
}
