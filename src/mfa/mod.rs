//! Second factors (DESIGN §4): a TOTP authenticator per user (RFC 6238: SHA-1, 6 digits, 30 s,
//! one step of skew either way, no code accepted twice), ten single-use backup codes, and the
//! `mfa_token` that carries a sign-in whose password was right to its second step.
//!
//! Wrong codes count toward the account lockout exactly like wrong passwords (one counter), so
//! knowing the password buys an attacker at most the lockout threshold of guesses per window,
//! however many `mfa_token`s they ask for.

pub mod api;

use totp_rs::{Algorithm, Builder, Totp};

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::crypto::{self, secretbox};
use crate::error::{ApiError, ApiResult};
use crate::settings::TenantSettings;
use crate::store::{self, Tx};
use crate::tenants::{Tenant, TenantId};
use crate::types::Timestamp;
use crate::users::{self, User, UserId};

/// How long an `mfa_token` lives.
pub const CHALLENGE_TTL_SECONDS: i64 = 300;
/// Wrong codes an `mfa_token` survives; the next one finds it dead.
pub const MAX_WRONG_CODES: i64 = 5;
const BACKUP_CODE_COUNT: usize = 10;
/// Wrong second-factor attempts allowed per lockout window when the tenant's lockout is off.
const SECOND_FACTOR_LOCKOUT: i64 = 10;
/// Backup code characters: no 0/o or 1/l to misread. 32 of them, so a random byte modulo 32
/// picks one without bias; ten characters carry 50 bits.
const BACKUP_CODE_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// The `amr` of a session signed in with a password and a second factor (RFC 8176).
pub const AMR_WITH_SECOND_FACTOR: &str = "pwd otp mfa";
/// The same after a sign-in through an identity provider.
pub const AMR_FEDERATED_WITH_SECOND_FACTOR: &str = "fed otp mfa";

/// The `amr` of a sign-in completed by a second factor, after `first`.
pub fn amr_with_second_factor(first: &str) -> &'static str {
    if first == "fed" { AMR_FEDERATED_WITH_SECOND_FACTOR } else { AMR_WITH_SECOND_FACTOR }
}

/// What a user signing in presents as their second factor.
#[derive(Clone, Copy)]
pub enum Factor<'a> {
    Totp(&'a str),
    BackupCode(&'a str),
}

impl<'a> Factor<'a> {
    /// What a hosted form's one code field holds: six digits are the authenticator's, anything
    /// else a backup code.
    pub fn from_code(code: &'a str) -> Self {
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Self::Totp(code)
        } else {
            Self::BackupCode(code)
        }
    }
}

