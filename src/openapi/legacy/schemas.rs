//! `components`: the shared schemas (each named after the Rust type it describes), the
//! reusable parameters and the security schemes.

use serde_json::{Map, Value, json};

use super::builder::schema_ref;

/// An object schema with these properties, `required` naming the ones always present.
fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

/// A request object whose fields are all `Option`s: `null` reads as absent, like leaving the
/// field out, and unknown properties are refused.
fn optional_fields(required: &[&str], properties: Value) -> Value {
    let Value::Object(properties) = properties else { unreachable!("properties are an object") };
    let properties: Map<String, Value> = properties
        .into_iter()
        .map(|(name, schema)| {
            let nullable = if required.contains(&name.as_str()) {
                schema
            } else {
                json!({ "anyOf": [schema, { "type": "null", "description": "As if absent." }] })
            };
            (name, nullable)
        })
        .collect();
    closed(required, Value::Object(properties))
}

/// An object schema that refuses unknown properties (`#[serde(deny_unknown_fields)]`).
fn closed(required: &[&str], properties: Value) -> Value {
    let mut schema = object(required, properties);
    schema["additionalProperties"] = json!(false);
    schema
}

/// A form body: the named fields, and any other parameter (ignored, as RFC 6749 §3.1 asks)
/// given once: a repeated parameter is refused (400 invalid_request).
fn form(required: &[&str], properties: Value) -> Value {
    let mut schema = object(required, properties);
    schema["additionalProperties"] = json!({ "type": "string" });
    schema
}

fn uuid() -> Value {
    json!({ "type": "string", "format": "uuid" })
}

fn timestamp() -> Value {
    json!({ "type": "string", "format": "date-time", "description": "RFC 3339, UTC, to the second." })
}

fn nullable_timestamp() -> Value {
    json!({ "type": ["string", "null"], "format": "date-time" })
}

fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

/// No control character (Unicode Cc: U+0000–U+001F, U+007F–U+009F), as Rust's `char::is_control`.
pub const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// A name shown to people: 1 to `max` characters, not only white space, no control characters.
fn display_name(max: u64, description: &str) -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": max,
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        "description": description
    })
}

/// An email address as `validate_email` accepts it: one `@`, a local part of at most 64 bytes, a
/// dotted domain, no white space or control characters, at most 254 bytes.
pub fn email() -> Value {
    json!({
        "type": "string",
            "maxLength": 254,
        "pattern": "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]{1,64}@[^@.\\s\\u0000-\\u001f\\u007f-\\u009f][^@\\s\\u0000-\\u001f\\u007f-\\u009f]*\\.[^@\\s\\u0000-\\u001f\\u007f-\\u009f]*[^@.\\s\\u0000-\\u001f\\u007f-\\u009f]$",
        "description": "An email address: a local part of at most 64 bytes, a dotted domain, at most 254 bytes."
    })
}

/// A new password: the policy's bounds are 8 to 128 characters (a tenant may raise the minimum),
/// and by default at least two kinds of character (lower case, upper case, digits, symbols).
pub fn new_password() -> Value {
    json!({
        "type": "string",
        "minLength": 8,
        "maxLength": 128,
        "description": "Checked against the tenant's password policy: 8 to 128 characters (the tenant's \
                        password_min_length may raise the minimum), at least password_min_classes kinds of \
                        character (default 2: lower case, upper case, digits, symbols), not the email address; \
                        on a change also not one of the last password_history passwords. A password the policy \
                        refuses answers 400 invalid_payload."
    })
}

fn strings(description: &str) -> Value {
    json!({ "type": "array", "items": { "type": "string" }, "description": description })
}

/// The whole `components` object.
pub fn components() -> Value {
    json!({
        "schemas": schemas(),
        "parameters": parameters(),
        "securitySchemes": security_schemes(),
    })
}

