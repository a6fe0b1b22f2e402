//! Google and GitHub, as a small local stand-in speaking their wire formats (the only stand-ins
//! the tests allow: the real services are on the internet). Google is OpenID Connect: discovery,
//! an authorization endpoint that answers at once as for a signed-in person, a token endpoint
//! that checks the client secret and PKCE, ID tokens signed by a key ring of a test server, its
//! JWKS and userinfo. GitHub is OAuth 2.0 plus its REST API (`/user`, `/user/emails`), with its
//! habit of answering token errors with 200. A script decides how the upstream misbehaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp, assert_error, backend_tests};
use crate::oauth_support::{Browser, location, redirect_params};

const CLIENT_ID: &str = "standin-client";
const CLIENT_SECRET: &str = "standin-secret";

/// How the upstream behaves for the next sign-ins.
#[derive(Clone, Default)]
struct Script {
    /// Answer the authorization with `error=access_denied`.
    deny: bool,
    /// The token endpoint's status instead of 200.
    token_status: Option<u16>,
    /// Put another nonce, audience or authorized party into the ID token.
    wrong_nonce: bool,
    wrong_aud: bool,
    wrong_azp: bool,
    /// Sign the ID token with a key the JWKS does not have.
    foreign_key: bool,
    /// Leave the address out of the ID token (userinfo has it).
    email_in_userinfo_only: bool,
    email_verified: bool,
    /// GitHub: refuse the code with 200 and an `error` member.
    github_error: bool,
    /// GitHub: whether the primary address is verified.
    github_primary_verified: bool,
}

struct Pending {
    nonce: Option<String>,
    challenge: String,
    redirect_uri: String,
}

struct StandIn {
    base: String,
    script: Script,
    codes: HashMap<String, Pending>,
    /// The key ring that signs ID tokens (its JWKS is served), and one that does not.
    signer: ovlt::app::AppState,
    stranger: ovlt::app::AppState,
}

type Shared = Arc<Mutex<StandIn>>;

async fn discovery(State(shared): State<Shared>) -> Response {
    let base = shared.lock().unwrap().base.clone();
    axum::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/v1/userinfo"),
        "jwks_uri": format!("{base}/oauth2/v3/certs"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn certs(State(shared): State<Shared>) -> Response {
    let jwks = shared.lock().unwrap().signer.keys.jwks();
    ([("content-type", "application/json")], jwks).into_response()
}

/// Both authorization endpoints: a person already signed in upstream, consenting at once.
async fn authorize(State(shared): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Response {
    let mut standin = shared.lock().unwrap();
    let redirect_uri = query["redirect_uri"].clone();
    let state = query["state"].clone();
    let mut back = url::Url::parse(&redirect_uri).unwrap();
    if standin.script.deny {
        back.query_pairs_mut().append_pair("error", "access_denied").append_pair("state", &state);
        return Redirect::to(back.as_str()).into_response();
    }
    assert_eq!(query["code_challenge_method"], "S256", "PKCE is sent");
    let code = format!("code-{}", standin.codes.len());
    let pending = Pending {
        nonce: query.get("nonce").cloned(),
        challenge: query["code_challenge"].clone(),
        redirect_uri: redirect_uri.clone(),
    };
    standin.codes.insert(code.clone(), pending);
    back.query_pairs_mut().append_pair("code", &code).append_pair("state", &state);
    Redirect::to(back.as_str()).into_response()
}

/// Checks the client's secret (Basic or in the form) and the PKCE verifier.
fn redeem(standin: &mut StandIn, headers: &HeaderMap, form: &HashMap<String, String>) -> Option<Pending> {
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    let basic = basic.map(|b| String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap()).unwrap());
    let secret_ok = basic.as_deref() == Some(&format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        || (form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET));
    let pending = standin.codes.remove(form.get("code")?)?;
    let verifier = form.get("code_verifier")?;
    let pkce_ok = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == pending.challenge;
    (secret_ok && pkce_ok && form.get("redirect_uri") == Some(&pending.redirect_uri)).then_some(pending)
}

async fn google_token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut standin = shared.lock().unwrap();
    if let Some(status) = standin.script.token_status {
        return (StatusCode::from_u16(status).unwrap(), "upstream trouble").into_response();
    }
    let Some(pending) = redeem(&mut standin, &headers, &form) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "invalid_grant" }))).into_response();
    };
    let script = standin.script.clone();
    let now = ovlt::types::Timestamp::now().unix_seconds();
    let mut claims = json!({
        "iss": standin.base,
        "sub": "google-sub-1",
        "aud": if script.wrong_aud { "another-client" } else { CLIENT_ID },
        "azp": if script.wrong_azp { "another-client" } else { CLIENT_ID },
        "iat": now,
        "exp": now + 300,
        "nonce": if script.wrong_nonce { Some("another-nonce".to_string()) } else { pending.nonce },
        "name": "Gina Google",
    });
    if !script.email_in_userinfo_only {
        claims["email"] = json!("gina@gmail.test");
        claims["email_verified"] = json!(script.email_verified);
    }
    let signer = if script.foreign_key { &standin.stranger } else { &standin.signer };
    let id_token = signer.keys.sign("JWT", &claims).unwrap();
    axum::Json(
        json!({ "access_token": "ya29.token", "token_type": "Bearer", "expires_in": 3599, "id_token": id_token }),
    )
    .into_response()
}

