//! ovlt: a self-hosted, multi-tenant identity server.
//!
//! A tour of the code, one module a line. Each feature folder owns its routes and handlers;
//! every SQL statement lives under `store/`.

/// Builds the application from a `Config` and serves it until a shutdown signal.
pub mod app;
/// Audit trail: who changed what, written in the same transaction as the change.
pub mod audit;
/// `/auth/*`: register, login, refresh, logout, revoke; the bearer extractor.
pub mod auth;
/// The command line: `serve`, `migrate`, `config check`, `tenant create`.
pub mod cli;
/// OAuth clients of a tenant (administration) and which redirect URIs they may register.
pub mod clients;
/// Keeping the per-instance caches true to the shared database: the polled cache epoch.
pub mod coherence;
/// Typed configuration from `OVLT_*` variables (and `.env`), with redacted secrets.
pub mod config;
/// Random tokens, digests, constant-time comparison, password hashing, sealing secrets.
pub mod crypto;
/// `/.well-known/openid-configuration` and `/.well-known/jwks.json`.
pub mod discovery;
/// `ApiError`: the one way a request fails, and its JSON shape.
pub mod error;
/// Upstream identity providers of a tenant (administration; sign-in through them later).
pub mod federation;
/// `/health` and `/ready`.
pub mod health;
/// Router, middleware layers and extractors shared by every feature.
pub mod http;
/// Signing keys, the JWKS, and signing and verifying tokens.
pub mod keys;
/// Outgoing email through SMTP (logged in development when SMTP is not configured).
pub mod mail;
/// Background upkeep: key reloads, gauges, and the purge of ended rows under a lease.
pub mod maintenance;
/// Second factors: TOTP authenticators, backup codes, the `mfa_token` step of a sign-in.
pub mod mfa;
/// The OAuth 2.0 / OpenID Connect authorization server: `/oauth/*`.
pub mod oauth;
/// `GET /openapi.json`: the API described for clients and tools.
pub mod openapi;
/// Hosted HTML pages (sign-in, consent, logout, errors): templates compiled in.
pub mod pages;
/// Who may manage a tenant: management permissions, the built-in admin role, `Manage<P>`.
pub mod rbac;
/// Session administration: list live sessions, revoke one.
pub mod sessions;
/// Tenant settings (token lifetimes, lockout, password policy, …) with their defaults.
pub mod settings;
/// Every SQL statement: the store layer over SQLite and PostgreSQL.
pub mod store;
/// Logging setup (pretty or JSON).
pub mod telemetry;
/// Tenants: the admin API and the per-request tenant resolution.
pub mod tenants;
/// The token core: builds, signs and verifies every token (access, refresh, client, ID).
pub mod tokens;
/// The bottom layer: typed ids, timestamps, and the records every layer shares.
pub mod types;
/// Users: the model, its representation, email and password rules, `/users/me`.
pub mod users;
