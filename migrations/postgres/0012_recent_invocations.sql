-- Audit rows of lone calls, before they join `invocations`. PostgreSQL dialect;
-- ../sqlite/0012_recent_invocations.sql is the same in the other dialect: change
-- both together. Representation as in 0001_initial.sql.
--
-- A call on a SQLite file that finds the writer free commits its own audit row before
-- it is answered. Into `invocations` that commit writes a page of the table and one of
-- each of its five indexes. Here it appends to one B-tree: no primary key on `id` and
-- no other index, so a row costs one page. The store moves these rows into
-- `invocations` in batches, in one transaction each, a tenth of a second or so after
-- they were written, and every read of the audit reads both tables. The rows are the
-- same either way: the foreign keys act on this table as on that one. PostgreSQL
-- never writes here (its commit costs a WAL flush, not pages), but has the table, so
-- that both dialects read the audit with the same queries.

CREATE TABLE recent_invocations (
    id                TEXT   NOT NULL,
    organization_id   TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    agent_id          TEXT   REFERENCES voice_agents (id) ON DELETE SET NULL,
    tool_id           TEXT   NOT NULL,
    tool_version_id   TEXT   NOT NULL,
    function          TEXT   NOT NULL,
    call_id           TEXT   NOT NULL,
    call_session_id   TEXT   REFERENCES call_sessions (id) ON DELETE SET NULL,
    started_at        BIGINT NOT NULL,
    duration_us       BIGINT NOT NULL,
    fuel_consumed     BIGINT NOT NULL,
    peak_memory_bytes BIGINT NOT NULL,
    outcome           TEXT   NOT NULL CHECK (outcome IN ('ok', 'error')),
    error_kind        TEXT,
    argument_keys     TEXT,
    created_at        BIGINT NOT NULL,
    replay_of         TEXT
);
