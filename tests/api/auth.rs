//! `/auth/*` and `/users/me`: registration, login, refresh rotation and reuse detection,
//! logout, revocation, the bearer check, password change, lockout and the cookie mode.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, backend_tests, jwt_claims};

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("an object").keys().cloned().collect()
}

async fn me(app: &TestApp, slug: &str, access_token: &str) -> reqwest::Response {
    app.tenant(Method::GET, "/users/me", slug).bearer_auth(access_token).send().await.unwrap()
}

async fn refresh(app: &TestApp, slug: &str, refresh_token: &str) -> reqwest::Response {
    app.tenant(Method::POST, "/auth/refresh", slug)
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .unwrap()
}

/// `(actor_type, actor_id)` of the one audit row of `action`, and the id of `email`'s user.
async fn actor_of(app: &TestApp, action: &str, email: &str) -> ((String, Option<String>), String) {
    let pool = app.state.store.pool();
    let actor = sqlx::query_as("SELECT actor_type, actor_id FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(pool)
        .await
        .unwrap();
    let user: String =
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(pool).await.unwrap();
    (actor, user)
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(app.state.store.pool())
        .await
        .unwrap()
}

async fn registering_answers_201_with_the_user_and_never_the_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;

    let response = app
        .tenant(Method::POST, "/auth/register", "acme")
        .json(&json!({ "email": "Alice@Example.com", "password": PASSWORD, "name": "Alice" }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
    let user: Value = response.json().await.unwrap();
    let expected =
        ["created_at", "email", "email_verified", "id", "last_login_at", "mfa_enabled", "name", "status", "updated_at"];
    assert_eq!(keys(&user), expected.map(String::from).into());
    assert_eq!(user["email"], "Alice@Example.com");
    assert_eq!((user["email_verified"].as_bool(), user["status"].as_str()), (Some(false), Some("active")));
    assert!(!user.to_string().contains(PASSWORD) && !user.to_string().contains("argon2"));
    assert_eq!(audit_count(&app, "user.registered").await, 1);
}

async fn an_email_registered_twice_in_a_tenant_is_409_whatever_its_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.create_tenant("other", "Other").await;
    app.register("acme", "alice@example.com").await;

    let again = app
        .tenant(Method::POST, "/auth/register", "acme")
        .json(&json!({ "email": "ALICE@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();

    assert_error(again, 409, "conflict").await;
    app.register("other", "alice@example.com").await;
}

async fn registration_refuses_bad_input_naming_the_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let huge = "x".repeat(10_000);
    let cases = [
        (json!({ "password": PASSWORD }), "email"),
        (json!({ "email": "alice@example.com" }), "password"),
        (json!({ "email": "not-an-email", "password": PASSWORD }), "email"),
        (json!({ "email": format!("{huge}@example.com"), "password": PASSWORD }), "email"),
        (json!({ "email": "alice@example.com", "password": "short1!" }), "password"),
        (json!({ "email": "alice@example.com", "password": "onlylowercase" }), "password"),
        (json!({ "email": "alice@example.com", "password": huge }), "password"),
        (json!({ "email": "Alice@example.com", "password": "alice@example.com" }), "password"),
        (json!({ "email": "alice@example.com", "password": PASSWORD, "name": huge }), "name"),
    ];

    for (body, field) in cases {
        let response = app.tenant(Method::POST, "/auth/register", "acme").json(&body).send().await.unwrap();
        let error = assert_error(response, 400, "invalid_payload").await;
        assert!(error["fields"][field].is_string(), "{field}: {error}");
    }
    let wrong_type = app
        .tenant(Method::POST, "/auth/register", "acme")
        .json(&json!({ "email": 42, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(wrong_type, 400, "invalid_payload").await;
    let no_tenant = app
        .request(Method::POST, "/auth/register")
        .json(&json!({ "email": "a@b.co", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(no_tenant, 400, "tenant_required").await;
}

async fn a_tenant_can_turn_self_registration_off(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.set_settings("acme", json!({ "self_registration": false })).await;

    let response = app
        .tenant(Method::POST, "/auth/register", "acme")
        .json(&json!({ "email": "alice@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();

    assert_error(response, 403, "forbidden").await;
}

async fn login_answers_the_token_shape_with_an_rfc9068_access_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let user = app.register("acme", "alice@example.com").await;

    let response = app.login("acme", "ALICE@example.com", PASSWORD).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(keys(&tokens), ["access_token", "expires_in", "refresh_token", "token_type"].map(String::from).into());
    assert_eq!((tokens["token_type"].as_str(), tokens["expires_in"].as_i64()), (Some("Bearer"), Some(900)));
    assert_eq!(tokens["refresh_token"].as_str().unwrap().len(), 43);
    let access = tokens["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!((header.alg, header.typ.as_deref()), (jsonwebtoken::Algorithm::RS256, Some("at+jwt")));
    let claims = jwt_claims(access);
    let tenant: Value = app.tenant(Method::GET, "/tenant", "acme").send().await.unwrap().json().await.unwrap();
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["tid"], tenant["id"]);
    assert_eq!(claims["iss"], app.config.issuer.as_str());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    for claim in ["aud", "jti", "sid", "client_id", "scope"] {
        assert!(claims[claim].is_string(), "{claim} in {claims}");
    }
    let me: Value = me(&app, "acme", access).await.json().await.unwrap();
    assert_eq!(me["id"], user["id"]);
    assert!(me["last_login_at"].is_string());
}

async fn a_wrong_password_and_an_unknown_email_answer_identically(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "alice@example.com").await;

    let wrong = app.login("acme", "alice@example.com", "Wrong-password1").await;
    let unknown = app.login("acme", "nobody@example.com", PASSWORD).await;

    let wrong = assert_error(wrong, 401, "invalid_credentials").await;
    let unknown = assert_error(unknown, 401, "invalid_credentials").await;
    assert_eq!(wrong, unknown);
    assert_eq!(audit_count(&app, "login.failed").await, 2);
}

async fn login_refuses_missing_or_malformed_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;

    for body in [
        json!({ "email": "a@b.co" }),
        json!({ "password": PASSWORD }),
        json!({ "email": "a@b.co", "password": PASSWORD, "mode": "cookie" }),
    ] {
        let response = app.tenant(Method::POST, "/auth/login", "acme").json(&body).send().await.unwrap();
        assert_error(response, 400, "invalid_payload").await;
    }
    let wrong_type = app
        .tenant(Method::POST, "/auth/login", "acme")
        .json(&json!({ "email": ["a"], "password": 1 }))
        .send()
        .await
        .unwrap();
    assert_error(wrong_type, 400, "invalid_payload").await;
}

async fn a_suspended_user_gets_403_user_suspended(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "alice@example.com").await;
    app.update_user("acme", "alice@example.com", json!({ "status": "suspended" })).await;

    let right = app.login("acme", "alice@example.com", PASSWORD).await;
    let wrong = app.login("acme", "alice@example.com", "Wrong-password1").await;

    assert_error(right, 403, "user_suspended").await;
    assert_error(wrong, 401, "invalid_credentials").await;
}

async fn an_unverified_email_is_refused_only_when_the_tenant_requires_verification(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "alice@example.com").await;
    assert_eq!(app.login("acme", "alice@example.com", PASSWORD).await.status(), 200);

    app.set_settings("acme", json!({ "require_verified_email": true })).await;
    assert_error(app.login("acme", "alice@example.com", PASSWORD).await, 403, "email_not_verified").await;

    app.update_user("acme", "alice@example.com", json!({ "email_verified": true })).await;
    assert_eq!(app.login("acme", "alice@example.com", PASSWORD).await.status(), 200);
}

/// After the threshold of failures an address is locked for the rest of the window, and says
/// so — in the same words for an address no account uses, after the same number of failures,
/// so the lockout tells nothing about who is registered (decision 0013).
async fn an_address_locks_after_the_threshold_whether_or_not_an_account_uses_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "alice@example.com").await;
    app.register("acme", "bob@example.com").await;
    app.set_settings("acme", json!({ "lockout_threshold": 3, "lockout_window_seconds": 900 })).await;

    for email in ["alice@example.com", "nobody@example.com"] {
        for _ in 0..3 {
            assert_error(app.login("acme", email, "Wrong-password1").await, 401, "invalid_credentials").await;
        }
    }
    let locked = app.login("acme", "alice@example.com", PASSWORD).await;
    let unknown = app.login("acme", " Nobody@Example.com", PASSWORD).await;

    let (retry, unknown_retry) = (locked.headers()["retry-after"].clone(), unknown.headers()["retry-after"].clone());
    let locked = assert_error(locked, 429, "too_many_attempts").await;
    let unknown = assert_error(unknown, 429, "too_many_attempts").await;
    assert_eq!(locked, unknown, "the same answer for a registered and an unknown address");
    assert!(locked["message"].as_str().unwrap().contains("try again in 15 minutes"), "{locked}");
    let seconds: u64 = retry.to_str().unwrap().parse().unwrap();
    assert!((890..=900).contains(&seconds), "the rest of the window: {seconds}");
    assert!(unknown_retry.to_str().unwrap().parse::<u64>().unwrap() > 890);
    assert_eq!(audit_count(&app, "login.locked").await, 2);
    assert_eq!(app.login("acme", "bob@example.com", PASSWORD).await.status(), 200, "other accounts unaffected");
    // The lock lives in the database: another instance sees it too.
    let sibling = app.spawn_sibling(|_| {}).await;
    assert_error(sibling.login("acme", "alice@example.com", PASSWORD).await, 429, "too_many_attempts").await;
    // Another tenant's address of the same name is not locked.
    app.create_tenant("globex", "Globex").await;
    app.register("globex", "alice@example.com").await;
    assert_eq!(app.login("globex", "alice@example.com", PASSWORD).await.status(), 200);
}

async fn a_refresh_rotates_the_pair_and_the_old_token_dies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, first) = app.signed_in("acme", "alice@example.com").await;

    let rotated = refresh(&app, "acme", &first).await;

    assert_eq!(rotated.status(), 200);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let rotated: Value = rotated.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(second, first);
    assert_eq!(me(&app, "acme", rotated["access_token"].as_str().unwrap()).await.status(), 200);
    let third: Value = refresh(&app, "acme", second).await.json().await.unwrap();
    assert!(third["access_token"].is_string());
}

async fn replaying_a_rotated_refresh_token_revokes_the_whole_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, first) = app.signed_in("acme", "alice@example.com").await;
    let rotated: Value = refresh(&app, "acme", &first).await.json().await.unwrap();
    let (access, second) = (rotated["access_token"].as_str().unwrap(), rotated["refresh_token"].as_str().unwrap());

    let replay = refresh(&app, "acme", &first).await;

    assert_error(replay, 401, "invalid_token").await;
    assert_error(refresh(&app, "acme", second).await, 401, "invalid_token").await;
    assert_error(me(&app, "acme", access).await, 401, "invalid_token").await;
    assert_eq!(audit_count(&app, "token.reuse_detected").await, 1);
}

async fn a_reuse_inside_the_grace_window_is_refused_without_revoking_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, first) = app.signed_in("acme", "alice@example.com").await;
    app.set_settings("acme", json!({ "refresh_reuse_grace_seconds": 30 })).await;
    let rotated: Value = refresh(&app, "acme", &first).await.json().await.unwrap();

    let raced = refresh(&app, "acme", &first).await;

    assert_error(raced, 401, "invalid_token").await;
    assert_eq!(refresh(&app, "acme", rotated["refresh_token"].as_str().unwrap()).await.status(), 200);
    assert_eq!(audit_count(&app, "token.reuse_detected").await, 0);
}