/// What comes after a correct password.
pub enum NextStep {
    /// Signed in with these authentication methods.
    SignedIn { amr: &'static str },
    /// The user has MFA: a code is needed, with this token (`mfa_required`).
    Challenge { mfa_token: String },
    /// The tenant requires MFA and the user has none: they enrol with this token
    /// (`mfa_setup_required`).
    Enrol { mfa_token: String },
}

/// Challenge purposes, as stored.
pub const PURPOSE_VERIFY: &str = "verify";
pub const PURPOSE_ENROL: &str = "enrol";

/// Decides the step after a first factor (`first`: the `amr` of a correct password, `pwd`, or of
/// a sign-in through an identity provider, `fed`). An inline code (`otp` in `/auth/login`) is
/// checked at once, under the same limit as a code sent to the challenge endpoint: `attempts`
/// are those the password check of this same request counted. Without one, a user with MFA gets
/// a challenge.
#[allow(clippy::too_many_arguments, reason = "each is one fact of the sign-in; a struct would only rename them")]
pub async fn after_password(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    user: &User,
    first: &'static str,
    attempts: Option<i64>,
    inline: Option<Factor<'_>>,
    context: &RequestContext,
) -> ApiResult<NextStep> {
    if user.mfa_enabled {
        return match inline {
            Some(factor) => {
                let locked = second_factor_locked(attempts, settings);
                verify_counted(state, tenant, user, factor, context, locked).await?;
                Ok(NextStep::SignedIn { amr: amr_with_second_factor(first) })
            }
            None => {
                let mfa_token = start_challenge(state, tenant.id, user.id, PURPOSE_VERIFY, first).await?;
                Ok(NextStep::Challenge { mfa_token })
            }
        };
    }
    if settings.mfa_policy == "required" {
        let mfa_token = start_challenge(state, tenant.id, user.id, PURPOSE_ENROL, first).await?;
        return Ok(NextStep::Enrol { mfa_token });
    }
    Ok(NextStep::SignedIn { amr: first })
}

/// Checks a second factor of a user with MFA, as a sign-in attempt of its own: counted toward
/// the lockout before the check (as a password attempt is), the count cleared when the code is
/// right. Wrong, replayed, spent or locked-out codes answer `invalid_otp` and are audited.
pub async fn verify(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    user: &User,
    factor: Factor<'_>,
    context: &RequestContext,
) -> ApiResult<()> {
    let now = Timestamp::now();
    let pool = state.store.pool();
    let key = crate::auth::attempt_key(state, tenant.id, &user.email);
    let attempts = store::login_attempts::count(pool, tenant.id, &key, settings.lockout_window_seconds, now).await?;
    verify_counted(state, tenant, user, factor, context, second_factor_locked(Some(attempts.count), settings)).await
}

/// Whether the sign-in attempts counted in the window leave no room for another second-factor
/// guess. A six-digit code must never be open to unlimited guessing, even where the tenant has
/// turned the password lockout off: then [`SECOND_FACTOR_LOCKOUT`] applies.
fn second_factor_locked(attempts: Option<i64>, settings: &TenantSettings) -> bool {
    let threshold = if settings.lockout_threshold > 0 { settings.lockout_threshold } else { SECOND_FACTOR_LOCKOUT };
    attempts.is_some_and(|n| n > threshold)
}

/// [`verify`] for an attempt already counted (and not locked out, unless `locked`).
async fn verify_counted(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
    factor: Factor<'_>,
    context: &RequestContext,
    locked: bool,
) -> ApiResult<()> {
    let pool = state.store.pool();
    let now = Timestamp::now();
    let accepted = !locked
        && match factor {
            Factor::Totp(code) => match totp_step(state, tenant.id, user.id, code, true).await? {
                Some(found) => {
                    store::mfa::accept_totp_step(pool, tenant.id, user.id, found.step, &found.sealed_secret, false, now)
                        .await?
                }
                None => false,
            },
            Factor::BackupCode(code) => {
                let digest = backup_code_digest(state, tenant.id, user.id, code);
                store::mfa::spend_backup_code(pool, tenant.id, user.id, &digest, now).await?
            }
        };
    let kind = match factor {
        Factor::Totp(_) => "totp",
        Factor::BackupCode(_) => "backup_code",
    };
    if !accepted {
        let reason = if locked { "locked" } else { "wrong_code" };
        let event = AuditEvent::new(Actor::User(user.id), "mfa.failed", context.clone())
            .in_tenant(tenant.id)
            .target("user", user.id)
            .outcome("failure")
            .details(serde_json::json!({ "factor": kind, "reason": reason }));
        audit::record(pool, event).await?;
        return Err(ApiError::InvalidOtp);
    }
    store::login_attempts::clear(pool, tenant.id, &crate::auth::attempt_key(state, tenant.id, &user.email)).await?;
    if let Factor::BackupCode(_) = factor {
        let event = AuditEvent::new(Actor::User(user.id), "mfa.backup_code_used", context.clone())
            .in_tenant(tenant.id)
            .target("user", user.id)
            .outcome("success");
        audit::record(pool, event).await?;
    }
    Ok(())
}

/// A TOTP code that matched: its time step, and the secret it matched, as stored (sealed with a
/// fresh nonce, so it names one enrolment exactly; a creation time in seconds would not).
pub struct TotpMatch {
    pub step: i64,
    pub sealed_secret: Vec<u8>,
}

/// The time step a TOTP code matches (within one step of now), checked against the user's
/// confirmed authenticator (`confirmed`) or the one being enrolled. Records nothing: the
/// caller accepts the step, which is what refuses replays.
pub async fn totp_step(
    state: &AppState,
    tenant_id: TenantId,
    user_id: UserId,
    code: &str,
    confirmed: bool,
) -> ApiResult<Option<TotpMatch>> {
    let Some(row) = store::mfa::find_totp(state.store.pool(), tenant_id, user_id).await? else { return Ok(None) };
    if row.confirmed != confirmed {
        return Ok(None);
    }
    let secret = secretbox::open(&state.master_key, &row.secret, &secret_purpose(tenant_id, user_id))
        .map_err(ApiError::internal)?;
    let totp = authenticator(secret, "ovlt", "user").map_err(ApiError::internal)?;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let step = totp.check_current(&code).and_then(|step| i64::try_from(step).ok());
    Ok(step.map(|step| TotpMatch { step, sealed_secret: row.secret }))
}

/// What a user's authenticator app needs: the secret as text, and the otpauth URL, also as a
/// QR code (a PNG data URL).
pub struct AuthenticatorView {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_code: String,
}

/// A new authenticator for a user: the secret sealed for storage, and what the user's app needs.
pub struct NewAuthenticator {
    pub sealed_secret: Vec<u8>,
    pub view: AuthenticatorView,
}

pub async fn new_authenticator(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    user: &User,
) -> ApiResult<NewAuthenticator> {
    // 160 bits, the HMAC-SHA-1 key size RFC 4226 §4 recommends.
    let secret = crypto::random_bytes::<20>();
    let view = view_of(secret.to_vec(), tenant, settings, user).await?;
    Ok(NewAuthenticator {
        sealed_secret: secretbox::seal(&state.master_key, &secret, &secret_purpose(tenant.id, user.id)),
        view,
    })
}

/// The user's authenticator that is being enrolled (not yet confirmed), shown again.
pub async fn pending_authenticator(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    user: &User,
) -> ApiResult<Option<AuthenticatorView>> {
    let Some(row) = store::mfa::find_totp(state.store.pool(), tenant.id, user.id).await? else { return Ok(None) };
    if row.confirmed {
        return Ok(None);
    }
    let secret = secretbox::open(&state.master_key, &row.secret, &secret_purpose(tenant.id, user.id))
        .map_err(ApiError::internal)?;
    view_of(secret, tenant, settings, user).await.map(Some)
}

async fn view_of(
    secret: Vec<u8>,
    tenant: &Tenant,
    settings: &TenantSettings,
    user: &User,
) -> ApiResult<AuthenticatorView> {
    let issuer = settings.display_name.as_deref().unwrap_or(&tenant.name).replace(':', " ");
    let totp = authenticator(secret, issuer.trim(), &user.email.replace(':', " ")).map_err(ApiError::internal)?;
    let otpauth_url = totp.to_url().map_err(ApiError::internal)?;
    let secret_base32 = totp.secret().to_base32();
    // Drawing and compressing the QR code is a millisecond of CPU: off the async workers.
    let png = tokio::task::spawn_blocking(move || totp.to_qr_base64()).await.map_err(ApiError::internal)?;
    let qr_code = format!("data:image/png;base64,{}", png.map_err(ApiError::internal)?);
    Ok(AuthenticatorView { secret_base32, otpauth_url, qr_code })
}

/// Turns a pending authenticator on, in `tx`, once a code proved it (`found`): MFA enabled, ten
/// new backup codes (returned, to be shown once), audited. None when that code's step was
/// taken meanwhile (a replay racing this one): nothing is enabled.
pub async fn enable_authenticator(
    state: &AppState,
    tx: &mut Tx,
    tenant_id: TenantId,
    user_id: UserId,
    found: &TotpMatch,
    context: RequestContext,
) -> ApiResult<Option<Vec<String>>> {
    let now = Timestamp::now();
    if !store::mfa::accept_totp_step(&mut **tx, tenant_id, user_id, found.step, &found.sealed_secret, true, now).await?
    {
        return Ok(None);
    }
    let (codes, digests) = new_backup_codes(state, tenant_id, user_id);
    store::mfa::set_mfa_enabled(&mut **tx, tenant_id, user_id, true, now).await?;
    store::mfa::replace_backup_codes(tx, tenant_id, user_id, &digests, now).await?;
    let event = AuditEvent::new(Actor::User(user_id), "mfa.enabled", context)
        .in_tenant(tenant_id)
        .target("user", user_id)
        .outcome("success");
    audit::record(&mut **tx, event).await?;
    Ok(Some(codes))
}

fn authenticator(secret: Vec<u8>, issuer: &str, account: &str) -> Result<Totp, totp_rs::TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(if issuer.is_empty() { "ovlt" } else { issuer }))
        .build()
}

