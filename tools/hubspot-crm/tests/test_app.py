"""The HubSpot tool's own checks in plain Python (its calls to HubSpot are
tested against the stand-in by the `warden` CLI tests)."""

import json
import sys
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import HubSpotCrm, normalize_phone  # noqa: E402
from warden_tool import InvalidArguments, NotConfigured, PhoneCall  # noqa: E402
from warden_tool.testing import ToolRunner  # noqa: E402


class PhoneTest(unittest.TestCase):
    def test_numbers_lose_their_punctuation(self) -> None:
        self.assertEqual(normalize_phone("+1 (555) 010-0199"), "+15550100199")
        self.assertEqual(normalize_phone("0044 20 7946 0958"), "+442079460958")
        self.assertEqual(normalize_phone("555.010.0199"), "5550100199")

    def test_what_is_not_a_number_is_refused(self) -> None:
        for bad in ("", "call me", "+1 555", "12345678901234567", "+1-555-010-0199 ext 4"):
            with self.assertRaises(InvalidArguments, msg=bad):
                normalize_phone(bad)


class ToolTest(unittest.TestCase):
    def test_metadata_declares_the_credential_and_both_functions(self) -> None:
        meta = HubSpotCrm.metadata()
        self.assertEqual([f["name"] for f in meta["functions"]], ["find_caller", "log_call_note"])
        hints = [(f["read_only"], f["idempotent"], f["destructive"], f["open_world"]) for f in meta["functions"]]
        # Both stay within the organization's CRM; a second note is a second note.
        self.assertEqual(hints, [(True, False, False, False), (False, False, False, False)])
        self.assertNotIn("phone", meta["functions"][0]["parameters"].get("required", []))
        self.assertEqual(meta["credentials"][0]["secret"], "access_token")
        self.assertEqual(meta["allowed_hosts"], ["https://api.hubapi.com"])

    def test_bad_arguments_never_reach_hubspot(self) -> None:
        runner = ToolRunner(HubSpotCrm, secrets={"access_token": "t"})
        with self.assertRaises(InvalidArguments):
            runner.call("find_caller", {"phone": "not a phone"})
        with self.assertRaises(InvalidArguments):
            runner.call("log_call_note", {"contact_id": "../1", "summary": "x"})
        with self.assertRaises(InvalidArguments):
            runner.call("log_call_note", {"contact_id": "1", "summary": "   "})
        with self.assertRaisesRegex(InvalidArguments, "ask for it"):
            runner.call("find_caller")
        bad_base = ToolRunner(HubSpotCrm, config={"api_base": "ftp://x"}, secrets={"access_token": "t"})
        with self.assertRaises(NotConfigured):
            bad_base.call("find_caller", {"phone": "+15550100199"})
        self.assertEqual(runner.requests, [])


class _Contacts(BaseHTTPRequestHandler):
    """Answers every contact search with Ada, keeping the filters asked for."""

    searched: list[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        _Contacts.searched.append([f["value"] for g in body["filterGroups"] for f in g["filters"]])
        ada = {"id": "101", "properties": {"firstname": "Ada", "lastname": "Lovelace", "phone": "+15550100199"}}
        data = json.dumps({"total": 1, "results": [ada]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class CallerTest(unittest.TestCase):
    """`find_caller` during a phone call, against a local stand-in that
    knows Ada (the HubSpot stand-in's full checks run in the CLI tests)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), _Contacts)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.base = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()

    def runner(self, caller_number: str | None) -> ToolRunner:
        return ToolRunner(
            HubSpotCrm,
            config={"api_base": self.base},
            secrets={"access_token": "t"},
            allow_hosts=[self.base],
            call=PhoneCall("s-1", "inbound", caller_number=caller_number),
        )

    def test_without_a_number_the_caller_is_the_one_on_the_phone(self) -> None:
        runner = self.runner("+15550100199")
        found = runner.call("find_caller")
        self.assertEqual(found["caller"]["name"], "Ada Lovelace")
        self.assertIn("+15550100199", _Contacts.searched[-1])
        self.assertEqual(runner.spoken, "Hi Ada, thanks for calling!")
        # The caller's own number, as they spell it: still them.
        runner.call("find_caller", {"phone": "+1 (555) 010-0199"})
        self.assertEqual(runner.spoken, "Hi Ada, thanks for calling!")

    def test_someone_elses_number_is_looked_up_without_a_greeting(self) -> None:
        runner = self.runner("+442079460958")
        self.assertEqual(runner.call("find_caller", {"phone": "+15550100199"})["caller"]["name"], "Ada Lovelace")
        self.assertIn("+15550100199", _Contacts.searched[-1])
        self.assertIsNone(runner.spoken)

    def test_a_withheld_number_must_be_asked_for(self) -> None:
        runner = self.runner(None)
        with self.assertRaisesRegex(InvalidArguments, "ask for it"):
            runner.call("find_caller")
        self.assertEqual(runner.requests, [])


if __name__ == "__main__":
    unittest.main()
