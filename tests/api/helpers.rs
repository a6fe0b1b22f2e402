//! The test harness: a real ovlt on an ephemeral port, over a real socket, against a fresh
//! database per test — a temporary SQLite file, or a PostgreSQL database created for the test
//! and dropped after it.
//!
//! PostgreSQL comes from `OVLT_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, an admin connection used only to create and
//! drop test databases). When it does not answer, PostgreSQL tests are skipped with a loud
//! warning locally, and fail under CI (`CI` set).

use std::sync::OnceLock;
use std::time::Duration;

use ovlt::app::{App, AppState};
use ovlt::config::{Config, MasterKey, Secret};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use sqlx::Connection;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdefghijklmnop";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named test once per backend: `backend_tests!(name, …)` after
/// `async fn name(backend: Backend) { … }` gives `name::sqlite` and `name::postgres`. The test
/// bodies are ordinary functions, so rustfmt formats them.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::helpers::postgres_available() {
                        super::$name($crate::helpers::Backend::Postgres).await
                    }
                }
            }
        )*
    };
}
pub(crate) use backend_tests;

pub fn postgres_admin_url() -> String {
    std::env::var("OVLT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether PostgreSQL accepts a connection; decided once per test binary. Under CI a missing
/// server is a failure, locally a loud skip.
pub fn postgres_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let url = postgres_admin_url();
        // A real connection (not just an open port): a server that refuses our credentials
        // is as unusable as none. Its own runtime, because this runs inside a test's.
        let probe = url.clone();
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                match tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&probe)).await {
                    Ok(Ok(conn)) => {
                        let _ = conn.close().await;
                        Ok(())
                    }
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("timed out".to_string()),
                }
            })
        })
        .join()
        .unwrap_or_else(|_| Err("probe panicked".into()));
        match outcome {
            Ok(()) => true,
            Err(why) => {
                let host = url.rsplit('@').next().unwrap_or("?");
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL is required under CI but {host} is unusable: {why}");
                }
                use std::io::Write;
                // Written to the real stderr (not the captured test output) so it cannot be missed.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n\n*** WARNING: PostgreSQL at {host} is unusable ({why}): every PostgreSQL test is SKIPPED. \
                     Set OVLT_TEST_DATABASE_URL or start PostgreSQL. ***\n"
                );
                false
            }
        }
    })
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    _sqlite_dir: Option<TempDir>,
    postgres_name: Option<String>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("ovlt.db").display());
                Self { url, _sqlite_dir: Some(dir), postgres_name: None }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = format!("ovlt_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = sqlx::PgConnection::connect(&admin_url).await.expect("connect to PostgreSQL");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let _ = conn.close().await;
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
                Self { url: format!("{base}/{name}"), _sqlite_dir: None, postgres_name: Some(name) }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime; a separate thread with its own runtime can
        // block on the DROP without stalling it.
        let admin_url = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// The configuration every test server starts from: loopback, port 0, fixed keys.
pub fn test_config(database_url: &str, data_dir: &std::path::Path) -> Config {
    let mut config = Config::from_lookup(|_| None).expect("default config");
    config.port = 0;
    config.database_url = Some(Secret::new(database_url));
    config.data_dir = data_dir.to_path_buf();
    config.admin_key = Some(Secret::new(ADMIN_KEY));
    config.master_key = Some(MasterKey::from_bytes([42; 32]));
    config.db_max_connections = 5;
    // Tests send many /auth requests from one address; the limit has its own tests.
    config.rate_limit_per_minute = 0;
    config
}

/// A running server and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    // Declared last: dropped after the server stopped.
    pub db: std::sync::Arc<TestDatabase>,
    _data_dir: std::sync::Arc<TempDir>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server after `configure` adjusted the test configuration.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Self {
        let db = std::sync::Arc::new(TestDatabase::create(backend).await);
        let data_dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = test_config(&db.url, data_dir.path());
        configure(&mut config);
        Self::start(config, db, data_dir).await
    }

    /// A server on an existing test database.
    pub async fn spawn_on(db: TestDatabase) -> Self {
        Self::spawn_on_with(db, |_| {}).await
    }

    /// A server on an existing test database, after `configure` adjusted the configuration.
    pub async fn spawn_on_with(db: TestDatabase, configure: impl FnOnce(&mut Config)) -> Self {
        let data_dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = test_config(&db.url, data_dir.path());
        configure(&mut config);
        Self::start(config, std::sync::Arc::new(db), data_dir).await
    }

    /// A second instance on the same database, as behind a load balancer.
    pub async fn spawn_sibling(&self, configure: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.config.clone();
        configure(&mut config);
        Self::start(config, self.db.clone(), self._data_dir.clone()).await
    }

    async fn start(mut config: Config, db: std::sync::Arc<TestDatabase>, data_dir: std::sync::Arc<TempDir>) -> Self {
        // Server warnings and errors go to the test's captured output: shown when it fails.
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn").try_init();
        // Bind first, so the issuer names the real port (relying parties check it exactly).
        // Siblings keep the first instance's issuer: they are one deployment.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind a test port");
        if config.issuer.starts_with("http://localhost:") {
            config.issuer = format!("http://{}", listener.local_addr().expect("local address"));
        }
        let app = App::build_on(config.clone(), listener).await.expect("app builds");
        let address = format!("http://{}", app.local_addr());
        let state = app.state();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until_stopped(async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { address, client, state, config, shutdown: Some(tx), server: Some(server), db, _data_dir: data_dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request without credentials.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request carrying the operator's admin key.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).header("x-ovlt-admin-key", ADMIN_KEY)
    }

    /// Creates a tenant through the API and returns its JSON.
    pub async fn create_tenant(&self, slug: &str, name: &str) -> Value {
        let response = self
            .admin(Method::POST, "/tenants")
            .json(&serde_json::json!({ "slug": slug, "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "creating tenant {slug}");
        response.json().await.unwrap()
    }

    /// Sends the shutdown signal without waiting.
    pub fn signal_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub fn take_server(&mut self) -> tokio::task::JoinHandle<()> {
        self.server.take().expect("server running")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Reads an error answer and checks its shape: `{"error": code, "message": …}`.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for expected error {code}");
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(content_type.starts_with("application/json"), "error content-type was {content_type:?}");
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"], code, "body: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "message missing: {body}");
    body
}

pub const PASSWORD: &str = "Secret1234!";

/// The claims of a JWT, read without verification (the server checks signatures; the RP tests
/// verify them independently).
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

impl TestApp {
    /// A request to a tenant-scoped endpoint of `slug`.
    pub fn tenant(&self, method: Method, path: &str, slug: &str) -> RequestBuilder {
        self.request(method, path).header("x-ovlt-tenant-slug", slug)
    }

    /// Registers `email` with [`PASSWORD`] in the tenant and returns the user JSON.
    pub async fn register(&self, slug: &str, email: &str) -> Value {
        let response = self
            .tenant(Method::POST, "/auth/register", slug)
            .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "registering {email}");
        response.json().await.unwrap()
    }

    /// Logs in and returns the token answer.
    pub async fn login(&self, slug: &str, email: &str, password: &str) -> Response {
        self.tenant(Method::POST, "/auth/login", slug)
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// A tenant with one registered user, logged in: (access token, refresh token).
    pub async fn signed_in(&self, slug: &str, email: &str) -> (String, String) {
        if self.tenant(Method::GET, "/tenant", slug).send().await.unwrap().status() == 404 {
            self.create_tenant(slug, slug).await;
        }
        self.register(slug, email).await;
        let tokens: Value = self.login(slug, email, PASSWORD).await.json().await.unwrap();
        (tokens["access_token"].as_str().unwrap().to_string(), tokens["refresh_token"].as_str().unwrap().to_string())
    }

    /// Changes a user's fields through tenant administration (`PUT /users/{id}`, admin key).
    pub async fn update_user(&self, slug: &str, email: &str, fields: Value) {
        let manage = |method: Method, path: &str| self.admin(method, path).header("x-ovlt-tenant-slug", slug);
        let found: Value =
            manage(Method::GET, "/users").query(&[("email", email)]).send().await.unwrap().json().await.unwrap();
        let id = found["data"][0]["id"].as_str().unwrap_or_else(|| panic!("no user {email} in {slug}: {found}"));
        let response = manage(Method::PUT, &format!("/users/{id}")).json(&fields).send().await.unwrap();
        assert_eq!(response.status(), 200, "PUT /users/{id} {fields}: {}", response.text().await.unwrap());
    }

    /// Changes tenant settings through tenant administration (`PUT /settings`, admin key).
    pub async fn set_settings(&self, slug: &str, settings: Value) {
        let response = self
            .admin(Method::PUT, "/settings")
            .header("x-ovlt-tenant-slug", slug)
            .json(&settings)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "PUT /settings {settings}: {}", response.text().await.unwrap());
    }
}

impl TestApp {
    /// Signs `email` in to `slug` (creating both as needed) after the admin key gave them,
    /// through the API, a role holding exactly `permissions`, or (`None`) the built-in admin
    /// role: (access token, user id).
    pub async fn signed_in_with(&self, slug: &str, email: &str, permissions: Option<&[&str]>) -> (String, String) {
        let (access, _) = self.signed_in(slug, email).await;
        let me: Value = self
            .tenant(Method::GET, "/users/me", slug)
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let user_id = me["id"].as_str().unwrap().to_string();
        let manage = |method: Method, path: &str| self.admin(method, path).header("x-ovlt-tenant-slug", slug);
        let ids_by_name = |list: Value| -> Vec<(String, String)> {
            let rows = list["data"].as_array().unwrap().iter();
            rows.map(|r| (r["name"].as_str().unwrap().to_string(), r["id"].as_str().unwrap().to_string())).collect()
        };
        let role_id = match permissions {
            None => {
                let roles = manage(Method::GET, "/roles?per_page=200").send().await.unwrap().json().await.unwrap();
                ids_by_name(roles).into_iter().find(|(name, _)| name == "admin").expect("the admin role").1
            }
            Some(names) => {
                let role: Value = manage(Method::POST, "/roles")
                    .json(&serde_json::json!({ "name": format!("role-of-{email}") }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let role_id = role["id"].as_str().expect("a new role").to_string();
                let known = ids_by_name(
                    manage(Method::GET, "/permissions?per_page=200").send().await.unwrap().json().await.unwrap(),
                );
                for name in names {
                    let permission_id = match known.iter().find(|(n, _)| n == name) {
                        Some((_, id)) => id.clone(),
                        None => {
                            let created: Value = manage(Method::POST, "/permissions")
                                .json(&serde_json::json!({ "name": name }))
                                .send()
                                .await
                                .unwrap()
                                .json()
                                .await
                                .unwrap();
                            created["id"].as_str().expect("a new permission").to_string()
                        }
                    };
                    let granted = manage(Method::POST, &format!("/roles/{role_id}/permissions"))
                        .json(&serde_json::json!({ "permission_id": permission_id }))
                        .send()
                        .await
                        .unwrap();
                    assert!(granted.status().is_success(), "granting {name}: {}", granted.status());
                }
                role_id
            }
        };
        let assigned = manage(Method::POST, &format!("/users/{user_id}/roles"))
            .json(&serde_json::json!({ "role_id": role_id }))
            .send()
            .await
            .unwrap();
        assert!(assigned.status().is_success(), "assigning the role: {}", assigned.status());
        (access, user_id)
    }
}
