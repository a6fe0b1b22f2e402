//! Load benchmark: starts the release server as its own process and drives it over real HTTP
//! from this one. Prints one table: logins/s against the Argon2id ceiling of this machine,
//! /health p99 during the login flood, refreshes/s and /users/me per second, with p50/p99
//! latencies and the server's peak RSS.
//!
//!   cargo build --release && cargo run --release --example bench                # SQLite
//!   cargo run --release --example bench -- postgres://postgres@127.0.0.1/postgres  # PostgreSQL
//!
//! For PostgreSQL the URL is an admin connection: a fresh database is created and dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

// The server's allocator, so the Argon2id ceiling measured here is the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod support;

use support::{ADMIN_KEY, cores, measure, peak_rss_mb, percentiles};

const PASSWORD: &str = "Bench-pass-1234!";
const SECONDS: u64 = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let database = support::Database::create(std::env::args().nth(1), data.path(), "ovlt_bench").await?;
    let (mut server, address) = support::start_server(
        &database.url,
        data.path(),
        &[("OVLT_RATE_LIMIT_PER_MINUTE", "0"), ("OVLT_DB_MAX_CONNECTIONS", "16")],
    )
    .await?;
    let pid = server.id().unwrap_or_default();
    let backend = database.backend;

    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let post = |path: &str, body: Value| {
        client.post(format!("{address}{path}")).header("x-ovlt-tenant-slug", "bench").json(&body).send()
    };
    client
        .post(format!("{address}/tenants"))
        .header("x-ovlt-admin-key", ADMIN_KEY)
        .json(&json!({ "slug": "bench", "name": "Bench" }))
        .send()
        .await?
        .error_for_status()?;
    let users = 16;
    for i in 0..users {
        post("/auth/register", json!({ "email": format!("user{i}@bench.test"), "password": PASSWORD }))
            .await?
            .error_for_status()?;
    }

    let ceiling = argon2_ceiling();
    let mut rows = Vec::new();

    // Logins, with a /health prober beside them.
    let flooding = Arc::new(AtomicBool::new(true));
    let prober = {
        let (client, address, flooding) = (client.clone(), address.clone(), flooding.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while flooding.load(Ordering::Relaxed) {
                let started = Instant::now();
                let _ = client.get(format!("{address}/health")).send().await;
                latencies.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            latencies
        })
    };
    let (c, a) = (client.clone(), address.clone());
    let login = measure(pid, SECONDS, 8, move |worker| {
        let body = json!({ "email": format!("user{}@bench.test", worker % users), "password": PASSWORD });
        let request = c.post(format!("{a}/auth/login")).header("x-ovlt-tenant-slug", "bench").json(&body);
        async move { request.send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    flooding.store(false, Ordering::Relaxed);
    let health = prober.await?;
    rows.push(("POST /auth/login", login));

    // Refreshes: each worker follows its own rotation chain.
    let mut chains = Vec::new();
    for i in 0..16 {
        let tokens: Value =
            post("/auth/login", json!({ "email": format!("user{}@bench.test", i % users), "password": PASSWORD }))
                .await?
                .json()
                .await?;
        chains
            .push(Arc::new(tokio::sync::Mutex::new(tokens["refresh_token"].as_str().unwrap_or_default().to_string())));
    }
    let access: Value =
        post("/auth/login", json!({ "email": "user0@bench.test", "password": PASSWORD })).await?.json().await?;
    let (c, a) = (client.clone(), address.clone());
    let refresh = measure(pid, SECONDS, 16, move |worker| {
        let chain = chains[worker].clone();
        let (client, address) = (c.clone(), a.clone());
        async move {
            let mut token = chain.lock().await;
            let answer = client
                .post(format!("{address}/auth/refresh"))
                .header("x-ovlt-tenant-slug", "bench")
                .json(&json!({ "refresh_token": *token }))
                .send()
                .await;
            match answer {
                Ok(r) if r.status() == 200 => {
                    let tokens: Value = r.json().await.unwrap_or_default();
                    *token = tokens["refresh_token"].as_str().unwrap_or_default().to_string();
                    true
                }
                _ => false,
            }
        }
    })
    .await;
    rows.push(("POST /auth/refresh", refresh));

    let bearer = access["access_token"].as_str().unwrap_or_default().to_string();
    let (c, a) = (client.clone(), address.clone());
    let me = measure(pid, SECONDS, 32, move |_| {
        let request = c.get(format!("{a}/users/me")).header("x-ovlt-tenant-slug", "bench").bearer_auth(&bearer);
        async move { request.send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    rows.push(("GET /users/me", me));

    let peak_rss_mb = peak_rss_mb(pid);
    server.kill().await.ok();

    println!(
        "\novlt benchmark — {backend}, {} cores, {SECONDS} s per scenario, load from a separate process\n",
        cores()
    );
    println!("| scenario | concurrency | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|");
    for (name, r) in &rows {
        println!("| {name} | {} | {:.0} | {:.2} | {:.2} | {} |", r.concurrency, r.rate, r.p50, r.p99, r.errors);
    }
    let (health_p50, health_p99) = percentiles(health);
    println!(
        "\nlogin ceiling (Argon2id hashes/s by a plain loop on all cores, measured here): {ceiling:.0}/s → logins reached {:.0} %",
        100.0 * rows[0].1.rate / ceiling
    );
    println!("/health during the login flood: p50 {health_p50:.2} ms, p99 {health_p99:.2} ms");
    println!("server peak RSS: {peak_rss_mb:.1} MB");

    database.drop_if_postgres().await
}

/// Logins per second this machine can hash at most: Argon2id hashes per second with every core
/// hashing at once (measured, not cores × single-thread speed: cores share caches and clocks).
fn argon2_ceiling() -> f64 {
    use argon2::PasswordHasher;
    let rounds = 12;
    let started = Instant::now();
    let threads: Vec<_> = (0..cores())
        .map(|_| {
            std::thread::spawn(move || {
                let hasher = argon2::Argon2::default();
                for _ in 0..rounds {
                    let _ = hasher.hash_password(b"benchmark password");
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    (cores() * rounds) as f64 / started.elapsed().as_secs_f64()
}
