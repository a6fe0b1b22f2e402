//! Signing in with an account a person already has (DESIGN §8): a tenant's identity providers —
//! Google, GitHub, or any OpenID provider — their administration (`identity_providers:read` /
//! `:write`), the browser flow through them (`GET /auth/{provider}` and its callback), the
//! one-time code an application trades for tokens, and the rules that link an upstream account
//! to a user ([`linking`], decision 0015). Client secrets are sealed with the master key, never
//! returned (answers say `has_secret`), and a PUT without one keeps the stored secret.

mod api;
mod github;
mod linking;
mod oidc;
pub mod upstream;

pub use api::exchange::{__path_exchange, exchange};
pub use api::identities::{
    __path_list_my_identities, __path_list_user_identities, __path_unlink_my_identity, __path_unlink_user_identity,
    list_my_identities, list_user_identities, unlink_my_identity, unlink_user_identity,
};
pub use api::link::{__path_link_account, link_account};
pub use api::providers::{
    __path_create_provider, __path_delete_provider, __path_list_providers, __path_update_provider, create_provider,
    delete_provider, list_providers, update_provider,
};
pub use api::sign_in::{__path_callback, callback};
pub use api::sign_in::{ProviderButton, buttons};
pub use api::start::{__path_start, start};

use crate::store::identity_providers::ProviderRow;

/// What a sign-in through a provider needs at run time: the HTTP client to upstreams and the
/// discovery documents of the OpenID providers in use.
pub struct Federation {
    pub oidc: oidc::Discovery,
    pub github: github::GitHub,
}

impl Federation {
    /// `private_networks`: whether upstreams may live on private networks or plain http.
    pub fn new(private_networks: bool) -> anyhow::Result<Self> {
        let http = upstream::Upstream::new(private_networks)?;
        Ok(Self { oidc: oidc::Discovery::new(http.clone()), github: github::GitHub::new(http) })
    }
}

/// Why a sign-in through a provider failed: said on the error page (or as `invalid_request`),
/// audited as `reason`, never with the upstream's own words or tokens.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("the identity provider is not configured completely")]
    Misconfigured,
    #[error("the identity provider could not be reached or refused the sign-in")]
    Upstream,
    #[error("{0}")]
    InvalidAnswer(&'static str),
}

impl FederationError {
    /// The audit log's `reason`.
    fn reason(&self) -> &'static str {
        match self {
            Self::Misconfigured => "misconfigured",
            Self::Upstream => "upstream_failed",
            Self::InvalidAnswer(_) => "invalid_answer",
        }
    }
}

/// A provider's name is the last segment of its sign-in URL: lower-case letters, digits and
/// dashes (the same rule as tenant slugs), never the name of one of ovlt's own `/auth/` paths —
/// those of today, and the ones coming sign-in methods will take.
pub const PROVIDER_NAME: &str = "^[a-z0-9][a-z0-9-]{0,62}$";
const RESERVED_NAMES: &[&str] = &[
    "callback",
    "exchange",
    "forgot-password",
    "identities",
    "ldap",
    "link",
    "login",
    "logout",
    "mfa",
    "passkeys",
    "password",
    "refresh",
    "register",
    "reset-password",
    "revoke",
    "saml",
    "verify-otp",
    "webauthn",
];

fn check_name(name: &str) -> Result<(), &'static str> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if !valid {
        return Err("must be 1 to 63 lower-case letters, digits or dashes, not starting with a dash");
    }
    if RESERVED_NAMES.contains(&name) {
        return Err("is one of ovlt's own /auth/ paths");
    }
    Ok(())
}

/// Where a provider sends the browser back: what its administrator registers upstream. It names
/// the provider by id, unique across tenants: a callback can only be for the flow of that very
/// provider, so no tenant's provider can relay another tenant's codes to itself (the IdP mix-up).
pub fn callback_uri(issuer: &str, provider_id: &str) -> String {
    format!("{issuer}/auth/callback/{provider_id}")
}

/// The issuer an OpenID provider's discovery starts from.
fn oidc_issuer(provider: &ProviderRow) -> Option<&str> {
    match provider.kind.as_str() {
        "google" => Some(provider.base_url.as_deref().unwrap_or("https://accounts.google.com")),
        "oidc" => provider.issuer.as_deref(),
        _ => None,
    }
}

fn default_scopes(kind: &str) -> Vec<String> {
    let scopes: &[&str] = match kind {
        "github" => &["read:user", "user:email"],
        _ => &["openid", "email", "profile"],
    };
    scopes.iter().map(|s| s.to_string()).collect()
}

fn is_issuer_url(url: &str) -> bool {
    let rest = match url.strip_prefix("https://") {
        Some(rest) => rest,
        None => match url.strip_prefix("http://") {
            Some(rest) if matches!(rest.split(['/', ':']).next(), Some("localhost" | "127.0.0.1")) => rest,
            _ => return false,
        },
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !host.is_empty() && !host.contains('@') && !url.contains(['?', '#', ' '])
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_are_url_safe_and_leave_ovlts_own_paths_alone() {
        assert!(check_name("corp-sso").is_ok() && check_name("google").is_ok() && check_name("a1").is_ok());
        for refused in ["", "Corp", "corp sso", "-corp", "corp/x", "login", "callback", "exchange", &"a".repeat(64)] {
            assert!(check_name(refused).is_err(), "{refused}");
        }
    }
}
