//! `GET /openapi.json`: the document generated from the handlers is pinned to a checked-in
//! snapshot (a changed API must update it on purpose), every documented route exists, and the
//! document is well-formed (ids, summaries, responses, security, resolvable `$ref`s) and public.
//!
//! That every route is documented holds by construction: the router takes routes only through
//! `utoipa_axum::routes!`, which needs the handler's `#[utoipa::path]` (clippy refuses
//! `OpenApiRouter::route`, see clippy.toml).

use std::collections::HashSet;
use std::path::Path;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, backend_tests};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/openapi.snapshot.json");

/// Every operation: `(path, method, operation)`.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

/// Every `$ref` string anywhere in the document.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => found.push(target.clone()),
                    _ => references(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

async fn served_document(app: &TestApp) -> Value {
    let response = app.request(Method::GET, "/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.expect("the document is JSON")
}

/// The document does not depend on the backend; one run pins it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_matches_its_snapshot() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = serde_json::to_string_pretty(&served_document(&app).await).unwrap() + "\n";
    if std::env::var_os("OVLT_UPDATE_OPENAPI_SNAPSHOT").is_some() {
        std::fs::write(SNAPSHOT, &document).unwrap();
        return;
    }
    let pinned = std::fs::read_to_string(Path::new(SNAPSHOT)).unwrap_or_default();
    if pinned != document {
        let changed = pinned.lines().zip(document.lines()).position(|(a, b)| a != b).map_or(0, |line| line + 1);
        panic!(
            "/openapi.json differs from tests/api/openapi.snapshot.json (first at line {changed}); if the API \
             changed on purpose, run the test with OVLT_UPDATE_OPENAPI_SNAPSHOT=1 and review the diff"
        );
    }
}

/// Each documented operation reaches a handler: neither the router's 404 nor its 405.
async fn every_documented_route_exists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let document = served_document(&app).await;
    let nil = "00000000-0000-0000-0000-000000000000";
    for (path, method, _) in operations(&document) {
        let url: String =
            path.split('/').map(|s| if s.starts_with('{') { nil } else { s }).collect::<Vec<_>>().join("/");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app.request(method.clone(), &url).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status != 405, "{method} {path} is documented but the router does not take {method}");
        assert!(!body.contains("route not found"), "{method} {path} is documented but has no route");
    }
}

async fn every_operation_is_complete_and_every_reference_resolves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let document = served_document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");

    let mut ids = HashSet::new();
    for (path, method, operation) in operations(&document) {
        let name = format!("{} {path}", method.to_uppercase());
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{name} has no operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} is used twice ({name})");
        let summary = operation["summary"].as_str().unwrap_or_default();
        assert!(!summary.trim().is_empty() && !summary.contains('\n'), "{name} needs a one-line summary");
        let responses = operation["responses"].as_object();
        assert!(responses.is_some_and(|r| !r.is_empty()), "{name} has no responses");
        for (status, response) in responses.unwrap() {
            let description = response["description"].as_str().unwrap_or_default();
            assert!(!description.is_empty(), "{name} answers {status} without a description");
        }
        assert!(
            operation["security"].is_array(),
            "{name} needs a security requirement (or an explicit empty `security: []` when public)"
        );
        let tags = operation["tags"].as_array();
        assert!(tags.is_some_and(|t| !t.is_empty()), "{name} has no tags");

        // Every {parameter} of the path is declared as a path parameter.
        let declared: Vec<String> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let parameter = segment.trim_start_matches('{').trim_end_matches('}');
            assert!(declared.iter().any(|d| d == parameter), "{name} does not declare the path parameter {parameter}");
        }
    }

    let mut targets = Vec::new();
    references(&document, &mut targets);
    assert!(!targets.is_empty(), "the document uses no $ref at all");
    for target in targets {
        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("$ref {target} is not local"));
        assert!(document.pointer(pointer).is_some(), "$ref {target} does not resolve");
    }
}

async fn the_document_is_public_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app.request(Method::GET, "/openapi.json").send().await.unwrap();

    assert_eq!(response.status(), 200);
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(content_type.starts_with("application/json"), "content-type was {content_type:?}");
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(document["paths"].as_object().is_some_and(|p| !p.is_empty()));
}

backend_tests!(
    every_documented_route_exists,
    every_operation_is_complete_and_every_reference_resolves,
    the_document_is_public_json
);
