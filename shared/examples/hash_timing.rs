//! Measures one Argon2id hash and one verification with Sesame's parameters, so the cost of a
//! login can be compared across build profiles: `cargo run --release -p shared --example
//! hash_timing`. A measurement, not a test: it asserts nothing.

use std::time::Instant;

use shared::password::PasswordHasher;

#[tokio::main]
async fn main() -> Result<(), shared::Error> {
    let hasher = PasswordHasher::new(1);
    let hash = hasher.hash("a long passphrase for timing").await?;
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        hasher.verify("a long passphrase for timing", &hash).await?;
    }
    let per_verify = started.elapsed() / rounds;
    println!("argon2id m=19456 t=2 p=1: {per_verify:?} per verification ({rounds} rounds)");
    Ok(())
}
