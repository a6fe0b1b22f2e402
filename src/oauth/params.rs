//! OAuth request parameters: `application/x-www-form-urlencoded` bodies and query strings,
//! where a parameter sent twice makes the request invalid (RFC 6749 §3.1, §3.2).
//!
//! These are parsed before anyone is authenticated, so the work is bounded: at most
//! [`MAX_PARAMS`] parameters in at most [`MAX_QUERY_BYTES`] (a query string) or
//! [`MAX_BODY_BYTES`] (a form body), each looked at once (a hash set finds repeats). A hosted
//! form carries a whole authorization request re-encoded (a browser's form encoding escapes
//! what a query string may leave bare, up to three bytes for one) plus a password, so a body
//! may be larger than the largest query it came from.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use utoipa::openapi::path::Parameter;

use super::OAuthError;

/// The most parameters an OAuth request or hosted form may carry.
pub const MAX_PARAMS: usize = 50;
/// The largest OAuth query string.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;
/// The largest OAuth form body: a maximal query, re-encoded, and a maximal password.
pub const MAX_BODY_BYTES: usize = 3 * MAX_QUERY_BYTES + 3 * crate::crypto::password::MAX_PASSWORD_BYTES + 1024;

/// Parameters by name; empty values count as absent (RFC 6749 §3.1).
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string (see [`Params::parse`]).
    pub fn parse_query(query: Option<&str>) -> Result<Self, String> {
        let query = query.unwrap_or_default();
        if query.len() > MAX_QUERY_BYTES {
            return Err(format!("the query is larger than {MAX_QUERY_BYTES} bytes"));
        }
        Self::parse(query.as_bytes())
    }

    /// Parses `a=1&b=2`; a repeated parameter name is an error naming it, and so is a NUL
    /// (`%00`), which no value ovlt keeps may hold, and a request over the bounds above.
    pub fn parse(encoded: &[u8]) -> Result<Self, String> {
        if encoded.len() > MAX_BODY_BYTES {
            return Err(format!("the request is larger than {MAX_BODY_BYTES} bytes"));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for (name, value) in form_urlencoded::parse(encoded) {
            if seen.len() == MAX_PARAMS {
                return Err(format!("the request has more than {MAX_PARAMS} parameters"));
            }
            if name.contains('\0') || value.contains('\0') {
                return Err("the request contains a NUL character".into());
            }
            if !seen.insert(name.to_string()) {
                return Err(format!("the {name} parameter is repeated"));
            }
            if !value.is_empty() {
                pairs.push((name.into_owned(), value.into_owned()));
            }
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// A form-encoded POST body as [`Params`]; anything else is `invalid_request`.
pub struct Form(pub Params);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &S) -> Result<Self, OAuthError> {
        let is_form =
            request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
                ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(OAuthError::invalid_request("expected an application/x-www-form-urlencoded body"));
        }
        // Read whole (within the server's body limit), so the client hears the refusal instead
        // of a reset connection; reading is linear, and `parse` refuses a body over its bound
        // before looking inside.
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| OAuthError::invalid_request("cannot read the request body"))?;
        Params::parse(&bytes).map(Form).map_err(OAuthError::invalid_request)
    }
}

/// An optional query parameter, for the OpenAPI document of a handler that reads its query as
/// [`Params`] (an `IntoParams` implementation lists them): its schema, written as JSON, and
/// what it is for.
pub fn query_parameter(name: &str, schema: serde_json::Value, description: &str) -> Parameter {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "in": "query",
        "required": false,
        "description": description,
        "schema": schema,
    }))
    .expect("a well-formed parameter")
}
