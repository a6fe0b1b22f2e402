-- Foundation schema (PostgreSQL). Same tables as migrations/sqlite/0001: TEXT UUIDv7 ids and
-- BIGINT Unix-second times because the Any driver cannot read UUID or TIMESTAMPTZ columns;
-- see docs/decisions/0001-one-store-over-sqlx-any.md.

CREATE TABLE tenants (
    id          TEXT    NOT NULL CONSTRAINT tenants_pkey PRIMARY KEY,
    slug        TEXT    NOT NULL CONSTRAINT tenants_slug_key UNIQUE,
    name        TEXT    NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE TABLE system_state (
    key         TEXT   NOT NULL CONSTRAINT system_state_pkey PRIMARY KEY,
    value       TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id           TEXT   NOT NULL CONSTRAINT audit_log_pkey PRIMARY KEY,
    tenant_id    TEXT   CONSTRAINT audit_log_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    actor_type   TEXT   NOT NULL,
    actor_id     TEXT,
    action       TEXT   NOT NULL,
    target_type  TEXT,
    target_id    TEXT,
    ip           TEXT,
    request_id   TEXT,
    details      TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX audit_log_tenant_created_idx ON audit_log (tenant_id, created_at DESC, id DESC);
