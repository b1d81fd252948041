"""Pages read the stored history only, and every number they show is in it.

A logged-in browser (the Flask test client, logged in through the sandbox's
consent page) reads the pages after syncs made at chosen sandbox times.
"""

from __future__ import annotations

import math
import re
import time
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from babel.numbers import format_compact_decimal, format_decimal
from sqlalchemy import func, select, update

from dashboard import analytics
from dashboard.storage.models import Video
from sandbox import ACCOUNTS
from sandbox import data as sandbox_data
from tests.conftest import api_calls, login
from tests.sync_helpers import (
    DAY,
    HOUR,
    csrf_token,
    list_calls_for,
    open_id,
    runs,
    store,
    sync_at,
)
from tiktok_official_api import TikTokClient

CREATOR = ACCOUNTS["creator"]
PAGES = ("/", "/videos", "/videos?sort=view_count&order=asc", "/analytics", "/export/")
EXPORTS = ("/export/videos.csv", "/export/videos.json", "/export/history.csv",
           "/export/history.json")


@pytest.fixture
def history_client(make_app, sandbox_state):
    """A logged-in client whose account has not been synced yet (syncs are the test's)."""
    app = make_app(SYNC_ON_CONNECT=False)
    client = app.test_client()
    assert login(client).status_code == 200
    account_id = store(app).accounts.by_open_id(open_id()).id
    return app, client, account_id


def _text(response) -> str:
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:300])
    return response.get_data(as_text=True)


# --- zero calls ----------------------------------------------------------------------


def test_pages_and_exports_after_a_sync_make_no_call_to_tiktok(logged_in, app, sandbox_state):
    account_id = store(app).accounts.by_open_id(open_id()).id
    assert runs(app, account_id)[-1].status == "ok"  # the first sync ran on connect
    one_video = store(app).history.videos_page(account_id, limit=1)[0].video_id
    sandbox_state.reset_calls()

    for path in (*PAGES, f"/videos/{one_video}", *EXPORTS):
        response = logged_in.get(path)
        assert response.status_code == 200, path
        response.get_data()

    assert sum(api_calls(sandbox_state).values()) == 0, api_calls(sandbox_state)


def test_expired_cover_urls_are_renewed_by_the_worker_20_ids_a_call_and_pages_call_nothing(
        history_client, sandbox_state):
    app, client, account_id = history_client
    sandbox_state.settings.update(media_url_ttl=6 * HOUR)
    synced_at = time.time() - 7 * HOUR  # cover URLs past their 6-hour life
    assert sync_at(app, sandbox_state, account_id, synced_at).ok
    sandbox_state.clock.reset()
    with store(app).session() as db:
        db.execute(update(Video).values(cover_fetched_at=None))  # no picture stored yet
        missing = db.scalar(select(func.count()).select_from(Video).where(
            Video.account_id == account_id, Video.gone_at.is_(None)))
    sandbox_state.reset_calls()

    for path in ("/", "/videos", "/analytics"):
        assert client.get(path).status_code == 200
    assert api_calls(sandbox_state) == {}, "a page view never calls TikTok"

    app.extensions["jobs"].pictures(account_id)

    # the avatar's URL expired too: one user-info call renews it
    assert api_calls(sandbox_state) == {"user_info": 1, "video_query": math.ceil(missing / 20)}
    page = _text(client.get("/videos"))
    covers = re.findall(r'<img class="cover" src="(/media/\d+/covers/\d+\.jpg)"', page)
    assert len(covers) == app.config["VIDEOS_PER_PAGE"]
    picture = client.get(covers[0])
    assert picture.status_code == 200 and picture.mimetype == "image/jpeg"
    sandbox_state.reset_calls()
    app.extensions["jobs"].pictures(account_id)
    assert api_calls(sandbox_state) == {}, "stored covers are not fetched again"


# --- the numbers on the pages -------------------------------------------------------------


