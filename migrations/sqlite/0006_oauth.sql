-- The OAuth 2.0 / OpenID Connect authorization server (SQLite). Same tables as
-- migrations/postgres/0006. See docs/decisions/0006-authorization-server.md.

-- OAuth clients. `id` is also the OAuth client_id (globally unique). A confidential client's
-- secret is stored only as SHA-256 (hex). Deleting a client deactivates it (deleted_at): its
-- row stays for the audit trail and the sessions that name it.
CREATE TABLE clients (
    id                          TEXT    NOT NULL CONSTRAINT clients_pkey PRIMARY KEY,
    tenant_id                   TEXT    NOT NULL CONSTRAINT clients_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    name                        TEXT    NOT NULL,
    client_type                 TEXT    NOT NULL,
    secret_hash                 TEXT,
    redirect_uris               TEXT    NOT NULL,
    post_logout_redirect_uris   TEXT    NOT NULL,
    grant_types                 TEXT    NOT NULL,
    scopes                      TEXT    NOT NULL,
    first_party                 INTEGER NOT NULL DEFAULT 0,
    access_token_ttl_seconds    BIGINT,
    refresh_token_ttl_seconds   BIGINT,
    deleted_at                  BIGINT,
    created_at                  BIGINT  NOT NULL,
    updated_at                  BIGINT  NOT NULL,
    CONSTRAINT clients_tenant_id_id_key UNIQUE (tenant_id, id)
);

-- Roles granted to a client: they go into its client_credentials tokens.
CREATE TABLE client_roles (
    tenant_id    TEXT   NOT NULL,
    client_id    TEXT   NOT NULL,
    role_id      TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT client_roles_pkey PRIMARY KEY (tenant_id, client_id, role_id),
    CONSTRAINT client_roles_client_fkey FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT client_roles_role_fkey FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
);

-- Authorization codes (RFC 6749 §4.1), stored only as SHA-256 (hex), single use. A code
-- remembers the session its exchange created, so that a replay can end it.
CREATE TABLE authorization_codes (
    code_hash               TEXT   NOT NULL CONSTRAINT authorization_codes_pkey PRIMARY KEY,
    tenant_id               TEXT   NOT NULL CONSTRAINT authorization_codes_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    client_id               TEXT   NOT NULL,
    sso_session_id          TEXT   NOT NULL CONSTRAINT authorization_codes_session_fkey REFERENCES sessions (id) ON DELETE CASCADE,
    redirect_uri            TEXT   NOT NULL,
    scope                   TEXT   NOT NULL,
    nonce                   TEXT,
    code_challenge          TEXT,
    issued_session_id       TEXT,
    expires_at              BIGINT NOT NULL,
    consumed_at             BIGINT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);

-- Consent a user gave a client: the scopes granted, remembered until revoked.
CREATE TABLE consents (
    tenant_id    TEXT   NOT NULL,
    user_id      TEXT   NOT NULL,
    client_id    TEXT   NOT NULL,
    scope        TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT consents_pkey PRIMARY KEY (tenant_id, user_id, client_id),
    CONSTRAINT consents_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT consents_client_fkey FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);

-- Sessions learn their granted scope, the browser (SSO) session a client session came from,
-- and, for SSO sessions, the digest of the browser cookie that names them.
ALTER TABLE sessions ADD COLUMN scope TEXT;
ALTER TABLE sessions ADD COLUMN sso_session_id TEXT;
ALTER TABLE sessions ADD COLUMN browser_token_hash TEXT;
CREATE UNIQUE INDEX sessions_browser_token_hash_key ON sessions (browser_token_hash);
CREATE INDEX sessions_sso_session_idx ON sessions (sso_session_id);
