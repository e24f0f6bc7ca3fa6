"""Write Warden tools in Python.

A tool is a class: its docstring says what it is for, class attributes
declare its configuration, secrets and hosts, and methods marked
`@function` are what the LLM may call. `python -m warden_tool build` makes
it a WebAssembly component; `warden_tool.testing.ToolRunner` runs it in
plain Python for its tests.
"""

from . import http, log
from .errors import (
    Internal,
    InvalidArguments,
    NotConfigured,
    NotFound,
    RateLimited,
    ToolError,
    Unauthorized,
    Upstream,
)
from .tool import Context, Credential, OAuth, PhoneCall, Secret, Tool, function

__all__ = [
    "Context",
    "Credential",
    "Internal",
    "InvalidArguments",
    "NotConfigured",
    "NotFound",
    "OAuth",
    "PhoneCall",
    "RateLimited",
    "Secret",
    "Tool",
    "ToolError",
    "Unauthorized",
    "Upstream",
    "function",
    "http",
    "log",
]
