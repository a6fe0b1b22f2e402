//! Hosted password recovery (DESIGN §6): "Forgot your password?" from the sign-in page, and the
//! reset page the emailed link opens when the tenant has no `reset_url` of its own. Plain forms,
//! no JavaScript, CSRF-protected like the other hosted pages; the work is `/auth/*`'s.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::RequestContext;
use crate::auth::recovery;
use crate::error::ApiError;
use crate::oauth::authorize::invalid_request_page;
use crate::oauth::client_auth::{Lookup, find_live_client};
use crate::oauth::params::Params;
use crate::oauth::sso;
use crate::pages::{self, Texts, i18n};
use crate::settings;
use crate::tenants::{self, Tenant, TenantKey};
use crate::users;

// The pages' queries and forms, for the OpenAPI document (the handlers read them as `Params`).

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ForgotPasswordQuery {
    /// The tenant's slug (required).
    #[param(pattern = "^[a-z0-9-]{2,63}$")]
    tenant: Option<String>,
    /// The sign-in to go back to: an `/oauth/authorize?…` path on this server (anything else is
    /// ignored).
    return_to: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ResetPasswordQuery {
    /// The tenant's slug (required).
    #[param(pattern = "^[a-z0-9-]{2,63}$")]
    tenant: Option<String>,
    /// The reset token from the email.
    token: Option<String>,
    /// As for the forgot-password page.
    return_to: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ForgotPasswordForm {
    /// The tenant's slug.
    tenant: String,
    /// From the form.
    csrf_token: String,
    #[schema(schema_with = crate::openapi::schema::email)]
    email: String,
    /// As in the query of the form's page.
    return_to: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ResetPasswordForm {
    /// The tenant's slug.
    tenant: String,
    /// From the form.
    csrf_token: String,
    /// The reset token.
    token: String,
    /// Checked against the password policy and history.
    password: String,
    /// The same password again.
    password_confirmation: String,
    /// As in the query of the form's page.
    return_to: Option<String>,
}

// The failures every recovery page shares (legacy `hosted_recovery`): 400 and 404 error pages,
// and (rate-limited like /auth) a 429 page, which the finishing pass adds.
const BAD_REQUEST_PAGE: &str = "The page again with what is wrong, or an error page: a malformed request (a missing or \
                                malformed `tenant` parameter, an expired form, a refused password).";
const UNKNOWN_TENANT_PAGE: &str = "An error page: the tenant parameter names no active tenant.";

/// `GET /oauth/forgot-password?tenant=<slug>`: the email form.
#[utoipa::path(
    get,
    path = "/oauth/forgot-password",
    operation_id = "hosted_forgot_password_form",
    tag = "oauth",
    summary = "The hosted forgot-password form.",
    description = "Linked from the sign-in page when the tenant has no reset_url of its own.",
    params(ForgotPasswordQuery),
    responses(
        (status = 200, description = "The email form.", content_type = "text/html", body = String),
        (status = 400, description = BAD_REQUEST_PAGE, content_type = "text/html", body = String),
        (status = 404, description = UNKNOWN_TENANT_PAGE, content_type = "text/html", body = String),
    )
)]
pub async fn forgot_password_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Params::parse_query(query.as_deref()) {
        Ok(params) => params,
        Err(why) => return invalid_request_page(&headers, &why),
    };
    let Some(page) = page_tenant(&state, &headers, &params).await else { return unknown_tenant(&headers, &params) };
    let return_to = way_back(&state, &page.tenant, &params).await;
    forgot_page(&state, &headers, &page, return_to, StatusCode::OK, false, None)
}

