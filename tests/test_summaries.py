"""Per-sync summaries, pages that read them, and a sync in bounded memory.

The sync computes what the pages show and stores it with its data; pages
read it and never walk every video; a sync parks the videos it reads a
batch at a time; sorting by a metric reads an index; text responses are
compressed, and the CSRF token never repeats inside them.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text, update

from dashboard import analytics
from dashboard.core import summaries
from dashboard.core import sync as core_sync
from dashboard.storage.history import HistoryStore
from dashboard.storage.models import StagedVideo, SyncSummary
from dashboard.web.pages import viewmodels
from tests.conftest import login
from tests.sync_helpers import DAY, csrf_token, open_id, runs, store, sync_at
from tests.test_page_cache import renders
from tiktok_official_api import TikTokClient

PAGES = ("/", "/videos", "/videos?sort=view_count", "/analytics")


def _account(app) -> int:
    return store(app).accounts.by_open_id(open_id()).id


def _summaries(app, account_id):
    with store(app).session() as db:
        return db.execute(select(SyncSummary.zone, SyncSummary.run_id, SyncSummary.data)
                          .where(SyncSummary.account_id == account_id)).all()


@pytest.fixture
def no_walks(monkeypatch):
    """Counts every walk over all of an account's videos."""
    walks = []
    original = HistoryStore.iter_analytics_rows

    def counted(self, account_id, **kwargs):
        walks.append(account_id)
        yield from original(self, account_id, **kwargs)

    monkeypatch.setattr(HistoryStore, "iter_analytics_rows", counted)
    return walks


def test_the_sync_stores_its_summary_and_the_pages_never_walk_every_video(logged_in, app, no_walks):
    account_id = _account(app)
    parts = _summaries(app, account_id)
    latest = runs(app, account_id)[-1]
    assert {zone for zone, _, _ in parts} == {"", "UTC"}
    assert {run_id for _, run_id, _ in parts} == {latest.id}
    main = json.loads(next(data for zone, _, data in parts if zone == ""))
    rows = store(app).history.analytics_rows(account_id)
    no_walks.clear()

    one_video = main["top"]["view_count"][0]
    for path in (*PAGES, f"/videos/{one_video}"):
        assert logged_in.get(path).status_code == 200, path

    assert no_walks == []
    assert main["live_videos"] == len(analytics.live_videos(rows))
    assert main["top"]["view_count"] == [v["video_id"] for v in analytics.top_videos(rows, "view_count", 5)]
    followers = store(app).history.follower_points(account_id)
    assert main["buckets"] == analytics.duration_buckets(rows, followers=followers)
    assert main["tags"] == analytics.hashtag_stats(rows, followers=followers)[:15]
    for formula in analytics.ENGAGEMENT_FORMULAS:  # what every formula needs, made by the sync
        expected = analytics.engagement(rows, formula, followers)
        assert main["engagement"][formula] == {"value": expected.value, "videos": expected.videos,
                                               "left_out": expected.left_out}
    assert main["top"]["engagement_followers"] == [v["video_id"] for v in analytics.top_videos(
        rows, "engagement_followers", 5, followers=followers)]


def test_a_new_time_zone_is_summarized_once_then_by_every_sync(logged_in, app, sandbox_state, no_walks):
    account_id = _account(app)
    token = csrf_token(logged_in)
    assert logged_in.post("/timezone", data={"tz": "Asia/Tokyo", "csrf_token": token}).status_code == 302
    no_walks.clear()

    for _ in range(3):
        assert logged_in.get("/analytics").status_code == 200
    assert logged_in.get("/").status_code == 200

    assert no_walks == [account_id]  # the first view in Tokyo time made its part, once
    assert {zone for zone, _, _ in _summaries(app, account_id)} == {"", "UTC", "Asia/Tokyo"}
    assert sync_at(app, sandbox_state, account_id).ok
    parts = _summaries(app, account_id)
    assert {zone for zone, _, _ in parts} == {"", "UTC", "Asia/Tokyo"}
    assert {run_id for _, run_id, _ in parts} == {runs(app, account_id)[-1].id}
    tokyo = json.loads(next(data for zone, _, data in parts if zone == "Asia/Tokyo"))
    rows = store(app).history.analytics_rows(account_id)
    assert tokyo["heatmap"] == analytics.weekday_hour_heatmap(rows, ZoneInfo("Asia/Tokyo"))


