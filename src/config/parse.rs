//! Parsing one variable (or one pair) of the configuration; the error names the variable.

use std::fmt;
use std::net::IpAddr;

use super::{ConfigError, CorsOrigins, Environment, MIN_PRODUCTION_ADMIN_KEY_LEN, MasterKey, Secret};

/// `OVLT_ADMIN_KEY` and `OVLT_MASTER_KEY`: optional in development (generated on first start),
/// required in production, where the admin key must also be long.
pub(super) fn parse_operator_keys(
    var: &dyn Fn(&str) -> Option<String>,
    env: Environment,
) -> Result<(Option<Secret>, Option<MasterKey>), ConfigError> {
    let admin_key = var("OVLT_ADMIN_KEY").map(Secret::new);
    let master_key = match var("OVLT_MASTER_KEY") {
        None => None,
        Some(v) => Some(MasterKey::parse(&v).map_err(|why| invalid("OVLT_MASTER_KEY", &why))?),
    };
    if env == Environment::Production {
        match &admin_key {
            None => {
                return Err(invalid("OVLT_ADMIN_KEY", "required when OVLT_ENV=production"));
            }
            Some(k) if k.expose().len() < MIN_PRODUCTION_ADMIN_KEY_LEN => {
                return Err(invalid(
                    "OVLT_ADMIN_KEY",
                    &format!("must be at least {MIN_PRODUCTION_ADMIN_KEY_LEN} characters in production"),
                ));
            }
            Some(_) => {}
        }
        if master_key.is_none() {
            return Err(invalid(
                "OVLT_MASTER_KEY",
                "required when OVLT_ENV=production (32 random bytes, base64: openssl rand -base64 32)",
            ));
        }
    }
    Ok((admin_key, master_key))
}

/// `true`/`false` (or `1`/`0`, `yes`/`no`), `default` when unset.
pub(super) fn parse_bool(name: &str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match value.map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(invalid(name, &format!("expected true or false, got {other:?}"))),
    }
}

/// Comma-separated IPs or CIDRs.
pub(super) fn parse_trusted_proxies(value: Option<String>) -> Result<Vec<ipnet::IpNet>, String> {
    let entries = value.unwrap_or_default();
    entries
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("expected IPs or CIDRs, got {entry:?}"))
        })
        .collect()
}

/// `OVLT_BOOTSTRAP_ADMIN_EMAIL` and `_PASSWORD`: both or neither, valid by the default policy.
pub(super) fn parse_bootstrap_admin(
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, Secret)>, ConfigError> {
    let admin = match (var("OVLT_BOOTSTRAP_ADMIN_EMAIL"), var("OVLT_BOOTSTRAP_ADMIN_PASSWORD")) {
        (None, None) => None,
        (Some(email), Some(password)) => {
            crate::users::validate_email(&email).map_err(|why| invalid("OVLT_BOOTSTRAP_ADMIN_EMAIL", why))?;
            crate::users::validate_password(&password, &email, &crate::settings::TenantSettings::default())
                .map_err(|why| invalid("OVLT_BOOTSTRAP_ADMIN_PASSWORD", &why.to_string()))?;
            Some((email, Secret::new(password)))
        }
        (Some(_), None) => {
            return Err(invalid("OVLT_BOOTSTRAP_ADMIN_PASSWORD", "required with OVLT_BOOTSTRAP_ADMIN_EMAIL"));
        }
        (None, Some(_)) => {
            return Err(invalid("OVLT_BOOTSTRAP_ADMIN_EMAIL", "required with OVLT_BOOTSTRAP_ADMIN_PASSWORD"));
        }
    };
    Ok(admin)
}

/// The error for a variable with a bad value.
pub(super) fn invalid(name: &str, why: &str) -> ConfigError {
    ConfigError(format!("{name}: {why}"))
}

pub(super) fn io_kind(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::Io(io) => io.kind().to_string(),
        _ => "invalid file".into(),
    }
}

pub(super) fn parse_number<T>(
    name: &str,
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(text) = value else {
        return Ok(default);
    };
    match text.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError(format!(
            "{name}: expected a whole number from {} to {}, got {text:?}",
            range.start(),
            range.end()
        ))),
    }
}

/// The issuer is an absolute http(s) URL without query, fragment or trailing slash. Production
/// requires https, except on loopback (a local trial of the production mode).
pub(super) fn validate_issuer(issuer: &str, env: Environment) -> Result<String, String> {
    let issuer = issuer.trim_end_matches('/');
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or_else(|| format!("expected an http(s) URL, got {issuer:?}"))?;
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    if host.is_empty() || issuer.contains(['?', '#', ' ']) {
        return Err(format!("expected a URL like https://id.example.com, got {issuer:?}"));
    }
    let loopback = matches!(host, "localhost" | "127.0.0.1") || rest.starts_with("[::1]");
    if env == Environment::Production && issuer.starts_with("http://") && !loopback {
        return Err("must use https:// in production".into());
    }
    Ok(issuer.to_string())
}

pub(super) fn parse_cors_origins(value: Option<String>) -> Result<CorsOrigins, String> {
    let Some(value) = value else {
        return Ok(CorsOrigins::None);
    };
    if value == "*" {
        return Ok(CorsOrigins::Any);
    }
    let mut origins = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let origin = origin.trim_end_matches('/');
        let valid_scheme = origin.starts_with("https://") || origin.starts_with("http://");
        let has_path = origin.splitn(4, '/').nth(3).is_some();
        if !valid_scheme || has_path || origin.contains(['*', ' ']) {
            return Err(format!("expected origins like https://app.example.com, got {origin:?}"));
        }
        origins.push(origin.to_string());
    }
    Ok(if origins.is_empty() { CorsOrigins::None } else { CorsOrigins::List(origins) })
}
