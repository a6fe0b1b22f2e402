//! Hosted self-registration, linked from the sign-in page when the tenant lets people register:
//! `GET /oauth/sign-up` (the form, for the authorization request in its query) and
//! `POST /oauth/sign-up`, which registers through [`auth::register_user`] (the API's rules and
//! password policy). Then the new user is signed in and the authorization carries on — unless
//! the tenant requires a verified email: then the emailed code is asked for
//! (`POST /oauth/sign-up/verify`), after which the person signs in with the new password. The
//! code proves the mailbox, not the browser, so it opens no session by itself.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

use super::authorize::{
    AuthRequest, AuthorizationQuery, AuthorizationRequest, BAD_REQUEST_ANSWER, PAGE_ANSWER, REDIRECT_ANSWER,
    form_request, invalid_request_page, sign_in_page_noting, validate,
};
use super::params::Params;
use super::{sign_in, sso};
use crate::app::AppState;
use crate::audit::RequestContext;
use crate::auth::{self, Registration};
use crate::error::ApiError;
use crate::pages::{self, Texts};
use crate::users;

// The forms' bodies, for the OpenAPI document (the handlers read them as `Params`).

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SignUpForm {
    #[serde(flatten)]
    request: AuthorizationRequest,
    /// From the form.
    csrf_token: String,
    email: String,
    password: String,
    /// Optional.
    name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct VerifyEmailForm {
    #[serde(flatten)]
    request: AuthorizationRequest,
    /// From the form.
    csrf_token: String,
    email: String,
    /// The code emailed after the sign-up.
    code: String,
}

const CLOSED: &str = "An error page: the organisation does not let people create accounts here.";

/// `GET /oauth/sign-up?<authorization request>`: the form.
#[utoipa::path(
    get,
    path = "/oauth/sign-up",
    operation_id = "hosted_sign_up_form",
    tag = "oauth",
    summary = "The hosted sign-up form.",
    description = "Linked from the sign-in page when the tenant allows self-registration; carries the authorization \
                   request of its query.",
    params(AuthorizationQuery),
    responses(
        (status = 200, description = "The sign-up form.", content_type = "text/html", body = String),
        (status = 303, description = REDIRECT_ANSWER,
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = BAD_REQUEST_ANSWER, content_type = "text/html", body = String),
        (status = 403, description = CLOSED, content_type = "text/html", body = String),
    )
)]
pub async fn sign_up_form(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params = match Params::parse_query(query.as_deref()) {
        Ok(params) => params,
        Err(why) => return invalid_request_page(&headers, &why),
    };
    let request = match validate(&state, &headers, &params).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    if !request.settings.self_registration {
        return closed(request.t);
    }
    sign_up_page(&state, &headers, &request, StatusCode::OK, "", "", None)
}

/// `POST /oauth/sign-up`: registers, then signs the new user in, or asks for the emailed code.
#[utoipa::path(
    post,
    path = "/oauth/sign-up",
    operation_id = "hosted_sign_up",
    tag = "oauth",
    summary = "Creates an account from the hosted sign-up form.",
    description = "The API's registration rules and the tenant's password policy apply. Without a verified-email \
                   requirement the new user is signed in and the authorization carries on; with it, the page asks \
                   for the emailed code.",
    request_body(content = SignUpForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = PAGE_ANSWER, content_type = "text/html", body = String),
        (status = 303, description = REDIRECT_ANSWER,
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = "The form again (an expired form, a refused field), or an error page.",
            content_type = "text/html", body = String),
        (status = 403, description = CLOSED, content_type = "text/html", body = String),
        (status = 409, description = "The form again: an account already uses the address.",
            content_type = "text/html", body = String),
        (status = 503, description = "The form again: too many requests right now.",
            content_type = "text/html", body = String),
    )
)]
pub async fn sign_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    let (params, request) = match form_request(&state, &headers, &body).await {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal,
    };
    if !request.settings.self_registration {
        return closed(request.t);
    }
    let email = params.get("email").unwrap_or_default().trim();
    let name = params.get("name").unwrap_or_default();
    let t = request.t;
    let again = |status, why: &str| sign_up_page(&state, &headers, &request, status, email, name, Some(why));
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        return again(StatusCode::BAD_REQUEST, t.form_expired);
    }
    // The API's checks, said first here in the page's language.
    let password = params.get("password").unwrap_or_default();
    if users::validate_email(email).is_err() {
        return again(StatusCode::BAD_REQUEST, t.enter_valid_email);
    }
    if let Err(problem) = users::validate_password(password, email, &request.settings) {
        return again(StatusCode::BAD_REQUEST, &t.password_problem(problem));
    }
    let registration = Registration { email: Some(email), password: Some(password), name: Some(name) };
    let user =
        match auth::register_user(&state, &request.tenant, &request.settings, registration, context.clone()).await {
            Ok(user) => user,
            Err(ApiError::InvalidPayload { fields: Some(fields), .. }) => {
                let why = if fields.contains_key("name") { t.name_refused } else { t.enter_email_and_password };
                return again(StatusCode::BAD_REQUEST, why);
            }
            Err(ApiError::Conflict(_)) => return again(StatusCode::CONFLICT, t.address_taken),
            Err(ApiError::Forbidden(_)) => return closed(t),
            Err(ApiError::Unavailable(_)) => return again(StatusCode::SERVICE_UNAVAILABLE, t.too_busy),
            Err(e) => return pages::failed(e),
        };
    if request.settings.require_verified_email {
        return verify_page(&state, &headers, &request, StatusCode::OK, &user.email, None);
    }
    sign_in::after_first_factor(&state, &headers, &request, &user, "pwd", context).await
}

