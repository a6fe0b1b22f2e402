//! The return from an identity provider, `GET /auth/callback/{provider_id}`: it checks what
//! came back, finds or creates the user ([`super::super::linking`]) and signs them in — into the
//! hosted SSO session, or back to `redirect_to` with a one-time code for `POST /auth/exchange`
//! ([`super::exchange`]). The flow begins at `GET /auth/{provider}` ([`super::start`]); what
//! both need (the provider's label and configuration, the browser binding, the failure audit)
//! is here too.
//!
//! The flow's state is single use, lives ten minutes and is bound to the browser by an HttpOnly
//! cookie; nothing but digests of it is stored.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth::cookie::read_cookie;
use crate::crypto::{self, secretbox};
use crate::error::ApiError;
use crate::federation::linking::{self, Linking, Refusal};
use crate::federation::oidc::{OidcProvider, UpstreamIdentity};
use crate::federation::{FederationError, callback_uri, oidc_issuer};
use crate::http::extract::Path;
use crate::oauth::authorize::validate;
use crate::oauth::params::Params;
use crate::oauth::sign_in::{after_first_factor, start_sso_session};
use crate::pages::{self, Texts, i18n};
use crate::settings::{self, TenantSettings};
use crate::store::federation::{FederationCode, FlowState, Onward};
use crate::store::{self, identity_providers::ProviderRow};
use crate::tenants::{self, Tenant, TenantKey};
use crate::types::Timestamp;

/// How long a browser has between leaving for the provider and coming back.
pub(super) const FLOW_TTL_SECS: i64 = 600;
/// How long an application's backend has to trade the code it was sent back with.
pub(super) const CODE_TTL_SECS: i64 = 60;
/// How long the callback's calls to the provider may take together (the request's own timeout
/// is 30 s by default).
const UPSTREAM_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);
/// The cookie that binds a flow to the browser that began it.
const BROWSER_COOKIE: &str = "ovlt_fed";
/// The `amr` of a sign-in through an identity provider (RFC 8176 has none; `fed` is ovlt's).
pub const AMR_FEDERATED: &str = "fed";

/// One button on the hosted sign-in page.
pub struct ProviderButton {
    pub label: String,
    pub href: String,
}

/// The sign-in page's buttons: the tenant's enabled providers in its order, each leading to
/// `/auth/{name}` with the authorization request (`authorize_query`) it carries on.
pub async fn buttons(state: &AppState, tenant: &Tenant, t: &Texts, authorize_query: &str) -> Vec<ProviderButton> {
    let providers = match store::identity_providers::list_enabled_providers(state.store.pool(), tenant.id).await {
        Ok(providers) => providers,
        // A sign-in page without the buttons still signs in with a password.
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the identity providers for the sign-in page");
            Vec::new()
        }
    };
    providers
        .iter()
        .map(|p| ProviderButton {
            label: i18n::fill(t.continue_with, label(p)),
            href: format!("/auth/{}?{authorize_query}", p.name),
        })
        .collect()
}

/// What a person calls the provider.
pub(super) fn label(provider: &ProviderRow) -> &str {
    match provider.kind.as_str() {
        "google" => "Google",
        "github" => "GitHub",
        _ => &provider.name,
    }
}

/// The query of the callback, for the document.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CallbackQuery {
    /// The provider's authorization code.
    code: Option<String>,
    /// The flow's state, as `GET /auth/{provider}` sent it.
    state: Option<String>,
    /// The provider's refusal (`access_denied`, …).
    error: Option<String>,
    /// RFC 9207: the provider's issuer, checked when present.
    iss: Option<String>,
}

