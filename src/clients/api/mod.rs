//! `/clients`: the administration of a tenant's OAuth clients (`clients:read` /
//! `clients:write`, in `clients.rs`) and of the roles granted to them (`roles.rs`). Here: the
//! request and answer bodies the client endpoints share, with their schemas.

pub(super) mod clients;
pub(super) mod roles;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

use super::GRANT_TYPES;
use crate::http::extract::nullable;
use crate::openapi::schema::{display_name, from_json, nullable as nullable_schema};
use crate::rbac::api::described;
use crate::store::clients::ClientRow;
use crate::types::Timestamp;

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