async fn concurrent_refreshes_with_one_token_let_exactly_one_succeed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.signed_in("acme", "alice@example.com").await;

    let handles: Vec<_> = (0..6)
        .map(|_| {
            let request = app.tenant(Method::POST, "/auth/refresh", "acme").json(&json!({ "refresh_token": token }));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap());
    }

    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 401), "{statuses:?}");
}

async fn bad_refresh_requests_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.signed_in("acme", "alice@example.com").await;
    app.create_tenant("other", "Other").await;

    let missing = app.tenant(Method::POST, "/auth/refresh", "acme").json(&json!({})).send().await.unwrap();
    let empty_body = app.tenant(Method::POST, "/auth/refresh", "acme").send().await.unwrap();
    let garbage = refresh(&app, "acme", "garbage").await;
    let foreign = refresh(&app, "other", &token).await;

    assert_error(missing, 400, "invalid_payload").await;
    assert_error(empty_body, 400, "invalid_payload").await;
    assert_error(garbage, 401, "invalid_token").await;
    assert_error(foreign, 401, "invalid_token").await;
    assert_eq!(refresh(&app, "acme", &token).await.status(), 200, "the token survived the foreign attempt");
}

async fn session_mode_keeps_the_refresh_token_in_an_httponly_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "alice@example.com").await;

    let login = app
        .tenant(Method::POST, "/auth/login", "acme")
        .json(&json!({ "email": "alice@example.com", "password": PASSWORD, "mode": "session" }))
        .send()
        .await
        .unwrap();

    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in ["ovlt_refresh=", "HttpOnly", "SameSite=Lax", "Path=/auth"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "not Secure in development");
    let body: Value = login.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["access_token"].is_string());

    let pair = cookie.split(';').next().unwrap().to_string();
    let refreshed = app.tenant(Method::POST, "/auth/refresh", "acme").header("cookie", &pair).send().await.unwrap();
    assert_eq!(refreshed.status(), 200);
    let next_pair = refreshed.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert_ne!(next_pair, pair);
    assert!(refreshed.json::<Value>().await.unwrap().get("refresh_token").is_none());

    let logout = app.tenant(Method::POST, "/auth/logout", "acme").header("cookie", &next_pair).send().await.unwrap();
    assert_eq!(logout.status(), 204);
    assert!(logout.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = app.tenant(Method::POST, "/auth/refresh", "acme").header("cookie", &next_pair).send().await.unwrap();
    assert_error(after, 401, "invalid_token").await;
}

