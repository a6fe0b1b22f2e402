//! Background upkeep: what each instance does on its own every minute (reload the signing keys,
//! forget idle rate-limit entries, refresh the live-session gauge) and the purge, which one
//! instance at a time runs under a lease in the database.
//!
//! The purge deletes rows past their end (expired or ended sessions with their refresh tokens
//! and codes, refresh tokens, reset and verification codes, revoked-token entries, MFA
//! challenges, sign-in attempt counts) a day after they ended, and audit rows older than a tenant's
//! `audit_retention_days`. It works in batches of [`BATCH_ROWS`], each its own short
//! transaction with a pause after it nine times as long, so requests keep their turn at the
//! database (and at SQLite's single writer); a run stops after [`RUN_BUDGET`] and the next one carries on.
//! Batches are idempotent, so a lapsed lease taken over mid-run does no harm.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::AppStateInner;
use crate::store::{Store, maintenance as statements};
use crate::tenants::TenantId;
use crate::types::Timestamp;

/// Rows deleted by one statement at most.
pub const BATCH_ROWS: i64 = 1_000;
/// How often an instance tries to take the purge lease.
const PURGE_EVERY: Duration = Duration::from_secs(10 * 60);
/// How long a purge run may go on before it leaves the rest to the next run.
const RUN_BUDGET: Duration = Duration::from_secs(60);
/// How long the lease holds: past the run budget, so it cannot lapse during a run, and short
/// enough that a crashed holder's lease is taken over at the next try.
const LEASE_SECONDS: i64 = 5 * 60;
/// After each batch the purge rests this many times as long as the batch took (at least
/// [`MIN_PAUSE`]): it holds the database (and SQLite's single writer) a tenth of the time at
/// most, so sign-ins keep their pace while a backlog drains (README "Data kept and purged").
const PAUSE_FACTOR: u32 = 9;
const MIN_PAUSE: Duration = Duration::from_millis(5);
const LEASE: &str = "purge";

/// What a purge run did.
#[derive(Debug, PartialEq, Eq)]
pub enum Purge {
    /// Another instance holds the lease: nothing was done.
    Skipped,
    Done {
        rows: u64,
        batches: u64,
        finished: bool,
    },
}

/// Takes the purge lease for `holder` and, if it got it, purges what ended before `now` less
/// the keep period, `batch_rows` at a time; gives the lease back when done.
pub async fn purge(store: &Store, holder: &str, now: Timestamp, batch_rows: i64) -> anyhow::Result<Purge> {
    let until = Timestamp(now.unix_seconds() + LEASE_SECONDS);
    if !statements::take_lease(store.pool(), LEASE, holder, now, until).await? {
        return Ok(Purge::Skipped);
    }
    let result = purge_holding_the_lease(store, now, batch_rows).await;
    statements::release_lease(store.pool(), LEASE, holder).await?;
    result
}

async fn purge_holding_the_lease(store: &Store, now: Timestamp, batch_rows: i64) -> anyhow::Result<Purge> {
    let mut run = Run { store, deadline: Instant::now() + RUN_BUDGET, batch_rows, rows: 0, batches: 0 };
    let cutoff = now.unix_seconds() - statements::KEEP_AFTER_EXPIRY_SECONDS;
    for (table, statement) in statements::EXPIRED {
        if !run.until_done(table, Batch::Expired { statement, cutoff }).await? {
            return Ok(run.outcome(false));
        }
    }
    for (tenant_id, json) in statements::settings_with_audit_retention(store.pool()).await? {
        let Ok(tenant) = TenantId::parse(&tenant_id) else { continue };
        let Ok(settings) = crate::settings::parse(tenant, Some(&json)) else { continue };
        let Some(days) = settings.audit_retention_days else { continue };
        let cutoff = now.unix_seconds() - days * 86_400;
        if !run.until_done("audit_log", Batch::Audit { tenant, cutoff }).await? {
            return Ok(run.outcome(false));
        }
    }
    Ok(run.outcome(true))
}

/// One kind of batch: rows of an [`statements::EXPIRED`] table, or a tenant's old audit rows.
#[derive(Clone, Copy)]
enum Batch {
    Expired { statement: &'static str, cutoff: i64 },
    Audit { tenant: TenantId, cutoff: i64 },
}

struct Run<'a> {
    store: &'a Store,
    deadline: Instant,
    batch_rows: i64,
    rows: u64,
    batches: u64,
}

impl Run<'_> {
    /// Deletes batches until one comes back short (true) or the run's time is up (false).
    async fn until_done(&mut self, table: &'static str, batch: Batch) -> sqlx::Result<bool> {
        loop {
            let started = Instant::now();
            let mut tx = self.store.begin().await?;
            let deleted = match batch {
                Batch::Expired { statement, cutoff } => {
                    statements::delete_expired_batch(&mut *tx, statement, cutoff, self.batch_rows).await?
                }
                Batch::Audit { tenant, cutoff } => {
                    statements::delete_old_audit_batch(&mut *tx, tenant, cutoff, self.batch_rows).await?
                }
            };
            tx.commit().await?;
            self.rows += deleted;
            self.batches += 1;
            metrics::counter!("ovlt_purged_rows_total", "table" => table).increment(deleted);
            if deleted < self.batch_rows as u64 {
                return Ok(true);
            }
            if Instant::now() >= self.deadline {
                return Ok(false);
            }
            tokio::time::sleep((started.elapsed() * PAUSE_FACTOR).max(MIN_PAUSE)).await;
        }
    }

    fn outcome(&self, finished: bool) -> Purge {
        Purge::Done { rows: self.rows, batches: self.batches, finished }
    }
}

/// Starts the upkeep of this instance; it ends when the application state is dropped.
pub fn spawn(state: &Arc<AppStateInner>) {
    let weak = Arc::downgrade(state);
    // Who holds the purge lease: this process, for as long as it runs.
    let holder = uuid::Uuid::now_v7().to_string();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        let mut last_purge: Option<Instant> = None;
        for minute in 0u64.. {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { break };
            if minute > 0
                && let Err(e) = state.keys.reload().await
            {
                tracing::warn!(error = format!("{e:#}"), "cannot reload signing keys");
            }
            state.rate_limiter.forget_idle_clients();
            match statements::count_live_sessions(state.store.pool(), Timestamp::now()).await {
                Ok(live) => metrics::gauge!("ovlt_sessions_active").set(live as f64),
                Err(e) => tracing::debug!(error = %e, "cannot count the live sessions"),
            }
            if minute > 0 && last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                last_purge = Some(Instant::now());
                run_purge(&state.store, &holder).await;
            }
            if minute % 60 == 1
                && let Err(e) = state.store.refresh_planner_statistics().await
            {
                tracing::warn!(error = %e, "cannot refresh the query planner's statistics");
            }
        }
    });
}

async fn run_purge(store: &Store, holder: &str) {
    let started = Instant::now();
    match purge(store, holder, Timestamp::now(), BATCH_ROWS).await {
        Ok(Purge::Skipped) => tracing::debug!("another instance is purging"),
        Ok(Purge::Done { rows, batches, finished }) => tracing::info!(
            rows,
            batches,
            finished,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "purged ended sessions, expired tokens and codes, and audit rows past their retention"
        ),
        Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot purge expired rows"),
    }
}
