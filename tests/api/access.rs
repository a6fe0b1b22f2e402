//! Which credential works where (docs/decisions/0009): ovlt's own API takes direct `/auth`
//! tokens and first-party tokens granted `ovlt:api`, never another client's token; no
//! permission reaches further than its name; admin-equivalent changes need a tenant admin.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, backend_tests, jwt_claims};
use crate::oauth_support::{Browser, REDIRECT_URI, as_refs, authorization_params, create_client, token_request};

/// Runs the code flow for `email` (consenting when asked) and exchanges the code: the token answer.
async fn oauth_tokens(app: &TestApp, client: &Value, scope: &str, email: &str) -> Value {
    let (params, verifier) = authorization_params(client, scope);
    let answer = Browser::new(app).code_flow(&as_refs(&params), email).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", answer["code"].as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", &verifier),
    ];
    let response = token_request(app, client, &form).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn access_token(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_string()
}

/// A request to `slug` with a bearer token.
fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.tenant(method, path, "acme").bearer_auth(token)
}

async fn userinfo_status(app: &TestApp, token: &str) -> u16 {
    app.request(Method::GET, "/oauth/userinfo").bearer_auth(token).send().await.unwrap().status().as_u16()
}

async fn a_third_party_clients_token_manages_nothing_even_for_an_admin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (direct, _) = app.signed_in_with("acme", "boss@acme.test", None).await;
    let client = create_client(&app, "acme", json!({ "first_party": false })).await;
    let tokens = oauth_tokens(&app, &client, "openid profile email", "boss@acme.test").await;
    let token = access_token(&tokens);
    assert_eq!(jwt_claims(&token)["aud"], client["client_id"], "RFC 9068: the token names its client");

    let new_client = json!({ "name": "Rogue", "redirect_uris": ["https://rogue.example/cb"], "first_party": true });
    let attempts = [
        bearer(&app, Method::GET, "/users", &token),
        bearer(&app, Method::POST, "/users", &token).json(&json!({ "email": "x@acme.test" })),
        bearer(&app, Method::GET, "/clients", &token),
        bearer(&app, Method::POST, "/clients", &token).json(&new_client),
        bearer(&app, Method::GET, "/roles", &token),
        bearer(&app, Method::GET, "/permissions", &token),
        bearer(&app, Method::GET, "/sessions", &token),
        bearer(&app, Method::GET, "/audit-log", &token),
        bearer(&app, Method::GET, "/settings", &token),
        bearer(&app, Method::PUT, "/settings", &token).json(&json!({ "lockout_threshold": 0 })),
        bearer(&app, Method::GET, "/identity-providers", &token),
        bearer(&app, Method::GET, "/users/me", &token),
        bearer(&app, Method::PUT, "/users/me/password", &token)
            .json(&json!({ "current_password": PASSWORD, "new_password": "Another1234!" })),
        bearer(&app, Method::POST, "/auth/mfa/setup", &token).json(&json!({})),
        bearer(&app, Method::POST, "/auth/revoke", &token).json(&json!({ "token": "x" })),
        bearer(&app, Method::POST, "/auth/logout", &token),
    ];
    for attempt in attempts {
        let request = attempt.build().unwrap();
        let what = format!("{} {}", request.method(), request.url().path());
        let response = app.client.execute(request).await.unwrap();
        assert_eq!(response.status(), 401, "{what} must refuse another client's token");
        assert_error(response, 401, "invalid_token").await;
    }
    // What the token is for still works: userinfo, with openid.
    assert_eq!(userinfo_status(&app, &token).await, 200);
    // The admin's own direct token manages the tenant, as before.
    assert_eq!(bearer(&app, Method::GET, "/users", &direct).send().await.unwrap().status(), 200);
    let created = bearer(&app, Method::POST, "/clients", &direct).json(&new_client).send().await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(jwt_claims(&direct)["aud"].as_str(), Some(app.config.issuer.as_str()));
}

