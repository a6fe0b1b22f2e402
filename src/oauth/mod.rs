//! The OAuth 2.0 / OpenID Connect authorization server (RFC 6749, 6750, 7009, 7636, 7662,
//! 8414, 9068; OpenID Connect Core, Discovery, RP-Initiated Logout).
//!
//! OAuth requests carry no tenant header: a standard relying party knows only the issuer. The
//! client names its tenant (client ids are globally unique), an access token names it in
//! `tid`, and the browser's SSO cookie is per tenant. See docs/decisions/0006.

pub mod authorize;
mod authorize_doc;
mod authorize_pages;
pub mod client_auth;
pub mod client_cache;
pub mod enrol;
pub mod introspect;
pub mod logout;
pub mod params;
pub mod sign_in;
pub mod sign_up;
pub mod sso;
pub mod token;
pub mod userinfo;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;
pub use crate::tokens::{has_scope, scope_tokens};

/// Authorization codes live 60 seconds (RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_TTL_SECONDS: i64 = 60;

/// An RFC 6749 §5.2 error answer: `{"error", "error_description"}`, never cached.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

/// The RFC 6749 §5.2 body (the `OAuthError` schema of the OpenAPI document).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OAuthError)]
pub struct OAuthErrorBody<'a> {
    #[schema(schema_with = crate::openapi::schema::oauth_error_code)]
    error: &'a str,
    /// What went wrong, for people.
    error_description: &'a str,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into() }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2): the same answer for an unknown
    /// client, a wrong secret and a missing one.
    pub fn invalid_client() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed")
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }
}

impl From<ApiError> for OAuthError {
    fn from(err: ApiError) -> Self {
        // Every ApiError reaching an OAuth endpoint is a server fault (client mistakes are
        // OAuthErrors from the start): logged here once, never shown.
        tracing::error!(error = format!("{err:#}"), "OAuth request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::from(err).into()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody { error: self.error, error_description: &self.description };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"ovlt\""));
        }
        response
    }
}

/// A JSON answer that no cache may keep (token, introspection answers).
pub fn no_store_json(body: impl Serialize) -> Response {
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
