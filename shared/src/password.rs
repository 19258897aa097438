//! Password policy and Argon2id hashing.
//!
//! Hashing is CPU-bound (tens of milliseconds), so it runs on Tokio's blocking pool behind a
//! semaphore: the async executor never stalls, and a burst of logins queues instead of starting
//! more hashes than there are cores.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// Passwords that are rejected however long they are (a list of commonly used passwords,
/// shipped with the binary; NIST SP 800-63B §5.1.1.2).
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .collect()
});

/// Checks a new password against the policy: 8 to 128 characters, not a common password, no
/// composition rules. Fails with a 400 naming `field`.
pub fn check_policy(field: &str, password: &str) -> Result<()> {
    let length = password.chars().count();
    if !(8..=128).contains(&length) {
        return Err(Error::invalid_field(field, "must be 8 to 128 characters"));
    }
    if COMMON_PASSWORDS.contains(password.to_lowercase().as_str()) {
        return Err(Error::invalid_field(
            field,
            "is too common; choose another password",
        ));
    }
    Ok(())
}

/// Hashes and verifies passwords with Argon2id (m = 19456 KiB, t = 2, p = 1, per OWASP).
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when there is no real hash to check
    /// (unknown account, locked account), so those answers take as long as a wrong password.
    /// Computed when the hasher is built (at cold start), so no request pays for it.
    dummy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("OWASP Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl PasswordHasher {
    /// A hasher that runs at most `concurrency` hashes at once. Computes its dummy hash on the
    /// calling thread (one Argon2id hash, tens of milliseconds), once per cold start.
    pub fn new(concurrency: usize) -> Self {
        let dummy_hash = argon2()
            .hash_password(uuid::Uuid::new_v4().to_string().as_bytes())
            .expect("hashing a random password with valid parameters succeeds")
            .to_string();
        PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
        }
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(Error::internal)
        })
        .await
    }

    /// Whether `password` matches the PHC string `hash`. A malformed stored hash is an error,
    /// not a mismatch.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool> {
        let password = password.to_owned();
        let hash = hash.to_owned();
        self.run(move || {
            let parsed = PasswordHash::new(&hash).map_err(Error::internal)?;
            Ok(argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
    }

    /// Spends the same work as [`verify`](Self::verify) against a hash that matches nothing.
    pub async fn verify_dummy(&self, password: &str) -> Result<()> {
        self.verify(password, &self.dummy_hash).await.map(|_| ())
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(Error::internal)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rejects_short_long_and_common_passwords() {
        assert!(check_policy("password", "short").is_err());
        assert!(check_policy("password", &"x".repeat(129)).is_err());
        assert!(check_policy("password", "password123").is_err());
        assert!(check_policy("password", "Password123").is_err());
        assert!(check_policy("password", "correct horse battery staple").is_ok());
    }

    #[tokio::test]
    async fn hash_verifies_only_the_same_password() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher.hash("a long passphrase").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher.verify("a long passphrase", &hash).await.unwrap());
        assert!(!hasher.verify("another passphrase", &hash).await.unwrap());
    }
}
