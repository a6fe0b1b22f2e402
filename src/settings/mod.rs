//! Tenant settings: one flat JSON object per tenant, every key optional, absent keys taking the
//! defaults below. Read from the database where they are used (a primary-key lookup), so a
//! change applies at once on every instance. The read/write API arrives with tenant
//! administration; until then tests and operators write the row directly.

use serde::{Deserialize, Serialize};

use crate::store::{self, Store};
use crate::tenants::TenantId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    pub display_name: Option<String>,
    pub access_token_ttl_seconds: i64,
    pub refresh_token_ttl_seconds: i64,
    pub session_idle_timeout_seconds: i64,
    pub session_max_lifetime_seconds: i64,
    pub refresh_reuse_grace_seconds: i64,
    pub lockout_threshold: i64,
    pub lockout_window_seconds: i64,
    pub password_min_length: i64,
    pub password_min_classes: i64,
    pub password_history: i64,
    pub self_registration: bool,
    pub require_verified_email: bool,
    pub mfa_policy: String,
    pub reset_url: Option<String>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            display_name: None,
            access_token_ttl_seconds: 900,
            refresh_token_ttl_seconds: 604_800,
            session_idle_timeout_seconds: 604_800,
            session_max_lifetime_seconds: 2_592_000,
            refresh_reuse_grace_seconds: 0,
            lockout_threshold: 5,
            lockout_window_seconds: 900,
            password_min_length: 8,
            password_min_classes: 2,
            password_history: 0,
            self_registration: true,
            require_verified_email: false,
            mfa_policy: "optional".into(),
            reset_url: None,
        }
    }
}

/// The tenant's settings; a missing or unreadable row gives the defaults (and is logged).
pub async fn load(store: &Store, tenant_id: TenantId) -> sqlx::Result<TenantSettings> {
    let Some(json) = store::settings::find_settings(store.pool(), tenant_id).await? else {
        return Ok(TenantSettings::default());
    };
    Ok(serde_json::from_str(&json).unwrap_or_else(|e| {
        tracing::error!(tenant.id = %tenant_id, error = %e, "stored tenant settings are unreadable; using defaults");
        TenantSettings::default()
    }))
}