def test_overview_shows_the_stored_counts_and_their_change(history_client, sandbox_state):
    app, client, account_id = history_client
    now = time.time()
    moments = [now - 10 * DAY, now - 7 * DAY - HOUR, now - 2 * DAY, now - 120]
    for t in moments:
        assert sync_at(app, sandbox_state, account_id, t).ok
    sandbox_state.clock.reset()
    snaps = store(app).history.profile_snapshots(account_id)
    latest, week_ago, first = snaps[-1], snaps[1], snaps[0]

    html = _text(client.get("/"))

    cards = _stat_cards(html)
    assert cards["Followers"]["value"] == f"{latest.follower_count:,}"
    assert cards["Videos"]["value"] == f"{latest.video_count:,}"
    assert cards["Likes"]["value"] == f"{latest.likes_count:,}"
    week = latest.follower_count - week_ago.follower_count
    assert any(c.startswith(f"{_signed(week)} in 7 days") for c in cards["Followers"]["changes"])
    since_first = latest.follower_count - first.follower_count
    assert any(c.startswith(f"{_signed(since_first)} since ") for c in cards["Followers"]["changes"])
    assert "Last synced:" in html


def test_video_page_lists_every_snapshot_of_the_video(history_client, sandbox_state):
    app, client, account_id = history_client
    dip = CREATOR.special("dip")  # its likes fall between the second and third sync
    moments = [dip.dip_at - 3 * DAY, dip.dip_at - DAY, dip.dip_at + DAY]
    for t in moments:
        assert sync_at(app, sandbox_state, account_id, t).ok
    row = store(app).history.video_for(account_id, dip.id)
    snaps = store(app).history.video_snapshots(row.id)

    html = _text(client.get(f"/videos/{dip.id}"))

    table = _chart_table(html)
    assert [r[1:] for r in table] == [
        [f"{s.view_count:,}", f"{s.like_count:,}", f"{s.comment_count:,}", f"{s.share_count:,}"]
        for s in snaps
    ]
    assert len(table) == len(moments)
    assert int(table[2][2].replace(",", "")) < int(table[1][2].replace(",", ""))


def test_heatmap_follows_the_viewer_time_zone(logged_in, app):
    account_id = store(app).accounts.by_open_id(open_id()).id
    rows = store(app).history.analytics_rows(account_id)

    utc_cells = _heatmap_cells(_text(logged_in.get("/analytics")))
    assert utc_cells == _expected_cells(rows, ZoneInfo("UTC"))

    answer = logged_in.post("/timezone", data={"tz": "Asia/Tokyo", "csrf_token": csrf_token(logged_in)})
    assert answer.status_code == 302

    html = _text(logged_in.get("/analytics"))
    tokyo_cells = _heatmap_cells(html)
    assert "Hours in your time zone: Asia/Tokyo." in html
    assert tokyo_cells == _expected_cells(rows, ZoneInfo("Asia/Tokyo"))
    assert tokyo_cells != utc_cells
    assert _heatmap_cells(_text(logged_in.get("/"))) == tokyo_cells


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "../../etc/passwd", "Asia/" + "x" * 80,
                                "local"])
def test_setting_an_unknown_time_zone_is_refused(logged_in, tz):
    token = csrf_token(logged_in)
    assert logged_in.post("/timezone", data={"tz": tz, "csrf_token": token}).status_code == 400
    assert "Hours in your time zone: UTC." in _text(logged_in.get("/analytics"))


def test_setting_the_time_zone_needs_the_csrf_token(logged_in):
    assert logged_in.post("/timezone", data={"tz": "Asia/Tokyo"}).status_code == 400
    assert "Hours in your time zone: UTC." in _text(logged_in.get("/analytics"))


# --- sync now ------------------------------------------------------------------------------------


def test_sync_now_is_a_post_form_protected_by_csrf(history_client, sandbox_state):
    _, client, _ = history_client
    sandbox_state.reset_calls()

    assert client.get("/sync").status_code == 405
    assert client.post("/sync").status_code == 400
    assert sum(api_calls(sandbox_state).values()) == 0


