//! Access tokens (EdDSA JWTs), their JWKS, and opaque rotating refresh tokens.
//!
//! Access tokens follow RFC 9068's `at+jwt` profile: verification pins EdDSA, requires our `kid`,
//! `typ`, `iss`, `aud` and a live `exp`, and rejects everything else (RFC 8725). Expiry is
//! checked against Sesame's [`Clock`](crate::clock::Clock) so tests can move time.
//!
//! A refresh token is `<user id>.<session id>.<256-bit random, base64url>`. Only the SHA-256 of
//! the secret part is stored; comparisons of hashes are constant-time.
//!
//! The signing and verification themselves are [`eddsa`]'s: jsonwebtoken's crypto provider,
//! installed before the first key is built, which knows EdDSA and nothing else.

mod eddsa;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::domain::{SessionId, UserId};
use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Allowed clock skew when checking `exp`, `nbf` and `iat`, in seconds.
const LEEWAY_SECS: i64 = 30;
/// The DER prefix of an Ed25519 `SubjectPublicKeyInfo` (RFC 8410); the 32-byte key follows it.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The DER prefix of an Ed25519 PKCS#8 v1 private key (RFC 8410); the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// What every function needs to check access tokens: the public key, its `kid` and its JWKS.
/// It holds no private key, so a function built with only a `Verifier` cannot sign a token.
pub struct Verifier {
    kid: String,
    decoding: DecodingKey,
    jwks: JwkSet,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Loads an Ed25519 public key from SPKI PEM (`-----BEGIN PUBLIC KEY-----`, what `openssl
    /// pkey -pubout` writes). Fails on anything else.
    pub fn from_public_pem(public_pem: &str) -> Result<Self> {
        let invalid = || Error::internal("the verification key is not an Ed25519 public key PEM");
        let parsed = pem::parse(public_pem.trim()).map_err(|_| invalid())?;
        let raw = parsed
            .contents()
            .strip_prefix(&ED25519_SPKI_PREFIX[..])
            .filter(|raw| parsed.tag() == "PUBLIC KEY" && raw.len() == 32)
            .ok_or_else(invalid)?;
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "x": URL_SAFE_NO_PAD.encode(raw),
        }))
        .map_err(Error::internal)?;
        Verifier::from_jwk(jwk)
    }

    /// The verifier of a public JWK; the `kid` is the key's RFC 7638 thumbprint.
    fn from_jwk(mut jwk: Jwk) -> Result<Self> {
        eddsa::install();
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(Error::internal)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(Error::internal)?;
        Ok(Verifier {
            kid,
            decoding,
            jwks: JwkSet { keys: vec![jwk] },
        })
    }

    /// The key id every token header must carry.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public keys as a JWK Set, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// The public key as SPKI PEM: what the operator stores in the verification-key secret.
    pub fn public_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend(self.raw_public_key());
        pem::encode(&pem::Pem::new("PUBLIC KEY", der))
    }

    fn raw_public_key(&self) -> Vec<u8> {
        match &self.jwks.keys[0].algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(okp) => {
                URL_SAFE_NO_PAD.decode(&okp.x).unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }
}

