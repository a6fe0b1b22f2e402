//! Issuing the one-time secrets a user receives by email: 6-digit email-verification codes
//! (15 minutes, at most 5 wrong tries, single use) and password-reset tokens (256 bits,
//! 30 minutes, single use). Both are stored only as SHA-256; issuing one ends the previous.

use subtle::ConstantTimeEq;

use crate::crypto;
use crate::store::{self, Tx};
use crate::types::Timestamp;
use crate::users::User;

pub const EMAIL_VERIFICATION: &str = "email_verification";
pub const PASSWORD_RESET: &str = "password_reset";
pub const VERIFICATION_CODE_TTL_SECONDS: i64 = 15 * 60;
pub const RESET_TOKEN_TTL_SECONDS: i64 = 30 * 60;
pub const MAX_CODE_ATTEMPTS: i64 = 5;

/// A new verification code for the user: `(code, expires_at)`.
pub async fn issue_verification_code(tx: &mut Tx, user: &User, now: Timestamp) -> sqlx::Result<(String, Timestamp)> {
    let n = u32::from_be_bytes(crypto::random_bytes::<4>()) % 1_000_000;
    let code = format!("{n:06}");
    let expires_at = Timestamp(now.0 + VERIFICATION_CODE_TTL_SECONDS);
    store::user_codes::consume_user_codes(&mut **tx, user.tenant_id, user.id, EMAIL_VERIFICATION, now).await?;
    let digest = verification_code_digest(user, &code);
    store::user_codes::insert_code(&mut **tx, user.tenant_id, user.id, EMAIL_VERIFICATION, &digest, expires_at, now)
        .await?;
    Ok((code, expires_at))
}

/// A new password-reset token for the user: `(token, expires_at)`.
pub async fn issue_reset_token(tx: &mut Tx, user: &User, now: Timestamp) -> sqlx::Result<(String, Timestamp)> {
    let token = crypto::random_token();
    let expires_at = Timestamp(now.0 + RESET_TOKEN_TTL_SECONDS);
    store::user_codes::consume_user_codes(&mut **tx, user.tenant_id, user.id, PASSWORD_RESET, now).await?;
    store::user_codes::insert_code(
        &mut **tx,
        user.tenant_id,
        user.id,
        PASSWORD_RESET,
        &hex_sha256(&token),
        expires_at,
        now,
    )
    .await?;
    Ok((token, expires_at))
}

/// Codes are short, so their digest is bound to the user: equal codes of two users differ.
pub fn verification_code_digest(user: &User, code: &str) -> String {
    hex_sha256(&format!("{}:{code}", user.id))
}

pub fn hex_sha256(text: &str) -> String {
    crypto::sha256(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of two hex digests.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
