//! Which user an upstream account signs in as — the rules identity servers most often get wrong
//! (decision 0015), in one place:
//! - an identity is `(provider, subject)`, linked to exactly one user; on later sign-ins the
//!   subject names the user, never the email;
//! - an upstream address counts as verified only when the upstream says so *and* the provider is
//!   trusted for email (`trust_email`);
//! - an unknown identity whose address no user has becomes a new user (when the tenant lets
//!   people register); one whose address a user has is linked to that user only with a verified
//!   address: at once under the provider's `link_existing = auto`, after the user proves the
//!   account (password, and second factor) under `prompt`, never under `off` — and never on an
//!   unverified address;
//! - a suspended user is refused, and nothing is created for a refused sign-in.

use serde_json::json;
use uuid::Uuid;

use super::oidc::UpstreamIdentity;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult};
use crate::settings::TenantSettings;
use crate::store::{self, federation::ExternalIdentity, identity_providers::ProviderRow};
use crate::tenants::Tenant;
use crate::types::Timestamp;
use crate::users::{self, User, UserStatus};

/// Why an upstream account may not sign in here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The upstream gave no usable address, and a user needs one.
    NoEmail,
    /// No user has the address, and the tenant does not let people register.
    SignUpClosed,
    /// A user has the address, but the upstream's word for it is not trusted.
    UnverifiedEmail,
    /// A user has the address, and this provider does not link to existing users
    /// (`link_existing = off`).
    ExistingAccount,
    /// The tenant requires verified addresses, and this one is not.
    EmailNotVerified,
    Suspended,
}

impl Refusal {
    /// The audit log's `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NoEmail => "no_email",
            Self::SignUpClosed => "sign_up_closed",
            Self::UnverifiedEmail => "unverified_email",
            Self::ExistingAccount => "existing_account",
            Self::EmailNotVerified => "email_not_verified",
            Self::Suspended => "user_suspended",
        }
    }
}

/// What a sign-in through a provider leads to.
pub enum Linking {
    SignIn(Resolved),
    /// The user who has the address must prove the account before it is linked (`prompt`).
    ProveAccount(User),
    Refused(Refusal),
}

/// The user an upstream account signs in as, and how it came to be.
pub struct Resolved {
    pub user: User,
    /// `known`, `created` or `linked`.
    pub how: &'static str,
}

pub async fn resolve(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    provider: &ProviderRow,
    identity: &UpstreamIdentity,
    context: &RequestContext,
) -> ApiResult<Linking> {
    let pool = state.store.pool();
    let now = Timestamp::now();
    let verified = identity.email_verified && provider.trust_email;
    let email = identity.email.as_deref().map(str::trim).filter(|e| users::validate_email(e).is_ok());
    if let Some(known) = store::federation::find_identity(pool, tenant.id, &provider.id, &identity.subject).await? {
        let user = store::users::find_user_by_id(pool, tenant.id, known.user_id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a linked identity's user is gone")))?;
        if user.status == UserStatus::Suspended {
            return Ok(Linking::Refused(Refusal::Suspended));
        }
        if settings.require_verified_email && !user.email_verified {
            return Ok(Linking::Refused(Refusal::EmailNotVerified));
        }
        store::federation::record_identity_login(pool, tenant.id, &known.id, email, now).await?;
        return Ok(Linking::SignIn(Resolved { user, how: "known" }));
    }
    let Some(email) = email else { return Ok(Linking::Refused(Refusal::NoEmail)) };
    let existing = store::users::find_user_by_email(pool, tenant.id, email).await?;
    let (user, how) = match existing {
        None if !settings.self_registration => return Ok(Linking::Refused(Refusal::SignUpClosed)),
        // No account the tenant could not let in anyway.
        None if settings.require_verified_email && !verified => {
            return Ok(Linking::Refused(Refusal::EmailNotVerified));
        }
        None => (User::new(tenant.id, email, identity.name.as_deref(), None, verified), "created"),
        Some(_) if !verified => return Ok(Linking::Refused(Refusal::UnverifiedEmail)),
        Some(user) if user.status == UserStatus::Suspended => return Ok(Linking::Refused(Refusal::Suspended)),
        // At once only when both sides vouch for the address; else the account is proved first.
        Some(user) if provider.link_existing == "auto" && user.email_verified => (user, "linked"),
        // Proving the account takes its password: without one there is nothing to prove it with.
        Some(user) if provider.link_existing != "off" && user.password_hash.is_some() => {
            return Ok(Linking::ProveAccount(user));
        }
        Some(_) => return Ok(Linking::Refused(Refusal::ExistingAccount)),
    };
    link(state, tenant, provider, &user, &identity.subject, email, verified, how, context).await?;
    Ok(Linking::SignIn(Resolved { user, how }))
}

/// Links an upstream account to `user` (creating the user first when `how` is `created`), and
/// audits it.
#[allow(clippy::too_many_arguments, reason = "each is one fact of the link")]
pub async fn link(
    state: &AppState,
    tenant: &Tenant,
    provider: &ProviderRow,
    user: &User,
    subject: &str,
    email: &str,
    verified: bool,
    how: &'static str,
    context: &RequestContext,
) -> ApiResult<()> {
    let now = Timestamp::now();
    let linked = ExternalIdentity {
        id: Uuid::now_v7().to_string(),
        tenant_id: tenant.id,
        user_id: user.id,
        provider_id: provider.id.clone(),
        provider_name: provider.name.clone(),
        provider_kind: provider.kind.clone(),
        subject: subject.to_string(),
        email: Some(email.to_string()),
        email_verified: verified,
        created_at: now,
        last_login_at: Some(now),
    };
    let mut tx = state.store.begin().await?;
    if how == "created" {
        store::users::insert_user(&mut *tx, user).await?;
        let event = AuditEvent::new(Actor::User(user.id), "user.registered", context.clone())
            .in_tenant(tenant.id)
            .target("user", user.id)
            .outcome("success")
            .details(json!({ "via": "federation", "provider": provider.name, "email_verified": verified }));
        audit::record(&mut *tx, event).await?;
    }
    store::federation::insert_identity(&mut *tx, &linked).await?;
    let event = AuditEvent::new(Actor::User(user.id), "identity.linked", context.clone())
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success")
        .details(json!({ "provider": provider.name, "kind": provider.kind, "identity_id": linked.id, "how": how }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(())
}
