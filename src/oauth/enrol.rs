//! The hosted MFA enrolment step: when the tenant requires two-step verification and the user
//! who just gave the right password has none, the sign-in shows an authenticator to scan and
//! asks for its first code. A right code turns MFA on, starts the SSO session and shows the ten
//! backup codes once, with a button that carries on with the authorization.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

use super::authorize::{AuthRequest, AuthorizationRequest, form_request, sign_in_page};
use super::sign_in::open_sso_session;
use super::sso;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::error::ApiError;
use crate::mfa::{self, AuthenticatorView};
use crate::pages;
use crate::store;
use crate::types::Timestamp;
use crate::users::User;

/// After the password step: a new pending authenticator for the user, and the page to enrol it.
pub(super) async fn begin(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    user: &User,
    mfa_token: &str,
    context: RequestContext,
) -> Response {
    let tenant = &request.tenant;
    let new = match mfa::new_authenticator(state, tenant, &request.settings, user).await {
        Ok(new) => new,
        Err(e) => return pages::failed(e),
    };
    let begun = async {
        let mut tx = state.store.begin().await?;
        if !store::mfa::begin_totp_enrolment(&mut *tx, tenant.id, user.id, &new.sealed_secret, Timestamp::now()).await?
        {
            return Ok(false);
        }
        let event = AuditEvent::new(Actor::User(user.id), "mfa.setup_started", context)
            .in_tenant(tenant.id)
            .target("user", user.id);
        audit::record(&mut *tx, event).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(true)
    };
    match begun.await {
        Ok(true) => enrol_page(state, headers, request, mfa_token, &new.view, StatusCode::OK, None),
        // MFA was turned on meanwhile (another tab): the normal code step applies.
        Ok(false) => start_over(state, headers, request).await,
        Err(e) => pages::failed(e),
    }
}

// The enrolment form's body, for the OpenAPI document (the handler reads it as `Params`): the
// authorization request it carries, and its own fields.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct MfaEnrolForm {
    #[serde(flatten)]
    request: AuthorizationRequest,
    /// From the form.
    csrf_token: String,
    mfa_token: String,
    /// Six digits.
    code: String,
}