/// `POST /oauth/forgot-password`: sends the reset link in the background and says so, whether or
/// not the email is registered (same answer, same timing).
#[utoipa::path(
    post,
    path = "/oauth/forgot-password",
    operation_id = "hosted_forgot_password",
    tag = "oauth",
    summary = "Sends a password-reset link.",
    description = "The link goes to the tenant's reset_url, else the hosted reset page. The same page, at the same \
                   speed, whether or not the email is registered.",
    request_body(content = ForgotPasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The link is on its way (if the address is registered).",
            content_type = "text/html", body = String),
        (status = 400, description = "The form again: an expired form or a malformed email.",
            content_type = "text/html", body = String),
        (status = 404, description = UNKNOWN_TENANT_PAGE, content_type = "text/html", body = String),
    )
)]
pub async fn forgot_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    let params = match Params::parse(&body) {
        Ok(params) => params,
        Err(why) => return invalid_request_page(&headers, &why),
    };
    let Some(page) = page_tenant(&state, &headers, &params).await else { return unknown_tenant(&headers, &params) };
    let tenant = &page.tenant;
    let return_to = way_back(&state, &page.tenant, &params).await;
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        let why = Some(page.t.form_expired);
        return forgot_page(&state, &headers, &page, return_to, StatusCode::BAD_REQUEST, false, why);
    }
    let email = params.get("email").unwrap_or_default().trim().to_string();
    if users::validate_email(&email).is_err() {
        let why = Some(page.t.enter_account_email);
        return forgot_page(&state, &headers, &page, return_to, StatusCode::BAD_REQUEST, false, why);
    }
    let settings = match settings::load(&state.store, tenant.id).await {
        Ok(settings) => settings,
        Err(e) => return pages::failed(e),
    };
    // ovlt's own reset page learns the way back to the sign-in too.
    let base = settings.reset_url.clone().unwrap_or_else(|| {
        let reset_page = recovery::hosted_reset_page(&state, tenant);
        match return_to {
            Some(back) => {
                let back: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
                format!("{reset_page}&return_to={back}")
            }
            None => reset_page,
        }
    });
    let (task_state, task_tenant) = (state.clone(), tenant.clone());
    tokio::spawn(async move {
        if let Err(e) = recovery::send_reset_link(&task_state, &task_tenant, &email, &base, context).await {
            tracing::error!(error = %e, tenant.id = %task_tenant.id, "password reset request failed");
        }
    });
    forgot_page(&state, &headers, &page, return_to, StatusCode::OK, true, None)
}

/// `GET /oauth/reset-password?tenant=<slug>&token=…`: the new-password form. The token is only
/// carried here; it is checked (and spent) when the form comes back.
#[utoipa::path(
    get,
    path = "/oauth/reset-password",
    operation_id = "hosted_reset_password_form",
    tag = "oauth",
    summary = "The hosted new-password form.",
    description = "The page the emailed reset link opens; the token is only carried here, checked on POST.",
    params(ResetPasswordQuery),
    responses(
        (status = 200, description = "The new-password form.", content_type = "text/html", body = String),
        (status = 400, description = BAD_REQUEST_PAGE, content_type = "text/html", body = String),
        (status = 404, description = UNKNOWN_TENANT_PAGE, content_type = "text/html", body = String),
    )
)]
pub async fn reset_password_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Params::parse_query(query.as_deref()) {
        Ok(params) => params,
        Err(why) => return invalid_request_page(&headers, &why),
    };
    let Some(page) = page_tenant(&state, &headers, &params).await else { return unknown_tenant(&headers, &params) };
    let token = params.get("token").unwrap_or_default();
    let return_to = way_back(&state, &page.tenant, &params).await;
    reset_page(&state, &headers, &page, token, return_to, StatusCode::OK, None)
}

