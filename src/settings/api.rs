//! `GET /settings` and `PUT /settings` (settings:read / settings:write): the tenant's writable
//! settings as one flat JSON object. PUT takes any subset (absent keys keep their value), so
//! PUT of a GET answer changes nothing; unknown keys and out-of-range values are 400 with
//! `fields`. A change applies at once on every instance (settings are read where used).

use axum::extract::State;
use serde_json::{Map, Value, json};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::TenantSettings;
use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::Json;
use crate::openapi::schema::verbatim;
use crate::rbac::{Manage, SettingsRead, SettingsWrite};
use crate::store;
use crate::tenants::TenantHeaders;
use crate::types::Timestamp;

const YEAR: i64 = 365 * 86_400;

/// The body of `PUT /settings`, for the document: the properties of [`TenantSettings`], none
/// required, no other.
pub struct SettingsUpdate;

impl PartialSchema for SettingsUpdate {
    fn schema() -> RefOr<Schema> {
        let settings = serde_json::to_value(TenantSettings::schema()).expect("a schema serialises");
        let mut properties = settings["properties"].clone();
        // An absent key keeps the tenant's value: there is no default to state here.
        for property in properties.as_object_mut().expect("properties").values_mut() {
            property.as_object_mut().expect("a property schema").remove("default");
        }
        RefOr::T(verbatim(json!({
            "type": "object",
            "description": "Any subset of the settings; absent keys keep their value, unknown keys are refused.",
            "additionalProperties": false,
            "properties": properties
        })))
    }
}

impl ToSchema for SettingsUpdate {}

/// `GET /settings`.
#[utoipa::path(
    get,
    path = "/settings",
    tag = "settings",
    summary = "The tenant's settings.",
    security(("adminKey" = []), ("bearer" = ["settings:read"])),
    params(TenantHeaders),
    responses((status = 200, description = "The settings.", body = TenantSettings))
)]
pub async fn get_settings(
    State(state): State<AppState>,
    access: Manage<SettingsRead>,
) -> ApiResult<Json<TenantSettings>> {
    Ok(Json(super::load(&state.store, access.tenant.id).await?))
}

