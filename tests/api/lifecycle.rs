//! The server's life: the real binary started with no configuration, stopped by SIGTERM with a
//! request in flight, refusing an incomplete production configuration; and the operator CLI.

use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, TestDatabase, backend_tests};

const BINARY: &str = env!("CARGO_BIN_EXE_ovlt");

/// The binary with an empty environment (no inherited OVLT_* or DATABASE_URL) in `dir`.
fn ovlt(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BINARY);
    command.env_clear().current_dir(dir).stdin(Stdio::null()).kill_on_drop(true);
    command
}

/// Starts `ovlt serve` and waits for its "listening" log line (logs go to stderr); returns the
/// child and its address.
async fn start_server(mut command: Command) -> (Child, String) {
    command.env("OVLT_PORT", "0").env("OVLT_LOG_FORMAT", "json").stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn ovlt");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["message"] == "listening" {
                return entry["address"].as_str().unwrap().to_string();
            }
        }
        panic!("ovlt exited before listening");
    })
    .await
    .expect("ovlt starts listening");
    // Keep draining the log so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, address)
}

/// Sends the head of a request with `Expect: 100-continue` and waits for `100 Continue`: from
/// then on the handler is running and waiting for the body, so the request is in flight.
async fn begin_request_in_flight(address: &str, admin_key: &str, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /tenants HTTP/1.1\r\nhost: {address}\r\nx-ovlt-admin-key: {admin_key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before 100 Continue");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 100"), "{}", String::from_utf8_lossy(&seen));
    stream
}

/// Sends the rest of the body and reads the whole answer (the server closes the connection).
async fn finish_request(mut stream: TcpStream, body: &str) -> String {
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("the answer arrives")
        .unwrap();
    answer
}

/// Waits until the server refuses new connections: shutdown has begun.
async fn wait_until_refusing_connections(address: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(address).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "{address} still accepts connections");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn sigterm(child: &Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn the_binary_serves_with_no_configuration_and_keeps_its_generated_keys_private() {
    let dir = tempfile::tempdir().unwrap();

    let (mut child, address) = start_server(ovlt(dir.path())).await;
    let health: Value = reqwest::get(format!("http://{address}/health")).await.unwrap().json().await.unwrap();
    sigterm(&child);
    let status = child.wait().await.unwrap();

    assert_eq!(health["status"], "ok");
    assert!(status.success(), "{status}");
    assert!(address.starts_with("127.0.0.1:"), "listens on loopback by default: {address}");
    let data = dir.path().join("data");
    assert!(data.join("ovlt.db").exists(), "the embedded SQLite file is created");
    use std::os::unix::fs::PermissionsExt;
    for file in ["admin.key", "master.key"] {
        let mode = std::fs::metadata(data.join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}

#[tokio::test]
async fn production_without_keys_refuses_to_start_with_a_one_line_reason() {
    let dir = tempfile::tempdir().unwrap();

    let output = ovlt(dir.path()).env("OVLT_ENV", "production").output().await.unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("OVLT_ADMIN_KEY"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "nothing is generated in production");
}

#[tokio::test]
async fn config_check_prints_the_configuration_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let admin_key = "operator-admin-key-that-must-not-be-printed";

    let output = ovlt(dir.path())
        .args(["config", "check"])
        .env("OVLT_ADMIN_KEY", admin_key)
        .env("DATABASE_URL", "postgres://ovlt:db-password-secret@db.internal:5432/ovlt")
        .env("OVLT_PORT", "8080")
        .output()
        .await
        .unwrap();
    let invalid = ovlt(dir.path()).args(["config", "check"]).env("OVLT_PORT", "eighty").output().await.unwrap();

    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("8080") && stdout.contains("OVLT_ADMIN_KEY"), "{stdout}");
    assert!(!stdout.contains(admin_key) && !stdout.contains("db-password-secret"), "{stdout}");
    assert_eq!(invalid.status.code(), Some(2));
    assert!(String::from_utf8(invalid.stderr).unwrap().contains("OVLT_PORT"));
}

#[tokio::test]
async fn a_malformed_env_file_is_refused_without_echoing_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "OVLT_PORT=3000\nOVLT_MASTER_KEY='unterminated-secret-value\n").unwrap();

    let output = ovlt(dir.path()).args(["config", "check"]).output().await.unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains(".env"), "{stderr}");
    assert!(!stderr.contains("unterminated-secret-value"), "{stderr}");
}

async fn sigterm_lets_a_request_in_flight_finish(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = ovlt(dir.path());
    command.env("DATABASE_URL", &db.url).env("OVLT_ADMIN_KEY", ADMIN_KEY);
    let (mut child, address) = start_server(command).await;
    let body = r#"{"slug":"in-flight","name":"In flight"}"#;
    let stream = begin_request_in_flight(&address, ADMIN_KEY, body).await;

    sigterm(&child);
    wait_until_refusing_connections(&address).await;
    let answer = finish_request(stream, body).await;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits").unwrap();

    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(status.success(), "{status}");
}

