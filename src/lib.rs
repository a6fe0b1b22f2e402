//! ovlt: a self-hosted, multi-tenant identity server.
//!
//! A tour of the code, one module a line. Each feature folder owns its routes and handlers;
//! every SQL statement lives under `store/`.

/// Builds the application from a `Config` and serves it until a shutdown signal.
pub mod app;
/// Audit trail: who changed what, written in the same transaction as the change.
pub mod audit;
/// The command line: `serve`, `migrate`, `config check`, `tenant create`.
pub mod cli;
/// Typed configuration from `OVLT_*` variables (and `.env`), with redacted secrets.
pub mod config;
/// Random tokens, digests and constant-time comparison.
pub mod crypto;
/// `ApiError`: the one way a request fails, and its JSON shape.
pub mod error;
/// `/health` and `/ready`.
pub mod health;
/// Router, middleware layers and extractors shared by every feature.
pub mod http;
/// Every SQL statement: the store layer over SQLite and PostgreSQL.
pub mod store;
/// Logging setup (pretty or JSON).
pub mod telemetry;
/// Tenants: the admin API and the per-request tenant resolution.
pub mod tenants;
/// Shared value types: typed ids and timestamps.
pub mod types;
