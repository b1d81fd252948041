"""The bell, /alerts, the alert and webhook settings, and alerts fired by a real sync."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from dashboard.alerts import Event
from dashboard.core import alerts as core_alerts
from dashboard.storage.models import utcnow
from tests.sync_helpers import connect, open_id, sync_at
from tests.test_webhooks import verify


def core_of(app):
    return app.extensions["core"]


def account_of(app, key="creator"):
    return core_of(app).store.accounts.by_open_id(open_id(key))


def add_alert(app, account_id, key, *, subject="A title", rule="video_gone", minutes_ago=0):
    core = core_of(app)
    [alert] = core_alerts.store_events(core, account_id, [Event(
        rule, key, utcnow() - timedelta(minutes=minutes_ago), subject,
        {"video_id": "7", "views": 3})])
    return alert


def csrf(client, path="/settings/alerts") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_the_bell_counts_unread_alerts_on_every_page(app, logged_in):
    page = logged_in.get("/").get_data(as_text=True)
    assert "alert-bell" in page and "alert-count" not in page
    account = account_of(app)
    add_alert(app, account.id, "video_gone:1:a")
    add_alert(app, account.id, "video_gone:2:a")
    for path in ("/", "/videos", "/analytics", "/alerts", "/export/", "/settings/alerts"):
        page = logged_in.get(path).get_data(as_text=True)
        assert 'class="alert-count" aria-hidden="true">2<' in page, path
        assert "Alerts: 2 unread" in page


def test_alerts_are_listed_newest_first_with_titles_escaped(app, logged_in):
    account = account_of(app)
    add_alert(app, account.id, "video_gone:1:a", subject="older", minutes_ago=5)
    add_alert(app, account.id, "video_gone:2:a", subject="<script>alert(1)</script>")
    page = logged_in.get("/alerts").get_data(as_text=True)
    assert page.index("&lt;script&gt;alert(1)&lt;/script&gt;") < page.index("older")
    assert "<script>alert(1)</script>" not in page
    assert "is no longer listed on TikTok" in page


def test_alerts_read_in_chinese(quick):
    app, client = quick
    add_alert(app, account_of(app).id, "video_gone:1:a", subject="老视频")
    client.post("/language", data={"csrf_token": csrf(client, "/alerts"), "lang": "zh", "next": "/alerts"})
    page = client.get("/alerts").get_data(as_text=True)
    assert "有视频已从 TikTok 消失" in page and "“老视频”已不在 TikTok 上列出。" in page
    assert "提醒：1 条未读" in page


def test_marking_alerts_read_clears_the_bell(app, logged_in):
    account = account_of(app)
    first = add_alert(app, account.id, "video_gone:1:a")
    add_alert(app, account.id, "video_gone:2:a")
    token = csrf(logged_in, "/alerts")
    assert logged_in.post("/alerts/read", data={"alert_id": first.id, "csrf_token": token}).status_code == 302
    assert ">1<" in logged_in.get("/alerts").get_data(as_text=True)
    logged_in.post("/alerts/read", data={"csrf_token": token})
    assert "alert-count" not in logged_in.get("/alerts").get_data(as_text=True)
    assert core_of(app).store.alerts.count_of_person(account.person_id, unread=True) == 0


def test_nobody_marks_or_sees_another_persons_alerts(app, logged_in):
    _person, stranger = core_of(app).store.accounts.connect(None, "open-stranger", "user.info.basic")
    theirs = add_alert(app, stranger, "video_gone:9:a", subject="not yours")
    assert "not yours" not in logged_in.get("/alerts").get_data(as_text=True)
    answer = logged_in.post("/alerts/read", data={"alert_id": theirs.id,
                                                  "csrf_token": csrf(logged_in, "/alerts")})
    assert answer.status_code == 404
    assert core_of(app).store.alerts.get(theirs.id).read_at is None


def test_alert_pages_need_a_login(client):
    assert client.get("/alerts").status_code == 401
    assert client.get("/settings/alerts").status_code == 401


@pytest.fixture
def quick(make_app):
    """A logged-in client whose login queues no first sync (settings tests need no data)."""
    from tests.conftest import login

    app = make_app(SYNC_ON_CONNECT=False)
    client = app.test_client()
    login(client)
    return app, client


def rules_form(token, **changes):
    form = {"csrf_token": token, "video_takeoff": "on", "takeoff_factor": "3", "takeoff_min_views": "1000",
            "follower_drop": "on", "follower_drop_min": "100", "sync_failing": "on", "sync_failures": "3",
            "connection_expiring": "on", "expiry_days": "7", "connection_refused": "on",
            "video_gone": "on", "authorization_removed": "on"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_rules_and_thresholds_are_saved_per_account(app, logged_in):
    token = csrf(logged_in)
    answer = logged_in.post("/settings/alerts/rules", data=rules_form(token, takeoff_factor="5.5",
                                                               video_gone=None, sync_failures="2"))
    assert answer.status_code == 302
    rules = core_alerts.rules_for(core_of(app), account_of(app).id)
    assert (rules.takeoff_factor, rules.video_gone, rules.sync_failures) == (5.5, False, 2)
    page = logged_in.get("/settings/alerts").get_data(as_text=True)
    assert 'name="takeoff_factor" value="5.5"' in page


@pytest.mark.parametrize("field, value", [
    ("takeoff_factor", "abc"), ("takeoff_factor", "0.5"), ("takeoff_factor", "nan"),
    ("sync_failures", "0"), ("sync_failures", "2.5"), ("expiry_days", "999"),
    ("follower_drop_min", ""), ("takeoff_min_views", "9" * 30),
])
def test_bad_thresholds_are_refused_with_a_message_and_nothing_saved(quick, field, value):
    app, logged_in = quick
    answer = logged_in.post("/settings/alerts/rules", data=rules_form(csrf(logged_in), **{field: value}))
    assert answer.status_code == 400
    assert "Each threshold must be a number" in answer.get_data(as_text=True)
    assert core_of(app).store.alerts.config(account_of(app).id).rules == {}


@pytest.mark.parametrize("url, message", [
    ("http://example.com/hook", "must start with https://"),
    ("https://10.0.0.1/hook", "loopback, private or link-local"),
    ("https://169.254.169.254/latest", "loopback, private or link-local"),
    ("https://127.0.0.1/hook", "loopback, private or link-local"),
    ("javascript:alert(1)", "That is not a web address"),
])
def test_webhook_urls_that_are_not_public_https_are_refused_when_saved(quick, url, message):
    app, logged_in = quick
    answer = logged_in.post("/settings/webhooks", data={"csrf_token": csrf(logged_in), "url": url,
                                                        "language": "en", "action": "save"})
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert core_of(app).store.alerts.config(account_of(app).id).webhook_url is None


def test_a_saved_webhook_shows_its_secret_once_and_hides_its_path(make_app, webhook_receiver):
    from tests.conftest import login

    app = make_app(WEBHOOKS_ALLOW_PRIVATE_HOSTS=True)
    client = app.test_client()
    login(client)
    answer = client.post("/settings/webhooks", data={"csrf_token": csrf(client), "language": "zh",
                                                     "url": webhook_receiver.url, "action": "save"})
    assert answer.status_code == 200
    config = core_of(app).store.alerts.config(account_of(app).id)
    assert config.webhook_url == webhook_receiver.url and config.webhook_language == "zh"
    assert config.webhook_secret in answer.get_data(as_text=True)
    later = client.get("/settings/alerts").get_data(as_text=True)
    assert config.webhook_secret not in later
    assert webhook_receiver.url not in later and "127.0.0.1" in later  # host shown, path (a key) not
    renewed = client.post("/settings/webhooks", data={"csrf_token": csrf(client), "action": "new_secret",
                                                      "language": "en"})
    assert core_of(app).store.alerts.config(account_of(app).id).webhook_secret != config.webhook_secret
    renewed_secret = core_of(app).store.alerts.config(account_of(app).id).webhook_secret
    assert renewed_secret in renewed.get_data(as_text=True)
    client.post("/settings/webhooks", data={"csrf_token": csrf(client), "action": "remove", "language": "en"})
    assert core_of(app).store.alerts.config(account_of(app).id).webhook_url is None


def test_a_video_gone_after_a_sync_is_an_alert_on_the_page_and_at_the_webhook(
        make_app, sandbox_state, webhook_receiver):
    app = make_app(WEBHOOKS_ALLOW_PRIVATE_HOSTS=True)
    account_id = connect(app)
    core = core_of(app)
    core.store.alerts.save_webhook(account_id, webhook_receiver.url, "s3cret-s3cret", "en")
    assert sync_at(app, sandbox_state, account_id).ok
    assert webhook_receiver.requests == []  # a normal sync: nothing to say
    video = core.store.history.videos_page(account_id, limit=1)[0]
    sandbox_state.hide_video("creator", video.video_id)
    assert sync_at(app, sandbox_state, account_id).ok
    [received] = webhook_receiver.requests
    body = verify(received, "s3cret-s3cret")
    assert body["event"] == "alert.video_gone" and body["numbers"]["video_id"] == video.video_id
    assert sync_at(app, sandbox_state, account_id).ok  # evaluated again: fires once
    assert len(webhook_receiver.requests) == 1
    [alert] = core.store.alerts.of_person(core.store.accounts.get(account_id).person_id)
    assert alert.rule == "video_gone" and alert.subject == video.title


def test_failing_syncs_fire_once_per_streak(app, sandbox_state):
    account_id = connect(app)
    core_of(app).store.alerts.save_rules(account_id, {"sync_failures": 2})
    sandbox_state.expire_access_tokens()
    sandbox_state.revoke_refresh_tokens()
    for _ in range(3):
        assert sync_at(app, sandbox_state, account_id).code == "reauth_required"
    person = core_of(app).store.accounts.get(account_id).person_id
    assert sorted(a.rule for a in core_of(app).store.alerts.of_person(person)) == [
        "connection_refused", "sync_failing"]


def test_deleting_an_account_deletes_its_alerts_settings_and_deliveries(make_app, webhook_receiver):
    from sqlalchemy import func, select

    from dashboard.storage.models import Alert, AlertSettings, WebhookAttempt, WebhookDelivery
    from tests.conftest import login

    app = make_app(WEBHOOKS_ALLOW_PRIVATE_HOSTS=True, SYNC_ON_CONNECT=False)
    client = app.test_client()
    login(client)
    account = account_of(app)
    core_of(app).store.alerts.save_webhook(account.id, webhook_receiver.url, "s", "en")
    add_alert(app, account.id, "video_gone:1:a")
    assert len(webhook_receiver.requests) == 1
    client.post("/account/delete", data={"csrf_token": csrf(client, "/alerts")})
    with core_of(app).store.session() as db:
        left = [db.scalar(select(func.count()).select_from(m))
                for m in (Alert, AlertSettings, WebhookDelivery, WebhookAttempt)]
    assert left == [0, 0, 0, 0]


def test_a_fault_in_the_alert_rules_never_fails_a_sync(app, sandbox_state, monkeypatch):
    account_id = connect(app)

    def broken(*args, **kwargs):
        raise RuntimeError("rules broke")

    monkeypatch.setattr(core_alerts, "history_of", broken)
    result = sync_at(app, sandbox_state, account_id)
    assert result.ok and core_of(app).store.runs.latest(account_id).status == "ok"