async fn a_first_party_client_reaches_the_api_only_with_the_ovlt_api_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signed_in_with("acme", "boss@acme.test", None).await;
    let scopes = json!(["openid", "profile", "email", "offline_access", "ovlt:api"]);
    let client = create_client(&app, "acme", json!({ "scopes": scopes })).await;

    // Not asked for by name: not granted, not even by default.
    let plain = access_token(&oauth_tokens(&app, &client, "openid", "boss@acme.test").await);
    assert_error(bearer(&app, Method::GET, "/users", &plain).send().await.unwrap(), 401, "invalid_token").await;
    let default = access_token(&oauth_tokens(&app, &client, "", "boss@acme.test").await);
    assert!(!jwt_claims(&default)["scope"].as_str().unwrap().contains("ovlt:api"), "{}", jwt_claims(&default));

    let tokens = oauth_tokens(&app, &client, "openid offline_access ovlt:api", "boss@acme.test").await;
    let api = access_token(&tokens);
    assert_eq!(jwt_claims(&api)["aud"].as_str(), Some(app.config.issuer.as_str()));
    assert_eq!(bearer(&app, Method::GET, "/users", &api).send().await.unwrap().status(), 200);
    assert_eq!(bearer(&app, Method::GET, "/users/me", &api).send().await.unwrap().status(), 200);
    assert_eq!(userinfo_status(&app, &api).await, 200);

    // The scope taken from the client: its next refresh carries no API power.
    let id = client["client_id"].as_str().unwrap();
    let updated = app
        .admin(Method::PUT, &format!("/clients/{id}"))
        .header("x-ovlt-tenant-slug", "acme")
        .json(&json!({ "scopes": ["openid", "profile", "email", "offline_access"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let refreshed = token_request(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let after = access_token(&refreshed);
    assert_eq!(jwt_claims(&after)["aud"], client["client_id"]);
    assert_error(bearer(&app, Method::GET, "/users", &after).send().await.unwrap(), 401, "invalid_token").await;
    assert_eq!(userinfo_status(&app, &after).await, 200);
}

async fn only_first_party_clients_may_hold_the_api_scope_and_never_for_themselves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let third_party = app
        .admin(Method::POST, "/clients")
        .header("x-ovlt-tenant-slug", "acme")
        .json(&json!({ "name": "Partner", "redirect_uris": [REDIRECT_URI], "scopes": ["openid", "ovlt:api"] }))
        .send()
        .await
        .unwrap();
    let body = assert_error(third_party, 400, "invalid_payload").await;
    assert!(body["fields"]["scopes"].as_str().unwrap().contains("first-party"), "{body}");

    // A client's own token (client_credentials) acts for no user: ovlt:api is not for it.
    let service = create_client(&app, "acme", json!({ "scopes": ["ovlt:api", "reports:read"] })).await;
    let refused = token_request(&app, &service, &[("grant_type", "client_credentials"), ("scope", "ovlt:api")]).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let own = token_request(&app, &service, &[("grant_type", "client_credentials")]).await;
    let own: Value = own.json().await.unwrap();
    assert_eq!(own["scope"], "reports:read");
    let token = access_token(&own);
    assert_eq!(jwt_claims(&token)["aud"], service["client_id"]);
    assert_error(bearer(&app, Method::GET, "/users", &token).send().await.unwrap(), 401, "invalid_token").await;
}

async fn users_write_cannot_take_over_a_more_privileged_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (boss_token, boss) = app.signed_in_with("acme", "boss@acme.test", None).await;
    let (helpdesk, helpdesk_id) =
        app.signed_in_with("acme", "help@acme.test", Some(&["users:read", "users:write"])).await;
    let (pat_token, _) = app.signed_in("acme", "pat@acme.test").await;
    let pat: Value = bearer(&app, Method::GET, "/users/me", &pat_token).send().await.unwrap().json().await.unwrap();
    let pat = pat["id"].as_str().unwrap().to_string();

    let attempts = |target: &str| {
        [
            bearer(&app, Method::GET, &format!("/users/{target}/password-reset-token"), &helpdesk),
            bearer(&app, Method::GET, &format!("/users/{target}/verification-code"), &helpdesk),
            bearer(&app, Method::DELETE, &format!("/users/{target}/mfa"), &helpdesk),
            bearer(&app, Method::PUT, &format!("/users/{target}"), &helpdesk)
                .json(&json!({ "password": "Taken0ver!!" })),
            bearer(&app, Method::PUT, &format!("/users/{target}"), &helpdesk)
                .json(&json!({ "email": "mine@evil.test" })),
            bearer(&app, Method::DELETE, &format!("/users/{target}"), &helpdesk),
        ]
    };
    for attempt in attempts(&boss) {
        let request = attempt.build().unwrap();
        let what = format!("{} {}", request.method(), request.url().path());
        let response = app.client.execute(request).await.unwrap();
        assert_eq!(response.status(), 403, "{what} on an admin");
        assert_error(response, 403, "forbidden").await;
    }
    // The admin is untouched: same password, same email.
    assert_eq!(app.login("acme", "boss@acme.test", PASSWORD).await.status(), 200);

    // Positive control: a user holding nothing the helpdesk lacks.
    for attempt in attempts(&pat) {
        let request = attempt.build().unwrap();
        let what = format!("{} {}", request.method(), request.url().path());
        let status = app.client.execute(request).await.unwrap().status();
        assert!(status.is_success(), "{what} on a plain user answered {status}");
    }
    // A tenant admin may act on anyone, the helpdesk included.
    let reset = bearer(&app, Method::GET, &format!("/users/{helpdesk_id}/password-reset-token"), &boss_token);
    assert_eq!(reset.send().await.unwrap().status(), 200);

    // A reset token fetched while its user held nothing dies when they are promoted.
    let (quinn_token, _) = app.signed_in("acme", "quinn@acme.test").await;
    let quinn: Value = bearer(&app, Method::GET, "/users/me", &quinn_token).send().await.unwrap().json().await.unwrap();
    let quinn = quinn["id"].as_str().unwrap().to_string();
    let token: Value = bearer(&app, Method::GET, &format!("/users/{quinn}/password-reset-token"), &helpdesk)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let roles: Value =
        bearer(&app, Method::GET, "/roles?per_page=200", &boss_token).send().await.unwrap().json().await.unwrap();
    let admin_role = roles["data"].as_array().unwrap().iter().find(|r| r["name"] == "admin").unwrap()["id"].clone();
    let promoted = bearer(&app, Method::POST, &format!("/users/{quinn}/roles"), &boss_token)
        .json(&json!({ "role_id": admin_role }));
    assert_eq!(promoted.send().await.unwrap().status(), 204);
    let reset = app
        .tenant(Method::POST, "/auth/reset-password", "acme")
        .json(&json!({ "token": token["token"], "password": "Taken0ver!!" }))
        .send()
        .await
        .unwrap();
    assert_error(reset, 400, "invalid_token").await;
}

async fn the_upgrade_withdraws_ovlt_api_granted_under_the_old_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signed_in_with("acme", "boss@acme.test", None).await;
    let client = create_client(&app, "acme", json!({ "scopes": ["openid", "ovlt:api"] })).await;
    let tokens = oauth_tokens(&app, &client, "openid ovlt:api", "boss@acme.test").await;
    let api = access_token(&tokens);
    assert_eq!(bearer(&app, Method::GET, "/users", &api).send().await.unwrap().status(), 200);
    let pool = app.state.store.pool();
    for (id, scopes) in
        [("a", r#"["ovlt:api"]"#), ("b", r#"["ovlt:api","openid"]"#), ("c", r#"["openid","ovlt:api","email"]"#)]
    {
        sqlx::query("UPDATE clients SET scopes = $2 WHERE id = $1")
            .bind(client["client_id"].as_str())
            .bind(scopes)
            .execute(pool)
            .await
            .unwrap();
        let migration = match backend {
            Backend::Sqlite => include_str!("../../migrations/sqlite/0013_ovlt_api_scope.sql"),
            Backend::Postgres => include_str!("../../migrations/postgres/0013_ovlt_api_scope.sql"),
        };
        sqlx::raw_sql(migration).execute(pool).await.unwrap();
        let after: String = sqlx::query_scalar("SELECT scopes FROM clients WHERE id = $1")
            .bind(client["client_id"].as_str())
            .fetch_one(pool)
            .await
            .unwrap();
        let expected = match id {
            "a" => "[]",
            "b" => r#"["openid"]"#,
            _ => r#"["openid","email"]"#,
        };
        assert_eq!(after, expected);
    }
    // The session granted ovlt:api under the old rules has ended.
    assert_error(bearer(&app, Method::GET, "/users", &api).send().await.unwrap(), 401, "invalid_token").await;
}

async fn first_party_clients_and_the_reset_url_are_a_tenant_admins_to_set(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (boss, _) = app.signed_in_with("acme", "boss@acme.test", None).await;
    let (clerk, _) = app
        .signed_in_with(
            "acme",
            "clerk@acme.test",
            Some(&["clients:read", "clients:write", "settings:read", "settings:write"]),
        )
        .await;
    let client =
        |first_party: bool| json!({ "name": "App", "redirect_uris": [REDIRECT_URI], "first_party": first_party });

    let refused = bearer(&app, Method::POST, "/clients", &clerk).json(&client(true)).send().await.unwrap();
    assert_error(refused, 403, "forbidden").await;
    let created = bearer(&app, Method::POST, "/clients", &clerk).json(&client(false)).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let promote = bearer(&app, Method::PUT, &format!("/clients/{id}"), &clerk).json(&json!({ "first_party": true }));
    assert_error(promote.send().await.unwrap(), 403, "forbidden").await;
    let renamed = bearer(&app, Method::PUT, &format!("/clients/{id}"), &clerk).json(&json!({ "name": "Renamed" }));
    assert_eq!(renamed.send().await.unwrap().status(), 200);

    // A first-party client (it skips consent; it may hold ovlt:api) is the admin's to change,
    // rotate or delete: its redirect URI pointed elsewhere would collect silent sign-ins.
    let console = create_client(&app, "acme", json!({ "scopes": ["openid", "ovlt:api"] })).await;
    let console = console["id"].as_str().unwrap();
    let portal = create_client(&app, "acme", json!({})).await;
    let portal = portal["id"].as_str().unwrap();
    let redirect = json!({ "redirect_uris": ["https://clerk.example/cb"] });
    for client in [console, portal] {
        let changes = [
            bearer(&app, Method::PUT, &format!("/clients/{client}"), &clerk).json(&redirect),
            bearer(&app, Method::POST, &format!("/clients/{client}/secret"), &clerk),
            bearer(&app, Method::DELETE, &format!("/clients/{client}"), &clerk),
        ];
        for change in changes {
            assert_error(change.send().await.unwrap(), 403, "forbidden").await;
        }
    }

    let evil = json!({ "reset_url": "https://evil.example/reset" });
    assert_error(bearer(&app, Method::PUT, "/settings", &clerk).json(&evil).send().await.unwrap(), 403, "forbidden")
        .await;
    let harmless = bearer(&app, Method::PUT, "/settings", &clerk).json(&json!({ "lockout_threshold": 7 }));
    assert_eq!(harmless.send().await.unwrap().status(), 200);

    // Positive control: the tenant admin does all of it.
    assert_eq!(bearer(&app, Method::POST, "/clients", &boss).json(&client(true)).send().await.unwrap().status(), 201);
    let fine = json!({ "reset_url": "https://app.acme.test/reset" });
    assert_eq!(bearer(&app, Method::PUT, "/settings", &boss).json(&fine).send().await.unwrap().status(), 200);
    let changed = bearer(&app, Method::PUT, &format!("/clients/{console}"), &boss).json(&redirect);
    assert_eq!(changed.send().await.unwrap().status(), 200);
}

async fn an_access_token_never_outlives_its_sessions_idle_timeout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.set_settings("acme", json!({ "access_token_ttl_seconds": 900, "session_idle_timeout_seconds": 120 })).await;
    app.register("acme", "ann@acme.test").await;
    let tokens: Value = app.login("acme", "ann@acme.test", PASSWORD).await.json().await.unwrap();
    assert_eq!(tokens["expires_in"], 120);
    let claims = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);
}

backend_tests!(
    a_third_party_clients_token_manages_nothing_even_for_an_admin,
    a_first_party_client_reaches_the_api_only_with_the_ovlt_api_scope,
    only_first_party_clients_may_hold_the_api_scope_and_never_for_themselves,
    users_write_cannot_take_over_a_more_privileged_account,
    the_upgrade_withdraws_ovlt_api_granted_under_the_old_rules,
    first_party_clients_and_the_reset_url_are_a_tenant_admins_to_set,
    an_access_token_never_outlives_its_sessions_idle_timeout
);
