-- Worker tokens, PostgreSQL dialect. ../sqlite/0002_worker_tokens.sql is the same table in
-- SQLite's dialect: change both together. Representation as in 0001_initial.sql.
--
-- A worker token authenticates a LiveKit agent worker to the worker plane (/worker/v1).
-- Worker tokens are operator-level: they belong to no organization, and they are a
-- different credential from an organization's API keys (a different table, a different
-- prefix), so neither ever authenticates as the other.

CREATE TABLE worker_tokens (
    id           TEXT   NOT NULL PRIMARY KEY,
    -- A label chosen by the operator.
    name         TEXT   NOT NULL,
    -- The token's first characters, for recognising it in a listing; never enough to use it.
    prefix       TEXT   NOT NULL,
    -- SHA-256 of the whole token, lower-case hex. The token itself is never stored.
    token_hash   TEXT   NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
