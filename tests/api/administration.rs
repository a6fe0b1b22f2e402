//! Tenant administration: who may manage (admin key, or a bearer whose roles grant the
//! permission), `/settings`, and `/users` CRUD.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, backend_tests};

async fn tenant_id(app: &TestApp, slug: &str) -> ovlt::tenants::TenantId {
    let tenant: Value = app.tenant(Method::GET, "/tenant", slug).send().await.unwrap().json().await.unwrap();
    ovlt::tenants::TenantId::parse(tenant["id"].as_str().unwrap()).unwrap()
}

async fn user_id(app: &TestApp, email: &str) -> ovlt::users::UserId {
    let id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    ovlt::users::UserId::parse(&id).unwrap()
}

fn admin_in(app: &TestApp, method: Method, path: &str, slug: &str) -> reqwest::RequestBuilder {
    app.admin(method, path).header("x-ovlt-tenant-slug", slug)
}

async fn every_management_endpoint_needs_credentials_and_the_permission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.signed_in_with("acme", "admin@example.com", None).await.0;
    let (plain, _) = app.signed_in("acme", "plain@example.com").await;
    let target = user_id(&app, "plain@example.com").await;
    let endpoints = [
        (Method::GET, "/users".to_string()),
        (Method::POST, "/users".to_string()),
        (Method::GET, format!("/users/{target}")),
        (Method::PUT, format!("/users/{target}")),
        (Method::GET, format!("/users/{target}/verification-code")),
        (Method::GET, format!("/users/{target}/password-reset-token")),
        (Method::GET, "/settings".to_string()),
        (Method::PUT, "/settings".to_string()),
        (Method::DELETE, format!("/users/{target}")),
    ];

    for (method, path) in &endpoints {
        let none = app.tenant(method.clone(), path, "acme").json(&json!({})).send().await.unwrap();
        assert_error(none, 401, "unauthorized").await;
        let wrong_key = app
            .tenant(method.clone(), path, "acme")
            .header("x-ovlt-admin-key", "wrong")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_error(wrong_key, 401, "unauthorized").await;
        let bad_bearer =
            app.tenant(method.clone(), path, "acme").bearer_auth("garbage").json(&json!({})).send().await.unwrap();
        assert_error(bad_bearer, 401, "invalid_token").await;
        let forbidden =
            app.tenant(method.clone(), path, "acme").bearer_auth(&plain).json(&json!({})).send().await.unwrap();
        assert_error(forbidden, 403, "forbidden").await;
    }
    for (method, path) in &endpoints {
        let body = if *method == Method::POST { json!({ "email": "new@example.com" }) } else { json!({}) };
        let status =
            app.tenant(method.clone(), path, "acme").bearer_auth(&admin).json(&body).send().await.unwrap().status();
        assert!(status.is_success(), "{method} {path} as tenant admin: {status}");
    }
}

async fn a_tenant_admin_can_never_act_on_another_tenant(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.bootstrap_admin = Some(("root@example.com".into(), ovlt::config::Secret::new("B00tstrap-pass!")));
    })
    .await;
    app.create_tenant("acme", "Acme").await;
    let root: Value = app.login("master", "root@example.com", "B00tstrap-pass!").await.json().await.unwrap();
    let root = root["access_token"].as_str().unwrap();
    app.register("acme", "victim@example.com").await;
    let victim = user_id(&app, "victim@example.com").await;

    assert_eq!(app.tenant(Method::GET, "/users", "master").bearer_auth(root).send().await.unwrap().status(), 200);
    let across = app.tenant(Method::GET, "/users", "acme").bearer_auth(root).send().await.unwrap();
    assert_error(across, 401, "invalid_token").await;
    let delete =
        app.tenant(Method::DELETE, &format!("/users/{victim}"), "acme").bearer_auth(root).send().await.unwrap();
    assert_error(delete, 401, "invalid_token").await;
    let by_id_in_own_tenant =
        app.tenant(Method::GET, &format!("/users/{victim}"), "master").bearer_auth(root).send().await.unwrap();
    assert_error(by_id_in_own_tenant, 404, "not_found").await;
}

