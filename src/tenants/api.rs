//! The operator's tenant API (seed "Tenants", DESIGN §3), and `GET /tenant`.
//!
//! Every handler here except `current_tenant` takes [`AdminKey`]: only the operator manages
//! tenants. The bootstrap tenant is an ordinary tenant; nothing here gives its users any
//! power over other tenants.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CurrentTenant, Tenant, TenantHeaders, TenantId, create, validate_name};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{AdminKey, Json, Path};
use crate::http::pagination::{Page, Pagination, RawPagination};
use crate::openapi;
use crate::store;
use crate::types::Timestamp;

fn name_schema() -> utoipa::openapi::Schema {
    openapi::schema::display_name(200)
}

fn optional_name_schema() -> utoipa::openapi::Schema {
    openapi::schema::nullable(name_schema())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    #[schema(required, schema_with = openapi::schema::slug)]
    slug: Option<String>,
    /// 1 to 200 characters once trimmed, no control characters.
    #[schema(required, schema_with = name_schema)]
    name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantRequest {
    /// 1 to 200 characters once trimmed, no control characters.
    #[schema(schema_with = optional_name_schema)]
    name: Option<String>,
    active: Option<bool>,
}

/// `POST /tenants` (operator) → 201 with the tenant; 409 when the slug is taken.
#[utoipa::path(
    post,
    path = "/tenants",
    tag = "tenants",
    summary = "Creates a tenant (with its admin role and permissions).",
    security(("adminKey" = [])),
    request_body = CreateTenantRequest,
    responses(
        (status = 201, description = "Created.", body = Tenant,
            headers(("Location" = String, description = "/tenants/{id}"))),
        (status = 409, description = "conflict"),
    )
)]
pub async fn create_tenant(
    _: AdminKey,
    State(state): State<AppState>,
    context: RequestContext,
    Json(body): Json<CreateTenantRequest>,
) -> ApiResult<Response> {
    let tenant = create(&state.store, body.slug.as_deref(), body.name.as_deref(), Actor::AdminKey, context).await?;
    let location = format!("/tenants/{}", tenant.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(tenant)).into_response())
}

/// `GET /tenants` (operator): every tenant, oldest first, paginated.
#[utoipa::path(
    get,
    path = "/tenants",
    tag = "tenants",
    summary = "Every tenant, oldest first.",
    security(("adminKey" = [])),
    params(RawPagination),
    responses((status = 200, description = "A page of tenants.", body = Page<Tenant>))
)]
pub async fn list_tenants(
    _: AdminKey,
    State(state): State<AppState>,
    pagination: Pagination,
) -> ApiResult<Json<Page<Tenant>>> {
    let pool = state.store.pool();
    let tenants = store::tenants::list_tenants(pool, pagination.limit(), pagination.offset()).await?;
    let total = store::tenants::count_tenants(pool).await?;
    Ok(Json(Page::new(tenants, pagination, total)))
}

/// `GET /tenants/slugs` (operator): only the slugs, alphabetically, paginated.
#[utoipa::path(
    get,
    path = "/tenants/slugs",
    tag = "tenants",
    summary = "Only the tenants' slugs, alphabetically.",
    security(("adminKey" = [])),
    params(RawPagination),
    responses((status = 200, description = "A page of slugs.", body = Page<String>))
)]
pub async fn list_tenant_slugs(
    _: AdminKey,
    State(state): State<AppState>,
    pagination: Pagination,
) -> ApiResult<Json<Page<String>>> {
    let pool = state.store.pool();
    let slugs = store::tenants::list_tenant_slugs(pool, pagination.limit(), pagination.offset()).await?;
    let total = store::tenants::count_tenants(pool).await?;
    Ok(Json(Page::new(slugs, pagination, total)))
}

