//! The WebAuthn ceremonies, with webauthn-rs: registering a passkey, signing in with one alone,
//! and using one as a login's second step. Each is `begin` (store the state, return the
//! options) and `finish` (take the state once, verify the browser's answer against it).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use utoipa::ToSchema;
use webauthn_rs::prelude::{
    AuthenticationResult, CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, Url, Webauthn, WebauthnBuilder, WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

pub use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::{CEREMONY_TTL, MAX_PASSKEYS, PasskeyView, checked_name};
use crate::audit::{self, Event, EventType};
use crate::auth::{self, LOGIN_PER_IP, Principal};
use crate::client::ClientInfo;
use crate::config::Config;
use crate::context::{Context, SigningContext};
use crate::domain::{CreatedVia, UserId};
use crate::error::{Error, Result};
use crate::rate_limit::{self, Limit};
use crate::store::{Ceremony, StoredPasskey};
use crate::tokens;
use crate::views::TokenResponse;

/// What a ceremony's `begin` returns: the options for `navigator.credentials.create` or
/// `.get` (WebAuthn's JSON form, binary as base64url) and the id its `finish` presents.
#[derive(Serialize, ToSchema)]
pub struct Challenge {
    /// Single use, valid five minutes.
    pub challenge_id: String,
    /// `{"publicKey": {...}}`: `PublicKeyCredentialCreationOptions` (registration) or
    /// `PublicKeyCredentialRequestOptions` (sign-in), with `mediation` for a sign-in.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// A passkey's answer to a login's second step.
pub struct Assertion {
    pub challenge_id: String,
    pub credential: PublicKeyCredential,
}

/// What a ceremony was started for: its answer is accepted only for the same purpose.
#[derive(Clone, Copy)]
enum Purpose {
    Register,
    SignIn,
    SecondFactor,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::SecondFactor => "second_factor",
        }
    }
}

/// The relying party of `config`: `SESAME_WEBAUTHN_RP_ID` and `SESAME_WEBAUTHN_ORIGINS`, by
/// default the public URL's host and origin; in local mode (unset) `localhost` on any port,
/// since browsers accept no IP address as a relying-party id.
fn relying_party(config: &Config) -> Result<Webauthn> {
    let misconfigured = |what: &str| Error::internal(format!("passkeys are misconfigured: {what}"));
    let public =
        Url::parse(config.link_origin()).map_err(|_| misconfigured("SESAME_PUBLIC_URL"))?;
    let local =
        config.local_dev && config.webauthn_rp_id.is_none() && config.webauthn_origins.is_empty();
    let (rp_id, origins) = if local {
        let mut origin = Url::parse("http://localhost").map_err(Error::internal)?;
        origin
            .set_port(public.port())
            .map_err(|()| misconfigured("port"))?;
        ("localhost".to_owned(), vec![origin])
    } else {
        let rp_id = config
            .webauthn_rp_id
            .clone()
            .or_else(|| public.domain().map(str::to_owned))
            .ok_or_else(|| misconfigured("SESAME_WEBAUTHN_RP_ID"))?;
        let origins = if config.webauthn_origins.is_empty() {
            vec![public]
        } else {
            config
                .webauthn_origins
                .iter()
                .map(|origin| Url::parse(origin))
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| misconfigured("SESAME_WEBAUTHN_ORIGINS"))?
        };
        (rp_id, origins)
    };
    let mut builder = WebauthnBuilder::new(&rp_id, &origins[0])
        .map_err(|_| misconfigured("the origin is not within the relying-party id"))?
        .rp_name("Sesame")
        .allow_any_port(local);
    for origin in &origins[1..] {
        builder = builder.append_allowed_origin(origin);
    }
    builder
        .build()
        .map_err(|_| misconfigured("webauthn-rs refused it"))
}

