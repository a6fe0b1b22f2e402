-- The cache epoch: a counter that every write to the state an instance caches (tenants and their
-- settings, clients and their roles, roles and permissions) bumps in the same transaction, by
-- trigger, so no write path, cascade or manual statement can miss it.
-- Every instance polls it (docs/decisions/0008-coherent-caches.md): a change through one
-- instance empties the others' caches within one poll.

-- A second counter moves with each revoked access token: it empties only the instances' lists of
-- client tokens known live, so logouts do not make every instance re-read every client. Deleting
-- a revocation (the hourly purge of expired ones) moves nothing: the caches hold only tokens
-- found live, which a deleted revocation cannot make wrong.

CREATE TABLE cache_epoch (
    id           INTEGER NOT NULL CONSTRAINT cache_epoch_pkey PRIMARY KEY CHECK (id = 1),
    generation   BIGINT  NOT NULL,
    revocations  BIGINT  NOT NULL
);
INSERT INTO cache_epoch (id, generation, revocations) VALUES (1, 0, 0);

-- Statement triggers see the statement's rows in transition tables, so a statement that changed
-- nothing (an INSERT … ON CONFLICT DO NOTHING, an UPDATE matching no row) moves nothing: a
-- client revoking the same token again must not empty every instance's caches.
CREATE FUNCTION bump_cache_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_rows) THEN
        UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION bump_revocation_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_rows) THEN
        UPDATE cache_epoch SET revocations = revocations + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_inserted_cache_epoch AFTER INSERT ON tenants
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER tenants_updated_cache_epoch AFTER UPDATE ON tenants
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER tenants_deleted_cache_epoch AFTER DELETE ON tenants
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER tenant_settings_inserted_cache_epoch AFTER INSERT ON tenant_settings
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER tenant_settings_updated_cache_epoch AFTER UPDATE ON tenant_settings
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER tenant_settings_deleted_cache_epoch AFTER DELETE ON tenant_settings
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER clients_inserted_cache_epoch AFTER INSERT ON clients
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER clients_updated_cache_epoch AFTER UPDATE ON clients
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER clients_deleted_cache_epoch AFTER DELETE ON clients
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER client_roles_inserted_cache_epoch AFTER INSERT ON client_roles
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER client_roles_updated_cache_epoch AFTER UPDATE ON client_roles
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER client_roles_deleted_cache_epoch AFTER DELETE ON client_roles
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER roles_inserted_cache_epoch AFTER INSERT ON roles
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER roles_updated_cache_epoch AFTER UPDATE ON roles
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER roles_deleted_cache_epoch AFTER DELETE ON roles
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER permissions_inserted_cache_epoch AFTER INSERT ON permissions
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER permissions_updated_cache_epoch AFTER UPDATE ON permissions
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER permissions_deleted_cache_epoch AFTER DELETE ON permissions
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER role_permissions_inserted_cache_epoch AFTER INSERT ON role_permissions
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER role_permissions_updated_cache_epoch AFTER UPDATE ON role_permissions
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER role_permissions_deleted_cache_epoch AFTER DELETE ON role_permissions
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER revoked_access_tokens_inserted_cache_epoch AFTER INSERT ON revoked_access_tokens
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_revocation_epoch();
CREATE TRIGGER revoked_access_tokens_updated_cache_epoch AFTER UPDATE ON revoked_access_tokens
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_revocation_epoch();