/// `GET /auth/callback/{provider}`: the provider sends the browser back here.
#[utoipa::path(
    get,
    path = "/auth/callback/{provider}",
    operation_id = "federation_callback",
    tag = "auth",
    summary = "Where an identity provider sends the browser back.",
    description = "Checks the state (single use, ten minutes, this browser), trades the code, checks the ID token, \
                   finds or creates the user by the linking rules and signs them in: into the hosted SSO session \
                   when the flow began at /oauth/authorize, else back to redirect_to with a one-time code for \
                   POST /auth/exchange.",
    params(
        ("provider" = Uuid, Path, description = "The identity provider's id: its redirect_uri, unique to the tenant."),
        CallbackQuery
    ),
    responses(
        (status = 200, description = "A hosted page: the second factor, its enrolment, or consent.",
            content_type = "text/html", body = String),
        (status = 303, description = "Signed in: to the client with an authorization code, or to redirect_to with \
                                      a one-time code.",
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = "An error page: an unknown, spent, expired or foreign state, or the provider's \
                                      refusal.", content_type = "text/html", body = String),
        (status = 403, description = "An error page: the account may not sign in here (suspended, no sign-up, an \
                                      address another account uses).", content_type = "text/html", body = String),
        (status = 502, description = "An error page: the provider failed or its answer did not check out.",
            content_type = "text/html", body = String),
    )
)]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let t = i18n::choose(None, &headers);
    let failed = |status, why: &str| pages::error_page(t, status, t.federation_failed_title, why);
    let params = match Params::parse_query(query.as_deref()) {
        Ok(params) => params,
        Err(why) => return crate::oauth::authorize::invalid_request_page(&headers, &why),
    };
    let Some(flow_state) = params.get("state") else { return failed(StatusCode::BAD_REQUEST, t.federation_expired) };
    let flow = match store::federation::consume_flow_state(
        state.store.pool(),
        &crypto::sha256_hex(flow_state),
        Timestamp::now(),
    )
    .await
    {
        Ok(Some(flow)) => flow,
        Ok(None) => return failed(StatusCode::BAD_REQUEST, t.federation_expired),
        Err(e) => return pages::failed(e),
    };
    // From here the flow is known: its refusals are audited in its tenant.
    let refused_early = |reason: &'static str, why: &str| {
        let event = AuditEvent::new(Actor::Anonymous, "federation.failed", context.clone())
            .in_tenant(flow.tenant_id)
            .target("identity_provider", &flow.provider_id)
            .outcome("failure")
            .details(json!({ "reason": reason }));
        let page = failed(StatusCode::BAD_REQUEST, why);
        let pool = state.store.pool();
        async move {
            if let Err(e) = audit::record(pool, event).await {
                tracing::error!(error = %e, "cannot audit a failed sign-in through an identity provider");
            }
            page
        }
    };
    let same_browser = browser_binding(&state, &headers)
        .is_some_and(|hash| hash.as_bytes().ct_eq(flow.browser_hash.as_bytes()).into());
    if !same_browser {
        return refused_early("other_browser", t.federation_other_browser).await;
    }
    let Ok(Some(tenant)) = tenants::find_tenant(&state, &TenantKey::Id(flow.tenant_id)).await else {
        return failed(StatusCode::BAD_REQUEST, t.federation_expired);
    };
    let pool = state.store.pool();
    let provider = match store::identity_providers::find_provider(pool, tenant.id, &flow.provider_id).await {
        Ok(Some(provider)) if provider.enabled && provider.id == id && tenant.active => provider,
        Ok(_) => return refused_early("provider_unavailable", t.provider_unavailable).await,
        Err(e) => return pages::failed(e),
    };
    let settings = match settings::load(&state.store, tenant.id).await {
        Ok(settings) => settings,
        Err(e) => return pages::failed(e),
    };
    let flow = Flow { tenant, settings, provider, flow };
    let t = flow.texts(&headers);
    let refuse = |status, reason: &'static str, why: String| {
        let flow = &flow;
        let context = &context;
        let state = &state;
        async move {
            audit_failure(state, &flow.tenant, &flow.provider, reason, context).await;
            pages::error_page(t, status, t.federation_failed_title, &why)
        }
    };
    let upstream = label(&flow.provider).to_string();
    if params.get("error").is_some() {
        return refuse(StatusCode::BAD_REQUEST, "upstream_refused", i18n::fill(t.upstream_cancelled, &upstream)).await;
    }
    let Some(code) = params.get("code") else {
        return refuse(StatusCode::BAD_REQUEST, "no_code", i18n::fill(t.upstream_failed, &upstream)).await;
    };
    // Every upstream call has its own deadline; together they stay well inside the request's.
    let identity = match tokio::time::timeout(UPSTREAM_DEADLINE, finish(&state, &flow, code, params.get("iss"))).await {
        Ok(Ok(identity)) => identity,
        Err(_) => {
            let why = i18n::fill(t.upstream_failed, &upstream);
            return refuse(StatusCode::BAD_GATEWAY, "upstream_timeout", why).await;
        }
        Ok(Err(e)) => {
            tracing::info!(provider = flow.provider.name, error = %e, "sign-in through an identity provider refused");
            return refuse(StatusCode::BAD_GATEWAY, e.reason(), i18n::fill(t.upstream_failed, &upstream)).await;
        }
    };
    let resolve = || linking::resolve(&state, &flow.tenant, &flow.settings, &flow.provider, &identity, &context);
    let linking = match resolve().await {
        // Two first sign-ins of one person at once: the other one created the user or the link;
        // this one finds it.
        Err(ApiError::Conflict(_)) => resolve().await,
        other => other,
    };
    let resolved = match linking {
        Ok(Linking::SignIn(resolved)) => resolved,
        Ok(Linking::ProveAccount(user)) => {
            let email = identity.email.as_deref().unwrap_or_default();
            return super::link::ask_for_proof(&state, &headers, &flow, &user, &identity.subject, email, t).await;
        }
        Ok(Linking::Refused(refusal)) => {
            let why = match refusal {
                Refusal::NoEmail => i18n::fill(t.upstream_no_email, &upstream),
                Refusal::SignUpClosed => t.sign_up_closed.to_string(),
                Refusal::UnverifiedEmail => i18n::fill(t.upstream_unverified_email, &upstream),
                Refusal::ExistingAccount => t.upstream_existing_account.to_string(),
                Refusal::Suspended => t.account_suspended.to_string(),
                Refusal::EmailNotVerified => t.verify_before_sign_in.to_string(),
            };
            return refuse(StatusCode::FORBIDDEN, refusal.reason(), why).await;
        }
        Err(e) => return pages::failed(e),
    };
    let user = resolved.user;
    let event = AuditEvent::new(Actor::User(user.id), "federation.succeeded", context.clone())
        .in_tenant(flow.tenant.id)
        .target("identity_provider", &flow.provider.id)
        .outcome("success")
        .details(json!({ "provider": flow.provider.name, "kind": flow.provider.kind, "user": resolved.how }));
    if let Err(e) = audit::record(pool, event).await {
        return pages::failed(e);
    }
    // The upstream's own second factor counts only where the administrator trusts it to.
    // Never on the sign-in that links an existing account: its own second factor decides that one.
    let upstream_mfa = identity.amr.iter().any(|amr| amr == "mfa");
    let factors = if flow.provider.trust_amr && upstream_mfa && resolved.how != "linked" {
        Factors::Complete(AMR_FEDERATED_MFA)
    } else {
        Factors::First(AMR_FEDERATED)
    };
    signed_in(&state, &headers, &flow.tenant, &flow.provider, &flow.flow.onward, &user, factors, t, context).await
}

