//! `ApiError`: the one way a request fails.
//!
//! Every error answers `{"error": "<stable_snake_code>", "message": "<human text>"}` (plus
//! `"fields"` for validation), as DESIGN §5 fixes. Axum's own rejections (bad JSON, wrong
//! content type, bad path or query parameters, oversized bodies) are converted here so no
//! client mistake ever gets axum's plain-text default or a 500. Server faults answer
//! "internal error" and their cause is logged once, here.
//!
//! Messages never contain secrets: serde's "invalid type: string \"…\"" texts, which would
//! echo a submitted value (a password, say), are rewritten to name only the expected type.

use std::collections::BTreeMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Field name → what is wrong with it.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidPayload { message: String, fields: Option<FieldErrors> },
    #[error("missing or invalid admin key")]
    Unauthorized,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("the token is missing, malformed, expired or revoked")]
    InvalidToken,
    #[error("the code is wrong, used or expired")]
    InvalidCode,
    /// A request that cannot be honoured as made, e.g. a sign-in code from an identity provider
    /// that is unknown, spent, expired or of another tenant (the OAuth code clients know).
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// A wrong, replayed or spent second-factor code (TOTP or backup code).
    #[error("the one-time code is wrong or was already used")]
    InvalidOtp,
    /// A password-reset token that is wrong, used or expired: a bad request, not a failed
    /// authentication, so 400 (with the code clients know, `invalid_token`).
    #[error("the reset token is wrong, used or expired")]
    InvalidResetToken,
    #[error("this account is suspended")]
    UserSuspended,
    #[error("the email address is not verified")]
    EmailNotVerified,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("the request took too long")]
    RequestTimeout,
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// Too many failed sign-ins with one email address, registered or not (decision 0013).
    #[error("too many failed sign-ins with this email; try again in {} minutes", .retry_after_secs.div_ceil(60))]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("the x-ovlt-tenant-slug or x-ovlt-tenant-id header is required")]
    TenantRequired,
    #[error("tenant not found")]
    TenantNotFound,
    #[error("tenant is disabled")]
    TenantDisabled,
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Every failure's body (the `Error` schema of the OpenAPI document).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    #[schema(schema_with = crate::openapi::schema::api_error_code)]
    error: &'static str,
    /// What went wrong, for people.
    message: String,
    /// Validation errors only: field name → what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    fields: Option<&'a FieldErrors>,
}

impl ApiError {
    /// A 400 naming the fields that are wrong.
    pub fn validation(fields: FieldErrors) -> Self {
        Self::InvalidPayload { message: "one or more fields are invalid".into(), fields: Some(fields) }
    }

    /// A 400 with a message and no field detail.
    pub fn invalid_payload(message: impl Into<String>) -> Self {
        Self::InvalidPayload { message: message.into(), fields: None }
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let cause = cause.into();
        if cause.chain().filter_map(|e| e.downcast_ref::<sqlx::Error>()).any(crate::store::unavailable) {
            tracing::warn!(error = format!("{cause:#}"), "the database cannot serve the request");
            return Self::Unavailable("the database is unavailable; try again shortly");
        }
        Self::Internal(cause)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidPayload { .. }
            | Self::TenantRequired
            | Self::InvalidCode
            | Self::InvalidRequest(_)
            | Self::InvalidResetToken => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidCredentials | Self::InvalidToken | Self::InvalidOtp => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden(_) | Self::TenantDisabled | Self::UserSuspended | Self::EmailNotVerified => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound(_) | Self::TenantNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited { .. } | Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidPayload { .. } => "invalid_payload",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken | Self::InvalidResetToken => "invalid_token",
            Self::InvalidCode => "invalid_code",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidOtp => "invalid_otp",
            Self::UserSuspended => "user_suspended",
            Self::EmailNotVerified => "email_not_verified",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::RateLimited { .. } => "rate_limited",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::TenantRequired => "tenant_required",
            Self::TenantNotFound => "tenant_not_found",
            Self::TenantDisabled => "tenant_disabled",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let fields = match &self {
            Self::InvalidPayload { fields, .. } => fields.as_ref(),
            _ => None,
        };
        let body = ErrorBody { error: self.code(), message: self.to_string(), fields };
        let mut response = (self.status(), axum::Json(body)).into_response();
        match self {
            Self::RateLimited { retry_after_secs } | Self::TooManyAttempts { retry_after_secs } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            // Overload and outages pass; a client may try again shortly (RFC 9110 §10.2.3).
            Self::Unavailable(_) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // RFC 6750 §3.
            Self::InvalidToken => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer error="invalid_token""#));
            }
            _ => {}
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    /// Unique violations are the client's conflict, never a 500; an unreachable, overloaded or full
    /// database is 503 (try again); everything else is ours.
    fn from(err: sqlx::Error) -> Self {
        if let Some(constraint) = crate::store::unique_violation(&err) {
            return Self::Conflict(crate::store::conflict_message(&constraint).into());
        }
        if crate::store::unavailable(&err) {
            // sqlx does not expose how many wait for a connection; how many gave up is the sign.
            let cause = if matches!(err, sqlx::Error::PoolTimedOut) { "acquire_timeout" } else { "database" };
            metrics::counter!("ovlt_db_unavailable_total", "cause" => cause).increment(1);
            tracing::warn!(error = %err, "the database cannot serve the request");
            return Self::Unavailable("the database is unavailable; try again shortly");
        }
        Self::Internal(err.into())
    }
}

impl ApiError {
    /// A JSON body that parsed but does not fit the request type, without echoing its values.
    pub fn from_json_data(path: &str, err: serde_json::Error) -> Self {
        let text = if path == "." { err.to_string() } else { format!("{path}: {err}") };
        Self::invalid_payload(without_echoed_values(&text))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(_) => {
                Self::invalid_payload("a path parameter is malformed (ids are UUIDs)")
            }
            other => Self::internal(anyhow::anyhow!("path extraction: {}", other.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid_payload(without_echoed_values(&rejection.body_text()))
    }
}

/// Rewrites serde's `invalid type: string "hunter2", expected …` (and `invalid value`,
/// `invalid length`) so the submitted value is not echoed back: `invalid type, expected …`.
fn without_echoed_values(text: &str) -> String {
    for (marker, head) in [
        ("invalid type: ", "invalid type"),
        ("invalid value: ", "invalid value"),
        ("invalid length ", "invalid length"),
    ] {
        if let Some(start) = text.find(marker) {
            let prefix = &text[..start];
            // The last ", expected " belongs to serde; an earlier one would be inside the value.
            return match text[start..].rfind(", expected ") {
                Some(at) => format!("{prefix}{head}{}", &text[start + at..]),
                None => format!("{prefix}{head}"),
            };
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_lose_the_submitted_value() {
        let text = "Failed to deserialize the JSON body into the target type: password: invalid type: \
                    integer `12345678`, expected a string at line 1 column 20";
        let cleaned = without_echoed_values(text);
        assert!(!cleaned.contains("12345678"), "{cleaned}");
        assert!(cleaned.ends_with("password: invalid type, expected a string at line 1 column 20"), "{cleaned}");
        let sneaky = "name: invalid type: string \"a, expected b\", expected a boolean";
        assert_eq!(without_echoed_values(sneaky), "name: invalid type, expected a boolean");
        let length = "invalid length 3, expected 2 elements";
        assert_eq!(without_echoed_values(length), "invalid length, expected 2 elements");
        let missing = "missing field `slug` at line 1 column 2";
        assert_eq!(without_echoed_values(missing), missing);
    }
}
