"""The HubSpot tool's own checks in plain Python (its calls to HubSpot are
tested against the stand-in by the `warden` CLI tests)."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import HubSpotCrm, normalize_phone  # noqa: E402
from warden_tool import InvalidArguments, NotConfigured  # noqa: E402
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
        self.assertTrue(meta["functions"][0]["read_only"])
        self.assertFalse(meta["functions"][1]["read_only"])
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
        bad_base = ToolRunner(HubSpotCrm, config={"api_base": "ftp://x"}, secrets={"access_token": "t"})
        with self.assertRaises(NotConfigured):
            bad_base.call("find_caller", {"phone": "+15550100199"})
        self.assertEqual(runner.requests, [])


if __name__ == "__main__":
    unittest.main()
