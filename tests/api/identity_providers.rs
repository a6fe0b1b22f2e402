//! Identity-provider administration: secrets sealed and never shown, validation, isolation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, backend_tests};

fn admin_in(app: &TestApp, method: Method, path: &str, slug: &str) -> reqwest::RequestBuilder {
    app.admin(method, path).header("x-ovlt-tenant-slug", slug)
}

async fn a_provider_is_created_and_its_secret_never_comes_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;

    let created = admin_in(&app, Method::POST, "/identity-providers", "acme")
        .json(&json!({ "name": "corporate-sso", "kind": "oidc", "client_id": "ovlt", "client_secret": "upstream-secret-value", "issuer": "https://sso.example.com/" }))
        .send()
        .await
        .unwrap();

    assert_eq!(created.status(), 201);
    let provider: Value = created.json().await.unwrap();
    assert_eq!((provider["has_secret"].as_bool(), provider["enabled"].as_bool()), (Some(true), Some(true)));
    assert_eq!(provider["issuer"], "https://sso.example.com");
    assert_eq!(provider["scopes"], json!(["openid", "email", "profile"]));
    let listed: Value =
        admin_in(&app, Method::GET, "/identity-providers", "acme").send().await.unwrap().json().await.unwrap();
    // A page, like every top-level collection (DESIGN §5).
    assert_eq!(
        (listed["page"].as_i64(), listed["per_page"].as_i64(), listed["total"].as_i64()),
        (Some(1), Some(50), Some(1))
    );
    assert_eq!(listed["data"][0]["id"], provider["id"]);
    assert!(
        !listed.to_string().contains("upstream-secret-value")
            && !provider.to_string().contains("upstream-secret-value")
    );
    let stored: Vec<u8> = sqlx::query_scalar("SELECT client_secret FROM identity_providers")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    let aad = format!("idp_secret:{}", provider["id"].as_str().unwrap());
    assert_eq!(ovlt::crypto::secretbox::open(&app.state.master_key, &stored, &aad).unwrap(), b"upstream-secret-value");
    let audit: String =
        sqlx::query_scalar("SELECT COALESCE(details, '') FROM audit_log WHERE action = 'identity_provider.created'")
            .fetch_one(app.state.store.pool())
            .await
            .unwrap();
    assert!(!audit.contains("upstream-secret-value"));
}

async fn a_put_without_a_secret_keeps_the_stored_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let provider: Value = admin_in(&app, Method::POST, "/identity-providers", "acme")
        .json(&json!({ "name": "github", "kind": "github", "client_id": "gh", "client_secret": "s1" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/identity-providers/{}", provider["id"].as_str().unwrap());
    let before: Vec<u8> = sqlx::query_scalar("SELECT client_secret FROM identity_providers")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();

    let updated: Value = admin_in(&app, Method::PUT, &path, "acme")
        .json(&json!({ "enabled": false, "scopes": ["read:user"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let after: Vec<u8> = sqlx::query_scalar("SELECT client_secret FROM identity_providers")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(before, after);
    assert_eq!((updated["enabled"].as_bool(), updated["has_secret"].as_bool()), (Some(false), Some(true)));
    assert_eq!(updated["scopes"], json!(["read:user"]));
    assert_eq!(admin_in(&app, Method::DELETE, &path, "acme").send().await.unwrap().status(), 204);
    assert_error(admin_in(&app, Method::PUT, &path, "acme").json(&json!({})).send().await.unwrap(), 404, "not_found")
        .await;
}

async fn providers_are_validated_and_isolated_per_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.create_tenant("other", "Other").await;
    for (body, field) in [
        (json!({ "kind": "oidc", "client_id": "x", "issuer": "https://a.example" }), "name"),
        (json!({ "name": "x", "kind": "saml", "client_id": "x" }), "kind"),
        (json!({ "name": "x", "kind": "google" }), "client_id"),
        (json!({ "name": "x", "kind": "oidc", "client_id": "x" }), "issuer"),
        (json!({ "name": "x", "kind": "oidc", "client_id": "x", "issuer": "http://sso.example.com" }), "issuer"),
        (json!({ "name": "x", "kind": "google", "client_id": "x", "scopes": ["has space"] }), "scopes"),
    ] {
        let response = admin_in(&app, Method::POST, "/identity-providers", "acme").json(&body).send().await.unwrap();
        let error = assert_error(response, 400, "invalid_payload").await;
        assert!(error["fields"][field].is_string(), "{body}: {error}");
    }
    let google: Value = admin_in(&app, Method::POST, "/identity-providers", "acme")
        .json(&json!({ "name": "google", "kind": "google", "client_id": "g" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let duplicate = admin_in(&app, Method::POST, "/identity-providers", "acme")
        .json(&json!({ "name": "google", "kind": "google", "client_id": "g2" }))
        .send()
        .await
        .unwrap();
    assert_error(duplicate, 409, "conflict").await;
    let foreign =
        admin_in(&app, Method::DELETE, &format!("/identity-providers/{}", google["id"].as_str().unwrap()), "other")
            .send()
            .await
            .unwrap();
    assert_error(foreign, 404, "not_found").await;
    let (plain, _) = app.signed_in("acme", "plain@example.com").await;
    assert_error(
        app.tenant(Method::GET, "/identity-providers", "acme").bearer_auth(&plain).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;
}

async fn a_client_id_is_at_most_512_characters_as_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let create = |client_id: String| {
        admin_in(&app, Method::POST, "/identity-providers", "acme")
            .json(&json!({ "name": "github", "kind": "github", "client_id": client_id }))
            .send()
    };

    let multibyte = create("\u{e9}".repeat(512)).await.unwrap();
    let padded = create(format!(" {} ", "a".repeat(511))).await.unwrap();

    assert_eq!(multibyte.status(), 201, "512 characters, whatever their bytes");
    assert_error(padded, 400, "invalid_payload").await;
}

backend_tests!(
    a_client_id_is_at_most_512_characters_as_sent,
    a_provider_is_created_and_its_secret_never_comes_back,
    a_put_without_a_secret_keeps_the_stored_one,
    providers_are_validated_and_isolated_per_tenant
);
