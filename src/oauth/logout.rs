//! RP-Initiated Logout (OIDC RP-Initiated Logout 1.0): the `end_session_endpoint`.
//!
//! With an `id_token_hint` for the browser's current session, the SSO session ends at once.
//! Otherwise the user confirms first (a CSRF-protected form), so a stray link cannot sign
//! anybody out. Afterwards ovlt redirects to `post_logout_redirect_uri` (with `state`) only
//! when that URI is registered for the client; otherwise it shows a signed-out page.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::json;
use url::Url;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::authorize::invalid_request_page;
use super::client_auth::{AuthenticatedClient, Lookup, find_live_client};
use super::params::{Params, query_parameter};
use super::sso;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth::cookie::{cookies, read_cookie};
use crate::crypto;
use crate::openapi::schema::from_json;
use crate::pages::{self, Hidden, i18n};
use crate::store;
use crate::tenants::TenantId;
use crate::tokens::id_token::IdTokenClaims;
use crate::types::Session;
use crate::types::Timestamp;

const LOGOUT_PARAMS: &[&str] = &["id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales"];

/// An RP-initiated logout request. Other parameters are ignored; none may be repeated.
// For the OpenAPI document: the handlers read it as `Params`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct LogoutRequest {
    /// An ID token issued here (may have expired).
    #[schema(nullable = false)]
    id_token_hint: Option<String>,
    #[schema(schema_with = logout_client_id_schema)]
    client_id: Option<String>,
    /// Followed only when registered for the client.
    #[schema(nullable = false)]
    post_logout_redirect_uri: Option<String>,
    #[schema(nullable = false)]
    state: Option<String>,
    /// The pages' language (`en`, `de`), before the browser's.
    #[schema(nullable = false)]
    ui_locales: Option<String>,
    #[serde(flatten)]
    other: std::collections::HashMap<String, String>,
}

fn logout_client_id_schema() -> utoipa::openapi::Schema {
    from_json(json!({
        "anyOf": [
            { "type": "string", "format": "uuid" },
            { "type": "string", "enum": [""], "description": "As if absent." }
        ]
    }))
}

/// The logout request, or the confirmation form.
// For the OpenAPI document, like `LogoutRequest`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct LogoutForm {
    #[serde(flatten)]
    request: LogoutRequest,
    /// `yes` confirms (with the CSRF token); anything else shows the confirmation page.
    #[schema(nullable = false)]
    confirm: Option<String>,
    /// From the form.
    #[schema(nullable = false)]
    csrf_token: Option<String>,
}

/// The query parameters of `GET /oauth/logout`, for the OpenAPI document (see [`LogoutRequest`]).
pub struct LogoutQuery;

impl IntoParams for LogoutQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let text = |description: &str| json!({ "type": "string", "description": description });
        let client_id = json!({
            "anyOf": [{ "type": "string", "format": "uuid" }, { "type": "string", "enum": [""] }],
            "description": "Empty: as if absent."
        });
        vec![
            query_parameter("id_token_hint", text("An ID token"), "An ID token issued here (may have expired)."),
            query_parameter("client_id", client_id, "The client."),
            query_parameter("post_logout_redirect_uri", text("A URI"), "Followed only when registered for the client."),
            query_parameter("state", text("Opaque"), "Returned with the redirect."),
            query_parameter("ui_locales", text("Language tags"), "The pages' language (en, de), before the browser's."),
        ]
    }
}

/// `GET /oauth/logout`.
#[utoipa::path(
    get,
    path = "/oauth/logout",
    operation_id = "end_session_get",
    tag = "oauth",
    summary = "RP-initiated logout (the end_session_endpoint).",
    description = "With an id_token_hint for the browser's current session the SSO session ends at once; otherwise \
                   a confirmation page is shown first.",
    params(LogoutQuery),
    responses(
        (status = 200, description = "The confirmation page, or the signed-out page.",
            content_type = "text/html", body = String),
        (status = 303, description = "To the registered post_logout_redirect_uri, with `state`.",
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = "An error page: a bad id_token_hint or client.",
            content_type = "text/html", body = String),
    )
)]
pub async fn logout_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    RawQuery(query): RawQuery,
) -> Response {
    match Params::parse_query(query.as_deref()) {
        Ok(params) => logout(&state, &headers, context, &params, false).await,
        Err(why) => invalid_request_page(&headers, &why),
    }
}

/// `POST /oauth/logout`: the same request form-encoded, or the confirmation form.
#[utoipa::path(
    post,
    path = "/oauth/logout",
    operation_id = "end_session_post",
    tag = "oauth",
    summary = "RP-initiated logout, form-encoded, or its confirmation.",
    description = "The same request as GET, or the confirmation form (`confirm=yes` with its CSRF token).",
    request_body(content = Option<LogoutForm>, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The confirmation page, or the signed-out page.",
            content_type = "text/html", body = String),
        (status = 303, description = "To the registered post_logout_redirect_uri, with `state`.",
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = "An error page: a bad id_token_hint or client.",
            content_type = "text/html", body = String),
    )
)]
pub async fn logout_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    match Params::parse(&body) {
        Ok(params) => {
            let confirmed =
                params.get("confirm") == Some("yes") && sso::csrf_ok(&state, &headers, params.get("csrf_token"));
            logout(&state, &headers, context, &params, confirmed).await
        }
        Err(why) => invalid_request_page(&headers, &why),
    }
}

