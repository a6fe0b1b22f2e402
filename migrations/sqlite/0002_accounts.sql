-- Accounts, sessions and tokens (SQLite). Same tables as migrations/postgres/0002; booleans
-- are INTEGER 0/1 here. See docs/decisions/0001-one-store-over-sqlx-any.md.

-- Signing keys: the private half sealed with the master key (AES-256-GCM), at most one active.
CREATE TABLE signing_keys (
    kid          TEXT   NOT NULL CONSTRAINT signing_keys_pkey PRIMARY KEY,
    algorithm    TEXT   NOT NULL,
    private_key  BLOB   NOT NULL,
    public_jwk   TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    retired_at   BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX signing_keys_status_key ON signing_keys (status) WHERE status = 'active';

-- A tenant's settings as one JSON object; absent keys take their defaults.
CREATE TABLE tenant_settings (
    tenant_id   TEXT   NOT NULL CONSTRAINT tenant_settings_pkey PRIMARY KEY
                       CONSTRAINT tenant_settings_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    settings    TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id                    TEXT    NOT NULL CONSTRAINT users_pkey PRIMARY KEY,
    tenant_id             TEXT    NOT NULL CONSTRAINT users_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    email                 TEXT    NOT NULL,
    email_normalized      TEXT    NOT NULL,
    name                  TEXT,
    password_hash         TEXT,
    email_verified        INTEGER NOT NULL DEFAULT 0,
    status                TEXT    NOT NULL DEFAULT 'active',
    mfa_enabled           INTEGER NOT NULL DEFAULT 0,
    failed_logins         INTEGER NOT NULL DEFAULT 0,
    failed_logins_since   BIGINT,
    last_login_at         BIGINT,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL,
    CONSTRAINT users_tenant_id_email_normalized_key UNIQUE (tenant_id, email_normalized),
    CONSTRAINT users_tenant_id_id_key UNIQUE (tenant_id, id)
);

-- One row per login. Its refresh tokens and access tokens live and die with it.
CREATE TABLE sessions (
    id               TEXT   NOT NULL CONSTRAINT sessions_pkey PRIMARY KEY,
    tenant_id        TEXT   NOT NULL,
    user_id          TEXT   NOT NULL,
    client_id        TEXT,
    ip               TEXT,
    user_agent       TEXT,
    amr              TEXT   NOT NULL,
    auth_time        BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    revoked_at       BIGINT,
    revoked_reason   TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    CONSTRAINT sessions_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_tenant_user_idx ON sessions (tenant_id, user_id);

-- Refresh tokens, stored only as SHA-256 (hex). rotated_at is set when one is exchanged.
CREATE TABLE refresh_tokens (
    id           TEXT   NOT NULL CONSTRAINT refresh_tokens_pkey PRIMARY KEY,
    tenant_id    TEXT   NOT NULL,
    session_id   TEXT   NOT NULL CONSTRAINT refresh_tokens_session_fkey REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash   TEXT   NOT NULL CONSTRAINT refresh_tokens_token_hash_key UNIQUE,
    rotated_at   BIGINT,
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Email verification codes and password reset tokens, stored only as digests.
CREATE TABLE user_codes (
    id           TEXT    NOT NULL CONSTRAINT user_codes_pkey PRIMARY KEY,
    tenant_id    TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    purpose      TEXT    NOT NULL,
    code_hash    TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    expires_at   BIGINT  NOT NULL,
    consumed_at  BIGINT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    CONSTRAINT user_codes_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_codes_user_purpose_idx ON user_codes (tenant_id, user_id, purpose);
CREATE INDEX user_codes_code_hash_idx ON user_codes (code_hash);

-- Access tokens revoked before they expire (by jti), kept until they would have expired.
CREATE TABLE revoked_access_tokens (
    jti          TEXT   NOT NULL CONSTRAINT revoked_access_tokens_pkey PRIMARY KEY,
    tenant_id    TEXT   NOT NULL CONSTRAINT revoked_access_tokens_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

ALTER TABLE audit_log ADD COLUMN user_agent TEXT;
ALTER TABLE audit_log ADD COLUMN outcome TEXT;
