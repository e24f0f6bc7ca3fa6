-- Worker tokens scoped to one organization, SQLite dialect.
-- ../postgres/0005_worker_token_organization.sql is the same change in PostgreSQL's
-- dialect: change both together. Representation as in 0001_initial.sql.
--
-- A worker token with no organization (NULL, every token before this migration) acts
-- for every organization's agents, as before. A token with an organization reaches only
-- that organization's agents: to it, another organization's agent is an unknown agent.
--
-- ON DELETE CASCADE, never SET NULL: a scoped token whose organization is deleted goes
-- with it. SET NULL would turn it into a token for every organization.
-- (SQLite adds a column with a REFERENCES clause only with a NULL default, as here. The
-- worker_tokens triggers of 0004_lookup_version.sql see the deleted rows.)

ALTER TABLE worker_tokens
    ADD COLUMN organization_id TEXT REFERENCES organizations (id) ON DELETE CASCADE;
CREATE INDEX worker_tokens_organization ON worker_tokens (organization_id);