/// A credential id as the API shows it (base64url).
fn credential_id(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn invalid_challenge() -> Error {
    Error::bad_request(
        "invalid_challenge",
        "the passkey request has expired or was already answered; start again",
    )
}

fn invalid_passkey() -> Error {
    Error::unauthorized("invalid_passkey", "the passkey was not accepted")
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(Error::internal)
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(Error::internal)
}

/// Stores a ceremony's state and returns its options with a fresh `challenge_id`.
async fn store(
    ctx: &Context,
    purpose: Purpose,
    user_id: Option<UserId>,
    login: Option<String>,
    state: String,
    options: impl Serialize,
) -> Result<Challenge> {
    let challenge_id = tokens::random_secret();
    let ceremony = Ceremony {
        purpose: purpose.as_str().to_owned(),
        user_id,
        login,
        state,
        valid_until: ctx.now() + CEREMONY_TTL,
    };
    ctx.store
        .put_ceremony(&tokens::hash_secret(&challenge_id), &ceremony)
        .await?;
    Ok(Challenge {
        challenge_id,
        options: serde_json::to_value(options).map_err(Error::internal)?,
    })
}

/// Takes the ceremony `challenge_id` names, provided it was started for `purpose` (and, when
/// given, for `user_id`): `None` when unknown, expired, already answered or another's.
async fn take(
    ctx: &Context,
    challenge_id: &str,
    purpose: Purpose,
    user_id: Option<UserId>,
) -> Result<Option<Ceremony>> {
    if challenge_id.is_empty() || challenge_id.len() > 128 {
        return Ok(None);
    }
    Ok(ctx
        .store
        .take_ceremony(&tokens::hash_secret(challenge_id), ctx.now())
        .await?
        .filter(|c| c.purpose == purpose.as_str() && (user_id.is_none() || c.user_id == user_id)))
}

/// Starts registering a passkey on the caller's account: the creation options (a discoverable
/// credential with user verification; the account's passkeys excluded). 409 `too_many_passkeys`
/// at [`MAX_PASSKEYS`].
pub async fn begin_registration(ctx: &Context, who: &Principal) -> Result<Challenge> {
    let user = &who.user;
    let existing = ctx.store.list_passkeys(user.id).await?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(Error::conflict(
            "too_many_passkeys",
            format!("an account holds at most {MAX_PASSKEYS} passkeys: remove one first"),
        ));
    }
    let exclude: Vec<CredentialID> = existing
        .iter()
        .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.id).ok())
        .collect();
    let display = format!("{} {}", user.first_name, user.last_name);
    let display = display.trim();
    let email = user.email.as_str();
    let (mut options, state) = relying_party(&ctx.config)?
        .start_passkey_registration(
            user.id.uuid(),
            email,
            if display.is_empty() { email } else { display },
            Some(exclude),
        )
        .map_err(Error::internal)?;
    // A passkey is a discoverable credential: it signs in without an e-mail typed first.
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
    }
    store(
        ctx,
        Purpose::Register,
        Some(user.id),
        None,
        json(&state)?,
        options,
    )
    .await
}

/// Finishes a registration with the browser's answer: the passkey is added under `name` (by
/// default "Passkey N"). 400 `invalid_challenge` for a challenge not this caller's
/// registration (or used, or expired), 400 `invalid_passkey` when the answer does not verify,
/// 409 `passkey_exists` when that credential is already on the account.
pub async fn finish_registration(
    ctx: &Context,
    who: &Principal,
    challenge_id: &str,
    name: Option<&str>,
    credential: &RegisterPublicKeyCredential,
) -> Result<PasskeyView> {
    let name = name.map(checked_name).transpose()?;
    let ceremony = take(ctx, challenge_id, Purpose::Register, Some(who.user.id))
        .await?
        .ok_or_else(invalid_challenge)?;
    let state: PasskeyRegistration = parse(&ceremony.state)?;
    let passkey = relying_party(&ctx.config)?
        .finish_passkey_registration(credential, &state)
        .map_err(|e| {
            tracing::info!(error = %e, "a passkey registration did not verify");
            Error::bad_request("invalid_passkey", "the passkey's answer did not verify")
        })?;
    let existing = ctx.store.list_passkeys(who.user.id).await?;
    let stored = StoredPasskey {
        id: credential_id(passkey.cred_id()),
        name: name.unwrap_or_else(|| format!("Passkey {}", existing.len() + 1)),
        credential: json(&passkey)?,
        created_at: ctx.now(),
        last_used_at: None,
    };
    if !ctx.store.put_passkey(who.user.id, &stored).await? {
        return Err(Error::conflict(
            "passkey_exists",
            "this passkey is already on the account",
        ));
    }
    audit::record(
        ctx,
        Event::new(EventType::PasskeyAdded)
            .about(who.user.id)
            .detail("passkey_id", stored.id.clone()),
    )
    .await;
    Ok(PasskeyView::from(&stored))
}

/// The per-IP limit of passkey sign-ins: the login's.
fn per_ip(config: &Config) -> Limit {
    Limit {
        max: config.login_ip_limit,
        ..LOGIN_PER_IP
    }
}

/// Starts a passkey sign-in: request options without credentials listed, so the browser
/// offers the passkeys it holds for this site (and conditional mediation, for autofill).
/// Counted against the client's per-IP login limit (429).
pub async fn begin_sign_in(ctx: &Context, client: &ClientInfo) -> Result<Challenge> {
    rate_limit::hit_ip(ctx, per_ip(&ctx.config), client).await?;
    let (options, state) = relying_party(&ctx.config)?
        .start_discoverable_authentication()
        .map_err(Error::internal)?;
    store(ctx, Purpose::SignIn, None, None, json(&state)?, options).await
}

