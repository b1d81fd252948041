"""The whole login flow against the sandbox over real HTTP, and what it shows.

Every test logs in the way a person does: ``/auth`` sends the browser to
the sandbox's consent page (fetched and submitted over HTTP), which sends
it back to ``/callback``; the app then exchanges the code with the sandbox.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select, text, update

import dashboard.web.auth as web_auth
from dashboard.storage.models import Account, Token, WebSession, utcnow
from dashboard.web.context import get_core as app_core
from sandbox import SANDBOX_CLIENT_KEY, SANDBOX_CLIENT_SECRET, get_account
from sandbox.data import visible_videos
from tests.conftest import consent, login
from tests.flow_helpers import csrf_token, main_html, only_account, post, token_rows


def stored_token(app):
    with app.app_context():
        return app.extensions["core"].store.tokens.load(only_account(app).id)


def sandbox_user(sandbox_server, access_token: str) -> requests.Response:
    return requests.get(
        sandbox_server.url + "/v2/user/info/",
        params={"fields": "open_id,display_name"},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )


def sandbox_refresh(sandbox_server, refresh_token: str) -> dict:
    answer = requests.post(
        sandbox_server.url + "/v2/oauth/token/",
        data={"client_key": SANDBOX_CLIENT_KEY, "client_secret": SANDBOX_CLIENT_SECRET,
              "grant_type": "refresh_token", "refresh_token": refresh_token},
        timeout=10,
    )
    return answer.json()


def sync_now(client):
    return post(client, "/sync", follow_redirects=True)


def creator_video_count(sandbox_state) -> int:
    return len(visible_videos(get_account("creator"), sandbox_state.clock.now()))


# --- login ---------------------------------------------------------------------------


def test_login_shows_profile_and_counts(client):
    page = login(client)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Lin Mei" in html
    assert "Sync now" in html


def test_login_syncs_every_video_at_once(client, app, sandbox_state):
    login(client)
    page = main_html(client.get("/videos"))
    total = creator_video_count(sandbox_state)
    assert f"of {total} videos" in page
    assert only_account(app).video_count == total


def test_loopback_login_sends_a_verifier_the_sandbox_checks(client, app, sandbox_state):
    start = client.get("/auth")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["redirect_uri"] == ["http://localhost:5000/callback"]
    assert query["code_challenge_method"] == ["S256"]
    with client.session_transaction() as session:
        pending = dict(session[web_auth.PENDING_KEY])
        pending["verifier"] = "A" * 64  # not the one the challenge was made from
        session[web_auth.PENDING_KEY] = pending
    back = urlsplit(consent(start.headers["Location"]))
    page = client.get(back.path + "?" + back.query)

    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "invalid_request" in html  # the sandbox's PKCE refusal, shown
    assert "log id" in html
    assert token_rows(app) == []
    assert sandbox_state.calls["token"] == 1


def test_deny_on_the_consent_page_shows_a_clear_page_and_stores_nothing(client, app, sandbox_state):
    start = client.get("/auth")
    back = urlsplit(consent(start.headers["Location"], approve=False))
    assert parse_qs(back.query)["error"] == ["access_denied"]
    page = client.get(back.path + "?" + back.query)

    assert page.status_code == 403
    assert "You declined to connect your TikTok account" in page.get_data(as_text=True)
    assert sandbox_state.calls["token"] == 0
    with app.app_context():
        store = app.extensions["core"].store
        with store.session() as db:
            assert db.scalars(select(Account)).all() == []
    assert token_rows(app) == []
    assert "Log in with TikTok" in client.get("/").get_data(as_text=True)


def test_tokens_are_encrypted_at_rest_and_never_reach_the_browser(client, app, tmp_path):
    login(client)
    token = stored_token(app)
    secrets_ = [token.access_token, token.refresh_token]

    store = app.extensions["core"].store
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM tokens")).all()
    assert len(rows) == 1
    raw = " ".join(str(value) for value in rows[0])
    for secret in secrets_:
        assert secret not in raw
        assert secret.split(".", 1)[1] not in raw
    database = tmp_path / "dashboard.sqlite3"
    if store.engine.url.get_backend_name() == "sqlite":
        files = b"".join(p.read_bytes() for p in tmp_path.glob("dashboard.sqlite3*"))
        assert database.exists() and files
        for secret in secrets_:
            assert secret.encode() not in files

    cookie = client.get_cookie("session")
    assert cookie is not None and len(cookie.value) < 80
    for path in ("/", "/videos", "/analytics", "/export/"):
        page = client.get(path).get_data(as_text=True)
        for secret in secrets_:
            assert secret not in page and secret not in cookie.value


def test_granted_scopes_are_recorded(client, app):
    login(client, untick=("user.info.stats",))
    assert set(only_account(app).granted_scopes.split(",")) == {
        "user.info.basic", "user.info.profile", "video.list"}


def test_login_without_stats_scope_shows_no_counts_but_works(client, app, sandbox_state):
    page = login(client, untick=("user.info.stats",))
    assert page.status_code == 200
    html = main_html(page)
    assert "Lin Mei" in html
    assert "user.info.stats permission was not granted" in html
    account = only_account(app)
    assert account.follower_count is None and account.likes_count is None
    assert 'class="stat-value muted"' in html
    assert 'class="stat-value" title=' not in html
    # videos still come through video.list
    assert f"of {creator_video_count(sandbox_state)} videos" in main_html(client.get("/videos"))


def test_login_without_video_scope_leaves_videos_page_working_and_says_why(client, sandbox_state):
    page = login(client, untick=("video.list",))
    assert page.status_code == 200
    assert "Lin Mei" in page.get_data(as_text=True)
    assert sandbox_state.calls["video_list"] == 0
    videos = client.get("/videos")
    assert videos.status_code == 200
    html = main_html(videos)
    assert "video.list permission was not granted" in html
    assert 'class="video-row"' not in html


# --- tokens ------------------------------------------------------------------------------


def test_token_close_to_expiry_is_refreshed_before_it_is_used(
        client, app, sandbox_state, sandbox_server):
    sandbox_state.configure(access_token_ttl=120)  # inside the refresh leeway
    page = login(client)
    assert page.status_code == 200
    # the code exchange, then a refresh before each use: the profile read at
    # connect and the first sync (each token lives less than the leeway)
    assert sandbox_state.calls["token"] == 3
    assert sandbox_state.calls["user_info"] == 2  # never sent with a stale token
    token = stored_token(app)
    assert token.expires_at - utcnow() <= timedelta(seconds=121)
    assert sandbox_user(sandbox_server, token.access_token).status_code == 200


def test_access_token_refused_by_tiktok_is_refreshed_and_the_sync_finishes(
        client, app, sandbox_state, sandbox_server):
    login(client)
    before = stored_token(app)
    sandbox_state.expire_access_tokens()
    sandbox_state.reset_calls()

    page = main_html(sync_now(client))

    assert f"Last run: {creator_video_count(sandbox_state)} videos" in page
    assert sandbox_state.calls["token"] == 1
    assert sandbox_state.calls["user_info"] == 2  # refused once, then accepted
    after = stored_token(app)
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    # the rotated refresh token was kept; the old one is dead at TikTok
    assert sandbox_refresh(sandbox_server, before.refresh_token)["error"] == "invalid_grant"
    assert sandbox_user(sandbox_server, after.access_token).status_code == 200


def test_access_token_refused_half_way_through_the_video_list_is_refreshed(
        client, app, sandbox_state):
    login(client)
    sandbox_state.queue_fault("video_list", "expire_token")
    sandbox_state.reset_calls()
    page = main_html(sync_now(client))
    assert f"Last run: {creator_video_count(sandbox_state)} videos" in page
    assert sandbox_state.calls["token"] == 1


def test_rotated_refresh_token_keeps_working_for_the_next_refresh(client, app, sandbox_state):
    login(client)
    for _ in range(3):
        sandbox_state.expire_access_tokens()
        assert "Last run:" in main_html(sync_now(client))
    assert sandbox_state.calls["token"] == 1 + 3


def test_concurrent_refreshes_of_one_account_make_one_call(client, app, sandbox_state):
    login(client)
    account_id = only_account(app).id
    store = app.extensions["core"].store
    with store.session() as db:
        db.execute(update(Token).values(expires_at=utcnow() - timedelta(minutes=1)))
    sandbox_state.reset_calls()
    sandbox_state.queue_fault("token", "slow", seconds=0.6)  # keep the first refresh in flight

    workers, barrier = 6, threading.Barrier(6)
    results, errors = [], []

    def refresh():
        try:
            with app.app_context():
                barrier.wait()
                results.append(app_core().tokens.active(account_id).access_token)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert sandbox_state.calls["token"] == 1
    assert len(results) == workers and len(set(results)) == 1
    assert results[0] == stored_token(app).access_token


def test_refresh_that_lost_the_race_takes_the_winners_token(client, app, sandbox_state):
    """A refresh started with a token someone else has replaced already makes
    no call: spending the rotated refresh token twice would log the user out."""
    login(client)
    account_id = only_account(app).id
    stale = stored_token(app)
    with app.app_context():
        winner = app_core().tokens.active(account_id, force_refresh=True)
        sandbox_state.reset_calls()
        late = app_core().tokens._refresh(account_id, stale)
    assert late.access_token == winner.access_token != stale.access_token
    assert sandbox_state.calls["token"] == 0


def test_refused_refresh_sends_the_user_back_to_login(client, app, sandbox_state):
    login(client)
    sandbox_state.revoke_refresh_tokens()
    sandbox_state.expire_access_tokens()

    page = sync_now(client)

    assert page.status_code == 200
    html = main_html(page)
    assert "Please log in again" in html
    assert 'href="/auth"' in html and "Log in with TikTok again" in html
    assert token_rows(app) == []
    assert "Log in with TikTok again" in main_html(client.get("/videos"))
    # logging in again restores the connection
    again = main_html(login(client))
    assert "Log in with TikTok again" not in again
    assert len(token_rows(app)) == 1


# --- logout --------------------------------------------------------------------------------


def test_csrf_protection_is_on_in_the_test_app(app):
    assert app.config["TESTING"] is True
    assert app.config["WTF_CSRF_ENABLED"] is True


def test_logout_without_csrf_token_is_refused(client, app, sandbox_server):
    login(client)
    token = stored_token(app)
    refused = client.post("/logout")
    assert refused.status_code == 400
    assert "Lin Mei" in client.get("/").get_data(as_text=True)
    assert sandbox_user(sandbox_server, token.access_token).status_code == 200


def test_logout_by_get_is_not_allowed(client):
    login(client)
    assert client.get("/logout").status_code == 405
    assert "Lin Mei" in client.get("/").get_data(as_text=True)


def test_logout_ends_the_session_but_keeps_the_token_working_for_scheduled_syncs(
        client, app, sandbox_server, sandbox_state):
    login(client)
    token = stored_token(app)
    old_cookie = client.get_cookie("session").value
    sandbox_state.reset_calls()

    answer = client.post("/logout", data={"csrf_token": csrf_token(client)})

    assert answer.status_code == 302
    assert sandbox_state.calls["revoke"] == 0
    assert sandbox_user(sandbox_server, token.access_token).status_code == 200
    assert len(token_rows(app)) == 1
    with app.extensions["core"].store.session() as db:
        assert db.scalars(select(WebSession).where(WebSession.person_id.is_not(None))).all() == []
    landing = client.get("/").get_data(as_text=True)
    assert "Log in with TikTok" in landing and "Lin Mei" not in landing
    # the old cookie is worth nothing now
    client.set_cookie("session", old_cookie, domain="localhost")
    assert "Lin Mei" not in client.get("/").get_data(as_text=True)
    assert client.get("/videos").status_code == 401


@pytest.mark.parametrize("path", ["/videos", "/analytics"])
def test_pages_need_a_login(client, path):
    assert client.get(path).status_code == 401
