//! Administration at scale: seeds 1,000,000 users and 1,000,000 audit rows into one tenant,
//! then times `GET /users?page=` and `GET /audit-log?page=` over HTTP against the release
//! server (its own process). Prints p50/p99 per page depth.
//!
//!   cargo build --release && cargo run --release --example admin_bench
//!   cargo run --release --example admin_bench -- postgres://postgres@127.0.0.1:5432/postgres

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

mod support;

use support::ADMIN_KEY;

const ROWS: i64 = 1_000_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let database = support::Database::create(std::env::args().nth(1), data.path(), "ovlt_admin_bench").await?;
    let (mut server, address) = support::start_server(&database.url, data.path(), &[]).await?;
    let (url, backend) = (database.url.clone(), database.backend);
    let client = reqwest::Client::new();
    let tenant: Value = client
        .post(format!("{address}/tenants"))
        .header("x-ovlt-admin-key", ADMIN_KEY)
        .json(&json!({ "slug": "big", "name": "Big" }))
        .send()
        .await?
        .json()
        .await?;
    let tenant_id = tenant["id"].as_str().unwrap_or_default().to_string();

    let seeded = Instant::now();
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&url).await?;
    let bool_true = if database.is_postgres() { "TRUE" } else { "1" };
    let users = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
         INSERT INTO users (id, tenant_id, email, email_normalized, name, password_hash, email_verified, status, \
         mfa_enabled, failed_logins, created_at, updated_at) \
         SELECT '00000000-0000-7000-8000-' || (100000000000 + i), '{tenant_id}', 'user' || i || '@bench.test', 'user' || i || '@bench.test', NULL, NULL, {bool_true}, \
         'active', {bool_true}, 0, 1700000000 + i, 1700000000 + i FROM n"
    );
    let audit = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
         INSERT INTO audit_log (id, tenant_id, actor_type, actor_id, action, target_type, target_id, created_at, updated_at) \
         SELECT 'a' || i, '{tenant_id}', 'user', 'u' || i, 'login.succeeded', 'session', 's' || i, 1700000000 + i, 1700000000 + i FROM n"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(users)).execute(&mut db).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(audit)).execute(&mut db).await?;
    if database.is_postgres() {
        // What autovacuum does after a bulk insert (its insert threshold, PostgreSQL ≥ 13): the
        // visibility map it sets is what lets the page walk stay inside the index.
        sqlx::raw_sql("VACUUM ANALYZE").execute(&mut db).await?;
    } else {
        // What ovlt's hourly upkeep does (Store::refresh_planner_statistics).
        sqlx::raw_sql("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002").execute(&mut db).await?;
    }
    println!("seeded {ROWS} users and {ROWS} audit rows in {:.1} s", seeded.elapsed().as_secs_f64());

    println!("\n{backend}, 1,000,000 rows each, 30 sequential requests per row\n");
    println!("| request | p50 ms | p99 ms |");
    println!("|---|---|---|");
    for path in [
        "/users?page=1",
        "/users?page=100",
        "/users?page=5000",
        "/users?page=10000",
        "/users?page=20000",
        "/users?status=active&page=5000",
        "/users?status=suspended",
        "/users?email=user4242&per_page=10",
        "/users?email=bench.test&per_page=10",
        "/audit-log?page=1",
        "/audit-log?page=100",
        "/audit-log?page=5000",
        "/audit-log?page=10000",
        "/audit-log?action=login.succeeded&page=2",
        "/audit-log?actor=u4242",
    ] {
        let mut latencies = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            let response = client
                .get(format!("{address}{path}"))
                .header("x-ovlt-admin-key", ADMIN_KEY)
                .header("x-ovlt-tenant-slug", "big")
                .send()
                .await?;
            anyhow::ensure!(response.status() == 200, "{path}: {}", response.status());
            let _ = response.bytes().await?;
            latencies.push(started.elapsed());
        }
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        println!("| GET {path} | {:.1} | {:.1} |", ms(at(0.5)), ms(at(0.99)));
    }
    server.kill().await.ok();
    drop(db);
    database.drop_if_postgres().await
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
