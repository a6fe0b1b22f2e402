//! HTTP: every route on one screen, the layers around them, and the shared extractors.
//!
//! To find an endpoint's code, find its line below: the handler lives in the feature folder
//! it names.

pub mod extract;
pub mod middleware;
pub mod pagination;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;
use crate::{health, tenants};

/// The whole application: routes, fallbacks and layers, with its state.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        // Operations (no tenant, no credentials).
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        // Tenants (operator: X-OVLT-Admin-Key).
        .route("/tenants", get(tenants::list_tenants).post(tenants::create_tenant))
        .route("/tenants/slugs", get(tenants::list_tenant_slugs))
        .route("/tenants/{id}", get(tenants::get_tenant).patch(tenants::update_tenant).delete(tenants::delete_tenant))
        // The tenant selected by x-ovlt-tenant-slug / x-ovlt-tenant-id (public facts only).
        .route("/tenant", get(tenants::current_tenant))
        .fallback(middleware::route_not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed);
    middleware::apply(routes, &state.config).with_state(state)
}
