//! Which tenant a request addresses: x-ovlt-tenant-slug / x-ovlt-tenant-id, observed through
//! `GET /tenant`, the public tenant-scoped endpoint.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, backend_tests};

async fn by_slug(app: &TestApp, slug: &str) -> reqwest::Response {
    app.request(Method::GET, "/tenant").header("x-ovlt-tenant-slug", slug).send().await.unwrap()
}

async fn a_tenant_is_found_by_slug_and_by_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;

    let slug_answer = by_slug(&app, "acme").await;
    let id_answer = app
        .request(Method::GET, "/tenant")
        .header("x-ovlt-tenant-id", tenant["id"].as_str().unwrap())
        .send()
        .await
        .unwrap();

    assert_eq!(slug_answer.status(), 200);
    let expected = json!({ "id": tenant["id"], "slug": "acme", "name": "Acme" });
    assert_eq!(slug_answer.json::<Value>().await.unwrap(), expected);
    assert_eq!(id_answer.json::<Value>().await.unwrap(), expected);
}

async fn the_id_header_wins_when_both_are_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme", "Acme").await;
    app.create_tenant("other", "Other").await;

    let answer: Value = app
        .request(Method::GET, "/tenant")
        .header("x-ovlt-tenant-id", acme["id"].as_str().unwrap())
        .header("x-ovlt-tenant-slug", "other")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(answer["slug"], "acme");
}

async fn without_a_tenant_header_the_answer_is_400_tenant_required(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let none = app.request(Method::GET, "/tenant").send().await.unwrap();
    let empty = app.request(Method::GET, "/tenant").header("x-ovlt-tenant-slug", "").send().await.unwrap();

    assert_error(none, 400, "tenant_required").await;
    assert_error(empty, 400, "tenant_required").await;
}

async fn an_unknown_or_malformed_tenant_answers_404_tenant_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown_id = uuid::Uuid::now_v7().to_string();

    let unknown_slug = by_slug(&app, "nobody").await;
    let unknown = app.request(Method::GET, "/tenant").header("x-ovlt-tenant-id", &unknown_id).send().await.unwrap();
    let malformed = app.request(Method::GET, "/tenant").header("x-ovlt-tenant-id", "not-a-uuid").send().await.unwrap();

    assert_error(unknown_slug, 404, "tenant_not_found").await;
    assert_error(unknown, 404, "tenant_not_found").await;
    assert_error(malformed, 404, "tenant_not_found").await;
}

async fn disabling_a_tenant_takes_effect_at_once_on_this_instance(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let path = format!("/tenants/{}", tenant["id"].as_str().unwrap());
    assert_eq!(by_slug(&app, "acme").await.status(), 200, "cached while active");

    app.admin(Method::PATCH, &path).json(&json!({ "active": false })).send().await.unwrap();
    assert_error(by_slug(&app, "acme").await, 403, "tenant_disabled").await;

    app.admin(Method::PATCH, &path).json(&json!({ "active": true })).send().await.unwrap();
    assert_eq!(by_slug(&app, "acme").await.status(), 200);
}

async fn a_deleted_tenant_is_gone_at_once_on_this_instance(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    assert_eq!(by_slug(&app, "acme").await.status(), 200, "cached");

    app.admin(Method::DELETE, &format!("/tenants/{}", tenant["id"].as_str().unwrap())).send().await.unwrap();

    assert_error(by_slug(&app, "acme").await, 404, "tenant_not_found").await;
}

async fn a_resolved_tenant_is_served_without_a_database_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    // The first poll after the write sees the epoch it moved and empties the caches once.
    let created = Instant::now();
    let deadline = created + Duration::from_secs(10);
    while !app.state.coherence.polled_since(created) {
        assert!(Instant::now() < deadline, "no cache-epoch poll within 10 s");
        tokio::time::sleep(Duration::from_millis(5)).await; // polling a condition, not waiting it out
    }
    assert_eq!(by_slug(&app, "acme").await.status(), 200);

    app.state.store.close().await;

    assert_eq!(by_slug(&app, "acme").await.status(), 200, "answered from the cache");
    assert_eq!(app.request(Method::GET, "/ready").send().await.unwrap().status(), 503, "the database is really gone");
}

async fn a_change_made_on_another_instance_is_seen_when_the_cache_entry_expires(backend: Backend) {
    let ttl = Duration::from_millis(300);
    let a = TestApp::spawn_with(backend, |c| c.tenant_cache_ttl = ttl).await;
    let b = a.spawn_sibling(|_| {}).await;
    let tenant = a.create_tenant("acme", "Acme").await;
    assert_eq!(by_slug(&a, "acme").await.status(), 200, "instance A caches the active tenant");

    let disabled_at = Instant::now();
    b.admin(Method::PATCH, &format!("/tenants/{}", tenant["id"].as_str().unwrap()))
        .json(&json!({ "active": false }))
        .send()
        .await
        .unwrap();

    // Poll A until it notices; it must within the TTL (plus scheduling slack).
    let status = loop {
        let status = by_slug(&a, "acme").await.status().as_u16();
        if status == 403 || disabled_at.elapsed() > ttl + Duration::from_secs(3) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(status, 403);
    assert_eq!(by_slug(&b, "acme").await.status(), 403, "instance B saw its own change at once");
}

async fn a_disabled_tenant_is_refused_by_id_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let id = tenant["id"].as_str().unwrap();
    app.admin(Method::PATCH, &format!("/tenants/{id}")).json(&json!({ "active": false })).send().await.unwrap();

    let response = app.request(Method::GET, "/tenant").header("x-ovlt-tenant-id", id).send().await.unwrap();

    assert_error(response, 403, "tenant_disabled").await;
}

backend_tests!(
    a_tenant_is_found_by_slug_and_by_id,
    the_id_header_wins_when_both_are_sent,
    without_a_tenant_header_the_answer_is_400_tenant_required,
    an_unknown_or_malformed_tenant_answers_404_tenant_not_found,
    disabling_a_tenant_takes_effect_at_once_on_this_instance,
    a_deleted_tenant_is_gone_at_once_on_this_instance,
    a_resolved_tenant_is_served_without_a_database_read,
    a_change_made_on_another_instance_is_seen_when_the_cache_entry_expires,
    a_disabled_tenant_is_refused_by_id_too
);
