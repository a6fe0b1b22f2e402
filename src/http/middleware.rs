//! The layers every request passes through, and the small middleware they need.
//!
//! Order, outermost first: request id → trace span → CORS → security headers → panic catcher
//! → timeout → body limit → route. The request id comes first so the span carries it; the
//! span wraps everything so status and latency cover the whole answer; the panic catcher is
//! inside the header layers so a 500 from a panic carries them too.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, Response, header};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;
use tracing::{Span, field};

use crate::app::AppState;
use crate::config::{Config, CorsOrigins};
use crate::error::ApiError;
use crate::tenants::{TENANT_ID_HEADER, TENANT_SLUG_HEADER};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, as received (when well-formed) or generated.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Wraps the router in every layer, in the order the module comment gives. (Each
/// `Router::layer` call boxes the routes' service once more, and every request clones and
/// drops each box: the security headers are one layer for that reason.)
pub fn apply(router: Router<AppState>, config: &Config) -> Router<AppState> {
    let mut router = router
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async { ApiError::RequestTimeout }))
                .timeout(config.request_timeout)
                .layer(DefaultBodyLimit::max(config.body_limit))
                .layer(middleware::from_fn(refuse_nul_in_uri)),
        )
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::map_response_with_state(Arc::new(security_headers(config)), add_security_headers));
    if let Some(cors) = cors_layer(&config.cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(record_response)
                .on_failure(()),
        )
        .layer(middleware::from_fn(request_id))
}

/// The defaults of [`security_headers`] on every answer that does not set its own.
async fn add_security_headers(
    axum::extract::State(headers): axum::extract::State<Arc<Vec<(HeaderName, HeaderValue)>>>,
    mut response: Response<Body>,
) -> Response<Body> {
    for (name, value) in headers.iter() {
        if !response.headers().contains_key(name) {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

/// One span per request. `tenant.id` is filled in by the tenant extractor when there is one.
fn request_span(request: &Request) -> Span {
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let request_id = request.extensions().get::<RequestId>().map(|id| id.0.as_str());
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        request_id,
        tenant.id = field::Empty,
        user.id = field::Empty,
        status = field::Empty,
        latency_ms = field::Empty,
    )
}

fn record_response<B>(response: &Response<B>, latency: Duration, span: &Span) {
    span.record("status", response.status().as_u16());
    span.record("latency_ms", latency.as_secs_f64() * 1000.0);
    tracing::info!("request finished");
}

/// No text ovlt keeps may hold a NUL (PostgreSQL's text cannot, and no identifier, email or
/// token has one), so a `%00` in the path or query is a client mistake, 400, before it can reach
/// a statement as a database error and answer 500.
async fn refuse_nul_in_uri(request: Request, next: Next) -> axum::response::Response {
    let encodes_nul = |text: &str| text.as_bytes().windows(3).any(|w| w == b"%00");
    let uri = request.uri();
    if encodes_nul(uri.path()) || uri.query().is_some_and(encodes_nul) {
        return ApiError::invalid_payload("the request contains a NUL character").into_response();
    }
    next.run(request).await
}

/// Keeps a well-formed incoming `x-request-id` (so a caller can correlate), replaces anything
/// else with a fresh UUIDv7, and echoes it on the response.
async fn request_id(mut request: Request, next: Next) -> impl IntoResponse {
    let incoming = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable_request_id(v))
        .map(str::to_owned);
    let id = incoming.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let value = HeaderValue::from_str(&id).expect("request ids are visible ASCII");
    request.headers_mut().insert(REQUEST_ID_HEADER, value.clone());
    request.extensions_mut().insert(RequestId(id));
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, value);
    response
}

/// Up to 128 characters of `[A-Za-z0-9._:-]`: enough for UUIDs and tracing ids, nothing that
/// could forge a log line.
fn is_acceptable_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Defaults for every answer; a handler that needs another value (a page's CSP, a cacheable
/// JWKS) sets its own and these stay out of the way.
fn security_headers(config: &Config) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = vec![
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
        // Identity answers are personal: no shared cache may keep them.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    if config.is_production() {
        headers
            .push((header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains")));
    }
    headers
}

/// CORS for browser apps on the configured origins. The admin key header is deliberately not
/// allowed: a browser should never hold the operator's key.
fn cors_layer(origins: &CorsOrigins) -> Option<CorsLayer> {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(TENANT_SLUG_HEADER),
            HeaderName::from_static(TENANT_ID_HEADER),
            REQUEST_ID_HEADER,
        ])
        .expose_headers([REQUEST_ID_HEADER])
        .max_age(Duration::from_secs(600));
    match origins {
        CorsOrigins::None => None,
        CorsOrigins::Any => Some(base.allow_origin(tower_http::cors::Any)),
        CorsOrigins::List(list) => {
            let values = list.iter().filter_map(|o| HeaderValue::from_str(o).ok());
            Some(base.allow_origin(AllowOrigin::list(values)).allow_credentials(true))
        }
    }
}

/// A handler panic is a bug: log it and answer our 500 shape instead of dropping the connection.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    ApiError::internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

/// After a successful write through [`super::cached_state_routes`] this instance empties its
/// caches, so its next request sees the change; other instances see it at their next
/// cache-epoch poll (the database's triggers move the epoch). Refused requests (no credentials,
/// bad input) forget nothing, so they cannot be used to keep the caches empty. A handler dropped
/// before it answered (the connection closed) may have committed: that forgets too.
pub async fn forget_cached_state_after_writes(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response<Body> {
    struct ForgetIfDropped(Option<AppState>);
    impl Drop for ForgetIfDropped {
        fn drop(&mut self) {
            if let Some(state) = self.0.take() {
                state.forget_cached_state();
            }
        }
    }
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let mut pending = ForgetIfDropped(Some(state));
    let response = next.run(request).await;
    let state = pending.0.take();
    if response.status().is_success()
        && let Some(state) = state
    {
        state.forget_cached_state();
    }
    response
}

/// Unknown routes answer 404 in our shape.
pub async fn route_not_found() -> ApiError {
    ApiError::NotFound("route")
}

/// A known route with another method answers 405 in our shape.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_that_could_forge_log_lines_are_replaced() {
        assert!(is_acceptable_request_id("0193b0a4-7c1e-7d2a-9f00-0123456789ab"));
        assert!(!is_acceptable_request_id("abc\ninjected"));
        assert!(!is_acceptable_request_id("with space"));
        assert!(!is_acceptable_request_id(&"a".repeat(129)));
    }
}
