//! The UserInfo endpoint (OIDC Core §5.3): claims about the user an access token stands for,
//! as far as its scope grants them.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;

use super::has_scope;
use crate::app::AppState;
use crate::auth::bearer::bearer_token;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::tenants::{self, TenantId, TenantKey};
use crate::tokens::verify_access_token;
use crate::types::Timestamp;
use crate::users::UserId;

/// Claims about the token's user, as far as the token's scope grants them.
#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    sub: UserId,
    /// With the profile scope, when the user has a name (an absent claim is omitted, never
    /// null: OpenID Connect Core §5.3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    name: Option<String>,
    /// With the profile scope: Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    updated_at: Option<i64>,
    /// With the email scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    email: Option<String>,
    /// With the email scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    email_verified: Option<bool>,
}

/// `GET /oauth/userinfo` (Bearer): see [`userinfo`].
#[utoipa::path(
    get,
    path = "/oauth/userinfo",
    tag = "oauth",
    summary = "Claims about the token's user (OIDC Core §5.3).",
    description = "No tenant header: the token names its tenant. `name` and `updated_at` with the profile scope, \
                   `email` and `email_verified` with the email scope.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's claims, as far as the token's scope grants them.", body = UserInfo),
        (status = 403, description = "forbidden"),
    )
)]
pub async fn userinfo_get(state: State<AppState>, headers: HeaderMap) -> ApiResult<Json<UserInfo>> {
    userinfo(state, headers).await
}

/// `POST /oauth/userinfo` (Bearer): see [`userinfo`].
#[utoipa::path(
    post,
    path = "/oauth/userinfo",
    tag = "oauth",
    summary = "Claims about the token's user, by POST.",
    description = "The same as GET /oauth/userinfo.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's claims, as far as the token's scope grants them.", body = UserInfo),
        (status = 403, description = "forbidden"),
    )
)]
pub async fn userinfo_post(state: State<AppState>, headers: HeaderMap) -> ApiResult<Json<UserInfo>> {
    userinfo(state, headers).await
}

/// `GET|POST /oauth/userinfo` (Bearer): `sub`, and `name`, `email`, `email_verified` per scope.
/// A token that is invalid, revoked, of an ended session or a disabled tenant → 401.
async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<UserInfo>> {
    let token = bearer_token(&headers).ok_or(ApiError::InvalidToken)?;
    let claims = verify_access_token(&state, token).await.ok_or(ApiError::InvalidToken)?;
    let tenant_id = TenantId::parse(&claims.tid).map_err(|_| ApiError::InvalidToken)?;
    let tenant = tenants::find_tenant(&state, &TenantKey::Id(tenant_id)).await?;
    let sid = claims.sid.as_deref().filter(|_| tenant.is_some_and(|t| t.active)).ok_or(ApiError::InvalidToken)?;
    let pool = state.store.pool();
    if !store::sessions::access_token_is_live(pool, tenant_id, sid, &claims.jti, Timestamp::now()).await? {
        return Err(ApiError::InvalidToken);
    }
    if !has_scope(&claims.scope, "openid") {
        return Err(ApiError::Forbidden("the access token was not granted the openid scope".into()));
    }
    let user_id = UserId::parse(&claims.sub).map_err(|_| ApiError::InvalidToken)?;
    let user = store::users::find_user_by_id(pool, tenant_id, user_id).await?.ok_or(ApiError::InvalidToken)?;
    let profile = has_scope(&claims.scope, "profile");
    let email = has_scope(&claims.scope, "email");
    Ok(Json(UserInfo {
        sub: user.id,
        name: user.name.clone().filter(|_| profile),
        updated_at: profile.then_some(user.updated_at.0),
        email: email.then(|| user.email.clone()),
        email_verified: email.then_some(user.email_verified),
    }))
}
