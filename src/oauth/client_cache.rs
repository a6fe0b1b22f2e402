//! This instance's cache of what every token request reads: authenticated-client lookups (the
//! client with its secret digest, tenant, settings and grants) and the client tokens found
//! live (not revoked, their client not deleted). It turns a client_credentials grant and the
//! introspection of a client's token into requests without a database read.
//!
//! Coherence (docs/decisions/0008-coherent-caches.md): used only while the instance's view of
//! the cache epoch is current ([`Coherence::trusted`]); emptied by this instance's own writes at
//! once and by other instances' writes at the next epoch poll. Only positive answers are kept
//! (an unknown client or a revoked token always asks the database), entries expire after
//! [`TTL`] whatever happens, and the size is bounded.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::client_auth::AuthenticatedClient;
use crate::coherence::{Coherence, Generation, Invalidations};
use crate::telemetry::cached_counter;
use crate::tenants::TenantId;

/// The longest an entry lives, even with no change seen: a bound on any missed invalidation.
pub const TTL: Duration = Duration::from_secs(60);

/// A map of this many entries is emptied before the next insert (they refill on use).
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug)]
pub struct ClientCache {
    coherence: Arc<Coherence>,
    entries: RwLock<Entries>,
    invalidations: Invalidations,
}

#[derive(Debug, Default)]
struct Entries {
    /// By `client_id`.
    clients: HashMap<String, (AuthenticatedClient, Instant)>,
    /// By `jti`: client tokens known live, with their tenant.
    live_tokens: HashMap<String, (TenantId, Instant)>,
}

impl ClientCache {
    pub fn new(coherence: Arc<Coherence>) -> Self {
        Self { coherence, entries: RwLock::default(), invalidations: Invalidations::default() }
    }

    /// Whether answers read now may be stored (and so whether a lookup should read everything
    /// an entry holds).
    pub fn in_use(&self, now: Instant) -> bool {
        self.coherence.trusted(now)
    }

    /// Take this before reading the database; hand it to the `insert_*` call.
    pub fn generation(&self) -> Generation {
        self.invalidations.generation()
    }

    pub fn client(&self, client_id: &str, now: Instant) -> Option<AuthenticatedClient> {
        if !self.in_use(now) {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let found = entries.clients.get(client_id).filter(|(_, stored_at)| fresh(*stored_at, now));
        match found {
            Some((client, _)) => {
                cached_counter!("ovlt_cache_lookups_total", "cache" => "client", "result" => "hit").increment(1);
                Some(client.clone())
            }
            None => {
                cached_counter!("ovlt_cache_lookups_total", "cache" => "client", "result" => "miss").increment(1);
                None
            }
        }
    }

    pub fn insert_client(&self, client: &AuthenticatedClient, read_at: Generation, now: Instant) {
        self.insert(read_at, |entries| {
            bounded(&mut entries.clients).insert(client.client.id.clone(), (client.clone(), now));
        });
    }

    /// Whether the token `jti` of `tenant` was found live and nothing changed since.
    pub fn token_is_live(&self, tenant: TenantId, jti: &str, now: Instant) -> bool {
        if !self.in_use(now) {
            return false;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let live =
            entries.live_tokens.get(jti).is_some_and(|(owner, stored_at)| *owner == tenant && fresh(*stored_at, now));
        if live {
            cached_counter!("ovlt_cache_lookups_total", "cache" => "live_token", "result" => "hit").increment(1);
        } else {
            cached_counter!("ovlt_cache_lookups_total", "cache" => "live_token", "result" => "miss").increment(1);
        }
        live
    }

    pub fn insert_live_token(&self, tenant: TenantId, jti: &str, read_at: Generation, now: Instant) {
        self.insert(read_at, |entries| {
            bounded(&mut entries.live_tokens).insert(jti.to_string(), (tenant, now));
        });
    }

    /// Drops the live tokens of `tenant` (one of its tokens was revoked through this instance),
    /// or of every tenant (a revocation through another instance). Clients stay.
    pub fn forget_live_tokens(&self, tenant: Option<TenantId>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.invalidations.bump();
        match tenant {
            Some(tenant) => entries.live_tokens.retain(|_, (owner, _)| *owner != tenant),
            None => entries.live_tokens.clear(),
        }
    }

    pub fn forget_all(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.invalidations.bump();
        *entries = Entries::default();
    }

    /// Stores an answer read at `read_at`, unless anything was invalidated since (the answer
    /// may predate the change) or the cache is not in use.
    fn insert(&self, read_at: Generation, store: impl FnOnce(&mut Entries)) {
        // Trusted now, after the read: the lookup's own start may be a poll older.
        if !self.in_use(Instant::now()) {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.invalidations.unchanged_since(read_at) {
            store(&mut entries);
        }
    }
}

fn fresh(stored_at: Instant, now: Instant) -> bool {
    now.saturating_duration_since(stored_at) < TTL
}

/// The map, emptied first if it is full.
fn bounded<V>(map: &mut HashMap<String, V>) -> &mut HashMap<String, V> {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::system::CacheEpoch;

    fn cache_polled_at(now: Instant) -> ClientCache {
        let coherence = Arc::new(Coherence::default());
        coherence.observe(CacheEpoch { state: 1, revocations: 1 }, now);
        ClientCache::new(coherence)
    }

    #[test]
    fn a_live_token_is_remembered_for_its_tenant_only() {
        let now = Instant::now();
        let cache = cache_polled_at(now);
        let (tenant, other) = (TenantId::new(), TenantId::new());
        cache.insert_live_token(tenant, "jti-1", cache.generation(), now);
        assert!(cache.token_is_live(tenant, "jti-1", now));
        assert!(!cache.token_is_live(other, "jti-1", now));
        assert!(!cache.token_is_live(tenant, "jti-1", now + TTL));
    }

    #[test]
    fn an_answer_read_before_an_invalidation_is_not_stored() {
        let now = Instant::now();
        let cache = cache_polled_at(now);
        let tenant = TenantId::new();
        let read_at = cache.generation();
        cache.forget_live_tokens(Some(tenant));
        cache.insert_live_token(tenant, "jti-1", read_at, now);
        assert!(!cache.token_is_live(tenant, "jti-1", now));
    }

    #[test]
    fn forgetting_a_tenants_tokens_keeps_the_others() {
        let now = Instant::now();
        let cache = cache_polled_at(now);
        let (tenant, other) = (TenantId::new(), TenantId::new());
        cache.insert_live_token(tenant, "a", cache.generation(), now);
        cache.insert_live_token(other, "b", cache.generation(), now);
        cache.forget_live_tokens(Some(tenant));
        assert!(!cache.token_is_live(tenant, "a", now));
        assert!(cache.token_is_live(other, "b", now));
        cache.forget_live_tokens(None);
        assert!(!cache.token_is_live(other, "b", now));
    }

    #[test]
    fn nothing_is_answered_once_the_epoch_is_no_longer_current() {
        let now = Instant::now();
        let cache = cache_polled_at(now);
        let tenant = TenantId::new();
        cache.insert_live_token(tenant, "a", cache.generation(), now);
        let later = now + crate::coherence::TRUST_WINDOW + Duration::from_millis(5);
        assert!(!cache.token_is_live(tenant, "a", later));
        let never_polled = ClientCache::new(Arc::new(Coherence::default()));
        never_polled.insert_live_token(tenant, "b", never_polled.generation(), now);
        never_polled.coherence.observe(CacheEpoch { state: 1, revocations: 1 }, Instant::now());
        assert!(!never_polled.token_is_live(tenant, "b", Instant::now()), "nothing stored while untrusted");
    }
}
