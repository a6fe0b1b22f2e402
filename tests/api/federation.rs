//! Signing in through an identity provider. The upstream is ovlt itself: a second tenant of the
//! same server, reached through the public protocol (discovery, its hosted sign-in, the token
//! endpoint, its signed ID tokens) — ovlt federating to ovlt, over a real socket.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, backend_tests, jwt_claims};
use crate::oauth_support::{
    Browser, REDIRECT_URI, as_refs, authorization_params, create_client, location, redirect_params, token_request,
};

/// Tenants `upstream` (the provider, with `uma@corp.test`) and `acme`, whose provider `corp` is
/// the upstream tenant through a client of its own; `fields` change the provider.
pub(crate) async fn federated(app: &TestApp, fields: Value) -> Value {
    app.create_tenant("upstream", "Upstream Corp").await;
    app.create_tenant("acme", "Acme").await;
    app.register("upstream", "uma@corp.test").await;
    // The provider first: its answer says which redirect URI to register upstream.
    let mut body = json!({ "name": "corp", "kind": "oidc", "issuer": app.state.config.issuer, "client_id": "later" });
    for (key, value) in fields.as_object().unwrap() {
        body[key] = value.clone();
    }
    let created = app.admin(Method::POST, "/identity-providers").header("x-ovlt-tenant-slug", "acme").json(&body);
    let created = created.send().await.unwrap();
    assert_eq!(created.status(), 201);
    let provider: Value = created.json().await.unwrap();
    let redirect_uri = provider["redirect_uri"].as_str().unwrap();
    assert_eq!(redirect_uri, app.url(&format!("/auth/callback/{}", provider["id"].as_str().unwrap())));
    let upstream_client = create_client(app, "upstream", json!({ "redirect_uris": [redirect_uri] })).await;
    let credentials =
        json!({ "client_id": upstream_client["client_id"], "client_secret": upstream_client["client_secret"] });
    let path = format!("/identity-providers/{}", provider["id"].as_str().unwrap());
    let updated = app.admin(Method::PUT, &path).header("x-ovlt-tenant-slug", "acme").json(&credentials);
    assert_eq!(updated.send().await.unwrap().status(), 200);
    provider
}

/// From `GET {start}` through the upstream's own sign-in page (as `email`) to the callback's answer.
async fn through_upstream(app: &TestApp, browser: &Browser, start: &str, email: &str) -> Response {
    let started = browser.client.get(app.url(start)).send().await.unwrap();
    assert_eq!(started.status(), 302, "to the provider: {}", started.text().await.unwrap());
    let upstream = location(&started);
    assert!(upstream.contains("code_challenge_method=S256") && upstream.contains("nonce="), "{upstream}");
    let page = browser.client.get(&upstream).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Upstream Corp"), "the upstream's own sign-in page: {page}");
    let signed_in = browser.sign_in(&page, email).await;
    assert_eq!(signed_in.status(), 303);
    let callback = location(&signed_in);
    assert!(callback.starts_with(&app.url("/auth/callback/")), "{callback}");
    browser.client.get(&callback).send().await.unwrap()
}

/// From `GET {start}` to the URL of the callback, signing in upstream when the browser is not
/// signed in there yet.
async fn upstream_callback(app: &TestApp, browser: reqwest::Client, start: &str) -> String {
    let started = browser.get(app.url(start)).send().await.unwrap();
    let upstream = browser.get(location(&started)).send().await.unwrap();
    if upstream.status() == 303 {
        return location(&upstream);
    }
    let mut form = crate::oauth_support::hidden_fields(&upstream.text().await.unwrap());
    form.push(("email".into(), "uma@corp.test".into()));
    form.push(("password".into(), PASSWORD.into()));
    location(&browser.post(app.url("/oauth/sign-in")).form(&form).send().await.unwrap())
}

pub(crate) async fn exchange(app: &TestApp, code: &str) -> Response {
    app.tenant(Method::POST, "/auth/exchange", "acme").json(&json!({ "code": code })).send().await.unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(app.state.store.pool()).await.unwrap()
}

