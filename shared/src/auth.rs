//! The auth service: accounts, logins, sessions' token pairs, and the authenticated-request
//! guard. Handlers validate input into domain types and call one function here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};

use crate::audit::{self, EndedBy, Event, EventType};
use crate::client::ClientInfo;
use crate::context::{Context, SigningContext};
use crate::domain::{
    Consumption, CreatedVia, Email, IdempotencyKey, LoginOutcome, LoginRecord, QuotaUsage,
    RotatedRefresh, Session, SessionId, User, UserId,
};
use crate::error::{Error, Result};
use crate::http::request_id;
use crate::mfa::{self, MfaChallenge, Transport};
use crate::password;
use crate::rate_limit::RateHit;
use crate::rate_limit::{self, Limit};
use crate::store::{
    AttemptBudget, FailuresReset, LoginFailures, MfaRecord, Opening, Reservation, UserSessions,
};
use crate::tokens::{self, AccessClaims, RefreshToken, hashes_equal};
use crate::views::{TokenResponse, UserView};

/// How many rotated-out refresh tokens a session remembers for reuse detection.
const REMEMBERED_REFRESH_TOKENS: usize = 5;
/// `last_active_at` is written at most this often per session.
const ACTIVITY_WRITE_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);
/// How often a login retries when concurrent logins of the same user changed its sessions.
const SESSION_CREATE_ATTEMPTS: usize = 60;

/// The caller of a protected route.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub session: Session,
}

/// A validated registration. It holds a password, so it has no `Debug`.
pub struct NewAccount {
    pub email: Email,
    pub password: SecretString,
    /// The password typed a second time; must equal `password`.
    pub password2: SecretString,
    pub first_name: String,
    pub last_name: String,
    pub middle_name: Option<String>,
}

pub use crate::store::ProfileChanges;

pub(crate) fn invalid_credentials() -> Error {
    Error::unauthorized("invalid_credentials", "the e-mail or password is wrong")
}

/// Creates an account and its first session, and mails the address its verification link
/// (the token is stored in the account's transaction; see `email`). The password must pass the
/// policy and match its confirmation; the e-mail must be free (409 `email_taken`). Too many registrations from one
/// IP get 429 (see [`REGISTER_PER_IP`]) before any hashing.
pub async fn register(
    ctx: &SigningContext,
    account: NewAccount,
    client: &ClientInfo,
) -> Result<TokenResponse> {
    let password = account.password.expose_secret();
    password::check_policy("password", password)?;
    if password != account.password2.expose_secret() {
        return Err(Error::invalid_field("password2", "does not match password"));
    }
    let per_ip = Limit {
        max: ctx.config.register_ip_limit,
        ..REGISTER_PER_IP
    };
    // Checked before hashing: every registration costs an Argon2id hash.
    rate_limit::hit_ip(ctx, per_ip, client).await?;
    let now = ctx.now();
    let user = User {
        id: UserId::new(),
        email: account.email,
        password_hash: ctx.hasher.hash(password).await?,
        first_name: account.first_name,
        last_name: account.last_name,
        middle_name: account.middle_name,
        is_active: true,
        is_staff: false,
        is_superuser: false,
        roles: Vec::new(),
        created_at: now,
        updated_at: now,
        session_version: 1,
        password_changed_at: None,
        mfa_enabled: false,
        version: 1,
        email_verified: false,
    };
    let (session, refresh) = new_session(ctx, &user, client, CreatedVia::Register, now);
    let history = login_record(
        user.id,
        LoginOutcome::Success,
        CreatedVia::Register,
        client,
        now,
    );
    let event = audit::prepare(
        ctx,
        Event::new(EventType::AccountRegistered)
            .by(user.id)
            .about(user.id)
            .detail("session_id", session.id.to_string()),
    );
    let verification = VerificationToken::new(&user, now);
    ctx.store
        .create_user(
            &user,
            &session,
            &history,
            now + HISTORY_RETENTION,
            &verification.token,
            &event,
        )
        .await?;
    audit::committed(&[event]);
    tracing::info!(user_id = %user.id, session_id = %session.id, "account registered");
    verification.send(ctx, &user).await;
    token_response(ctx, &user, &session, &refresh, now)
}

/// The verification token a registration stores with the account, and its secret for the
/// link.
struct VerificationToken {
    #[cfg_attr(not(feature = "mail"), allow(dead_code))]
    secret: String,
    token: crate::domain::EmailToken,
}

impl VerificationToken {
    fn new(user: &User, now: DateTime<Utc>) -> VerificationToken {
        let secret = tokens::random_secret();
        let purpose = crate::domain::TokenPurpose::VerifyEmail;
        let token = crate::domain::EmailToken {
            hash: tokens::hash_secret(&secret),
            purpose,
            user_id: user.id,
            email: user.email.clone(),
            created_at: now,
            expires_at: now + purpose.lifetime(),
        };
        VerificationToken { secret, token }
    }

