//! Roles and permissions: CRUD, links, built-ins, tenant isolation, and token claims.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, backend_tests, jwt_claims};

fn admin_in(app: &TestApp, method: Method, path: &str, slug: &str) -> reqwest::RequestBuilder {
    app.admin(method, path).header("x-ovlt-tenant-slug", slug)
}

async fn create(app: &TestApp, path: &str, slug: &str, name: &str) -> Value {
    let response = admin_in(app, Method::POST, path, slug).json(&json!({ "name": name })).send().await.unwrap();
    assert_eq!(response.status(), 201, "creating {name}");
    response.json().await.unwrap()
}

async fn roles_are_created_listed_renamed_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;

    let role = create(&app, "/roles", "acme", "billing").await;
    let duplicate =
        admin_in(&app, Method::POST, "/roles", "acme").json(&json!({ "name": "billing" })).send().await.unwrap();
    let listed: Value = admin_in(&app, Method::GET, "/roles", "acme").send().await.unwrap().json().await.unwrap();
    let path = format!("/roles/{}", role["id"].as_str().unwrap());
    let renamed: Value = admin_in(&app, Method::PUT, &path, "acme")
        .json(&json!({ "name": "finance" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deleted = admin_in(&app, Method::DELETE, &path, "acme").send().await.unwrap();

    assert_eq!((role["built_in"].as_bool(), role["name"].as_str()), (Some(false), Some("billing")));
    assert_error(duplicate, 409, "conflict").await;
    let names: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "billing"]);
    assert_eq!(renamed["name"], "finance");
    assert_eq!(deleted.status(), 204);
    assert_error(admin_in(&app, Method::GET, &path, "acme").send().await.unwrap(), 404, "not_found").await;
}

async fn built_in_roles_and_permissions_cannot_be_changed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let roles: Value = admin_in(&app, Method::GET, "/roles", "acme").send().await.unwrap().json().await.unwrap();
    let admin_role = format!("/roles/{}", roles["data"][0]["id"].as_str().unwrap());
    let permissions: Value =
        admin_in(&app, Method::GET, "/permissions?per_page=200", "acme").send().await.unwrap().json().await.unwrap();
    assert_eq!(permissions["total"], 13, "the management permissions");
    let granted: Value = admin_in(&app, Method::GET, &format!("{admin_role}/permissions"), "acme")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(granted.as_array().unwrap().len(), 13, "admin holds them all");

    let rename =
        admin_in(&app, Method::PUT, &admin_role, "acme").json(&json!({ "name": "root" })).send().await.unwrap();
    let delete = admin_in(&app, Method::DELETE, &admin_role, "acme").send().await.unwrap();
    let permission = format!("/permissions/{}", permissions["data"][0]["id"].as_str().unwrap());
    let delete_permission = admin_in(&app, Method::DELETE, &permission, "acme").send().await.unwrap();

    assert_error(rename, 409, "conflict").await;
    assert_error(delete, 409, "conflict").await;
    assert_error(delete_permission, 409, "conflict").await;
}

async fn permission_names_look_like_resource_and_action(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;

    create(&app, "/permissions", "acme", "invoices:read").await;
    for bad in ["invoices", "Invoices:Read", ":read", "invoices:", "in voices:read"] {
        let response =
            admin_in(&app, Method::POST, "/permissions", "acme").json(&json!({ "name": bad })).send().await.unwrap();
        let error = assert_error(response, 400, "invalid_payload").await;
        assert!(error["fields"]["name"].is_string(), "{bad}");
    }
    let duplicate = admin_in(&app, Method::POST, "/permissions", "acme")
        .json(&json!({ "name": "invoices:read" }))
        .send()
        .await
        .unwrap();
    assert_error(duplicate, 409, "conflict").await;
}

