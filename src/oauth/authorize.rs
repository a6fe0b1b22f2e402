//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): it checks the request, then
//! leads through the hosted pages — sign-in, the second factor and consent, whose forms
//! [`super::sign_in`] receives — to the code.
//!
//! Every page carries the original request in hidden fields and every POST validates it again
//! from scratch, so nothing about a pending authorization is kept on the server, and a tampered
//! field is just another request to check. An invalid client or redirect URI is answered with
//! an error page and never a redirect; any other error goes back to the client's redirect URI.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

pub use super::authorize_doc::{AuthorizationQuery, AuthorizationRequest};
pub(crate) use super::authorize_doc::{BAD_REQUEST_ANSWER, PAGE_ANSWER, REDIRECT_ANSWER};
use super::authorize_pages::consent_page;
pub(super) use super::authorize_pages::{sign_in_page, sign_in_page_noting};
use super::client_auth::{AuthenticatedClient, Lookup, find_live_client};
use super::params::Params;
use super::{CODE_TTL_SECONDS, scope_tokens, sso};
use crate::app::AppState;
use crate::clients::redirect_uri;
use crate::crypto;
use crate::pages::{self, Hidden, Texts, i18n};
use crate::settings::TenantSettings;
use crate::store::{self, clients::ClientRow, oauth::CodeRow};
use crate::tenants::Tenant;
use crate::types::OVLT_API_SCOPE;
use crate::types::Session;
use crate::types::Timestamp;

/// The parameters an authorization request may carry, and so the hidden fields of its pages.
const REQUEST_PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "ui_locales",
];

/// A valid authorization request.
pub struct AuthRequest {
    pub tenant: Tenant,
    pub settings: TenantSettings,
    pub client: ClientRow,
    pub redirect_uri: String,
    /// The requested scope, normalised (distinct tokens, space-separated).
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The pages' language: `ui_locales`, else the browser's.
    pub t: &'static Texts,
    pub(super) hidden: Hidden,
}

impl AuthRequest {
    /// The request's parameters, as its pages carry them.
    pub fn hidden(&self) -> &Hidden {
        &self.hidden
    }
}

/// `GET /oauth/authorize`.
#[utoipa::path(
    get,
    path = "/oauth/authorize",
    tag = "oauth",
    summary = "The authorization endpoint (code flow).",
    description = "No tenant header: the client names its tenant. Shows the sign-in form when the browser has \
                   no SSO session (or prompt=login / max_age demands a new sign-in), the consent form when the \
                   client is not first-party and the scopes are not granted yet, and otherwise redirects with a \
                   code.",
    params(AuthorizationQuery),
    responses(
        (status = 200, description = PAGE_ANSWER, content_type = "text/html", body = String),
        (status = 303, description = REDIRECT_ANSWER,
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = BAD_REQUEST_ANSWER, content_type = "text/html", body = String),
    )
)]
pub async fn authorize_get(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params = match Params::parse_query(query.as_deref()) {
        Ok(params) => params,
        Err(why) => return invalid_request_page(&headers, &why),
    };
    authorize(&state, &headers, &params).await
}

/// `POST /oauth/authorize` (form-encoded, OIDC Core §3.1.2.1).
#[utoipa::path(
    post,
    path = "/oauth/authorize",
    tag = "oauth",
    summary = "The authorization endpoint, form-encoded.",
    description = "The same request as GET, as an application/x-www-form-urlencoded body (OIDC Core §3.1.2.1).",
    request_body(content = AuthorizationRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = PAGE_ANSWER, content_type = "text/html", body = String),
        (status = 303, description = REDIRECT_ANSWER,
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = BAD_REQUEST_ANSWER, content_type = "text/html", body = String),
    )
)]
pub async fn authorize_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let params = match Params::parse(&body) {
        Ok(params) => params,
        Err(why) => return invalid_request_page(&headers, &why),
    };
    authorize(&state, &headers, &params).await
}

/// The error page for a request that cannot even be read (the words are still technical: the
/// one who can fix it is the application's developer).
pub(crate) fn invalid_request_page(headers: &HeaderMap, why: &str) -> Response {
    let t = i18n::choose(None, headers);
    pages::error_page(t, StatusCode::BAD_REQUEST, t.invalid_request, why)
}

async fn authorize(state: &AppState, headers: &HeaderMap, params: &Params) -> Response {
    match validate(state, headers, params).await {
        Ok(request) => proceed(state, headers, &request, None).await,
        Err(refusal) => refusal,
    }
}

