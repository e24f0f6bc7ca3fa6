"""A LiveKit Agents worker that answers and places phone calls with Warden's tools.

Warden hands each call's tools to the worker over MCP:

* Outbound calls (``POST /v1/agents/{agent_id}/calls`` on Warden): Warden
  dispatches this worker explicitly, under ``WARDEN_LIVEKIT_AGENT_NAME``, with
  dispatch metadata ``{"mcp_url", "session_token", "call_session_id",
  "agent_id"}``.
* Inbound calls (a LiveKit SIP dispatch rule): the job carries no Warden
  metadata, so the worker opens a call session itself with its worker token
  (``POST {WARDEN_URL}/worker/v1/sessions``).

Either way the agent connects to ``mcp_url`` with ``Authorization: Bearer
<session token>`` and takes its instructions from the agent's system prompt
(``GET {WARDEN_URL}/worker/v1/agents/{agent_id}/toolset``).

Run it with ``python agent.py dev`` (or ``start``); see README.md.

The Warden-facing logic (``parse_dispatch_metadata``, ``open_session``,
``fetch_system_prompt``, ...) is plain Python with no LiveKit dependency and is
tested in test_agent.py. Neither the session token nor the worker token is ever
logged: the dataclasses holding them leave them out of their ``repr``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli

logger = logging.getLogger("warden-agent")

DEFAULT_AGENT_NAME = "warden-agent"
DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant on a phone call. Keep your answers short and "
    "conversational, and use your tools when they help."
)
HTTP_TIMEOUT_SECONDS = 10.0
ROOM_PREFIX = "agent-"


# ---------------------------------------------------------------------------
# Warden-facing logic: pure functions and plain HTTP, no LiveKit.
# ---------------------------------------------------------------------------


class WardenError(RuntimeError):
    """Warden refused a request, or could not be reached.

    The message carries the status and Warden's problem ``detail``, never a token.
    """

    def __init__(self, message: str, *, status: int | None = None, kind: str | None = None):
        super().__init__(message)
        self.status = status
        self.kind = kind


@dataclass(frozen=True)
class DispatchMetadata:
    """What Warden put in the job's dispatch metadata (all optional)."""

    mcp_url: str | None = None
    session_token: str | None = field(default=None, repr=False)
    call_session_id: str | None = None
    agent_id: str | None = None

    @property
    def has_session(self) -> bool:
        """Whether Warden already opened the call session (an outbound call)."""
        return bool(self.mcp_url and self.session_token)


@dataclass(frozen=True)
class CallSession:
    """A call session: where the call's MCP client connects, and its token."""

    mcp_url: str
    session_token: str = field(repr=False)
    call_session_id: str | None = None
    agent_id: str | None = None
    expires_at: str | None = None

    def mcp_headers(self) -> dict[str, str]:
        """The headers of every MCP request of this call."""
        return {"Authorization": f"Bearer {self.session_token}"}


@dataclass(frozen=True)
class WorkerSettings:
    """The worker's own configuration, from the environment."""

    warden_url: str | None = None
    worker_token: str | None = field(default=None, repr=False)
    agent_name: str = DEFAULT_AGENT_NAME
    default_agent_id: str | None = None
    mcp_timeout_seconds: float = 30.0


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"dispatch metadata field {key!r} must be a string")
    value = value.strip()
    return value or None


def _check_http_url(url: str, what: str) -> str:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{what} must be an http:// or https:// URL")
    return url


