"""The SDK in plain Python: schemas from hints, metadata checks, calls through
`ToolRunner`, and HTTP under the host's rules against a local service."""

from __future__ import annotations

import enum
import importlib.util
import json
import threading
import unittest
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Literal, Optional

import warden_tool
from warden_tool import (
    Context,
    Credential,
    Internal,
    InvalidArguments,
    NotConfigured,
    NotFound,
    PhoneCall,
    RateLimited,
    Secret,
    Tool,
    Unauthorized,
    Upstream,
    function,
    http,
    log,
)
from warden_tool.schema import convert, schema_of
from warden_tool.testing import ToolRunner, host_matches

CANARY = "canary-python-sdk-7f3a91c2"


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Address:
    """A postal address.

    Attributes:
        city: The city.
    """

    city: str
    zip: Optional[str] = None


class SchemaTest(unittest.TestCase):
    def test_scalars_containers_and_unions(self) -> None:
        self.assertEqual(schema_of(str, "x"), {"type": "string"})
        self.assertEqual(schema_of(int, "x"), {"type": "integer"})
        self.assertEqual(schema_of(Optional[float], "x"), {"type": ["number", "null"]})
        self.assertEqual(schema_of(list[bool], "x"), {"type": "array", "items": {"type": "boolean"}})
        self.assertEqual(
            schema_of(dict[str, int], "x"),
            {"type": "object", "additionalProperties": {"type": "integer"}},
        )
        self.assertEqual(schema_of(Literal["a", "b"], "x"), {"enum": ["a", "b"]})
        self.assertEqual(schema_of(Color, "x"), {"enum": ["red", "blue"]})
        self.assertEqual(
            schema_of(Annotated[int, "How many.", {"minimum": 1}], "x"),
            {"type": "integer", "description": "How many.", "minimum": 1},
        )

    def test_dataclasses_are_closed_objects(self) -> None:
        self.assertEqual(
            schema_of(Address, "x"),
            {
                "type": "object",
                "description": "A postal address.",
                "properties": {
                    "city": {"type": "string", "description": "The city."},
                    "zip": {"type": ["string", "null"], "default": None},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        )

    def test_unsupported_types_are_named(self) -> None:
        with self.assertRaisesRegex(TypeError, "set"):
            schema_of(set[int], "Tool.f(tags)")
        with self.assertRaisesRegex(TypeError, "keys are strings"):
            schema_of(dict[int, str], "x")

    def test_arguments_become_the_hinted_types(self) -> None:
        self.assertEqual(convert({"city": "Oslo"}, Address), Address("Oslo"))
        self.assertEqual(convert([{"city": "Rome"}], list[Address]), [Address("Rome")])
        self.assertEqual(convert("red", Color), Color.RED)
        self.assertEqual(convert(None, Optional[Address]), None)
        self.assertEqual(convert(2, float), 2.0)


@dataclass
class ShopConfig:
    """Where the shop is.

    Attributes:
        base_url: The shop's API.
    """

    base_url: str
    currency: str = "EUR"


class Shop(Tool):
    """Order look-ups for callers asking about their order."""

    name = "shop"
    version = "1.2.0"
    config = ShopConfig
    secrets = [
        Secret("api_key", "The shop's API key."),
        Secret("signing_key", "Signs refunds.", required=False),
    ]
    allowed_hosts = ["https://api.shop.example"]
    credentials = [Credential("api_key", ["https://api.shop.example"], "x-api-key", "{}")]

    @function(read_only=True)
    def order_status(
        self, ctx: Context[ShopConfig], order_id: Annotated[str, "The order number."], verbose: bool = False
    ) -> dict:
        """The status of an order.

        Args:
            verbose: Include the line items.
        """
        response = http.get(f"{ctx.config.base_url}/orders/{order_id}")
        if response.status == 404:
            raise NotFound(f"there is no order {order_id}")
        body = response.raise_for_status().json()
        log.info(f"looked up {order_id}")
        return {"status": body["status"], "currency": ctx.config.currency}

    @function
    def refund(self, ctx: Context[ShopConfig], order_id: str, address: Address) -> dict:
        """Refund an order to an address."""
        key = ctx.secret("signing_key")
        return {"signed": len(key), "city": address.city}

    @function(name="peek_key")
    def read_credential(self, ctx: Context[ShopConfig]) -> str:
        """Try to read the credential."""
        return ctx.secret("api_key")

    @function
    def undeclared(self, ctx: Context[ShopConfig]) -> str:
        """Read a secret nobody declared."""
        return ctx.secret("root_password")

    @function
    def crash(self, ctx: Context[ShopConfig]) -> None:
        """Fail without meaning to."""
        raise ZeroDivisionError(f"bad math near {CANARY[:6]}")

    def helper(self) -> None:
        """Not a function: no decorator."""


class Desk(Tool):
    """Confirms things out loud."""

    name = "desk"

    @function(idempotent=True, open_world=False)
    def confirm(self, ctx: Context[None], name: str) -> dict:
        """Thanks `name` out loud and reports what it knows about the call."""
        ctx.speak(f"Thanks, {name}.")
        return {
            "caller_number": ctx.call.caller_number if ctx.call else None,
            "outbound": ctx.call.direction == "outbound" if ctx.call else None,
            "time_left": ctx.time_left,
        }

    @function(destructive=True)
    def refuse(self, ctx: Context[None]) -> None:
        """Fails after asking to speak: the line must not reach anyone."""
        ctx.speak("This line is never said.")
        raise NotFound("nothing to refuse")

    @function
    def mumble(self, ctx: Context[None]) -> None:
        """Asks to speak something that is not a line."""
        ctx.speak(42)  # type: ignore[arg-type]


class MetadataTest(unittest.TestCase):
    def test_effect_hints_default_to_a_function_that_reaches_out_and_only_adds(self) -> None:
        hints = {
            f["name"]: (f["read_only"], f["idempotent"], f["destructive"], f["open_world"])
            for f in Desk.metadata()["functions"]
        }
        self.assertEqual(
            hints,
            {
                "confirm": (False, True, False, False),
                "refuse": (False, False, True, True),
                "mumble": (False, False, False, True),
            },
        )
        status = Shop.metadata()["functions"][0]
        self.assertEqual((status["read_only"], status["idempotent"], status["open_world"]), (True, False, True))

    def test_metadata_is_the_contract_record(self) -> None:
        meta = Shop.metadata()
        self.assertEqual(meta["name"], "shop")
        self.assertEqual(meta["version"], "1.2.0")
        self.assertEqual(meta["description"], "Order look-ups for callers asking about their order.")
        self.assertEqual(
            [f["name"] for f in meta["functions"]],
            ["order_status", "refund", "peek_key", "undeclared", "crash"],
        )
        status = meta["functions"][0]
        self.assertTrue(status["read_only"])
        self.assertEqual(
            status["parameters"],
            {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string", "description": "The order number."},
                    "verbose": {"type": "boolean", "description": "Include the line items.", "default": False},
                },
                "required": ["order_id"],
                "additionalProperties": False,
            },
        )
        self.assertEqual(meta["config_schema"]["required"], ["base_url"])
        self.assertEqual(
            meta["credentials"],
            [{"secret": "api_key", "hosts": ["https://api.shop.example"], "header": "x-api-key", "format": "{}"}],
        )
        self.assertEqual(meta["secrets"][1], {"name": "signing_key", "description": "Signs refunds.", "required": False})
        json.dumps(meta)  # all of it is JSON

    def test_tools_the_host_would_refuse_are_refused_here(self) -> None:
        class NoDoc(Tool):
            name = "no_doc"

            @function
            def f(self, ctx: Context[None]) -> int:
                """F."""
                return 1

        with self.assertRaisesRegex(ValueError, "docstring"):
            NoDoc.metadata()

        class BadName(Tool):
            """Bad."""

            name = "Bad-Name"

        with self.assertRaisesRegex(ValueError, "must match"):
            BadName.metadata()

        class Untyped(Tool):
            """Untyped."""

            name = "untyped"

            @function
            def f(self, ctx, x) -> int:  # type: ignore[no-untyped-def]
                """F."""
                return 1

        with self.assertRaisesRegex(TypeError, "needs a type hint"):
            Untyped.metadata()


class _Shop(BaseHTTPRequestHandler):
    """A stand-in for the shop's API: orders by id, behind an API key."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        _Shop.seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.headers.get("x-api-key") != CANARY:
            return self._answer(401, {"error": "bad key"})
        order = self.path.rsplit("/", 1)[-1]
        if order == "slow-down":
            return self._answer(429, {})
        if order == "broken":
            return self._answer(200, None, raw=b"<html>")
        if order != "A-1":
            return self._answer(404, {"error": "no such order"})
        self._answer(200, {"status": "shipped"})

    def _answer(self, status: int, body: object, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class RunnerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.base = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()

    def runner(self, **secrets: str) -> ToolRunner:
        # The stand-in's address joins the allowed hosts, and the credential
        # goes to it as it would to the real shop.
        return ToolRunner(
            Shop,
            config={"base_url": self.base},
            secrets={"api_key": CANARY, **secrets},
            allow_hosts=[self.base],
            credential_hosts={"api_key": [self.base]},
        )

    def test_a_call_uses_the_credential_without_seeing_it(self) -> None:
        runner = self.runner()
        self.assertEqual(runner.call("order_status", {"order_id": "A-1"}), {"status": "shipped", "currency": "EUR"})
        self.assertEqual(_Shop.seen[-1]["x-api-key"], CANARY)
        self.assertEqual(runner.logs, [("info", "looked up A-1")])
        with self.assertRaisesRegex(Internal, "credential") as caught:
            runner.call("peek_key")
        self.assertNotIn(CANARY, str(caught.exception))

    def test_statuses_become_tool_errors(self) -> None:
        runner = self.runner()
        with self.assertRaisesRegex(NotFound, "no order B-2"):
            runner.call("order_status", {"order_id": "B-2"})
        with self.assertRaises(RateLimited):
            runner.call("order_status", {"order_id": "slow-down"})
        with self.assertRaisesRegex(Upstream, "unexpected"):
            runner.call("order_status", {"order_id": "broken"})
        unkeyed = ToolRunner(
            Shop, config={"base_url": self.base}, secrets={"api_key": CANARY}, allow_hosts=[self.base]
        )
        with self.assertRaises(Unauthorized):
            unkeyed.call("order_status", {"order_id": "A-1"})

    def test_only_allowed_hosts_are_reached(self) -> None:
        runner = ToolRunner(Shop, config={"base_url": self.base}, secrets={"api_key": CANARY})
        with self.assertRaisesRegex(Internal, "not allowed to reach http://127.0.0.1"):
            runner.call("order_status", {"order_id": "A-1"})
        self.assertEqual(runner.requests, [])

    def test_secrets_arguments_and_crashes(self) -> None:
        runner = self.runner()
        with self.assertRaisesRegex(NotConfigured, "signing_key"):
            runner.call("refund", {"order_id": "A-1", "address": {"city": "Oslo"}})
        signed = self.runner(signing_key="k" * 12)
        self.assertEqual(
            signed.call("refund", {"order_id": "A-1", "address": {"city": "Oslo"}}),
            {"signed": 12, "city": "Oslo"},
        )
        with self.assertRaisesRegex(Internal, "does not declare"):
            runner.call("undeclared")
        with self.assertRaisesRegex(InvalidArguments, "order_id"):
            runner.call("order_status", {})
        with self.assertRaisesRegex(InvalidArguments, "unknown property"):
            runner.call("order_status", {"order_id": "A-1", "extra": 1})
        with self.assertRaisesRegex(InvalidArguments, "boolean"):
            runner.call("order_status", {"order_id": "A-1", "verbose": "yes"})
        with self.assertRaisesRegex(Internal, "failed unexpectedly") as caught:
            runner.call("crash")
        self.assertNotIn("ZeroDivisionError", str(caught.exception))
        self.assertIn("ZeroDivisionError", runner.logs[-1][1])

    def test_the_default_self_check_wants_required_secrets(self) -> None:
        self.assertEqual(self.runner().test(), {"ok": True})
        bare = ToolRunner(Shop, config={"base_url": self.base})
        with self.assertRaisesRegex(NotConfigured, "api_key"):
            bare.test()


class CallTest(unittest.TestCase):
    def test_outside_a_phone_call_there_is_none(self) -> None:
        runner = ToolRunner(Desk)
        self.assertEqual(
            runner.call("confirm", {"name": "Ada"}),
            {"caller_number": None, "outbound": None, "time_left": 10.0},
        )
        self.assertEqual(runner.spoken, "Thanks, Ada.")

    def test_during_a_phone_call_the_tool_sees_it(self) -> None:
        call = PhoneCall("s-1", "outbound", caller_number="+15551234567", room="agent-1-+15551234567")
        runner = ToolRunner(Desk, call=call, time_left=1.5)
        self.assertEqual(
            runner.call("confirm", {"name": "Ada"}),
            {"caller_number": "+15551234567", "outbound": True, "time_left": 1.5},
        )

    def test_a_line_asked_for_before_an_error_goes_nowhere(self) -> None:
        runner = ToolRunner(Desk)
        runner.call("confirm", {"name": "Ada"})
        with self.assertRaises(NotFound):
            runner.call("refuse")
        self.assertIsNone(runner.spoken)
        with self.assertRaisesRegex(Internal, "failed unexpectedly"):
            runner.call("mumble")
        self.assertIsNone(runner.spoken)
        self.assertIn("ctx.speak takes a str", runner.logs[-1][1])

    def test_the_numbers_stay_out_of_a_calls_repr(self) -> None:
        call = PhoneCall("s-1", "inbound", caller_number="+15551234567", agent_number="+15557654321")
        self.assertNotIn("555", repr(call))
        self.assertIn("s-1", repr(call))


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> object:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ReceptionistExampleTest(unittest.TestCase):
    """The README's receptionist, which is `examples/receptionist/app.py`."""

    tool = load_example("receptionist").Receptionist  # type: ignore[attr-defined]
    config = {"contacts": {"+15550100199": "Ada"}}

    def test_a_known_caller_is_greeted_by_name(self) -> None:
        call = PhoneCall("s-1", "inbound", caller_number="+15550100199")
        runner = ToolRunner(self.tool, config=self.config, call=call)
        self.assertEqual(runner.call("identify_caller"), {"known": True, "name": "Ada"})
        self.assertEqual(runner.spoken, "Hello Ada, good to hear from you again!")
        self.assertEqual(self.tool.metadata()["functions"][0]["open_world"], False)

    def test_an_unknown_or_hidden_number_is_asked_for_a_name(self) -> None:
        for call in (None, PhoneCall("s-1", "inbound"), PhoneCall("s-1", "inbound", caller_number="+15550000000")):
            runner = ToolRunner(self.tool, config=self.config, call=call)
            self.assertEqual(runner.call("identify_caller"), {"known": False})
            self.assertEqual(runner.spoken, "Hello! Who do I have the pleasure of speaking with?")

    def test_the_readme_shows_the_example_as_it_is(self) -> None:
        readme = (EXAMPLES.parent / "README.md").read_text()
        example = (EXAMPLES / "receptionist" / "app.py").read_text()
        self.assertTrue(example in readme, "README.md's receptionist differs from examples/receptionist/app.py")


class WitTest(unittest.TestCase):
    def test_the_packaged_wit_is_the_contract(self) -> None:
        """The WIT shipped in the package is the repository's `wit/0.2.0/`,
        the contract version this SDK targets (a released version is frozen)."""
        package = Path(warden_tool.__file__).parent / "wit"
        contract = Path(__file__).resolve().parents[3] / "wit" / "0.2.0"
        if not contract.is_dir():
            self.skipTest("not in a Warden checkout")
        ours = sorted(p.relative_to(package) for p in package.rglob("*.wit"))
        theirs = sorted(p.relative_to(contract) for p in contract.rglob("*.wit"))
        self.assertEqual(ours, theirs)
        for path in ours:
            self.assertEqual((package / path).read_bytes(), (contract / path).read_bytes(), str(path))


    def test_the_error_kinds_are_the_contracts(self) -> None:
        """Every `tool-error` case of the packaged WIT has its `ToolError`
        kind, in the contract's order."""
        import re

        from warden_tool.errors import KINDS

        wit = (Path(warden_tool.__file__).parent / "wit" / "tool.wit").read_text()
        variant = wit[wit.index("variant tool-error") :]
        cases = re.findall(r"^\s+([a-z-]+)\(string\),$", variant[: variant.index("}")], re.M)
        self.assertEqual(cases, [kind.replace("_", "-") for kind in KINDS])


class HostPatternTest(unittest.TestCase):
    def test_patterns_match_as_the_host_does(self) -> None:
        self.assertTrue(host_matches("https://api.example.com", "https://api.example.com/v1?x=1"))
        self.assertTrue(host_matches("https://api.example.com", "https://api.example.com:443/"))
        self.assertFalse(host_matches("https://api.example.com", "http://api.example.com/"))
        self.assertFalse(host_matches("https://api.example.com", "https://api.example.com:8443/"))
        self.assertTrue(host_matches("https://*.example.com", "https://eu.api.example.com/"))
        self.assertFalse(host_matches("https://*.example.com", "https://example.com/"))
        self.assertFalse(host_matches("https://*.example.com", "https://evilexample.com/"))


if __name__ == "__main__":
    unittest.main()