/// `PUT /settings`: any subset of the keys `GET` shows.
#[utoipa::path(
    put,
    path = "/settings",
    tag = "settings",
    summary = "Changes any subset of the tenant's settings.",
    description = "PUT of a GET answer changes nothing; unknown keys and out-of-range values are 400 with fields. \
                   Changing reset_url is a tenant admin's (403 forbidden otherwise).",
    security(("adminKey" = []), ("bearer" = ["settings:write"])),
    params(TenantHeaders),
    request_body = SettingsUpdate,
    responses((status = 200, description = "The settings after the change.", body = TenantSettings))
)]
pub async fn put_settings(
    State(state): State<AppState>,
    access: Manage<SettingsWrite>,
    context: RequestContext,
    Json(changes): Json<Map<String, Value>>,
) -> ApiResult<Json<TenantSettings>> {
    let tenant_id = access.tenant.id;
    let current = super::load(&state.store, tenant_id).await?;
    let mut merged = match serde_json::to_value(&current).map_err(ApiError::internal)? {
        Value::Object(map) => map,
        _ => unreachable!("settings serialise to an object"),
    };
    let mut fields = FieldErrors::new();
    for (key, value) in &changes {
        if !merged.contains_key(key) {
            fields.insert(key.clone(), "is not a setting".into());
        } else if let Err(why) = validate(key, value) {
            fields.insert(key.clone(), why);
        } else {
            merged.insert(key.clone(), value.clone());
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    // Reset emails link to `reset_url` with the token: whoever points it elsewhere can collect
    // every reset token, an admin's included.
    if changes.get("reset_url").is_some_and(|url| *url != serde_json::json!(current.reset_url)) {
        access.require_tenant_admin(state.store.pool(), "change reset_url").await?;
    }
    // Sign-in codes from identity providers go to these origins: the same power.
    let origins = serde_json::json!(current.allowed_return_origins);
    if changes.get("allowed_return_origins").is_some_and(|value| *value != origins) {
        access.require_tenant_admin(state.store.pool(), "change allowed_return_origins").await?;
    }
    let updated: TenantSettings = serde_json::from_value(Value::Object(merged)).map_err(ApiError::internal)?;
    let json = serde_json::to_string(&updated).map_err(ApiError::internal)?;

    let mut tx = state.store.begin().await?;
    store::settings::upsert_settings(&mut *tx, tenant_id, &json, Timestamp::now()).await?;
    let changed: Vec<&String> = changes.keys().collect();
    let event = AuditEvent::new(access.actor, "settings.updated", context)
        .in_tenant(tenant_id)
        .target("settings", tenant_id)
        .details(serde_json::json!({ "changed": changed }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Json(updated))
}

fn validate(key: &str, value: &Value) -> Result<(), String> {
    let int = |min: i64, max: i64| match value.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(()),
        _ => Err(format!("must be a whole number from {min} to {max}")),
    };
    let boolean = || if value.is_boolean() { Ok(()) } else { Err("must be true or false".to_string()) };
    match key {
        "display_name" => match value {
            Value::Null => Ok(()),
            Value::String(s) if s.trim().chars().count() <= 200 && !s.chars().any(char::is_control) => Ok(()),
            _ => Err("must be null or a name of at most 200 characters".into()),
        },
        "access_token_ttl_seconds" => int(60, 86_400),
        "refresh_token_ttl_seconds" | "session_idle_timeout_seconds" | "session_max_lifetime_seconds" => int(60, YEAR),
        "refresh_reuse_grace_seconds" => int(0, 60),
        "lockout_threshold" => int(0, 1_000),
        "lockout_window_seconds" => int(1, YEAR),
        "password_min_length" => int(8, 128),
        "password_min_classes" => int(1, 4),
        "password_history" => int(0, 24),
        "self_registration" | "require_verified_email" => boolean(),
        "audit_retention_days" if value.is_null() => Ok(()),
        "audit_retention_days" => int(1, crate::types::settings::MAX_AUDIT_RETENTION_DAYS)
            .map_err(|why| format!("must be null (keep for ever) or {}", why.trim_start_matches("must be "))),
        "mfa_policy" => match value.as_str() {
            Some("off" | "optional" | "required") => Ok(()),
            _ => Err("must be off, optional or required".into()),
        },
        "logo_url" => match value {
            Value::Null => Ok(()),
            Value::String(url) if crate::types::settings::is_logo_url(url) => Ok(()),
            _ => Err("must be null or an https URL of at most 2048 characters".into()),
        },
        "primary_color" => match value {
            Value::Null => Ok(()),
            Value::String(colour) if crate::types::settings::is_colour(colour) => Ok(()),
            _ => Err("must be null or a colour as #rgb or #rrggbb".into()),
        },
        "allowed_return_origins" => match value.as_array() {
            Some(origins)
                if origins.len() <= 20
                    && origins.iter().all(|o| o.as_str().is_some_and(crate::types::settings::is_return_origin)) =>
            {
                Ok(())
            }
            _ => Err("must be at most 20 origins, each https://host[:port] (http only for localhost)".into()),
        },
        "reset_url" => match value {
            Value::Null => Ok(()),
            Value::String(url) if is_reset_url(url) => Ok(()),
            _ => Err("must be null or an https URL (http only for localhost)".into()),
        },
        _ => Err("is not a setting".into()),
    }
}

fn is_reset_url(url: &str) -> bool {
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', ':', '?', '#']).next().unwrap_or_default();
        if !matches!(host, "localhost" | "127.0.0.1") {
            return false;
        }
        rest
    } else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !authority.is_empty() && !authority.contains('@') && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_are_https_urls_and_colours_hex() {
        use crate::types::settings::{is_colour, is_logo_url};
        assert!(is_logo_url("https://cdn.example.com/acme/logo.svg"));
        assert!(!is_logo_url("http://cdn.example.com/logo.png"));
        assert!(!is_logo_url("https://cdn.example.com/a\"onerror=\"x"));
        assert!(!is_logo_url("https://user@cdn.example.com/logo.png"));
        assert!(!is_logo_url("javascript:alert(1)"));
        assert!(is_colour("#2953d6") && is_colour("#FFF"));
        assert!(!is_colour("red") && !is_colour("#12345") && !is_colour("#123;}body{x"));
    }

    #[test]
    fn reset_urls_are_https_or_local_http() {
        assert!(is_reset_url("https://app.example.com/reset"));
        assert!(is_reset_url("http://localhost:5173/reset"));
        assert!(!is_reset_url("http://app.example.com/reset"));
        assert!(!is_reset_url("javascript:alert(1)"));
        assert!(!is_reset_url("https://user@evil.example/"));
    }

    /// The document's `Settings` schema names every setting, and its number bounds are the ones
    /// `PUT /settings` enforces.
    #[test]
    fn the_documented_settings_are_the_validated_ones() {
        let schema = serde_json::to_value(TenantSettings::schema()).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        let settings = serde_json::to_value(TenantSettings::default()).unwrap();
        let keys: Vec<&String> = settings.as_object().unwrap().keys().collect();
        assert_eq!(properties.keys().collect::<Vec<_>>(), keys);
        assert_eq!(schema["required"].as_array().unwrap().len(), keys.len());
        for (key, property) in properties {
            if property["type"] != "integer" {
                continue;
            }
            let (min, max) = (property["minimum"].as_i64().unwrap(), property["maximum"].as_i64().unwrap());
            assert!(validate(key, &json!(min)).is_ok() && validate(key, &json!(max)).is_ok(), "{key}");
            assert!(validate(key, &json!(min - 1)).is_err() && validate(key, &json!(max + 1)).is_err(), "{key}");
        }
    }
}
