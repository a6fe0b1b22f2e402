//! The per-instance caches of clients and live client tokens (docs/decisions/0008): every
//! change is seen at once through the instance that made it, within a poll through another,
//! whatever wrote it; the cache really answers (the tests check it holds what they use).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, jwt_claims};
use crate::oauth_support::{create_client, token_request};

fn admin_in(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.admin(method, path).header("x-ovlt-tenant-slug", "acme")
}

/// Waits (bounded) until the instance trusts its caches: its first epoch poll has run.
async fn caches_in_use(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.state.coherence.trusted(Instant::now()) {
        assert!(Instant::now() < deadline, "the cache epoch was never read");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A client_credentials token's claims, or the error status.
async fn client_token(app: &TestApp, client: &Value, extra: &[(&str, &str)]) -> Result<Value, u16> {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    let response = token_request(app, client, &form).await;
    if response.status() != 200 {
        return Err(response.status().as_u16());
    }
    let body: Value = response.json().await.unwrap();
    Ok(jwt_claims(body["access_token"].as_str().unwrap()))
}

/// Gets a token until the client is cached on this instance (the instance's own write also
/// moves the epoch, and the poll that sees it empties the cache once more), and returns the
/// last token's claims.
async fn warm(app: &TestApp, client: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let claims = client_token(app, client, &[]).await.expect("a token");
        if app.state.clients.client(client["client_id"].as_str().unwrap(), Instant::now()).is_some() {
            return claims;
        }
        assert!(Instant::now() < deadline, "the client is never cached");
    }
}

/// Retries `check` until it holds, for at most two seconds (several epoch polls).
async fn within_a_poll<F: Future<Output = bool>>(mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !check().await {
        assert!(Instant::now() < deadline, "the change did not arrive within the poll bound");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_cached_client_follows_every_change_made_through_its_instance_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let mut client = create_client(&app, "acme", json!({ "scopes": ["invoices:read", "invoices:write"] })).await;
    let path = format!("/clients/{}", client["id"].as_str().unwrap());
    caches_in_use(&app).await;

    // Secret rotation: the old secret stops working at once.
    warm(&app, &client).await;
    let rotated: Value =
        admin_in(&app, Method::POST, &format!("{path}/secret")).send().await.unwrap().json().await.unwrap();
    assert_eq!(client_token(&app, &client, &[]).await, Err(401));
    client["client_secret"] = rotated["client_secret"].clone();

    // Roles, their permissions and the permissions' names go into the next token.
    warm(&app, &client).await;
    let post = |path: String, body: Value| admin_in(&app, Method::POST, &path).json(&body).send();
    let role: Value = post("/roles".into(), json!({ "name": "billing" })).await.unwrap().json().await.unwrap();
    let permission: Value =
        post("/permissions".into(), json!({ "name": "invoices:read" })).await.unwrap().json().await.unwrap();
    post(format!("{path}/roles"), json!({ "role_id": role["id"] })).await.unwrap();
    assert_eq!(warm(&app, &client).await["roles"], json!(["billing"]));
    post(format!("/roles/{}/permissions", role["id"].as_str().unwrap()), json!({ "permission_id": permission["id"] }))
        .await
        .unwrap();
    assert_eq!(warm(&app, &client).await["permissions"], json!(["invoices:read"]));
    let renamed = admin_in(&app, Method::PUT, &format!("/permissions/{}", permission["id"].as_str().unwrap()))
        .json(&json!({ "name": "invoices:list" }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    assert_eq!(warm(&app, &client).await["permissions"], json!(["invoices:list"]));

    // The tenant's settings and the client's own fields.
    let settings = admin_in(&app, Method::PUT, "/settings")
        .json(&json!({ "access_token_ttl_seconds": 120 }))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 200);
    let claims = client_token(&app, &client, &[]).await.unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);
    let narrowed =
        admin_in(&app, Method::PUT, &path).json(&json!({ "scopes": ["invoices:read"] })).send().await.unwrap();
    assert_eq!(narrowed.status(), 200);
    assert_eq!(client_token(&app, &client, &[("scope", "invoices:write")]).await, Err(400));

    // A disabled tenant, then a deleted client.
    warm(&app, &client).await;
    let tenant_path = format!("/tenants/{}", tenant["id"].as_str().unwrap());
    let disabled = app.admin(Method::PATCH, &tenant_path).json(&json!({ "active": false })).send().await.unwrap();
    assert_eq!(disabled.status(), 200);
    assert_eq!(client_token(&app, &client, &[]).await, Err(401));
    app.admin(Method::PATCH, &tenant_path).json(&json!({ "active": true })).send().await.unwrap();
    warm(&app, &client).await;
    assert_eq!(admin_in(&app, Method::DELETE, &path).send().await.unwrap().status(), 204);
    assert_eq!(client_token(&app, &client, &[]).await, Err(401));
}

async fn introspection_remembers_a_live_client_token_until_it_is_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let client = create_client(&app, "acme", json!({ "scopes": ["invoices:read"] })).await;
    caches_in_use(&app).await;
    let body: Value = token_request(&app, &client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let introspect = |path: &'static str| {
        app.request(Method::POST, path)
            .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
            .form(&[("token", token)])
            .send()
    };

    let active: Value = introspect("/oauth/introspect").await.unwrap().json().await.unwrap();
    assert_eq!(active["active"], true);
    let claims = jwt_claims(token);
    let tenant_id = ovlt::tenants::TenantId::parse(tenant["id"].as_str().unwrap()).unwrap();
    assert!(app.state.clients.token_is_live(tenant_id, claims["jti"].as_str().unwrap(), Instant::now()));

    assert_eq!(introspect("/oauth/revoke").await.unwrap().status(), 200);
    let after: Value = introspect("/oauth/introspect").await.unwrap().json().await.unwrap();
    assert_eq!(after, json!({ "active": false }));
    let epoch = ovlt::store::system::cache_epoch(app.state.store.pool()).await.unwrap();
    assert_eq!(introspect("/oauth/revoke").await.unwrap().status(), 200);
    assert_eq!(
        ovlt::store::system::cache_epoch(app.state.store.pool()).await.unwrap(),
        epoch,
        "revoking again changes nothing, empties no cache"
    );
}

async fn a_refused_write_forgets_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let client = create_client(&app, "acme", json!({ "scopes": ["invoices:read"] })).await;
    caches_in_use(&app).await;
    warm(&app, &client).await;

    let path = format!("/clients/{}", client["id"].as_str().unwrap());
    let anonymous = app.tenant(Method::DELETE, &path, "acme").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let cached = app.state.clients.client(client["client_id"].as_str().unwrap(), Instant::now());
    assert!(cached.is_some(), "a request without credentials cannot empty the caches");
}

