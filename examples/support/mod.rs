//! What the benchmark examples share: a database to run on, the release server started as its
//! own process, and the load loop with its figures.

// Each example compiles this module on its own and uses a different part of it.
#![allow(dead_code)]

pub mod connections;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

pub const ADMIN_KEY: &str = "bench-admin-key-0123456789abcdefghijklmnop";

/// Where a benchmark runs: a SQLite file in `dir`, or a fresh PostgreSQL database created from
/// the admin URL (and dropped by [`Database::drop_if_postgres`]).
pub struct Database {
    pub url: String,
    pub backend: &'static str,
    postgres: Option<(String, String)>,
}

impl Database {
    pub async fn create(postgres_admin: Option<String>, dir: &std::path::Path, prefix: &str) -> anyhow::Result<Self> {
        let Some(admin) = postgres_admin else {
            return Ok(Self {
                url: format!("sqlite://{}/ovlt.db?mode=rwc", dir.display()),
                backend: "SQLite",
                postgres: None,
            });
        };
        let name = format!("{prefix}_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut conn).await?;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_string();
        Ok(Self { url: format!("{base}/{name}"), backend: "PostgreSQL", postgres: Some((admin, name)) })
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    pub async fn drop_if_postgres(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = self.postgres {
            let mut conn = sqlx::PgConnection::connect(&admin).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
                .execute(&mut conn)
                .await?;
        }
        Ok(())
    }
}

/// Starts `target/release/ovlt` (or `$OVLT_BIN`) on `database_url` with `env`, and waits for its
/// "listening" log line. Returns the child and `http://address`.
pub async fn start_server(
    database_url: &str,
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> anyhow::Result<(Child, String)> {
    start_server_with_log(database_url, dir, env, |_| {}).await
}

/// [`start_server`], handing every later JSON log line of the server to `on_line`.
pub async fn start_server_with_log(
    database_url: &str,
    dir: &std::path::Path,
    env: &[(&str, &str)],
    mut on_line: impl FnMut(Value) + Send + 'static,
) -> anyhow::Result<(Child, String)> {
    let binary = std::env::var("OVLT_BIN").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        format!("{target}/release/ovlt")
    });
    let mut server = tokio::process::Command::new(&binary)
        .env_clear()
        .current_dir(dir)
        .envs([
            ("OVLT_PORT", "0"),
            ("OVLT_LOG_FORMAT", "json"),
            ("RUST_LOG", "warn,ovlt::cli=info"),
            ("OVLT_ADMIN_KEY", ADMIN_KEY),
        ])
        .envs(env.iter().copied())
        .env("DATABASE_URL", database_url)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {binary} (build it with cargo build --release): {e}"))?;
    let mut lines = BufReader::new(server.stderr.take().expect("piped")).lines();
    while let Some(line) = lines.next_line().await? {
        if let Ok(entry) = serde_json::from_str::<Value>(&line)
            && entry["message"] == "listening"
        {
            let address = format!("http://{}", entry["address"].as_str().unwrap_or_default());
            // Keep draining the log so the server never blocks on a full pipe.
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                        on_line(entry);
                    }
                }
            });
            return Ok((server, address));
        }
    }
    anyhow::bail!("the server exited before listening")
}

/// One scenario's figures.
#[derive(Clone, Copy)]
pub struct Outcome {
    pub concurrency: usize,
    pub rate: f64,
    pub p50: f64,
    pub p99: f64,
    pub per_cpu_second: f64,
    /// The load generator's own CPU time per answered request, in microseconds.
    pub client_cpu_us: f64,
    pub errors: usize,
}

/// Runs `request(worker)` on `concurrency` workers for `seconds`, and reads the server
/// process's CPU time around it.
pub async fn measure<F, Fut>(pid: u32, seconds: u64, concurrency: usize, request: F) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let cpu_before = cpu_seconds(pid);
    let client_cpu_before = cpu_seconds(std::process::id());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let request = Arc::new(request);
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let request = request.clone();
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if request(worker).await {
                        latencies.push(sent.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for worker in workers {
        if let Ok((l, e)) = worker.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(pid) - cpu_before).max(1e-9);
    let client_cpu = cpu_seconds(std::process::id()) - client_cpu_before;
    let count = latencies.len() as f64;
    let (p50, p99) = percentiles(latencies);
    let client_cpu_us = client_cpu / count.max(1.0) * 1e6;
    Outcome { concurrency, rate: count / elapsed, p50, p99, per_cpu_second: count / cpu, client_cpu_us, errors }
}

/// p50 and p99 in milliseconds.
pub fn percentiles(mut latencies: Vec<Duration>) -> (f64, f64) {
    if latencies.is_empty() {
        return (0.0, 0.0);
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    (at(0.50), at(0.99))
}

/// utime + stime of a process, in seconds (/proc/<pid>/stat, clock ticks of 100 Hz).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

pub fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .map_or(0.0, |kb: f64| kb / 1024.0)
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