async fn an_applications_link_signs_in_through_the_provider_and_its_backend_trades_the_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    federated(&app, json!({})).await;
    create_client(&app, "acme", json!({ "redirect_uris": ["https://app.acme.test/signed-in"] })).await;
    let browser = Browser::new(&app);

    let start = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fapp.acme.test%2Fsigned-in";
    let back = through_upstream(&app, &browser, start, "uma@corp.test").await;
    assert_eq!(back.status(), 303);
    let to_app = location(&back);
    assert!(to_app.starts_with("https://app.acme.test/signed-in?code="), "no tokens in the URL: {to_app}");
    let code = redirect_params(&back)["code"].clone();

    let answer = exchange(&app, &code).await;
    assert_eq!(answer.status(), 200);
    let tokens: Value = answer.json().await.unwrap();
    let sql = "SELECT COUNT(*) FROM sessions WHERE amr = 'fed'";
    assert_eq!(count(&app, sql).await, 1, "a session signed in by the provider, one factor");
    assert_error(exchange(&app, &code).await, 400, "invalid_request").await;

    // A new user of acme, its address unverified (an oidc provider is not trusted for email by
    // default), with the upstream account linked by its subject.
    let me = app.tenant(Method::GET, "/users/me", "acme").bearer_auth(tokens["access_token"].as_str().unwrap());
    let me: Value = me.send().await.unwrap().json().await.unwrap();
    assert_eq!((me["email"].as_str(), me["email_verified"].as_bool()), (Some("uma@corp.test"), Some(false)));
    let identities = app
        .tenant(Method::GET, "/users/me/identities", "acme")
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let identities: Value = identities.json().await.unwrap();
    assert_eq!(identities[0]["provider"], "corp");
    assert_eq!(identities.as_array().unwrap().len(), 1);
    for action in ["federation.started", "federation.succeeded", "user.registered", "identity.linked"] {
        let acme = "(SELECT id FROM tenants WHERE slug = 'acme')";
        let sql = format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND tenant_id = {acme}");
        assert_eq!(count(&app, &sql).await, 1, "{action}");
    }
    // Signing in again finds the same user.
    let again = through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await;
    assert_eq!(exchange(&app, &redirect_params(&again)["code"]).await.status(), 200);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users WHERE email = 'uma@corp.test'").await, 2, "one per tenant");
}

async fn the_hosted_sign_in_page_offers_the_provider_and_the_authorization_carries_on(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    federated(&app, json!({})).await;
    let client = create_client(&app, "acme", json!({})).await;
    let (params, verifier) = authorization_params(&client, "openid email");
    let browser = Browser::new(&app);
    let sign_in = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
    let button = sign_in.split("class=\"provider\" href=\"").nth(1).and_then(|rest| rest.split('"').next());
    let button = crate::oauth_support::decode_entities(button.expect("a provider button"));
    assert!(button.starts_with("/auth/corp?") && sign_in.contains("Continue with corp"), "{button}");

    let back = through_upstream(&app, &browser, &button, "uma@corp.test").await;
    assert_eq!(back.status(), 303, "back to the client: {}", back.text().await.unwrap());
    let answer = redirect_params(&back);
    assert!(location(&back).starts_with(REDIRECT_URI) && answer["state"] == "state-123");
    let tokens = token_request(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &answer["code"]),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(tokens.status(), 200);
    let tokens: Value = tokens.json().await.unwrap();
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!((id_token["email"].as_str(), id_token["amr"].clone()), (Some("uma@corp.test"), json!(["fed"])));
    assert_eq!(id_token["nonce"], "nonce-456");

    // The browser is signed in to acme now: the next authorization needs no page.
    let (params, _) = authorization_params(&client, "openid");
    assert_eq!(browser.authorize(&as_refs(&params)).await.status(), 303);
}

