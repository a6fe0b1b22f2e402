//! A short-lived cache of resolved tenants, so the common request does no database read.
//!
//! Entries live at most the configured TTL (≤ 5 s). A change made through this instance
//! drops the tenant's entries at once; a change made through another instance is seen here at
//! the next cache-epoch poll ([`crate::coherence`]), or at the latest when the entry expires.
//! Only tenants that exist are cached, so its size is bounded by the number of tenants; unknown
//! slugs always go to the database.
//!
//! A lookup that started before an invalidation must not write its (possibly stale) answer
//! back afterwards: callers take a [`Generation`] before reading the database and
//! [`TenantCache::insert`] refuses it once any invalidation has happened since.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::{Tenant, TenantId};
use crate::coherence::{Generation, Invalidations};
use crate::telemetry::cached_counter;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantKey {
    Id(TenantId),
    Slug(String),
}

#[derive(Debug)]
pub struct TenantCache {
    ttl: Duration,
    entries: RwLock<HashMap<TenantKey, (Tenant, Instant)>>,
    invalidations: Invalidations,
}

impl TenantCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: RwLock::new(HashMap::new()), invalidations: Invalidations::default() }
    }

    /// Take this before reading the database, and hand it to [`Self::insert`].
    pub fn generation(&self) -> Generation {
        self.invalidations.generation()
    }

    /// The cached tenant for `key` if it was stored less than the TTL before `now`.
    pub fn get(&self, key: &TenantKey, now: Instant) -> Option<Tenant> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let found = entries.get(key).filter(|(_, stored_at)| now.saturating_duration_since(*stored_at) < self.ttl);
        match found {
            Some((tenant, _)) => {
                cached_counter!("ovlt_cache_lookups_total", "cache" => "tenant", "result" => "hit").increment(1);
                Some(tenant.clone())
            }
            None => {
                cached_counter!("ovlt_cache_lookups_total", "cache" => "tenant", "result" => "miss").increment(1);
                None
            }
        }
    }

    /// Stores the tenant under both its id and its slug, unless an invalidation happened since
    /// `read_at` was taken (the row read may predate the change).
    pub fn insert(&self, tenant: &Tenant, read_at: Generation, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if !self.invalidations.unchanged_since(read_at) {
            return;
        }
        if entries.len() >= 1024 {
            entries.retain(|_, (_, stored_at)| now.saturating_duration_since(*stored_at) < self.ttl);
        }
        entries.insert(TenantKey::Id(tenant.id), (tenant.clone(), now));
        entries.insert(TenantKey::Slug(tenant.slug.clone()), (tenant.clone(), now));
    }

    /// Drops every entry of the tenant (its id and whatever slug it was cached under).
    pub fn invalidate(&self, id: TenantId) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.invalidations.bump();
        entries.retain(|_, (tenant, _)| tenant.id != id);
    }

    /// Drops every entry.
    pub fn invalidate_all(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.invalidations.bump();
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        Tenant::new("acme".into(), "Acme".into())
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = TenantCache::new(Duration::from_secs(5));
        let t = tenant();
        let start = Instant::now();
        cache.insert(&t, cache.generation(), start);
        let by_slug = TenantKey::Slug("acme".into());
        assert_eq!(cache.get(&by_slug, start + Duration::from_millis(4999)), Some(t.clone()));
        assert_eq!(cache.get(&TenantKey::Id(t.id), start + Duration::from_secs(4)), Some(t));
        assert_eq!(cache.get(&by_slug, start + Duration::from_secs(5)), None);
    }

    #[test]
    fn invalidation_drops_both_keys_at_once() {
        let cache = TenantCache::new(Duration::from_secs(5));
        let t = tenant();
        let now = Instant::now();
        cache.insert(&t, cache.generation(), now);
        cache.invalidate(t.id);
        assert_eq!(cache.get(&TenantKey::Slug("acme".into()), now), None);
        assert_eq!(cache.get(&TenantKey::Id(t.id), now), None);
    }

    #[test]
    fn a_lookup_that_began_before_an_invalidation_is_not_cached() {
        let cache = TenantCache::new(Duration::from_secs(5));
        let stale = tenant();
        let now = Instant::now();
        let read_at = cache.generation();

        cache.invalidate(stale.id);
        cache.insert(&stale, read_at, now);

        assert_eq!(cache.get(&TenantKey::Id(stale.id), now), None);
        cache.insert(&stale, cache.generation(), now);
        assert!(cache.get(&TenantKey::Id(stale.id), now).is_some());
    }
}