    /// Mails the link (with the `mail` feature; the functions that register have it). The
    /// account exists by now: a failed mail is logged, and the user can ask for another
    /// (`email::resend_verification`).
    #[cfg(feature = "mail")]
    async fn send(&self, ctx: &Context, user: &User) {
        if let Err(error) = crate::email::send_verification(ctx, user, &self.secret).await {
            tracing::error!(user_id = %user.id, %error, "the verification mail was not sent");
        }
    }

    #[cfg(not(feature = "mail"))]
    async fn send(&self, _: &Context, user: &User) {
        tracing::warn!(user_id = %user.id, "built without mail: no verification mail sent");
    }
}

/// Signs a user in with e-mail and password, in four DynamoDB requests when it succeeds: the
/// e-mail's claim, one query of the account's partition (profile, sessions, failure record),
/// one transaction counting the client's per-IP hit and reserving the password check, and the
/// session's transaction (which also clears the failure record).
///
/// Unknown e-mail, wrong password, locked account and inactive account all give the same 401
/// `invalid_credentials` after the same hashing work, so answers reveal nothing about accounts;
/// an unknown e-mail also sends the same DynamoDB requests as a wrong password (a partition and
/// failure record of its own, and a history write that stores nothing). Every attempt on an
/// existing account goes to its login history. With `require_verified_email`, a right password
/// for an account whose address is not verified is 403 `email_not_verified`: told only to
/// whoever knows the password. Too many attempts from one IP get 429 (see
/// [`LOGIN_PER_IP`]), spending no check; every password check is reserved against the
/// account's budget before hashing (see [`check_password`]).
///
/// When the account has a second factor, a right password opens no session: the answer is an
/// [`MfaChallenge`] for [`mfa::complete`], which opens it as this function would, handing it
/// over by `transport`. The password's check is then given back but the failure record is not
/// reset, so the second step's codes count against the same budget as passwords.
pub async fn login(
    ctx: &SigningContext,
    email: &Email,
    password: &str,
    client: &ClientInfo,
    transport: Transport,
) -> Result<LoginResult> {
    let per_ip = Limit {
        max: ctx.config.login_ip_limit,
        ..LOGIN_PER_IP
    };
    let hit = per_ip.ip_hit_at(client, ctx.now());
    let account_key = match ctx.store.find_user_id_by_email(email).await? {
        Some(user_id) => user_id.to_string(),
        None => unknown_account_key(email),
    };
    let (account, failures) = ctx.store.find_login_account(&account_key).await?;
    let hash = account.as_ref().map(|a| a.user.password_hash.as_str());
    let checked = check_password(ctx, &account_key, failures, Some(&hit), password, hash).await?;
    let Some(account) = account else {
        ctx.store.add_no_login_record().await?;
        // The same writes as a refusal on an account: the audit event says no more than that
        // the address has no account (never the address itself).
        audit::record(
            ctx,
            Event::failed(EventType::LoginFailed).detail("reason", "unknown_account"),
        )
        .await;
        return Err(invalid_credentials());
    };
    let refusal = match checked {
        Checked::Locked => Some(LoginOutcome::Locked),
        Checked::Wrong => Some(LoginOutcome::WrongPassword),
        Checked::Right if !account.user.is_active => Some(LoginOutcome::Inactive),
        Checked::Right => None,
    };
    if let Some(outcome) = refusal {
        record_attempt(ctx, account.user.id, outcome, CreatedVia::Password, client).await?;
        audit::record(
            ctx,
            Event::failed(EventType::LoginFailed)
                .by(account.user.id)
                .about(account.user.id)
                .detail("reason", failure_reason(outcome)),
        )
        .await;
        return Err(invalid_credentials());
    }
    // Told only to whoever knows the password, so it reveals nothing to anyone else.
    if ctx.config.require_verified_email && !account.user.email_verified {
        return Err(email_not_verified());
    }
    if account.mfa.as_ref().is_some_and(MfaRecord::is_enabled) {
        // The right password gives its check back (without resetting the lock escalation,
        // which only a completed second step does), so the code after it has one too.
        ctx.store
            .release_login_attempt(&account_key, ctx.now())
            .await?;
        let challenge = mfa::challenge(ctx, &account, client, transport).await?;
        return Ok(LoginResult::MfaRequired(challenge));
    }
    let reset = failures_reset(ctx, &account_key);
    open_session(ctx, account, client, CreatedVia::Password, Some(reset))
        .await
        .map(LoginResult::Session)
}