async fn production_marks_the_cookie_secure(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.env = ovlt::config::Environment::Production).await;
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "alice@example.com").await;

    let login = app
        .tenant(Method::POST, "/auth/login", "acme")
        .json(&json!({ "email": "alice@example.com", "password": PASSWORD, "mode": "session" }))
        .send()
        .await
        .unwrap();

    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("__Host-ovlt_refresh=") && cookie.contains("; Path=/;") && cookie.contains("Secure"),
        "{cookie}"
    );
    // Only the prefixed cookie counts: one without it could have been planted by a sibling.
    let pair = cookie.split(';').next().unwrap().to_string();
    let refresh = |cookie: String| app.tenant(Method::POST, "/auth/refresh", "acme").header("cookie", cookie).send();
    let planted = refresh(pair.trim_start_matches("__Host-").to_string()).await.unwrap();
    let body = assert_error(planted, 400, "invalid_payload").await;
    assert_eq!(body["fields"]["refresh_token"], "is required", "the unprefixed cookie is not read");
    assert_eq!(refresh(pair).await.unwrap().status(), 200);
}

async fn logout_with_the_bearer_ends_the_session_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, refresh_token) = app.signed_in("acme", "alice@example.com").await;
    let sibling = app.spawn_sibling(|_| {}).await;
    assert_eq!(me(&sibling, "acme", &access).await.status(), 200);

    let logout = app.tenant(Method::POST, "/auth/logout", "acme").bearer_auth(&access).send().await.unwrap();

    assert_eq!(logout.status(), 204);
    assert_error(me(&app, "acme", &access).await, 401, "invalid_token").await;
    assert_error(me(&sibling, "acme", &access).await, 401, "invalid_token").await;
    assert_error(refresh(&sibling, "acme", &refresh_token).await, 401, "invalid_token").await;
    assert_eq!(audit_count(&app, "logout").await, 1);
    let (actor, user) = actor_of(&app, "logout", "alice@example.com").await;
    assert_eq!(actor, ("user".to_string(), Some(user)), "the user whose session ended is the actor");
}

