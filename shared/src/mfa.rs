//! The second factor: TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of skew
//! either way) and single-use recovery codes, and the second step of a login that needs them.
//!
//! - Enrolment is two calls: [`begin`] stores a pending secret and shows it (base32, an
//!   `otpauth://` URI and its QR code); [`confirm`] enables it with a first valid code and
//!   returns ten recovery codes, shown once and stored as SHA-256 hashes.
//! - The TOTP secret is sealed with AES-256-GCM ([`MfaKey`], from `SESAME_MFA_KEY_SECRET`, bound
//!   to its user by the associated data); it is never stored in clear.
//! - A code is accepted once: the last accepted time step is stored and only a later one is
//!   accepted, with one conditional write (`Store::accept_totp_step`), so a replay, even a
//!   parallel one, is refused. A recovery code is spent by one conditional write too.
//! - A login whose password was right but whose account has a second factor gets an
//!   [`MfaChallenge`] and no session ([`challenge`]); [`complete`] checks a code against the
//!   account's brute-force budget (the same reservations as passwords, see
//!   `auth::check_password`) and opens the session as the password login would. Sessions
//!   exist only after that step, so everything that needs a session (QR login approval
//!   included) needs the second factor.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use totp_rs::{Builder, Totp};
use utoipa::ToSchema;

use crate::audit::{self, Event, EventType};
use crate::auth::{self, Checked, LOGIN_PER_IP, PASSWORD_CHANGE_PER_USER, Principal};
use crate::client::ClientInfo;
use crate::context::{Context, SigningContext};
use crate::domain::{CreatedVia, LoginOutcome, User, UserId};
use crate::error::{Error, Result};
use crate::rate_limit::{self, Limit, RateHit};
use crate::store::{
    AttemptBudget, LoginFailures, MfaRecord, MfaState, PendingLogin, Reservation, StoredPasskey,
    UserSessions,
};
use crate::tokens;
use crate::views::TokenResponse;

/// The shortest accepted `SESAME_MFA_KEY`, in bytes.
pub const MIN_MFA_KEY_BYTES: usize = 32;
/// How long a login's second step may wait.
pub const MFA_TOKEN_TTL: chrono::Duration = chrono::Duration::minutes(5);
/// How many recovery codes an enrolment (or a regeneration) hands out.
pub const RECOVERY_CODES: usize = 10;
/// The issuer authenticator apps show beside the account.
const ISSUER: &str = "Sesame";
/// Bytes of a TOTP secret (160 bits, RFC 4226's recommendation).
const SECRET_BYTES: usize = 20;

/// The AES-256-GCM key that seals TOTP secrets: SHA-256 of the configured secret. It never
/// appears in `Debug` output.
#[derive(Clone)]
pub struct MfaKey([u8; 32]);

impl std::fmt::Debug for MfaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaKey(<redacted>)")
    }
}

impl MfaKey {
    /// A key from configured bytes; `None` when shorter than [`MIN_MFA_KEY_BYTES`].
    pub fn new(bytes: &[u8]) -> Option<MfaKey> {
        (bytes.len() >= MIN_MFA_KEY_BYTES).then(|| MfaKey(Sha256::digest(bytes).into()))
    }

    /// A fresh random key, for local runs and tests: secrets sealed with it last as long as
    /// the process.
    pub fn generate() -> MfaKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        MfaKey(bytes)
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte AES-256 key"))
    }

    /// Seals `secret` for `user` under a fresh random nonce: base64 of nonce, ciphertext, tag.
    pub fn seal(&self, user: UserId, secret: &[u8]) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut sealed = secret.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(user.to_string().as_bytes()),
                &mut sealed,
            )
            .map_err(|_| Error::internal("sealing a TOTP secret failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD_NO_PAD.encode(out))
    }

    /// Opens a secret sealed for `user`; fails (500) on anything else, such as a secret copied
    /// to another user's item or sealed with another key.
    pub fn open(&self, user: UserId, sealed: &str) -> Result<Vec<u8>> {
        let fail = || Error::internal("a stored TOTP secret could not be opened");
        let bytes = STANDARD_NO_PAD.decode(sealed).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(user.to_string().as_bytes()), &mut in_out)
            .map_err(|_| fail())?;
        Ok(plain.to_vec())
    }
}

