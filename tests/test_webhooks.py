"""Outgoing webhooks: where they may go, what they carry, how they are signed,
and how a failing receiver is retried. A real HTTP server on loopback receives them."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from dashboard.alerts import Event
from dashboard.core import alerts as core_alerts
from dashboard.core import webhooks
from dashboard.storage.alerts import StoredAlert
from dashboard.storage.models import utcnow

SECRET = "whsec-test-0123456789"


@pytest.mark.parametrize("url, allow_private, reason", [
    ("http://example.com/hook", False, "not_https"),
    ("ftp://example.com/hook", False, "not_https"),
    ("https://user:pw@93.184.216.34/hook", False, "bad_url"),
    ("https:///nohost", False, "bad_url"),
    ("https://93.184.216.34/ho ok", False, "bad_url"),
    ("https://" + "a" * 2050 + ".com/", False, "bad_url"),
    ("https://127.0.0.1/hook", False, "private_address"),
    ("https://localhost/hook", False, "private_address"),
    ("https://10.1.2.3/hook", False, "private_address"),
    ("https://192.168.0.10/hook", False, "private_address"),
    ("https://172.16.5.5/hook", False, "private_address"),
    ("https://[::1]/hook", False, "private_address"),
    ("https://[::ffff:127.0.0.1]/hook", False, "private_address"),
    ("https://[fd00::1]/hook", False, "private_address"),
    ("https://0.0.0.0/hook", False, "private_address"),
    ("https://169.254.169.254/latest/meta-data", False, "private_address"),
    ("https://169.254.169.254/latest/meta-data", True, "private_address"),  # never link-local
    ("https://[fe80::1]/hook", True, "private_address"),
    ("https://224.0.0.1/hook", True, "private_address"),
    ("http://10.1.2.3/hook", True, "not_https"),      # plain http only to loopback
    ("https://nonexistent.invalid/hook", False, "unresolvable"),
])
def test_webhook_urls_that_are_not_public_https_are_refused(url, allow_private, reason):
    with pytest.raises(webhooks.WebhookRefused) as refused:
        webhooks.check_url(url, allow_private=allow_private)
    assert refused.value.reason == reason


@pytest.mark.parametrize("url, allow_private, kind", [
    ("https://93.184.216.34/hook", False, "json"),
    ("https://127.0.0.1:8443/hook", True, "json"),
    ("http://127.0.0.1:8080/hook", True, "json"),
    ("http://localhost:8080/hook", True, "json"),
    ("https://10.0.0.7/hook", True, "json"),
])
def test_public_https_and_allowed_private_urls_are_accepted(url, allow_private, kind):
    assert webhooks.check_url(url, allow_private=allow_private).kind == kind


@pytest.mark.parametrize("host, path, kind", [
    ("hooks.slack.com", "/services/T000/B000/XXXX", "slack"),
    ("discord.com", "/api/webhooks/123/abc", "discord"),
    ("discordapp.com", "/api/webhooks/123/abc", "discord"),
    ("hooks.slack.com.evil.example", "/services/T/B/X", "json"),
    ("discord.com", "/channels/1", "json"),
])
def test_slack_and_discord_incoming_webhooks_are_recognised(host, path, kind):
    assert webhooks.kind_of(host, path) == kind


def sample_alert(**overrides) -> StoredAlert:
    values = dict(id=7, account_id=1, rule="video_takeoff", key="video_takeoff:1",
                  subject="<b>Hi</b> @everyone",
                  numbers={"video_id": "1", "views_24h": 12000, "factor": 6.0, "median_24h": 2000},
                  occurred_at=datetime(2026, 11, 30, 12, tzinfo=UTC),
                  created_at=datetime(2026, 11, 30, 12, 1, tzinfo=UTC), read_at=None)
    values.update(overrides)
    return StoredAlert(**values)


class FakeAccount:
    open_id, username, display_name = "open-1", "linmei.eats", "Lin Mei"


def test_slack_gets_escaped_text_and_discord_content_without_mentions():
    data = webhooks.payload(sample_alert(), FakeAccount(), "https://dash.example.com/alerts#alert-7", "en")
    slack = webhooks.body_for("slack", data)
    assert set(slack) == {"text"}
    assert "&lt;b&gt;Hi&lt;/b&gt;" in slack["text"] and "<b>" not in slack["text"]
    assert "<https://dash.example.com/alerts#alert-7>" in slack["text"]
    discord = webhooks.body_for("discord", data)
    assert discord["allowed_mentions"] == {"parse": []}
    assert "12,000 views in 24 hours" in discord["content"] and len(discord["content"]) <= 2000


def test_the_payload_speaks_the_webhooks_language():
    data = webhooks.payload(sample_alert(), FakeAccount(), "https://x.example/alerts", "zh")
    assert data["title"] == "有视频正在爆红"
    assert "12,000" in data["text"]


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"event":"alert.video_gone"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.sign(SECRET, 1700000000, body) == f"t=1700000000,v1={expected}"


@pytest.mark.parametrize("attempts, delay", [(1, 30), (2, 120), (3, 480), (5, 7680), (6, 14400), (9, 14400)])
def test_retries_back_off_four_times_longer_up_to_four_hours(attempts, delay):
    assert webhooks.next_delay(attempts) == delay


def test_a_429s_retry_after_is_honoured_up_to_an_hour():
    assert webhooks.next_delay(1, retry_after=600) == 600
    assert webhooks.next_delay(1, retry_after=10**6) == 3600


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(webhook_receiver):
    port = webhook_receiver.server.server_port
    target = webhooks.Target(f"http://rebind.invalid:{port}/hook", "rebind.invalid", port, "http", "json")
    response = webhooks.post(target, "127.0.0.1", b"{}", {"Content-Type": "application/json"}, 5)
    assert response.status_code == 200
    [received] = webhook_receiver.requests
    assert received["headers"]["Host"] == f"rebind.invalid:{port}"


def test_https_connections_check_the_certificate_of_the_real_host_name():
    adapter = webhooks.PinnedAdapter("93.184.216.34")
    request = requests.Request("POST", "https://hooks.example.com/x").prepare()
    pool = adapter.get_connection_with_tls_context(request, True)
    assert pool.host == "93.184.216.34"
    assert pool.conn_kw.get("server_hostname") == "hooks.example.com"
    assert pool.assert_hostname == "hooks.example.com"


# --- deliveries, end to end --------------------------------------------------------------------


@pytest.fixture
def hooked(make_app, webhook_receiver):
    """An app allowed to send to loopback, an account whose webhook is the receiver."""
    app = make_app(WEBHOOKS_ALLOW_PRIVATE_HOSTS=True, WEBHOOK_TIMEOUT=1,
                   PUBLIC_BASE_URL="https://dash.example.com")
    core = app.extensions["core"]
    _person, account_id = core.store.accounts.connect(None, "open-hooked", "user.info.basic")
    core.store.alerts.save_webhook(account_id, webhook_receiver.url, SECRET, "en")
    return app, core, account_id


def raise_alert(core, account_id, key="video_gone:1:x"):
    [alert] = core_alerts.store_events(core, account_id, [Event(
        "video_gone", key, utcnow(), "Old video", {"video_id": "1", "views": 10})])
    return alert


def verify(received: dict, secret: str = SECRET) -> dict:
    header = received["headers"]["X-Dashboard-Signature"]
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + received["body"],
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(time.time() - int(parts["t"])) < 300
    return json.loads(received["body"])


def test_a_new_alert_is_posted_signed_with_its_numbers_and_a_link_back(hooked, webhook_receiver):
    app, core, account_id = hooked
    alert = raise_alert(core, account_id)
    [received] = webhook_receiver.requests
    body = verify(received)
    assert body["event"] == "alert.video_gone"
    assert body["account"]["open_id"] == "open-hooked"
    assert body["occurred_at"].endswith("Z") and body["numbers"] == {"video_id": "1", "views": 10}
    assert body["link"] == f"https://dash.example.com/alerts#alert-{alert.id}"
    assert received["headers"]["X-Dashboard-Event"] == "alert.video_gone"
    [delivery] = core.store.alerts.recent_deliveries(account_id)
    assert delivery["status"] == "delivered"
    assert [a["outcome"] for a in delivery["attempts"]] == ["ok"]


def test_the_same_event_is_stored_and_sent_once(hooked, webhook_receiver):
    app, core, account_id = hooked
    raise_alert(core, account_id)
    assert core_alerts.store_events(core, account_id, [Event("video_gone", "video_gone:1:x", utcnow())]) == []
    assert len(webhook_receiver.requests) == 1


def test_a_receiver_answering_500_is_retried_with_backoff_and_every_attempt_recorded(
        hooked, webhook_receiver):
    app, core, account_id = hooked
    webhook_receiver.answers = [500, 503]
    raise_alert(core, account_id)
    [delivery] = core.store.alerts.recent_deliveries(account_id)
    assert delivery["status"] == "pending"
    first = delivery["attempts"][0]
    assert (first["outcome"], first["status_code"]) == ("http_error", 500)
    assert delivery["next_attempt_at"] - first["at"] == timedelta(seconds=30)
    # The worker runs the scheduled retries (Huey's immediate mode keeps them scheduled).
    assert webhooks.attempt(core, delivery["id"]) == 120
    assert webhooks.attempt(core, delivery["id"]) is None
    [delivery] = core.store.alerts.recent_deliveries(account_id)
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    bodies = {r["body"] for r in webhook_receiver.requests}
    deliveries = {r["headers"]["X-Dashboard-Delivery"] for r in webhook_receiver.requests}
    assert len(bodies) == 1 and len(deliveries) == 1  # the same delivery, not three


def test_a_hanging_receiver_times_out_and_is_retried(hooked, webhook_receiver):
    app, core, account_id = hooked
    webhook_receiver.answers = [("hang", 2)]
    raise_alert(core, account_id)
    [delivery] = core.store.alerts.recent_deliveries(account_id)
    assert delivery["status"] == "pending"
    assert delivery["attempts"][0]["outcome"] == "timeout"


def test_retrying_stops_a_day_after_the_alert(hooked, webhook_receiver):
    app, core, account_id = hooked
    webhook_receiver.answers = [500, 500]
    raise_alert(core, account_id)
    [delivery] = core.store.alerts.recent_deliveries(account_id)
    late = delivery["created_at"] + timedelta(hours=23, minutes=59)
    assert webhooks.attempt(core, delivery["id"], now=late) is None
    [delivery] = core.store.alerts.recent_deliveries(account_id)
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 2


def test_a_receiver_refusing_with_404_is_not_retried(hooked, webhook_receiver):
    app, core, account_id = hooked
    webhook_receiver.answers = [404]
    raise_alert(core, account_id)
    [delivery] = core.store.alerts.recent_deliveries(account_id)
    assert delivery["status"] == "failed" and delivery["next_attempt_at"] is None


def test_a_private_address_is_refused_again_at_send_time(hooked, webhook_receiver):
    app, core, account_id = hooked
    settings = dataclasses.replace(core.settings, webhooks_allow_private=False)
    strict = dataclasses.replace(core, settings=settings)
    alert = raise_alert(dataclasses.replace(core, alert_hook=None), account_id)
    delivery_id = webhooks.plan(core, alert)
    assert webhooks.attempt(strict, delivery_id) is None
    assert webhook_receiver.requests == []
    [delivery] = core.store.alerts.recent_deliveries(account_id)
    assert delivery["status"] == "failed" and delivery["attempts"][0]["outcome"] == "not_https"


def test_without_a_webhook_nothing_is_planned(make_app):
    core = make_app().extensions["core"]
    _person, account_id = core.store.accounts.connect(None, "open-quiet", "user.info.basic")
    alert = raise_alert(core, account_id)
    assert webhooks.plan(core, alert) is None
    assert core.store.alerts.recent_deliveries(account_id) == []


def test_a_channel_that_fails_does_not_stop_the_others():
    seen = []

    def broken(alert):
        raise RuntimeError("smtp down")

    taken = core_alerts.deliver(sample_alert(), {"email": broken, "webhook": seen.append})
    assert taken == {"email": False, "webhook": True} and len(seen) == 1


def test_a_retry_lost_with_its_queue_is_sent_by_the_tick(hooked, webhook_receiver):
    from sqlalchemy import update

    from dashboard.storage.models import WebhookDelivery

    app, core, account_id = hooked
    webhook_receiver.answers = [500]
    raise_alert(core, account_id)
    with core.store.session() as db:  # the scheduled retry vanished with a wiped queue
        db.execute(update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(minutes=20)))
    app.extensions["jobs"].tick()
    [delivery] = core.store.alerts.recent_deliveries(account_id)
    assert delivery["status"] == "delivered" and len(webhook_receiver.requests) == 2
    app.extensions["jobs"].tick()
    assert len(webhook_receiver.requests) == 2
