//! `/identity-providers`: the administration of a tenant's upstream identity providers
//! (`identity_providers:read` / `:write`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::crypto::secretbox;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::federation::PROVIDER_NAME;
use crate::federation::{default_scopes, is_issuer_url};
use crate::http::extract::{Json, Path};
use crate::http::pagination::{Page, Pagination, RawPagination};
use crate::openapi::schema::{NOT_ONLY_WHITESPACE, from_json, nullable, verbatim};
use crate::rbac::{IdentityProvidersRead, IdentityProvidersWrite, Manage};
use crate::store::{self, identity_providers::ProviderRow};
use crate::tenants::TenantHeaders;
use crate::types::Timestamp;

/// The pattern of a scope token (RFC 6749 §3.3): printable ASCII without space, `"` and `\`.
const SCOPE_TOKEN: &str = "^[\\u0021\\u0023-\\u005b\\u005d-\\u007e]+$";

/// What `is_issuer_url` accepts, checked by prefix (an IRI passes).
const ISSUER: &str = "^(https://[^/?#@\\s]+|http://(localhost|127\\.0\\.0\\.1)(:[0-9]+)?)(/[^?#\\s]*)?$";

fn kind_schema() -> Schema {
    from_json(json!({ "type": "string", "enum": ["google", "github", "oidc"] }))
}

fn optional_name_schema() -> Schema {
    nullable(from_json(json!({
        "type": "string",
        "pattern": PROVIDER_NAME,
        "description": "Required on create: the provider's key in sign-in URLs (`/auth/{name}`): lower-case letters, \
                        digits and dashes, not one of ovlt's own `/auth/` paths."
    })))
}

fn optional_link_existing_schema() -> Schema {
    nullable(from_json(json!({
        "type": "string",
        "enum": ["auto", "prompt", "off"],
        "description": "An unknown identity whose verified address belongs to a user: link at once (auto), after \
                        the user signs in with their password (prompt, the default), or refuse (off)."
    })))
}

fn optional_base_url_schema() -> Schema {
    verbatim(json!({
        "anyOf": [
            { "type": "string", "pattern": ISSUER },
            { "const": "", "description": "Clears it." },
            { "type": "null", "description": "As if absent." }
        ],
        "description": "google and github: another base URL than the real one's (an enterprise server, a test \
                        stand-in)."
    }))
}

fn optional_kind_schema() -> Schema {
    nullable(from_json(
        json!({ "type": "string", "enum": ["google", "github", "oidc"], "description": "Required on create." }),
    ))
}

/// `apply` trims the client id and refuses it when nothing is left; the bound is on what was sent.
fn optional_client_id_schema() -> Schema {
    nullable(from_json(json!({
        "type": "string",
        "minLength": 1,
        "maxLength": 512,
        "pattern": NOT_ONLY_WHITESPACE,
        "description": "Required on create; not only white space (it is trimmed)."
    })))
}

fn optional_client_secret_schema() -> Schema {
    nullable(from_json(json!({
        "type": "string",
        "minLength": 1,
        "maxLength": 1024,
        "description": "Sealed; a PUT without it keeps the stored one."
    })))
}

fn optional_issuer_schema() -> Schema {
    verbatim(json!({
        "anyOf": [
            {
                "anyOf": [
                    { "type": "string", "pattern": ISSUER },
                    { "const": "", "description": "Clears it." }
                ],
                "description": "Required for oidc: https (http only for localhost), without query or fragment; not \
                                checked further (an IRI is accepted)."
            },
            { "type": "null", "description": "As if absent." }
        ]
    }))
}

fn optional_scopes_schema() -> Schema {
    nullable(from_json(json!({
        "type": "array",
        "maxItems": 50,
        "items": { "type": "string", "minLength": 1, "maxLength": 100, "pattern": SCOPE_TOKEN }
    })))
}

