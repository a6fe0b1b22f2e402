//! A tenant's settings with their defaults and allowed ranges (loaded and written by
//! `crate::settings`).

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::openapi::schema::{NO_CONTROL, from_json};

/// The characters of `char::is_whitespace` and `char::is_control`, as a regex class body.
macro_rules! no_space_or_control {
    () => {
        "\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
    };
}

/// What `PUT /settings` accepts as `reset_url` (`is_reset_url`): https, or http to localhost or
/// 127.0.0.1 followed by `:` and anything up to the path (the port is not checked further); an
/// authority without `@`; no white space or control character anywhere (Rust's
/// `char::is_whitespace` and `char::is_control`, listed exactly).
const RESET_URL: &str = concat!(
    "^(https://[^/?#@",
    no_space_or_control!(),
    "]+|http://(localhost|127\\.0\\.0\\.1)(:[^/?#@",
    no_space_or_control!(),
    "]*)?)([/?#][^",
    no_space_or_control!(),
    "]*)?$"
);

fn mfa_policy_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": "string", "enum": ["off", "optional", "required"] }))
}

/// At most 200 characters, no control characters; null for none. (`PUT /settings` bounds the
/// trimmed name; the schema states the bound on what is sent.)
fn display_name_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": ["string", "null"], "maxLength": 200, "pattern": NO_CONTROL }))
}

/// What `PUT /settings` accepts as `logo_url` (`is_logo_url`): an https URL of at most 2,048
/// characters, without white space, control characters, quotes, `<`, `>` or `\\`. The hosted
/// pages' Content-Security-Policy then allows images from its origin only.
pub const LOGO_URL: &str =
    concat!("^https://[^/?#@\"'<>\\\\", no_space_or_control!(), "]+([/?#][^\"'<>\\\\", no_space_or_control!(), "]*)?$");

/// An https URL with a host, nothing in it that could leave an HTML attribute or a CSS value.
pub fn is_logo_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    url.chars().count() <= 2048
        && !authority.is_empty()
        && !authority.contains('@')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\'))
}

/// `#rgb` or `#rrggbb`.
pub fn is_colour(colour: &str) -> bool {
    colour.strip_prefix('#').is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

fn logo_url_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": ["string", "null"], "maxLength": 2048, "pattern": LOGO_URL }))
}

/// `#rgb` or `#rrggbb`.
pub const COLOUR: &str = "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$";

fn colour_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": ["string", "null"], "pattern": COLOUR }))
}

/// The longest audit retention that can be set, in days (a hundred years).
pub const MAX_AUDIT_RETENTION_DAYS: i64 = 36_500;

fn audit_retention_days_schema() -> utoipa::openapi::Schema {
    from_json(json!({
        "type": ["integer", "null"],
        "minimum": 1,
        "maximum": MAX_AUDIT_RETENTION_DAYS,
        "description": "Days audit rows are kept before the background purge deletes them; null keeps them for ever."
    }))
}

fn reset_url_schema() -> utoipa::openapi::Schema {
    from_json(json!({
        "type": ["string", "null"],
        "pattern": RESET_URL,
        "description": "https (http only for localhost), without white space or control characters; not checked \
                        further (an IRI is accepted)."
    }))
}

/// The settings as `GET /settings` shows them (the `Settings` schema; `PUT /settings` takes
/// any subset of them, see `crate::settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
#[schema(
    as = Settings,
    description = "The tenant's settings (TenantSettings), every number within its allowed range."
)]
pub struct TenantSettings {
    #[schema(required, schema_with = display_name_schema)]
    pub display_name: Option<String>,
    #[schema(required, minimum = 60, maximum = 86_400)]
    pub access_token_ttl_seconds: i64,
    #[schema(required, minimum = 60, maximum = 31_536_000)]
    pub refresh_token_ttl_seconds: i64,
    #[schema(required, minimum = 60, maximum = 31_536_000)]
    pub session_idle_timeout_seconds: i64,
    #[schema(required, minimum = 60, maximum = 31_536_000)]
    pub session_max_lifetime_seconds: i64,
    #[schema(required, minimum = 0, maximum = 60)]
    pub refresh_reuse_grace_seconds: i64,
    /// 0 turns the lockout off.
    #[schema(required, minimum = 0, maximum = 1000)]
    pub lockout_threshold: i64,
    #[schema(required, minimum = 1, maximum = 31_536_000)]
    pub lockout_window_seconds: i64,
    #[schema(required, minimum = 8, maximum = 128)]
    pub password_min_length: i64,
    #[schema(required, minimum = 1, maximum = 4)]
    pub password_min_classes: i64,
    #[schema(required, minimum = 0, maximum = 24)]
    pub password_history: i64,
    #[schema(required)]
    pub self_registration: bool,
    #[schema(required)]
    pub require_verified_email: bool,
    #[schema(required, schema_with = mfa_policy_schema)]
    pub mfa_policy: String,
    /// Where reset emails link to (null: ovlt's own page); see `reset_url_schema`.
    #[schema(required, schema_with = reset_url_schema)]
    pub reset_url: Option<String>,
    /// The logo on the hosted pages (null: none); see `logo_url_schema`.
    #[schema(required, schema_with = logo_url_schema)]
    pub logo_url: Option<String>,
    /// The colour of the hosted pages' buttons and links (null: ovlt's blue); see `colour_schema`.
    #[schema(required, schema_with = colour_schema)]
    pub primary_color: Option<String>,
    /// Days audit rows are kept before the background purge deletes them (null: for ever).
    #[schema(required, schema_with = audit_retention_days_schema)]
    pub audit_retention_days: Option<i64>,
    /// Origins (`https://app.example.com`) an application's "Sign in with …" link may return to
    /// besides its clients' redirect URIs; see `return_origins_schema`.
    #[schema(required, schema_with = return_origins_schema)]
    pub allowed_return_origins: Vec<String>,
}

fn return_origins_schema() -> utoipa::openapi::Schema {
    from_json(json!({
        "type": "array",
        "maxItems": 20,
        "items": { "type": "string", "pattern": RETURN_ORIGIN },
        "description": "Each an origin: https (http only for localhost and 127.0.0.1), with no path."
    }))
}

/// What `is_return_origin` accepts.
pub const RETURN_ORIGIN: &str = "^(https://[a-z0-9.-]+|http://(localhost|127\\.0\\.0\\.1))(:[0-9]{1,5})?$";

/// An origin as `url` serialises one: scheme, lower-case host and a port other than the
/// scheme's, nothing else.
pub fn is_return_origin(value: &str) -> bool {
    let Ok(url) = url::Url::parse(value) else { return false };
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    // Scheme, host and port only; `url` may spell the host differently (`https://0` is
    // `https://0.0.0.0`), so redirects are compared by their parsed origins.
    let bare = !value.trim_start_matches("https://").trim_start_matches("http://").contains(['/', '?', '#', '@']);
    (url.scheme() == "https" || (url.scheme() == "http" && loopback)) && url.host().is_some() && bare
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
            logo_url: None,
            primary_color: None,
            audit_retention_days: None,
            allowed_return_origins: Vec::new(),
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
        self.audit_retention_days = self.audit_retention_days.map(|days| days.clamp(1, MAX_AUDIT_RETENTION_DAYS));
        self
    }
}
