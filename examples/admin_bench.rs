//! Administration at scale: seeds 1,000,000 users and 1,000,000 audit rows into one tenant,
//! then times `GET /users?page=` and `GET /audit-log?page=` over HTTP against the release
//! server (its own process). Prints p50/p99 per page depth.
//!
//!   cargo build --release && cargo run --release --example admin_bench
//!   cargo run --release --example admin_bench -- postgres://postgres@127.0.0.1:5432/postgres

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};

const ADMIN_KEY: &str = "bench-admin-key-0123456789abcdefghijklmnop";
const ROWS: i64 = 1_000_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let postgres = std::env::args().nth(1);
    let data = tempfile::tempdir()?;
    let (url, backend, pg_name) = match &postgres {
        None => (format!("sqlite://{}/ovlt.db?mode=rwc", data.path().display()), "SQLite", None),
        Some(admin) => {
            let name = format!("ovlt_admin_bench_{}", std::process::id());
            let mut conn = sqlx::PgConnection::connect(admin).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut conn).await?;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            (format!("{base}/{name}"), "PostgreSQL", Some(name))
        }
    };
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let mut server = tokio::process::Command::new(format!("{target}/release/ovlt"))
        .env_clear()
        .current_dir(data.path())
        .envs([
            ("OVLT_PORT", "0"),
            ("OVLT_LOG_FORMAT", "json"),
            ("RUST_LOG", "warn,ovlt::cli=info"),
            ("OVLT_ADMIN_KEY", ADMIN_KEY),
        ])
        .env("DATABASE_URL", &url)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let mut address = String::new();
    while let Some(line) = lines.next_line().await? {
        if let Ok(entry) = serde_json::from_str::<Value>(&line)
            && entry["message"] == "listening"
        {
            address = format!("http://{}", entry["address"].as_str().unwrap_or_default());
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
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
    let bool_true = if postgres.is_some() { "TRUE" } else { "1" };
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
    if postgres.is_some() {
        sqlx::raw_sql("ANALYZE").execute(&mut db).await?;
    }
    println!("seeded {ROWS} users and {ROWS} audit rows in {:.1} s", seeded.elapsed().as_secs_f64());

    println!("\n{backend}, 1,000,000 rows each, 30 sequential requests per row\n");
    println!("| request | p50 ms | p99 ms |");
    println!("|---|---|---|");
    for path in [
        "/users?page=1",
        "/users?page=100",
        "/users?page=5000",
        "/users?email=user4242&per_page=10",
        "/audit-log?page=1",
        "/audit-log?page=100",
        "/audit-log?page=5000",
        "/audit-log?action=login.succeeded&page=2",
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
    if let (Some(admin), Some(name)) = (postgres, pg_name) {
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
