"""Run a tool's functions in plain Python, for its own tests.

`ToolRunner` plays Warden's part: it checks the metadata as the host would,
hands out the secrets you give it (only declared ones, never a credential),
keeps log records, and sends HTTP with `urllib` under the same rules — only
the tool's `allowed_hosts` (plus `allow_hosts`, for local stand-ins), with
declared credentials added to requests for their hosts (plus
`credential_hosts`, as `warden tool call --credential-host` adds them)::

    runner = ToolRunner(Weather, config={"unit": "celsius"}, secrets={"api_key": "test"})
    assert runner.call("forecast", {"city": "Lisbon"})["city"] == "Lisbon"

A runner given `call=PhoneCall(...)` runs every call during that phone call
(`ctx.call`); `runner.spoken` is the line the last call asked to be spoken::

    call = PhoneCall("s-1", "inbound", caller_number="+15550100199")
    runner = ToolRunner(Receptionist, config={"contacts": {"+15550100199": "Ada"}}, call=call)
    runner.call("identify_caller")
    assert runner.spoken == "Hello Ada, good to hear from you again!"

Warden validates arguments against the full JSON Schema before a call; the
runner checks required and unknown keys and the JSON types of the
arguments, which catches most mistakes in a test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterable

from . import _host
from .errors import InvalidArguments
from .tool import PhoneCall, Tool

_JSON_TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


class ToolRunner:
    def __init__(
        self,
        tool: type[Tool],
        *,
        config: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
        allow_hosts: Iterable[str] = (),
        credential_hosts: dict[str, list[str]] | None = None,
        call_id: str = "test-call",
        organization_id: str = "test-organization",
        agent_id: str | None = "test-agent",
        call: PhoneCall | None = None,
        time_left: float = 10.0,
    ) -> None:
        self.tool = tool
        self.meta = tool.metadata()
        self.config = config or {}
        self.secrets = dict(secrets or {})
        self.allow_hosts = list(allow_hosts)
        self.credential_hosts = {k: list(v) for k, v in (credential_hosts or {}).items()}
        self.call_context = {
            "call_id": call_id,
            "organization_id": organization_id,
            "agent_id": agent_id,
            "call": call,
            "time_left": time_left,
        }
        #: The line the last call asked to be spoken (`ctx.speak`); `None`
        #: when it asked for none or raised.
        self.spoken: str | None = None
        #: Every `(level, message)` the tool logged, in order.
        self.logs: list[tuple[str, str]] = []
        #: Every request the tool sent, as the service received it.
        self.requests: list[_host.HttpRequest] = []

    def call(self, function: str, arguments: dict[str, Any] | None = None) -> Any:
        """Runs `function` with `arguments`; its result as decoded JSON, or
        the `ToolError` it raised."""
        arguments = arguments or {}
        spec = next((f for f in self.meta["functions"] if f["name"] == function), None)
        if spec is None:
            raise KeyError(f"{self.meta['name']} has no function {function!r}")
        _check(spec["parameters"], arguments, "arguments")
        _check(self.meta["config_schema"], self.config, "config")
        self.spoken = None
        with self._installed():
            result, self.spoken = self.tool._invoke(self._call(), function, json.dumps(arguments))
        return json.loads(result)

    def test(self) -> Any:
        """Runs the tool's self-check."""
        with self._installed():
            return json.loads(self.tool._test(self._call()))

    def _call(self) -> dict[str, Any]:
        return {**self.call_context, "config": json.dumps(self.config)}

    def _installed(self) -> _Installed:
        return _Installed(_NativeHost(self))


class _Installed:
    def __init__(self, host: _host.Host) -> None:
        self.host = host

    def __enter__(self) -> None:
        self.previous = _host.install(self.host)

    def __exit__(self, *exc: object) -> None:
        _host.install(self.previous)


