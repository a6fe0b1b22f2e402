//! A user as stored, and how emails are compared.

use serde::Serialize;

use crate::types::{TenantId, Timestamp, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Suspended,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// A user as stored. Never serialised, and its `Debug` leaves the password hash out.
#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub status: UserStatus,
    pub mfa_enabled: bool,
    pub last_login_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("status", &self.status)
            .field("has_password", &self.password_hash.is_some())
            .finish_non_exhaustive()
    }
}

impl User {
    /// A new active user without failed logins, created now.
    pub fn new(
        tenant_id: TenantId,
        email: &str,
        name: Option<&str>,
        password_hash: Option<String>,
        email_verified: bool,
    ) -> Self {
        let now = Timestamp::now();
        Self {
            id: UserId::new(),
            tenant_id,
            email: email.trim().to_string(),
            name: name.map(str::to_string),
            password_hash,
            email_verified,
            status: UserStatus::Active,
            mfa_enabled: false,
            last_login_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Emails are compared case-insensitively within a tenant.
pub fn normalize_email(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    // NFC first, so `e` + U+0301 and `é` are one address; lower case after; NFC again, since
    // a few lower-case mappings leave a composable sequence.
    email.trim().nfc().collect::<String>().to_lowercase().nfc().collect()
}
