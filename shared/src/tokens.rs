//! Access tokens (EdDSA JWTs), their JWKS, and opaque rotating refresh tokens.
//!
//! Access tokens follow RFC 9068's `at+jwt` profile: verification pins EdDSA, requires our `kid`,
//! `typ`, `iss`, `aud` and a live `exp`, and rejects everything else (RFC 8725). Expiry is
//! checked against Sesame's [`Clock`](crate::clock::Clock) so tests can move time.
//!
//! A refresh token is `<session id>.<256-bit random, base64url>`. Only the SHA-256 of the secret
//! part is stored; comparisons of hashes are constant-time.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{self, Config};
use crate::domain::{SessionId, UserId};
use crate::error::{Error, Result};

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Allowed clock skew when checking `exp`, `nbf` and `iat`, in seconds.
const LEEWAY_SECS: i64 = 30;

/// The signing key and what verifiers need: its `kid` and its public JWK.
pub struct Keys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwks: JwkSet,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// Loads an Ed25519 private key from PKCS#8 PEM. The `kid` is the key's RFC 7638 thumbprint.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let encoding = EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|e| {
            Error::internal(format!("signing key is not an Ed25519 PKCS#8 PEM: {e}"))
        })?;
        let mut jwk =
            Jwk::from_encoding_key(&encoding, Algorithm::EdDSA).map_err(Error::internal)?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(Error::internal)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(Error::internal)?;
        Ok(Keys {
            kid,
            encoding,
            decoding,
            jwks: JwkSet { keys: vec![jwk] },
        })
    }

    /// Makes a new random Ed25519 key and returns it with its PKCS#8 (v1, the form `openssl
    /// genpkey` writes) PEM.
    pub fn generate() -> Result<(Self, String)> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let der = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8v1(&rng)
            .map_err(Error::internal)?;
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
        Ok((Keys::from_pem(&pem)?, pem))
    }

    /// The configured key. Without one, a Lambda refuses to start; a local run generates a
    /// development key once and keeps it at `config.dev_key_path` so restarts keep sessions valid.
    pub fn load(config: &Config) -> Result<Self> {
        if let Some(pem) = &config.signing_key_pem {
            return Keys::from_pem(pem);
        }
        if config::is_lambda() {
            return Err(Error::internal("SESAME_SIGNING_KEY is required in Lambda"));
        }
        let path = Path::new(&config.dev_key_path);
        if let Ok(pem) = std::fs::read_to_string(path) {
            tracing::info!(path = %path.display(), "using the local development signing key");
            return Keys::from_pem(&pem);
        }
        let (keys, pem) = Keys::generate()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::internal)?;
        }
        std::fs::write(path, pem).map_err(Error::internal)?;
        tracing::warn!(
            path = %path.display(),
            "no SESAME_SIGNING_KEY configured: generated a development signing key"
        );
        Ok(keys)
    }

    /// The key id put in every token header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public keys as a JWK Set, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
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
    pub jti: String,
}

/// Signs an access token for a session; returns it with its lifetime in seconds.
pub fn issue_access_token(
    keys: &Keys,
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
        jti: uuid::Uuid::now_v7().to_string(),
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(ACCESS_TOKEN_TYP.into());
    header.kid = Some(keys.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &keys.encoding).map_err(Error::internal)?;
    Ok((token, ttl))
}

/// Verifies an access token's signature and claims. Every failure is the same 401
/// `invalid_token`, so callers learn nothing about which check failed.
pub fn verify_access_token(
    keys: &Keys,
    config: &Config,
    token: &str,
    now: DateTime<Utc>,
) -> Result<AccessClaims> {
    let invalid = || Error::unauthorized("invalid_token", "the access token is invalid or expired");
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
    if header.alg != Algorithm::EdDSA
        || header.typ.as_deref() != Some(ACCESS_TOKEN_TYP)
        || header.kid.as_deref() != Some(keys.kid.as_str())
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
    let claims = jsonwebtoken::decode::<AccessClaims>(token, &keys.decoding, &validation)
        .map_err(|_| invalid())?
        .claims;
    let now = now.timestamp();
    if claims.exp + LEEWAY_SECS <= now || claims.iat - LEEWAY_SECS > now {
        return Err(invalid());
    }
    Ok(claims)
}

/// A refresh token split into its session id and secret.
#[derive(Debug)]
pub struct RefreshToken {
    pub session_id: SessionId,
    secret: String,
}

impl RefreshToken {
    /// A new token for a session, with 256 random bits.
    pub fn generate(session_id: SessionId) -> Self {
        RefreshToken {
            session_id,
            secret: random_secret(),
        }
    }

    /// Parses `<session id>.<secret>`; anything else is 401 `invalid_refresh_token`.
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid =
            || Error::unauthorized("invalid_refresh_token", "the refresh token is invalid");
        let (session, secret) = raw.split_once('.').ok_or_else(invalid)?;
        let session_id = session.parse().map_err(|_| invalid())?;
        if !is_random_secret(secret) {
            return Err(invalid());
        }
        Ok(RefreshToken {
            session_id,
            secret: secret.to_owned(),
        })
    }

    /// The hex SHA-256 of the secret: the only form that is stored.
    pub fn hash(&self) -> String {
        hash_secret(&self.secret)
    }

    /// The token as given to the client.
    pub fn expose(&self) -> String {
        format!("{}.{}", self.session_id, self.secret)
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
        let token = RefreshToken::generate(SessionId::new());
        let parsed = RefreshToken::parse(&token.expose()).expect("parses");
        assert_eq!(parsed.session_id, token.session_id);
        assert!(hashes_equal(&parsed.hash(), &token.hash()));
        for bad in [
            "",
            "abc",
            "not-a-uuid.secret",
            &format!("{}.short", SessionId::new()),
        ] {
            assert!(RefreshToken::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn access_token_verifies_with_its_own_key_only() {
        let config = Config::default();
        let (keys, _) = Keys::generate().unwrap();
        let (other, _) = Keys::generate().unwrap();
        let now = Utc::now();
        let (token, ttl) =
            issue_access_token(&keys, &config, UserId::new(), SessionId::new(), now).unwrap();
        assert_eq!(ttl, 900);
        assert!(verify_access_token(&keys, &config, &token, now).is_ok());
        assert!(verify_access_token(&other, &config, &token, now).is_err());
        let later = now + chrono::Duration::seconds(ttl as i64 + LEEWAY_SECS);
        assert!(verify_access_token(&keys, &config, &token, later).is_err());
    }
}