/// A user of acme already has the upstream's address: whether the sign-in may link to them.
async fn an_existing_users_address_links_only_when_verified_and_the_provider_says_auto(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let provider = federated(&app, json!({})).await;
    app.register("acme", "uma@corp.test").await;
    let start = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fapp.acme.test%2Fback";
    app.set_settings("acme", json!({ "allowed_return_origins": ["https://app.acme.test"] })).await;
    let provider_url = format!("/identity-providers/{}", provider["id"].as_str().unwrap());
    let set_provider = |fields: Value| {
        let request = app.admin(Method::PUT, &provider_url).header("x-ovlt-tenant-slug", "acme").json(&fields);
        async move { assert_eq!(request.send().await.unwrap().status(), 200) }
    };
    let attempt = || async { through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await };
    let refused = |answer: Response, says: &'static str| async move {
        assert_eq!(answer.status(), 403);
        let page = answer.text().await.unwrap();
        assert!(page.contains(says), "{page}");
    };

    // Not trusted for email: never linked, whatever link_existing says.
    set_provider(json!({ "link_existing": "auto" })).await;
    refused(attempt().await, "has not confirmed that it is yours").await;
    // Trusted, but the upstream has not verified the address itself.
    set_provider(json!({ "trust_email": true })).await;
    refused(attempt().await, "has not confirmed that it is yours").await;
    app.update_user("upstream", "uma@corp.test", json!({ "email_verified": true })).await;
    app.update_user("acme", "uma@corp.test", json!({ "email_verified": true })).await;
    // Verified and trusted: off does not link, prompt (the default) asks for the account's password.
    set_provider(json!({ "link_existing": "off" })).await;
    refused(attempt().await, "Sign in with its password instead").await;
    set_provider(json!({ "link_existing": "prompt" })).await;
    let asked = attempt().await;
    assert_eq!(asked.status(), 200);
    assert!(asked.text().await.unwrap().contains("An account here already uses uma@corp.test."));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM external_identities").await, 0, "nothing linked");
    let failures = "SELECT COUNT(*) FROM audit_log WHERE action = 'federation.failed'";
    assert_eq!(count(&app, failures).await, 3);

    set_provider(json!({ "link_existing": "auto" })).await;
    let linked = attempt().await;
    assert_eq!(linked.status(), 303);
    let tokens: Value = exchange(&app, &redirect_params(&linked)["code"]).await.json().await.unwrap();
    let acme_user: Value = app
        .tenant(Method::GET, "/users/me", "acme")
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users WHERE email = 'uma@corp.test'").await, 2, "linked, not new");

    // The subject names the user from now on, whatever address the upstream gives.
    app.update_user("upstream", "uma@corp.test", json!({ "email": "uma.new@corp.test" })).await;
    let later = through_upstream(&app, &Browser::new(&app), start, "uma.new@corp.test").await;
    let tokens: Value = exchange(&app, &redirect_params(&later)["code"]).await.json().await.unwrap();
    assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["sub"], acme_user["id"]);

    // A suspended user is refused, and the password account still works on its own.
    app.update_user("acme", "uma@corp.test", json!({ "status": "suspended" })).await;
    refused(through_upstream(&app, &Browser::new(&app), start, "uma.new@corp.test").await, "suspended").await;
}

async fn a_tenant_closed_to_registration_creates_no_user_from_a_provider(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    federated(&app, json!({})).await;
    app.set_settings("acme", json!({ "self_registration": false, "allowed_return_origins": ["https://a.test"] })).await;
    let start = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F";
    let answer = through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await;
    assert_eq!(answer.status(), 403);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users WHERE email = 'uma@corp.test'").await, 1, "upstream's only");
}

