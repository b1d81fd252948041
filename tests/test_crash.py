"""A sync killed with SIGKILL loses nothing committed and corrupts nothing.

A real ``flask sync`` process runs against the loopback sandbox (slowed by
its delay switch) and is killed half-way, once while it walks the video list
and once inside the transaction that writes the snapshot. Starting again finds the committed
history intact, no partial snapshot, the killed run recorded as interrupted,
and the account free again once the dead process's lease runs out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from dashboard.core.sync import run_sync
from dashboard.storage.models import ProfileSnapshot, SyncRun, VideoSnapshot
from sandbox import ACCOUNTS, ANCHOR, max_calls_in_window
from sandbox import data as sandbox_data
from sandbox.data import visible_videos
from tests.conftest import SECRET, _database_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
LEASE = 2  # seconds; SYNC_LEASE_SECONDS of both the test's app and the killed process


def store(app):
    return app.extensions["core"].store


def connect(app, account: str) -> int:
    from dashboard.commands.sandbox import connect_sandbox_account

    with app.app_context():
        return connect_sandbox_account(app, account)


def history(app, account_id: int) -> dict:
    """The account's snapshots, comparable: counts per sync time."""
    with store(app).session() as db:
        profiles = db.execute(
            select(ProfileSnapshot.taken_at, ProfileSnapshot.follower_count, ProfileSnapshot.video_count)
            .where(ProfileSnapshot.account_id == account_id).order_by(ProfileSnapshot.taken_at)).all()
        videos = db.execute(
            select(VideoSnapshot.taken_at, func.count(), func.sum(VideoSnapshot.view_count))
            .where(VideoSnapshot.account_id == account_id)
            .group_by(VideoSnapshot.taken_at).order_by(VideoSnapshot.taken_at)).all()
    return {"profiles": [tuple(p) for p in profiles], "videos": [tuple(v) for v in videos]}


def runs(app, account_id: int) -> list[tuple[str, str | None]]:
    with store(app).session() as db:
        return [(r.status, r.error_code) for r in db.scalars(
            select(SyncRun).where(SyncRun.account_id == account_id).order_by(SyncRun.id))]


def flask_sync(tmp_path, sandbox_server, *args, command=None, **extra_env) -> subprocess.Popen:
    """``flask sync`` (or ``python <command>``) in a process of its own, on the test's
    database and queue."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TIKTOK_", "SECRET"))}
    env.update(
        PYTHONPATH=str(ROOT), SECRET_KEY=SECRET, DATABASE_URL=_database_url(tmp_path),
        TIKTOK_AUTH_URL=sandbox_server.url + "/v2/auth/authorize/", TIKTOK_API_BASE=sandbox_server.url,
        SANDBOX_DB=str(tmp_path / "sandbox.sqlite3"), SYNC_LEASE_SECONDS=str(LEASE),
        SYNC_INTERVAL_MINUTES="0", QUEUE_PATH=str(tmp_path / "queue.sqlite3"),
    )
    env.update(extra_env)
    command = command or ["-m", "flask", "--app", "app", "sync", *args]
    return subprocess.Popen([sys.executable, *command],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def kill_when(process: subprocess.Popen, condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the sync finished before it could be killed:\n" + finish(process)[1]
        assert time.monotonic() < deadline, "the sync never reached the point to kill it"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture
def crash_app(make_app, sandbox_state):
    sandbox_state.rate_limit_per_minute = None
    return make_app(SYNC_LEASE_SECONDS=LEASE)


def test_a_sync_killed_while_reading_tiktok_loses_nothing_and_the_next_one_completes(
        crash_app, sandbox_state, sandbox_server, tmp_path):
    app = crash_app
    account_id = connect(app, "creator")
    sandbox_state.clock.set(ANCHOR)
    with app.app_context():
        from dashboard.core.sync import run_sync

        assert run_sync(app.extensions["core"], account_id, now=datetime.fromtimestamp(ANCHOR, UTC)).ok
    committed = history(app, account_id)
    sandbox_state.clock.set(ANCHOR + 86_400)  # the killed and the next sync see the next day
    sandbox_state.set_faults(delay=0.25)  # 9 calls: about two seconds of walking
    sandbox_state.reset_calls()

    process = flask_sync(tmp_path, sandbox_server)
    kill_when(process, lambda: sandbox_state.calls["video_list"] >= 3)

    assert history(app, account_id) == committed
    assert runs(app, account_id) == [("ok", None), ("running", None)]
    sandbox_state.clear_faults()

    with app.app_context():
        blocked = run_sync(app.extensions["core"], account_id)
    assert blocked.code == "sync_in_progress", "the dead process's lease still holds"
    time.sleep(LEASE + 0.3)
    code, output = finish(flask_sync(tmp_path, sandbox_server))
    assert code == 0, output
    after = history(app, account_id)
    assert after["profiles"][:1] == committed["profiles"] and len(after["profiles"]) == 2
    seen = len(sandbox_data.visible_videos(ACCOUNTS["creator"], ANCHOR + 86_400))
    assert f"ok, {seen} videos seen" in output and after["videos"][-1][1] == seen
    assert runs(app, account_id) == [("ok", None), ("failed", "interrupted"), ("ok", None)]


#: ``flask sync`` with one hook: once the parked videos are merged into the
#: snapshot, and before the transaction commits, it says so and waits to be killed.
HOLD_BEFORE_COMMIT = """
import sys, time
from pathlib import Path
import dashboard.storage.history as store
written, marker = store._merge_staged, Path(sys.argv[1])
def record_then_wait(*args, **kwargs):
    written(*args, **kwargs)
    marker.write_text("in the transaction")
    time.sleep(60)
