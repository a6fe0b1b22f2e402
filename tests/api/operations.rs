//! `/health`, `/ready` and `/metrics`.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, assert_error, backend_tests};

async fn health_answers_ok_and_the_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app.request(Method::GET, "/health").send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

async fn ready_answers_200_while_the_database_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app.request(Method::GET, "/ready").send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

async fn ready_answers_503_when_the_database_is_gone_while_health_stays_ok(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.state.store.close().await;

    let ready = app.request(Method::GET, "/ready").send().await.unwrap();
    let health = app.request(Method::GET, "/health").send().await.unwrap();

    assert_error(ready, 503, "unavailable").await;
    assert_eq!(health.status(), 200);
}

const METRICS_TOKEN: &str = "metrics-token-0123456789";

async fn metrics_need_their_token_and_label_requests_by_route_template(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.metrics_token = Some(ovlt::config::Secret::new(METRICS_TOKEN))).await;
    let user = uuid::Uuid::now_v7();
    app.admin(Method::GET, &format!("/tenants/{user}")).send().await.unwrap();
    app.request(Method::GET, "/no/such/route/9f1c").send().await.unwrap();

    assert_error(app.request(Method::GET, "/metrics").send().await.unwrap(), 401, "invalid_token").await;
    let wrong = app.request(Method::GET, "/metrics").bearer_auth("metrics-token-wrong-000000").send().await.unwrap();
    assert_error(wrong, 401, "invalid_token").await;
    let scraped = app.request(Method::GET, "/metrics").bearer_auth(METRICS_TOKEN).send().await.unwrap();

    assert_eq!(scraped.status(), 200);
    assert!(scraped.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = scraped.text().await.unwrap();
    assert!(text.contains(r#"route="/tenants/{id}""#), "the route template is the label:\n{text}");
    assert!(text.contains(r#"route="unmatched""#));
    assert!(!text.contains(&user.to_string()) && !text.contains("9f1c"), "no client-supplied string is a label");
    assert!(text.contains("ovlt_http_request_duration_seconds_bucket"));
    assert!(text.contains("ovlt_db_pool_connections"));
}

/// The value of the sample `name{labels}` (labels exactly as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn metrics_count_logins_lockouts_sessions_cache_lookups_and_hash_waits(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.metrics_token = Some(ovlt::config::Secret::new(METRICS_TOKEN))).await;
    app.signed_in("acme", "alice@example.com").await;
    app.set_settings("acme", serde_json::json!({ "lockout_threshold": 2 })).await;
    for expected in [401, 401, 429] {
        assert_eq!(app.login("acme", "alice@example.com", "wrong password 1").await.status(), expected);
    }
    app.login("acme", "nobody@example.com", "wrong password 1").await;

    let text =
        app.request(Method::GET, "/metrics").bearer_auth(METRICS_TOKEN).send().await.unwrap().text().await.unwrap();

    let at_least_one = |series: &str| {
        assert!(sample(&text, series).is_some_and(|v| v >= 1.0), "{series} is counted:\n{text}");
    };
    at_least_one(r#"ovlt_logins_total{outcome="password_accepted"}"#);
    at_least_one(r#"ovlt_logins_total{outcome="invalid_credentials"}"#);
    at_least_one(r#"ovlt_logins_total{outcome="locked"}"#);
    at_least_one("ovlt_lockouts_total");
    at_least_one(r#"ovlt_cache_lookups_total{cache="tenant",result="hit"}"#);
    at_least_one("ovlt_password_hash_wait_seconds_count");
    at_least_one(r#"ovlt_tokens_issued_total{grant="password"}"#);
    assert!(sample(&text, "ovlt_sessions_active").is_some(), "the live-session gauge:\n{text}");
    assert!(sample(&text, "ovlt_password_hash_in_flight").is_some());
    assert!(text.contains(r#"ovlt_db_pool_connections{state="idle"}"#));
}

async fn metrics_are_not_served_in_production_without_a_token(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.env = ovlt::config::Environment::Production).await;

    assert_error(app.request(Method::GET, "/metrics").send().await.unwrap(), 404, "not_found").await;
}

backend_tests!(
    metrics_need_their_token_and_label_requests_by_route_template,
    metrics_count_logins_lockouts_sessions_cache_lookups_and_hash_waits,
    metrics_are_not_served_in_production_without_a_token,
    health_answers_ok_and_the_version,
    ready_answers_200_while_the_database_answers,
    ready_answers_503_when_the_database_is_gone_while_health_stays_ok
);
