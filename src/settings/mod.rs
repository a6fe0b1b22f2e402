//! Tenant settings: one flat JSON object per tenant, every key optional, absent keys taking the
//! defaults below. Read from the database where they are used (a primary-key lookup), so a
//! change applies at once on every instance. `GET/PUT /settings` read and write them.

pub use crate::types::TenantSettings;

mod api;

pub use api::{__path_get_settings, __path_put_settings, get_settings, put_settings};

use crate::store::{self, Store};
use crate::tenants::TenantId;

/// The tenant's settings, every number clamped to its allowed range (so no stored value can
/// overflow a time computation). A row that does not parse is an error, never a silent return to
/// the defaults, which could quietly switch a protection off.
pub async fn load(store: &Store, tenant_id: TenantId) -> Result<TenantSettings, crate::error::ApiError> {
    let json = store::settings::find_settings(store.pool(), tenant_id).await?;
    parse(tenant_id, json.as_deref())
}

/// Settings from their stored JSON (None: all defaults), clamped into bounds; unreadable
/// settings fail closed.
pub fn parse(tenant_id: TenantId, json: Option<&str>) -> Result<TenantSettings, crate::error::ApiError> {
    let Some(json) = json else { return Ok(TenantSettings::default()) };
    let settings: TenantSettings = serde_json::from_str(json).map_err(|e| {
        crate::error::ApiError::internal(anyhow::anyhow!("tenant {tenant_id} has unreadable settings: {e}"))
    })?;
    Ok(settings.clamped())
}
