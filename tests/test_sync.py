"""Sync: what one sync costs upstream, what it stores, and how it fails.

Every sync here goes over real HTTP to the loopback sandbox; the sandbox's
clock (``sandbox_state.clock``) moves the numbers, and its call counter
(``sandbox_state.calls``) tells what the dashboard asked for.
"""

from __future__ import annotations

import queue
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from dashboard.storage.models import Account, utcnow
from sandbox import ACCOUNTS
from sandbox import data as sandbox_data
from tests.conftest import api_calls
from tests.sync_helpers import (
    ANCHOR,
    DAY,
    HOUR,
    at,
    connect,
    counts,
    list_calls_for,
    open_id,
    runs,
    store,
    sync_at,
    table_rows,
    video_row,
    visible,
)
from tiktok_official_api import TikTokClient

CREATOR = ACCOUNTS["creator"]


@pytest.fixture
def no_retry_wait(monkeypatch):
    """The client still retries, only without sleeping between attempts."""
    monkeypatch.setattr(TikTokClient, "_retry_wait", lambda self, error, attempt: 0.0)


@pytest.fixture
def synced(make_app, sandbox_state):
    """An app with the demo creator connected (no sync yet)."""
    app = make_app()
    return app, connect(app)


# --- cost of a sync ---------------------------------------------------------------


def test_one_sync_is_one_user_info_call_and_one_walk_of_the_video_list(synced, sandbox_state):
    app, account_id = synced
    t = ANCHOR + DAY
    expected = visible("creator", t)
    sandbox_state.reset_calls()

    result = sync_at(app, sandbox_state, account_id, t)

    assert result.ok, result
    assert api_calls(sandbox_state) == {"user_info": 1, "video_list": list_calls_for(len(expected))}
    assert result.api_calls == 1 + list_calls_for(len(expected))
    stored = table_rows(app, account_id)
    assert [v["video_id"] for v in stored["videos"]] == sorted(v.id for v in expected)
    assert len(stored["video_snapshots"]) == len(expected)
    assert result.videos_seen == len(expected)


def test_flask_sync_syncs_every_account_shows_progress_and_ends_with_the_videos_seen(
        make_app, sandbox_state):
    app = make_app()
    connect(app, "creator")
    connect(app, "second")
    t = ANCHOR + DAY
    sandbox_state.clock.set(t)
    creator, second = len(visible("creator", t)), len(visible("second", t))
    sandbox_state.reset_calls()

    result = app.test_cli_runner().invoke(args=["sync"])

    assert result.exit_code == 0, result.output
    assert api_calls(sandbox_state) == {
        "user_info": 2, "video_list": list_calls_for(creator) + list_calls_for(second)}
    assert f"20 of {creator} videos fetched" in result.stderr
    assert f"{creator} of {creator} videos fetched" in result.stderr
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line == f"Synced 2 of 2 accounts; saw {creator + second} videos."


def test_flask_sync_account_syncs_only_that_account(make_app, sandbox_state):
    app = make_app()
    creator_id = connect(app, "creator")
    second_id = connect(app, "second")
    t = ANCHOR + DAY
    sandbox_state.clock.set(t)
    second = len(visible("second", t))
    sandbox_state.reset_calls()

    result = app.test_cli_runner().invoke(args=["sync", "--account", open_id("second")])

    assert result.exit_code == 0, result.output
    assert api_calls(sandbox_state) == {"user_info": 1, "video_list": list_calls_for(second)}
    assert result.stdout.strip().splitlines()[-1] == f"Synced 1 of 1 accounts; saw {second} videos."
    assert counts(app, second_id)["videos"] == second
    assert counts(app, creator_id)["videos"] == 0


def test_flask_sync_with_an_unknown_open_id_fails_with_a_message(synced, sandbox_state):
    app, _ = synced
    sandbox_state.reset_calls()

    result = app.test_cli_runner().invoke(args=["sync", "--account", "-000not-connected"])

    assert result.exit_code != 0
    assert "No connected account has open_id '-000not-connected'" in result.output
    assert sum(api_calls(sandbox_state).values()) == 0