/// `POST /oauth/reset-password`: spends the token on the new password.
#[utoipa::path(
    post,
    path = "/oauth/reset-password",
    operation_id = "hosted_reset_password",
    tag = "oauth",
    summary = "Spends a reset token on a new password.",
    description = "Every session of the user ends.",
    request_body(content = ResetPasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Password changed.", content_type = "text/html", body = String),
        (status = 400, description = "The form again (an expired form, mismatched or refused password), or an error \
                                      page (an expired or used token).", content_type = "text/html", body = String),
        (status = 404, description = UNKNOWN_TENANT_PAGE, content_type = "text/html", body = String),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    body: Bytes,
) -> Response {
    let params = match Params::parse(&body) {
        Ok(params) => params,
        Err(why) => return invalid_request_page(&headers, &why),
    };
    let Some(page) = page_tenant(&state, &headers, &params).await else { return unknown_tenant(&headers, &params) };
    let tenant = &page.tenant;
    let token = params.get("token").unwrap_or_default();
    let return_to = way_back(&state, &page.tenant, &params).await;
    let refuse = |status, why| reset_page(&state, &headers, &page, token, return_to, status, Some(why));
    if !sso::csrf_ok(&state, &headers, params.get("csrf_token")) {
        return refuse(StatusCode::BAD_REQUEST, page.t.form_expired.into());
    }
    let password = params.get("password").unwrap_or_default();
    if password.is_empty() || params.get("password_confirmation") != Some(password) {
        return refuse(StatusCode::BAD_REQUEST, page.t.same_password_twice.into());
    }
    let t = page.t;
    match recovery::apply_reset(&state, tenant, token, password, context).await {
        Ok(Ok(())) => {
            pages::render(StatusCode::OK, &pages::PasswordChanged { t, brand: page.brand.clone(), return_to })
        }
        Ok(Err(problem)) => refuse(StatusCode::BAD_REQUEST, t.password_problem(problem)),
        Err(ApiError::InvalidResetToken) => {
            pages::error_page(t, StatusCode::BAD_REQUEST, t.reset_link_expired_title, t.reset_link_expired)
        }
        Err(ApiError::Unavailable(_)) => refuse(StatusCode::SERVICE_UNAVAILABLE, t.too_busy.into()),
        Err(e) => pages::failed(e),
    }
}

/// The tenant a recovery page is for, with its look, and the page's language.
struct PageTenant {
    tenant: Tenant,
    brand: pages::Brand,
    t: &'static Texts,
}

/// The pages' language: the `ui_locales` of the sign-in they were reached from, else the browser's.
fn language(headers: &HeaderMap, params: &Params) -> &'static Texts {
    let ui_locales = pages::return_to(params.get("return_to"))
        .and_then(|back| back.split_once('?'))
        .and_then(|(_, query)| form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "ui_locales"))
        .map(|(_, value)| value.into_owned());
    i18n::choose(ui_locales.as_deref(), headers)
}

/// The active tenant named by the `tenant` parameter (its slug), with its look.
async fn page_tenant(state: &AppState, headers: &HeaderMap, params: &Params) -> Option<PageTenant> {
    let slug = params.get("tenant")?;
    let tenant = tenants::find_tenant(state, &TenantKey::Slug(slug.to_string())).await.ok().flatten()?;
    if !tenant.active {
        return None;
    }
    // The look is a nicety: a page without it beats no page.
    let brand = match settings::load(&state.store, tenant.id).await {
        Ok(settings) => pages::Brand::of(&tenant, &settings),
        Err(_) => pages::Brand::named(&tenant.name),
    };
    Some(PageTenant { tenant, brand, t: language(headers, params) })
}

/// `return_to` when it is a sign-in of one of this tenant's live clients: the way back may not
/// lead, through ovlt's own pages and email, into another tenant's or an unknown application.
async fn way_back<'p>(state: &AppState, tenant: &Tenant, params: &'p Params) -> Option<&'p str> {
    let back = pages::return_to(params.get("return_to"))?;
    let query = back.split_once('?')?.1;
    let client_id = form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "client_id")?.1;
    let client = find_live_client(state, &client_id, Lookup::ClientOnly).await.ok()??;
    (client.tenant.id == tenant.id).then_some(back)
}

fn unknown_tenant(headers: &HeaderMap, params: &Params) -> Response {
    let t = language(headers, params);
    pages::error_page(t, StatusCode::NOT_FOUND, t.unknown_organisation_title, t.unknown_organisation)
}

fn forgot_page(
    state: &AppState,
    headers: &HeaderMap,
    page: &PageTenant,
    return_to: Option<&str>,
    status: StatusCode,
    sent: bool,
    error: Option<&str>,
) -> Response {
    sso::form_page(state, headers, status, |csrf| pages::ForgotPassword {
        t: page.t,
        brand: page.brand.clone(),
        tenant_slug: &page.tenant.slug,
        return_to,
        csrf,
        sent,
        error,
    })
}

fn reset_page(
    state: &AppState,
    headers: &HeaderMap,
    page: &PageTenant,
    token: &str,
    return_to: Option<&str>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    sso::form_page(state, headers, status, |csrf| pages::ResetPassword {
        t: page.t,
        brand: page.brand.clone(),
        tenant_slug: &page.tenant.slug,
        return_to,
        token,
        csrf,
        error: error.as_deref(),
    })
}
