-- What a second factor completes: the first factor of the sign-in (pwd, or fed for a sign-in
-- through an identity provider), so the session's amr says what really happened.
ALTER TABLE mfa_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'pwd';

-- Whether a provider's own amr is believed: an upstream that says it asked for a second factor
-- (mfa) then counts as both factors here. Off unless the tenant's administrator says so.
ALTER TABLE identity_providers ADD COLUMN trust_amr BOOLEAN NOT NULL DEFAULT FALSE;

-- An upstream account whose verified address belongs to a user, under link_existing = prompt:
-- linked once that user proves the account (password, and second factor when it has one) on
-- the hosted page. Ten minutes, single use, the browser that began the sign-in.
CREATE TABLE pending_links (
    token_hash      TEXT    NOT NULL CONSTRAINT pending_links_pkey PRIMARY KEY,
    tenant_id       TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    provider_id     TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    email           TEXT    NOT NULL,
    browser_hash    TEXT    NOT NULL,
    authorize_query TEXT,
    redirect_to     TEXT,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    consumed_at     BIGINT,
    CONSTRAINT pending_links_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT pending_links_provider_fkey FOREIGN KEY (tenant_id, provider_id)
        REFERENCES identity_providers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX pending_links_expires_idx ON pending_links (expires_at);

-- The amr of the sign-in a one-time code stands for (fed; fed mfa when a trusted upstream did
-- the second factor; pwd otp mfa when the user proved the account here to link it).
ALTER TABLE federation_codes ADD COLUMN amr TEXT NOT NULL DEFAULT 'fed';
