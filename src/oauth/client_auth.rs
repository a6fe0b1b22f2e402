//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3.1): `client_secret_basic` or `client_secret_post` for confidential clients, the bare
//! `client_id` for public ones. One method per request.

use std::time::Instant;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use super::OAuthError;
use super::params::Params;
use crate::app::AppState;
use crate::crypto;
use crate::error::ApiError;
use crate::settings::{self, TenantSettings};
use crate::store::{self, clients::ClientRow};
use crate::tenants::{self, Tenant, TenantKey};

/// A client that proved who it is, with its (enabled) tenant.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub client: ClientRow,
    pub tenant: Tenant,
    /// The tenant's settings, when read with the client (see [`Lookup`]).
    pub settings: Option<TenantSettings>,
    /// Whether any role is granted to the client (else its tokens carry none: no query).
    pub has_roles: bool,
    /// The client's role and permission names, when read with it (a cached lookup reads them).
    pub grants: Option<(Vec<String>, Vec<String>)>,
}

/// How much a client lookup reads: the token endpoint and the hosted pages need the tenant's
/// settings and the client's role presence; introspection, revocation and logout do not. A
/// lookup whose answer will be cached reads everything, whatever it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    WithSettings,
    ClientOnly,
}

impl AuthenticatedClient {
    /// The tenant's settings; an error if the lookup did not read them (a programming slip).
    pub fn settings(&self) -> Result<&TenantSettings, ApiError> {
        self.settings.as_ref().ok_or_else(|| ApiError::internal(anyhow::anyhow!("client looked up without settings")))
    }
}

/// Authenticates the client of a request. Every failure — unknown client, wrong or missing
/// secret, a secret sent by a public client, a disabled tenant — is the same `invalid_client`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    lookup: Lookup,
) -> Result<AuthenticatedClient, OAuthError> {
    let (client_id, secret) = match basic_credentials(headers)? {
        Some((id, secret)) => {
            if params.get("client_secret").is_some() || params.get("client_id").is_some_and(|p| p != id) {
                return Err(OAuthError::invalid_request("use one client authentication method"));
            }
            (id, Some(secret))
        }
        None => {
            let id = params.get("client_id").ok_or_else(OAuthError::invalid_client)?;
            (id.to_string(), params.get("client_secret").map(str::to_string))
        }
    };
    let client = find_live_client(state, &client_id, lookup).await?.ok_or_else(OAuthError::invalid_client)?;
    let proven = match (&client.client.secret_hash, secret) {
        (Some(expected), Some(secret)) if client.client.is_confidential() => {
            bool::from(crypto::sha256_hex(&secret).as_bytes().ct_eq(expected.as_bytes()))
        }
        (None, None) => !client.client.is_confidential(),
        _ => false,
    };
    if !proven {
        return Err(OAuthError::invalid_client());
    }
    Ok(client)
}

/// A live client by `client_id` and its tenant, when that tenant is enabled: from this
/// instance's cache when it holds the client, else from the database (and then cached).
pub async fn find_live_client(
    state: &AppState,
    client_id: &str,
    lookup: Lookup,
) -> Result<Option<AuthenticatedClient>, ApiError> {
    if uuid::Uuid::parse_str(client_id).is_err() {
        return Ok(None);
    }
    let now = Instant::now();
    if let Some(cached) = state.clients.client(client_id, now) {
        return Ok(Some(cached));
    }
    let read_at = state.clients.generation();
    let caching = state.clients.in_use(now);
    let with_settings = caching || lookup == Lookup::WithSettings;
    let pool = state.store.pool();
    let found = store::clients::find_client_by_client_id(pool, client_id, with_settings).await?;
    let Some((client, settings_json, has_roles)) = found else { return Ok(None) };
    let tenant = tenants::find_tenant(state, &TenantKey::Id(client.tenant_id)).await?;
    let Some(tenant) = tenant.filter(|t| t.active) else { return Ok(None) };
    let settings = with_settings.then(|| settings::parse(tenant.id, settings_json.as_deref())).transpose()?;
    let grants = match caching && has_roles {
        true => Some(store::clients::client_grants(pool, tenant.id, &client.id).await?),
        false => None,
    };
    let found = AuthenticatedClient { client, tenant, settings, has_roles, grants };
    if caching {
        state.clients.insert_client(&found, read_at, now);
    }
    Ok(Some(found))
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))`, if present.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
    let Some((scheme, encoded)) = value.split_once(' ') else { return Err(OAuthError::invalid_client()) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| OAuthError::invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(OAuthError::invalid_client)?;
    let unescape = |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    match (unescape(id), unescape(secret)) {
        (Some(id), Some(secret)) if !id.is_empty() => Ok(Some((id, secret))),
        _ => Err(OAuthError::invalid_client()),
    }
}
