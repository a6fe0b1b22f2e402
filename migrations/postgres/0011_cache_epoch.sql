-- The cache epoch: one counter that every write to the state an instance caches (tenants and
-- their settings, clients and their roles, roles and permissions, revoked access tokens) bumps in
-- the same transaction, by trigger, so no write path, cascade or manual statement can miss it.
-- Every instance polls it (docs/decisions/0008-coherent-caches.md): a change through one
-- instance empties the others' caches within one poll.

CREATE TABLE cache_epoch (
    id          INTEGER NOT NULL CONSTRAINT cache_epoch_pkey PRIMARY KEY CHECK (id = 1),
    generation  BIGINT  NOT NULL
);
INSERT INTO cache_epoch (id, generation) VALUES (1, 0);

CREATE FUNCTION bump_cache_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER tenant_settings_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON tenant_settings
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER clients_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER client_roles_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON client_roles
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER roles_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON roles
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER permissions_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON permissions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER role_permissions_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON role_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER revoked_access_tokens_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON revoked_access_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