/// Any subset of a provider's fields; `null` reads as absent.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IdentityProviderRequest)]
pub struct ProviderRequest {
    #[schema(schema_with = optional_name_schema)]
    name: Option<String>,
    #[schema(schema_with = optional_kind_schema)]
    kind: Option<String>,
    #[schema(schema_with = optional_client_id_schema)]
    client_id: Option<String>,
    #[schema(schema_with = optional_client_secret_schema)]
    client_secret: Option<String>,
    #[schema(schema_with = optional_issuer_schema)]
    issuer: Option<String>,
    #[schema(schema_with = optional_scopes_schema)]
    scopes: Option<Vec<String>>,
    enabled: Option<bool>,
    /// Whether the provider's `email_verified` is believed (default: true for google and github).
    trust_email: Option<bool>,
    #[schema(schema_with = optional_link_existing_schema)]
    link_existing: Option<String>,
    /// Whether the provider's own `amr` is believed: its `mfa` then counts as both factors here
    /// (default false: a provider sign-in is one factor).
    trust_amr: Option<bool>,
    /// The button's place on the sign-in page (ascending, then by name).
    #[schema(minimum = -1000, maximum = 1000)]
    position: Option<i64>,
    #[schema(schema_with = optional_base_url_schema)]
    base_url: Option<String>,
}

/// The body of `POST /identity-providers`, for the document: a [`ProviderRequest`] with `name`,
/// `kind` and `client_id`, and `issuer` for `oidc`.
pub struct CreateProviderRequest;

impl PartialSchema for CreateProviderRequest {
    fn schema() -> RefOr<Schema> {
        RefOr::T(verbatim(json!({
            "allOf": [
                { "$ref": format!("#/components/schemas/{}", ProviderRequest::name()) },
                {
                    "type": "object",
                    "required": ["name", "kind", "client_id"],
                    "properties": {
                        "name": { "not": { "type": "null" } },
                        "kind": { "not": { "type": "null" } },
                        "client_id": { "not": { "type": "null" } }
                    },
                    "anyOf": [
                        { "properties": { "kind": { "enum": ["google", "github"] } } },
                        { "required": ["issuer"], "properties": { "issuer": { "type": "string", "minLength": 1 } } }
                    ]
                }
            ]
        })))
    }
}

impl ToSchema for CreateProviderRequest {
    fn name() -> std::borrow::Cow<'static, str> {
        "CreateIdentityProviderRequest".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ProviderRequest::name().into(), ProviderRequest::schema()));
        ProviderRequest::schemas(schemas);
    }
}

/// A provider as the API shows it: the secret only as `has_secret`.
#[derive(Serialize, ToSchema)]
#[schema(as = IdentityProvider)]
pub struct ProviderResponse {
    #[schema(value_type = Uuid)]
    id: String,
    name: String,
    #[schema(schema_with = kind_schema)]
    kind: String,
    client_id: String,
    /// The secret itself is never returned.
    has_secret: bool,
    /// As stored: https (http only for localhost), possibly an IRI.
    #[schema(required)]
    issuer: Option<String>,
    scopes: Vec<String>,
    enabled: bool,
    trust_email: bool,
    #[schema(schema_with = link_existing_schema)]
    link_existing: String,
    trust_amr: bool,
    position: i64,
    #[schema(required)]
    base_url: Option<String>,
    /// The callback to register at the provider.
    redirect_uri: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

fn link_existing_schema() -> Schema {
    from_json(json!({ "type": "string", "enum": ["auto", "prompt", "off"] }))
}

impl ProviderResponse {
    fn new(p: &ProviderRow, issuer: &str) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            kind: p.kind.clone(),
            client_id: p.client_id.clone(),
            has_secret: p.client_secret.is_some(),
            issuer: p.issuer.clone(),
            scopes: p.scopes.clone(),
            enabled: p.enabled,
            trust_email: p.trust_email,
            link_existing: p.link_existing.clone(),
            trust_amr: p.trust_amr,
            position: p.position,
            base_url: p.base_url.clone(),
            redirect_uri: crate::federation::callback_uri(issuer, &p.id),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// `GET /identity-providers`: a page, by name, like every top-level collection.
#[utoipa::path(
    get,
    path = "/identity-providers",
    operation_id = "list_identity_providers",
    tag = "identity-providers",
    summary = "The tenant's upstream identity providers.",
    security(("adminKey" = []), ("bearer" = ["identity_providers:read"])),
    params(TenantHeaders, RawPagination),
    responses((status = 200, description = "A page of providers, by name.", body = Page<ProviderResponse>))
)]
pub async fn list_providers(
    State(state): State<AppState>,
    access: Manage<IdentityProvidersRead>,
    pagination: Pagination,
) -> ApiResult<Json<Page<ProviderResponse>>> {
    let pool = state.store.pool();
    let tenant_id = access.tenant.id;
    let rows =
        store::identity_providers::list_providers(pool, tenant_id, pagination.limit(), pagination.offset()).await?;
    let total = store::identity_providers::count_providers(pool, tenant_id).await?;
    let issuer = &state.config.issuer;
    Ok(Json(Page::new(rows.iter().map(|row| ProviderResponse::new(row, issuer)).collect(), pagination, total)))
}

