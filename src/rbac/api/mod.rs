//! Roles and permissions (seed "Roles", "Permissions"): CRUD, role↔permission and user↔role.
//! `roles:read` to look, `roles:write` to change. Names are unique per tenant (409); ids of
//! another tenant are 404; built-in entries (the `admin` role, the management permissions) can
//! be granted but not renamed or deleted. A change applies from the user's next token.
//!
//! The handlers are in `roles.rs`, `permissions.rs` and `links.rs` (role↔permission and
//! user↔role); here is what they share — roles and permissions have the same shape, so one set
//! of functions serves both catalogues.

mod links;
mod permissions;
mod roles;

pub use links::{
    __path_assign_role, __path_grant_permission, __path_list_role_permissions, __path_list_user_roles,
    __path_revoke_permission, __path_unassign_role, PermissionLink, RoleLink, assign_role, grant_permission,
    list_role_permissions, list_user_roles, revoke_permission, unassign_role,
};
pub use permissions::{
    __path_create_permission, __path_delete_permission, __path_list_permissions, __path_update_permission,
    CreatePermissionRequest, PermissionRequest, create_permission, delete_permission, list_permissions,
    update_permission,
};
pub use roles::{
    __path_create_role, __path_delete_role, __path_get_role, __path_list_roles, __path_update_role, CreateRoleRequest,
    RoleRequest, create_role, delete_role, get_role, list_roles, update_role,
};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Manage, RolesWrite};
use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::Json;
use crate::http::pagination::{Page, Pagination};
use crate::store::rbac::{Catalog, NamedEntry};
use crate::store::{self};
use crate::types::Timestamp;

pub(crate) use crate::openapi::schema::described;

/// What the shared handlers below read from any of the four requests (of `roles.rs` and
/// `permissions.rs`).
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

use entry_request;

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
