//! Database work per operation: how many statements ovlt sends and how many rows it writes for
//! one login, refresh, client_credentials grant, introspection and `GET /users/me`, counted
//! from the server's own statement log (sqlx logs each statement it runs, with the rows it
//! affected) and, on PostgreSQL, from the table statistics (which include rows the count
//! triggers write). The figures of docs/decisions/0012-growing-past-one-primary.md.
//!
//!   cargo build --release && cargo run --release --example statements                 # SQLite
//!   cargo run --release --example statements -- postgres://postgres@127.0.0.1/postgres  # PostgreSQL

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Connection;

mod support;

use support::ADMIN_KEY;

const PASSWORD: &str = "Bench-pass-1234!";
const OPERATIONS: usize = 50;

/// Statements seen in the server's log since the last [`Log::take`].
#[derive(Default)]
struct Log {
    statements: u64,
    rows_written: u64,
}

impl Log {
    fn record(&mut self, entry: &Value) {
        if entry["target"] != "sqlx::query" {
            return;
        }
        let statement = entry["db.statement"].as_str().or(entry["summary"].as_str()).unwrap_or_default();
        let verb = statement.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        // The cache-epoch poll and the upkeep's gauge run on their own clock, not per operation.
        if statement.contains("cache_epoch") || statement.contains("COALESCE(revoked_at, expires_at) >") {
            return;
        }
        // (sqlx does not log BEGIN and COMMIT.)
        self.statements += 1;
        if matches!(verb.as_str(), "INSERT" | "UPDATE" | "DELETE") {
            self.rows_written += entry["rows_affected"].as_u64().unwrap_or_default();
        }
    }

    fn take(&mut self) -> Log {
        std::mem::take(self)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let database = support::Database::create(std::env::args().nth(1), data.path(), "ovlt_statements").await?;
    let log = Arc::new(Mutex::new(Log::default()));
    let sink = log.clone();
    let (mut server, address) = support::start_server_with_log(
        &database.url,
        data.path(),
        &[("OVLT_RATE_LIMIT_PER_MINUTE", "0"), ("RUST_LOG", "warn,ovlt::cli=info,sqlx::query=debug")],
        move |entry| sink.lock().unwrap().record(&entry),
    )
    .await?;
    let client = reqwest::Client::new();
    let admin = |path: &str, body: Value| {
        client
            .post(format!("{address}{path}"))
            .header("x-ovlt-admin-key", ADMIN_KEY)
            .header("x-ovlt-tenant-slug", "bench")
            .json(&body)
            .send()
    };
    admin("/tenants", json!({ "slug": "bench", "name": "Bench" })).await?.error_for_status()?;
    let registered: Value = admin(
        "/clients",
        json!({ "name": "Bench service", "grant_types": ["client_credentials"], "scopes": ["invoices:read"] }),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let (id, secret) = (registered["client_id"].as_str().unwrap_or_default(), registered["client_secret"].as_str());
    let tenant = |request: reqwest::RequestBuilder| request.header("x-ovlt-tenant-slug", "bench");
    tenant(client.post(format!("{address}/auth/register")))
        .json(&json!({ "email": "user@bench.test", "password": PASSWORD }))
        .send()
        .await?
        .error_for_status()?;
    let login = || {
        tenant(client.post(format!("{address}/auth/login")))
            .json(&json!({ "email": "user@bench.test", "password": PASSWORD }))
            .send()
    };
    let first: Value = login().await?.error_for_status()?.json().await?;
    let access = first["access_token"].as_str().unwrap_or_default().to_string();
    let mut refresh = first["refresh_token"].as_str().unwrap_or_default().to_string();
    let grant: Value = client
        .post(format!("{address}/oauth/token"))
        .basic_auth(id, secret)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let client_token = grant["access_token"].as_str().unwrap_or_default().to_string();
    let mut stats = TableStats::connect(&database).await?;
    settle(&log, &mut stats).await?;

    println!(
        "| operation ({}, {OPERATIONS} each) | statements | rows written by ovlt | rows written in all |",
        database.backend
    );
    println!("|---|---|---|---|");
    let report = |name: &str, done: Log, written_in_all: Option<u64>| {
        let per = |n: u64| n as f64 / OPERATIONS as f64;
        let in_all = written_in_all.map_or("–".to_string(), |n| format!("{:.1}", per(n)));
        println!("| {name} | {:.1} | {:.1} | {in_all} |", per(done.statements), per(done.rows_written));
    };

    for _ in 0..OPERATIONS {
        login().await?.error_for_status()?;
    }
    let (done, all) = settle(&log, &mut stats).await?;
    report("POST /auth/login", done, all);

    for _ in 0..OPERATIONS {
        let pair: Value = tenant(client.post(format!("{address}/auth/refresh")))
            .json(&json!({ "refresh_token": refresh }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        refresh = pair["refresh_token"].as_str().unwrap_or_default().to_string();
    }
    let (done, all) = settle(&log, &mut stats).await?;
    report("POST /auth/refresh", done, all);

    for _ in 0..OPERATIONS {
        client
            .post(format!("{address}/oauth/token"))
            .basic_auth(id, secret)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?
            .error_for_status()?;
    }
    let (done, all) = settle(&log, &mut stats).await?;
    report("POST /oauth/token (client_credentials)", done, all);

    for _ in 0..OPERATIONS {
        client
            .post(format!("{address}/oauth/introspect"))
            .basic_auth(id, secret)
            .form(&[("token", &client_token)])
            .send()
            .await?
            .error_for_status()?;
    }
    let (done, all) = settle(&log, &mut stats).await?;
    report("POST /oauth/introspect", done, all);

    for _ in 0..OPERATIONS {
        tenant(client.get(format!("{address}/users/me"))).bearer_auth(&access).send().await?.error_for_status()?;
    }
    let (done, all) = settle(&log, &mut stats).await?;
    report("GET /users/me", done, all);

    server.kill().await?;
    drop(stats);
    database.drop_if_postgres().await
}

/// Waits until the server's log and PostgreSQL's statistics have caught up with the operations
/// just sent, then takes what they counted since the last call.
async fn settle(log: &Mutex<Log>, stats: &mut TableStats) -> anyhow::Result<(Log, Option<u64>)> {
    // The log is read from a pipe; PostgreSQL flushes an idle backend's statistics within 10 s.
    tokio::time::sleep(if stats.is_some() { Duration::from_secs(11) } else { Duration::from_millis(500) }).await;
    let written = stats.rows_written_since_last().await?;
    Ok((log.lock().unwrap().take(), written))
}

/// Rows inserted, updated and deleted in the benchmark database, from `pg_stat_user_tables`
/// (PostgreSQL only): a connection and the total last read.
struct TableStats(Option<(sqlx::PgConnection, i64)>);

impl TableStats {
    async fn connect(database: &support::Database) -> anyhow::Result<Self> {
        if !database.is_postgres() {
            return Ok(Self(None));
        }
        Ok(Self(Some((sqlx::PgConnection::connect(&database.url).await?, 0))))
    }

    fn is_some(&self) -> bool {
        self.0.is_some()
    }

    async fn rows_written_since_last(&mut self) -> anyhow::Result<Option<u64>> {
        let Some((connection, last)) = &mut self.0 else { return Ok(None) };
        sqlx::query("SELECT pg_stat_clear_snapshot()").execute(&mut *connection).await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0)::BIGINT FROM pg_stat_user_tables",
        )
        .fetch_one(&mut *connection)
        .await?;
        let since = total - *last;
        *last = total;
        Ok(Some(since as u64))
    }
}
