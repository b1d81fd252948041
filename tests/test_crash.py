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
from sqlalchemy import func, select

from dashboard.storage.models import ProfileSnapshot, SyncRun, VideoSnapshot
from sandbox import ACCOUNTS, ANCHOR
from sandbox import data as sandbox_data
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


def flask_sync(tmp_path, sandbox_server, *args, command=None) -> subprocess.Popen:
    """``flask sync`` (or ``python <command>``) in a process of its own, on the test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TIKTOK_", "SECRET"))}
    env.update(
        PYTHONPATH=str(ROOT), SECRET_KEY=SECRET, DATABASE_URL=_database_url(tmp_path),
        TIKTOK_AUTH_URL=sandbox_server.url + "/v2/auth/authorize/", TIKTOK_API_BASE=sandbox_server.url,
        SANDBOX_DB=str(tmp_path / "sandbox.sqlite3"), SYNC_LEASE_SECONDS=str(LEASE),
        SYNC_INTERVAL_MINUTES="0",
    )
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


#: ``flask sync`` with one hook: once every video row of the snapshot is
#: written, and before the transaction commits, it says so and waits to be killed.
HOLD_BEFORE_COMMIT = """
import sys, time
from pathlib import Path
import dashboard.storage.history as store
written, marker = store.HistoryStore._record_videos, Path(sys.argv[1])
def record_then_wait(*args, **kwargs):
    written(*args, **kwargs)
    marker.write_text("in the transaction")
    time.sleep(60)
store.HistoryStore._record_videos = staticmethod(record_then_wait)
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
        assert run_sync(app.extensions["core"], account_id, now=datetime.fromtimestamp(ANCHOR + 86_400, UTC)).ok
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