def test_a_failed_sync_keeps_the_last_summary(logged_in, app, sandbox_state):
    account_id = _account(app)
    before = _summaries(app, account_id)
    page = logged_in.get("/analytics").get_data(as_text=True)
    sandbox_state.queue_fault("user_info", "500", times=TikTokClient().max_retries + 1)

    assert not sync_at(app, sandbox_state, account_id).ok

    assert _summaries(app, account_id) == before
    assert "Top videos by" in logged_in.get("/analytics").get_data(as_text=True)
    assert page.count("<li>") == logged_in.get("/analytics").get_data(as_text=True).count("<li>")


def test_a_summary_stored_by_an_older_version_is_made_again(logged_in, app):
    account_id = _account(app)
    with store(app).session() as db:
        db.execute(update(SyncSummary).where(SyncSummary.account_id == account_id)
                   .values(data=json.dumps({"version": 0})))
    viewmodels._cache.clear()
    summaries._parsed_cache.clear()  # a new version is a new process

    html = logged_in.get("/analytics").get_data(as_text=True)

    assert "Top videos by" in html
    main = json.loads(next(d for z, _, d in _summaries(app, account_id) if z == ""))
    assert main["live_videos"] > 0


def test_history_stored_before_summaries_existed_gets_one_on_the_first_view(logged_in, app, no_walks):
    account_id = _account(app)
    with store(app).session() as db:
        db.execute(SyncSummary.__table__.delete())
    viewmodels._cache.clear()
    no_walks.clear()

    assert "Top videos by" in logged_in.get("/analytics").get_data(as_text=True)
    assert logged_in.get("/analytics").status_code == 200

    assert no_walks == [account_id]
    assert {z for z, _, _ in _summaries(app, account_id)} == {"", "UTC"}


