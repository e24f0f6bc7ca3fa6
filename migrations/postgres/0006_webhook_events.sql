-- LiveKit webhook events already applied, PostgreSQL dialect. ../sqlite/0006_webhook_events.sql
-- is the same table in SQLite's dialect: change both together. Representation as in
-- 0001_initial.sql.
--
-- A validly signed webhook can be sent again for as long as its token is accepted, so
-- POST /livekit/webhook records each event's id here before applying it: the id's
-- insert (ON CONFLICT DO NOTHING) either adds the row, and the event is applied, or
-- finds it, and the event is a replay that changes nothing. A row is kept until no token
-- that carried the event can still be accepted (the token's exp plus the leeway, plus a
-- margin for clocks); after that a replay is refused as expired anyway, and the row is
-- deleted by a later insert.

CREATE TABLE webhook_events (
    -- LiveKit's event id (`EV_…`).
    id          TEXT   NOT NULL PRIMARY KEY,
    -- When Warden first received the event.
    received_at BIGINT NOT NULL,
    -- Until when a replay could still carry an accepted token; the row may go after.
    keep_until  BIGINT NOT NULL
);
CREATE INDEX webhook_events_keep_until ON webhook_events (keep_until);