async fn logout_with_a_refresh_token_in_the_body_ends_its_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, refresh_token) = app.signed_in("acme", "alice@example.com").await;

    let logout = app
        .tenant(Method::POST, "/auth/logout", "acme")
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .unwrap();
    let without_credentials = app.tenant(Method::POST, "/auth/logout", "acme").send().await.unwrap();
    let bad_bearer = app.tenant(Method::POST, "/auth/logout", "acme").bearer_auth("garbage").send().await.unwrap();

    assert_eq!(logout.status(), 204);
    let (actor, user) = actor_of(&app, "logout", "alice@example.com").await;
    assert_eq!(actor, ("user".to_string(), Some(user)));
    assert_error(me(&app, "acme", &access).await, 401, "invalid_token").await;
    assert_error(without_credentials, 401, "invalid_token").await;
    assert_error(bad_bearer, 401, "invalid_token").await;
}

async fn a_rotated_token_replayed_on_another_instance_is_detected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, first) = app.signed_in("acme", "alice@example.com").await;
    let sibling = app.spawn_sibling(|_| {}).await;

    let rotated: Value = refresh(&app, "acme", &first).await.json().await.unwrap();
    let replay = refresh(&sibling, "acme", &first).await;

    assert_error(replay, 401, "invalid_token").await;
    assert_error(refresh(&app, "acme", rotated["refresh_token"].as_str().unwrap()).await, 401, "invalid_token").await;
}

