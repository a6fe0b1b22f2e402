//! A tenant's look on its hosted pages: display name, logo and colour from its settings, checked
//! when set, and a Content-Security-Policy that lets in images from the logo's origin only.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_error, backend_tests};
use crate::oauth_support::{Browser, as_refs, authorization_params, create_client};

async fn the_hosted_pages_wear_the_tenants_name_logo_and_colour(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let client = create_client(&app, "acme", json!({})).await;
    let (params, _) = authorization_params(&client, "openid");

    let plain = Browser::new(&app).authorize(&as_refs(&params)).await;
    let plain_policy = plain.headers()["content-security-policy"].to_str().unwrap().to_string();
    let plain = plain.text().await.unwrap();
    assert!(!plain.contains("id=\"logo\"") && plain_policy.contains("img-src data:;"), "{plain_policy}");

    for refused in [
        json!({ "logo_url": "http://cdn.example.com/logo.png" }),
        json!({ "logo_url": "https://cdn.example.com/a\"onerror=\"alert(1)" }),
        json!({ "primary_color": "red" }),
        json!({ "primary_color": "#123;}body{display:none" }),
    ] {
        let answer = app.admin(Method::PUT, "/settings").header("x-ovlt-tenant-slug", "acme").json(&refused).send();
        assert_error(answer.await.unwrap(), 400, "invalid_payload").await;
    }
    app.set_settings(
        "acme",
        json!({ "display_name": "Acme Login", "logo_url": "https://cdn.example.com/acme/logo.svg", "primary_color": "#0a7d3b" }),
    )
    .await;

    let branded = Browser::new(&app).authorize(&as_refs(&params)).await;
    let policy = branded.headers()["content-security-policy"].to_str().unwrap().to_string();
    let page = branded.text().await.unwrap();
    assert!(page.contains("Acme Login"), "the display name");
    assert!(page.contains(r#"<img class="logo" id="logo" src="https://cdn.example.com/acme/logo.svg""#), "{page}");
    assert!(page.contains("background: #0a7d3b"), "the colour");
    assert!(policy.contains("img-src data: https://cdn.example.com;"), "{policy}");
    assert!(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    let forgot = Browser::new(&app).client.get(app.url("/oauth/forgot-password?tenant=acme")).send().await.unwrap();
    assert!(forgot.text().await.unwrap().contains("Acme Login"), "every page of the tenant");
}

backend_tests!(the_hosted_pages_wear_the_tenants_name_logo_and_colour);
