//! The operator's tenant API: POST/GET/PATCH/DELETE /tenants, GET /tenants/slugs.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, backend_tests};

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("an object").keys().cloned().collect()
}

fn is_rfc3339_utc(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok() && s.ends_with('Z')
    })
}

async fn slugs(app: &TestApp) -> Vec<String> {
    let body: Value = app.admin(Method::GET, "/tenants/slugs?per_page=200").send().await.unwrap().json().await.unwrap();
    body["data"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

async fn audit_actions(app: &TestApp, target: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>("SELECT action FROM audit_log WHERE target_id = $1 ORDER BY created_at, id")
        .bind(target)
        .fetch_all(app.state.store.pool())
        .await
        .unwrap()
}

async fn the_bootstrap_tenant_exists_after_the_first_start(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    assert_eq!(slugs(&app).await, vec!["master"]);
}

async fn register_in_master(app: &TestApp) -> reqwest::Response {
    app.tenant(Method::POST, "/auth/register", "master")
        .json(&json!({ "email": "stranger@example.com", "password": crate::helpers::PASSWORD }))
        .send()
        .await
        .unwrap()
}

/// The bootstrap tenant holds the operator's accounts: nobody registers into it unless the
/// operator allows it; a new tenant lets people register, as before.
async fn the_bootstrap_tenant_refuses_registration_unless_the_operator_allows_it(backend: Backend) {
    let closed = TestApp::spawn(backend).await;
    let open = TestApp::spawn_with(backend, |c| c.bootstrap_allow_registration = true).await;

    assert_error(register_in_master(&closed).await, 403, "forbidden").await;
    assert_eq!(register_in_master(&open).await.status(), 201);
    closed.create_tenant("acme", "Acme").await;
    closed.register("acme", "someone@example.com").await;
}

async fn instances_starting_together_create_the_bootstrap_tenant_once(backend: Backend) {
    let db = crate::helpers::TestDatabase::create(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::helpers::test_config(&db.url, dir.path());

    let (a, b) = tokio::join!(ovlt::app::App::build(config.clone()), ovlt::app::App::build(config));

    let (a, _b) = (a.unwrap(), b.unwrap());
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants WHERE slug = 'master'")
        .fetch_one(a.state().store.pool())
        .await
        .unwrap();
    assert_eq!(count, 1);
}

async fn the_bootstrap_slug_is_configurable(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.bootstrap_tenant_slug = "root".into()).await;

    assert_eq!(slugs(&app).await, vec!["root"]);
}

async fn a_deleted_bootstrap_tenant_is_not_recreated_by_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let list: Value = app.admin(Method::GET, "/tenants").send().await.unwrap().json().await.unwrap();
    let master_id = list["data"][0]["id"].as_str().unwrap().to_string();
    let deleted = app.admin(Method::DELETE, &format!("/tenants/{master_id}")).send().await.unwrap();
    assert_eq!(deleted.status(), 204);

    let restarted = app.spawn_sibling(|_| {}).await;

    assert!(slugs(&restarted).await.is_empty());
}

async fn creating_a_tenant_answers_201_with_the_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response =
        app.admin(Method::POST, "/tenants").json(&json!({ "slug": "acme", "name": "Acme Inc" })).send().await.unwrap();

    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let tenant: Value = response.json().await.unwrap();
    assert_eq!(keys(&tenant), ["active", "created_at", "id", "name", "slug", "updated_at"].map(String::from).into());
    assert_eq!(tenant["slug"], "acme");
    assert_eq!(tenant["name"], "Acme Inc");
    assert_eq!(tenant["active"], true);
    let id = uuid::Uuid::parse_str(tenant["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert!(is_rfc3339_utc(&tenant["created_at"]) && is_rfc3339_utc(&tenant["updated_at"]), "{tenant}");
    assert_eq!(location, format!("/tenants/{id}"));
    let fetched: Value = app.admin(Method::GET, &location).send().await.unwrap().json().await.unwrap();
    assert_eq!(fetched, tenant);
}

async fn every_tenant_endpoint_requires_the_admin_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let path = format!("/tenants/{}", tenant["id"].as_str().unwrap());
    let endpoints = [
        (Method::POST, "/tenants".to_string()),
        (Method::GET, "/tenants".to_string()),
        (Method::GET, "/tenants/slugs".to_string()),
        (Method::GET, path.clone()),
        (Method::PATCH, path.clone()),
        (Method::DELETE, path.clone()),
    ];

    for (method, path) in endpoints {
        let missing = app.request(method.clone(), &path).json(&json!({})).send().await.unwrap();
        let wrong = app
            .request(method.clone(), &path)
            .header("x-ovlt-admin-key", "not-the-admin-key")
            .json(&json!({ "name": "Hijacked" }))
            .send()
            .await
            .unwrap();
        assert_error(missing, 401, "unauthorized").await;
        assert_error(wrong, 401, "unauthorized").await;
    }
    let unchanged: Value = app.admin(Method::GET, &path).send().await.unwrap().json().await.unwrap();
    assert_eq!(unchanged["name"], "Acme");
}

async fn a_duplicate_slug_answers_409_conflict(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;

    let response =
        app.admin(Method::POST, "/tenants").json(&json!({ "slug": "acme", "name": "Other" })).send().await.unwrap();

    assert_error(response, 409, "conflict").await;
    assert_eq!(slugs(&app).await, vec!["acme", "master"]);
}

async fn concurrent_creates_of_one_slug_give_exactly_one_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let create = || app.admin(Method::POST, "/tenants").json(&json!({ "slug": "race", "name": "Race" })).send();

    let answers = futures_join_all((0..8).map(|_| create())).await;

    let statuses: Vec<u16> = answers.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
}

