"""JSON Schemas from Python type hints, and arguments back into those types.

Warden validates every call's arguments against the function's schema before
the tool runs, so the schema is the contract with the LLM: it is derived
from the function's signature here, never written twice.

Supported types: `str`, `int`, `float`, `bool`, `None`, `Any`, `list[T]`,
`dict[str, T]`, `Optional[T]` / `T | None`, unions, `Literal[...]`, `Enum`
subclasses, and dataclasses (objects; fields without a default are
required; unknown keys are refused). `Annotated[T, "text"]` gives a
description, `Annotated[T, {"minimum": 0}]` adds keywords to the schema.
Anything else is refused with a `TypeError` naming it.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import types
import typing
from typing import Any, Callable

JsonSchema = dict[str, Any]

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def schema_of(hint: Any, where: str) -> JsonSchema:
    """The JSON Schema for values of the type `hint` (`where` names it in errors)."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(hint)
        schema = schema_of(base, where)
        for extra in extras:
            if isinstance(extra, str):
                schema["description"] = inspect.cleandoc(extra)
            elif isinstance(extra, dict):
                schema.update(extra)
        return schema
    if hint is Any:
        return {}
    if hint is None or hint is type(None):
        return {"type": "null"}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(hint))}
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(hint)
        schemas = [schema_of(m, where) for m in members]
        simple = [s.get("type") for s in schemas if set(s) == {"type"}]
        if len(simple) == len(schemas):
            return {"type": simple}
        return {"anyOf": schemas}
    if origin in (list, typing.List) or hint is list:
        (item,) = typing.get_args(hint) or (Any,)
        return {"type": "array", "items": schema_of(item, f"{where}[]")}
    if origin in (dict, typing.Dict) or hint is dict:
        key, value = typing.get_args(hint) or (str, Any)
        if key is not str:
            raise TypeError(f"{where}: JSON object keys are strings, not {key!r}")
        return {"type": "object", "additionalProperties": schema_of(value, f"{where}{{}}")}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [member.value for member in hint]}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return dataclass_schema(hint)
    raise TypeError(f"{where}: cannot describe {hint!r} as JSON (see warden_tool.schema)")


def dataclass_schema(cls: type) -> JsonSchema:
    """An object schema for the dataclass `cls`: one property per field."""
    hints = typing.get_type_hints(cls, include_extras=True)
    documented = docstring_section(cls.__doc__, ("Attributes", "Fields"))
    properties: JsonSchema = {}
    required: list[str] = []
    for field in dataclasses.fields(cls):
        schema = schema_of(hints[field.name], f"{cls.__name__}.{field.name}")
        described = field.metadata.get("description") or documented.get(field.name)
        if described and "description" not in schema:
            schema["description"] = described
        if field.default is not dataclasses.MISSING and _is_json(field.default):
            schema.setdefault("default", _plain(field.default))
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            required.append(field.name)
        properties[field.name] = schema
    schema: JsonSchema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    summary = description_of(cls.__doc__)
    if summary and not _is_generated_doc(cls, summary):
        schema["description"] = summary
    return schema


def parameters_schema(func: Callable[..., Any], skip: int) -> JsonSchema:
    """The arguments object of `func`, whose first `skip` parameters are not
    the LLM's (`self`, the context)."""
    signature = inspect.signature(func)
    hints = typing.get_type_hints(func, include_extras=True)
    documented = docstring_section(func.__doc__, ("Args", "Arguments", "Parameters"))
    properties: JsonSchema = {}
    required: list[str] = []
    for parameter in list(signature.parameters.values())[skip:]:
        where = f"{func.__qualname__}({parameter.name})"
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"{where}: *args and **kwargs cannot be described as JSON")
        if parameter.name not in hints:
            raise TypeError(f"{where}: needs a type hint")
        schema = schema_of(hints[parameter.name], where)
        if parameter.name in documented and "description" not in schema:
            schema["description"] = documented[parameter.name]
        if parameter.default is parameter.empty:
            required.append(parameter.name)
        elif _is_json(parameter.default):
            schema.setdefault("default", _plain(parameter.default))
        properties[parameter.name] = schema
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def convert(value: Any, hint: Any) -> Any:
    """`value` (decoded JSON, already valid against `schema_of(hint)`) as a
    `hint`: dataclasses and enums are built, containers converted inside."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return convert(value, typing.get_args(hint)[0])
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        for member in typing.get_args(hint):
            if member is not type(None) and _accepts(member, value):
                return convert(value, member)
        return value
    if origin in (list, typing.List) and isinstance(value, list):
        (item,) = typing.get_args(hint) or (Any,)
        return [convert(v, item) for v in value]
    if origin in (dict, typing.Dict) and isinstance(value, dict):
        _, item = typing.get_args(hint) or (str, Any)
        return {k: convert(v, item) for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type) and isinstance(value, dict):
        hints = typing.get_type_hints(hint, include_extras=True)
        return hint(**{k: convert(v, hints[k]) for k, v in value.items() if k in hints})
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def to_json(value: Any) -> Any:
    """`value` as plain JSON data: dataclasses as objects, enums as values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def description_of(doc: str | None) -> str:
    """A docstring's description: everything before its first section."""
    if not doc:
        return ""
    lines = []
    for line in inspect.cleandoc(doc).splitlines():
        if _SECTION.match(line):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def docstring_section(doc: str | None, names: tuple[str, ...]) -> dict[str, str]:
    """`name: text` entries of a Google-style docstring section (`Args:`)."""
    if not doc:
        return {}
    entries: dict[str, str] = {}
    current: str | None = None
    inside = False
    for line in inspect.cleandoc(doc).splitlines():
        heading = _SECTION.match(line)
        if heading:
            inside = heading.group(1) in names
            current = None
            continue
        if not inside:
            continue
        entry = _ENTRY.match(line)
        if entry:
            current = entry.group(1)
            entries[current] = entry.group(2).strip()
        elif current and line.strip():
            entries[current] = f"{entries[current]} {line.strip()}".strip()
    return entries


_SECTION = re.compile(r"^(\w[\w ]*):\s*$")
_ENTRY = re.compile(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, enum.Enum))


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _accepts(hint: Any, value: Any) -> bool:
    """Whether a JSON `value` may be of the type `hint` (to pick a union member)."""
    origin = typing.get_origin(hint) or hint
    if origin is typing.Annotated:
        return _accepts(typing.get_args(hint)[0], value)
    if dataclasses.is_dataclass(origin) or origin in (dict, typing.Dict):
        return isinstance(value, dict)
    if origin in (list, typing.List):
        return isinstance(value, list)
    if origin is bool:
        return isinstance(value, bool)
    if origin in (int, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is str:
        return isinstance(value, str)
    return True


def _is_generated_doc(cls: type, doc: str) -> bool:
    """Dataclasses without a docstring get `Name(field: type, ...)`."""
    return doc.startswith(f"{cls.__name__}(")
