"""The errors a tool reports: the contract's `tool-error` kinds.

The message is meant for the LLM, which may say it to the caller: make it
plain and helpful, and never put a secret in it.
"""

from __future__ import annotations


class ToolError(Exception):
    """An error the tool reports to the LLM. Raise one of the subclasses."""

    #: The contract's name for the kind (`tool-error` case), e.g. `not_found`.
    kind: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidArguments(ToolError):
    """The arguments make no sense for the function (beyond the schema)."""

    kind = "invalid_arguments"


class NotConfigured(ToolError):
    """The tool is missing configuration or a required secret."""

    kind = "not_configured"


class Unauthorized(ToolError):
    """Upstream refused the credentials."""

    kind = "unauthorized"


class NotFound(ToolError):
    """The thing asked for does not exist."""

    kind = "not_found"


class RateLimited(ToolError):
    """Upstream asked to slow down."""

    kind = "rate_limited"


class Upstream(ToolError):
    """Upstream failed or answered something unusable."""

    kind = "upstream"


class Internal(ToolError):
    """Anything else that went wrong inside the tool."""

    kind = "internal"


#: Every kind, by its contract name.
KINDS: dict[str, type[ToolError]] = {
    cls.kind: cls
    for cls in (
        InvalidArguments,
        NotConfigured,
        Unauthorized,
        NotFound,
        RateLimited,
        Upstream,
        Internal,
    )
}
