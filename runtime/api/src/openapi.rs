//! The OpenAPI document, generated from the handlers' annotations.

use crate::{system, telemetry, v1, worker};
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Warden",
        description = "Sandboxed WebAssembly tools for voice agents: the safe management API (`/v1`, organization API keys `wdn_…`) and the worker API (`/worker/v1`, worker tokens `wdw_…`). Each call session also gets an MCP endpoint (`/mcp`, streamable HTTP, the session's token `wds_…`), which speaks JSON-RPC rather than this document's resources. Errors are `application/problem+json` with a `kind`."
    ),
    paths(
        v1::list_tools, v1::get_tool, v1::install_tool, v1::delete_tool,
        v1::set_secret, v1::list_secrets, v1::delete_secret, v1::tool_health,
        v1::create_agent, v1::list_agents, v1::get_agent, v1::update_agent, v1::delete_agent,
        v1::set_agent_tool, v1::list_agent_tools, v1::delete_agent_tool, v1::test_agent_tool,
        v1::invoke_agent, v1::start_call, v1::list_invocations, v1::inspect_tool,
        crate::oauth::start, crate::oauth::disconnect, crate::oauth::callback,
        crate::livekit::webhook,
        worker::toolset, worker::invoke, worker::open_session,
        system::healthz, system::readyz, telemetry::metrics, system::openapi_json, system::docs,
    ),
    components(schemas(crate::problem::Problem)),
    modifiers(&Security),
    tags(
        (name = "tools", description = "The tool catalogue"),
        (name = "secrets", description = "Write-only tool secrets"),
        (name = "agents", description = "Voice agents and their tools"),
        (name = "audit", description = "Invocation records and tool health"),
        (name = "calls", description = "Phone calls through LiveKit"),
        (name = "worker", description = "The worker plane"),
        (name = "system", description = "Health, readiness, this document"),
    )
)]
pub(crate) struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("wdn_…")
                    .description(Some("An organization API key"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "worker_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("wdw_…")
                    .description(Some("A worker token"))
                    .build(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::ApiDoc;
    use serde_json::Value;
    use utoipa::OpenApi;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    fn query_parameter<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path}: no parameter {name}"))
    }

    /// The bounds the handlers enforce are the ones the document states.
    #[test]
    fn ranges_match_the_handlers() {
        let doc = document();
        for path in ["/v1/agents", "/v1/invocations"] {
            let limit = &query_parameter(&doc, path, "limit")["schema"];
            assert_eq!(
                (&limit["minimum"], &limit["maximum"]),
                (&Value::from(1), &Value::from(crate::MAX_PAGE_SIZE)),
                "{path}"
            );
            let cursor = &query_parameter(&doc, path, "cursor")["schema"];
            assert_eq!(cursor["pattern"], "^[A-Za-z0-9_-]*$", "{path}");
        }
        let window =
            &query_parameter(&doc, "/v1/tools/{tool_id}/health", "window_minutes")["schema"];
        assert_eq!(
            (&window["minimum"], &window["maximum"]),
            (&Value::from(1), &Value::from(crate::v1::MAX_WINDOW_MINUTES))
        );
        let secret = &doc["components"]["schemas"]["SetSecret"];
        assert_eq!(secret["properties"]["value"]["minLength"], 1);
        assert_eq!(secret["additionalProperties"], false);
        let body = &doc["paths"]["/v1/tools"]["post"]["requestBody"]["content"]["application/wasm"];
        assert!(body.is_object());
        let component = &doc["components"]["schemas"]["WasmComponent"];
        assert_eq!(
            (&component["type"], &component["format"]),
            (&Value::from("string"), &Value::from("binary"))
        );
    }

    /// Every route but the unauthenticated system ones names its credential.
    #[test]
    fn every_protected_route_declares_its_scheme() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let expected = if path.starts_with("/v1/") {
                    Some("api_key")
                } else if path.starts_with("/worker/v1/") {
                    Some("worker_token")
                } else {
                    None
                };
                let schemes: Vec<&str> = operation["security"]
                    .as_array()
                    .map(|s| {
                        s.iter()
                            .flat_map(|r| r.as_object().unwrap().keys())
                            .map(String::as_str)
                            .collect()
                    })
                    .unwrap_or_default();
                assert_eq!(schemes, Vec::from_iter(expected), "{method} {path}");
            }
        }
    }

    /// The agent-name pattern's class is exactly Rust's white space, which is
    /// what the core trims before refusing an empty name.
    #[test]
    fn the_name_pattern_is_rusts_white_space() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let pattern = schemas["NewAgent"]["properties"]["name"]["pattern"]
            .as_str()
            .unwrap();
        assert_eq!(
            schemas["AgentPatch"]["properties"]["name"]["pattern"],
            pattern
        );
        assert_eq!(schemas["NewAgent"]["properties"]["name"]["minLength"], 1);
        let class = pattern
            .strip_prefix("[^")
            .and_then(|p| p.strip_suffix(']'))
            .unwrap();
        let mut ranges = Vec::new();
        for item in class.split("\\u").skip(1) {
            let code = u32::from_str_radix(&item[..4], 16).unwrap();
            if item.len() > 4 {
                assert_eq!(&item[4..], "-", "{pattern}");
                ranges.push((code, None));
            } else if let Some((start, None)) = ranges.last().copied() {
                ranges.pop();
                ranges.push((start, Some(code)));
            } else {
                ranges.push((code, Some(code)));
            }
        }
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let code = u32::from(c);
            let listed = ranges
                .iter()
                .any(|&(start, end)| (start..=end.unwrap()).contains(&code));
            assert_eq!(listed, c.is_whitespace(), "U+{code:04X}");
        }
    }
}
