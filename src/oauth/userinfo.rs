//! The UserInfo endpoint (OIDC Core §5.3): claims about the user an access token stands for,
//! as far as its scope grants them.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::has_scope;
use crate::app::AppState;
use crate::auth::bearer::bearer_token;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::tenants::{self, TenantId, TenantKey};
use crate::tokens::verify_access_token;
use crate::types::Timestamp;
use crate::users::UserId;

/// `GET|POST /oauth/userinfo` (Bearer): `sub`, and `name`, `email`, `email_verified` per scope.
/// A token that is invalid, revoked, of an ended session or a disabled tenant → 401.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
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
    let mut body = Map::new();
    body.insert("sub".into(), json!(user.id));
    if has_scope(&claims.scope, "profile") {
        body.insert("name".into(), json!(user.name));
        body.insert("updated_at".into(), json!(user.updated_at.0));
    }
    if has_scope(&claims.scope, "email") {
        body.insert("email".into(), json!(user.email));
        body.insert("email_verified".into(), json!(user.email_verified));
    }
    Ok(Json(Value::Object(body)))
}
