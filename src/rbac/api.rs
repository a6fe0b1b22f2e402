//! Roles and permissions (seed "Roles", "Permissions"): CRUD, role↔permission and user↔role.
//! `roles:read` to look, `roles:write` to change. Names are unique per tenant (409); ids of
//! another tenant are 404; built-in entries (the `admin` role, the management permissions) can
//! be granted but not renamed or deleted. A change applies from the user's next token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Manage, RolesRead, RolesWrite};
use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::auth::email_codes::PASSWORD_RESET;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, Path};
use crate::http::pagination::{Page, Pagination, RawPagination};
use crate::openapi;
use crate::store::rbac::{Catalog, NamedEntry};
use crate::store::{self};
use crate::tenants::TenantHeaders;
use crate::types::Timestamp;
use crate::users::UserId;

/// A schema with a description of its own (`schema_with` leaves a field's doc comment out).
pub(crate) fn described(schema: utoipa::openapi::Schema, description: &str) -> utoipa::openapi::Schema {
    let mut schema = serde_json::to_value(schema).expect("a schema serialises");
    schema["description"] = json!(description);
    openapi::schema::from_json(schema)
}

fn role_name_schema() -> utoipa::openapi::Schema {
    described(
        openapi::schema::display_name(100),
        "Required on create: 1 to 100 characters once trimmed, no control characters.",
    )
}

fn optional_role_name_schema() -> utoipa::openapi::Schema {
    openapi::schema::nullable(role_name_schema())
}

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

/// What the shared handlers below read from any of the four requests above.
struct EntryRequest {
    name: Option<String>,
    description: Option<String>,
}

macro_rules! entry_request {
    ($($type:ty),*) => {
        $(
            impl From<$type> for EntryRequest {
                fn from(body: $type) -> Self {
                    Self { name: body.name, description: body.description }
                }
            }
        )*
    };
}

entry_request!(CreateRoleRequest, RoleRequest, CreatePermissionRequest, PermissionRequest);

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

