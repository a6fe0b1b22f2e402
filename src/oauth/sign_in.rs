//! The hosted forms of an authorization (see [`super::authorize`]): sign-in
//! (`POST /oauth/sign-in`), the second factor (`POST /oauth/mfa`) and consent
//! (`POST /oauth/consent`). Each checks the request it carries again, then its own step; a
//! sign-in that succeeds opens the browser's SSO session and the authorization carries on.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::authorize::{
    AuthRequest, AuthorizationRequest, BAD_REQUEST_ANSWER, PAGE_ANSWER, REDIRECT_ANSWER, error_redirect, form_request,
    issue_code, proceed, sign_in_page,
};
use super::{scope_tokens, sso};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth;
use crate::crypto;
use crate::error::ApiError;
use crate::mfa;
use crate::openapi::schema::from_json;
use crate::pages;
use crate::store;
use crate::types::Session;
use crate::types::Timestamp;
use crate::users::User;

// The hosted forms' bodies, for the OpenAPI document (the handlers read them as `Params`): the
// authorization request they carry, and their own fields.

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SignInForm {
    #[serde(flatten)]
    request: AuthorizationRequest,
    /// From the form.
    csrf_token: String,
    email: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct MfaForm {
    #[serde(flatten)]
    request: AuthorizationRequest,
    /// From the form.
    csrf_token: String,
    mfa_token: String,
    /// Six digits, or a backup code.
    code: String,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ConsentForm {
    #[serde(flatten)]
    request: AuthorizationRequest,
    /// From the form.
    csrf_token: String,
    #[schema(schema_with = decision_schema)]
    decision: String,
}

fn decision_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": "string", "enum": ["allow", "deny"] }))
}

/// `POST /oauth/sign-in`: the sign-in form. A correct password starts an SSO session (cookie)
/// and the authorization carries on; anything else shows the form again with what went wrong.
#[utoipa::path(
    post,
    path = "/oauth/sign-in",
    operation_id = "hosted_sign_in",
    tag = "oauth",
    summary = "The hosted sign-in form.",
    description = "A correct password starts the browser's SSO session (cookie) and the authorization carries \
                   on (MFA form, consent form or redirect); anything else shows the form again with what went \
                   wrong (400, 401, 403). Rate-limited per IP like /auth (the 429 is a page).",
    request_body(content = SignInForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = PAGE_ANSWER, content_type = "text/html", body = String),
        (status = 303, description = REDIRECT_ANSWER,
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = "The sign-in form again (an expired form, a missing email or password), or an \
                                      error page.", content_type = "text/html", body = String),
        (status = 401, description = "The sign-in form again: incorrect email or password.",
            content_type = "text/html", body = String),
        (status = 403, description = "The sign-in form again for a suspended account; for one whose email is not \
                                      verified yet, the code form, with a new code emailed.",
            content_type = "text/html", body = String),
        (status = 429, description = "The sign-in form again: too many failed attempts with this email, said the same \
                                      whether or not an account uses it.", content_type = "text/html", body = String),
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    let (params, request) = match form_request(&state, &headers, &body).await {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal,
    };
    let email = params.get("email").unwrap_or_default().trim();
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        let why = request.t.form_expired_sign_in_again;
        return sign_in_page(&state, &headers, &request, StatusCode::BAD_REQUEST, email, Some(why)).await;
    }
    let password = params.get("password").unwrap_or_default();
    if email.is_empty() || password.is_empty() {
        let why = request.t.enter_email_and_password;
        return sign_in_page(&state, &headers, &request, StatusCode::BAD_REQUEST, email, Some(why)).await;
    }
    let tenant = &request.tenant;
    let settings = &request.settings;
    let user = match auth::verify_password_login(&state, tenant, settings, email, password, &context).await {
        Ok(checked) => checked.user,
        // The password was right: the account's holder gets a fresh code and the form for it.
        Err(ApiError::EmailNotVerified) => {
            return super::sign_up::ask_for_a_new_code(&state, &headers, &request, email).await;
        }
        Err(ApiError::TooManyAttempts { retry_after_secs }) => {
            // The same words whether or not an account uses the address (decision 0013).
            let why = pages::i18n::fill(request.t.too_many_attempts, retry_after_secs.div_ceil(60));
            let status = StatusCode::TOO_MANY_REQUESTS;
            return sign_in_page(&state, &headers, &request, status, email, Some(&why)).await;
        }
        Err(err) => {
            let t = request.t;
            let (status, why) = match err {
                ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, t.incorrect_credentials),
                ApiError::UserSuspended => (StatusCode::FORBIDDEN, t.account_suspended),
                ApiError::EmailNotVerified => (StatusCode::FORBIDDEN, t.verify_before_sign_in),
                ApiError::InvalidPayload { .. } => (StatusCode::BAD_REQUEST, t.password_is_too_long),
                ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, t.too_many_sign_ins),
                other => return pages::failed(other),
            };
            return sign_in_page(&state, &headers, &request, status, email, Some(why)).await;
        }
    };
    after_first_factor(&state, &headers, &request, &user, "pwd", context).await
}

/// What follows a correct password (or a new account's, or a sign-in through an identity
/// provider: `first` is its `amr`): the second factor or its enrolment when the user or tenant
/// needs one, else the SSO session starts and the authorization carries on.
pub(crate) async fn after_first_factor(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    user: &User,
    first: &'static str,
    context: RequestContext,
) -> Response {
    let (tenant, settings) = (&request.tenant, &request.settings);
    let next = mfa::after_password(state, tenant, settings, user, first, None, None, &context).await;
    match next {
        Ok(mfa::NextStep::SignedIn { amr }) => start_sso_session(state, headers, request, user, amr, context).await,
        Ok(mfa::NextStep::Challenge { mfa_token }) => {
            mfa_page(state, headers, request, &mfa_token, StatusCode::OK, None).await
        }
        Ok(mfa::NextStep::Enrol { mfa_token }) => {
            super::enrol::begin(state, headers, request, user, &mfa_token, context).await
        }
        Err(e) => pages::failed(e),
    }
}