/// `GET /tenants/{id}` (operator).
#[utoipa::path(
    get,
    path = "/tenants/{id}",
    tag = "tenants",
    summary = "One tenant.",
    security(("adminKey" = [])),
    params(("id" = TenantId, Path, description = "The tenant's id.")),
    responses((status = 200, description = "The tenant.", body = Tenant), (status = 404, description = "not_found"))
)]
pub async fn get_tenant(
    _: AdminKey,
    State(state): State<AppState>,
    Path(id): Path<TenantId>,
) -> ApiResult<Json<Tenant>> {
    let tenant = store::tenants::find_tenant_by_id(state.store.pool(), id).await?;
    tenant.map(Json).ok_or(ApiError::NotFound("tenant"))
}

/// `PATCH /tenants/{id}` (operator): `name` and/or `active`; `active: false` disables the
/// tenant at once on this instance and within the cache lifetime (≤ 5 s) on the others.
#[utoipa::path(
    patch,
    path = "/tenants/{id}",
    tag = "tenants",
    summary = "Renames, disables or enables a tenant.",
    description = "`active: false` disables the tenant at once on this instance, within 5 s on the others.",
    security(("adminKey" = [])),
    params(("id" = TenantId, Path, description = "The tenant's id.")),
    request_body = UpdateTenantRequest,
    responses((status = 200, description = "The tenant.", body = Tenant), (status = 404, description = "not_found"))
)]
pub async fn update_tenant(
    _: AdminKey,
    State(state): State<AppState>,
    context: RequestContext,
    Path(id): Path<TenantId>,
    Json(body): Json<UpdateTenantRequest>,
) -> ApiResult<Json<Tenant>> {
    let name = match body.name.as_deref().map(validate_name) {
        None => None,
        Some(Ok(name)) => Some(name),
        Some(Err(why)) => {
            return Err(ApiError::validation(FieldErrors::from([("name".into(), why.into())])));
        }
    };
    let mut tx = state.store.begin().await?;
    let tenant = store::tenants::update_tenant(&mut *tx, id, name.as_deref(), body.active, Timestamp::now())
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    let event = AuditEvent::new(Actor::AdminKey, "tenant.updated", context)
        .target("tenant", id)
        .details(serde_json::json!({ "name": name, "active": body.active }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    state.tenants.invalidate(id);
    Ok(Json(tenant))
}

/// `DELETE /tenants/{id}` (operator) → 204: the tenant and everything it owns are gone.
#[utoipa::path(
    delete,
    path = "/tenants/{id}",
    tag = "tenants",
    summary = "Deletes a tenant and everything it owns.",
    security(("adminKey" = [])),
    params(("id" = TenantId, Path, description = "The tenant's id.")),
    responses((status = 204, description = "Deleted."), (status = 404, description = "not_found"))
)]
pub async fn delete_tenant(
    _: AdminKey,
    State(state): State<AppState>,
    context: RequestContext,
    Path(id): Path<TenantId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.store.begin().await?;
    let tenant = store::tenants::find_tenant_by_id(&mut *tx, id).await?.ok_or(ApiError::NotFound("tenant"))?;
    if !store::tenants::delete_tenant(&mut *tx, id).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    let event = AuditEvent::new(Actor::AdminKey, "tenant.deleted", context)
        .target("tenant", id)
        .details(serde_json::json!({ "slug": tenant.slug }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    state.tenants.invalidate(id);
    Ok(StatusCode::NO_CONTENT)
}

/// What anyone may learn about the tenant they address.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicTenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
}

/// `GET /tenant` (anyone, tenant header required): the addressed tenant's public facts, for
/// apps and hosted pages that show its name.
#[utoipa::path(
    get,
    path = "/tenant",
    tag = "tenants",
    summary = "The addressed tenant's public facts.",
    params(TenantHeaders),
    responses((status = 200, description = "The tenant.", body = PublicTenant))
)]
pub async fn current_tenant(CurrentTenant(tenant): CurrentTenant) -> Json<PublicTenant> {
    Json(PublicTenant { id: tenant.id, slug: tenant.slug, name: tenant.name })
}
