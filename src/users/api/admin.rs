//! Tenant administration of users (seed "Users"): `users:read` to look, `users:write` to
//! change. Suspending a user ends their sessions at once; deleting removes their sessions,
//! tokens, codes and roles but keeps the audit trail.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::Schema;
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, Pagination, RawPagination};
use crate::openapi::{self, schema::NO_CONTROL};
use crate::rbac::{Manage, UsersRead, UsersWrite};
use crate::settings;
use crate::store;
use crate::tenants::TenantHeaders;
use crate::types::Timestamp;
use crate::users::{User, UserId, UserResponse, UserStatus, validate_email, validate_password};

/// The rule of `Manage::may_act_on_user`, as the document states it.
const NO_ESCALATION: &str = "Refused (403 forbidden) when the user holds a permission the caller lacks, unless the \
                             caller is the admin key or a tenant admin.";

fn status_schema() -> Schema {
    openapi::schema::from_json(json!({ "type": "string", "enum": ["active", "suspended"] }))
}

/// The schema of the `status` filter (doc-only: `IntoParams` drops a description beside `schema_with`).
enum StatusFilter {}
crate::string_schema!(StatusFilter, openapi::schema::or_empty(status_schema()));

fn optional_status_schema() -> Schema {
    openapi::schema::nullable(status_schema())
}

fn optional_password_schema() -> Schema {
    openapi::schema::nullable(openapi::schema::new_password())
}

fn optional_email_schema() -> Schema {
    openapi::schema::nullable(openapi::schema::email())
}

/// What `check_name` accepts (the bound is on the trimmed name; the schema states it on what is sent).
fn optional_name_schema() -> Schema {
    openapi::schema::nullable(openapi::schema::from_json(json!({
        "type": "string",
        "maxLength": 200,
        "pattern": NO_CONTROL,
        "description": "At most 200 characters, no control characters."
    })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only this email.
    #[param(value_type = String, required = false)]
    email: Option<String>,
    /// Only this status.
    #[param(value_type = StatusFilter, inline, required = false)]
    status: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(required, schema_with = openapi::schema::email)]
    email: Option<String>,
    #[schema(schema_with = optional_password_schema)]
    password: Option<String>,
    #[schema(schema_with = optional_name_schema)]
    name: Option<String>,
    email_verified: Option<bool>,
    #[schema(schema_with = optional_status_schema)]
    status: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[schema(schema_with = optional_email_schema)]
    email: Option<String>,
    #[schema(schema_with = optional_password_schema)]
    password: Option<String>,
    #[schema(schema_with = optional_name_schema)]
    name: Option<String>,
    email_verified: Option<bool>,
    #[schema(schema_with = optional_status_schema)]
    status: Option<String>,
}

/// `GET /users?page=&per_page=&email=&status=`: newest first.
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    summary = "The tenant's users, newest first.",
    security(("adminKey" = []), ("bearer" = ["users:read"])),
    params(TenantHeaders, RawPagination, UserFilter),
    responses((status = 200, description = "A page of users.", body = Page<UserResponse>))
)]
pub async fn list_users(
    State(state): State<AppState>,
    access: Manage<UsersRead>,
    pagination: Pagination,
    Query(filter): Query<UserFilter>,
) -> ApiResult<Json<Page<UserResponse>>> {
    let status = match filter.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(UserStatus::parse(text).ok_or_else(|| {
            ApiError::validation(FieldErrors::from([("status".into(), "must be active or suspended".into())]))
        })?),
    };
    let email = filter.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let pool = state.store.pool();
    let tenant_id = access.tenant.id;
    let email = match email {
        Some(text) => Some(store::users::email_search(pool, state.store.backend(), tenant_id, text).await?),
        None => None,
    };
    let mut snapshot = state.store.begin_read().await?;
    let total = store::users::count_users(&mut *snapshot, tenant_id, email.as_ref(), status).await?;
    let (limit, offset) = (pagination.limit(), pagination.offset());
    let users =
        store::users::list_users(&mut snapshot, tenant_id, email.as_ref(), status, total, limit, offset).await?;
    snapshot.commit().await?;
    Ok(Json(Page::new(users.iter().map(UserResponse::from).collect(), pagination, total)))
}

