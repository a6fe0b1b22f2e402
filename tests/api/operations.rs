//! `/health` and `/ready`.

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

backend_tests!(
    health_answers_ok_and_the_version,
    ready_answers_200_while_the_database_answers,
    ready_answers_503_when_the_database_is_gone_while_health_stays_ok
);
