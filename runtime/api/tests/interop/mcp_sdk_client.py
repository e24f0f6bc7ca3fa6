"""Drives Warden's /mcp with the official MCP Python SDK (`mcp`), as a call's
MCP client would: initialize with the session's bearer token, list the tools,
call one. Prints one JSON object on stdout for the Rust test to check.

usage: mcp_sdk_client.py URL TOKEN TOOL ARGUMENTS_JSON
"""

import asyncio
import json
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, token: str, tool: str, arguments: dict) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http_client:
        async with streamable_http_client(url, http_client=http_client) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write, read_timeout_seconds=30) as session:
                initialized = await session.initialize()
                listed = await session.list_tools()
                called = await session.call_tool(tool, arguments)
    return {
        "protocol_version": str(initialized.protocol_version),
        "server_name": initialized.server_info.name,
        "tools": [
            {
                "name": t.name,
                "description": t.description,
                "input_schema": t.input_schema,
                "read_only": t.annotations.read_only_hint if t.annotations else None,
            }
            for t in listed.tools
        ],
        "call": {
            "is_error": called.is_error,
            "text": [c.text for c in called.content if getattr(c, "type", None) == "text"],
            "structured": called.structured_content,
        },
    }


if __name__ == "__main__":
    url, token, tool, arguments = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    print(json.dumps(asyncio.run(main(url, token, tool, arguments))))