def parse_dispatch_metadata(raw: str | None) -> DispatchMetadata:
    """Parses the job's dispatch metadata.

    Empty metadata, or metadata that is not a JSON object (a SIP dispatch rule may
    carry anything), gives an empty ``DispatchMetadata``: the worker then opens the
    session itself. A JSON object with Warden's fields of the wrong type, or a
    token without an MCP URL (or the reverse), raises ``ValueError``.
    """
    if raw is None or not raw.strip():
        return DispatchMetadata()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return DispatchMetadata()
    if not isinstance(data, dict):
        return DispatchMetadata()
    meta = DispatchMetadata(
        mcp_url=_optional_str(data, "mcp_url"),
        session_token=_optional_str(data, "session_token"),
        call_session_id=_optional_str(data, "call_session_id"),
        agent_id=_optional_str(data, "agent_id"),
    )
    if bool(meta.mcp_url) != bool(meta.session_token):
        raise ValueError("dispatch metadata must carry both mcp_url and session_token, or neither")
    if meta.mcp_url:
        _check_http_url(meta.mcp_url, "dispatch metadata mcp_url")
    return meta


def agent_id_from_room_name(room_name: str) -> str | None:
    """The agent id in a room named ``agent-{agent_id}-{phone}`` (phone in E.164).

    Mirrors Warden's ``parse_room_name``: agent ids may contain hyphens (UUIDs do),
    phone numbers never do, so the phone is everything after the last hyphen.
    ``None`` for any other name.
    """
    if not room_name.startswith(ROOM_PREFIX):
        return None
    agent_id, sep, phone = room_name[len(ROOM_PREFIX) :].rpartition("-")
    if not sep or not agent_id or not _is_e164(phone):
        return None
    return agent_id


def _is_e164(phone: str) -> bool:
    digits = phone[1:]
    return (
        phone.startswith("+")
        and digits.isascii()
        and digits.isdigit()
        and 2 <= len(digits) <= 15
        and not digits.startswith("0")
    )


def caller_number(attributes: Mapping[str, str]) -> str | None:
    """The caller's E.164 number from a SIP participant's attributes
    (``sip.phoneNumber``), or ``None`` when absent, hidden or not E.164."""
    phone = (attributes.get("sip.phoneNumber") or "").strip()
    return phone if _is_e164(phone) else None


def dialled_number(attributes: Mapping[str, str]) -> str | None:
    """The number the caller dialled, the agent's own, from a SIP participant's
    attributes (``sip.trunkPhoneNumber``), or ``None`` when absent or not E.164."""
    phone = (attributes.get("sip.trunkPhoneNumber") or "").strip()
    return phone if _is_e164(phone) else None


def settings_from_env(env: Mapping[str, str] | None = None) -> WorkerSettings:
    """Reads ``WARDEN_URL``, ``WARDEN_WORKER_TOKEN``, ``WARDEN_LIVEKIT_AGENT_NAME``,
    ``WARDEN_AGENT_ID`` and ``WARDEN_MCP_TIMEOUT_SECONDS`` (empty counts as unset)."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    warden_url = get("WARDEN_URL")
    if warden_url:
        warden_url = _check_http_url(warden_url, "WARDEN_URL").rstrip("/")
    timeout = get("WARDEN_MCP_TIMEOUT_SECONDS")
    return WorkerSettings(
        warden_url=warden_url,
        worker_token=get("WARDEN_WORKER_TOKEN"),
        agent_name=get("WARDEN_LIVEKIT_AGENT_NAME") or DEFAULT_AGENT_NAME,
        default_agent_id=get("WARDEN_AGENT_ID"),
        mcp_timeout_seconds=float(timeout) if timeout else 30.0,
    )


def session_request_body(
    room_name: str,
    *,
    agent_id: str | None = None,
    phone_number: str | None = None,
    agent_number: str | None = None,
) -> dict[str, str]:
    """The body of ``POST /worker/v1/sessions``.

    ``{"agent_id", "room_name", "phone_number"?, "agent_number"?}`` when the
    agent is known (a fixed ``WARDEN_AGENT_ID``, or an ``agent_id`` the dispatch
    rule put in the metadata): the room is any name LiveKit gave it, and its
    ``room_finished`` webhook ends the session. Otherwise ``{"room_name",
    "agent_number"?}``, named ``agent-{agent_id}-{phone}``, and Warden reads the
    agent and the caller's number from it. ``agent_number`` is the number the
    caller dialled, which a tool sees as ``ctx.call.agent_number``.
    """
    if agent_id:
        body = {"agent_id": agent_id}
        if room_name:
            body["room_name"] = room_name
        if phone_number:
            body["phone_number"] = phone_number
    elif room_name:
        body = {"room_name": room_name}
    else:
        raise ValueError("the room has no name and no agent id is configured")
    if agent_number:
        body["agent_number"] = agent_number
    return body


def _request_json(
    method: str,
    url: str,
    *,
    token: str,
    body: Mapping[str, Any] | None = None,
    timeout: float = HTTP_TIMEOUT_SECONDS,
) -> Any:
    """One JSON request to Warden with a bearer token; errors become ``WardenError``."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    path = urllib.parse.urlparse(url).path
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as e:
        detail, kind = _problem(e)
        raise WardenError(
            f"Warden answered {e.code} to {method} {path}: {detail}", status=e.code, kind=kind
        ) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise WardenError(f"cannot reach Warden for {method} {path}: {reason}") from None
    try:
        return json.loads(payload)
    except json.JSONDecodeError:
        raise WardenError(f"Warden's answer to {method} {path} is not JSON") from None