async fn revoke_ends_only_the_callers_own_tokens_and_always_answers_200(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice_access, alice_refresh) = app.signed_in("acme", "alice@example.com").await;
    let (bob_access, bob_refresh) = app.signed_in("acme", "bob@example.com").await;
    let revoke = |token: &str, body: Value| {
        app.tenant(Method::POST, "/auth/revoke", "acme").bearer_auth(token).json(&body).send()
    };

    let foreign = revoke(&alice_access, json!({ "token": bob_refresh })).await.unwrap();
    let foreign_access = revoke(&alice_access, json!({ "token": bob_access })).await.unwrap();
    let unknown = revoke(&alice_access, json!({ "token": "never-issued" })).await.unwrap();
    assert_eq!(
        (foreign.status().as_u16(), foreign_access.status().as_u16(), unknown.status().as_u16()),
        (200, 200, 200)
    );
    assert_eq!(me(&app, "acme", &bob_access).await.status(), 200, "bob's tokens untouched");
    assert_eq!(refresh(&app, "acme", &bob_refresh).await.status(), 200);

    let own = revoke(&alice_access, json!({ "token": alice_refresh })).await.unwrap();
    assert_eq!(own.status(), 200);
    assert_error(refresh(&app, "acme", &alice_refresh).await, 401, "invalid_token").await;
    assert_error(me(&app, "acme", &alice_access).await, 401, "invalid_token").await;

    let missing = revoke(&bob_access, json!({})).await.unwrap();
    assert_error(missing, 400, "invalid_payload").await;
    assert_error(
        app.tenant(Method::POST, "/auth/revoke", "acme").json(&json!({ "token": "x" })).send().await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
}

async fn revoking_an_access_token_refuses_it_but_leaves_its_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, refresh_token) = app.signed_in("acme", "alice@example.com").await;
    let fresh: Value = refresh(&app, "acme", &refresh_token).await.json().await.unwrap();
    let other_access = fresh["access_token"].as_str().unwrap();

    let revoked = app
        .tenant(Method::POST, "/auth/revoke", "acme")
        .bearer_auth(other_access)
        .json(&json!({ "token": access }))
        .send()
        .await
        .unwrap();

    assert_eq!(revoked.status(), 200);
    assert_error(me(&app, "acme", &access).await, 401, "invalid_token").await;
    assert_eq!(me(&app, "acme", other_access).await.status(), 200);
}

async fn the_bearer_check_refuses_bad_expired_foreign_and_mistyped_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = app.signed_in("acme", "alice@example.com").await;
    app.signed_in("other", "eve@example.com").await;
    let mut claims = jwt_claims(&access);
    let now = ovlt::types::Timestamp::now().0;
    claims["exp"] = json!(now - 10);
    let expired = app.state.keys.sign("at+jwt", &claims).unwrap();
    claims["exp"] = json!(now + 600);
    let id_token_typed = app.state.keys.sign("JWT", &claims).unwrap();
    claims["aud"] = json!("https://elsewhere.example");
    let wrong_audience = app.state.keys.sign("at+jwt", &claims).unwrap();
    let mut tampered = access.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");

    let missing = app.tenant(Method::GET, "/users/me", "acme").send().await.unwrap();
    assert_eq!(missing.headers()["www-authenticate"], r#"Bearer error="invalid_token""#);
    assert_error(missing, 401, "invalid_token").await;
    for token in
        ["garbage", "a.b.c", expired.as_str(), id_token_typed.as_str(), wrong_audience.as_str(), tampered.as_str()]
    {
        assert_error(me(&app, "acme", token).await, 401, "invalid_token").await;
    }
    assert_error(me(&app, "other", &access).await, 401, "invalid_token").await;
    assert_eq!(me(&app, "acme", &access).await.status(), 200);
}

async fn changing_the_password_ends_the_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (here, _) = app.signed_in("acme", "alice@example.com").await;
    let elsewhere: Value = app.login("acme", "alice@example.com", PASSWORD).await.json().await.unwrap();
    let change =
        |body: Value| app.tenant(Method::PUT, "/users/me/password", "acme").bearer_auth(&here).json(&body).send();

    let wrong =
        change(json!({ "current_password": "Wrong-password1", "new_password": "N3w-password!" })).await.unwrap();
    let weak = change(json!({ "current_password": PASSWORD, "new_password": "weak" })).await.unwrap();
    let changed = change(json!({ "current_password": PASSWORD, "new_password": "N3w-password!" })).await.unwrap();

    let wrong = assert_error(wrong, 400, "invalid_payload").await;
    assert!(wrong["fields"]["current_password"].is_string());
    let weak = assert_error(weak, 400, "invalid_payload").await;
    assert!(weak["fields"]["new_password"].is_string());
    assert_eq!(changed.status(), 204);
    assert_eq!(me(&app, "acme", &here).await.status(), 200, "this session stays");
    assert_error(me(&app, "acme", elsewhere["access_token"].as_str().unwrap()).await, 401, "invalid_token").await;
    assert_error(app.login("acme", "alice@example.com", PASSWORD).await, 401, "invalid_credentials").await;
    assert_eq!(app.login("acme", "alice@example.com", "N3w-password!").await.status(), 200);
    assert_eq!(audit_count(&app, "password.changed").await, 1);
}