def test_sync_now_runs_a_sync_and_the_page_shows_its_result(history_client, sandbox_state):
    app, client, account_id = history_client
    token = csrf_token(client)
    assert "Not synced yet." in _text(client.get("/"))
    sandbox_state.reset_calls()

    answer = client.post("/sync", data={"csrf_token": token, "next": "/videos"})

    assert answer.status_code == 303 and answer.headers["Location"].endswith("/videos")
    n = store(app).history.count_videos(account_id)
    assert api_calls(sandbox_state) == {"user_info": 1, "video_list": list_calls_for(n)}
    html = _text(client.get("/"))
    assert f"Last run: {n} videos" in html
    assert f"Last run: {n} videos, {1 + list_calls_for(n)} calls to TikTok." in html


def test_a_failed_sync_now_shows_the_reason_and_tiktoks_log_id(history_client, sandbox_state,
                                                                 monkeypatch):
    app, client, account_id = history_client
    monkeypatch.setattr(TikTokClient, "_retry_wait", lambda self, error, attempt: 0.0)
    token = csrf_token(client)
    sandbox_state.queue_fault("user_info", "500", times=TikTokClient().max_retries + 1)

    client.post("/sync", data={"csrf_token": token})

    run = runs(app, account_id)[-1]
    assert run.status == "failed" and run.log_id
    html = _text(client.get("/"))
    assert "The last sync failed:" in html
    assert run.log_id in html


# --- helpers ---------------------------------------------------------------------------------------


def _signed(value: int) -> str:
    return ("+" if value > 0 else "") + f"{value:,}"


def _stat_cards(html: str) -> dict:
    cards = {}
    for block in re.findall(r'<div class="stat card">(.*?)</div>\s*(?=<div class="stat card">|</section>)',
                            html, re.S):
        label = re.search(r'<div class="stat-label">(.*?)</div>', block).group(1)
        value = re.search(r'<div class="stat-value"[^>]*title="([^"]+)"', block)
        changes = re.findall(r'<div class="stat-change [^"]*">(.*?)</div>', block)
        cards[unescape(label)] = {"value": value and unescape(value.group(1)),
                                  "changes": [unescape(c) for c in changes]}
    return cards


def _chart_table(html: str) -> list[list[str]]:
    table = re.search(r'<details class="chart-table">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [[unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]


_CELL = re.compile(r"<title>(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d\d):00 — ([^<]*?) average views</title>")


def _heatmap_cells(html: str) -> set[tuple[str, int, str]]:
    return {(day, int(hour), unescape(views)) for day, hour, views in _CELL.findall(html)}


def _expected_cells(rows, tz) -> set[tuple[str, int, str]]:
    """(weekday, hour, mean views) of the stored videos, posted in ``tz``."""
    grid: dict[tuple[int, int], list[int]] = {}
    for row in analytics.live_videos(rows):
        local = row["create_time"].astimezone(tz)
        grid.setdefault((local.weekday(), local.hour), []).append(row["view_count"])
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    return {(days[d], h, _compact(sum(v) / len(v))) for (d, h), v in grid.items()}


def _compact(number: float) -> str:
    if abs(number) < 1000:
        return format_decimal(number, locale="en")
    return format_compact_decimal(round(number), format_type="short", fraction_digits=1, locale="en")



def test_the_videos_table_total_follows_each_sync(history_client, sandbox_state):
    app, client, account_id = history_client
    deleted = CREATOR.special("deleted")
    before, after = deleted.deleted_at - DAY, deleted.deleted_at + DAY
    shown = re.compile(r"Showing 1–20 of ([\d,]+) videos\.")

    assert sync_at(app, sandbox_state, account_id, before).ok
    first = shown.search(_text(client.get("/videos"))).group(1)
    assert sync_at(app, sandbox_state, account_id, after).ok
    second = shown.search(_text(client.get("/videos"))).group(1)

    assert int(first.replace(",", "")) == len(sandbox_data.visible_videos(CREATOR, before))
    assert int(second.replace(",", "")) == len(sandbox_data.visible_videos(CREATOR, after))
    assert int(second.replace(",", "")) == int(first.replace(",", "")) - 1
