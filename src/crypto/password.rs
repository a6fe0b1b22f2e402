//! Password hashing with Argon2id (m = 19 MiB, t = 2, p = 1: OWASP's first recommendation).
//!
//! One hash costs ≈ 24 ms of CPU and ≈ 19.5 MiB of memory, so hashes never run on the async
//! workers. They run on a pool of one thread per core, which bounds both CPU and memory under
//! a flood of logins; queued hashes wait for a thread. The pool's threads run at a lower
//! scheduling priority (nice 10): when the machine is otherwise idle they get every cycle,
//! and when requests arrive the scheduler serves those first, so `/health`, refreshes and
//! bearer checks stay fast while logins saturate the cores.
//!
//! Verifying for an unknown user still costs one hash (against a fixed dummy), so response
//! time does not reveal which emails are registered.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};

type Job = Box<dyn FnOnce() + Send>;

/// What unknown users are verified against: a real Argon2id hash with the same parameters as
/// every other (so the verify costs the same), fixed here so that start-up computes none —
/// a start-up hash would leave its 19 MiB resident on an idle thread.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$/XGwlvJtH0aWSOdzlfJ1yg$65i1S47gCrJ4ObsldoRlTS6P7KJB/YCYfj6ZVfeOCJg";

/// Hashes and verifies passwords on its own low-priority threads.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
}

impl PasswordHasher {
    /// A pool of `threads` hashing threads; they end when the last handle is dropped.
    pub fn new(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("ovlt-argon2-{i}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(job) = next else { break };
                        // A panicking job must not take the thread (and pool capacity) with it.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .expect("cannot start a password-hashing thread");
        }
        Self { jobs }
    }

    /// Sized to the machine: one hashing thread per core.
    pub fn for_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of `password`.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.to_owned();
        self.run(move || hash_blocking(&password)).await?
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown user, or a user
    /// without a password) it verifies against the dummy and answers false, in the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<bool> {
        let password = password.to_owned();
        let (hash, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (DUMMY_HASH.to_string(), false),
        };
        let matched = self.run(move || verify_blocking(&password, &hash)).await??;
        Ok(real && matched)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| anyhow::anyhow!("the password-hashing pool has stopped"))?;
        result.await.map_err(|_| anyhow::anyhow!("a password-hashing job failed"))
    }
}

/// Linux keeps a nice value per thread: raise this one's so request threads go first.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread, no memory is shared with the kernel.
    unsafe {
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10) != 0 {
            tracing::debug!("cannot lower the priority of a password-hashing thread");
        }
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

    #[test]
    fn the_dummy_hash_has_the_parameters_of_real_hashes() {
        let real = hash_blocking("x").unwrap();
        let params = |h: &str| h.split('$').nth(3).map(str::to_string);
        assert_eq!(params(DUMMY_HASH), params(&real));
        assert!(verify_blocking("ovlt dummy password for unknown users", DUMMY_HASH).unwrap());
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_an_error_not_a_match() {
        let hasher = PasswordHasher::new(1);
        assert!(hasher.verify("anything", Some("not a phc string")).await.is_err());
    }
}
