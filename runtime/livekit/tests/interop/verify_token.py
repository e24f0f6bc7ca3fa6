"""Verifies a token Warden signed with LiveKit's official Python SDK.

Reads {"api_key", "api_secret", "token"} as JSON on stdin and prints the
verified claims (livekit.api.Claims.asdict(): camelCase grant names) as JSON.
Exits non-zero if TokenVerifier rejects the token.
"""

import json
import sys

from livekit.api import TokenVerifier

request = json.load(sys.stdin)
claims = TokenVerifier(request["api_key"], request["api_secret"]).verify(request["token"])
print(json.dumps(claims.asdict()))
