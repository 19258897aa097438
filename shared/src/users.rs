//! User administration: listing users, changing their flags, names and roles, and ending their
//! sessions. Every function here is behind an `Admin<on::Users>` (or `on::Sessions`) extractor
//! in its handler; the functions that change an account also take the acting administrator and
//! apply the rules about whom they may change:
//!
//! - only superusers change a user's roles;
//! - nobody changes their own roles or active flag here;
//! - only superusers edit, deactivate or end the sessions of a superuser;
//! - only an account with a verified e-mail address is made staff (409 `email_not_verified`);
//! - the last active superuser cannot be deactivated (the store keeps a count of active
//!   superusers in the same transaction as the flag, so this holds under concurrency).

use crate::audit::{self, EndedBy, Event, EventType};
use crate::auth;
use crate::context::Context;
use crate::cursor::{self, Cursor, List};
use crate::domain::{CodeName, User, UserId};
use crate::error::{Error, Result};
use crate::http::{ETag, IfMatch, Page, Tagged};
use crate::rbac;
use crate::store::UserFilter;
use crate::views::UserView;

/// A user holds at most this many roles.
pub const MAX_USER_ROLES: usize = 20;
/// How often a change is retried when a concurrent change of the same user won.
const EDIT_ATTEMPTS: usize = 5;

/// An administrator's changes to a user; `None` leaves a field as it is. `middle_name:
/// Some(None)` removes it; `roles` is the new complete list.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    pub roles: Option<Vec<CodeName>>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<Option<String>>,
}

/// One page of at most `limit` users in creation order, filtered by `filter`, after the decoded
/// `cursor` of the previous page (400 `invalid_cursor` when it is not one of ours). A filtered
/// page may be short, even empty, while `next_cursor` is set; following the cursors lists every
/// match exactly once.
pub async fn list(
    ctx: &Context,
    limit: usize,
    cursor: Option<Cursor>,
    filter: &UserFilter,
) -> Result<Page<UserView>> {
    let key = &ctx.config.cursor_key;
    let after = key
        .open(&List::Users, cursor.as_ref())?
        .map(|raw| raw.parse::<UserId>().map_err(|_| cursor::malformed()))
        .transpose()?;
    let (users, next) = ctx.store.list_users(limit, after, filter).await?;
    let items = users.iter().map(UserView::from).collect();
    Ok(key.page(
        &List::Users,
        items,
        next.map(|id| id.to_string()).as_deref(),
    ))
}

/// A user's view with the `ETag` of the profile's version.
fn tagged(user: &User) -> Tagged<UserView> {
    Tagged::new(ETag::of_version(user.version), UserView::from(user))
}

