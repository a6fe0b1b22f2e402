//! The finishing pass over the collected document: the document's own facts (info, tags,
//! security schemes), and on every operation the failures it shares with its kind.
//!
//! A handler's `#[utoipa::path]` lists the answers of its own. An error answer there is written
//! `(status = 409, description = "conflict")`: a description that is a comma-separated list of
//! error codes. This pass merges those codes with the shared ones below and gives each error
//! answer its body (`Error`, or `OAuthError` on the OAuth endpoints) and headers:
//!
//! - security `adminKey` → 401 `unauthorized`; `bearer` → 401 `invalid_token`; both, with the
//!   permission named as the bearer's scope (`("bearer" = ["users:read"])`), are tenant
//!   administration → also 403 `forbidden`, and the permission in `x-ovlt-permission`;
//! - the tenant headers ([`TenantHeaders`](crate::tenants::TenantHeaders)) → 400
//!   `tenant_required`, 403 `tenant_disabled`, 404 `tenant_not_found`;
//! - a path parameter, pagination or a JSON body → 400 `invalid_payload`; a JSON body → 413;
//! - [`RATE_LIMITED`] (set by the router on the routes behind the per-IP limit) → 429;
//! - every operation → 500, in its own shape.
//!
//! An operation whose answers include HTML is a hosted page: its failures are pages.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The extension the router sets on an operation behind the per-IP rate limit.
pub const RATE_LIMITED: &str = "x-ovlt-rate-limited";

/// How an operation answers failures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `{error, message}` (the `Error` schema).
    Api,
    /// RFC 6749 `{error, error_description}` (the `OAuthError` schema).
    OAuth,
    /// HTML pages.
    Html,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The finished document.
pub fn document(collected: utoipa::openapi::OpenApi) -> Value {
    let mut document = serde_json::to_value(collected).expect("the document serialises");
    let mut paths = match document["paths"].take() {
        Value::Object(paths) => paths,
        _ => Map::new(),
    };
    for item in paths.values_mut() {
        for method in METHODS {
            if let Some(operation) = item.get_mut(method) {
                finish_operation(operation);
            }
        }
    }
    let components = document["components"].as_object_mut().expect("components");
    components.insert("securitySchemes".into(), security_schemes());
    json!({
        "openapi": "3.1.0",
        "info": info(),
        "tags": tags(),
        "paths": paths,
        "components": document["components"],
    })
}

fn finish_operation(operation: &mut Value) {
    let op = operation.as_object_mut().expect("an operation is an object");
    if let Some(Value::String(id)) = op.get_mut("operationId") {
        *id = lower_camel_case(id);
    }
    optional_body(op);
    let mut responses = match op.remove("responses") {
        Some(Value::Object(responses)) => responses,
        _ => Map::new(),
    };
    let style = style_of(&responses);
    let mut errors = take_declared_errors(&mut responses);
    let note = add_security_errors(op, &mut errors);
    if style == Style::Api {
        add_request_errors(op, &mut errors);
    }
    if op.remove(RATE_LIMITED).is_some() {
        match style {
            Style::Html => {
                _ = responses.entry("429").or_insert_with(|| {
                    html("A page: too many requests from this network; Retry-After says when to try again.")
                })
            }
            _ => errors.add(429, &["rate_limited"]),
        }
    }
    match style {
        Style::Api => errors.add(500, &["internal_error"]),
        Style::OAuth => errors.add(500, &["server_error"]),
        Style::Html => finish_page_failures(&mut responses),
    }
    for (status, codes) in errors.0 {
        responses.entry(status.to_string()).or_insert_with(|| error_response(status, &codes, style));
    }
    // A public operation says so: no requirement at all.
    op.entry("security").or_insert_with(|| json!([]));
    if let Some(note) = note {
        let description = op.get("description").and_then(Value::as_str).map(str::to_string);
        let all: Vec<String> = description.into_iter().chain([note]).collect();
        op.insert("description".into(), json!(all.join("\n\n")));
    }
    let mut sorted: Vec<(String, Value)> = responses.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    op.insert("responses".into(), Value::Object(sorted.into_iter().collect()));
}

/// Error codes by status, each listed once, in the order they were added.
#[derive(Default)]
struct Errors(BTreeMap<u16, Vec<String>>);

impl Errors {
    fn add(&mut self, status: u16, codes: &[&str]) {
        let known = self.0.entry(status).or_default();
        for code in codes {
            if !known.iter().any(|k| k == code) {
                known.push((*code).to_string());
            }
        }
    }
}

