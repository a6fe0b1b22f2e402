//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2) and the hosted pages it leads
//! through: sign-in (`POST /oauth/sign-in`), the second factor (`POST /oauth/mfa`) and consent
//! (`POST /oauth/consent`).
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

use super::client_auth::{AuthenticatedClient, Lookup, find_live_client};
use super::params::Params;
use super::{CODE_TTL_SECONDS, scope_tokens, sso};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth::{self, session::Session};
use crate::crypto;
use crate::error::ApiError;
use crate::mfa;
use crate::pages::{self, Hidden};
use crate::settings::TenantSettings;
use crate::store::{self, clients::ClientRow, oauth::CodeRow};
use crate::tenants::Tenant;
use crate::types::Timestamp;
use crate::users::User;

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
    pub(super) hidden: Hidden,
}

/// `GET /oauth/authorize`.
pub async fn authorize_get(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(why) => return pages::error_page(StatusCode::BAD_REQUEST, "Invalid request", &why),
    };
    authorize(&state, &headers, &params).await
}

/// `POST /oauth/authorize` (form-encoded, OIDC Core §3.1.2.1).
pub async fn authorize_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let params = match Params::parse(&body) {
        Ok(params) => params,
        Err(why) => return pages::error_page(StatusCode::BAD_REQUEST, "Invalid request", &why),
    };
    authorize(&state, &headers, &params).await
}

async fn authorize(state: &AppState, headers: &HeaderMap, params: &Params) -> Response {
    match validate(state, params).await {
        Ok(request) => proceed(state, headers, &request, None).await,
        Err(refusal) => refusal,
    }
}

/// `POST /oauth/sign-in`: the sign-in form. A correct password starts an SSO session (cookie)
/// and the authorization carries on; anything else shows the form again with what went wrong.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    let (params, request) = match form_request(&state, &body).await {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal,
    };
    let email = params.get("email").unwrap_or_default().trim();
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        let why = "This form has expired. Please sign in again.";
        return sign_in_page(&state, &headers, &request, StatusCode::BAD_REQUEST, email, Some(why)).await;
    }
    let password = params.get("password").unwrap_or_default();
    if email.is_empty() || password.is_empty() {
        let why = "Enter your email and password.";
        return sign_in_page(&state, &headers, &request, StatusCode::BAD_REQUEST, email, Some(why)).await;
    }
    let tenant = &request.tenant;
    let settings = &request.settings;
    let user = match auth::verify_password_login(&state, tenant, settings, email, password, &context).await {
        Ok(user) => user,
        Err(err) => {
            let (status, why) = match err {
                ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "Incorrect email or password."),
                ApiError::UserSuspended => (StatusCode::FORBIDDEN, "This account is suspended."),
                ApiError::EmailNotVerified => (StatusCode::FORBIDDEN, "Verify your email address before signing in."),
                _ => return pages::internal_error(),
            };
            return sign_in_page(&state, &headers, &request, status, email, Some(why)).await;
        }
    };
    let next = mfa::after_password(&state, tenant, settings, &user, None, &context).await;
    match next {
        Ok(mfa::NextStep::SignedIn { amr }) => start_sso_session(&state, &headers, &request, &user, amr, context).await,
        Ok(mfa::NextStep::Challenge { mfa_token }) => {
            mfa_page(&state, &headers, &request, &mfa_token, StatusCode::OK, None).await
        }
        Ok(mfa::NextStep::Enrol { mfa_token }) => {
            super::enrol::begin(&state, &headers, &request, &user, &mfa_token, context).await
        }
        Err(_) => pages::internal_error(),
    }
}

/// `POST /oauth/mfa`: the second step of a hosted sign-in, for a user with MFA. The code field
/// takes the authenticator's six digits or a backup code; the `mfa_token` from the password step
/// rides in a hidden field (it dies after five wrong codes or five minutes).
pub async fn mfa_step(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    let (params, request) = match form_request(&state, &body).await {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal,
    };
    let start_over =
        |why: &'static str| sign_in_page(&state, &headers, &request, StatusCode::BAD_REQUEST, "", Some(why));
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        return start_over("This form has expired. Please sign in again.").await;
    }
    let tenant = &request.tenant;
    let token = params.get("mfa_token").unwrap_or_default();
    let user = match mfa::challenge_user(&state, tenant, token, mfa::PURPOSE_VERIFY).await {
        Ok(user) if user.mfa_enabled => user,
        Ok(_) | Err(ApiError::InvalidToken) => return start_over("Your sign-in expired. Please sign in again.").await,
        Err(_) => return pages::internal_error(),
    };
    let code: String = params.get("code").unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() {
        let why = Some("Enter the code from your authenticator app.");
        return mfa_page(&state, &headers, &request, token, StatusCode::BAD_REQUEST, why).await;
    }
    let factor = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        mfa::Factor::Totp(&code)
    } else {
        mfa::Factor::BackupCode(&code)
    };
    match mfa::reserve_attempt(&state, tenant.id, token).await {
        Ok(()) => {}
        Err(ApiError::InvalidToken) => return start_over("Your sign-in expired. Please sign in again.").await,
        Err(_) => return pages::internal_error(),
    }
    match mfa::verify(&state, tenant, &request.settings, &user, factor, &context).await {
        Ok(()) => {}
        Err(ApiError::InvalidOtp) => {
            let why = Some("That code is not right, or was already used. Try the current one.");
            return mfa_page(&state, &headers, &request, token, StatusCode::UNAUTHORIZED, why).await;
        }
        Err(_) => return pages::internal_error(),
    }
    let digest = mfa::challenge_digest(token);
    match store::mfa::consume_challenge(state.store.pool(), tenant.id, &digest, Timestamp::now()).await {
        Ok(true) => start_sso_session(&state, &headers, &request, &user, mfa::AMR_WITH_SECOND_FACTOR, context).await,
        Ok(false) => start_over("Your sign-in expired. Please sign in again.").await,
        Err(_) => pages::internal_error(),
    }
}