/// Finishes a passkey sign-in: the account is the one the passkey names (its user handle), the
/// session opens as a password login's would (`created_via` `passkey`). 400
/// `invalid_challenge`; 401 `invalid_passkey` when the answer does not verify, names no
/// passkey of a live account, or comes from a cloned authenticator (that passkey is then
/// removed); 403 `email_not_verified` as for a password login; 429 per IP.
pub async fn finish_sign_in(
    ctx: &SigningContext,
    challenge_id: &str,
    credential: &PublicKeyCredential,
    client: &ClientInfo,
) -> Result<TokenResponse> {
    rate_limit::hit_ip(ctx, per_ip(&ctx.config), client).await?;
    let ceremony = take(ctx, challenge_id, Purpose::SignIn, None)
        .await?
        .ok_or_else(invalid_challenge)?;
    let state: DiscoverableAuthentication = parse(&ceremony.state)?;
    let relying_party = relying_party(&ctx.config)?;
    let (uuid, raw_id) = relying_party
        .identify_discoverable_authentication(credential)
        .map_err(|_| invalid_passkey())?;
    let user_id = UserId::from(uuid);
    let id = credential_id(raw_id);
    let account = ctx
        .store
        .find_user_sessions(user_id)
        .await?
        .ok_or_else(invalid_passkey)?;
    let stored = account
        .passkeys
        .iter()
        .find(|p| p.id == id)
        .cloned()
        .ok_or_else(invalid_passkey)?;
    let passkey: Passkey = parse(&stored.credential)?;
    let verified = relying_party.finish_discoverable_authentication_v2(credential, state, &passkey);
    if !accept(ctx, user_id, &stored, passkey, verified).await? || !account.user.is_active {
        audit::record(
            ctx,
            Event::failed(EventType::LoginFailed)
                .by(user_id)
                .about(user_id)
                .detail("via", "passkey")
                .detail("reason", "invalid_passkey"),
        )
        .await;
        return Err(invalid_passkey());
    }
    if ctx.config.require_verified_email && !account.user.email_verified {
        return Err(auth::email_not_verified());
    }
    auth::start_session(ctx, account, client, CreatedVia::Passkey).await
}

/// Accepts a verified use of `stored` (its counter moved forward, or it has none): stores the
/// updated credential and the time with one conditional write on the stored one, so of two
/// answers racing on one counter value one is accepted. A counter that went back (a cloned
/// authenticator) removes the passkey. `false` when the use is refused.
async fn accept(
    ctx: &Context,
    user_id: UserId,
    stored: &StoredPasskey,
    mut passkey: Passkey,
    verified: std::result::Result<AuthenticationResult, WebauthnError>,
) -> Result<bool> {
    let result = match verified {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            tracing::warn!(%user_id, passkey_id = %stored.id, "a passkey's counter went back: removed as possibly cloned");
            if ctx.store.delete_passkey(user_id, &stored.id).await? {
                audit::record(
                    ctx,
                    Event::new(EventType::PasskeyRemoved)
                        .about(user_id)
                        .detail("passkey_id", stored.id.clone())
                        .detail("reason", "possible_clone"),
                )
                .await;
            }
            return Ok(false);
        }
        Err(e) => {
            tracing::info!(error = %e, "a passkey answer did not verify");
            return Ok(false);
        }
    };
    passkey.update_credential(&result);
    ctx.store
        .record_passkey_use(
            user_id,
            &stored.id,
            &stored.credential,
            &json(&passkey)?,
            ctx.now(),
        )
        .await
}

/// Starts a login's second step with a passkey: request options listing the account's
/// passkeys, bound to the user and to the pending login (`login`, its token's hash).
pub(crate) async fn begin_second_factor(
    ctx: &Context,
    user_id: UserId,
    passkeys: &[StoredPasskey],
    login: &str,
) -> Result<Challenge> {
    let passkeys = passkeys
        .iter()
        .map(|p| parse::<Passkey>(&p.credential))
        .collect::<Result<Vec<_>>>()?;
    if passkeys.is_empty() {
        return Err(Error::conflict(
            "no_passkeys",
            "this account has no passkey: use a code",
        ));
    }
    let (options, state) = relying_party(&ctx.config)?
        .start_passkey_authentication(&passkeys)
        .map_err(Error::internal)?;
    store(
        ctx,
        Purpose::SecondFactor,
        Some(user_id),
        Some(login.to_owned()),
        json(&state)?,
        options,
    )
    .await
}

/// Checks a passkey as a login's second step: the ceremony must be this user's and this
/// login's (`login`, the hash of its `mfa_token`) (else it is a wrong factor, like a wrong code), the answer must verify against one
/// of the passkeys it listed that the account still holds.
pub(crate) async fn check_second_factor(
    ctx: &Context,
    user_id: UserId,
    passkeys: &[StoredPasskey],
    login: &str,
    assertion: &Assertion,
) -> Result<bool> {
    let Some(ceremony) = take(
        ctx,
        &assertion.challenge_id,
        Purpose::SecondFactor,
        Some(user_id),
    )
    .await?
    else {
        return Ok(false);
    };
    if login.is_empty() || ceremony.login.as_deref() != Some(login) {
        return Ok(false);
    }
    let id = credential_id(assertion.credential.get_credential_id());
    let Some(stored) = passkeys.iter().find(|p| p.id == id) else {
        return Ok(false);
    };
    let state: PasskeyAuthentication = parse(&ceremony.state)?;
    let passkey: Passkey = parse(&stored.credential)?;
    let verified =
        relying_party(&ctx.config)?.finish_passkey_authentication(&assertion.credential, &state);
    accept(ctx, user_id, stored, passkey, verified).await
}
