//! Liveness and readiness for load balancers and orchestrators.

use std::time::Duration;

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::Json;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(value_type = String, pattern = "^ok$")]
    status: &'static str,
    #[schema(value_type = String)]
    version: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    #[schema(value_type = String, pattern = "^ready$")]
    status: &'static str,
}

/// `GET /health`: the process is up. Never touches the database, so it stays fast and
/// truthful while the database is down.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    summary = "The process is up (never touches the database).",
    responses((status = 200, description = "Up.", body = Health))
)]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

/// `GET /ready`: the database answers within two seconds; 503 `unavailable` otherwise.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    summary = "The database answers within two seconds.",
    responses((status = 200, description = "Ready.", body = Ready), (status = 503, description = "unavailable"))
)]
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Ready>> {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => Ok(Json(Ready { status: "ready" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::Unavailable("the database is unreachable"))
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            Err(ApiError::Unavailable("the database is unreachable"))
        }
    }
}
