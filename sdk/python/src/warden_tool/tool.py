"""A tool is a class: its docstring, its settings and its decorated functions
become the component's metadata; calls are dispatched to the functions.

Nothing here touches WebAssembly: the host (the component's imports, or the
native stand-in of `warden_tool.testing`) is reached through `_host.current()`.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Generic, Literal, TypeVar

from . import _host
from .errors import Internal, NotConfigured, ToolError
from .schema import convert, dataclass_schema, description_of, parameters_schema, to_json

C = TypeVar("C")

#: What the host accepts as a tool's or a function's name.
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Secret:
    """A secret the tool declares. The operator sets it; the tool reads it
    with `ctx.secret(name)`, or never sees it when it is a credential."""

    name: str
    description: str
    required: bool = True


@dataclass(frozen=True)
class Credential:
    """A declared secret the host puts into the tool's requests to `hosts`
    (as header `header`, `format` with `{}` for the value): the tool uses it
    without ever reading it."""

    secret: str
    hosts: list[str]
    header: str = "authorization"
    format: str = "Bearer {}"


@dataclass(frozen=True)
class OAuth:
    """OAuth2 settings, when the tool's credentials are tokens the host refreshes."""

    authorize_url: str
    token_url: str
    scopes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PhoneCall:
    """The phone call an invocation is made during. The numbers are personal
    data: its `repr` leaves them out, and they belong in no log record."""

    #: Warden's id of the call session.
    session_id: str
    #: Who called whom: `"inbound"` (someone called the agent) or
    #: `"outbound"` (the agent called someone).
    direction: Literal["inbound", "outbound"]
    #: The number of the person on the phone (who called, or who was
    #: called), E.164, when known: e.g. to look them up in a CRM.
    caller_number: str | None = field(default=None, repr=False)
    #: The agent's own number, E.164, when known.
    agent_number: str | None = field(default=None, repr=False)
    #: The LiveKit room, when there is one.
    room: str | None = None


@dataclass(frozen=True)
class Context(Generic[C]):
    """Who is calling, with which configuration (an instance of the tool's
    `config` class), during which phone call, and the way to the call's
    secrets and to a line spoken with the result."""

    call_id: str
    organization_id: str
    agent_id: str | None
    config: C
    #: The phone call this invocation is made during; `None` outside a call
    #: (a test, a call through the management API).
    call: PhoneCall | None = None
    #: Seconds the host lets this call run from when it started (the voice
    #: turn's budget or the tool's time limit, whichever is shorter): give up
    #: on a slow upstream in time to say so.
    time_left: float = 10.0
    # The one thing a call changes in its frozen context: a box for the line.
    _spoken: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    def speak(self, line: str) -> None:
        """Says `line` to the person on the phone with this call's result: a
        short sentence such as "You're booked for Tuesday at ten." Clients
        that speak results use it (MCP gets it as the text content), and the
        result stays the JSON the function returns. The last line given wins;
        at most 1 KiB reaches the caller. Dropped when the function raises."""
        if not isinstance(line, str):
            raise TypeError(f"ctx.speak takes a str, got {type(line).__name__}")
        self._spoken[:] = [line]

    @property
    def spoken(self) -> str | None:
        """The line `speak` set, if any."""
        return self._spoken[-1] if self._spoken else None

    def secret(self, name: str) -> str:
        """The declared secret `name`; `NotConfigured` when it is not set."""
        value = self.try_secret(name)
        if value is None:
            raise NotConfigured(f"the secret `{name}` has not been set")
        return value

    def try_secret(self, name: str) -> str | None:
        """The declared secret `name`, or `None` when it is not set."""
        answer = _host.current().secret(name)
        if answer == _host.NOT_DECLARED:
            raise Internal(f"the tool asked for the secret `{name}`, which it does not declare")
        if answer == _host.HOST_ONLY:
            raise Internal(
                f"the secret `{name}` is a credential: the host adds it to the tool's requests "
                "to its credential hosts, and the tool cannot read it"
            )
        return answer


@dataclass(frozen=True)
class _Function:
    name: str
    read_only: bool
    idempotent: bool
    destructive: bool
    open_world: bool
    method: Callable[..., Any]


def function(
    method: Callable[..., Any] | None = None,
    *,
    read_only: bool = False,
    idempotent: bool = False,
    destructive: bool = False,
    open_world: bool = True,
    name: str | None = None,
) -> Any:
    """Marks a method as a function the LLM may call.

    The method takes `self`, a `Context` and the LLM's arguments, each with a
    type hint; its docstring is the description the LLM reads (an `Args:`
    section describes the arguments). It returns JSON data (dicts, lists,
    dataclasses, …) or raises a `ToolError`.

    The effect hints, which MCP clients see as annotations: `read_only` (it
    changes nothing upstream), `idempotent` (repeating it with the same
    arguments has no further effect), `destructive` (it may delete or
    overwrite rather than only add) and `open_world` (it reaches outside
    services or people; `open_world=False` for a function that works within
    a closed system). `name` renames it.
    """

    def mark(method: Callable[..., Any]) -> Callable[..., Any]:
        method.__warden_function__ = _Function(  # type: ignore[attr-defined]
            name or method.__name__, read_only, idempotent, destructive, open_world, method
        )
        return method

    return mark(method) if method is not None else mark


