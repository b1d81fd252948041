"""Outgoing webhooks: one signed JSON POST per alert, retried for a day.

**Where they may go (SSRF).** A URL must be ``https`` (plain ``http`` only
to a loopback host, and only when private hosts are allowed), with no user
name or password in it. Its host is resolved and *every* address it
resolves to must be public: loopback, private (10/8, 172.16/12,
192.168/16, fc00::/7), link-local (169.254/16 — cloud metadata —, fe80::/10),
multicast, reserved and unspecified addresses are refused, when the URL is
saved and again at each send. ``WEBHOOKS_ALLOW_PRIVATE_HOSTS=1`` lets a
deployment send to loopback and private addresses (never link-local). The
POST connects to the address that was checked (the name is not resolved a
second time, so DNS cannot be switched between check and connect), sends
the real host name in ``Host`` and for TLS (SNI and certificate check),
ignores proxy variables and follows no redirect.

**Signature.** ``X-Dashboard-Signature: t=<unix seconds>,v1=<hex>`` where
``<hex>`` is HMAC-SHA256, keyed with the webhook's signing secret, over
``"<t>." + <raw body>`` — TikTok's own scheme. A receiver recomputes it in
constant time and refuses a ``t`` more than 5 minutes from its clock.
``X-Dashboard-Delivery`` (stable across retries) lets it drop duplicates.

**Retries.** 2xx is delivered. A timeout, a connection error, a 408, 429
or 5xx is tried again after 30 s, then 4× longer each time (at most 4 h),
until a day after the alert; a 429's ``Retry-After`` is honoured (up to an
hour). Other 4xx answers and refused addresses end the delivery. Every
attempt is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool

from dashboard.storage.alerts import StoredAlert
from dashboard.storage.models import utcnow
from dashboard.urls import is_loopback_host

from . import alert_text
from .context import Core

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Dashboard-Signature"
MAX_URL_LENGTH = 2048
#: Retry delays: the first, the factor, the cap; the whole effort ends a day after the alert.
FIRST_RETRY = 30.0
RETRY_FACTOR = 4.0
MAX_RETRY = 4 * 3600.0
RETRY_FOR = timedelta(days=1)
MAX_RETRY_AFTER = 3600.0
#: Seconds to open a connection; reading is WEBHOOK_TIMEOUT.
CONNECT_TIMEOUT = 5.0
#: Discord refuses longer messages.
DISCORD_MAX = 2000

SLACK_HOSTS = frozenset({"hooks.slack.com"})
DISCORD_HOSTS = frozenset({"discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com"})


class WebhookRefused(Exception):
    """This URL may not receive webhooks; ``reason`` says why (a code)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    scheme: str
    kind: str  # "json", "slack" or "discord"


# --- where a webhook may go ---------------------------------------------------------------------


def kind_of(host: str, path: str) -> str:
    host = host.lower()
    if host in SLACK_HOSTS and path.startswith(("/services/", "/triggers/", "/workflows/")):
        return "slack"
    if host in DISCORD_HOSTS and path.startswith("/api/webhooks/"):
        return "discord"
    return "json"


def parse_target(url: str, *, allow_private: bool) -> Target:
    """The URL's parts, or :class:`WebhookRefused` (no DNS here)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or any(
            ord(c) < 33 or ord(c) == 127 for c in url):
        raise WebhookRefused("bad_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused("bad_url") from exc
    host = (parts.hostname or "").rstrip(".")
    if not host or parts.username is not None or parts.password is not None:
        raise WebhookRefused("bad_url")
    if parts.scheme == "http":
        if not (allow_private and is_loopback_host(host)):
            raise WebhookRefused("not_https")
    elif parts.scheme != "https":
        raise WebhookRefused("not_https")
    port = port or (443 if parts.scheme == "https" else 80)
    return Target(url, host, port, parts.scheme, kind_of(host, parts.path))


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Whether a resolved address may receive a webhook."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return False
    if ip.is_global:
        return True
    return allow_private and (ip.is_loopback or ip.is_private)


def resolve(target: Target, *, allow_private: bool) -> str:
    """The address to connect to: every address of the host must be allowed."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise WebhookRefused("unresolvable") from exc
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise WebhookRefused("unresolvable")
    if not all(address_allowed(a, allow_private=allow_private) for a in addresses):
        raise WebhookRefused("private_address")
    return addresses[0]


def check_url(url: str, *, allow_private: bool) -> Target:
    """The check made when a URL is saved: its form, then its addresses."""
    target = parse_target(url, allow_private=allow_private)
    resolve(target, allow_private=allow_private)
    return target


# --- the request ------------------------------------------------------------------------------------


class PinnedAdapter(HTTPAdapter):
    """Connects to one checked address, whatever the URL's host resolves to now."""

    def __init__(self, address: str):
        self.address = address
        super().__init__(max_retries=0)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        parts = urlsplit(request.url)
        if parts.scheme == "https":
            return HTTPSConnectionPool(self.address, parts.port or 443, maxsize=1, retries=False,
                                       server_hostname=parts.hostname, assert_hostname=parts.hostname)
        return HTTPConnectionPool(self.address, parts.port or 80, maxsize=1, retries=False)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def post(target: Target, address: str, body: bytes, headers: dict, timeout: float) -> requests.Response:
    """POST ``body`` to the target at ``address``; no redirects, no proxies."""
    with requests.Session() as session:
        session.trust_env = False
        session.mount(f"{target.scheme}://", PinnedAdapter(address))
        netloc = urlsplit(target.url).netloc
        response = session.post(target.url, data=body, headers={**headers, "Host": netloc},
                                timeout=(CONNECT_TIMEOUT, timeout), allow_redirects=False, stream=True)
        try:
            for _ in response.iter_content(1024):  # read a little, keep nothing
                break
        finally:
            response.close()
        return response


