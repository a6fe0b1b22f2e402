//! `/auth/*` for a tenant's users (seed "Auth", DESIGN §4–5): checking a password, opening a
//! session, the bearer extractor, the session cookie, the emailed codes and recovery. The
//! endpoints — register, login, refresh, logout, revoke, verification and password reset — are
//! in `api/`.

pub mod api;
pub mod bearer;
pub mod cookie;
pub mod email_codes;
pub mod recovery;

pub use api::session::{
    __path_login, __path_logout, __path_refresh, __path_register, __path_revoke, login, logout, refresh, register,
    revoke,
};
pub(crate) use api::{
    at_least_one_of, at_most_one_of, body_with_rules, described, optional_session_mode, parse_mode, required,
    token_answer, with_rules,
};

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult};
use crate::settings::TenantSettings;
use crate::store;
use crate::tenants::Tenant;
use crate::tokens::{self, TokenLifetimes};
use crate::types::Session;
use crate::types::Timestamp;
use crate::users::{self, User, UserStatus};

/// Starts a session for a user who has just signed in (password, and second factor when they
/// have one) inside the caller's transaction, and issues its first tokens.
pub(crate) async fn open_session(
    state: &AppState,
    tx: &mut store::Tx,
    settings: &TenantSettings,
    user: &User,
    amr: &str,
    context: RequestContext,
) -> ApiResult<tokens::IssuedTokens> {
    let now = Timestamp::now();
    let session = Session::new(user, amr, settings, now);
    store::sessions::insert_session(&mut **tx, &session, context.ip.as_deref(), context.user_agent.as_deref(), None)
        .await?;
    store::users::record_login_success(&mut **tx, user.tenant_id, user.id, now).await?;
    store::login_attempts::clear(&mut **tx, user.tenant_id, &attempt_key(state, user.tenant_id, &user.email)).await?;
    let issued = tokens::issue_tokens(state, tx, &session, TokenLifetimes::of_tenant(settings), now).await?;
    let event = AuditEvent::new(Actor::User(user.id), "login.succeeded", context)
        .in_tenant(user.tenant_id)
        .target("session", session.id)
        .outcome("success")
        .details(serde_json::json!({ "amr": amr }));
    audit::record(&mut **tx, event).await?;
    Ok(issued)
}

/// The key `login_attempts` counts an address under: a digest keyed by the master key, so a
/// database dump does not tell which addresses were tried (decision 0013).
pub(crate) fn attempt_key(state: &AppState, tenant_id: crate::tenants::TenantId, email: &str) -> String {
    let email = crate::types::normalize_email(email);
    crate::crypto::keyed_digest(&state.master_key, &format!("login_attempt:{tenant_id}"), &email)
}

/// What a person gives to register (`POST /auth/register` and the hosted sign-up page).
pub struct Registration<'a> {
    pub email: Option<&'a str>,
    pub password: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Self-registration, when the tenant allows it: the fields checked (each failure named), the
/// user stored unverified and audited, and a verification code emailed.
pub async fn register_user(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    registration: Registration<'_>,
    context: RequestContext,
) -> ApiResult<User> {
    if !settings.self_registration {
        return Err(ApiError::Forbidden("self-registration is disabled for this tenant".into()));
    }
    let mut fields = crate::error::FieldErrors::new();
    let email = required(&mut fields, "email", registration.email);
    let password = required(&mut fields, "password", registration.password);
    if let Some(email) = email
        && let Err(why) = users::validate_email(email)
    {
        fields.insert("email".into(), why.into());
    }
    if let (Some(password), Some(email)) = (password, email)
        && let Err(why) = users::validate_password(password, email, settings)
    {
        fields.insert("password".into(), why.to_string());
    }
    let name = registration.name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 200 || n.chars().any(char::is_control)) {
        fields.insert("name".into(), "must be at most 200 characters, without control characters".into());
    }
    let (Some(email), Some(password), true) = (email, password, fields.is_empty()) else {
        return Err(ApiError::validation(fields));
    };

    let password_hash = state.passwords.hash(password).await?;
    let user = User::new(tenant.id, email, name, Some(password_hash), false);
    let mut tx = state.store.begin().await?;
    store::users::insert_user(&mut *tx, &user).await?;
    let event = AuditEvent::new(Actor::User(user.id), "user.registered", context)
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success");
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    recovery::send_verification_code(state, tenant, &user).await?;
    Ok(user)
}

