-- LiveKit webhooks find a call's sessions by room name.
CREATE INDEX call_sessions_room ON call_sessions (room_name);