async fn invalid_slugs_and_names_answer_400_naming_the_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let long_slug = "a".repeat(64);
    let long_name = "n".repeat(201);
    let cases = [
        (json!({ "slug": "Acme", "name": "Acme" }), "slug"),
        (json!({ "slug": "a", "name": "Acme" }), "slug"),
        (json!({ "slug": long_slug, "name": "Acme" }), "slug"),
        (json!({ "slug": "ac me", "name": "Acme" }), "slug"),
        (json!({ "slug": "acmé", "name": "Acme" }), "slug"),
        (json!({ "slug": "ac_me", "name": "Acme" }), "slug"),
        (json!({ "name": "Acme" }), "slug"),
        (json!({ "slug": "acme" }), "name"),
        (json!({ "slug": "acme", "name": "   " }), "name"),
        (json!({ "slug": "acme", "name": long_name }), "name"),
        (json!({ "slug": "acme", "name": "line\nbreak" }), "name"),
    ];

    for (body, field) in cases {
        let response = app.admin(Method::POST, "/tenants").json(&body).send().await.unwrap();
        let error = assert_error(response, 400, "invalid_payload").await;
        assert!(error["fields"][field].is_string(), "{body} should name {field}: {error}");
    }
    assert_eq!(slugs(&app).await, vec!["master"]);
}

async fn unknown_fields_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;

    let create = app
        .admin(Method::POST, "/tenants")
        .json(&json!({ "slug": "b2", "name": "B", "plan": "gold" }))
        .send()
        .await
        .unwrap();
    let patch = app
        .admin(Method::PATCH, &format!("/tenants/{}", tenant["id"].as_str().unwrap()))
        .json(&json!({ "slug": "renamed" }))
        .send()
        .await
        .unwrap();

    assert_error(create, 400, "invalid_payload").await;
    assert_error(patch, 400, "invalid_payload").await;
}

async fn slugs_of_two_to_sixty_three_characters_with_digits_and_hyphens_are_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    app.create_tenant("a1", "Short").await;
    app.create_tenant(&"z".repeat(63), "Long").await;
    app.create_tenant("team-42", "Hyphen").await;

    assert_eq!(slugs(&app).await.len(), 4);
}

async fn an_unknown_tenant_id_answers_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown = format!("/tenants/{}", uuid::Uuid::now_v7());

    let get = app.admin(Method::GET, &unknown).send().await.unwrap();
    let patch = app.admin(Method::PATCH, &unknown).json(&json!({ "name": "X" })).send().await.unwrap();
    let delete = app.admin(Method::DELETE, &unknown).send().await.unwrap();

    assert_error(get, 404, "not_found").await;
    assert_error(patch, 404, "not_found").await;
    assert_error(delete, 404, "not_found").await;
}