def test_simultaneous_first_renderings_of_a_part_make_it_once():
    made = []

    def slow():
        made.append(1)
        time.sleep(0.2)
        return "page part"

    key = ("test", time.monotonic())
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(viewmodels._cached(key, slow)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert made == [1]
    assert answers == ["page part"] * 8


def test_a_sync_parks_the_videos_it_reads_a_batch_at_a_time(make_app, sandbox_state, monkeypatch):
    app = make_app(SYNC_ON_CONNECT=False)
    from tests.sync_helpers import connect

    account_id = connect(app, "creator")
    batches = []
    original = HistoryStore.stage_videos

    def counted(self, run_id, videos):
        batches.append(len(videos))
        staged = self.staged_count(run_id)
        original(self, run_id, videos)
        assert self.staged_count(run_id) == staged + len(videos)  # each batch lands at once

    monkeypatch.setattr(HistoryStore, "stage_videos", counted)
    monkeypatch.setattr(core_sync, "STAGE_BATCH", 40)

    result = sync_at(app, sandbox_state, account_id)

    assert result.ok and result.videos_seen > 2 * 40
    assert sum(batches) == result.videos_seen and max(batches) < 40 + 20
    with store(app).session() as db:
        assert db.scalar(select(func.count()).select_from(StagedVideo)) == 0


def test_a_sync_that_fails_half_way_leaves_nothing_parked(make_app, sandbox_state, monkeypatch):
    app = make_app(SYNC_ON_CONNECT=False)
    from tests.sync_helpers import connect

    account_id = connect(app, "creator")
    monkeypatch.setattr(core_sync, "STAGE_BATCH", 20)
    original = HistoryStore.stage_videos

    def then_fail(self, run_id, videos):
        original(self, run_id, videos)
        if self.staged_count(run_id) >= 60:  # three pages parked: TikTok goes down
            sandbox_state.set_faults(fail_rate=1, kinds=("500",), endpoints=("video_list",))

    monkeypatch.setattr(HistoryStore, "stage_videos", then_fail)

    assert not sync_at(app, sandbox_state, account_id).ok

    monkeypatch.undo()
    sandbox_state.clear_faults()
    with store(app).session() as db:
        assert db.scalar(select(func.count()).select_from(StagedVideo)) == 0
    assert sync_at(app, sandbox_state, account_id, time.time() + DAY).ok


@pytest.mark.parametrize("sort", ["view_count", "like_count", "comment_count", "share_count",
                                  "duration"])
def test_sorting_videos_by_a_metric_reads_an_index_not_every_row(app, sort):
    if store(app).engine.dialect.name != "sqlite":
        pytest.skip("the query plan checked is SQLite's")
    history = store(app).history
    with store(app).engine.connect() as connection:
        query = history.videos_page_query(1, sort=sort, descending=True, offset=0, limit=20)
        compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
        plan = " ".join(row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert f"ix_videos_account_{sort}" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_pages_and_exports_are_compressed_for_browsers_that_take_it(logged_in):
    for path, marker in (("/", b"<!doctype html>"), ("/export/videos.csv", b"video_id")):
        answer = logged_in.get(path, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200, path
        assert answer.headers["Content-Encoding"] == "gzip", path
        assert "Accept-Encoding" in answer.headers["Vary"]
        assert marker in gzip.decompress(answer.get_data())[:200], path
    plain = logged_in.get("/")
    assert "Content-Encoding" not in plain.headers


def test_every_copy_of_the_csrf_token_differs_and_each_works(logged_in):
    first, second = csrf_token(logged_in), csrf_token(logged_in)
    page = logged_in.get("/").get_data(as_text=True)

    assert first != second
    assert page.count(first) == 0 and page.count(second) == 0
    for token in (first, second):
        answer = logged_in.post("/language", data={"lang": "en", "next": "/", "csrf_token": token})
        assert answer.status_code == 302
    broken = first[:-4] + ("AAAA" if not first.endswith("AAAA") else "BBBB")
    assert logged_in.post("/language", data={"lang": "en", "csrf_token": broken}).status_code == 400


def _without_tokens(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def test_the_worker_renders_the_pages_after_a_sync_so_a_first_view_renders_nothing(make_app, monkeypatch):
    app = make_app(PRERENDER_PAGES=True)
    client = app.test_client()
    assert login(client).status_code == 200  # connect: the sync job, then the rendering
    account_id = _account(app)
    names = {name for name, *_ in store(app).summaries.rendered(account_id, "")}
    for lang in ("en", "zh"):
        assert {f"{lang}|UTC|overview|day|engagement=views|stats", f"{lang}|UTC|overview|month|charts",
                f"{lang}|UTC|analytics|heatmap", f"{lang}|UTC|analytics|engagement=views|rest"} <= names
    # Only the default formula is rendered ahead; the others render on their first view.
    assert not any("engagement=median" in n or "engagement=followers" in n for n in names)
    _forget_renderings(app)
    stored = {path: _without_tokens(client.get(path).get_data(as_text=True)) for path in ("/", "/analytics")}

    def shaped(*_args):
        raise AssertionError("a first view shaped page data the worker had rendered")

    _forget_renderings(app)
    monkeypatch.setattr(viewmodels, "_overview", shaped)
    monkeypatch.setattr(viewmodels, "_analytics", shaped)
    with renders(app) as rendered:  # whole pages, stored by the worker
        for path in ("/", "/analytics", "/videos"):
            assert _without_tokens(client.get(path).get_data(as_text=True)) == stored.get(path, "") \
                or path == "/videos"
    assert rendered == []
    _forget_renderings(app)
    with store(app).session() as db:  # only the parts: the frame is rendered, the parts are not
        db.execute(text("DELETE FROM rendered_parts WHERE name LIKE 'page|%'"))
    for path in ("/", "/analytics"):
        assert _without_tokens(client.get(path).get_data(as_text=True)) == stored[path]
    monkeypatch.undo()
    with store(app).session() as db:
        db.execute(text("DELETE FROM rendered_parts"))
    _forget_renderings(app)
    for path in ("/", "/analytics"):  # rendered here and now: the same page
        assert _without_tokens(client.get(path).get_data(as_text=True)) == stored[path]


def _forget_renderings(app) -> None:
    """This process's rendered parts and pages, as in a process that just started."""
    viewmodels._cache.clear()
    app.extensions["page_cache"].clear()
