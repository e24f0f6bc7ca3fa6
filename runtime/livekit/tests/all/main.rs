//! warden-livekit against the LiveKit stand-in over real loopback HTTP, the
//! room-name and configuration helpers, webhook verification, and interop with
//! LiveKit's official Python SDK (`WARDEN_TEST_PYTHON`; skipped, with a note on
//! stderr, when unset).

mod calls;
mod config;
mod interop;
mod names;
mod secrets;
mod support;
mod webhook;
