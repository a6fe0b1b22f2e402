//! `GET /metrics`: Prometheus text, through the `metrics` facade and its Prometheus exporter.
//!
//! Requests are counted by route template (`/users/{id}`, never the raw path), method and
//! status, with a latency histogram; unknown paths share the label `unmatched`, so no
//! client-supplied string becomes a label. Gauges that cost a read (the database pool, the
//! password-hash queue) are set when the endpoint is scraped.
//!
//! Who may read them: with `OVLT_METRICS_ADDR` they are served on that listener alone; else
//! with `OVLT_METRICS_TOKEN` on the main port to `Authorization: Bearer <token>`; else on the
//! main port in development only (production answers 404, as for no route).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::crypto::password::HASH_WAIT_SECONDS;
use crate::error::ApiError;

const REQUEST_SECONDS: &str = "ovlt_http_request_duration_seconds";

/// The process-wide recorder (the `metrics` facade has one); installed on first use.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.into()), &buckets)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(HASH_WAIT_SECONDS.into()), &buckets))
            .expect("non-empty buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first (never in this binary).
        let _ = metrics::set_global_recorder(recorder);
        // Histograms keep their samples until upkeep folds them into the buckets: without it
        // they would grow with every request between scrapes.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("ovlt-metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })
            .expect("cannot start the metrics upkeep thread");
        handle
    })
}

/// Installs the recorder, so that counters recorded before the first scrape are kept.
pub fn install() {
    handle();
}

/// Middleware: counts every request by route template, method and status, and times it.
pub async fn record_request(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let status = status_label(response.status().as_u16());
    metrics::counter!("ovlt_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "method" => method, "route" => route).record(started.elapsed().as_secs_f64());
    response
}

/// The statuses ovlt answers, as labels without an allocation; anything else is `other`.
fn status_label(status: u16) -> &'static str {
    const KNOWN: [(u16, &str); 18] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (302, "302"),
        (303, "303"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (408, "408"),
        (409, "409"),
        (413, "413"),
        (429, "429"),
        (500, "500"),
        (503, "503"),
        (415, "415"),
    ];
    KNOWN.iter().find(|(code, _)| *code == status).map_or("other", |(_, label)| label)
}

/// `GET /metrics` on the main port.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics.",
    description = "Served here with OVLT_METRICS_TOKEN (as a bearer token), or in development without it; with \
                   OVLT_METRICS_ADDR on that listener instead, and in production without a token not at all (404).",
    responses(
        (status = 200, description = "The Prometheus text format.", content_type = "text/plain", body = String),
        (status = 401, description = "invalid_token"),
        (status = 404, description = "not_found"),
    )
)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let config = &state.config;
    match &config.metrics_token {
        _ if config.metrics_addr.is_some() => return Err(ApiError::NotFound("route")),
        Some(token) => {
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            let matches = sent.is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(token.expose().as_bytes())));
            if !matches {
                return Err(ApiError::InvalidToken);
            }
        }
        None if config.is_production() => return Err(ApiError::NotFound("route")),
        None => {}
    }
    Ok(render(&state))
}

/// The text of every metric, with the scrape-time gauges set first.
pub fn render(state: &AppState) -> Response {
    let pool = state.store.pool();
    let size = pool.size() as f64;
    let idle = pool.num_idle() as f64;
    metrics::gauge!("ovlt_db_pool_connections", "state" => "in_use").set(size - idle);
    metrics::gauge!("ovlt_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("ovlt_password_hash_in_flight").set(state.passwords.in_flight() as f64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render()).into_response()
}