def test_flask_sync_exits_non_zero_and_names_the_log_id_when_a_sync_fails(
        synced, sandbox_state, no_retry_wait):
    app, _ = synced
    sandbox_state.clock.set(ANCHOR)
    sandbox_state.queue_fault("user_info", "500", times=TikTokClient().max_retries + 1)

    result = app.test_cli_runner().invoke(args=["sync"])

    assert result.exit_code == 1
    assert "FAILED [internal_error]" in result.stdout
    assert "TikTok log id " + ANCHOR_LOG_PREFIX in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "Synced 0 of 1 accounts; saw 0 videos."


ANCHOR_LOG_PREFIX = at(ANCHOR).strftime("%Y%m%d%H%M%S")


# --- all or nothing -------------------------------------------------------------------


def _fail_on_page(sandbox_state, page: int, kind: str, times: int):
    """A progress callback that scripts ``kind`` for the list call of ``page``."""
    def progress(done, total):
        if done == (page - 1) * 20:
            sandbox_state.queue_fault("video_list", kind, times=times)

    return progress


@pytest.mark.parametrize(
    ("kind", "attempts", "code", "has_log_id"),
    [
        ("500", TikTokClient().max_retries + 1, "internal_error", True),
        ("malformed", 1, None, False),
    ],
)
def test_a_fault_on_the_third_page_keeps_the_last_good_state_and_records_why(
        synced, sandbox_state, no_retry_wait, kind, attempts, code, has_log_id):
    app, account_id = synced
    assert sync_at(app, sandbox_state, account_id, ANCHOR).ok
    before = table_rows(app, account_id)
    sandbox_state.reset_calls()

    failed = sync_at(app, sandbox_state, account_id, ANCHOR + DAY,
                     progress=_fail_on_page(sandbox_state, 3, kind, attempts))

    assert not failed.ok
    assert sandbox_state.calls["video_list"] == 2 + attempts
    assert table_rows(app, account_id) == before
    run = runs(app, account_id)[-1]
    assert run.status == "failed"
    assert run.error_code == (code or "malformed_response")
    assert run.finished_at is not None and run.taken_at is None
    if has_log_id:
        assert run.log_id == failed.log_id
        assert run.log_id.startswith(at(ANCHOR + DAY).strftime("%Y%m%d%H%M%S"))
    else:
        assert run.log_id is None

    sandbox_state.clear_faults()
    again = sync_at(app, sandbox_state, account_id, ANCHOR + DAY)
    assert again.ok, again
    after = counts(app, account_id)
    assert after["profile_snapshots"] == 2
    assert after["video_snapshots"] == len(before["video_snapshots"]) + len(
        visible("creator", ANCHOR + DAY))
    assert [r.status for r in runs(app, account_id)] == ["ok", "failed", "ok"]


def test_a_sync_killed_half_way_leaves_the_last_good_state_and_is_recorded_as_interrupted(
        synced, sandbox_state):
    app, account_id = synced
    assert sync_at(app, sandbox_state, account_id, ANCHOR).ok
    before = table_rows(app, account_id)

    def killed(done, total):
        if done >= 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync_at(app, sandbox_state, account_id, ANCHOR + DAY, progress=killed)

    assert table_rows(app, account_id) == before
    assert sync_at(app, sandbox_state, account_id, ANCHOR + DAY).ok
    statuses = [(r.status, r.error_code) for r in runs(app, account_id)]
    assert statuses == [("ok", None), ("failed", "interrupted"), ("ok", None)]


