-- The worker look-up's version, PostgreSQL dialect. ../sqlite/0004_lookup_version.sql is
-- the same counter in SQLite's dialect: change both together.
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

CREATE FUNCTION bump_lookup_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lookup_version SET version = version + 1;
    RETURN NULL;
END
$$;

-- Deferred constraint triggers: the increment runs at commit, after every other lock the
-- transaction takes, so two transactions never wait for each other through this row
-- (an increment in the middle of a transaction would hold it while taking more locks).
-- Foreign-key actions (ON DELETE CASCADE, SET NULL) change rows and fire them too.
CREATE CONSTRAINT TRIGGER worker_tokens_lookup AFTER INSERT OR UPDATE OR DELETE ON worker_tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_lookup_version();
CREATE CONSTRAINT TRIGGER voice_agents_lookup AFTER INSERT OR UPDATE OR DELETE ON voice_agents
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_lookup_version();
CREATE CONSTRAINT TRIGGER platform_tools_lookup AFTER INSERT OR UPDATE OR DELETE ON platform_tools
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_lookup_version();
CREATE CONSTRAINT TRIGGER tool_versions_lookup AFTER INSERT OR UPDATE OR DELETE ON tool_versions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_lookup_version();
CREATE CONSTRAINT TRIGGER agent_tools_lookup AFTER INSERT OR UPDATE OR DELETE ON agent_tools
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_lookup_version();
CREATE CONSTRAINT TRIGGER tool_sensitive_configs_lookup AFTER INSERT OR UPDATE OR DELETE ON tool_sensitive_configs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_lookup_version();
