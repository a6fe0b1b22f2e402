//! A tenant's settings with their defaults and allowed ranges (loaded and written by
//! `crate::settings`).

use serde::{Deserialize, Serialize};

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

impl TenantSettings {
    /// Every number inside the bounds the settings API enforces.
    pub fn clamped(mut self) -> Self {
        const YEAR: i64 = 365 * 86_400;
        self.access_token_ttl_seconds = self.access_token_ttl_seconds.clamp(60, 86_400);
        self.refresh_token_ttl_seconds = self.refresh_token_ttl_seconds.clamp(60, YEAR);
        self.session_idle_timeout_seconds = self.session_idle_timeout_seconds.clamp(60, YEAR);
        self.session_max_lifetime_seconds = self.session_max_lifetime_seconds.clamp(60, YEAR);
        self.refresh_reuse_grace_seconds = self.refresh_reuse_grace_seconds.clamp(0, 60);
        self.lockout_threshold = self.lockout_threshold.clamp(0, 1_000);
        self.lockout_window_seconds = self.lockout_window_seconds.clamp(1, YEAR);
        self.password_min_length = self.password_min_length.clamp(8, 128);
        self.password_min_classes = self.password_min_classes.clamp(1, 4);
        self.password_history = self.password_history.clamp(0, 24);
        self
    }
}