class Tool:
    """Subclass this to write a tool. Class attributes say what it is:

    - the class docstring: what the tool is for (required);
    - `name` (required) and `version`;
    - `config`: a dataclass for the per-agent configuration (optional);
    - `secrets`, `allowed_hosts`, `credentials`, `oauth`: what it may use;
    - methods marked `@function`: what the LLM may call; a method named
      `test(self, ctx)` is the tool's self-check.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "0.1.0"
    config: ClassVar[type | None] = None
    secrets: ClassVar[list[Secret]] = []
    allowed_hosts: ClassVar[list[str]] = []
    credentials: ClassVar[list[Credential]] = []
    oauth: ClassVar[OAuth | None] = None

    @classmethod
    def functions(cls) -> dict[str, _Function]:
        """The tool's functions by name, in definition order."""
        found: dict[str, _Function] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                spec = getattr(value, "__warden_function__", None)
                if spec is not None:
                    found[spec.name] = spec
        return found

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        """The tool's metadata, as the contract's `tool-metadata` record
        (JSON documents still as data). Raises `TypeError` or `ValueError`
        on a tool the host would refuse, naming what is wrong."""
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not NAME.match(name):
            raise ValueError(f"{cls.__name__}.name must match {NAME.pattern}, got {name!r}")
        description = description_of(cls.__doc__)
        if not description:
            raise ValueError(f"{cls.__name__} needs a docstring: the tool's description")
        functions = cls.functions()
        if not functions:
            raise ValueError(f"{cls.__name__} has no @function methods")
        specs = []
        for spec in functions.values():
            if not NAME.match(spec.name):
                raise ValueError(f"function name {spec.name!r} must match {NAME.pattern}")
            summary = description_of(spec.method.__doc__)
            if not summary:
                raise ValueError(f"{cls.__name__}.{spec.method.__name__} needs a docstring")
            specs.append(
                {
                    "name": spec.name,
                    "description": summary,
                    "parameters": parameters_schema(spec.method, skip=2),
                    "read_only": spec.read_only,
                    "idempotent": spec.idempotent,
                    "destructive": spec.destructive,
                    "open_world": spec.open_world,
                }
            )
        return {
            "name": name,
            "version": cls.version,
            "description": description,
            "config_schema": cls._config_schema(),
            "secrets": [dataclasses.asdict(s) for s in cls.secrets],
            "allowed_hosts": list(cls.allowed_hosts),
            "credentials": [dataclasses.asdict(c) for c in cls.credentials],
            "functions": specs,
            "oauth": dataclasses.asdict(cls.oauth) if cls.oauth else None,
        }

    @classmethod
    def _config_schema(cls) -> dict[str, Any]:
        if cls.config is None:
            return {"type": "object", "properties": {}, "additionalProperties": False}
        if not dataclasses.is_dataclass(cls.config):
            raise TypeError(f"{cls.__name__}.config must be a dataclass")
        return dataclass_schema(cls.config)

    # -- calls -------------------------------------------------------------

    @classmethod
    def _context(cls, call: dict[str, Any]) -> Context[Any]:
        """The context of a call, from the contract's `call-context` as a dict
        (`config` as JSON text, `call` a `PhoneCall` or `None`, `time_left` in
        seconds)."""
        config = json.loads(call["config"])
        if cls.config is not None:
            config = convert(config, cls.config)
        return Context(
            call["call_id"],
            call["organization_id"],
            call.get("agent_id"),
            config,
            call["call"],
            call["time_left"],
        )

    @classmethod
    def _prepare(cls) -> dict[str, tuple[_Function, dict[str, Any]]]:
        """Each function with its parameters' type hints, worked out once.

        A component is pre-initialized after its modules are imported
        (`_component.world` calls this then), so every call starts with the
        answer in its snapshot instead of inspecting signatures again.
        """
        plan = cls.__dict__.get("_plan")
        if plan is None:
            plan = {}
            for name, spec in cls.functions().items():
                hints = typing.get_type_hints(spec.method, include_extras=True)
                parameters = list(inspect.signature(spec.method).parameters)[2:]
                plan[name] = (spec, {p: hints[p] for p in parameters if p in hints})
            cls._plan = plan
        return plan

    @classmethod
    def _invoke(cls, call: dict[str, Any], function: str, arguments: str) -> tuple[str, str | None]:
        """Runs `function`; returns its result as JSON text with the line it
        asked to be spoken, or raises `ToolError` (and the line is dropped)."""
        entry = cls._prepare().get(function)
        if entry is None:
            raise Internal(f"the tool has no function `{function}`")
        spec, hints = entry
        ctx = cls._context(call)
        given = json.loads(arguments)
        kwargs = {k: convert(v, hints[k]) for k, v in given.items() if k in hints}
        result = _guarded(lambda: spec.method(cls(), ctx, **kwargs))
        return result, ctx.spoken

    @classmethod
    def _test(cls, call: dict[str, Any]) -> str:
        ctx = cls._context(call)
        own = getattr(cls, "test", None)
        if callable(own):
            return _guarded(lambda: own(cls(), ctx))
        return _guarded(lambda: cls._default_test(ctx))

    @classmethod
    def _default_test(cls, ctx: Context[Any]) -> dict[str, Any]:
        """The configuration parsed (it would not be here otherwise) and
        every required secret is set (a credential counts as set)."""
        host = _host.current()
        for secret in cls.secrets:
            if secret.required and host.secret(secret.name) is None:
                raise NotConfigured(f"the secret `{secret.name}` has not been set")
        return {"ok": True}


def _guarded(run: Callable[[], Any]) -> str:
    """Runs a tool's code: its result as JSON text, a `ToolError` as is,
    anything else logged for the operator and reported as `internal`."""
    try:
        return json.dumps(to_json(run()), ensure_ascii=False, separators=(",", ":"))
    except ToolError:
        raise
    except Exception as e:  # noqa: BLE001 - reported as the contract's `internal`
        _host.current().log("error", f"unhandled {type(e).__name__}: {e}")
        raise Internal("the tool failed unexpectedly") from e
