//! What the benchmark examples share: a database to run on, and the release server started as
//! its own process.

// Each example compiles this module on its own and uses a different part of it.
#![allow(dead_code)]

use std::process::Stdio;

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
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((server, address));
        }
    }
    anyhow::bail!("the server exited before listening")
}
