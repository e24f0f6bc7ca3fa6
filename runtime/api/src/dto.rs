//! The API's request and response bodies, with their OpenAPI schemas.
//!
//! What core returns is answered as it is: its views derive their schemas
//! in core (the `openapi` feature) and are re-exported here under their wire
//! names. This module defines only what is HTTP's own: request bodies, query
//! parameters, pages and the worker plane's LLM-facing shapes.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

// ----- tools -----

// The views core returns are the wire format: one definition per shape,
// with its schema derived in core (`openapi` feature).
pub use warden_core::{
    AgentToolView as AgentTool, AgentView as Agent, Installed, InvocationView as InvocationRecord,
    SecretStatus as Secret, ToolHealth, ToolView as Tool,
};

/// A WebAssembly component implementing `warden:tool`.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct WasmComponent(#[expect(dead_code, reason = "documentation only")] Vec<u8>);

/// `PUT /v1/tools/{tool_id}/secrets/{name}`. Deliberately not `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSecret {
    /// The secret's value, not empty. Write-only: it is never returned.
    #[schema(value_type = String, write_only, min_length = 1)]
    pub value: SecretString,
}

// ----- agents -----

/// `POST /v1/agents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// At least one character that is not white space.
    #[schema(
        min_length = 1,
        pattern = r"[^\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub system_prompt: String,
    /// Defaults to `true`.
    #[serde(default = "yes")]
    pub is_active: bool,
}

/// `PATCH /v1/agents/{agent_id}`: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    /// At least one character that is not white space; `null` or absent
    /// leaves the name as it is.
    #[schema(
        min_length = 1,
        pattern = r"[^\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: Option<String>,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub is_active: Option<bool>,
}

/// A page of agents.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentPage {
    pub items: Vec<Agent>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/agents` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentQuery {
    pub is_active: Option<bool>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Page size: default 50, 1 to 100.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// A previous page's `next_cursor`, passed back unchanged (empty: the
    /// first page). Opaque: anything the server did not issue may be refused
    /// as malformed (400).
    #[param(format = "page-cursor", pattern = r"^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
}

/// `GET /v1/agents/{agent_id}` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentGetQuery {
    /// Include the agent's tool associations.
    #[serde(default)]
    pub include_tools: bool,
}

/// `PUT /v1/agents/{agent_id}/tools/{tool_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentToolSettings {
    /// Checked against the tool's `config_schema`; `null`/absent means `{}`.
    #[serde(default)]
    pub config: Value,
    /// Defaults to `true`.
    #[serde(default = "yes")]
    pub is_enabled: bool,
    /// Per-function switches; names must be functions of the tool.
    #[serde(default)]
    pub function_enables: BTreeMap<String, bool>,
}

/// The safe result of a tool's `test` export.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub ok: bool,
    #[schema(value_type = Value)]
    pub result: Box<RawValue>,
}

fn yes() -> bool {
    true
}

// ----- audit -----

/// A page of invocation records.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvocationPage {
    pub items: Vec<InvocationRecord>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/invocations` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvocationQuery {
    pub agent_id: Option<String>,
    pub tool_id: Option<String>,
    /// Page size: default 50, 1 to 100.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// A previous page's `next_cursor`, passed back unchanged (empty: the
    /// first page). Opaque: anything the server did not issue may be refused
    /// as malformed (400).
    #[param(format = "page-cursor", pattern = r"^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
}

/// `GET /v1/tools/{tool_id}/health` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    /// The window, in minutes: default 60, 1 to 43200 (30 days).
    #[param(minimum = 1, maximum = 43200)]
    pub window_minutes: Option<u32>,
}

// ----- worker -----

/// An agent's prompt and enabled functions, in the LLM function-calling format.
#[derive(Debug, Serialize, ToSchema)]
pub struct Toolset {
    pub agent_id: String,
    pub name: String,
    pub system_prompt: String,
    pub tools: Vec<LlmTool>,
}

/// `{"type": "function", "function": {…}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LlmTool {
    /// Always `function`.
    #[serde(rename = "type")]
    pub type_: String,
    pub function: LlmFunction,
}

/// A function as the LLM sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LlmFunction {
    /// `{tool}__{function}`, at most 64 characters.
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
}

