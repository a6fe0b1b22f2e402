//! The authorization server over raw HTTP: the code flow through the hosted pages, the token
//! endpoint's grants and every refusal, introspection, revocation, userinfo and logout.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, backend_tests, jwt_claims};
use crate::oauth_support::{
    Browser, REDIRECT_URI, as_refs, authorization_params, create_client, location, redirect_params, token_request,
};

/// A tenant `acme` with user `ann@acme.test`.
async fn acme(app: &TestApp) {
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "ann@acme.test").await;
}

async fn oauth_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status(), status, "status for {error}");
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body
}

/// Runs the code flow in a fresh browser and exchanges the code: (token answer, browser).
async fn tokens_for(app: &TestApp, client: &Value, scope: &str) -> (Value, Browser) {
    let browser = Browser::new(app);
    let (params, verifier) = authorization_params(client, scope);
    let answer = browser.code_flow(&as_refs(&params), "ann@acme.test").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", answer["code"].as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", &verifier),
    ];
    let response = token_request(app, client, &form).await;
    assert_eq!(response.status(), 200);
    (response.json().await.unwrap(), browser)
}

async fn introspect(app: &TestApp, client: &Value, token: &str) -> Value {
    token_request_at(app, "/oauth/introspect", client, &[("token", token)]).await.json().await.unwrap()
}

async fn token_request_at(app: &TestApp, path: &str, client: &Value, form: &[(&str, &str)]) -> reqwest::Response {
    app.request(Method::POST, path)
        .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn the_code_flow_signs_in_and_a_code_works_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({})).await;
    let browser = Browser::new(&app);
    let (params, verifier) = authorization_params(&client, "openid profile email offline_access");

    let page = browser.authorize(&as_refs(&params)).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let page = page.text().await.unwrap();
    assert!(page.contains("Acme") && page.contains("Acme App"), "the page names the tenant and the client");
    let wrong =
        browser.submit(&page, "/oauth/sign-in", &[("email", "ann@acme.test"), ("password", "wrong-password")]).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("Incorrect email or password"));
    let redirect = browser.sign_in(&page, "ann@acme.test").await;
    assert_eq!(redirect.status(), 303);
    let answer = redirect_params(&redirect);
    assert_eq!(answer["state"], "state-123");
    assert_eq!(answer["iss"], app.state.config.issuer);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", answer["code"].as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", &verifier),
    ];

    let response = token_request(&app, &client, &form).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile email offline_access");
    assert!(tokens["id_token"].is_string() && tokens["refresh_token"].is_string());
    let access = tokens["access_token"].as_str().unwrap();
    let me = app.request(Method::GET, "/oauth/userinfo").bearer_auth(access).send().await.unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!((me["email"].as_str(), me["email_verified"].as_bool()), (Some("ann@acme.test"), Some(false)));

    // The replayed code is refused, and what its first exchange issued ends with it.
    oauth_error(token_request(&app, &client, &form).await, 400, "invalid_grant").await;
    assert_eq!(app.request(Method::GET, "/oauth/userinfo").bearer_auth(access).send().await.unwrap().status(), 401);
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())];
    oauth_error(token_request(&app, &client, &refresh).await, 400, "invalid_grant").await;
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'token.code_reuse_detected'")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

async fn the_token_endpoint_refuses_wrong_secrets_verifiers_and_redirect_uris(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client =
        create_client(&app, "acme", json!({ "redirect_uris": [REDIRECT_URI, "http://127.0.0.1:9/other"] })).await;
    let browser = Browser::new(&app);
    let (params, verifier) = authorization_params(&client, "openid");
    let code = browser.code_flow(&as_refs(&params), "ann@acme.test").await["code"].clone();
    let form = |verifier: &'static str, redirect: &'static str| {
        vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ]
    };

    let wrong_secret = app
        .request(Method::POST, "/oauth/token")
        .basic_auth(client["client_id"].as_str().unwrap(), Some("not-the-secret"))
        .form(&form("x", REDIRECT_URI))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.headers()["www-authenticate"], "Basic realm=\"ovlt\"");
    oauth_error(wrong_secret, 401, "invalid_client").await;
    let unknown = app
        .request(Method::POST, "/oauth/token")
        .basic_auth(uuid::Uuid::now_v7().to_string(), Some("s"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    oauth_error(unknown, 401, "invalid_client").await;
    let wrong_verifier =
        token_request(&app, &client, &form("wrong-verifier-wrong-verifier-wrong-verifier-0", REDIRECT_URI)).await;
    oauth_error(wrong_verifier, 400, "invalid_grant").await;

    // A refused exchange used the code up: the right verifier is too late.
    let right_after = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    oauth_error(token_request(&app, &client, &right_after).await, 400, "invalid_grant").await;
    let (params, verifier) = authorization_params(&client, "openid");
    let code = browser.code_flow(&as_refs(&params), "ann@acme.test").await["code"].clone();
    let other_redirect = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/other"),
        ("code_verifier", verifier.as_str()),
    ];
    oauth_error(token_request(&app, &client, &other_redirect).await, 400, "invalid_grant").await;
    oauth_error(token_request(&app, &client, &[("grant_type", "password")]).await, 400, "unsupported_grant_type").await;
    oauth_error(token_request(&app, &client, &[("code", "x")]).await, 400, "invalid_request").await;
    let repeated = app
        .request(Method::POST, "/oauth/token")
        .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    oauth_error(repeated, 400, "invalid_request").await;
}

