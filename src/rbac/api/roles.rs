//! `/roles`: the tenant's roles.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{EntryRequest, Role, create, delete, described, entry_request, get, list, update};
use crate::app::AppState;
use crate::audit::RequestContext;
use crate::error::ApiResult;
use crate::http::extract::{Json, Path};
use crate::http::pagination::{Page, Pagination, RawPagination};
use crate::openapi;
use crate::rbac::{Manage, RolesRead, RolesWrite};
use crate::store::rbac::Catalog;
use crate::tenants::TenantHeaders;

fn role_name_schema() -> utoipa::openapi::Schema {
    described(
        openapi::schema::display_name(100),
        "Required on create: 1 to 100 characters once trimmed, no control characters.",
    )
}

fn optional_role_name_schema() -> utoipa::openapi::Schema {
    openapi::schema::nullable(role_name_schema())
}

/// A new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    #[schema(required, schema_with = role_name_schema)]
    name: Option<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
}

/// Changes to a role: absent fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    #[schema(schema_with = optional_role_name_schema)]
    name: Option<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
}

entry_request!(CreateRoleRequest, RoleRequest);

/// `GET /roles`.
#[utoipa::path(
    get,
    path = "/roles",
    tag = "roles",
    summary = "The tenant's roles.",
    security(("adminKey" = []), ("bearer" = ["roles:read"])),
    params(TenantHeaders, RawPagination),
    responses((status = 200, description = "A page of roles.", body = Page<Role>))
)]
pub async fn list_roles(
    state: State<AppState>,
    access: Manage<RolesRead>,
    page: Pagination,
) -> ApiResult<Json<Page<Role>>> {
    list(state, access, page, Catalog::Roles).await
}

/// `POST /roles` `{name, description?}` → 201.
#[utoipa::path(
    post,
    path = "/roles",
    tag = "roles",
    summary = "Creates a role.",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(TenantHeaders),
    request_body = CreateRoleRequest,
    responses(
        (status = 201, description = "The new role.", body = Role),
        (status = 409, description = "conflict"),
    )
)]
pub async fn create_role(
    state: State<AppState>,
    access: Manage<RolesWrite>,
    ctx: RequestContext,
    Json(body): Json<CreateRoleRequest>,
) -> ApiResult<Response> {
    create::<Role>(state, access, ctx, body.into(), Catalog::Roles).await
}

/// `GET /roles/{id}`.
#[utoipa::path(
    get,
    path = "/roles/{id}",
    tag = "roles",
    summary = "One role.",
    security(("adminKey" = []), ("bearer" = ["roles:read"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The role's id.")),
    responses((status = 200, description = "The role.", body = Role), (status = 404, description = "not_found"))
)]
pub async fn get_role(
    state: State<AppState>,
    access: Manage<RolesRead>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Role>> {
    get(state, access, id, Catalog::Roles).await
}

/// `PUT /roles/{id}` `{name?, description?}`.
#[utoipa::path(
    put,
    path = "/roles/{id}",
    tag = "roles",
    summary = "Renames or re-describes a role (not a built-in one).",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The role's id.")),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "The role.", body = Role),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn update_role(
    state: State<AppState>,
    access: Manage<RolesWrite>,
    ctx: RequestContext,
    Path(id): Path<Uuid>,
    Json(body): Json<RoleRequest>,
) -> ApiResult<Json<Role>> {
    update(state, access, ctx, id, body.into(), Catalog::Roles).await
}

/// `DELETE /roles/{id}` → 204; its grants go with it.
#[utoipa::path(
    delete,
    path = "/roles/{id}",
    tag = "roles",
    summary = "Deletes a role (not a built-in one) and its grants.",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The role's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn delete_role(
    state: State<AppState>,
    access: Manage<RolesWrite>,
    ctx: RequestContext,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    delete(state, access, ctx, id, Catalog::Roles).await
}
