//! OAuth clients of a tenant (seed "Clients"; `clients:read` / `clients:write`).
//!
//! A client's `id` is also its OAuth `client_id`: UUIDv7, so globally unique, which lets an
//! OAuth request that names only the client find its tenant. A confidential client's secret is
//! shown once (at creation, or by `POST /clients/{id}/secret`) and stored as SHA-256; it is a
//! 256-bit random string, so a plain digest is the right store (no password hashing needed).

pub mod redirect_uri;
pub mod roles;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::crypto;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, Path, nullable};
use crate::http::pagination::{Page, Pagination, RawPagination};
use crate::openapi::schema::{display_name, from_json, nullable as nullable_schema};
use crate::rbac::api::described;
use crate::rbac::{ClientsRead, ClientsWrite, Manage};
use crate::store::{self, Tx, clients::ClientRow};
use crate::tenants::{TenantHeaders, TenantId};
use crate::types::OVLT_API_SCOPE;
use crate::types::Timestamp;

/// The scopes every tenant knows; a client may also list scopes of its own (`invoices:read`).
pub const STANDARD_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

fn client_type_schema() -> Schema {
    from_json(json!({ "type": "string", "enum": ["public", "confidential"] }))
}

fn grant_types_schema() -> Schema {
    from_json(json!({ "type": "array", "items": { "type": "string", "enum": GRANT_TYPES } }))
}

fn optional_name_schema() -> Schema {
    nullable_schema(described(
        display_name(100),
        "Required on create: 1 to 100 characters once trimmed, no control characters.",
    ))
}

fn optional_type_schema() -> Schema {
    nullable_schema(described(client_type_schema(), "Default confidential; cannot change later."))
}

fn optional_uris_schema() -> Schema {
    nullable_schema(from_json(json!({
        "type": "array",
        "maxItems": 20,
        "items": { "type": "string", "format": "uri" }
    })))
}

fn optional_grant_types_schema() -> Schema {
    nullable_schema(from_json(json!({
        "type": "array",
        "minItems": 1,
        "items": { "type": "string", "enum": GRANT_TYPES },
        "description": "Default authorization_code and refresh_token. client_credentials only for a confidential \
                        client; authorization_code needs a redirect URI."
    })))
}

fn optional_scopes_schema() -> Schema {
    nullable_schema(from_json(json!({
        "type": "array",
        "maxItems": 50,
        "items": { "type": "string", "minLength": 1, "pattern": "^[\\u0021\\u0023-\\u005b\\u005d-\\u007e]+$" },
        "description": "Scope tokens (RFC 6749 §3.3). `ovlt:api` (tokens for ovlt's own API, asked for by name) \
                        only on a first-party client, set by a tenant admin."
    })))
}

/// A lifetime override: a number sets it, `null` clears it, absent keeps it.
fn ttl_override_schema(maximum: i64) -> Schema {
    from_json(json!({
        "type": ["integer", "null"],
        "minimum": 60,
        "maximum": maximum,
        "description": "Null clears the override."
    }))
}

fn access_ttl_override_schema() -> Schema {
    ttl_override_schema(86_400)
}

fn refresh_ttl_override_schema() -> Schema {
    ttl_override_schema(31_536_000)
}

/// A client's fields: absent ones keep their value on a change, and take their defaults on creation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRequest {
    #[schema(schema_with = optional_name_schema)]
    name: Option<String>,
    #[serde(rename = "type")]
    #[schema(schema_with = optional_type_schema)]
    client_type: Option<String>,
    #[schema(schema_with = optional_uris_schema)]
    redirect_uris: Option<Vec<String>>,
    #[schema(schema_with = optional_uris_schema)]
    post_logout_redirect_uris: Option<Vec<String>>,
    #[schema(schema_with = optional_grant_types_schema)]
    grant_types: Option<Vec<String>>,
    #[schema(schema_with = optional_scopes_schema)]
    scopes: Option<Vec<String>>,
    /// Skips the consent page; only a tenant admin may set it.
    first_party: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = access_ttl_override_schema)]
    access_token_ttl_seconds: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = refresh_ttl_override_schema)]
    refresh_token_ttl_seconds: Option<Option<i64>>,
}

/// `POST /clients`: a [`ClientRequest`] with a name, and grants the client can use. The derive
/// cannot say the latter (it spans fields), hence the schema by hand. utoipa's schema model has
/// no `not` or `contains`, so "not null" reads "a string" and "does not contain X" reads "an
/// array of the other grants": the same, together with `ClientRequest`'s own constraints.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct CreateClientRequest(ClientRequest);