/// The refusal of a sign-in whose address must be verified first (`require_verified_email`),
/// told only to whoever proved they hold the account.
pub(crate) fn email_not_verified() -> Error {
    Error::forbidden(
        "email_not_verified",
        "verify your e-mail address before signing in: follow the link mailed to you",
    )
}

/// What a right password gives: a session, or the second step it still needs.
// One value per login, moved straight into a response: not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum LoginResult {
    Session(TokenResponse),
    MfaRequired(MfaChallenge),
}

/// The `details.reason` of a refused login.
fn failure_reason(outcome: LoginOutcome) -> &'static str {
    match outcome {
        LoginOutcome::Locked => "locked",
        LoginOutcome::Inactive => "inactive",
        _ => "wrong_password",
    }
}

/// Login attempts allowed per client IP (per /64 for IPv6) and minute (the count is
/// configurable).
pub const LOGIN_PER_IP: Limit = Limit {
    name: "login-ip",
    max: 30,
    window: Duration::from_secs(60),
};

/// Registrations allowed per client IP (per /64 for IPv6) and hour (the count is configurable).
pub const REGISTER_PER_IP: Limit = Limit {
    name: "register-ip",
    max: 20,
    window: Duration::from_secs(3600),
};

/// Password changes (right or wrong) allowed per user and hour: a stolen session cannot turn
/// the route into a hashing service, whatever the account lock allows.
pub const PASSWORD_CHANGE_PER_USER: Limit = Limit {
    name: "password-user",
    max: 10,
    window: Duration::from_secs(3600),
};

/// How long an account's lock history is remembered after its last failure or lock: locks keep
/// doubling until a correct password, or until the account has been left alone this long.
const LOCK_MEMORY: chrono::Duration = chrono::Duration::days(1);

/// The failure-record key of an e-mail address without an account: a hash, so addresses people
/// mistype (or passwords typed into the e-mail field) are never stored.
fn unknown_account_key(email: &Email) -> String {
    format!("unknown-{}", tokens::hash_secret(email.as_str()))
}

/// The result of checking a password under the brute-force rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked {
    Right,
    Wrong,
    /// The account is locked or its window's checks are taken; the password was not checked.
    Locked,
}

/// Checks a password against an account's hash (`None`: no account; a dummy hash is used),
/// reserving the check first with one conditional write over `failures`, the account's failure
/// record as last read, so parallel guesses can never get more than `lockout_threshold` checks
/// per window. A rate `hit` is counted in the same transaction (429 when its window is full,
/// and then no check is spent).
///
/// Every outcome spends one Argon2id verification (locked ones against a dummy hash), so the
/// time does not tell them apart. A right password is the caller's to reset the failure record
/// with (see [`failures_reset`]): the lock escalation starts over. A wrong one stays counted;
/// when it took the window's last check, the account is locked for `lockout_base`, doubled for
/// every earlier lock since the last right password, up to `lockout_max`. After a lock one more
/// check is allowed before the next, longer lock; a window without a lock starts over after
/// `lockout_window`.
pub(crate) async fn check_password(
    ctx: &Context,
    account_key: &str,
    failures: Option<LoginFailures>,
    hit: Option<&RateHit>,
    password: &str,
    hash: Option<&str>,
) -> Result<Checked> {
    let verify = async {
        match hash {
            Some(hash) => ctx.hasher.verify(password, hash).await,
            None => {
                // No account: the same work against the dummy hash, which matches nothing.
                ctx.hasher.verify_dummy(password).await?;
                Ok(false)
            }
        }
    };
    check_under_budget(
        ctx,
        account_key,
        failures,
        hit,
        ctx.hasher.verify_dummy(password),
        verify,
    )
    .await
}

/// The one brute-force mechanism of every secret a person proves (a password, a second
/// factor): a slot of the account's window is reserved first with one conditional write over
/// `failures` (with the rate `hit`, in one transaction; 429 when its window is full, and then
/// no slot is spent), so parallel guesses never get more than `lockout_threshold` checks per
/// window. Then `verify` runs; on a locked account `when_locked` runs instead (the same work,
/// so the time tells nothing). A wrong secret that took the window's last slot locks the
/// account (see [`check_password`] for how long).
pub(crate) async fn check_under_budget(
    ctx: &Context,
    account_key: &str,
    failures: Option<LoginFailures>,
    hit: Option<&RateHit>,
    when_locked: impl Future<Output = Result<()>>,
    verify: impl Future<Output = Result<bool>>,
) -> Result<Checked> {
    let now = ctx.now();
    let config = &ctx.config;
    let window = chrono::Duration::from_std(config.lockout_window).unwrap_or_default();
    let budget = AttemptBudget {
        max: config.lockout_threshold.max(1),
        window_floor: now - window,
        expires_at: now + window.max(LOCK_MEMORY),
    };
    let reserved = match ctx
        .store
        .reserve_login_attempt(account_key, failures, now, budget, hit)
        .await?
    {
        Reservation::Reserved(reserved) => reserved,
        Reservation::Exhausted => {
            when_locked.await?;
            return Ok(Checked::Locked);
        }
        Reservation::RateLimited => {
            let hit = hit.ok_or_else(|| Error::internal("rate-limited without a hit"))?;
            return Err(rate_limit::refusal(hit, now));
        }
    };
    if verify.await? {
        return Ok(Checked::Right);
    }
    lock_if_exhausted(ctx, account_key, &reserved, budget.max).await?;
    Ok(Checked::Wrong)
}

