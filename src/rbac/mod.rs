//! Who may manage a tenant (DESIGN §1, issue "tenant administration").
//!
//! The operator's admin key may manage every tenant. A user of a tenant may manage *that*
//! tenant only, as far as their roles grant the management permission an endpoint needs. Each
//! tenant is provisioned with the management permissions and a built-in `admin` role holding
//! them all.
//!
//! The permission is part of the handler's signature: a handler taking `Manage<UsersWrite>`
//! cannot run unless the caller holds `users:write` — the check happens in the extractor,
//! before the body, and a bearer of another tenant never gets that far.

pub mod api;

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::bearer;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ADMIN_KEY_HEADER, AdminKey};
use crate::store::{self, Tx};
use crate::tenants::{CurrentTenant, Tenant, TenantId};
use crate::types::Timestamp;
use crate::users::UserId;

/// A management permission, as a type.
pub trait Permission: Send + Sync + 'static {
    const NAME: &'static str;
}

macro_rules! permissions {
    ($($type:ident => $name:literal),* $(,)?) => {
        $(
            #[doc = concat!("The `", $name, "` permission.")]
            pub struct $type;
            impl Permission for $type {
                const NAME: &'static str = $name;
            }
        )*
        /// Every management permission; the built-in `admin` role holds them all.
        pub const MANAGEMENT_PERMISSIONS: &[&str] = &[$($name),*];
    };
}

permissions! {
    UsersRead => "users:read",
    UsersWrite => "users:write",
    RolesRead => "roles:read",
    RolesWrite => "roles:write",
    ClientsRead => "clients:read",
    ClientsWrite => "clients:write",
    SessionsRead => "sessions:read",
    SessionsWrite => "sessions:write",
    AuditRead => "audit:read",
    SettingsRead => "settings:read",
    SettingsWrite => "settings:write",
    IdentityProvidersRead => "identity_providers:read",
    IdentityProvidersWrite => "identity_providers:write",
}

pub const ADMIN_ROLE: &str = "admin";

/// Proof that the caller may do `P` in `tenant`: the admin key, or a bearer of a user of this
/// tenant whose roles grant `P`. No credentials or a wrong key → 401; a bad bearer → 401
/// `invalid_token`; a valid bearer without `P` → 403 `forbidden`.
pub struct Manage<P> {
    pub tenant: Tenant,
    pub actor: Actor,
    permission: PhantomData<P>,
}

impl<P: Permission> FromRequestParts<AppState> for Manage<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let has_key = parts.headers.contains_key(ADMIN_KEY_HEADER);
        let has_bearer = parts.headers.contains_key(AUTHORIZATION);
        if !has_key && !has_bearer {
            return Err(ApiError::Unauthorized);
        }
        if has_key {
            AdminKey::from_request_parts(parts, state).await?;
            let CurrentTenant(tenant) = CurrentTenant::from_request_parts(parts, state).await?;
            return Ok(Self { tenant, actor: Actor::AdminKey, permission: PhantomData });
        }
        let CurrentTenant(tenant) = CurrentTenant::from_request_parts(parts, state).await?;
        let user = bearer::authenticate(state, &tenant, &parts.headers).await?;
        if !store::rbac::user_has_permission(state.store.pool(), tenant.id, user.user_id, P::NAME).await? {
            return Err(ApiError::Forbidden(format!("this needs the {} permission", P::NAME)));
        }
        Ok(Self { tenant, actor: Actor::User(user.user_id), permission: PhantomData })
    }
}

impl<P> Manage<P> {
    /// Whether the caller is the operator or holds the tenant's built-in `admin` role: the only
    /// callers allowed the admin-equivalent changes (marking a client first-party, granting the
    /// ovlt-API scope, changing where password-reset links point). docs/decisions/0009.
    pub async fn is_tenant_admin<'e>(&self, db: impl sqlx::Executor<'e, Database = sqlx::Any>) -> sqlx::Result<bool> {
        match &self.actor {
            Actor::AdminKey => Ok(true),
            Actor::User(user_id) => store::rbac::user_has_built_in_role(db, self.tenant.id, *user_id, ADMIN_ROLE).await,
            _ => Ok(false),
        }
    }

    /// Refuses (403) an admin-equivalent change to a caller who is not a tenant admin.
    pub async fn require_tenant_admin(
        &self,
        db: impl sqlx::Executor<'_, Database = sqlx::Any>,
        what: &str,
    ) -> ApiResult<()> {
        if self.is_tenant_admin(db).await? {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("only a tenant admin may {what}")))
        }
    }

    /// Refuses (403) acting on `target` (setting their password, email or factors, issuing their
    /// reset token, …) when the target holds any permission the caller lacks: otherwise
    /// `users:write` would take over any admin's account. The operator and tenant admins may act
    /// on anyone.
    pub async fn may_act_on_user(&self, pool: &sqlx::AnyPool, target: UserId) -> ApiResult<()> {
        let actor = match self.actor {
            Actor::AdminKey => return Ok(()),
            Actor::User(actor) => actor,
            _ => return Err(ApiError::Forbidden("only a user or the operator may act on a user".into())),
        };
        if actor == target || self.is_tenant_admin(pool).await? {
            return Ok(());
        }
        if store::rbac::holds_permission_beyond(pool, self.tenant.id, target, actor).await? {
            return Err(ApiError::Forbidden("this user holds permissions you do not hold".into()));
        }
        Ok(())
    }
}

/// Gives the tenant its management permissions and the built-in `admin` role holding them.
/// Idempotent. Returns the admin role's id.
pub async fn provision_tenant(tx: &mut Tx, tenant_id: TenantId, now: Timestamp) -> sqlx::Result<String> {
    let role = store::rbac::ensure_role(tx, tenant_id, ADMIN_ROLE, "Manages this tenant", now).await?;
    for name in MANAGEMENT_PERMISSIONS {
        let permission = store::rbac::ensure_permission(tx, tenant_id, name, "Tenant management", now).await?;
        store::rbac::link_role_permission(&mut **tx, tenant_id, &role, &permission, now).await?;
    }
    Ok(role)
}

/// Makes `user_id` an admin of the tenant.
pub async fn grant_admin(tx: &mut Tx, tenant_id: TenantId, user_id: UserId, now: Timestamp) -> sqlx::Result<()> {
    let role = provision_tenant(tx, tenant_id, now).await?;
    store::rbac::assign_user_role(&mut **tx, tenant_id, user_id, &role, now).await
}

/// Provisions tenants created before roles existed (run at start-up).
pub async fn provision_existing_tenants(store: &store::Store) -> anyhow::Result<()> {
    for id in store::rbac::tenants_without_admin_role(store.pool()).await? {
        let tenant_id = TenantId::parse(&id)?;
        let mut tx = store.begin().await?;
        provision_tenant(&mut tx, tenant_id, Timestamp::now()).await?;
        tx.commit().await?;
    }
    Ok(())
}
