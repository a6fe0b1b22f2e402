//! Authorization-server benchmark: client_credentials tokens (client_secret_basic, RS256),
//! introspection, discovery and JWKS against the release server in its own process, with
//! p50/p99, requests per server CPU-second and peak RSS. In the same run it measures the two
//! references the targets are ratios of: this machine's RS256 signing rate with a parsed key
//! on all cores, and a bare axum endpoint serving the discovery document as static JSON (its
//! own process, same load settings).
//!
//!   cargo build --release && cargo run --release --example oauth_bench                # SQLite
//!   cargo run --release --example oauth_bench -- postgres://postgres@127.0.0.1/postgres  # PostgreSQL

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod support;

use support::connections::{Connections, Prepared};
use support::{ADMIN_KEY, cores, measure, peak_rss_mb};

const SECONDS: u64 = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--static-server") {
        return static_server().await;
    }
    let data = tempfile::tempdir()?;
    let database = support::Database::create(std::env::args().nth(1), data.path(), "ovlt_oauth_bench").await?;
    let (mut server, address) = support::start_server(
        &database.url,
        data.path(),
        &[("OVLT_RATE_LIMIT_PER_MINUTE", "0"), ("OVLT_DB_MAX_CONNECTIONS", "16")],
    )
    .await?;
    let pid = server.id().unwrap_or_default();
    let client = reqwest::Client::builder().pool_max_idle_per_host(128).build()?;
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
    let id = registered["client_id"].as_str().unwrap_or_default().to_string();
    let secret = registered["client_secret"].as_str().unwrap_or_default().to_string();

    let ceiling_before = rs256_ceiling();
    let mut rows = Vec::new();

    let request = Prepared::from(
        client
            .post(format!("{address}/oauth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")]),
    )?;
    let tokens = load(pid, &address, 16, request, b"{\"access_token\":").await?;
    rows.push(("POST /oauth/token (client_credentials)", tokens));
    // The machine's signing rate drifts (10–30 % between runs here): measured on both sides of
    // the token phase, the higher one is the ceiling.
    let ceiling_after = rs256_ceiling();
    let ceiling = ceiling_before.max(ceiling_after);

    let token: Value = client
        .post(format!("{address}/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"].as_str().unwrap_or_default().to_string();
    let request = Prepared::from(
        client.post(format!("{address}/oauth/introspect")).basic_auth(&id, Some(&secret)).form(&[("token", &token)]),
    )?;
    let introspection = load(pid, &address, 32, request, b"{\"active\":true").await?;
    rows.push(("POST /oauth/introspect", introspection));

    for path in ["/.well-known/openid-configuration", "/.well-known/jwks.json"] {
        let outcome = load(pid, &address, 64, Prepared::from(client.get(format!("{address}{path}")))?, b"{").await?;
        rows.push((if path.contains("jwks") { "GET jwks.json" } else { "GET openid-configuration" }, outcome));
    }
    let peak_rss_mb = peak_rss_mb(pid);
    server.kill().await.ok();

    // The reference: the same document from a bare axum process, same load settings.
    let (mut baseline_server, baseline_address) = start_static_server().await?;
    let baseline_pid = baseline_server.id().unwrap_or_default();
    let request = Prepared::from(client.get(format!("{baseline_address}/static")))?;
    let baseline = load(baseline_pid, &baseline_address, 64, request, b"{").await?;
    baseline_server.kill().await.ok();

    println!(
        "\novlt OAuth benchmark — {}, {} cores, {SECONDS} s per scenario, load from a separate process\n",
        database.backend,
        cores()
    );
    println!(
        "| scenario | concurrency | req/s | p50 ms | p99 ms | req per server CPU-s | load generator CPU µs/req | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, r) in rows.iter().chain([("bare axum static JSON (reference)", baseline)].iter()) {
        println!(
            "| {name} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.0} | {} |",
            r.concurrency, r.rate, r.p50, r.p99, r.per_cpu_second, r.client_cpu_us, r.errors
        );
    }
    println!(
        "\nRS256 ceiling (aws-lc-rs, parsed key, all cores, measured here before and after the token phase: \
         {ceiling_before:.0} and {ceiling_after:.0}): {ceiling:.0} signs/s → client_credentials reached {:.0} %",
        100.0 * rows[0].1.rate / ceiling
    );
    // The load generator runs on the same cores: each token's signature and the client's own
    // work for it share them, so no server could exceed this on this machine.
    let sign_us = cores() as f64 / ceiling * 1e6;
    let attainable = ceiling * sign_us / (sign_us + rows[0].1.client_cpu_us);
    println!(
        "the load generator spent {:.0} µs of CPU per token (a signature is {sign_us:.0} µs of a core): at most {attainable:.0} tokens/s \
         are attainable here ({:.0} % of the ceiling); client_credentials reached {:.0} % of that",
        rows[0].1.client_cpu_us,
        100.0 * attainable / ceiling,
        100.0 * rows[0].1.rate / attainable
    );
    println!(
        "discovery reached {:.0} % and JWKS {:.0} % of the bare axum endpoint",
        100.0 * rows[2].1.rate / baseline.rate,
        100.0 * rows[3].1.rate / baseline.rate
    );
    println!("server peak RSS: {peak_rss_mb:.1} MB");
    database.drop_if_postgres().await
}

/// RS256 signatures per second with a parsed RSA-2048 key, every core signing (a JWT-sized
/// input), measured with the server stopped.
fn rs256_ceiling() -> f64 {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    let key = Arc::new(RsaKeyPair::generate(KeySize::Rsa2048).expect("an RSA key"));
    let input = Arc::new(vec![b'x'; 420]);
    let duration = Duration::from_secs(3);
    let started = Instant::now();
    let threads: Vec<_> = (0..cores())
        .map(|_| {
            let (key, input) = (key.clone(), input.clone());
            std::thread::spawn(move || {
                let rng = SystemRandom::new();
                let mut signature = vec![0; key.public_modulus_len()];
                let mut count = 0u64;
                while started.elapsed() < duration {
                    key.sign(&RSA_PKCS1_SHA256, &rng, &input, &mut signature).expect("signs");
                    count += 1;
                }
                count
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// `request` from `concurrency` workers, each on its own kept-alive connection, for
/// [`SECONDS`]; a success is a 200 whose body starts with `prefix` (the whole body is read, as a
/// real client does).
async fn load(
    pid: u32,
    address: &str,
    concurrency: usize,
    request: Prepared,
    prefix: &'static [u8],
) -> anyhow::Result<support::Outcome> {
    let connections = Arc::new(Connections::open(address.trim_start_matches("http://"), concurrency).await?);
    let request = Arc::new(request);
    Ok(measure(pid, SECONDS, concurrency, move |worker| {
        let (connections, request) = (connections.clone(), request.clone());
        async move { connections.succeeded(worker, &request, prefix).await }
    })
    .await)
}

async fn start_static_server() -> anyhow::Result<(tokio::process::Child, String)> {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--static-server")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let address = lines.next_line().await?.ok_or_else(|| anyhow::anyhow!("the static server did not start"))?;
    Ok((child, address))
}

async fn static_server() -> anyhow::Result<()> {
    let body: &'static str = Box::leak(ovlt::discovery::openid_configuration("http://127.0.0.1:1").into_boxed_str());
    #[allow(clippy::disallowed_methods)] // a stand-in of the test's own, not ovlt's API
    let app = axum::Router::new().route(
        "/static",
        axum::routing::get(move || async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
