//! The pages an authorization shows before its code: the sign-in form (with its links to
//! recovery and sign-up, and the tenant's look) and the consent form. Their forms are received
//! by [`super::sign_in`] and [`super::sign_up`].

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use url::Url;

use super::authorize::AuthRequest;
use super::{scope_tokens, sso};
use crate::app::AppState;
use crate::pages;
use crate::store;
use crate::types::Session;

pub(super) async fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
) -> Response {
    sign_in_page_noting(state, headers, request, status, email, error, None).await
}

/// [`sign_in_page`] with a `notice` above the form (e.g. "your address is verified").
pub(super) async fn sign_in_page_noting(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    // The tenant's own reset page when it has one, else ovlt's, which links back here.
    let reset_url = request.settings.reset_url.clone().unwrap_or_else(|| {
        let back = pages::authorize_path(&request.hidden, &[]);
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("tenant", &request.tenant.slug)
            .append_pair("return_to", &back)
            .finish();
        format!("/oauth/forgot-password?{query}")
    });
    let authorize_query = pages::authorize_path(&request.hidden, &[]).replacen("/oauth/authorize?", "", 1);
    let providers = crate::federation::buttons(state, &request.tenant, request.t, &authorize_query).await;
    sso::form_page(state, headers, status, |csrf| pages::SignIn {
        t: request.t,
        providers,
        brand: pages::Brand::of(&request.tenant, &request.settings),
        client_name: &request.client.name,
        hidden: request.hidden.clone(),
        csrf,
        email,
        error,
        notice,
        reset_url: &reset_url,
        sign_up_url: request
            .settings
            .self_registration
            .then(|| pages::authorize_path(&request.hidden, &[]).replacen("/oauth/authorize?", "/oauth/sign-up?", 1)),
    })
}

pub(super) async fn consent_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &AuthRequest,
    session: &Session,
) -> Response {
    let user = match store::users::find_user_by_id(state.store.pool(), request.tenant.id, session.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return pages::failed(anyhow::anyhow!("the signed-in session's user is gone")),
        Err(e) => return pages::failed(e),
    };
    let destination = Url::parse(&request.redirect_uri)
        .map(|url| match url.host_str() {
            Some(_) => url.origin().ascii_serialization(),
            // An app's own scheme (`com.example.app:/callback`): the scheme is what names it.
            None => format!("{}:", url.scheme()),
        })
        .unwrap_or_default();
    sso::form_page(state, headers, StatusCode::OK, |csrf| pages::Consent {
        t: request.t,
        brand: pages::Brand::of(&request.tenant, &request.settings),
        client_name: &request.client.name,
        email: &user.email,
        destination: &destination,
        not_you: pages::authorize_path(&request.hidden, &[("prompt", "login")]),
        scopes: scope_tokens(&request.scope).into_iter().map(|scope| request.t.scope(scope)).collect(),
        hidden: request.hidden.clone(),
        csrf,
    })
}