/// A role, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Role {
    #[schema(value_type = Uuid)]
    pub id: String,
    /// 1 to 100 characters, unique in the tenant.
    pub name: String,
    #[schema(required)]
    pub description: Option<String>,
    /// Built-in entries can be granted but not renamed or deleted.
    pub built_in: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A permission, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Permission {
    #[schema(value_type = Uuid)]
    pub id: String,
    /// `resource:action` (a-z, 0-9, _ . - *), unique in the tenant.
    pub name: String,
    #[schema(required)]
    pub description: Option<String>,
    /// Built-in entries can be granted but not renamed or deleted.
    pub built_in: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

macro_rules! entry_response {
    ($($type:ty),*) => {
        $(
            impl From<NamedEntry> for $type {
                fn from(entry: NamedEntry) -> Self {
                    let NamedEntry { id, name, description, built_in, created_at, updated_at } = entry;
                    Self { id, name, description, built_in, created_at, updated_at }
                }
            }
        )*
    };
}

entry_response!(Role, Permission);

/// The entries as the API shows them.
pub(crate) fn shown<T: From<NamedEntry>>(entries: Vec<NamedEntry>) -> Vec<T> {
    entries.into_iter().map(T::from).collect()
}

// ---- roles -------------------------------------------------------------------------------

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

// ---- permissions -------------------------------------------------------------------------

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

// ---- links -------------------------------------------------------------------------------

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

// ---- shared ------------------------------------------------------------------------------

async fn list<P, T: From<NamedEntry>>(
    State(state): State<AppState>,
    access: Manage<P>,
    page: Pagination,
    catalog: Catalog,
) -> ApiResult<Json<Page<T>>> {
    let pool = state.store.pool();
    let entries = store::rbac::list_entries(pool, catalog, access.tenant.id, page.limit(), page.offset()).await?;
    let total = store::rbac::count_entries(pool, catalog, access.tenant.id).await?;
    Ok(Json(Page::new(shown(entries), page, total)))
}

async fn get<P, T: From<NamedEntry>>(
    State(state): State<AppState>,
    access: Manage<P>,
    id: Uuid,
    catalog: Catalog,
) -> ApiResult<Json<T>> {
    existing(&state, &access, catalog, id).await.map(|entry| Json(T::from(entry)))
}

async fn create<T: From<NamedEntry> + Serialize>(
    State(state): State<AppState>,
    access: Manage<RolesWrite>,
    context: RequestContext,
    body: EntryRequest,
    catalog: Catalog,
) -> ApiResult<Response> {
    let (name, description) = validate(&body, catalog, true)?;
    let name = name.expect("required on create");
    let tenant_id = access.tenant.id;
    let mut tx = state.store.begin().await?;
    let entry =
        store::rbac::insert_entry(&mut *tx, catalog, tenant_id, &name, description.as_deref(), Timestamp::now())
            .await?;
    let event = AuditEvent::new(access.actor, action(catalog, "created"), context)
        .in_tenant(tenant_id)
        .target(kind(catalog), &entry.id)
        .details(serde_json::json!({ "name": entry.name }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(T::from(entry))).into_response())
}

async fn update<T: From<NamedEntry>>(
    State(state): State<AppState>,
    access: Manage<RolesWrite>,
    context: RequestContext,
    id: Uuid,
    body: EntryRequest,
    catalog: Catalog,
) -> ApiResult<Json<T>> {
    let (name, description) = validate(&body, catalog, false)?;
    let current = existing(&state, &access, catalog, id).await?;
    if current.built_in {
        return Err(ApiError::Conflict("built-in roles and permissions cannot be changed".into()));
    }
    let tenant_id = access.tenant.id;
    let mut tx = state.store.begin().await?;
    let entry = store::rbac::update_entry(
        &mut *tx,
        catalog,
        tenant_id,
        &current.id,
        name.as_deref(),
        description.as_deref(),
        Timestamp::now(),
    )
    .await?
    .ok_or(ApiError::NotFound(kind(catalog)))?;
    let event = AuditEvent::new(access.actor, action(catalog, "updated"), context)
        .in_tenant(tenant_id)
        .target(kind(catalog), &entry.id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Json(T::from(entry)))
}

async fn delete(
    State(state): State<AppState>,
    access: Manage<RolesWrite>,
    context: RequestContext,
    id: Uuid,
    catalog: Catalog,
) -> ApiResult<StatusCode> {
    let current = existing(&state, &access, catalog, id).await?;
    if current.built_in {
        return Err(ApiError::Conflict("built-in roles and permissions cannot be deleted".into()));
    }
    let tenant_id = access.tenant.id;
    let mut tx = state.store.begin().await?;
    if !store::rbac::delete_entry(&mut *tx, catalog, tenant_id, &current.id).await? {
        return Err(ApiError::NotFound(kind(catalog)));
    }
    let event = AuditEvent::new(access.actor, action(catalog, "deleted"), context)
        .in_tenant(tenant_id)
        .target(kind(catalog), &current.id)
        .details(serde_json::json!({ "name": current.name }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The entry of this tenant, or 404 (an id of another tenant is simply not found).
pub(crate) async fn existing<P>(
    state: &AppState,
    access: &Manage<P>,
    catalog: Catalog,
    id: Uuid,
) -> ApiResult<NamedEntry> {
    store::rbac::find_entry(state.store.pool(), catalog, access.tenant.id, &id.to_string())
        .await?
        .ok_or(ApiError::NotFound(kind(catalog)))
}

/// Role names: 1–100 printable characters. Permission names: `resource:action` in lower case.
fn validate(body: &EntryRequest, catalog: Catalog, creating: bool) -> ApiResult<(Option<String>, Option<String>)> {
    let mut fields = FieldErrors::new();
    let name = body.name.as_deref().map(str::trim);
    match name {
        None if creating => _ = fields.insert("name".into(), "is required".into()),
        None => {}
        Some(name) => {
            let valid = match catalog {
                Catalog::Roles => {
                    !name.is_empty() && name.chars().count() <= 100 && !name.chars().any(char::is_control)
                }
                Catalog::Permissions => {
                    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-*".contains(c);
                    name.len() <= 100
                        && name.split_once(':').is_some_and(|(resource, action)| {
                            !resource.is_empty()
                                && !action.is_empty()
                                && resource.chars().all(allowed)
                                && action.chars().all(allowed)
                        })
                }
            };
            if !valid {
                let why = match catalog {
                    Catalog::Roles => "must be 1 to 100 characters",
                    Catalog::Permissions => "must look like resource:action (a-z, 0-9, _ . - *)",
                };
                fields.insert("name".into(), why.into());
            }
        }
    }
    let description = body.description.as_deref().map(str::trim);
    if description.is_some_and(|d| d.chars().count() > 500) {
        fields.insert("description".into(), "must be at most 500 characters".into());
    }
    if fields.is_empty() {
        Ok((name.map(str::to_string), description.map(str::to_string)))
    } else {
        Err(ApiError::validation(fields))
    }
}

pub(crate) fn required(field: &str) -> ApiError {
    ApiError::validation(FieldErrors::from([(field.to_string(), "is required".to_string())]))
}

fn kind(catalog: Catalog) -> &'static str {
    match catalog {
        Catalog::Roles => "role",
        Catalog::Permissions => "permission",
    }
}

fn action(catalog: Catalog, verb: &str) -> &'static str {
    match (catalog, verb) {
        (Catalog::Roles, "created") => "role.created",
        (Catalog::Roles, "updated") => "role.updated",
        (Catalog::Roles, _) => "role.deleted",
        (Catalog::Permissions, "created") => "permission.created",
        (Catalog::Permissions, "updated") => "permission.updated",
        (Catalog::Permissions, _) => "permission.deleted",
    }
}