async fn userinfo(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer ya29.token") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let verified = shared.lock().unwrap().script.email_verified;
    axum::Json(json!({ "sub": "google-sub-1", "email": "gina@gmail.test", "email_verified": verified })).into_response()
}

async fn github_token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut standin = shared.lock().unwrap();
    if standin.script.github_error || redeem(&mut standin, &headers, &form).is_none() {
        // GitHub's way: 200, with the error in the body.
        return axum::Json(json!({ "error": "bad_verification_code", "error_description": "The code is wrong." }))
            .into_response();
    }
    axum::Json(json!({ "access_token": "gho_token", "token_type": "bearer", "scope": "read:user,user:email" }))
        .into_response()
}

fn github_authorized(headers: &HeaderMap) -> bool {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer gho_token");
    bearer && headers.contains_key("user-agent")
}

async fn github_user(headers: HeaderMap) -> Response {
    if !github_authorized(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    axum::Json(json!({ "id": 583231, "login": "octocat", "name": "The Octocat", "email": "public@octo.test" }))
        .into_response()
}

async fn github_emails(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if !github_authorized(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let verified = shared.lock().unwrap().script.github_primary_verified;
    axum::Json(json!([
        { "email": "old@octo.test", "primary": false, "verified": true, "visibility": null },
        { "email": "octocat@octo.test", "primary": true, "verified": verified, "visibility": "private" },
    ]))
    .into_response()
}

/// Starts the stand-in; `app`'s keys sign its ID tokens.
async fn standin(app: &TestApp) -> Shared {
    let stranger = TestApp::spawn(Backend::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shared = Arc::new(Mutex::new(StandIn {
        base,
        script: Script { email_verified: true, github_primary_verified: true, ..Script::default() },
        codes: HashMap::new(),
        signer: app.state.clone(),
        stranger: stranger.state.clone(),
    }));
    #[allow(clippy::disallowed_methods)] // a stand-in of the test's own, not ovlt's API
    let router = axum::Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(discovery))
        .route("/oauth2/v3/certs", axum::routing::get(certs))
        .route("/o/oauth2/v2/auth", axum::routing::get(authorize))
        .route("/token", axum::routing::post(google_token))
        .route("/v1/userinfo", axum::routing::get(userinfo))
        .route("/login/oauth/authorize", axum::routing::get(authorize))
        .route("/login/oauth/access_token", axum::routing::post(github_token))
        .route("/api/v3/user", axum::routing::get(github_user))
        .route("/api/v3/user/emails", axum::routing::get(github_emails))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    shared
}

/// Tenant `acme` with a provider of `kind` at the stand-in, returning to `https://a.test`.
async fn provider(app: &TestApp, shared: &Shared, kind: &str) {
    app.create_tenant("acme", "Acme").await;
    app.set_settings("acme", json!({ "allowed_return_origins": ["https://a.test"] })).await;
    let base = shared.lock().unwrap().base.clone();
    let body = json!({ "name": kind, "kind": kind, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "base_url": base,
                       "trust_email": true });
    let created = app.admin(Method::POST, "/identity-providers").header("x-ovlt-tenant-slug", "acme").json(&body);
    assert_eq!(created.send().await.unwrap().status(), 201);
}

/// `/auth/{kind}` → the stand-in → the callback's answer.
async fn sign_in(app: &TestApp, kind: &str) -> reqwest::Response {
    let browser = Browser::new(app);
    let started = browser.client.get(app.url(&format!("/auth/{kind}?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F")));
    let started = started.send().await.unwrap();
    assert_eq!(started.status(), 302);
    let upstream = browser.client.get(location(&started)).send().await.unwrap();
    assert_eq!(upstream.status(), 303, "the stand-in answers at once");
    browser.client.get(location(&upstream)).send().await.unwrap()
}

async fn user(app: &TestApp, response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 303, "signed in: {}", response.text().await.unwrap());
    let code = redirect_params(&response)["code"].clone();
    let tokens = app.tenant(Method::POST, "/auth/exchange", "acme").json(&json!({ "code": code })).send().await;
    let tokens: Value = tokens.unwrap().json().await.unwrap();
    let me = app.tenant(Method::GET, "/users/me", "acme").bearer_auth(tokens["access_token"].as_str().unwrap());
    me.send().await.unwrap().json().await.unwrap()
}

async fn refused(app: &TestApp, response: reqwest::Response, status: u16, reason: &str) {
    assert_eq!(response.status(), status);
    let sql = "SELECT COUNT(*) FROM users WHERE email LIKE '%gmail.test' OR email LIKE '%octo.test'";
    let users: i64 = sqlx::query_scalar(sql).fetch_one(app.state.store.pool()).await.unwrap();
    assert_eq!(users, 0, "nothing created");
    let sql = "SELECT COUNT(*) FROM audit_log WHERE action = 'federation.failed' AND details LIKE $1";
    let audited: i64 =
        sqlx::query_scalar(sql).bind(format!("%{reason}%")).fetch_one(app.state.store.pool()).await.unwrap();
    assert!(audited >= 1, "audited as {reason}");
}

async fn google_signs_in_and_every_bad_answer_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shared = standin(&app).await;
    provider(&app, &shared, "google").await;
    let script = |change: fn(&mut Script)| {
        let mut standin = shared.lock().unwrap();
        standin.script = Script { email_verified: true, github_primary_verified: true, ..Script::default() };
        change(&mut standin.script);
    };

    for (change, status, reason) in [
        ((|s: &mut Script| s.deny = true) as fn(&mut Script), 400, "upstream_refused"),
        (|s| s.token_status = Some(500), 502, "upstream_failed"),
        (|s| s.wrong_nonce = true, 502, "invalid_answer"),
        (|s| s.wrong_aud = true, 502, "invalid_answer"),
        (|s| s.wrong_azp = true, 502, "invalid_answer"),
        (|s| s.foreign_key = true, 502, "invalid_answer"),
    ] {
        script(change);
        refused(&app, sign_in(&app, "google").await, status, reason).await;
    }

    // A provider that cannot be reached: an error page at once, audited, nothing else.
    let down = json!({ "name": "down", "kind": "google", "client_id": CLIENT_ID, "base_url": "http://127.0.0.1:1" });
    let created = app.admin(Method::POST, "/identity-providers").header("x-ovlt-tenant-slug", "acme").json(&down);
    assert_eq!(created.send().await.unwrap().status(), 201);
    let start = app.url("/auth/down?tenant=acme&redirect_to=https%3A%2F%2Fa.test%2F");
    let unreachable = Browser::new(&app).client.get(start).send().await.unwrap();
    refused(&app, unreachable, 502, "upstream_failed").await;

    script(|_| {});
    let gina = user(&app, sign_in(&app, "google").await).await;
    assert_eq!((gina["email"].as_str(), gina["email_verified"].as_bool()), (Some("gina@gmail.test"), Some(true)));
    assert_eq!(gina["name"], "Gina Google");
    // The address only from userinfo: the same person, found by subject.
    script(|s| s.email_in_userinfo_only = true);
    assert_eq!(user(&app, sign_in(&app, "google").await).await["id"], gina["id"]);
}