/// Starts the browser's SSO session (cookie) for a user who has signed in, and carries on with
/// the authorization.
async fn start_sso_session(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    user: &User,
    amr: &str,
    context: RequestContext,
) -> Response {
    match open_sso_session(state, headers, request, user, amr, context).await {
        Ok((session, cookie)) => {
            let mut response = proceed(state, headers, request, Some(session)).await;
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(refusal) => refusal,
    }
}

/// Records a sign-in as the browser's SSO session (ending the one it replaces): the session and
/// the cookie that names it.
#[allow(clippy::result_large_err, reason = "the refusal is the response itself, built once per request")]
pub(super) async fn open_sso_session(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    user: &User,
    amr: &str,
    context: RequestContext,
) -> Result<(Session, HeaderValue), Response> {
    let tenant = &request.tenant;
    let now = Timestamp::now();
    let session = Session::new(user, amr, &request.settings, now);
    let browser_token = crypto::random_token();
    let replaced = sso::current_session(state, tenant, &request.settings, headers).await.ok().flatten();
    let started = async {
        let mut tx = state.store.begin().await?;
        let (ip, agent) = (context.ip.as_deref(), context.user_agent.as_deref());
        store::sessions::insert_session(&mut *tx, &session, ip, agent, Some(&crypto::sha256_hex(&browser_token)))
            .await?;
        store::users::record_login_success(&mut *tx, tenant.id, user.id, now).await?;
        // The browser's previous sign-in ends; apps signed in through it keep their sessions.
        if let Some(old) = &replaced {
            store::sessions::revoke_session(&mut *tx, tenant.id, old.id, "replaced", now).await?;
        }
        let event = AuditEvent::new(Actor::User(user.id), "login.succeeded", context.clone())
            .in_tenant(tenant.id)
            .target("session", session.id)
            .outcome("success")
            .details(serde_json::json!({ "via": "hosted", "client_id": request.client.id, "amr": amr }));
        audit::record(&mut *tx, event).await?;
        tx.commit().await
    };
    if let Err(e) = started.await {
        tracing::error!(error = %e, "cannot start an SSO session");
        return Err(pages::internal_error());
    }
    let max_age = session.expires_at.0 - now.0;
    Ok((session, sso::set_sso_cookie(state, tenant.id, &browser_token, max_age)))
}

/// `POST /oauth/consent`: the consent form's Allow or Deny.
pub async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    let (params, request) = match form_request(&state, &body).await {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal,
    };
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        return pages::error_page(StatusCode::BAD_REQUEST, "Form expired", "This form has expired. Please try again.");
    }
    let tenant = &request.tenant;
    let settings = &request.settings;
    let Ok(current) = sso::current_session(&state, tenant, settings, &headers).await else {
        return pages::internal_error();
    };
    let Some(session) = current else {
        return sign_in_page(&state, &headers, &request, StatusCode::OK, "", None).await;
    };
    match params.get("decision") {
        Some("allow") => {
            let pool = state.store.pool();
            let (tenant_id, user_id, client_id) = (tenant.id, session.user_id, request.client.id.as_str());
            let saved = async {
                let previous = store::oauth::find_consent(pool, tenant_id, user_id, client_id).await?;
                let granted = scope_tokens(&format!("{} {}", previous.unwrap_or_default(), request.scope)).join(" ");
                let mut tx = state.store.begin().await?;
                store::oauth::save_consent(&mut *tx, tenant_id, user_id, client_id, &granted, Timestamp::now()).await?;
                let event = AuditEvent::new(Actor::User(user_id), "consent.granted", context)
                    .in_tenant(tenant_id)
                    .target("client", client_id)
                    .details(serde_json::json!({ "scope": request.scope }));
                audit::record(&mut *tx, event).await?;
                tx.commit().await
            };
            if let Err(e) = saved.await {
                tracing::error!(error = %e, "cannot save consent");
                return pages::internal_error();
            }
            issue_code(&state, &request, &session).await
        }
        Some("deny") => error_redirect(&state, &request, "access_denied", "the user denied access"),
        _ => pages::error_page(StatusCode::BAD_REQUEST, "Invalid request", "Choose Allow or Deny."),
    }
}