async fn an_unknown_client_or_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({})).await;
    let browser = Browser::new(&app);
    let id = client["client_id"].as_str().unwrap();

    for params in [
        vec![
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", "https://evil.example/cb"),
            ("scope", "openid"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", "00000000-0000-7000-8000-000000000000"),
            ("redirect_uri", REDIRECT_URI),
        ],
        vec![("response_type", "code"), ("redirect_uri", REDIRECT_URI)],
        vec![("response_type", "code"), ("client_id", id), ("client_id", id), ("redirect_uri", REDIRECT_URI)],
    ] {
        let response = browser.authorize(&params).await;
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(response.headers().get("location").is_none());
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    // Other errors go back to the client, with state.
    let response = browser
        .authorize(&[("response_type", "token"), ("client_id", id), ("redirect_uri", REDIRECT_URI), ("state", "s1")])
        .await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with(REDIRECT_URI));
    let answer = redirect_params(&response);
    assert_eq!((answer["error"].as_str(), answer["state"].as_str()), ("unsupported_response_type", "s1"));
    let response = browser
        .authorize(&[
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid admin:everything"),
        ])
        .await;
    assert_eq!(redirect_params(&response)["error"], "invalid_scope");
}

async fn public_clients_must_use_pkce_with_s256(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({ "type": "public" })).await;
    assert!(client.get("client_secret").is_none());
    assert_eq!(client["grant_types"], json!(["authorization_code", "refresh_token"]));
    let browser = Browser::new(&app);
    let id = client["client_id"].as_str().unwrap();
    let base = [("response_type", "code"), ("client_id", id), ("redirect_uri", REDIRECT_URI), ("state", "s")];

    let without = browser.authorize(&base).await;
    assert_eq!(redirect_params(&without)["error"], "invalid_request");
    let mut plain = base.to_vec();
    plain.extend([
        ("code_challenge", "a-plain-challenge-that-is-long-enough-to-pass-43"),
        ("code_challenge_method", "plain"),
    ]);
    assert_eq!(redirect_params(&browser.authorize(&plain).await)["error"], "invalid_request");

    let (params, verifier) = authorization_params(&client, "openid offline_access");
    let code = browser.code_flow(&as_refs(&params), "ann@acme.test").await["code"].clone();
    let exchange = app
        .request(Method::POST, "/oauth/token")
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", id),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(exchange.status(), 200);
    let tokens: Value = exchange.json().await.unwrap();
    let refreshed = app
        .request(Method::POST, "/oauth/token")
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", id),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    let cc = app
        .request(Method::POST, "/oauth/token")
        .form(&[("grant_type", "client_credentials"), ("client_id", id)])
        .send()
        .await
        .unwrap();
    oauth_error(cc, 400, "unauthorized_client").await;
}

async fn an_expired_code_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({})).await;
    let (params, verifier) = authorization_params(&client, "openid");
    let code = Browser::new(&app).code_flow(&as_refs(&params), "ann@acme.test").await["code"].clone();
    sqlx::query("UPDATE authorization_codes SET expires_at = expires_at - 61")
        .execute(app.state.store.pool())
        .await
        .unwrap();

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    oauth_error(token_request(&app, &client, &form).await, 400, "invalid_grant").await;
}

