"""The tool inside a component: the `tool` world's exports, over the class,
and the host's imports (`secrets`, `log`, `wasi:http`) as `_host.Host`.

Only importable in a component built by componentize-py, which generates
the `wit_world` bindings; `warden_tool.build` wires it to the author's tool.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from componentize_py_types import Err
from wit_world.imports import log as wit_log
from wit_world.imports import outgoing_handler, secrets, streams
from wit_world.imports import wasi_http_types as http_types
from wit_world.imports import warden_tool_types as types

from . import _host
from .errors import ToolError
from .tool import PhoneCall, Tool

_LEVELS = {
    "trace": wit_log.Level.TRACE,
    "debug": wit_log.Level.DEBUG,
    "info": wit_log.Level.INFO,
    "warn": wit_log.Level.WARN,
    "error": wit_log.Level.ERROR,
}

_METHODS = {
    "GET": http_types.Method_Get,
    "HEAD": http_types.Method_Head,
    "POST": http_types.Method_Post,
    "PUT": http_types.Method_Put,
    "DELETE": http_types.Method_Delete,
    "OPTIONS": http_types.Method_Options,
    "PATCH": http_types.Method_Patch,
}

_ERRORS = {
    "invalid_arguments": types.ToolError_InvalidArguments,
    "not_configured": types.ToolError_NotConfigured,
    "unauthorized": types.ToolError_Unauthorized,
    "not_found": types.ToolError_NotFound,
    "rate_limited": types.ToolError_RateLimited,
    "upstream": types.ToolError_Upstream,
    "internal": types.ToolError_Internal,
}

#: Bytes asked of a stream at a time.
_CHUNK = 64 * 1024


class ComponentHost:
    """Warden, through the component's imports."""

    def secret(self, name: str) -> str | None:
        try:
            return secrets.get(name)
        except Err as e:
            return {
                secrets.SecretError.NOT_SET: None,
                secrets.SecretError.NOT_DECLARED: _host.NOT_DECLARED,
                secrets.SecretError.HOST_ONLY: _host.HOST_ONLY,
            }[e.value]

    def log(self, level: str, message: str) -> None:
        wit_log.log(_LEVELS[level], message)

    def send(self, request: _host.HttpRequest, max_body: int) -> _host.HttpResponse:
        parts = urllib.parse.urlsplit(request.url)
        try:
            headers = http_types.Fields.from_list([(k, v.encode()) for k, v in request.headers])
        except Err as e:
            raise _host.HttpFailure("BAD_HEADER", type(e.value).__name__) from None
        outgoing = http_types.OutgoingRequest(headers)
        method = _METHODS.get(request.method)
        outgoing.set_method(method() if method else http_types.Method_Other(request.method))
        outgoing.set_scheme(
            http_types.Scheme_Https() if parts.scheme == "https" else http_types.Scheme_Http()
        )
        outgoing.set_authority(parts.netloc)
        outgoing.set_path_with_query(parts.path + (f"?{parts.query}" if parts.query else "") or "/")
        options = http_types.RequestOptions()
        if request.timeout is not None:
            nanos = int(request.timeout * 1e9)
            options.set_connect_timeout(nanos)
            options.set_first_byte_timeout(nanos)
            options.set_between_bytes_timeout(nanos)
        body = outgoing.body()
        try:
            future = outgoing_handler.handle(outgoing, options)
        except Err as e:
            body.__exit__(None, None, None)
            raise _host.HttpFailure(_code(e.value)) from None
        if request.body:
            # The stream is a child of the body: dropped before the body is
            # finished (which consumes it).
            with body.write() as stream:
                for start in range(0, len(request.body), 4096):
                    stream.blocking_write_and_flush(request.body[start : start + 4096])
        http_types.OutgoingBody.finish(body, None)
        with future:
            answer = future.get()
            while answer is None:
                with future.subscribe() as ready:
                    ready.block()
                answer = future.get()
        inner = answer.value
        if isinstance(inner, Err):
            raise _host.HttpFailure(_code(inner.value))
        with inner.value as response:
            status = response.status()
            with response.headers() as fields:
                headers = [(k, v.decode("latin-1")) for k, v in fields.entries()]
            return _host.HttpResponse(status, headers, _read_body(response, max_body))


def _read_body(response: Any, max_body: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with response.consume() as body:
        with body.stream() as stream:
            while True:
                try:
                    chunk = stream.blocking_read(_CHUNK)
                except Err as e:
                    if isinstance(e.value, streams.StreamError_Closed):
                        break
                    raise _host.HttpFailure("HTTP_RESPONSE_INCOMPLETE") from None
                size += len(chunk)
                if size > max_body:
                    raise _host.HttpFailure("HTTP_RESPONSE_BODY_SIZE")
                chunks.append(chunk)
    return b"".join(chunks)


def _code(error: Any) -> str:
    """`ErrorCode_HttpRequestDenied` → `HTTP_REQUEST_DENIED`."""
    name = type(error).__name__.removeprefix("ErrorCode_")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


_DIRECTIONS = {
    types.CallDirection.INBOUND: "inbound",
    types.CallDirection.OUTBOUND: "outbound",
}


def _call(ctx: types.CallContext) -> dict[str, Any]:
    call = ctx.call
    return {
        "call_id": ctx.call_id,
        "organization_id": ctx.organization_id,
        "agent_id": ctx.agent_id,
        "config": ctx.config,
        "call": None
        if call is None
        else PhoneCall(
            session_id=call.session_id,
            direction=_DIRECTIONS[call.direction],
            caller_number=call.caller_number,
            agent_number=call.agent_number,
            room=call.room,
        ),
        "time_left": ctx.remaining_ms / 1000,
    }


def world(tool: type[Tool]) -> type:
    """The `tool` world's exports for `tool`, as componentize-py wants them."""
    _host.install(ComponentHost())
    # Worked out now, while the component is pre-initialized: every call's
    # instance starts from the snapshot with these in memory.
    tool._prepare()
    m = tool.metadata()

    class WitWorld:
        def metadata(self) -> types.ToolMetadata:
            return types.ToolMetadata(
                name=m["name"],
                version=m["version"],
                description=m["description"],
                config_schema=json.dumps(m["config_schema"]),
                secrets=[types.SecretSpec(**s) for s in m["secrets"]],
                allowed_hosts=m["allowed_hosts"],
                credentials=[types.Credential(**c) for c in m["credentials"]],
                functions=[
                    types.FunctionSpec(
                        name=f["name"],
                        description=f["description"],
                        parameters=json.dumps(f["parameters"]),
                        read_only=f["read_only"],
                        idempotent=f["idempotent"],
                        destructive=f["destructive"],
                        open_world=f["open_world"],
                        # The SDK does not describe results yet.
                        output_schema=None,
                    )
                    for f in m["functions"]
                ],
                oauth=types.Oauth2(**m["oauth"]) if m["oauth"] else None,
            )

        def invoke(self, ctx: types.CallContext, function: str, arguments: str) -> types.ToolResult:
            try:
                result, spoken = tool._invoke(_call(ctx), function, arguments)
            except ToolError as e:
                raise Err(_ERRORS[e.kind](e.message)) from None
            return types.ToolResult(json=result, spoken=spoken)

        def test(self, ctx: types.CallContext) -> str:
            try:
                return tool._test(_call(ctx))
            except ToolError as e:
                raise Err(_ERRORS[e.kind](e.message)) from None

    return WitWorld

