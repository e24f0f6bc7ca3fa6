//! Local stand-ins for the external services Warden talks to, **for tests only**.
//!
//! Each stand-in is a small HTTP server bound to `127.0.0.1:0` on a tokio task.
//! It speaks the real service's wire format (paths, JSON shapes, status codes,
//! error envelopes, headers) and checks what the real service checks (OAuth
//! client credentials, bearer tokens and their expiry, resource ids, time
//! ranges, …), so a tool that passes against a stand-in has been exercised
//! against the same contract it meets in production — without a network,
//! accounts or flakiness. Every request a stand-in receives is recorded, so a
//! test can assert on exactly what a tool sent (and on what it did not send).
//!
//! - [`GoogleCalendar`]: Google Calendar API v3 (events, freeBusy) plus
//!   Google's OAuth 2.0 endpoints: authorization with PKCE and a consent page
//!   (Allow / Deny), the token endpoint (authorization-code and refresh-token
//!   grants) and revocation, with injectable faults ([`Fault`] for the API,
//!   [`TokenFault`] for the code exchange).
//! - [`HubSpot`]: HubSpot CRM API v3 (contact search, notes associated with
//!   a contact) behind private-app bearer tokens, with injectable faults
//!   ([`HubSpotFault`]).
//! - [`LiveKitServer`]: LiveKit server's Twirp API for starting calls
//!   (CreateRoom, CreateDispatch, CreateSIPParticipant) with LiveKit's
//!   API-key and grant checks, and injectable SIP failures (busy, …).
//! - [`OtlpReceiver`]: an OpenTelemetry collector's OTLP/HTTP receiver
//!   (traces, metrics and logs in protobuf or JSON), keeping what it got.
//! - [`Twilio`]: Twilio's REST API 2010-04-01 for Programmable Messaging
//!   (send an SMS, fetch it and its delivery status, fetch the account)
//!   behind HTTP Basic account credentials, with Twilio's error codes,
//!   settable delivery outcomes and injectable faults ([`TwilioFault`]).
//! - [`HttpTarget`]: a plain HTTP server for outbound-policy tests (redirects,
//!   arbitrary statuses, header echo, slow and large responses).
//!
//! Dropping a stand-in's handle shuts its server down. Accessors are
//! synchronous: they read and write the state the server shares with them.
//!
//! Nothing here is meant for production: tokens are kept in memory, nothing is
//! persisted, and there is no TLS.

mod google_calendar;
mod http_target;
mod hubspot;
mod livekit;
mod otlp;
mod recorded;
mod server;
mod twilio;

pub use google_calendar::{Fault, GoogleCalendar, TokenFault};
pub use http_target::HttpTarget;
pub use hubspot::{HubSpot, HubSpotFault, NOTE_TO_CONTACT, Note};
pub use livekit::{Encoding, LiveKitCall, LiveKitRequest, LiveKitServer};
pub use otlp::{OtlpReceiver, ReceivedLog, ReceivedSpan, attribute as otlp_attribute};
pub use recorded::RecordedRequest;
pub use twilio::{Twilio, TwilioFault, TwilioMessage};
