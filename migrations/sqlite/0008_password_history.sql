-- Earlier password hashes of a user (sqlite; same table as migrations/postgres/0008), for the tenant
-- setting password_history: a new password may not be one of the last N. Argon2id hashes, as in
-- users.password_hash; at most 23 are kept per user (the setting's maximum of 24 includes the
-- current password).
CREATE TABLE password_history (
    id             TEXT   NOT NULL CONSTRAINT password_history_pkey PRIMARY KEY,
    tenant_id      TEXT   NOT NULL,
    user_id        TEXT   NOT NULL,
    password_hash  TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    CONSTRAINT password_history_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX password_history_user_idx ON password_history (tenant_id, user_id, id);
