//! A user's linked identities: `GET /users/me/identities` and `DELETE /users/me/identities/{id}`
//! for the user, and the same under `/users/{id}/identities` for the tenant's administrators.
//! Unlinking is refused when it would leave the user no way in (no password, no other identity).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth::bearer::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::rbac::{Manage, UsersRead, UsersWrite};
use crate::store::{self, federation::ExternalIdentity};
use crate::tenants::{Tenant, TenantHeaders};
use crate::types::{Timestamp, UserId};

/// An upstream account linked to the user.
#[derive(Serialize, ToSchema)]
pub struct IdentityResponse {
    #[schema(value_type = Uuid)]
    id: String,
    /// The identity provider's name.
    provider: String,
    #[schema(schema_with = kind_schema)]
    kind: String,
    /// The provider's id for the account.
    subject: String,
    /// The address the provider last gave.
    #[schema(required)]
    email: Option<String>,
    /// Whether the provider vouched for it and is trusted to.
    email_verified: bool,
    created_at: Timestamp,
    #[schema(required)]
    last_login_at: Option<Timestamp>,
}

fn kind_schema() -> utoipa::openapi::Schema {
    crate::openapi::schema::from_json(json!({ "type": "string", "enum": ["google", "github", "oidc"] }))
}

impl From<&ExternalIdentity> for IdentityResponse {
    fn from(e: &ExternalIdentity) -> Self {
        Self {
            id: e.id.clone(),
            provider: e.provider_name.clone(),
            kind: e.provider_kind.clone(),
            subject: e.subject.clone(),
            email: e.email.clone(),
            email_verified: e.email_verified,
            created_at: e.created_at,
            last_login_at: e.last_login_at,
        }
    }
}

async fn identities_of(state: &AppState, tenant: &Tenant, user_id: UserId) -> ApiResult<Vec<IdentityResponse>> {
    let identities = store::federation::list_identities(state.store.pool(), tenant.id, user_id).await?;
    Ok(identities.iter().map(IdentityResponse::from).collect())
}

/// Unlinks one identity of the user, unless it is their last way in.
async fn unlink(
    state: &AppState,
    tenant: &Tenant,
    user_id: UserId,
    identity_id: &str,
    actor: Actor,
    context: RequestContext,
) -> ApiResult<StatusCode> {
    let mut tx = state.store.begin().await?;
    // The user's row, locked: two unlinks at once cannot each leave the other as the last way in.
    if !store::users::lock_user(&mut *tx, tenant.id, user_id).await? {
        return Err(ApiError::NotFound("user"));
    }
    let user = store::users::find_user_by_id(&mut *tx, tenant.id, user_id).await?.ok_or(ApiError::NotFound("user"))?;
    let identities = store::federation::list_identities(&mut *tx, tenant.id, user_id).await?;
    let Some(identity) = identities.iter().find(|i| i.id == identity_id) else {
        return Err(ApiError::NotFound("identity"));
    };
    if user.password_hash.is_none() && identities.len() == 1 {
        return Err(ApiError::Conflict(
            "this identity is the account's only way in: set a password or link another identity first".into(),
        ));
    }
    store::federation::delete_identity(&mut *tx, tenant.id, user_id, identity_id).await?;
    let event = AuditEvent::new(actor, "identity.unlinked", context)
        .in_tenant(tenant.id)
        .target("user", user_id)
        .details(json!({ "provider": identity.provider_name, "identity_id": identity.id }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/users/me/identities",
    tag = "users",
    summary = "The signed-in user's linked identities.",
    security(("bearer" = [])),
    params(TenantHeaders),
    responses((status = 200, description = "Oldest first.", body = Vec<IdentityResponse>))
)]
pub async fn list_my_identities(
    State(state): State<AppState>,
    me: CurrentUser,
) -> ApiResult<Json<Vec<IdentityResponse>>> {
    Ok(Json(identities_of(&state, &me.tenant, me.user_id).await?))
}

#[utoipa::path(
    delete,
    path = "/users/me/identities/{id}",
    tag = "users",
    summary = "Unlinks one of the signed-in user's identities.",
    security(("bearer" = [])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The identity's id.")),
    responses(
        (status = 204, description = "Unlinked."),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict: it is the account's only way in"),
    )
)]
pub async fn unlink_my_identity(
    State(state): State<AppState>,
    me: CurrentUser,
    context: RequestContext,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    unlink(&state, &me.tenant, me.user_id, &id.to_string(), Actor::User(me.user_id), context).await
}

#[utoipa::path(
    get,
    path = "/users/{id}/identities",
    tag = "users",
    summary = "A user's linked identities.",
    security(("adminKey" = []), ("bearer" = ["users:read"])),
    params(TenantHeaders, ("id" = UserId, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "Oldest first.", body = Vec<IdentityResponse>),
        (status = 404, description = "not_found"),
    )
)]
pub async fn list_user_identities(
    State(state): State<AppState>,
    access: Manage<UsersRead>,
    Path(id): Path<UserId>,
) -> ApiResult<Json<Vec<IdentityResponse>>> {
    if store::users::find_user_by_id(state.store.pool(), access.tenant.id, id).await?.is_none() {
        return Err(ApiError::NotFound("user"));
    }
    Ok(Json(identities_of(&state, &access.tenant, id).await?))
}

#[utoipa::path(
    delete,
    path = "/users/{id}/identities/{identity_id}",
    tag = "users",
    summary = "Unlinks one of a user's identities.",
    security(("adminKey" = []), ("bearer" = ["users:write"])),
    params(
        TenantHeaders,
        ("id" = UserId, Path, description = "The user's id."),
        ("identity_id" = Uuid, Path, description = "The identity's id."),
    ),
    responses(
        (status = 204, description = "Unlinked."),
        (status = 403, description = "forbidden: the user holds permissions the caller does not"),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict: it is the account's only way in"),
    )
)]
pub async fn unlink_user_identity(
    State(state): State<AppState>,
    access: Manage<UsersWrite>,
    context: RequestContext,
    Path((id, identity_id)): Path<(UserId, Uuid)>,
) -> ApiResult<StatusCode> {
    // Taking away someone's way in is acting on them: not on a more powerful user.
    access.may_act_on_user(state.store.pool(), id).await?;
    unlink(&state, &access.tenant, id, &identity_id.to_string(), access.actor, context).await
}