/// The associated data of a user's sealed TOTP secret: it opens only in its own row.
fn secret_purpose(tenant_id: TenantId, user_id: UserId) -> String {
    format!("totp:{tenant_id}:{user_id}")
}

/// Ten fresh backup codes (shown once) and their digests (stored).
pub fn new_backup_codes(state: &AppState, tenant_id: TenantId, user_id: UserId) -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..BACKUP_CODE_COUNT)
        .map(|_| {
            let chars: String = crypto::random_bytes::<10>()
                .iter()
                .map(|b| BACKUP_CODE_ALPHABET[usize::from(b % 32)] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect();
    let digests = codes.iter().map(|code| backup_code_digest(state, tenant_id, user_id, code)).collect();
    (codes, digests)
}

/// Backup codes are compared case-insensitively, without their hyphen or spaces.
fn backup_code_digest(state: &AppState, tenant_id: TenantId, user_id: UserId, code: &str) -> String {
    let normalized: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    crypto::keyed_digest(&state.master_key, &format!("backup_code:{tenant_id}:{user_id}"), &normalized)
}

/// A new `mfa_token` for the user (256 bits, stored as SHA-256, 5 minutes), remembering the
/// sign-in's first factor.
pub async fn start_challenge(
    state: &AppState,
    tenant_id: TenantId,
    user_id: UserId,
    purpose: &str,
    first: &str,
) -> ApiResult<String> {
    let token = crypto::random_token();
    let now = Timestamp::now();
    let expires = Timestamp(now.0 + CHALLENGE_TTL_SECONDS);
    store::mfa::insert_challenge(
        state.store.pool(),
        tenant_id,
        user_id,
        &challenge_digest(&token),
        purpose,
        first,
        expires,
        now,
    )
    .await?;
    Ok(token)
}

/// Reserves one of the token's five attempts before its code is checked (see
/// `store::mfa::reserve_challenge_attempt`); a dead token is `invalid_token`.
pub async fn reserve_attempt(state: &AppState, tenant_id: TenantId, token: &str) -> ApiResult<()> {
    let reserved = store::mfa::reserve_challenge_attempt(
        state.store.pool(),
        tenant_id,
        &challenge_digest(token),
        MAX_WRONG_CODES,
        Timestamp::now(),
    )
    .await?;
    if reserved { Ok(()) } else { Err(ApiError::InvalidToken) }
}

/// A live `mfa_token`'s user, and the `amr` the sign-in has once the second factor is done.
pub struct Challenged {
    pub user: User,
    pub amr: &'static str,
}

/// The user of a live `mfa_token` with that purpose; anything else is `invalid_token`.
pub async fn challenge_user(state: &AppState, tenant: &Tenant, token: &str, purpose: &str) -> ApiResult<Challenged> {
    let now = Timestamp::now();
    let pool = state.store.pool();
    let digest = challenge_digest(token);
    let challenge = store::mfa::find_live_challenge(pool, tenant.id, &digest, MAX_WRONG_CODES, now).await?;
    let Some(challenge) = challenge.filter(|c| c.purpose == purpose) else { return Err(ApiError::InvalidToken) };
    let user = store::users::find_user_by_id(pool, tenant.id, challenge.user_id).await?;
    let user = user.filter(|u| u.status == users::UserStatus::Active).ok_or(ApiError::InvalidToken)?;
    Ok(Challenged { user, amr: amr_with_second_factor(&challenge.first_factor) })
}

pub fn challenge_digest(token: &str) -> String {
    crypto::sha256_hex(token)
}
