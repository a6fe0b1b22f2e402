//! Roles granted to a client (seed "Clients": client↔role). They go into the client's own
//! tokens (client_credentials) as `roles` and `permissions`, from the next token on.

use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::rbac::api::{Role, RoleLink, existing, required, shown};
use crate::rbac::{Manage, RolesRead, RolesWrite};
use crate::store::{self, rbac::Catalog};
use crate::tenants::TenantHeaders;
use crate::types::Timestamp;

/// `GET /clients/{id}/roles`.
#[utoipa::path(
    get,
    path = "/clients/{id}/roles",
    tag = "clients",
    summary = "The roles granted to a client.",
    description = "They go into the client's own (client_credentials) tokens.",
    security(("adminKey" = []), ("bearer" = ["roles:read"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The client's id.")),
    responses(
        (status = 200, description = "Every role of the client (not paginated).", body = Vec<Role>),
        (status = 404, description = "not_found"),
    )
)]
pub async fn list_client_roles(
    State(state): State<AppState>,
    access: Manage<RolesRead>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Role>>> {
    let (pool, tenant_id, id) = (state.store.pool(), access.tenant.id, id.to_string());
    store::clients::find_client(pool, tenant_id, &id).await?.ok_or(ApiError::NotFound("client"))?;
    Ok(Json(shown(store::clients::list_client_roles(pool, tenant_id, &id).await?)))
}

/// `POST /clients/{id}/roles` `{role_id}` → 204.
#[utoipa::path(
    post,
    path = "/clients/{id}/roles",
    tag = "clients",
    summary = "Grants a role to a client.",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The client's id.")),
    request_body = RoleLink,
    responses((status = 204, description = "Assigned."), (status = 404, description = "not_found"))
)]
pub async fn assign_client_role(
    State(state): State<AppState>,
    access: Manage<RolesWrite>,
    context: RequestContext,
    Path(id): Path<Uuid>,
    Json(body): Json<RoleLink>,
) -> ApiResult<StatusCode> {
    let role_id = body.role_id.ok_or_else(|| required("role_id"))?;
    let (tenant_id, id) = (access.tenant.id, id.to_string());
    store::clients::find_client(state.store.pool(), tenant_id, &id).await?.ok_or(ApiError::NotFound("client"))?;
    let role = existing(&state, &access, Catalog::Roles, role_id).await?;
    let mut tx = state.store.begin().await?;
    store::clients::assign_client_role(&mut *tx, tenant_id, &id, &role.id, Timestamp::now()).await?;
    let event = AuditEvent::new(access.actor, "client.role_assigned", context)
        .in_tenant(tenant_id)
        .target("client", &id)
        .details(serde_json::json!({ "role": role.name }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /clients/{client_id}/roles/{role_id}` → 204; 404 when not assigned.
#[utoipa::path(
    delete,
    path = "/clients/{client_id}/roles/{role_id}",
    tag = "clients",
    summary = "Takes a role from a client.",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(
        TenantHeaders,
        ("client_id" = Uuid, Path, description = "The client's id."),
        ("role_id" = Uuid, Path, description = "The role's id."),
    ),
    responses((status = 204, description = "Unassigned."), (status = 404, description = "not_found"))
)]
pub async fn unassign_client_role(
    State(state): State<AppState>,
    access: Manage<RolesWrite>,
    context: RequestContext,
    Path((client_id, role_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let tenant_id = access.tenant.id;
    let mut tx = state.store.begin().await?;
    if !store::clients::unassign_client_role(&mut *tx, tenant_id, &client_id.to_string(), &role_id.to_string()).await? {
        return Err(ApiError::NotFound("client role"));
    }
    let event = AuditEvent::new(access.actor, "client.role_unassigned", context)
        .in_tenant(tenant_id)
        .target("client", client_id)
        .details(serde_json::json!({ "role_id": role_id }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
