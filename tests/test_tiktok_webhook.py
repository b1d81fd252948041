"""TikTok's webhook: signed events are acted on once; forged, replayed and
malformed ones are refused and change nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dashboard.storage.models import Alert, TikTokWebhookEvent, utcnow
from sandbox import SANDBOX_CLIENT_KEY
from sandbox import webhooks as sandbox_webhooks
from tests.sync_helpers import connect, open_id

URL = "/webhooks/tiktok"


@pytest.fixture
def connected(app):
    return app, connect(app), open_id("creator")


def secret(app) -> str:
    return app.config["TIKTOK_CLIENT_SECRET"]


def post(client, body: bytes, headers: dict):
    return client.post(URL, data=body, headers=headers)


def nothing_changed(app, account_id: int) -> bool:
    store = app.extensions["core"].store
    with store.session() as db:
        events = db.scalar(select(func.count()).select_from(TikTokWebhookEvent))
        alerts = db.scalar(select(func.count()).select_from(Alert))
    account = store.accounts.get(account_id)
    return (events == 0 and alerts == 0 and account.disconnected_at is None
            and store.tokens.exists(account_id))


def test_a_signed_authorization_removed_disconnects_the_account_and_fires_an_alert(connected):
    app, account_id, oid = connected
    body, headers = sandbox_webhooks.authorization_removed(oid, reason=2, client_secret=secret(app))
    answer = post(app.test_client(), body, headers)  # no CSRF token: the signature stands in
    assert answer.status_code == 200 and answer.get_json() == {"ok": True, "outcome": "handled"}
    store = app.extensions["core"].store
    account = store.accounts.get(account_id)
    assert account.disconnected_at is not None and account.disconnect_reason == 2
    assert not store.tokens.exists(account_id)
    assert account_id not in store.runs.due_accounts(utcnow() + timedelta(days=1))  # syncs stop
    [alert] = store.alerts.of_person(account.person_id)
    assert alert.rule == "authorization_removed" and alert.numbers == {"reason": 2}


def test_a_redelivered_event_changes_nothing_the_second_time(connected):
    app, account_id, oid = connected
    body, headers = sandbox_webhooks.authorization_removed(oid, client_secret=secret(app))
    client = app.test_client()
    assert post(client, body, headers).get_json()["outcome"] == "handled"
    again = post(client, body, headers)  # a replay inside the window, or TikTok's duplicate
    assert again.status_code == 200 and again.get_json()["outcome"] == "duplicate"
    resigned = sandbox_webhooks.signed_event(  # same event, signed anew by a retry
        "authorization.removed", oid, {"reason": 1}, create_time=json.loads(body)["create_time"],
        client_secret=secret(app))
    assert post(client, *resigned).get_json()["outcome"] == "duplicate"
    store = app.extensions["core"].store
    assert len(store.alerts.of_person(store.accounts.get(account_id).person_id)) == 1


def _sign(key: str, t: int, body: bytes) -> str:
    return f"t={t},s=" + hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def _event(oid: str, **changes) -> bytes:
    event = {"client_key": SANDBOX_CLIENT_KEY, "event": "authorization.removed",
             "create_time": int(time.time()), "user_openid": oid, "content": '{"reason": 1}'}
    event.update(changes)
    return json.dumps(event).encode()


@pytest.mark.parametrize("case, status", [
    ("no_signature", 401),
    ("wrong_secret", 401),
    ("tampered_body", 401),
    ("old_timestamp", 401),
    ("future_timestamp", 401),
    ("garbled_header", 400),
    ("short_signature", 400),
    ("signed_garbage", 400),
    ("signed_list", 400),
    ("signed_other_client", 400),
    ("signed_bad_content", 400),
    ("signed_bad_time", 400),
])
def test_forged_replayed_or_malformed_events_are_refused_and_change_nothing(connected, case, status):
    app, account_id, oid = connected
    now, key, body = int(time.time()), secret(app), _event(oid)
    signed = {
        "signed_garbage": b"{not json", "signed_list": b"[1, 2]",
        "signed_other_client": _event(oid, client_key="someone-else"),
        "signed_bad_content": _event(oid, content="{oops"),
        "signed_bad_time": _event(oid, create_time="yesterday"),
    }.get(case, body)
    headers = {
        "no_signature": {},
        "wrong_secret": {"TikTok-Signature": _sign("not-the-secret", now, body)},
        "tampered_body": {"TikTok-Signature": _sign(key, now, body.replace(b'1}', b'5}'))},
        "old_timestamp": {"TikTok-Signature": _sign(key, now - 301, body)},
        "future_timestamp": {"TikTok-Signature": _sign(key, now + 301, body)},
        "garbled_header": {"TikTok-Signature": "t=abc;s"},
        "short_signature": {"TikTok-Signature": f"t={now},s=abcd"},
    }.get(case, {"TikTok-Signature": _sign(key, now, signed)})
    answer = post(app.test_client(), signed, headers)
    assert answer.status_code == status
    assert answer.get_json()["ok"] is False
    assert nothing_changed(app, account_id)


def test_events_of_other_kinds_or_unknown_accounts_are_acknowledged_and_ignored(connected):
    app, account_id, oid = connected
    client = app.test_client()
    other = sandbox_webhooks.signed_event("video.publish.completed", oid, {}, client_secret=secret(app))
    stranger = sandbox_webhooks.authorization_removed("unknown-open-id", client_secret=secret(app))
    assert post(client, *other).get_json()["outcome"] == "ignored"
    assert post(client, *stranger).get_json()["outcome"] == "ignored"
    assert app.extensions["core"].store.tokens.exists(account_id)


def test_the_webhook_is_rate_limited(make_app):
    app = make_app(TIKTOK_WEBHOOK_RATE_LIMIT="2 per minute")
    client = app.test_client()
    codes = [client.post(URL, data=b"{}").status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_a_disconnected_accounts_pages_say_why_and_offer_reconnect_and_delete(app, logged_in):
    body, headers = sandbox_webhooks.authorization_removed(open_id("creator"), reason=4,
                                                           client_secret=secret(app))
    assert post(app.test_client(), body, headers).status_code == 200
    page = logged_in.get("/").get_data(as_text=True)
    assert "access to the account was removed (the TikTok account was banned)" in page
    assert "Delete this account&#39;s data" in page or "Delete this account's data" in page
    assert "/auth" in page
    assert 'class="alert-count" aria-hidden="true">1<' in page  # the bell


def test_logging_in_again_clears_the_disconnection(app, client):
    from tests.conftest import login

    login(client)
    account = app.extensions["core"].store.accounts.by_open_id(open_id("creator"))
    body, headers = sandbox_webhooks.authorization_removed(account.open_id, client_secret=secret(app))
    post(app.test_client(), body, headers)
    login(client)
    account = app.extensions["core"].store.accounts.get(account.id)
    assert account.disconnected_at is None and app.extensions["core"].store.tokens.exists(account.id)


def test_the_sandbox_command_sends_a_signed_removal_offline(connected):
    app, account_id, _oid = connected
    result = app.test_cli_runner().invoke(
        args=["sandbox", "webhook", "--account", "creator", "--reason", "5"])
    assert result.exit_code == 0, result.output
    assert "HTTP 200" in result.output
    assert app.extensions["core"].store.accounts.get(account_id).disconnect_reason == 5


def test_an_oversized_body_is_refused_before_anything_is_read(connected):
    app, account_id, oid = connected
    body, headers = sandbox_webhooks.signed_event("authorization.removed", oid, {"pad": "x" * 70_000},
                                                  client_secret=secret(app))
    assert post(app.test_client(), body, headers).status_code == 400
    assert nothing_changed(app, account_id)