/// `POST /worker/v1/agents/{agent_id}/invoke`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invoke {
    /// `{tool}__{function}`, as in the toolset.
    #[schema(pattern = "__")]
    pub name: String,
    /// The arguments the LLM produced; absent means `{}`.
    #[serde(default = "empty_object")]
    pub arguments: Value,
    /// The LLM's tool-call id (kept across retries), at most 256 characters.
    /// With one, a function that is not read-only runs once per call id: a
    /// retry gets the recorded outcome (see the operation).
    #[serde(default)]
    #[schema(max_length = 256)]
    pub call_id: String,
    /// The call session the invocation is made during (`call_session_id`
    /// from `POST /worker/v1/sessions` or an outbound call): the tool gets
    /// the phone call (contract 0.2.0 and later) and the audit row names the
    /// session. It must be a live session of this agent.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    pub call_session_id: Option<String>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// A successful invocation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvokeResult {
    /// The tool's result.
    #[schema(value_type = Value)]
    pub result: Box<RawValue>,
    /// A short line the tool wants spoken to the person on the phone (tools
    /// built against contract 0.2.0 or later), at most 1 KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spoken: Option<String>,
    /// The audit row.
    pub invocation_id: String,
    /// Present when this answer repeats the recorded outcome of an earlier
    /// run of the same `call_id` (the tool did not run again): that run's
    /// audit row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<String>,
}

/// `POST /worker/v1/sessions`: an inbound call is starting. Give
/// `agent_id`, `room_name`, or both (the schema says so as a `oneOf`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenSession {
    /// The agent taking the call. Without it, `room_name` must be
    /// `agent-{agent_id}-{phone}`.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The LiveKit room of the call: LiveKit's `room_finished` webhook for it
    /// ends the session. Without `agent_id`, it must be named
    /// `agent-{agent_id}-{phone}` and the agent and the caller's number are
    /// read from it.
    #[serde(default)]
    pub room_name: Option<String>,
    /// The caller's number, E.164.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// The number the caller dialled (the agent's own), E.164.
    #[serde(default)]
    pub agent_number: Option<String>,
}

/// A room Warden names for an agent's call: `agent-{uuid}-{E.164}`.
const ROOM_NAME_PATTERN: &str =
    "^agent-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-\\+[1-9][0-9]{1,14}$";

impl utoipa::PartialSchema for OpenSession {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let text = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let phone = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^\\+[1-9][0-9]{1,14}$"))
                .description(Some(description))
                .examples(["+15551234567"])
        };
        let agent_number = || phone("The number the caller dialled (the agent's own), E.164");
        let by_agent = ObjectBuilder::new()
            .property("agent_id", text("The agent taking the call"))
            .required("agent_id")
            .property(
                "room_name",
                text("The LiveKit room of the call (any name): its room_finished webhook ends the session")
                    .min_length(Some(1))
                    .max_length(Some(256))
                    .pattern(Some("\\S")),
            )
            .property("phone_number", phone("The caller's number, E.164"))
            .property("agent_number", agent_number())
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
        let by_room = ObjectBuilder::new()
            .property(
                "room_name",
                text("agent-{agent_id}-{phone_number}: the agent and the number are read from it")
                    .pattern(Some(ROOM_NAME_PATTERN))
                    .examples(["agent-0193e0c4-7c1a-7b5e-9d0f-2a9f1c3b4d5e-+15551234567"]),
            )
            .required("room_name")
            .property("agent_number", agent_number())
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ));
        OneOfBuilder::new()
            .item(by_agent)
            .item(by_room)
            .description(Some(
                "An inbound call is starting: the agent, its room, or both",
            ))
            .into()
    }
}

impl utoipa::ToSchema for OpenSession {}

/// A call session: where the call's MCP client connects, and its token.
#[derive(Serialize, ToSchema)]
pub struct SessionOpened {
    pub call_session_id: String,
    /// The MCP endpoint (streamable HTTP).
    pub mcp_url: String,
    /// `Authorization: Bearer {session_token}` on every MCP request. Shown
    /// only here; it works for this agent only, until the call ends or
    /// `expires_at`.
    pub session_token: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SessionOpened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("SessionOpened")
            .field("call_session_id", &self.call_session_id)
            .field("mcp_url", &self.mcp_url)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/agents/{agent_id}/calls` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartCall {
    /// The number to call, E.164.
    #[schema(pattern = "^\\+[1-9][0-9]{1,14}$", example = "+15551234567")]
    pub phone_number: String,
}

/// A call Warden placed through LiveKit.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallStarted {
    pub call_session_id: String,
    /// `agent-{agent_id}-{phone_number}`.
    pub room_name: String,
    /// `active` once the room exists, the worker is dispatched and (with a
    /// SIP trunk) the callee answered.
    pub status: String,
    pub dispatch_id: String,
    /// The dialled SIP participant, when a trunk is configured.
    pub sip_participant_id: Option<String>,
    pub expires_at: DateTime<Utc>,
}
