//! The browser side of the hosted pages: the SSO cookie per tenant and CSRF tokens.
//!
//! The SSO cookie holds a 256-bit random token; the server keeps only its SHA-256 on the
//! session row, so an admin revoking the session signs the browser out at once. CSRF tokens
//! are "signed double submit": a random `ovlt_csrf` cookie, and in each form its keyed digest
//! (an HMAC under a subkey derived from the master key, labelled for this use) — a cross-site
//! page can neither read the cookie nor forge the field.
//!
//! In production (https) both cookies carry the `__Host-` prefix, so the browser accepts them
//! only Secure, host-only and with `Path=/`: a sibling subdomain can neither plant an SSO
//! session nor a CSRF cookie of its choosing (RFC 6265bis §4.1.3.2). In development (plain
//! http, where browsers refuse the prefix) they are ordinary cookies under `/oauth`.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::auth::cookie::read_cookie;
use crate::crypto;
use crate::pages;
use crate::settings::TenantSettings;
use crate::store;
use crate::tenants::{Tenant, TenantId};
use crate::types::Session;
use crate::types::Timestamp;
use crate::users::UserStatus;

const CSRF_COOKIE: &str = "ovlt_csrf";
const SSO_COOKIE_PREFIX: &str = "ovlt_sso_";
const HOST_PREFIX: &str = "__Host-";

/// A hosted-page cookie's name: `base`, with the `__Host-` prefix in production.
fn cookie_name(state: &AppState, base: &str) -> String {
    if state.config.is_production() { format!("{HOST_PREFIX}{base}") } else { base.to_string() }
}

/// `Set-Cookie` for a hosted-page cookie (see the module comment for the two forms).
fn cookie(state: &AppState, base: &str, value: &str, max_age: i64) -> HeaderValue {
    let name = cookie_name(state, base);
    let scope = if state.config.is_production() { "Path=/; Secure" } else { "Path=/oauth" };
    HeaderValue::from_str(&format!("{name}={value}; {scope}; Max-Age={max_age}; HttpOnly; SameSite=Lax"))
        .expect("cookie names and base64url values are valid header text")
}

/// One cookie per tenant, so a browser can be signed in to several tenants at once.
pub fn sso_cookie_name(state: &AppState, tenant_id: TenantId) -> String {
    cookie_name(state, &sso_cookie_base(tenant_id))
}

fn sso_cookie_base(tenant_id: TenantId) -> String {
    format!("{SSO_COOKIE_PREFIX}{}", tenant_id.to_string().replace('-', ""))
}

/// The tenant an SSO cookie's name names, if it is one.
pub fn sso_cookie_tenant(state: &AppState, name: &str) -> Option<TenantId> {
    let base = if state.config.is_production() { name.strip_prefix(HOST_PREFIX)? } else { name };
    let id = uuid::Uuid::try_parse(base.strip_prefix(SSO_COOKIE_PREFIX)?).ok()?;
    TenantId::parse(&id.to_string()).ok()
}

pub fn set_sso_cookie(state: &AppState, tenant_id: TenantId, token: &str, max_age: i64) -> HeaderValue {
    cookie(state, &sso_cookie_base(tenant_id), token, max_age)
}

pub fn clear_sso_cookie(state: &AppState, tenant_id: TenantId) -> HeaderValue {
    cookie(state, &sso_cookie_base(tenant_id), "", 0)
}

/// The browser's live SSO session for the tenant (its user active), if it has one.
pub async fn current_session(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    headers: &HeaderMap,
) -> sqlx::Result<Option<Session>> {
    let Some(token) = read_cookie(headers, &sso_cookie_name(state, tenant.id)) else { return Ok(None) };
    let pool = state.store.pool();
    let Some(session) = store::sessions::find_browser_session(pool, tenant.id, &crypto::sha256_hex(&token)).await?
    else {
        return Ok(None);
    };
    if !session.is_live(settings, Timestamp::now()) {
        return Ok(None);
    }
    let user = store::users::find_user_by_id(pool, tenant.id, session.user_id).await?;
    Ok(user.filter(|u| u.status == UserStatus::Active).map(|_| session))
}

/// The browser's CSRF cookie value, and a `Set-Cookie` when it needs a new one.
pub fn csrf_cookie(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match read_cookie(headers, &cookie_name(state, CSRF_COOKIE)) {
        Some(value) if value.len() == 43 => (value, None),
        _ => {
            let value = crypto::random_token();
            let set = cookie(state, CSRF_COOKIE, &value, 86_400);
            (value, Some(set))
        }
    }
}

/// Renders a hosted form: `page` receives the CSRF field, and the answer carries the CSRF cookie
/// it pairs with when the browser needs a new one.
pub fn form_page<T: pages::Page>(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: impl FnOnce(String) -> T,
) -> Response {
    let (cookie, set_cookie) = csrf_cookie(state, headers);
    let page = page(csrf_field(state, &cookie));
    pages::with_cookie(pages::render(status, &page), set_cookie)
}

/// The form field that goes with a CSRF cookie value: its keyed digest (`crypto::keyed_digest`:
/// an HMAC under a subkey derived from the master key, labelled `csrf`), so the master key,
/// which is also the AES-GCM key, never keys this HMAC directly.
pub fn csrf_field(state: &AppState, cookie_value: &str) -> String {
    crypto::keyed_digest(&state.master_key, "csrf", cookie_value)
}

/// True when the form's field matches the browser's CSRF cookie.
pub fn csrf_ok(state: &AppState, headers: &HeaderMap, field: Option<&str>) -> bool {
    let name = cookie_name(state, CSRF_COOKIE);
    let (Some(cookie_value), Some(field)) = (read_cookie(headers, &name), field) else { return false };
    csrf_field(state, &cookie_value).as_bytes().ct_eq(field.as_bytes()).into()
}
