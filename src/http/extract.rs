//! Extractors: who is calling and what they sent, decided before a handler body runs.
//!
//! `Json` and `Path` wrap axum's so that their rejections become [`ApiError`]s in our JSON
//! shape. `AdminKey` exists only when the request carried the right key, so a handler that
//! takes one cannot run for anybody else.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::audit::RequestContext;
use crate::crypto;
use crate::error::ApiError;
use crate::http::middleware::RequestId;

/// The operator's key header.
pub const ADMIN_KEY_HEADER: &str = "x-ovlt-admin-key";

/// A JSON body, always an object; malformed JSON, another JSON value (serde would read an
/// array as a struct's fields in order), a wrong content type, a NUL in a string (see
/// [`escapes_nul`]) or an oversized body answer 400/413 in our error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match OptionalJson::from_request(request, state).await? {
            OptionalJson(Some(value)) => Ok(Self(value)),
            OptionalJson(None) => Err(ApiError::invalid_payload("the request body is not valid JSON")),
        }
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters; a malformed id answers 400 in our error shape.
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// Query parameters; malformed ones answer 400 in our error shape.
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// Proof that the request carried the operator's admin key (`X-OVLT-Admin-Key`), compared in
/// constant time. Missing or wrong: 401 `unauthorized`.
#[derive(Debug, Clone, Copy)]
pub struct AdminKey;

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = parts.headers.get(ADMIN_KEY_HEADER).ok_or(ApiError::Unauthorized)?;
        if crypto::secrets_match(presented.as_bytes(), &state.admin_key_digest) {
            Ok(AdminKey)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestContext {
            ip: parts.extensions.get::<crate::http::client_ip::ClientIp>().map(|ip| ip.0.to_string()).or_else(|| {
                parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string())
            }),
            request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
            user_agent: parts
                .headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(512).collect()),
        })
    }
}

/// A JSON body that may be absent (an empty body gives `None`): for endpoints where the
/// credential can come from a cookie instead. A present body must be well-formed JSON with a
/// JSON content type, as for [`Json`].
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_media_type);
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::invalid_payload("cannot read the request body")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if !is_json {
            return Err(ApiError::invalid_payload("expected a JSON body with content-type: application/json"));
        }
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::invalid_payload("the request body must be a JSON object"));
        }
        if escapes_nul(&bytes) {
            return Err(ApiError::invalid_payload("the request contains a NUL character"));
        }
        let mut value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| ApiError::invalid_payload("the request body is not valid JSON"))?;
        whole_numbers_as_integers(&mut value);
        // Errors name the field that is wrong (`password: invalid type, expected a string`).
        serde_path_to_error::deserialize(value).map(|value| Self(Some(value))).map_err(|e| {
            let path = e.path().to_string();
            ApiError::from_json_data(&path, e.into_inner())
        })
    }
}

/// Rewrites every number with a zero fraction (`600.0`) as the integer it is: JSON Schema counts
/// it as one (2020-12 §6.1.1), serde's `i64` does not.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// `application/json` or a `+json` type (`application/merge-patch+json`), parameters aside — what
/// axum's own `Json` accepts.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether a JSON text holds the escape `\u0000` (a raw NUL byte is not valid JSON at all). No
/// text ovlt keeps may hold a NUL — PostgreSQL's text cannot — so it is refused as bad input
/// before it can reach a statement and fail there as a 500. `\\u0000` (an escaped backslash,
/// then the letters) is not a NUL.
fn escapes_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(at, window)| {
        window == b"\\u0000" && json[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
    })
}

/// For `#[serde(default, deserialize_with = "nullable")]` on an `Option<Option<T>>` field:
/// absent → `None` (keep), `null` → `Some(None)` (clear), a value → `Some(Some(v))`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::{escapes_nul, is_json_media_type};

    #[test]
    fn json_and_plus_json_types_are_json() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(!is_json_media_type("application/jsonx"));
        assert!(!is_json_media_type("text/json"));
    }

    #[test]
    fn whole_numbers_with_a_fraction_part_become_integers() {
        let mut value = serde_json::json!({ "ttl": 600.0, "ratio": 0.5, "list": [3.0, -2.0], "big": 1e300 });
        super::whole_numbers_as_integers(&mut value);
        assert_eq!(value, serde_json::json!({ "ttl": 600, "ratio": 0.5, "list": [3, -2], "big": 1e300 }));
    }

    #[test]
    fn only_an_escaped_nul_counts() {
        assert!(escapes_nul(br#"{"name":"a\u0000b"}"#));
        assert!(escapes_nul(br#"{"name":"\\\u0000"}"#), "an escaped backslash, then a NUL");
        assert!(!escapes_nul(br#"{"name":"\\u0000"}"#), "an escaped backslash, then the letters");
        assert!(!escapes_nul(br#"{"name":"\u0001"}"#));
    }
}
