//! A session — one sign-in — and the names of what direct sign-ins are granted.

use crate::types::settings::TenantSettings;
use crate::types::user::User;
use crate::types::{SessionId, TenantId, Timestamp, UserId};

/// The `client_id` of tokens issued by `/auth/*` directly, with no OAuth client involved.
pub const DIRECT_CLIENT_ID: &str = "ovlt";
/// The scope of tokens issued by `/auth/*` directly.
pub const DIRECT_SCOPE: &str = "openid profile email";
/// The scope that makes an OAuth access token a credential for ovlt's own API (`/users`,
/// `/clients`, `/users/me`, …), as far as its user's roles allow. Only first-party clients may
/// list it, only a tenant admin may give it to them, and it is granted only when requested by
/// name. docs/decisions/0009.
pub const OVLT_API_SCOPE: &str = "ovlt:api";

#[derive(Debug, Clone)]
pub struct Session {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub client_id: Option<String>,
    /// The scope granted to a client session (None: the direct `/auth/*` scope).
    pub scope: Option<String>,
    /// For a client session: the browser (SSO) session it was signed in through.
    pub sso_session_id: Option<SessionId>,
    /// Authentication methods, space-separated (`pwd`, later `otp`).
    pub amr: String,
    pub auth_time: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute end of the session.
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Session {
    pub fn new(user: &User, amr: &str, settings: &TenantSettings, now: Timestamp) -> Self {
        Self {
            id: SessionId::new(),
            tenant_id: user.tenant_id,
            user_id: user.id,
            client_id: None,
            scope: None,
            sso_session_id: None,
            amr: amr.to_string(),
            auth_time: now,
            last_seen_at: now,
            expires_at: Timestamp(now.0 + settings.session_max_lifetime_seconds),
            revoked_at: None,
            created_at: now,
        }
    }

    /// Not revoked, not past its absolute lifetime, not idle for longer than allowed.
    pub fn is_live(&self, settings: &TenantSettings, now: Timestamp) -> bool {
        self.revoked_at.is_none()
            && self.expires_at > now
            && now.0 - self.last_seen_at.0 < settings.session_idle_timeout_seconds
    }
}