/// A correct password: the user allowed to sign in, and the sign-in attempts counted in the
/// lockout window, this one included (a second factor sent with it is limited by them).
pub struct PasswordChecked {
    pub user: User,
    pub attempts: Option<i64>,
}

/// Checks an email and password for a sign-in (`/auth/login` and the hosted sign-in page) and
/// returns the user allowed to sign in. An unknown email and a wrong password answer the same
/// `invalid_credentials` after the same work (one Argon2id verify each); past the lockout
/// threshold any address, registered or not, answers `too_many_attempts` (decision 0013).
/// Failures are audited. A password over the length any password may have is refused before
/// anything is counted or hashed.
pub async fn verify_password_login(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    email: &str,
    password: &str,
    context: &RequestContext,
) -> ApiResult<PasswordChecked> {
    crate::crypto::password::check_length(password)?;
    // A place for the hash first: a refusal for load must not count as a failed attempt.
    let slot = state.passwords.reserve()?;
    let now = Timestamp::now();
    let pool = state.store.pool();

    let user = store::users::find_user_by_email(pool, tenant.id, email).await?;
    // Counted before the slow password check (see `login_attempts::count`), by email: unknown
    // addresses are counted and locked exactly like registered ones (decision 0013).
    let key = attempt_key(state, tenant.id, email);
    let counted = store::login_attempts::count(pool, tenant.id, &key, settings.lockout_window_seconds, now).await?;
    let attempts = Some(counted.count);
    let locked = users::over_lockout_threshold(attempts, settings);
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let password_ok = state.passwords.verify_in(slot, password, stored_hash).await?;
    let failure = |action: &'static str, user: Option<&User>| {
        let mut event =
            AuditEvent::new(Actor::Anonymous, action, context.clone()).in_tenant(tenant.id).outcome("failure");
        if let Some(user) = user {
            event = event.target("user", user.id);
        }
        event
    };
    if locked {
        count_login("locked");
        // The attempt one past the threshold is the one that locks the address.
        if attempts == Some(settings.lockout_threshold + 1) {
            metrics::counter!("ovlt_lockouts_total").increment(1);
        }
        audit::record(pool, failure("login.locked", user.as_ref())).await?;
        let retry_after_secs = (counted.window_ends.unix_seconds() - now.unix_seconds()).max(1) as u64;
        return Err(ApiError::TooManyAttempts { retry_after_secs });
    }
    let Some(user) = user else {
        count_login("invalid_credentials");
        audit::record(pool, failure("login.failed", None)).await?;
        return Err(ApiError::InvalidCredentials);
    };
    if !password_ok {
        count_login("invalid_credentials");
        audit::record(pool, failure("login.failed", Some(&user))).await?;
        return Err(ApiError::InvalidCredentials);
    }
    // A correct password forgets the counted attempts: here for the refusals below, and in
    // `record_login_success` for a login that goes through (one write either way).
    let refuse_correct_password =
        user.status == UserStatus::Suspended || (settings.require_verified_email && !user.email_verified);
    if refuse_correct_password {
        store::login_attempts::clear(pool, tenant.id, &key).await?;
    }
    if user.status == UserStatus::Suspended {
        count_login("suspended");
        audit::record(pool, failure("login.failed", Some(&user)).details(serde_json::json!({ "reason": "suspended" })))
            .await?;
        return Err(ApiError::UserSuspended);
    }
    if settings.require_verified_email && !user.email_verified {
        count_login("unverified");
        audit::record(
            pool,
            failure("login.failed", Some(&user)).details(serde_json::json!({ "reason": "unverified" })),
        )
        .await?;
        return Err(ApiError::EmailNotVerified);
    }
    count_login("password_accepted");
    Ok(PasswordChecked { user, attempts })
}

/// `ovlt_logins_total{outcome}`: password sign-ins by outcome (a fixed set of labels).
fn count_login(outcome: &'static str) {
    metrics::counter!("ovlt_logins_total", "outcome" => outcome).increment(1);
}
