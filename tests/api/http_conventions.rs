//! What every answer shares: the error shape, request ids, security headers, CORS, the body
//! limit, and answers for unknown routes and methods.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, backend_tests};

async fn unknown_routes_answer_404_in_the_error_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app.request(Method::GET, "/no/such/route").send().await.unwrap();

    assert_error(response, 404, "not_found").await;
}

async fn a_known_route_with_another_method_answers_405_in_the_error_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app.admin(Method::PUT, "/tenants").send().await.unwrap();

    assert_error(response, 405, "method_not_allowed").await;
}

async fn malformed_json_answers_400_invalid_payload(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app
        .admin(Method::POST, "/tenants")
        .header("content-type", "application/json")
        .body("{\"slug\": \"acme\",")
        .send()
        .await
        .unwrap();

    assert_error(response, 400, "invalid_payload").await;
}

async fn a_body_that_is_not_json_answers_400_invalid_payload(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let wrong_type = app
        .admin(Method::POST, "/tenants")
        .header("content-type", "text/plain")
        .body("slug=acme")
        .send()
        .await
        .unwrap();
    let no_type = app.admin(Method::POST, "/tenants").body("{}").send().await.unwrap();
    let not_an_object = app.admin(Method::POST, "/tenants").json(&json!(["acme"])).send().await.unwrap();

    assert_error(wrong_type, 400, "invalid_payload").await;
    assert_error(no_type, 400, "invalid_payload").await;
    assert_error(not_an_object, 400, "invalid_payload").await;
}

async fn a_json_array_is_never_read_as_an_object(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let id = tenant["id"].as_str().unwrap();

    // serde would take an array's items as the struct's fields, in order.
    let created =
        app.admin(Method::POST, "/tenants").json(&json!(["arr-tenant", "Array Tenant"])).send().await.unwrap();
    let disabled =
        app.admin(Method::PATCH, &format!("/tenants/{id}")).json(&json!([null, false])).send().await.unwrap();

    let body = assert_error(created, 400, "invalid_payload").await;
    assert!(body["message"].as_str().unwrap().contains("JSON object"), "{body}");
    assert_error(disabled, 400, "invalid_payload").await;
    assert_eq!(app.tenant(Method::GET, "/tenant", "arr-tenant").send().await.unwrap().status(), 404);
    assert_eq!(app.tenant(Method::GET, "/tenant", "acme").send().await.unwrap().status(), 200, "still enabled");
}

async fn a_nul_in_a_json_string_or_a_form_value_answers_400_never_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let create_user = |name: &str| {
        app.admin(Method::POST, "/users")
            .header("x-ovlt-tenant-slug", "acme")
            .json(&json!({ "email": "nul@acme.test", "name": name }))
            .send()
    };

    assert_error(create_user("a\u{0}b").await.unwrap(), 400, "invalid_payload").await;
    let login =
        app.tenant(Method::POST, "/auth/login", "acme").json(&json!({ "email": "a\u{0}@acme.test", "password": "x" }));
    assert_error(login.send().await.unwrap(), 400, "invalid_payload").await;
    let token = app
        .request(Method::POST, "/oauth/token")
        .form(&[("grant_type", "client_credentials"), ("client_id", "a\u{0}")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 400);
    assert_eq!(token.json::<Value>().await.unwrap()["error"], "invalid_request");
    let literal = create_user("back\\u0000slash").await.unwrap();
    assert_eq!(literal.status(), 201, "the letters \\u0000 are just text");
}

async fn a_wrongly_typed_field_is_refused_without_echoing_the_value(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response =
        app.admin(Method::POST, "/tenants").json(&json!({ "slug": "acme", "name": 987654321 })).send().await.unwrap();

    let body = assert_error(response, 400, "invalid_payload").await;
    assert!(!body.to_string().contains("987654321"), "value echoed: {body}");
    assert!(body["message"].as_str().unwrap().starts_with("name: invalid type"), "names the field: {body}");
}

async fn a_whole_number_written_with_a_fraction_is_an_integer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let manage = |method: Method, path: &str| app.admin(method, path).header("x-ovlt-tenant-slug", "acme");

    let settings = manage(Method::PUT, "/settings").json(&json!({ "password_history": 3.0 })).send().await.unwrap();
    let client = json!({ "name": "A", "redirect_uris": ["https://a.example/cb"], "access_token_ttl_seconds": 600.0 });
    let created = manage(Method::POST, "/clients").json(&client).send().await.unwrap();
    let fraction = manage(Method::PUT, "/settings").json(&json!({ "password_history": 2.5 })).send().await.unwrap();

    assert_eq!(settings.status(), 200);
    assert_eq!(settings.json::<Value>().await.unwrap()["password_history"], 3);
    assert_eq!(created.status(), 201);
    assert_eq!(created.json::<Value>().await.unwrap()["access_token_ttl_seconds"], 600);
    assert_error(fraction, 400, "invalid_payload").await;
}

async fn a_malformed_uuid_in_a_path_answers_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app.admin(Method::GET, "/tenants/not-a-uuid").send().await.unwrap();

    assert_error(response, 400, "invalid_payload").await;
}

async fn a_body_over_the_limit_answers_413_in_the_error_shape(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.body_limit = 2048).await;
    let big_name = "n".repeat(4096);

    let response =
        app.admin(Method::POST, "/tenants").json(&json!({ "slug": "big", "name": big_name })).send().await.unwrap();

    assert_error(response, 413, "payload_too_large").await;
    let listed: Value = app.admin(Method::GET, "/tenants/slugs").send().await.unwrap().json().await.unwrap();
    assert!(!listed["data"].as_array().unwrap().contains(&json!("big")));
}

