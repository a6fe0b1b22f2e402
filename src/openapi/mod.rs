//! `GET /openapi.json`: the OpenAPI 3.1 description of every endpoint, generated from the code.
//!
//! Each handler carries `#[utoipa::path]` and each body type derives `ToSchema`; the router in
//! `src/http/mod.rs` is an [`OpenApiRouter`] that takes routes only through `routes!`, so a route
//! cannot exist without its documentation (clippy refuses `OpenApiRouter::route`). The
//! collected document then goes through [`finish`], which adds what every operation of a kind
//! shares — the failures of tenant resolution, authentication, malformed bodies, the rate
//! limit and the server's own — so a handler lists only the failures of its own. The test
//! `tests/api/openapi.rs` pins the result to a checked-in snapshot.

mod finish;
pub mod schema;

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(components(schemas(crate::error::ErrorBody, crate::oauth::OAuthErrorBody)))]
struct Shared;

/// A router that records the documentation of the routes it is given.
pub fn router<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::with_openapi(Shared::openapi())
}

/// Marks every operation of `routes` as behind the per-IP rate limit (the finishing pass adds
/// its 429), for the router to put the limit's layer on the same routes.
pub fn rate_limited<S: Clone + Send + Sync + 'static>(mut routes: OpenApiRouter<S>) -> OpenApiRouter<S> {
    for item in routes.get_openapi_mut().paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let extensions = operation.extensions.get_or_insert_with(Default::default);
            extensions.insert(finish::RATE_LIMITED.into(), serde_json::Value::Bool(true));
        }
    }
    routes
}

/// The serialised document, finished once from what the first router built collected.
static DOCUMENT: OnceLock<String> = OnceLock::new();

/// Keeps the document the router collected, to serve it.
pub fn publish(collected: utoipa::openapi::OpenApi) {
    DOCUMENT.get_or_init(|| finish::document(collected).to_string());
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    summary = "This OpenAPI 3.1 description of every endpoint.",
    responses((status = 200, description = "The OpenAPI document.", body = Object))
)]
pub async fn openapi_json() -> Response {
    let document = DOCUMENT.get().map_or("{}", String::as_str);
    ([(header::CONTENT_TYPE, "application/json")], document).into_response()
}
