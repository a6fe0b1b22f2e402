//! Every operation of `src/http/mod.rs`, in its order. `tests/api/openapi.rs` fails when a
//! route there has no operation here, or an operation here no route.

use serde_json::{Value, json};

use super::builder::{Auth, Op, array_of, page_of, schema_ref};
use super::schemas::{email, new_password};

/// The fields of an authorization request, plus a hosted form's own fields.
fn hosted_form(required: &[&str], own: Value) -> Value {
    json!({
        "allOf": [
            schema_ref("AuthorizationRequest"),
            { "type": "object", "required": required, "properties": own }
        ]
    })
}

/// The query parameters of `GET /oauth/authorize`.
fn authorization_query(op: Op) -> Op {
    op.query("client_id", json!({ "type": "string", "format": "uuid" }), "Required: the client.")
        .query("redirect_uri", text("Must be registered"), "May be left out when the client has exactly one.")
        .query("response_type", json!({ "const": "code" }), "Required: `code`.")
        .query("response_mode", json!({ "const": "query" }), "Only `query`.")
        .query("scope", text("Space-separated"), "Default: the client's scopes without offline_access.")
        .query("state", json!({ "type": "string", "maxLength": 2048 }), "Returned with the redirect.")
        .query("nonce", json!({ "type": "string", "maxLength": 512 }), "Copied into the ID token.")
        .query("code_challenge", text("S256"), "PKCE; required for public clients.")
        .query("code_challenge_method", json!({ "const": "S256" }), "Only `S256`.")
        .query("prompt", text("Space-separated"), "none, login, consent, select_account.")
        .query("max_age", json!({ "type": "integer", "minimum": 0 }), "Maximum authentication age in seconds.")
        .query("login_hint", text("An email"), "Prefills the sign-in form.")
}

/// The answers of the authorization endpoint and the hosted pages that lead through it.
fn authorization_answers(op: Op) -> Op {
    op.html_pages()
        .redirect(
            "To the client's redirect URI with `code` (or `error` and `error_description`), `state` and `iss` \
             (RFC 9207).",
        )
        .html(
            200,
            "A hosted page: the sign-in form, the second-factor or authenticator enrolment form, or the consent form.",
        )
        .html(400, "An error page: no valid client or redirect URI (never a redirect then), or a malformed request.")
}

/// A hosted password-recovery page: public, HTML, its tenant named by the `tenant` parameter,
/// rate-limited per IP like /auth (the 429 is a page).
fn hosted_recovery(op: Op) -> Op {
    op.security(Auth::Public)
        .html_pages()
        .html(
            400,
            "The page again with what is wrong, or an error page: a malformed request (a missing or \
                    malformed `tenant` parameter, an expired form, a refused password).",
        )
        .html(404, "An error page: the tenant parameter names no active tenant.")
        .page_rate_limited()
}

fn user_id(op: Op) -> Op {
    op.path_param("id", "The user's id.").error(404, &["not_found"])
}

/// A schema with these properties required as well (a create request over its update schema).
fn required(schema: Value, names: &[&str]) -> Value {
    let present: serde_json::Map<String, Value> =
        names.iter().map(|name| (name.to_string(), json!({ "not": { "type": "null" } }))).collect();
    json!({ "allOf": [schema, { "type": "object", "required": names, "properties": present }] })
}

/// A string the server refuses when empty (an empty one reads as absent).
fn nonempty(description: &str) -> Value {
    json!({ "type": "string", "minLength": 1, "description": description })
}

/// A string the server trims before it checks it is there: at least one character that is not
/// white space in Rust's sense (`char::is_whitespace`, listed exactly: ECMA's `\s` differs).
fn nonblank(description: &str) -> Value {
    json!({ "type": "string", "pattern": NOT_ONLY_WHITESPACE, "description": description })
}

const NOT_ONLY_WHITESPACE: &str = "[^\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A query parameter where an empty value (`?name=`) reads as absent.
fn or_empty(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "const": "" }], "description": "Empty: as if absent." })
}