/// How a sign-in hands over its new token pair.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// In the body, for a client that sends `Authorization: Bearer`.
    #[default]
    Bearer,
    /// In `HttpOnly` cookies, for a browser: the body holds no token, only the session's CSRF
    /// token, which every cookie-authenticated change presents in `x-csrf-token`.
    Cookie,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Transport::Bearer => "bearer",
            Transport::Cookie => "cookie",
        }
    }
}

/// The answer to a right password on an account with a second factor: no session yet.
#[derive(Serialize, ToSchema)]
pub struct MfaChallenge {
    /// Always `true`: the login needs its second step.
    pub mfa_required: bool,
    /// The proof of this login's right password for `POST /v1/auth/login/mfa`: single use,
    /// valid five minutes, only from the client that logged in.
    pub mfa_token: String,
    /// The second factors accepted: `totp`, `recovery_code`, and `passkey` when the account has
    /// one (`POST /v1/auth/login/mfa/passkey` starts it).
    pub methods: Vec<String>,
    /// Seconds until `mfa_token` expires.
    pub expires_in: i64,
}

impl std::fmt::Debug for MfaChallenge {
    /// Leaves the token out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallenge")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// A started enrolment: the secret to put into an authenticator app. Holds the secret, so it
/// has no `Debug`.
#[derive(Serialize, ToSchema)]
pub struct Enrolment {
    /// The TOTP secret, base32 (for typing into an app).
    pub secret: String,
    /// The `otpauth://totp/...` URI apps read from the QR code.
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG drawing.
    pub qr_svg: String,
}

/// Recovery codes, shown once: each signs in once in place of a TOTP code.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// A second factor presented by a client. Holds a secret, so it has no `Debug`.
pub enum Factor {
    /// A 6-digit TOTP code.
    Totp(SecretString),
    /// One of the recovery codes (case, spaces and dashes do not matter).
    RecoveryCode(SecretString),
    /// A passkey's answer to the challenge of `POST /v1/auth/login/mfa/passkey` (login's second
    /// step only).
    #[cfg(feature = "passkeys")]
    Passkey(Box<crate::passkeys::ceremony::Assertion>),
}

/// What a user holds that a factor is checked against.
struct Factors<'a> {
    user: &'a User,
    mfa: &'a MfaRecord,
    /// The account's passkeys (none where a passkey is not accepted).
    #[cfg_attr(not(feature = "passkeys"), allow(dead_code))]
    passkeys: &'a [StoredPasskey],
    /// The pending login being completed (its token's hash), which a passkey's challenge must
    /// have been made for.
    #[cfg_attr(not(feature = "passkeys"), allow(dead_code))]
    login: Option<&'a str>,
}

/// What proves a user may turn their second factor off.
pub enum Proof {
    Code(Factor),
    Password(SecretString),
}

fn key(ctx: &Context) -> Result<&MfaKey> {
    ctx.config
        .mfa_key
        .as_ref()
        .ok_or_else(|| Error::internal("this function has no SESAME_MFA_KEY_SECRET"))
}

/// The TOTP of a secret, labelled with the user's e-mail for authenticator apps.
fn totp(secret: Vec<u8>, user: &User) -> Result<Totp> {
    Builder::new()
        .with_secret(secret)
        .with_account_name(user.email.as_str().replace(':', ""))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(Error::internal)
}

/// The time step a code is valid at `ctx.now()` (±1 step), if any.
fn valid_step(ctx: &Context, user: &User, sealed: &str, code: &str) -> Result<Option<u64>> {
    let secret = key(ctx)?.open(user.id, sealed)?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let now = u64::try_from(ctx.now().timestamp()).unwrap_or_default();
    Ok(totp(secret, user)?.check(code, now))
}

/// The stored form of a recovery code: SHA-256 of its normalized text.
fn recovery_hash(code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    tokens::hash_secret(&normalized)
}

/// Ten new recovery codes (`xxxxx-xxxxx`, 50 random bits each) and their hashes.
fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::rng().fill_bytes(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| ALPHABET[usize::from(b & 31)] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    (codes, hashes)
}

