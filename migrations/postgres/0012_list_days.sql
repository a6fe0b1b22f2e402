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

CREATE FUNCTION list_days_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO list_day_counts AS c (tenant_id, list, day, row_count)
    SELECT tenant_id, TG_TABLE_NAME, created_at / 86400, COUNT(*) FROM new_rows
    WHERE tenant_id IS NOT NULL GROUP BY tenant_id, created_at / 86400
    ON CONFLICT (tenant_id, list, day) DO UPDATE SET row_count = c.row_count + EXCLUDED.row_count;
    RETURN NULL;
END $$;

CREATE FUNCTION list_days_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE list_day_counts c SET row_count = c.row_count - o.rows
    FROM (SELECT tenant_id, created_at / 86400 AS day, COUNT(*) AS rows FROM old_rows
          WHERE tenant_id IS NOT NULL GROUP BY tenant_id, created_at / 86400) o
    WHERE c.tenant_id = o.tenant_id AND c.list = TG_TABLE_NAME AND c.day = o.day;
    RETURN NULL;
END $$;

CREATE TRIGGER users_days_in AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION list_days_in();
CREATE TRIGGER users_days_out AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION list_days_out();
CREATE TRIGGER audit_log_days_in AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION list_days_in();
CREATE TRIGGER audit_log_days_out AFTER DELETE ON audit_log
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION list_days_out();

-- Counted after the triggers exist: creating them waits for writers in flight and holds new
-- ones until this migration commits, so no row is counted twice or missed during a rolling deploy.
INSERT INTO list_day_counts (tenant_id, list, day, row_count)
SELECT tenant_id, 'users', created_at / 86400, COUNT(*) FROM users GROUP BY tenant_id, created_at / 86400;
INSERT INTO list_day_counts (tenant_id, list, day, row_count)
SELECT tenant_id, 'audit_log', created_at / 86400, COUNT(*) FROM audit_log
WHERE tenant_id IS NOT NULL GROUP BY tenant_id, created_at / 86400;