async fn github_signs_in_with_the_verified_primary_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shared = standin(&app).await;
    provider(&app, &shared, "github").await;

    shared.lock().unwrap().script.github_error = true;
    refused(&app, sign_in(&app, "github").await, 502, "upstream_failed").await;
    shared.lock().unwrap().script.github_error = false;
    shared.lock().unwrap().script.github_primary_verified = false;
    refused(&app, sign_in(&app, "github").await, 403, "no_email").await;

    shared.lock().unwrap().script.github_primary_verified = true;
    let octocat = user(&app, sign_in(&app, "github").await).await;
    assert_eq!(octocat["email"], "octocat@octo.test", "the verified primary, not the public address");
    assert_eq!((octocat["email_verified"].as_bool(), octocat["name"].as_str()), (Some(true), Some("The Octocat")));
    let subject: String =
        sqlx::query_scalar("SELECT subject FROM external_identities").fetch_one(app.state.store.pool()).await.unwrap();
    assert_eq!(subject, "583231", "GitHub's numeric id, never the login");
    let unknown_code = app.tenant(Method::POST, "/auth/exchange", "acme").json(&json!({ "code": "nope" }));
    assert_error(unknown_code.send().await.unwrap(), 400, "invalid_request").await;
}

backend_tests!(google_signs_in_and_every_bad_answer_is_refused, github_signs_in_with_the_verified_primary_address);
