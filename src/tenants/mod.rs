//! Tenants: the model, the rules for slugs and names, creating one (the API and the CLI) and
//! the bootstrap tenant, and the resolution of the tenant a request is for. The operator's API
//! is in `api.rs`.
//!
//! The bootstrap tenant is an ordinary tenant; nothing here gives its users any power over
//! other tenants.

pub use crate::types::{Tenant, TenantId};

mod api;
mod cache;
mod resolve;

pub use api::{
    __path_create_tenant, __path_current_tenant, __path_delete_tenant, __path_get_tenant, __path_list_tenant_slugs,
    __path_list_tenants, __path_update_tenant, create_tenant, current_tenant, delete_tenant, get_tenant,
    list_tenant_slugs, list_tenants, update_tenant,
};
pub use cache::{TenantCache, TenantKey};
pub use resolve::{
    CurrentTenant, TENANT_ID_HEADER, TENANT_SLUG_HEADER, TenantHeaders, find as find_tenant,
    from_headers as tenant_from_headers,
};

use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::store::{self, Store};
use crate::types::Timestamp;

/// Slugs are DNS-label-like: 2–63 characters of `a-z`, `0-9` and `-`.
pub fn validate_slug(slug: &str) -> Result<(), &'static str> {
    let valid = (2..=63).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid { Ok(()) } else { Err("must be 2 to 63 characters of a-z, 0-9 and -") }
}

/// Names are shown to people: 1–200 characters once trimmed, no control characters.
fn validate_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        Err("must be 1 to 200 characters")
    } else if name.chars().any(char::is_control) {
        Err("must not contain control characters")
    } else {
        Ok(name.to_string())
    }
}

/// Creates a tenant after validating its slug and name; shared by the API and the CLI.
pub async fn create(
    store: &Store,
    slug: Option<&str>,
    name: Option<&str>,
    actor: Actor,
    context: RequestContext,
) -> ApiResult<Tenant> {
    let mut fields = FieldErrors::new();
    match slug {
        None => _ = fields.insert("slug".into(), "is required".into()),
        Some(slug) => {
            if let Err(why) = validate_slug(slug) {
                fields.insert("slug".into(), why.into());
            }
        }
    }
    let name = match name.map(validate_name) {
        None => {
            fields.insert("name".into(), "is required".into());
            None
        }
        Some(Err(why)) => {
            fields.insert("name".into(), why.into());
            None
        }
        Some(Ok(name)) => Some(name),
    };
    let (Some(slug), Some(name), true) = (slug, name, fields.is_empty()) else {
        return Err(ApiError::validation(fields));
    };

    let tenant = Tenant::new(slug.to_string(), name);
    let mut tx = store.begin().await?;
    if !store::tenants::insert_tenant_if_slug_free(&mut *tx, &tenant).await? {
        return Err(ApiError::Conflict(store::conflict_message("tenants_slug_key").into()));
    }
    crate::rbac::provision_tenant(&mut tx, tenant.id, tenant.created_at).await?;
    let event = AuditEvent::new(actor, "tenant.created", context)
        .target("tenant", tenant.id)
        .details(serde_json::json!({ "slug": tenant.slug }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(tenant)
}

/// Creates the bootstrap tenant on the first start of a database, once across all instances,
/// with its first user when `OVLT_BOOTSTRAP_ADMIN_EMAIL`/`_PASSWORD` are set (verified, so it
/// can sign in at once). Deleting either later is allowed; they are not recreated.
pub async fn bootstrap(
    store: &Store,
    slug: &str,
    allow_registration: bool,
    admin: Option<(&str, &str)>,
    passwords: &crate::crypto::password::PasswordHasher,
) -> anyhow::Result<()> {
    // Hash before taking the write lock: 25 ms of Argon2 need not hold the database.
    let admin_hash = match admin {
        Some((_, password)) => Some(passwords.hash(password).await?),
        None => None,
    };
    let mut tx = store.begin().await?;
    let now = Timestamp::now();
    if store::system::claim_once(&mut *tx, "bootstrap_tenant", now).await? {
        let tenant = Tenant::new(slug.to_string(), slug.to_string());
        if store::tenants::insert_tenant_if_slug_free(&mut *tx, &tenant).await? {
            let event = AuditEvent::new(Actor::System, "tenant.created", RequestContext::default())
                .target("tenant", tenant.id)
                .details(serde_json::json!({ "slug": tenant.slug, "bootstrap": true }));
            audit::record(&mut *tx, event).await?;
            tracing::info!(tenant.slug = slug, "created the bootstrap tenant");
            crate::rbac::provision_tenant(&mut tx, tenant.id, now).await?;
            // The operator's own tenant: nobody registers into it unless the operator says so.
            let settings = crate::types::TenantSettings { self_registration: allow_registration, ..Default::default() };
            let settings = serde_json::to_string(&settings)?;
            store::settings::upsert_settings(&mut *tx, tenant.id, &settings, now).await?;
            if let (Some((email, _)), Some(hash)) = (admin, admin_hash) {
                let user = crate::users::User::new(tenant.id, email, None, Some(hash), true);
                store::users::insert_user(&mut *tx, &user).await?;
                crate::rbac::grant_admin(&mut tx, tenant.id, user.id, now).await?;
                let event = AuditEvent::new(Actor::System, "user.created", RequestContext::default())
                    .in_tenant(tenant.id)
                    .target("user", user.id)
                    .details(serde_json::json!({ "bootstrap_admin": true }));
                audit::record(&mut *tx, event).await?;
                tracing::info!(tenant.slug = slug, "created the bootstrap admin user");
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
