//! `/auth/*`: the tenant's users' own endpoints. Registering and the session — register,
//! login, refresh, logout, revoke — in `session.rs`; email verification and password reset in
//! `recovery.rs`; the hosted recovery pages in `recovery_pages.rs`. Here: what they and
//! `mfa::api` share — the token answer, reading `mode` and required fields, and the schemas of
//! request bodies the derive cannot describe alone.

pub mod recovery;
pub mod recovery_pages;
pub mod session;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::openapi::{RefOr, Schema};

use super::cookie;
use crate::app::AppState;
use crate::error::FieldErrors;
use crate::http::extract::Json;
use crate::mfa::api::TokenResponseWithBackupCodes;
use crate::openapi::{self, schema::nullable};
use crate::tokens;

/// The token answer; in session mode the refresh token moves from the body into the cookie,
/// which lives exactly as long as the token. `backup_codes` ride along when MFA enrolment
/// finished a sign-in.
pub(crate) fn token_answer(
    state: &AppState,
    issued: tokens::IssuedTokens,
    session_mode: bool,
    backup_codes: Option<Vec<String>>,
) -> Response {
    let mut tokens = issued.response;
    let cookie = match (session_mode, issued.refresh_token) {
        (true, Some(refresh_token)) => {
            tokens.refresh_token = None;
            Some(cookie::set_refresh_cookie(&refresh_token, issued.refresh_max_age, state.config.is_production()))
        }
        (true, None) => {
            tokens.refresh_token = None;
            None
        }
        (false, _) => None,
    };
    let mut response = match backup_codes {
        None => Json(tokens).into_response(),
        Some(backup_codes) => Json(TokenResponseWithBackupCodes::new(tokens, backup_codes)).into_response(),
    };
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// A required, non-empty string field; records "is required" otherwise.
pub(crate) fn required<'a>(fields: &mut FieldErrors, name: &str, value: Option<&'a str>) -> Option<&'a str> {
    match value {
        Some(v) if !v.trim().is_empty() => Some(v),
        _ => {
            fields.insert(name.into(), "is required".into());
            None
        }
    }
}

/// `mode`: absent, or `"session"` for the cookie mode.
pub(crate) fn parse_mode(fields: &mut FieldErrors, mode: Option<&str>) -> bool {
    match mode {
        None => false,
        Some("session") => true,
        Some(_) => {
            fields.insert("mode".into(), "must be \"session\" when given".into());
            false
        }
    }
}

// ---- request bodies the derive cannot describe alone -------------------------------------

/// `"session"`, the only `mode` there is (utoipa's schema model has no `const`).
pub(crate) fn session_mode() -> Schema {
    openapi::schema::from_json(json!({ "type": "string", "enum": ["session"] }))
}

/// An optional `mode`.
pub(crate) fn optional_session_mode() -> Schema {
    nullable(session_mode())
}

pub(crate) use crate::openapi::schema::described;

/// A rule over an object's fields: at least one of `names` is there (and not `null`, which reads
/// as absent).
pub(crate) fn at_least_one_of(names: &[&str]) -> Value {
    let there =
        |name: &str| json!({ "type": "object", "required": [name], "properties": { name: { "type": "string" } } });
    json!({
        "description": format!("At least one of {}.", names.join(", ")),
        "anyOf": names.iter().map(|name| there(name)).collect::<Vec<_>>()
    })
}

/// A rule over an object's fields: at most one of `names` is there (absent or `null`: all the
/// others).
pub(crate) fn at_most_one_of(names: &[&str]) -> Value {
    let only = |kept: &str| {
        let absent: serde_json::Map<String, Value> = names
            .iter()
            .filter(|name| **name != kept)
            .map(|name| (name.to_string(), json!({ "type": "null" })))
            .collect();
        json!({ "type": "object", "properties": absent })
    };
    json!({
        "description": format!("At most one of {}.", names.join(", ")),
        "anyOf": names.iter().map(|name| only(name)).collect::<Vec<_>>()
    })
}

/// `fields` (an object schema) under `rules` over which of its fields come together, which the
/// derive cannot write: `allOf: [fields, rules…]`.
pub(crate) fn with_rules(fields: RefOr<Schema>, rules: &[Value]) -> RefOr<Schema> {
    let fields = serde_json::to_value(fields).expect("a schema serialises");
    let all: Vec<Value> = std::iter::once(fields).chain(rules.iter().cloned()).collect();
    RefOr::T(openapi::schema::from_json(json!({ "allOf": all })))
}

/// Documents a request body whose fields come under rules (see [`with_rules`]): `$body`, for
/// `request_body = $body`, is `$fields`'s derived schema with `$rules`, under `$fields`'s name.
macro_rules! body_with_rules {
    ($(#[$meta:meta])* $body:ident = $fields:ty, $rules:expr) => {
        $(#[$meta])*
        pub struct $body;

        impl utoipa::PartialSchema for $body {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                $crate::auth::with_rules(<$fields as utoipa::PartialSchema>::schema(), $rules)
            }
        }

        impl utoipa::ToSchema for $body {
            fn name() -> std::borrow::Cow<'static, str> {
                <$fields as utoipa::ToSchema>::name()
            }
        }
    };
}
pub(crate) use body_with_rules;
