//! Parsing the configuration from a variable lookup.

use super::*;
use std::collections::HashMap;

fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn an_empty_environment_gives_the_development_defaults() {
    let config = parse(&[]).unwrap();
    assert_eq!(config.port, 3000);
    assert_eq!(config.issuer, "http://localhost:3000");
    assert_eq!(config.env, Environment::Development);
    assert_eq!(config.body_limit, 1024 * 1024);
    assert_eq!(config.bootstrap_tenant_slug, "master");
    assert!(config.effective_database_url().starts_with("sqlite://./data/ovlt.db"));
}

#[test]
fn production_requires_both_keys_with_a_one_line_reason() {
    let err = parse(&[("OVLT_ENV", "production")]).unwrap_err().to_string();
    assert!(err.starts_with("OVLT_ADMIN_KEY: required"), "{err}");
    let long_key = "k".repeat(40);
    let err = parse(&[("OVLT_ENV", "production"), ("OVLT_ADMIN_KEY", &long_key)]).unwrap_err().to_string();
    assert!(err.starts_with("OVLT_MASTER_KEY: required"), "{err}");
    assert!(!err.contains('\n'));
}

#[test]
fn production_refuses_a_short_admin_key_and_a_plain_http_issuer() {
    let master = MasterKey::from_bytes([7; 32]).to_base64();
    let short = parse(&[("OVLT_ENV", "production"), ("OVLT_ADMIN_KEY", "short"), ("OVLT_MASTER_KEY", &master)]);
    assert!(short.unwrap_err().to_string().contains("at least 32"));
    let key = "k".repeat(40);
    let base = [("OVLT_ENV", "production"), ("OVLT_ADMIN_KEY", key.as_str()), ("OVLT_MASTER_KEY", master.as_str())];
    let http = parse(&[base[0], base[1], base[2], ("OVLT_ISSUER", "http://id.example.com")]);
    assert!(http.unwrap_err().to_string().contains("https"));
    assert!(parse(&[base[0], base[1], base[2], ("OVLT_ISSUER", "https://id.example.com/")]).is_ok());
}

#[test]
fn master_keys_parse_from_base64_or_hex_and_never_print() {
    let key = MasterKey::from_bytes([0xab; 32]);
    assert_eq!(MasterKey::parse(&key.to_base64()).unwrap(), key);
    assert_eq!(MasterKey::parse(&"ab".repeat(32)).unwrap(), key);
    assert!(MasterKey::parse("c2hvcnQ=").is_err());
    assert_eq!(format!("{key:?}"), "MasterKey(********)");
    assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(********)");
}

#[test]
fn bad_values_name_the_variable() {
    for (name, value) in [
        ("OVLT_PORT", "http"),
        ("OVLT_HOST", "example.com"),
        ("OVLT_ENV", "staging"),
        ("OVLT_LOG_FORMAT", "xml"),
        ("OVLT_BODY_LIMIT", "-1"),
        ("OVLT_CORS_ORIGINS", "https://a.example.com/path"),
        ("DATABASE_URL", "mysql://localhost/x"),
        ("OVLT_BOOTSTRAP_TENANT_SLUG", "Not A Slug"),
        ("OVLT_TENANT_CACHE_TTL_MS", "60000"),
    ] {
        let err = parse(&[(name, value)]).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{name}:")), "{name}={value} gave {err}");
    }
}

#[test]
fn cors_origins_are_a_list_or_any() {
    let config = parse(&[("OVLT_CORS_ORIGINS", "https://a.example.com, http://localhost:5173/")]).unwrap();
    assert_eq!(
        config.cors_origins,
        CorsOrigins::List(vec!["https://a.example.com".into(), "http://localhost:5173".into()])
    );
    assert_eq!(parse(&[("OVLT_CORS_ORIGINS", "*")]).unwrap().cors_origins, CorsOrigins::Any);
}

/// The names in the first column of the README's configuration table (`OVLT_SMTP_HOST`,
/// `_PORT`, … expanded).
fn documented_variables() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let table = readme.split("## Configuration").nth(1).and_then(|rest| rest.split("\n## ").next()).unwrap();
    let mut names = Vec::new();
    for first_column in table.lines().filter_map(|line| line.strip_prefix("| `")?.split(" |").next()) {
        let mut cells = first_column.split(", ").map(|cell| cell.trim_matches('`'));
        let Some(first) = cells.next() else { continue };
        names.push(first.to_string());
        let prefix = first.rsplit_once('_').map_or(first, |(prefix, _)| prefix);
        names.extend(cells.map(|suffix| format!("{prefix}{suffix}")));
    }
    names
}

#[test]
fn every_variable_ovlt_reads_is_in_the_readme_and_every_documented_one_in_env_example() {
    let asked = std::cell::RefCell::new(Vec::new());
    let _ = Config::from_lookup(|name| {
        asked.borrow_mut().push(name.to_string());
        None
    });
    let documented = documented_variables();
    let undocumented: Vec<_> = asked.into_inner().into_iter().filter(|name| !documented.contains(name)).collect();
    assert!(undocumented.is_empty(), "read but not in the README's table: {undocumented:?}");

    let example = include_str!("../../.env.example");
    let listed =
        |name: &str| example.lines().any(|line| line.trim_start_matches("# ").starts_with(&format!("{name}=")));
    let missing: Vec<_> = documented.iter().filter(|name| !listed(name)).collect();
    assert!(missing.is_empty(), "in the README's table but not in .env.example: {missing:?}");
}
