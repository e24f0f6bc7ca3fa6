"""A small blocking HTTP client for tools, over the host's `wasi:http`.

Every request passes the host's policy: only the tool's `allowed_hosts` are
reachable, and the host adds declared credentials to requests for their
hosts, so a tool never holds its API key. Any status code is a response
(`raise_for_status` turns failures into the matching `ToolError`); a
request that gets no response raises a `ToolError` at once: `Internal` when
the host refused it, `Upstream` when the service could not be reached or
timed out. Redirects are returned as they are, not followed. Response
bodies are capped at `MAX_RESPONSE_BODY` bytes.
"""

from __future__ import annotations

import json as _json
import urllib.parse
from typing import Any, Mapping

from . import _host
from .errors import Internal, NotFound, RateLimited, ToolError, Unauthorized, Upstream

#: The largest response body read (the host may cap it lower).
MAX_RESPONSE_BODY = 16 * 1024 * 1024


class Response:
    """A response: `status`, `headers` (name/value pairs as sent), `body`."""

    def __init__(self, url: str, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        """The last value of the header `name` (any case), if present."""
        wanted = name.lower()
        found = None
        for key, value in self.headers:
            if key.lower() == wanted:
                found = value
        return found

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; `Upstream` when it is not JSON."""
        try:
            return _json.loads(self.body)
        except ValueError as e:
            raise Upstream(f"the service answered something unexpected: {e}") from None

    def raise_for_status(self) -> Response:
        """This response when 2xx; else the `ToolError` its status means:
        401/403 `Unauthorized`, 404 `NotFound`, 429 `RateLimited`, any other
        `Upstream`."""
        if self.ok:
            return self
        host = urllib.parse.urlsplit(self.url).hostname or self.url
        if self.status in (401, 403):
            raise Unauthorized(f"{host} refused the tool's credentials ({self.status})")
        if self.status == 404:
            raise NotFound(f"{host} found nothing there (404)")
        if self.status == 429:
            raise RateLimited(f"{host} asks to slow down; try again shortly")
        raise Upstream(f"{host} answered {self.status}")

    def __repr__(self) -> str:
        return f"<Response {self.status} from {self.url}>"


def request(
    method: str,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    form: Mapping[str, Any] | None = None,
    data: bytes | str | None = None,
    timeout: float | None = 10.0,
) -> Response:
    """Sends one request. `params` are added to the query, percent-encoded;
    the body is `json` (serialized, with its content type), `form`
    (`application/x-www-form-urlencoded`) or raw `data`; `timeout` (seconds)
    bounds connecting and each wait for data."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Internal(f"the tool built a bad request: `{url}` is not an http(s) URL")
    if params:
        query = urllib.parse.urlencode([(k, _text(v)) for k, v in params.items()])
        parts = parts._replace(query=f"{parts.query}&{query}" if parts.query else query)
        url = urllib.parse.urlunsplit(parts)
    pairs = [(k.lower(), v) for k, v in (headers or {}).items()]
    body = b""
    if sum(x is not None for x in (json, form, data)) > 1:
        raise Internal("the tool built a bad request: give one of json, form and data")
    if json is not None:
        body = _json.dumps(json, separators=(",", ":")).encode()
        pairs.append(("content-type", "application/json"))
    elif form is not None:
        body = urllib.parse.urlencode([(k, _text(v)) for k, v in form.items()]).encode()
        pairs.append(("content-type", "application/x-www-form-urlencoded"))
    elif data is not None:
        body = data.encode() if isinstance(data, str) else bytes(data)
    origin = f"{parts.scheme}://{parts.netloc}"
    try:
        answer = _host.current().send(
            _host.HttpRequest(method.upper(), url, pairs, body, timeout), MAX_RESPONSE_BODY
        )
    except _host.HttpFailure as e:
        raise _failure(e, origin, parts.hostname) from None
    return Response(url, answer.status, answer.headers, answer.body)


def get(url: str, **options: Any) -> Response:
    return request("GET", url, **options)


def post(url: str, **options: Any) -> Response:
    return request("POST", url, **options)


def put(url: str, **options: Any) -> Response:
    return request("PUT", url, **options)


def patch(url: str, **options: Any) -> Response:
    return request("PATCH", url, **options)


def delete(url: str, **options: Any) -> Response:
    return request("DELETE", url, **options)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _failure(e: _host.HttpFailure, origin: str, host: str) -> ToolError:
    if e.code == "HTTP_REQUEST_DENIED":
        return Internal(f"the tool is not allowed to reach {origin}")
    if e.code in ("CONNECTION_TIMEOUT", "CONNECTION_READ_TIMEOUT", "HTTP_RESPONSE_TIMEOUT"):
        return Upstream(f"{host} did not answer in time; try again shortly")
    if e.code == "HTTP_RESPONSE_BODY_SIZE":
        return Upstream(f"{host} answered more than the tool may read")
    if e.code in ("HTTP_REQUEST_URI_INVALID", "HTTP_REQUEST_METHOD_INVALID", "BAD_HEADER"):
        return Internal(f"the tool built a bad request: {e}")
    return Upstream(f"could not reach {host}: {e.code.lower().replace('_', ' ')}")