/// The flow's state: single use, bound to the browser that began it, and only for the provider
/// and tenant it names.
async fn the_callback_refuses_replays_other_browsers_and_forged_states(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let provider = federated(&app, json!({})).await;
    app.set_settings("acme", json!({ "allowed_return_origins": ["https://a.test"] })).await;
    let start = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F";
    let browser = Browser::new(&app);
    let to_callback = |browser: &Browser| upstream_callback(&app, browser.client.clone(), start);
    let expired = |answer: Response| async move {
        assert_eq!(answer.status(), 400);
        assert!(answer.text().await.unwrap().contains("expired or was already completed"));
    };

    let callback = to_callback(&browser).await;
    let elsewhere = Browser::new(&app).client.get(&callback).send().await.unwrap();
    assert_eq!(elsewhere.status(), 400);
    assert!(elsewhere.text().await.unwrap().contains("another browser"));
    let audited =
        "SELECT COUNT(*) FROM audit_log WHERE action = 'federation.failed' AND details LIKE '%other_browser%'";
    assert_eq!(count(&app, audited).await, 1);
    expired(browser.client.get(&callback).send().await.unwrap()).await;

    let callback = to_callback(&browser).await;
    assert_eq!(browser.client.get(&callback).send().await.unwrap().status(), 303);
    expired(browser.client.get(&callback).send().await.unwrap()).await;

    let forged = callback.replace("state=", "state=x");
    expired(browser.client.get(&forged).send().await.unwrap()).await;
    expired(browser.client.get(app.url("/auth/callback/corp?code=abc")).send().await.unwrap()).await;

    // The provider's refusal, and a provider disabled meanwhile.
    let callback = to_callback(&browser).await;
    let state = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.to_string();
    let id = provider["id"].as_str().unwrap();
    let denied = format!("/auth/callback/{id}?error=access_denied&state={state}");
    let denied = browser.client.get(app.url(&denied)).send().await.unwrap();
    assert_eq!(denied.status(), 400);
    assert!(denied.text().await.unwrap().contains("cancelled at corp"));
    // A callback naming another provider than the flow's (the mix-up defence), then a provider
    // disabled meanwhile.
    let callback = to_callback(&browser).await;
    let elsewhere = callback.replace(id, "0193a7c0-0000-7000-8000-000000000000");
    assert_eq!(browser.client.get(&elsewhere).send().await.unwrap().status(), 400);
    let callback = to_callback(&browser).await;
    let disable = app.admin(Method::PUT, &format!("/identity-providers/{id}")).header("x-ovlt-tenant-slug", "acme");
    assert_eq!(disable.json(&json!({ "enabled": false })).send().await.unwrap().status(), 200);
    assert_eq!(browser.client.get(&callback).send().await.unwrap().status(), 400);
    assert_eq!(browser.client.get(app.url(start)).send().await.unwrap().status(), 404, "a disabled provider");
    let users = "SELECT COUNT(*) FROM users WHERE email = 'uma@corp.test'";
    assert_eq!(count(&app, users).await, 2, "the upstream's, and acme's from the one completed sign-in");
}

async fn the_start_refuses_unknown_providers_and_unregistered_return_urls(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    federated(&app, json!({})).await;
    create_client(&app, "acme", json!({ "redirect_uris": ["https://app.acme.test/cb"] })).await;
    let get = |path: &str| {
        let request = Browser::new(&app).client.get(app.url(path));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get("/auth/nobody?tenant=acme&redirect_to=https%3A%2F%2Fapp.acme.test%2Fcb").await, 404);
    assert_eq!(get("/auth/corp?tenant=nope").await, 404);
    assert_eq!(get("/auth/corp").await, 400, "no tenant");
    for refused in [
        "https://evil.test/cb",
        "https://app.acme.test/cb/more",
        "https://app.acme.test@evil.test/cb",
        "//evil.test/cb",
        "javascript:alert(1)",
    ] {
        let path = format!("/auth/corp?tenant=acme&redirect_to={}", urlencode(refused));
        assert_eq!(get(&path).await, 400, "{refused}");
    }
    assert_eq!(get("/auth/corp?tenant=acme").await, 400, "an application's link says where to return");
    assert_eq!(get("/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fapp.acme.test%2Fcb").await, 302);
    let third_party =
        create_client(&app, "acme", json!({ "first_party": false, "redirect_uris": ["https://partner.test/cb"] }));
    third_party.await;
    let path = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fpartner.test%2Fcb";
    assert_eq!(get(path).await, 400, "a code is a whole session: never for a third-party client");
    let long_state = format!("&state={}", "s".repeat(513));
    for bad in [&long_state, "&code_challenge=short&code_challenge_method=S256", "&code_challenge_method=plain"] {
        let path = format!("/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fapp.acme.test%2Fcb{bad}");
        assert_eq!(get(&path).await, 400, "{bad}");
    }
    let by_header = Browser::new(&app)
        .client
        .get(app.url("/auth/corp?redirect_to=https%3A%2F%2Fapp.acme.test%2Fcb"))
        .header("x-ovlt-tenant-slug", "acme");
    assert_eq!(by_header.send().await.unwrap().status(), 302, "the tenant header works too");

    // Names are URL keys and leave ovlt's own paths alone.
    for name in ["login", "callback", "Corp SSO"] {
        let body = json!({ "name": name, "kind": "google", "client_id": "x" });
        let created = app.admin(Method::POST, "/identity-providers").header("x-ovlt-tenant-slug", "acme").json(&body);
        assert_error(created.send().await.unwrap(), 400, "invalid_payload").await;
    }
}