async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    context: RequestContext,
    params: &Params,
    confirmed: bool,
) -> Response {
    // RP-Initiated Logout 1.0 §2 lets the client name the pages' language too.
    let t = i18n::choose(params.get("ui_locales"), headers);
    let bad = |message: &str| pages::error_page(t, StatusCode::BAD_REQUEST, t.invalid_logout_request, message);
    let hint = match params.get("id_token_hint") {
        Some(token) => match verify_hint(state, token).await {
            Some(claims) => Some(claims),
            None => return bad(t.foreign_id_token_hint),
        },
        None => None,
    };
    let client_id = match (params.get("client_id"), &hint) {
        (Some(id), Some(hint)) if id != hint.aud => return bad("client_id does not match the id_token_hint."),
        (Some(id), _) => Some(id.to_string()),
        (None, Some(hint)) => Some(hint.aud.clone()),
        (None, None) => None,
    };
    let client = match client_id {
        Some(id) => match find_live_client(state, &id, Lookup::ClientOnly).await {
            Ok(Some(client)) => Some(client),
            Ok(None) => return bad(t.unknown_client),
            Err(e) => return pages::failed(e),
        },
        None => None,
    };
    // The browser sessions this logout is about: the client's tenant's, or every tenant's.
    let cookies = browser_cookies(state, headers, client.as_ref());
    let sessions = match current_sessions(state, &cookies).await {
        Ok(sessions) => sessions,
        Err(e) => return pages::failed(e),
    };
    let hint_is_current = hint.as_ref().is_some_and(|h| sessions.iter().any(|(_, s)| s.id.to_string() == h.sid));
    // A valid hint for a browser that is already signed out has nothing left to confirm.
    if !(confirmed || hint_is_current || (hint.is_some() && sessions.is_empty())) {
        let brand = match client.as_ref() {
            Some(c) => c
                .settings
                .as_ref()
                .map_or_else(|| pages::Brand::named(&c.tenant.name), |s| pages::Brand::of(&c.tenant, s)),
            None => pages::Brand::named("every application"),
        };
        let hidden: Hidden =
            params.pairs().iter().filter(|(name, _)| LOGOUT_PARAMS.contains(&name.as_str())).cloned().collect();
        return sso::form_page(state, headers, StatusCode::OK, |csrf| pages::LogoutConfirm { t, brand, hidden, csrf });
    }
    let now = Timestamp::now();
    for (tenant_id, session) in &sessions {
        let ended = async {
            let mut tx = state.store.begin().await?;
            store::sessions::revoke_browser_session(&mut *tx, *tenant_id, session.id, "logout", now).await?;
            let event = AuditEvent::new(Actor::User(session.user_id), "logout", context.clone())
                .in_tenant(*tenant_id)
                .target("session", session.id)
                .outcome("success")
                .details(serde_json::json!({ "via": "end_session" }));
            audit::record(&mut *tx, event).await?;
            tx.commit().await
        };
        if let Err(e) = ended.await {
            return pages::failed(anyhow::Error::from(e).context("cannot end an SSO session"));
        }
    }
    let registered = params
        .get("post_logout_redirect_uri")
        .filter(|uri| client.as_ref().is_some_and(|c| c.client.post_logout_redirect_uris.iter().any(|r| r == uri)));
    let mut response = match registered.and_then(|uri| Url::parse(uri).ok()) {
        Some(mut url) => {
            if let Some(client_state) = params.get("state") {
                url.query_pairs_mut().append_pair("state", client_state);
            }
            match HeaderValue::from_str(url.as_str()) {
                Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
                Err(e) => return pages::failed(e),
            }
        }
        None => pages::render(StatusCode::OK, &pages::SignedOut { t }),
    };
    for (tenant_id, _) in &cookies {
        response.headers_mut().append(header::SET_COOKIE, sso::clear_sso_cookie(state, *tenant_id));
    }
    response
}

/// The ID token named by a hint: our signature and issuer; it may have expired (OIDC
/// RP-Initiated Logout §2 allows an expired hint).
async fn verify_hint(state: &AppState, token: &str) -> Option<IdTokenClaims> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&state.config.issuer]);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    let data = state.keys.verify::<IdTokenClaims>(token, &validation).await.ok()?;
    data.header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("JWT")).then_some(data.claims)
}

/// `(tenant, cookie value)` of the browser's SSO cookies: of the client's tenant only when
/// there is a client.
fn browser_cookies(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<&AuthenticatedClient>,
) -> Vec<(TenantId, String)> {
    if let Some(client) = client {
        let name = sso::sso_cookie_name(state, client.tenant.id);
        return read_cookie(headers, &name).map(|value| (client.tenant.id, value)).into_iter().collect();
    }
    cookies(headers).filter_map(|(name, value)| Some((sso::sso_cookie_tenant(state, &name)?, value))).collect()
}

/// The live sessions the cookies name.
async fn current_sessions(state: &AppState, cookies: &[(TenantId, String)]) -> sqlx::Result<Vec<(TenantId, Session)>> {
    let mut sessions = Vec::new();
    let now = Timestamp::now();
    for (tenant_id, value) in cookies {
        let found =
            store::sessions::find_browser_session(state.store.pool(), *tenant_id, &crypto::sha256_hex(value)).await?;
        if let Some(session) = found.filter(|s| s.revoked_at.is_none() && s.expires_at > now) {
            sessions.push((*tenant_id, session));
        }
    }
    Ok(sessions)
}