def _problem(error: urllib.error.HTTPError) -> tuple[str, str | None]:
    """The ``detail`` and ``kind`` of Warden's problem+json answer, if any."""
    try:
        problem = json.loads(error.read() or b"{}")
    except (json.JSONDecodeError, OSError):
        problem = None
    if isinstance(problem, dict):
        detail = problem.get("detail") or problem.get("title") or error.reason
        kind = problem.get("kind")
        return str(detail), kind if isinstance(kind, str) else None
    return str(error.reason), None


def open_session(
    warden_url: str,
    worker_token: str,
    body: Mapping[str, str],
    *,
    timeout: float = HTTP_TIMEOUT_SECONDS,
) -> CallSession:
    """Opens a call session for an inbound call: ``POST /worker/v1/sessions``."""
    answer = _request_json(
        "POST",
        f"{warden_url.rstrip('/')}/worker/v1/sessions",
        token=worker_token,
        body=body,
        timeout=timeout,
    )
    if not isinstance(answer, dict):
        raise WardenError("Warden's session is not a JSON object")
    mcp_url, token = answer.get("mcp_url"), answer.get("session_token")
    if not isinstance(mcp_url, str) or not mcp_url or not isinstance(token, str) or not token:
        raise WardenError("Warden's session lacks mcp_url or session_token")
    agent_id = answer.get("agent_id")
    return CallSession(
        mcp_url=_check_http_url(mcp_url, "the session's mcp_url"),
        session_token=token,
        call_session_id=answer.get("call_session_id"),
        agent_id=agent_id if isinstance(agent_id, str) and agent_id else body.get("agent_id"),
        expires_at=answer.get("expires_at"),
    )


def fetch_system_prompt(
    warden_url: str,
    worker_token: str,
    agent_id: str,
    *,
    timeout: float = HTTP_TIMEOUT_SECONDS,
) -> str | None:
    """The agent's system prompt: ``GET /worker/v1/agents/{agent_id}/toolset``.

    ``None`` when the agent has no prompt. (The tools themselves come over MCP.)
    """
    quoted = urllib.parse.quote(agent_id, safe="")
    answer = _request_json(
        "GET",
        f"{warden_url.rstrip('/')}/worker/v1/agents/{quoted}/toolset",
        token=worker_token,
        timeout=timeout,
    )
    if not isinstance(answer, dict):
        raise WardenError("Warden's toolset is not a JSON object")
    prompt = answer.get("system_prompt")
    return prompt if isinstance(prompt, str) and prompt.strip() else None


@dataclass(frozen=True)
class CallSetup:
    """Everything the worker needs from Warden to take a call."""

    session: CallSession
    instructions: str
    outbound: bool