/// Starts an enrolment: stores a new pending secret (replacing an unconfirmed one) and shows
/// it. 409 `mfa_already_enabled` when the second factor is on (disable it first).
pub async fn begin(ctx: &Context, who: &Principal) -> Result<Enrolment> {
    let enabled = || Error::conflict("mfa_already_enabled", "two-factor sign-in is already on");
    if who.user.mfa_enabled {
        return Err(enabled());
    }
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    let record = MfaRecord {
        state: MfaState::Pending,
        secret: key(ctx)?.seal(who.user.id, &secret)?,
        last_step: None,
        recovery: Vec::new(),
        created_at: ctx.now(),
    };
    if !ctx.store.put_pending_mfa(who.user.id, &record).await? {
        return Err(enabled());
    }
    let totp = totp(secret, &who.user)?;
    let otpauth_uri = totp.to_url().map_err(Error::internal)?;
    Ok(Enrolment {
        secret: totp.secret().to_base32(),
        qr_svg: qr_svg(&otpauth_uri)?,
        otpauth_uri,
    })
}

/// An SVG drawing of `text` as a QR code, without its XML declaration (for inlining in HTML).
pub fn qr_svg(text: &str) -> Result<String> {
    let svg = qrcode::QrCode::new(text.as_bytes())
        .map_err(Error::internal)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    Ok(svg
        .split_once("?>")
        .map_or(svg.as_str(), |(_, drawing)| drawing)
        .to_owned())
}

