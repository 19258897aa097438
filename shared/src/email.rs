//! The e-mail flows: address verification, password reset and e-mail change, all on one token
//! mechanism ([`EmailToken`], a [`TokenPurpose`] each).
//!
//! A token is 32 random bytes (43 base64url characters) sent in a link to the web app
//! (`{public_url}/verify-email?token=…`, `/reset-password?token=…`); only its SHA-256 is
//! stored, with a TTL and its expiry bucket. Opening a link never uses its token (mail
//! scanners fetch links): the page posts it. Using a token is one transaction that deletes it on
//! the condition that it is there, of its purpose and unexpired, together with its effect, so a
//! token works once even under races. Every unusable token (unknown, used, expired, of another
//! purpose) is refused alike, 400 `invalid_token`.
//!
//! - Verification: registration stores the first token with the account (`auth::register`)
//!   and mails it; [`resend_verification`] mails a new one (rate limited per user);
//!   [`verify`] marks the address verified.
//! - Password reset: [`request_password_reset`] answers the same whether or not an account has
//!   the address, with the same DynamoDB requests, and mails only an existing, active account;
//!   [`reset_password`] sets the new password, ends every session and clears the account's
//!   lock.
//! - E-mail change: [`request_email_change`] checks the current password under the login's
//!   brute-force rules and mails a link to the new address; [`verify`] with that token moves the
//!   account and its e-mail claim to the new address in one transaction (409 `email_taken` when
//!   it was claimed meanwhile), marks it verified and sends a notice to the old address.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::audit::{self, EndedBy, Event, EventType};
use crate::auth::{self, Principal};
use crate::client::ClientInfo;
use crate::context::Context;
use crate::domain::{Email, EmailToken, TokenPurpose, User, UserId};
use crate::error::{Error, Result};
use crate::mail::Kind;
use crate::password;
use crate::rate_limit::{self, Limit};
use crate::store::Consumed;
use crate::tokens::{self, hash_secret};

/// Verification mails a user may ask for per hour.
pub const RESEND_PER_USER: Limit = Limit {
    name: "verify-resend-user",
    max: 3,
    window: Duration::from_secs(3600),
};

/// Password-reset requests per client IP (per /64 for IPv6) and hour.
pub const RESET_PER_IP: Limit = Limit {
    name: "reset-ip",
    max: 10,
    window: Duration::from_secs(3600),
};

/// Password-reset requests per address (counted under a hash of it, whether or not an account
/// has it) and hour.
pub const RESET_PER_ADDRESS: Limit = Limit {
    name: "reset-address",
    max: 3,
    window: Duration::from_secs(3600),
};

/// E-mail change requests (right or wrong password) per user and hour.
pub const EMAIL_CHANGE_PER_USER: Limit = Limit {
    name: "email-change-user",
    max: 10,
    window: Duration::from_secs(3600),
};

/// The one refusal of an unusable token.
pub fn invalid_token() -> Error {
    Error::bad_request(
        "invalid_token",
        "this link is invalid, was already used or has expired; ask for a new one",
    )
}

/// A new token of `purpose` for `user_id`, sent to `email`: the secret for the link and the
/// record to store.
pub fn new_token(
    purpose: TokenPurpose,
    user_id: UserId,
    email: &Email,
    now: DateTime<Utc>,
) -> (String, EmailToken) {
    let secret = tokens::random_secret();
    let token = EmailToken {
        hash: hash_secret(&secret),
        purpose,
        user_id,
        email: email.clone(),
        created_at: now,
        expires_at: now + purpose.lifetime(),
    };
    (secret, token)
}

/// The web app's page a token of `purpose` is used on.
fn link(ctx: &Context, purpose: TokenPurpose, secret: &str) -> String {
    let page = match purpose {
        TokenPurpose::VerifyEmail | TokenPurpose::ChangeEmail => "verify-email",
        TokenPurpose::ResetPassword => "reset-password",
    };
    format!("{}/{page}?token={secret}", ctx.config.link_origin())
}

