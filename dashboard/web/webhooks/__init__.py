"""``POST /webhooks/tiktok``: TikTok's events, signed instead of CSRF-protected.

Register ``https://<your host>/webhooks/tiktok`` as the callback URL in the
TikTok for Developers portal (your app → Webhooks). Every answer is JSON
and immediate: 200 for an event that was verified (handled, a duplicate or
of a kind the dashboard ignores), 400 for a malformed request, 401 for one
not signed by TikTok within 5 minutes. A refused request changes nothing.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from dashboard.core import tiktok_webhook

from ..context import get_core
from ..security import csrf, rate_limited

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _limit() -> str:
    return current_app.config["TIKTOK_WEBHOOK_RATE_LIMIT"]


@bp.post("/tiktok")
@csrf.exempt
@rate_limited(_limit)
def tiktok():
    if (request.content_length or 0) > tiktok_webhook.MAX_BODY:
        return jsonify(ok=False, error="too_large"), 400
    body = request.stream.read(tiktok_webhook.MAX_BODY + 1)  # a body without a length, too
    try:
        outcome = tiktok_webhook.handle(get_core(), body, request.headers.get("TikTok-Signature"))
    except tiktok_webhook.WebhookRejected as exc:
        log.info("TikTok webhook refused: %s", exc.reason)
        return jsonify(ok=False, error=exc.reason), exc.status
    return jsonify(ok=True, outcome=outcome), 200