async fn granted_roles_and_permissions_appear_in_the_next_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (before, refresh_token) = app.signed_in("acme", "alice@example.com").await;
    let role = create(&app, "/roles", "acme", "billing").await;
    let permission = create(&app, "/permissions", "acme", "invoices:read").await;
    let role_path = format!("/roles/{}", role["id"].as_str().unwrap());
    let user: Value =
        app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&before).send().await.unwrap().json().await.unwrap();
    let user_roles = format!("/users/{}/roles", user["id"].as_str().unwrap());

    let grant = admin_in(&app, Method::POST, &format!("{role_path}/permissions"), "acme")
        .json(&json!({ "permission_id": permission["id"] }))
        .send()
        .await
        .unwrap();
    let assign =
        admin_in(&app, Method::POST, &user_roles, "acme").json(&json!({ "role_id": role["id"] })).send().await.unwrap();
    assert_eq!((grant.status().as_u16(), assign.status().as_u16()), (204, 204));

    assert!(jwt_claims(&before).get("roles").is_none(), "no roles when the token was issued");
    let refreshed: Value = app
        .tenant(Method::POST, "/auth/refresh", "acme")
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = jwt_claims(refreshed["access_token"].as_str().unwrap());
    assert_eq!(claims["roles"], json!(["billing"]));
    assert_eq!(claims["permissions"], json!(["invoices:read"]));
    let listed: Value = admin_in(&app, Method::GET, &user_roles, "acme").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["name"], "billing");

    let unassign = admin_in(&app, Method::DELETE, &format!("{user_roles}/{}", role["id"].as_str().unwrap()), "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(unassign.status(), 204);
    let again = admin_in(&app, Method::DELETE, &format!("{user_roles}/{}", role["id"].as_str().unwrap()), "acme")
        .send()
        .await
        .unwrap();
    assert_error(again, 404, "not_found").await;
    let login: Value = app.login("acme", "alice@example.com", PASSWORD).await.json().await.unwrap();
    assert!(jwt_claims(login["access_token"].as_str().unwrap()).get("roles").is_none());
}

async fn ids_of_another_tenant_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.create_tenant("other", "Other").await;
    let foreign_role = create(&app, "/roles", "other", "spy").await;
    let foreign_permission = create(&app, "/permissions", "other", "secrets:read").await;
    let own_role = create(&app, "/roles", "acme", "billing").await;
    app.register("acme", "alice@example.com").await;
    let alice: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'alice@example.com'")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();

    let get = admin_in(&app, Method::GET, &format!("/roles/{}", foreign_role["id"].as_str().unwrap()), "acme")
        .send()
        .await
        .unwrap();
    let assign = admin_in(&app, Method::POST, &format!("/users/{alice}/roles"), "acme")
        .json(&json!({ "role_id": foreign_role["id"] }))
        .send()
        .await
        .unwrap();
    let grant =
        admin_in(&app, Method::POST, &format!("/roles/{}/permissions", own_role["id"].as_str().unwrap()), "acme")
            .json(&json!({ "permission_id": foreign_permission["id"] }))
            .send()
            .await
            .unwrap();
    let foreign_user = admin_in(&app, Method::GET, &format!("/users/{alice}/roles"), "other").send().await.unwrap();

    assert_error(get, 404, "not_found").await;
    assert_error(assign, 404, "not_found").await;
    assert_error(grant, 404, "not_found").await;
    assert_error(foreign_user, 404, "not_found").await;
}

async fn role_endpoints_need_the_roles_permissions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (plain, _) = app.signed_in("acme", "plain@example.com").await;

    for (method, path) in [
        (Method::GET, "/roles"),
        (Method::POST, "/roles"),
        (Method::GET, "/permissions"),
        (Method::POST, "/permissions"),
    ] {
        let none = app.tenant(method.clone(), path, "acme").json(&json!({ "name": "x:y" })).send().await.unwrap();
        let forbidden = app
            .tenant(method.clone(), path, "acme")
            .bearer_auth(&plain)
            .json(&json!({ "name": "x:y" }))
            .send()
            .await
            .unwrap();
        assert_error(none, 401, "unauthorized").await;
        assert_error(forbidden, 403, "forbidden").await;
    }
    let missing = admin_in(&app, Method::POST, "/roles", "acme").json(&json!({})).send().await.unwrap();
    assert!(assert_error(missing, 400, "invalid_payload").await["fields"]["name"].is_string());
    let bad_id = admin_in(&app, Method::GET, "/roles/not-a-uuid", "acme").send().await.unwrap();
    assert_error(bad_id, 400, "invalid_payload").await;
}

backend_tests!(
    roles_are_created_listed_renamed_and_deleted,
    built_in_roles_and_permissions_cannot_be_changed,
    permission_names_look_like_resource_and_action,
    granted_roles_and_permissions_appear_in_the_next_token,
    ids_of_another_tenant_are_not_found,
    role_endpoints_need_the_roles_permissions
);