/// Mails `user` the verification link of `secret`.
pub async fn send_verification(ctx: &Context, user: &User, secret: &str) -> Result<()> {
    let link = link(ctx, TokenPurpose::VerifyEmail, secret);
    ctx.mailer
        .send(
            &user.email,
            Kind::VerifyEmail,
            &[("name", &user.first_name), ("link", &link)],
            Some(&link),
        )
        .await
}

/// Mails the caller a new verification link. Fails with 409 `email_already_verified` when there
/// is nothing to verify, 429 beyond [`RESEND_PER_USER`]. Earlier links keep working until they
/// expire.
pub async fn resend_verification(ctx: &Context, who: &Principal) -> Result<()> {
    let user = &who.user;
    if user.email_verified {
        return Err(Error::conflict(
            "email_already_verified",
            "the e-mail address is already verified",
        ));
    }
    rate_limit::hit(ctx, RESEND_PER_USER, &user.id.to_string()).await?;
    let (secret, token) = new_token(TokenPurpose::VerifyEmail, user.id, &user.email, ctx.now());
    ctx.store.create_email_token(&token).await?;
    send_verification(ctx, user, &secret).await
}

/// The stored token `raw` names, if it is of one of `purposes` and unexpired; else 400
/// `invalid_token`.
async fn usable_token(ctx: &Context, raw: &str, purposes: &[TokenPurpose]) -> Result<EmailToken> {
    if !tokens::is_random_secret(raw) {
        return Err(invalid_token());
    }
    ctx.store
        .find_email_token(&hash_secret(raw))
        .await?
        .filter(|t| purposes.contains(&t.purpose) && t.is_live(ctx.now()))
        .ok_or_else(invalid_token)
}

/// Uses a verification or e-mail change token (the links of both go to the same page): the
/// address becomes verified; for a change, the account moves to the new address first, and the
/// old one gets a notice. Fails with 400 `invalid_token` for any unusable token, and 409
/// `email_taken` when a change's new address was claimed since the link was sent.
pub async fn verify(ctx: &Context, raw_token: &str) -> Result<()> {
    let token = usable_token(
        ctx,
        raw_token,
        &[TokenPurpose::VerifyEmail, TokenPurpose::ChangeEmail],
    )
    .await?;
    let now = ctx.now();
    match token.purpose {
        TokenPurpose::ChangeEmail => {
            let user = ctx
                .store
                .find_user(token.user_id)
                .await?
                .filter(|u| u.email != token.email)
                .ok_or_else(invalid_token)?;
            match ctx.store.change_email(&token, &user.email, now).await? {
                Consumed::Done => {}
                Consumed::Invalid => return Err(invalid_token()),
                Consumed::EmailTaken => {
                    return Err(Error::conflict(
                        "email_taken",
                        "an account with this e-mail already exists",
                    ));
                }
            }
            tracing::info!(user_id = %user.id, "e-mail address changed");
            let event = Event::new(EventType::EmailChanged)
                .by(user.id)
                .about(user.id)
                .detail("from", user.email.as_str())
                .detail("to", token.email.as_str());
            audit::record(ctx, event).await;
            let notice = ctx
                .mailer
                .send(
                    &user.email,
                    Kind::EmailChanged,
                    &[("name", &user.first_name), ("email", token.email.as_str())],
                    None,
                )
                .await;
            if let Err(error) = notice {
                // The change is done; a lost notice must not make it look failed.
                tracing::error!(user_id = %user.id, %error, "the old address's notice was not sent");
            }
            Ok(())
        }
        _ => match ctx.store.verify_email(&token, now).await? {
            Consumed::Done => {
                tracing::info!(user_id = %token.user_id, "e-mail address verified");
                let event = Event::new(EventType::EmailVerified)
                    .by(token.user_id)
                    .about(token.user_id);
                audit::record(ctx, event).await;
                Ok(())
            }
            _ => Err(invalid_token()),
        },
    }
}

