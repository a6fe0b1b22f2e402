//! The command line. `ovlt` alone serves; the other commands are operator tools that share
//! the server's configuration and store.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::app::{self, App};
use crate::audit::{Actor, RequestContext};
use crate::config::operator_keys::{ADMIN_KEY_FILE, MASTER_KEY_FILE};
use crate::config::{Config, CorsOrigins};
use crate::error::ApiError;
use crate::store::Store;
use crate::{telemetry, tenants};

mod health;

#[derive(Debug, Parser)]
#[command(name = "ovlt", version, about = "Multi-tenant identity server and OpenID Connect provider")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Ask a running server's /health (a container health check): exit 0 when it answers 200.
    Health {
        /// Default: http://127.0.0.1:$OVLT_PORT/health (or $OVLT_HOST when it is a specific address).
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new active signing key; the old one keeps verifying until its tokens expire.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration, secrets masked, and exit non-zero if it is invalid.
    Check,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant and print it as JSON.
    Create {
        /// 2–63 characters of a-z, 0-9 and -.
        #[arg(long)]
        slug: String,
        /// The name people see.
        #[arg(long)]
        name: String,
    },
}

impl Cli {
    pub fn run(self) -> ExitCode {
        // Before the configuration: a health check needs none, and must not fail for it.
        if let Some(Command::Health { url }) = self.command {
            return health::check(url);
        }
        let config = match Config::from_env() {
            Ok(config) => config,
            Err(e) => {
                eprintln!("ovlt: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        if let Some(Command::Config { command: ConfigCommand::Check }) = self.command {
            print!("{}", describe(&config));
            return ExitCode::SUCCESS;
        }
        telemetry::init(config.log_format);
        let config_is_json = config.log_format == crate::config::LogFormat::Json;
        let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("ovlt: cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        let result = runtime.block_on(async move {
            match self.command {
                None | Some(Command::Serve) => serve(config).await,
                Some(Command::Migrate) => migrate(config).await,
                Some(Command::Tenant { command: TenantCommand::Create { slug, name } }) => {
                    create_tenant(config, slug, name).await
                }
                Some(Command::Keys { command: KeysCommand::Rotate }) => rotate_keys(config).await,
                Some(Command::Config { .. } | Command::Health { .. }) => {
                    unreachable!("handled before the runtime starts")
                }
            }
        });
        match result {
            Ok(()) => ExitCode::SUCCESS,
            // Once: as a log line where logs are read by machines, else as one plain line.
            Err(e) if config_is_json => {
                tracing::error!(error = format!("{e:#}"), "ovlt stopped with an error");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("ovlt: {e:#}");
                ExitCode::FAILURE
            }
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let env = config.env;
    let smtp_missing = config.smtp.is_none();
    let app = App::build(config).await?;
    let stop = app::shutdown_signal().context("cannot listen for SIGINT and SIGTERM")?;
    let address = app.local_addr();
    let url = format!("http://{address}");
    tracing::info!(%address, %url, environment = ?env, version = env!("CARGO_PKG_VERSION"), "listening");
    match (smtp_missing, env) {
        (false, _) => {}
        (true, crate::config::Environment::Development) => tracing::warn!(
            "SMTP is not configured (OVLT_SMTP_URL): emails — verification codes, reset links — are written to \
             this log instead of being sent"
        ),
        (true, crate::config::Environment::Production) => tracing::warn!(
            "SMTP is not configured (OVLT_SMTP_URL): emails — verification codes, reset links — are dropped, so \
             users cannot verify an address or reset a password"
        ),
    }
    tracing::info!("next: curl -s {url}/tenants -H \"X-OVLT-Admin-Key: {}\"", app.admin_key_hint());
    app.run_until_stopped(stop).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn connect(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.is_none() {
        crate::config::operator_keys::create_private_dir(&config.data_dir)?;
    }
    let store =
        Store::connect(&config.effective_database_url(), config.db_max_connections, config.db_acquire_timeout).await?;
    store.migrate().await?;
    Ok(store)
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = connect(&config).await?;
    store.close().await;
    println!("migrations applied");
    Ok(())
}

async fn rotate_keys(config: Config) -> anyhow::Result<()> {
    let keys = crate::config::operator_keys::load_or_generate(&config)?;
    let store = connect(&config).await?;
    // Make sure a first key exists, so that rotating retires something meaningful.
    crate::keys::KeyRing::load(store.clone(), keys.master_key.clone()).await?;
    let kid = crate::keys::rotate(&store, &keys.master_key).await;
    store.close().await;
    println!("{}", kid?);
    Ok(())
}

async fn create_tenant(config: Config, slug: String, name: String) -> anyhow::Result<()> {
    let store = connect(&config).await?;
    let result = tenants::create(&store, Some(&slug), Some(&name), Actor::Cli, RequestContext::default()).await;
    store.close().await;
    match result {
        Ok(tenant) => {
            println!("{}", serde_json::to_string_pretty(&tenant)?);
            Ok(())
        }
        Err(ApiError::InvalidPayload { fields: Some(fields), .. }) => {
            let problems: Vec<String> = fields.iter().map(|(field, why)| format!("--{field} {why}")).collect();
            anyhow::bail!("{}", problems.join("; "))
        }
        Err(ApiError::Internal(cause)) => Err(cause),
        Err(e) => anyhow::bail!("{e}"),
    }
}

/// The effective configuration as `ovlt config check` prints it: every secret masked.
pub fn describe(config: &Config) -> String {
    let key = |set: bool, file: &str| {
        if set {
            "******** (from the environment)".to_string()
        } else if config.is_production() {
            "not set (required in production)".to_string()
        } else {
            let path = config.data_dir.join(file);
            if path.exists() {
                format!("******** (from {})", path.display())
            } else {
                format!("not set: generated into {} on first start", path.display())
            }
        }
    };
    let database = match &config.database_url {
        Some(url) => mask_url_password(url.expose()),
        None => format!("{} (embedded SQLite)", config.effective_database_url()),
    };
    let cors = match &config.cors_origins {
        CorsOrigins::None => "none".to_string(),
        CorsOrigins::Any => "*".to_string(),
        CorsOrigins::List(list) => list.join(", "),
    };
    let rows = [
        ("OVLT_ENV", format!("{:?}", config.env).to_lowercase()),
        ("OVLT_HOST", config.host.to_string()),
        ("OVLT_PORT", config.port.to_string()),
        ("OVLT_ISSUER", config.issuer.clone()),
        ("OVLT_DATA_DIR", config.data_dir.display().to_string()),
        ("DATABASE_URL", database),
        ("OVLT_ADMIN_KEY", key(config.admin_key.is_some(), ADMIN_KEY_FILE)),
        ("OVLT_MASTER_KEY", key(config.master_key.is_some(), MASTER_KEY_FILE)),
        ("OVLT_LOG_FORMAT", format!("{:?}", config.log_format).to_lowercase()),
        ("OVLT_BODY_LIMIT", format!("{} bytes", config.body_limit)),
        ("OVLT_CORS_ORIGINS", cors),
        ("OVLT_BOOTSTRAP_TENANT_SLUG", config.bootstrap_tenant_slug.clone()),
        ("OVLT_REQUEST_TIMEOUT_SECONDS", config.request_timeout.as_secs().to_string()),
        ("OVLT_DB_MAX_CONNECTIONS", config.db_max_connections.to_string()),
        ("OVLT_PASSWORD_HASH_QUEUE", config.password_hash_queue.to_string()),
        ("OVLT_TENANT_CACHE_TTL_MS", config.tenant_cache_ttl.as_millis().to_string()),
    ];
    let mut out = String::from("configuration is valid\n");
    for (name, value) in rows {
        out.push_str(&format!("  {name:<30} {value}\n"));
    }
    out
}

/// `postgres://user:secret@host/db?sslpassword=x` → `postgres://user:********@host/db?sslpassword=********`:
/// the userinfo password and every query parameter whose name mentions a password are masked.
fn mask_url_password(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut masked = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
                None => base.to_string(),
            },
            None => base.to_string(),
        },
        None => base.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if name.to_ascii_lowercase().contains("password") => format!("{name}=********"),
                _ => pair.to_string(),
            })
            .collect();
        masked.push('?');
        masked.push_str(&params.join("&"));
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_masked() {
        assert_eq!(mask_url_password("postgres://ovlt:s3cret@db:5432/ovlt"), "postgres://ovlt:********@db:5432/ovlt");
        assert_eq!(mask_url_password("postgres://ovlt@db/ovlt"), "postgres://ovlt@db/ovlt");
        assert_eq!(
            mask_url_password("postgres://db/ovlt?sslmode=require&password=pw&sslpassword=x"),
            "postgres://db/ovlt?sslmode=require&password=********&sslpassword=********"
        );
    }

    #[test]
    fn config_check_never_prints_a_secret() {
        let config = Config::from_lookup(|name| match name {
            "OVLT_ADMIN_KEY" => Some("super-secret-admin-key".into()),
            "DATABASE_URL" => Some("postgres://u:dbpass@h/d".into()),
            _ => None,
        })
        .unwrap();
        let text = describe(&config);
        assert!(!text.contains("super-secret-admin-key"));
        assert!(!text.contains("dbpass"));
        assert!(text.contains("OVLT_ADMIN_KEY"));
    }
}
