-- The worker look-up's version, SQLite dialect. ../postgres/0004_lookup_version.sql is
-- the same counter in PostgreSQL's dialect: change both together.
--
-- Every committed change to a table the worker plane's per-call look-up reads
-- (Store::worker_invocation_target) adds one to `version`, in the same transaction,
-- whoever makes it (this process, the CLI, another replica). A look-up answered at
-- version N therefore stays exact for as long as the version reads N: the store keeps
-- recent answers in memory and checks only this one row per call.

CREATE TABLE lookup_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO lookup_version (id, version) VALUES (1, 0);

-- SQLite has only row triggers; foreign-key actions (ON DELETE CASCADE, SET NULL) fire them too.
CREATE TRIGGER worker_tokens_insert_lookup AFTER INSERT ON worker_tokens
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER worker_tokens_update_lookup AFTER UPDATE ON worker_tokens
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER worker_tokens_delete_lookup AFTER DELETE ON worker_tokens
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER voice_agents_insert_lookup AFTER INSERT ON voice_agents
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER voice_agents_update_lookup AFTER UPDATE ON voice_agents
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER voice_agents_delete_lookup AFTER DELETE ON voice_agents
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER platform_tools_insert_lookup AFTER INSERT ON platform_tools
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER platform_tools_update_lookup AFTER UPDATE ON platform_tools
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER platform_tools_delete_lookup AFTER DELETE ON platform_tools
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER tool_versions_insert_lookup AFTER INSERT ON tool_versions
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER tool_versions_update_lookup AFTER UPDATE ON tool_versions
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER tool_versions_delete_lookup AFTER DELETE ON tool_versions
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER agent_tools_insert_lookup AFTER INSERT ON agent_tools
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER agent_tools_update_lookup AFTER UPDATE ON agent_tools
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER agent_tools_delete_lookup AFTER DELETE ON agent_tools
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER tool_sensitive_configs_insert_lookup AFTER INSERT ON tool_sensitive_configs
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER tool_sensitive_configs_update_lookup AFTER UPDATE ON tool_sensitive_configs
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER tool_sensitive_configs_delete_lookup AFTER DELETE ON tool_sensitive_configs
    BEGIN UPDATE lookup_version SET version = version + 1; END;