def prepare_call(
    metadata: DispatchMetadata,
    room_name: str,
    settings: WorkerSettings,
    *,
    phone_number: str | None = None,
    agent_number: str | None = None,
) -> CallSetup:
    """The call's MCP session and instructions, from the dispatch metadata, the
    room and the worker's settings.

    Uses the session Warden put in the metadata (outbound), or opens one
    (inbound, which needs ``WARDEN_URL`` and ``WARDEN_WORKER_TOKEN``). The prompt
    is fetched when the worker token is set and the agent is known; a failure
    there falls back to ``DEFAULT_INSTRUCTIONS`` (the caller is already waiting),
    a failure to open the session raises.
    """
    if metadata.has_session:
        assert metadata.mcp_url and metadata.session_token
        session = CallSession(
            mcp_url=metadata.mcp_url,
            session_token=metadata.session_token,
            call_session_id=metadata.call_session_id,
            agent_id=metadata.agent_id,
        )
        outbound = True
    else:
        if not settings.warden_url or not settings.worker_token:
            raise WardenError(
                "the job carries no Warden session (an inbound call): set WARDEN_URL and "
                "WARDEN_WORKER_TOKEN so the worker can open one"
            )
        body = session_request_body(
            room_name,
            agent_id=metadata.agent_id or settings.default_agent_id,
            phone_number=phone_number,
            agent_number=agent_number,
        )
        session = open_session(settings.warden_url, settings.worker_token, body)
        outbound = False

    agent_id = (
        session.agent_id
        or metadata.agent_id
        or agent_id_from_room_name(room_name)
        or settings.default_agent_id
    )
    instructions = DEFAULT_INSTRUCTIONS
    if agent_id and settings.warden_url and settings.worker_token:
        try:
            prompt = fetch_system_prompt(settings.warden_url, settings.worker_token, agent_id)
        except WardenError as e:
            logger.warning("using the default instructions: %s", e)
        else:
            if prompt:
                instructions = prompt
    elif not agent_id:
        # (the room name is not logged: it holds the caller's number)
        logger.warning("the agent is unknown: using the default instructions")
    else:
        logger.info("WARDEN_URL/WARDEN_WORKER_TOKEN unset: using the default instructions")
    return CallSetup(session=session, instructions=instructions, outbound=outbound)


# ---------------------------------------------------------------------------
# The voice pipeline, chosen by environment; plugins are imported lazily.
# ---------------------------------------------------------------------------

VOICE_STACKS = ("openai", "deepgram-cartesia", "inference")


@dataclass(frozen=True)
class VoiceConfig:
    stack: str = "openai"
    stt_model: str | None = None
    llm_model: str | None = None
    tts_model: str | None = None
    tts_voice: str | None = None


