-- Lists at a million rows (SQLite). Same as migrations/postgres/0009 except for the email
-- search index (PostgreSQL only, pg_trgm). See docs/decisions/0005-list-totals.md.

-- The users page walks this index alone (a covering-index scan past the offset); `status`
-- rides along so that a status filter needs no table read either.
DROP INDEX users_tenant_created_idx;
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at DESC, id DESC, status);
-- The few users who are not active: their list and count, and active = all − these.
CREATE INDEX users_inactive_idx ON users (tenant_id, created_at DESC, id DESC) WHERE status <> 'active';

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

DROP TRIGGER audit_counted_in;
DROP TRIGGER audit_counted_out;
DROP TRIGGER tenant_counters_start;

CREATE TRIGGER audit_counted_in AFTER INSERT ON audit_log WHEN NEW.tenant_id IS NOT NULL
BEGIN
    INSERT INTO audit_action_counters (tenant_id, action, row_count) VALUES (NEW.tenant_id, NEW.action, 1)
    ON CONFLICT (tenant_id, action) DO UPDATE SET row_count = row_count + 1;
END;

CREATE TRIGGER audit_counted_out AFTER DELETE ON audit_log WHEN OLD.tenant_id IS NOT NULL
BEGIN
    UPDATE audit_action_counters SET row_count = row_count - 1
    WHERE tenant_id = OLD.tenant_id AND action = OLD.action;
END;

CREATE TRIGGER tenant_counters_start AFTER INSERT ON tenants
BEGIN
    INSERT INTO tenant_counters (tenant_id, users, created_at, updated_at)
    VALUES (NEW.id, 0, NEW.created_at, NEW.created_at);
END;

ALTER TABLE tenant_counters DROP COLUMN audit_rows;