/// Completes an enrolment with a first valid code: the second factor is on from now and the
/// recovery codes are returned (only their hashes are kept). A wrong code leaves it off (400
/// `invalid_code`); 409 `mfa_not_pending` when no enrolment waits.
pub async fn confirm(ctx: &Context, who: &Principal, code: &str) -> Result<RecoveryCodes> {
    let not_pending = || Error::conflict("mfa_not_pending", "no two-factor enrolment is waiting");
    let record = ctx
        .store
        .find_mfa(who.user.id)
        .await?
        .filter(|r| r.state == MfaState::Pending)
        .ok_or_else(not_pending)?;
    let Some(step) = valid_step(ctx, &who.user, &record.secret, code)? else {
        return Err(Error::bad_request("invalid_code", "the code is wrong"));
    };
    let (codes, hashes) = new_recovery_codes();
    if !ctx
        .store
        .enable_mfa(who.user.id, &record.secret, step, &hashes)
        .await?
    {
        return Err(not_pending());
    }
    audit::record(ctx, Event::new(EventType::MfaEnabled).about(who.user.id)).await;
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

/// Replaces the recovery codes, after a TOTP code (the old codes stop working in the same
/// write that accepts it). 403 `invalid_code` for a wrong code (counted against the account's
/// budget like a wrong password), 409 `mfa_not_enabled`.
pub async fn regenerate_recovery_codes(
    ctx: &Context,
    who: &Principal,
    code: &str,
) -> Result<RecoveryCodes> {
    let record = enabled_record(ctx, who.user.id).await?;
    let (codes, hashes) = new_recovery_codes();
    let factor = Factor::Totp(SecretString::from(code));
    let checked = signed_in_check(ctx, who, &record, &factor, Some(&hashes)).await?;
    if checked != Checked::Right {
        audit::record(
            ctx,
            Event::failed(EventType::MfaRecoveryCodesRegenerated)
                .about(who.user.id)
                .detail("reason", refusal_reason(checked)),
        )
        .await;
        return Err(wrong_code());
    }
    audit::record(
        ctx,
        Event::new(EventType::MfaRecoveryCodesRegenerated).about(who.user.id),
    )
    .await;
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

/// Turns the caller's second factor off (a pending enrolment too), after a code or the
/// password, both checked under the login's brute-force rules: 403 `invalid_code` or
/// `invalid_current_password` when wrong or when the account is locked; 409 `mfa_not_enabled`
/// when there is nothing to turn off.
pub async fn disable(ctx: &Context, who: &Principal, proof: Proof) -> Result<()> {
    let user_id = who.user.id;
    let record = ctx.store.find_mfa(user_id).await?.ok_or_else(not_enabled)?;
    let account_key = user_id.to_string();
    let (checked, refusal) = match &proof {
        Proof::Code(factor) => (
            signed_in_check(ctx, who, &record, factor, None).await?,
            wrong_code(),
        ),
        Proof::Password(password) => {
            let per_user = PASSWORD_CHANGE_PER_USER.hit_at(&account_key, ctx.now());
            let failures = ctx.store.find_login_failures(&account_key).await?;
            let checked = auth::check_password(
                ctx,
                &account_key,
                failures,
                Some(&per_user),
                password.expose_secret(),
                Some(&who.user.password_hash),
            )
            .await?;
            if checked == Checked::Right {
                ctx.store
                    .reset_login_failures(auth::failures_reset(ctx, &account_key))
                    .await?;
            }
            (
                checked,
                Error::forbidden("invalid_current_password", "the current password is wrong"),
            )
        }
    };
    if checked != Checked::Right {
        audit::record(
            ctx,
            Event::failed(EventType::MfaDisabled)
                .about(user_id)
                .detail("reason", refusal_reason(checked)),
        )
        .await;
        return Err(refusal);
    }
    if !ctx.store.delete_mfa(user_id).await? {
        return Err(not_enabled());
    }
    audit::record(ctx, Event::new(EventType::MfaDisabled).about(user_id)).await;
    Ok(())
}

/// Turns a user's second factor off on behalf of an administrator (a user who lost their
/// device and recovery codes). 404 for an unknown user or one without a second factor, 403
/// when a non-superuser targets a superuser.
pub async fn reset(ctx: &Context, actor: &User, user_id: UserId) -> Result<()> {
    let target = ctx
        .store
        .find_user(user_id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    crate::rbac::ensure_may_act_on(actor, &target)?;
    if !ctx.store.delete_mfa(user_id).await? {
        return Err(Error::not_found("second factor"));
    }
    audit::record(ctx, Event::new(EventType::MfaReset).about(user_id)).await;
    tracing::info!(%user_id, "second factor reset by an administrator");
    Ok(())
}

fn not_enabled() -> Error {
    Error::conflict("mfa_not_enabled", "two-factor sign-in is off")
}

fn wrong_code() -> Error {
    Error::forbidden("invalid_code", "the code is wrong")
}

fn refusal_reason(checked: Checked) -> &'static str {
    match checked {
        Checked::Locked => "locked",
        _ => "wrong_code",
    }
}

async fn enabled_record(ctx: &Context, user_id: UserId) -> Result<MfaRecord> {
    ctx.store
        .find_mfa(user_id)
        .await?
        .filter(MfaRecord::is_enabled)
        .ok_or_else(not_enabled)
}

/// A signed-in user's code, checked under the account's budget (and the per-user limit of
/// password checks), the failure record reset when right.
async fn signed_in_check(
    ctx: &Context,
    who: &Principal,
    record: &MfaRecord,
    factor: &Factor,
    new_recovery: Option<&[String]>,
) -> Result<Checked> {
    let account_key = who.user.id.to_string();
    let per_user = PASSWORD_CHANGE_PER_USER.hit_at(&account_key, ctx.now());
    let failures = ctx.store.find_login_failures(&account_key).await?;
    let held = Factors {
        user: &who.user,
        mfa: record,
        passkeys: &[],
        login: None,
    };
    let checked = check_factor(ctx, &held, failures, &per_user, factor, new_recovery).await?;
    if checked == Checked::Right {
        ctx.store
            .reset_login_failures(auth::failures_reset(ctx, &account_key))
            .await?;
    }
    Ok(checked)
}

/// Checks a second factor the way `auth::check_password` checks a password: a slot of the
/// account's budget is reserved first (with `hit`, in one transaction), so wrong codes count
/// toward the lock like wrong passwords and a locked account's code is not looked at
/// (`Locked`). A wrong code that took the window's last slot locks the account. A right TOTP
/// code is accepted only for a time step later than the last accepted one (one conditional
/// write, which also stores `new_recovery` when given); a recovery code is spent.
async fn check_factor(
    ctx: &Context,
    held: &Factors<'_>,
    failures: Option<LoginFailures>,
    hit: &RateHit,
    factor: &Factor,
    new_recovery: Option<&[String]>,
) -> Result<Checked> {
    let now = ctx.now();
    let config = &ctx.config;
    let user = held.user;
    let account_key = user.id.to_string();
    let window = chrono::Duration::from_std(config.lockout_window).unwrap_or_default();
    let budget = AttemptBudget {
        max: config.lockout_threshold.max(1),
        window_floor: now - window,
        expires_at: now + window.max(auth::LOCK_MEMORY),
    };
    let reserved = match ctx
        .store
        .reserve_login_attempt(&account_key, failures, now, budget, Some(hit))
        .await?
    {
        Reservation::Reserved(reserved) => reserved,
        Reservation::Exhausted => return Ok(Checked::Locked),
        Reservation::RateLimited => return Err(rate_limit::refusal(hit, now)),
    };
    let right = match factor {
        Factor::Totp(code) => {
            match valid_step(ctx, user, &held.mfa.secret, code.expose_secret())? {
                Some(step) => {
                    ctx.store
                        .accept_totp_step(user.id, step, new_recovery)
                        .await?
                }
                None => false,
            }
        }
        Factor::RecoveryCode(code) => {
            let hash = recovery_hash(code.expose_secret());
            ctx.store.use_recovery_code(user.id, &hash).await?
        }
        #[cfg(feature = "passkeys")]
        Factor::Passkey(assertion) => {
            let login = held.login.unwrap_or_default();
            crate::passkeys::ceremony::check_second_factor(
                ctx,
                user.id,
                held.passkeys,
                login,
                assertion,
            )
            .await?
        }
    };
    if right {
        return Ok(Checked::Right);
    }
    auth::lock_if_exhausted(ctx, &account_key, &reserved, budget.max).await?;
    Ok(Checked::Wrong)
}

/// What binds a pending login to its client.
fn device_of(client: &ClientInfo) -> String {
    let device = &client.device;
    format!("{}|{}|{}", device.browser, device.os, device.device_name)
}

/// Stores the second step of a login whose password was right (only the token's hash, for
/// [`MFA_TOKEN_TTL`]) and returns its challenge. The step is bound to the user, to the password
/// hash that was checked, to the client (IP and device) and to the transport asked for.
pub(crate) async fn challenge(
    ctx: &Context,
    account: &UserSessions,
    client: &ClientInfo,
    transport: Transport,
) -> Result<MfaChallenge> {
    let user = &account.user;
    let token = tokens::random_secret();
    let pending = PendingLogin {
        user_id: user.id,
        password_check: tokens::hash_secret(&user.password_hash),
        ip: client.ip.clone(),
        device: device_of(client),
        transport: transport.as_str().to_owned(),
        valid_until: ctx.now() + MFA_TOKEN_TTL,
    };
    ctx.store
        .put_pending_login(&tokens::hash_secret(&token), &pending)
        .await?;
    Ok(MfaChallenge {
        mfa_required: true,
        mfa_token: token,
        methods: ["totp", "recovery_code"]
            .into_iter()
            .chain((!account.passkeys.is_empty()).then_some("passkey"))
            .map(str::to_owned)
            .collect(),
        expires_in: MFA_TOKEN_TTL.num_seconds(),
    })
}

fn invalid_token() -> Error {
    Error::unauthorized(
        "invalid_mfa_token",
        "the sign-in has expired or was already completed; sign in again",
    )
}

/// The second step of a login: checks `factor` for the login `mfa_token` started and opens its
/// session exactly as a password login does (`created_via` `password`), returning it with the
/// transport the login asked for.
///
/// - 401 `invalid_mfa_token`: the token is unknown, expired, used, from another client, or its
///   user's password changed, was deactivated or lost the second factor since.
/// - 401 `invalid_code`: a wrong or replayed code, or the account is locked (the lock looks
///   like a wrong code); each counts against the account's budget like a wrong password and
///   is recorded (`login.failed`, `details.reason` `wrong_code` or `locked`). The token stays
///   usable until it expires.
/// - 400 when `transport` is given and is not the login's.
pub async fn complete(
    ctx: &SigningContext,
    mfa_token: &str,
    factor: Factor,
    transport: Option<Transport>,
    client: &ClientInfo,
) -> Result<(TokenResponse, Transport)> {
    let now = ctx.now();
    let token_hash = tokens::hash_secret(mfa_token);
    let pending = find_pending(ctx, &token_hash, client).await?;
    let bound = if pending.transport == Transport::Cookie.as_str() {
        Transport::Cookie
    } else {
        Transport::Bearer
    };
    if transport.is_some_and(|t| t != bound) {
        return Err(Error::invalid_field(
            "transport",
            "must be the one the login asked for",
        ));
    }
    let account_key = pending.user_id.to_string();
    let (account, failures, record) = pending_account(ctx, &pending).await?;
    let per_ip = Limit {
        max: ctx.config.login_ip_limit,
        ..LOGIN_PER_IP
    };
    let hit = per_ip.ip_hit_at(client, now);
    let held = Factors {
        user: &account.user,
        mfa: &record,
        passkeys: &account.passkeys,
        login: Some(&token_hash),
    };
    let checked = check_factor(ctx, &held, failures, &hit, &factor, None).await?;
    if checked != Checked::Right {
        let outcome = match checked {
            Checked::Locked => LoginOutcome::Locked,
            _ => LoginOutcome::WrongPassword,
        };
        auth::record_attempt(ctx, account.user.id, outcome, CreatedVia::Password, client).await?;
        audit::record(
            ctx,
            Event::failed(EventType::LoginFailed)
                .by(account.user.id)
                .about(account.user.id)
                .detail("reason", refusal_reason(checked)),
        )
        .await;
        return Err(Error::unauthorized("invalid_code", "the code is wrong"));
    }
    // Taken after the code was accepted, so a mistyped code does not cost the user the login;
    // of two requests completing the same login, one opens a session.
    if ctx
        .store
        .take_pending_login(&token_hash, now)
        .await?
        .is_none()
    {
        return Err(invalid_token());
    }
    let reset = auth::failures_reset(ctx, &account_key);
    let pair = auth::open_session(ctx, account, client, CreatedVia::Password, Some(reset)).await?;
    Ok((pair, bound))
}

/// The pending login `token_hash` names, alive and asked for by this client: 401
/// `invalid_mfa_token` otherwise.
async fn find_pending(
    ctx: &Context,
    token_hash: &str,
    client: &ClientInfo,
) -> Result<PendingLogin> {
    let now = ctx.now();
    ctx.store
        .find_pending_login(token_hash)
        .await?
        .filter(|p| p.valid_until > now && p.ip == client.ip && p.device == device_of(client))
        .ok_or_else(invalid_token)
}

/// The account of a pending login, its failure record and its second factor, while the login
/// still stands: the user is active, their password unchanged and their second factor on (401
/// `invalid_mfa_token` otherwise).
async fn pending_account(
    ctx: &Context,
    pending: &PendingLogin,
) -> Result<(UserSessions, Option<LoginFailures>, MfaRecord)> {
    let (account, failures) = ctx
        .store
        .find_login_account(&pending.user_id.to_string())
        .await?;
    let account = account.ok_or_else(invalid_token)?;
    let record = match &account.mfa {
        Some(record)
            if record.is_enabled()
                && account.user.is_active
                && tokens::hashes_equal(
                    &tokens::hash_secret(&account.user.password_hash),
                    &pending.password_check,
                ) =>
        {
            record.clone()
        }
        _ => return Err(invalid_token()),
    };
    Ok((account, failures, record))
}

/// Starts a login's second step with a passkey: the request options listing the account's
/// passkeys, for `complete` with [`Factor::Passkey`]. 401 `invalid_mfa_token` as for
/// [`complete`]; 409 `no_passkeys` when the account has none.
#[cfg(feature = "passkeys")]
pub async fn begin_passkey(
    ctx: &Context,
    mfa_token: &str,
    client: &ClientInfo,
) -> Result<crate::passkeys::ceremony::Challenge> {
    let token_hash = tokens::hash_secret(mfa_token);
    let pending = find_pending(ctx, &token_hash, client).await?;
    let (account, _, _) = pending_account(ctx, &pending).await?;
    crate::passkeys::ceremony::begin_second_factor(
        ctx,
        account.user.id,
        &account.passkeys,
        &token_hash,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_for_its_user_and_key() {
        let key = MfaKey::generate();
        let user = UserId::new();
        let sealed = key.seal(user, b"twenty bytes secret!").unwrap();
        assert_eq!(key.open(user, &sealed).unwrap(), b"twenty bytes secret!");
        assert!(key.open(UserId::new(), &sealed).is_err());
        assert!(MfaKey::generate().open(user, &sealed).is_err());
    }

    #[test]
    fn recovery_codes_are_ten_distinct_codes_hashed_without_their_dash() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(
            hashes[0],
            recovery_hash(&codes[0].to_uppercase().replace('-', " "))
        );
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
    }
}
