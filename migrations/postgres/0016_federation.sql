-- Signing in through a tenant's identity providers (issue 16, docs/decisions/0015-federation-and-linking.md).

-- How a provider's users are treated: whether its email_verified is believed, what happens when
-- its address belongs to an existing user (auto | prompt | off), where its button goes on the
-- sign-in page, and (google, github) another base URL than the real one's.
ALTER TABLE identity_providers ADD COLUMN trust_email BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE identity_providers SET trust_email = TRUE WHERE kind IN ('google', 'github');
ALTER TABLE identity_providers ADD COLUMN link_existing TEXT NOT NULL DEFAULT 'prompt';
ALTER TABLE identity_providers ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE identity_providers ADD COLUMN base_url TEXT;
CREATE UNIQUE INDEX identity_providers_tenant_id_id_key ON identity_providers (tenant_id, id);

-- An upstream account (provider, subject) linked to exactly one user of the tenant. The subject,
-- never the email, names it on later sign-ins; the email is what the provider last said.
CREATE TABLE external_identities (
    id              TEXT    NOT NULL CONSTRAINT external_identities_pkey PRIMARY KEY,
    tenant_id       TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    provider_id     TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    email           TEXT,
    email_verified  BOOLEAN NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_login_at   BIGINT,
    CONSTRAINT external_identities_tenant_id_provider_id_subject_key UNIQUE (tenant_id, provider_id, subject),
    CONSTRAINT external_identities_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT external_identities_provider_fkey FOREIGN KEY (tenant_id, provider_id)
        REFERENCES identity_providers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX external_identities_user_idx ON external_identities (tenant_id, user_id);

-- A browser flow waiting for its callback: single use, ten minutes, bound to the browser that
-- began it by an HttpOnly cookie (only digests of the state and the cookie are kept). The PKCE
-- verifier is sealed with the master key.
CREATE TABLE flow_states (
    state_hash      TEXT    NOT NULL CONSTRAINT flow_states_pkey PRIMARY KEY,
    tenant_id       TEXT    NOT NULL CONSTRAINT flow_states_tenant_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    provider_id     TEXT    NOT NULL,
    browser_hash    TEXT    NOT NULL,
    nonce           TEXT    NOT NULL,
    pkce_verifier   BYTEA    NOT NULL,
    -- Where the user goes afterwards: an authorization request to carry on (its query), or an
    -- application's redirect_to.
    authorize_query TEXT,
    redirect_to     TEXT,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    consumed_at     BIGINT
);
CREATE INDEX flow_states_expires_idx ON flow_states (expires_at);

-- The one-time code an application's backend trades at POST /auth/exchange (60 s, single use).
CREATE TABLE federation_codes (
    code_hash       TEXT    NOT NULL CONSTRAINT federation_codes_pkey PRIMARY KEY,
    tenant_id       TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    provider_id     TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    consumed_at     BIGINT,
    CONSTRAINT federation_codes_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX federation_codes_expires_idx ON federation_codes (expires_at);
