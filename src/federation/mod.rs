//! Upstream identity providers of a tenant (seed "Identity providers"): Google, GitHub or any
//! OpenID provider. This is their administration (`identity_providers:read` / `:write`); signing
//! in through them comes later. Client secrets are sealed with the master key, never returned
//! (answers say `has_secret`), and a PUT without one keeps the stored secret.

mod api;

pub use api::{
    __path_create_provider, __path_delete_provider, __path_list_providers, __path_update_provider, create_provider,
    delete_provider, list_providers, update_provider,
};

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
