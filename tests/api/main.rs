//! One integration binary: each module covers one feature, every test runs on SQLite and on
//! PostgreSQL against a real server over a real socket.

mod helpers;

mod access;
mod administration;
mod auth;
mod branding;
mod browser;
mod caches;
mod clients;
mod federation;
mod federation_standins;
mod hardening;
mod http_conventions;
mod hygiene;
mod identity_providers;
mod keys;
mod languages;
mod lifecycle;
mod mail_sink;
mod mfa;
mod oauth;
mod oauth_support;
mod oidc_rp;
mod openapi;
mod operations;
mod oversight;
mod quickstart;
mod recovery;
mod resilience;
mod roles;
mod rolling_restart;
mod sign_up;
mod tenant_resolution;
mod tenants;
