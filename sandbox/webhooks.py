"""TikTok's webhook events, as the sandbox sends them: signed like TikTok's.

``signed_event`` builds the body TikTok POSTs (``content`` is a JSON string)
and its ``TikTok-Signature`` header: ``t=<unix seconds>,s=<hex>``, the hex
being HMAC-SHA256 keyed with the client secret over ``"<t>." + body``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from .state import SANDBOX_CLIENT_KEY, SANDBOX_CLIENT_SECRET

#: ``authorization.removed`` reasons (0 unknown ... 5 developer revoked).
REMOVAL_REASONS = {0: "unknown", 1: "user disconnected", 2: "account deleted",
                   3: "age changed", 4: "account banned", 5: "developer revoked"}


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},s={mac}"


def event_body(event: str, user_openid: str, content: dict, *, create_time: int | None = None,
               client_key: str = SANDBOX_CLIENT_KEY) -> bytes:
    return json.dumps({
        "client_key": client_key,
        "event": event,
        "create_time": int(time.time()) if create_time is None else create_time,
        "user_openid": user_openid,
        "content": json.dumps(content),
    }).encode()


def signed_event(event: str, user_openid: str, content: dict, *, create_time: int | None = None,
                 timestamp: int | None = None, client_key: str = SANDBOX_CLIENT_KEY,
                 client_secret: str = SANDBOX_CLIENT_SECRET) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of one event, signed now (or at ``timestamp``)."""
    body = event_body(event, user_openid, content, create_time=create_time, client_key=client_key)
    t = int(time.time()) if timestamp is None else timestamp
    return body, {"Content-Type": "application/json",
                  "TikTok-Signature": signature(client_secret, t, body)}


def authorization_removed(user_openid: str, reason: int = 1, **kwargs) -> tuple[bytes, dict[str, str]]:
    return signed_event("authorization.removed", user_openid, {"reason": reason}, **kwargs)
