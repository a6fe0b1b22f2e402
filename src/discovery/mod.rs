//! `/.well-known/*`: OpenID Connect Discovery 1.0 / RFC 8414 metadata and the JWKS.
//!
//! Both bodies are the same for every caller, so they are built once (the JWKS again after a
//! key reload) and served from memory: the framework is the whole cost of a request.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::openapi::schema::from_json;

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
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid", "amr", "name", "updated_at", "email", "email_verified"],
        "ui_locales_supported": crate::pages::i18n::SUPPORTED,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
    .to_string()
}

/// OpenID Connect Discovery 1.0 / RFC 8414 metadata.
// The shape of `openid_configuration`, for the OpenAPI document (the answer is built once as a
// string).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OpenIdConfiguration {
    #[schema(format = "uri")]
    issuer: String,
    #[schema(format = "uri")]
    authorization_endpoint: String,
    #[schema(format = "uri")]
    token_endpoint: String,
    #[schema(format = "uri")]
    userinfo_endpoint: String,
    #[schema(format = "uri")]
    jwks_uri: String,
    #[schema(format = "uri")]
    introspection_endpoint: String,
    #[schema(format = "uri")]
    revocation_endpoint: String,
    #[schema(format = "uri")]
    end_session_endpoint: String,
    scopes_supported: Vec<String>,
    response_types_supported: Vec<String>,
    response_modes_supported: Vec<String>,
    grant_types_supported: Vec<String>,
    code_challenge_methods_supported: Vec<String>,
    subject_types_supported: Vec<String>,
    id_token_signing_alg_values_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Vec<String>,
    introspection_endpoint_auth_methods_supported: Vec<String>,
    revocation_endpoint_auth_methods_supported: Vec<String>,
    prompt_values_supported: Vec<String>,
    claims_supported: Vec<String>,
    /// The hosted pages' languages.
    ui_locales_supported: Vec<String>,
    claims_parameter_supported: bool,
    request_parameter_supported: bool,
    request_uri_parameter_supported: bool,
    authorization_response_iss_parameter_supported: bool,
}

/// A JSON Web Key Set (RFC 7517).
// For the OpenAPI document: the answer is the string the key store built.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Jwks {
    /// The active signing key and retired keys still in their grace period.
    #[schema(inline)]
    keys: Vec<Jwk>,
}

/// One public RSA signing key.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Jwk {
    #[schema(schema_with = kty_schema)]
    kty: String,
    #[schema(rename = "use", required = false, schema_with = use_schema)]
    use_: String,
    #[schema(required = false, schema_with = alg_schema)]
    alg: String,
    kid: String,
    n: String,
    e: String,
}

fn kty_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": "string", "enum": ["RSA"] }))
}

fn use_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": "string", "enum": ["sig"] }))
}

fn alg_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": "string", "enum": ["RS256"] }))
}

/// `GET /.well-known/openid-configuration` (anyone).
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "operations",
    summary = "OpenID Connect Discovery / RFC 8414 metadata.",
    responses((
        status = 200,
        description = "The discovery document (cacheable for five minutes).",
        body = OpenIdConfiguration
    ))
)]
pub async fn get_openid_configuration(State(state): State<AppState>) -> Response {
    json_document(state.discovery_document.clone())
}

/// `GET /.well-known/jwks.json` (anyone): the active signing key and retired keys in grace.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "operations",
    summary = "The public signing keys (JWKS).",
    responses((
        status = 200,
        description = "The key set (cacheable for five minutes).",
        content_type = "application/jwk-set+json",
        body = Jwks
    ))
)]
pub async fn get_jwks(State(state): State<AppState>) -> Response {
    let mut response = json_document(state.keys.jwks());
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/jwk-set+json"));
    response
}

fn json_document(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, CACHE_CONTROL)], body).into_response()
}
