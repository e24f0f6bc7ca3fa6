"""Drives Warden's /mcp with LiveKit Agents' own MCP client
(`livekit.agents.llm.mcp.MCPServerHTTP`), the way an agent session uses it:
connect with the session's bearer header, turn the server's tools into
function tools for the LLM, and run one as the LLM would. No LiveKit room is
needed for that. Prints one JSON object on stdout for the Rust test to check.

usage: livekit_agents_client.py URL TOKEN TOOL ARGUMENTS_JSON
"""

import asyncio
import json
import sys

from livekit.agents.llm.mcp import MCPServerHTTP
from livekit.agents.llm.tool_context import ToolError


async def main(url: str, token: str, tool: str, arguments: dict) -> dict:
    server = MCPServerHTTP(
        url,
        headers={"Authorization": f"Bearer {token}"},
        client_session_timeout_seconds=30,
    )
    await server.initialize()
    try:
        tools = await server.list_tools()
        schemas = {t.info.name: t.info.raw_schema for t in tools}
        chosen = next(t for t in tools if t.info.name == tool)
        # What the agent hands back to the LLM as the tool's output.
        output = await chosen(raw_arguments=arguments)
        error = None
        try:
            await chosen(raw_arguments={"at": 12})
        except ToolError as e:
            error = e.message
    finally:
        await server.aclose()
    return {
        "tools": sorted(schemas),
        "schemas": schemas,
        "output": output,
        "invalid_arguments_error": error,
    }


if __name__ == "__main__":
    url, token, tool, arguments = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    print(json.dumps(asyncio.run(main(url, token, tool, arguments))))
