//! The database misbehaving under a running server: unreachable (a TCP proxy in front of
//! PostgreSQL that the test cuts and restores), and full (SQLite on a small tmpfs that fills
//! and is freed). The server answers 503 `unavailable` with `Retry-After` soon, never exits,
//! and serves again as soon as the database does.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::Method;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::helpers::{Backend, PASSWORD, TestApp, TestDatabase, assert_error, postgres_available};

/// A TCP forwarder to `target` on a fixed local address; `cut` closes it and every connection
/// through it (as a database host going away does), `restore` opens it again.
struct Proxy {
    address: SocketAddr,
    target: SocketAddr,
    accepting: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut proxy = Self { address, target, accepting: None };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let target = self.target;
        self.accepting = Some(tokio::spawn(async move {
            // Dropped with this task when it is aborted: every forwarded connection closes too.
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }

    fn cut(&mut self) {
        if let Some(task) = self.accepting.take() {
            task.abort();
        }
    }

    async fn restore(&mut self) {
        let listener = loop {
            // The aborted task releases the port asynchronously.
            match TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(_) => tokio::task::yield_now().await,
            }
        };
        self.serve(listener);
    }
}

/// Polls `probe` until it answers `status`, for at most `limit`; returns how long it took.
async fn time_until(limit: Duration, status: u16, mut probe: impl AsyncFnMut() -> u16) -> Duration {
    let started = Instant::now();
    loop {
        if probe().await == status {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "no {status} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await; // polling a condition, not waiting it out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_within_the_acquire_timeout_and_recovers_at_once() {
    if !postgres_available() {
        return;
    }
    let db = TestDatabase::create(Backend::Postgres).await;
    let url = url::Url::parse(&db.url).unwrap();
    let target =
        tokio::net::lookup_host((url.host_str().unwrap(), url.port().unwrap_or(5432))).await.unwrap().next().unwrap();
    let mut proxy = Proxy::start(target).await;
    let mut proxied = url.clone();
    proxied.set_ip_host(proxy.address.ip()).unwrap();
    proxied.set_port(Some(proxy.address.port())).unwrap();
    let acquire_timeout = Duration::from_millis(1000);
    let app = TestApp::spawn_on_with(db, |c| {
        c.database_url = Some(ovlt::config::Secret::new(proxied.as_str()));
        c.db_acquire_timeout = acquire_timeout;
    })
    .await;
    let (access, _) = app.signed_in("acme", "alice@example.com").await;
    let me = || app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&access).send();
    assert_eq!(me().await.unwrap().status(), 200);

    proxy.cut();

    let started = Instant::now();
    let during = me().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(during.headers()["retry-after"], "1");
    assert_error(during, 503, "unavailable").await;
    assert!(waited < acquire_timeout + Duration::from_secs(2), "answered after {waited:?}");
    assert_error(app.login("acme", "alice@example.com", PASSWORD).await, 503, "unavailable").await;
    assert_eq!(app.request(Method::GET, "/ready").send().await.unwrap().status(), 503);
    assert_eq!(app.request(Method::GET, "/health").send().await.unwrap().status(), 200, "the process is up");
    let metrics = app.request(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"ovlt_db_unavailable_total{cause="acquire_timeout"}"#), "counted:\n{metrics}");

    proxy.restore().await;

    let back = time_until(Duration::from_secs(10), 200, async || me().await.unwrap().status().as_u16()).await;
    assert!(back < Duration::from_secs(2), "served again only after {back:?}");
    eprintln!(
        "outage: 503 after {waited:?} (acquire timeout {acquire_timeout:?}); served again {back:?} after restore"
    );
    assert_eq!(app.login("acme", "alice@example.com", PASSWORD).await.status(), 200, "and logins count as before");
}

/// A tmpfs of `megabytes` mounted on a temporary directory for one test, unmounted on drop; None
/// where this process may not mount (not root, or no CAP_SYS_ADMIN).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self { dir })
    }

    /// Writes a file until the disk is full; deleting it frees the space again.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let small = [0u8; 512];
        while file.write_all(&small).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_counts_no_failed_login_and_recovers_once_space_is_freed() {
    let Some(disk) = SmallDisk::mount(16) else {
        assert!(std::env::var_os("CI").is_none(), "CI must be able to mount a tmpfs (run as root)");
        eprintln!("WARNING: skipped: cannot mount a tmpfs here (not root?)");
        return;
    };
    let url = format!("sqlite://{}?mode=rwc", disk.dir.path().join("ovlt.db").display());
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.database_url = Some(ovlt::config::Secret::new(&url))).await;
    app.signed_in("acme", "alice@example.com").await;
    let filler = disk.fill();

    // More correct-password attempts than the lockout threshold (5), each refused for storage.
    for _ in 0..7 {
        let answer = app.login("acme", "alice@example.com", PASSWORD).await;
        assert_eq!(answer.headers()["retry-after"], "1");
        assert_error(answer, 503, "unavailable").await;
    }
    let register = app
        .tenant(Method::POST, "/auth/register", "acme")
        .json(&serde_json::json!({ "email": "bob@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(register, 503, "unavailable").await;

    std::fs::remove_file(filler).unwrap();

    assert_eq!(app.login("acme", "alice@example.com", PASSWORD).await.status(), 200, "not locked, not broken");
    for n in 0..8 {
        // Every pooled connection serves writes again (none was left inside a transaction).
        let email = format!("user{n}@example.com");
        let answer = app
            .tenant(Method::POST, "/auth/register", "acme")
            .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201, "{}", answer.text().await.unwrap());
    }
}

/// Reads until the server closes the connection; panics if it stays open past `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) {
    use tokio::io::AsyncReadExt;
    let mut sink = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "the connection was still open after {limit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_and_health_answers_past_the_connection_cap() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.max_connections = 8;
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_string();

    // Three times the cap of clients that never finish their headers (slowloris).
    let mut slow = Vec::new();
    for _ in 0..24 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: ovlt\r\nX-Slow: ").await;
        slow.push(stream);
    }
    let started = Instant::now();
    let health = app.request(Method::GET, "/health").send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(8), "/health took {:?}", started.elapsed());
    for stream in &mut slow {
        closed_within(stream, Duration::from_secs(8)).await;
    }

    // A kept-alive connection that goes quiet after a request is closed as well.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: ovlt\r\n\r\n").await.unwrap();
    closed_within(&mut idle, Duration::from_secs(5)).await;
}
