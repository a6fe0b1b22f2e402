//! OAuth clients of a tenant (seed "Clients"; `clients:read` / `clients:write`).
//!
//! A client's `id` is also its OAuth `client_id`: UUIDv7, so globally unique, which lets an
//! OAuth request that names only the client find its tenant. A confidential client's secret is
//! shown once (at creation, or by `POST /clients/{id}/secret`) and stored as SHA-256; it is a
//! 256-bit random string, so a plain digest is the right store (no password hashing needed).
//!
//! The endpoints are in `api/`.

mod api;
pub mod redirect_uri;

pub use api::clients::{
    __path_create_client, __path_delete_client, __path_get_client, __path_list_clients, __path_rotate_secret,
    __path_update_client, create_client, delete_client, get_client, list_clients, rotate_secret, update_client,
};
pub use api::roles::{
    __path_assign_client_role, __path_list_client_roles, __path_unassign_client_role, assign_client_role,
    list_client_roles, unassign_client_role,
};

use crate::error::{ApiError, ApiResult};
use crate::rbac::{ClientsWrite, Manage};
use crate::store::{self, Tx, clients::ClientRow};
use crate::tenants::TenantId;

/// The scopes every tenant knows; a client may also list scopes of its own (`invoices:read`).
pub const STANDARD_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

/// A first-party client skips consent, and may hold `ovlt:api`: creating one, and changing,
/// rotating or deleting one (or making a client one), is a tenant admin's (docs/decisions/0009).
/// Otherwise whoever points its redirect URI elsewhere receives its users' sign-ins unasked.
async fn guard_first_party(
    access: &Manage<ClientsWrite>,
    db: impl sqlx::Executor<'_, Database = sqlx::Any>,
    first_party: bool,
) -> ApiResult<()> {
    if first_party {
        access.require_tenant_admin(db, "manage a first-party client").await?;
    }
    Ok(())
}

/// A live client, read under its row lock in `tx` (so that changes made from it are not lost).
async fn locked_client(tx: &mut Tx, tenant_id: TenantId, id: &str) -> ApiResult<ClientRow> {
    if !store::clients::lock_client(&mut **tx, tenant_id, id).await? {
        return Err(ApiError::NotFound("client"));
    }
    store::clients::find_client(&mut **tx, tenant_id, id).await?.ok_or(ApiError::NotFound("client"))
}

/// A scope token (RFC 6749 §3.3: printable ASCII, no space, quote or backslash).
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty() && scope.len() <= 100 && scope.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}
