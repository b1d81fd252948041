"""Exports: CSV and JSON of the videos and of the whole history, streamed.

The account is synced three times at chosen sandbox times (the demo
creator's scripted deletion falls between the first and the second), then
the files are compared with the sandbox's own data.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime

import pytest
from sqlalchemy import update

from dashboard.storage.history import HistoryStore
from dashboard.storage.models import Video
from dashboard.web.exports import HISTORY_COLUMNS, VIDEO_COLUMNS
from sandbox import ACCOUNTS
from sandbox import data as sandbox_data
from tests.conftest import login
from tests.sync_helpers import DAY, at, count_queries, open_id, store, sync_at

CREATOR = ACCOUNTS["creator"]
DELETED = CREATOR.special("deleted")
#: Three daily syncs at noon UTC; the "deleted" video goes between the first two.
SYNCS = [DELETED.deleted_at - DAY + 12 * 3600, DELETED.deleted_at + DAY + 12 * 3600,
         DELETED.deleted_at + 3 * DAY + 12 * 3600]
EXPORTS = ("/export/videos.csv", "/export/videos.json", "/export/history.csv",
           "/export/history.json")
FORMULAS = ('=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1:A9)")


@pytest.fixture(scope="module")
def seen_ids():
    """Every video id the three syncs see (the deleted one included)."""
    return {v.id for t in SYNCS for v in sandbox_data.visible_videos(CREATOR, t)}


@pytest.fixture
def exported(make_app, sandbox_state):
    """A logged-in client of an account synced at the three SYNCS times."""
    app = make_app(SYNC_ON_CONNECT=False)
    client = app.test_client()
    assert login(client).status_code == 200
    account_id = store(app).accounts.by_open_id(open_id()).id
    for t in SYNCS:
        assert sync_at(app, sandbox_state, account_id, t).ok
    return app, client, account_id


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8")[1:], newline="")))


def _json(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def _iso(t: float) -> str:
    return at(t).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- videos ----------------------------------------------------------------------------


def test_video_csv_opens_in_excel_with_chinese_titles_intact(exported, seen_ids):
    _, client, _ = exported

    response = client.get("/export/videos.csv")
    rows = _csv(response)

    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="videos.csv"'
    assert list(rows[0]) == list(VIDEO_COLUMNS)
    assert {r["video_id"] for r in rows} == seen_ids
    titles = {r["video_id"]: r["title"] for r in rows}
    chinese = [v for v in CREATOR.videos if v.id in seen_ids and "美食" in v.title]
    assert chinese, "the demo creator has Chinese titles"
    for video in CREATOR.videos:
        if video.id in seen_ids and not video.title.startswith(("=", "+", "-", "@")):
            assert titles[video.id] == video.title


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised(exported):
    app, client, account_id = exported
    ids = sorted(_all_ids(app, account_id))[:len(FORMULAS)]
    with store(app).session() as db:
        for video_id, formula in zip(ids, FORMULAS, strict=True):
            db.execute(update(Video).where(Video.account_id == account_id, Video.video_id == video_id)
                       .values(title=formula, video_description=formula + " #tag"))

    rows = {r["video_id"]: r for r in _csv(client.get("/export/videos.csv"))}
    for video_id, formula in zip(ids, FORMULAS, strict=True):
        assert rows[video_id]["title"] == "'" + formula
        assert rows[video_id]["video_description"] == "'" + formula + " #tag"

    as_json = {v["video_id"]: v for v in _json(client.get("/export/videos.json"))}
    for video_id, formula in zip(ids, FORMULAS, strict=True):
        assert as_json[video_id]["title"] == formula, "JSON carries the data unchanged"


def test_video_ids_in_json_are_the_19_digit_strings_tiktok_sent(exported, seen_ids):
    _, client, _ = exported

    videos = _json(client.get("/export/videos.json"))

    assert all(isinstance(v["video_id"], str) for v in videos)
    assert all(len(v["video_id"]) == 19 and v["video_id"].isdigit() for v in videos)
    assert {v["video_id"] for v in videos} == seen_ids
    history = _json(client.get("/export/history.json"))
    assert all(isinstance(s["video_id"], str) for s in history["video_snapshots"])
    assert {s["video_id"] for s in history["video_snapshots"]} == seen_ids


def test_a_deleted_video_stays_in_the_video_exports_with_the_time_it_went(exported):
    _, client, _ = exported

    videos = {v["video_id"]: v for v in _json(client.get("/export/videos.json"))}
    csv_rows = {r["video_id"]: r for r in _csv(client.get("/export/videos.csv"))}

    gone = videos[DELETED.id]
    assert gone["gone_at"] == _iso(SYNCS[1])
    assert gone["last_seen_at"] == _iso(SYNCS[0])
    assert csv_rows[DELETED.id]["gone_at"] == _iso(SYNCS[1])
    assert sum(1 for v in videos.values() if v["gone_at"]) == 1


def test_video_exports_filter_by_posting_date_including_the_last_day(exported, seen_ids):
    _, client, _ = exported
    posted = sorted((datetime.fromtimestamp(v.create_time, tz=at(0).tzinfo).date(), v.id)
                    for v in CREATOR.videos if v.id in seen_ids)
    first, last = posted[40][0], posted[60][0]
    expected = {vid for day, vid in posted if first <= day <= last}
    assert posted[60][1] in expected

    query = f"?from={first.isoformat()}&to={last.isoformat()}"
    as_json = _json(client.get("/export/videos.json" + query))
    as_csv = _csv(client.get("/export/videos.csv" + query))

    assert {v["video_id"] for v in as_json} == expected
    assert {r["video_id"] for r in as_csv} == expected
    assert all(first.isoformat() <= v["create_time"][:10] <= last.isoformat() for v in as_json)


# --- history ----------------------------------------------------------------------------


def test_history_json_holds_every_snapshot_named_after_tiktoks_fields(exported):
    _, client, _ = exported

    history = _json(client.get("/export/history.json"))

    assert history["account"]["open_id"] == open_id()
    profile = history["profile_snapshots"]
    assert [p["synced_at"] for p in profile] == [_iso(t) for t in SYNCS]
    for row, t in zip(profile, SYNCS, strict=True):
        assert set(row) == {"synced_at", "follower_count", "following_count", "likes_count",
                            "video_count", "source", "source_file"}
        assert (row["source"], row["source_file"]) == ("api", None)
        assert {k: row[k] for k in row if k.endswith("_count")} == sandbox_data.profile_stats(CREATOR, t)
    videos = history["video_snapshots"]
    assert len(videos) == sum(len(sandbox_data.visible_videos(CREATOR, t)) for t in SYNCS)
    for row in videos:
        assert set(row) == {"synced_at", "video_id", "view_count", "like_count", "comment_count",
                            "share_count", "engagement_rate", "engagement_formula", "source",
                            "source_file"}
        assert row["engagement_formula"] == "views"
        interactions = row["like_count"] + row["comment_count"] + row["share_count"]
        assert row["engagement_rate"] == (interactions / row["view_count"] if row["view_count"]
                                          else None)
        t = datetime.fromisoformat(row["synced_at"]).timestamp()
        assert {k: row[k] for k in row if k.endswith("_count")} == sandbox_data.counts(
            CREATOR.by_id[row["video_id"]], t)


def test_history_csv_has_one_row_per_snapshot_with_iso_utc_sync_times(exported):
    _, client, _ = exported

    response = client.get("/export/history.csv")
    rows = _csv(response)

    assert response.headers["Content-Disposition"] == 'attachment; filename="history.csv"'
    assert list(rows[0]) == list(HISTORY_COLUMNS)
    assert {"follower_count", "following_count", "likes_count", "video_count", "video_id",
            "view_count", "like_count", "comment_count", "share_count"} <= set(HISTORY_COLUMNS)
    account_rows = [r for r in rows if r["kind"] == "account"]
    video_rows = [r for r in rows if r["kind"] == "video"]
    assert [r["synced_at"] for r in account_rows] == [_iso(t) for t in SYNCS]
    assert account_rows[0]["follower_count"] == str(
        sandbox_data.profile_stats(CREATOR, SYNCS[0])["follower_count"])
    assert len(video_rows) == sum(len(sandbox_data.visible_videos(CREATOR, t)) for t in SYNCS)
    for row in rows:
        moment = datetime.fromisoformat(row["synced_at"])
        assert row["synced_at"].endswith("Z") and moment.utcoffset().total_seconds() == 0


def test_history_exports_filter_by_sync_date(exported):
    _, client, _ = exported
    day = at(SYNCS[1]).date().isoformat()
    query = f"?from={day}&to={day}"

    history = _json(client.get("/export/history.json" + query))
    rows = _csv(client.get("/export/history.csv" + query))

    assert [p["synced_at"] for p in history["profile_snapshots"]] == [_iso(SYNCS[1])]
    assert {s["synced_at"] for s in history["video_snapshots"]} == {_iso(SYNCS[1])}
    assert len(history["video_snapshots"]) == len(sandbox_data.visible_videos(CREATOR, SYNCS[1]))
    assert {r["synced_at"] for r in rows} == {_iso(SYNCS[1])}
    later = _json(client.get(f"/export/history.json?from={at(SYNCS[2]).date().isoformat()}"))
    assert [p["synced_at"] for p in later["profile_snapshots"]] == [_iso(SYNCS[2])]


BAD_DATES = ("from=2026-13-01", "to=2026-02-30", "from=20261101", "from=yesterday", "to=2026-1-1",
             "from=2026-11-09&to=2026-11-01", "from=2026-11-01T00:00", "to=" + "9" * 300)


def test_bad_dates_are_refused(logged_in):
    statuses = {(path, query): logged_in.get(f"{path}?{query}").status_code
                for path in EXPORTS for query in BAD_DATES}
    assert statuses == {key: 400 for key in statuses}


# --- streaming ----------------------------------------------------------------------------


def test_exports_are_streamed(exported):
    _, client, _ = exported
    for path in EXPORTS:
        response = client.get(path)
        assert response.is_streamed, path
        assert response.get_data(), path


def test_the_store_reads_videos_in_batches_oldest_first(exported, seen_ids):
    app, _, account_id = exported
    engine = store(app).engine

    with count_queries(engine) as statements:
        iterator = store(app).history.iter_videos(account_id, batch=40)
        first = next(iterator)
        after_first = len(statements)
        videos = [first, *iterator]

    assert after_first == 1, "the first rows come before the rest is read"
    assert _batches(len(statements), len(seen_ids), 40)
    assert all("LIMIT" in s.upper() for s in statements)
    assert [v.video_id for v in videos] == [
        v.id for v in sorted((v for v in CREATOR.videos if v.id in seen_ids),
                             key=lambda v: v.create_time)]


def test_the_store_reads_video_snapshots_in_batches(exported):
    app, _, account_id = exported
    total = sum(len(sandbox_data.visible_videos(CREATOR, t)) for t in SYNCS)

    with count_queries(store(app).engine) as statements:
        pairs = list(store(app).history.iter_video_snapshots(account_id, batch=100))

    assert len(pairs) == total
    assert len({snap.id for _, snap in pairs}) == total
    assert _batches(len(statements), total, 100)
    assert all("LIMIT" in s.upper() for s in statements)


def test_the_video_export_reads_through_the_batched_iterator(exported, seen_ids, monkeypatch):
    app, client, _ = exported
    monkeypatch.setitem(HistoryStore.iter_videos.__kwdefaults__, "batch", 25)

    with count_queries(store(app).engine) as statements:
        videos = _json(client.get("/export/videos.json"))

    assert len(videos) == len(seen_ids)
    batches = [s for s in statements if "FROM videos" in s and "LIMIT" in s.upper()]
    assert _batches(len(batches), len(seen_ids), 25)


def _batches(queries: int, rows: int, batch: int) -> bool:
    """One query per batch, and at most one more that finds the end."""
    return math.ceil(rows / batch) <= queries <= math.ceil(rows / batch) + 1


def _all_ids(app, account_id) -> set[str]:
    return {v.video_id for v in store(app).history.iter_videos(account_id)}