async fn a_code_of_one_tenant_or_client_is_worthless_to_another(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    app.create_tenant("globex", "Globex").await;
    let acme_client = create_client(&app, "acme", json!({})).await;
    let second_acme_client = create_client(&app, "acme", json!({})).await;
    let globex_client = create_client(&app, "globex", json!({})).await;
    let (params, verifier) = authorization_params(&acme_client, "openid");
    let code = Browser::new(&app).code_flow(&as_refs(&params), "ann@acme.test").await["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];

    oauth_error(token_request(&app, &globex_client, &form).await, 400, "invalid_grant").await;
    oauth_error(token_request(&app, &second_acme_client, &form).await, 400, "invalid_grant").await;

    // The tenant header means nothing here, and acme's SSO cookie does not sign in to globex.
    let browser = Browser::new(&app);
    browser.code_flow(&as_refs(&params), "ann@acme.test").await;
    let (globex_params, _) = authorization_params(&globex_client, "openid");
    let globex = browser.authorize(&as_refs(&globex_params)).await;
    assert_eq!(globex.status(), 200, "globex asks its own sign-in");
    assert!(globex.text().await.unwrap().contains("Globex"));
}

async fn client_credentials_tokens_carry_the_clients_scopes_and_can_be_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({ "scopes": ["openid", "invoices:read", "invoices:write"] })).await;

    let narrow: Value =
        token_request(&app, &client, &[("grant_type", "client_credentials"), ("scope", "invoices:read")])
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(narrow["scope"], "invoices:read");
    assert!(narrow.get("refresh_token").is_none() && narrow.get("id_token").is_none());
    let all = token_request(&app, &client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(all.headers()["cache-control"], "no-store");
    let all: Value = all.json().await.unwrap();
    assert_eq!(all["scope"], "invoices:read invoices:write");
    oauth_error(
        token_request(&app, &client, &[("grant_type", "client_credentials"), ("scope", "users:delete")]).await,
        400,
        "invalid_scope",
    )
    .await;
    let post_auth = app
        .request(Method::POST, "/oauth/token")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client["client_id"].as_str().unwrap()),
            ("client_secret", client["client_secret"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(post_auth.status(), 200, "client_secret_post works too");

    let token = narrow["access_token"].as_str().unwrap();
    let active = introspect(&app, &client, token).await;
    assert_eq!(
        (active["active"].as_bool(), active["client_id"].as_str(), active["scope"].as_str()),
        (Some(true), client["client_id"].as_str(), Some("invoices:read"))
    );
    // A client's own token is no user's: it opens no user endpoint.
    assert_error(
        app.tenant(Method::GET, "/users/me", "acme").bearer_auth(token).send().await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(token_request_at(&app, "/oauth/revoke", &client, &[("token", token)]).await.status(), 200);
    assert_eq!(introspect(&app, &client, token).await, json!({ "active": false }));
    assert_eq!(token_request_at(&app, "/oauth/revoke", &client, &[("token", "unknown-token")]).await.status(), 200);
}

async fn introspection_sees_every_token_of_its_own_tenant_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (access, refresh) = app.signed_in("acme", "ann@acme.test").await;
    app.create_tenant("globex", "Globex").await;
    let acme_client = create_client(&app, "acme", json!({})).await;
    let globex_client = create_client(&app, "globex", json!({})).await;
    let public = create_client(&app, "acme", json!({ "type": "public" })).await;

    let active = introspect(&app, &acme_client, &access).await;
    assert_eq!((active["active"].as_bool(), active["client_id"].as_str()), (Some(true), Some("ovlt")));
    assert_eq!(introspect(&app, &acme_client, &refresh).await["token_type"], "refresh_token");
    assert_eq!(introspect(&app, &globex_client, &access).await, json!({ "active": false }));
    assert_eq!(introspect(&app, &globex_client, &refresh).await, json!({ "active": false }));
    assert_eq!(introspect(&app, &acme_client, "not.a.token").await, json!({ "active": false }));
    let by_operator: Value = app
        .admin(Method::POST, "/oauth/introspect")
        .header("x-ovlt-tenant-slug", "acme")
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_operator["active"], true);
    let public_caller = app
        .request(Method::POST, "/oauth/introspect")
        .form(&[("token", access.as_str()), ("client_id", public["client_id"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    oauth_error(public_caller, 401, "invalid_client").await;

    // Logged out: both tokens are inactive at once.
    app.tenant(Method::POST, "/auth/logout", "acme").bearer_auth(&access).send().await.unwrap();
    assert_eq!(introspect(&app, &acme_client, &access).await, json!({ "active": false }));
    assert_eq!(introspect(&app, &acme_client, &refresh).await, json!({ "active": false }));
}

async fn refresh_tokens_rotate_detect_reuse_and_belong_to_their_client(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({})).await;
    let other = create_client(&app, "acme", json!({})).await;
    let (tokens, _) = tokens_for(&app, &client, "openid offline_access").await;
    let first = tokens["refresh_token"].as_str().unwrap();

    oauth_error(
        token_request(&app, &other, &[("grant_type", "refresh_token"), ("refresh_token", first)]).await,
        400,
        "invalid_grant",
    )
    .await;
    let direct = app
        .tenant(Method::POST, "/auth/refresh", "acme")
        .json(&json!({ "refresh_token": first }))
        .send()
        .await
        .unwrap();
    assert_error(direct, 401, "invalid_token").await;
    let rotated: Value = token_request(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", first)])
        .await
        .json()
        .await
        .unwrap();
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    assert!(rotated["id_token"].is_string());

    oauth_error(
        token_request(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", first)]).await,
        400,
        "invalid_grant",
    )
    .await;
    oauth_error(
        token_request(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", second)]).await,
        400,
        "invalid_grant",
    )
    .await;

    // RFC 6749 §6: a narrower scope on refresh narrows the access token, not the grant.
    let (tokens, _) = tokens_for(&app, &client, "openid email offline_access").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let widened = [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("scope", "openid profile")];
    oauth_error(token_request(&app, &client, &widened).await, 400, "invalid_scope").await;
    let narrower = [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("scope", "email")];
    let narrow: Value = token_request(&app, &client, &narrower).await.json().await.unwrap();
    assert_eq!(narrow["scope"], "email");
    assert_eq!(jwt_claims(narrow["access_token"].as_str().unwrap())["scope"], "email");
    assert!(narrow.get("id_token").is_none(), "no openid asked, no id_token");
    let again = [("grant_type", "refresh_token"), ("refresh_token", narrow["refresh_token"].as_str().unwrap())];
    let whole: Value = token_request(&app, &client, &again).await.json().await.unwrap();
    assert_eq!(whole["scope"], "openid email offline_access", "the grant itself is unchanged");
    assert_eq!(jwt_claims(whole["access_token"].as_str().unwrap())["scope"], "openid email offline_access");
    let (no_offline, _) = tokens_for(&app, &client, "openid").await;
    assert!(no_offline.get("refresh_token").is_none(), "no offline_access, no refresh token");
}

async fn third_party_clients_ask_consent_once_and_prompt_none_never_shows_a_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({ "first_party": false, "name": "Partner <App>" })).await;
    let browser = Browser::new(&app);
    let (params, _) = authorization_params(&client, "openid email");
    let mut none = params.clone();
    none.push(("prompt".into(), "none".into()));

    assert_eq!(redirect_params(&browser.authorize(&as_refs(&none)).await)["error"], "login_required");
    let page = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
    let consent = browser.sign_in(&page, "ann@acme.test").await;
    assert_eq!(consent.status(), 200);
    let consent = consent.text().await.unwrap();
    assert!(
        consent.contains("See your email address") && consent.contains("Partner &#60;App&#62;"),
        "escaped: {consent}"
    );
    assert_eq!(redirect_params(&browser.authorize(&as_refs(&none)).await)["error"], "consent_required");
    let denied = browser.submit(&consent, "/oauth/consent", &[("decision", "deny")]).await;
    assert_eq!(redirect_params(&denied)["error"], "access_denied");
    let allowed = browser.submit(&consent, "/oauth/consent", &[("decision", "allow")]).await;
    assert!(redirect_params(&allowed).contains_key("code"));

    // Remembered: the next request goes straight back, even with prompt=none.
    assert!(redirect_params(&browser.authorize(&as_refs(&none)).await).contains_key("code"));
    let mut wider = authorization_params(&client, "openid email offline_access").0;
    wider.push(("prompt".into(), "none".into()));
    assert_eq!(redirect_params(&browser.authorize(&as_refs(&wider)).await)["error"], "consent_required");
}

async fn the_sso_session_skips_sign_in_until_it_is_revoked_or_prompt_login_asks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({})).await;
    let browser = Browser::new(&app);
    let (params, _) = authorization_params(&client, "openid");
    browser.code_flow(&as_refs(&params), "ann@acme.test").await;

    assert_eq!(browser.authorize(&as_refs(&params)).await.status(), 303, "signed in: no page");
    let mut login = params.clone();
    login.push(("prompt".into(), "login".into()));
    assert_eq!(browser.authorize(&as_refs(&login)).await.status(), 200, "prompt=login asks again");
    let mut max_age = params.clone();
    max_age.push(("max_age".into(), "0".into()));
    sqlx::query("UPDATE sessions SET auth_time = auth_time - 5").execute(app.state.store.pool()).await.unwrap();
    assert_eq!(browser.authorize(&as_refs(&max_age)).await.status(), 200, "max_age=0 asks again");

    let sessions: Value = app
        .admin(Method::GET, "/sessions")
        .header("x-ovlt-tenant-slug", "acme")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for session in sessions["data"].as_array().unwrap() {
        let path = format!("/sessions/{}", session["id"].as_str().unwrap());
        assert_eq!(
            app.admin(Method::DELETE, &path).header("x-ovlt-tenant-slug", "acme").send().await.unwrap().status(),
            204
        );
    }
    assert_eq!(browser.authorize(&as_refs(&params)).await.status(), 200, "revoked: sign in again");
}

async fn the_sign_in_form_needs_its_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({})).await;
    let browser = Browser::new(&app);
    let (params, _) = authorization_params(&client, "openid");
    let page = browser.authorize(&as_refs(&params)).await.text().await.unwrap();

    let forged = browser
        .submit(
            &page,
            "/oauth/sign-in",
            &[("csrf_token", "forged"), ("email", "ann@acme.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status(), 400);
    // Another browser (no CSRF cookie) posting this page's token is refused too.
    let other = Browser::new(&app).sign_in(&page, "ann@acme.test").await;
    assert_eq!(other.status(), 400);
    assert!(other.headers().get("location").is_none());
}

/// The hosted sign-in says an address is locked in the same words, with the same status, for
/// a registered address and for one no account uses (decision 0013).
async fn the_sign_in_page_tells_a_locked_address_the_same_whether_or_not_it_is_registered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    app.set_settings("acme", json!({ "lockout_threshold": 2 })).await;
    let client = create_client(&app, "acme", json!({})).await;
    let (params, _) = authorization_params(&client, "openid");
    let browser = Browser::new(&app);

    let mut answers = Vec::new();
    for email in ["ann@acme.test", "nobody@acme.test"] {
        for attempt in 1..=3 {
            let page = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
            let fields = [("email", email), ("password", "Wrong-password-1")];
            let answer = browser.submit(&page, "/oauth/sign-in", &fields).await;
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap();
            let alert =
                text.split("role=\"alert\">").nth(1).and_then(|rest| rest.split('<').next()).unwrap_or_default();
            answers.push((email, attempt, status, alert.to_string()));
        }
    }

    for (email, attempt, status, alert) in &answers {
        let expected = if *attempt <= 2 {
            (401, "Incorrect email or password.")
        } else {
            (429, "Too many attempts. Try again in 15 minutes.")
        };
        assert_eq!((*status, alert.as_str()), expected, "{email}, attempt {attempt}");
    }
}

async fn userinfo_answers_by_scope_and_refuses_bad_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({})).await;
    let (tokens, _) = tokens_for(&app, &client, "openid").await;

    let me: Value = app
        .request(Method::POST, "/oauth/userinfo")
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(me["sub"].is_string());
    assert!(me.get("email").is_none() && me.get("name").is_none(), "openid alone: only sub ({me})");
    let (profile, _) = tokens_for(&app, &client, "openid profile").await;
    let me: Value = app
        .request(Method::GET, "/oauth/userinfo")
        .bearer_auth(profile["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(me["updated_at"].is_i64(), "{me}");
    assert!(me.get("name").is_none(), "a user without a name: the claim is omitted, not null ({me})");
    let discovery: Value =
        app.request(Method::GET, "/.well-known/openid-configuration").send().await.unwrap().json().await.unwrap();
    let supported = discovery["claims_supported"].as_array().unwrap();
    for claim in ["name", "updated_at", "email", "email_verified"] {
        assert!(supported.contains(&json!(claim)), "{claim} is served, so it is listed");
    }
    let bad = app.request(Method::GET, "/oauth/userinfo").bearer_auth("not-a-token").send().await.unwrap();
    assert!(bad.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_error(bad, 401, "invalid_token").await;
}

async fn logout_with_a_current_hint_ends_the_session_and_redirects_only_where_registered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({ "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"] })).await;
    let (tokens, browser) = tokens_for(&app, &client, "openid").await;
    let hint = tokens["id_token"].as_str().unwrap();

    let unregistered = browser
        .client
        .get(app.url("/oauth/logout"))
        .query(&[("id_token_hint", hint), ("post_logout_redirect_uri", "https://evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(unregistered.status(), 200, "signed out, but no redirect to an unregistered URI");
    assert!(unregistered.headers().get("location").is_none());
    assert!(unregistered.text().await.unwrap().contains("signed out"));
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.request(Method::GET, "/oauth/userinfo").bearer_auth(access).send().await.unwrap().status(),
        401,
        "logout ends the tokens of the sign-in"
    );
    let (params, _) = authorization_params(&client, "openid");
    assert_eq!(browser.authorize(&as_refs(&params)).await.status(), 200, "the browser must sign in again");

    let (tokens, browser) = tokens_for(&app, &client, "openid").await;
    let registered = browser
        .client
        .get(app.url("/oauth/logout"))
        .query(&[
            ("id_token_hint", tokens["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", "http://127.0.0.1:9/bye"),
            ("state", "st"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 303);
    assert_eq!(location(&registered), "http://127.0.0.1:9/bye?state=st");
}

async fn logout_without_a_hint_asks_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    acme(&app).await;
    let client = create_client(&app, "acme", json!({ "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"] })).await;
    let (_, browser) = tokens_for(&app, &client, "openid").await;
    let (params, _) = authorization_params(&client, "openid");
    let query =
        [("client_id", client["client_id"].as_str().unwrap()), ("post_logout_redirect_uri", "http://127.0.0.1:9/bye")];

    let confirm = browser.client.get(app.url("/oauth/logout")).query(&query).send().await.unwrap();
    assert_eq!(confirm.status(), 200);
    let page = confirm.text().await.unwrap();
    assert_eq!(browser.authorize(&as_refs(&params)).await.status(), 303, "still signed in until confirmed");
    let forged = browser.submit(&page, "/oauth/logout", &[("csrf_token", "forged")]).await;
    assert_eq!(forged.status(), 200, "a forged confirmation only asks again");
    assert_eq!(browser.authorize(&as_refs(&params)).await.status(), 303);

    let confirmed = browser.submit(&page, "/oauth/logout", &[]).await;
    assert_eq!(location(&confirmed), "http://127.0.0.1:9/bye");
    assert_eq!(browser.authorize(&as_refs(&params)).await.status(), 200);
}

async fn discovery_lists_every_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value =
        app.request(Method::GET, "/.well-known/openid-configuration").send().await.unwrap().json().await.unwrap();
    let issuer = &app.state.config.issuer;
    for (field, path) in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("userinfo_endpoint", "/oauth/userinfo"),
        ("introspection_endpoint", "/oauth/introspect"),
        ("revocation_endpoint", "/oauth/revoke"),
        ("end_session_endpoint", "/oauth/logout"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        assert_eq!(doc[field], format!("{issuer}{path}"), "{field}");
    }
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
}

backend_tests!(
    the_code_flow_signs_in_and_a_code_works_exactly_once,
    the_token_endpoint_refuses_wrong_secrets_verifiers_and_redirect_uris,
    an_unknown_client_or_unregistered_redirect_uri_gets_an_error_page_never_a_redirect,
    public_clients_must_use_pkce_with_s256,
    an_expired_code_is_refused,
    a_code_of_one_tenant_or_client_is_worthless_to_another,
    client_credentials_tokens_carry_the_clients_scopes_and_can_be_revoked,
    introspection_sees_every_token_of_its_own_tenant_and_nothing_else,
    refresh_tokens_rotate_detect_reuse_and_belong_to_their_client,
    third_party_clients_ask_consent_once_and_prompt_none_never_shows_a_page,
    the_sso_session_skips_sign_in_until_it_is_revoked_or_prompt_login_asks,
    the_sign_in_form_needs_its_csrf_token,
    userinfo_answers_by_scope_and_refuses_bad_tokens,
    the_sign_in_page_tells_a_locked_address_the_same_whether_or_not_it_is_registered,
    logout_with_a_current_hint_ends_the_session_and_redirects_only_where_registered,
    logout_without_a_hint_asks_first,
    discovery_lists_every_endpoint
);