def test_a_second_sync_in_the_same_minute_stores_nothing_twice(synced, sandbox_state):
    app, account_id = synced
    minute = ANCHOR + DAY - (ANCHOR + DAY) % 60
    assert sync_at(app, sandbox_state, account_id, minute + 5).ok
    once = counts(app, account_id)

    assert sync_at(app, sandbox_state, account_id, minute + 50).ok

    twice = counts(app, account_id)
    assert twice["profile_snapshots"] == once["profile_snapshots"] == 1
    assert twice["video_snapshots"] == once["video_snapshots"] == len(visible("creator", minute))
    assert twice["videos"] == once["videos"]
    # the later numbers of that minute are the ones kept
    stats = sandbox_data.profile_stats(CREATOR, minute + 50)
    snapshot = table_rows(app, account_id)["profile_snapshots"][0]
    assert snapshot["follower_count"] == stats["follower_count"]


def test_two_syncs_of_one_account_at_once_run_one_and_refuse_the_other(synced, sandbox_state):
    app, account_id = synced
    sandbox_state.clock.set(ANCHOR)
    from dashboard.core.sync import run_sync

    start = threading.Barrier(2)
    release = threading.Event()
    results: queue.Queue = queue.Queue()

    def hold(done, total):
        release.wait(5)

    def worker():
        with app.app_context():
            start.wait(5)
            results.put(run_sync(app.extensions["core"], account_id, now=at(ANCHOR), progress=hold))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    first = results.get(timeout=5)  # the refused one returns while the other is held
    release.set()
    for thread in threads:
        thread.join(5)
    second = results.get(timeout=1)

    assert not first.ok and first.code == "sync_in_progress"
    assert second.ok, second
    assert [r.status for r in runs(app, account_id)] == ["ok"]
    assert counts(app, account_id)["profile_snapshots"] == 1


@pytest.mark.parametrize(("lease", "runs_now"), [(-timedelta(minutes=1), True),
                                                (timedelta(minutes=10), False)])
def test_a_lease_left_by_a_killed_sync_blocks_only_until_it_expires(
        synced, sandbox_state, lease, runs_now):
    app, account_id = synced
    with store(app).session() as db:
        db.execute(update(Account).where(Account.id == account_id)
                   .values(sync_locked_until=utcnow() + lease))

    result = sync_at(app, sandbox_state, account_id, ANCHOR)

    assert result.ok is runs_now
    if not runs_now:
        assert result.code == "sync_in_progress"


def test_the_lease_is_released_after_a_sync_so_the_next_one_runs(synced, sandbox_state):
    app, account_id = synced
    assert sync_at(app, sandbox_state, account_id, ANCHOR).ok
    assert sync_at(app, sandbox_state, account_id, ANCHOR + HOUR).ok
    assert store(app).accounts.get(account_id).sync_locked_until is None


# --- history ------------------------------------------------------------------------------


def test_every_sync_keeps_a_profile_snapshot_of_that_moment(synced, sandbox_state):
    app, account_id = synced
    moments = [ANCHOR - 2 * DAY, ANCHOR, ANCHOR + 3 * DAY]
    for t in moments:
        assert sync_at(app, sandbox_state, account_id, t).ok

    snapshots = table_rows(app, account_id)["profile_snapshots"]

    assert [s["taken_at"] for s in snapshots] == [at(t) for t in moments]
    for snapshot, t in zip(snapshots, moments, strict=True):
        expected = sandbox_data.profile_stats(CREATOR, t)
        assert {k: snapshot[k] for k in expected} == expected
    account = store(app).accounts.get(account_id)
    assert account.follower_count == snapshots[-1]["follower_count"]
    assert account.last_synced_at == at(moments[-1])


def test_videos_remember_when_they_were_first_and_last_seen(synced, sandbox_state):
    app, account_id = synced
    t0, t1 = ANCHOR - 2 * DAY, ANCHOR + DAY
    old = {v.id for v in visible("creator", t0)}
    new = {v.id for v in visible("creator", t1)} - old
    assert new, "the sandbox posts at least one video between the two syncs"

    sync_at(app, sandbox_state, account_id, t0)
    sync_at(app, sandbox_state, account_id, t1)

    for video in table_rows(app, account_id)["videos"]:
        assert video["first_seen_at"] == at(t1 if video["video_id"] in new else t0)
        assert video["last_seen_at"] == at(t1)
        assert video["gone_at"] is None


