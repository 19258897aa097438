//! Password policy and Argon2id hashing.
//!
//! Hashing is CPU-bound (tens of milliseconds), so it runs on Tokio's blocking pool behind a
//! semaphore: the async executor never stalls, and a burst of logins queues instead of starting
//! more hashes than there are cores.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
///
/// Each of the `concurrency` permits owns one set of Argon2 memory blocks (19 MiB), allocated
/// once and then reused by every hash, never freed: the first set when the hasher is built (its
/// dummy hash runs in it), each further one by the first hash that runs while all the others are
/// in use. Had each hash allocated and freed its own 19 MiB, glibc would, after the first free,
/// raise its dynamic mmap threshold and serve later blocks from a heap it never gives back, so
/// the process would grow to hundreds of MiB under a burst of logins. With the blocks owned
/// here, memory is bounded by `concurrency` × 19 MiB whatever the load, and a function that
/// never hashes (only its dummy hash at cold start) holds one set.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// The sets of blocks no hash is using. A hash takes one while it holds a permit, or
    /// allocates one when there is none; since every set in use is held by a permit, there are
    /// never more sets than permits.
    memory: Arc<Mutex<Vec<Box<[Block]>>>>,
    /// A hash of a random password, verified against when there is no real hash to check
    /// (unknown account, locked account), so those answers take as long as a wrong password.
    /// Computed when the hasher is built (at cold start), so no request pays for it.
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// One set of Argon2 memory blocks for Sesame's parameters (19 MiB).
fn new_blocks() -> Box<[Block]> {
    vec![Block::new(); params().block_count()].into_boxed_slice()
}

