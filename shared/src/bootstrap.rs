//! Start-up seeding: the default RBAC actions and resources and the first superuser from
//! configuration. Run at every cold start of the auth function and by the local server.
//!
//! Idempotent, also when several cold starts race: every item is created with a conditional
//! put, so the second writer finds it there and moves on. An account that already has the
//! configured e-mail is made a superuser only when its password verifies against
//! `SESAME_ADMIN_PASSWORD` (anyone could have registered the address first) and its address is
//! verified; otherwise start-up logs an error and goes on without promoting it. The account it
//! creates is verified (the operator configured the address). A promoted account keeps its password, names
//! and flags, so changing `SESAME_ADMIN_PASSWORD` later never resets anybody's password.

use crate::audit::{self, Event, EventType};
use crate::context::Context;
use crate::domain::{CatalogItem, CatalogKind, CodeName, Email, User, UserId};
use crate::error::{Error, Result};
use crate::password;
use crate::rbac::{Action, Resource};

/// What one run changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Default actions and resources created by this run.
    pub created_items: usize,
    /// Whether this run created the superuser's account.
    pub created_admin: bool,
    /// Whether this run made an existing account a superuser.
    pub promoted_admin: bool,
    /// Whether an existing account with the configured e-mail was left alone because its
    /// password is not the configured one or its address is not verified.
    pub refused_promotion: bool,
}

/// Creates whatever of the defaults and the first superuser is missing. Fails when only one of
/// `SESAME_ADMIN_EMAIL` and `SESAME_ADMIN_PASSWORD` is set, or they are invalid, so a
/// misconfigured deployment stops at start-up instead of running without its administrator.
pub async fn run(ctx: &Context) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let now = ctx.now();
    let actions = Action::ALL.map(|a| (a.code_name(), a.name()));
    let resources = Resource::ALL.map(|r| (r.code_name(), r.name()));
    for (kind, defaults) in [
        (CatalogKind::Action, &actions[..]),
        (CatalogKind::Resource, &resources[..]),
    ] {
        let codes: Vec<String> = defaults
            .iter()
            .map(|(code, _)| (*code).to_owned())
            .collect();
        let existing = ctx.store.find_catalog_items(kind, &codes).await?;
        for (code_name, name) in defaults {
            if existing
                .iter()
                .any(|item| item.code_name.as_str() == *code_name)
            {
                continue;
            }
            let item = CatalogItem {
                code_name: CodeName::parse("code_name", code_name)?,
                name: (*name).to_owned(),
                description: String::new(),
                created_at: now,
                updated_at: now,
            };
            if ctx.store.create_catalog_item(kind, &item).await? {
                outcome.created_items += 1;
            }
        }
    }
    if outcome.created_items > 0 {
        let event = Event::new(EventType::CatalogSeeded).detail("created", outcome.created_items);
        audit::record(ctx, event).await;
    }
    match (&ctx.config.admin_email, ctx.config.admin_password()) {
        (Some(email), Some(password)) => ensure_admin(ctx, email, password, &mut outcome).await?,
        (None, None) => {}
        _ => {
            return Err(Error::internal(
                "set both SESAME_ADMIN_EMAIL and SESAME_ADMIN_PASSWORD, or neither",
            ));
        }
    }
    tracing::info!(?outcome, "bootstrap done");
    Ok(outcome)
}

async fn ensure_admin(
    ctx: &Context,
    raw_email: &str,
    raw_password: &str,
    outcome: &mut Outcome,
) -> Result<()> {
    let email = Email::parse(raw_email)?;
    for _ in 0..3 {
        if let Some(user_id) = ctx.store.find_user_id_by_email(&email).await? {
            let Some(existing) = ctx.store.find_user(user_id).await? else {
                // The claim is there but its profile is not (yet): look again.
                continue;
            };
            if existing.is_superuser {
                return Ok(());
            }
            // Anyone may register the configured address before the operator does; only the
            // holder of the configured password is the operator.
            if !ctx
                .hasher
                .verify(raw_password, &existing.password_hash)
                .await?
            {
                tracing::error!(
                    %user_id,
                    "an account with SESAME_ADMIN_EMAIL exists whose password is not \
                     SESAME_ADMIN_PASSWORD; it was not made a superuser"
                );
                outcome.refused_promotion = true;
                let event = Event::failed(EventType::SuperuserPromoted)
                    .about(user_id)
                    .detail("reason", "wrong_password");
                audit::record(ctx, event).await;
                return Ok(());
            }
            // A promotion also relies on the owner holding the address.
            if !existing.email_verified {
                tracing::error!(
                    %user_id,
                    "the account with SESAME_ADMIN_EMAIL has not verified its address; it was \
                     not made a superuser (verify it, then start again)"
                );
                outcome.refused_promotion = true;
                return Ok(());
            }
            outcome.promoted_admin = ctx.store.make_superuser(user_id).await?;
            if outcome.promoted_admin {
                let event = Event::new(EventType::SuperuserPromoted).about(user_id);
                audit::record(ctx, event).await;
            }
            return Ok(());
        }
        password::check_policy("SESAME_ADMIN_PASSWORD", raw_password)?;
        let now = ctx.now();
        let user = User {
            id: UserId::new(),
            email: email.clone(),
            password_hash: ctx.hasher.hash(raw_password).await?,
            first_name: "Admin".into(),
            last_name: "Admin".into(),
            middle_name: None,
            is_active: true,
            is_staff: true,
            is_superuser: true,
            roles: Vec::new(),
            created_at: now,
            updated_at: now,
            session_version: 0,
            password_changed_at: None,
            mfa_enabled: false,
            version: 1,
            email_verified: true,
        };
        if ctx.store.create_user_without_session(&user).await? {
            outcome.created_admin = true;
            let event = Event::new(EventType::SuperuserCreated).about(user.id);
            audit::record(ctx, event).await;
            return Ok(());
        }
        // Another cold start claimed the address first: promote what it created.
    }
    Err(Error::Unavailable)
}