/// The reset of an account's failure record after a right password (written by the caller:
/// in the login's session transaction, on its own after a password change's check, or in a
/// password reset's transaction).
pub(crate) fn failures_reset<'a>(ctx: &Context, account_key: &'a str) -> FailuresReset<'a> {
    let now = ctx.now();
    FailuresReset {
        account: account_key,
        now,
        expires_at: now + LOCK_MEMORY,
    }
}

/// Locks an account whose failed check took the last of its window's `max` checks (see
/// [`check_password`] for the length).
async fn lock_if_exhausted(
    ctx: &Context,
    account_key: &str,
    reserved: &LoginFailures,
    max: u32,
) -> Result<()> {
    if reserved.failures < max {
        return Ok(());
    }
    let config = &ctx.config;
    let lock = config
        .lockout_base
        .saturating_mul(1 << reserved.lock_count.min(16))
        .min(config.lockout_max);
    let until = ctx.now() + chrono::Duration::from_std(lock).unwrap_or_default();
    ctx.store
        .lock_account(account_key, reserved, until, until + LOCK_MEMORY)
        .await?;
    tracing::warn!(
        account = account_key,
        locks = reserved.lock_count + 1,
        lock_secs = lock.as_secs(),
        "account locked"
    );
    let mut event = Event::new(EventType::AccountLocked)
        .detail("lock_secs", lock.as_secs())
        .detail("locks", reserved.lock_count + 1);
    event = match account_key.parse::<UserId>() {
        Ok(user) => event.about(user),
        Err(_) => event.detail("account", "unknown"),
    };
    audit::record(ctx, event).await;
    Ok(())
}

/// How long login history is kept.
const HISTORY_RETENTION: chrono::Duration = chrono::Duration::days(90);

/// Appends a refused login attempt to the user's history. Successful logins are recorded in
/// the transaction that opens their session.
pub(crate) async fn record_attempt(
    ctx: &Context,
    user_id: UserId,
    outcome: LoginOutcome,
    method: CreatedVia,
    client: &ClientInfo,
) -> Result<()> {
    let at = ctx.now();
    let record = login_record(user_id, outcome, method, client, at);
    ctx.store
        .add_login_record(&record, at + HISTORY_RETENTION)
        .await
}

/// The history entry of a login attempt at `at`.
fn login_record(
    user_id: UserId,
    outcome: LoginOutcome,
    method: CreatedVia,
    client: &ClientInfo,
    at: DateTime<Utc>,
) -> LoginRecord {
    LoginRecord {
        id: uuid::Uuid::now_v7(),
        user_id,
        at,
        outcome,
        method,
        ip: client.ip.clone(),
        device: client.device.clone(),
        location: client.location.clone(),
    }
}

/// Opens a session for a user whose credentials were checked, keeping at most
/// `max_sessions` live sessions: the least recently active ones are evicted in the same
/// transaction, and concurrent logins retry on the user's session version so the cap holds.
/// Fails with 401 `invalid_credentials` when the user was deactivated or their password changed
/// after `account` was read. The login is recorded in the user's history with `via` as its
/// method, in the same transaction, so a store failure leaves neither.
pub async fn start_session(
    ctx: &SigningContext,
    account: UserSessions,
    client: &ClientInfo,
    via: CreatedVia,
) -> Result<TokenResponse> {
    open_session(ctx, account, client, via, None).await
}

