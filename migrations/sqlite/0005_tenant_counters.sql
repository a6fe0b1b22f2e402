-- Row counts per tenant for the big lists (SQLite), kept exact by triggers in the same
-- transaction as the change: an unfiltered list's `total` is one primary-key read instead of
-- a COUNT(*) over every row (75-117 ms at a million rows). Same as migrations/postgres/0005.

CREATE TABLE tenant_counters (
    tenant_id   TEXT   NOT NULL CONSTRAINT tenant_counters_pkey PRIMARY KEY
                       CONSTRAINT tenant_counters_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    users       BIGINT NOT NULL DEFAULT 0,
    audit_rows  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

INSERT INTO tenant_counters (tenant_id, users, audit_rows, created_at, updated_at)
SELECT t.id,
       (SELECT COUNT(*) FROM users u WHERE u.tenant_id = t.id),
       (SELECT COUNT(*) FROM audit_log a WHERE a.tenant_id = t.id),
       t.created_at, t.created_at
FROM tenants t;

CREATE TRIGGER tenant_counters_start AFTER INSERT ON tenants
BEGIN
    INSERT INTO tenant_counters (tenant_id, users, audit_rows, created_at, updated_at)
    VALUES (NEW.id, 0, 0, NEW.created_at, NEW.created_at);
END;

CREATE TRIGGER users_counted_in AFTER INSERT ON users
BEGIN
    UPDATE tenant_counters SET users = users + 1 WHERE tenant_id = NEW.tenant_id;
END;

CREATE TRIGGER users_counted_out AFTER DELETE ON users
BEGIN
    UPDATE tenant_counters SET users = users - 1 WHERE tenant_id = OLD.tenant_id;
END;

CREATE TRIGGER audit_counted_in AFTER INSERT ON audit_log WHEN NEW.tenant_id IS NOT NULL
BEGIN
    UPDATE tenant_counters SET audit_rows = audit_rows + 1 WHERE tenant_id = NEW.tenant_id;
END;

CREATE TRIGGER audit_counted_out AFTER DELETE ON audit_log WHEN OLD.tenant_id IS NOT NULL
BEGIN
    UPDATE tenant_counters SET audit_rows = audit_rows - 1 WHERE tenant_id = OLD.tenant_id;
END;
