"""Caller look-up for receptionist agents: who is calling, from HubSpot CRM.

A voice agent calls `find_caller` as soon as the call starts (during a phone
call the tool knows the caller's number), greets a known contact by name,
and files what the call was about with `log_call_note` before it ends.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from warden_tool import (
    Context,
    Credential,
    InvalidArguments,
    NotConfigured,
    NotFound,
    Secret,
    Tool,
    function,
    http,
    log,
)

HUBSPOT = "https://api.hubapi.com"

#: The association type id of "note to contact" (HubSpot-defined).
NOTE_TO_CONTACT = 202

#: What the agent gets to know about a caller.
PROPERTIES = ["firstname", "lastname", "email", "phone", "mobilephone", "company", "lifecyclestage"]

#: Longest note kept: what a caller said, summarized by the agent.
MAX_NOTE = 2000


@dataclass
class Config:
    """Where the CRM is.

    Attributes:
        api_base: HubSpot's API origin. Leave the default outside tests.
    """

    api_base: str = HUBSPOT


@dataclass
class Caller:
    """A contact found by phone number."""

    contact_id: str
    name: str
    email: str | None
    company: str | None
    lifecycle_stage: str | None


class HubSpotCrm(Tool):
    """Looks up callers in HubSpot CRM by phone number and files call notes on
    their contact record, for receptionist agents."""

    name = "hubspot_crm"
    version = "0.2.0"
    config = Config
    secrets = [
        Secret(
            "access_token",
            "A HubSpot private app access token with the crm.objects.contacts.read "
            "and crm.objects.contacts.write scopes.",
        )
    ]
    allowed_hosts = [HUBSPOT]
    credentials = [Credential("access_token", [HUBSPOT], "authorization", "Bearer {}")]

    # Reads the organization's own CRM and reaches no one: read-only, closed.
    @function(read_only=True, open_world=False)
    def find_caller(
        self,
        ctx: Context[Config],
        phone: Annotated[
            str | None,
            "The phone number to look up, ideally in E.164 (+15551234567). "
            "Leave it out during a phone call to look up who is calling.",
        ] = None,
    ) -> dict:
        """Find the contact calling from a phone number, to greet them by name
        and skip questions the CRM already answers."""
        calling = ctx.call.caller_number if ctx.call else None
        if phone is None:
            if calling is None:
                raise InvalidArguments("the caller's number is not known: ask for it and pass it as phone")
            phone = calling
        number = normalize_phone(phone)
        filters = [
            {"filters": [{"propertyName": prop, "operator": "EQ", "value": form}]}
            for prop in ("phone", "mobilephone")
            for form in dict.fromkeys((number, phone.strip()))
        ]
        found = http.post(
            f"{api_base(ctx)}/crm/v3/objects/contacts/search",
            json={"filterGroups": filters[:5], "properties": PROPERTIES, "limit": 2},
        ).raise_for_status().json()
        results = found.get("results") or []
        if not results:
            raise NotFound(f"no contact has the number {number}; ask for the caller's name")
        if len(results) > 1:
            log.info(f"{found.get('total')} contacts share a number; using the first")
        first_name = (results[0].get("properties") or {}).get("firstname")
        # Greet only the person on the phone, not someone whose number they gave.
        if first_name and calling is not None and normalize_phone(calling) == number:
            ctx.speak(f"Hi {first_name}, thanks for calling!")
        return {"caller": _caller(results[0]), "matches": found.get("total", len(results))}

    # Adds a note each time (Warden runs it once per call id, so a retried
    # call does not), to the organization's own CRM.
    @function(open_world=False)
    def log_call_note(
        self,
        ctx: Context[Config],
        contact_id: Annotated[str, "The contact's id, from find_caller."],
        summary: Annotated[str, "What the call was about and what was agreed, in a few sentences."],
    ) -> dict:
        """File a note about this call on the caller's contact record."""
        if not contact_id.isdigit():
            raise InvalidArguments("contact_id is the numeric id find_caller returned")
        summary = summary.strip()
        if not summary:
            raise InvalidArguments("the summary is empty")
        body = f"Voice agent call {ctx.call_id}: {summary[:MAX_NOTE]}"
        created = http.post(
            f"{api_base(ctx)}/crm/v3/objects/notes",
            json={
                "properties": {
                    "hs_timestamp": str(int(time.time() * 1000)),
                    "hs_note_body": body,
                },
                "associations": [
                    {
                        "to": {"id": contact_id},
                        "types": [
                            {
                                "associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": NOTE_TO_CONTACT,
                            }
                        ],
                    }
                ],
            },
        )
        if created.status == 400 and "association" in created.text.lower():
            raise NotFound(f"there is no contact {contact_id}")
        note = created.raise_for_status().json()
        return {"note_id": note["id"], "contact_id": contact_id}

    def test(self, ctx: Context[Config]) -> dict:
        """One cheap search: the token works and may read contacts."""
        http.post(
            f"{api_base(ctx)}/crm/v3/objects/contacts/search",
            json={"limit": 1, "properties": ["firstname"]},
        ).raise_for_status()
        return {"ok": True, "api": api_base(ctx)}


def api_base(ctx: Context[Config]) -> str:
    base = ctx.config.api_base.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise NotConfigured("api_base must be an http(s) origin such as https://api.hubapi.com")
    return base


def normalize_phone(phone: str) -> str:
    """`phone` without spacing and punctuation (`+1 (555) 010-0199` becomes
    `+15550100199`, `0044…` becomes `+44…`); refuses what cannot be a phone
    number."""
    digits = re.sub(r"[\s().\-]", "", phone.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not re.fullmatch(r"\+?[0-9]{6,15}", digits):
        raise InvalidArguments(f"{phone!r} is not a phone number")
    return digits


def _caller(contact: dict) -> Caller:
    p = contact.get("properties") or {}
    name = " ".join(x for x in (p.get("firstname"), p.get("lastname")) if x) or "unknown"
    return Caller(
        contact_id=str(contact["id"]),
        name=name,
        email=p.get("email"),
        company=p.get("company"),
        lifecycle_stage=p.get("lifecyclestage"),
    )