/// [`start_session`], clearing the account's failure record in the session's transaction when
/// `reset` is given (a password login).
pub(crate) async fn open_session(
    ctx: &SigningContext,
    mut account: UserSessions,
    client: &ClientInfo,
    via: CreatedVia,
    reset: Option<FailuresReset<'_>>,
) -> Result<TokenResponse> {
    // The credentials were checked against this hash; a password change since then refuses
    // the login (it bumps the session version, so the write below fails and the user is
    // read again).
    let checked_hash = account.user.password_hash.clone();
    for attempt in 0..SESSION_CREATE_ATTEMPTS {
        let now = ctx.now();
        let (session, refresh) = new_session(ctx, &account.user, client, via, now);
        let evict = sessions_to_evict(&account.sessions, ctx.config.max_sessions, now);
        let history = login_record(account.user.id, LoginOutcome::Success, via, client, now);
        let kind = match via {
            CreatedVia::Qr => EventType::QrCollected,
            _ => EventType::LoginSucceeded,
        };
        let user_id = account.user.id;
        let mut events = vec![audit::prepare(
            ctx,
            Event::new(kind)
                .by(user_id)
                .about(user_id)
                .detail("via", serde_json::to_value(via).unwrap_or_default())
                .detail("session_id", session.id.to_string()),
        )];
        // Expired sessions are only tidied away; live ones are ended by the cap.
        let live_evicted: Vec<SessionId> = account
            .sessions
            .iter()
            .filter(|s| s.is_live(now) && evict.contains(&s.id))
            .map(|s| s.id)
            .collect();
        if !live_evicted.is_empty() {
            let ended =
                audit::sessions_ended(user_id, EndedBy::CapEviction, &live_evicted).by(user_id);
            events.push(audit::prepare(ctx, ended));
        }
        if ctx
            .store
            .create_session(
                account.user.session_version,
                &session,
                Opening {
                    evict: &evict,
                    history: &history,
                    history_expires_at: now + HISTORY_RETENTION,
                    reset,
                    audit: &events,
                },
            )
            .await?
        {
            audit::committed(&events);
            tracing::info!(user_id = %account.user.id, session_id = %session.id, evicted = evict.len(), "session started");
            return token_response(ctx, &account.user, &session, &refresh, now);
        }
        let backoff = rand::rng().random_range(5..25) * (1 + attempt.min(4)) as u64;
        tokio::time::sleep(Duration::from_millis(backoff)).await;
        account = ctx
            .store
            .find_user_sessions(account.user.id)
            .await?
            .ok_or_else(invalid_credentials)?;
        if !account.user.is_active || account.user.password_hash != checked_hash {
            return Err(invalid_credentials());
        }
    }
    Err(Error::Unavailable)
}

/// The sessions to delete so that one more fits under the cap: every expired one still stored
/// (a few at a time) and the least recently active live ones beyond `max - 1`.
fn sessions_to_evict(sessions: &[Session], max: usize, now: DateTime<Utc>) -> Vec<SessionId> {
    let (mut live, expired): (Vec<&Session>, Vec<&Session>) =
        sessions.iter().partition(|s| s.is_live(now));
    live.sort_by_key(|s| s.last_active_at);
    let excess = (live.len() + 1).saturating_sub(max.max(1));
    expired
        .iter()
        .take(20)
        .chain(live.iter().take(excess))
        .map(|s| s.id)
        .collect()
}

fn new_session(
    ctx: &Context,
    user: &User,
    client: &ClientInfo,
    via: CreatedVia,
    now: DateTime<Utc>,
) -> (Session, RefreshToken) {
    let id = SessionId::new();
    let refresh = RefreshToken::generate(user.id, id);
    let ttl =
        chrono::Duration::from_std(ctx.config.session_ttl).unwrap_or(chrono::Duration::days(30));
    let session = Session {
        id,
        user_id: user.id,
        device: client.device.clone(),
        ip: client.ip.clone(),
        location: client.location.clone(),
        created_via: via,
        created_at: now,
        last_active_at: now,
        expires_at: now + ttl,
        refresh_hash: refresh.hash(),
        refresh_generation: 1,
        refresh_previous: Vec::new(),
    };
    (session, refresh)
}

fn token_response(
    ctx: &SigningContext,
    user: &User,
    session: &Session,
    refresh: &RefreshToken,
    now: DateTime<Utc>,
) -> Result<TokenResponse> {
    let (access_token, expires_in) =
        tokens::issue_access_token(&ctx.signer, &ctx.config, user.id, session.id, now)?;
    Ok(TokenResponse {
        access_token,
        refresh_token: refresh.expose(),
        token_type: "Bearer",
        expires_in,
        session_id: session.id.to_string(),
        user: UserView::from(user),
    })
}

/// Loads the live session and active user a refresh token names, in one batch, or 401.
async fn refresh_target(
    ctx: &Context,
    token: &RefreshToken,
    now: DateTime<Utc>,
) -> Result<(User, Session)> {
    let invalid = || Error::unauthorized("invalid_refresh_token", "the refresh token is invalid");
    match ctx
        .store
        .find_user_and_session(token.user_id, token.session_id)
        .await?
    {
        (Some(user), Some(session)) if user.is_active && session.is_live(now) => {
            Ok((user, session))
        }
        _ => Err(invalid()),
    }
}

