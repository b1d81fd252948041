"""TikTok's webhook: verify an event's signature, then act on it once.

TikTok signs each POST with ``TikTok-Signature: t=<unix seconds>,s=<hex>``,
``<hex>`` being HMAC-SHA256 keyed with the app's client secret over
``"<t>." + <raw body>`` (developers.tiktok.com/doc/webhooks-verification).
The body is ``{client_key, event, create_time, user_openid, content}`` with
``content`` a JSON *string*. TikTok delivers at least once, so an event is
handled once per (event, user, create_time, content): a redelivery or a
replay inside the 5-minute window changes nothing.

On ``authorization.removed`` (its tokens are already revoked) the account is
marked disconnected with TikTok's reason: its tokens go, scheduled syncs stop,
its pages say why, and an ``authorization_removed`` alert fires.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from datetime import UTC, datetime

from dashboard.alerts import Event
from dashboard.storage.models import utcnow

from . import alerts
from .context import Core

log = logging.getLogger(__name__)

#: Signed events older (or further ahead) than this are refused: a replay.
TOLERANCE_SECONDS = 300
MAX_BODY = 64 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")


class WebhookRejected(Exception):
    """The request is refused: ``status`` 400 (malformed) or 401 (not TikTok's)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_signature(header: str | None) -> tuple[int, str]:
    """``t=<ts>,s=<hex>`` → (ts, hex); a missing header is 401, a garbled one 400."""
    if not header:
        raise WebhookRejected(401, "missing_signature")
    if len(header) > 512:
        raise WebhookRejected(400, "malformed_signature")
    pairs = {}
    for element in header.split(","):
        prefix, sep, value = element.strip().partition("=")
        if not sep or prefix in pairs:
            raise WebhookRejected(400, "malformed_signature")
        pairs[prefix] = value.strip()
    raw_t, signature = pairs.get("t", ""), pairs.get("s", "").lower()
    if not (raw_t.isascii() and raw_t.isdigit() and len(raw_t) <= 12) or not _HEX64.fullmatch(signature):
        raise WebhookRejected(400, "malformed_signature")
    return int(raw_t), signature


def verify(secret: str, header: str | None, body: bytes, now: float) -> None:
    """Raise :class:`WebhookRejected` unless ``body`` is TikTok's, signed within 5 minutes."""
    timestamp, signature = parse_signature(header)
    expected = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise WebhookRejected(401, "bad_signature")
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise WebhookRejected(401, "stale_timestamp")


def parse_event(body: bytes, client_key: str) -> dict:
    """The signed body as an event; 400 when it is not one of ours."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(400, "malformed_json") from exc
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise WebhookRejected(400, "malformed_event")
    create_time = event.get("create_time")
    if isinstance(create_time, bool) or not isinstance(create_time, int) or not 0 <= create_time < 2**40:
        raise WebhookRejected(400, "malformed_event")
    if event.get("client_key") != client_key:
        raise WebhookRejected(400, "wrong_client_key")
    openid = event.get("user_openid")
    if openid is not None and not (isinstance(openid, str) and len(openid) <= 128):
        raise WebhookRejected(400, "malformed_event")
    content = event.get("content", "")
    if isinstance(content, str):
        try:
            content = json.loads(content) if content else {}
        except ValueError as exc:
            raise WebhookRejected(400, "malformed_content") from exc
    event["content"] = content if isinstance(content, dict) else {}
    return event


def event_key(event: dict) -> str:
    raw = json.dumps([event["event"], event.get("user_openid"), event["create_time"],
                      event["content"]], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def handle(core: Core, body: bytes, header: str | None, *, now: float | None = None) -> str:
    """Verify and act: ``"handled"``, ``"duplicate"`` or ``"ignored"``; raises
    :class:`WebhookRejected` for anything not TikTok's, before touching anything."""
    if len(body) > MAX_BODY:
        raise WebhookRejected(400, "too_large")
    now = utcnow().timestamp() if now is None else now
    verify(core.provider.client_secret, header, body, now)
    event = parse_event(body, core.provider.client_key)
    if not core.store.alerts.record_tiktok_event(event_key(event), event=event["event"],
                                                 user_openid=event.get("user_openid"),
                                                 create_time=event["create_time"]):
        return "duplicate"
    if event["event"] == "authorization.removed":
        return authorization_removed(core, event)
    log.info("TikTok webhook event %r ignored", event["event"][:64])
    return "ignored"


def authorization_removed(core: Core, event: dict) -> str:
    account = core.store.accounts.by_open_id(event.get("user_openid") or "")
    if account is None:
        return "ignored"
    reason = event["content"].get("reason")
    reason = reason if isinstance(reason, int) and not isinstance(reason, bool) and 0 <= reason < 100 else 0
    at = datetime.fromtimestamp(event["create_time"], UTC)
    if not core.store.accounts.mark_disconnected(account.id, at, reason):
        return "duplicate"  # already disconnected: nothing new to say
    alerts.raise_event(core, account.id, Event(
        "authorization_removed", f"authorization_removed:{event['create_time']}", at, "",
        {"reason": reason}))
    log.info("account %s: TikTok says its access was removed (reason %s)", account.id, reason)
    return "handled"