/// The private signing key with its [`Verifier`]. Only the functions that issue tokens (auth,
/// qr-auth) ever hold one; see `context::SigningContext`.
pub struct Signer {
    encoding: EncodingKey,
    verifier: Arc<Verifier>,
    /// The key refresh-token successors are derived under (see [`Signer::successor`]): an HMAC
    /// of the signing key's PEM, so only the functions that issue tokens hold it and no other
    /// secret has to be provisioned.
    successor_key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.verifier.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Loads an Ed25519 private key from PKCS#8 PEM. Fails on anything else.
    pub fn from_pem(private_pem: &SecretString) -> Result<Self> {
        eddsa::install();
        let encoding = EncodingKey::from_ed_pem(private_pem.expose_secret().trim().as_bytes())
            .map_err(|_| Error::internal("the signing key is not an Ed25519 PKCS#8 PEM"))?;
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::EdDSA).map_err(Error::internal)?;
        let mut derive = HmacSha256::new_from_slice(private_pem.expose_secret().trim().as_bytes())
            .expect("HMAC takes keys of any length");
        derive.update(b"sesame refresh-token successor key");
        Ok(Signer {
            encoding,
            verifier: Arc::new(Verifier::from_jwk(jwk)?),
            successor_key: derive.finalize().into_bytes().into(),
        })
    }

    /// The refresh token that replaces `token` when it is rotated: its secret is an HMAC of
    /// the presented secret (and the session) under the server's successor key. Every request
    /// presenting the same token derives the same successor, so parallel refreshes of one token
    /// all hand out one pair, while the table holds only hashes: knowing a stored hash, or even
    /// an old token, gives the successor only through the server.
    pub fn successor(&self, token: &RefreshToken) -> RefreshToken {
        let mut mac =
            HmacSha256::new_from_slice(&self.successor_key).expect("HMAC takes keys of any length");
        mac.update(token.user_id.to_string().as_bytes());
        mac.update(&[0]);
        mac.update(token.session_id.to_string().as_bytes());
        mac.update(&[0]);
        mac.update(token.secret.expose_secret().as_bytes());
        RefreshToken {
            user_id: token.user_id,
            session_id: token.session_id,
            secret: URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()).into(),
        }
    }

    /// Makes a new random Ed25519 key and returns it with its PKCS#8 v1 PEM (RFC 8410, the form
    /// `openssl genpkey` writes and the only one jsonwebtoken's JWK export reads).
    pub fn generate() -> Result<(Self, SecretString)> {
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        der.extend_from_slice(&seed);
        let pem = SecretString::from(pem::encode(&pem::Pem::new("PRIVATE KEY", der)));
        Ok((Signer::from_pem(&pem)?, pem))
    }

    /// The development key of a local run, kept at `path` so restarts keep sessions valid: read
    /// if the file exists, otherwise generated and written readable by its owner only (0600).
    /// Callers allow this only in the explicit local mode (`SESAME_LOCAL_DEV=1`).
    pub fn local_dev(path: &Path) -> Result<Self> {
        if let Ok(pem) = std::fs::read_to_string(path) {
            tracing::info!(path = %path.display(), "using the local development signing key");
            return Signer::from_pem(&pem.into());
        }
        let (signer, pem) = Signer::generate()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::internal)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(Error::internal)?;
        file.write_all(pem.expose_secret().as_bytes())
            .map_err(Error::internal)?;
        tracing::warn!(
            path = %path.display(),
            "local development mode: generated a development signing key"
        );
        Ok(signer)
    }

    /// The public half, to verify what this key signs.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The public half, shared.
    pub fn verifier_arc(&self) -> Arc<Verifier> {
        Arc::clone(&self.verifier)
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: UserId,
    pub sid: SessionId,
    pub iat: i64,
    pub exp: i64,
    /// Not before; Sesame never sets it, but a token that carries one is refused until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
}

/// Signs an access token for a session; returns it with its lifetime in seconds.
pub fn issue_access_token(
    signer: &Signer,
    config: &Config,
    user_id: UserId,
    session_id: SessionId,
    now: DateTime<Utc>,
) -> Result<(String, u64)> {
    let ttl = config.access_token_ttl.as_secs();
    let claims = AccessClaims {
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        sub: user_id,
        sid: session_id,
        iat: now.timestamp(),
        exp: now.timestamp() + ttl as i64,
        nbf: None,
        jti: uuid::Uuid::now_v7().to_string(),
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(ACCESS_TOKEN_TYP.into());
    header.kid = Some(signer.verifier.kid.clone());
    let token =
        jsonwebtoken::encode(&header, &claims, &signer.encoding).map_err(Error::internal)?;
    Ok((token, ttl))
}

/// Verifies an access token's signature and claims. Every failure is the same 401
/// `invalid_token`, so callers learn nothing about which check failed.
pub fn verify_access_token(
    verifier: &Verifier,
    config: &Config,
    token: &str,
    now: DateTime<Utc>,
) -> Result<AccessClaims> {
    let invalid = || Error::unauthorized("invalid_token", "the access token is invalid or expired");
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
    if header.alg != Algorithm::EdDSA
        || header.typ.as_deref() != Some(ACCESS_TOKEN_TYP)
        || header.kid.as_deref() != Some(verifier.kid.as_str())
    {
        return Err(invalid());
    }
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    // Time is checked below against Sesame's clock rather than the system time.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let claims = jsonwebtoken::decode::<AccessClaims>(token, &verifier.decoding, &validation)
        .map_err(|_| invalid())?
        .claims;
    let now = now.timestamp();
    let not_yet_valid = claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECS > now);
    if claims.exp + LEEWAY_SECS <= now || claims.iat - LEEWAY_SECS > now || not_yet_valid {
        return Err(invalid());
    }
    Ok(claims)
}

/// A refresh token split into its session id and secret. Its `Debug` shows the session only.
pub struct RefreshToken {
    pub user_id: UserId,
    pub session_id: SessionId,
    secret: SecretString,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    /// A new token for a session of a user, with 256 random bits.
    pub fn generate(user_id: UserId, session_id: SessionId) -> Self {
        RefreshToken {
            user_id,
            session_id,
            secret: random_secret().into(),
        }
    }

