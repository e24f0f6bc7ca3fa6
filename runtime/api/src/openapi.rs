//! The OpenAPI document, generated from the handlers' annotations.

use crate::{system, v1, worker};
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Warden",
        description = "Sandboxed WebAssembly tools for voice agents: the safe management API (`/v1`, organization API keys `wdn_…`) and the worker API (`/worker/v1`, worker tokens `wdw_…`). Errors are `application/problem+json` with a `kind`."
    ),
    paths(
        v1::list_tools, v1::get_tool, v1::install_tool, v1::delete_tool,
        v1::set_secret, v1::list_secrets, v1::delete_secret, v1::tool_health,
        v1::create_agent, v1::list_agents, v1::get_agent, v1::update_agent, v1::delete_agent,
        v1::set_agent_tool, v1::list_agent_tools, v1::delete_agent_tool, v1::test_agent_tool,
        v1::list_invocations,
        worker::toolset, worker::invoke,
        system::healthz, system::readyz, system::openapi_json, system::docs,
    ),
    components(schemas(crate::problem::Problem)),
    modifiers(&Security),
    tags(
        (name = "tools", description = "The tool catalogue"),
        (name = "secrets", description = "Write-only tool secrets"),
        (name = "agents", description = "Voice agents and their tools"),
        (name = "audit", description = "Invocation records and tool health"),
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
