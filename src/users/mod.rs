//! Users of a tenant: the model, its one public representation, and the rules for emails and
//! passwords. Endpoints (in `api/`): `/users/me` and, with tenant administration, `/users`.

pub use crate::types::{User, UserId, UserStatus, normalize_email};

mod api;

pub use api::admin::{
    __path_create_user, __path_delete_user, __path_get_user, __path_list_users, __path_update_user, create_user,
    delete_user, get_user, list_users, update_user,
};
pub use api::issue_codes::{
    __path_issue_password_reset_token, __path_issue_verification_code, issue_password_reset_token,
    issue_verification_code,
};
pub use api::me::{__path_change_my_password, __path_get_me, change_my_password, get_me};

use serde::Serialize;

use crate::settings::TenantSettings;
use crate::types::Timestamp;

/// Whether `attempts` (counted by `count_login_attempt`) exceed the tenant's lockout threshold.
pub fn over_lockout_threshold(attempts: Option<i64>, settings: &TenantSettings) -> bool {
    settings.lockout_threshold > 0 && attempts.is_some_and(|n| n > settings.lockout_threshold)
}

/// The one representation of a user, wherever a user is shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserResponse {
    pub id: UserId,
    /// Trimmed, NFC-normalised and lower-cased on the way in.
    pub email: String,
    #[schema(required)]
    pub name: Option<String>,
    pub email_verified: bool,
    pub status: UserStatus,
    pub mfa_enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[schema(required)]
    pub last_login_at: Option<Timestamp>,
}

impl From<&User> for UserResponse {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            email_verified: user.email_verified,
            status: user.status,
            mfa_enabled: user.mfa_enabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// A pragmatic address check: one `@`, a non-empty local part, a dotted domain, no spaces or
/// control characters, at most 254 characters (RFC 5321's path limit).
pub fn validate_email(email: &str) -> Result<(), &'static str> {
    let email = email.trim();
    let Some((local, domain)) = email.rsplit_once('@') else { return Err("must be an email address") };
    let valid = email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@');
    if valid { Ok(()) } else { Err("must be an email address") }
}

/// Why a new password is refused. Its `Display` is the API's English field message ("must be
/// at least 12 characters"); the hosted pages say it in the page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort { min: usize },
    TooLong,
    TooFewKinds { min: usize },
    IsTheEmail,
    UsedBefore { remembered: i64 },
}

impl std::fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooShort { min } => write!(f, "must be at least {min} characters"),
            Self::TooLong => write!(f, "must be at most 128 characters"),
            Self::TooFewKinds { min } => {
                write!(f, "must mix at least {min} kinds of character (lower case, upper case, digits, symbols)")
            }
            Self::IsTheEmail => write!(f, "must not be the email address"),
            Self::UsedBefore { remembered } => write!(f, "must differ from your last {remembered} passwords"),
        }
    }
}

/// The tenant's password policy: length bounds, character classes, and not the email itself.
pub fn validate_password(password: &str, email: &str, settings: &TenantSettings) -> Result<(), PasswordProblem> {
    let length = password.chars().count();
    let min = settings.password_min_length.clamp(8, 128) as usize;
    if length < min {
        return Err(PasswordProblem::TooShort { min });
    }
    if length > 128 {
        return Err(PasswordProblem::TooLong);
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .into_iter()
    .filter(|&present| present)
    .count();
    let min_classes = settings.password_min_classes.clamp(1, 4) as usize;
    if classes < min_classes {
        return Err(PasswordProblem::TooFewKinds { min: min_classes });
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(PasswordProblem::IsTheEmail);
    }
    Ok(())
}

/// The `password_history` setting: a new password must differ from the user's current one and
/// their earlier ones, `password_history` in all. Each is an Argon2id verify (off the async
/// workers), so at most 24 and only when a password changes.
pub async fn check_password_history(
    state: &crate::app::AppState,
    settings: &TenantSettings,
    user: &User,
    new_password: &str,
) -> crate::error::ApiResult<Result<(), PasswordProblem>> {
    let remembered = settings.password_history.clamp(0, 24);
    if remembered == 0 {
        return Ok(Ok(()));
    }
    let earlier =
        crate::store::users::recent_password_hashes(state.store.pool(), user.tenant_id, user.id, remembered - 1)
            .await?;
    for hash in user.password_hash.iter().chain(earlier.iter()) {
        if state.passwords.verify(new_password, Some(hash)).await? {
            return Ok(Err(PasswordProblem::UsedBefore { remembered }));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_pragmatically() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com", "  Alice@Example.COM "] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in
            ["", "plain", "@example.com", "a@b", "a@.com", "a b@c.com", "a@b.com.", &format!("{}@x.io", "a".repeat(65))]
        {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_email("  Alice@Example.COM "), "alice@example.com");
        assert_eq!(normalize_email("e\u{301}x@example.com"), normalize_email("\u{e9}x@example.com"));
        assert_eq!(normalize_email("\u{c9}X@Example.com"), "\u{e9}x@example.com");
    }

    #[test]
    fn the_default_policy_wants_eight_characters_of_two_kinds_and_not_the_email() {
        let s = TenantSettings::default();
        assert!(validate_password("Secret1234!", "a@b.co", &s).is_ok());
        assert!(validate_password("Short1!", "a@b.co", &s).is_err());
        assert!(validate_password("alllowercase", "a@b.co", &s).is_err());
        assert!(validate_password("12345678", "a@b.co", &s).is_err());
        assert!(validate_password(&"aB".repeat(65), "a@b.co", &s).is_err());
        assert!(validate_password("alice@example.com", "alice@example.com", &s).is_err());
    }
}
