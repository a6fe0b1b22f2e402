//! `/permissions`: the tenant's permissions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{EntryRequest, Permission, create, delete, entry_request, list, update};
use crate::app::AppState;
use crate::audit::RequestContext;
use crate::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::http::pagination::{Page, Pagination, RawPagination};
use crate::openapi;
use crate::rbac::{Manage, RolesRead, RolesWrite};
use crate::store::rbac::Catalog;
use crate::tenants::TenantHeaders;

fn permission_name_schema() -> utoipa::openapi::Schema {
    openapi::schema::from_json(json!({
        "type": "string",
        "maxLength": 100,
        "pattern": "^[a-z0-9_.*-]+:[a-z0-9_.*-]+$",
        "description": "Required on create: `resource:action`, each of a-z, 0-9, `_ . - *`, at most 100 characters."
    }))
}

fn optional_permission_name_schema() -> utoipa::openapi::Schema {
    openapi::schema::nullable(permission_name_schema())
}

/// A new permission.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePermissionRequest {
    #[schema(required, schema_with = permission_name_schema)]
    name: Option<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
}

/// Changes to a permission: absent fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionRequest {
    #[schema(schema_with = optional_permission_name_schema)]
    name: Option<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
}

entry_request!(CreatePermissionRequest, PermissionRequest);

/// `GET /permissions`.
#[utoipa::path(
    get,
    path = "/permissions",
    tag = "permissions",
    summary = "The tenant's permissions.",
    security(("adminKey" = []), ("bearer" = ["roles:read"])),
    params(TenantHeaders, RawPagination),
    responses((status = 200, description = "A page of permissions.", body = Page<Permission>))
)]
pub async fn list_permissions(
    state: State<AppState>,
    access: Manage<RolesRead>,
    page: Pagination,
) -> ApiResult<Json<Page<Permission>>> {
    list(state, access, page, Catalog::Permissions).await
}

/// `POST /permissions` `{name, description?}` (names like `invoices:read`) → 201.
#[utoipa::path(
    post,
    path = "/permissions",
    tag = "permissions",
    summary = "Creates a permission (`resource:action`).",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(TenantHeaders),
    request_body = CreatePermissionRequest,
    responses(
        (status = 201, description = "The new permission.", body = Permission),
        (status = 409, description = "conflict"),
    )
)]
pub async fn create_permission(
    state: State<AppState>,
    access: Manage<RolesWrite>,
    ctx: RequestContext,
    Json(body): Json<CreatePermissionRequest>,
) -> ApiResult<Response> {
    create::<Permission>(state, access, ctx, body.into(), Catalog::Permissions).await
}

/// `PUT /permissions/{id}` `{name?, description?}`.
#[utoipa::path(
    put,
    path = "/permissions/{id}",
    tag = "permissions",
    summary = "Renames or re-describes a permission (not a built-in one).",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The permission's id.")),
    request_body = PermissionRequest,
    responses(
        (status = 200, description = "The permission.", body = Permission),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn update_permission(
    state: State<AppState>,
    access: Manage<RolesWrite>,
    ctx: RequestContext,
    Path(id): Path<Uuid>,
    Json(body): Json<PermissionRequest>,
) -> ApiResult<Json<Permission>> {
    update(state, access, ctx, id, body.into(), Catalog::Permissions).await
}

/// `DELETE /permissions/{id}` → 204.
#[utoipa::path(
    delete,
    path = "/permissions/{id}",
    tag = "permissions",
    summary = "Deletes a permission (not a built-in one).",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The permission's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn delete_permission(
    state: State<AppState>,
    access: Manage<RolesWrite>,
    ctx: RequestContext,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    delete(state, access, ctx, id, Catalog::Permissions).await
}
