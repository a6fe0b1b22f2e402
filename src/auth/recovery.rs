//! Email verification and password reset: sending the code and the reset link, where the link
//! may point, and spending a reset token. The endpoints are in `api/recovery.rs` (the API) and
//! `api/recovery_pages.rs` (the hosted pages).

use serde_json::json;

use super::email_codes::{self as codes, PASSWORD_RESET};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::config::CorsOrigins;
use crate::error::{ApiError, ApiResult};
use crate::mail::OutgoingEmail;
use crate::settings;
use crate::store;
use crate::tenants::Tenant;
use crate::types::Timestamp;
use crate::users::{self, PasswordProblem, User, UserStatus};

/// Spends an emailed verification code on its address: the user, now verified. Any failure —
/// unknown address, no live code, a wrong code, too many tries — is `invalid_code`.
pub async fn verify_email(
    state: &AppState,
    tenant: &Tenant,
    email: &str,
    code: &str,
    context: RequestContext,
) -> ApiResult<User> {
    let now = Timestamp::now();
    let pool = state.store.pool();
    let user = store::users::find_user_by_email(pool, tenant.id, email).await?.ok_or(ApiError::InvalidCode)?;
    let live = store::user_codes::find_live_code_for_user(pool, tenant.id, user.id, codes::EMAIL_VERIFICATION, now)
        .await?
        .ok_or(ApiError::InvalidCode)?;
    if !store::user_codes::reserve_code_attempt(pool, tenant.id, &live.id, codes::MAX_CODE_ATTEMPTS, now).await? {
        return Err(ApiError::InvalidCode);
    }
    if !codes::digests_match(&codes::verification_code_digest(&user, code.trim()), &live.code_hash) {
        return Err(ApiError::InvalidCode);
    }
    let mut tx = state.store.begin().await?;
    if !store::user_codes::consume_code(&mut *tx, tenant.id, &live.id, now).await? {
        return Err(ApiError::InvalidCode);
    }
    store::users::mark_email_verified(&mut *tx, tenant.id, user.id, now).await?;
    let unlinked = store::federation::delete_unverified_identities(&mut *tx, tenant.id, user.id).await?;
    if unlinked > 0 {
        // Whoever signed in through such a link is signed out with it.
        store::sessions::revoke_user_sessions(&mut *tx, tenant.id, user.id, None, "identity_unlinked", now).await?;
    }
    let event = AuditEvent::new(Actor::User(user.id), "email.verified", context)
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success")
        .details(json!({ "unverified_identities_unlinked": unlinked }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    store::users::find_user_by_id(pool, tenant.id, user.id).await?.ok_or(ApiError::InvalidCode)
}

/// Emails the user a fresh verification code (after registration, or on request).
pub async fn send_verification_code(state: &AppState, tenant: &Tenant, user: &User) -> ApiResult<()> {
    let mut tx = state.store.begin().await?;
    let (code, _) = codes::issue_verification_code(&mut tx, user, Timestamp::now()).await?;
    tx.commit().await?;
    state.mailer.send_in_background(OutgoingEmail {
        to: user.email.clone(),
        subject: format!("Your {} verification code", tenant.name),
        body: format!(
            "Your verification code is {code}.\n\nIt expires in {} minutes. If you did not create an account, ignore this email.\n",
            codes::VERIFICATION_CODE_TTL_SECONDS / 60
        ),
    });
    Ok(())
}

pub(super) async fn send_reset_link(
    state: &AppState,
    tenant: &Tenant,
    email: &str,
    base: &str,
    context: RequestContext,
) -> ApiResult<()> {
    let Some(user) = store::users::find_user_by_email(state.store.pool(), tenant.id, email).await? else {
        return Ok(());
    };
    if user.status != UserStatus::Active {
        return Ok(());
    }
    let now = Timestamp::now();
    let mut tx = state.store.begin().await?;
    let (token, _) = codes::issue_reset_token(&mut tx, &user, now).await?;
    let event = AuditEvent::new(Actor::Anonymous, "password.reset_requested", context)
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success");
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    let separator = if base.contains('?') { '&' } else { '?' };
    state.mailer.send_in_background(OutgoingEmail {
        to: user.email.clone(),
        subject: format!("Reset your {} password", tenant.name),
        body: format!(
            "Someone asked to reset the password of this account. To choose a new one, open:\n\n\
             {base}{separator}token={token}\n\nThe link works once, within {} minutes. \
             If it was not you, ignore this email.\n",
            codes::RESET_TOKEN_TTL_SECONDS / 60
        ),
    });
    Ok(())
}

/// Where reset links point: the request's `reset_url` when it is on an origin the tenant or the
/// operator trusts (otherwise anyone could have a victim's token mailed to their own site),
/// else the tenant's `reset_url`, else ovlt's own page.
pub(super) fn reset_link_base(
    state: &AppState,
    tenant: &Tenant,
    settings: &settings::TenantSettings,
    requested: Option<&str>,
) -> Result<String, &'static str> {
    let default = settings.reset_url.clone().unwrap_or_else(|| hosted_reset_page(state, tenant));
    let Some(requested) = requested.map(str::trim).filter(|u| !u.is_empty()) else { return Ok(default) };
    let origin = origin_of(requested).ok_or("must be an absolute http(s) URL")?;
    let mut trusted: Vec<String> = settings.reset_url.iter().filter_map(|u| origin_of(u)).collect();
    trusted.push(origin_of(&state.config.issuer).unwrap_or_default());
    if let CorsOrigins::List(list) = &state.config.cors_origins {
        trusted.extend(list.iter().cloned());
    }
    if trusted.contains(&origin) { Ok(requested.to_string()) } else { Err("is not on a trusted origin") }
}

/// ovlt's own reset page for the tenant (`GET /oauth/reset-password`).
pub(super) fn hosted_reset_page(state: &AppState, tenant: &Tenant) -> String {
    let slug: String = form_urlencoded::byte_serialize(tenant.slug.as_bytes()).collect();
    format!("{}/oauth/reset-password?tenant={slug}", state.config.issuer)
}

/// `scheme://host[:port]` of an absolute http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().filter(|a| !a.is_empty() && !a.contains('@'))?;
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Spends a reset token on a new password (the tenant's policy and history apply); every session
/// of the user ends. Shared by the API and the hosted reset page, which each say a refused
/// password their own way (the inner error).
pub(super) async fn apply_reset(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
    password: &str,
    context: RequestContext,
) -> ApiResult<Result<(), PasswordProblem>> {
    let now = Timestamp::now();
    let pool = state.store.pool();
    let live =
        store::user_codes::find_live_code_by_hash(pool, tenant.id, PASSWORD_RESET, &codes::hex_sha256(token), now)
            .await?
            .ok_or(ApiError::InvalidResetToken)?;
    let user =
        store::users::find_user_by_id(pool, tenant.id, live.user_id).await?.ok_or(ApiError::InvalidResetToken)?;
    let settings = settings::load(&state.store, tenant.id).await?;
    if let Err(problem) = users::validate_password(password, &user.email, &settings) {
        return Ok(Err(problem));
    }
    if let Err(problem) = users::check_password_history(state, &settings, &user, password).await? {
        return Ok(Err(problem));
    }
    let hash = state.passwords.hash(password).await?;

    let mut tx = state.store.begin().await?;
    if !store::user_codes::consume_code(&mut *tx, tenant.id, &live.id, now).await? {
        return Err(ApiError::InvalidResetToken);
    }
    store::users::archive_password(&mut tx, tenant.id, user.id, now).await?;
    store::users::update_password_hash(&mut *tx, tenant.id, user.id, &hash, now).await?;
    // A new password ends the lockout of the address.
    store::login_attempts::clear(&mut *tx, tenant.id, &super::attempt_key(state, tenant.id, &user.email)).await?;
    let ended =
        store::sessions::revoke_user_sessions(&mut *tx, tenant.id, user.id, None, "password_reset", now).await?;
    // The reset link proved the mailbox: identities linked on an address nobody vouched for go.
    let unlinked = store::federation::delete_unverified_identities(&mut *tx, tenant.id, user.id).await?;
    let event = AuditEvent::new(Actor::User(user.id), "password.reset", context)
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success")
        .details(json!({ "sessions_ended": ended, "unverified_identities_unlinked": unlinked }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Ok(()))
}