store._merge_staged = record_then_wait
from flask.cli import main
sys.argv = ["flask", "--app", "app", "sync"]
main()
"""


def test_a_sync_killed_inside_its_write_transaction_leaves_none_of_its_snapshot(
        crash_app, sandbox_state, sandbox_server, tmp_path):
    app = crash_app
    account_id = connect(app, "creator")
    sandbox_state.clock.set(ANCHOR)
    with app.app_context():
        from dashboard.core.sync import run_sync

        assert run_sync(app.extensions["core"], account_id, now=datetime.fromtimestamp(ANCHOR, UTC)).ok
    committed = history(app, account_id)
    sandbox_state.clock.set(ANCHOR + 86_400)
    marker = tmp_path / "writing"

    process = flask_sync(tmp_path, sandbox_server, command=["-c", HOLD_BEFORE_COMMIT, str(marker)])
    kill_when(process, marker.exists)

    assert history(app, account_id) == committed, "a partial snapshot survived the kill"
    if app.config["DATABASE_URL"].startswith("sqlite"):
        with store(app).engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    time.sleep(LEASE + 0.3)
    with app.app_context():
        next_day = datetime.fromtimestamp(ANCHOR + 86_400, UTC)
        assert run_sync(app.extensions["core"], account_id, now=next_day).ok
    after = history(app, account_id)
    assert after["profiles"][:1] == committed["profiles"] and len(after["profiles"]) == 2
    assert runs(app, account_id) == [("ok", None), ("failed", "interrupted"), ("ok", None)]


def test_a_sync_longer_than_its_lease_keeps_its_account(crash_app, sandbox_state):
    """The lease is renewed on every call, so a slow sync is never joined by a second one."""
    app = crash_app
    account_id = connect(app, "creator")
    sandbox_state.set_faults(delay=0.45)  # 9 calls: 4 s, twice the 2 s lease
    from dashboard.core.sync import run_sync

    results = {}

    def first():
        with app.app_context():
            results["first"] = run_sync(app.extensions["core"], account_id)

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(LEASE + 0.5)
    with app.app_context():
        second = run_sync(app.extensions["core"], account_id)
    thread.join(30)
    sandbox_state.clear_faults()

    assert not second.ok and second.code == "sync_in_progress"
    assert results["first"].ok, results["first"]
    assert runs(app, account_id) == [("ok", None)]


# --- the background worker --------------------------------------------------------------------

WORKER = ["-m", "flask", "--app", "app", "worker", "--threads", "2"]


def latest_run(app, account_id: int):
    return store(app).runs.latest(account_id)


def wait_until(condition, timeout: float, what: str) -> float:
    """Poll ``condition`` until it holds; the seconds it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what} did not happen within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - start


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.stdout.read() if process.stdout else ""