async fn shutdown_lets_a_request_in_flight_finish_and_commit(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let body = r#"{"slug":"in-flight","name":"In flight"}"#;
    let stream = begin_request_in_flight(&address, ADMIN_KEY, body).await;

    app.signal_shutdown();
    wait_until_refusing_connections(&address).await;
    let answer = finish_request(stream, body).await;
    app.take_server().await.unwrap();

    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let restarted = app.spawn_sibling(|_| {}).await;
    let slugs: Value = restarted.admin(Method::GET, "/tenants/slugs").send().await.unwrap().json().await.unwrap();
    assert!(slugs["data"].as_array().unwrap().contains(&Value::from("in-flight")), "committed: {slugs}");
}

async fn the_cli_migrates_and_creates_tenants(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut command = ovlt(dir.path());
        command.args(args).env("DATABASE_URL", &db.url);
        command.output()
    };

    let migrated = run(&["migrate"]).await.unwrap();
    let migrated_again = run(&["migrate"]).await.unwrap();
    let created = run(&["tenant", "create", "--slug", "acme", "--name", "Acme"]).await.unwrap();
    let duplicate = run(&["tenant", "create", "--slug", "acme", "--name", "Acme"]).await.unwrap();
    let invalid = run(&["tenant", "create", "--slug", "Bad Slug", "--name", "X"]).await.unwrap();

    assert!(migrated.status.success() && migrated_again.status.success());
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let tenant: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!((tenant["slug"].as_str(), tenant["active"].as_bool()), (Some("acme"), Some(true)));
    assert_eq!(duplicate.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
    assert_eq!(invalid.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("--slug"));

    // A server on that database sees the tenant the CLI made.
    let app = TestApp::spawn_on(db).await;
    let found = app.request(Method::GET, "/tenant").header("x-ovlt-tenant-slug", "acme").send().await.unwrap();
    assert_eq!(found.status(), 200);
}

/// The first start says where the server is, where the admin key is and what to try next, warns
/// that email is not configured, and writes no colour codes into a log that is not a terminal.
#[tokio::test]
async fn the_first_start_guides_with_the_url_the_admin_key_and_a_first_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = ovlt(dir.path()).env("OVLT_PORT", "0").stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            log.push_str(&line);
            log.push('\n');
            if line.contains("next: curl") {
                return;
            }
        }
        panic!("ovlt exited before its first-start hints:\n{log}");
    })
    .await
    .expect("the first-start hints are printed");
    child.kill().await.unwrap();

    assert!(log.contains("url=http://127.0.0.1:"), "{log}");
    assert!(log.contains("/tenants -H \"X-OVLT-Admin-Key: $(cat ./data/admin.key)\""), "{log}");
    assert!(log.contains("SMTP is not configured"), "{log}");
    assert!(!log.contains('\u{1b}'), "no colour codes outside a terminal:\n{log}");
}

/// A database ovlt cannot use stops it with one line naming the cause and what to do, printed
/// once, and never the URL's password.
#[tokio::test]
async fn database_errors_are_one_line_with_the_cause_and_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut cases = vec![
        (
            format!("postgres://ovlt:secret-pw@127.0.0.1:{closed_port}/ovlt"),
            format!("no answer from 127.0.0.1:{closed_port}"),
        ),
        (
            format!("sqlite://{}/missing/dir/ovlt.db?mode=rwc", dir.path().display()),
            "cannot open the SQLite file".into(),
        ),
    ];
    if crate::helpers::postgres_available() {
        let admin = crate::helpers::postgres_admin_url();
        let base = admin.rsplit_once('/').unwrap().0.to_string();
        cases.push((format!("{base}/ovlt_no_such_database"), "createdb ovlt_no_such_database".into()));
    }

    for (url, hint) in cases {
        let output =
            ovlt(dir.path()).env("DATABASE_URL", &url).env("OVLT_DB_ACQUIRE_TIMEOUT_MS", "300").output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.matches(hint.as_str()).count(), 1, "{hint:?} once in:\n{stderr}");
        assert!(!stderr.contains("secret-pw"), "{stderr}");
    }
}

/// `ovlt health`, the image's health check: 0 while the server answers, 1 when nothing does.
#[tokio::test]
async fn ovlt_health_exits_zero_only_while_the_server_answers() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let port = app.address.rsplit(':').next().unwrap().to_string();

    let by_port = ovlt(dir.path()).arg("health").env("OVLT_PORT", &port).env("OVLT_HOST", "0.0.0.0").output();
    let by_url = ovlt(dir.path()).args(["health", "--url", &app.url("/health")]).output();
    let not_found = ovlt(dir.path()).args(["health", "--url", &app.url("/no-such-page")]).output();
    let (by_port, by_url, not_found) = (by_port.await.unwrap(), by_url.await.unwrap(), not_found.await.unwrap());
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        ovlt(dir.path()).args(["health", "--url", &format!("http://{address}/health")]).output().await.unwrap()
    };

    assert!(by_port.status.success(), "{}", String::from_utf8_lossy(&by_port.stderr));
    assert!(by_url.status.success());
    assert_eq!(not_found.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&not_found.stderr).contains("answered 404"));
    assert_eq!(closed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&closed.stderr).contains("cannot connect"));
}

backend_tests!(
    sigterm_lets_a_request_in_flight_finish,
    shutdown_lets_a_request_in_flight_finish_and_commit,
    the_cli_migrates_and_creates_tenants
);
