//! A tenant, as stored and as the API shows it.

use serde::Serialize;

use crate::types::{TenantId, Timestamp};

/// A tenant, exactly as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    #[schema(schema_with = crate::openapi::schema::slug)]
    pub slug: String,
    #[schema(max_length = 200)]
    pub name: String,
    /// False disables the tenant: its requests answer 403 `tenant_disabled`.
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Tenant {
    pub fn new(slug: String, name: String) -> Self {
        let now = Timestamp::now();
        Self { id: TenantId::new(), slug, name, active: true, created_at: now, updated_at: now }
    }
}
