//! A real relying party — the `openidconnect` crate, which validates ID tokens strictly
//! (signature from the JWKS, issuer, audience, expiry, nonce, at_hash) — given only the issuer.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::json;

use crate::helpers::{Backend, TestApp, backend_tests};
use crate::oauth_support::{Browser, REDIRECT_URI, create_client};

/// The relying party's HTTP client: reqwest, following no redirects (as oauth2 advises).
pub(crate) async fn http(request: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let (parts, body) = request.into_parts();
    let response = client.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body).send().await?;
    let mut answer = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response.bytes().await?;
    Ok(answer.body(body.to_vec()).expect("a response"))
}

async fn a_standard_relying_party_signs_in_refreshes_and_reads_userinfo(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    app.register("acme", "ann@acme.test").await;
    let registered = create_client(&app, "acme", json!({})).await;
    let provider =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.state.config.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        provider,
        ClientId::new(registered["client_id"].as_str().unwrap().to_string()),
        Some(ClientSecret::new(registered["client_secret"].as_str().unwrap().to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_string()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let answer = Browser::new(&app).code_flow(&refs, "ann@acme.test").await;
    assert_eq!(&answer["state"], csrf.secret());

    let tokens = client
        .exchange_code(AuthorizationCode::new(answer["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");

    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("a valid ID token");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ann@acme.test"));
    let expected_hash = claims.access_token_hash().expect("at_hash");
    let actual_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual_hash, expected_hash);
    assert_eq!(claims.auth_context_ref(), None);
    assert!(claims.auth_time().is_some());

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.email().map(|e| e.as_str()), Some("ann@acme.test"));

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("offline_access gives a refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(refreshed.access_token().secret(), tokens.access_token().secret());
    let refreshed_id = refreshed.id_token().expect("a new ID token");
    // Refreshed ID tokens carry no nonce (OIDC Core §12.2); the verifier is told so.
    refreshed_id.claims(&verifier, |_: Option<&Nonce>| Ok(())).expect("a valid refreshed ID token");
}

async fn a_standard_client_gets_client_credentials_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_tenant("acme", "Acme").await;
    let registered = create_client(
        &app,
        "acme",
        json!({ "scopes": ["invoices:read"], "redirect_uris": [] , "grant_types": ["client_credentials"] }),
    )
    .await;
    let provider =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.state.config.issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        provider,
        ClientId::new(registered["client_id"].as_str().unwrap().to_string()),
        Some(ClientSecret::new(registered["client_secret"].as_str().unwrap().to_string())),
    );

    let tokens = client
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("invoices:read".into()))
        .request_async(&http)
        .await
        .expect("client_credentials");

    assert_eq!(tokens.scopes().map(|s| s.len()), Some(1));
    assert!(tokens.refresh_token().is_none());
    let wrong = CoreClient::from_provider_metadata(
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.state.config.issuer.clone()).unwrap(), &http)
            .await
            .unwrap(),
        ClientId::new(registered["client_id"].as_str().unwrap().to_string()),
        Some(ClientSecret::new("wrong".into())),
    );
    assert!(wrong.exchange_client_credentials().unwrap().request_async(&http).await.is_err());
}

backend_tests!(
    a_standard_relying_party_signs_in_refreshes_and_reads_userinfo,
    a_standard_client_gets_client_credentials_tokens
);