async fn every_answer_carries_a_request_id_and_keeps_a_well_formed_incoming_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let generated = app.request(Method::GET, "/health").send().await.unwrap();
    let kept = app.request(Method::GET, "/nope").header("x-request-id", "trace-123.abc").send().await.unwrap();
    let replaced =
        app.request(Method::GET, "/health").header("x-request-id", "bad id with spaces").send().await.unwrap();

    let generated = generated.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    assert_eq!(kept.headers()["x-request-id"], "trace-123.abc");
    let replaced = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(replaced).is_ok(), "{replaced}");
}

async fn security_headers_are_on_successes_and_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for response in [
        app.request(Method::GET, "/health").send().await.unwrap(),
        app.request(Method::GET, "/tenants").send().await.unwrap(),
        app.request(Method::GET, "/missing").send().await.unwrap(),
    ] {
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-store");
        assert!(headers.get("strict-transport-security").is_none(), "no HSTS in development");
    }
}

async fn production_adds_hsts(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.env = ovlt::config::Environment::Production).await;

    let response = app.request(Method::GET, "/health").send().await.unwrap();

    let hsts = response.headers()["strict-transport-security"].to_str().unwrap();
    assert!(hsts.starts_with("max-age="), "{hsts}");
}

async fn cors_answers_configured_origins_only(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.cors_origins = ovlt::config::CorsOrigins::List(vec!["https://app.example.com".into()]);
    })
    .await;
    let preflight = |origin: &'static str| {
        app.request(Method::OPTIONS, "/tenant")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "x-ovlt-tenant-slug")
            .send()
    };

    let allowed = preflight("https://app.example.com").await.unwrap();
    let foreign = preflight("https://evil.example.com").await.unwrap();

    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let allowed_headers = allowed.headers()["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed_headers.contains("x-ovlt-tenant-slug"), "{allowed_headers}");
    assert!(!allowed_headers.contains("x-ovlt-admin-key"), "{allowed_headers}");
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
}

async fn without_configured_origins_no_cors_headers_are_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response =
        app.request(Method::GET, "/health").header("origin", "https://app.example.com").send().await.unwrap();

    assert!(response.headers().get("access-control-allow-origin").is_none());
}

async fn the_default_body_limit_is_one_mebibyte(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body_of = |len: usize| {
        let padding = "n".repeat(len - r#"{"slug":"big","name":""}"#.len());
        format!(r#"{{"slug":"big","name":"{padding}"}}"#)
    };

    let under = app
        .admin(Method::POST, "/tenants")
        .header("content-type", "application/json")
        .body(body_of(1024 * 1024))
        .send()
        .await
        .unwrap();
    let over = app
        .admin(Method::POST, "/tenants")
        .header("content-type", "application/json")
        .body(body_of(1024 * 1024 + 1))
        .send()
        .await
        .unwrap();

    let under = assert_error(under, 400, "invalid_payload").await;
    assert!(under["fields"]["name"].is_string(), "read and validated: {under}");
    assert_error(over, 413, "payload_too_large").await;
}

async fn a_request_slower_than_the_timeout_answers_408_in_the_error_shape(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.request_timeout = std::time::Duration::from_secs(1)).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /tenants HTTP/1.1\r\nhost: {address}\r\nx-ovlt-admin-key: {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{",
        crate::helpers::ADMIN_KEY
    );

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer)).await.unwrap().unwrap();

    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");
}

async fn cors_with_a_wildcard_allows_any_origin_without_credentials(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.cors_origins = ovlt::config::CorsOrigins::Any).await;

    let response =
        app.request(Method::GET, "/health").header("origin", "https://anywhere.example").send().await.unwrap();

    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(response.headers().get("access-control-allow-credentials").is_none());
}

async fn cors_headers_are_on_simple_responses_for_allowed_origins(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.cors_origins = ovlt::config::CorsOrigins::List(vec!["https://app.example.com".into()]);
    })
    .await;

    let response =
        app.request(Method::GET, "/health").header("origin", "https://app.example.com").send().await.unwrap();

    assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
    let exposed = response.headers()["access-control-expose-headers"].to_str().unwrap();
    assert!(exposed.contains("x-request-id"), "{exposed}");
}

backend_tests!(
    unknown_routes_answer_404_in_the_error_shape,
    a_known_route_with_another_method_answers_405_in_the_error_shape,
    malformed_json_answers_400_invalid_payload,
    a_body_that_is_not_json_answers_400_invalid_payload,
    a_json_array_is_never_read_as_an_object,
    a_nul_in_a_json_string_or_a_form_value_answers_400_never_500,
    a_wrongly_typed_field_is_refused_without_echoing_the_value,
    a_whole_number_written_with_a_fraction_is_an_integer,
    a_malformed_uuid_in_a_path_answers_400,
    a_body_over_the_limit_answers_413_in_the_error_shape,
    every_answer_carries_a_request_id_and_keeps_a_well_formed_incoming_one,
    security_headers_are_on_successes_and_errors,
    production_adds_hsts,
    cors_answers_configured_origins_only,
    without_configured_origins_no_cors_headers_are_sent,
    the_default_body_limit_is_one_mebibyte,
    a_request_slower_than_the_timeout_answers_408_in_the_error_shape,
    cors_with_a_wildcard_allows_any_origin_without_credentials,
    cors_headers_are_on_simple_responses_for_allowed_origins
);
