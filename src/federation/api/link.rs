//! Linking an upstream account to the user who already has its (verified) address, under the
//! provider's `link_existing = prompt`: the callback asks that user to prove the account — its
//! password, and its second factor when it has one — on `POST /oauth/link-account`, then links
//! and signs in. The pending link is single use, lives ten minutes, and is bound to the browser
//! that began the sign-in.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::sign_in::{Factors, Flow, browser_binding, label, signed_in};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth;
use crate::crypto;
use crate::error::ApiError;
use crate::federation::linking;
use crate::mfa;
use crate::oauth::params::Params;
use crate::oauth::sso;
use crate::pages::{self, Texts, i18n};
use crate::settings;
use crate::store::{self, federation::PendingLink};
use crate::tenants::{self, TenantKey};
use crate::types::Timestamp;
use crate::users::User;

/// How long the user has to prove the account.
const LINK_TTL_SECS: i64 = 600;

/// The callback's answer when a user has the address: the form that proves the account.
pub(super) async fn ask_for_proof(
    state: &AppState,
    headers: &HeaderMap,
    flow: &Flow,
    user: &User,
    subject: &str,
    email: &str,
    t: &'static Texts,
) -> Response {
    let Some(browser_hash) = browser_binding(state, headers) else {
        return pages::failed(anyhow::anyhow!("no binding"));
    };
    let token = crypto::random_token();
    let now = Timestamp::now();
    let link = PendingLink {
        token_hash: crypto::sha256_hex(&token),
        tenant_id: flow.tenant.id,
        user_id: user.id,
        provider_id: flow.provider.id.clone(),
        subject: subject.to_string(),
        email: email.to_string(),
        browser_hash,
        onward: flow.flow.onward.clone(),
        created_at: now,
        expires_at: Timestamp(now.0 + LINK_TTL_SECS),
    };
    if let Err(e) = store::federation::insert_pending_link(state.store.pool(), &link).await {
        return pages::failed(e);
    }
    let brand = pages::Brand::of(&flow.tenant, &flow.settings);
    let view =
        LinkView { t, brand, provider: label(&flow.provider), email, needs_code: user.mfa_enabled, token: &token };
    view.render(state, headers, StatusCode::OK, None)
}

struct LinkView<'a> {
    t: &'static Texts,
    brand: pages::Brand,
    provider: &'a str,
    email: &'a str,
    needs_code: bool,
    token: &'a str,
}

impl LinkView<'_> {
    fn render(&self, state: &AppState, headers: &HeaderMap, status: StatusCode, error: Option<&str>) -> Response {
        sso::form_page(state, headers, status, |csrf| pages::LinkAccount {
            t: self.t,
            brand: self.brand.clone(),
            provider: self.provider,
            email: self.email,
            needs_code: self.needs_code,
            token: self.token,
            csrf,
            error,
        })
    }
}

/// The link form's fields, for the document (the handler reads them as `Params`).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct LinkAccountForm {
    token: String,
    csrf_token: String,
    password: String,
    /// Six digits or a backup code, when the account has a second factor.
    code: Option<String>,
}