fn text(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

/// Every operation, in the router's order.
pub fn operations() -> Vec<Op> {
    [operations_and_oauth(), tenants(), auth(), administration()].into_iter().flatten().collect()
}

fn operations_and_oauth() -> Vec<Op> {
    vec![
        // ---- operations ---------------------------------------------------------------
        Op::new("get", "/health", "getHealth", "operations", "The process is up (never touches the database).")
            .security(Auth::Public)
            .json(200, "Up.", schema_ref("Health")),
        Op::new("get", "/ready", "getReady", "operations", "The database answers within two seconds.")
            .security(Auth::Public)
            .json(200, "Ready.", schema_ref("Ready"))
            .error(503, &["unavailable"]),
        Op::new(
            "get",
            "/.well-known/openid-configuration",
            "getOpenidConfiguration",
            "operations",
            "OpenID Connect Discovery / RFC 8414 metadata.",
        )
        .security(Auth::Public)
        .json(200, "The discovery document (cacheable for five minutes).", schema_ref("OpenIdConfiguration")),
        Op::new("get", "/.well-known/jwks.json", "getJwks", "operations", "The public signing keys (JWKS).")
            .security(Auth::Public)
            .content(200, "The key set (cacheable for five minutes).", "application/jwk-set+json", schema_ref("Jwks")),
        Op::new("get", "/openapi.json", "getOpenapi", "operations", "This OpenAPI 3.1 description of every endpoint.")
            .security(Auth::Public)
            .json(200, "The OpenAPI document.", json!({ "type": "object" })),
        // ---- OAuth 2.0 / OpenID Connect -------------------------------------------------
        authorization_answers(authorization_query(
            Op::new("get", "/oauth/authorize", "authorizeGet", "oauth", "The authorization endpoint (code flow).")
                .describe(
                    "No tenant header: the client names its tenant. Shows the sign-in form when the browser has \
                     no SSO session (or prompt=login / max_age demands a new sign-in), the consent form when the \
                     client is not first-party and the scopes are not granted yet, and otherwise redirects with a \
                     code.",
                )
                .security(Auth::Public),
        )),
        authorization_answers(
            Op::new("post", "/oauth/authorize", "authorizePost", "oauth", "The authorization endpoint, form-encoded.")
                .describe("The same request as GET, as an application/x-www-form-urlencoded body (OIDC Core §3.1.2.1).")
                .security(Auth::Public)
                .form_body(schema_ref("AuthorizationRequest")),
        ),
        authorization_answers(
            Op::new("post", "/oauth/consent", "consent", "oauth", "The consent form's Allow or Deny.")
                .describe(
                    "Allow saves the grant and redirects with a code; Deny redirects with `access_denied`. Without \
                     an SSO session the sign-in form is shown. CSRF-protected (the ovlt_csrf cookie and its field).",
                )
                .security(Auth::Public)
                .form_body(hosted_form(
                    &["csrf_token", "decision"],
                    json!({ "csrf_token": text("From the form."), "decision": { "enum": ["allow", "deny"] } }),
                )),
        ),
        Op::new("post", "/oauth/token", "token", "oauth", "The token endpoint (RFC 6749 §3.2).")
            .describe(
                "Grants: authorization_code (with PKCE), client_credentials (confidential clients) and \
                 refresh_token (rotated, bound to the client, reuse ends the session).",
            )
            .oauth()
            .security(Auth::Custom(vec![json!({ "clientBasic": [] }), json!({})]))
            .form_body(schema_ref("TokenRequest"))
            .json(200, "The tokens (Cache-Control: no-store).", schema_ref("OAuthTokenResponse"))
            .oauth_error(
                400,
                &["invalid_request", "unsupported_grant_type", "unauthorized_client", "invalid_grant", "invalid_scope"],
            )
            .oauth_error(401, &["invalid_client"]),
        Op::new("get", "/oauth/userinfo", "userinfoGet", "oauth", "Claims about the token's user (OIDC Core §5.3).")
            .describe(
                "No tenant header: the token names its tenant. `name` and `updated_at` with the profile scope, \
                 `email` and `email_verified` with the email scope.",
            )
            .security(Auth::Bearer)
            .json(200, "The user's claims, as far as the token's scope grants them.", schema_ref("UserInfo"))
            .error(403, &["forbidden"]),
        Op::new("post", "/oauth/userinfo", "userinfoPost", "oauth", "Claims about the token's user, by POST.")
            .describe("The same as GET /oauth/userinfo.")
            .security(Auth::Bearer)
            .json(200, "The user's claims, as far as the token's scope grants them.", schema_ref("UserInfo"))
            .error(403, &["forbidden"]),
        Op::new("post", "/oauth/introspect", "introspect", "oauth", "Token introspection (RFC 7662).")
            .describe(
                "A confidential client asks about any token of its tenant; or the operator, with the admin key \
                 and a tenant header. Expired, revoked, malformed and other tenants' tokens are all \
                 `{\"active\": false}`. The tenant headers are read only with the admin key (their failures \
                 are then 400 invalid_request).",
            )
            .oauth()
            .security(Auth::Custom(vec![json!({ "clientBasic": [] }), json!({ "adminKey": [] }), json!({})]))
            .tenant_headers()
            .form_body(schema_ref("TokenOnlyRequest"))
            .json(200, "The token's state (Cache-Control: no-store).", schema_ref("Introspection"))
            .oauth_error(400, &["invalid_request"])
            .oauth_error(401, &["invalid_client"]),
        Op::new("post", "/oauth/revoke", "oauthRevoke", "oauth", "Token revocation (RFC 7009).")
            .describe(
                "The client's own refresh token ends its session; its own access token is refused from then \
                 on. 200 whatever the token: unknown, expired or another client's tokens are left alone.",
            )
            .oauth()
            .security(Auth::Custom(vec![json!({ "clientBasic": [] }), json!({})]))
            .form_body(schema_ref("TokenOnlyRequest"))
            .empty(200, "Done (or nothing to do); no body.")
            .oauth_error(400, &["invalid_request"])
            .oauth_error(401, &["invalid_client"]),
        Op::new("get", "/oauth/logout", "endSessionGet", "oauth", "RP-initiated logout (the end_session_endpoint).")
            .describe(
                "With an id_token_hint for the browser's current session the SSO session ends at once; otherwise \
                 a confirmation page is shown first.",
            )
            .security(Auth::Public)
            .query("id_token_hint", text("An ID token"), "An ID token issued here (may have expired).")
            .query("client_id", or_empty(json!({ "type": "string", "format": "uuid" })), "The client.")
            .query("post_logout_redirect_uri", text("A URI"), "Followed only when registered for the client.")
            .query("state", text("Opaque"), "Returned with the redirect.")
            .html_pages()
            .html(200, "The confirmation page, or the signed-out page.")
            .redirect("To the registered post_logout_redirect_uri, with `state`.")
            .html(400, "An error page: a bad id_token_hint or client."),
        Op::new(
            "post",
            "/oauth/logout",
            "endSessionPost",
            "oauth",
            "RP-initiated logout, form-encoded, or its confirmation.",
        )
        .describe("The same request as GET, or the confirmation form (`confirm=yes` with its CSRF token).")
        .security(Auth::Public)
        .optional_form_body(json!({
            "allOf": [
                schema_ref("LogoutRequest"),
                {
                    "type": "object",
                    "properties": {
                        "confirm": text("`yes` confirms (with the CSRF token); anything else shows the confirmation page."),
                        "csrf_token": text("From the form.")
                    }
                }
            ]
        }))
        .html_pages()
        .html(200, "The confirmation page, or the signed-out page.")
        .redirect("To the registered post_logout_redirect_uri, with `state`.")
        .html(400, "An error page: a bad id_token_hint or client."),
    ]
}

fn tenants() -> Vec<Op> {
    vec![
        // ---- tenants (operator) ---------------------------------------------------------
        Op::new("get", "/tenants", "listTenants", "tenants", "Every tenant, oldest first.")
            .security(Auth::AdminKey)
            .paginated()
            .json(200, "A page of tenants.", page_of(schema_ref("Tenant"))),
        Op::new(
            "post",
            "/tenants",
            "createTenant",
            "tenants",
            "Creates a tenant (with its admin role and permissions).",
        )
        .security(Auth::AdminKey)
        .json_body(schema_ref("CreateTenantRequest"), true)
        .json(201, "Created.", schema_ref("Tenant"))
        .response_header(201, "Location", "/tenants/{id}")
        .error(409, &["conflict"]),
        Op::new("get", "/tenants/slugs", "listTenantSlugs", "tenants", "Only the tenants' slugs, alphabetically.")
            .security(Auth::AdminKey)
            .paginated()
            .json(200, "A page of slugs.", page_of(json!({ "type": "string" }))),
        Op::new("get", "/tenants/{id}", "getTenant", "tenants", "One tenant.")
            .security(Auth::AdminKey)
            .path_param("id", "The tenant's id.")
            .json(200, "The tenant.", schema_ref("Tenant"))
            .error(404, &["not_found"]),
        Op::new("patch", "/tenants/{id}", "updateTenant", "tenants", "Renames, disables or enables a tenant.")
            .describe("`active: false` disables the tenant at once on this instance, within 5 s on the others.")
            .security(Auth::AdminKey)
            .path_param("id", "The tenant's id.")
            .json_body(schema_ref("UpdateTenantRequest"), true)
            .json(200, "The tenant.", schema_ref("Tenant"))
            .error(404, &["not_found"]),
        Op::new("delete", "/tenants/{id}", "deleteTenant", "tenants", "Deletes a tenant and everything it owns.")
            .security(Auth::AdminKey)
            .path_param("id", "The tenant's id.")
            .empty(204, "Deleted.")
            .error(404, &["not_found"]),
        Op::new("get", "/tenant", "getCurrentTenant", "tenants", "The addressed tenant's public facts.")
            .security(Auth::Public)
            .tenant()
            .json(200, "The tenant.", schema_ref("PublicTenant")),
    ]
}

fn auth() -> Vec<Op> {
    vec![
        // ---- a tenant's users: /auth (rate-limited per IP) ------------------------------
        Op::new("post", "/auth/register", "register", "auth", "Self-registration, when the tenant allows it.")
            .describe("Emails a verification code.")
            .security(Auth::Public)
            .tenant()
            .rate_limited()
            .json_body(
                json!({
                    "type": "object",
                    "required": ["email", "password"],
                    "properties": {
                        "email": email(),
                        "password": new_password(),
                        "name": { "type": "string", "maxLength": 200, "pattern": super::schemas::NO_CONTROL }
                    }
                }),
                true,
            )
            .json(201, "The new user.", schema_ref("User"))
            .error(403, &["forbidden"])
            .error(409, &["conflict"]),
        Op::new("post", "/auth/login", "login", "auth", "Signs in with email and password.")
            .describe(
                "Answers the tokens; for a user with MFA and no inline code `MfaRequired`; when the tenant \
                 requires MFA of a user without it `MfaSetupRequired`. An unknown email, a wrong password and a \
                 locked account answer the same 401 invalid_credentials. In session mode the refresh token goes \
                 into the ovlt_refresh cookie instead of the body.",
            )
            .security(Auth::Public)
            .tenant()
            .rate_limited()
            .json_body(
                json!({
                    "type": "object",
                    "required": ["email", "password"],
                    "not": {
                        "anyOf": [
                            { "required": ["otp", "totp_code"] },
                            { "required": ["totp_code", "backup_code"] },
                            { "required": ["otp", "backup_code"] }
                        ]
                    },
                    "properties": {
                        "email": nonblank("The user's email."),
                        "password": nonblank("The user's password."),
                        "mode": { "const": "session", "description": "The refresh token in an HttpOnly cookie." },
                        "otp": text("A TOTP code, for both steps at once."),
                        "totp_code": text("Alias of otp."),
                        "backup_code": text("Or one of the user's backup codes.")
                    }
                }),
                true,
            )
            .json(
                200,
                "Signed in, or the second step needed.",
                json!({
                    "oneOf": [schema_ref("TokenResponse"), schema_ref("MfaRequired"), schema_ref("MfaSetupRequired")]
                }),
            )
            .response_header(200, "Set-Cookie", "Session mode: the ovlt_refresh cookie.")
            .error(401, &["invalid_credentials", "invalid_otp"])
            .error(403, &["user_suspended", "email_not_verified"])
            .error(503, &["unavailable"]),
        Op::new("post", "/auth/refresh", "refresh", "auth", "Rotates a refresh token for a new pair.")
            .describe(
                "The token comes from the body or the ovlt_refresh cookie; the presented token is dead from then \
                 on. Presenting a rotated token again ends the whole session (unless within the tenant's grace \
                 window). The body may be empty.",
            )
            .security(Auth::Custom(vec![json!({ "refreshCookie": [] }), json!({})]))
            .tenant()
            .rate_limited()
            .json_body(
                json!({
                    "type": "object",
                    "properties": {
                        "refresh_token": nonempty("Required unless the cookie carries it."),
                        "mode": { "const": "session" }
                    }
                }),
                false,
            )
            .json(200, "A new pair.", schema_ref("TokenResponse"))
            .response_header(200, "Set-Cookie", "Session mode: the ovlt_refresh cookie.")
            .error(401, &["invalid_token"]),
        Op::new(
            "post",
            "/auth/logout",
            "logout",
            "auth",
            "Ends the session of a bearer token, refresh cookie or refresh token.",
        )
        .describe("Its refresh tokens die and its access tokens are refused from then on. The body may be empty.")
        .security(Auth::Custom(vec![json!({ "bearer": [] }), json!({ "refreshCookie": [] }), json!({})]))
        .tenant()
        .rate_limited()
        .json_body(json!({ "type": "object", "properties": { "refresh_token": { "type": "string" } } }), false)
        .empty(204, "Signed out; the ovlt_refresh cookie is cleared.")
        .response_header(204, "Set-Cookie", "Clears the ovlt_refresh cookie.")
        .error(401, &["invalid_token"]),
        Op::new("post", "/auth/revoke", "revoke", "auth", "Revokes one of the caller's own tokens (RFC 7009 style).")
            .describe(
                "The caller's own refresh token ends its session; the caller's own access token is refused from \
                 then on. Anybody else's token, or an unknown one, is left alone: 200 in every case.",
            )
            .security(Auth::Bearer)
            .tenant()
            .rate_limited()
            .json_body(
                json!({
                    "type": "object",
                    "required": ["token"],
                    "properties": { "token": text("An access or refresh token.") }
                }),
                true,
            )
            .empty(200, "Done (or nothing to do); no body."),
        Op::new("post", "/auth/verify-otp", "verifyOtp", "auth", "Verifies the user's email with the emailed code.")
            .security(Auth::Public)
            .tenant()
            .rate_limited()
            .json_body(
                json!({
                    "type": "object",
                    "required": ["email"],
                    "anyOf": [{ "required": ["code"] }, { "required": ["otp"] }],
                    "properties": {
                        "email": nonempty("The user's email."),
                        "code": nonempty("The emailed code."),
                        "otp": nonempty("Alias of code.")
                    }
                }),
                true,
            )
            .json(200, "The user, now verified.", schema_ref("User"))
            .error(400, &["invalid_code"]),
        Op::new(
            "post",
            "/auth/forgot-password",
            "forgotPassword",
            "auth",
            "Emails a password-reset link (answers 200).",
        )
        .describe("The same answer, at the same speed, whether or not the email is registered.")
        .security(Auth::Public)
        .tenant()
        .rate_limited()
        .json_body(password_request(), true)
        .json(200, "Accepted.", schema_ref("Message")),
        Op::new(
            "post",
            "/auth/password/request",
            "requestPasswordReset",
            "auth",
            "Emails a password-reset link (answers 204).",
        )
        .describe("The same answer, at the same speed, whether or not the email is registered.")
        .security(Auth::Public)
        .tenant()
        .rate_limited()
        .json_body(password_request(), true)
        .empty(204, "Accepted."),
        Op::new(
            "post",
            "/auth/reset-password",
            "resetPassword",
            "auth",
            "Sets a new password with a reset token (answers 200).",
        )
        .describe("Every session of the user ends.")
        .security(Auth::Public)
        .tenant()
        .rate_limited()
        .json_body(password_reset(), true)
        .json(200, "Changed.", schema_ref("Message"))
        .error(400, &["invalid_token"]),
        Op::new(
            "post",
            "/auth/password/reset",
            "passwordReset",
            "auth",
            "Sets a new password with a reset token (answers 204).",
        )
        .describe("Every session of the user ends.")
        .security(Auth::Public)
        .tenant()
        .rate_limited()
        .json_body(password_reset(), true)
        .empty(204, "Changed.")
        .error(400, &["invalid_token"]),
        Op::new("post", "/auth/mfa/setup", "mfaSetup", "mfa", "Starts TOTP enrolment: a pending authenticator.")
            .describe(
                "With a bearer token, or the enrolment mfa_token a login answered (MfaSetupRequired). Replaces \
                 any earlier pending authenticator; 409 when MFA is already on. The body may be empty.",
            )
            .security(Auth::Custom(vec![json!({ "bearer": [] }), json!({})]))
            .tenant()
            .rate_limited()
            .json_body(
                json!({ "type": "object", "properties": { "mfa_token": text("Without a bearer token.") } }),
                false,
            )
            .json(200, "The authenticator to add to an app.", schema_ref("MfaSetup"))
            .error(401, &["invalid_token"])
            .error(403, &["forbidden"])
            .error(409, &["conflict"]),
        Op::new("post", "/auth/mfa/confirm", "mfaConfirm", "mfa", "Confirms enrolment with a code; MFA is on.")
            .describe(
                "Answers ten backup codes (shown once); with an enrolment mfa_token the login it stood for goes \
                 through and the answer carries the tokens too.",
            )
            .security(Auth::Custom(vec![json!({ "bearer": [] }), json!({})]))
            .tenant()
            .rate_limited()
            .json_body(
                json!({
                    "type": "object",
                    "anyOf": [{ "required": ["totp_code"] }, { "required": ["otp"] }],
                    "not": { "required": ["otp", "totp_code"] },
                    "properties": {
                        "totp_code": nonempty("The app's current code."),
                        "otp": nonempty("Alias of totp_code."),
                        "mfa_token": text("Without a bearer token."),
                        "mode": { "const": "session" }
                    }
                }),
                true,
            )
            .json(
                200,
                "The backup codes, and the tokens when an mfa_token finished a sign-in.",
                json!({ "oneOf": [schema_ref("BackupCodes"), schema_ref("TokenResponseWithBackupCodes")] }),
            )
            .error(400, &["invalid_payload"])
            .error(401, &["invalid_otp", "invalid_token"])
            .error(403, &["forbidden"])
            .error(409, &["conflict"]),
        Op::new(
            "post",
            "/auth/mfa/challenge",
            "mfaChallenge",
            "mfa",
            "The second step of a login that answered MfaRequired.",
        )
        .describe("A wrong code leaves the mfa_token usable (it dies after five); the first right one consumes it.")
        .security(Auth::Public)
        .tenant()
        .rate_limited()
        .json_body(
            json!({
                "type": "object",
                "required": ["mfa_token"],
                "anyOf": [{ "required": ["totp_code"] }, { "required": ["otp"] }, { "required": ["backup_code"] }],
                "not": {
                    "anyOf": [
                        { "required": ["otp", "totp_code"] },
                        { "required": ["totp_code", "backup_code"] },
                        { "required": ["otp", "backup_code"] }
                    ]
                },
                "properties": {
                    "mfa_token": nonempty("From the login's MfaRequired answer."),
                    "totp_code": nonempty("A TOTP code (or backup_code)."),
                    "otp": nonempty("Alias of totp_code."),
                    "backup_code": nonempty("A backup code instead."),
                    "email": text("May name the user; must then be the mfa_token's user."),
                    "mode": { "const": "session" }
                }
            }),
            true,
        )
        .json(200, "Signed in.", schema_ref("TokenResponse"))
        .response_header(200, "Set-Cookie", "Session mode: the ovlt_refresh cookie.")
        .error(401, &["invalid_token", "invalid_otp"]),
        Op::new("post", "/auth/mfa/disable", "mfaDisable", "mfa", "Turns MFA off with a current code.")
            .describe("The authenticator and backup codes are gone, and every other session of the user ends.")
            .security(Auth::Bearer)
            .tenant()
            .rate_limited()
            .json_body(mfa_code(true), true)
            .empty(204, "MFA is off.")
            .error(401, &["invalid_otp"])
            .error(409, &["conflict"]),
        Op::new("post", "/auth/mfa/backup-codes", "mfaRegenerateBackupCodes", "mfa", "Replaces the backup codes.")
            .describe("Ten new codes; the old ones die. Needs a TOTP code (not a backup code).")
            .security(Auth::Bearer)
            .tenant()
            .rate_limited()
            .json_body(mfa_code(false), true)
            .json(200, "The new codes, shown once.", schema_ref("BackupCodes"))
            .error(401, &["invalid_otp"])
            .error(409, &["conflict"]),
        authorization_answers(
            Op::new("post", "/oauth/sign-in", "hostedSignIn", "oauth", "The hosted sign-in form.")
                .describe(
                    "A correct password starts the browser's SSO session (cookie) and the authorization carries \
                     on (MFA form, consent form or redirect); anything else shows the form again with what went \
                     wrong (400, 401, 403). Rate-limited per IP like /auth (the 429 is a page).",
                )
                .security(Auth::Public)
                .form_body(hosted_form(
                    &["csrf_token", "email", "password"],
                    json!({
                        "csrf_token": text("From the form."),
                        "email": { "type": "string" },
                        "password": { "type": "string" }
                    }),
                )),
        )
        .html(400, "The sign-in form again (an expired form, a missing email or password), or an error page.")
        .html(401, "The sign-in form again: incorrect email or password.")
        .html(403, "The sign-in form again: a suspended or unverified account.")
        .page_rate_limited(),
        authorization_answers(
            Op::new("post", "/oauth/mfa", "hostedMfa", "oauth", "The hosted second-factor form.")
                .describe(
                    "Takes the authenticator's six digits or a backup code; the mfa_token from the password step \
                     rides in a hidden field. Rate-limited per IP like /auth (the 429 is a page).",
                )
                .security(Auth::Public)
                .form_body(hosted_form(
                    &["csrf_token", "mfa_token", "code"],
                    json!({
                        "csrf_token": text("From the form."),
                        "mfa_token": { "type": "string" },
                        "code": text("Six digits, or a backup code.")
                    }),
                )),
        )
        .html(400, "The MFA form again (no code), the sign-in form (an expired form or sign-in), or an error page.")
        .html(401, "The MFA form again: a wrong or used code.")
        .page_rate_limited(),
        Op::new("post", "/oauth/mfa/enrol", "hostedMfaEnrol", "oauth", "The hosted authenticator enrolment form.")
                .describe(
                    "Shown after the password when the tenant's mfa_policy is required and the user has no \
                     authenticator: the first six digits from the new authenticator turn MFA on, start the SSO \
                     session and show the ten backup codes once, with a button that carries on with the \
                     authorization. Rate-limited per IP like /auth (the 429 is a page).",
                )
                .security(Auth::Public)
                .form_body(hosted_form(
                    &["csrf_token", "mfa_token", "code"],
                    json!({
                        "csrf_token": text("From the form."),
                        "mfa_token": { "type": "string" },
                        "code": text("Six digits.")
                    }),
                ))
        .html_pages()
        .html(200, "The backup codes page (with the SSO session cookie).")
        .html(400, "The enrolment form again (not six digits), the sign-in form (an expired form or sign-in), or an error page.")
        .html(401, "The enrolment form again: a wrong code.")
        .page_rate_limited(),
        hosted_recovery(
            Op::new(
                "get",
                "/oauth/forgot-password",
                "hostedForgotPasswordForm",
                "oauth",
                "The hosted forgot-password form.",
            )
            .describe("Linked from the sign-in page when the tenant has no reset_url of its own.")
            .query("tenant", json!({ "type": "string", "pattern": "^[a-z0-9-]{2,63}$" }), "The tenant's slug (required)."),
        )
        .html(200, "The email form."),
        hosted_recovery(
            Op::new("post", "/oauth/forgot-password", "hostedForgotPassword", "oauth", "Sends a password-reset link.")
                .describe(
                    "The link goes to the tenant's reset_url, else the hosted reset page. The same page, at the same \
                     speed, whether or not the email is registered.",
                )
                .form_body(json!({
                    "type": "object",
                    "required": ["tenant", "csrf_token", "email"],
                    "properties": {
                        "tenant": text("The tenant's slug."),
                        "csrf_token": text("From the form."),
                        "email": email()
                    }
                })),
        )
        .html(200, "The link is on its way (if the address is registered).")
        .html(400, "The form again: an expired form or a malformed email."),
        hosted_recovery(
            Op::new(
                "get",
                "/oauth/reset-password",
                "hostedResetPasswordForm",
                "oauth",
                "The hosted new-password form.",
            )
            .describe("The page the emailed reset link opens; the token is only carried here, checked on POST.")
            .query("tenant", json!({ "type": "string", "pattern": "^[a-z0-9-]{2,63}$" }), "The tenant's slug (required).")
            .query("token", json!({ "type": "string" }), "The reset token from the email."),
        )
        .html(200, "The new-password form."),
        hosted_recovery(
            Op::new(
                "post",
                "/oauth/reset-password",
                "hostedResetPassword",
                "oauth",
                "Spends a reset token on a new password.",
            )
            .describe("Every session of the user ends.")
            .form_body(json!({
                "type": "object",
                "required": ["tenant", "csrf_token", "token", "password", "password_confirmation"],
                "properties": {
                    "tenant": text("The tenant's slug."),
                    "csrf_token": text("From the form."),
                    "token": text("The reset token."),
                    "password": text("Checked against the password policy and history."),
                    "password_confirmation": text("The same password again.")
                }
            })),
        )
        .html(200, "Password changed.")
        .html(
            400,
            "The form again (an expired form, mismatched or refused password), or an error page (an expired or \
             used token).",
        ),
        // ---- the signed-in user ---------------------------------------------------------
        Op::new("get", "/users/me", "getMe", "users", "The signed-in user.").security(Auth::Bearer).tenant().json(
            200,
            "The user.",
            schema_ref("User"),
        ),
        Op::new("put", "/users/me/password", "changeMyPassword", "users", "Changes the signed-in user's password.")
            .describe("Every other session of the user ends. A wrong current password counts as a failed login.")
            .security(Auth::Bearer)
            .tenant()
            .json_body(
                json!({
                    "type": "object",
                    "required": ["current_password", "new_password"],
                    "properties": {
                        "current_password": { "type": "string" },
                        "new_password": text("Checked against the password policy and history.")
                    }
                }),
                true,
            )
            .empty(204, "Changed."),
    ]
}

/// The no-escalation rule of `users:write` (docs/decisions/0009).
const NO_ESCALATION: &str = "Refused (403 forbidden) when the user holds a permission the caller lacks, unless the \
                             caller is the admin key or a tenant admin.";
/// Admin-equivalent client changes (docs/decisions/0009).
const ADMIN_CLIENTS: &str = "Marking a client first_party, giving it the ovlt:api scope, and changing, rotating or \
                             deleting a client that holds it are a tenant admin's (403 forbidden otherwise).";

fn administration() -> Vec<Op> {
    vec![
        // ---- tenant administration ------------------------------------------------------
        Op::new("get", "/users", "listUsers", "users", "The tenant's users, newest first.")
            .security(Auth::Manage("users:read"))
            .tenant()
            .paginated()
            .query("email", json!({ "type": "string" }), "Only this email.")
            .query("status", or_empty(json!({ "type": "string", "enum": ["active", "suspended"] })), "Only this status.")
            .json(200, "A page of users.", page_of(schema_ref("User"))),
        Op::new("post", "/users", "createUser", "users", "Creates a user.")
            .security(Auth::Manage("users:write"))
            .tenant()
            .json_body(schema_ref("CreateUserRequest"), true)
            .json(201, "The new user.", schema_ref("User"))
            .error(409, &["conflict"]),
        user_id(
            Op::new("get", "/users/{id}", "getUser", "users", "One user.")
                .security(Auth::Manage("users:read"))
                .tenant(),
        )
        .json(200, "The user.", schema_ref("User")),
        user_id(
            Op::new("put", "/users/{id}", "updateUser", "users", "Changes a user; absent fields keep their value.")
                .describe(
                    "Suspension or a new password ends every session of the user. Refused (403 forbidden) when the \
                     user holds a permission the caller lacks, unless the caller is the admin key or a tenant admin.",
                )
                .security(Auth::Manage("users:write"))
                .tenant(),
        )
        .json_body(schema_ref("UpdateUserRequest"), true)
        .json(200, "The user.", schema_ref("User"))
        .error(409, &["conflict"]),
        user_id(
            Op::new("delete", "/users/{id}", "deleteUser", "users", "Deletes a user (the audit trail stays).")
                .describe(NO_ESCALATION)
                .security(Auth::Manage("users:write"))
                .tenant(),
        )
        .empty(204, "Deleted."),
        user_id(
            Op::new(
                "get",
                "/users/{id}/verification-code",
                "issueVerificationCode",
                "users",
                "Issues a fresh email verification code (testing without SMTP).",
            )
            .describe("Replaces any earlier code, exactly as the emailed one does. Audited.")
            .describe(NO_ESCALATION)
            .security(Auth::Manage("users:write"))
            .tenant(),
        )
        .json(200, "The code.", schema_ref("IssuedVerificationCode")),
        user_id(
            Op::new(
                "get",
                "/users/{id}/password-reset-token",
                "issuePasswordResetToken",
                "users",
                "Issues a fresh password-reset token (testing without SMTP).",
            )
            .describe("Replaces any earlier token, exactly as the emailed one does. Audited.")
            .describe(NO_ESCALATION)
            .security(Auth::Manage("users:write"))
            .tenant(),
        )
        .json(200, "The token.", schema_ref("IssuedResetToken")),
        user_id(
            Op::new("delete", "/users/{id}/mfa", "resetUserMfa", "mfa", "Removes a user's second factor.")
                .describe("They can sign in with their password and enrol again; every session of theirs ends.")
                .describe(NO_ESCALATION)
                .security(Auth::Manage("users:write"))
                .tenant(),
        )
        .empty(204, "Removed."),
        Op::new("get", "/settings", "getSettings", "settings", "The tenant's settings.")
            .security(Auth::Manage("settings:read"))
            .tenant()
            .json(200, "The settings.", schema_ref("Settings")),
        Op::new("put", "/settings", "putSettings", "settings", "Changes any subset of the tenant's settings.")
            .describe(
                "PUT of a GET answer changes nothing; unknown keys and out-of-range values are 400 with fields. \
                 Changing reset_url is a tenant admin's (403 forbidden otherwise).",
            )
            .security(Auth::Manage("settings:write"))
            .tenant()
            .json_body(schema_ref("SettingsUpdate"), true)
            .json(200, "The settings after the change.", schema_ref("Settings")),
        Op::new("get", "/roles", "listRoles", "roles", "The tenant's roles.")
            .security(Auth::Manage("roles:read"))
            .tenant()
            .paginated()
            .json(200, "A page of roles.", page_of(schema_ref("Role"))),
        Op::new("post", "/roles", "createRole", "roles", "Creates a role.")
            .security(Auth::Manage("roles:write"))
            .tenant()
            .json_body(required(schema_ref("RoleRequest"), &["name"]), true)
            .json(201, "The new role.", schema_ref("Role"))
            .error(409, &["conflict"]),
        Op::new("get", "/roles/{id}", "getRole", "roles", "One role.")
            .security(Auth::Manage("roles:read"))
            .tenant()
            .path_param("id", "The role's id.")
            .json(200, "The role.", schema_ref("Role"))
            .error(404, &["not_found"]),
        Op::new("put", "/roles/{id}", "updateRole", "roles", "Renames or re-describes a role (not a built-in one).")
            .security(Auth::Manage("roles:write"))
            .tenant()
            .path_param("id", "The role's id.")
            .json_body(schema_ref("RoleRequest"), true)
            .json(200, "The role.", schema_ref("Role"))
            .error(404, &["not_found"])
            .error(409, &["conflict"]),
        Op::new("delete", "/roles/{id}", "deleteRole", "roles", "Deletes a role (not a built-in one) and its grants.")
            .security(Auth::Manage("roles:write"))
            .tenant()
            .path_param("id", "The role's id.")
            .empty(204, "Deleted.")
            .error(404, &["not_found"])
            .error(409, &["conflict"]),
        Op::new("get", "/roles/{id}/permissions", "listRolePermissions", "roles", "The permissions a role grants.")
            .security(Auth::Manage("roles:read"))
            .tenant()
            .path_param("id", "The role's id.")
            .json(200, "Every permission of the role (not paginated).", array_of(schema_ref("Permission")))
            .error(404, &["not_found"]),
        Op::new("post", "/roles/{id}/permissions", "grantPermission", "roles", "Grants a permission to a role.")
            .security(Auth::Manage("roles:write"))
            .tenant()
            .path_param("id", "The role's id.")
            .json_body(schema_ref("PermissionLink"), true)
            .empty(204, "Granted.")
            .error(404, &["not_found"]),
        Op::new(
            "delete",
            "/roles/{role_id}/permissions/{perm_id}",
            "revokePermission",
            "roles",
            "Revokes a permission from a role.",
        )
        .security(Auth::Manage("roles:write"))
        .tenant()
        .path_param("role_id", "The role's id.")
        .path_param("perm_id", "The permission's id.")
        .empty(204, "Revoked.")
        .error(404, &["not_found"]),
        Op::new("get", "/permissions", "listPermissions", "permissions", "The tenant's permissions.")
            .security(Auth::Manage("roles:read"))
            .tenant()
            .paginated()
            .json(200, "A page of permissions.", page_of(schema_ref("Permission"))),
        Op::new("post", "/permissions", "createPermission", "permissions", "Creates a permission (`resource:action`).")
            .security(Auth::Manage("roles:write"))
            .tenant()
            .json_body(required(schema_ref("PermissionRequest"), &["name"]), true)
            .json(201, "The new permission.", schema_ref("Permission"))
            .error(409, &["conflict"]),
        Op::new(
            "put",
            "/permissions/{id}",
            "updatePermission",
            "permissions",
            "Renames or re-describes a permission (not a built-in one).",
        )
        .security(Auth::Manage("roles:write"))
        .tenant()
        .path_param("id", "The permission's id.")
        .json_body(schema_ref("PermissionRequest"), true)
        .json(200, "The permission.", schema_ref("Permission"))
        .error(404, &["not_found"])
        .error(409, &["conflict"]),
        Op::new(
            "delete",
            "/permissions/{id}",
            "deletePermission",
            "permissions",
            "Deletes a permission (not a built-in one).",
        )
        .security(Auth::Manage("roles:write"))
        .tenant()
        .path_param("id", "The permission's id.")
        .empty(204, "Deleted.")
        .error(404, &["not_found"])
        .error(409, &["conflict"]),
        user_id(
            Op::new("get", "/users/{id}/roles", "listUserRoles", "roles", "A user's roles.")
                .security(Auth::Manage("roles:read"))
                .tenant(),
        )
        .json(200, "Every role of the user (not paginated).", array_of(schema_ref("Role"))),
        user_id(
            Op::new("post", "/users/{id}/roles", "assignRole", "roles", "Assigns a role to a user.")
                .describe("Applies from the user's next token.")
                .security(Auth::Manage("roles:write"))
                .tenant(),
        )
        .json_body(schema_ref("RoleLink"), true)
        .empty(204, "Assigned."),
        Op::new("delete", "/users/{user_id}/roles/{role_id}", "unassignRole", "roles", "Takes a role from a user.")
            .security(Auth::Manage("roles:write"))
            .tenant()
            .path_param("user_id", "The user's id.")
            .path_param("role_id", "The role's id.")
            .empty(204, "Unassigned.")
            .error(404, &["not_found"]),
        Op::new("get", "/clients", "listClients", "clients", "The tenant's OAuth clients.")
            .security(Auth::Manage("clients:read"))
            .tenant()
            .paginated()
            .json(200, "A page of clients.", page_of(schema_ref("Client"))),
        Op::new("post", "/clients", "createClient", "clients", "Creates an OAuth client.")
            .describe("A confidential client's client_secret is in this answer only.")
            .describe(ADMIN_CLIENTS)
            .security(Auth::Manage("clients:write"))
            .tenant()
            .json_body(
                json!({
                    "allOf": [
                        required(schema_ref("ClientRequest"), &["name"]),
                        {
                            "description": "authorization_code (a default grant) needs a redirect URI; \
                                            client_credentials a confidential client (the default type).",
                            "anyOf": [
                                {
                                    "required": ["grant_types"],
                                    "properties": { "grant_types": { "not": { "contains": { "const": "authorization_code" } } } }
                                },
                                { "required": ["redirect_uris"], "properties": { "redirect_uris": { "type": "array", "minItems": 1 } } }
                            ],
                            "properties": {}
                        },
                        {
                            "anyOf": [
                                { "properties": { "grant_types": { "type": "null" } } },
                                { "properties": { "grant_types": { "not": { "contains": { "const": "client_credentials" } } } } },
                                { "properties": { "type": { "enum": ["confidential", null] } } }
                            ]
                        }
                    ]
                }),
                true,
            )
            .json(201, "The new client, with client_secret when confidential.", schema_ref("Client")),
        Op::new("get", "/clients/{id}", "getClient", "clients", "One client.")
            .security(Auth::Manage("clients:read"))
            .tenant()
            .path_param("id", "The client's id.")
            .json(200, "The client.", schema_ref("Client"))
            .error(404, &["not_found"]),
        Op::new(
            "put",
            "/clients/{id}",
            "updateClient",
            "clients",
            "Changes any subset of a client's fields (not its type).",
        )
        .describe(ADMIN_CLIENTS)
        .security(Auth::Manage("clients:write"))
        .tenant()
        .path_param("id", "The client's id.")
        .json_body(schema_ref("ClientRequest"), true)
        .json(200, "The client.", schema_ref("Client"))
        .error(404, &["not_found"]),
        Op::new(
            "delete",
            "/clients/{id}",
            "deleteClient",
            "clients",
            "Deactivates a client; every session issued to it ends.",
        )
        .describe(ADMIN_CLIENTS)
        .security(Auth::Manage("clients:write"))
        .tenant()
        .path_param("id", "The client's id.")
        .empty(204, "Deactivated.")
        .error(404, &["not_found"]),
        Op::new(
            "post",
            "/clients/{id}/secret",
            "rotateClientSecret",
            "clients",
            "Rotates a confidential client's secret.",
        )
        .describe("The new secret is shown once; the old one stops working. A public client has none (400).")
        .describe(ADMIN_CLIENTS)
        .security(Auth::Manage("clients:write"))
        .tenant()
        .path_param("id", "The client's id.")
        .json(200, "The new secret.", schema_ref("ClientSecret"))
        .error(404, &["not_found"]),
        Op::new("get", "/clients/{id}/roles", "listClientRoles", "clients", "The roles granted to a client.")
            .describe("They go into the client's own (client_credentials) tokens.")
            .security(Auth::Manage("roles:read"))
            .tenant()
            .path_param("id", "The client's id.")
            .json(200, "Every role of the client (not paginated).", array_of(schema_ref("Role")))
            .error(404, &["not_found"]),
        Op::new("post", "/clients/{id}/roles", "assignClientRole", "clients", "Grants a role to a client.")
            .security(Auth::Manage("roles:write"))
            .tenant()
            .path_param("id", "The client's id.")
            .json_body(schema_ref("RoleLink"), true)
            .empty(204, "Assigned.")
            .error(404, &["not_found"]),
        Op::new(
            "delete",
            "/clients/{client_id}/roles/{role_id}",
            "unassignClientRole",
            "clients",
            "Takes a role from a client.",
        )
        .security(Auth::Manage("roles:write"))
        .tenant()
        .path_param("client_id", "The client's id.")
        .path_param("role_id", "The role's id.")
        .empty(204, "Unassigned.")
        .error(404, &["not_found"]),
        Op::new("get", "/sessions", "listSessions", "sessions", "Live sessions, newest first.")
            .security(Auth::Manage("sessions:read"))
            .tenant()
            .paginated()
            .query("user_id", or_empty(json!({ "type": "string", "format": "uuid" })), "Only this user's sessions.")
            .json(200, "A page of sessions.", page_of(schema_ref("Session"))),
        Op::new("delete", "/sessions/{id}", "revokeSession", "sessions", "Ends a session on every instance.")
            .security(Auth::Manage("sessions:write"))
            .tenant()
            .path_param("id", "The session's id.")
            .empty(204, "Ended.")
            .error(404, &["not_found"]),
        Op::new("get", "/audit-log", "listAuditLog", "audit", "The tenant's audit trail, newest first.")
            .security(Auth::Manage("audit:read"))
            .tenant()
            .paginated()
            .query("action", json!({ "type": "string" }), "Only this action, e.g. `login.failed`.")
            .query("actor", json!({ "type": "string" }), "Only this actor id.")
            .query("target", json!({ "type": "string" }), "Only this target id.")
            .query("since", or_empty(json!({ "type": "string", "format": "date-time" })), "From this time (RFC 3339).")
            .query("until", or_empty(json!({ "type": "string", "format": "date-time" })), "Until this time (RFC 3339).")
            .json(200, "A page of audit events.", page_of(schema_ref("AuditEvent"))),
        Op::new(
            "get",
            "/identity-providers",
            "listIdentityProviders",
            "identity-providers",
            "The tenant's upstream identity providers.",
        )
        .security(Auth::Manage("identity_providers:read"))
        .tenant()
        .paginated()
        .json(200, "A page of providers, by name.", page_of(schema_ref("IdentityProvider"))),
        Op::new(
            "post",
            "/identity-providers",
            "createIdentityProvider",
            "identity-providers",
            "Adds an identity provider.",
        )
        .describe("`name`, `kind` and `client_id` are required; `issuer` for oidc.")
        .security(Auth::Manage("identity_providers:write"))
        .tenant()
        .json_body(
            json!({
                "allOf": [
                    schema_ref("IdentityProviderRequest"),
                    {
                        "type": "object",
                        "required": ["name", "kind", "client_id"],
                        "properties": {
                            "name": { "not": { "type": "null" } },
                            "kind": { "not": { "type": "null" } },
                            "client_id": { "not": { "type": "null" } }
                        },
                        "anyOf": [
                            { "properties": { "kind": { "enum": ["google", "github"] } } },
                            { "required": ["issuer"], "properties": { "issuer": { "type": "string", "minLength": 1 } } }
                        ]
                    }
                ]
            }),
            true,
        )
        .json(201, "The new provider.", schema_ref("IdentityProvider"))
        .error(409, &["conflict"]),
        Op::new(
            "put",
            "/identity-providers/{id}",
            "updateIdentityProvider",
            "identity-providers",
            "Changes any subset of a provider.",
        )
        .describe("Without client_secret the stored secret stays.")
        .security(Auth::Manage("identity_providers:write"))
        .tenant()
        .path_param("id", "The provider's id.")
        .json_body(schema_ref("IdentityProviderRequest"), true)
        .json(200, "The provider.", schema_ref("IdentityProvider"))
        .error(404, &["not_found"])
        .error(409, &["conflict"]),
        Op::new(
            "delete",
            "/identity-providers/{id}",
            "deleteIdentityProvider",
            "identity-providers",
            "Removes an identity provider.",
        )
        .security(Auth::Manage("identity_providers:write"))
        .tenant()
        .path_param("id", "The provider's id.")
        .empty(204, "Removed.")
        .error(404, &["not_found"]),
    ]
}

fn password_request() -> Value {
    json!({
        "type": "object",
        "required": ["email"],
        "properties": {
            "email": email(),
            "reset_url": {
                "type": ["string", "null"],
                "format": "uri",
                "description": "Where the link points; must be on an origin the tenant or operator trusts. \
                                Default: the tenant's reset_url, else ovlt's page."
            }
        }
    })
}

fn password_reset() -> Value {
    json!({
        "type": "object",
        "required": ["token", "password"],
        "properties": {
            "token": nonempty("From the emailed link."),
            "password": new_password()
        }
    })
}

/// A second factor: a TOTP code, or (when `backup_allowed`) a backup code.
fn mfa_code(backup_allowed: bool) -> Value {
    let mut schema = json!({
        "type": "object",
        "anyOf": [{ "required": ["totp_code"] }, { "required": ["otp"] }],
        "not": { "required": ["otp", "totp_code"] },
        "properties": {
            "totp_code": nonempty("The app's current code."),
            "otp": nonempty("Alias of totp_code.")
        }
    });
    if backup_allowed {
        schema["properties"]["backup_code"] = nonempty("Or a backup code.");
        schema["anyOf"].as_array_mut().expect("an array").push(json!({ "required": ["backup_code"] }));
        schema["not"] = json!({
            "anyOf": [
                { "required": ["otp", "totp_code"] },
                { "required": ["totp_code", "backup_code"] },
                { "required": ["otp", "backup_code"] }
            ]
        });
    }
    schema
}
