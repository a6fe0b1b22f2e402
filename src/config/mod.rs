//! Configuration: one typed `Config`, parsed once from `OVLT_*` variables (and `.env`).
//!
//! Parsing is a pure function of a variable lookup so it can be tested without touching the
//! process environment. Secrets are wrapped in [`Secret`] so that `Debug` never prints them.
//! The development-only generation of missing keys lives in [`keys`], because it writes files
//! and `ovlt config check` must not.

pub mod operator_keys;
mod parse;
mod secrets;
mod smtp;

use parse::{
    invalid, io_kind, parse_bool, parse_bootstrap_admin, parse_cors_origins, parse_number, parse_operator_keys,
    parse_trusted_proxies, validate_issuer,
};

pub use secrets::{MasterKey, Secret};
pub use smtp::{SmtpConfig, SmtpTls};

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default listening port.
pub const DEFAULT_PORT: u16 = 3000;
/// The default maximum request body size: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// Slug→tenant cache entries live at most this long (the bound).
pub const MAX_TENANT_CACHE_TTL: Duration = Duration::from_secs(5);
/// Production admin keys must be at least this long: they guard every tenant.
const MIN_PRODUCTION_ADMIN_KEY_LEN: usize = 32;

/// Development (generated keys, pretty logs) or production (keys required, HSTS, Secure cookies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Which browser origins may call the API (`OVLT_CORS_ORIGINS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers at all: browsers on other origins are refused (the default).
    None,
    /// `*`: any origin, without credentials.
    Any,
    /// An explicit list of origins (`scheme://host[:port]`), credentials allowed.
    List(Vec<String>),
}

/// Everything ovlt reads from its environment. Every field is documented in the README's table.
#[derive(Debug, Clone)]
pub struct Config {
    /// `OVLT_HOST`: the address to listen on (default `127.0.0.1`; the container sets `0.0.0.0`).
    pub host: IpAddr,
    /// `OVLT_PORT`: the port to listen on (default 3000; 0 picks a free one).
    pub port: u16,
    /// `OVLT_ISSUER`: the public base URL, without a trailing slash (default `http://localhost:3000`).
    pub issuer: String,
    /// `OVLT_ENV`: `development` (default) or `production`.
    pub env: Environment,
    /// `OVLT_DATA_DIR`: where the SQLite file and generated development keys live (default `./data`).
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: `postgres://…` or `sqlite://…`; unset means `<data dir>/ovlt.db`. A
    /// `Secret` because it may carry the database password.
    pub database_url: Option<Secret>,
    /// `OVLT_ADMIN_KEY`: the operator's key (`X-OVLT-Admin-Key`); generated in development.
    pub admin_key: Option<Secret>,
    /// `OVLT_MASTER_KEY`: encrypts secrets at rest; generated in development.
    pub master_key: Option<MasterKey>,
    /// `OVLT_LOG_FORMAT`: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// `OVLT_BODY_LIMIT`: the largest request body in bytes (default 1 MiB).
    pub body_limit: usize,
    /// `OVLT_CORS_ORIGINS`: comma-separated origins, or `*` (default: none).
    pub cors_origins: CorsOrigins,
    /// `OVLT_BOOTSTRAP_TENANT_SLUG`: the tenant created on first start (default `master`).
    pub bootstrap_tenant_slug: String,
    /// `OVLT_BOOTSTRAP_ALLOW_REGISTRATION`: whether the bootstrap tenant lets anyone register
    /// (default false: it holds the operator's own accounts).
    pub bootstrap_allow_registration: bool,
    /// `OVLT_UPSTREAM_PRIVATE_NETWORKS`: whether identity providers may live on private networks
    /// (or plain http) in production. Development always allows them.
    pub upstream_private_networks: bool,
    /// `OVLT_REQUEST_TIMEOUT_SECONDS`: a request taking longer is answered 408 (default 30).
    pub request_timeout: Duration,
    /// `OVLT_DB_MAX_CONNECTIONS`: the database pool size (default 10).
    pub db_max_connections: u32,
    /// `OVLT_HEADER_READ_TIMEOUT_SECONDS`: how long a client has to send a request's headers,
    /// and how long a kept-alive connection may sit idle (default 10).
    pub header_read_timeout: Duration,
    /// `OVLT_MAX_CONNECTIONS`: open client connections at most (default: the descriptor limit
    /// less 64); more wait in the kernel's backlog.
    pub max_connections: usize,
    /// `OVLT_METRICS_ADDR`: serve `/metrics` on this address alone (e.g. `127.0.0.1:9100`).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `OVLT_METRICS_TOKEN`: serve `/metrics` on the main port to this bearer token.
    pub metrics_token: Option<Secret>,
    /// `OVLT_DB_ACQUIRE_TIMEOUT_MS`: how long a request waits for a database connection before
    /// it answers 503 `unavailable` (default 3000).
    pub db_acquire_timeout: Duration,
    /// `OVLT_PASSWORD_HASH_QUEUE`: password checks that may wait for a hashing thread before
    /// more are answered 503 (default 32 per core).
    pub password_hash_queue: usize,
    /// `OVLT_TENANT_CACHE_TTL_MS`: how long a resolved tenant is cached (default and max 5000).
    pub tenant_cache_ttl: Duration,
    /// Outgoing email: `OVLT_SMTP_URL`, or `OVLT_SMTP_HOST` with `_PORT`, `_USERNAME`,
    /// `_PASSWORD`, `_TLS`; `OVLT_SMTP_FROM`. None: development logs messages instead.
    pub smtp: Option<SmtpConfig>,
    /// `OVLT_SMTP_FROM`: the sender of every message (default `ovlt <no-reply@localhost>`).
    pub mail_from: String,
    /// `OVLT_RATE_LIMIT_PER_MINUTE`: requests per client IP per minute on `/auth/*` (default 60;
    /// 0 turns the limit off).
    pub rate_limit_per_minute: u32,
    /// `OVLT_TRUSTED_PROXIES`: comma-separated IPs or CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `OVLT_BOOTSTRAP_ADMIN_EMAIL` and `OVLT_BOOTSTRAP_ADMIN_PASSWORD`: a verified user created
    /// in the bootstrap tenant on the first start.
    pub bootstrap_admin: Option<(String, Secret)>,
}