/// `POST /oauth/sign-up/verify`: spends the emailed code; then the sign-in form, noting it.
#[utoipa::path(
    post,
    path = "/oauth/sign-up/verify",
    operation_id = "hosted_sign_up_verify",
    tag = "oauth",
    summary = "Verifies a new account's email from the hosted sign-up.",
    description = "On success the sign-in form, saying the address is verified: the code proves the mailbox, and \
                   the password then proves who set it.",
    request_body(content = VerifyEmailForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The sign-in form, noting the verified address.",
            content_type = "text/html", body = String),
        (status = 303, description = REDIRECT_ANSWER,
            headers(("Location" = String, description = "Where the browser goes next."))),
        (status = 400, description = "The code form again (an expired form, a wrong or expired code), or an error \
                                      page.", content_type = "text/html", body = String),
    )
)]
pub async fn verify_email(
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
    let again = |why| verify_page(&state, &headers, &request, StatusCode::BAD_REQUEST, email, Some(why));
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        return again(request.t.form_expired);
    }
    let code = params.get("code").unwrap_or_default();
    match auth::recovery::verify_email(&state, &request.tenant, email, code, context).await {
        Ok(user) => {
            let notice = request.t.email_verified;
            sign_in_page_noting(&state, &headers, &request, StatusCode::OK, &user.email, None, Some(notice)).await
        }
        Err(ApiError::InvalidCode) => again(request.t.code_wrong_or_expired),
        Err(e) => pages::failed(e),
    }
}

/// A correct password for an address the tenant wants verified first: a fresh code is emailed
/// and its form shown — the way on for someone who left the sign-up at the code step.
pub(super) async fn ask_for_a_new_code(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    email: &str,
) -> Response {
    let user = match crate::store::users::find_user_by_email(state.store.pool(), request.tenant.id, email).await {
        Ok(Some(user)) => user,
        Ok(None) => return pages::failed(anyhow::anyhow!("the user whose password was just checked is gone")),
        Err(e) => return pages::failed(e),
    };
    if let Err(e) = auth::recovery::send_verification_code(state, &request.tenant, &user).await {
        return pages::failed(e);
    }
    let why = request.t.new_code_sent;
    verify_page(state, headers, request, StatusCode::FORBIDDEN, &user.email, Some(why))
}

fn closed(t: &'static Texts) -> Response {
    pages::error_page(t, StatusCode::FORBIDDEN, t.sign_up_closed_title, t.sign_up_closed)
}

fn sign_up_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    status: StatusCode,
    email: &str,
    name: &str,
    error: Option<&str>,
) -> Response {
    sso::form_page(state, headers, status, |csrf| pages::SignUp {
        t: request.t,
        brand: pages::Brand::of(&request.tenant, &request.settings),
        client_name: &request.client.name,
        hidden: request.hidden.clone(),
        csrf,
        email,
        name,
        error,
        sign_in_url: pages::authorize_path(&request.hidden, &[]),
    })
}

fn verify_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
) -> Response {
    sso::form_page(state, headers, status, |csrf| pages::VerifyEmail {
        t: request.t,
        brand: pages::Brand::of(&request.tenant, &request.settings),
        client_name: &request.client.name,
        hidden: request.hidden.clone(),
        csrf,
        email,
        error,
    })
}
