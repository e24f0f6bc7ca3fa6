-- The console: its sign-ins, and connections started from it. SQLite dialect;
-- ../postgres/0011_console.sql is the same in the other dialect: change both together.
-- Representation as in 0001_initial.sql.
--
-- POST /console/api/session exchanges an organization API key for a random session
-- token, sent back only as an HttpOnly cookie. A row is found by the token's hash and
-- acts for the key that signed in: revoking the key (or deleting it, or its
-- organization) ends its sessions at once.

CREATE TABLE console_sessions (
    -- SHA-256 of the session token, lower-case hex: the token itself is never stored.
    session_hash    TEXT   NOT NULL PRIMARY KEY,
    organization_id TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    api_key_id      TEXT   NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    -- After this the session is refused, and the row is deleted by a later sign-in.
    expires_at      BIGINT NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
CREATE INDEX console_sessions_api_key ON console_sessions (api_key_id, created_at);

-- A connection started from the console is bound to that browser: the start sets a
-- random value in a cookie sent only to the callback, and the callback must bring the
-- value whose hash is kept here. Another browser (another organization's console) that
-- is handed the provider's link connects nothing. NULL: started with an API key.
ALTER TABLE oauth_states ADD COLUMN browser_hash TEXT;