/// `POST /identity-providers` → 201: `name`, `kind`, `client_id` required; `issuer` for `oidc`.
#[utoipa::path(
    post,
    path = "/identity-providers",
    operation_id = "create_identity_provider",
    tag = "identity-providers",
    summary = "Adds an identity provider.",
    description = "`name`, `kind` and `client_id` are required; `issuer` for oidc.",
    security(("adminKey" = []), ("bearer" = ["identity_providers:write"])),
    params(TenantHeaders),
    request_body = CreateProviderRequest,
    responses(
        (status = 201, description = "The new provider.", body = ProviderResponse),
        (status = 409, description = "conflict"),
    )
)]
pub async fn create_provider(
    State(state): State<AppState>,
    access: Manage<IdentityProvidersWrite>,
    context: RequestContext,
    Json(body): Json<ProviderRequest>,
) -> ApiResult<Response> {
    // A provider decides who may sign in as whom: a tenant administrator's decision.
    access.require_tenant_admin(state.store.pool(), "add an identity provider").await?;
    let now = Timestamp::now();
    let id = Uuid::now_v7().to_string();
    let kind = body.kind.clone().unwrap_or_default();
    let mut row = ProviderRow {
        id: id.clone(),
        name: body.name.clone().unwrap_or_default(),
        scopes: default_scopes(&kind),
        kind,
        client_id: body.client_id.clone().unwrap_or_default(),
        client_secret: None,
        issuer: None,
        enabled: true,
        // Google and GitHub verify addresses; a server at another base URL is not known to.
        trust_email: matches!(body.kind.as_deref(), Some("google" | "github"))
            && body.base_url.as_deref().is_none_or(str::is_empty),
        link_existing: "prompt".into(),
        trust_amr: false,
        position: 0,
        base_url: None,
        created_at: now,
        updated_at: now,
    };
    apply(&state, &mut row, body)?;
    let tenant_id = access.tenant.id;
    let mut tx = state.store.begin().await?;
    store::identity_providers::insert_provider(&mut *tx, tenant_id, &row).await?;
    let event = AuditEvent::new(access.actor, "identity_provider.created", context)
        .in_tenant(tenant_id)
        .target("identity_provider", &id)
        .details(serde_json::json!({ "name": row.name, "kind": row.kind }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(ProviderResponse::new(&row, &state.config.issuer))).into_response())
}

