-- Lists at a million rows (PostgreSQL). Same as migrations/sqlite/0009 except for the email
-- search index. See docs/decisions/0005-list-totals.md.

-- The users page walks this index alone (an index-only scan past the offset); `status` rides
-- along so that a status filter needs no table read either.
DROP INDEX users_tenant_created_idx;
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at DESC, id DESC) INCLUDE (status);
-- The few users who are not active: their list and count, and active = all − these.
CREATE INDEX users_inactive_idx ON users (tenant_id, created_at DESC, id DESC) WHERE status <> 'active';

-- Email substring search on trigrams, where the pg_trgm extension may be created (it ships
-- with PostgreSQL and is trusted since 13). Without it the search still works, as a scan.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX users_email_trgm_idx ON users USING gin (email_normalized gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable (%); email search will scan', SQLERRM;
END $$;

-- Audit filters, each in page order.
CREATE INDEX audit_log_action_idx ON audit_log (tenant_id, action, created_at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (tenant_id, actor_id, created_at DESC, id DESC);
CREATE INDEX audit_log_target_idx ON audit_log (tenant_id, target_id, created_at DESC, id DESC);

-- Audit rows counted per tenant and action (replacing tenant_counters.audit_rows): the
-- unfiltered total is the sum of a few dozen rows, a filter by action is one row.
CREATE TABLE audit_action_counters (
    tenant_id  TEXT   NOT NULL CONSTRAINT audit_action_counters_tenant_fkey
                      REFERENCES tenants (id) ON DELETE CASCADE,
    action     TEXT   NOT NULL,
    row_count  BIGINT NOT NULL,
    CONSTRAINT audit_action_counters_pkey PRIMARY KEY (tenant_id, action)
);

INSERT INTO audit_action_counters (tenant_id, action, row_count)
SELECT tenant_id, action, COUNT(*) FROM audit_log WHERE tenant_id IS NOT NULL GROUP BY tenant_id, action;

CREATE OR REPLACE FUNCTION audit_counted_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_action_counters AS c (tenant_id, action, row_count)
    SELECT tenant_id, action, COUNT(*) FROM new_rows WHERE tenant_id IS NOT NULL GROUP BY tenant_id, action
    ON CONFLICT (tenant_id, action) DO UPDATE SET row_count = c.row_count + EXCLUDED.row_count;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION audit_counted_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_action_counters c SET row_count = c.row_count - o.rows
    FROM (SELECT tenant_id, action, COUNT(*) AS rows FROM old_rows WHERE tenant_id IS NOT NULL
          GROUP BY tenant_id, action) o
    WHERE c.tenant_id = o.tenant_id AND c.action = o.action;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION tenant_counters_start() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tenant_counters (tenant_id, users, created_at, updated_at)
    VALUES (NEW.id, 0, NEW.created_at, NEW.created_at);
    RETURN NULL;
END $$;

ALTER TABLE tenant_counters DROP COLUMN audit_rows;
