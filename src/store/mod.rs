//! The store: every SQL statement ovlt runs, over SQLite or PostgreSQL through `sqlx::Any`.
//!
//! One code path serves both backends (docs/decisions/0001-one-store-over-sqlx-any.md): the
//! SQL text is portable (`$n` placeholders, `RETURNING`, `ON CONFLICT`), ids are TEXT,
//! times are BIGINT Unix seconds, booleans are read through [`get_bool`]. A dialect
//! difference, where one is unavoidable, stays inside a function of this module.
//!
//! Each aggregate has one file with free functions that take the executor first (a pool for
//! a single statement, `&mut *tx` inside a use case's transaction) and, for tenant-owned
//! rows, the tenant id next: `grep tenant_id src/store` is the isolation audit.

pub mod audit;
pub mod clients;
pub mod federation;
mod filter;
pub mod identity_providers;
pub mod keys;
pub mod login_attempts;
pub mod maintenance;
pub mod mfa;
pub mod oauth;
pub mod rbac;
mod rbac_catalog;
pub mod sessions;
pub mod settings;
pub mod system;
pub mod tenants;
pub mod user_codes;
mod user_list;
pub mod users;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// A write transaction; the use case that owns the invariant begins and commits it. Derefs to
/// the connection, so store functions take `&mut *tx`. On SQLite it also holds this process's
/// write lock until it ends (see [`Store::begin`]).
pub struct Tx {
    inner: Transaction<'static, Any>,
    _write_lock: Option<OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn commit(self) -> sqlx::Result<()> {
        self.inner.commit().await
    }
}

impl std::ops::Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// A cheap-to-clone handle on the connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite database file, when there is one (not for PostgreSQL or `:memory:`).
    sqlite_file: Option<PathBuf>,
    /// SQLite has one writer at a time; this process's writers queue here (see `begin`).
    sqlite_writer: Option<Arc<Mutex<()>>>,
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`).
    /// Connects the pool. A request waits at most `acquire_timeout` for a connection, then
    /// answers 503 (see [`unavailable`]). A connection left inside a transaction (a COMMIT or
    /// ROLLBACK that failed, say on a full disk) is discarded rather than handed out again:
    /// every later `BEGIN` on it would fail.
    pub async fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| anyhow::anyhow!("unsupported database URL scheme"))?;
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .before_acquire(|conn, _meta| Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) }));
        if backend == Backend::Sqlite {
            // The Any URL cannot carry SQLite pragmas, so each new connection sets them: WAL
            // lets readers run beside the writer, the busy timeout queues writers instead of
            // failing, and NORMAL sync is durable across process crashes in WAL mode.
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                         PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await.map_err(|e| anyhow::anyhow!(connect_failure(&e, url)))?;
        let sqlite_file = (backend == Backend::Sqlite).then(|| sqlite_file_of(url)).flatten();
        let sqlite_writer = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Self { pool, backend, sqlite_file, sqlite_writer })
    }

    /// Applies pending migrations, once even when several processes start together: on
    /// PostgreSQL sqlx holds an advisory lock; on SQLite (where sqlx has none) an exclusive
    /// lock on a file beside the database serialises the migrators.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Postgres => {
                POSTGRES_MIGRATIONS.run(&self.pool).await?;
                // Migration 0009 goes on without pg_trgm when the extension cannot be created.
                let indexed: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'users_email_trgm_idx')",
                )
                .fetch_one(&self.pool)
                .await?;
                if !indexed {
                    tracing::warn!(
                        "no trigram index on users' emails (the pg_trgm extension could not be created): \
                         email search scans the tenant's users; CREATE EXTENSION pg_trgm and \
                         CREATE INDEX users_email_trgm_idx ON users USING gin (email_normalized gin_trgm_ops)"
                    );
                }
            }
            Backend::Sqlite => {
                let _lock = match &self.sqlite_file {
                    Some(file) => Some(lock_file(file.with_extension("migrate.lock")).await?),
                    None => None,
                };
                SQLITE_MIGRATIONS.run(&self.pool).await?;
            }
        }
        users::renormalize_emails(self).await
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`: a deferred transaction
    /// that reads and then writes fails with "database is locked" under concurrency instead of
    /// waiting its turn (measured: 569 of 800 failed). Writers of this process first queue on
    /// an async mutex, so they wait in order without holding a connection, instead of in
    /// SQLite's sleeping busy handler (which stretched refresh p99 to 230 ms under load).
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        match &self.sqlite_writer {
            Some(writer) => {
                let guard = writer.clone().lock_owned().await;
                let inner = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Tx { inner, _write_lock: Some(guard) })
            }
            None => Ok(Tx { inner: self.pool.begin().await?, _write_lock: None }),
        }
    }

    /// Begins a read-only transaction that sees one snapshot throughout: a list's total and its
    /// page then agree (a page past the middle is found from the total). SQLite's deferred
    /// transaction takes no writer lock and holds its snapshot from its first read; PostgreSQL
    /// needs REPEATABLE READ for that.
    pub async fn begin_read(&self) -> sqlx::Result<Transaction<'static, Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN DEFERRED").await,
            Backend::Postgres => self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await,
        }
    }

    /// Refreshes the query planner's statistics where ovlt must do it itself: SQLite keeps none
    /// unless asked, and without them it may prefer a big covering index to a small partial one
    /// (counting a tenant's suspended users walked all million users, 165 ms). `PRAGMA optimize`
    /// re-analyses only tables that changed much, within a row limit, so an hourly run is cheap.
    /// PostgreSQL's autovacuum does this on its own.
    pub async fn refresh_planner_statistics(&self) -> sqlx::Result<()> {
        if let Some(writer) = &self.sqlite_writer {
            // ANALYZE writes its statistics: it queues with this process's other writers.
            let _turn = writer.lock().await;
            sqlx::raw_sql("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// A round trip to the database, for `/ready`.
    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// One line on why the database at `url` cannot be used, with what to do about it; the URL's
/// password is never part of it.
fn connect_failure(error: &sqlx::Error, url: &str) -> String {
    // A password with an unencoded `@` would make part of it look like the host: say no host then.
    let parsed = url::Url::parse(url).ok().filter(|_| url.matches('@').count() <= 1);
    let host = parsed.as_ref().and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port().unwrap_or(5432))));
    let database = parsed.as_ref().map(|u| u.path().trim_start_matches('/').to_string()).unwrap_or_default();
    let code = match error {
        sqlx::Error::Database(e) => e.code().map(|c| c.into_owned()),
        _ => None,
    };
    // sqlx retries a refused or unanswered connection until the acquire timeout, then times out.
    let io_kind = match error {
        sqlx::Error::Io(e) => Some(e.kind()),
        sqlx::Error::PoolTimedOut => Some(std::io::ErrorKind::ConnectionRefused),
        _ => None,
    };
    match (code.as_deref(), io_kind, sqlite_file_of(url)) {
        (Some("3D000"), ..) => format!(
            "PostgreSQL at {} has no database \"{database}\": create it (createdb {database}) or fix DATABASE_URL",
            host.unwrap_or_default()
        ),
        (Some("28P01" | "28000"), ..) => {
            format!("PostgreSQL at {} refused the user or password in DATABASE_URL", host.unwrap_or_default())
        }
        (_, _, Some(path)) => format!(
            "cannot open the SQLite file {}: its directory must exist and be writable ({error})",
            path.display()
        ),
        (_, Some(std::io::ErrorKind::ConnectionRefused), _) => format!(
            "no answer from {} (DATABASE_URL) within the connect timeout: is PostgreSQL running and listening there?",
            host.unwrap_or_default()
        ),
        _ => format!("cannot connect to the database at {}: {error}", host.unwrap_or_default()),
    }
}

