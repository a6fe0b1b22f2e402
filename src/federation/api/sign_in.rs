//! The browser flow through an identity provider, and the code an application trades for
//! tokens:
//! - `GET /auth/{provider}` sends the browser to the provider. Its query is either an
//!   authorization request (the hosted sign-in page's buttons: the tenant is the client's, and
//!   the authorization carries on afterwards), or `tenant`, `redirect_to` and optionally the
//!   application's `state` and PKCE challenge (an application's own "Sign in with …" link).
//! - `GET /auth/callback/{provider_id}` checks what came back, finds or creates the user
//!   ([`super::super::linking`]) and signs them in: into the hosted SSO session, or back to
//!   `redirect_to` with a one-time code.
//! - `POST /auth/exchange` trades that code for the normal token answer: tokens never ride in a
//!   URL.
//!
//! The flow's state is single use, lives ten minutes and is bound to the browser by an HttpOnly
//! cookie; nothing but digests of it is stored.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth::api::session::LoginAnswer;
use crate::auth::cookie::read_cookie;
use crate::auth::{open_session, token_answer};
use crate::crypto::{self, secretbox};
use crate::error::{ApiError, ApiResult};
use crate::federation::linking::{self, Linking, Refusal};
use crate::federation::oidc::{OidcProvider, UpstreamIdentity};
use crate::federation::{FederationError, callback_uri, oidc_issuer};
use crate::http::extract::{Json, Path};
use crate::mfa;
use crate::oauth::authorize::validate;
use crate::oauth::params::{Params, query_parameter};
use crate::oauth::sign_in::{after_first_factor, start_sso_session};
use crate::pages::{self, Texts, i18n};
use crate::settings::{self, TenantSettings};
use crate::store::federation::{FederationCode, FlowState, Onward};
use crate::store::{self, identity_providers::ProviderRow};
use crate::tenants::{self, CurrentTenant, Tenant, TenantHeaders, TenantKey};
use crate::types::Timestamp;

/// How long a browser has between leaving for the provider and coming back.
const FLOW_TTL_SECS: i64 = 600;
/// How long an application's backend has to trade the code it was sent back with.
const CODE_TTL_SECS: i64 = 60;
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

/// The query of `GET /auth/{provider}`, for the document.
pub struct StartQuery;

impl IntoParams for StartQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let text = |description: &str| json!({ "type": "string", "description": description });
        vec![
            query_parameter(
                "tenant",
                json!({ "type": "string", "pattern": "^[a-z0-9-]{2,63}$" }),
                "The tenant's slug, when no tenant header can be sent (a browser link).",
            ),
            query_parameter(
                "redirect_to",
                text("A URL"),
                "Where the browser goes back with a one-time code: a redirect URI of one of the tenant's clients, or \
                 under one of its allowed_return_origins.",
            ),
            query_parameter(
                "client_id",
                json!({ "type": "string", "format": "uuid" }),
                "With the rest of an authorization request (the hosted sign-in page's buttons): the authorization \
                 carries on after the sign-in.",
            ),
            query_parameter(
                "state",
                json!({ "type": "string", "minLength": 1, "maxLength": 512 }),
                "With redirect_to: returned with the code, for the application to check (login CSRF).",
            ),
            query_parameter(
                "code_challenge",
                json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{43}$" }),
                "With redirect_to: PKCE S256; POST /auth/exchange then needs the code_verifier.",
            ),
            query_parameter(
                "code_challenge_method",
                json!({ "type": "string", "enum": ["S256"] }),
                "With code_challenge: S256.",
            ),
            query_parameter("ui_locales", text("Language tags"), "The pages' language (en, de)."),
        ]
    }
}