    /// Parses `<user id>.<session id>.<secret>`; anything else is 401
    /// `invalid_refresh_token`. Naming the user lets a refresh read the user and the session
    /// in one batch, without a lookup of the session's owner first; the names are not trusted,
    /// since only the session stored under both holds the secret's hash.
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid =
            || Error::unauthorized("invalid_refresh_token", "the refresh token is invalid");
        let mut parts = raw.splitn(3, '.');
        let (Some(user), Some(session), Some(secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let user_id = user.parse().map_err(|_| invalid())?;
        let session_id = session.parse().map_err(|_| invalid())?;
        if !is_random_secret(secret) {
            return Err(invalid());
        }
        Ok(RefreshToken {
            user_id,
            session_id,
            secret: secret.into(),
        })
    }

    /// The hex SHA-256 of the secret: the only form that is stored.
    pub fn hash(&self) -> String {
        hash_secret(self.secret.expose_secret())
    }

    /// The token as given to the client.
    pub fn expose(&self) -> String {
        format!(
            "{}.{}.{}",
            self.user_id,
            self.session_id,
            self.secret.expose_secret()
        )
    }
}

/// A new secret of 256 random bits, base64url without padding (43 characters): the random part
/// of refresh tokens, QR login codes and QR poll tokens.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `raw` has the shape of a [`random_secret`]: 43 base64url characters.
pub fn is_random_secret(raw: &str) -> bool {
    raw.len() == 43
        && URL_SAFE_NO_PAD
            .decode(raw)
            .is_ok_and(|bytes| bytes.len() == 32)
}

/// Hex SHA-256 of a secret, for storing tokens and codes.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two hashes in constant time.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_token_round_trips_and_rejects_garbage() {
        let token = RefreshToken::generate(UserId::new(), SessionId::new());
        let parsed = RefreshToken::parse(&token.expose()).expect("parses");
        assert_eq!(parsed.user_id, token.user_id);
        assert_eq!(parsed.session_id, token.session_id);
        assert!(hashes_equal(&parsed.hash(), &token.hash()));
        let secret = random_secret();
        for bad in [
            "",
            "abc",
            "not-a-uuid.secret",
            &format!("{}.short", SessionId::new()),
            &format!("{}.{secret}", SessionId::new()),
            &format!("{}.not-a-uuid.{secret}", UserId::new()),
            &format!("{}.{}.short", UserId::new(), SessionId::new()),
        ] {
            assert!(RefreshToken::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn access_token_verifies_with_its_own_key_only() {
        let config = Config::default();
        let (signer, _) = Signer::generate().unwrap();
        let (other, _) = Signer::generate().unwrap();
        let now = Utc::now();
        let (token, ttl) =
            issue_access_token(&signer, &config, UserId::new(), SessionId::new(), now).unwrap();
        assert_eq!(ttl, 900);
        assert!(verify_access_token(signer.verifier(), &config, &token, now).is_ok());
        assert!(verify_access_token(other.verifier(), &config, &token, now).is_err());
        let later = now + chrono::Duration::seconds(ttl as i64 + LEEWAY_SECS);
        assert!(verify_access_token(signer.verifier(), &config, &token, later).is_err());
    }

    #[test]
    fn the_published_public_key_verifies_what_the_private_key_signs() {
        let (signer, _) = Signer::generate().unwrap();
        let verifier = Verifier::from_public_pem(&signer.verifier().public_pem()).unwrap();
        assert_eq!(verifier.kid(), signer.verifier().kid());
        let config = Config::default();
        let now = Utc::now();
        let (token, _) =
            issue_access_token(&signer, &config, UserId::new(), SessionId::new(), now).unwrap();
        assert!(verify_access_token(&verifier, &config, &token, now).is_ok());
        assert!(
            Verifier::from_public_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .is_err()
        );
    }

    #[test]
    fn the_development_key_is_readable_by_its_owner_only_and_kept() {
        let dir = std::env::temp_dir().join(format!("sesame-dev-key-{}", uuid::Uuid::new_v4()));
        let path = dir.join("dev-signing-key.pem");
        let first = Signer::local_dev(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Signer::local_dev(&path).unwrap();
        assert_eq!(first.verifier().kid(), again.verifier().kid());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn no_secret_shows_in_debug_output() {
        let (signer, pem) = Signer::generate().unwrap();
        let token = RefreshToken::generate(UserId::new(), SessionId::new());
        let secret = token.expose();
        let secret = secret.rsplit_once('.').unwrap().1;
        let shown = format!("{signer:?} {token:?}");
        assert!(!shown.contains(secret), "{shown}");
        let key_body = pem.expose_secret().lines().nth(1).unwrap().to_owned();
        assert!(!shown.contains(&key_body), "{shown}");
    }
}