/// The file behind a `sqlite:` URL, if it names one.
fn sqlite_file_of(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Creates and exclusively locks `path`; the lock lasts as long as the returned file.
async fn lock_file(path: PathBuf) -> anyhow::Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("cannot lock the migration lock file: {e}"))
}

/// Reads a boolean column: PostgreSQL has BOOLEAN, the SQLite schema stores 0/1 INTEGER
/// (the Any driver cannot read SQLite's BOOLEAN declaration at all).
pub fn get_bool(row: &AnyRow, column: &str) -> sqlx::Result<bool> {
    row.try_get::<bool, _>(column).or_else(|_| row.try_get::<i64, _>(column).map(|v| v != 0))
}

/// Decodes a TEXT uuid column into a typed id, reporting a corrupt value as a decode error.
pub fn get_id<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Result<T, uuid::Error>) -> sqlx::Result<T> {
    let text: String = row.try_get(column)?;
    parse(&text).map_err(|e| sqlx::Error::ColumnDecode { index: column.into(), source: Box::new(e) })
}

/// Whether `err` means the database cannot serve now — unreachable, overloaded, out of space,
/// read-only — rather than a fault of the request or of ours: the request answers 503 and may
/// be retried, and nothing about it counts against a user (a login that failed this way is not
/// a failed login).
pub fn unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.parse::<u32>() {
                // SQLite's primary result codes (the low byte of an extended code): BUSY,
                // READONLY, IOERR, FULL, CANTOPEN.
                Ok(sqlite) => matches!(sqlite & 0xff, 5 | 8 | 10 | 13 | 14),
                // PostgreSQL's SQLSTATE classes: insufficient resources (53: disk full, out of
                // memory, too many connections), operator intervention (57: shutting down,
                // cannot connect now), system error (58: I/O), read-only transaction (25006).
                Err(_) => code.starts_with("53") || code.starts_with("57") || code.starts_with("58") || code == "25006",
            }
        }
        _ => false,
    }
}

/// The constraint a unique violation hit, as `table.column` on both backends: PostgreSQL names
/// the constraint (migrations name unique constraints `<table>_<col>[_<col>…]_key`), SQLite
/// names the columns, from which the same name is rebuilt.
pub fn unique_violation(err: &sqlx::Error) -> Option<String> {
    let db = err.as_database_error()?;
    if !db.is_unique_violation() {
        return None;
    }
    if let Some(name) = db.constraint() {
        return Some(name.to_string());
    }
    // SQLite: "UNIQUE constraint failed: users.tenant_id, users.email" → users_tenant_id_email_key
    let columns: Vec<&str> = db.message().rsplit(": ").next()?.split(", ").collect();
    let table = columns.first()?.split('.').next()?;
    let names: Vec<&str> = columns.iter().filter_map(|c| c.split('.').nth(1)).collect();
    Some(format!("{table}_{}_key", names.join("_")))
}

/// The message a 409 shows for a violated constraint.
pub fn conflict_message(constraint: &str) -> &'static str {
    match constraint {
        "tenants_slug_key" => "a tenant with this slug already exists",
        "users_tenant_id_email_normalized_key" => "a user with this email already exists in this tenant",
        "roles_tenant_id_name_key" => "a role with this name already exists in this tenant",
        "permissions_tenant_id_name_key" => "a permission with this name already exists in this tenant",
        "identity_providers_tenant_id_name_key" => "an identity provider with this name already exists in this tenant",
        _ => "a resource with these values already exists",
    }
}