fn create_client_schema() -> serde_json::Value {
    let grants_but = |left_out: &str| {
        let grants: Vec<&str> = GRANT_TYPES.iter().copied().filter(|g| *g != left_out).collect();
        json!({ "type": "array", "items": { "type": "string", "enum": grants } })
    };
    json!({
        "allOf": [
            { "$ref": "#/components/schemas/ClientRequest" },
            { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" } } },
            {
                "description": "authorization_code (a default grant) needs a redirect URI; client_credentials a \
                                confidential client (the default type).",
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["grant_types"],
                        "properties": { "grant_types": grants_but("authorization_code") }
                    },
                    {
                        "type": "object",
                        "required": ["redirect_uris"],
                        "properties": {
                            "redirect_uris": { "type": "array", "items": { "type": "string", "format": "uri" }, "minItems": 1 }
                        }
                    }
                ]
            },
            {
                "anyOf": [
                    { "type": "object", "properties": { "grant_types": { "type": "null" } } },
                    { "type": "object", "properties": { "grant_types": grants_but("client_credentials") } },
                    {
                        "type": "object",
                        "properties": { "type": { "type": ["string", "null"], "enum": ["confidential", null] } }
                    }
                ]
            }
        ]
    })
}

impl utoipa::PartialSchema for CreateClientRequest {
    fn schema() -> RefOr<Schema> {
        RefOr::T(from_json(create_client_schema()))
    }
}

impl ToSchema for CreateClientRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ClientRequest::name().into(), <ClientRequest as utoipa::PartialSchema>::schema()));
        ClientRequest::schemas(schemas);
    }
}

/// A client, as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = Client)]
pub struct ClientResponse {
    #[schema(value_type = Uuid)]
    id: String,
    /// The same as id.
    #[schema(value_type = Uuid)]
    client_id: String,
    name: String,
    #[serde(rename = "type")]
    #[schema(schema_with = client_type_schema)]
    client_type: String,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    #[schema(schema_with = grant_types_schema)]
    grant_types: Vec<String>,
    scopes: Vec<String>,
    /// First-party clients skip the consent page.
    first_party: bool,
    /// Null: the tenant's setting.
    #[schema(required)]
    access_token_ttl_seconds: Option<i64>,
    /// Null: the tenant's setting.
    #[schema(required)]
    refresh_token_ttl_seconds: Option<i64>,
    /// Only in the answer that creates a confidential client: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    client_secret: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<&ClientRow> for ClientResponse {
    fn from(c: &ClientRow) -> Self {
        Self {
            id: c.id.clone(),
            client_id: c.id.clone(),
            name: c.name.clone(),
            client_type: c.client_type.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c.grant_types.clone(),
            scopes: c.scopes.clone(),
            first_party: c.first_party,
            access_token_ttl_seconds: c.access_token_ttl_seconds,
            refresh_token_ttl_seconds: c.refresh_token_ttl_seconds,
            client_secret: None,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = ClientSecret)]
pub struct SecretResponse {
    /// Shown once.
    client_secret: String,
}

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

/// A first-party client skips consent, and may hold `ovlt:api`: creating one, and changing,
/// rotating or deleting one (or making a client one), is a tenant admin's (docs/decisions/0009).
/// Otherwise whoever points its redirect URI elsewhere receives its users' sign-ins unasked.
async fn guard_first_party(
    access: &Manage<ClientsWrite>,
    db: impl sqlx::Executor<'_, Database = sqlx::Any>,
    first_party: bool,
) -> ApiResult<()> {
    if first_party {
        access.require_tenant_admin(db, "manage a first-party client").await?;
    }
    Ok(())
}

/// A live client, read under its row lock in `tx` (so that changes made from it are not lost).
async fn locked_client(tx: &mut Tx, tenant_id: TenantId, id: &str) -> ApiResult<ClientRow> {
    if !store::clients::lock_client(&mut **tx, tenant_id, id).await? {
        return Err(ApiError::NotFound("client"));
    }
    store::clients::find_client(&mut **tx, tenant_id, id).await?.ok_or(ApiError::NotFound("client"))
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

/// A scope token (RFC 6749 §3.3: printable ASCII, no space, quote or backslash).
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty() && scope.len() <= 100 && scope.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// utoipa's schema model drops what it cannot hold (`not`, `contains`, an array without
    /// `items` …) without a word: the hand-written schema must come through whole.
    #[test]
    fn the_create_schema_survives_utoipa() {
        let written = create_client_schema();
        assert_eq!(serde_json::to_value(from_json(written.clone())).unwrap(), written);
    }
}