/// The upstream rotates its signing key between the start and the callback: the ID token names
/// a key the cached key set lacks, and the keys are fetched again.
async fn a_rotated_upstream_key_is_fetched_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    federated(&app, json!({})).await;
    app.set_settings("acme", json!({ "allowed_return_origins": ["https://a.test"] })).await;
    let start = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F";
    let browser = Browser::new(&app);
    assert_eq!(through_upstream(&app, &browser, start, "uma@corp.test").await.status(), 303);
    ovlt::keys::rotate(&app.state.store, &app.state.master_key).await.unwrap();
    app.state.keys.reload().await.unwrap();
    assert_eq!(through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await.status(), 303);
}

async fn identities_are_listed_and_unlinked_but_never_the_last_way_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    federated(&app, json!({})).await;
    app.set_settings("acme", json!({ "allowed_return_origins": ["https://a.test"] })).await;
    let start = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F";
    let back = through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await;
    let tokens: Value = exchange(&app, &redirect_params(&back)["code"]).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let me = |method: Method, path: &str| app.tenant(method, path, "acme").bearer_auth(&access);
    let identities: Value = me(Method::GET, "/users/me/identities").send().await.unwrap().json().await.unwrap();
    let identity = identities[0]["id"].as_str().unwrap().to_string();

    // No password, no other identity: unlinking would lock the user out.
    let unlink = me(Method::DELETE, &format!("/users/me/identities/{identity}")).send().await.unwrap();
    assert_error(unlink, 409, "conflict").await;
    let user_id = jwt_claims(&access)["sub"].as_str().unwrap().to_string();
    let admin = |method: Method, path: String| app.admin(method, &path).header("x-ovlt-tenant-slug", "acme");
    let listed = admin(Method::GET, format!("/users/{user_id}/identities")).send().await.unwrap();
    assert_eq!(listed.json::<Value>().await.unwrap()[0]["id"], identity.as_str());
    let other_tenant = app
        .admin(Method::GET, &format!("/users/{user_id}/identities"))
        .header("x-ovlt-tenant-slug", "upstream")
        .send()
        .await
        .unwrap();
    assert_eq!(other_tenant.status(), 404);

    // Nor may the provider go while it is someone's only way in.
    let provider_id: String = sqlx::query_scalar("SELECT provider_id FROM external_identities")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    let removed = admin(Method::DELETE, format!("/identity-providers/{provider_id}")).send().await.unwrap();
    assert_error(removed, 409, "conflict").await;

    app.update_user("acme", "uma@corp.test", json!({ "password": "An0ther-Passw0rd!" })).await;
    let unlinked = admin(Method::DELETE, format!("/users/{user_id}/identities/{identity}")).send().await.unwrap();
    assert_eq!(unlinked.status(), 204);
    let sql = "SELECT COUNT(*) FROM audit_log WHERE action = 'identity.unlinked'";
    assert_eq!(count(&app, sql).await, 1);
}

/// A flow not finished in ten minutes and a code not traded in a minute are dead, and the
/// background purge deletes them.
async fn expired_flows_and_codes_are_refused_and_purged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    federated(&app, json!({})).await;
    app.set_settings("acme", json!({ "allowed_return_origins": ["https://a.test"] })).await;
    let start = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F";
    let browser = Browser::new(&app);
    let callback = upstream_callback(&app, browser.client.clone(), start).await;
    let pool = app.state.store.pool();
    sqlx::query("UPDATE flow_states SET expires_at = 0").execute(pool).await.unwrap();
    assert_eq!(browser.client.get(&callback).send().await.unwrap().status(), 400);

    let back = through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await;
    sqlx::query("UPDATE federation_codes SET expires_at = 0").execute(pool).await.unwrap();
    assert_error(exchange(&app, &redirect_params(&back)["code"]).await, 400, "invalid_request").await;

    sqlx::query("UPDATE flow_states SET expires_at = 0").execute(pool).await.unwrap();
    ovlt::maintenance::purge(&app.state.store, "instance-a", ovlt::types::Timestamp::now(), 1000).await.unwrap();
    assert_eq!(count(&app, "SELECT COUNT(*) FROM flow_states").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM federation_codes").await, 0);
}

