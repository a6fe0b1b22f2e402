//! Client administration: defaults, validation, the secret shown once, rotation, deletion,
//! isolation between tenants and the management permissions.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, backend_tests};
use crate::oauth_support::{REDIRECT_URI, create_client, token_request};

fn admin_in(app: &TestApp, method: Method, path: &str, slug: &str) -> reqwest::RequestBuilder {
    app.admin(method, path).header("x-ovlt-tenant-slug", slug)
}

async fn a_confidential_client_shows_its_secret_once_and_stores_only_its_digest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;

    let client = create_client(&app, "acme", json!({})).await;

    assert_eq!(client["id"], client["client_id"]);
    assert_eq!((client["type"].as_str(), client["first_party"].as_bool()), (Some("confidential"), Some(true)));
    assert_eq!(client["grant_types"], json!(["authorization_code", "refresh_token", "client_credentials"]));
    assert_eq!(client["scopes"], json!(["openid", "profile", "email", "offline_access"]));
    let secret = client["client_secret"].as_str().unwrap();
    let path = format!("/clients/{}", client["id"].as_str().unwrap());
    let fetched: Value = admin_in(&app, Method::GET, &path, "acme").send().await.unwrap().json().await.unwrap();
    assert!(fetched.get("client_secret").is_none());
    let listed: Value = admin_in(&app, Method::GET, "/clients", "acme").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["total"], 1);
    assert!(!listed.to_string().contains(secret));
    let stored: String =
        sqlx::query_scalar("SELECT secret_hash FROM clients").fetch_one(app.state.store.pool()).await.unwrap();
    assert_eq!(stored, ovlt::crypto::sha256_hex(secret));
}

async fn a_rotated_secret_replaces_the_old_one_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let client = create_client(&app, "acme", json!({})).await;
    let path = format!("/clients/{}/secret", client["id"].as_str().unwrap());

    let rotated: Value = admin_in(&app, Method::POST, &path, "acme").send().await.unwrap().json().await.unwrap();

    let fresh = rotated["client_secret"].as_str().unwrap();
    assert_ne!(fresh, client["client_secret"].as_str().unwrap());
    assert_eq!(token_request(&app, &client, &[("grant_type", "client_credentials")]).await.status(), 401);
    let mut renewed = client.clone();
    renewed["client_secret"] = json!(fresh);
    assert_eq!(token_request(&app, &renewed, &[("grant_type", "client_credentials")]).await.status(), 200);
}