/// `POST /oauth/mfa`: the second step of a hosted sign-in, for a user with MFA. The code field
/// takes the authenticator's six digits or a backup code; the `mfa_token` from the password step
/// rides in a hidden field (it dies after five wrong codes or five minutes).
#[utoipa::path(
    post,
    path = "/oauth/mfa",
    operation_id = "hosted_mfa",
    tag = "oauth",
    summary = "The hosted second-factor form.",
    description = "Takes the authenticator's six digits or a backup code; the mfa_token from the password step \
                   rides in a hidden field. Rate-limited per IP like /auth (the 429 is a page).",
    request_body(content = MfaForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = PAGE_ANSWER, content_type = "text/html", body = String),
        (status = 303, description = REDIRECT_ANSWER,
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = "The MFA form again (no code), the sign-in form (an expired form or sign-in), \
                                      or an error page.", content_type = "text/html", body = String),
        (status = 401, description = "The MFA form again: a wrong or used code.",
            content_type = "text/html", body = String),
    )
)]
pub async fn mfa_step(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    let (params, request) = match form_request(&state, &headers, &body).await {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal,
    };
    let start_over =
        |why: &'static str| sign_in_page(&state, &headers, &request, StatusCode::BAD_REQUEST, "", Some(why));
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        return start_over(request.t.form_expired_sign_in_again).await;
    }
    let tenant = &request.tenant;
    let token = params.get("mfa_token").unwrap_or_default();
    let (user, amr) = match mfa::challenge_user(&state, tenant, token, mfa::PURPOSE_VERIFY).await {
        Ok(challenged) if challenged.user.mfa_enabled => (challenged.user, challenged.amr),
        Ok(_) | Err(ApiError::InvalidToken) => return start_over(request.t.sign_in_expired).await,
        Err(e) => return pages::failed(e),
    };
    let code: String = params.get("code").unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() {
        let why = Some(request.t.enter_authenticator_code);
        return mfa_page(&state, &headers, &request, token, StatusCode::BAD_REQUEST, why).await;
    }
    let factor = mfa::Factor::from_code(&code);
    match mfa::reserve_attempt(&state, tenant.id, token).await {
        Ok(()) => {}
        Err(ApiError::InvalidToken) => return start_over(request.t.sign_in_expired).await,
        Err(e) => return pages::failed(e),
    }
    match mfa::verify(&state, tenant, &request.settings, &user, factor, &context).await {
        Ok(()) => {}
        Err(ApiError::InvalidOtp) => {
            let why = Some(request.t.code_wrong_or_used);
            return mfa_page(&state, &headers, &request, token, StatusCode::UNAUTHORIZED, why).await;
        }
        Err(e) => return pages::failed(e),
    }
    let digest = mfa::challenge_digest(token);
    match store::mfa::consume_challenge(state.store.pool(), tenant.id, &digest, Timestamp::now()).await {
        Ok(true) => start_sso_session(&state, &headers, &request, &user, amr, context).await,
        Ok(false) => start_over(request.t.sign_in_expired).await,
        Err(e) => pages::failed(e),
    }
}

/// Starts the browser's SSO session (cookie) for a user who has signed in, and carries on with
/// the authorization.
pub(crate) async fn start_sso_session(
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
        store::login_attempts::clear(&mut *tx, tenant.id, &auth::attempt_key(state, tenant.id, &user.email)).await?;
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
        return Err(pages::failed(anyhow::Error::from(e).context("cannot start an SSO session")));
    }
    let max_age = session.expires_at.0 - now.0;
    Ok((session, sso::set_sso_cookie(state, tenant.id, &browser_token, max_age)))
}

/// `POST /oauth/consent`: the consent form's Allow or Deny.
#[utoipa::path(
    post,
    path = "/oauth/consent",
    tag = "oauth",
    summary = "The consent form's Allow or Deny.",
    description = "Allow saves the grant and redirects with a code; Deny redirects with `access_denied`. Without \
                   an SSO session the sign-in form is shown. CSRF-protected (the ovlt_csrf cookie and its field).",
    request_body(content = ConsentForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = PAGE_ANSWER, content_type = "text/html", body = String),
        (status = 303, description = REDIRECT_ANSWER,
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = BAD_REQUEST_ANSWER, content_type = "text/html", body = String),
    )
)]
pub async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    let (params, request) = match form_request(&state, &headers, &body).await {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal,
    };
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        let t = request.t;
        return pages::error_page(t, StatusCode::BAD_REQUEST, t.form_expired_title, t.form_expired);
    }
    let tenant = &request.tenant;
    let settings = &request.settings;
    let current = match sso::current_session(&state, tenant, settings, &headers).await {
        Ok(current) => current,
        Err(e) => return pages::failed(e),
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
                return pages::failed(anyhow::Error::from(e).context("cannot save consent"));
            }
            issue_code(&state, &request, &session).await
        }
        Some("deny") => error_redirect(&state, &request, "access_denied", "the user denied access"),
        _ => pages::error_page(
            request.t,
            StatusCode::BAD_REQUEST,
            request.t.invalid_request,
            request.t.choose_allow_or_deny,
        ),
    }
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
        t: request.t,
        brand: pages::Brand::of(&request.tenant, &request.settings),
        client_name: &request.client.name,
        hidden: request.hidden.clone(),
        csrf,
        mfa_token,
        error,
    })
}
