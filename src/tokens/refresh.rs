//! Refresh-token rotation: one flow for `/auth/refresh` and the `refresh_token` grant
//! (RFC 6749 §6). The presented token dies at once; presenting a rotated one again ends the
//! whole session (RFC 9700 §4.14.2) unless it comes within the tenant's grace window; and a
//! token works only where its session was opened — a direct `/auth` session at
//! `/auth/refresh`, a client's session at `/oauth/token` for that client.

use super::refresh_token_digest;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::error::ApiResult;
use crate::store::{self, Tx};
use crate::types::{RequestContext, Session, Tenant, TenantSettings, Timestamp, User, UserStatus};

/// A rotated token's session, live and its user active, touched inside `tx`: the caller issues
/// the new pair in it and commits.
pub struct Rotated {
    pub tx: Tx,
    pub session: Session,
    pub user: User,
    pub now: Timestamp,
}

/// Rotates `token` for a session of `client` (None: a direct `/auth` session). None when the
/// token is unknown, expired or rotated before (a replay: its session ends, committed and
/// audited here), when it belongs to another client or kind of session (refused uncommitted,
/// so it stays usable where it belongs), or when its session or user has ended.
pub async fn rotate(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    token: &str,
    client: Option<&str>,
    context: RequestContext,
) -> ApiResult<Option<Rotated>> {
    let now = Timestamp::now();
    let digest = refresh_token_digest(token);
    let mut tx = state.store.begin().await?;
    let Some(session_id) = store::sessions::rotate_refresh_token(&mut *tx, tenant.id, &digest, now).await? else {
        end_replayed_session(tx, tenant, &digest, settings, now, context).await?;
        return Ok(None);
    };
    let Some(session) = store::sessions::find_session(&mut *tx, tenant.id, session_id).await? else {
        return Ok(None);
    };
    if session.client_id.as_deref() != client || !session.is_live(settings, now) {
        return Ok(None);
    }
    let user = store::users::find_user_by_id(&mut *tx, tenant.id, session.user_id).await?;
    let Some(user) = user.filter(|u| u.status == UserStatus::Active) else { return Ok(None) };
    store::sessions::touch_session(&mut *tx, tenant.id, session.id, now).await?;
    Ok(Some(Rotated { tx, session, user, now }))
}

/// A refresh token that could not be rotated: unknown, expired, or already rotated. A replay
/// outside the grace window ends the session and is audited; the rest needs nothing done.
async fn end_replayed_session(
    mut tx: Tx,
    tenant: &Tenant,
    digest: &str,
    settings: &TenantSettings,
    now: Timestamp,
    context: RequestContext,
) -> ApiResult<()> {
    let known = store::sessions::find_refresh_token(&mut *tx, tenant.id, digest).await?;
    let Some((session_id, rotated_at)) = known.and_then(|k| k.rotated_at.map(|at| (k.session_id, at))) else {
        return Ok(());
    };
    if now.0 - rotated_at.0 < settings.refresh_reuse_grace_seconds.clamp(0, 60) {
        return Ok(());
    }
    // A replay of a token whose session already ended (logout, password change) is no alarm.
    if store::sessions::revoke_session(&mut *tx, tenant.id, session_id, "refresh_token_reuse", now).await? {
        // Whoever replayed the token is not known: it may be the thief or the victim.
        let event = AuditEvent::new(Actor::Anonymous, "token.reuse_detected", context)
            .in_tenant(tenant.id)
            .target("session", session_id)
            .outcome("failure");
        audit::record(&mut *tx, event).await?;
        tx.commit().await?;
        tracing::warn!(tenant.id = %tenant.id, session.id = %session_id, "refresh token reuse: session revoked");
        metrics::counter!("ovlt_refresh_reuse_detected_total").increment(1);
    }
    Ok(())
}