/// Exchanges a refresh token for a new pair, rotating it with one conditional write. The new
/// refresh token is the presented one's successor (`Signer::successor`, derived under a server
/// key), so every request presenting the same token gets the same one.
///
/// - The current token: rotated; of many parallel calls one writes, and all get the same pair
///   (the same refresh token, each its own access token).
/// - A token rotated out less than `refresh_grace` ago whose successor is still the session's
///   current token: that successor again, nothing written (a racing tab, a retry after a lost
///   answer).
/// - A token rotated out earlier, or whose successor was itself rotated since: reuse of a
///   stolen token; the whole session is revoked (401 `refresh_token_reused`).
/// - Anything else: 401, nothing revoked.
pub async fn refresh(ctx: &SigningContext, raw_token: &str) -> Result<TokenResponse> {
    let token = RefreshToken::parse(raw_token)?;
    let now = ctx.now();
    let (user, session) = refresh_target(ctx, &token, now).await?;
    let presented = token.hash();
    let next = ctx.signer.successor(&token);
    if hashes_equal(&presented, &session.refresh_hash) {
        let mut previous = session.refresh_previous.clone();
        previous.push(RotatedRefresh {
            hash: session.refresh_hash.clone(),
            rotated_at: now,
        });
        let keep_from = previous.len().saturating_sub(REMEMBERED_REFRESH_TOKENS);
        previous.drain(..keep_from);
        let rotated_now = ctx
            .store
            .rotate_refresh_token(&session, &next.hash(), &previous, now)
            .await?;
        if !rotated_now {
            // A parallel call with the same token wrote the same successor first (or the SDK
            // retried a write whose answer was lost): the session holds this very successor.
            // Anything else moved on past it: ended, or rotated twice (theft).
            let (_, current) = ctx
                .store
                .find_user_and_session(session.user_id, session.id)
                .await?;
            match current {
                None => {
                    return Err(Error::unauthorized(
                        "invalid_refresh_token",
                        "the refresh token is invalid",
                    ));
                }
                Some(current) if !hashes_equal(&current.refresh_hash, &next.hash()) => {
                    return Err(reused(ctx, &user, &session).await?);
                }
                Some(_) => {}
            }
        }
        return token_response(ctx, &user, &session, &next, now);
    }
    let grace = chrono::Duration::from_std(ctx.config.refresh_grace).unwrap_or_default();
    let reused_token = session
        .refresh_previous
        .iter()
        .find(|old| hashes_equal(&presented, &old.hash));
    match reused_token {
        Some(old)
            if now - old.rotated_at <= grace
                && hashes_equal(&next.hash(), &session.refresh_hash) =>
        {
            token_response(ctx, &user, &session, &next, now)
        }
        Some(_) => Err(reused(ctx, &user, &session).await?),
        None => Err(Error::unauthorized(
            "invalid_refresh_token",
            "the refresh token is invalid",
        )),
    }
}

/// Revokes the session a rotated-out refresh token was presented for (theft: the token and
/// its successor both circulate) and returns the refusal, 401 `refresh_token_reused`.
async fn reused(ctx: &Context, user: &User, session: &Session) -> Result<Error> {
    let event = audit::prepare(
        ctx,
        Event::new(EventType::RefreshTokenReused)
            .about(user.id)
            .detail("session_id", session.id.to_string()),
    );
    if ctx
        .store
        .delete_session(user.id, session.id, &event)
        .await?
    {
        audit::committed(&[event]);
    }
    tracing::warn!(user_id = %user.id, session_id = %session.id, "refresh token reuse: session revoked");
    Ok(Error::unauthorized(
        "refresh_token_reused",
        "this refresh token was already used; the session has been ended",
    ))
}

/// Ends the session a refresh token belongs to (RFC 7009: an unknown token is not an error).
pub async fn revoke(ctx: &Context, raw_token: &str) -> Result<()> {
    let Ok(token) = RefreshToken::parse(raw_token) else {
        return Ok(());
    };
    let Ok((user, session)) = refresh_target(ctx, &token, ctx.now()).await else {
        return Ok(());
    };
    let presented = token.hash();
    let known = hashes_equal(&presented, &session.refresh_hash)
        || session
            .refresh_previous
            .iter()
            .any(|old| hashes_equal(&presented, &old.hash));
    if known {
        let ended = audit::sessions_ended(user.id, EndedBy::User, &[session.id]).by(user.id);
        let event = audit::prepare(ctx, ended);
        if ctx
            .store
            .delete_session(user.id, session.id, &event)
            .await?
        {
            audit::committed(&[event]);
        }
    }
    Ok(())
}