/// `GET /auth/{provider}`: to the identity provider, with `state`, `nonce` and PKCE S256.
#[utoipa::path(
    get,
    path = "/auth/{provider}",
    operation_id = "federation_start",
    tag = "auth",
    summary = "Signs in through one of the tenant's identity providers.",
    description = "`provider` is an identity provider's name (`google` and `github` by convention). The tenant comes \
                   from the tenant header or the `tenant` parameter, or, for the hosted sign-in page's buttons, from \
                   the authorization request the query carries; without one, redirect_to is required (a \
                   first-party client's redirect URI, or under the tenant's allowed_return_origins). Sets the \
                   HttpOnly cookie that binds the flow to this browser.",
    params(("provider" = String, Path, description = "The identity provider's name."), StartQuery),
    responses(
        (status = 302, description = "To the identity provider.",
            headers(("Location" = String, description = "The provider's authorization endpoint."))),
        (status = 303, description = "An authorization request refused after its client and redirect URI are known: \
                                      back to the client with the error.",
            headers(("Location" = String, description = "The client's redirect URI."))),
        (status = 400, description = "An error page: a malformed request, no tenant, no redirect_to or one the \
                                      tenant has not registered, a malformed state or code_challenge.",
            content_type = "text/html", body = String),
        (status = 404, description = "An error page: no such tenant, or no enabled provider of that name.",
            content_type = "text/html", body = String),
        (status = 502, description = "An error page: the provider's metadata cannot be had.",
            content_type = "text/html", body = String),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Params::parse_query(query.as_deref()) {
        Ok(params) => params,
        Err(why) => return crate::oauth::authorize::invalid_request_page(&headers, &why),
    };
    let t = i18n::choose(params.get("ui_locales"), &headers);
    let (tenant, authorize_query, redirect_to, binding) = if params.get("client_id").is_some() {
        let request = match validate(&state, &headers, &params).await {
            Ok(request) => request,
            Err(refusal) => return refusal,
        };
        let query = pages::authorize_path(request.hidden(), &[]);
        let query = query.trim_start_matches("/oauth/authorize?").to_string();
        (request.tenant, Some(query), None, AppBinding::default())
    } else {
        let tenant = match page_tenant(&state, &headers, &params).await {
            Ok(tenant) => tenant,
            Err(page) => return page(t),
        };
        let bad = |why: &str| pages::error_page(t, StatusCode::BAD_REQUEST, t.invalid_request, why);
        // Where the person goes afterwards is the first thing an application's link must say.
        let redirect_to = match params.get("redirect_to") {
            None => return bad(t.unregistered_redirect_to),
            Some(url) => match allowed_return(&state, &tenant, url).await {
                Ok(true) => url.to_string(),
                Ok(false) => return bad(t.unregistered_redirect_to),
                Err(e) => return pages::failed(e),
            },
        };
        let Some(binding) = AppBinding::of(&params) else { return bad(t.invalid_app_binding) };
        (tenant, None, Some(redirect_to), binding)
    };
    let pool = state.store.pool();
    let provider = match store::identity_providers::find_provider_by_name(pool, tenant.id, &name).await {
        Ok(Some(provider)) if provider.enabled => provider,
        Ok(_) => return pages::error_page(t, StatusCode::NOT_FOUND, t.federation_failed_title, t.provider_unavailable),
        Err(e) => return pages::failed(e),
    };

    let flow_state = crypto::random_token();
    let nonce = crypto::random_token();
    let verifier = crypto::random_token();
    let redirect_uri = callback_uri(&state.config.issuer, &provider.id);
    let url = match provider.kind.as_str() {
        "github" => state.federation.github.authorize_url(&provider, &redirect_uri, &flow_state, &verifier),
        _ => match oidc_provider(&state, &provider, redirect_uri) {
            Ok(oidc) => state.federation.oidc.authorize_url(&oidc, &flow_state, &nonce, &verifier).await,
            Err(e) => Err(e),
        },
    };
    let url = match url {
        Ok(url) => url,
        Err(e) => {
            audit_failure(&state, &tenant, &provider, e.reason(), &context).await;
            let why = i18n::fill(t.upstream_failed, label(&provider));
            return pages::error_page(t, StatusCode::BAD_GATEWAY, t.federation_failed_title, &why);
        }
    };
    let (browser, set_cookie) = browser_cookie(&state, &headers);
    let state_hash = crypto::sha256_hex(&flow_state);
    let now = Timestamp::now();
    let flow = FlowState {
        pkce_verifier: secretbox::seal(&state.master_key, verifier.as_bytes(), &format!("flow_state:{state_hash}")),
        state_hash,
        tenant_id: tenant.id,
        provider_id: provider.id.clone(),
        browser_hash: crypto::sha256_hex(&browser),
        nonce,
        onward: Onward {
            authorize_query,
            redirect_to,
            app_state: binding.state,
            code_challenge: binding.code_challenge,
        },
        created_at: now,
        expires_at: Timestamp(now.0 + FLOW_TTL_SECS),
    };
    let started = async {
        let mut tx = state.store.begin().await?;
        store::federation::insert_flow_state(&mut *tx, &flow).await?;
        let event = AuditEvent::new(Actor::Anonymous, "federation.started", context)
            .in_tenant(tenant.id)
            .target("identity_provider", &provider.id)
            .details(json!({ "provider": provider.name, "kind": provider.kind }));
        audit::record(&mut *tx, event).await?;
        tx.commit().await
    };
    if let Err(e) = started.await {
        return pages::failed(e);
    }
    let mut response = (StatusCode::FOUND, [(header::LOCATION, url)]).into_response();
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What an application's link binds its flow to: its own `state`, returned with the code (so it
/// can refuse a code it did not ask for: login CSRF), and a PKCE challenge (S256) its backend
/// answers at the exchange. Both optional, both recommended.
#[derive(Default)]
struct AppBinding {
    state: Option<String>,
    code_challenge: Option<String>,
}

impl AppBinding {
    fn of(params: &Params) -> Option<Self> {
        let state = params.get("state").map(str::to_string);
        if state.as_ref().is_some_and(|s| s.is_empty() || s.len() > 512) {
            return None;
        }
        let code_challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
            (None, None) => None,
            (Some(challenge), Some("S256")) if crate::oauth::authorize::is_s256_challenge(challenge) => {
                Some(challenge.to_string())
            }
            _ => return None,
        };
        Some(Self { state, code_challenge })
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
const AMR_FEDERATED_MFA: &str = "fed mfa";

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

fn oidc_provider<'p>(
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

async fn audit_failure(
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

/// The tenant of an application's link: the tenant header, or the `tenant` parameter.
async fn page_tenant(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Tenant, fn(&'static Texts) -> Response> {
    let found = match params.get("tenant") {
        Some(slug) => tenants::find_tenant(state, &TenantKey::Slug(slug.to_string())).await.ok().flatten(),
        None => match tenants::tenant_from_headers(state, headers).await {
            Ok(tenant) => Some(tenant),
            Err(ApiError::TenantRequired) => {
                return Err(|t| {
                    pages::error_page(t, StatusCode::BAD_REQUEST, t.invalid_request, t.unknown_organisation)
                });
            }
            Err(_) => None,
        },
    };
    found.filter(|tenant| tenant.active).ok_or(|t: &'static Texts| {
        pages::error_page(t, StatusCode::NOT_FOUND, t.unknown_organisation_title, t.unknown_organisation)
    })
}

/// `redirect_to` is a redirect URI of one of the tenant's live first-party clients, exactly, or
/// lies under one of its `allowed_return_origins` (which only a tenant administrator sets): never
/// an open redirect, and never a third party's address — the code is a whole session, without
/// scopes or consent.
async fn allowed_return(state: &AppState, tenant: &Tenant, redirect_to: &str) -> anyhow::Result<bool> {
    let Ok(url) = url::Url::parse(redirect_to) else { return Ok(false) };
    if !matches!(url.scheme(), "https" | "http") || !url.username().is_empty() || url.password().is_some() {
        return Ok(false);
    }
    if url.fragment().is_some() || redirect_to.len() > 2048 {
        return Ok(false);
    }
    let settings = settings::load(&state.store, tenant.id).await?;
    let origin = url.origin().ascii_serialization();
    if settings.allowed_return_origins.contains(&origin) {
        return Ok(true);
    }
    let clients = store::clients::list_clients(state.store.pool(), tenant.id, 1000, 0).await?;
    Ok(clients.iter().filter(|c| c.first_party).any(|client| client.redirect_uris.iter().any(|uri| uri == redirect_to)))
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
fn browser_cookie(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let name = browser_cookie_name(state);
    // The same value for flows begun in parallel tabs, its life renewed for the newest one.
    let value = read_cookie(headers, &name).filter(|v| v.len() == 43).unwrap_or_else(crypto::random_token);
    let scope = if state.config.is_production() { "Path=/; Secure" } else { "Path=/" };
    let cookie = format!("{name}={value}; {scope}; Max-Age={FLOW_TTL_SECS}; HttpOnly; SameSite=Lax");
    let header = HeaderValue::from_str(&cookie).ok();
    (value, header)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The one-time code `redirect_to` was sent back with.
    #[schema(min_length = 1, max_length = 100)]
    code: Option<String>,
    /// The PKCE verifier, when the link sent a `code_challenge`.
    #[schema(min_length = 43, max_length = 128)]
    code_verifier: Option<String>,
}

/// The `amr` a code was stored with, as what it proves (an unknown one proves one factor).
fn known_amr(amr: &str) -> Factors {
    match amr {
        AMR_FEDERATED_MFA => Factors::Complete(AMR_FEDERATED_MFA),
        mfa::AMR_WITH_SECOND_FACTOR => Factors::Complete(mfa::AMR_WITH_SECOND_FACTOR),
        "pwd" => Factors::First("pwd"),
        _ => Factors::First(AMR_FEDERATED),
    }
}

/// `POST /auth/exchange`: the one-time code from an identity provider's sign-in, for the tokens.
#[utoipa::path(
    post,
    path = "/auth/exchange",
    operation_id = "federation_exchange",
    tag = "auth",
    summary = "Trades the code from a sign-in through an identity provider for tokens.",
    description = "The code is the one the callback sent the browser back to redirect_to with: single use, 60 \
                   seconds, this tenant's. The answer is /auth/login's: the tokens, or the second step a user with \
                   MFA (or a tenant requiring it) needs.",
    params(TenantHeaders),
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "Signed in, or the second step needed.", body = inline(LoginAnswer)),
        (status = 400, description = "invalid_request: the code is unknown, spent, expired or another tenant's"),
        (status = 403, description = "user_suspended"),
    )
)]
pub async fn exchange(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    Json(body): Json<ExchangeRequest>,
) -> ApiResult<Response> {
    let refused = ApiError::InvalidRequest("the code is unknown, spent or expired");
    let Some(code) = body.code.filter(|c| !c.is_empty() && c.len() <= 100) else { return Err(refused) };
    let pool = state.store.pool();
    let Some(spent) =
        store::federation::consume_code(pool, tenant.id, &crypto::sha256_hex(&code), Timestamp::now()).await?
    else {
        return Err(refused);
    };
    // A code of a flow bound to a PKCE challenge is good only with its verifier.
    if let Some(challenge) = &spent.code_challenge {
        let verifier = body.code_verifier.as_deref().unwrap_or_default();
        if !crate::oauth::token::pkce_matches(verifier, challenge) {
            return Err(ApiError::InvalidRequest("the code_verifier does not match the code_challenge"));
        }
    }
    let amr = spent.amr;
    let user = store::users::find_user_by_id(pool, tenant.id, spent.user_id).await?.ok_or(refused)?;
    if user.status == crate::users::UserStatus::Suspended {
        return Err(ApiError::UserSuspended);
    }
    let settings = settings::load(&state.store, tenant.id).await?;
    let amr = match known_amr(&amr) {
        Factors::Complete(amr) => amr,
        Factors::First(first) => {
            let next = mfa::after_password(&state, &tenant, &settings, &user, first, None, None, &context).await?;
            match mfa::api::second_step(next) {
                Ok(amr) => amr,
                Err(answer) => return Ok(answer),
            }
        }
    };
    let mut tx = state.store.begin().await?;
    let issued = open_session(&state, &mut tx, &settings, &user, amr, context).await?;
    tx.commit().await?;
    metrics::counter!("ovlt_tokens_issued_total", "grant" => "federation").increment(1);
    Ok(token_answer(&state, issued, false, None))
}