/// An application binds the flow to itself: its `state` comes back with the code, and a PKCE
/// challenge makes the code useless without the verifier.
async fn an_applications_state_comes_back_and_its_pkce_binds_the_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    federated(&app, json!({})).await;
    app.set_settings("acme", json!({ "allowed_return_origins": ["https://a.test"] })).await;
    let (verifier, challenge) = crate::oauth_support::pkce();
    let start = format!(
        "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F&state=app-state-1&code_challenge={challenge}\
         &code_challenge_method=S256"
    );
    let back = through_upstream(&app, &Browser::new(&app), &start, "uma@corp.test").await;
    let answer = redirect_params(&back);
    assert_eq!(answer["state"], "app-state-1");
    let without = exchange(&app, &answer["code"]).await;
    assert_error(without, 400, "invalid_request").await;

    let back = through_upstream(&app, &Browser::new(&app), &start, "uma@corp.test").await;
    let code = redirect_params(&back)["code"].clone();
    let traded =
        app.tenant(Method::POST, "/auth/exchange", "acme").json(&json!({ "code": code, "code_verifier": verifier }));
    assert_eq!(traded.send().await.unwrap().status(), 200);
}

/// What a provider vouches for is undone when it no longer can: identities linked on an address
/// nobody verified go when the mailbox is proved, and a provider's new issuer unlinks its
/// identities (their subjects now name other people).
async fn links_without_a_vouched_address_or_with_a_changed_issuer_are_dropped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let provider = federated(&app, json!({})).await;
    app.set_settings("acme", json!({ "allowed_return_origins": ["https://a.test"] })).await;
    let start = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F";
    let back = through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await;
    let tokens: Value = exchange(&app, &redirect_params(&back)["code"]).await.json().await.unwrap();
    let user_id = jwt_claims(tokens["access_token"].as_str().unwrap())["sub"].as_str().unwrap().to_string();
    assert_eq!(count(&app, "SELECT COUNT(*) FROM external_identities WHERE email_verified = false").await, 1);
    // What the upstream says later does not vouch for the link after the fact.
    let admin = |method: Method, path: String| app.admin(method, &path).header("x-ovlt-tenant-slug", "acme");
    let id = provider["id"].as_str().unwrap();
    let trusted = admin(Method::PUT, format!("/identity-providers/{id}")).json(&json!({ "trust_email": true }));
    assert_eq!(trusted.send().await.unwrap().status(), 200);
    app.update_user("upstream", "uma@corp.test", json!({ "email_verified": true })).await;
    assert_eq!(through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await.status(), 303);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM external_identities WHERE email_verified = false").await, 1);
    let untrusted = admin(Method::PUT, format!("/identity-providers/{id}")).json(&json!({ "trust_email": false }));
    assert_eq!(untrusted.send().await.unwrap().status(), 200);
    app.update_user("upstream", "uma@corp.test", json!({ "email_verified": false })).await;

    // The address's owner resets the password by email: the unvouched link goes.
    let issued = admin(Method::GET, format!("/users/{user_id}/password-reset-token")).send().await.unwrap();
    let token: Value = issued.json().await.unwrap();
    let reset = json!({ "token": token["token"], "password": "Br4nd-new-passw0rd" });
    let reset = app.tenant(Method::POST, "/auth/reset-password", "acme").json(&reset).send().await.unwrap();
    assert!(reset.status().is_success());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM external_identities").await, 0);

    // Linked again, then the provider's issuer changes: the link goes.
    let back = through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await;
    assert_eq!(back.status(), 403, "an untrusted provider does not link to an existing account");
    let trust = json!({ "trust_email": true, "link_existing": "auto" });
    assert_eq!(
        admin(Method::PUT, format!("/identity-providers/{id}")).json(&trust).send().await.unwrap().status(),
        200
    );
    app.update_user("upstream", "uma@corp.test", json!({ "email_verified": true })).await;
    app.update_user("acme", "uma@corp.test", json!({ "email_verified": true })).await;
    let back = through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await;
    assert_eq!(back.status(), 303);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM external_identities").await, 1);
    let moved = json!({ "issuer": "https://sso.other.test" });
    assert_eq!(
        admin(Method::PUT, format!("/identity-providers/{id}")).json(&moved).send().await.unwrap().status(),
        200
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM external_identities").await, 0);
}