def test_a_worker_killed_in_the_middle_of_a_sync_is_picked_up_within_30_s_with_exact_data(
        make_app, sandbox_state, sandbox_server, tmp_path):
    sandbox_state.rate_limit_per_minute = None
    app = make_app(SYNC_LEASE_SECONDS=LEASE, QUEUE_IMMEDIATE=False, SYNC_ON_CONNECT=False)
    account_id = connect(app, "creator")
    sandbox_state.clock.set(ANCHOR)
    with app.app_context():
        assert run_sync(app.extensions["core"], account_id, now=datetime.fromtimestamp(ANCHOR, UTC)).ok
    committed = history(app, account_id)
    sandbox_state.clock.set(ANCHOR + 86_400)
    sandbox_state.set_faults(delay=0.25)
    sandbox_state.reset_calls()

    worker = flask_sync(tmp_path, sandbox_server, command=WORKER)
    assert app.extensions["jobs"].request_sync(account_id) == "queued"
    kill_when(worker, lambda: sandbox_state.calls["video_list"] >= 2)
    killed_at = time.monotonic()
    assert latest_run(app, account_id).status == "running"

    replacement = flask_sync(tmp_path, sandbox_server, command=WORKER)
    try:
        wait_until(lambda: latest_run(app, account_id).status == "running"
                   and sandbox_state.calls["user_info"] >= 2, 30, "the next sync starting")
        assert time.monotonic() - killed_at < 30
        sandbox_state.clear_faults()
        wait_until(lambda: latest_run(app, account_id).status == "ok", 60, "the next sync ending")
    finally:
        output = stop(replacement)
    after = history(app, account_id)
    assert after["profiles"][:1] == committed["profiles"] and len(after["profiles"]) == 2, output
    expected = visible_videos(ACCOUNTS["creator"], ANCHOR + 86_400)
    taken, count, views = after["videos"][-1]
    assert count == len(expected) and views == sum(
        sandbox_data.counts(v, ANCHOR + 86_400)["view_count"] for v in expected)
    assert runs(app, account_id)[-2:] == [("failed", "interrupted"), ("ok", None)]


def test_two_workers_on_redis_share_one_tiktok_budget_and_finish_every_sync(
        make_app, sandbox_state, sandbox_server, tmp_path, redis_url):
    redis.Redis.from_url(redis_url).flushdb()
    limit, settings = 3, {"REDIS_URL": redis_url, "TIKTOK_RATE_LIMIT": "3 per second"}
    sandbox_state.rate_limit_per_minute = None
    app = make_app(QUEUE_IMMEDIATE=False, SYNC_ON_CONNECT=False, **settings)
    accounts = [connect(app, key) for key in ("creator", "second")]
    sandbox_state.reset_calls()

    workers = [flask_sync(tmp_path, sandbox_server, command=WORKER, **settings) for _ in range(2)]
    try:
        for account_id in accounts:
            assert app.extensions["jobs"].request_sync(account_id) == "queued"
        wait_until(lambda: all(latest_run(app, a) and latest_run(app, a).status == "ok"
                               for a in accounts), 90, "both syncs ending")
    finally:
        outputs = [stop(w) for w in workers]
    for endpoint in ("user_info", "video_list"):
        times = sandbox_state.call_times(endpoint)
        assert times, endpoint
        assert max_calls_in_window(times, 1.0) <= limit, (endpoint, outputs)
