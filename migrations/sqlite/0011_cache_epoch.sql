-- The cache epoch: a counter that every write to the state an instance caches (tenants and their
-- settings, clients and their roles, roles and permissions) bumps in the same transaction, by
-- trigger, so no write path, cascade or manual statement can miss it
-- (SQLite has only row triggers: a statement touching many rows bumps it once per row).
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

CREATE TRIGGER tenants_insert_cache_epoch AFTER INSERT ON tenants
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER tenants_update_cache_epoch AFTER UPDATE ON tenants
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER tenants_delete_cache_epoch AFTER DELETE ON tenants
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER tenant_settings_insert_cache_epoch AFTER INSERT ON tenant_settings
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER tenant_settings_update_cache_epoch AFTER UPDATE ON tenant_settings
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER tenant_settings_delete_cache_epoch AFTER DELETE ON tenant_settings
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER clients_insert_cache_epoch AFTER INSERT ON clients
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER clients_update_cache_epoch AFTER UPDATE ON clients
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER clients_delete_cache_epoch AFTER DELETE ON clients
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER client_roles_insert_cache_epoch AFTER INSERT ON client_roles
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER client_roles_update_cache_epoch AFTER UPDATE ON client_roles
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER client_roles_delete_cache_epoch AFTER DELETE ON client_roles
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER roles_insert_cache_epoch AFTER INSERT ON roles
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER roles_update_cache_epoch AFTER UPDATE ON roles
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER roles_delete_cache_epoch AFTER DELETE ON roles
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER permissions_insert_cache_epoch AFTER INSERT ON permissions
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER permissions_update_cache_epoch AFTER UPDATE ON permissions
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER permissions_delete_cache_epoch AFTER DELETE ON permissions
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER role_permissions_insert_cache_epoch AFTER INSERT ON role_permissions
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER role_permissions_update_cache_epoch AFTER UPDATE ON role_permissions
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER role_permissions_delete_cache_epoch AFTER DELETE ON role_permissions
BEGIN UPDATE cache_epoch SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER revoked_access_tokens_insert_cache_epoch AFTER INSERT ON revoked_access_tokens
BEGIN UPDATE cache_epoch SET revocations = revocations + 1 WHERE id = 1; END;
CREATE TRIGGER revoked_access_tokens_update_cache_epoch AFTER UPDATE ON revoked_access_tokens
BEGIN UPDATE cache_epoch SET revocations = revocations + 1 WHERE id = 1; END;
