//! HTTP: every route on one screen, the layers around them, and the shared extractors.
//!
//! Each line names the handlers of one path; the path itself, with the rest of the endpoint's
//! documentation, is in the handler's `#[utoipa::path]`, in the feature folder the line names.
//! `routes!` is the only way in: a route cannot exist without its documentation (see
//! `crate::openapi`).
//!
//! In a feature folder, `mod.rs` holds the feature's model and rules; its HTTP handlers, with
//! their request/answer types and `#[utoipa::path]` documentation, live in `api.rs` — or in
//! `api/<topic>.rs` when one file would pass ~400 lines (`api/mod.rs` then holds what the
//! topics share). `oauth/` is the exception: it is all protocol endpoints, one file per
//! endpoint.

pub mod client_ip;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod pagination;
pub mod serve;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::api::{recovery, recovery_pages};
use crate::mfa::api as mfa;
use crate::oauth::{authorize, enrol, introspect, logout, sign_in, sign_up, token, userinfo};
use crate::rbac::api as roles;
use crate::{audit, auth, clients, discovery, federation, health, openapi, sessions, settings, tenants, users};

/// The whole application: routes, fallbacks and layers, with its state.
pub fn router(state: AppState) -> Router {
    let routes = openapi::router()
        // Operations (no tenant, no credentials).
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(discovery::get_openid_configuration))
        .routes(routes!(discovery::get_jwks))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(metrics::metrics))
        // The OAuth 2.0 / OpenID Connect authorization server: the client names the tenant.
        .routes(routes!(authorize::authorize_get, authorize::authorize_post))
        .routes(routes!(sign_in::consent))
        .routes(routes!(token::token))
        .routes(routes!(userinfo::userinfo_get, userinfo::userinfo_post))
        .routes(routes!(introspect::introspect))
        .routes(routes!(introspect::revoke))
        .routes(routes!(logout::logout_get, logout::logout_post))
        // The tenant selected by x-ovlt-tenant-slug / x-ovlt-tenant-id (public facts only).
        .routes(routes!(tenants::current_tenant))
        // A tenant's users (tenant header; Bearer where noted in the handler), rate-limited per IP.
        .merge(auth_routes(&state))
        // Tenants (operator), settings, roles, permissions, clients (tenant administration).
        .merge(cached_state_routes(&state))
        .routes(routes!(users::get_me))
        .routes(routes!(users::change_my_password))
        .routes(routes!(federation::list_my_identities))
        .routes(routes!(federation::unlink_my_identity))
        // Tenant administration: tenant header + admin key, or a bearer with the permission.
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::get_user, users::update_user, users::delete_user))
        .routes(routes!(users::issue_verification_code))
        .routes(routes!(users::issue_password_reset_token))
        .routes(routes!(mfa::reset_user_mfa))
        .routes(routes!(federation::list_user_identities))
        .routes(routes!(federation::unlink_user_identity))
        .routes(routes!(roles::list_user_roles, roles::assign_role))
        .routes(routes!(roles::unassign_role))
        .routes(routes!(sessions::list_sessions))
        .routes(routes!(sessions::revoke_session))
        .routes(routes!(audit::api::list_audit_log))
        .routes(routes!(federation::list_providers, federation::create_provider))
        .routes(routes!(federation::update_provider, federation::delete_provider));
    let (routes, document) = routes.split_for_parts();
    openapi::publish(document);
    let routes: Router<AppState> =
        routes.fallback(middleware::route_not_found).method_not_allowed_fallback(middleware::method_not_allowed);
    let routes = routes
        .layer(axum::middleware::from_fn_with_state(state.clone(), client_ip::resolve_client_ip))
        .layer(axum::middleware::from_fn(metrics::record_request));
    middleware::apply(routes, &state.config).with_state(state)
}

/// The management routes that write what instances cache (tenants, settings, clients, roles,
/// permissions): after each write this instance forgets its cached state at once (see
/// [`middleware::forget_cached_state_after_writes`]).
fn cached_state_routes(state: &AppState) -> OpenApiRouter<AppState> {
    openapi::router()
        // Tenants (operator: X-OVLT-Admin-Key).
        .routes(routes!(tenants::list_tenants, tenants::create_tenant))
        .routes(routes!(tenants::list_tenant_slugs))
        .routes(routes!(tenants::get_tenant, tenants::update_tenant, tenants::delete_tenant))
        // Tenant administration: tenant header + admin key, or a bearer with the permission.
        .routes(routes!(settings::get_settings, settings::put_settings))
        .routes(routes!(roles::list_roles, roles::create_role))
        .routes(routes!(roles::get_role, roles::update_role, roles::delete_role))
        .routes(routes!(roles::list_role_permissions, roles::grant_permission))
        .routes(routes!(roles::revoke_permission))
        .routes(routes!(roles::list_permissions, roles::create_permission))
        .routes(routes!(roles::update_permission, roles::delete_permission))
        .routes(routes!(clients::list_clients, clients::create_client))
        .routes(routes!(clients::get_client, clients::update_client, clients::delete_client))
        .routes(routes!(clients::rotate_secret))
        .routes(routes!(clients::list_client_roles, clients::assign_client_role))
        .routes(routes!(clients::unassign_client_role))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), middleware::forget_cached_state_after_writes))
}

fn auth_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let routes = openapi::router()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::revoke))
        .routes(routes!(recovery::verify_otp))
        .routes(routes!(recovery::forgot_password))
        .routes(routes!(recovery::password_request))
        .routes(routes!(recovery::reset_password))
        .routes(routes!(recovery::password_reset))
        .routes(routes!(mfa::setup))
        .routes(routes!(mfa::confirm))
        .routes(routes!(mfa::challenge))
        .routes(routes!(mfa::disable))
        .routes(routes!(mfa::regenerate_backup_codes))
        .routes(routes!(sign_in::sign_in))
        .routes(routes!(sign_up::sign_up_form, sign_up::sign_up))
        .routes(routes!(sign_up::verify_email))
        .routes(routes!(sign_in::mfa_step))
        .routes(routes!(enrol::enrol_step))
        .routes(routes!(recovery_pages::forgot_password_form, recovery_pages::forgot_password))
        .routes(routes!(recovery_pages::reset_password_form, recovery_pages::reset_password))
        .routes(routes!(federation::start))
        .routes(routes!(federation::callback))
        .routes(routes!(federation::exchange))
        .routes(routes!(federation::link_account));
    openapi::rate_limited(routes)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), client_ip::rate_limit))
}
