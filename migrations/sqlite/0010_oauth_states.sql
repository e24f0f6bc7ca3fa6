-- Connecting an account through OAuth2, SQLite dialect. ../postgres/0010_oauth_states.sql is
-- the same in the other dialect: change both together. Representation as in
-- 0001_initial.sql.
--
-- POST /v1/tools/{tool_id}/oauth/start sends the operator's browser to the provider
-- with a random `state`; GET /oauth/callback takes the row back by the state's hash,
-- once (DELETE … RETURNING), before it exchanges the code. A row names the organization
-- and tool it was started for and holds the PKCE verifier of that one attempt: useless
-- without the provider's code and the organization's sealed client secret, and gone
-- after ten minutes.

CREATE TABLE oauth_states (
    -- SHA-256 of the state, lower-case hex: the state itself is never stored.
    state_hash      TEXT   NOT NULL PRIMARY KEY,
    organization_id TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    tool_id         TEXT   NOT NULL REFERENCES platform_tools (id) ON DELETE CASCADE,
    -- The redirect URI the authorization request named; the exchange must repeat it.
    redirect_uri    TEXT   NOT NULL,
    code_verifier   TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    -- After this the state is refused, and the row is deleted by a later start.
    expires_at      BIGINT NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);
CREATE INDEX oauth_states_organization ON oauth_states (organization_id);