/// `POST /users` → 201: `email` required; `password`, `name`, `email_verified`, `status` optional.
#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    summary = "Creates a user.",
    security(("adminKey" = []), ("bearer" = ["users:write"])),
    params(TenantHeaders),
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The new user.", body = UserResponse),
        (status = 409, description = "conflict"),
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    access: Manage<UsersWrite>,
    context: RequestContext,
    Json(body): Json<CreateUserRequest>,
) -> ApiResult<Response> {
    let tenant_id = access.tenant.id;
    let settings = settings::load(&state.store, tenant_id).await?;
    let mut fields = FieldErrors::new();
    let email = body.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    match email {
        None => _ = fields.insert("email".into(), "is required".into()),
        Some(email) => {
            if let Err(why) = validate_email(email) {
                fields.insert("email".into(), why.into());
            }
        }
    }
    if let (Some(password), Some(email)) = (body.password.as_deref(), email)
        && let Err(why) = validate_password(password, email, &settings)
    {
        fields.insert("password".into(), why.to_string());
    }
    let name = check_name(&mut fields, body.name.as_deref());
    let status = check_status(&mut fields, body.status.as_deref());
    let (Some(email), true) = (email, fields.is_empty()) else { return Err(ApiError::validation(fields)) };

    let hash = match body.password.as_deref() {
        Some(password) => Some(state.passwords.hash(password).await?),
        None => None,
    };
    let mut user = User::new(tenant_id, email, name, hash, body.email_verified.unwrap_or(false));
    user.status = status.unwrap_or(UserStatus::Active);
    let mut tx = state.store.begin().await?;
    store::users::insert_user(&mut *tx, &user).await?;
    let event = AuditEvent::new(access.actor, "user.created", context).in_tenant(tenant_id).target("user", user.id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(UserResponse::from(&user))).into_response())
}

/// `GET /users/{id}`.
#[utoipa::path(
    get,
    path = "/users/{id}",
    tag = "users",
    summary = "One user.",
    security(("adminKey" = []), ("bearer" = ["users:read"])),
    params(TenantHeaders, ("id" = UserId, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user.", body = UserResponse),
        (status = 404, description = "not_found"),
    )
)]
pub async fn get_user(
    State(state): State<AppState>,
    access: Manage<UsersRead>,
    Path(id): Path<UserId>,
) -> ApiResult<Json<UserResponse>> {
    let user = store::users::find_user_by_id(state.store.pool(), access.tenant.id, id).await?;
    user.map(|u| Json(UserResponse::from(&u))).ok_or(ApiError::NotFound("user"))
}

