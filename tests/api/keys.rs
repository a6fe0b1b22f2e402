//! Signing keys: the JWKS, discovery, RFC 7638 key ids, rotation and verification across it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp, backend_tests};

async fn jwks(app: &TestApp) -> Value {
    app.request(Method::GET, "/.well-known/jwks.json").send().await.unwrap().json().await.unwrap()
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
fn rfc7638_thumbprint(key: &Value) -> String {
    let canonical =
        format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, key["e"].as_str().unwrap(), key["n"].as_str().unwrap());
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn verify_with_jwks(token: &str, jwks: &Value) -> Result<Value, jsonwebtoken::errors::Error> {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let kid = jsonwebtoken::decode_header(token)?.kid.unwrap();
    let jwk = set.find(&kid).expect("kid published in the JWKS");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    jsonwebtoken::decode::<Value>(token, &jsonwebtoken::DecodingKey::from_jwk(jwk)?, &validation).map(|d| d.claims)
}

async fn the_jwks_publishes_one_rs256_key_named_by_its_rfc7638_thumbprint(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app.request(Method::GET, "/.well-known/jwks.json").send().await.unwrap();

    assert_eq!(response.status(), 200);
    let cache = response.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(cache.contains("max-age"), "{cache}");
    let body: Value = response.json().await.unwrap();
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str(), key["use"].as_str()),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert_eq!(key["kid"].as_str().unwrap(), rfc7638_thumbprint(key));
    assert_eq!(URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap().len(), 256, "RSA-2048");
    assert!(key.get("d").is_none() && key.get("p").is_none(), "no private parts");
}

async fn discovery_names_the_issuer_and_the_jwks(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let doc: Value =
        app.request(Method::GET, "/.well-known/openid-configuration").send().await.unwrap().json().await.unwrap();

    let issuer = app.config.issuer.clone();
    assert_eq!(doc["issuer"], issuer.as_str());
    assert_eq!(doc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["RS256"]));
}

async fn the_private_key_is_stored_sealed_with_the_master_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let kid = jwks(&app).await["keys"][0]["kid"].as_str().unwrap().to_string();

    let sealed: Vec<u8> = sqlx::query_scalar("SELECT private_key FROM signing_keys WHERE kid = $1")
        .bind(&kid)
        .fetch_one(app.state.store.pool())
        .await
        .unwrap();

    let aad = format!("signing_key:{kid}");
    assert!(ovlt::crypto::secretbox::open(&app.state.master_key, &sealed, &aad).is_ok());
    let wrong = ovlt::config::MasterKey::from_bytes([7; 32]);
    assert!(ovlt::crypto::secretbox::open(&wrong, &sealed, &aad).is_err());
}

async fn rotation_publishes_the_new_key_and_keeps_the_old_one_verifying(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let claims = json!({ "sub": "u", "exp": ovlt::types::Timestamp::now().0 + 600 });
    let old_token = app.state.keys.sign("at+jwt", &claims).unwrap();
    let old_kid = jwks(&app).await["keys"][0]["kid"].as_str().unwrap().to_string();

    let new_kid = ovlt::keys::rotate(&app.state.store, &app.state.master_key).await.unwrap();
    let sibling = app.spawn_sibling(|_| {}).await;
    app.state.keys.reload().await.unwrap();

    let published = jwks(&app).await;
    let kids: Vec<&str> = published["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, vec![new_kid.as_str(), old_kid.as_str()]);
    assert_eq!(jwks(&sibling).await, published, "instances on one database publish the same JWKS");
    let new_token = app.state.keys.sign("at+jwt", &claims).unwrap();
    assert_eq!(jsonwebtoken::decode_header(&new_token).unwrap().kid.unwrap(), new_kid);
    assert!(verify_with_jwks(&old_token, &published).is_ok());
    assert!(verify_with_jwks(&new_token, &published).is_ok());
}

async fn the_cli_rotates_the_signing_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = jwks(&app).await["keys"][0]["kid"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ovlt"))
        .args(["keys", "rotate"])
        .env_clear()
        .current_dir(dir.path())
        .env("DATABASE_URL", &app.db.url)
        .env("OVLT_MASTER_KEY", app.state.master_key.to_base64())
        .output()
        .await
        .unwrap();

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let new_kid = String::from_utf8(output.stdout).unwrap().trim().to_string();
    assert_ne!(new_kid, before);
    app.state.keys.reload().await.unwrap();
    let kids: Vec<String> =
        jwks(&app).await["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect();
    assert_eq!(kids, vec![new_kid, before]);
}

backend_tests!(
    the_jwks_publishes_one_rs256_key_named_by_its_rfc7638_thumbprint,
    discovery_names_the_issuer_and_the_jwks,
    the_private_key_is_stored_sealed_with_the_master_key,
    rotation_publishes_the_new_key_and_keeps_the_old_one_verifying,
    the_cli_rotates_the_signing_key
);
