-- Rows per tenant and day of creation, for the users list and the audit log: a deep page is
-- found by summing whole days (a few hundred rows for years of history) and walking only inside
-- the day it falls in, instead of walking the index past every row before it
-- (docs/decisions/0005-list-totals.md). Kept by triggers in the writer's transaction, so a
-- list's snapshot sees counts and rows that agree. Rows never change their created_at.

CREATE TABLE list_day_counts (
    tenant_id  TEXT   NOT NULL CONSTRAINT list_day_counts_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    list       TEXT   NOT NULL,
    day        BIGINT NOT NULL,
    row_count  BIGINT NOT NULL,
    CONSTRAINT list_day_counts_pkey PRIMARY KEY (tenant_id, list, day)
);

INSERT INTO list_day_counts (tenant_id, list, day, row_count)
SELECT tenant_id, 'users', created_at / 86400, COUNT(*) FROM users GROUP BY tenant_id, created_at / 86400;
INSERT INTO list_day_counts (tenant_id, list, day, row_count)
SELECT tenant_id, 'audit_log', created_at / 86400, COUNT(*) FROM audit_log
WHERE tenant_id IS NOT NULL GROUP BY tenant_id, created_at / 86400;

CREATE TRIGGER users_days_in AFTER INSERT ON users
BEGIN
    INSERT INTO list_day_counts (tenant_id, list, day, row_count) VALUES (NEW.tenant_id, 'users', NEW.created_at / 86400, 1)
    ON CONFLICT (tenant_id, list, day) DO UPDATE SET row_count = row_count + 1;
END;

CREATE TRIGGER users_days_out AFTER DELETE ON users
BEGIN
    UPDATE list_day_counts SET row_count = row_count - 1
    WHERE tenant_id = OLD.tenant_id AND list = 'users' AND day = OLD.created_at / 86400;
END;

CREATE TRIGGER audit_log_days_in AFTER INSERT ON audit_log WHEN NEW.tenant_id IS NOT NULL
BEGIN
    INSERT INTO list_day_counts (tenant_id, list, day, row_count)
    VALUES (NEW.tenant_id, 'audit_log', NEW.created_at / 86400, 1)
    ON CONFLICT (tenant_id, list, day) DO UPDATE SET row_count = row_count + 1;
END;

CREATE TRIGGER audit_log_days_out AFTER DELETE ON audit_log WHEN OLD.tenant_id IS NOT NULL
BEGIN
    UPDATE list_day_counts SET row_count = row_count - 1
    WHERE tenant_id = OLD.tenant_id AND list = 'audit_log' AND day = OLD.created_at / 86400;
END;
