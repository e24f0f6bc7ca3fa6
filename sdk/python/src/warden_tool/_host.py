"""What a tool asks of its host: secrets, log records and outbound HTTP.

Inside a component the host is Warden, reached through the component's
imports (`warden_tool._component`). Outside one — a tool's own tests — it is
`warden_tool.testing`'s stand-in. Exactly one is current at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: `Host.secret`'s answers besides a value and `None` (not set).
NOT_DECLARED = "\x00not-declared"
HOST_ONLY = "\x00host-only"

LEVELS = ("trace", "debug", "info", "warn", "error")


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    timeout: float | None


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class HttpFailure(Exception):
    """The request got no response: `code` is the reason (`wasi:http`'s
    `error-code` name, e.g. `HTTP_REQUEST_DENIED` when the host's policy
    refused it, `CONNECTION_TIMEOUT`)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}{': ' + detail if detail else ''}")
        self.code = code


class Host(Protocol):
    def secret(self, name: str) -> str | None:
        """The secret's value; `None` when not set; `NOT_DECLARED` or `HOST_ONLY`."""

    def log(self, level: str, message: str) -> None: ...

    def send(self, request: HttpRequest, max_body: int) -> HttpResponse:
        """Sends `request`; raises `HttpFailure` when there is no response or
        its body is longer than `max_body`."""


_current: Host | None = None


def current() -> Host:
    if _current is None:
        raise RuntimeError(
            "no Warden host: run the tool as a component, or in warden_tool.testing.ToolRunner"
        )
    return _current


def install(host: Host | None) -> Host | None:
    """Makes `host` current; returns the one it replaces."""
    global _current
    previous, _current = _current, host
    return previous
