//! The hosted pages in a real headless Chromium, driven through chromedriver (WebDriver): open
//! the authorize URL, fill the sign-in form, grant consent, land on a loopback redirect.

use std::process::Stdio;

use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::{Backend, PASSWORD, TestApp, backend_tests};
use crate::oauth_support::{create_client, pkce};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process with its own port, killed on drop.
pub(crate) struct Driver {
    process: tokio::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
    }
}

/// Starts chromedriver, or None (with a loud note) where Chromium is not installed; CI
/// installs it, so there a missing browser is a failure.
pub(crate) async fn start_driver() -> Option<Driver> {
    if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
        assert!(std::env::var_os("CI").is_none(), "Chromium and chromedriver are required under CI");
        eprintln!("SKIPPED: {CHROMIUM} or {CHROMEDRIVER} missing (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let process = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    // Wait for chromedriver's readiness endpoint (bounded: 10 s).
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(response) = http.get(format!("{url}/status")).send().await
            && response.json::<Value>().await.is_ok_and(|s| s["value"]["ready"] == true)
        {
            return Some(Driver { process, url });
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not become ready");
}

pub(crate) async fn chromium(driver: &Driver, profile: &std::path::Path) -> fantoccini::Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// A loopback "client app" that hands every callback's query to the test.
pub(crate) async fn callback_server() -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    #[allow(clippy::disallowed_methods)] // a stand-in of the test's own, not ovlt's API
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::get(move |axum::extract::RawQuery(query): axum::extract::RawQuery| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(query.unwrap_or_default());
                axum::response::Html("<h1 id=\"done\">Signed in</h1>")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (uri, rx)
}

/// An authorization request of `client` for `openid email` with PKCE, back to `redirect_uri`:
/// the URL and the code verifier.
fn authorize_url(app: &TestApp, client: &Value, redirect_uri: &str, state: &str) -> (url::Url, String) {
    let (verifier, challenge) = pkce();
    let mut authorize = url::Url::parse(&app.url("/oauth/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client["client_id"].as_str().unwrap())
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid email")
        .append_pair("state", state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    (authorize, verifier)
}

async fn chromium_signs_in_consents_and_lands_on_the_client(backend: Backend) {
    let Some(driver) = start_driver().await else { return };
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme Corp").await;
    app.register("acme", "ann@acme.test").await;
    let (redirect_uri, mut callbacks) = callback_server().await;
    let client = create_client(
        &app,
        "acme",
        json!({ "first_party": false, "name": "Partner", "redirect_uris": [redirect_uri] }),
    )
    .await;
    let (authorize, verifier) = authorize_url(&app, &client, &redirect_uri, "xyz");
    let profile = tempfile::tempdir().unwrap();
    let browser = chromium(&driver, profile.path()).await;

    browser.goto(authorize.as_str()).await.unwrap();
    let heading = browser.find(Locator::Css("p.tenant")).await.unwrap().text().await.unwrap();
    assert!(heading.contains("Acme Corp") && heading.contains("Partner"), "{heading}");
    browser.find(Locator::Id("email")).await.unwrap().send_keys("ann@acme.test").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find(Locator::Id("sign-in")).await.unwrap().click().await.unwrap();
    // Consent says where the answer goes, and offers to sign in as someone else.
    let destination = browser.wait().for_element(Locator::Id("destination")).await.unwrap().text().await.unwrap();
    assert!(destination.contains("http://127.0.0.1"), "{destination}");
    let not_you = browser.find(Locator::Id("not-you")).await.unwrap();
    let href = not_you.attr("href").await.unwrap().unwrap_or_default();
    assert!(href.starts_with("/oauth/authorize?") && href.contains("prompt=login"), "{href}");
    not_you.click().await.unwrap();
    browser.wait().for_element(Locator::Id("email")).await.unwrap().send_keys("ann@acme.test").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find(Locator::Id("sign-in")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("allow")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("done")).await.unwrap();

    let query = callbacks.recv().await.unwrap();
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    assert_eq!(params["state"], "xyz");
    assert!(browser.current_url().await.unwrap().as_str().starts_with(&redirect_uri));
    let tokens = app
        .request(reqwest::Method::POST, "/oauth/token")
        .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200);

    // Signed in now: the next authorization goes straight back, without a page.
    browser.goto(authorize.as_str()).await.unwrap();
    browser.wait().for_element(Locator::Id("done")).await.unwrap();
    assert!(callbacks.recv().await.unwrap().contains("code="));
    browser.close().await.unwrap();
}

/// A newcomer creates an account from the sign-in page, without JavaScript, and lands on the
/// client after consent — every page in the language the client asked for.
async fn chromium_signs_up_from_the_sign_in_page_and_lands_on_the_client(backend: Backend) {
    let Some(driver) = start_driver().await else { return };
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme Corp").await;
    app.set_settings("acme", json!({ "logo_url": "https://cdn.example.com/logo.svg", "primary_color": "#0a7d3b" }))
        .await;
    let (redirect_uri, mut callbacks) = callback_server().await;
    let client = create_client(
        &app,
        "acme",
        json!({ "first_party": false, "name": "Partner", "redirect_uris": [redirect_uri] }),
    )
    .await;
    let (mut authorize, _) = authorize_url(&app, &client, &redirect_uri, "new");
    authorize.query_pairs_mut().append_pair("ui_locales", "de");
    let profile = tempfile::tempdir().unwrap();
    let browser = chromium(&driver, profile.path()).await;

    browser.goto(authorize.as_str()).await.unwrap();
    // The tenant's look, as the browser renders it.
    let button = browser.find(Locator::Id("sign-in")).await.unwrap();
    assert_eq!(button.css_value("background-color").await.unwrap(), "rgba(10, 125, 59, 1)");
    assert!(browser.find(Locator::Id("logo")).await.is_ok(), "the logo is on the page");
    browser.find(Locator::Id("create-an-account")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("name")).await.unwrap().send_keys("Nina New").await.unwrap();
    browser.find(Locator::Id("email")).await.unwrap().send_keys("nina@acme.test").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    assert_eq!(browser.find(Locator::Id("create-account")).await.unwrap().text().await.unwrap(), "Konto erstellen");
    browser.find(Locator::Id("create-account")).await.unwrap().click().await.unwrap();
    let allow = browser.wait().for_element(Locator::Id("allow")).await.unwrap();
    assert_eq!(allow.text().await.unwrap(), "Erlauben");
    allow.click().await.unwrap();
    browser.wait().for_element(Locator::Id("done")).await.unwrap();

    let query = callbacks.recv().await.unwrap();
    assert!(query.contains("code=") && query.contains("state=new"), "{query}");
    assert_eq!(app.login("acme", "nina@acme.test", PASSWORD).await.status(), 200);
    browser.close().await.unwrap();
}

/// From a relying party's authorization, through the tenant's identity provider (another tenant of
/// the same ovlt, on its own sign-in page), back to the relying party with a code that the
/// `openidconnect` crate redeems; then an application's own link, traded at `/auth/exchange`.
async fn chromium_signs_in_through_an_identity_provider(backend: Backend) {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
        TokenResponse,
    };

    let Some(driver) = start_driver().await else { return };
    let app = TestApp::spawn(backend).await;
    crate::federation::federated(&app, serde_json::json!({})).await;
    let (redirect_uri, mut callbacks) = callback_server().await;
    let registered = create_client(&app, "acme", json!({ "name": "Partner", "redirect_uris": [redirect_uri] })).await;
    let http = crate::oidc_rp::http;
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.state.config.issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered["client_id"].as_str().unwrap().to_string()),
        Some(ClientSecret::new(registered["client_secret"].as_str().unwrap().to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let profile = tempfile::tempdir().unwrap();
    let browser = chromium(&driver, profile.path()).await;

    browser.goto(url.as_str()).await.unwrap();
    browser.find(Locator::Css("a.provider")).await.unwrap().click().await.unwrap();
    // The upstream's own page: its tenant's name, its form.
    let heading = browser.wait().for_element(Locator::Css("p.tenant")).await.unwrap().text().await.unwrap();
    assert!(heading.contains("Upstream Corp"), "{heading}");
    browser.find(Locator::Id("email")).await.unwrap().send_keys("uma@corp.test").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find(Locator::Id("sign-in")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Id("done")).await.unwrap();
    let query = callbacks.recv().await.unwrap();
    let answer: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    assert_eq!(&answer["state"], csrf.secret());
    let tokens = client
        .exchange_code(AuthorizationCode::new(answer["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the relying party redeems the code");
    let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &nonce).expect("a valid ID token");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("uma@corp.test"));

    // An application's own link: the browser is signed in upstream, so straight back with a code.
    let mut link = url::Url::parse(&app.url("/auth/corp")).unwrap();
    link.query_pairs_mut().append_pair("tenant", "acme").append_pair("redirect_to", &redirect_uri);
    browser.goto(link.as_str()).await.unwrap();
    browser.wait().for_element(Locator::Id("done")).await.unwrap();
    let query = callbacks.recv().await.unwrap();
    assert!(query.starts_with("code=") && !query.contains("token"), "{query}");
    let code = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "code").unwrap().1.to_string();
    let traded = crate::federation::exchange(&app, &code).await;
    assert_eq!(traded.status(), 200);
    browser.close().await.unwrap();
}

backend_tests!(
    chromium_signs_in_through_an_identity_provider,
    chromium_signs_in_consents_and_lands_on_the_client,
    chromium_signs_up_from_the_sign_in_page_and_lands_on_the_client
);
