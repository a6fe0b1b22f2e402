-- Upstream identity providers of a tenant (SQLite). Same table as migrations/postgres/0004.
-- The client secret is sealed with the master key (AES-256-GCM) and never returned.

CREATE TABLE identity_providers (
    id             TEXT    NOT NULL CONSTRAINT identity_providers_pkey PRIMARY KEY,
    tenant_id      TEXT    NOT NULL CONSTRAINT identity_providers_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    client_secret  BLOB,
    issuer         TEXT,
    scopes         TEXT    NOT NULL,
    enabled        INTEGER NOT NULL DEFAULT 1,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    CONSTRAINT identity_providers_tenant_id_name_key UNIQUE (tenant_id, name)
);