async fn listing_tenants_is_paginated_oldest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for slug in ["t1", "t2", "t3", "t4"] {
        app.create_tenant(slug, slug).await;
    }

    let page2: Value = app.admin(Method::GET, "/tenants?page=2&per_page=2").send().await.unwrap().json().await.unwrap();
    let default: Value = app.admin(Method::GET, "/tenants").send().await.unwrap().json().await.unwrap();
    let capped: Value = app.admin(Method::GET, "/tenants?per_page=5000").send().await.unwrap().json().await.unwrap();
    let beyond: Value =
        app.admin(Method::GET, "/tenants?page=9&per_page=2").send().await.unwrap().json().await.unwrap();

    assert_eq!(keys(&page2), ["data", "page", "per_page", "total"].map(String::from).into());
    let page2_slugs: Vec<&str> =
        page2["data"].as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
    assert_eq!(page2_slugs, ["t2", "t3"]);
    assert_eq!(
        (page2["page"].as_u64(), page2["per_page"].as_u64(), page2["total"].as_u64()),
        (Some(2), Some(2), Some(5))
    );
    assert_eq!((default["page"].as_u64(), default["per_page"].as_u64()), (Some(1), Some(50)));
    assert_eq!(default["data"][0]["slug"], "master");
    assert_eq!(capped["per_page"], 200);
    assert_eq!(beyond["data"], json!([]));
    assert_eq!(beyond["total"], 5);
}

async fn bad_pagination_answers_400_naming_the_parameter(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for query in ["page=0", "page=-1", "page=abc", "per_page=0", "per_page=x"] {
        let response = app.admin(Method::GET, &format!("/tenants?{query}")).send().await.unwrap();
        let error = assert_error(response, 400, "invalid_payload").await;
        let field = query.split('=').next().unwrap();
        assert!(error["fields"][field].is_string(), "{query}: {error}");
    }
}

async fn listing_slugs_gives_only_the_slugs_alphabetically(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("zeta", "Z").await;
    app.create_tenant("alpha", "A").await;

    let body: Value = app.admin(Method::GET, "/tenants/slugs").send().await.unwrap().json().await.unwrap();

    assert_eq!(body["data"], json!(["alpha", "master", "zeta"]));
    assert_eq!(body["total"], 3);
}

async fn patch_changes_the_name_and_the_active_flag_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let path = format!("/tenants/{}", tenant["id"].as_str().unwrap());

    let renamed = app.admin(Method::PATCH, &path).json(&json!({ "name": "  Acme Corp  " })).send().await.unwrap();
    assert_eq!(renamed.status(), 200);
    let renamed: Value = renamed.json().await.unwrap();
    let disabled: Value =
        app.admin(Method::PATCH, &path).json(&json!({ "active": false })).send().await.unwrap().json().await.unwrap();
    let unchanged: Value = app.admin(Method::PATCH, &path).json(&json!({})).send().await.unwrap().json().await.unwrap();

    assert_eq!(renamed["name"], "Acme Corp");
    assert_eq!(renamed["active"], true);
    assert_eq!(disabled["name"], "Acme Corp");
    assert_eq!(disabled["active"], false);
    assert_eq!(unchanged["active"], false);
    for t in [&renamed, &disabled, &unchanged] {
        assert_eq!(t["id"], tenant["id"]);
        assert_eq!(t["slug"], "acme");
        assert_eq!(t["created_at"], tenant["created_at"]);
        assert!(t["updated_at"].as_str().unwrap() >= tenant["updated_at"].as_str().unwrap());
    }
}

async fn patch_refuses_invalid_values(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let path = format!("/tenants/{}", tenant["id"].as_str().unwrap());

    let empty_name = app.admin(Method::PATCH, &path).json(&json!({ "name": "" })).send().await.unwrap();
    let string_flag = app.admin(Method::PATCH, &path).json(&json!({ "active": "no" })).send().await.unwrap();

    let error = assert_error(empty_name, 400, "invalid_payload").await;
    assert!(error["fields"]["name"].is_string());
    assert_error(string_flag, 400, "invalid_payload").await;
    let stored: Value = app.admin(Method::GET, &path).send().await.unwrap().json().await.unwrap();
    assert_eq!(stored, tenant);
}