/// The `amr` of a sign-in through a provider whose own second factor is trusted.
pub(super) const AMR_FEDERATED_MFA: &str = "fed mfa";

/// What a sign-in has proved so far.
pub(super) enum Factors {
    /// One factor (`fed`, or `pwd`): the second factor, or its enrolment, follows when the user
    /// or the tenant needs one.
    First(&'static str),
    /// Everything the sign-in needs (an `amr` with `mfa`).
    Complete(&'static str),
}

/// Signs `user` in after the provider (or after proving the account to link it): the hosted
/// authorization carries on — checked again from its query — or the application gets its
/// one-time code.
#[allow(clippy::too_many_arguments, reason = "each is one fact of the sign-in")]
pub(super) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    tenant: &Tenant,
    provider: &ProviderRow,
    onward: &Onward,
    user: &crate::users::User,
    factors: Factors,
    t: &'static Texts,
    context: RequestContext,
) -> Response {
    let failed = |why: &str| pages::error_page(t, StatusCode::BAD_REQUEST, t.federation_failed_title, why);
    if let Some(query) = onward.authorize_query.as_deref() {
        let params = match Params::parse_query(Some(query)) {
            Ok(params) => params,
            Err(why) => return crate::oauth::authorize::invalid_request_page(headers, &why),
        };
        let request = match validate(state, headers, &params).await {
            Ok(request) if request.tenant.id == tenant.id => request,
            Ok(_) => return failed(t.federation_expired),
            Err(refusal) => return refusal,
        };
        return match factors {
            Factors::First(first) => after_first_factor(state, headers, &request, user, first, context).await,
            Factors::Complete(amr) => start_sso_session(state, headers, &request, user, amr, context).await,
        };
    }
    let Some(redirect_to) = onward.redirect_to.as_deref() else { return failed(t.federation_expired) };
    let Ok(mut url) = url::Url::parse(redirect_to) else { return failed(t.federation_expired) };
    let code = crypto::random_token();
    let now = Timestamp::now();
    let row = FederationCode {
        code_hash: crypto::sha256_hex(&code),
        tenant_id: tenant.id,
        user_id: user.id,
        provider_id: provider.id.clone(),
        amr: match factors {
            Factors::First(amr) | Factors::Complete(amr) => amr.to_string(),
        },
        code_challenge: onward.code_challenge.clone(),
        created_at: now,
        expires_at: Timestamp(now.0 + CODE_TTL_SECS),
    };
    if let Err(e) = store::federation::insert_code(state.store.pool(), &row).await {
        return pages::failed(e);
    }
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(app_state) = &onward.app_state {
        url.query_pairs_mut().append_pair("state", app_state);
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string()), (header::CACHE_CONTROL, "no-store".into())])
        .into_response()
}

