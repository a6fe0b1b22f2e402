//! The authorization request and the answers of the authorization endpoint, as the OpenAPI
//! document describes them (`GET`/`POST /oauth/authorize` in `authorize.rs` and the hosted forms
//! of `sign_in.rs` and `enrol.rs`): documentation only — the handlers read the request as
//! `Params` and check it in `authorize::validate`.

use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::Schema;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::params::query_parameter;
use crate::openapi::schema::from_json;

/// The fields of an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).
// For the OpenAPI document: the handlers read them as `Params` and check them in `validate`.
// Every hosted form of an authorization carries them again (`#[serde(flatten)]`).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AuthorizationRequest {
    client_id: uuid::Uuid,
    /// Must be registered; may be left out when the client has exactly one.
    #[schema(nullable = false)]
    redirect_uri: Option<String>,
    #[schema(schema_with = response_type_schema)]
    response_type: String,
    #[schema(schema_with = response_mode_schema)]
    response_mode: Option<String>,
    /// Space-separated; default: the client's scopes without offline_access.
    #[schema(nullable = false)]
    scope: Option<String>,
    #[schema(nullable = false, max_length = 2048)]
    state: Option<String>,
    #[schema(nullable = false, max_length = 512)]
    nonce: Option<String>,
    /// S256 challenge, 43 base64url characters; required for public clients.
    #[schema(nullable = false)]
    code_challenge: Option<String>,
    #[schema(schema_with = code_challenge_method_schema)]
    code_challenge_method: Option<String>,
    /// Space-separated: none, login, consent, select_account (none alone).
    #[schema(nullable = false)]
    prompt: Option<String>,
    #[schema(nullable = false, minimum = 0)]
    max_age: Option<i64>,
    #[schema(nullable = false)]
    login_hint: Option<String>,
    /// Space-separated language tags in order of preference: the hosted pages' language (`en`,
    /// `de`), before the browser's `Accept-Language`.
    #[schema(nullable = false)]
    ui_locales: Option<String>,
}

fn response_type_schema() -> Schema {
    from_json(json!({ "type": "string", "enum": ["code"] }))
}

fn response_mode_schema() -> Schema {
    from_json(json!({ "type": "string", "enum": ["query"] }))
}

fn code_challenge_method_schema() -> Schema {
    from_json(json!({ "type": "string", "enum": ["S256"] }))
}

/// The query parameters of `GET /oauth/authorize`, for the OpenAPI document: those of
/// [`AuthorizationRequest`], each optional as far as the query goes (the endpoint itself answers
/// a missing one).
pub struct AuthorizationQuery;

impl IntoParams for AuthorizationQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let text = |description: &str| json!({ "type": "string", "description": description });
        vec![
            query_parameter("client_id", json!({ "type": "string", "format": "uuid" }), "Required: the client."),
            query_parameter(
                "redirect_uri",
                text("Must be registered"),
                "May be left out when the client has exactly one.",
            ),
            query_parameter("response_type", json!({ "type": "string", "enum": ["code"] }), "Required: `code`."),
            query_parameter("response_mode", json!({ "type": "string", "enum": ["query"] }), "Only `query`."),
            query_parameter("scope", text("Space-separated"), "Default: the client's scopes without offline_access."),
            query_parameter("state", json!({ "type": "string", "maxLength": 2048 }), "Returned with the redirect."),
            query_parameter("nonce", json!({ "type": "string", "maxLength": 512 }), "Copied into the ID token."),
            query_parameter("code_challenge", text("S256"), "PKCE; required for public clients."),
            query_parameter("code_challenge_method", json!({ "type": "string", "enum": ["S256"] }), "Only `S256`."),
            query_parameter("prompt", text("Space-separated"), "none, login, consent, select_account."),
            query_parameter(
                "max_age",
                json!({ "type": "integer", "minimum": 0 }),
                "Maximum authentication age in seconds.",
            ),
            query_parameter("login_hint", text("An email"), "Prefills the sign-in form."),
            query_parameter(
                "ui_locales",
                text("Space-separated language tags"),
                "The hosted pages' language (en, de), before Accept-Language.",
            ),
        ]
    }
}

// The answers of the authorization endpoint and of the hosted pages that lead through it, for
// their `#[utoipa::path]`.
pub(crate) const REDIRECT_ANSWER: &str = "To the client's redirect URI with `code` (or `error` and \
                                          `error_description`), `state` and `iss` (RFC 9207).";
pub(crate) const PAGE_ANSWER: &str =
    "A hosted page: the sign-in form, the second-factor or authenticator enrolment form, or the consent form.";
pub(crate) const BAD_REQUEST_ANSWER: &str =
    "An error page: no valid client or redirect URI (never a redirect then), or a malformed request.";
