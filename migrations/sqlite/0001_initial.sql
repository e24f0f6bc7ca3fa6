-- Warden schema, SQLite dialect. ../postgres/0001_initial.sql is the same schema in
-- PostgreSQL's dialect: change both together.
--
-- Representation shared by both dialects, so that warden-store writes each query once:
--   ids         TEXT, UUIDv7 in hyphenated lower-case form
--   timestamps  BIGINT, microseconds since the Unix epoch (UTC)
--   JSON        TEXT holding a JSON document
--   booleans    INTEGER 0/1 here (sqlx's Any driver cannot read SQLite's BOOLEAN), BOOLEAN there
--   bytes       BLOB here, BYTEA there

CREATE TABLE organizations (
    id               TEXT    NOT NULL PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    -- Opt-in: audit rows may carry the call's arguments (see invocations.argument_keys).
    record_arguments INTEGER NOT NULL DEFAULT 0 CHECK (record_arguments IN (0, 1)),
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

CREATE TABLE api_keys (
    id              TEXT   NOT NULL PRIMARY KEY,
    organization_id TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT   NOT NULL,
    -- The key's first characters, for recognising it in a listing; never enough to use it.
    prefix          TEXT   NOT NULL,
    -- SHA-256 of the whole key, lower-case hex. The key itself is never stored.
    key_hash        TEXT   NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX api_keys_organization ON api_keys (organization_id, created_at);

-- Tools: organization_id NULL is a platform tool, visible to every organization;
-- otherwise the tool is private to its organization.
CREATE TABLE platform_tools (
    id                 TEXT   NOT NULL PRIMARY KEY,
    organization_id    TEXT   REFERENCES organizations (id) ON DELETE CASCADE,
    name               TEXT   NOT NULL,
    description        TEXT   NOT NULL DEFAULT '',
    current_version_id TEXT   REFERENCES tool_versions (id) ON DELETE SET NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
-- NULLs are distinct in a unique index, so platform tools need their own.
CREATE UNIQUE INDEX platform_tools_organization_name
    ON platform_tools (organization_id, name) WHERE organization_id IS NOT NULL;
CREATE UNIQUE INDEX platform_tools_platform_name
    ON platform_tools (name) WHERE organization_id IS NULL;
CREATE INDEX platform_tools_current_version ON platform_tools (current_version_id);

CREATE TABLE tool_versions (
    id         TEXT   NOT NULL PRIMARY KEY,
    tool_id    TEXT   NOT NULL REFERENCES platform_tools (id) ON DELETE CASCADE,
    version    TEXT   NOT NULL,
    -- SHA-256 of component, lower-case hex: the component's content address.
    sha256     TEXT   NOT NULL,
    component  BLOB   NOT NULL,
    metadata   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tool_id, sha256),
    UNIQUE (tool_id, version)
);
CREATE INDEX tool_versions_sha256 ON tool_versions (sha256);

CREATE TABLE tool_functions (
    id              TEXT    NOT NULL PRIMARY KEY,
    tool_version_id TEXT    NOT NULL REFERENCES tool_versions (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    parameters      TEXT    NOT NULL,
    read_only       INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    UNIQUE (tool_version_id, name)
);

CREATE TABLE voice_agents (
    id              TEXT    NOT NULL PRIMARY KEY,
    organization_id TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    system_prompt   TEXT    NOT NULL DEFAULT '',
    is_active       INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    -- Target of the (agent, organization) foreign keys below: a row that names an agent
    -- must belong to the agent's organization.
    UNIQUE (id, organization_id)
);
-- Listing by organization, newest first, with a (created_at, id) cursor.
CREATE INDEX voice_agents_organization_created ON voice_agents (organization_id, created_at, id);

CREATE TABLE agent_tools (
    id               TEXT    NOT NULL PRIMARY KEY,
    organization_id  TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    agent_id         TEXT    NOT NULL,
    tool_id          TEXT    NOT NULL REFERENCES platform_tools (id) ON DELETE CASCADE,
    config           TEXT    NOT NULL DEFAULT '{}',
    is_enabled       INTEGER NOT NULL DEFAULT 1 CHECK (is_enabled IN (0, 1)),
    -- JSON object: function name -> enabled. A function not named is enabled.
    function_enables TEXT    NOT NULL DEFAULT '{}',
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    UNIQUE (agent_id, tool_id),
    FOREIGN KEY (agent_id, organization_id)
        REFERENCES voice_agents (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX agent_tools_organization ON agent_tools (organization_id);
CREATE INDEX agent_tools_tool ON agent_tools (tool_id);

-- Sealed secrets (AES-256-GCM records, see warden-store's `sealed` module). Never plaintext.
CREATE TABLE tool_sensitive_configs (
    id              TEXT   NOT NULL PRIMARY KEY,
    organization_id TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    tool_id         TEXT   NOT NULL REFERENCES platform_tools (id) ON DELETE CASCADE,
    name            TEXT   NOT NULL,
    sealed          BLOB   NOT NULL,
    -- The key the record is sealed under (also inside the record); rewrap finds old ones by it.
    key_id          TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (organization_id, tool_id, name)
);
CREATE INDEX tool_sensitive_configs_tool ON tool_sensitive_configs (tool_id);
CREATE INDEX tool_sensitive_configs_key ON tool_sensitive_configs (key_id);

CREATE TABLE call_sessions (
    id              TEXT   NOT NULL PRIMARY KEY,
    organization_id TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    agent_id        TEXT   NOT NULL,
    room_name       TEXT   NOT NULL,
    phone_number    TEXT,
    direction       TEXT   NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    status          TEXT   NOT NULL,
    -- SHA-256 of the session's MCP token, lower-case hex.
    token_hash      TEXT   UNIQUE,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    metadata        TEXT   NOT NULL DEFAULT '{}',
    FOREIGN KEY (agent_id, organization_id)
        REFERENCES voice_agents (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX call_sessions_organization_created ON call_sessions (organization_id, created_at, id);
CREATE INDEX call_sessions_agent_created ON call_sessions (agent_id, created_at, id);

-- The audit log. tool_id and tool_version_id carry no foreign key on purpose: the record of
-- a call outlives the catalogue entries it names. An agent's deletion leaves its calls'
-- records with agent_id NULL.
CREATE TABLE invocations (
    id                TEXT   NOT NULL PRIMARY KEY,
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
    -- JSON, written only when the organization opted in (organizations.record_arguments).
    argument_keys     TEXT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX invocations_organization_created ON invocations (organization_id, created_at, id);
CREATE INDEX invocations_agent_created ON invocations (agent_id, created_at, id);
CREATE INDEX invocations_tool_created ON invocations (tool_id, created_at, id);
CREATE INDEX invocations_call_session ON invocations (call_session_id);