async fn deleting_a_tenant_answers_204_and_frees_its_slug(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let path = format!("/tenants/{}", tenant["id"].as_str().unwrap());

    let deleted = app.admin(Method::DELETE, &path).send().await.unwrap();
    let again = app.admin(Method::DELETE, &path).send().await.unwrap();
    let fetched = app.admin(Method::GET, &path).send().await.unwrap();

    assert_eq!(deleted.status(), 204);
    assert_error(again, 404, "not_found").await;
    assert_error(fetched, 404, "not_found").await;
    let recreated = app.create_tenant("acme", "Acme again").await;
    assert_ne!(recreated["id"], tenant["id"]);
}

async fn deleting_a_tenant_removes_the_rows_it_owns(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doomed = app.create_tenant("doomed", "Doomed").await;
    let kept = app.create_tenant("kept", "Kept").await;
    let pool = app.state.store.pool();
    for tenant in [&doomed, &kept] {
        sqlx::query(
            "INSERT INTO audit_log (id, tenant_id, actor_type, action, created_at, updated_at) \
             VALUES ($1, $2, 'system', 'test.owned', 0, 0)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(tenant["id"].as_str().unwrap())
        .execute(pool)
        .await
        .unwrap();
    }

    app.admin(Method::DELETE, &format!("/tenants/{}", doomed["id"].as_str().unwrap())).send().await.unwrap();

    let owned = |id: &str| {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1")
            .bind(id.to_string())
            .fetch_one(pool)
    };
    assert_eq!(owned(doomed["id"].as_str().unwrap()).await.unwrap(), 0);
    assert_eq!(owned(kept["id"].as_str().unwrap()).await.unwrap(), 1);
}

async fn tenant_changes_are_audited_and_outlive_the_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("acme", "Acme").await;
    let id = tenant["id"].as_str().unwrap();
    let path = format!("/tenants/{id}");
    app.admin(Method::PATCH, &path).json(&json!({ "active": false })).send().await.unwrap();
    app.admin(Method::DELETE, &path).send().await.unwrap();

    assert_eq!(audit_actions(&app, id).await, ["tenant.created", "tenant.updated", "tenant.deleted"]);
    let actor: String =
        sqlx::query_scalar("SELECT actor_type FROM audit_log WHERE target_id = $1 AND action = 'tenant.deleted'")
            .bind(id)
            .fetch_one(app.state.store.pool())
            .await
            .unwrap();
    assert_eq!(actor, "admin_key");
}

backend_tests!(
    the_bootstrap_tenant_exists_after_the_first_start,
    the_bootstrap_tenant_refuses_registration_unless_the_operator_allows_it,
    instances_starting_together_create_the_bootstrap_tenant_once,
    the_bootstrap_slug_is_configurable,
    a_deleted_bootstrap_tenant_is_not_recreated_by_a_restart,
    creating_a_tenant_answers_201_with_the_tenant,
    every_tenant_endpoint_requires_the_admin_key,
    a_duplicate_slug_answers_409_conflict,
    concurrent_creates_of_one_slug_give_exactly_one_tenant,
    invalid_slugs_and_names_answer_400_naming_the_fields,
    unknown_fields_are_refused,
    slugs_of_two_to_sixty_three_characters_with_digits_and_hyphens_are_accepted,
    an_unknown_tenant_id_answers_404,
    listing_tenants_is_paginated_oldest_first,
    bad_pagination_answers_400_naming_the_parameter,
    listing_slugs_gives_only_the_slugs_alphabetically,
    patch_changes_the_name_and_the_active_flag_and_nothing_else,
    patch_refuses_invalid_values,
    deleting_a_tenant_answers_204_and_frees_its_slug,
    deleting_a_tenant_removes_the_rows_it_owns,
    tenant_changes_are_audited_and_outlive_the_tenant
);

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}
