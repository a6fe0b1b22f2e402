//! The application: state shared by every request, and the server's life cycle.
//!
//! `App::build` does everything that can fail at start-up (keys, database, migrations, the
//! bootstrap tenant, binding the port) so `run_until_stopped` only serves. Tests build an
//! `App` on port 0 and drive it over a real socket.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::coherence::{self, Coherence};
use crate::config::operator_keys::{self, KeySource};
use crate::config::{Config, MasterKey};
use crate::crypto::{self, password::PasswordHasher};
use crate::discovery;
use crate::http::client_ip::RateLimiter;
use crate::http::serve::ConnectionLimits;
use crate::keys::KeyRing;
use crate::mail::Mailer;
use crate::oauth::client_cache::ClientCache;
use crate::store::Store;
use crate::tenants::{self, TenantCache};

/// Cheap-to-clone handle on everything a request may need.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

pub struct AppStateInner {
    pub config: Config,
    pub store: Store,
    pub tenants: TenantCache,
    /// Authenticated clients and live client tokens (see [`crate::oauth::client_cache`]).
    pub clients: ClientCache,
    /// Whether the caches may be trusted: the polled cache epoch.
    pub coherence: Arc<Coherence>,
    /// SHA-256 of the admin key: requests are compared against it in constant time.
    pub admin_key_digest: [u8; 32],
    /// Encrypts secrets at rest (signing keys, TOTP secrets, IdP secrets).
    pub master_key: MasterKey,
    /// Signs and verifies tokens; publishes the JWKS.
    pub keys: KeyRing,
    /// Argon2id off the async workers, bounded to the cores.
    pub passwords: PasswordHasher,
    /// The discovery document, built once from the issuer.
    pub discovery_document: String,
    /// Outgoing email.
    pub mailer: Mailer,
    /// Requests per client IP per minute on `/auth/*`.
    pub rate_limiter: RateLimiter,
    /// Calls to identity providers, and what is cached of them.
    pub federation: crate::federation::Federation,
}

impl AppStateInner {
    /// Empties this instance's caches of tenants and clients: called after a write to cached
    /// state commits (and when the cache epoch moves), so the next request reads the database.
    pub fn forget_cached_state(&self) {
        self.tenants.invalidate_all();
        self.clients.forget_all();
    }
}

impl Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

pub struct App {
    listener: TcpListener,
    /// Where the admin key came from (for the first-start hint).
    admin_key_source: KeySource,
    /// `OVLT_METRICS_ADDR`'s listener, serving `/metrics` alone.
    metrics_listener: Option<TcpListener>,
    router: Router,
    state: AppState,
}

