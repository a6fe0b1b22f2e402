//! HTTP: every route on one screen, the layers around them, and the shared extractors.
//!
//! To find an endpoint's code, find its line below: the handler lives in the feature folder
//! it names.

pub mod client_ip;
pub mod extract;
pub mod middleware;
pub mod pagination;

use axum::Router;
use axum::routing::{delete, get, post, put};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::recovery_pages;
use crate::mfa::api as mfa;
use crate::oauth::{authorize, enrol, introspect, logout, sign_in, token, userinfo};
use crate::rbac::api as roles;
use crate::{audit, auth, clients, discovery, federation, health, openapi, sessions, settings, tenants, users};

/// The whole application: routes, fallbacks and layers, with its state.
pub fn router(state: AppState) -> Router {
    let routes = openapi::router()
        // Operations (no tenant, no credentials).
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .route("/.well-known/openid-configuration", get(discovery::get_openid_configuration))
        .route("/.well-known/jwks.json", get(discovery::get_jwks))
        .routes(routes!(openapi::openapi_json))
        // The OAuth 2.0 / OpenID Connect authorization server: the client names the tenant.
        .route("/oauth/authorize", get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/oauth/consent", post(sign_in::consent))
        .route("/oauth/token", post(token::token))
        .route("/oauth/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route("/oauth/introspect", post(introspect::introspect))
        .route("/oauth/revoke", post(introspect::revoke))
        .route("/oauth/logout", get(logout::logout_get).post(logout::logout_post))
        // The tenant selected by x-ovlt-tenant-slug / x-ovlt-tenant-id (public facts only).
        .routes(routes!(tenants::current_tenant))
        // A tenant's users (tenant header; Bearer where noted in the handler), rate-limited per IP.
        .merge(auth_routes(&state))
        // Tenants (operator), settings, roles, permissions, clients (tenant administration).
        .merge(cached_state_routes(&state))
        .route("/users/me", get(users::get_me))
        .route("/users/me/password", put(users::change_my_password))
        // Tenant administration: tenant header + admin key, or a bearer with the permission.
        .route("/users", get(users::list_users).post(users::create_user))
        .route("/users/{id}", get(users::get_user).put(users::update_user).delete(users::delete_user))
        .route("/users/{id}/verification-code", get(users::issue_verification_code))
        .route("/users/{id}/password-reset-token", get(users::issue_password_reset_token))
        .route("/users/{id}/mfa", delete(mfa::reset_user_mfa))
        .routes(routes!(roles::list_user_roles, roles::assign_role))
        .routes(routes!(roles::unassign_role))
        .route("/sessions", get(sessions::list_sessions))
        .route("/sessions/{id}", delete(sessions::revoke_session))
        .route("/audit-log", get(audit::api::list_audit_log))
        .route("/identity-providers", get(federation::list_providers).post(federation::create_provider))
        .route("/identity-providers/{id}", put(federation::update_provider).delete(federation::delete_provider));
    let (routes, document) = routes.split_for_parts();
    openapi::publish(document);
    let routes: Router<AppState> =
        routes.fallback(middleware::route_not_found).method_not_allowed_fallback(middleware::method_not_allowed);
    let routes = routes.layer(axum::middleware::from_fn_with_state(state.clone(), client_ip::resolve_client_ip));
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
        .route("/settings", get(settings::get_settings).put(settings::put_settings))
        .routes(routes!(roles::list_roles, roles::create_role))
        .routes(routes!(roles::get_role, roles::update_role, roles::delete_role))
        .routes(routes!(roles::list_role_permissions, roles::grant_permission))
        .routes(routes!(roles::revoke_permission))
        .routes(routes!(roles::list_permissions, roles::create_permission))
        .routes(routes!(roles::update_permission, roles::delete_permission))
        .routes(routes!(clients::list_clients, clients::create_client))
        .routes(routes!(clients::get_client, clients::update_client, clients::delete_client))
        .routes(routes!(clients::rotate_secret))
        .routes(routes!(clients::roles::list_client_roles, clients::roles::assign_client_role))
        .routes(routes!(clients::roles::unassign_client_role))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), middleware::forget_cached_state_after_writes))
}

fn auth_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let routes = openapi::router()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/revoke", post(auth::revoke))
        .route("/auth/verify-otp", post(auth::recovery::verify_otp))
        .route("/auth/forgot-password", post(auth::recovery::forgot_password))
        .route("/auth/password/request", post(auth::recovery::password_request))
        .route("/auth/reset-password", post(auth::recovery::reset_password))
        .route("/auth/password/reset", post(auth::recovery::password_reset))
        .route("/auth/mfa/setup", post(mfa::setup))
        .route("/auth/mfa/confirm", post(mfa::confirm))
        .route("/auth/mfa/challenge", post(mfa::challenge))
        .route("/auth/mfa/disable", post(mfa::disable))
        .route("/auth/mfa/backup-codes", post(mfa::regenerate_backup_codes))
        .route("/oauth/sign-in", post(sign_in::sign_in))
        .route("/oauth/mfa", post(sign_in::mfa_step))
        .route("/oauth/mfa/enrol", post(enrol::enrol_step))
        .route(
            "/oauth/forgot-password",
            get(recovery_pages::forgot_password_form).post(recovery_pages::forgot_password),
        )
        .route("/oauth/reset-password", get(recovery_pages::reset_password_form).post(recovery_pages::reset_password));
    openapi::rate_limited(routes)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), client_ip::rate_limit))
}
