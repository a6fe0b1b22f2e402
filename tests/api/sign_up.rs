//! Hosted self-registration: linked from the sign-in page when the tenant allows it, the API's
//! rules on the form, the authorization carrying on for the new user — or, when the tenant
//! requires a verified email, the emailed code first and then a sign-in.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, backend_tests};
use crate::oauth_support::{
    Browser, REDIRECT_URI, as_refs, authorization_params, create_client, link_with_id, location,
};

/// The sign-up form of an authorization request, reached from its sign-in page.
async fn sign_up_form(app: &TestApp, browser: &Browser, client: &Value) -> String {
    let (params, _) = authorization_params(client, "openid");
    let sign_in = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
    let link = link_with_id(&sign_in, "create-an-account");
    assert!(link.starts_with("/oauth/sign-up?") && link.contains("client_id="), "{link}");
    browser.client.get(app.url(&link)).send().await.unwrap().text().await.unwrap()
}

async fn the_hosted_sign_up_creates_an_account_and_the_authorization_carries_on(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let client = create_client(&app, "acme", json!({})).await;
    let browser = Browser::new(&app);
    let form = sign_up_form(&app, &browser, &client).await;

    let weak = browser.submit(&form, "/oauth/sign-up", &[("email", "new@acme.test"), ("password", "short")]).await;
    assert_eq!(weak.status(), 400);
    assert!(weak.text().await.unwrap().contains("The password must be at least"), "the policy's reason");
    let fields = [("email", "new@acme.test"), ("password", PASSWORD), ("name", "New Person")];
    let created = browser.submit(&form, "/oauth/sign-up", &fields).await;

    assert_eq!(created.status(), 303, "signed in at once: the authorization carries on");
    assert!(location(&created).starts_with(REDIRECT_URI) && location(&created).contains("code="));
    let again = browser.submit(&form, "/oauth/sign-up", &fields).await;
    assert_eq!(again.status(), 409);
    assert!(again.text().await.unwrap().contains("already uses this address"));
    assert_eq!(app.login("acme", "new@acme.test", PASSWORD).await.status(), 200, "the API knows the account");
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'user.registered'")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    assert_eq!(audited, 1);

    // A tenant closed to self-registration neither links nor serves the form.
    app.set_settings("acme", json!({ "self_registration": false })).await;
    let (params, _) = authorization_params(&client, "openid");
    let fresh = Browser::new(&app);
    let sign_in = fresh.authorize(&as_refs(&params)).await.text().await.unwrap();
    assert!(!sign_in.contains("create-an-account"));
    let closed = fresh.submit(&form, "/oauth/sign-up", &[("email", "other@acme.test"), ("password", PASSWORD)]).await;
    assert_eq!(closed.status(), 403);
}

async fn with_a_verified_email_required_the_hosted_sign_up_asks_for_the_emailed_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.set_settings("acme", json!({ "require_verified_email": true })).await;
    let client = create_client(&app, "acme", json!({})).await;
    let browser = Browser::new(&app);
    let form = sign_up_form(&app, &browser, &client).await;

    let asked = browser.submit(&form, "/oauth/sign-up", &[("email", "new@acme.test"), ("password", PASSWORD)]).await;
    assert_eq!(asked.status(), 200);
    let asked = asked.text().await.unwrap();
    assert!(asked.contains("id=\"code-sent\""), "{asked}");
    let wrong = browser.submit(&asked, "/oauth/sign-up/verify", &[("code", "000000")]).await;
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.unwrap().contains("wrong or has expired"));
    // Someone who leaves at this step and signs in later is asked for a new code, not stuck.
    let (params, _) = authorization_params(&client, "openid");
    let sign_in = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
    let later = browser.submit(&sign_in, "/oauth/sign-in", &[("email", "new@acme.test"), ("password", PASSWORD)]).await;
    assert_eq!(later.status(), 403);
    let asked = later.text().await.unwrap();
    assert!(asked.contains("id=\"code-sent\"") && asked.contains("sent you a new code"), "{asked}");
    let id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'new@acme.test'")
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();
    let issued: Value = app
        .admin(Method::GET, &format!("/users/{id}/verification-code"))
        .header("x-ovlt-tenant-slug", "acme")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verified = browser.submit(&asked, "/oauth/sign-up/verify", &[("code", issued["code"].as_str().unwrap())]).await;

    assert_eq!(verified.status(), 200);
    let sign_in = verified.text().await.unwrap();
    assert!(sign_in.contains("id=\"notice\"") && sign_in.contains("is verified"), "{sign_in}");
    assert!(sign_in.contains("value=\"new@acme.test\""), "the address is filled in");
    let signed_in =
        browser.submit(&sign_in, "/oauth/sign-in", &[("email", "new@acme.test"), ("password", PASSWORD)]).await;
    assert_eq!(signed_in.status(), 303);
    assert!(location(&signed_in).starts_with(REDIRECT_URI) && location(&signed_in).contains("code="));
}

backend_tests!(
    the_hosted_sign_up_creates_an_account_and_the_authorization_carries_on,
    with_a_verified_email_required_the_hosted_sign_up_asks_for_the_emailed_code
);