def test_a_video_deleted_between_syncs_is_marked_gone_and_kept(synced, sandbox_state):
    app, account_id = synced
    deleted = CREATOR.special("deleted")
    before, after = deleted.deleted_at - DAY, deleted.deleted_at + DAY

    sync_at(app, sandbox_state, account_id, before)
    sync_at(app, sandbox_state, account_id, after)

    row = video_row(app, account_id, deleted.id)
    assert row.gone_at == at(after)
    assert row.last_seen_at == at(before)
    assert store(app).history.count_videos(account_id) == len(visible("creator", after))
    snapshots = store(app).history.video_snapshots(row.id)
    assert [s.taken_at for s in snapshots] == [at(before)]


def test_a_hidden_video_is_gone_until_it_shows_up_again(synced, sandbox_state):
    app, account_id = synced
    video_id = visible("creator", ANCHOR)[3].id
    sync_at(app, sandbox_state, account_id, ANCHOR)

    sandbox_state.hide_video("creator", video_id)
    sync_at(app, sandbox_state, account_id, ANCHOR + HOUR)
    assert video_row(app, account_id, video_id).gone_at == at(ANCHOR + HOUR)

    sandbox_state.clear_faults()
    sync_at(app, sandbox_state, account_id, ANCHOR + 2 * HOUR)
    row = video_row(app, account_id, video_id)
    assert row.gone_at is None
    assert row.last_seen_at == at(ANCHOR + 2 * HOUR)


def test_counts_that_go_down_are_stored_as_they_are(synced, sandbox_state):
    app, account_id = synced
    dip = CREATOR.special("dip")
    before, after = dip.dip_at - DAY, dip.dip_at + DAY
    assert sandbox_data.like_count(dip, after) < sandbox_data.like_count(dip, before)

    sync_at(app, sandbox_state, account_id, before)
    sync_at(app, sandbox_state, account_id, after)

    row = video_row(app, account_id, dip.id)
    likes = [s.like_count for s in store(app).history.video_snapshots(row.id)]
    assert likes == [sandbox_data.like_count(dip, before), sandbox_data.like_count(dip, after)]
    assert row.like_count == likes[-1]


# --- demo history --------------------------------------------------------------------------


def test_sandbox_history_fills_ninety_days_and_a_rerun_stores_nothing_twice(make_app, sandbox_state):
    app = make_app()
    runner = app.test_cli_runner()

    first = runner.invoke(args=["sandbox", "history", "--days", "90"])

    assert first.exit_code == 0, first.output
    account_id = store(app).accounts.by_open_id(open_id()).id
    days = {s["taken_at"].date() for s in table_rows(app, account_id)["profile_snapshots"]}
    assert len(days) >= 91
    assert max(days) - min(days) == timedelta(days=90)
    once = _daily_counts(app, account_id)
    # 91 daily syncs, or 90 before 12:00 UTC, when today's is still to come.
    assert once["profile_snapshots"] == (91 if datetime.now(UTC).hour >= 12 else 90)

    second = runner.invoke(args=["sandbox", "history", "--days", "90"])

    assert second.exit_code == 0, second.output
    assert _daily_counts(app, account_id) == once
    assert first.stdout.strip().splitlines()[-1].startswith("History of ")


def _daily_counts(app, account_id):
    """Rows of the daily (12:00 UTC) syncs; a rerun's own "now" sync is new."""
    rows = table_rows(app, account_id)
    daily = {s["taken_at"] for s in rows["profile_snapshots"]
             if (s["taken_at"].hour, s["taken_at"].minute) == (12, 0)}
    return {
        "profile_snapshots": len(daily),
        "video_snapshots": sum(1 for s in rows["video_snapshots"] if s["taken_at"] in daily),
        "videos": len(rows["videos"]),
    }