backend_tests!(
    registering_answers_201_with_the_user_and_never_the_password,
    an_email_registered_twice_in_a_tenant_is_409_whatever_its_case,
    registration_refuses_bad_input_naming_the_fields,
    a_tenant_can_turn_self_registration_off,
    login_answers_the_token_shape_with_an_rfc9068_access_token,
    a_wrong_password_and_an_unknown_email_answer_identically,
    login_refuses_missing_or_malformed_fields,
    a_suspended_user_gets_403_user_suspended,
    an_unverified_email_is_refused_only_when_the_tenant_requires_verification,
    an_address_locks_after_the_threshold_whether_or_not_an_account_uses_it,
    a_refresh_rotates_the_pair_and_the_old_token_dies,
    replaying_a_rotated_refresh_token_revokes_the_whole_session,
    a_reuse_inside_the_grace_window_is_refused_without_revoking_the_session,
    concurrent_refreshes_with_one_token_let_exactly_one_succeed,
    bad_refresh_requests_are_refused,
    session_mode_keeps_the_refresh_token_in_an_httponly_cookie,
    production_marks_the_cookie_secure,
    logout_with_the_bearer_ends_the_session_everywhere,
    logout_with_a_refresh_token_in_the_body_ends_its_session,
    a_rotated_token_replayed_on_another_instance_is_detected,
    revoke_ends_only_the_callers_own_tokens_and_always_answers_200,
    revoking_an_access_token_refuses_it_but_leaves_its_session,
    the_bearer_check_refuses_bad_expired_foreign_and_mistyped_tokens,
    changing_the_password_ends_the_other_sessions
);

mod limits {
    use super::*;

    async fn auth_requests_over_the_per_ip_limit_answer_429_with_retry_after(backend: Backend) {
        let app = TestApp::spawn_with(backend, |c| c.rate_limit_per_minute = 3).await;
        app.create_tenant("acme", "Acme").await;
        let attempt = || app.login("acme", "nobody@example.com", PASSWORD);

        for _ in 0..3 {
            assert_eq!(attempt().await.status(), 401);
        }
        let limited = attempt().await;

        let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after));
        assert_error(limited, 429, "rate_limited").await;
        assert_eq!(app.request(Method::GET, "/health").send().await.unwrap().status(), 200, "only /auth/* is limited");
        let hosted =
            app.request(Method::POST, "/oauth/sign-in").form(&[("email", "nobody@example.com")]).send().await.unwrap();
        assert_eq!(hosted.status(), 429);
        assert!(hosted.headers().contains_key("retry-after"));
        assert!(hosted.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "a person gets a page");
        assert!(hosted.text().await.unwrap().contains("Too many attempts"));
    }

    async fn forwarded_addresses_count_only_behind_a_trusted_proxy(backend: Backend) {
        let untrusted = TestApp::spawn_with(backend, |c| c.rate_limit_per_minute = 1).await;
        let trusted = TestApp::spawn_with(backend, |c| {
            c.rate_limit_per_minute = 1;
            c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        })
        .await;
        for app in [&untrusted, &trusted] {
            app.create_tenant("acme", "Acme").await;
        }
        let attempt = |app: &TestApp, client: &str| {
            app.tenant(Method::POST, "/auth/login", "acme")
                .header("x-forwarded-for", client)
                .json(&json!({ "email": "nobody@example.com", "password": PASSWORD }))
                .send()
        };

        assert_eq!(attempt(&untrusted, "198.51.100.1").await.unwrap().status(), 401);
        assert_eq!(attempt(&untrusted, "198.51.100.2").await.unwrap().status(), 429, "the header is ignored");
        assert_eq!(attempt(&trusted, "198.51.100.1").await.unwrap().status(), 401);
        assert_eq!(attempt(&trusted, "198.51.100.2").await.unwrap().status(), 401, "another client");
        assert_eq!(attempt(&trusted, "198.51.100.1").await.unwrap().status(), 429);
        let ip: String = sqlx::query_scalar(
            "SELECT ip FROM audit_log WHERE action = 'login.failed' ORDER BY created_at, id LIMIT 1",
        )
        .fetch_one(trusted.state.store.pool())
        .await
        .unwrap();
        assert_eq!(ip, "198.51.100.1", "the audit trail records the client, not the proxy");
    }

    async fn the_bootstrap_admin_can_sign_in_on_first_start(backend: Backend) {
        let app = TestApp::spawn_with(backend, |c| {
            c.bootstrap_admin = Some(("root@example.com".into(), ovlt::config::Secret::new("B00tstrap-pass!")));
        })
        .await;

        let login = app.login("master", "root@example.com", "B00tstrap-pass!").await;

        assert_eq!(login.status(), 200);
        let tokens: Value = login.json().await.unwrap();
        let me: Value = me(&app, "master", tokens["access_token"].as_str().unwrap()).await.json().await.unwrap();
        assert_eq!(me["email_verified"], true);
    }

    async fn a_login_flood_does_not_stall_other_requests(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.create_tenant("acme", "Acme").await;
        let flood: Vec<_> = (0..24)
            .map(|_| {
                let request = app
                    .tenant(Method::POST, "/auth/login", "acme")
                    .json(&json!({ "email": "nobody@example.com", "password": PASSWORD }));
                tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
            })
            .collect();

        // While two dozen Argon2id verifications queue for the hashing pool, /health must
        // still answer promptly: hashing never occupies the async workers.
        let mut slowest = std::time::Duration::ZERO;
        for _ in 0..10 {
            let started = std::time::Instant::now();
            assert_eq!(app.request(Method::GET, "/health").send().await.unwrap().status(), 200);
            slowest = slowest.max(started.elapsed());
        }
        let mut statuses = Vec::new();
        for login in flood {
            statuses.push(login.await.unwrap());
        }

        // Wrong guesses at one address: refused, and past the lockout threshold locked.
        assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
        assert!(slowest < std::time::Duration::from_millis(250), "/health took {slowest:?} during the flood");
    }

    backend_tests!(
        auth_requests_over_the_per_ip_limit_answer_429_with_retry_after,
        forwarded_addresses_count_only_behind_a_trusted_proxy,
        the_bootstrap_admin_can_sign_in_on_first_start,
        a_login_flood_does_not_stall_other_requests
    );
}

