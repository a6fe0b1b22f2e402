//! `GET /openapi.json`: every route of the router is documented, and only real routes are; the
//! document is well-formed (ids, summaries, responses, security, resolvable `$ref`s) and public.

use std::collections::{BTreeSet, HashSet};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, backend_tests};

/// The router's source, read at build time: the routes it declares are the truth.
const ROUTER_SOURCE: &str = include_str!("../../src/http/mod.rs");

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// Every `(path, method)` the router declares with `.route("<path>", get(..).post(..))`,
/// however rustfmt spreads the call over lines.
fn declared_routes() -> BTreeSet<(String, String)> {
    let source = without_line_comments(ROUTER_SOURCE);
    let mut routes = BTreeSet::new();
    let mut rest = source.as_str();
    while let Some(at) = rest.find(".route(") {
        let call = &rest[at + ".route(".len()..];
        let body = &call[..closing_paren(call)];
        let (path, after) = string_literal(body).unwrap_or_else(|| panic!("a .route( without a path literal: {body}"));
        let methods = method_calls(&body[after..]);
        assert!(!methods.is_empty(), "no method router found for route {path}: {body}");
        for method in methods {
            assert!(routes.insert((path.clone(), method.to_string())), "route {method} {path} declared twice");
        }
        rest = &call[body.len()..];
    }
    routes
}

/// The source without `// …` comments (outside string literals).
fn without_line_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let mut in_string = false;
        let mut cut = line.len();
        let bytes = line.as_bytes();
        for i in 0..bytes.len() {
            match bytes[i] {
                b'"' if i == 0 || bytes[i - 1] != b'\\' => in_string = !in_string,
                b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

/// The index of the parenthesis closing a call whose arguments start `text`.
fn closing_paren(text: &str) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut previous = '\0';
    for (i, c) in text.char_indices() {
        match c {
            '"' if previous != '\\' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string && depth == 0 => return i,
            ')' if !in_string => depth -= 1,
            _ => {}
        }
        previous = c;
    }
    panic!("unbalanced parentheses in the router source after: {}", &text[..text.len().min(80)]);
}

/// The first argument's string literal, and the index just after it.
fn string_literal(arguments: &str) -> Option<(String, usize)> {
    let trimmed = arguments.trim_start();
    let inner = trimmed.strip_prefix('"')?;
    let end = inner.find('"')?;
    let start = arguments.len() - trimmed.len() + 1;
    Some((inner[..end].to_string(), start + end + 1))
}

/// The HTTP methods of a method router such as `get(a).post(b)` or `delete(c)`: each name in
/// [`METHODS`] called as a function (not a path segment like `users::delete_user`).
fn method_calls(text: &str) -> Vec<&'static str> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for (i, _) in text.char_indices() {
        for method in METHODS {
            let call = format!("{method}(");
            if !text[i..].starts_with(&call) {
                continue;
            }
            let before = if i == 0 { b' ' } else { bytes[i - 1] };
            if before.is_ascii_alphanumeric() || before == b'_' || before == b':' {
                continue;
            }
            found.push(*method);
        }
    }
    found
}

/// Every `(path, method)` the document describes.
fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths is an object");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().expect("a path item is an object").keys() {
            routes.insert((path.clone(), method.clone()));
        }
    }
    routes
}

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

#[test]
fn the_router_source_is_parsed_into_routes() {
    let routes = declared_routes();
    assert!(routes.len() >= 80, "only {} routes found: the parser is probably broken", routes.len());
    for expected in [
        ("/health", "get"),
        ("/oauth/authorize", "post"),
        ("/oauth/userinfo", "post"),
        ("/tenants/{id}", "patch"),
        ("/users/{id}/mfa", "delete"),
        ("/oauth/mfa", "post"),
    ] {
        assert!(routes.contains(&(expected.0.to_string(), expected.1.to_string())), "{expected:?} not found");
    }
    // Handler names are not methods: `get(users::get_user).put(..).delete(users::delete_user)`.
    let user_methods: Vec<&str> =
        routes.iter().filter(|(path, _)| path == "/users/{id}").map(|(_, method)| method.as_str()).collect();
    assert_eq!(user_methods, ["delete", "get", "put"]);
    // rustfmt may put a long route's arguments on lines of their own.
    let spread = ".route(\n    \"/a/{id}\",\n    get(a::get_a)\n        .post(a::post_a), // note\n)";
    let (path, after) = string_literal(&spread[".route(".len()..]).unwrap();
    assert_eq!(path, "/a/{id}");
    assert_eq!(method_calls(&without_line_comments(&spread[".route(".len() + after..])), ["get", "post"]);
}

async fn every_route_is_documented_and_every_documented_route_exists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let document = served_document(&app).await;

    let declared = declared_routes();
    let documented = documented_routes(&document);

    let undocumented: Vec<String> =
        declared.difference(&documented).map(|(path, method)| format!("{} {path}", method.to_uppercase())).collect();
    assert!(undocumented.is_empty(), "routes missing from /openapi.json: {}", undocumented.join(", "));
    let invented: Vec<String> =
        documented.difference(&declared).map(|(path, method)| format!("{} {path}", method.to_uppercase())).collect();
    assert!(invented.is_empty(), "/openapi.json documents routes the router does not have: {}", invented.join(", "));
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
    every_route_is_documented_and_every_documented_route_exists,
    every_operation_is_complete_and_every_reference_resolves,
    the_document_is_public_json
);