/// The user with this id, tagged with the profile's version, or 404.
pub async fn find(ctx: &Context, user_id: UserId) -> Result<Tagged<UserView>> {
    let user = ctx
        .store
        .find_user(user_id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    Ok(tagged(&user))
}

fn apply(
    before: &User,
    changes: &UserChanges,
    roles: Option<&Vec<String>>,
    now: chrono::DateTime<chrono::Utc>,
) -> User {
    let mut after = before.clone();
    if let Some(active) = changes.is_active {
        after.is_active = active;
    }
    if let Some(staff) = changes.is_staff {
        after.is_staff = staff;
    }
    if let Some(roles) = roles {
        after.roles = roles.clone();
    }
    if let Some(first) = &changes.first_name {
        after.first_name = first.clone();
    }
    if let Some(last) = &changes.last_name {
        after.last_name = last.clone();
    }
    if let Some(middle) = &changes.middle_name {
        after.middle_name = middle.clone();
    }
    after.updated_at = now;
    after.version = before.version + 1;
    after
}

/// Refuses (403) a change from `before` to `after` that `actor` may not make: see the module
/// documentation.
fn ensure_may_change(actor: &User, before: &User, after: &User) -> Result<()> {
    rbac::ensure_may_act_on(actor, before)?;
    let roles_change = after.roles != before.roles;
    if actor.id == before.id && (roles_change || after.is_active != before.is_active) {
        return Err(rbac::forbidden(
            "you may not change your own roles or active flag",
        ));
    }
    if roles_change && !actor.is_superuser {
        return Err(rbac::forbidden(
            "only a superuser may change a user's roles",
        ));
    }
    Ok(())
}

/// Changes a user's flags, names and roles on behalf of `actor`. Roles must exist (400
/// `unknown_role`, checked in the same transaction that counts the user on them); at most
/// [`MAX_USER_ROLES`] (400 `too_many_roles`). New rights apply on the user's next request.
/// Deactivation ends every session of the user at once; their access tokens already fail on the
/// next request because the guard refuses inactive users. Fails with 404 for an unknown user,
/// 403 for a change `actor` may not make (module documentation), 412 when the profile is no
/// longer at the version `if_match` names, 409 `last_superuser` when it would deactivate
/// the last active superuser, and 409 `email_not_verified` when it would make staff of an
/// account whose address is not verified. The write is conditioned on the version the precondition passed
/// on (retried while the precondition holds). Tagged with the new version.
pub async fn update(
    ctx: &Context,
    actor: &User,
    user_id: UserId,
    changes: UserChanges,
    if_match: &IfMatch,
) -> Result<Tagged<UserView>> {
    let roles = changes.roles.as_ref().map(|roles| {
        let mut names: Vec<String> = roles.iter().map(|r| r.as_str().to_owned()).collect();
        names.sort();
        names.dedup();
        names
    });
    if roles.as_ref().is_some_and(|r| r.len() > MAX_USER_ROLES) {
        return Err(Error::bad_request(
            "too_many_roles",
            format!("a user may hold at most {MAX_USER_ROLES} roles"),
        ));
    }
    for _ in 0..EDIT_ATTEMPTS {
        let before = ctx
            .store
            .find_user(user_id)
            .await?
            .ok_or_else(|| Error::not_found("user"))?;
        let after = apply(&before, &changes, roles.as_ref(), ctx.now());
        // Checked against the very profile the conditional write below replaces.
        ensure_may_change(actor, &before, &after)?;
        // Staff rights go only to an account whose owner proved they hold its address.
        if after.is_staff && !before.is_staff && !before.email_verified {
            return Err(Error::conflict(
                "email_not_verified",
                "the user's e-mail address is not verified; staff rights need a verified address",
            ));
        }
        if_match.check(&ETag::of_version(before.version))?;
        if !ctx.store.update_user_admin(&before, &after).await? {
            continue;
        }
        // A deactivation ends the sessions even when the user was already inactive, so a
        // retry of a deactivation whose session deletes failed finishes the job.
        record_changes(ctx, &before, &after).await;
        if changes.is_active == Some(false) {
            let ended = auth::end_all_sessions(ctx, user_id, None, EndedBy::Deactivation).await?;
            tracing::info!(%user_id, ended, "user deactivated");
        }
        return Ok(tagged(&after));
    }
    Err(Error::conflict(
        "concurrent_update",
        "the user is being changed by someone else; try again",
    ))
}

/// Records in the audit trail what an administrator's edit changed: activation, roles, and
/// the other fields (names, staff and superuser flags) by name.
async fn record_changes(ctx: &Context, before: &User, after: &User) {
    let user = after.id;
    if before.is_active != after.is_active {
        let kind = if after.is_active {
            EventType::UserActivated
        } else {
            EventType::UserDeactivated
        };
        audit::record(ctx, Event::new(kind).about(user)).await;
    }
    if before.roles != after.roles {
        let event = Event::new(EventType::UserRolesChanged)
            .about(user)
            .detail("before", before.roles.clone())
            .detail("after", after.roles.clone());
        audit::record(ctx, event).await;
    }
    let fields: Vec<&str> = [
        ("first_name", before.first_name != after.first_name),
        ("last_name", before.last_name != after.last_name),
        ("middle_name", before.middle_name != after.middle_name),
        ("is_staff", before.is_staff != after.is_staff),
        ("is_superuser", before.is_superuser != after.is_superuser),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    if !fields.is_empty() {
        let event = Event::new(EventType::UserUpdated)
            .about(user)
            .detail("fields", fields);
        audit::record(ctx, event).await;
    }
}

/// Ends every session of a user on behalf of `actor`; returns how many there were. Fails with
/// 404 for an unknown user and 403 when a non-superuser targets a superuser.
pub async fn revoke_all(ctx: &Context, actor: &User, user_id: UserId) -> Result<usize> {
    let target = ctx
        .store
        .find_user(user_id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    rbac::ensure_may_act_on(actor, &target)?;
    let ended = auth::end_all_sessions(ctx, user_id, None, EndedBy::Admin).await?;
    tracing::info!(%user_id, ended, "every session of the user revoked by an administrator");
    Ok(ended)
}