/// The failures the handler declared (`description` is their codes), taken out of `responses`.
fn take_declared_errors(responses: &mut Map<String, Value>) -> Errors {
    let mut errors = Errors::default();
    let declared: Vec<String> = responses.keys().cloned().collect();
    for status in declared {
        let code: u16 = status.parse().unwrap_or(0);
        let Some(codes) = responses[&status]["description"].as_str().and_then(error_codes) else { continue };
        if code >= 400 {
            responses.remove(&status);
            errors.add(code, &codes.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
    errors
}

/// The failures of the operation's credentials; for tenant administration, the note naming the
/// permission (and the `x-ovlt-permission` extension).
fn add_security_errors(op: &mut Map<String, Value>, errors: &mut Errors) -> Option<String> {
    match security_kind(op.get("security")) {
        Security::AdminKey => errors.add(401, &["unauthorized"]),
        Security::Bearer => errors.add(401, &["invalid_token"]),
        Security::Manage(permission) => {
            op.insert("x-ovlt-permission".into(), json!(permission));
            errors.add(401, &["unauthorized", "invalid_token"]);
            errors.add(403, &["forbidden"]);
            return Some(format!(
                "Needs the admin key with the tenant header, or a bearer token of a user of the tenant whose \
                 roles grant `{permission}`."
            ));
        }
        Security::Other => {}
    }
    None
}

/// The failures of the request's parts: tenant headers, path ids, pagination, a JSON body.
fn add_request_errors(op: &Map<String, Value>, errors: &mut Errors) {
    let parameters = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    let has = |name: &str, place: &str| parameters.iter().any(|p| p["name"] == name && p["in"] == place);
    if has(crate::tenants::TENANT_ID_HEADER, "header") {
        errors.add(400, &["tenant_required"]);
        errors.add(403, &["tenant_disabled"]);
        errors.add(404, &["tenant_not_found"]);
    }
    if parameters.iter().any(|p| p["in"] == "path") || has("per_page", "query") {
        errors.add(400, &["invalid_payload"]);
    }
    if op.get("requestBody").is_some_and(|body| body["content"].get("application/json").is_some()) {
        errors.add(400, &["invalid_payload"]);
        errors.add(413, &["payload_too_large"]);
    }
}

/// An error answer with these codes, in the operation's shape, with its headers.
fn error_response(status: u16, codes: &[String], style: Style) -> Value {
    let schema = if style == Style::OAuth { "OAuthError" } else { "Error" };
    let mut response = json!({
        "description": error_description(codes),
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    });
    let header = |name: &str, description: &str, kind: &str| json!({ name: { "description": description, "schema": { "type": kind } } });
    if status == 429 {
        response["headers"] = header("Retry-After", "Seconds until the window resets.", "integer");
    }
    if status == 401 && codes.iter().any(|c| c == "invalid_token") {
        response["headers"] = header("WWW-Authenticate", "`Bearer error=\"invalid_token\"` (RFC 6750 §3).", "string");
    }
    if status == 401 && style == Style::OAuth {
        response["headers"] = header("WWW-Authenticate", "`Basic realm=\"ovlt\"`.", "string");
    }
    response
}

/// A body that may be left out (`request_body = Option<X>`): utoipa writes `oneOf: [X, null]`
/// without `required`, but the server reads an absent body, never a JSON `null`.
fn optional_body(op: &mut Map<String, Value>) {
    let Some(body) = op.get_mut("requestBody") else { return };
    if body.get("required").is_some() {
        return;
    }
    for media in body["content"].as_object_mut().into_iter().flat_map(|c| c.values_mut()) {
        if let Some([schema, null]) = media["schema"]["oneOf"].as_array().map(Vec::as_slice)
            && *null == json!({ "type": "null" })
        {
            media["schema"] = schema.clone();
        }
    }
    body["required"] = json!(false);
}

/// A hosted page fails with a page, except that a NUL (`%00`) anywhere in the URL is refused
/// before any page is reached, as JSON.
fn finish_page_failures(responses: &mut Map<String, Value>) {
    responses.entry("500").or_insert_with(|| html("Something went wrong (an HTML error page)."));
    let bad_request =
        responses.entry("400").or_insert_with(|| json!({ "description": "A malformed request.", "content": {} }));
    bad_request["content"]["application/json"] = json!({ "schema": { "$ref": "#/components/schemas/Error" } });
    let described = bad_request["description"].as_str().unwrap_or_default().to_string();
    bad_request["description"] =
        json!(format!("{described} A NUL character in the URL answers JSON `invalid_payload` instead of a page."));
}

fn html(description: &str) -> Value {
    json!({ "description": description, "content": { "text/html": { "schema": { "type": "string" } } } })
}

fn style_of(responses: &Map<String, Value>) -> Style {
    let contents = || responses.values().filter_map(|r| r.get("content")).filter_map(Value::as_object);
    if contents().any(|c| c.contains_key("text/html")) {
        Style::Html
    } else if contents().flat_map(|c| c.values()).any(|m| m["schema"]["$ref"] == "#/components/schemas/OAuthError") {
        Style::OAuth
    } else {
        Style::Api
    }
}

enum Security {
    AdminKey,
    Bearer,
    Manage(String),
    Other,
}

fn security_kind(security: Option<&Value>) -> Security {
    let Some(Value::Array(alternatives)) = security else { return Security::Other };
    let single = |alternative: &Value| -> Option<(String, Vec<String>)> {
        let object = alternative.as_object()?;
        let (name, scopes) = object.iter().next().filter(|_| object.len() == 1)?;
        let scopes = scopes.as_array()?.iter().filter_map(Value::as_str).map(str::to_string).collect();
        Some((name.clone(), scopes))
    };
    let schemes: Vec<(String, Vec<String>)> = alternatives.iter().map_while(single).collect();
    if schemes.len() != alternatives.len() {
        return Security::Other;
    }
    match schemes.as_slice() {
        [(admin, _)] if admin == "adminKey" => Security::AdminKey,
        [(bearer, scopes)] if bearer == "bearer" && scopes.is_empty() => Security::Bearer,
        [(admin, _), (bearer, scopes)] if admin == "adminKey" && bearer == "bearer" && scopes.len() == 1 => {
            Security::Manage(scopes[0].clone())
        }
        _ => Security::Other,
    }
}

/// The handler's name as an operationId in the usual style: `list_users` → `listUsers`.
fn lower_camel_case(name: &str) -> String {
    let mut words = name.split('_').filter(|w| !w.is_empty());
    let first = words.next().unwrap_or_default().to_string();
    words.fold(first, |mut id, word| {
        let mut chars = word.chars();
        id.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        id.push_str(chars.as_str());
        id
    })
}

/// `"not_found"` or `"invalid_payload, conflict"`: the codes of a declared failure.
fn error_codes(description: &str) -> Option<Vec<String>> {
    let codes: Vec<String> = description.split(", ").map(str::to_string).collect();
    let is_code = |c: &String| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    codes.iter().all(is_code).then_some(codes)
}

fn error_description(codes: &[String]) -> String {
    let list: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    format!("Error: {}.", list.join(", "))
}

fn info() -> Value {
    json!({
        "title": "ovlt",
        "version": env!("CARGO_PKG_VERSION"),
        "summary": "Self-hosted, multi-tenant identity server with an OAuth 2.0 / OpenID Connect authorization server.",
        "description": "Errors answer `{\"error\", \"message\"}` (plus `fields` for validation; see the Error schema), \
                        except the OAuth endpoints, which answer RFC 6749 `{\"error\", \"error_description\"}`, \
                        and the hosted pages, which answer HTML. Every endpoint may also answer 404 `not_found` \
                        (unknown route), 405 `method_not_allowed`, 408 `request_timeout` and 413 \
                        `payload_too_large`. No string may hold a NUL character (U+0000): one in the URL or a JSON body \
                        answers 400 `invalid_payload`. Tenant-scoped endpoints name their tenant with the \
                        x-ovlt-tenant-id or x-ovlt-tenant-slug header; OAuth endpoints take it from the client \
                        or the token.",
        "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" }
    })
}

fn tags() -> Value {
    json!([
        { "name": "operations", "description": "Health, readiness, discovery and this document." },
        { "name": "oauth", "description": "The OAuth 2.0 / OpenID Connect authorization server and its hosted pages." },
        { "name": "tenants", "description": "Tenants (the operator's admin key), and the addressed tenant's public facts." },
        { "name": "auth", "description": "A tenant's users signing up, in and out; password recovery. Rate-limited per IP." },
        { "name": "mfa", "description": "Second factors: TOTP enrolment, challenges, backup codes." },
        { "name": "users", "description": "The signed-in user, and the administration of a tenant's users." },
        { "name": "settings", "description": "Tenant settings." },
        { "name": "roles", "description": "Roles, their permissions, and who holds them." },
        { "name": "permissions", "description": "Permissions (`resource:action`)." },
        { "name": "clients", "description": "OAuth clients of a tenant." },
        { "name": "sessions", "description": "Session administration." },
        { "name": "audit", "description": "The audit trail." },
        { "name": "identity-providers", "description": "Upstream identity providers of a tenant." }
    ])
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
            "description": "An access token (RS256 JWT, `typ: at+jwt`) of a user of the addressed tenant, with a live session, meant for ovlt's API: issued by /auth/* directly, or by a first-party client with the `ovlt:api` scope. A token issued to any other client names that client in `aud` and is refused here (401 invalid_token). On tenant administration the security requirement names the permission the user's roles must grant."
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