/// `POST /oauth/link-account`: proves the account, links the upstream account to it, signs in.
#[utoipa::path(
    post,
    path = "/oauth/link-account",
    operation_id = "federation_link_account",
    tag = "oauth",
    summary = "Links a provider's account to the user who has its address, once they prove the account.",
    description = "The form the callback shows under link_existing = prompt: the account's password, and its \
                   second factor when it has one. Password attempts count toward the address's lockout.",
    request_body(content = LinkAccountForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A hosted page: the second factor's enrolment, or consent.",
            content_type = "text/html", body = String),
        (status = 303, description = "Linked and signed in: to the client, or to redirect_to with a one-time code.",
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = "The form again (expired form, missing code), or an error page (an unknown, \
                                      spent or expired link, another browser).", content_type = "text/html",
            body = String),
        (status = 401, description = "The form again: a wrong password or code.", content_type = "text/html",
            body = String),
        (status = 403, description = "An error page: the account may not sign in.", content_type = "text/html",
            body = String),
        (status = 429, description = "The form again: too many failed attempts with this address.",
            content_type = "text/html", body = String),
    )
)]
pub async fn link_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    let params = match Params::parse(&body) {
        Ok(params) => params,
        Err(why) => return crate::oauth::authorize::invalid_request_page(&headers, &why),
    };
    let t = i18n::choose(None, &headers);
    let gone = |why: &str| pages::error_page(t, StatusCode::BAD_REQUEST, t.federation_failed_title, why);
    let token = params.get("token").unwrap_or_default();
    let token_hash = crypto::sha256_hex(token);
    let link = match store::federation::find_pending_link(state.store.pool(), &token_hash, Timestamp::now()).await {
        Ok(Some(link)) => link,
        Ok(None) => return gone(t.federation_expired),
        Err(e) => return pages::failed(e),
    };
    let same_browser = browser_binding(&state, &headers)
        .is_some_and(|hash| hash.as_bytes().ct_eq(link.browser_hash.as_bytes()).into());
    if !same_browser {
        return gone(t.federation_other_browser);
    }
    let Some(found) = load(&state, &link).await else { return gone(t.provider_unavailable) };
    let (tenant, settings, provider, user) = found;
    let t = i18n::choose(link.onward.ui_locales().as_deref(), &headers);
    let brand = pages::Brand::of(&tenant, &settings);
    let view =
        LinkView { t, brand, provider: label(&provider), email: &link.email, needs_code: user.mfa_enabled, token };
    let again = |status, why: &str| view.render(&state, &headers, status, Some(why));
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        return again(StatusCode::BAD_REQUEST, t.form_expired);
    }
    let password = params.get("password").unwrap_or_default();
    let checked = auth::verify_password_login(&state, &tenant, &settings, &user.email, password, &context).await;
    match checked {
        Ok(_) => {}
        Err(ApiError::InvalidCredentials | ApiError::InvalidPayload { .. }) => {
            return again(StatusCode::UNAUTHORIZED, t.incorrect_credentials);
        }
        Err(ApiError::TooManyAttempts { retry_after_secs }) => {
            let why = i18n::fill(t.too_many_attempts, retry_after_secs.div_ceil(60));
            return again(StatusCode::TOO_MANY_REQUESTS, &why);
        }
        Err(ApiError::UserSuspended) => {
            return pages::error_page(t, StatusCode::FORBIDDEN, t.federation_failed_title, t.account_suspended);
        }
        Err(ApiError::EmailNotVerified) => {
            return pages::error_page(t, StatusCode::FORBIDDEN, t.federation_failed_title, t.verify_before_sign_in);
        }
        Err(ApiError::Unavailable(_)) => return again(StatusCode::SERVICE_UNAVAILABLE, t.too_many_sign_ins),
        Err(e) => return pages::failed(e),
    }
    let factors = if user.mfa_enabled {
        let code: String = params.get("code").unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect();
        if code.is_empty() {
            return again(StatusCode::BAD_REQUEST, t.enter_authenticator_code);
        }
        let factor = mfa::Factor::from_code(&code);
        match mfa::verify(&state, &tenant, &settings, &user, factor, &context).await {
            Ok(()) => {}
            Err(ApiError::InvalidOtp) => return again(StatusCode::UNAUTHORIZED, t.code_wrong_or_used),
            Err(e) => return pages::failed(e),
        }
        Factors::Complete(mfa::AMR_WITH_SECOND_FACTOR)
    } else {
        Factors::First("pwd")
    };
    match store::federation::consume_pending_link(state.store.pool(), &token_hash, Timestamp::now()).await {
        Ok(true) => {}
        Ok(false) => return gone(t.federation_expired),
        Err(e) => return pages::failed(e),
    }
    match linking::link(&state, &tenant, &provider, &user, &link.subject, &link.email, true, "proved", &context).await {
        Ok(()) => {}
        // The upstream account was linked meanwhile (another tab): this link is spent.
        Err(ApiError::Conflict(_)) => return gone(t.federation_expired),
        Err(e) => return pages::failed(e),
    }
    let event = AuditEvent::new(Actor::User(user.id), "federation.succeeded", context.clone())
        .in_tenant(tenant.id)
        .target("identity_provider", &provider.id)
        .outcome("success")
        .details(json!({ "provider": provider.name, "kind": provider.kind, "user": "proved" }));
    if let Err(e) = audit::record(state.store.pool(), event).await {
        return pages::failed(e);
    }
    signed_in(&state, &headers, &tenant, &provider, &link.onward, &user, factors, t, context).await
}

/// The link's tenant (active), its settings, its provider (enabled) and its user.
async fn load(
    state: &AppState,
    link: &PendingLink,
) -> Option<(crate::tenants::Tenant, settings::TenantSettings, crate::store::identity_providers::ProviderRow, User)> {
    let pool = state.store.pool();
    let tenant = tenants::find_tenant(state, &TenantKey::Id(link.tenant_id)).await.ok()??;
    let provider = store::identity_providers::find_provider(pool, tenant.id, &link.provider_id).await.ok()??;
    let user = store::users::find_user_by_id(pool, tenant.id, link.user_id).await.ok()??;
    let settings = settings::load(&state.store, tenant.id).await.ok()?;
    (tenant.active && provider.enabled).then_some((tenant, settings, provider, user))
}