mod races {
    use super::*;

    async fn parallel_wrong_passwords_cannot_exceed_the_lockout_threshold(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.create_tenant("acme", "Acme").await;
        app.register("acme", "alice@example.com").await;
        app.set_settings("acme", json!({ "lockout_threshold": 3 })).await;

        let guesses: Vec<_> = (0..8)
            .map(|i| {
                let request = app
                    .tenant(Method::POST, "/auth/login", "acme")
                    .json(&json!({ "email": "alice@example.com", "password": format!("Wrong-guess-{i}") }));
                tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
            })
            .collect();
        let mut checked = 0;
        for guess in guesses {
            match guess.await.unwrap() {
                401 => checked += 1,
                status => assert_eq!(status, 429, "refused for the lockout"),
            }
        }

        assert_eq!(checked, 3, "only 3 guesses were checked");
        assert_error(app.login("acme", "alice@example.com", PASSWORD).await, 429, "too_many_attempts").await;
        assert_eq!(audit_count(&app, "login.locked").await, 6);
    }

    async fn a_successful_login_forgets_the_failed_attempts_before_it(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.create_tenant("acme", "Acme").await;
        app.register("acme", "alice@example.com").await;
        app.set_settings("acme", json!({ "lockout_threshold": 3 })).await;

        for _ in 0..2 {
            for _ in 0..2 {
                assert_error(
                    app.login("acme", "alice@example.com", "Wrong-password1").await,
                    401,
                    "invalid_credentials",
                )
                .await;
            }
            assert_eq!(app.login("acme", "alice@example.com", PASSWORD).await.status(), 200);
        }

        assert_eq!(audit_count(&app, "login.locked").await, 0, "four failures, never three in a row");
    }

    async fn a_suspended_users_access_tokens_stop_working_at_once(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (access, refresh_token) = app.signed_in("acme", "alice@example.com").await;

        app.update_user("acme", "alice@example.com", json!({ "status": "suspended" })).await;

        assert_error(me(&app, "acme", &access).await, 401, "invalid_token").await;
        assert_error(refresh(&app, "acme", &refresh_token).await, 401, "invalid_token").await;
    }