# --- what is sent -----------------------------------------------------------------------------------


def alert_link(core: Core, alert: StoredAlert) -> str:
    return core.settings.public_base_url.rstrip("/") + f"/alerts#alert-{alert.id}"


def payload(alert: StoredAlert, account, link: str, language: str) -> dict:
    """The generic JSON body: ``event``, ``account``, ``occurred_at``, the numbers, a link."""
    gettext = alert_text.translator(language)
    return {
        "event": f"alert.{alert.rule}",
        "alert_id": alert.id,
        "key": alert.key,
        "account": {"open_id": account.open_id, "username": account.username,
                    "display_name": account.display_name},
        "occurred_at": alert.occurred_at.isoformat().replace("+00:00", "Z"),
        "created_at": alert.created_at.isoformat().replace("+00:00", "Z"),
        "subject": alert.subject,
        "numbers": alert.numbers,
        "link": link,
        "language": language,
        "title": alert_text.title(alert, gettext),
        "text": alert_text.body(alert, gettext, language),
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def body_for(kind: str, data: dict) -> dict:
    """What Slack's or Discord's incoming webhooks accept, else the generic JSON."""
    who = data["account"].get("display_name") or data["account"].get("username") or ""
    if kind == "slack":
        return {"text": f"*{_slack_escape(data['title'])}* · {_slack_escape(who)}\n"
                        f"{_slack_escape(data['text'])}\n<{data['link']}>"}
    if kind == "discord":
        content = f"**{data['title']}** · {who}\n{data['text']}\n{data['link']}"
        return {"content": content[:DISCORD_MAX], "allowed_mentions": {"parse": []}}
    return data


# --- one attempt ------------------------------------------------------------------------------------


def next_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before attempt ``attempts + 1``."""
    delay = min(FIRST_RETRY * RETRY_FACTOR ** max(attempts - 1, 0), MAX_RETRY)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After", "")
    return float(raw) if raw.isdigit() else None


def plan(core: Core, alert: StoredAlert) -> int | None:
    """A pending delivery of the alert, when its account has a webhook."""
    if not core.store.alerts.config(alert.account_id).webhook_url:
        return None
    return core.store.alerts.new_delivery(alert, utcnow())


def attempt(core: Core, delivery_id: int, now: datetime | None = None) -> float | None:
    """Try one delivery once and record it; seconds until the next try, or None (done)."""
    store, now = core.store.alerts, now or utcnow()
    delivery = store.delivery(delivery_id)
    if delivery is None or delivery.status != "pending":
        return None
    alert = store.get(delivery.alert_id)
    config = store.config(delivery.account_id)
    account = core.store.accounts.get(delivery.account_id)
    if alert is None or account is None or not config.webhook_url:
        store.record_attempt(delivery_id, at=now, status_code=None, outcome="webhook_removed",
                             duration_ms=0, status="failed", next_attempt_at=None)
        return None
    outcome, status_code, retry_after, started = "ok", None, None, time.monotonic()
    allow = core.settings.webhooks_allow_private
    try:
        target = parse_target(config.webhook_url, allow_private=allow)
        address = resolve(target, allow_private=allow)
        data = payload(alert, account, alert_link(core, alert), config.webhook_language)
        body = json.dumps(body_for(target.kind, data), ensure_ascii=False).encode()
        timestamp = int(now.timestamp())
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "tiktok-analytics-dashboard-webhook/1",
                   "X-Dashboard-Event": data["event"],
                   "X-Dashboard-Delivery": str(delivery_id),
                   SIGNATURE_HEADER: sign(config.webhook_secret or "", timestamp, body)}
        response = post(target, address, body, headers, core.settings.webhook_timeout)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            outcome, retry_after = "http_error", _retry_after(response) if status_code == 429 else None
    except WebhookRefused as exc:
        outcome = exc.reason
    except requests.Timeout:
        outcome = "timeout"
    except requests.RequestException:
        outcome = "connection"
    return _settle(core, delivery, now, outcome, status_code, retry_after,
                   int((time.monotonic() - started) * 1000))


def _permanent(outcome: str, status_code: int | None) -> bool:
    if outcome in {"bad_url", "not_https", "private_address"}:
        return True
    return status_code is not None and 400 <= status_code < 500 and status_code not in (408, 429)


def _settle(core, delivery, now, outcome, status_code, retry_after, duration_ms) -> float | None:
    store = core.store.alerts
    if outcome == "ok":
        status, delay = "delivered", None
    elif _permanent(outcome, status_code):
        status, delay = "failed", None
    else:
        delay = next_delay(delivery.attempts + 1, retry_after)
        if now + timedelta(seconds=delay) > delivery.created_at + RETRY_FOR:
            status, delay = "failed", None
        else:
            status = "pending"
    store.record_attempt(delivery.id, at=now, status_code=status_code, outcome=outcome,
                         duration_ms=duration_ms, status=status,
                         next_attempt_at=now + timedelta(seconds=delay) if delay else None)
    log.info("webhook delivery %s attempt %d: %s %s -> %s", delivery.id, delivery.attempts + 1,
             outcome, status_code or "", status)
    return delay
