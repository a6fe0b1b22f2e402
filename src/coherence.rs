//! Keeping this instance's caches true to the database that several instances share
//! (docs/decisions/0008-coherent-caches.md).
//!
//! Every write to cached state bumps a counter in the database, by trigger, in the writer's
//! transaction (`cache_epoch`, migration 0011; revoked tokens have a counter of their own). Each
//! instance reads them every [`POLL_INTERVAL`] and empties its caches when one moved — all of
//! them for a change of state, only the live client tokens for a revocation — so a change
//! through another instance is seen within one poll; a change through this instance empties
//! them at once (the writer calls [`crate::app::AppStateInner::forget_cached_state`] after its
//! commit). A cache is used only while the epoch was read within [`TRUST_WINDOW`]: an instance
//! that cannot read it (database unreachable, poller stalled) falls back to the database on
//! every request rather than answer from state it can no longer vouch for.
//!
//! A lookup that read the database before an invalidation must not store its (possibly stale)
//! answer afterwards: caches count their invalidations ([`Invalidations`]); a lookup takes a
//! [`Generation`] before it reads and its answer is stored only if none happened since.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::{AnyConnection, Connection};

use crate::app::AppStateInner;
use crate::store;
use crate::store::system::CacheEpoch;

/// How often each instance reads the cache epoch: the longest a change made through another
/// instance can go unseen here.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Caches are trusted only while the last epoch read was sent this recently (three polls): an
/// instance that cannot read the epoch stops answering from its caches this soon.
pub const TRUST_WINDOW: Duration = Duration::from_millis(300);

/// Whether this instance's view of the cache epoch is current.
#[derive(Debug)]
pub struct Coherence {
    started: Instant,
    /// Milliseconds after `started` at which the last successful poll was sent, plus one (0: never).
    last_poll: AtomicU64,
    /// The epoch that poll read: its state and revocation counters.
    state: AtomicI64,
    revocations: AtomicI64,
}

/// What moved since the last poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    Nothing,
    Revocations,
    State,
}

impl Default for Coherence {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            last_poll: AtomicU64::new(0),
            state: AtomicI64::new(i64::MIN),
            revocations: AtomicI64::new(i64::MIN),
        }
    }
}

impl Coherence {
    /// Whether a cached answer may be used (and a fresh one stored) at `now`.
    pub fn trusted(&self, now: Instant) -> bool {
        match self.last_poll.load(Ordering::Acquire) {
            0 => false,
            polled => self.millis(now).saturating_sub(polled) <= TRUST_WINDOW.as_millis() as u64,
        }
    }

    /// Whether a poll sent at or after `at` has been read: from then on, the caches reflect
    /// every write committed before `at`.
    pub fn polled_since(&self, at: Instant) -> bool {
        let polled = self.last_poll.load(Ordering::Acquire);
        polled != 0 && polled > self.millis(at)
    }

    /// Records a poll that read `epoch` at `now`. When the epoch moved, the caller empties the
    /// caches first: a lookup may trust them again only after that.
    pub(crate) fn observe(&self, epoch: CacheEpoch, now: Instant) {
        self.state.store(epoch.state, Ordering::Release);
        self.revocations.store(epoch.revocations, Ordering::Release);
        self.last_poll.store(self.millis(now), Ordering::Release);
    }

    /// Milliseconds from start-up to `now`, plus one so that 0 can mean "never".
    fn millis(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.started).as_millis() as u64 + 1
    }

    fn moved(&self, epoch: CacheEpoch) -> Moved {
        if self.state.load(Ordering::Acquire) != epoch.state {
            Moved::State
        } else if self.revocations.load(Ordering::Acquire) != epoch.revocations {
            Moved::Revocations
        } else {
            Moved::Nothing
        }
    }
}

/// A cache's invalidation count when a database lookup began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

/// Counts a cache's invalidations (see the module docs).
#[derive(Debug, Default)]
pub struct Invalidations(AtomicU64);

impl Invalidations {
    /// Take this before reading the database, and store the answer only if it is still current.
    pub fn generation(&self) -> Generation {
        Generation(self.0.load(Ordering::Acquire))
    }

    /// Counts one invalidation; call it while holding the cache's write lock.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    pub fn unchanged_since(&self, read_at: Generation) -> bool {
        self.generation() == read_at
    }
}

/// Reads the cache epoch every [`POLL_INTERVAL`] until the application state is dropped, on a
/// connection of its own outside the pool: a pool saturated by requests must not delay the
/// poll (the caches would be bypassed just when they help most), and the poll must not take a
/// pooled connection from requests (a pool may have a single one).
pub fn spawn_poller(state: &Arc<AppStateInner>) {
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut connection: Option<AnyConnection> = None;
        let mut failing = false;
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { break };
            if state.store.pool().is_closed() {
                break; // shutting down
            }
            // The read vouches for the caches from when it was sent, not from when it returned.
            let sent_at = Instant::now();
            let read = async {
                let connection = match &mut connection {
                    Some(connection) => connection,
                    None => connection.insert(AnyConnection::connect(&state.config.effective_database_url()).await?),
                };
                store::system::cache_epoch(&mut *connection).await
            };
            match read.await {
                Ok(epoch) => {
                    match state.coherence.moved(epoch) {
                        Moved::State => {
                            metrics::counter!("ovlt_cache_epoch_moves_total", "kind" => "state").increment(1);
                            state.forget_cached_state();
                        }
                        Moved::Revocations => {
                            metrics::counter!("ovlt_cache_epoch_moves_total", "kind" => "revocations").increment(1);
                            state.clients.forget_live_tokens(None);
                        }
                        Moved::Nothing => {}
                    }
                    state.coherence.observe(epoch, sent_at);
                    if std::mem::take(&mut failing) {
                        tracing::info!("reading the cache epoch again: caches back in use");
                    }
                }
                Err(e) => {
                    connection = None;
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(error = %e, "cannot read the cache epoch: caches unused until it can be read");
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_trusted_before_the_first_poll() {
        let coherence = Coherence::default();
        assert!(!coherence.trusted(Instant::now()));
    }

    #[test]
    fn trust_lasts_one_window_after_a_poll() {
        let coherence = Coherence::default();
        let polled = coherence.started + Duration::from_secs(10);
        let epoch = CacheEpoch { state: 7, revocations: 3 };
        assert_eq!(coherence.moved(epoch), Moved::State, "any epoch moves the unknown one");
        coherence.observe(epoch, polled);
        assert!(coherence.trusted(polled + TRUST_WINDOW));
        assert!(!coherence.trusted(polled + TRUST_WINDOW + Duration::from_millis(2)));
        assert_eq!(coherence.moved(epoch), Moved::Nothing);
        assert_eq!(coherence.moved(CacheEpoch { revocations: 4, ..epoch }), Moved::Revocations);
        assert_eq!(coherence.moved(CacheEpoch { state: 8, revocations: 4 }), Moved::State);
    }

    #[test]
    fn a_generation_taken_before_a_bump_is_stale() {
        let invalidations = Invalidations::default();
        let read_at = invalidations.generation();
        assert!(invalidations.unchanged_since(read_at));
        invalidations.bump();
        assert!(!invalidations.unchanged_since(read_at));
    }
}