impl App {
    /// Resolves keys, connects and migrates the database, creates the bootstrap tenant on a
    /// first start, and binds the listening socket.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((config.host, config.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
        Self::build_on(config, listener).await
    }

    /// Builds the application on a socket the caller already bound (tests bind first, so the
    /// issuer can name the real port).
    pub async fn build_on(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        // First: handles cached on first use (`telemetry::cached_counter!`) need the recorder.
        crate::http::metrics::install();
        let keys = operator_keys::load_or_generate(&config)?;
        log_key_source("admin key", &keys.admin_key_source);
        log_key_source("master key", &keys.master_key_source);

        if config.database_url.is_none() {
            operator_keys::create_private_dir(&config.data_dir)?;
        }
        let store =
            Store::connect(&config.effective_database_url(), config.db_max_connections, config.db_acquire_timeout)
                .await?;
        store.migrate().await.context("cannot apply database migrations")?;
        let passwords = PasswordHasher::with_queue(crypto::password::hashing_threads(), config.password_hash_queue);
        let admin = config.bootstrap_admin.as_ref().map(|(email, password)| (email.as_str(), password.expose()));
        tenants::bootstrap(
            &store,
            &config.bootstrap_tenant_slug,
            config.bootstrap_allow_registration,
            admin,
            &passwords,
        )
        .await
        .context("cannot create the bootstrap tenant")?;
        crate::rbac::provision_existing_tenants(&store).await.context("cannot provision tenant roles")?;

        let key_ring =
            KeyRing::load(store.clone(), keys.master_key.clone()).await.context("cannot load signing keys")?;
        let coherence = Arc::new(Coherence::default());
        let state = AppState(Arc::new(AppStateInner {
            tenants: TenantCache::new(config.tenant_cache_ttl),
            clients: ClientCache::new(coherence.clone()),
            coherence,
            admin_key_digest: crypto::sha256(keys.admin_key.expose().as_bytes()),
            master_key: keys.master_key,
            keys: key_ring,
            passwords,
            discovery_document: discovery::openid_configuration(&config.issuer),
            mailer: Mailer::from_config(&config).context("invalid SMTP configuration")?,
            rate_limiter: RateLimiter::new(config.rate_limit_per_minute),
            federation: crate::federation::Federation::new(
                !config.is_production() || config.upstream_private_networks,
            )?,
            store,
            config,
        }));
        let metrics_listener = match state.config.metrics_addr {
            Some(address) => Some(
                TcpListener::bind(address).await.with_context(|| format!("cannot listen for metrics on {address}"))?,
            ),
            None => None,
        };
        crate::maintenance::spawn(&state.0);
        coherence::spawn_poller(&state.0);
        let router = crate::http::router(state.clone());
        Ok(Self { listener, admin_key_source: keys.admin_key_source, metrics_listener, router, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// How a person at this machine gets the admin key, for a shell command: read from the
    /// development key file, or named as the variable it came from. Never the key itself.
    pub fn admin_key_hint(&self) -> String {
        match &self.admin_key_source {
            KeySource::Generated(path) | KeySource::File(path) => format!("$(cat {})", path.display()),
            KeySource::Environment => "$OVLT_ADMIN_KEY".to_string(),
        }
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes, then stops accepting and lets in-flight requests
    /// finish — for at most the request timeout plus five seconds, so a client that never
    /// finishes sending cannot hold the process — and closes the database pool.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let drain_deadline = self.state.config.request_timeout + Duration::from_secs(5);
        let signalled = Arc::new(Notify::new());
        let notify = signalled.clone();
        let shutdown = async move {
            shutdown.await;
            notify.notify_one();
        };
        if let Some(listener) = self.metrics_listener {
            let state = self.state.clone();
            #[allow(clippy::disallowed_methods)] // the metrics listener's one route, not ovlt's API
            let metrics = Router::new()
                .route("/metrics", axum::routing::get(move || async move { crate::http::metrics::render(&state) }));
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, metrics).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
        }
        let limits = ConnectionLimits {
            header_read_timeout: self.state.config.header_read_timeout,
            max_connections: self.state.config.max_connections,
        };
        let server = crate::http::serve::serve(self.listener, self.router, limits, shutdown);
        tokio::select! {
            result = server => result?,
            () = async { signalled.notified().await; tokio::time::sleep(drain_deadline).await } => {
                tracing::warn!("in-flight requests did not finish in time; closing their connections");
            }
        }
        self.state.store.close().await;
        Ok(())
    }
}

fn log_key_source(what: &str, source: &KeySource) {
    match source {
        KeySource::Environment => {}
        KeySource::Generated(path) => tracing::warn!(
            path = %path.display(),
            "generated a development {what} into {} (mode 0600); read it with: cat {}; \
             set it explicitly before production",
            path.display(),
            path.display()
        ),
        KeySource::File(path) => {
            tracing::info!(path = %path.display(), "using the development {what} from {}", path.display())
        }
    }
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM from the moment it is called, and completes on
/// either. Call it before announcing "listening": a handler registered only when the server
/// first polls its shutdown future leaves a window in which SIGTERM kills the process outright
/// (seen under load as a dropped in-flight request).
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutdown requested; finishing in-flight requests");
    })
}
