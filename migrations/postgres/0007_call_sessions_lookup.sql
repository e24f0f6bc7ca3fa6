-- Call sessions join the look-up version, PostgreSQL dialect. ../sqlite/0007_call_sessions_lookup.sql
-- is the same in SQLite's dialect: change both together.
--
-- `/mcp` finds the call session of every request's token through the look-up cache
-- (Store::active_call_session_by_token_hash, lookup/cache.rs), so every change to a
-- session (opened, ended, its token revoked) must advance the version as changes to the
-- tables of 0004_lookup_version.sql do, with the same deferred trigger.

CREATE CONSTRAINT TRIGGER call_sessions_lookup AFTER INSERT OR UPDATE OR DELETE ON call_sessions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_lookup_version();
