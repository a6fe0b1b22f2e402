-- Roles and permissions (SQLite). Same tables as migrations/postgres/0003. Links carry the
-- tenant and reference (tenant_id, id), so a role can never be linked across tenants.

CREATE TABLE roles (
    id           TEXT    NOT NULL CONSTRAINT roles_pkey PRIMARY KEY,
    tenant_id    TEXT    NOT NULL CONSTRAINT roles_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    description  TEXT,
    built_in     INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    CONSTRAINT roles_tenant_id_name_key UNIQUE (tenant_id, name),
    CONSTRAINT roles_tenant_id_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE permissions (
    id           TEXT    NOT NULL CONSTRAINT permissions_pkey PRIMARY KEY,
    tenant_id    TEXT    NOT NULL CONSTRAINT permissions_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    description  TEXT,
    built_in     INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    CONSTRAINT permissions_tenant_id_name_key UNIQUE (tenant_id, name),
    CONSTRAINT permissions_tenant_id_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE role_permissions (
    tenant_id      TEXT   NOT NULL,
    role_id        TEXT   NOT NULL,
    permission_id  TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CONSTRAINT role_permissions_pkey PRIMARY KEY (role_id, permission_id),
    CONSTRAINT role_permissions_role_fkey FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT role_permissions_permission_fkey FOREIGN KEY (tenant_id, permission_id) REFERENCES permissions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX role_permissions_permission_idx ON role_permissions (tenant_id, permission_id);

CREATE TABLE user_roles (
    tenant_id    TEXT   NOT NULL,
    user_id      TEXT   NOT NULL,
    role_id      TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT user_roles_pkey PRIMARY KEY (user_id, role_id),
    CONSTRAINT user_roles_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT user_roles_role_fkey FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_roles_role_idx ON user_roles (tenant_id, role_id);

-- Listing users newest first with a page offset stays an index walk.
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at DESC, id DESC);
