//! `GET /auth/{provider}`: where a sign-in through an identity provider begins — from the
//! hosted sign-in page's buttons (an authorization request to carry on) or from an
//! application's own link (`redirect_to`, with its `state` and PKCE challenge) — and the
//! HttpOnly cookie that binds the flow to the browser.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::crypto::{self, secretbox};
use crate::error::ApiError;
use crate::federation::callback_uri;
use crate::http::extract::Path;
use crate::oauth::authorize::validate;
use crate::oauth::params::{Params, query_parameter};
use crate::pages::{self, Texts, i18n};
use crate::settings::{self};
use crate::store::federation::{FlowState, Onward};
use crate::store::{self};
use crate::tenants::{self, Tenant, TenantKey};
use crate::types::Timestamp;

use super::sign_in::{FLOW_TTL_SECS, audit_failure, browser_cookie, label, oidc_provider};

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
    let same_origin =
        |allowed: &String| url::Url::parse(allowed).is_ok_and(|a| a.origin().ascii_serialization() == origin);
    if settings.allowed_return_origins.iter().any(same_origin) {
        return Ok(true);
    }
    let clients = store::clients::list_clients(state.store.pool(), tenant.id, 1000, 0).await?;
    Ok(clients.iter().filter(|c| c.first_party).any(|client| client.redirect_uris.iter().any(|uri| uri == redirect_to)))
}