/// A hosted page's form: its fields, and the authorization request they carry, checked again.
#[allow(clippy::result_large_err, reason = "the refusal is the response itself, built once per request")]
pub(super) async fn form_request(state: &AppState, body: &[u8]) -> Result<(Params, AuthRequest), Response> {
    let params =
        Params::parse(body).map_err(|why| pages::error_page(StatusCode::BAD_REQUEST, "Invalid request", &why))?;
    let request = validate(state, &params).await?;
    Ok((params, request))
}

/// Checks an authorization request. The client and redirect URI first: without both, the only
/// safe answer is an error page. After that, errors go back to the client.
#[allow(clippy::result_large_err, reason = "the refusal is the response itself, built once per request")]
async fn validate(state: &AppState, params: &Params) -> Result<AuthRequest, Response> {
    let page = |message: &str| pages::error_page(StatusCode::BAD_REQUEST, "Invalid request", message);
    let Some(client_id) = params.get("client_id") else { return Err(page("The request names no client.")) };
    let client = match find_live_client(state, client_id, Lookup::WithSettings).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(page("The application is unknown or no longer active.")),
        Err(_) => return Err(pages::internal_error()),
    };
    let AuthenticatedClient { client, tenant, settings, .. } = client;
    let Some(settings) = settings else { return Err(pages::internal_error()) };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_string(),
        Some(_) => return Err(page("The redirect URI is not registered for this application.")),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(page("The request names no redirect URI.")),
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
    let requested = match params.get("scope") {
        Some(scope) => scope_tokens(scope),
        None => client.scopes.iter().map(String::as_str).filter(|s| *s != "offline_access").collect(),
    };
    if let Some(unknown) = requested.iter().find(|s| !client.scopes.iter().any(|c| c == *s)) {
        return refuse("invalid_scope", &format!("the scope {unknown} is not allowed for this client"));
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
        hidden,
    })
}

/// Sign-in if needed, consent if needed, then the code. `fresh` is the session a sign-in has
/// just started: it satisfies `prompt=login` and `max_age` by definition.
async fn proceed(state: &AppState, headers: &HeaderMap, request: &AuthRequest, fresh: Option<Session>) -> Response {
    let tenant = &request.tenant;
    let settings = &request.settings;
    let signed_in = fresh.is_some();
    let session = match fresh {
        Some(session) => Some(session),
        None => match sso::current_session(state, tenant, settings, headers).await {
            Ok(session) => session,
            Err(_) => return pages::internal_error(),
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
            Err(_) => return pages::internal_error(),
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
async fn issue_code(state: &AppState, request: &AuthRequest, session: &Session) -> Response {
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
        tracing::error!(error = %e, "cannot store an authorization code");
        return pages::internal_error();
    }
    redirect(state, &request.redirect_uri, &[("code", &code)], request.state.as_deref())
}

pub(super) async fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
) -> Response {
    // The tenant's own reset page when it has one, else ovlt's.
    let slug: String = form_urlencoded::byte_serialize(request.tenant.slug.as_bytes()).collect();
    let reset_url =
        request.settings.reset_url.clone().unwrap_or_else(|| format!("/oauth/forgot-password?tenant={slug}"));
    sso::form_page(state, headers, status, |csrf| pages::SignIn {
        tenant_name: &request.tenant.name,
        client_name: &request.client.name,
        hidden: request.hidden.clone(),
        csrf,
        email,
        error,
        reset_url: &reset_url,
    })
}

async fn mfa_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    mfa_token: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    sso::form_page(state, headers, status, |csrf| pages::MfaCode {
        tenant_name: &request.tenant.name,
        client_name: &request.client.name,
        hidden: request.hidden.clone(),
        csrf,
        mfa_token,
        error,
    })
}

async fn consent_page(state: &AppState, headers: &HeaderMap, request: &AuthRequest, session: &Session) -> Response {
    let user = match store::users::find_user_by_id(state.store.pool(), request.tenant.id, session.user_id).await {
        Ok(Some(user)) => user,
        _ => return pages::internal_error(),
    };
    sso::form_page(state, headers, StatusCode::OK, |csrf| pages::Consent {
        tenant_name: &request.tenant.name,
        client_name: &request.client.name,
        email: &user.email,
        scopes: scope_tokens(&request.scope).into_iter().map(pages::describe_scope).collect(),
        hidden: request.hidden.clone(),
        csrf,
    })
}

fn error_redirect(state: &AppState, request: &AuthRequest, error: &str, description: &str) -> Response {
    let params = [("error", error), ("error_description", description)];
    redirect(state, &request.redirect_uri, &params, request.state.as_deref())
}

/// 303 to the redirect URI with `params`, `state` and `iss` (RFC 9207) added to its query.
fn redirect(state: &AppState, redirect_uri: &str, params: &[(&str, &str)], client_state: Option<&str>) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else { return pages::internal_error() };
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
        Err(_) => pages::internal_error(),
    }
}

/// An S256 challenge: base64url of 32 bytes, 43 characters (RFC 7636 §4.2).
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