/// Sesame's Argon2id parameters: OWASP's first recommendation.
fn params() -> Params {
    Params::new(19_456, 2, 1, None).expect("OWASP Argon2 parameters are valid")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// Hashes `password` with a fresh random salt into `memory` and encodes the PHC string.
fn hash_into(memory: &mut [Block], password: &[u8]) -> Result<String> {
    let salt = Salt::generate();
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2()
        .hash_password_into_with_memory(password, &salt, &mut output, memory)
        .map_err(Error::internal)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params()).map_err(Error::internal)?,
        salt: Some(salt),
        hash: Some(Output::new(&output).map_err(Error::internal)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash`, recomputed into `memory` with the hash's
/// own salt, algorithm, version and parameters and compared in constant time. A hash whose
/// parameters need more memory than `memory` holds (stored before the parameters were lowered)
/// is verified by the argon2 crate with memory of its own. A malformed hash is an error.
fn verify_into(memory: &mut [Block], password: &[u8], hash: &str) -> Result<bool> {
    let parsed = PasswordHash::new(hash).map_err(Error::internal)?;
    let params = Params::try_from(&parsed).map_err(Error::internal)?;
    if params.block_count() > memory.len() {
        return Ok(argon2().verify_password(password, &parsed).is_ok());
    }
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(Error::internal)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(Error::internal)?
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(Error::internal(
            "stored password hash has no salt or output",
        ));
    };
    let mut output = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut output, memory)
        .map_err(Error::internal)?;
    Ok(bool::from(output.ct_eq(expected.as_bytes())))
}

impl PasswordHasher {
    /// A hasher that runs at most `concurrency` hashes at once. Allocates its first set of
    /// Argon2 memory blocks and computes its dummy hash in it on the calling thread (one Argon2id
    /// hash, tens of milliseconds), once per cold start.
    pub fn new(concurrency: usize) -> Self {
        let mut memory = new_blocks();
        let dummy_hash = hash_into(&mut memory, uuid::Uuid::new_v4().as_bytes())
            .expect("hashing a random password with valid parameters succeeds");
        PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            memory: Arc::new(Mutex::new(vec![memory])),
            dummy_hash: dummy_hash.into(),
        }
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.run(move |memory| hash_into(memory, password.as_bytes()))
            .await
    }

    /// Whether `password` matches the PHC string `hash`. A malformed stored hash is an error,
    /// not a mismatch.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool> {
        let password = password.to_owned();
        let hash = hash.to_owned();
        self.run(move |memory| verify_into(memory, password.as_bytes(), &hash))
            .await
    }

    /// Spends the same work as [`verify`](Self::verify) against a hash that matches nothing.
    pub async fn verify_dummy(&self, password: &str) -> Result<()> {
        self.verify(password, &self.dummy_hash).await.map(|_| ())
    }

    /// Runs `work` on the blocking pool with a permit and the permit's memory blocks. Both stay
    /// with the blocking task until it ends, also when the caller stops waiting (a cancelled
    /// request), and the blocks go back to the pool even when `work` panics.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        let mut lease = MemoryLease::take(&self.memory, permit);
        tokio::task::spawn_blocking(move || work(lease.blocks()))
            .await
            .map_err(Error::internal)?
    }
}

/// A permit and the set of memory blocks it entitles to. Dropping it puts the blocks back into
/// the pool first and only then releases the permit, so whoever gets the permit next finds them.
struct MemoryLease {
    pool: Arc<Mutex<Vec<Box<[Block]>>>>,
    blocks: Option<Box<[Block]>>,
    _permit: OwnedSemaphorePermit,
}

impl MemoryLease {
    /// Takes a free set from the pool, if there is one.
    fn take(pool: &Arc<Mutex<Vec<Box<[Block]>>>>, permit: OwnedSemaphorePermit) -> Self {
        MemoryLease {
            pool: Arc::clone(pool),
            blocks: lock(pool).pop(),
            _permit: permit,
        }
    }

    /// The leased blocks; allocates them (on the blocking thread that calls this) when the pool
    /// had none free.
    fn blocks(&mut self) -> &mut [Block] {
        self.blocks.get_or_insert_with(new_blocks)
    }
}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        if let Some(blocks) = self.blocks.take() {
            lock(&self.pool).push(blocks);
        }
    }
}

/// The pool's lock. Nothing panics while holding it (only a pop or push runs under it), so a
/// poisoned lock still guards a consistent vector.
fn lock(pool: &Mutex<Vec<Box<[Block]>>>) -> std::sync::MutexGuard<'_, Vec<Box<[Block]>>> {
    pool.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    const PASSWORD: &str = "a long passphrase";

    /// Hashes with the plain argon2 crate (its own memory), as hashes stored before the hasher
    /// owned its memory were made.
    fn plain_hash(params: Params) -> String {
        use argon2::password_hash::PasswordHasher as _;
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(PASSWORD.as_bytes())
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn hashes_made_in_the_pooled_memory_verify_with_the_plain_argon2_crate() {
        let hasher = PasswordHasher::new(1);
        for _ in 0..2 {
            let hash = hasher.hash(PASSWORD).await.unwrap();
            let parsed = PasswordHash::new(&hash).unwrap();
            assert!(
                argon2()
                    .verify_password(PASSWORD.as_bytes(), &parsed)
                    .is_ok()
            );
            assert!(
                argon2()
                    .verify_password(b"another passphrase", &parsed)
                    .is_err()
            );
        }
    }

    #[tokio::test]
    async fn hashes_made_by_the_plain_argon2_crate_verify_in_the_pooled_memory() {
        let hasher = PasswordHasher::new(1);
        let hash = plain_hash(params());
        assert!(hasher.verify(PASSWORD, &hash).await.unwrap());
        assert!(!hasher.verify("another passphrase", &hash).await.unwrap());
        assert!(hasher.verify(PASSWORD, &hash).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_with_other_parameters_still_verify() {
        let hasher = PasswordHasher::new(1);
        let cases = [
            // Fits the pooled memory: recomputed there with the hash's own parameters.
            Params::new(8_192, 3, 1, None).unwrap(),
            Params::new(16_384, 1, 2, Some(16)).unwrap(),
            // Needs more than the pooled memory: verified by the argon2 crate.
            Params::new(24_576, 1, 1, None).unwrap(),
        ];
        for params in cases {
            let hash = plain_hash(params.clone());
            assert!(hasher.verify(PASSWORD, &hash).await.unwrap(), "{params:?}");
            assert!(
                !hasher.verify("another passphrase", &hash).await.unwrap(),
                "{params:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_malformed_hash_is_an_error() {
        let hasher = PasswordHasher::new(1);
        assert!(hasher.verify(PASSWORD, "not a PHC string").await.is_err());
    }

    #[tokio::test]
    async fn concurrent_and_abandoned_hashes_keep_every_memory_set() {
        let hasher = PasswordHasher::new(2);
        let hash: Arc<str> = hasher.hash(PASSWORD).await.unwrap().into();
        let mut checks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (hasher, hash) = (hasher.clone(), Arc::clone(&hash));
            let check = checks.spawn(async move { hasher.verify(PASSWORD, &hash).await });
            // A request that stops waiting leaves its hash running with its permit and memory.
            if i == 0 {
                check.abort();
            }
        }
        let (mut verified, mut cancelled) = (0, 0);
        while let Some(joined) = checks.join_next().await {
            match joined {
                Ok(result) => verified += usize::from(result.unwrap()),
                Err(error) => cancelled += usize::from(error.is_cancelled()),
            }
        }
        assert_eq!(verified + cancelled, 8);
        let _all = hasher.permits.acquire_many(2).await.unwrap();
        let sets = lock(&hasher.memory).len();
        assert!(
            (1..=2).contains(&sets),
            "{sets} sets of blocks for 2 permits"
        );
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
