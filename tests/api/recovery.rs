//! Email verification and password reset, with codes and links read out of real email.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, backend_tests};
use crate::mail_sink::MailSink;

async fn app_with_mail(backend: crate::helpers::Backend) -> (TestApp, MailSink) {
    let sink = MailSink::start();
    let url = sink.url.clone();
    let app = TestApp::spawn_with(backend, move |c| {
        c.smtp = Some(ovlt::config::SmtpConfig::Url(ovlt::config::Secret::new(url)));
    })
    .await;
    app.create_tenant("acme", "Acme").await;
    (app, sink)
}

/// The six-digit code in a verification email.
fn code_in(text: &str) -> String {
    let at = text.find("code is ").expect("a code in the mail") + "code is ".len();
    text[at..at + 6].to_string()
}

/// The reset token in a reset email's link.
fn token_in(text: &str) -> String {
    let at = text.find("token=").expect("a link in the mail") + "token=".len();
    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

async fn verify(app: &TestApp, email: &str, code: &str) -> reqwest::Response {
    app.tenant(Method::POST, "/auth/verify-otp", "acme")
        .json(&json!({ "email": email, "code": code }))
        .send()
        .await
        .unwrap()
}

async fn user_id(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.state.store.pool())
        .await
        .unwrap()
}

async fn registration_emails_a_code_that_verifies_the_address_once(backend: Backend) {
    let (app, mut sink) = app_with_mail(backend).await;

    app.register("acme", "alice@example.com").await;
    let mail = sink.next().await;
    let code = code_in(&mail.text);

    assert_eq!(mail.to, vec!["alice@example.com"]);
    let verified = verify(&app, "alice@example.com", &code).await;
    assert_eq!(verified.status(), 200);
    assert_eq!(verified.json::<Value>().await.unwrap()["email_verified"], true);
    assert_error(verify(&app, "alice@example.com", &code).await, 400, "invalid_code").await;
}

async fn five_wrong_codes_kill_the_code(backend: Backend) {
    let (app, mut sink) = app_with_mail(backend).await;
    app.register("acme", "alice@example.com").await;
    let code = code_in(&sink.next().await.text);
    let wrong = if code == "000000" { "111111" } else { "000000" };

    for _ in 0..5 {
        assert_error(verify(&app, "alice@example.com", wrong).await, 400, "invalid_code").await;
    }

    assert_error(verify(&app, "alice@example.com", &code).await, 400, "invalid_code").await;
}

async fn verify_otp_takes_the_otp_alias_and_refuses_bad_requests(backend: Backend) {
    let (app, mut sink) = app_with_mail(backend).await;
    app.register("acme", "alice@example.com").await;
    let code = code_in(&sink.next().await.text);

    let unknown = verify(&app, "nobody@example.com", &code).await;
    let missing = app
        .tenant(Method::POST, "/auth/verify-otp", "acme")
        .json(&json!({ "email": "alice@example.com" }))
        .send()
        .await
        .unwrap();
    let alias = app
        .tenant(Method::POST, "/auth/verify-otp", "acme")
        .json(&json!({ "email": "alice@example.com", "otp": code }))
        .send()
        .await
        .unwrap();

    assert_error(unknown, 400, "invalid_code").await;
    assert_error(missing, 400, "invalid_payload").await;
    assert_eq!(alias.status(), 200);
}

async fn an_expired_code_is_refused(backend: Backend) {
    let (app, mut sink) = app_with_mail(backend).await;
    app.register("acme", "alice@example.com").await;
    let code = code_in(&sink.next().await.text);
    sqlx::query("UPDATE user_codes SET expires_at = 0").execute(app.state.store.pool()).await.unwrap();

    assert_error(verify(&app, "alice@example.com", &code).await, 400, "invalid_code").await;
}

async fn the_admin_can_issue_a_fresh_verification_code_which_replaces_the_emailed_one(backend: Backend) {
    let (app, mut sink) = app_with_mail(backend).await;
    app.register("acme", "alice@example.com").await;
    let emailed = code_in(&sink.next().await.text);
    let path = format!("/users/{}/verification-code", user_id(&app, "alice@example.com").await);

    let without_key = app.tenant(Method::GET, &path, "acme").send().await.unwrap();
    let issued = app.admin(Method::GET, &path).header("x-ovlt-tenant-slug", "acme").send().await.unwrap();

    assert_error(without_key, 401, "unauthorized").await;
    assert_eq!(issued.status(), 200);
    let issued: Value = issued.json().await.unwrap();
    assert!(issued["expires_at"].is_string());
    let code = issued["code"].as_str().unwrap();
    if code != emailed {
        assert_error(verify(&app, "alice@example.com", &emailed).await, 400, "invalid_code").await;
    }
    assert_eq!(verify(&app, "alice@example.com", code).await.status(), 200);
}

