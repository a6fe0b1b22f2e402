//! A rolling restart of instances on one database under a steady write load, as behind a load
//! balancer: three serve, and two of them in turn are stopped (as by SIGTERM: stop accepting, finish what
//! is in flight) and replaced. Every write that was answered 201 is in the database afterwards,
//! and no answer is a 5xx other than 503. A connection refused by a stopped instance is what a
//! load balancer retries elsewhere; it is counted, not failed.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::Method;
use tokio::sync::Notify;

use crate::helpers::{ADMIN_KEY, Backend, TestApp, backend_tests};

const WORKERS: usize = 4;

#[derive(Default)]
struct Load {
    /// Base URLs in rotation; a replaced instance's URL is swapped in place.
    targets: Mutex<Vec<String>>,
    stop: AtomicBool,
    committed: Mutex<Vec<String>>,
    successes: AtomicU64,
    unavailable: AtomicU64,
    refused: AtomicU64,
    /// Connections closed before an answer: a kept-alive connection the stopping instance
    /// closed just as a request was sent on it (the request was not run).
    interrupted: AtomicU64,
    /// Statuses that must never be seen (anything but 201 and 503).
    wrong: Mutex<Vec<u16>>,
    progress: Notify,
}

impl Load {
    async fn worker(self: Arc<Self>, worker: usize) {
        let client = reqwest::Client::new();
        for n in 0u64.. {
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            let target = {
                let targets = self.targets.lock().unwrap();
                targets[(worker + n as usize) % targets.len()].clone()
            };
            let slug = format!("rr-{worker}-{n}");
            let sent = client
                .post(format!("{target}/tenants"))
                .header("x-ovlt-admin-key", ADMIN_KEY)
                .json(&serde_json::json!({ "slug": slug, "name": slug }))
                .send()
                .await;
            match sent.map(|r| r.status().as_u16()) {
                Ok(201) => {
                    self.committed.lock().unwrap().push(slug);
                    self.successes.fetch_add(1, Ordering::AcqRel);
                    self.progress.notify_waiters();
                }
                Ok(503) => {
                    self.unavailable.fetch_add(1, Ordering::AcqRel);
                }
                Ok(status) => self.wrong.lock().unwrap().push(status),
                Err(e) if e.is_connect() => {
                    self.refused.fetch_add(1, Ordering::AcqRel);
                }
                Err(_) => {
                    self.interrupted.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
    }

    /// Returns once `more` further writes have been answered 201.
    async fn until_more_successes(&self, more: u64) {
        let goal = self.successes.load(Ordering::Acquire) + more;
        loop {
            let notified = self.progress.notified();
            if self.successes.load(Ordering::Acquire) >= goal {
                return;
            }
            notified.await;
        }
    }

    fn replace(&self, old: &str, new: &str) {
        let mut targets = self.targets.lock().unwrap();
        for target in targets.iter_mut().filter(|t| *t == old) {
            *target = new.to_string();
        }
    }
}

/// Stops `app` as SIGTERM does and waits until it has finished its requests in flight.
async fn stop(mut app: TestApp) {
    app.signal_shutdown();
    app.take_server().await.unwrap();
}

async fn a_rolling_restart_under_load_loses_no_committed_write_and_answers_no_other_5xx(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let second = first.spawn_sibling(|_| {}).await;
    // A third instance serves throughout: three on one database.
    let third = first.spawn_sibling(|_| {}).await;
    let load = Arc::new(Load::default());
    *load.targets.lock().unwrap() = vec![first.address.clone(), second.address.clone(), third.address.clone()];
    let workers: Vec<_> = (0..WORKERS).map(|w| tokio::spawn(load.clone().worker(w))).collect();
    load.until_more_successes(20).await;

    let old = first.address.clone();
    stop(first).await;
    load.until_more_successes(20).await;
    let first = second.spawn_sibling(|_| {}).await;
    load.replace(&old, &first.address);
    load.until_more_successes(20).await;

    let old = second.address.clone();
    stop(second).await;
    load.until_more_successes(20).await;
    let second = first.spawn_sibling(|_| {}).await;
    load.replace(&old, &second.address);
    load.until_more_successes(20).await;
    load.stop.store(true, Ordering::Release);
    for worker in workers {
        worker.await.unwrap();
    }

    let stored: HashSet<String> = sqlx::query_scalar("SELECT slug FROM tenants WHERE slug LIKE 'rr-%'")
        .fetch_all(second.state.store.pool())
        .await
        .unwrap()
        .into_iter()
        .collect();
    let committed = load.committed.lock().unwrap().clone();
    let lost: Vec<&String> = committed.iter().filter(|slug| !stored.contains(*slug)).collect();
    eprintln!(
        "rolling restart: {} writes answered 201, {} answered 503, {} connections refused by a stopped instance, \
         {} closed before an answer; {} stored without a 201",
        committed.len(),
        load.unavailable.load(Ordering::Acquire),
        load.refused.load(Ordering::Acquire),
        load.interrupted.load(Ordering::Acquire),
        stored.len().saturating_sub(committed.len() - lost.len())
    );
    assert!(committed.len() >= 100);
    assert!(lost.is_empty(), "writes answered 201 but not stored: {lost:?}");
    assert_eq!(stored.len(), committed.len(), "a connection closed before its answer ran nothing (safe to retry)");
    assert_eq!(*load.wrong.lock().unwrap(), Vec::<u16>::new(), "only 201 and 503 are answered");
    for instance in [&first, &second, &third] {
        assert_eq!(instance.request(Method::GET, "/ready").send().await.unwrap().status(), 200);
    }
}

backend_tests!(a_rolling_restart_under_load_loses_no_committed_write_and_answers_no_other_5xx);
