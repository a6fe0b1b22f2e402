-- Second factors (sqlite). Same tables as migrations/postgres/0007.

-- A user's TOTP authenticator (RFC 6238). The secret is sealed with the master key (associated
-- data `totp:<tenant>:<user>`). confirmed_at NULL: enrolment started, not yet confirmed with a
-- code. last_step: the time step of the last accepted code; a code is accepted only for a later
-- step, so none is accepted twice (RFC 6238 §5.2).
CREATE TABLE mfa_totp (
    tenant_id     TEXT   NOT NULL,
    user_id       TEXT   NOT NULL,
    secret        BLOB  NOT NULL,
    confirmed_at  BIGINT,
    last_step     BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT mfa_totp_pkey PRIMARY KEY (tenant_id, user_id),
    CONSTRAINT mfa_totp_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Single-use backup codes, stored as HMAC-SHA256 under a key derived from the master key.
CREATE TABLE mfa_backup_codes (
    tenant_id   TEXT   NOT NULL,
    user_id     TEXT   NOT NULL,
    code_hash   TEXT   NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL,
    CONSTRAINT mfa_backup_codes_pkey PRIMARY KEY (tenant_id, user_id, code_hash),
    CONSTRAINT mfa_backup_codes_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- The second step of a sign-in whose password was right (the mfa_token, stored as SHA-256):
-- purpose 'verify' (enter a code) or 'enrol' (the tenant requires MFA, the user has none yet).
CREATE TABLE mfa_challenges (
    token_hash       TEXT    NOT NULL CONSTRAINT mfa_challenges_pkey PRIMARY KEY,
    tenant_id        TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    purpose          TEXT    NOT NULL,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    expires_at       BIGINT  NOT NULL,
    consumed_at      BIGINT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    CONSTRAINT mfa_challenges_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX mfa_challenges_expires_idx ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (tenant_id, user_id);