/// Ends the caller's current session.
pub async fn logout(ctx: &Context, who: &Principal) -> Result<()> {
    let event = audit::prepare(
        ctx,
        Event::new(EventType::LoggedOut)
            .about(who.user.id)
            .detail("session_id", who.session.id.to_string()),
    );
    if ctx
        .store
        .delete_session(who.user.id, who.session.id, &event)
        .await?
    {
        audit::committed(&[event]);
    }
    Ok(())
}

/// Ends every session of a user (but `except`) for the reason `by`, which the audit trail
/// records; returns how many there were.
pub async fn end_all_sessions(
    ctx: &Context,
    user_id: UserId,
    except: Option<SessionId>,
    by: EndedBy,
) -> Result<usize> {
    let Some(account) = ctx.store.find_user_sessions(user_id).await? else {
        return Ok(0);
    };
    let ids: Vec<SessionId> = account
        .sessions
        .iter()
        .map(|s| s.id)
        .filter(|id| Some(*id) != except)
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let event = audit::prepare(ctx, audit::sessions_ended(user_id, by, &ids));
    ctx.store.delete_sessions(user_id, &ids, &event).await?;
    audit::committed(&[event]);
    Ok(ids.len())
}

/// Updates the caller's names, writing only the names given, so a concurrent password change
/// or admin edit is never undone. Returns the profile as stored afterwards.
pub async fn update_profile(
    ctx: &Context,
    who: &Principal,
    changes: ProfileChanges,
) -> Result<UserView> {
    let user = ctx
        .store
        .update_user_names(who.user.id, &changes, ctx.now())
        .await?;
    audit::record(ctx, Event::new(EventType::ProfileUpdated).about(user.id)).await;
    Ok(UserView::from(&user))
}

/// Changes the caller's password after checking the current one, and ends every other session
/// of the user.
///
/// The check follows the login's brute-force rules (see [`check_password`]): it is reserved
/// against the same per-account budget, a wrong or locked attempt is recorded in the login
/// history and answered 403 `invalid_current_password` (a locked account looks like a wrong
/// password), and a user gets at most [`PASSWORD_CHANGE_PER_USER`] attempts (429 beyond).
/// The new hash is written only over the hash that was checked, so of two concurrent changes
/// the second is refused the same way; writing it bumps the user's session version, which
/// refuses logins that verified the old password and had not stored their session yet.
/// When the password was changed while the caller's session was alive and the stored password
/// already is `new` (a retry of a change whose sessions could not all be ended), the retry ends
/// them instead of being refused; checking `new` is one more check under the same budget, so a
/// retry is no cheaper guess than another request.
pub async fn change_password(
    ctx: &Context,
    who: &Principal,
    current: &str,
    new: &str,
    client: &ClientInfo,
) -> Result<()> {
    let wrong = || Error::forbidden("invalid_current_password", "the current password is wrong");
    password::check_policy("new_password", new)?;
    let user_id = who.user.id;
    let old_hash = &who.user.password_hash;
    let account_key = user_id.to_string();
    let per_user = PASSWORD_CHANGE_PER_USER.hit_at(&account_key, ctx.now());
    let failures = ctx.store.find_login_failures(&account_key).await?;
    let checked = check_password(
        ctx,
        &account_key,
        failures,
        Some(&per_user),
        current,
        Some(old_hash),
    )
    .await?;
    let outcome = match checked {
        Checked::Right => {
            ctx.store
                .reset_login_failures(failures_reset(ctx, &account_key))
                .await?;
            None
        }
        // Only a password changed while this session was alive can be this caller's own
        // change being retried; only then is `new` checked too.
        Checked::Wrong
            if who
                .user
                .password_changed_at
                .is_some_and(|at| at >= who.session.created_at) =>
        {
            let failures = ctx.store.find_login_failures(&account_key).await?;
            let retried =
                check_password(ctx, &account_key, failures, None, new, Some(old_hash)).await?;
            if retried == Checked::Right {
                ctx.store
                    .reset_login_failures(failures_reset(ctx, &account_key))
                    .await?;
                end_all_sessions(ctx, user_id, Some(who.session.id), EndedBy::PasswordChange)
                    .await?;
                return Ok(());
            }
            Some(LoginOutcome::WrongPassword)
        }
        Checked::Wrong => Some(LoginOutcome::WrongPassword),
        Checked::Locked => Some(LoginOutcome::Locked),
    };
    if let Some(outcome) = outcome {
        record_attempt(ctx, user_id, outcome, CreatedVia::Password, client).await?;
        audit::record(
            ctx,
            Event::failed(EventType::PasswordChanged)
                .about(user_id)
                .detail("reason", failure_reason(outcome)),
        )
        .await;
        return Err(wrong());
    }
    let new_hash = ctx.hasher.hash(new).await?;
    if !ctx
        .store
        .change_password_hash(user_id, old_hash, &new_hash, ctx.now())
        .await?
    {
        return Err(wrong());
    }
    audit::record(ctx, Event::new(EventType::PasswordChanged).about(user_id)).await;
    let ended =
        end_all_sessions(ctx, user_id, Some(who.session.id), EndedBy::PasswordChange).await?;
    tracing::info!(user_id = %user_id, ended, "password changed");
    Ok(())
}