/// A configuration problem, worded as the one line an operator needs to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads the process environment, after loading `.env` from the working directory if present
    /// (only there: a `.env` of a parent directory belongs to another project).
    pub fn from_env() -> Result<Self, ConfigError> {
        match dotenvy::from_path(".env") {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            // The parse error carries the offending line, which may hold a secret: never echo it.
            Err(dotenvy::Error::LineParse(_, position)) => {
                return Err(ConfigError(format!(".env: a line cannot be parsed (at character {position})")));
            }
            Err(e) => {
                return Err(ConfigError(format!(".env: cannot be read ({})", io_kind(&e))));
            }
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses the configuration from a variable lookup. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());

        let env = match var("OVLT_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(invalid("OVLT_ENV", &format!("expected development or production, got {other:?}")));
            }
        };
        let host = match var("OVLT_HOST") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(v) => v
                .parse()
                .map_err(|_| invalid("OVLT_HOST", &format!("expected an IP address such as 0.0.0.0, got {v:?}")))?,
        };
        let port = parse_number("OVLT_PORT", var("OVLT_PORT"), DEFAULT_PORT, 0..=u16::MAX)?;
        let issuer = var("OVLT_ISSUER").unwrap_or_else(|| format!("http://localhost:{DEFAULT_PORT}"));
        let issuer = validate_issuer(&issuer, env).map_err(|why| invalid("OVLT_ISSUER", &why))?;
        let data_dir = PathBuf::from(var("OVLT_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = var("DATABASE_URL");
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("sqlite:"))
        {
            return Err(invalid("DATABASE_URL", "expected a postgres:// or sqlite: URL"));
        }
        let database_url = database_url.map(Secret::new);

        let (admin_key, master_key) = parse_operator_keys(&var, env)?;

        let log_format = match var("OVLT_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid("OVLT_LOG_FORMAT", &format!("expected pretty or json, got {other:?}")));
            }
        };
        let body_limit =
            parse_number("OVLT_BODY_LIMIT", var("OVLT_BODY_LIMIT"), DEFAULT_BODY_LIMIT, 1024..=64 * 1024 * 1024)?;
        let cors_origins =
            parse_cors_origins(var("OVLT_CORS_ORIGINS")).map_err(|why| invalid("OVLT_CORS_ORIGINS", &why))?;
        let bootstrap_tenant_slug = var("OVLT_BOOTSTRAP_TENANT_SLUG").unwrap_or_else(|| "master".into());
        if let Err(why) = crate::tenants::validate_slug(&bootstrap_tenant_slug) {
            return Err(invalid("OVLT_BOOTSTRAP_TENANT_SLUG", why));
        }
        let bootstrap_allow_registration =
            parse_bool("OVLT_BOOTSTRAP_ALLOW_REGISTRATION", var("OVLT_BOOTSTRAP_ALLOW_REGISTRATION"), false)?;
        let upstream_private_networks =
            parse_bool("OVLT_UPSTREAM_PRIVATE_NETWORKS", var("OVLT_UPSTREAM_PRIVATE_NETWORKS"), false)?;
        let timeout_secs =
            parse_number("OVLT_REQUEST_TIMEOUT_SECONDS", var("OVLT_REQUEST_TIMEOUT_SECONDS"), 30, 1..=3600)?;
        let db_max_connections = parse_number("OVLT_DB_MAX_CONNECTIONS", var("OVLT_DB_MAX_CONNECTIONS"), 10, 1..=1000)?;
        let header_secs =
            parse_number("OVLT_HEADER_READ_TIMEOUT_SECONDS", var("OVLT_HEADER_READ_TIMEOUT_SECONDS"), 10, 1..=300)?;
        let max_connections = parse_number(
            "OVLT_MAX_CONNECTIONS",
            var("OVLT_MAX_CONNECTIONS"),
            crate::http::serve::default_max_connections(),
            1..=1_000_000,
        )?;
        let metrics_addr = match var("OVLT_METRICS_ADDR") {
            None => None,
            Some(v) => {
                Some(v.parse().map_err(|_| invalid("OVLT_METRICS_ADDR", &format!("expected ip:port, got {v:?}")))?)
            }
        };
        let metrics_token = var("OVLT_METRICS_TOKEN").map(Secret::new);
        if metrics_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            return Err(invalid("OVLT_METRICS_TOKEN", "must be at least 16 characters"));
        }
        let acquire_ms =
            parse_number("OVLT_DB_ACQUIRE_TIMEOUT_MS", var("OVLT_DB_ACQUIRE_TIMEOUT_MS"), 3000, 100..=60_000)?;
        let default_queue = crate::crypto::password::hashing_threads() * crate::crypto::password::QUEUE_PER_THREAD;
        let password_hash_queue =
            parse_number("OVLT_PASSWORD_HASH_QUEUE", var("OVLT_PASSWORD_HASH_QUEUE"), default_queue, 1..=100_000)?;
        let cache_ms = parse_number("OVLT_TENANT_CACHE_TTL_MS", var("OVLT_TENANT_CACHE_TTL_MS"), 5000, 0..=5000)?;

        let smtp = smtp::parse_smtp(&var).map_err(|(name, why)| invalid(name, &why))?;
        let mail_from = var("OVLT_SMTP_FROM").unwrap_or_else(|| "ovlt <no-reply@localhost>".into());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid("OVLT_SMTP_FROM", "expected an address like \"ovlt <no-reply@example.com>\""));
        }

        let rate_limit_per_minute =
            parse_number("OVLT_RATE_LIMIT_PER_MINUTE", var("OVLT_RATE_LIMIT_PER_MINUTE"), 60, 0..=1_000_000)?;
        let trusted_proxies =
            parse_trusted_proxies(var("OVLT_TRUSTED_PROXIES")).map_err(|why| invalid("OVLT_TRUSTED_PROXIES", &why))?;
        let bootstrap_admin = parse_bootstrap_admin(&var)?;

        Ok(Self {
            rate_limit_per_minute,
            trusted_proxies,
            bootstrap_admin,
            smtp,
            mail_from,
            host,
            port,
            issuer,
            env,
            data_dir,
            database_url,
            admin_key,
            master_key,
            log_format,
            body_limit,
            cors_origins,
            bootstrap_tenant_slug,
            bootstrap_allow_registration,
            upstream_private_networks,
            request_timeout: Duration::from_secs(timeout_secs),
            db_max_connections,
            db_acquire_timeout: Duration::from_millis(acquire_ms),
            header_read_timeout: Duration::from_secs(header_secs),
            metrics_addr,
            metrics_token,
            max_connections,
            password_hash_queue,
            tenant_cache_ttl: Duration::from_millis(cache_ms),
        })
    }

    /// The database to use: `DATABASE_URL`, or the embedded SQLite file in the data directory.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("ovlt.db").display()),
        }
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }
}

#[cfg(test)]
mod tests;
