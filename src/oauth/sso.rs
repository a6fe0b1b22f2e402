//! The browser side of the hosted pages: the SSO cookie per tenant and CSRF tokens.
//!
//! The SSO cookie holds a 256-bit random token; the server keeps only its SHA-256 on the
//! session row, so an admin revoking the session signs the browser out at once. CSRF tokens
//! are "signed double submit": a random `ovlt_csrf` cookie, and in each form its HMAC under a
//! key derived from the master key — a cross-site page can neither read the cookie nor forge
//! the field.

use aws_lc_rs::hmac;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::auth::cookie::read_cookie;
use crate::auth::session::Session;
use crate::crypto;
use crate::pages;
use crate::settings::TenantSettings;
use crate::store;
use crate::tenants::{Tenant, TenantId};
use crate::types::Timestamp;
use crate::users::UserStatus;

const CSRF_COOKIE: &str = "ovlt_csrf";

/// Cookies of the hosted pages live under `/oauth`, the only place that reads them.
fn cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/oauth; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"))
        .expect("cookie names and base64url values are valid header text")
}

/// One cookie per tenant, so a browser can be signed in to several tenants at once.
pub fn sso_cookie_name(tenant_id: TenantId) -> String {
    format!("ovlt_sso_{}", tenant_id.to_string().replace('-', ""))
}

pub fn set_sso_cookie(state: &AppState, tenant_id: TenantId, token: &str, max_age: i64) -> HeaderValue {
    cookie(&sso_cookie_name(tenant_id), token, max_age, state.config.is_production())
}

pub fn clear_sso_cookie(state: &AppState, tenant_id: TenantId) -> HeaderValue {
    cookie(&sso_cookie_name(tenant_id), "", 0, state.config.is_production())
}

/// The browser's live SSO session for the tenant (its user active), if it has one.
pub async fn current_session(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    headers: &HeaderMap,
) -> sqlx::Result<Option<Session>> {
    let Some(token) = read_cookie(headers, &sso_cookie_name(tenant.id)) else { return Ok(None) };
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
    match read_cookie(headers, CSRF_COOKIE) {
        Some(value) if value.len() == 43 => (value, None),
        _ => {
            let value = crypto::random_token();
            let set = cookie(CSRF_COOKIE, &value, 86_400, state.config.is_production());
            (value, Some(set))
        }
    }
}

/// Renders a hosted form: `page` receives the CSRF field, and the answer carries the CSRF cookie
/// it pairs with when the browser needs a new one.
pub fn form_page<T: askama::Template>(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: impl FnOnce(String) -> T,
) -> Response {
    let (cookie, set_cookie) = csrf_cookie(state, headers);
    let page = page(csrf_field(state, &cookie));
    pages::with_cookie(pages::render(status, &page), set_cookie)
}

/// The form field that goes with a CSRF cookie value.
pub fn csrf_field(state: &AppState, cookie_value: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, state.master_key.as_bytes());
    URL_SAFE_NO_PAD.encode(hmac::sign(&key, format!("csrf:{cookie_value}").as_bytes()).as_ref())
}

/// True when the form's field matches the browser's CSRF cookie.
pub fn csrf_ok(state: &AppState, headers: &HeaderMap, field: Option<&str>) -> bool {
    let (Some(cookie_value), Some(field)) = (read_cookie(headers, CSRF_COOKIE), field) else { return false };
    csrf_field(state, &cookie_value).as_bytes().ct_eq(field.as_bytes()).into()
}