/// Mails a password-reset link to the account with `email`, if there is an active one. The
/// answer is the same either way, and so are the DynamoDB requests (the per-IP and per-address
/// hits, the claim, a profile read, and a token write that stores nothing for an unknown
/// address); a failed mail is logged, not answered. 429 beyond [`RESET_PER_IP`] or
/// [`RESET_PER_ADDRESS`], which count known and unknown addresses alike.
pub async fn request_password_reset(
    ctx: &Context,
    email: &Email,
    client: &ClientInfo,
) -> Result<()> {
    rate_limit::hit_ip(ctx, RESET_PER_IP, client).await?;
    rate_limit::hit(ctx, RESET_PER_ADDRESS, &hash_secret(email.as_str())).await?;
    let user_id = ctx.store.find_user_id_by_email(email).await?;
    // An unknown address reads a profile that does not exist, as a known one reads its own.
    let user = ctx
        .store
        .find_user(user_id.unwrap_or_else(UserId::new))
        .await?
        .filter(|u| user_id.is_some() && u.is_active);
    let Some(user) = user else {
        ctx.store.add_no_email_token().await?;
        return Ok(());
    };
    let (secret, token) = new_token(TokenPurpose::ResetPassword, user.id, &user.email, ctx.now());
    ctx.store.create_email_token(&token).await?;
    let link = link(ctx, TokenPurpose::ResetPassword, &secret);
    let sent = ctx
        .mailer
        .send(
            &user.email,
            Kind::ResetPassword,
            &[("name", &user.first_name), ("link", &link)],
            Some(&link),
        )
        .await;
    if let Err(error) = sent {
        // Answering 503 only for existing accounts would tell them apart.
        tracing::error!(user_id = %user.id, %error, "the password-reset mail was not sent");
    }
    Ok(())
}

/// Sets a new password with a reset token: the policy applies (400), the token must be usable
/// (400 `invalid_token`). The password, the session version and the account's failure record
/// (its lock) change in the token's transaction; then every session of the user ends.
pub async fn reset_password(ctx: &Context, raw_token: &str, new_password: &str) -> Result<()> {
    password::check_policy("new_password", new_password)?;
    let token = usable_token(ctx, raw_token, &[TokenPurpose::ResetPassword]).await?;
    let new_hash = ctx.hasher.hash(new_password).await?;
    let account_key = token.user_id.to_string();
    let reset = auth::failures_reset(ctx, &account_key);
    match ctx.store.reset_password(&token, &new_hash, reset).await? {
        Consumed::Done => {}
        _ => return Err(invalid_token()),
    }
    let event = Event::new(EventType::PasswordReset)
        .by(token.user_id)
        .about(token.user_id);
    audit::record(ctx, event).await;
    let ended = auth::end_all_sessions(ctx, token.user_id, None, EndedBy::PasswordReset).await?;
    tracing::info!(user_id = %token.user_id, ended, "password reset");
    Ok(())
}

/// Asks to move the caller's account to `new_email`: checks `current_password` under the
/// login's brute-force rules (403 `invalid_current_password`, 429 beyond
/// [`EMAIL_CHANGE_PER_USER`]), refuses an address that is the caller's own (400) or another
/// account's (409 `email_taken`), and mails a confirmation link to the new address. Nothing
/// changes until the link is used.
pub async fn request_email_change(
    ctx: &Context,
    who: &Principal,
    new_email: &Email,
    current_password: &str,
    client: &ClientInfo,
) -> Result<()> {
    if *new_email == who.user.email {
        return Err(Error::invalid_field(
            "new_email",
            "is already the account's address",
        ));
    }
    let (limit, kind) = (EMAIL_CHANGE_PER_USER, EventType::EmailChanged);
    auth::check_current_password(ctx, who, current_password, limit, kind, client).await?;
    if ctx.store.find_user_id_by_email(new_email).await?.is_some() {
        return Err(Error::conflict(
            "email_taken",
            "an account with this e-mail already exists",
        ));
    }
    let user = &who.user;
    let (secret, token) = new_token(TokenPurpose::ChangeEmail, user.id, new_email, ctx.now());
    ctx.store.create_email_token(&token).await?;
    let link = link(ctx, TokenPurpose::ChangeEmail, &secret);
    ctx.mailer
        .send(
            new_email,
            Kind::ChangeEmail,
            &[
                ("name", &user.first_name),
                ("link", &link),
                ("email", new_email.as_str()),
            ],
            Some(&link),
        )
        .await
}
