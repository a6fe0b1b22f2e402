//! `GET /openapi.json`: the OpenAPI 3.1 description of every endpoint.
//!
//! Built once, from `paths.rs` (one entry per route of `src/http/mod.rs`, in its order) and
//! `schemas.rs` (the shared schemas, parameters and security schemes). The integration test
//! `tests/api/openapi.rs` reads the router's source and fails when a route is missing here, or
//! documented here without existing.

mod builder;
mod paths;
mod schemas;

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The serialised document, built on first use.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| document().to_string());

/// `GET /openapi.json` (anyone).
pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str()).into_response()
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in paths::operations() {
        let (path, method) = (op.path, op.method);
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[method] = op.build();
    }
    json!({
        "openapi": "3.1.0",
        "info": {
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
        },
        "tags": [
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
        ],
        "paths": paths,
        "components": schemas::components(),
    })
}
