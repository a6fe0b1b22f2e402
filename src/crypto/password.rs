//! Password hashing with Argon2id (m = 19 MiB, t = 2, p = 1: OWASP's first recommendation).
//!
//! One hash costs ≈ 24 ms of CPU and ≈ 19.5 MiB of memory, so hashes never run on the async
//! workers: they go to the blocking pool behind a semaphore sized to the cores, which bounds
//! both CPU and memory under a flood of logins while `/health` and token refreshes stay fast.
//! Verifying for an unknown user still costs one hash (against a fixed dummy), so response time
//! does not reveal which emails are registered.

use std::sync::Arc;

use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};
use tokio::sync::Semaphore;

/// Hashes and verifies passwords off the async runtime, at most `permits` at a time.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    pub fn new(permits: usize) -> Self {
        // Same parameters as real hashes, so a dummy verify costs exactly as much.
        let dummy_hash = hash_blocking("ovlt dummy password for unknown users").expect("argon2 hashes");
        Self { permits: Arc::new(Semaphore::new(permits.max(1))), dummy_hash: dummy_hash.into() }
    }

    /// Sized to the machine: one hash per core.
    pub fn for_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of `password`.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown user, or a user
    /// without a password) it verifies against the dummy and answers false, in the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<bool> {
        let _permit = self.permits.acquire().await?;
        let password = password.to_owned();
        let (hash, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        let matched = tokio::task::spawn_blocking(move || verify_blocking(&password, &hash)).await??;
        Ok(real && matched)
    }
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hash failed: {e}"))
}

fn verify_blocking(password: &str, stored: &str) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(stored).map_err(|e| anyhow::anyhow!("stored password hash is malformed: {e}"))?;
    Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password_and_uses_argon2id() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher.hash("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("correct horse batter", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("correct horse battery", None).await.unwrap());
    }
}