async fn admin_code_endpoints_do_not_reach_into_other_tenants(backend: Backend) {
    let (app, _sink) = app_with_mail(backend).await;
    app.register("acme", "alice@example.com").await;
    app.create_tenant("other", "Other").await;
    let id = user_id(&app, "alice@example.com").await;

    for path in [format!("/users/{id}/verification-code"), format!("/users/{id}/password-reset-token")] {
        let response = app.admin(Method::GET, &path).header("x-ovlt-tenant-slug", "other").send().await.unwrap();
        assert_error(response, 404, "not_found").await;
    }
}

async fn a_forgotten_password_is_reset_through_the_emailed_link(backend: Backend) {
    let (app, mut sink) = app_with_mail(backend).await;
    let (access, refresh_token) = app.signed_in("acme", "alice@example.com").await;
    sink.next().await;

    let requested = app
        .tenant(Method::POST, "/auth/forgot-password", "acme")
        .json(&json!({ "email": "alice@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(requested.status(), 200);
    let mail = sink.next().await;
    assert!(
        mail.text.contains(&format!("{}/oauth/reset-password?tenant=acme&token=", app.config.issuer)),
        "{}",
        mail.text
    );
    let token = token_in(&mail.text);
    assert_eq!(token.len(), 43);

    let reset = app
        .tenant(Method::POST, "/auth/reset-password", "acme")
        .json(&json!({ "token": token, "password": "N3w-password!" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    assert_error(
        app.tenant(Method::GET, "/users/me", "acme").bearer_auth(&access).send().await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    let refreshed = app
        .tenant(Method::POST, "/auth/refresh", "acme")
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .unwrap();
    assert_error(refreshed, 401, "invalid_token").await;
    assert_error(app.login("acme", "alice@example.com", PASSWORD).await, 401, "invalid_credentials").await;
    assert_eq!(app.login("acme", "alice@example.com", "N3w-password!").await.status(), 200);
    let again = app
        .tenant(Method::POST, "/auth/reset-password", "acme")
        .json(&json!({ "token": token, "password": "An0ther-pass!" }))
        .send()
        .await
        .unwrap();
    assert_error(again, 400, "invalid_token").await;
}

async fn password_request_answers_204_whether_or_not_the_email_is_registered(backend: Backend) {
    let (app, mut sink) = app_with_mail(backend).await;
    app.register("acme", "alice@example.com").await;
    sink.next().await;

    let unknown = app
        .tenant(Method::POST, "/auth/password/request", "acme")
        .json(&json!({ "email": "nobody@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 204);
    sink.assert_nothing_arrives().await;
    let known = app
        .tenant(Method::POST, "/auth/password/request", "acme")
        .json(&json!({ "email": "alice@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(known.status(), 204);
    let token = token_in(&sink.next().await.text);

    let malformed = app
        .tenant(Method::POST, "/auth/password/request", "acme")
        .json(&json!({ "email": "not-an-email" }))
        .send()
        .await
        .unwrap();
    let missing = app.tenant(Method::POST, "/auth/forgot-password", "acme").json(&json!({})).send().await.unwrap();
    assert_error(malformed, 400, "invalid_payload").await;
    assert_error(missing, 400, "invalid_payload").await;
    let reset = app
        .tenant(Method::POST, "/auth/password/reset", "acme")
        .json(&json!({ "token": token, "password": "N3w-password!" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
}

async fn reset_links_only_point_at_trusted_origins(backend: Backend) {
    let (app, mut sink) = app_with_mail(backend).await;
    app.register("acme", "alice@example.com").await;
    sink.next().await;
    app.set_settings("acme", json!({ "reset_url": "https://app.example.com/reset" })).await;
    let request = |reset_url: &str| {
        app.tenant(Method::POST, "/auth/password/request", "acme")
            .json(&json!({ "email": "alice@example.com", "reset_url": reset_url }))
            .send()
    };

    let foreign = request("https://evil.example.net/steal").await.unwrap();
    let error = assert_error(foreign, 400, "invalid_payload").await;
    assert!(error["fields"]["reset_url"].is_string());
    sink.assert_nothing_arrives().await;

    assert_eq!(request("https://app.example.com/other-page?x=1").await.unwrap().status(), 204);
    assert!(sink.next().await.text.contains("https://app.example.com/other-page?x=1&token="));
}

async fn reset_refuses_weak_passwords_and_bad_tokens(backend: Backend) {
    let (app, _sink) = app_with_mail(backend).await;
    app.register("acme", "alice@example.com").await;
    let path = format!("/users/{}/password-reset-token", user_id(&app, "alice@example.com").await);
    let issued: Value =
        app.admin(Method::GET, &path).header("x-ovlt-tenant-slug", "acme").send().await.unwrap().json().await.unwrap();
    let token = issued["token"].as_str().unwrap();
    let reset = |token: &str, password: &str| {
        app.tenant(Method::POST, "/auth/password/reset", "acme")
            .json(&json!({ "token": token, "password": password }))
            .send()
    };

    let weak = assert_error(reset(token, "weak").await.unwrap(), 400, "invalid_payload").await;
    assert!(weak["fields"]["password"].is_string());
    assert_error(reset("garbage", "N3w-password!").await.unwrap(), 400, "invalid_token").await;
    sqlx::query("UPDATE user_codes SET expires_at = 0 WHERE purpose = 'password_reset'")
        .execute(app.state.store.pool())
        .await
        .unwrap();
    assert_error(reset(token, "N3w-password!").await.unwrap(), 400, "invalid_token").await;
}

async fn parallel_wrong_codes_cannot_exceed_five_tries(backend: Backend) {
    let (app, mut sink) = app_with_mail(backend).await;
    app.register("acme", "alice@example.com").await;
    let code = code_in(&sink.next().await.text);
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let guesses: Vec<_> = (0..10)
        .map(|_| {
            let request = app
                .tenant(Method::POST, "/auth/verify-otp", "acme")
                .json(&json!({ "email": "alice@example.com", "code": wrong }));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for guess in guesses {
        assert_eq!(guess.await.unwrap(), 400);
    }

    // Every compared guess spent a try first, so at most five were compared.
    let tries: i64 =
        sqlx::query_scalar("SELECT attempts FROM user_codes").fetch_one(app.state.store.pool()).await.unwrap();
    assert_eq!(tries, 5);
    assert_error(verify(&app, "alice@example.com", &code).await, 400, "invalid_code").await;
}

async fn a_reset_token_of_one_tenant_is_refused_in_another(backend: Backend) {
    let (app, _sink) = app_with_mail(backend).await;
    app.create_tenant("other", "Other").await;
    app.register("acme", "alice@example.com").await;
    let path = format!("/users/{}/password-reset-token", user_id(&app, "alice@example.com").await);
    let issued: Value =
        app.admin(Method::GET, &path).header("x-ovlt-tenant-slug", "acme").send().await.unwrap().json().await.unwrap();

    let foreign = app
        .tenant(Method::POST, "/auth/password/reset", "other")
        .json(&json!({ "token": issued["token"], "password": "N3w-password!" }))
        .send()
        .await
        .unwrap();

    assert_error(foreign, 400, "invalid_token").await;
    assert_eq!(app.login("acme", "alice@example.com", PASSWORD).await.status(), 200, "unchanged");
}

backend_tests!(
    registration_emails_a_code_that_verifies_the_address_once,
    five_wrong_codes_kill_the_code,
    verify_otp_takes_the_otp_alias_and_refuses_bad_requests,
    an_expired_code_is_refused,
    the_admin_can_issue_a_fresh_verification_code_which_replaces_the_emailed_one,
    admin_code_endpoints_do_not_reach_into_other_tenants,
    a_forgotten_password_is_reset_through_the_emailed_link,
    password_request_answers_204_whether_or_not_the_email_is_registered,
    reset_links_only_point_at_trusted_origins,
    reset_refuses_weak_passwords_and_bad_tokens,
    parallel_wrong_codes_cannot_exceed_five_tries,
    a_reset_token_of_one_tenant_is_refused_in_another
);

async fn the_hosted_pages_reset_a_forgotten_password_without_javascript(backend: Backend) {
    use crate::oauth_support::{Browser, as_refs, authorization_params, create_client, link_with_id};
    let (app, mut sink) = app_with_mail(backend).await;
    app.signed_in("acme", "alice@example.com").await;
    sink.next().await;
    let client = create_client(&app, "acme", json!({})).await;
    let (params, _) = authorization_params(&client, "openid");
    let browser = Browser::new(&app);

    // The sign-in page links to ovlt's own page when the tenant has no reset_url, with the way
    // back to this sign-in; every page after it keeps that way back.
    let sign_in = browser.authorize(&as_refs(&params)).await.text().await.unwrap();
    let forgot_link = link_with_id(&sign_in, "forgot-password");
    assert!(
        forgot_link.starts_with("/oauth/forgot-password?tenant=acme&return_to=%2Foauth%2Fauthorize%3F"),
        "{forgot_link}"
    );
    let back: String = url::form_urlencoded::parse(forgot_link.split_once('?').unwrap().1.as_bytes())
        .find(|(name, _)| name == "return_to")
        .unwrap()
        .1
        .into_owned();
    assert!(back.contains(&format!("client_id={}", client["client_id"].as_str().unwrap())), "{back}");
    let page = browser.client.get(app.url(&forgot_link)).send().await.unwrap().text().await.unwrap();
    assert_eq!(link_with_id(&page, "back-to-sign-in"), back);
    let elsewhere = browser
        .client
        .get(app.url("/oauth/forgot-password?tenant=acme&return_to=https%3A%2F%2Fevil.example%2F"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!elsewhere.contains("evil.example"), "a way back only to a sign-in here");
    // Nor into another tenant's application, through this tenant's pages and email.
    app.create_tenant("globex", "Globex").await;
    let foreign = create_client(&app, "globex", json!({})).await;
    let (foreign_params, _) = authorization_params(&foreign, "openid");
    let foreign_back = format!(
        "/oauth/authorize?{}",
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&foreign_params).finish()
    );
    let foreign_back: String = url::form_urlencoded::byte_serialize(foreign_back.as_bytes()).collect();
    let into_globex = browser
        .client
        .get(app.url(&format!("/oauth/forgot-password?tenant=acme&return_to={foreign_back}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!into_globex.contains("back-to-sign-in"), "no way back into another tenant's client");
    let forged = browser
        .client
        .post(app.url("/oauth/forgot-password"))
        .form(&[("tenant", "acme"), ("email", "alice@example.com"), ("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400, "no CSRF token, no mail");
    let sent = browser.submit(&page, "/oauth/forgot-password", &[("email", "alice@example.com")]).await;
    assert_eq!(sent.status(), 200);
    let sent = sent.text().await.unwrap();
    assert!(sent.contains("id=\"sent\""));
    assert_eq!(link_with_id(&sent, "back-to-sign-in"), back);
    let mail = sink.next().await;
    let link = mail.text.split_whitespace().find(|w| w.contains("/oauth/reset-password?")).expect("a link").to_string();
    assert!(link.starts_with(&app.config.issuer), "{link}");
    assert!(link.contains("&return_to=%2Foauth%2Fauthorize%3F"), "{link}");

    let form = browser.client.get(&link).send().await.unwrap().text().await.unwrap();
    let mismatch = browser
        .submit(
            &form,
            "/oauth/reset-password",
            &[("password", "N3w-password!"), ("password_confirmation", "N3w-password?")],
        )
        .await;
    assert_eq!(mismatch.status(), 400);
    let weak = browser
        .submit(&form, "/oauth/reset-password", &[("password", "short"), ("password_confirmation", "short")])
        .await;
    assert_eq!(weak.status(), 400);
    assert!(weak.text().await.unwrap().contains("at least"), "the policy's reason is shown");
    let done = browser
        .submit(
            &form,
            "/oauth/reset-password",
            &[("password", "N3w-password!"), ("password_confirmation", "N3w-password!")],
        )
        .await;
    assert_eq!(done.status(), 200);
    let done = done.text().await.unwrap();
    assert!(done.contains("id=\"changed\""));
    assert_eq!(link_with_id(&done, "sign-in-again"), back, "the changed page leads back to the sign-in");
    assert_eq!(app.login("acme", "alice@example.com", "N3w-password!").await.status(), 200);
    // The link works once.
    let again = browser
        .submit(
            &form,
            "/oauth/reset-password",
            &[("password", "An0ther-pass!"), ("password_confirmation", "An0ther-pass!")],
        )
        .await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("expired or was already used"));
    let unknown = browser.client.get(app.url("/oauth/forgot-password?tenant=nope")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

backend_tests!(the_hosted_pages_reset_a_forgotten_password_without_javascript);
