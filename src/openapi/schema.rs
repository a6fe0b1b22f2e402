//! Schemas the derive cannot infer from a Rust type: the constraints the server enforces on
//! strings (lengths, patterns), named once and used with `#[schema(schema_with = …)]`.

use serde_json::{Value, json};
use utoipa::openapi::Schema;

/// A schema written as JSON (the OpenAPI 3.1 dialect of JSON Schema).
pub fn from_json(schema: Value) -> Schema {
    serde_json::from_value(schema).expect("a well-formed schema")
}

/// No control character (Unicode Cc: U+0000–U+001F, U+007F–U+009F), as Rust's `char::is_control`.
pub const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// At least one character that is not white space in Rust's sense (`char::is_whitespace`,
/// listed exactly: ECMA's `\s` differs): what the server trims before it checks a value is there.
pub const NOT_ONLY_WHITESPACE: &str =
    "[^\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A UUID string.
pub fn uuid() -> Schema {
    from_json(json!({ "type": "string", "format": "uuid" }))
}

/// RFC 3339, UTC, to the second.
pub fn timestamp() -> Schema {
    from_json(json!({ "type": "string", "format": "date-time", "description": "RFC 3339, UTC, to the second." }))
}

/// A string the server refuses when empty (an empty one reads as absent).
pub fn nonempty() -> Schema {
    from_json(json!({ "type": "string", "minLength": 1 }))
}

/// A string the server trims before it checks it is there.
pub fn nonblank() -> Schema {
    from_json(json!({ "type": "string", "pattern": NOT_ONLY_WHITESPACE }))
}

/// A name shown to people: 1 to `max` characters, not only white space, no control characters.
pub fn display_name(max: u64) -> Schema {
    from_json(json!({
        "type": "string",
        "minLength": 1,
        "maxLength": max,
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
    }))
}

/// A tenant's slug: 2 to 63 characters of a-z, 0-9 and -.
pub fn slug() -> Schema {
    from_json(json!({ "type": "string", "pattern": "^[a-z0-9-]{2,63}$" }))
}

/// An email address as `validate_email` accepts it: one `@`, a local part of at most 64 bytes, a
/// dotted domain, no white space or control characters, at most 254 bytes.
pub fn email() -> Schema {
    from_json(json!({
        "type": "string",
        "maxLength": 254,
        "pattern": "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]{1,64}@[^@.\\s\\u0000-\\u001f\\u007f-\\u009f][^@\\s\\u0000-\\u001f\\u007f-\\u009f]*\\.[^@\\s\\u0000-\\u001f\\u007f-\\u009f]*[^@.\\s\\u0000-\\u001f\\u007f-\\u009f]$",
        "description": "An email address: a local part of at most 64 bytes, a dotted domain, at most 254 bytes."
    }))
}

/// A new password: the policy's bounds are 8 to 128 characters (a tenant may raise the minimum),
/// and by default at least two kinds of character (lower case, upper case, digits, symbols).
pub fn new_password() -> Schema {
    from_json(json!({
        "type": "string",
        "minLength": 8,
        "maxLength": 128,
        "description": "Checked against the tenant's password policy: 8 to 128 characters (the tenant's \
                        password_min_length may raise the minimum), at least password_min_classes kinds of \
                        character (default 2: lower case, upper case, digits, symbols), not the email address; \
                        on a change also not one of the last password_history passwords. A password the policy \
                        refuses answers 400 invalid_payload."
    }))
}

/// The stable codes of [`crate::error::ApiError`].
pub fn api_error_code() -> Schema {
    from_json(json!({
        "type": "string",
        "description": "A stable code to match on.",
        "enum": [
            "invalid_payload", "unauthorized", "invalid_credentials", "invalid_token", "invalid_code", "invalid_request",
            "invalid_otp", "user_suspended", "email_not_verified", "forbidden", "not_found",
            "method_not_allowed", "conflict", "payload_too_large", "request_timeout", "rate_limited", "too_many_attempts",
            "tenant_required", "tenant_not_found", "tenant_disabled", "unavailable", "internal_error"
        ]
    }))
}

/// The RFC 6749 §5.2 codes of [`crate::oauth::OAuthError`].
pub fn oauth_error_code() -> Schema {
    from_json(json!({
        "type": "string",
        "enum": [
            "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
            "unsupported_grant_type", "invalid_scope", "server_error"
        ]
    }))
}

/// Implements `ToSchema` for a type serialised as a string of a known shape, as a named
/// component (`TenantId`, `Timestamp`, …).
#[macro_export]
macro_rules! string_schema {
    ($type:ty, $schema:expr) => {
        impl utoipa::PartialSchema for $type {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                utoipa::openapi::RefOr::T($schema)
            }
        }
        impl utoipa::ToSchema for $type {}
    };
}

/// `schema` with a description of its own (`schema_with` leaves a field's doc comment out).
pub fn described(schema: Schema, description: &str) -> Schema {
    let mut schema = serde_json::to_value(schema).expect("a schema serialises");
    schema["description"] = json!(description);
    from_json(schema)
}

/// An optional request field: `null` reads as absent, like leaving the field out.
pub fn nullable(schema: Schema) -> Schema {
    let schema = serde_json::to_value(schema).expect("a schema serialises");
    from_json(json!({ "anyOf": [schema, { "type": "null", "description": "As if absent." }] }))
}

/// A schema kept exactly as written. [`from_json`] reads the JSON into utoipa's typed schema,
/// which refuses a schema without `type` (`{"const": ""}`, `{"not": …}`) and silently drops the
/// keywords it does not model (`const`, `not`, an `anyOf` beside `properties`); this keeps every
/// keyword (as the object's extensions, which serialise flat). Do not wrap it in anything that
/// reads it again (as [`nullable`] does): write the whole schema here instead.
pub fn verbatim(schema: Value) -> Schema {
    let Value::Object(keywords) = schema else { panic!("a schema is a JSON object") };
    let object = utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .extensions(Some(keywords.into_iter().collect()))
        .build();
    Schema::Object(object)
}

/// A query parameter where an empty value (`?name=`) reads as absent.
pub fn or_empty(schema: Schema) -> Schema {
    let schema = serde_json::to_value(schema).expect("a schema serialises");
    verbatim(json!({ "anyOf": [schema, { "const": "" }], "description": "Empty: as if absent." }))
}