    async fn with_a_grace_window_a_client_racing_its_own_refreshes_keeps_its_session(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.signed_in("acme", "alice@example.com").await;
        app.set_settings("acme", json!({ "refresh_reuse_grace_seconds": 30 })).await;

        let racers: Vec<_> = (0..4)
            .map(|_| {
                let request =
                    app.tenant(Method::POST, "/auth/refresh", "acme").json(&json!({ "refresh_token": token }));
                tokio::spawn(async move {
                    let response = request.send().await.unwrap();
                    (response.status().as_u16(), response.json::<Value>().await.unwrap())
                })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in racers {
            let (status, body) = racer.await.unwrap();
            if status == 200 {
                winners.push(body);
            }
        }

        assert_eq!(winners.len(), 1);
        let next = winners[0]["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&app, "acme", next).await.status(), 200, "the winner's pair still works");
    }

    backend_tests!(
        parallel_wrong_passwords_cannot_exceed_the_lockout_threshold,
        a_successful_login_forgets_the_failed_attempts_before_it,
        a_suspended_users_access_tokens_stop_working_at_once,
        with_a_grace_window_a_client_racing_its_own_refreshes_keeps_its_session
    );
}

async fn a_new_password_must_differ_from_the_ones_the_tenant_remembers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, _) = app.signed_in("acme", "alice@example.com").await;
    app.set_settings("acme", json!({ "password_history": 3 })).await;
    let change = |current: &'static str, new: &'static str| {
        app.tenant(Method::PUT, "/users/me/password", "acme")
            .bearer_auth(&access)
            .json(&json!({ "current_password": current, "new_password": new }))
            .send()
    };
    let (b, c, d) = ("Another5678!", "Third9012!x", "Fourth3456!y");

    let same = assert_error(change(PASSWORD, PASSWORD).await.unwrap(), 400, "invalid_payload").await;
    assert!(same["fields"]["new_password"].as_str().unwrap().contains("last 3"), "{same}");
    assert_eq!(change(PASSWORD, b).await.unwrap().status(), 204);
    assert_error(change(b, PASSWORD).await.unwrap(), 400, "invalid_payload").await;
    assert_eq!(change(b, c).await.unwrap().status(), 204);
    assert_error(change(c, PASSWORD).await.unwrap(), 400, "invalid_payload").await;
    assert_eq!(change(c, d).await.unwrap().status(), 204);
    // Remembered now: d (current), c, b. The first one has dropped out of the window.
    let me: Value =
        app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&access).send().await.unwrap().json().await.unwrap();
    let admin_set = |password: &'static str| {
        app.admin(Method::PUT, &format!("/users/{}", me["id"].as_str().unwrap()))
            .header("x-ovlt-tenant-slug", "acme")
            .json(&json!({ "password": password }))
            .send()
    };
    let refused = assert_error(admin_set(b).await.unwrap(), 400, "invalid_payload").await;
    assert!(refused["fields"]["password"].is_string(), "{refused}");
    assert_eq!(admin_set(PASSWORD).await.unwrap().status(), 200);
    assert_eq!(app.login("acme", "alice@example.com", PASSWORD).await.status(), 200);
    // Off (the default): any password that passes the policy.
    app.set_settings("acme", json!({ "password_history": 0 })).await;
    assert_eq!(admin_set(PASSWORD).await.unwrap().status(), 200);
}

backend_tests!(a_new_password_must_differ_from_the_ones_the_tenant_remembers);

async fn emails_that_look_alike_are_one_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "e\u{301}x@example.com").await;
    let twin = app
        .tenant(Method::POST, "/auth/register", "acme")
        .json(&json!({ "email": "\u{e9}x@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(twin, 409, "conflict").await;
    // Either spelling signs in.
    assert_eq!(app.login("acme", "\u{c9}X@example.com", PASSWORD).await.status(), 200);
}

async fn emails_stored_before_normalisation_are_renormalised_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "old@example.com").await;
    app.register("acme", "twin@example.com").await;
    let pool = app.state.store.pool();
    // As an earlier version stored them: lower case only, not NFC.
    for (from, to) in [("old@example.com", "e\u{301}old@example.com"), ("twin@example.com", "e\u{301}x@example.com")] {
        sqlx::query("UPDATE users SET email_normalized = $2 WHERE email_normalized = $1")
            .bind(from)
            .bind(to)
            .execute(pool)
            .await
            .unwrap();
    }
    app.register("acme", "\u{e9}x@example.com").await; // the NFC twin of the second
    sqlx::query("DELETE FROM system_state WHERE key = 'emails_nfc'").execute(pool).await.unwrap();

    ovlt::store::users::renormalize_emails(&app.state.store).await.unwrap();

    let stored: Vec<String> = sqlx::query_scalar("SELECT email_normalized FROM users ORDER BY email_normalized")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(stored.contains(&"\u{e9}old@example.com".to_string()), "{stored:?}");
    assert!(stored.contains(&"e\u{301}x@example.com".to_string()), "a collision is left as it was: {stored:?}");
    assert_eq!(app.login("acme", "\u{e9}old@example.com", PASSWORD).await.status(), 200);
}

backend_tests!(emails_that_look_alike_are_one_address, emails_stored_before_normalisation_are_renormalised_once);
