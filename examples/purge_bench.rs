//! The background purge against a backlog, and what it costs the sign-ins running beside it:
//! logins per second with no purge, then while one instance purges 100,000 ended sessions with
//! their refresh tokens (the rate the purge reaches is printed too).
//!
//!   cargo build --release && cargo run --release --example purge_bench                 # SQLite
//!   cargo run --release --example purge_bench -- postgres://postgres@127.0.0.1/postgres  # PostgreSQL

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

// The server's allocator, as in the other benchmarks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod support;

use support::ADMIN_KEY;

const PASSWORD: &str = "Bench-pass-1234!";
const BACKLOG: i64 = 100_000;
const SECONDS: u64 = 10;
const CONCURRENCY: usize = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let database = support::Database::create(std::env::args().nth(1), data.path(), "ovlt_purge_bench").await?;
    let (mut server, address) =
        support::start_server(&database.url, data.path(), &[("OVLT_RATE_LIMIT_PER_MINUTE", "0")]).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    client
        .post(format!("{address}/tenants"))
        .header("x-ovlt-admin-key", ADMIN_KEY)
        .json(&json!({ "slug": "bench", "name": "Bench" }))
        .send()
        .await?
        .error_for_status()?;
    let user: Value = client
        .post(format!("{address}/auth/register"))
        .header("x-ovlt-tenant-slug", "bench")
        .json(&json!({ "email": "user@bench.test", "password": PASSWORD }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;

    // The purging instance: this process, on the same database, as a second instance would be.
    let store = ovlt::store::Store::connect(&database.url, 4, Duration::from_secs(3)).await?;
    seed_backlog(&store, user["id"].as_str().unwrap_or_default()).await?;

    let idle =
        logins_per_second(&client, &address, async { tokio::time::sleep(Duration::from_secs(SECONDS)).await }).await;
    let started = Instant::now();
    let purged = Arc::new(AtomicU64::new(0));
    let purging = {
        let purged = purged.clone();
        async move {
            let now = ovlt::types::Timestamp::now();
            match ovlt::maintenance::purge(&store, "purge-bench", now, ovlt::maintenance::BATCH_ROWS).await {
                Ok(ovlt::maintenance::Purge::Done { rows, .. }) => purged.store(rows, Ordering::Release),
                other => eprintln!("purge: {other:?}"),
            }
        }
    };
    let during = logins_per_second(&client, &address, purging).await;
    let elapsed = started.elapsed().as_secs_f64();
    let rows = purged.load(Ordering::Acquire);

    println!("{} · {CONCURRENCY} concurrent logins", database.backend);
    println!("| | logins/s |");
    println!("|---|---|");
    println!("| no purge ({SECONDS} s) | {idle:.1} |");
    println!("| during the purge ({elapsed:.1} s) | {during:.1} |");
    println!("purge: {rows} rows in {elapsed:.1} s = {:.0} rows/s", rows as f64 / elapsed);
    server.kill().await?;
    database.drop_if_postgres().await
}

/// Logins per second from [`CONCURRENCY`] clients until `window` completes.
async fn logins_per_second(client: &reqwest::Client, address: &str, window: impl Future<Output = ()>) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, stop, done) =
                (client.clone(), format!("{address}/auth/login"), stop.clone(), done.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Acquire) {
                    let answer = client
                        .post(&url)
                        .header("x-ovlt-tenant-slug", "bench")
                        .json(&json!({ "email": "user@bench.test", "password": PASSWORD }))
                        .send()
                        .await;
                    if answer.is_ok_and(|a| a.status() == 200) {
                        done.fetch_add(1, Ordering::AcqRel);
                    }
                }
            })
        })
        .collect();
    window.await;
    stop.store(true, Ordering::Release);
    let seconds = started.elapsed().as_secs_f64();
    for worker in workers {
        let _ = worker.await;
    }
    done.load(Ordering::Acquire) as f64 / seconds
}

/// [`BACKLOG`] sessions of `user` that ended two days ago, each with a refresh token.
async fn seed_backlog(store: &ovlt::store::Store, user: &str) -> anyhow::Result<()> {
    let ended = ovlt::types::Timestamp::now().unix_seconds() - 2 * 86_400;
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, user_id, amr, auth_time, last_seen_at, expires_at, revoked_at, \
                               created_at, updated_at) \
         WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < $3) \
         SELECT 'seed-s-' || i, u.tenant_id, u.id, '[\"pwd\"]', $2, $2, $2 + 86400, $2, $2, $2 \
         FROM n CROSS JOIN users u WHERE u.id = $1",
    )
    .bind(user)
    .bind(ended)
    .bind(BACKLOG)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (id, tenant_id, session_id, token_hash, expires_at, created_at, updated_at) \
         SELECT 'seed-r-' || s.id, s.tenant_id, s.id, 'seed-h-' || s.id, s.expires_at, s.created_at, s.created_at \
         FROM sessions s WHERE s.id LIKE 'seed-s-%'",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