/// Three instances on one database: a change through the first reaches the other two.
async fn a_change_through_another_instance_or_plain_sql_arrives_within_a_poll(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let client = create_client(&app, "acme", json!({ "scopes": ["invoices:read"] })).await;
    let other = create_client(&app, "acme", json!({ "scopes": ["invoices:read"] })).await;
    let siblings = [app.spawn_sibling(|_| {}).await, app.spawn_sibling(|_| {}).await];
    caches_in_use(&app).await;
    for sibling in &siblings {
        caches_in_use(sibling).await;
        warm(sibling, &client).await;
        warm(sibling, &other).await;
    }

    let path = format!("/clients/{}/secret", client["id"].as_str().unwrap());
    assert_eq!(admin_in(&app, Method::POST, &path).send().await.unwrap().status(), 200);
    for sibling in &siblings {
        within_a_poll(|| async { client_token(sibling, &client, &[]).await == Err(401) }).await;
    }

    // Not through any instance: the database's triggers move the epoch.
    sqlx::query("UPDATE clients SET deleted_at = 1 WHERE id = $1")
        .bind(other["id"].as_str().unwrap())
        .execute(app.state.store.pool())
        .await
        .unwrap();
    for sibling in &siblings {
        within_a_poll(|| async { client_token(sibling, &other, &[]).await == Err(401) }).await;
    }
}

