-- An application's own "Sign in with …" link binds the flow to itself: its `state` comes back
-- with the one-time code (login CSRF), and its PKCE challenge must be answered at the exchange
-- (a code that leaks is useless to anyone else).
ALTER TABLE flow_states ADD COLUMN app_state TEXT;
ALTER TABLE flow_states ADD COLUMN code_challenge TEXT;
ALTER TABLE pending_links ADD COLUMN app_state TEXT;
ALTER TABLE pending_links ADD COLUMN code_challenge TEXT;
ALTER TABLE federation_codes ADD COLUMN code_challenge TEXT;
