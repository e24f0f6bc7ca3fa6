"""Tests of the worker's Warden-facing logic, against a local stand-in for Warden.

Run with the interpreter that has livekit-agents[mcp]==1.8.9:

    python -m unittest -v test_agent.py

No network is used beyond a ``http.server`` on 127.0.0.1 started here.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import agent

WORKER_TOKEN = "wdw_test_worker_token_0123456789"
SESSION_TOKEN = "wds_test_session_token_0123456789"
AGENT_ID = "0190f3a2-7c1e-7b3a-9d2e-5f6a7b8c9d0e"
PHONE = "+14155550123"
AGENT_NUMBER = "+14155550199"
ROOM = f"agent-{AGENT_ID}-{PHONE}"
PROMPT = "You are Ada, the front desk of the Example clinic."


class FakeWarden(BaseHTTPRequestHandler):
    """``/worker/v1/sessions`` and ``/worker/v1/agents/{id}/toolset`` as Warden
    answers them: worker token required, unknown body fields refused."""

    server: "FakeWardenServer"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _problem(self, status: int, kind: str, detail: str) -> None:
        body = json.dumps(
            {
                "type": f"urn:warden:problem:{kind}",
                "title": "error",
                "status": status,
                "detail": detail,
                "kind": kind,
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: object) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {WORKER_TOKEN}":
            self._problem(401, "unauthorized", "missing, unknown or revoked worker token")
            return False
        return True

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        self.server.requests.append(("POST", self.path, dict(self.headers), raw))
        if self.path != "/worker/v1/sessions":
            return self._problem(404, "not_found", "no such route")
        if not self._authorized():
            return None
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            return self._problem(415, "unsupported_media_type", "expected JSON")
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return self._problem(400, "bad_request", "malformed JSON")
        if not isinstance(body, dict):
            return self._problem(422, "invalid", "expected an object")
        keys = set(body)
        if not keys <= {"agent_id", "room_name", "phone_number", "agent_number"}:
            return self._problem(400, "bad_request", f"unknown fields {sorted(keys)}")
        for number in ("phone_number", "agent_number"):
            if number in keys and not agent._is_e164(body[number]):
                return self._problem(422, "invalid_body", f"{number} must be E.164")
        if not keys & {"agent_id", "room_name"}:
            return self._problem(422, "invalid_body", "give agent_id, room_name, or both")
        if "agent_id" not in keys:
            if "phone_number" in keys:
                return self._problem(422, "invalid_body", "leave phone_number out")
            agent_id = agent.agent_id_from_room_name(body["room_name"])
            if agent_id is None:
                return self._problem(
                    422, "invalid", "room_name must be of the form agent-{agent_id}-{phone_number}"
                )
        else:
            agent_id = body["agent_id"]
        if agent_id != AGENT_ID:
            return self._problem(404, "not_found", "no such agent")
        return self._json(
            201,
            {
                "call_session_id": "cs_inbound_1",
                "mcp_url": self.server.mcp_url,
                "session_token": SESSION_TOKEN,
                "expires_at": "2030-01-01T00:00:00Z",
            },
        )

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append(("GET", self.path, dict(self.headers), b""))
        prefix, suffix = "/worker/v1/agents/", "/toolset"
        if not (self.path.startswith(prefix) and self.path.endswith(suffix)):
            return self._problem(404, "not_found", "no such route")
        if not self._authorized():
            return None
        agent_id = self.path[len(prefix) : -len(suffix)]
        if agent_id != AGENT_ID:
            return self._problem(404, "not_found", "no such agent")
        if self.server.fail_toolset:
            return self._problem(500, "internal", "database unavailable")
        return self._json(
            200,
            {
                "agent_id": AGENT_ID,
                "name": "Ada",
                "system_prompt": self.server.prompt,
                "tools": [],
            },
        )


class FakeWardenServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeWarden)
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.mcp_url = f"{self.url}/mcp"
        self.prompt: str | None = PROMPT
        self.fail_toolset = False


class WardenTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.warden = FakeWardenServer()
        thread = threading.Thread(target=self.warden.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(self.warden.server_close)
        self.addCleanup(self.warden.shutdown)
        self.settings = agent.WorkerSettings(
            warden_url=self.warden.url, worker_token=WORKER_TOKEN
        )
        # Every log record of the test, to check no token leaks into the logs.
        self.log = io.StringIO()
        handler = logging.StreamHandler(self.log)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        previous = root.level
        root.setLevel(logging.DEBUG)
        self.addCleanup(root.setLevel, previous)
        self.addCleanup(root.removeHandler, handler)

    def assert_no_token_logged(self) -> None:
        text = self.log.getvalue()
        self.assertNotIn(WORKER_TOKEN, text)
        self.assertNotIn(SESSION_TOKEN, text)


class ParseDispatchMetadataTest(unittest.TestCase):
    def test_warden_outbound_metadata(self) -> None:
        raw = json.dumps(
            {
                "mcp_url": "https://warden.example/mcp",
                "session_token": SESSION_TOKEN,
                "call_session_id": "cs_1",
                "agent_id": AGENT_ID,
            }
        )
        meta = agent.parse_dispatch_metadata(raw)
        self.assertTrue(meta.has_session)
        self.assertEqual(meta.mcp_url, "https://warden.example/mcp")
        self.assertEqual(meta.session_token, SESSION_TOKEN)
        self.assertEqual(meta.call_session_id, "cs_1")
        self.assertEqual(meta.agent_id, AGENT_ID)
        self.assertNotIn(SESSION_TOKEN, repr(meta))

    def test_no_warden_metadata(self) -> None:
        for raw in (None, "", "   ", "not json", "[1, 2]", '"text"', "{}", '{"other": 1}'):
            with self.subTest(raw=raw):
                meta = agent.parse_dispatch_metadata(raw)
                self.assertFalse(meta.has_session)
                self.assertIsNone(meta.agent_id)

    def test_agent_id_only(self) -> None:
        meta = agent.parse_dispatch_metadata(json.dumps({"agent_id": AGENT_ID}))
        self.assertFalse(meta.has_session)
        self.assertEqual(meta.agent_id, AGENT_ID)

    def test_malformed_warden_metadata(self) -> None:
        bad = [
            {"session_token": SESSION_TOKEN},
            {"mcp_url": "https://warden.example/mcp"},
            {"mcp_url": "ftp://warden.example/mcp", "session_token": SESSION_TOKEN},
            {"mcp_url": "https://warden.example/mcp", "session_token": 12},
            {"agent_id": ["x"]},
        ]
        for data in bad:
            with self.subTest(data=data):
                with self.assertRaises(ValueError) as caught:
                    agent.parse_dispatch_metadata(json.dumps(data))
                self.assertNotIn(SESSION_TOKEN, str(caught.exception))


class RoomNameTest(unittest.TestCase):
    def test_agent_id_from_room_name(self) -> None:
        self.assertEqual(agent.agent_id_from_room_name(ROOM), AGENT_ID)
        self.assertEqual(agent.agent_id_from_room_name("agent-a1-+447700900123"), "a1")
        for name in (
            "",
            "call-abc-+14155550123",
            "agent--+14155550123",
            "agent-abc",
            "agent-abc-14155550123",
            "agent-abc-+0123",
            "agent-abc-+1",
            "agent-abc-+1234567890123456",
            "agent-abc-+1415555012a",
            "agent-abc-+١٢٣٤",
        ):
            with self.subTest(name=name):
                self.assertIsNone(agent.agent_id_from_room_name(name))


class CallerNumberTest(unittest.TestCase):
    def test_caller_number(self) -> None:
        self.assertEqual(agent.caller_number({"sip.phoneNumber": PHONE}), PHONE)
        self.assertEqual(agent.caller_number({"sip.phoneNumber": f" {PHONE} "}), PHONE)
        for attributes in ({}, {"sip.phoneNumber": ""}, {"sip.phoneNumber": "anonymous"},
                           {"sip.phoneNumber": "14155550123"}):
            with self.subTest(attributes=attributes):
                self.assertIsNone(agent.caller_number(attributes))


    def test_dialled_number(self) -> None:
        self.assertEqual(agent.dialled_number({"sip.trunkPhoneNumber": AGENT_NUMBER}), AGENT_NUMBER)
        self.assertEqual(agent.dialled_number({"sip.trunkPhoneNumber": f" {AGENT_NUMBER} "}),
                         AGENT_NUMBER)
        for attributes in ({}, {"sip.phoneNumber": PHONE}, {"sip.trunkPhoneNumber": ""},
                           {"sip.trunkPhoneNumber": "sip:trunk"}):
            with self.subTest(attributes=attributes):
                self.assertIsNone(agent.dialled_number(attributes))


class SettingsTest(unittest.TestCase):
    def test_defaults(self) -> None:
        settings = agent.settings_from_env({})
        self.assertIsNone(settings.warden_url)
        self.assertIsNone(settings.worker_token)
        self.assertEqual(settings.agent_name, "warden-agent")
        self.assertEqual(settings.mcp_timeout_seconds, 30.0)

    def test_from_env(self) -> None:
        settings = agent.settings_from_env(
            {
                "WARDEN_URL": "https://warden.example/",
                "WARDEN_WORKER_TOKEN": WORKER_TOKEN,
                "WARDEN_LIVEKIT_AGENT_NAME": "front-desk",
                "WARDEN_AGENT_ID": AGENT_ID,
                "WARDEN_MCP_TIMEOUT_SECONDS": "45",
            }
        )
        self.assertEqual(settings.warden_url, "https://warden.example")
        self.assertEqual(settings.worker_token, WORKER_TOKEN)
        self.assertEqual(settings.agent_name, "front-desk")
        self.assertEqual(settings.default_agent_id, AGENT_ID)
        self.assertEqual(settings.mcp_timeout_seconds, 45.0)
        self.assertNotIn(WORKER_TOKEN, repr(settings))

    def test_empty_agent_name_is_default(self) -> None:
        settings = agent.settings_from_env({"WARDEN_LIVEKIT_AGENT_NAME": "  "})
        self.assertEqual(settings.agent_name, "warden-agent")

    def test_bad_url(self) -> None:
        with self.assertRaises(ValueError):
            agent.settings_from_env({"WARDEN_URL": "warden.example"})

    def test_worker_registers_under_the_agent_name(self) -> None:
        # Explicit dispatch reaches only a worker registered under Warden's name.
        self.assertEqual(agent.server._agent_name, agent.SETTINGS.agent_name)


class SessionRequestBodyTest(unittest.TestCase):
    def test_room_name(self) -> None:
        self.assertEqual(agent.session_request_body(ROOM), {"room_name": ROOM})

    def test_agent_number(self) -> None:
        self.assertEqual(
            agent.session_request_body(ROOM, agent_number=AGENT_NUMBER),
            {"room_name": ROOM, "agent_number": AGENT_NUMBER},
        )
        self.assertEqual(
            agent.session_request_body("x", agent_id=AGENT_ID, phone_number=PHONE,
                                       agent_number=AGENT_NUMBER),
            {"agent_id": AGENT_ID, "room_name": "x", "phone_number": PHONE,
             "agent_number": AGENT_NUMBER},
        )

    def test_agent_id(self) -> None:
        self.assertEqual(
            agent.session_request_body(ROOM, agent_id=AGENT_ID),
            {"agent_id": AGENT_ID, "room_name": ROOM},
        )
        self.assertEqual(
            agent.session_request_body("x", agent_id=AGENT_ID, phone_number=PHONE),
            {"agent_id": AGENT_ID, "room_name": "x", "phone_number": PHONE},
        )

    def test_nothing(self) -> None:
        with self.assertRaises(ValueError):
            agent.session_request_body("")


class OpenSessionTest(WardenTestCase):
    def test_opens_by_room_name(self) -> None:
        session = agent.open_session(self.warden.url, WORKER_TOKEN, {"room_name": ROOM})
        self.assertEqual(session.mcp_url, self.warden.mcp_url)
        self.assertEqual(session.session_token, SESSION_TOKEN)
        self.assertEqual(session.call_session_id, "cs_inbound_1")
        self.assertEqual(session.expires_at, "2030-01-01T00:00:00Z")
        self.assertEqual(session.mcp_headers(), {"Authorization": f"Bearer {SESSION_TOKEN}"})
        self.assertNotIn(SESSION_TOKEN, repr(session))
        [(method, path, headers, body)] = self.warden.requests
        self.assertEqual((method, path), ("POST", "/worker/v1/sessions"))
        self.assertEqual(headers["Authorization"], f"Bearer {WORKER_TOKEN}")
        self.assertEqual(json.loads(body), {"room_name": ROOM})

    def test_opens_by_agent_id_and_trailing_slash(self) -> None:
        session = agent.open_session(
            self.warden.url + "/", WORKER_TOKEN, {"agent_id": AGENT_ID, "phone_number": PHONE}
        )
        self.assertEqual(session.agent_id, AGENT_ID)
        self.assertEqual(self.warden.requests[0][1], "/worker/v1/sessions")

    def test_refused(self) -> None:
        with self.assertRaises(agent.WardenError) as caught:
            agent.open_session(self.warden.url, "wdw_wrong", {"room_name": ROOM})
        self.assertEqual(caught.exception.status, 401)
        self.assertEqual(caught.exception.kind, "unauthorized")
        self.assertIn("revoked worker token", str(caught.exception))
        self.assertNotIn("wdw_wrong", str(caught.exception))

    def test_unknown_agent(self) -> None:
        with self.assertRaises(agent.WardenError) as caught:
            agent.open_session(self.warden.url, WORKER_TOKEN, {"room_name": f"agent-other-{PHONE}"})
        self.assertEqual(caught.exception.status, 404)

    def test_room_name_warden_cannot_read(self) -> None:
        with self.assertRaises(agent.WardenError) as caught:
            agent.open_session(self.warden.url, WORKER_TOKEN, {"room_name": "call-_+1415_x"})
        self.assertEqual(caught.exception.status, 422)
        self.assertIn("agent-{agent_id}-{phone_number}", str(caught.exception))

    def test_unreachable(self) -> None:
        url = self.warden.url
        self.warden.shutdown()
        self.warden.server_close()
        with self.assertRaises(agent.WardenError) as caught:
            agent.open_session(url, WORKER_TOKEN, {"room_name": ROOM}, timeout=2)
        self.assertIsNone(caught.exception.status)
        self.assertNotIn(WORKER_TOKEN, str(caught.exception))


class FetchSystemPromptTest(WardenTestCase):
    def test_prompt(self) -> None:
        self.assertEqual(agent.fetch_system_prompt(self.warden.url, WORKER_TOKEN, AGENT_ID), PROMPT)
        [(method, path, headers, _)] = self.warden.requests
        self.assertEqual((method, path), ("GET", f"/worker/v1/agents/{AGENT_ID}/toolset"))
        self.assertEqual(headers["Authorization"], f"Bearer {WORKER_TOKEN}")

    def test_no_prompt(self) -> None:
        for prompt in (None, "", "  "):
            with self.subTest(prompt=prompt):
                self.warden.prompt = prompt
                self.assertIsNone(agent.fetch_system_prompt(self.warden.url, WORKER_TOKEN, AGENT_ID))

    def test_agent_id_is_quoted(self) -> None:
        with self.assertRaises(agent.WardenError) as caught:
            agent.fetch_system_prompt(self.warden.url, WORKER_TOKEN, "../sessions?x=1")
        self.assertEqual(caught.exception.status, 404)
        self.assertEqual(
            self.warden.requests[0][1], "/worker/v1/agents/..%2Fsessions%3Fx%3D1/toolset"
        )


class PrepareCallTest(WardenTestCase):
    def outbound_metadata(self) -> agent.DispatchMetadata:
        return agent.parse_dispatch_metadata(
            json.dumps(
                {
                    "mcp_url": "https://warden.example/mcp",
                    "session_token": SESSION_TOKEN,
                    "call_session_id": "cs_out_1",
                    "agent_id": AGENT_ID,
                }
            )
        )

    def test_outbound_uses_the_dispatched_session(self) -> None:
        call = agent.prepare_call(self.outbound_metadata(), ROOM, self.settings)
        self.assertTrue(call.outbound)
        self.assertEqual(call.session.mcp_url, "https://warden.example/mcp")
        self.assertEqual(call.session.session_token, SESSION_TOKEN)
        self.assertEqual(call.session.call_session_id, "cs_out_1")
        self.assertEqual(call.instructions, PROMPT)
        # Only the prompt was fetched: no session opened.
        self.assertEqual([(m, p) for m, p, _, _ in self.warden.requests],
                         [("GET", f"/worker/v1/agents/{AGENT_ID}/toolset")])
        self.assert_no_token_logged()

    def test_outbound_without_worker_token(self) -> None:
        call = agent.prepare_call(self.outbound_metadata(), ROOM, agent.WorkerSettings())
        self.assertEqual(call.session.session_token, SESSION_TOKEN)
        self.assertEqual(call.instructions, agent.DEFAULT_INSTRUCTIONS)
        self.assertEqual(self.warden.requests, [])
        self.assert_no_token_logged()

    def test_inbound_opens_a_session(self) -> None:
        call = agent.prepare_call(agent.parse_dispatch_metadata(""), ROOM, self.settings)
        self.assertFalse(call.outbound)
        self.assertEqual(call.session.mcp_url, self.warden.mcp_url)
        self.assertEqual(call.session.session_token, SESSION_TOKEN)
        self.assertEqual(call.instructions, PROMPT)
        requests = [(m, p, json.loads(b) if b else None) for m, p, _, b in self.warden.requests]
        self.assertEqual(
            requests,
            [
                ("POST", "/worker/v1/sessions", {"room_name": ROOM}),
                ("GET", f"/worker/v1/agents/{AGENT_ID}/toolset", None),
            ],
        )
        self.assert_no_token_logged()

    def test_inbound_with_a_fixed_agent(self) -> None:
        settings = agent.WorkerSettings(
            warden_url=self.warden.url, worker_token=WORKER_TOKEN, default_agent_id=AGENT_ID
        )
        call = agent.prepare_call(agent.DispatchMetadata(), "sip-room-xyz", settings)
        self.assertEqual(call.instructions, PROMPT)
        self.assertEqual(
            json.loads(self.warden.requests[0][3]),
            {"agent_id": AGENT_ID, "room_name": "sip-room-xyz"},
        )

    def test_inbound_with_the_agent_in_the_dispatch_rule(self) -> None:
        # A SIP dispatch rule's roomConfig.agents[].metadata = {"agent_id": ...}.
        metadata = agent.parse_dispatch_metadata(json.dumps({"agent_id": AGENT_ID}))
        call = agent.prepare_call(metadata, "call-_+14155550123_aBcD", self.settings,
                                  phone_number=PHONE)
        self.assertFalse(call.outbound)
        self.assertEqual(call.instructions, PROMPT)
        self.assertEqual(json.loads(self.warden.requests[0][3]),
                         {"agent_id": AGENT_ID, "room_name": "call-_+14155550123_aBcD",
                          "phone_number": PHONE})
        self.assert_no_token_logged()

    def test_inbound_tells_warden_the_number_dialled(self) -> None:
        metadata = agent.parse_dispatch_metadata(json.dumps({"agent_id": AGENT_ID}))
        call = agent.prepare_call(metadata, "sip-room-xyz", self.settings,
                                  phone_number=PHONE, agent_number=AGENT_NUMBER)
        self.assertEqual(call.session.session_token, SESSION_TOKEN)
        self.assertEqual(json.loads(self.warden.requests[0][3]),
                         {"agent_id": AGENT_ID, "room_name": "sip-room-xyz",
                          "phone_number": PHONE, "agent_number": AGENT_NUMBER})
        # A room named for the agent carries the caller's number, not the dialled one.
        self.warden.requests.clear()
        agent.prepare_call(agent.DispatchMetadata(), ROOM, self.settings,
                           agent_number=AGENT_NUMBER)
        self.assertEqual(json.loads(self.warden.requests[0][3]),
                         {"room_name": ROOM, "agent_number": AGENT_NUMBER})
        self.assert_no_token_logged()

    def test_inbound_needs_the_worker_settings(self) -> None:
        for settings in (
            agent.WorkerSettings(),
            agent.WorkerSettings(warden_url=self.warden.url),
            agent.WorkerSettings(worker_token=WORKER_TOKEN),
        ):
            with self.subTest(settings=settings):
                with self.assertRaises(agent.WardenError):
                    agent.prepare_call(agent.DispatchMetadata(), ROOM, settings)
        self.assertEqual(self.warden.requests, [])

    def test_inbound_session_refused(self) -> None:
        settings = agent.WorkerSettings(warden_url=self.warden.url, worker_token="wdw_revoked")
        with self.assertRaises(agent.WardenError) as caught:
            agent.prepare_call(agent.DispatchMetadata(), ROOM, settings)
        self.assertEqual(caught.exception.status, 401)

    def test_prompt_failure_falls_back(self) -> None:
        self.warden.fail_toolset = True
        call = agent.prepare_call(agent.DispatchMetadata(), ROOM, self.settings)
        self.assertEqual(call.session.session_token, SESSION_TOKEN)
        self.assertEqual(call.instructions, agent.DEFAULT_INSTRUCTIONS)
        self.assertIn("database unavailable", self.log.getvalue())
        self.assert_no_token_logged()

    def test_unknown_agent_uses_default_instructions(self) -> None:
        settings = agent.WorkerSettings(warden_url=self.warden.url, worker_token=WORKER_TOKEN)
        # Warden answers for the agent id; the room name alone names no agent.
        with mock.patch.object(agent, "open_session") as opened:
            opened.return_value = agent.CallSession(
                mcp_url=self.warden.mcp_url, session_token=SESSION_TOKEN
            )
            call = agent.prepare_call(agent.DispatchMetadata(), "lobby", settings)
        opened.assert_called_once_with(self.warden.url, WORKER_TOKEN, {"room_name": "lobby"})
        self.assertEqual(call.instructions, agent.DEFAULT_INSTRUCTIONS)
        self.assertEqual(self.warden.requests, [])
        self.assert_no_token_logged()


class VoiceConfigTest(unittest.TestCase):
    def test_defaults_and_overrides(self) -> None:
        self.assertEqual(agent.voice_config_from_env({}), agent.VoiceConfig(stack="openai"))
        config = agent.voice_config_from_env(
            {"WARDEN_VOICE_STACK": "Deepgram-Cartesia", "WARDEN_LLM_MODEL": "gpt-4.1"}
        )
        self.assertEqual(config.stack, "deepgram-cartesia")
        self.assertEqual(config.llm_model, "gpt-4.1")
        with self.assertRaises(ValueError):
            agent.voice_config_from_env({"WARDEN_VOICE_STACK": "nope"})

    def test_inference_needs_no_plugin(self) -> None:
        pipeline = agent.build_voice_pipeline(agent.VoiceConfig(stack="inference"))
        self.assertEqual(set(pipeline), {"stt", "llm", "tts"})
        self.assertTrue(all(isinstance(v, str) for v in pipeline.values()))

    @unittest.skipIf(
        importlib.util.find_spec("livekit.plugins") is not None
        and importlib.util.find_spec("livekit.plugins.openai") is not None,
        "the OpenAI plugin is installed",
    )
    def test_missing_plugin_names_the_extra(self) -> None:
        with self.assertRaises(ImportError) as caught:
            agent.build_voice_pipeline(agent.VoiceConfig(stack="openai"))
        self.assertIn("livekit-agents[openai]==1.8.9", str(caught.exception))


class McpServerTest(unittest.TestCase):
    def test_session_builds_livekit_mcp_server(self) -> None:
        # The real livekit-agents 1.8.9 classes the entrypoint uses, built (not
        # connected) from a call session.
        from livekit.agents.llm.mcp import MCPServerHTTP, MCPToolset

        session = agent.CallSession(mcp_url="https://warden.example/mcp", session_token=SESSION_TOKEN)
        server = MCPServerHTTP(
            url=session.mcp_url,
            transport_type="streamable_http",
            headers=session.mcp_headers(),
            client_session_timeout_seconds=30.0,
        )
        toolset = MCPToolset(id="warden", mcp_server=server)
        self.assertEqual(server.headers, {"Authorization": f"Bearer {SESSION_TOKEN}"})
        self.assertIn("streamable_http", repr(server))
        self.assertNotIn(SESSION_TOKEN, repr(server))
        self.assertEqual(toolset.id, "warden")


if __name__ == "__main__":
    unittest.main()