fn security_schemes() -> Value {
    json!({
        "adminKey": {
            "type": "apiKey",
            "in": "header",
            "name": "X-OVLT-Admin-Key",
            "description": "The operator's key (OVLT_ADMIN_KEY). Manages every tenant; tenant-scoped operations also need the tenant header."
        },
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token (RS256 JWT, `typ: at+jwt`) of a user of the addressed tenant, with a live session, meant for ovlt's API: issued by /auth/* directly, or by a first-party client with the `ovlt:api` scope. A token issued to any other client names that client in `aud` and is refused here (401 invalid_token)."
        },
        "clientBasic": {
            "type": "http",
            "scheme": "basic",
            "description": "OAuth client authentication `client_secret_basic` (RFC 6749 §2.3.1): the client id and secret, each form-urlencoded. A client may instead send `client_id` and `client_secret` in the form body (`client_secret_post`), and a public client only its `client_id`."
        },
        "refreshCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "ovlt_refresh",
            "description": "The HttpOnly refresh-token cookie of the session mode (`\"mode\": \"session\"`), scoped to /auth; in production it is `__Host-ovlt_refresh` (Secure, Path=/)."
        }
    })
}

fn parameters() -> Value {
    json!({
        "TenantId": {
            "name": "x-ovlt-tenant-id",
            "in": "header",
            "required": false,
            "description": "The tenant the request is for, by id (preferred; wins when both headers are sent). One of x-ovlt-tenant-id and x-ovlt-tenant-slug is required.",
            "schema": uuid()
        },
        "TenantSlug": {
            "name": "x-ovlt-tenant-slug",
            "in": "header",
            "required": false,
            "description": "The tenant the request is for, by slug. One of x-ovlt-tenant-id and x-ovlt-tenant-slug is required.",
            "schema": { "type": "string", "pattern": "^[a-z0-9-]{2,63}$" }
        },
        "Page": {
            "name": "page",
            "in": "query",
            "required": false,
            "description": "The page, from 1 (default 1).",
            "schema": { "type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1 }
        },
        "PerPage": {
            "name": "per_page",
            "in": "query",
            "required": false,
            "description": "Entries per page (default 50); values over 200 are capped at 200 (the answer's per_page says so).",
            "schema": { "type": "integer", "minimum": 1, "maximum": 4_294_967_295_u64, "default": 50 }
        }
    })
}

fn schemas() -> Value {
    let mut all = Map::new();
    let mut add = |name: &str, schema: Value| {
        all.insert(name.to_string(), schema);
    };

    // ---- shared answers ---------------------------------------------------------------
    add(
        "Error",
        object(
            &["error", "message"],
            json!({
                "error": {
                    "type": "string",
                    "description": "A stable code to match on.",
                    "enum": [
                        "invalid_payload", "unauthorized", "invalid_credentials", "invalid_token", "invalid_code",
                        "invalid_otp", "user_suspended", "email_not_verified", "forbidden", "not_found",
                        "method_not_allowed", "conflict", "payload_too_large", "request_timeout", "rate_limited",
                        "tenant_required", "tenant_not_found", "tenant_disabled", "unavailable", "internal_error"
                    ]
                },
                "message": string("What went wrong, for people."),
                "fields": {
                    "type": "object",
                    "description": "Validation errors only: field name → what is wrong with it.",
                    "additionalProperties": { "type": "string" }
                }
            }),
        ),
    );
    add(
        "OAuthError",
        object(
            &["error", "error_description"],
            json!({
                "error": {
                    "type": "string",
                    "enum": [
                        "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                        "unsupported_grant_type", "invalid_scope", "server_error"
                    ]
                },
                "error_description": string("What went wrong, for people.")
            }),
        ),
    );
    add(
        "Page",
        object(
            &["data", "page", "per_page", "total"],
            json!({
                "data": { "type": "array", "items": {} },
                "page": { "type": "integer", "minimum": 1 },
                "per_page": { "type": "integer", "minimum": 1, "maximum": 200 },
                "total": { "type": "integer", "minimum": 0, "description": "Entries in the whole list." }
            }),
        ),
    );
    add("Message", object(&["message"], json!({ "message": { "type": "string" } })));

    // ---- operations ------------------------------------------------------------------
    add(
        "Health",
        object(&["status", "version"], json!({ "status": { "const": "ok" }, "version": { "type": "string" } })),
    );
    add("Ready", object(&["status"], json!({ "status": { "const": "ready" } })));
    add(
        "OpenIdConfiguration",
        json!({
            "type": "object",
            "description": "OpenID Connect Discovery 1.0 / RFC 8414 metadata.",
            "required": [
                "issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                "introspection_endpoint", "revocation_endpoint", "end_session_endpoint", "scopes_supported",
                "response_types_supported", "response_modes_supported", "grant_types_supported",
                "code_challenge_methods_supported", "subject_types_supported",
                "id_token_signing_alg_values_supported", "token_endpoint_auth_methods_supported",
                "introspection_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported",
                "prompt_values_supported", "claims_supported", "claims_parameter_supported",
                "request_parameter_supported", "request_uri_parameter_supported",
                "authorization_response_iss_parameter_supported"
            ],
            "properties": {
                "issuer": { "type": "string", "format": "uri" },
                "authorization_endpoint": { "type": "string", "format": "uri" },
                "token_endpoint": { "type": "string", "format": "uri" },
                "userinfo_endpoint": { "type": "string", "format": "uri" },
                "jwks_uri": { "type": "string", "format": "uri" },
                "introspection_endpoint": { "type": "string", "format": "uri" },
                "revocation_endpoint": { "type": "string", "format": "uri" },
                "end_session_endpoint": { "type": "string", "format": "uri" },
                "scopes_supported": strings(""),
                "response_types_supported": strings(""),
                "response_modes_supported": strings(""),
                "grant_types_supported": strings(""),
                "code_challenge_methods_supported": strings(""),
                "subject_types_supported": strings(""),
                "id_token_signing_alg_values_supported": strings(""),
                "token_endpoint_auth_methods_supported": strings(""),
                "introspection_endpoint_auth_methods_supported": strings(""),
                "revocation_endpoint_auth_methods_supported": strings(""),
                "prompt_values_supported": strings(""),
                "claims_supported": strings(""),
                "claims_parameter_supported": { "type": "boolean" },
                "request_parameter_supported": { "type": "boolean" },
                "request_uri_parameter_supported": { "type": "boolean" },
                "authorization_response_iss_parameter_supported": { "type": "boolean" }
            }
        }),
    );
    add(
        "Jwks",
        object(
            &["keys"],
            json!({
                "keys": {
                    "type": "array",
                    "description": "The active signing key and retired keys still in their grace period.",
                    "items": {
                        "type": "object",
                        "required": ["kty", "kid", "n", "e"],
                        "properties": {
                            "kty": { "const": "RSA" },
                            "use": { "const": "sig" },
                            "alg": { "const": "RS256" },
                            "kid": { "type": "string" },
                            "n": { "type": "string" },
                            "e": { "type": "string" }
                        }
                    }
                }
            }),
        ),
    );

    // ---- tenants ---------------------------------------------------------------------
    add(
        "Tenant",
        object(
            &["id", "slug", "name", "active", "created_at", "updated_at"],
            json!({
                "id": uuid(),
                "slug": { "type": "string", "pattern": "^[a-z0-9-]{2,63}$" },
                "name": { "type": "string", "maxLength": 200 },
                "active": { "type": "boolean", "description": "False: the tenant's requests answer 403 tenant_disabled." },
                "created_at": timestamp(),
                "updated_at": timestamp()
            }),
        ),
    );
    add(
        "PublicTenant",
        object(
            &["id", "slug", "name"],
            json!({ "id": uuid(), "slug": { "type": "string" }, "name": { "type": "string" } }),
        ),
    );
    add(
        "CreateTenantRequest",
        closed(
            &["slug", "name"],
            json!({
                "slug": { "type": "string", "pattern": "^[a-z0-9-]{2,63}$" },
                "name": display_name(200, "1 to 200 characters once trimmed, no control characters.")
            }),
        ),
    );
    add(
        "UpdateTenantRequest",
        closed(
            &[],
            json!({
                "name": display_name(200, "1 to 200 characters once trimmed, no control characters."),
                "active": { "type": "boolean" }
            }),
        ),
    );

    // ---- users and their sign-in -----------------------------------------------------
    add(
        "User",
        object(
            &[
                "id",
                "email",
                "name",
                "email_verified",
                "status",
                "mfa_enabled",
                "created_at",
                "updated_at",
                "last_login_at",
            ],
            json!({
                "id": uuid(),
                "email": { "type": "string", "description": "Trimmed and lower-cased on the way in." },
                "name": { "type": ["string", "null"] },
                "email_verified": { "type": "boolean" },
                "status": { "type": "string", "enum": ["active", "suspended"] },
                "mfa_enabled": { "type": "boolean" },
                "created_at": timestamp(),
                "updated_at": timestamp(),
                "last_login_at": nullable_timestamp()
            }),
        ),
    );
    let user_fields = json!({
        "email": email(),
        "password": new_password(),
        "name": { "type": "string", "maxLength": 200, "pattern": NO_CONTROL, "description": "At most 200 characters, no control characters." },
        "email_verified": { "type": "boolean" },
        "status": { "type": "string", "enum": ["active", "suspended"] }
    });
    add("CreateUserRequest", optional_fields(&["email"], user_fields.clone()));
    add("UpdateUserRequest", optional_fields(&[], user_fields));
    add(
        "TokenResponse",
        object(
            &["access_token", "token_type", "expires_in"],
            json!({
                "access_token": string("An RS256 JWT (RFC 9068, `typ: at+jwt`)."),
                "refresh_token": string("Absent in session-cookie mode (it travels in the ovlt_refresh cookie) and when the grant gives none."),
                "token_type": { "const": "Bearer" },
                "expires_in": { "type": "integer", "description": "Seconds the access token lives." },
                "scope": string("OAuth answers only: the granted scope."),
                "id_token": string("OAuth answers only, when `openid` was granted.")
            }),
        ),
    );
    add(
        "OAuthTokenResponse",
        json!({
            "description": "The token endpoint's answer (RFC 6749 §5.1): always the scope; a refresh token only with offline_access; an ID token with openid.",
            "allOf": [schema_ref("TokenResponse"), { "type": "object", "required": ["scope"] }]
        }),
    );
    add(
        "MfaRequired",
        object(
            &["mfa_required", "mfa_token"],
            json!({
                "mfa_required": { "const": true },
                "mfa_token": string("For POST /auth/mfa/challenge; lives five minutes and five wrong codes.")
            }),
        ),
    );
    add(
        "MfaSetupRequired",
        object(
            &["mfa_setup_required", "mfa_token"],
            json!({
                "mfa_setup_required": { "const": true },
                "mfa_token": string("For POST /auth/mfa/setup and /auth/mfa/confirm, which then finishes the sign-in.")
            }),
        ),
    );
    add(
        "MfaSetup",
        object(
            &["secret", "qr_code", "otpauth_url"],
            json!({
                "secret": string("The TOTP secret, base32."),
                "qr_code": string("A PNG of otpauth_url as a data: URL."),
                "otpauth_url": string("otpauth://totp/… for authenticator apps.")
            }),
        ),
    );
    add(
        "BackupCodes",
        object(&["backup_codes"], json!({ "backup_codes": strings("Ten single-use codes, shown once.") })),
    );
    add(
        "TokenResponseWithBackupCodes",
        json!({
            "allOf": [schema_ref("TokenResponse"), schema_ref("BackupCodes")]
        }),
    );
    add(
        "IssuedVerificationCode",
        object(&["code", "expires_at"], json!({ "code": { "type": "string" }, "expires_at": timestamp() })),
    );
    add(
        "IssuedResetToken",
        object(&["token", "expires_at"], json!({ "token": { "type": "string" }, "expires_at": timestamp() })),
    );

    // ---- tenant administration ------------------------------------------------------
    add(
        "Settings",
        json!({
            "type": "object",
            "description": "The tenant's settings (TenantSettings), every number within its allowed range.",
            "required": [
                "display_name", "access_token_ttl_seconds", "refresh_token_ttl_seconds",
                "session_idle_timeout_seconds", "session_max_lifetime_seconds", "refresh_reuse_grace_seconds",
                "lockout_threshold", "lockout_window_seconds", "password_min_length", "password_min_classes",
                "password_history", "self_registration", "require_verified_email", "mfa_policy", "reset_url"
            ],
            "properties": settings_properties()
        }),
    );
    add(
        "SettingsUpdate",
        json!({
            "type": "object",
            "description": "Any subset of the settings; absent keys keep their value, unknown keys are refused.",
            "additionalProperties": false,
            "properties": settings_properties()
        }),
    );
    let named_entry = |what: &str| {
        object(
            &["id", "name", "description", "built_in", "created_at", "updated_at"],
            json!({
                "id": uuid(),
                "name": string(what),
                "description": { "type": ["string", "null"] },
                "built_in": { "type": "boolean", "description": "Built-in entries can be granted but not renamed or deleted." },
                "created_at": timestamp(),
                "updated_at": timestamp()
            }),
        )
    };
    add("Role", named_entry("1 to 100 characters, unique in the tenant."));
    add("Permission", named_entry("`resource:action` (a-z, 0-9, _ . - *), unique in the tenant."));
    add(
        "RoleRequest",
        optional_fields(
            &[],
            json!({
                "name": display_name(100, "Required on create: 1 to 100 characters once trimmed, no control characters."),
                "description": { "type": "string", "maxLength": 500 }
            }),
        ),
    );
    add(
        "PermissionRequest",
        optional_fields(
            &[],
            json!({
                "name": {
                    "type": "string",
                    "maxLength": 100,
                    "pattern": "^[a-z0-9_.*-]+:[a-z0-9_.*-]+$",
                    "description": "Required on create: `resource:action`, each of a-z, 0-9, `_ . - *`, at most 100 characters."
                },
                "description": { "type": "string", "maxLength": 500 }
            }),
        ),
    );
    add("PermissionLink", closed(&["permission_id"], json!({ "permission_id": uuid() })));
    add("RoleLink", closed(&["role_id"], json!({ "role_id": uuid() })));
    add(
        "Client",
        object(
            &[
                "id",
                "client_id",
                "name",
                "type",
                "redirect_uris",
                "post_logout_redirect_uris",
                "grant_types",
                "scopes",
                "first_party",
                "access_token_ttl_seconds",
                "refresh_token_ttl_seconds",
                "created_at",
                "updated_at",
            ],
            json!({
                "id": uuid(),
                "client_id": { "type": "string", "format": "uuid", "description": "The same as id." },
                "name": { "type": "string" },
                "type": { "type": "string", "enum": ["public", "confidential"] },
                "redirect_uris": strings(""),
                "post_logout_redirect_uris": strings(""),
                "grant_types": {
                    "type": "array",
                    "items": { "type": "string", "enum": ["authorization_code", "refresh_token", "client_credentials"] }
                },
                "scopes": strings(""),
                "first_party": { "type": "boolean", "description": "First-party clients skip the consent page." },
                "access_token_ttl_seconds": { "type": ["integer", "null"], "description": "Null: the tenant's setting." },
                "refresh_token_ttl_seconds": { "type": ["integer", "null"], "description": "Null: the tenant's setting." },
                "client_secret": string("Only in the answer that creates a confidential client: shown once."),
                "created_at": timestamp(),
                "updated_at": timestamp()
            }),
        ),
    );
    add(
        "ClientRequest",
        optional_fields(
            &[],
            json!({
                "name": display_name(100, "Required on create: 1 to 100 characters once trimmed, no control characters."),
                "type": { "type": "string", "enum": ["public", "confidential"], "description": "Default confidential; cannot change later." },
                "redirect_uris": { "type": "array", "maxItems": 20, "items": { "type": "string", "format": "uri" } },
                "post_logout_redirect_uris": { "type": "array", "maxItems": 20, "items": { "type": "string", "format": "uri" } },
                "grant_types": {
                    "type": "array",
                    "minItems": 1,
                    "items": { "type": "string", "enum": ["authorization_code", "refresh_token", "client_credentials"] },
                    "description": "Default authorization_code and refresh_token. client_credentials only for a confidential client; authorization_code needs a redirect URI."
                },
                "scopes": { "type": "array", "maxItems": 50, "items": { "type": "string", "minLength": 1, "pattern": "^[\\u0021\\u0023-\\u005b\\u005d-\\u007e]+$" }, "description": "Scope tokens (RFC 6749 §3.3). `ovlt:api` (tokens for ovlt's own API, asked for by name) only on a first-party client, set by a tenant admin." },
                "first_party": { "type": "boolean", "description": "Skips the consent page; only a tenant admin may set it." },
                "access_token_ttl_seconds": { "type": ["integer", "null"], "minimum": 60, "maximum": 86_400, "description": "Null clears the override." },
                "refresh_token_ttl_seconds": { "type": ["integer", "null"], "minimum": 60, "maximum": 31_536_000, "description": "Null clears the override." }
            }),
        ),
    );
    add("ClientSecret", object(&["client_secret"], json!({ "client_secret": string("Shown once.") })));
    add(
        "Session",
        object(
            &["id", "user_id", "client_id", "ip", "user_agent", "created_at", "last_seen_at", "expires_at"],
            json!({
                "id": uuid(),
                "user_id": uuid(),
                "client_id": { "type": ["string", "null"], "description": "The OAuth client, for sessions issued to one." },
                "ip": { "type": ["string", "null"] },
                "user_agent": { "type": ["string", "null"] },
                "created_at": timestamp(),
                "last_seen_at": timestamp(),
                "expires_at": timestamp()
            }),
        ),
    );
    add(
        "AuditEvent",
        object(
            &[
                "id",
                "actor_type",
                "actor_id",
                "action",
                "target_type",
                "target_id",
                "outcome",
                "ip",
                "user_agent",
                "request_id",
                "details",
                "created_at",
            ],
            json!({
                "id": uuid(),
                "actor_type": { "type": "string", "enum": ["admin_key", "cli", "system", "user", "client", "anonymous"] },
                "actor_id": { "type": ["string", "null"] },
                "action": string("e.g. `user.created`, `login.failed`."),
                "target_type": { "type": ["string", "null"] },
                "target_id": { "type": ["string", "null"] },
                "outcome": { "type": ["string", "null"], "enum": ["success", "failure", null] },
                "ip": { "type": ["string", "null"] },
                "user_agent": { "type": ["string", "null"] },
                "request_id": { "type": ["string", "null"] },
                "details": { "type": ["object", "null"] },
                "created_at": timestamp()
            }),
        ),
    );
    add(
        "IdentityProvider",
        object(
            &[
                "id",
                "name",
                "kind",
                "client_id",
                "has_secret",
                "issuer",
                "scopes",
                "enabled",
                "created_at",
                "updated_at",
            ],
            json!({
                "id": uuid(),
                "name": { "type": "string" },
                "kind": { "type": "string", "enum": ["google", "github", "oidc"] },
                "client_id": { "type": "string" },
                "has_secret": { "type": "boolean", "description": "The secret itself is never returned." },
                "issuer": { "type": ["string", "null"], "description": "As stored: https (http only for localhost), possibly an IRI." },
                "scopes": strings(""),
                "enabled": { "type": "boolean" },
                "created_at": timestamp(),
                "updated_at": timestamp()
            }),
        ),
    );
    add(
        "IdentityProviderRequest",
        optional_fields(
            &[],
            json!({
                "name": display_name(100, "Required on create: 1 to 100 characters, no control characters."),
                "kind": { "type": "string", "enum": ["google", "github", "oidc"], "description": "Required on create." },
                "client_id": { "type": "string", "minLength": 1, "maxLength": 512, "description": "Required on create." },
                "client_secret": { "type": "string", "minLength": 1, "maxLength": 1024, "description": "Sealed; a PUT without it keeps the stored one." },
                "issuer": {
                    "anyOf": [
                        { "type": "string", "pattern": "^(https://[^/?#@\\s]+|http://(localhost|127\\.0\\.0\\.1)(:[0-9]+)?)(/[^?#\\s]*)?$" },
                        { "const": "", "description": "Clears it." }
                    ],
                    "description": "Required for oidc: https (http only for localhost), without query or fragment; not checked further (an IRI is accepted)."
                },
                "scopes": { "type": "array", "maxItems": 50, "items": { "type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[\\u0021\\u0023-\\u005b\\u005d-\\u007e]+$" } },
                "enabled": { "type": "boolean" }
            }),
        ),
    );

    // ---- OAuth / OpenID Connect ------------------------------------------------------
    add(
        "AuthorizationRequest",
        object(
            &["client_id", "response_type"],
            json!({
                "client_id": uuid(),
                "redirect_uri": string("Must be registered; may be left out when the client has exactly one."),
                "response_type": { "const": "code" },
                "response_mode": { "const": "query" },
                "scope": string("Space-separated; default: the client's scopes without offline_access."),
                "state": { "type": "string", "maxLength": 2048 },
                "nonce": { "type": "string", "maxLength": 512 },
                "code_challenge": string("S256 challenge, 43 base64url characters; required for public clients."),
                "code_challenge_method": { "const": "S256" },
                "prompt": string("Space-separated: none, login, consent, select_account (none alone)."),
                "max_age": { "type": "integer", "minimum": 0 },
                "login_hint": { "type": "string" }
            }),
        ),
    );
    add(
        "TokenRequest",
        form(
            &["grant_type"],
            json!({
                "grant_type": { "type": "string", "enum": ["authorization_code", "client_credentials", "refresh_token"] },
                "code": string("authorization_code: the code."),
                "redirect_uri": string("authorization_code: the authorization request's redirect URI."),
                "code_verifier": string("authorization_code with PKCE: 43 to 128 unreserved characters."),
                "refresh_token": string("refresh_token: the token to rotate."),
                "scope": string("client_credentials: a subset of the client's scopes; refresh_token: may not widen the granted scope."),
                "client_id": string("client_secret_post, or a public client."),
                "client_secret": string("client_secret_post.")
            }),
        ),
    );
    add(
        "TokenOnlyRequest",
        form(
            &["token"],
            json!({
                "token": { "type": "string", "minLength": 1, "description": "An access token or a refresh token." },
                "client_id": string("client_secret_post, or a public client."),
                "client_secret": string("client_secret_post.")
            }),
        ),
    );
    add(
        "Introspection",
        json!({
            "type": "object",
            "description": "RFC 7662: `{\"active\": false}` for any token that is not live in the tenant; otherwise its claims.",
            "required": ["active"],
            "properties": {
                "active": { "type": "boolean" },
                "token_type": { "type": "string", "enum": ["Bearer", "refresh_token"] },
                "scope": { "type": "string" },
                "client_id": { "type": "string" },
                "sub": { "type": "string" },
                "aud": { "type": "string", "description": "Access tokens only." },
                "iss": { "type": "string" },
                "exp": { "type": "integer" },
                "iat": { "type": "integer", "description": "Access tokens only." },
                "jti": { "type": "string", "description": "Access tokens only." },
                "tid": { "type": "string", "format": "uuid" },
                "sid": { "type": "string", "format": "uuid", "description": "Absent on client_credentials tokens." },
                "roles": strings("Access tokens only."),
                "permissions": strings("Access tokens only.")
            }
        }),
    );
    add(
        "UserInfo",
        object(
            &["sub"],
            json!({
                "sub": uuid(),
                "name": { "type": ["string", "null"], "description": "With the profile scope." },
                "updated_at": { "type": "integer", "description": "With the profile scope: Unix seconds." },
                "email": { "type": "string", "description": "With the email scope." },
                "email_verified": { "type": "boolean", "description": "With the email scope." }
            }),
        ),
    );
    add(
        "LogoutRequest",
        form(
            &[],
            json!({
                "id_token_hint": string("An ID token issued here (may have expired)."),
                "client_id": { "anyOf": [uuid(), { "const": "", "description": "As if absent." }] },
                "post_logout_redirect_uri": string("Followed only when registered for the client."),
                "state": { "type": "string" }
            }),
        ),
    );

    Value::Object(all)
}

fn settings_properties() -> Value {
    let seconds = |min: i64, max: i64| json!({ "type": "integer", "minimum": min, "maximum": max });
    const YEAR: i64 = 365 * 86_400;
    json!({
        "display_name": { "type": ["string", "null"], "maxLength": 200, "pattern": NO_CONTROL },
        "access_token_ttl_seconds": seconds(60, 86_400),
        "refresh_token_ttl_seconds": seconds(60, YEAR),
        "session_idle_timeout_seconds": seconds(60, YEAR),
        "session_max_lifetime_seconds": seconds(60, YEAR),
        "refresh_reuse_grace_seconds": seconds(0, 60),
        "lockout_threshold": { "type": "integer", "minimum": 0, "maximum": 1000, "description": "0 turns the lockout off." },
        "lockout_window_seconds": seconds(1, YEAR),
        "password_min_length": { "type": "integer", "minimum": 8, "maximum": 128 },
        "password_min_classes": { "type": "integer", "minimum": 1, "maximum": 4 },
        "password_history": { "type": "integer", "minimum": 0, "maximum": 24 },
        "self_registration": { "type": "boolean" },
        "require_verified_email": { "type": "boolean" },
        "mfa_policy": { "type": "string", "enum": ["off", "optional", "required"] },
        "reset_url": { "type": ["string", "null"], "pattern": "^(https://[^/?#@\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+|http://(localhost|127\\.0\\.0\\.1)(:[0-9]+)?)([/?#][^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*)?$", "description": "https (http only for localhost), without white space or control characters; not checked further (an IRI is accepted)." }
    })
}
