//! The links: the permissions a role grants (`/roles/{id}/permissions`) and the roles a user
//! holds (`/users/{id}/roles`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Permission, Role, existing, required, shown};
use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::auth::email_codes::PASSWORD_RESET;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::rbac::{Manage, RolesRead, RolesWrite};
use crate::store::{self, rbac::Catalog};
use crate::tenants::TenantHeaders;
use crate::types::Timestamp;
use crate::users::UserId;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionLink {
    #[schema(required, value_type = Uuid)]
    permission_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleLink {
    #[schema(required, value_type = Uuid)]
    pub(crate) role_id: Option<Uuid>,
}

/// `GET /roles/{id}/permissions`.
#[utoipa::path(
    get,
    path = "/roles/{id}/permissions",
    tag = "roles",
    summary = "The permissions a role grants.",
    security(("adminKey" = []), ("bearer" = ["roles:read"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The role's id.")),
    responses(
        (status = 200, description = "Every permission of the role (not paginated).", body = Vec<Permission>),
        (status = 404, description = "not_found"),
    )
)]
pub async fn list_role_permissions(
    State(state): State<AppState>,
    access: Manage<RolesRead>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Permission>>> {
    let role = existing(&state, &access, Catalog::Roles, id).await?;
    Ok(Json(shown(store::rbac::list_role_permissions(state.store.pool(), access.tenant.id, &role.id).await?)))
}

/// `POST /roles/{id}/permissions` `{permission_id}` → 204.
#[utoipa::path(
    post,
    path = "/roles/{id}/permissions",
    tag = "roles",
    summary = "Grants a permission to a role.",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The role's id.")),
    request_body = PermissionLink,
    responses((status = 204, description = "Granted."), (status = 404, description = "not_found"))
)]
pub async fn grant_permission(
    State(state): State<AppState>,
    access: Manage<RolesWrite>,
    context: RequestContext,
    Path(id): Path<Uuid>,
    Json(body): Json<PermissionLink>,
) -> ApiResult<StatusCode> {
    let permission_id = body.permission_id.ok_or_else(|| required("permission_id"))?;
    let role = existing(&state, &access, Catalog::Roles, id).await?;
    let permission = existing(&state, &access, Catalog::Permissions, permission_id).await?;
    let tenant_id = access.tenant.id;
    let now = Timestamp::now();
    let mut tx = state.store.begin().await?;
    store::rbac::link_role_permission(&mut *tx, tenant_id, &role.id, &permission.id, now).await?;
    // A reset token issued while its user held less must not outlive the promotion: whoever
    // was allowed to fetch it then (users:write) may not act on them now.
    store::user_codes::consume_role_holders_codes(&mut *tx, tenant_id, &role.id, PASSWORD_RESET, now).await?;
    let event = AuditEvent::new(access.actor, "role.permission_granted", context)
        .in_tenant(tenant_id)
        .target("role", &role.id)
        .details(serde_json::json!({ "permission": permission.name }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /roles/{role_id}/permissions/{perm_id}` → 204; 404 when not granted.
#[utoipa::path(
    delete,
    path = "/roles/{role_id}/permissions/{perm_id}",
    tag = "roles",
    summary = "Revokes a permission from a role.",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(
        TenantHeaders,
        ("role_id" = Uuid, Path, description = "The role's id."),
        ("perm_id" = Uuid, Path, description = "The permission's id."),
    ),
    responses((status = 204, description = "Revoked."), (status = 404, description = "not_found"))
)]
pub async fn revoke_permission(
    State(state): State<AppState>,
    access: Manage<RolesWrite>,
    context: RequestContext,
    Path((role_id, permission_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let tenant_id = access.tenant.id;
    let mut tx = state.store.begin().await?;
    if !store::rbac::unlink_role_permission(&mut *tx, tenant_id, &role_id.to_string(), &permission_id.to_string())
        .await?
    {
        return Err(ApiError::NotFound("role permission"));
    }
    let event = AuditEvent::new(access.actor, "role.permission_revoked", context)
        .in_tenant(tenant_id)
        .target("role", role_id)
        .details(serde_json::json!({ "permission_id": permission_id }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /users/{id}/roles`.
#[utoipa::path(
    get,
    path = "/users/{id}/roles",
    tag = "roles",
    summary = "A user's roles.",
    security(("adminKey" = []), ("bearer" = ["roles:read"])),
    params(TenantHeaders, ("id" = inline(UserId), Path, description = "The user's id.")),
    responses(
        (status = 200, description = "Every role of the user (not paginated).", body = Vec<Role>),
        (status = 404, description = "not_found"),
    )
)]
pub async fn list_user_roles(
    State(state): State<AppState>,
    access: Manage<RolesRead>,
    Path(id): Path<UserId>,
) -> ApiResult<Json<Vec<Role>>> {
    let tenant_id = access.tenant.id;
    store::users::find_user_by_id(state.store.pool(), tenant_id, id).await?.ok_or(ApiError::NotFound("user"))?;
    Ok(Json(shown(store::rbac::list_user_roles(state.store.pool(), tenant_id, id).await?)))
}

/// `POST /users/{id}/roles` `{role_id}` → 204.
#[utoipa::path(
    post,
    path = "/users/{id}/roles",
    tag = "roles",
    summary = "Assigns a role to a user.",
    description = "Applies from the user's next token.",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(TenantHeaders, ("id" = inline(UserId), Path, description = "The user's id.")),
    request_body = RoleLink,
    responses((status = 204, description = "Assigned."), (status = 404, description = "not_found"))
)]
pub async fn assign_role(
    State(state): State<AppState>,
    access: Manage<RolesWrite>,
    context: RequestContext,
    Path(id): Path<UserId>,
    Json(body): Json<RoleLink>,
) -> ApiResult<StatusCode> {
    let role_id = body.role_id.ok_or_else(|| required("role_id"))?;
    let tenant_id = access.tenant.id;
    store::users::find_user_by_id(state.store.pool(), tenant_id, id).await?.ok_or(ApiError::NotFound("user"))?;
    let role = existing(&state, &access, Catalog::Roles, role_id).await?;
    let now = Timestamp::now();
    let mut tx = state.store.begin().await?;
    store::rbac::assign_user_role(&mut *tx, tenant_id, id, &role.id, now).await?;
    // As in `grant_permission`: a promotion ends the reset tokens issued before it.
    store::user_codes::consume_user_codes(&mut *tx, tenant_id, id, PASSWORD_RESET, now).await?;
    let event = AuditEvent::new(access.actor, "user.role_assigned", context)
        .in_tenant(tenant_id)
        .target("user", id)
        .details(serde_json::json!({ "role": role.name }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /users/{user_id}/roles/{role_id}` → 204; 404 when not assigned.
#[utoipa::path(
    delete,
    path = "/users/{user_id}/roles/{role_id}",
    tag = "roles",
    summary = "Takes a role from a user.",
    security(("adminKey" = []), ("bearer" = ["roles:write"])),
    params(
        TenantHeaders,
        ("user_id" = inline(UserId), Path, description = "The user's id."),
        ("role_id" = Uuid, Path, description = "The role's id."),
    ),
    responses((status = 204, description = "Unassigned."), (status = 404, description = "not_found"))
)]
pub async fn unassign_role(
    State(state): State<AppState>,
    access: Manage<RolesWrite>,
    context: RequestContext,
    Path((user_id, role_id)): Path<(UserId, Uuid)>,
) -> ApiResult<StatusCode> {
    let tenant_id = access.tenant.id;
    let mut tx = state.store.begin().await?;
    if !store::rbac::unassign_user_role(&mut *tx, tenant_id, user_id, &role_id.to_string()).await? {
        return Err(ApiError::NotFound("user role"));
    }
    let event = AuditEvent::new(access.actor, "user.role_unassigned", context)
        .in_tenant(tenant_id)
        .target("user", user_id)
        .details(serde_json::json!({ "role_id": role_id }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
