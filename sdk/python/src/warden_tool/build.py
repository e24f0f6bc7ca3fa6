"""`python -m warden_tool build`: a tool module into a Warden component.

Runs componentize-py against the `tool` world (the WIT ships inside this
package) with a generated entry module that exports the module's `Tool`
subclass, so the author's code never mentions bindings::

    python -m warden_tool build app.py -o my_tool.wasm
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from .tool import Tool

#: The contract's WIT, as released with this SDK.
WIT = Path(__file__).parent / "wit"

_ENTRY = """\
from warden_tool._component import world as _world
from warden_tool.build import find_tool as _find_tool
import {module} as _app

WitWorld = _world(_find_tool(_app))
"""


def find_tool(module: ModuleType) -> type[Tool]:
    """The `Tool` subclass `module` defines (its `TOOL`, when it defines several)."""
    chosen = getattr(module, "TOOL", None)
    if chosen is not None:
        return chosen
    tools = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, Tool)
        and value is not Tool
        and value.__module__ == module.__name__
    ]
    if len(tools) != 1:
        names = ", ".join(t.__name__ for t in tools) or "none"
        raise SystemExit(
            f"{module.__name__} must define exactly one Tool subclass (found: {names}); "
            "name the one to build with `TOOL = MyTool`"
        )
    return tools[0]


def componentize_py() -> list[str]:
    """How to run componentize-py: its script beside this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("componentize-py")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("componentize-py")
    if found:
        return [found]
    raise SystemExit(
        "componentize-py is not installed: pip install 'warden-tool[build]' "
        "(or pip install componentize-py==0.25.1)"
    )


def build(app: Path, output: Path) -> None:
    """Builds the tool defined in the module file `app` into `output`."""
    app = app.resolve()
    if not app.is_file() or app.suffix != ".py":
        raise SystemExit(f"{app} is not a Python module file")
    # Check the tool here, where errors read as Python errors, before the
    # slower build (which would only report a failed pre-initialization).
    spec = importlib.util.spec_from_file_location(app.stem, app)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(app.parent))
    # Registered while it runs, as an import would (dataclasses look their
    # module up).
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        find_tool(module).metadata()
    finally:
        sys.path.remove(str(app.parent))
        del sys.modules[spec.name]
    package_root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="warden-tool-") as entry_dir:
        Path(entry_dir, "_warden_entry.py").write_text(_ENTRY.format(module=app.stem))
        command = [
            *componentize_py(),
            "--wit-path",
            str(WIT),
            "--world",
            "tool",
            "componentize",
            "_warden_entry",
            "--python-path",
            entry_dir,
            "--python-path",
            str(app.parent),
            "--python-path",
            str(package_root),
            "--output",
            str(output),
        ]
        result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise SystemExit(f"componentize-py failed (exit {result.returncode})")
    print(f"built {output}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m warden_tool")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("build", help="build a tool module into a component")
    command.add_argument("app", nargs="?", default="app.py", help="the tool's module (app.py)")
    command.add_argument("-o", "--output", default=None, help="the component (NAME.wasm)")
    args = parser.parse_args(argv)
    app = Path(args.app)
    build(app, Path(args.output) if args.output else app.with_suffix(".wasm"))
