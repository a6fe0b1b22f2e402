//! Second factors: a user's TOTP authenticator, their backup codes, and the pending second step
//! of a sign-in (the `mfa_token`). Every state change is one conditional statement, so two
//! requests racing with the same code or token cannot both win.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

use super::get_id;
use crate::types::TenantId;
use crate::types::Timestamp;
use crate::types::UserId;

/// A user's authenticator: the sealed secret, and whether enrolment was confirmed.
pub struct TotpRow {
    pub secret: Vec<u8>,
    pub confirmed: bool,
}

/// Starts (or restarts) an enrolment with a new sealed secret. Returns false, changing nothing,
/// when the user already has a confirmed authenticator: a working factor is never replaced.
pub async fn begin_totp_enrolment<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    sealed_secret: &[u8],
    now: Timestamp,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO mfa_totp (tenant_id, user_id, secret, confirmed_at, last_step, created_at, updated_at) \
         VALUES ($1, $2, $3, NULL, NULL, $4, $4) \
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET secret = excluded.secret, last_step = NULL, \
           created_at = excluded.created_at, updated_at = excluded.updated_at \
         WHERE mfa_totp.confirmed_at IS NULL",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(sealed_secret)
    .bind(now.unix_seconds())
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn find_totp<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
) -> sqlx::Result<Option<TotpRow>> {
    let row = sqlx::query("SELECT secret, confirmed_at FROM mfa_totp WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(db)
        .await?;
    row.map(|row| {
        Ok(TotpRow {
            secret: row.try_get("secret")?,
            confirmed: row.try_get::<Option<i64>, _>("confirmed_at")?.is_some(),
        })
    })
    .transpose()
}

/// Records that the code of time step `step` was accepted; false when that step (or a later
/// one) was accepted before, i.e. the code is a replay. `confirm` also completes an enrolment
/// (and only an unconfirmed one); otherwise only a confirmed authenticator matches. `sealed_secret`
/// pins the secret the code was checked against: a setup racing in between makes this fail.
pub async fn accept_totp_step<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    step: i64,
    sealed_secret: &[u8],
    confirm: bool,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let sql = if confirm {
        "UPDATE mfa_totp SET last_step = $3, confirmed_at = $4, updated_at = $4 \
         WHERE tenant_id = $1 AND user_id = $2 AND secret = $5 AND confirmed_at IS NULL \
           AND (last_step IS NULL OR last_step < $3)"
    } else {
        "UPDATE mfa_totp SET last_step = $3, updated_at = $4 \
         WHERE tenant_id = $1 AND user_id = $2 AND secret = $5 AND confirmed_at IS NOT NULL \
           AND (last_step IS NULL OR last_step < $3)"
    };
    let result = sqlx::query(sql)
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .bind(step)
        .bind(now.unix_seconds())
        .bind(sealed_secret)
        .execute(db)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Turns MFA on or off in the user row (what `/auth/login` reads).
pub async fn set_mfa_enabled<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    enabled: bool,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let result = sqlx::query("UPDATE users SET mfa_enabled = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .bind(enabled)
        .bind(now.unix_seconds())
        .execute(db)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Removes the authenticator, the backup codes and pending challenges; returns whether the user
/// had an authenticator (confirmed or not).
pub async fn delete_second_factors(
    conn: &mut AnyConnection,
    tenant_id: TenantId,
    user_id: UserId,
) -> sqlx::Result<bool> {
    let mut had_authenticator = false;
    for (i, statement) in [
        "DELETE FROM mfa_totp WHERE tenant_id = $1 AND user_id = $2",
        "DELETE FROM mfa_backup_codes WHERE tenant_id = $1 AND user_id = $2",
        "DELETE FROM mfa_challenges WHERE tenant_id = $1 AND user_id = $2",
    ]
    .into_iter()
    .enumerate()
    {
        let result =
            sqlx::query(statement).bind(tenant_id.to_string()).bind(user_id.to_string()).execute(&mut *conn).await?;
        had_authenticator |= i == 0 && result.rows_affected() > 0;
    }
    Ok(had_authenticator)
}

/// Replaces every backup code of the user with `code_hashes`.
pub async fn replace_backup_codes(
    conn: &mut AnyConnection,
    tenant_id: TenantId,
    user_id: UserId,
    code_hashes: &[String],
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM mfa_backup_codes WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .execute(&mut *conn)
        .await?;
    for hash in code_hashes {
        sqlx::query(
            "INSERT INTO mfa_backup_codes (tenant_id, user_id, code_hash, used_at, created_at) \
             VALUES ($1, $2, $3, NULL, $4)",
        )
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .bind(hash)
        .bind(now.unix_seconds())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Spends a backup code; false when it is unknown or was spent before.
pub async fn spend_backup_code<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    code_hash: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE mfa_backup_codes SET used_at = $4 \
         WHERE tenant_id = $1 AND user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(code_hash)
    .bind(now.unix_seconds())
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A pending second step, as found by its token.
pub struct ChallengeRow {
    pub user_id: UserId,
    pub purpose: String,
    /// The sign-in's first factor: `pwd`, or `fed`.
    pub first_factor: String,
}

impl ChallengeRow {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            user_id: get_id(row, "user_id", UserId::parse)?,
            purpose: row.try_get("purpose")?,
            first_factor: row.try_get("first_factor")?,
        })
    }
}

#[allow(clippy::too_many_arguments, reason = "the row's columns, each named at the call")]
pub async fn insert_challenge<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    token_hash: &str,
    purpose: &str,
    first_factor: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mfa_challenges (token_hash, tenant_id, user_id, purpose, first_factor, failed_attempts, \
           expires_at, consumed_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, NULL, $7, $7)",
    )
    .bind(token_hash)
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(purpose)
    .bind(first_factor)
    .bind(expires_at.unix_seconds())
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// The challenge of a token that is still usable: not consumed, not expired, fewer than
/// `max_failures` wrong codes.
pub async fn find_live_challenge<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    token_hash: &str,
    max_failures: i64,
    now: Timestamp,
) -> sqlx::Result<Option<ChallengeRow>> {
    let row = sqlx::query(
        "SELECT user_id, purpose, first_factor FROM mfa_challenges \
         WHERE tenant_id = $1 AND token_hash = $2 AND consumed_at IS NULL AND expires_at > $3 \
           AND failed_attempts < $4",
    )
    .bind(tenant_id.to_string())
    .bind(token_hash)
    .bind(now.unix_seconds())
    .bind(max_failures)
    .fetch_optional(db)
    .await?;
    row.as_ref().map(ChallengeRow::from_row).transpose()
}

/// Reserves one of the challenge's attempts before a code is checked: one atomic statement, so
/// parallel requests cannot together try more codes than allowed. False: the token is dead
/// (consumed, expired, or out of attempts).
pub async fn reserve_challenge_attempt<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    token_hash: &str,
    max_attempts: i64,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE mfa_challenges SET failed_attempts = failed_attempts + 1, updated_at = $3 \
         WHERE tenant_id = $1 AND token_hash = $2 AND consumed_at IS NULL AND expires_at > $3 \
           AND failed_attempts < $4",
    )
    .bind(tenant_id.to_string())
    .bind(token_hash)
    .bind(now.unix_seconds())
    .bind(max_attempts)
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Consumes a challenge whose code was right (its attempt was reserved before the check);
/// false when another request consumed it first, or it expired meanwhile.
pub async fn consume_challenge<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    token_hash: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE mfa_challenges SET consumed_at = $3, updated_at = $3 \
         WHERE tenant_id = $1 AND token_hash = $2 AND consumed_at IS NULL AND expires_at > $3",
    )
    .bind(tenant_id.to_string())
    .bind(token_hash)
    .bind(now.unix_seconds())
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}