/// Checks the caller's current password under the brute-force rules (see [`check_password`]),
/// for a change that needs it (the e-mail address): a wrong or locked attempt goes to the login
/// history and is answered 403 `invalid_current_password`; a right one resets the failure
/// record. `limit` counts every attempt per user (429 beyond). A refusal is recorded in the
/// audit trail as a failed `kind`.
#[cfg_attr(not(feature = "mail"), allow(dead_code))]
pub(crate) async fn check_current_password(
    ctx: &Context,
    who: &Principal,
    password: &str,
    limit: Limit,
    kind: EventType,
    client: &ClientInfo,
) -> Result<()> {
    let account_key = who.user.id.to_string();
    let hit = limit.hit_at(&account_key, ctx.now());
    let failures = ctx.store.find_login_failures(&account_key).await?;
    let checked = check_password(
        ctx,
        &account_key,
        failures,
        Some(&hit),
        password,
        Some(&who.user.password_hash),
    )
    .await?;
    let outcome = match checked {
        Checked::Right => {
            return ctx
                .store
                .reset_login_failures(failures_reset(ctx, &account_key))
                .await;
        }
        Checked::Wrong => LoginOutcome::WrongPassword,
        Checked::Locked => LoginOutcome::Locked,
    };
    record_attempt(ctx, who.user.id, outcome, CreatedVia::Password, client).await?;
    let event = Event::failed(kind)
        .about(who.user.id)
        .detail("reason", failure_reason(outcome));
    audit::record(ctx, event).await;
    Err(Error::forbidden(
        "invalid_current_password",
        "the current password is wrong",
    ))
}

/// The guard of every protected route: verifies the access token, then loads its session and
/// user in one round trip and refuses (401) a session that is gone or expired or a user that is
/// inactive. This is what makes logout and revocation take effect on the very next request.
pub async fn authenticate(ctx: &Context, token: &str) -> Result<Principal> {
    let claims = tokens::verify_access_token(&ctx.verifier, &ctx.config, token, ctx.now())?;
    authenticate_claims(ctx, &claims).await
}

/// [`authenticate`] for an access token already verified into `claims`.
pub async fn authenticate_claims(ctx: &Context, claims: &AccessClaims) -> Result<Principal> {
    let (user, session) = ctx
        .store
        .find_user_and_session(claims.sub, claims.sid)
        .await?;
    admit(ctx, claims, user, session).await
}

/// [`authenticate_claims`] reading, in the same round trip, the caller's quota usage and their
/// consumption under `key` (what `quota::consume` needs), which are returned with the caller.
pub async fn authenticate_with_quota(
    ctx: &Context,
    claims: &AccessClaims,
    key: &IdempotencyKey,
) -> Result<(Principal, Option<QuotaUsage>, Option<Consumption>)> {
    let read = ctx
        .store
        .find_user_session_and_quota(claims.sub, claims.sid, key)
        .await?;
    let who = admit(ctx, claims, read.user, read.session).await?;
    Ok((who, read.usage, read.consumption))
}

/// The guard's decision on the user and session an access token names, as loaded: 401 when
/// the session is gone, expired or someone else's, or the user is missing or inactive. Records
/// activity on the session at most once per [`ACTIVITY_WRITE_INTERVAL`].
async fn admit(
    ctx: &Context,
    claims: &AccessClaims,
    user: Option<User>,
    session: Option<Session>,
) -> Result<Principal> {
    let now = ctx.now();
    let ended = || Error::unauthorized("session_ended", "this session has ended; sign in again");
    let session = session
        .filter(|s| s.is_live(now) && s.user_id == claims.sub)
        .ok_or_else(ended)?;
    let user = user.filter(|u| u.is_active).ok_or_else(ended)?;
    request_id::set_actor(user.id);
    if now - session.last_active_at >= ACTIVITY_WRITE_INTERVAL {
        ctx.store
            .touch_session(user.id, session.id, now, now - ACTIVITY_WRITE_INTERVAL)
            .await?;
    }
    Ok(Principal { user, session })
}
