//! Liveness and readiness for load balancers and orchestrators.

use std::time::Duration;

use axum::extract::State;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::Json;

/// `GET /health`: the process is up. Never touches the database, so it stays fast and
/// truthful while the database is down.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// `GET /ready`: the database answers within two seconds; 503 `unavailable` otherwise.
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready" }))),
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