/// A hosted page's form: its fields, and the authorization request they carry, checked again.
#[allow(clippy::result_large_err, reason = "the refusal is the response itself, built once per request")]
pub(super) async fn form_request(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Params, AuthRequest), Response> {
    let params = Params::parse(body).map_err(|why| invalid_request_page(headers, &why))?;
    let request = validate(state, headers, &params).await?;
    Ok((params, request))
}

/// Checks an authorization request. The client and redirect URI first: without both, the only
/// safe answer is an error page. After that, errors go back to the client.
#[allow(clippy::result_large_err, reason = "the refusal is the response itself, built once per request")]
pub(crate) async fn validate(state: &AppState, headers: &HeaderMap, params: &Params) -> Result<AuthRequest, Response> {
    let t = i18n::choose(params.get("ui_locales"), headers);
    let page = |message: &str| pages::error_page(t, StatusCode::BAD_REQUEST, t.invalid_request, message);
    let Some(client_id) = params.get("client_id") else { return Err(page(t.no_client)) };
    let client = match find_live_client(state, client_id, Lookup::WithSettings).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(page(t.unknown_client)),
        Err(e) => return Err(pages::failed(e)),
    };
    let AuthenticatedClient { client, tenant, settings, .. } = client;
    let Some(settings) = settings else {
        return Err(pages::failed(anyhow::anyhow!("client looked up without settings")));
    };
    // A client that can act on ovlt's API (first-party, so no consent) gets no port latitude:
    // any local program could otherwise listen on another port for its codes.
    let port_free = !client.allows_ovlt_api();
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.redirect_uris.iter().any(|r| redirect_uri::matches(r, uri, port_free)) => uri.to_string(),
        Some(_) => return Err(page(t.unregistered_redirect_uri)),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(page(t.no_redirect_uri)),
    };
    let hidden: Hidden =
        params.pairs().iter().filter(|(name, _)| REQUEST_PARAMS.contains(&name.as_str())).cloned().collect();
    let state_param = params.get("state").map(str::to_string);
    let refuse = |error: &str, description: &str| {
        Err(redirect(
            state,
            &redirect_uri,
            &[("error", error), ("error_description", description)],
            state_param.as_deref(),
        ))
    };
    if state_param.as_ref().is_some_and(|s| s.len() > 2048) {
        return Err(redirect(
            state,
            &redirect_uri,
            &[("error", "invalid_request"), ("error_description", "state is too long")],
            None,
        ));
    }
    match params.get("response_type") {
        None => return refuse("invalid_request", "response_type is required"),
        Some("code") => {}
        Some(_) => return refuse("unsupported_response_type", "only response_type=code is supported"),
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return refuse("invalid_request", "only response_mode=query is supported");
    }
    if !client.allows_grant("authorization_code") {
        return refuse("unauthorized_client", "this client may not use the authorization code grant");
    }
    // Without `scope`, everything the client may ask for except what must be asked by name:
    // a refresh token, and power over ovlt's own API.
    let requested = match params.get("scope") {
        Some(scope) => scope_tokens(scope),
        None => client
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| !matches!(*s, "offline_access" | OVLT_API_SCOPE))
            .collect(),
    };
    if let Some(unknown) = requested.iter().find(|s| !client.allows_scope(s)) {
        return refuse("invalid_scope", &format!("the scope {unknown} is not allowed for this client"));
    }
    if requested.contains(&OVLT_API_SCOPE) && !client.allows_ovlt_api() {
        return refuse("invalid_scope", "only a first-party client may request ovlt:api");
    }
    let scope = requested.join(" ");
    let nonce = params.get("nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return refuse("invalid_request", "nonce is too long");
    }
    let code_challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
        (None, None) if client.is_confidential() => None,
        (None, None) => {
            return refuse("invalid_request", "PKCE (code_challenge with S256) is required for this client");
        }
        (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => Some(challenge.to_string()),
        (Some(_), Some("S256")) => return refuse("invalid_request", "code_challenge is not an S256 challenge"),
        (_, Some("plain") | None) => return refuse("invalid_request", "code_challenge_method must be S256"),
        (_, Some(_)) => return refuse("invalid_request", "code_challenge_method must be S256"),
    };
    let prompts = scope_tokens(params.get("prompt").unwrap_or_default());
    if prompts.iter().any(|p| !matches!(*p, "none" | "login" | "consent" | "select_account")) {
        return refuse("invalid_request", "prompt must be none, login, consent or select_account");
    }
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return refuse("invalid_request", "prompt=none cannot be combined with other values");
    }
    let max_age = match params.get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(age)) if age >= 0 => Some(age),
        Some(_) => return refuse("invalid_request", "max_age must be a non-negative number of seconds"),
    };
    Ok(AuthRequest {
        tenant,
        settings,
        client,
        redirect_uri: redirect_uri.clone(),
        scope,
        state: state_param.clone(),
        nonce,
        code_challenge,
        prompt_none,
        prompt_login: prompts.contains(&"login") || prompts.contains(&"select_account"),
        prompt_consent: prompts.contains(&"consent"),
        max_age,
        login_hint: params.get("login_hint").map(|h| h.chars().take(320).collect()),
        t,
        hidden,
    })
}