async fn permissions_can_be_granted_one_by_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.signed_in_with("acme", "reader@example.com", Some(&["users:read"])).await.0;

    let list = app.tenant(Method::GET, "/users", "acme").bearer_auth(&reader).send().await.unwrap();
    let create = app
        .tenant(Method::POST, "/users", "acme")
        .bearer_auth(&reader)
        .json(&json!({ "email": "x@example.com" }))
        .send()
        .await
        .unwrap();
    let settings = app.tenant(Method::GET, "/settings", "acme").bearer_auth(&reader).send().await.unwrap();

    assert_eq!(list.status(), 200);
    assert_error(create, 403, "forbidden").await;
    assert_error(settings, 403, "forbidden").await;
}

async fn settings_are_one_flat_object_and_put_of_get_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;

    let defaults: Value = admin_in(&app, Method::GET, "/settings", "acme").send().await.unwrap().json().await.unwrap();
    let expected = json!({
        "display_name": null, "access_token_ttl_seconds": 900, "refresh_token_ttl_seconds": 604800,
        "session_idle_timeout_seconds": 604800, "session_max_lifetime_seconds": 2592000,
        "refresh_reuse_grace_seconds": 0, "lockout_threshold": 5, "lockout_window_seconds": 900,
        "password_min_length": 8, "password_min_classes": 2, "password_history": 0,
        "self_registration": true, "require_verified_email": false, "mfa_policy": "optional", "reset_url": null,
        "logo_url": null, "primary_color": null, "audit_retention_days": null, "allowed_return_origins": []
    });
    assert_eq!(defaults, expected);

    let same: Value =
        admin_in(&app, Method::PUT, "/settings", "acme").json(&defaults).send().await.unwrap().json().await.unwrap();
    assert_eq!(same, defaults);
    let partial: Value = admin_in(&app, Method::PUT, "/settings", "acme")
        .json(&json!({ "access_token_ttl_seconds": 120, "display_name": "Acme Login" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (partial["access_token_ttl_seconds"].as_i64(), partial["display_name"].as_str()),
        (Some(120), Some("Acme Login"))
    );
    assert_eq!(partial["lockout_threshold"], 5, "absent keys keep their value");

    // At once, on this instance and on another.
    let sibling = app.spawn_sibling(|_| {}).await;
    app.register("acme", "alice@example.com").await;
    let tokens: Value = sibling.login("acme", "alice@example.com", PASSWORD).await.json().await.unwrap();
    assert_eq!(tokens["expires_in"], 120);
}

async fn settings_refuse_unknown_keys_and_values_out_of_bounds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let cases = [
        json!({ "colour": "blue" }),
        json!({ "access_token_ttl_seconds": 59 }),
        json!({ "access_token_ttl_seconds": 86401 }),
        json!({ "refresh_reuse_grace_seconds": 61 }),
        json!({ "password_min_length": 7 }),
        json!({ "password_min_classes": 5 }),
        json!({ "password_history": 25 }),
        json!({ "mfa_policy": "sometimes" }),
        json!({ "self_registration": "yes" }),
        json!({ "reset_url": "http://app.example.com/reset" }),
        json!({ "lockout_threshold": -1 }),
    ];

    for body in cases {
        let key = body.as_object().unwrap().keys().next().unwrap().clone();
        let response = admin_in(&app, Method::PUT, "/settings", "acme").json(&body).send().await.unwrap();
        let error = assert_error(response, 400, "invalid_payload").await;
        assert!(error["fields"][&key].is_string(), "{body}: {error}");
    }
    let ok = admin_in(&app, Method::PUT, "/settings", "acme")
        .json(&json!({ "reset_url": "http://localhost:5173/reset" }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let unchanged: Value = admin_in(&app, Method::GET, "/settings", "acme").send().await.unwrap().json().await.unwrap();
    assert_eq!(unchanged["access_token_ttl_seconds"], 900);
}

async fn users_are_listed_newest_first_with_filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    for email in ["ann@example.com", "bob@example.org", "cat@example.com"] {
        admin_in(&app, Method::POST, "/users", "acme").json(&json!({ "email": email })).send().await.unwrap();
    }
    admin_in(&app, Method::POST, "/users", "acme")
        .json(&json!({ "email": "dan@example.com", "status": "suspended" }))
        .send()
        .await
        .unwrap();
    let list = |query: &str| {
        let request = admin_in(&app, Method::GET, &format!("/users?{query}"), "acme");
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let emails = |page: &Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()).collect()
    };

    let all = list("").await;
    assert_eq!(all["total"], 4);
    assert_eq!(emails(&all)[0], "dan@example.com");
    assert_eq!(emails(&list("email=EXAMPLE.COM").await).len(), 3);
    assert_eq!(emails(&list("email=%25").await), Vec::<String>::new(), "LIKE wildcards are literal");
    assert_eq!(emails(&list("status=suspended").await), vec!["dan@example.com"]);
    let totals = |page: Value| page["total"].as_i64().unwrap();
    assert_eq!(totals(list("status=active").await), 3);
    assert_eq!(totals(list("status=suspended").await), 1);
    assert_eq!(totals(list("email=example.com&status=active").await), 2);
    assert_eq!(emails(&list("email=example.com&status=active&per_page=1&page=2").await), vec!["ann@example.com"]);
    let mut one_by_one = Vec::new();
    for page in 1..=5 {
        one_by_one.extend(emails(&list(&format!("per_page=1&page={page}")).await));
    }
    assert_eq!(one_by_one, emails(&all), "pages past the middle (read from the oldest end) keep the order");
    let page = list("per_page=2&page=2").await;
    assert_eq!((page["total"].as_i64(), emails(&page).len()), (Some(4), 2));
    let bad = admin_in(&app, Method::GET, "/users?status=gone", "acme").send().await.unwrap();
    assert_error(bad, 400, "invalid_payload").await;
}

