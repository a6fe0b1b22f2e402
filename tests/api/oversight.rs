//! Session administration and the audit log.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, backend_tests};

fn admin_in(app: &TestApp, method: Method, path: &str, slug: &str) -> reqwest::RequestBuilder {
    app.admin(method, path).header("x-ovlt-tenant-slug", slug)
}

async fn get_json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

async fn live_sessions_are_listed_and_filtered_by_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice_access, _) = app.signed_in("acme", "alice@example.com").await;
    app.login("acme", "alice@example.com", PASSWORD).await;
    app.signed_in("acme", "bob@example.com").await;
    let alice: Value = get_json(app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&alice_access)).await;
    app.tenant(Method::POST, "/auth/logout", "acme").bearer_auth(&alice_access).send().await.unwrap();

    let all = get_json(admin_in(&app, Method::GET, "/sessions", "acme")).await;
    let alices =
        get_json(admin_in(&app, Method::GET, &format!("/sessions?user_id={}", alice["id"].as_str().unwrap()), "acme"))
            .await;
    let bad = admin_in(&app, Method::GET, "/sessions?user_id=nope", "acme").send().await.unwrap();

    assert_eq!(all["total"], 2, "the logged-out session is not live: {all}");
    assert_eq!(alices["total"], 1);
    let session = &alices["data"][0];
    for key in ["id", "user_id", "created_at", "last_seen_at", "expires_at"] {
        assert!(session[key].is_string(), "{key} in {session}");
    }
    assert_error(bad, 400, "invalid_payload").await;
}

async fn revoking_a_session_kills_its_tokens_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, refresh_token) = app.signed_in("acme", "alice@example.com").await;
    app.create_tenant("other", "Other").await;
    let sibling = app.spawn_sibling(|_| {}).await;
    let sessions = get_json(admin_in(&app, Method::GET, "/sessions", "acme")).await;
    let path = format!("/sessions/{}", sessions["data"][0]["id"].as_str().unwrap());

    let foreign = admin_in(&app, Method::DELETE, &path, "other").send().await.unwrap();
    assert_error(foreign, 404, "not_found").await;
    let revoked = admin_in(&app, Method::DELETE, &path, "acme").send().await.unwrap();
    let again = admin_in(&app, Method::DELETE, &path, "acme").send().await.unwrap();

    assert_eq!(revoked.status(), 204);
    assert_error(again, 404, "not_found").await;
    assert_error(
        sibling.tenant(Method::GET, "/users/me", "acme").bearer_auth(&access).send().await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    let refreshed = sibling
        .tenant(Method::POST, "/auth/refresh", "acme")
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .unwrap();
    assert_error(refreshed, 401, "invalid_token").await;
}

async fn the_audit_log_is_newest_first_filtered_and_free_of_secrets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, refresh_token) = app.signed_in("acme", "alice@example.com").await;
    app.login("acme", "alice@example.com", "Wrong-password1").await;
    let alice: Value = get_json(app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&access)).await;
    let alice_id = alice["id"].as_str().unwrap();

    let log = get_json(admin_in(&app, Method::GET, "/audit-log", "acme").header("user-agent", "audit-test")).await;
    let actions: Vec<&str> = log["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["login.failed", "login.succeeded", "user.registered"]);
    let failed = &log["data"][0];
    assert_eq!((failed["outcome"].as_str(), failed["target_id"].as_str()), (Some("failure"), Some(alice_id)));
    assert_eq!(failed["ip"], "127.0.0.1");
    assert!(failed["created_at"].as_str().unwrap().ends_with('Z'));
    let text = log.to_string();
    assert!(
        !text.contains(PASSWORD) && !text.contains(&access) && !text.contains(&refresh_token),
        "no secrets in {text}"
    );

    let by_action = get_json(admin_in(&app, Method::GET, "/audit-log?action=user.registered", "acme")).await;
    let by_actor = get_json(admin_in(&app, Method::GET, &format!("/audit-log?actor={alice_id}"), "acme")).await;
    let by_target = get_json(admin_in(&app, Method::GET, &format!("/audit-log?target={alice_id}"), "acme")).await;
    let future = get_json(admin_in(&app, Method::GET, "/audit-log?since=2999-01-01T00:00:00Z", "acme")).await;
    let past = get_json(admin_in(&app, Method::GET, "/audit-log?until=2000-01-01T00:00:00Z", "acme")).await;
    assert_eq!(by_action["total"], 1);
    assert_eq!(by_actor["total"], 2, "registered and logged in");
    assert_eq!(by_target["total"], 2, "registered and the failed login");
    assert_eq!((future["total"].as_i64(), past["total"].as_i64()), (Some(0), Some(0)));
    let bad = admin_in(&app, Method::GET, "/audit-log?since=yesterday", "acme").send().await.unwrap();
    assert!(assert_error(bad, 400, "invalid_payload").await["fields"]["since"].is_string());
}

async fn oversight_endpoints_need_their_permissions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (plain, _) = app.signed_in("acme", "plain@example.com").await;

    for (method, path) in [(Method::GET, "/sessions"), (Method::GET, "/audit-log")] {
        assert_error(app.tenant(method.clone(), path, "acme").send().await.unwrap(), 401, "unauthorized").await;
        assert_error(
            app.tenant(method.clone(), path, "acme").bearer_auth(&plain).send().await.unwrap(),
            403,
            "forbidden",
        )
        .await;
    }
    let unknown = format!("/sessions/{}", uuid::Uuid::now_v7());
    assert_error(
        app.tenant(Method::DELETE, &unknown, "acme").bearer_auth(&plain).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;
}

backend_tests!(
    live_sessions_are_listed_and_filtered_by_user,
    revoking_a_session_kills_its_tokens_everywhere,
    the_audit_log_is_newest_first_filtered_and_free_of_secrets,
    oversight_endpoints_need_their_permissions
);
