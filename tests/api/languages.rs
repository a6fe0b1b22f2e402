//! The hosted pages speak English and German: the language the client asks for with OIDC's
//! `ui_locales`, else the browser's `Accept-Language`, else English — kept through every step of
//! a sign-in, and on the recovery pages reached from it.

use serde_json::json;

use crate::helpers::{Backend, TestApp, backend_tests};
use crate::oauth_support::{Browser, as_refs, authorization_params, create_client, link_with_id};

fn alert(page: &str) -> &str {
    page.split("role=\"alert\">").nth(1).and_then(|rest| rest.split('<').next()).unwrap_or_default()
}

async fn the_pages_speak_the_language_of_ui_locales_then_of_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "ada@acme.test").await;
    let client = create_client(&app, "acme", json!({})).await;
    let (mut params, _) = authorization_params(&client, "openid");

    let english = Browser::new(&app).authorize(&as_refs(&params)).await.text().await.unwrap();
    assert!(english.contains("<html lang=\"en\">") && english.contains(">Sign in</button>"), "the default");

    let german_browser = Browser::new(&app);
    let by_header = german_browser
        .client
        .get(app.url("/oauth/authorize"))
        .query(&as_refs(&params))
        .header("accept-language", "fr-CH, de-AT;q=0.8, en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(by_header.contains("<html lang=\"de\">") && by_header.contains(">Anmelden</button>"), "{by_header}");

    // The client's choice wins over the browser's, and rides along with the request.
    params.push(("ui_locales".into(), "de en".into()));
    let browser = Browser::new(&app);
    let sign_in = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
    assert!(sign_in.contains("Passwort vergessen?"), "{sign_in}");
    let wrong = browser.submit(&sign_in, "/oauth/sign-in", &[("email", "ada@acme.test"), ("password", "Nope-nope-1")]);
    let wrong = wrong.await.text().await.unwrap();
    assert_eq!(alert(&wrong), "E-Mail-Adresse oder Passwort ist falsch.");
    params.retain(|(name, _)| name != "ui_locales");
    params.push(("ui_locales".into(), "en".into()));
    let english = german_browser
        .client
        .get(app.url("/oauth/authorize"))
        .query(&as_refs(&params))
        .header("accept-language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(english.contains(">Sign in</button>"), "ui_locales=en over Accept-Language: de");

    // "Forgot your password?" keeps the sign-in's language, with no header to go by.
    let forgot = browser.client.get(app.url(&link_with_id(&sign_in, "forgot-password"))).send().await.unwrap();
    let forgot = forgot.text().await.unwrap();
    assert!(forgot.contains("Passwort zurücksetzen") && forgot.contains("Zurück zur Anmeldung"), "{forgot}");

    let discovery: serde_json::Value =
        app.client.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(discovery["ui_locales_supported"], json!(["en", "de"]));
}

async fn a_refused_password_is_explained_in_the_pages_language(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.set_settings("acme", json!({ "self_registration": true })).await;
    let client = create_client(&app, "acme", json!({})).await;
    let (mut params, _) = authorization_params(&client, "openid");
    params.push(("ui_locales".into(), "de".into()));
    let browser = Browser::new(&app);
    let sign_in = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
    let sign_up = browser.client.get(app.url(&link_with_id(&sign_in, "create-an-account"))).send().await.unwrap();
    let sign_up = sign_up.text().await.unwrap();
    assert!(sign_up.contains("Name (freiwillig)"), "{sign_up}");

    let weak = browser.submit(&sign_up, "/oauth/sign-up", &[("email", "new@acme.test"), ("password", "kurz")]).await;
    assert_eq!(weak.status(), 400);
    assert_eq!(alert(&weak.text().await.unwrap()), "Das Passwort muss mindestens 8 Zeichen lang sein.");
    let bad_email = browser.submit(&sign_up, "/oauth/sign-up", &[("email", "new"), ("password", "kurz")]).await;
    assert_eq!(alert(&bad_email.text().await.unwrap()), "Geben Sie eine gültige E-Mail-Adresse ein.");
}

backend_tests!(
    the_pages_speak_the_language_of_ui_locales_then_of_the_browser,
    a_refused_password_is_explained_in_the_pages_language
);
