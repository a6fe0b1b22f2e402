-- The scope ovlt:api now gives OAuth access tokens power over ovlt's own API
-- (docs/decisions/0009). Before, it meant nothing, and anyone holding clients:write could list
-- it on a client: withdraw it from every client (a tenant admin grants it again on purpose) and
-- end the sessions already granted it, so no token issued under the old rules carries it.
UPDATE clients
SET scopes = REPLACE(REPLACE(REPLACE(scopes, ',"ovlt:api"', ''), '"ovlt:api",', ''), '"ovlt:api"', '')
WHERE scopes LIKE '%"ovlt:api"%';

UPDATE sessions
SET revoked_at = extract(epoch from now())::bigint, revoked_reason = 'scope_withdrawn', updated_at = extract(epoch from now())::bigint
WHERE revoked_at IS NULL AND scope LIKE '%ovlt:api%';
