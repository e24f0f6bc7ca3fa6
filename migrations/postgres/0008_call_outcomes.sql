-- Exactly-once calls, PostgreSQL dialect. ../sqlite/0008_call_outcomes.sql is the same
-- in the other dialect: change both together. Representation as in 0001_initial.sql.
--
-- A call whose caller gives a call id (the worker route's `call_id`, MCP's
-- `_meta["warden/call_id"]`) to a function that is not read-only runs once per
-- (agent, function, call id): the first request claims the row here before the tool
-- starts; a retry with the same arguments gets the recorded outcome back without the
-- tool running, one with other arguments is refused, and one that arrives while the
-- first runs waits for it. Nothing here is cached (no look-up version triggers).

CREATE TABLE call_outcomes (
    organization_id TEXT   NOT NULL,
    agent_id        TEXT   NOT NULL,
    -- `{tool}__{function}`, as the caller named it.
    function        TEXT   NOT NULL,
    call_id         TEXT   NOT NULL,
    -- SHA-256 of the call session (if any) and the arguments in canonical JSON (object
    -- keys sorted), lower-case hex: a repeat must match both to get the outcome.
    arguments_hash  TEXT   NOT NULL,
    -- A random token naming the run that holds the claim: only it may complete or
    -- release the row, so a run that outlived its lease cannot overwrite a newer one.
    claim           TEXT   NOT NULL,
    -- 'running' until the outcome is recorded, then 'done'.
    state           TEXT   NOT NULL CHECK (state IN ('running', 'done')),
    -- While running: after this the claim's holder is presumed gone (its replica
    -- stopped) and a retry may run the call afresh.
    lease_until     BIGINT NOT NULL,
    -- When done: the audit row of the run, and the outcome (the result or the error),
    -- sealed like a secret (it may hold personal data) with its own associated data.
    invocation_id   TEXT,
    sealed          BYTEA,
    key_id          TEXT,
    created_at      BIGINT NOT NULL,
    -- After this the row counts for nothing and is deleted by a later claim.
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (agent_id, function, call_id),
    -- The agent's own organization: a row cannot name another organization's agent.
    FOREIGN KEY (agent_id, organization_id)
        REFERENCES voice_agents (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX call_outcomes_expires ON call_outcomes (expires_at);
CREATE INDEX call_outcomes_organization ON call_outcomes (organization_id);
CREATE INDEX call_outcomes_key ON call_outcomes (key_id);

-- A replayed call's audit row names the row of the run whose outcome it repeated.
ALTER TABLE invocations ADD COLUMN replay_of TEXT;
