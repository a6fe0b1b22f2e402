//! `/clients` and `/clients/{id}/secret`: a tenant's OAuth clients.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::{ClientRequest, ClientResponse, CreateClientRequest, SecretResponse};
use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::clients::{GRANT_TYPES, STANDARD_SCOPES, guard_first_party, is_scope_token, locked_client, redirect_uri};
use crate::crypto;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, Path};
use crate::http::pagination::{Page, Pagination, RawPagination};
use crate::rbac::{ClientsRead, ClientsWrite, Manage};
use crate::store::{self, clients::ClientRow};
use crate::tenants::TenantHeaders;
use crate::types::OVLT_API_SCOPE;
use crate::types::Timestamp;

/// Marking a client first_party, giving it `ovlt:api`, and changing, rotating or deleting a
/// client that holds it are a tenant admin's (docs/decisions/0009): the start of the
/// descriptions of the writes.
macro_rules! admin_clients {
    () => {
        "Marking a client first_party, giving it the ovlt:api scope, and changing, rotating or deleting a client \
         that holds it are a tenant admin's (403 forbidden otherwise)."
    };
}

/// `GET /clients`.
#[utoipa::path(
    get,
    path = "/clients",
    tag = "clients",
    summary = "The tenant's OAuth clients.",
    security(("adminKey" = []), ("bearer" = ["clients:read"])),
    params(TenantHeaders, RawPagination),
    responses((status = 200, description = "A page of clients.", body = Page<ClientResponse>))
)]
pub async fn list_clients(
    State(state): State<AppState>,
    access: Manage<ClientsRead>,
    pagination: Pagination,
) -> ApiResult<Json<Page<ClientResponse>>> {
    let pool = state.store.pool();
    let tenant_id = access.tenant.id;
    let rows = store::clients::list_clients(pool, tenant_id, pagination.limit(), pagination.offset()).await?;
    let total = store::clients::count_clients(pool, tenant_id).await?;
    Ok(Json(Page::new(rows.iter().map(ClientResponse::from).collect(), pagination, total)))
}

