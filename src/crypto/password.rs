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
//!
//! The queue is bounded ([`QUEUE_PER_THREAD`] jobs a thread, about 0.8 s of work): a flood of
//! logins beyond what the cores can hash is answered 503 `unavailable` at once instead of
//! growing a backlog that keeps the machine busy long after the flood. A sign-in takes its
//! place ([`HashSlot`]) before it records anything, so a refusal for load never counts as a
//! failed attempt. A job whose requester has gone (timed out, disconnected) is skipped, and no
//! password is longer than [`MAX_PASSWORD_BYTES`].

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};

use crate::error::ApiError;

/// Jobs that may wait per hashing thread.
pub const QUEUE_PER_THREAD: usize = 32;
/// The longest password accepted anywhere (a login, a new password, a current password).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// Why a password could not be hashed or verified.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password must be at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("too many password checks at once; try again shortly")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<PasswordError> for ApiError {
    fn from(err: PasswordError) -> Self {
        match err {
            PasswordError::TooLong => ApiError::invalid_payload(PasswordError::TooLong.to_string()),
            PasswordError::Busy => ApiError::Unavailable("too many password checks at once; try again shortly"),
            PasswordError::Failed(cause) => ApiError::internal(cause),
        }
    }
}

/// Hashing threads sized to the machine: one per core.
pub fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Refuses a password longer than [`MAX_PASSWORD_BYTES`] before any work is done for it.
pub fn check_length(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES { Err(PasswordError::TooLong) } else { Ok(()) }
}

/// What unknown users are verified against: a real Argon2id hash with the same parameters as
/// every other (so the verify costs the same), fixed here so that start-up computes none —
/// a start-up hash would leave its 19 MiB resident on an idle thread.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$/XGwlvJtH0aWSOdzlfJ1yg$65i1S47gCrJ4ObsldoRlTS6P7KJB/YCYfj6ZVfeOCJg";

/// The metric of how long a password check waited for a hashing thread.
pub const HASH_WAIT_SECONDS: &str = "ovlt_password_hash_wait_seconds";

/// Hashes and verifies passwords on its own low-priority threads.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
    /// A permit per job running or waiting: the bound on the queue.
    places: Arc<tokio::sync::Semaphore>,
    capacity: usize,
}

/// A place in the hashing queue, held until the job is done (or skipped).
pub struct HashSlot(
    #[allow(dead_code, reason = "held for its drop: the place frees then")] tokio::sync::OwnedSemaphorePermit,
);

impl PasswordHasher {
    /// A pool of `threads` hashing threads with room for [`QUEUE_PER_THREAD`] waiting jobs each;
    /// the threads end when the last handle is dropped.
    pub fn new(threads: usize) -> Self {
        Self::with_queue(threads, threads.max(1) * QUEUE_PER_THREAD)
    }

    /// A pool of `threads` hashing threads and room for `queue` waiting jobs.
    pub fn with_queue(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        let capacity = threads + queue;
        let places = Arc::new(tokio::sync::Semaphore::new(capacity));
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
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
        Self { jobs, places, capacity }
    }

    /// Password checks running or waiting now (for the metrics).
    pub fn in_flight(&self) -> usize {
        self.capacity - self.places.available_permits()
    }

    /// Takes a place in the queue, or answers `Busy` at once when it is full.
    pub fn reserve(&self) -> Result<HashSlot, PasswordError> {
        self.places.clone().try_acquire_owned().map(HashSlot).map_err(|_| PasswordError::Busy)
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        check_length(password)?;
        let password = password.to_owned();
        Ok(self.run(self.reserve()?, move || hash_blocking(&password)).await??)
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown user, or a user
    /// without a password) it verifies against the dummy and answers false, in the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, PasswordError> {
        check_length(password)?;
        self.verify_in(self.reserve()?, password, stored).await
    }

    /// [`verify`](Self::verify) in a place taken beforehand.
    pub async fn verify_in(&self, slot: HashSlot, password: &str, stored: Option<&str>) -> Result<bool, PasswordError> {
        check_length(password)?;
        let password = password.to_owned();
        let (hash, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (DUMMY_HASH.to_string(), false),
        };
        let matched = self.run(slot, move || verify_blocking(&password, &hash)).await??;
        Ok(real && matched)
    }

    async fn run<T: Send + 'static>(
        &self,
        slot: HashSlot,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let queued = std::time::Instant::now();
        let job: Job = Box::new(move || {
            metrics::histogram!(HASH_WAIT_SECONDS).record(queued.elapsed().as_secs_f64());
            // Nobody waits any more (the request timed out or its client left): skip the hash.
            if !done.is_closed() {
                let _ = done.send(work());
            }
            drop(slot);
        });
        self.jobs.send(job).map_err(|_| anyhow::anyhow!("the password-hashing pool has stopped"))?;
        result.await.map_err(|_| anyhow::anyhow!("a password-hashing job failed").into())
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
    async fn a_full_queue_refuses_at_once_instead_of_growing() {
        // One thread and room for one waiting job: of three jobs sent together, at most two
        // are taken (one running, one waiting).
        let hasher = PasswordHasher::with_queue(1, 1);
        let (a, b, c) =
            tokio::join!(hasher.verify("one", None), hasher.verify("two", None), hasher.verify("three", None));
        let busy = [a, b, c].into_iter().filter(|r| matches!(r, Err(PasswordError::Busy))).count();
        assert!(busy >= 1, "a full queue must refuse");
        // Once drained, it takes work again.
        assert!(!hasher.verify("four", None).await.unwrap());
    }

    #[tokio::test]
    async fn an_overlong_password_is_refused_before_hashing() {
        let hasher = PasswordHasher::new(1);
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(hasher.verify(&long, None).await, Err(PasswordError::TooLong)));
        assert!(matches!(hasher.hash(&long).await, Err(PasswordError::TooLong)));
        assert!(hasher.hash(&"x".repeat(MAX_PASSWORD_BYTES)).await.is_ok());
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_an_error_not_a_match() {
        let hasher = PasswordHasher::new(1);
        assert!(hasher.verify("anything", Some("not a phc string")).await.is_err());
    }
}