async fn email_search_follows_changes_and_stays_in_its_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.create_tenant("globex", "Globex").await;
    let mut ids = Vec::new();
    for email in ["ann@example.com", "bob@example.org", "cat_1@example.com", "dan%@example.com"] {
        let user: Value = admin_in(&app, Method::POST, "/users", "acme")
            .json(&json!({ "email": email }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    admin_in(&app, Method::POST, "/users", "globex").json(&json!({ "email": "ann@example.com" })).send().await.unwrap();
    // 10,000 more users make acme big enough for SQLite's FTS5 index (smaller tenants walk).
    let fillers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) \
         INSERT INTO users (id, tenant_id, email, email_normalized, email_verified, status, mfa_enabled, failed_logins, created_at, updated_at) \
         SELECT '00000000-0000-7000-8000-' || (100000000000 + i), $1, 'filler' || i || '@bulk.test', \
         'filler' || i || '@bulk.test', 1 = 0, 'active', 1 = 0, 0, 1, 1 FROM n";
    sqlx::query(fillers).bind(tenant_id(&app, "acme").await.to_string()).execute(app.state.store.pool()).await.unwrap();
    let search = |text: &str| {
        let request = admin_in(&app, Method::GET, "/users", "acme").query(&[("email", text)]);
        async move {
            let page: Value = request.send().await.unwrap().json().await.unwrap();
            let emails: Vec<String> =
                page["data"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()).collect();
            (page["total"].as_i64().unwrap(), emails)
        }
    };

    assert_eq!(
        search("ANN@").await,
        (1, vec!["ann@example.com".to_string()]),
        "case-insensitive, and the other tenant's ann is not counted"
    );
    assert_eq!(search("example.com").await.0, 3);
    assert_eq!(search("t_1").await, (1, vec!["cat_1@example.com".to_string()]), "_ is literal");
    assert_eq!(search("n%@").await, (1, vec!["dan%@example.com".to_string()]), "% is literal");
    assert_eq!(search("\"ex").await, (0, vec![]), "a quote is just a character");
    assert_eq!(search("xa").await.0, 4, "two characters still search");
    assert_eq!(search("filler9999@").await.0, 1);
    let nul = admin_in(&app, Method::GET, "/users", "acme").query(&[("email", "nn\u{0}@")]).send().await.unwrap();
    assert_error(nul, 400, "invalid_payload").await;

    let renamed = admin_in(&app, Method::PUT, &format!("/users/{}", ids[1]), "acme")
        .json(&json!({ "email": "bobby@example.net" }));
    assert_eq!(renamed.send().await.unwrap().status(), 200);
    assert_eq!(search("bobby@").await, (1, vec!["bobby@example.net".to_string()]), "the index follows an email change");
    assert_eq!(search("example.org").await.0, 0);
    admin_in(&app, Method::DELETE, &format!("/users/{}", ids[0]), "acme").send().await.unwrap();
    assert_eq!(search("ann@").await.0, 0, "a deleted user is not found");
}

async fn creating_users_validates_and_refuses_duplicates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;

    let created = admin_in(&app, Method::POST, "/users", "acme")
        .json(&json!({ "email": "Ann@Example.com", "password": PASSWORD, "name": "Ann", "email_verified": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let ann: Value = created.json().await.unwrap();
    assert_eq!((ann["email_verified"].as_bool(), ann["status"].as_str()), (Some(true), Some("active")));
    assert_eq!(app.login("acme", "ann@example.com", PASSWORD).await.status(), 200);

    let duplicate = admin_in(&app, Method::POST, "/users", "acme")
        .json(&json!({ "email": "ANN@example.com" }))
        .send()
        .await
        .unwrap();
    assert_error(duplicate, 409, "conflict").await;
    for (body, field) in [
        (json!({}), "email"),
        (json!({ "email": "nope" }), "email"),
        (json!({ "email": "b@example.com", "password": "weak" }), "password"),
        (json!({ "email": "b@example.com", "status": "deleted" }), "status"),
    ] {
        let response = admin_in(&app, Method::POST, "/users", "acme").json(&body).send().await.unwrap();
        let error = assert_error(response, 400, "invalid_payload").await;
        assert!(error["fields"][field].is_string(), "{body}: {error}");
    }
    let unknown = admin_in(&app, Method::POST, "/users", "acme")
        .json(&json!({ "email": "c@example.com", "role": "god" }))
        .send()
        .await
        .unwrap();
    assert_error(unknown, 400, "invalid_payload").await;
}

async fn suspending_a_user_ends_their_sessions_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, refresh_token) = app.signed_in("acme", "alice@example.com").await;
    let id = user_id(&app, "alice@example.com").await;

    let suspended = admin_in(&app, Method::PUT, &format!("/users/{id}"), "acme")
        .json(&json!({ "status": "suspended" }))
        .send()
        .await
        .unwrap();

    assert_eq!(suspended.json::<Value>().await.unwrap()["status"], "suspended");
    assert_error(
        app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&access).send().await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    let refreshed = app
        .tenant(Method::POST, "/auth/refresh", "acme")
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .unwrap();
    assert_error(refreshed, 401, "invalid_token").await;
    assert_error(app.login("acme", "alice@example.com", PASSWORD).await, 403, "user_suspended").await;
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE action = 'user.suspended'")
        .fetch_all(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(actions.len(), 1);
}

async fn put_changes_only_the_fields_given(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let created: Value = admin_in(&app, Method::POST, "/users", "acme")
        .json(&json!({ "email": "ann@example.com", "name": "Ann" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/users/{}", created["id"].as_str().unwrap());

    let updated: Value = admin_in(&app, Method::PUT, &path, "acme")
        .json(&json!({ "email_verified": true, "password": "N3w-password!" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(
        (updated["name"].as_str(), updated["email"].as_str(), updated["email_verified"].as_bool()),
        (Some("Ann"), Some("ann@example.com"), Some(true))
    );
    assert_eq!(app.login("acme", "ann@example.com", "N3w-password!").await.status(), 200);
    let bad = admin_in(&app, Method::PUT, &path, "acme").json(&json!({ "email": "nope" })).send().await.unwrap();
    assert!(assert_error(bad, 400, "invalid_payload").await["fields"]["email"].is_string());
}

async fn deleting_a_user_removes_their_tokens_but_keeps_the_audit_trail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, refresh_token) = app.signed_in("acme", "alice@example.com").await;
    let id = user_id(&app, "alice@example.com").await;
    app.create_tenant("other", "Other").await;

    let foreign = admin_in(&app, Method::DELETE, &format!("/users/{id}"), "other").send().await.unwrap();
    assert_error(foreign, 404, "not_found").await;
    let deleted = admin_in(&app, Method::DELETE, &format!("/users/{id}"), "acme").send().await.unwrap();

    assert_eq!(deleted.status(), 204);
    assert_error(
        app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&access).send().await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    let refreshed = app
        .tenant(Method::POST, "/auth/refresh", "acme")
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .unwrap();
    assert_error(refreshed, 401, "invalid_token").await;
    assert_error(admin_in(&app, Method::GET, &format!("/users/{id}"), "acme").send().await.unwrap(), 404, "not_found")
        .await;
    let trail: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE target_id = $1")
        .bind(id.to_string())
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(trail, 2, "registered and deleted");
    let own: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE actor_id = $1")
        .bind(id.to_string())
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(own, 2, "their registration and login");
    let actor: String = sqlx::query_scalar("SELECT actor_type FROM audit_log WHERE action = 'user.deleted'")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(actor, "admin_key");
}

async fn pages_found_by_day_are_exact_from_either_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let tenant = tenant_id(&app, "acme").await.to_string();
    let pool = app.state.store.pool();
    // 6,000 users and 6,000 audit rows over 104 days, two rows in each second used (ties are
    // ordered by id), then the users whose number ends in 7 deleted: pages deep enough to be found
    // by day.
    let users = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) \
         INSERT INTO users (id, tenant_id, email, email_normalized, email_verified, status, mfa_enabled, failed_logins, created_at, updated_at) \
         SELECT '00000000-0000-7000-8000-' || (100000000000 + i), $1, 'u' || i || '@days.test', 'u' || i || '@days.test', \
         1 = 0, 'active', 1 = 0, 0, 1700000000 + (i / 2) * 3001, 1 FROM n";
    sqlx::query(users).bind(&tenant).execute(pool).await.unwrap();
    let audit = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) \
         INSERT INTO audit_log (id, tenant_id, actor_type, actor_id, action, target_type, target_id, created_at, updated_at) \
         SELECT 'day' || i, $1, 'user', 'u' || i, 'login.succeeded', 'session', 's' || i, 1700000000 + (i / 2) * 3001, 1 FROM n";
    sqlx::query(audit).bind(&tenant).execute(pool).await.unwrap();
    sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND email LIKE '%7@days.test'")
        .bind(&tenant)
        .execute(pool)
        .await
        .unwrap();

    for (path, table) in [("/users", "users"), ("/audit-log", "audit_log")] {
        let sql = format!("SELECT id FROM {table} WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC");
        let expected: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(&tenant).fetch_all(pool).await.unwrap();
        let counted: i64 = sqlx::query_scalar(
            "SELECT CAST(SUM(row_count) AS BIGINT) FROM list_day_counts WHERE tenant_id = $1 AND list = $2",
        )
        .bind(&tenant)
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(counted, expected.len() as i64, "{table}: the days count every row");
        let mut walked = Vec::new();
        for page in 1.. {
            let request = admin_in(&app, Method::GET, &format!("{path}?per_page=100&page={page}"), "acme");
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            let rows = body["data"].as_array().unwrap();
            if rows.is_empty() {
                break;
            }
            walked.extend(rows.iter().map(|row| row["id"].as_str().unwrap().to_string()));
        }
        assert_eq!(walked.len(), expected.len(), "{table}");
        assert!(walked == expected, "{table}: every row once, newest first, across days and from either end");
    }
}

async fn list_totals_stay_exact_through_inserts_updates_and_deletes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let mut ids = Vec::new();
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        let user: Value = admin_in(&app, Method::POST, "/users", "acme")
            .json(&json!({ "email": email }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    admin_in(&app, Method::DELETE, &format!("/users/{}", ids[0]), "acme").send().await.unwrap();
    let suspend =
        admin_in(&app, Method::PUT, &format!("/users/{}", ids[1]), "acme").json(&json!({ "status": "suspended" }));
    assert_eq!(suspend.send().await.unwrap().status(), 200);
    let tenant = tenant_id(&app, "acme").await.to_string();
    let pool = app.state.store.pool();
    let real = |sql: &'static str| {
        let tenant = tenant.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).bind(tenant).fetch_one(pool).await.unwrap() }
    };

    let users: Value = admin_in(&app, Method::GET, "/users", "acme").send().await.unwrap().json().await.unwrap();
    let audit: Value = admin_in(&app, Method::GET, "/audit-log", "acme").send().await.unwrap().json().await.unwrap();

    assert_eq!(users["total"], 2);
    assert_eq!(users["total"].as_i64().unwrap(), real("SELECT COUNT(*) FROM users WHERE tenant_id = $1").await);
    assert_eq!(audit["total"].as_i64().unwrap(), real("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1").await);
    assert_eq!(audit["total"], 5, "three created, one deleted, one suspended");
    let total = |path: &'static str| {
        let request = admin_in(&app, Method::GET, path, "acme");
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["total"].as_i64().unwrap() }
    };
    assert_eq!(
        total("/users?status=active").await,
        real("SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND status = 'active'").await
    );
    assert_eq!(total("/users?status=active").await, 1);
    assert_eq!(total("/users?status=suspended").await, 1);
    let created = real("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = 'user.created'").await;
    assert_eq!((total("/audit-log?action=user.created").await, created), (3, 3));
    assert_eq!(total("/audit-log?action=no.such.action").await, 0);
    let ids = |page: Value| page["data"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect::<Vec<_>>();
    let mut one_by_one = Vec::new();
    for page in 1..=5 {
        let request = admin_in(&app, Method::GET, &format!("/audit-log?per_page=1&page={page}"), "acme");
        one_by_one.extend(ids(request.send().await.unwrap().json().await.unwrap()));
    }
    assert_eq!(one_by_one, ids(audit), "every row once, newest first, from either end");
    let id = ovlt::tenants::TenantId::parse(&tenant).unwrap();
    app.admin(Method::DELETE, &format!("/tenants/{id}")).send().await.unwrap();
    assert_eq!(
        real("SELECT COUNT(*) FROM tenant_counters WHERE tenant_id = $1").await,
        0,
        "counters go with the tenant"
    );
    if backend == crate::helpers::Backend::Sqlite {
        assert_eq!(
            real("SELECT COUNT(*) FROM user_search_keys WHERE tenant_id = $1").await,
            0,
            "search keys go with the users"
        );
        let indexed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users_email_search").fetch_one(pool).await.unwrap();
        assert_eq!(indexed, 0, "the email index forgets the tenant's users");
    }
}

backend_tests!(
    every_management_endpoint_needs_credentials_and_the_permission,
    a_tenant_admin_can_never_act_on_another_tenant,
    permissions_can_be_granted_one_by_one,
    settings_are_one_flat_object_and_put_of_get_changes_nothing,
    settings_refuse_unknown_keys_and_values_out_of_bounds,
    users_are_listed_newest_first_with_filters_and_pages,
    email_search_follows_changes_and_stays_in_its_tenant,
    creating_users_validates_and_refuses_duplicates,
    suspending_a_user_ends_their_sessions_at_once,
    put_changes_only_the_fields_given,
    deleting_a_user_removes_their_tokens_but_keeps_the_audit_trail,
    pages_found_by_day_are_exact_from_either_end,
    list_totals_stay_exact_through_inserts_updates_and_deletes
);
