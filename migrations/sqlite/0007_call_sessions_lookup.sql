-- Call sessions join the look-up version, SQLite dialect. ../postgres/0007_call_sessions_lookup.sql
-- is the same in PostgreSQL's dialect: change both together.
--
-- `/mcp` finds the call session of every request's token through the look-up cache
-- (Store::active_call_session_by_token_hash, lookup/cache.rs), so every change to a
-- session (opened, ended, its token revoked) must advance the version as changes to the
-- tables of 0004_lookup_version.sql do.

CREATE TRIGGER call_sessions_insert_lookup AFTER INSERT ON call_sessions
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER call_sessions_update_lookup AFTER UPDATE ON call_sessions
    BEGIN UPDATE lookup_version SET version = version + 1; END;
CREATE TRIGGER call_sessions_delete_lookup AFTER DELETE ON call_sessions
    BEGIN UPDATE lookup_version SET version = version + 1; END;
