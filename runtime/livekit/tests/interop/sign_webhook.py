"""Signs a webhook body the way LiveKit server does, with the Python SDK.

LiveKit's webhook notifier puts an access token in the Authorization header:
issued by the API key, signed with its secret, valid for a few minutes, with a
`sha256` claim holding the base64 SHA-256 of the exact body. The SDK's
WebhookReceiver (webhook.py) checks the token and then that hash.

Reads {"api_key", "api_secret", "body"} as JSON on stdin and prints the token.
The SDK's own WebhookReceiver checks it first, so a token printed here is one
LiveKit's Python receiver accepts.
"""

import base64
import datetime
import hashlib
import json
import sys

from livekit.api import AccessToken, TokenVerifier, WebhookReceiver

request = json.load(sys.stdin)
body = request["body"]
digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
token = (
    AccessToken(request["api_key"], request["api_secret"])
    .with_ttl(datetime.timedelta(minutes=5))
    .with_sha256(digest)
    .to_jwt()
)
receiver = WebhookReceiver(TokenVerifier(request["api_key"], request["api_secret"]))
receiver.receive(body, token)
print(token)