/// `link_existing = prompt`: the user who has the address proves the account — its password,
/// and its second factor — and only then is the upstream account linked.
async fn under_prompt_the_account_is_proved_before_it_is_linked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    federated(&app, json!({ "trust_email": true })).await;
    app.update_user("upstream", "uma@corp.test", json!({ "email_verified": true })).await;
    app.set_settings("acme", json!({ "allowed_return_origins": ["https://a.test"] })).await;
    let (access, _) = app.signed_in("acme", "uma@corp.test").await;
    let start = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F";

    let browser = Browser::new(&app);
    let form = through_upstream(&app, &browser, start, "uma@corp.test").await.text().await.unwrap();
    assert!(form.contains("action=\"/oauth/link-account\"") && !form.contains("id=\"code\""), "{form}");
    let wrong = browser.submit(&form, "/oauth/link-account", &[("password", "Not-the-password-1")]).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("Incorrect email or password."));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM external_identities").await, 0);
    let elsewhere = Browser::new(&app).submit(&form, "/oauth/link-account", &[("password", PASSWORD)]).await;
    assert_eq!(elsewhere.status(), 400, "another browser");
    let linked = browser.submit(&form, "/oauth/link-account", &[("password", PASSWORD)]).await;
    assert_eq!(linked.status(), 303);
    let tokens: Value = exchange(&app, &redirect_params(&linked)["code"]).await.json().await.unwrap();
    let me = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(me["sub"], jwt_claims(&access)["sub"], "the existing user");
    let sql = "SELECT COUNT(*) FROM audit_log WHERE action = 'identity.linked' AND details LIKE '%proved%'";
    assert_eq!(count(&app, sql).await, 1);
    let again = browser.submit(&form, "/oauth/link-account", &[("password", PASSWORD)]).await;
    assert_eq!(again.status(), 400, "single use");

    // With a second factor, the form asks for it too, and the sign-in is complete.
    let other = TestApp::spawn(backend).await;
    federated(&other, json!({ "trust_email": true })).await;
    other.update_user("upstream", "uma@corp.test", json!({ "email_verified": true })).await;
    other.set_settings("acme", json!({ "allowed_return_origins": ["https://a.test"] })).await;
    let (access, _) = other.signed_in("acme", "uma@corp.test").await;
    let (_, backup_codes) = crate::mfa::enrol(&other, &access).await;
    let browser = Browser::new(&other);
    let form = through_upstream(&other, &browser, start, "uma@corp.test").await.text().await.unwrap();
    assert!(form.contains("id=\"code\""), "{form}");
    let no_code = browser.submit(&form, "/oauth/link-account", &[("password", PASSWORD)]).await;
    assert_eq!(no_code.status(), 400);
    let fields = [("password", PASSWORD), ("code", backup_codes[0].as_str())];
    let linked = browser.submit(&form, "/oauth/link-account", &fields).await;
    assert_eq!(linked.status(), 303);
    let answer: Value = exchange(&other, &redirect_params(&linked)["code"]).await.json().await.unwrap();
    assert!(answer["access_token"].is_string(), "no second step: it was done on the form: {answer}");
    assert_eq!(count(&other, "SELECT COUNT(*) FROM sessions WHERE amr = 'pwd otp mfa'").await, 1);
}

