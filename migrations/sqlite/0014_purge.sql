-- Background purge (src/maintenance.rs): rows past their end are deleted in small batches, each
-- batch found through an index on when the row ended, by one instance at a time (the lease).

CREATE INDEX sessions_ended_idx ON sessions ((COALESCE(revoked_at, expires_at)));
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
CREATE INDEX user_codes_expires_idx ON user_codes (expires_at);
CREATE INDEX revoked_access_tokens_expires_idx ON revoked_access_tokens (expires_at);
-- Deleting a session deletes its authorization codes (ON DELETE CASCADE): found by index, not
-- by scanning every code once per session.
CREATE INDEX authorization_codes_session_idx ON authorization_codes (sso_session_id);

-- Named jobs only one instance runs at a time: the holder (a random id per process) keeps the
-- lease until expires_at; another instance takes it only once it has lapsed.
CREATE TABLE maintenance_leases (
    name        TEXT   NOT NULL CONSTRAINT maintenance_leases_pkey PRIMARY KEY,
    holder      TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL
);
