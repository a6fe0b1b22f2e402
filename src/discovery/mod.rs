//! `/.well-known/*`: OpenID Connect Discovery 1.0 / RFC 8414 metadata and the JWKS.
//!
//! Both bodies are the same for every caller, so they are built once (the JWKS again after a
//! key reload) and served from memory: the framework is the whole cost of a request.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;

/// Clients may cache these documents for five minutes; a token naming an unknown `kid` tells a
/// well-behaved client to fetch the JWKS again sooner.
const CACHE_CONTROL: &str = "public, max-age=300";

/// The discovery document, listing only endpoints and features that exist.
pub fn openid_configuration(issuer: &str) -> String {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "end_session_endpoint": format!("{issuer}/oauth/logout"),
        "scopes_supported": ["openid", "profile", "email", "offline_access", "ovlt:api"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid", "amr", "name", "email", "email_verified"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
    .to_string()
}

/// `GET /.well-known/openid-configuration` (anyone).
pub async fn get_openid_configuration(State(state): State<AppState>) -> Response {
    json_document(state.discovery_document.clone())
}

/// `GET /.well-known/jwks.json` (anyone): the active signing key and retired keys in grace.
pub async fn get_jwks(State(state): State<AppState>) -> Response {
    let mut response = json_document(state.keys.jwks());
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/jwk-set+json"));
    response
}

fn json_document(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, CACHE_CONTROL)], body).into_response()
}