async fn a_deleted_client_gets_no_tokens_and_its_refresh_tokens_die(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let client = create_client(&app, "acme", json!({})).await;
    let path = format!("/clients/{}", client["id"].as_str().unwrap());

    assert_eq!(admin_in(&app, Method::DELETE, &path, "acme").send().await.unwrap().status(), 204);

    assert_eq!(token_request(&app, &client, &[("grant_type", "client_credentials")]).await.status(), 401);
    assert_error(admin_in(&app, Method::GET, &path, "acme").send().await.unwrap(), 404, "not_found").await;
    assert_error(admin_in(&app, Method::DELETE, &path, "acme").send().await.unwrap(), 404, "not_found").await;
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'client.deleted'")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

async fn client_input_is_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let create = |body: Value| admin_in(&app, Method::POST, "/clients", "acme").json(&body).send();

    let body = assert_error(create(json!({ "name": "" , "redirect_uris": ["http://app.example.com/cb", "https://a.example/cb#frag"], "type": "robot" })).await.unwrap(), 400, "invalid_payload").await;
    for field in ["name", "redirect_uris", "type"] {
        assert!(body["fields"][field].is_string(), "{field}: {body}");
    }
    let body = assert_error(create(json!({ "name": "x", "type": "public", "grant_types": ["client_credentials"], "redirect_uris": [REDIRECT_URI] })).await.unwrap(), 400, "invalid_payload").await;
    assert!(body["fields"]["grant_types"].is_string());
    let body = assert_error(
        create(json!({ "name": "x", "redirect_uris": [REDIRECT_URI], "access_token_ttl_seconds": 5 })).await.unwrap(),
        400,
        "invalid_payload",
    )
    .await;
    assert!(body["fields"]["access_token_ttl_seconds"].is_string());
    assert_error(
        create(json!({ "name": "x", "redirect_uris": [REDIRECT_URI], "color": "blue" })).await.unwrap(),
        400,
        "invalid_payload",
    )
    .await;
    let client = create_client(&app, "acme", json!({ "access_token_ttl_seconds": 120 })).await;
    let path = format!("/clients/{}", client["id"].as_str().unwrap());
    let updated: Value = admin_in(&app, Method::PUT, &path, "acme")
        .json(&json!({ "name": "Renamed", "access_token_ttl_seconds": null }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((updated["name"].as_str(), updated["access_token_ttl_seconds"].is_null()), (Some("Renamed"), true));
    assert_eq!(updated["redirect_uris"], json!([REDIRECT_URI]));
    let body = assert_error(
        admin_in(&app, Method::PUT, &path, "acme").json(&json!({ "type": "public" })).send().await.unwrap(),
        400,
        "invalid_payload",
    )
    .await;
    assert!(body["fields"]["type"].is_string());
}

async fn clients_are_managed_only_within_their_tenant_and_with_the_permission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("globex", "Globex").await;
    let (user_token, _) = app.signed_in("acme", "ann@acme.test").await;
    let client = create_client(&app, "acme", json!({})).await;
    let path = format!("/clients/{}", client["id"].as_str().unwrap());

    assert_error(admin_in(&app, Method::GET, &path, "globex").send().await.unwrap(), 404, "not_found").await;
    assert_error(
        admin_in(&app, Method::PUT, &path, "globex").json(&json!({ "name": "stolen" })).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_error(
        admin_in(&app, Method::POST, &format!("{path}/secret"), "globex").send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_error(app.tenant(Method::GET, "/clients", "acme").send().await.unwrap(), 401, "unauthorized").await;
    assert_error(
        app.tenant(Method::GET, "/clients", "acme").bearer_auth(&user_token).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.tenant(Method::POST, "/clients", "acme")
            .bearer_auth(&user_token)
            .json(&json!({ "name": "x" }))
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
}

async fn a_clients_roles_go_into_its_next_client_credentials_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.create_tenant("globex", "Globex").await;
    let client = create_client(&app, "acme", json!({ "scopes": ["invoices:read"] })).await;
    let post = |path: &str, slug: &str, body: Value| admin_in(&app, Method::POST, path, slug).json(&body).send();
    let role: Value = post("/roles", "acme", json!({ "name": "billing" })).await.unwrap().json().await.unwrap();
    let permission: Value =
        post("/permissions", "acme", json!({ "name": "invoices:read" })).await.unwrap().json().await.unwrap();
    post(
        &format!("/roles/{}/permissions", role["id"].as_str().unwrap()),
        "acme",
        json!({ "permission_id": permission["id"] }),
    )
    .await
    .unwrap();
    let globex_role: Value =
        post("/roles", "globex", json!({ "name": "billing" })).await.unwrap().json().await.unwrap();
    let roles_path = format!("/clients/{}/roles", client["id"].as_str().unwrap());

    assert_eq!(post(&roles_path, "acme", json!({ "role_id": role["id"] })).await.unwrap().status(), 204);

    let claims = |token: &Value| -> Value {
        use base64::Engine;
        let payload = token["access_token"].as_str().unwrap().split('.').nth(1).unwrap().to_string();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let token: Value =
        token_request(&app, &client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    let granted = claims(&token);
    assert_eq!(
        (granted["roles"].clone(), granted["permissions"].clone()),
        (json!(["billing"]), json!(["invoices:read"]))
    );
    let listed: Value = admin_in(&app, Method::GET, &roles_path, "acme").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["name"], "billing");
    assert_error(post(&roles_path, "acme", json!({ "role_id": globex_role["id"] })).await.unwrap(), 404, "not_found")
        .await;
    assert_error(post(&roles_path, "globex", json!({ "role_id": globex_role["id"] })).await.unwrap(), 404, "not_found")
        .await;
    assert_error(post(&roles_path, "acme", json!({})).await.unwrap(), 400, "invalid_payload").await;

    let unassign = format!("{roles_path}/{}", role["id"].as_str().unwrap());
    assert_eq!(admin_in(&app, Method::DELETE, &unassign, "acme").send().await.unwrap().status(), 204);
    assert_error(admin_in(&app, Method::DELETE, &unassign, "acme").send().await.unwrap(), 404, "not_found").await;
    let token: Value =
        token_request(&app, &client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    assert!(claims(&token).get("roles").is_none(), "a change applies from the next token");
}

backend_tests!(
    a_confidential_client_shows_its_secret_once_and_stores_only_its_digest,
    a_rotated_secret_replaces_the_old_one_at_once,
    a_deleted_client_gets_no_tokens_and_its_refresh_tokens_die,
    client_input_is_validated,
    clients_are_managed_only_within_their_tenant_and_with_the_permission,
    a_clients_roles_go_into_its_next_client_credentials_token
);