async fn a_revocation_elsewhere_ends_the_token_within_a_poll_and_keeps_clients_cached(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let tenant_id = ovlt::tenants::TenantId::parse(tenant["id"].as_str().unwrap()).unwrap();
    let client = create_client(&app, "acme", json!({ "scopes": ["invoices:read"] })).await;
    let sibling = app.spawn_sibling(|_| {}).await;
    caches_in_use(&sibling).await;
    let body: Value = token_request(&app, &client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let jti = jwt_claims(token)["jti"].as_str().unwrap().to_string();
    let call = |on: &TestApp, path: &str| {
        on.request(Method::POST, path)
            .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
            .form(&[("token", token)])
            .send()
    };
    let active: Value = call(&sibling, "/oauth/introspect").await.unwrap().json().await.unwrap();
    assert_eq!(active["active"], true);
    assert!(sibling.state.clients.token_is_live(tenant_id, &jti, Instant::now()));

    assert_eq!(call(&app, "/oauth/revoke").await.unwrap().status(), 200);

    within_a_poll(|| async { !sibling.state.clients.token_is_live(tenant_id, &jti, Instant::now()) }).await;
    let still = sibling.state.clients.client(client["client_id"].as_str().unwrap(), Instant::now());
    assert!(still.is_some(), "a revocation empties the live tokens, not the clients");
    let inactive: Value = call(&sibling, "/oauth/introspect").await.unwrap().json().await.unwrap();
    assert_eq!(inactive, json!({ "active": false }));
}

async fn the_poll_takes_no_connection_from_a_pool_of_one(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.db_max_connections = 1).await;
    app.create_tenant("acme", "Acme").await;
    let client = create_client(&app, "acme", json!({ "scopes": ["invoices:read"] })).await;
    caches_in_use(&app).await;

    warm(&app, &client).await;
    assert_eq!(app.request(Method::GET, "/ready").send().await.unwrap().status(), 200);
}

async fn every_write_to_cached_state_moves_the_epoch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let client = create_client(&app, "acme", json!({ "scopes": ["invoices:read"] })).await;
    let role: Value = admin_in(&app, Method::POST, "/roles")
        .json(&json!({ "name": "billing" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    admin_in(&app, Method::POST, &format!("/clients/{}/roles", client["id"].as_str().unwrap()))
        .json(&json!({ "role_id": role["id"] }))
        .send()
        .await
        .unwrap();
    admin_in(&app, Method::PUT, "/settings").json(&json!({ "display_name": "Acme" })).send().await.unwrap();
    let body: Value = token_request(&app, &client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    let revoked = app
        .request(Method::POST, "/oauth/revoke")
        .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
        .form(&[("token", body["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let pool = app.state.store.pool();

    for table in [
        "tenants",
        "tenant_settings",
        "clients",
        "client_roles",
        "roles",
        "permissions",
        "role_permissions",
        "revoked_access_tokens",
    ] {
        let key = if table == "tenants" { "id" } else { "tenant_id" };
        let before = ovlt::store::system::cache_epoch(pool).await.unwrap();
        let touched = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET {key} = {key} WHERE {key} IN (SELECT id FROM tenants WHERE slug = 'acme')"
        )))
        .execute(pool)
        .await
        .unwrap();
        assert!(touched.rows_affected() > 0, "{table} has a row of acme");
        let after = ovlt::store::system::cache_epoch(pool).await.unwrap();
        if table == "revoked_access_tokens" {
            assert_eq!(
                (after.state, after.revocations),
                (before.state, before.revocations + 1),
                "a revocation moves only its own counter"
            );
        } else {
            assert!(after.state > before.state, "{table} moves the epoch");
        }
    }
    let unrelated = ovlt::store::system::cache_epoch(pool).await.unwrap();
    app.register("acme", "ann@acme.test").await;
    assert_eq!(ovlt::store::system::cache_epoch(pool).await.unwrap(), unrelated, "users are not cached state");
}

backend_tests!(
    a_cached_client_follows_every_change_made_through_its_instance_at_once,
    introspection_remembers_a_live_client_token_until_it_is_revoked,
    a_refused_write_forgets_nothing,
    a_change_through_another_instance_or_plain_sql_arrives_within_a_poll,
    a_revocation_elsewhere_ends_the_token_within_a_poll_and_keeps_clients_cached,
    the_poll_takes_no_connection_from_a_pool_of_one,
    every_write_to_cached_state_moves_the_epoch
);