def voice_config_from_env(env: Mapping[str, str] | None = None) -> VoiceConfig:
    """``WARDEN_VOICE_STACK`` (``openai``, ``deepgram-cartesia`` or ``inference``)
    and the optional ``WARDEN_STT_MODEL``, ``WARDEN_LLM_MODEL``,
    ``WARDEN_TTS_MODEL`` and ``WARDEN_TTS_VOICE``."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    stack = (get("WARDEN_VOICE_STACK") or "openai").lower()
    if stack not in VOICE_STACKS:
        raise ValueError(f"WARDEN_VOICE_STACK must be one of {', '.join(VOICE_STACKS)}")
    return VoiceConfig(
        stack=stack,
        stt_model=get("WARDEN_STT_MODEL"),
        llm_model=get("WARDEN_LLM_MODEL"),
        tts_model=get("WARDEN_TTS_MODEL"),
        tts_voice=get("WARDEN_TTS_VOICE"),
    )


def _import_plugin(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"livekit.plugins.{name}")
    except ImportError as e:
        raise ImportError(
            f"this voice stack needs the {name} plugin: "
            f"pip install 'livekit-agents[{name}]==1.8.9'"
        ) from e


def _kwargs(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def build_voice_pipeline(config: VoiceConfig) -> dict[str, Any]:
    """STT, LLM and TTS for ``AgentSession(**pipeline)``.

    VAD and turn detection are left to AgentSession's defaults (the bundled
    Silero VAD and turn detector).
    """
    if config.stack == "inference":
        # LiveKit Inference model strings (LiveKit Cloud); no plugin needed.
        return {
            "stt": config.stt_model or "deepgram/nova-3",
            "llm": config.llm_model or "openai/gpt-4.1-mini",
            "tts": config.tts_model or "cartesia/sonic-3",
        }
    openai = _import_plugin("openai")
    llm = openai.LLM(**_kwargs(model=config.llm_model or "gpt-4.1-mini"))
    if config.stack == "openai":
        return {
            "stt": openai.STT(**_kwargs(model=config.stt_model)),
            "llm": llm,
            "tts": openai.TTS(**_kwargs(model=config.tts_model, voice=config.tts_voice)),
        }
    deepgram = _import_plugin("deepgram")
    cartesia = _import_plugin("cartesia")
    return {
        "stt": deepgram.STT(**_kwargs(model=config.stt_model)),
        "llm": llm,
        "tts": cartesia.TTS(**_kwargs(model=config.tts_model, voice=config.tts_voice)),
    }


# ---------------------------------------------------------------------------
# The LiveKit worker.
# ---------------------------------------------------------------------------

SETTINGS = settings_from_env()
server = AgentServer()


@server.rtc_session(agent_name=SETTINGS.agent_name)
async def entrypoint(ctx: JobContext) -> None:
    from livekit.agents.llm.mcp import MCPServerHTTP, MCPToolset

    room_name = ctx.job.room.name or ctx.room.name
    metadata = parse_dispatch_metadata(ctx.job.metadata)
    phone_number = agent_number = None
    if not metadata.has_session and (metadata.agent_id or SETTINGS.default_agent_id):
        # Inbound, and the agent is known: tell Warden who is calling, and which of
        # the agent's numbers they dialled. (A room named agent-{agent_id}-{phone}
        # carries the caller's number; LiveKit's participant_joined webhook gives
        # Warden the rest.)
        await ctx.connect()
        try:
            caller = await asyncio.wait_for(
                ctx.wait_for_participant(kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP),
                timeout=10,
            )
        except asyncio.TimeoutError:
            logger.warning("no SIP participant joined within 10 s")
        else:
            phone_number = caller_number(caller.attributes)
            agent_number = dialled_number(caller.attributes)
    call = await asyncio.to_thread(
        prepare_call,
        metadata,
        room_name,
        SETTINGS,
        phone_number=phone_number,
        agent_number=agent_number,
    )
    logger.info(
        "call session %s (%s); MCP at %s",
        call.session.call_session_id,
        "outbound" if call.outbound else "inbound",
        call.session.mcp_url,
    )

    tools = MCPToolset(
        id="warden",
        mcp_server=MCPServerHTTP(
            url=call.session.mcp_url,
            transport_type="streamable_http",
            headers=call.session.mcp_headers(),
            # The MCP read timeout: a tool call may take this long.
            client_session_timeout_seconds=SETTINGS.mcp_timeout_seconds,
        ),
    )
    # Connect now, so a bad token or URL fails the job here rather than leaving
    # the agent on the call without its tools (AgentSession only logs it).
    await tools.setup()

    session = AgentSession(**build_voice_pipeline(voice_config_from_env()))
    await ctx.connect()
    await session.start(
        agent=Agent(instructions=call.instructions, tools=[tools]),
        room=ctx.room,
    )
    if not call.outbound:
        # On an outbound call the callee speaks first ("Hello?").
        session.generate_reply(instructions="Greet the caller and offer your help.")


if __name__ == "__main__":
    cli.run_app(server)
