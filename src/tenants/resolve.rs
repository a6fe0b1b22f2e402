//! Which tenant a request is for: `x-ovlt-tenant-id` (preferred in production; it wins when
//! both headers are sent) or `x-ovlt-tenant-slug`. Missing → 400 `tenant_required`, unknown or
//! malformed → 404 `tenant_not_found`, disabled → 403 `tenant_disabled` (DESIGN §3).

use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::cache::TenantKey;
use super::{Tenant, TenantId};
use crate::app::AppState;
use crate::error::ApiError;
use crate::store;

pub const TENANT_SLUG_HEADER: &str = "x-ovlt-tenant-slug";
pub const TENANT_ID_HEADER: &str = "x-ovlt-tenant-id";

/// The tenant headers, for the OpenAPI document: `params(TenantHeaders)` on a tenant-scoped
/// operation (the finishing pass adds their failures).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct TenantHeaders {
    /// The tenant the request is for, by id (preferred; wins when both headers are sent). One of
    /// x-ovlt-tenant-id and x-ovlt-tenant-slug is required.
    #[param(rename = "x-ovlt-tenant-id", required = false)]
    tenant_id: uuid::Uuid,
    /// The tenant the request is for, by slug. One of x-ovlt-tenant-id and x-ovlt-tenant-slug is
    /// required.
    #[param(rename = "x-ovlt-tenant-slug", required = false, pattern = "^[a-z0-9-]{2,63}$")]
    tenant_slug: String,
}

/// A tenant by id or slug, through this instance's short-lived cache (active or not).
pub async fn find(state: &AppState, key: &TenantKey) -> Result<Option<Tenant>, ApiError> {
    if let Some(tenant) = state.tenants.get(key, Instant::now()) {
        return Ok(Some(tenant));
    }
    let read_at = state.tenants.generation();
    let pool = state.store.pool();
    let found = match key {
        TenantKey::Id(id) => store::tenants::find_tenant_by_id(pool, *id).await?,
        TenantKey::Slug(slug) => store::tenants::find_tenant_by_slug(pool, slug).await?,
    };
    if let Some(tenant) = &found {
        state.tenants.insert(tenant, read_at, Instant::now());
    }
    Ok(found)
}

/// The active tenant the request addresses. Handlers that take one are tenant-scoped.
#[derive(Debug, Clone)]
pub struct CurrentTenant(pub Tenant);

impl FromRequestParts<AppState> for CurrentTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        from_headers(state, &parts.headers).await.map(Self)
    }
}

/// The active tenant named by the request's tenant headers (see the module comment).
pub async fn from_headers(state: &AppState, headers: &HeaderMap) -> Result<Tenant, ApiError> {
    let header =
        |name: &str| headers.get(name).map(|v| v.to_str().map(str::trim).unwrap_or_default()).filter(|v| !v.is_empty());
    let key = match (header(TENANT_ID_HEADER), header(TENANT_SLUG_HEADER)) {
        (Some(id), _) => TenantKey::Id(TenantId::parse(id).map_err(|_| ApiError::TenantNotFound)?),
        (None, Some(slug)) => TenantKey::Slug(slug.to_string()),
        (None, None) => return Err(ApiError::TenantRequired),
    };
    let tenant = find(state, &key).await?.ok_or(ApiError::TenantNotFound)?;
    tracing::Span::current().record("tenant.id", tracing::field::display(tenant.id));
    if !tenant.active {
        return Err(ApiError::TenantDisabled);
    }
    Ok(tenant)
}
