-- Sign-in attempts counted per tenant and email address, whether or not an account uses the
-- address, so that a lockout answers the same for unknown addresses and reveals nothing
-- (docs/decisions/0013-lockout-by-email.md). The address is kept only as the SHA-256 of its
-- normalised form. Replaces users.failed_logins and users.failed_logins_since, no longer used.
CREATE TABLE login_attempts (
    tenant_id     TEXT    NOT NULL CONSTRAINT login_attempts_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    email_key     TEXT    NOT NULL,
    attempts      INTEGER NOT NULL,
    window_start  BIGINT  NOT NULL,
    -- When the window ends: the purge deletes the row a day after.
    expires_at    BIGINT  NOT NULL,
    CONSTRAINT login_attempts_pkey PRIMARY KEY (tenant_id, email_key)
);
CREATE INDEX login_attempts_expires_idx ON login_attempts (expires_at);