/// `GET /clients/{id}`.
#[utoipa::path(
    get,
    path = "/clients/{id}",
    tag = "clients",
    summary = "One client.",
    security(("adminKey" = []), ("bearer" = ["clients:read"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The client's id.")),
    responses((status = 200, description = "The client.", body = ClientResponse), (status = 404, description = "not_found"))
)]
pub async fn get_client(
    State(state): State<AppState>,
    access: Manage<ClientsRead>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ClientResponse>> {
    let row = store::clients::find_client(state.store.pool(), access.tenant.id, &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("client"))?;
    Ok(Json(ClientResponse::from(&row)))
}

/// `POST /clients` → 201 with `client_secret` (confidential clients; shown this once).
#[utoipa::path(
    post,
    path = "/clients",
    tag = "clients",
    summary = "Creates an OAuth client.",
    description = concat!(admin_clients!(), "\n\nA confidential client's client_secret is in this answer only."),
    security(("adminKey" = []), ("bearer" = ["clients:write"])),
    params(TenantHeaders),
    request_body = CreateClientRequest,
    responses((status = 201, description = "The new client, with client_secret when confidential.", body = ClientResponse))
)]
pub async fn create_client(
    State(state): State<AppState>,
    access: Manage<ClientsWrite>,
    context: RequestContext,
    Json(CreateClientRequest(body)): Json<CreateClientRequest>,
) -> ApiResult<Response> {
    let now = Timestamp::now();
    let client_type = body.client_type.clone().unwrap_or_else(|| "confidential".into());
    let confidential = client_type == "confidential";
    let default_grants: &[&str] = if confidential { GRANT_TYPES } else { &GRANT_TYPES[..2] };
    let mut row = ClientRow {
        id: Uuid::now_v7().to_string(),
        tenant_id: access.tenant.id,
        name: String::new(),
        client_type,
        secret_hash: None,
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        grant_types: default_grants.iter().map(|g| g.to_string()).collect(),
        scopes: STANDARD_SCOPES.iter().map(|s| s.to_string()).collect(),
        first_party: false,
        access_token_ttl_seconds: None,
        refresh_token_ttl_seconds: None,
        created_at: now,
        updated_at: now,
    };
    apply(&state, &mut row, body, true)?;
    guard_first_party(&access, state.store.pool(), row.first_party).await?;
    let secret = confidential.then(crypto::random_token);
    row.secret_hash = secret.as_deref().map(crypto::sha256_hex);
    let mut tx = state.store.begin().await?;
    store::clients::insert_client(&mut *tx, &row).await?;
    let event = AuditEvent::new(access.actor, "client.created", context)
        .in_tenant(row.tenant_id)
        .target("client", &row.id)
        .details(serde_json::json!({ "name": row.name, "type": row.client_type }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    let mut response = ClientResponse::from(&row);
    response.client_secret = secret;
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

/// `PUT /clients/{id}`: any subset of the fields (`type` cannot change).
#[utoipa::path(
    put,
    path = "/clients/{id}",
    tag = "clients",
    summary = "Changes any subset of a client's fields (not its type).",
    description = admin_clients!(),
    security(("adminKey" = []), ("bearer" = ["clients:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The client's id.")),
    request_body = ClientRequest,
    responses((status = 200, description = "The client.", body = ClientResponse), (status = 404, description = "not_found"))
)]
pub async fn update_client(
    State(state): State<AppState>,
    access: Manage<ClientsWrite>,
    context: RequestContext,
    Path(id): Path<Uuid>,
    Json(body): Json<ClientRequest>,
) -> ApiResult<Json<ClientResponse>> {
    let tenant_id = access.tenant.id;
    let mut tx = state.store.begin().await?;
    let mut row = locked_client(&mut tx, tenant_id, &id.to_string()).await?;
    let was_first_party = row.first_party;
    apply(&state, &mut row, body, false)?;
    guard_first_party(&access, &mut *tx, was_first_party || row.first_party).await?;
    row.updated_at = Timestamp::now();
    store::clients::update_client(&mut *tx, &row).await?;
    let event = AuditEvent::new(access.actor, "client.updated", context).in_tenant(tenant_id).target("client", &row.id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Json(ClientResponse::from(&row)))
}

/// `DELETE /clients/{id}` → 204: the client is deactivated and every session issued to it ends.
#[utoipa::path(
    delete,
    path = "/clients/{id}",
    tag = "clients",
    summary = "Deactivates a client; every session issued to it ends.",
    description = admin_clients!(),
    security(("adminKey" = []), ("bearer" = ["clients:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The client's id.")),
    responses((status = 204, description = "Deactivated."), (status = 404, description = "not_found"))
)]
pub async fn delete_client(
    State(state): State<AppState>,
    access: Manage<ClientsWrite>,
    context: RequestContext,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let tenant_id = access.tenant.id;
    let id = id.to_string();
    let mut tx = state.store.begin().await?;
    let row = locked_client(&mut tx, tenant_id, &id).await?;
    guard_first_party(&access, &mut *tx, row.first_party).await?;
    if !store::clients::deactivate_client(&mut tx, tenant_id, &id, Timestamp::now()).await? {
        return Err(ApiError::NotFound("client"));
    }
    let event = AuditEvent::new(access.actor, "client.deleted", context).in_tenant(tenant_id).target("client", &id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /clients/{id}/secret` → `{client_secret}`, shown once; the old secret stops working.
#[utoipa::path(
    post,
    path = "/clients/{id}/secret",
    operation_id = "rotate_client_secret",
    tag = "clients",
    summary = "Rotates a confidential client's secret.",
    description = concat!(
        admin_clients!(),
        "\n\nThe new secret is shown once; the old one stops working. A public client has none (400)."
    ),
    security(("adminKey" = []), ("bearer" = ["clients:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The client's id.")),
    responses((status = 200, description = "The new secret.", body = SecretResponse), (status = 404, description = "not_found"))
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    access: Manage<ClientsWrite>,
    context: RequestContext,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SecretResponse>> {
    let tenant_id = access.tenant.id;
    let mut tx = state.store.begin().await?;
    let mut row = locked_client(&mut tx, tenant_id, &id.to_string()).await?;
    guard_first_party(&access, &mut *tx, row.first_party).await?;
    if !row.is_confidential() {
        return Err(ApiError::invalid_payload("a public client has no secret"));
    }
    let secret = crypto::random_token();
    row.secret_hash = Some(crypto::sha256_hex(&secret));
    row.updated_at = Timestamp::now();
    store::clients::update_client(&mut *tx, &row).await?;
    let event =
        AuditEvent::new(access.actor, "client.secret_rotated", context).in_tenant(tenant_id).target("client", &row.id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Json(SecretResponse { client_secret: secret }))
}

/// Applies the request to the row and validates the result as a whole.
fn apply(state: &AppState, row: &mut ClientRow, body: ClientRequest, creating: bool) -> ApiResult<()> {
    let mut fields = FieldErrors::new();
    if let Some(name) = body.name {
        row.name = name.trim().to_string();
    }
    if let Some(client_type) = body.client_type
        && client_type != row.client_type
    {
        let why = if creating { "must be public or confidential" } else { "cannot change; create a new client" };
        fields.insert("type".into(), why.into());
    }
    if !matches!(row.client_type.as_str(), "public" | "confidential") {
        fields.insert("type".into(), "must be public or confidential".into());
    }
    let development = !state.config.is_production();
    for (field, list, value) in [
        ("redirect_uris", &mut row.redirect_uris, body.redirect_uris),
        ("post_logout_redirect_uris", &mut row.post_logout_redirect_uris, body.post_logout_redirect_uris),
    ] {
        let Some(value) = value else { continue };
        if value.len() > 20 || !value.iter().all(|uri| redirect_uri::is_registrable(uri, development)) {
            let why = "must be at most 20 absolute URLs without fragment: https, or http for loopback hosts";
            fields.insert(field.into(), why.into());
        }
        *list = value;
    }
    if let Some(grant_types) = body.grant_types {
        row.grant_types = grant_types;
    }
    if row.grant_types.is_empty() || !row.grant_types.iter().all(|g| GRANT_TYPES.contains(&g.as_str())) {
        fields.insert("grant_types".into(), "must name authorization_code, refresh_token or client_credentials".into());
    } else if !row.is_confidential() && row.allows_grant("client_credentials") {
        fields.insert("grant_types".into(), "client_credentials needs a confidential client".into());
    }
    if row.allows_grant("authorization_code") && row.redirect_uris.is_empty() {
        fields.insert("redirect_uris".into(), "authorization_code needs at least one redirect URI".into());
    }
    if let Some(scopes) = body.scopes {
        row.scopes = scopes;
    }
    if row.scopes.len() > 50 || !row.scopes.iter().all(|s| is_scope_token(s)) {
        fields.insert("scopes".into(), "must be at most 50 scope tokens without spaces".into());
    }
    if let Some(first_party) = body.first_party {
        row.first_party = first_party;
    }
    if row.allows_scope(OVLT_API_SCOPE) && !row.first_party {
        fields.insert("scopes".into(), format!("{OVLT_API_SCOPE} is for first-party clients only"));
    }
    if let Some(ttl) = body.access_token_ttl_seconds {
        row.access_token_ttl_seconds = ttl;
    }
    if row.access_token_ttl_seconds.is_some_and(|t| !(60..=86_400).contains(&t)) {
        fields.insert("access_token_ttl_seconds".into(), "must be null or 60 to 86400".into());
    }
    if let Some(ttl) = body.refresh_token_ttl_seconds {
        row.refresh_token_ttl_seconds = ttl;
    }
    if row.refresh_token_ttl_seconds.is_some_and(|t| !(60..=365 * 86_400).contains(&t)) {
        fields.insert("refresh_token_ttl_seconds".into(), "must be null or 60 to 31536000".into());
    }
    if row.name.is_empty() || row.name.chars().count() > 100 || row.name.chars().any(char::is_control) {
        fields.insert("name".into(), "must be 1 to 100 characters".into());
    }
    if fields.is_empty() { Ok(()) } else { Err(ApiError::validation(fields)) }
}