/// A provider sign-in is one factor: a user with MFA still passes theirs, and the session says
/// both; unless the administrator trusts the provider's own amr and it did a second factor.
async fn a_user_with_mfa_passes_the_second_factor_after_the_provider(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let provider = federated(&app, json!({})).await;
    app.set_settings("acme", json!({ "allowed_return_origins": ["https://a.test"] })).await;
    let start = "/auth/corp?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F";
    let first = through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await;
    let tokens: Value = exchange(&app, &redirect_params(&first)["code"]).await.json().await.unwrap();
    let (_, backup_codes) = crate::mfa::enrol(&app, tokens["access_token"].as_str().unwrap()).await;

    let back = through_upstream(&app, &Browser::new(&app), start, "uma@corp.test").await;
    let answer: Value = exchange(&app, &redirect_params(&back)["code"]).await.json().await.unwrap();
    assert_eq!(answer["mfa_required"], true, "{answer}");
    let challenge = json!({ "mfa_token": answer["mfa_token"], "backup_code": backup_codes[0] });
    let challenge = app.tenant(Method::POST, "/auth/mfa/challenge", "acme").json(&challenge).send().await.unwrap();
    assert_eq!(challenge.status(), 200);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sessions WHERE amr = 'fed otp mfa'").await, 1);

    // The hosted sign-in shows the second-factor page after the provider.
    let client = create_client(&app, "acme", json!({})).await;
    let (params, _) = authorization_params(&client, "openid");
    let browser = Browser::new(&app);
    let page = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
    let button = page.split("class=\"provider\" href=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    let button = crate::oauth_support::decode_entities(button);
    let mfa_page = through_upstream(&app, &browser, &button, "uma@corp.test").await;
    assert_eq!(mfa_page.status(), 200);
    let mfa_page = mfa_page.text().await.unwrap();
    assert!(mfa_page.contains("action=\"/oauth/mfa\""), "{mfa_page}");
    let done = browser.submit(&mfa_page, "/oauth/mfa", &[("code", backup_codes[1].as_str())]).await;
    assert_eq!(done.status(), 303);
    assert!(location(&done).starts_with(REDIRECT_URI));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sessions WHERE amr = 'fed otp mfa'").await, 2);

    // The upstream's own second factor, trusted: uma signs in upstream with hers.
    let upstream_tokens: Value = app.login("upstream", "uma@corp.test", PASSWORD).await.json().await.unwrap();
    let upstream_access = upstream_tokens["access_token"].as_str().unwrap();
    let setup = app.tenant(Method::POST, "/auth/mfa/setup", "upstream").bearer_auth(upstream_access);
    let setup: Value = setup.json(&json!({})).send().await.unwrap().json().await.unwrap();
    let mut authenticator = crate::mfa::Authenticator::new(setup["secret"].as_str().unwrap());
    let confirm = json!({ "totp_code": authenticator.next_code().await });
    let confirm = app.tenant(Method::POST, "/auth/mfa/confirm", "upstream").bearer_auth(upstream_access).json(&confirm);
    assert_eq!(confirm.send().await.unwrap().status(), 200);
    let id = provider["id"].as_str().unwrap();
    let trust = app.admin(Method::PUT, &format!("/identity-providers/{id}")).header("x-ovlt-tenant-slug", "acme");
    assert_eq!(trust.json(&json!({ "trust_amr": true })).send().await.unwrap().status(), 200);
    let browser = Browser::new(&app);
    let started = browser.client.get(app.url(start)).send().await.unwrap();
    let sign_in = browser.client.get(location(&started)).send().await.unwrap().text().await.unwrap();
    let code_page = browser.sign_in(&sign_in, "uma@corp.test").await.text().await.unwrap();
    let upstream_done = browser.submit(&code_page, "/oauth/mfa", &[("code", &authenticator.next_code().await)]).await;
    let back = browser.client.get(location(&upstream_done)).send().await.unwrap();
    let answer: Value = exchange(&app, &redirect_params(&back)["code"]).await.json().await.unwrap();
    assert!(answer["access_token"].is_string(), "the upstream's second factor counts: {answer}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sessions WHERE amr = 'fed mfa'").await, 1);
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

backend_tests!(
    an_applications_link_signs_in_through_the_provider_and_its_backend_trades_the_code,
    the_hosted_sign_in_page_offers_the_provider_and_the_authorization_carries_on,
    an_existing_users_address_links_only_when_verified_and_the_provider_says_auto,
    a_tenant_closed_to_registration_creates_no_user_from_a_provider,
    the_callback_refuses_replays_other_browsers_and_forged_states,
    the_start_refuses_unknown_providers_and_unregistered_return_urls,
    a_rotated_upstream_key_is_fetched_again,
    identities_are_listed_and_unlinked_but_never_the_last_way_in,
    expired_flows_and_codes_are_refused_and_purged,
    under_prompt_the_account_is_proved_before_it_is_linked,
    an_applications_state_comes_back_and_its_pkce_binds_the_code,
    links_without_a_vouched_address_or_with_a_changed_issuer_are_dropped,
    a_user_with_mfa_passes_the_second_factor_after_the_provider
);