class _NativeHost:
    def __init__(self, runner: ToolRunner) -> None:
        self.runner = runner
        meta = runner.meta
        self.declared = {s["name"] for s in meta["secrets"]}
        self.host_only = {c["secret"] for c in meta["credentials"]}
        if meta["oauth"]:
            # The OAuth2 secrets (the host's `oauth::SECRET_NAMES`).
            self.host_only |= self.declared & {
                "access_token",
                "access_token_expires_at",
                "refresh_token",
                "client_id",
                "client_secret",
            }

    def secret(self, name: str) -> str | None:
        if name not in self.declared:
            return _host.NOT_DECLARED
        if name in self.host_only:
            return _host.HOST_ONLY if name in self.runner.secrets else None
        return self.runner.secrets.get(name)

    def log(self, level: str, message: str) -> None:
        self.runner.logs.append((level, message))

    def send(self, request: _host.HttpRequest, max_body: int) -> _host.HttpResponse:
        meta = self.runner.meta
        allowed = [*meta["allowed_hosts"], *self.runner.allow_hosts]
        if not any(host_matches(pattern, request.url) for pattern in allowed):
            raise _host.HttpFailure("HTTP_REQUEST_DENIED")
        headers = dict(request.headers)
        for credential in meta["credentials"]:
            value = self.runner.secrets.get(credential["secret"])
            hosts = [*credential["hosts"], *self.runner.credential_hosts.get(credential["secret"], [])]
            if value is not None and any(host_matches(p, request.url) for p in hosts):
                headers[credential["header"].lower()] = credential["format"].replace("{}", value)
        sent = _host.HttpRequest(
            request.method, request.url, list(headers.items()), request.body, request.timeout
        )
        self.runner.requests.append(sent)
        opener = urllib.request.build_opener(_NoRedirects)
        native = urllib.request.Request(
            request.url, data=request.body or None, headers=headers, method=request.method
        )
        try:
            response = opener.open(native, timeout=request.timeout)
        except urllib.error.HTTPError as e:
            response = e
        except TimeoutError:
            raise _host.HttpFailure("CONNECTION_TIMEOUT") from None
        except (urllib.error.URLError, OSError) as e:
            raise _host.HttpFailure("CONNECTION_REFUSED", str(e)) from None
        with response:
            body = response.read(max_body + 1)
        if len(body) > max_body:
            raise _host.HttpFailure("HTTP_RESPONSE_BODY_SIZE")
        return _host.HttpResponse(response.status, list(response.headers.items()), body)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def host_matches(pattern: str, url: str) -> bool:
    """Whether `url` is on a host `pattern` (`scheme://host[:port]`, with an
    optional leading `*.` label wildcard) names, as the host decides it."""
    want = urllib.parse.urlsplit(pattern)
    got = urllib.parse.urlsplit(url)
    if want.scheme != got.scheme or not got.hostname or not want.hostname:
        return False
    default = {"http": 80, "https": 443}.get(got.scheme)
    if (want.port or default) != (got.port or default):
        return False
    host = got.hostname.lower()
    wanted = want.hostname.lower()
    if wanted.startswith("*."):
        return host.endswith(wanted[1:]) and len(host) > len(wanted) - 1
    return host == wanted


def _check(schema: dict[str, Any], value: Any, where: str) -> None:
    """The top level of `value` against an object `schema`: required and
    unknown keys, and each property's JSON type."""
    if not isinstance(value, dict):
        raise InvalidArguments(f"{where} must be a JSON object")
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            raise InvalidArguments(f"{where}: `{name}` is required")
    for name, item in value.items():
        if name not in properties:
            if schema.get("additionalProperties") is False:
                raise InvalidArguments(f"{where}: unknown property `{name}`")
            continue
        kinds = properties[name].get("type")
        if kinds is None:
            continue
        kinds = kinds if isinstance(kinds, list) else [kinds]
        ok = any(
            isinstance(item, _JSON_TYPES[k]) and not (k in ("integer", "number") and isinstance(item, bool))
            for k in kinds
        )
        if not ok:
            raise InvalidArguments(f"{where}: `{name}` must be {' or '.join(kinds)}")