/// `PUT /identity-providers/{id}`: any subset; without `client_secret` the stored one stays.
#[utoipa::path(
    put,
    path = "/identity-providers/{id}",
    operation_id = "update_identity_provider",
    tag = "identity-providers",
    summary = "Changes any subset of a provider.",
    description = "Without client_secret the stored secret stays.",
    security(("adminKey" = []), ("bearer" = ["identity_providers:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The provider's id.")),
    request_body = ProviderRequest,
    responses(
        (status = 200, description = "The provider.", body = ProviderResponse),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn update_provider(
    State(state): State<AppState>,
    access: Manage<IdentityProvidersWrite>,
    context: RequestContext,
    Path(id): Path<Uuid>,
    Json(body): Json<ProviderRequest>,
) -> ApiResult<Json<ProviderResponse>> {
    let tenant_id = access.tenant.id;
    let id = id.to_string();
    access.require_tenant_admin(state.store.pool(), "change an identity provider").await?;
    // Read under the row lock, so a concurrent PUT's changes are not written over.
    let mut tx = state.store.begin().await?;
    if !store::identity_providers::lock_provider(&mut *tx, tenant_id, &id).await? {
        return Err(ApiError::NotFound("identity provider"));
    }
    let mut row = store::identity_providers::find_provider(&mut *tx, tenant_id, &id)
        .await?
        .ok_or(ApiError::NotFound("identity provider"))?;
    let secret_changed = body.client_secret.is_some();
    let before = row.clone();
    apply(&state, &mut row, body)?;
    row.updated_at = Timestamp::now();
    store::identity_providers::update_provider(&mut *tx, tenant_id, &row).await?;
    // Another issuer's subjects name other people: the old links cannot stand.
    let issuer_changed = before.kind != row.kind || before.issuer != row.issuer || before.base_url != row.base_url;
    let unlinked = if issuer_changed {
        store::federation::delete_provider_identities(&mut *tx, tenant_id, &row.id).await?
    } else {
        0
    };
    let event = AuditEvent::new(access.actor, "identity_provider.updated", context)
        .in_tenant(tenant_id)
        .target("identity_provider", &row.id)
        .details(serde_json::json!({
            "changed": changed_fields(&before, &row),
            "secret_changed": secret_changed,
            "identities_unlinked": unlinked,
        }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Json(ProviderResponse::new(&row, &state.config.issuer)))
}

/// `DELETE /identity-providers/{id}` → 204.
#[utoipa::path(
    delete,
    path = "/identity-providers/{id}",
    operation_id = "delete_identity_provider",
    tag = "identity-providers",
    summary = "Removes an identity provider.",
    security(("adminKey" = []), ("bearer" = ["identity_providers:write"])),
    params(TenantHeaders, ("id" = Uuid, Path, description = "The provider's id.")),
    responses(
        (status = 204, description = "Removed, with the identities linked through it."),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict: some users can sign in only through it (disable it instead)"),
    )
)]
pub async fn delete_provider(
    State(state): State<AppState>,
    access: Manage<IdentityProvidersWrite>,
    context: RequestContext,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let tenant_id = access.tenant.id;
    access.require_tenant_admin(state.store.pool(), "remove an identity provider").await?;
    let mut tx = state.store.begin().await?;
    // Its identities go with it: not when that leaves someone no way in.
    let stranded = store::federation::users_only_through(&mut *tx, tenant_id, &id.to_string()).await?;
    if stranded > 0 {
        return Err(ApiError::Conflict(format!(
            "{stranded} user(s) can sign in only through this provider: disable it instead, or give them a password"
        )));
    }
    if !store::identity_providers::delete_provider(&mut *tx, tenant_id, &id.to_string()).await? {
        return Err(ApiError::NotFound("identity provider"));
    }
    let event = AuditEvent::new(access.actor, "identity_provider.deleted", context)
        .in_tenant(tenant_id)
        .target("identity_provider", id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The names of the fields an update changed (the secret is reported apart).
fn changed_fields(before: &ProviderRow, after: &ProviderRow) -> Vec<&'static str> {
    let pairs = [
        ("name", before.name != after.name),
        ("kind", before.kind != after.kind),
        ("client_id", before.client_id != after.client_id),
        ("issuer", before.issuer != after.issuer),
        ("scopes", before.scopes != after.scopes),
        ("enabled", before.enabled != after.enabled),
        ("trust_email", before.trust_email != after.trust_email),
        ("link_existing", before.link_existing != after.link_existing),
        ("trust_amr", before.trust_amr != after.trust_amr),
        ("position", before.position != after.position),
        ("base_url", before.base_url != after.base_url),
    ];
    pairs.into_iter().filter(|(_, changed)| *changed).map(|(name, _)| name).collect()
}

/// Applies the request to the row, validating the result as a whole.
fn apply(state: &AppState, row: &mut ProviderRow, body: ProviderRequest) -> ApiResult<()> {
    if let Some(name) = body.name {
        row.name = name.trim().to_string();
    }
    if let Some(kind) = body.kind {
        row.kind = kind;
    }
    // The bound is on what was sent, in characters, as the document states it.
    let client_id_too_long = body.client_id.as_ref().is_some_and(|id| id.chars().count() > 512);
    if let Some(client_id) = body.client_id {
        row.client_id = client_id.trim().to_string();
    }
    if let Some(issuer) = body.issuer {
        row.issuer = Some(issuer.trim().trim_end_matches('/').to_string()).filter(|i| !i.is_empty());
    }
    if let Some(scopes) = body.scopes {
        row.scopes = scopes;
    }
    if let Some(enabled) = body.enabled {
        row.enabled = enabled;
    }
    if let Some(trust) = body.trust_email {
        row.trust_email = trust;
    }
    if let Some(link) = body.link_existing {
        row.link_existing = link;
    }
    if let Some(trust) = body.trust_amr {
        row.trust_amr = trust;
    }
    if let Some(position) = body.position {
        row.position = position;
    }
    if let Some(base_url) = body.base_url {
        row.base_url = Some(base_url.trim().trim_end_matches('/').to_string()).filter(|u| !u.is_empty());
        // Google's and GitHub's word for an address, not a server elsewhere's, unless said again.
        if row.base_url.is_some() && body.trust_email.is_none() {
            row.trust_email = false;
        }
    }
    let mut fields = FieldErrors::new();
    if let Err(why) = crate::federation::check_name(&row.name) {
        fields.insert("name".into(), why.into());
    }
    if !matches!(row.link_existing.as_str(), "auto" | "prompt" | "off") {
        fields.insert("link_existing".into(), "must be auto, prompt or off".into());
    }
    if !(-1000..=1000).contains(&row.position) {
        fields.insert("position".into(), "must be between -1000 and 1000".into());
    }
    if row.base_url.as_deref().is_some_and(|url| !is_issuer_url(url)) {
        fields.insert("base_url".into(), "must be an https URL (http only for localhost)".into());
    }
    if !matches!(row.kind.as_str(), "google" | "github" | "oidc") {
        fields.insert("kind".into(), "must be google, github or oidc".into());
    }
    if row.client_id.is_empty() || client_id_too_long {
        fields.insert("client_id".into(), "must be 1 to 512 characters".into());
    }
    match (&row.issuer, row.kind.as_str()) {
        (None, "oidc") => _ = fields.insert("issuer".into(), "is required for oidc providers".into()),
        (Some(issuer), _) if !is_issuer_url(issuer) => {
            fields.insert("issuer".into(), "must be an https URL (http only for localhost)".into());
        }
        _ => {}
    }
    let scope_ok = |s: &String| {
        !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    };
    if row.scopes.len() > 50 || !row.scopes.iter().all(scope_ok) {
        fields.insert("scopes".into(), "must be at most 50 scope tokens without spaces".into());
    }
    if let Some(secret) = &body.client_secret
        && (secret.is_empty() || secret.len() > 1024)
    {
        fields.insert("client_secret".into(), "must be 1 to 1024 characters".into());
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    if let Some(secret) = body.client_secret {
        row.client_secret =
            Some(secretbox::seal(&state.master_key, secret.as_bytes(), &format!("idp_secret:{}", row.id)));
    }
    Ok(())
}