/// Sign-in if needed, consent if needed, then the code. `fresh` is the session a sign-in has
/// just started: it satisfies `prompt=login` and `max_age` by definition.
pub(super) async fn proceed(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    fresh: Option<Session>,
) -> Response {
    let tenant = &request.tenant;
    let settings = &request.settings;
    let signed_in = fresh.is_some();
    let session = match fresh {
        Some(session) => Some(session),
        None => match sso::current_session(state, tenant, settings, headers).await {
            Ok(session) => session,
            Err(e) => return pages::failed(e),
        },
    };
    let now = Timestamp::now();
    let session = match session {
        Some(s)
            if signed_in || !(request.prompt_login || request.max_age.is_some_and(|m| now.0 - s.auth_time.0 > m)) =>
        {
            s
        }
        _ if request.prompt_none => {
            return error_redirect(state, request, "login_required", "the user is not signed in");
        }
        _ => {
            let hint = request.login_hint.clone().unwrap_or_default();
            return sign_in_page(state, headers, request, StatusCode::OK, &hint, None).await;
        }
    };
    if !request.client.first_party {
        let pool = state.store.pool();
        let granted = match store::oauth::find_consent(pool, tenant.id, session.user_id, &request.client.id).await {
            Ok(granted) => granted.unwrap_or_default(),
            Err(e) => return pages::failed(e),
        };
        let covered = scope_tokens(&request.scope).iter().all(|s| super::has_scope(&granted, s));
        if request.prompt_consent || !covered {
            if request.prompt_none {
                return error_redirect(state, request, "consent_required", "the user has not granted these scopes");
            }
            return consent_page(state, headers, request, &session).await;
        }
    }
    issue_code(state, request, &session).await
}

/// A fresh single-use code bound to the client, redirect URI, PKCE challenge, nonce and the
/// SSO session; back to the client with it.
pub(super) async fn issue_code(state: &AppState, request: &AuthRequest, session: &Session) -> Response {
    let code = crypto::random_token();
    let now = Timestamp::now();
    let row = CodeRow {
        code_hash: crypto::sha256_hex(&code),
        tenant_id: request.tenant.id,
        client_id: request.client.id.clone(),
        sso_session_id: session.id,
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        issued_session_id: None,
        expires_at: Timestamp(now.0 + CODE_TTL_SECONDS),
        created_at: now,
    };
    // Using the SSO session counts as activity for its idle timeout.
    let stored = async {
        store::oauth::insert_code(state.store.pool(), &row).await?;
        store::sessions::touch_session(state.store.pool(), request.tenant.id, session.id, now).await
    };
    if let Err(e) = stored.await {
        return pages::failed(anyhow::Error::from(e).context("cannot store an authorization code"));
    }
    redirect(state, &request.redirect_uri, &[("code", &code)], request.state.as_deref())
}

pub(super) fn error_redirect(state: &AppState, request: &AuthRequest, error: &str, description: &str) -> Response {
    let params = [("error", error), ("error_description", description)];
    redirect(state, &request.redirect_uri, &params, request.state.as_deref())
}

/// 303 to the redirect URI with `params`, `state` and `iss` (RFC 9207) added to its query.
fn redirect(state: &AppState, redirect_uri: &str, params: &[(&str, &str)], client_state: Option<&str>) -> Response {
    let mut url = match Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(e) => return pages::failed(anyhow::Error::from(e).context("a registered redirect URI does not parse")),
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(client_state) = client_state {
            query.append_pair("state", client_state);
        }
        query.append_pair("iss", &state.config.issuer);
    }
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(e) => pages::failed(e),
    }
}

/// An S256 challenge: base64url of 32 bytes, 43 characters (RFC 7636 §4.2).
pub(crate) fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