/// A flow come back, with its tenant and provider as they are now.
pub(super) struct Flow {
    pub(super) tenant: Tenant,
    pub(super) settings: TenantSettings,
    pub(super) provider: ProviderRow,
    pub(super) flow: FlowState,
}

impl Flow {
    /// The pages' language: that of the authorization request, else the browser's.
    fn texts(&self, headers: &HeaderMap) -> &'static Texts {
        i18n::choose(self.flow.onward.ui_locales().as_deref(), headers)
    }
}

/// Trades the code with the provider and checks its answer (no transaction is held meanwhile:
/// the provider may be this very server).
async fn finish(
    state: &AppState,
    flow: &Flow,
    code: &str,
    iss: Option<&str>,
) -> Result<UpstreamIdentity, FederationError> {
    let provider = &flow.provider;
    let state_hash = &flow.flow.state_hash;
    let verifier = secretbox::open(&state.master_key, &flow.flow.pkce_verifier, &format!("flow_state:{state_hash}"))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(FederationError::Misconfigured)?;
    let redirect_uri = callback_uri(&state.config.issuer, &provider.id);
    if provider.kind == "github" {
        let secret = provider_secret(state, provider)?;
        return state.federation.github.finish(provider, secret, &redirect_uri, code, &verifier).await;
    }
    let oidc = oidc_provider(state, provider, redirect_uri)?;
    // RFC 9207: a provider that names itself must name the right issuer (mix-up defence).
    if iss.is_some_and(|iss| iss != oidc.issuer) {
        return Err(FederationError::InvalidAnswer("the answer names another issuer"));
    }
    state.federation.oidc.finish(&oidc, code, &flow.flow.nonce, &verifier).await
}

fn provider_secret(state: &AppState, provider: &ProviderRow) -> Result<Option<String>, FederationError> {
    provider
        .client_secret
        .as_ref()
        .map(|sealed| {
            secretbox::open(&state.master_key, sealed, &format!("idp_secret:{}", provider.id))
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or(FederationError::Misconfigured)
        })
        .transpose()
}

pub(super) fn oidc_provider<'p>(
    state: &AppState,
    provider: &'p ProviderRow,
    redirect_uri: String,
) -> Result<OidcProvider<'p>, FederationError> {
    Ok(OidcProvider {
        issuer: oidc_issuer(provider).ok_or(FederationError::Misconfigured)?,
        client_id: &provider.client_id,
        client_secret: provider_secret(state, provider)?,
        redirect_uri,
        scopes: &provider.scopes,
    })
}

pub(super) async fn audit_failure(
    state: &AppState,
    tenant: &Tenant,
    provider: &ProviderRow,
    reason: &str,
    context: &RequestContext,
) {
    let event = AuditEvent::new(Actor::Anonymous, "federation.failed", context.clone())
        .in_tenant(tenant.id)
        .target("identity_provider", &provider.id)
        .outcome("failure")
        .details(json!({ "provider": provider.name, "kind": provider.kind, "reason": reason }));
    if let Err(e) = audit::record(state.store.pool(), event).await {
        tracing::error!(error = %e, "cannot audit a failed sign-in through an identity provider");
    }
}

/// The digest of the browser's binding cookie, when it has one.
pub(super) fn browser_binding(state: &AppState, headers: &HeaderMap) -> Option<String> {
    read_cookie(headers, &browser_cookie_name(state)).map(|cookie| crypto::sha256_hex(&cookie))
}

/// The binding cookie's name: `__Host-` in production, like the hosted pages' cookies.
fn browser_cookie_name(state: &AppState) -> String {
    if state.config.is_production() { format!("__Host-{BROWSER_COOKIE}") } else { BROWSER_COOKIE.to_string() }
}

/// The browser's binding value, and a `Set-Cookie` when it needs a new one. `SameSite=Lax`: the
/// provider's redirect back is a top-level GET, which Lax lets through. `Path=/`: the callback
/// (`/auth/…`) and the link form (`/oauth/…`) both read it.
pub(super) fn browser_cookie(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let name = browser_cookie_name(state);
    // The same value for flows begun in parallel tabs, its life renewed for the newest one.
    let value = read_cookie(headers, &name).filter(|v| v.len() == 43).unwrap_or_else(crypto::random_token);
    let scope = if state.config.is_production() { "Path=/; Secure" } else { "Path=/" };
    let cookie = format!("{name}={value}; {scope}; Max-Age={FLOW_TTL_SECS}; HttpOnly; SameSite=Lax");
    let header = HeaderValue::from_str(&cookie).ok();
    (value, header)
}
