-- The numbers of SIP calls, PostgreSQL dialect. ../sqlite/0009_sip_numbers.sql is the same
-- in the other dialect: change both together. Representation as in 0001_initial.sql.
--
-- LiveKit's participant_joined webhook for a SIP participant carries the other party's
-- number (attribute `sip.phoneNumber`) and the number of the trunk the call uses
-- (`sip.trunkPhoneNumber`, the agent's own number). They fill in the call sessions open
-- in the room, and since the webhook may arrive before the agent worker opens its
-- session, they are also kept per room for a short while, for a session opened later.

-- The agent's own number on the call (E.164), where known.
ALTER TABLE call_sessions ADD COLUMN agent_number TEXT;

CREATE TABLE sip_numbers (
    -- The LiveKit room the SIP participant joined.
    room_name      TEXT   NOT NULL PRIMARY KEY,
    -- `sip.phoneNumber` and `sip.trunkPhoneNumber`, checked to be E.164.
    phone_number   TEXT,
    trunk_number   TEXT,
    received_at    BIGINT NOT NULL,
    -- After this the row counts for nothing and is deleted by a later insert.
    expires_at     BIGINT NOT NULL
);
CREATE INDEX sip_numbers_expires ON sip_numbers (expires_at);