/// `PUT /users/{id}`: any of `email, name, status, email_verified, password`; absent fields
/// keep their value. Suspension or a new password ends every session of the user.
#[utoipa::path(
    put,
    path = "/users/{id}",
    tag = "users",
    summary = "Changes a user; absent fields keep their value.",
    description = "Suspension or a new password ends every session of the user. Refused (403 forbidden) when the \
                   user holds a permission the caller lacks, unless the caller is the admin key or a tenant admin.",
    security(("adminKey" = []), ("bearer" = ["users:write"])),
    params(TenantHeaders, ("id" = UserId, Path, description = "The user's id.")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The user.", body = UserResponse),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    access: Manage<UsersWrite>,
    context: RequestContext,
    Path(id): Path<UserId>,
    Json(body): Json<UpdateUserRequest>,
) -> ApiResult<Json<UserResponse>> {
    let tenant_id = access.tenant.id;
    let mut user =
        store::users::find_user_by_id(state.store.pool(), tenant_id, id).await?.ok_or(ApiError::NotFound("user"))?;
    access.may_act_on_user(state.store.pool(), user.id).await?;
    let settings = settings::load(&state.store, tenant_id).await?;
    let mut fields = FieldErrors::new();
    let email = body.email.as_deref().map(str::trim);
    if let Some(email) = email
        && let Err(why) = validate_email(email)
    {
        fields.insert("email".into(), why.into());
    }
    if let Some(password) = body.password.as_deref()
        && let Err(why) = validate_password(password, email.unwrap_or(&user.email), &settings)
    {
        fields.insert("password".into(), why.to_string());
    }
    let name = check_name(&mut fields, body.name.as_deref());
    let status = check_status(&mut fields, body.status.as_deref());
    if let (Some(password), false) = (body.password.as_deref(), fields.contains_key("password"))
        && let Err(why) = crate::users::check_password_history(&state, &settings, &user, password).await?
    {
        fields.insert("password".into(), why.to_string());
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }

    let was_active = user.status == UserStatus::Active;
    let newly_verified = body.email_verified == Some(true) && !user.email_verified;
    if let Some(email) = email {
        user.email = email.to_string();
    }
    if body.name.is_some() {
        user.name = name.map(str::to_string);
    }
    if let Some(status) = status {
        user.status = status;
    }
    if let Some(verified) = body.email_verified {
        user.email_verified = verified;
    }
    if let Some(password) = body.password.as_deref() {
        user.password_hash = Some(state.passwords.hash(password).await?);
    }
    let now = Timestamp::now();
    user.updated_at = now;
    let suspended = was_active && user.status == UserStatus::Suspended;

    let mut tx = state.store.begin().await?;
    if body.password.is_some() {
        store::users::archive_password(&mut tx, tenant_id, user.id, now).await?;
    }
    store::users::update_user(&mut *tx, &user).await?;
    // An address the administrator vouches for now: links nobody vouched for go (decision 0015).
    let unlinked = if newly_verified {
        store::federation::delete_unverified_identities(&mut *tx, tenant_id, user.id).await?
    } else {
        0
    };
    if suspended || body.password.is_some() || unlinked > 0 {
        let reason = match (suspended, body.password.is_some()) {
            (true, _) => "user_suspended",
            (false, true) => "password_set_by_admin",
            (false, false) => "identity_unlinked",
        };
        store::sessions::revoke_user_sessions(&mut *tx, tenant_id, user.id, None, reason, now).await?;
    }
    let changed: Vec<&str> = [
        ("email", body.email.is_some()),
        ("name", body.name.is_some()),
        ("status", body.status.is_some()),
        ("email_verified", body.email_verified.is_some()),
        ("password", body.password.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, present)| present.then_some(field))
    .collect();
    let action = if suspended { "user.suspended" } else { "user.updated" };
    let event = AuditEvent::new(access.actor, action, context)
        .in_tenant(tenant_id)
        .target("user", user.id)
        .details(serde_json::json!({ "changed": changed }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Json(UserResponse::from(&user)))
}

/// `DELETE /users/{id}` → 204.
#[utoipa::path(
    delete,
    path = "/users/{id}",
    tag = "users",
    summary = "Deletes a user (the audit trail stays).",
    description = NO_ESCALATION,
    security(("adminKey" = []), ("bearer" = ["users:write"])),
    params(TenantHeaders, ("id" = UserId, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "not_found"),
    )
)]
pub async fn delete_user(
    State(state): State<AppState>,
    access: Manage<UsersWrite>,
    context: RequestContext,
    Path(id): Path<UserId>,
) -> ApiResult<StatusCode> {
    let tenant_id = access.tenant.id;
    access.may_act_on_user(state.store.pool(), id).await?;
    let mut tx = state.store.begin().await?;
    if !store::users::delete_user(&mut *tx, tenant_id, id).await? {
        return Err(ApiError::NotFound("user"));
    }
    let event = AuditEvent::new(access.actor, "user.deleted", context).in_tenant(tenant_id).target("user", id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

fn check_name<'a>(fields: &mut FieldErrors, name: Option<&'a str>) -> Option<&'a str> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 200 || n.chars().any(char::is_control)) {
        fields.insert("name".into(), "must be at most 200 characters, without control characters".into());
    }
    name
}

fn check_status(fields: &mut FieldErrors, status: Option<&str>) -> Option<UserStatus> {
    let status = status?;
    let parsed = UserStatus::parse(status);
    if parsed.is_none() {
        fields.insert("status".into(), "must be active or suspended".into());
    }
    parsed
}