/// `POST /oauth/mfa/enrol`: the first code from the new authenticator.
#[utoipa::path(
    post,
    path = "/oauth/mfa/enrol",
    operation_id = "hosted_mfa_enrol",
    tag = "oauth",
    summary = "The hosted authenticator enrolment form.",
    description = "Shown after the password when the tenant's mfa_policy is required and the user has no \
                   authenticator: the first six digits from the new authenticator turn MFA on, start the SSO \
                   session and show the ten backup codes once, with a button that carries on with the \
                   authorization. Rate-limited per IP like /auth (the 429 is a page).",
    request_body(content = MfaEnrolForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The backup codes page (with the SSO session cookie).",
            content_type = "text/html", body = String),
        (status = 400, description = "The enrolment form again (not six digits), the sign-in form (an expired form \
                                      or sign-in), or an error page.", content_type = "text/html", body = String),
        (status = 401, description = "The enrolment form again: a wrong code.",
            content_type = "text/html", body = String),
    )
)]
pub async fn enrol_step(
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
        return start_over(&state, &headers, &request).await;
    }
    let (tenant, settings) = (&request.tenant, &request.settings);
    let token = params.get("mfa_token").unwrap_or_default();
    let (user, amr) = match mfa::challenge_user(&state, tenant, token, mfa::PURPOSE_ENROL).await {
        Ok(challenged) if !challenged.user.mfa_enabled => (challenged.user, challenged.amr),
        Ok(_) | Err(ApiError::InvalidToken) => return start_over(&state, &headers, &request).await,
        Err(e) => return pages::failed(e),
    };
    let view = match mfa::pending_authenticator(&state, tenant, settings, &user).await {
        Ok(Some(view)) => view,
        Ok(None) => return start_over(&state, &headers, &request).await,
        Err(e) => return pages::failed(e),
    };
    let page = |status, why| enrol_page(&state, &headers, &request, token, &view, status, Some(why));
    let code: String = params.get("code").unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return page(StatusCode::BAD_REQUEST, request.t.enter_six_digits);
    }
    match mfa::reserve_attempt(&state, tenant.id, token).await {
        Ok(()) => {}
        Err(ApiError::InvalidToken) => return start_over(&state, &headers, &request).await,
        Err(e) => return pages::failed(e),
    }
    let found = match mfa::totp_step(&state, tenant.id, user.id, &code, false).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            let event = AuditEvent::new(Actor::User(user.id), "mfa.failed", context)
                .in_tenant(tenant.id)
                .target("user", user.id)
                .outcome("failure")
                .details(serde_json::json!({ "factor": "totp", "reason": "wrong_code", "stage": "confirm" }));
            if let Err(e) = audit::record(state.store.pool(), event).await {
                return pages::failed(e);
            }
            return page(StatusCode::UNAUTHORIZED, request.t.code_wrong);
        }
        Err(e) => return pages::failed(e),
    };
    let enabled = async {
        let mut tx = state.store.begin().await?;
        let Some(codes) =
            mfa::enable_authenticator(&state, &mut tx, tenant.id, user.id, &found, context.clone()).await?
        else {
            return Ok(None);
        };
        let digest = mfa::challenge_digest(token);
        if !store::mfa::consume_challenge(&mut *tx, tenant.id, &digest, Timestamp::now()).await? {
            return Ok(None);
        }
        tx.commit().await?;
        Ok::<_, ApiError>(Some(codes))
    };
    let codes = match enabled.await {
        Ok(Some(codes)) => codes,
        Ok(None) => return start_over(&state, &headers, &request).await,
        Err(e) => return pages::failed(e),
    };
    // MFA is on now, so the codes are shown whatever happens next; without an SSO session (it
    // could not be recorded) Continue leads to a normal sign-in with the new authenticator.
    let cookie = match open_sso_session(&state, &headers, &request, &user, amr, context).await {
        Ok((_, cookie)) => Some(cookie),
        Err(_logged) => None,
    };
    let page = pages::BackupCodes {
        t: request.t,
        brand: pages::Brand::of(&request.tenant, &request.settings),
        client_name: &request.client.name,
        codes,
        hidden: carried_on(&request.hidden),
    };
    pages::with_cookie(pages::render(StatusCode::OK, &page), cookie)
}

/// The authorization request as the Continue button sends it again: this sign-in has just
/// satisfied `prompt=login` and any `max_age`, so those go (asking again would show the sign-in
/// form to a user who signed in a minute ago); everything else, `prompt=consent` included, stays.
fn carried_on(hidden: &[(String, String)]) -> Vec<(String, String)> {
    hidden
        .iter()
        .filter(|(name, _)| name != "max_age")
        .filter_map(|(name, value)| {
            if name != "prompt" {
                return Some((name.clone(), value.clone()));
            }
            let kept: Vec<&str> = value.split(' ').filter(|p| !p.is_empty() && *p != "login").collect();
            (!kept.is_empty()).then(|| (name.clone(), kept.join(" ")))
        })
        .collect()
}

fn enrol_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    mfa_token: &str,
    view: &AuthenticatorView,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    sso::form_page(state, headers, status, |csrf| pages::MfaEnrol {
        t: request.t,
        brand: pages::Brand::of(&request.tenant, &request.settings),
        client_name: &request.client.name,
        hidden: request.hidden.clone(),
        csrf,
        mfa_token,
        secret: &view.secret_base32,
        qr_code: &view.qr_code,
        error,
    })
}

async fn start_over(state: &AppState, headers: &HeaderMap, request: &AuthRequest) -> Response {
    sign_in_page(state, headers, request, StatusCode::BAD_REQUEST, "", Some(request.t.sign_in_expired)).await
}

#[cfg(test)]
mod tests {
    use super::carried_on;

    #[test]
    fn continuing_drops_what_the_sign_in_satisfied_and_keeps_consent() {
        let pair = |name: &str, value: &str| (name.to_string(), value.to_string());
        let request = [pair("client_id", "c"), pair("prompt", "login consent"), pair("max_age", "0")];
        assert_eq!(carried_on(&request), [pair("client_id", "c"), pair("prompt", "consent")]);
        assert_eq!(carried_on(&[pair("prompt", "login")]), []);
    }
}
