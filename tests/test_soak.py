"""Soak: 200 syncs with 20% of TikTok's answers failing at random end with
exactly the history of a fault-free run over the same sandbox clock.

The sandbox's clock steps forward three hours after every sync. A failed
sync must store nothing for its moment; the fault-free run then syncs the
same account, from scratch, at exactly the moments whose sync succeeded.
Every stored row of both runs, but database ids, must be equal: a partial
write at a failed moment, a doubled snapshot, a lost video or a wrong
"gone" date would differ.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dashboard.storage.models import Account, ProfileSnapshot, SyncRun, Video, VideoSnapshot
from sandbox import ANCHOR
from tiktok_official_api import TikTokClient

pytestmark = pytest.mark.slow

SYNCS = 200
FAIL_RATE = 0.2
SEED = 20261101
STEP = 3 * 3600
START = ANCHOR - 10 * 86_400  # the account's scripted deletion and like dip happen on the way
#: Every kind a data call can fail with that a retry or a later sync can undo.
KINDS = ("500", "503", "429", "429-no-retry-after", "malformed", "truncated", "reset", "expire_token")
ACCOUNT = "second"


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def store(app):
    return app.extensions["core"].store


def connect(app) -> int:
    from dashboard.commands.sandbox import connect_sandbox_account

    with app.app_context():
        return connect_sandbox_account(app, ACCOUNT)


def sync_at(app, sandbox_state, account_id: int, t: float):
    from dashboard.core.sync import run_sync

    sandbox_state.clock.set(t)
    with app.app_context():
        return run_sync(app.extensions["core"], account_id, now=at(t))


def stored_history(app, account_id: int) -> dict:
    """Every row stored for the account, without database ids."""
    def plain(row, skip):
        return tuple((c.key, getattr(row, c.key)) for c in row.__table__.columns if c.key not in skip)

    with store(app).session() as db:
        account = plain(db.get(Account, account_id),
                        {"id", "person_id", "connected_at", "sync_locked_until", "granted_scopes"})
        profiles = [plain(p, {"id", "account_id"}) for p in db.scalars(
            select(ProfileSnapshot).where(ProfileSnapshot.account_id == account_id)
            .order_by(ProfileSnapshot.taken_at))]
        videos = [plain(v, {"id", "account_id"}) for v in db.scalars(
            select(Video).where(Video.account_id == account_id).order_by(Video.video_id))]
        snapshots = [(video_id, *plain(s, {"id", "account_id", "video_pk"})) for video_id, s in db.execute(
            select(Video.video_id, VideoSnapshot).join(Video, Video.id == VideoSnapshot.video_pk)
            .where(VideoSnapshot.account_id == account_id)
            .order_by(Video.video_id, VideoSnapshot.taken_at))]
        running = db.scalars(select(SyncRun).where(SyncRun.account_id == account_id,
                                                   SyncRun.status == "running")).all()
    assert not running, "a run was left running"
    return {"account": account, "profiles": profiles, "videos": videos, "snapshots": snapshots}


def test_two_hundred_syncs_with_one_call_in_five_failing_store_exactly_the_fault_free_history(
        make_app, sandbox_state, monkeypatch):
    monkeypatch.setattr(TikTokClient, "_retry_wait", lambda self, error, attempt: 0)
    sandbox_state.rate_limit_per_minute = None
    app = make_app()
    account_id = connect(app)
    sandbox_state.set_faults(fail_rate=FAIL_RATE, seed=SEED, kinds=KINDS,
                             endpoints=("user_info", "video_list"))
    t, stored_at, failures = START, [], {}
    for _ in range(SYNCS):
        result = sync_at(app, sandbox_state, account_id, t)
        if result.ok:
            stored_at.append(t)
        else:
            failures[result.code] = failures.get(result.code, 0) + 1
        t += STEP
    sandbox_state.clear_faults()
    with_faults = stored_history(app, account_id)

    assert sum(failures.values()) >= SYNCS // 20, f"too few failed syncs to mean anything: {failures}"
    assert len(stored_at) >= SYNCS // 2
    assert len(with_faults["profiles"]) == len(stored_at), "a moment stored twice or lost"

    store(app).accounts.delete(account_id)
    account_id = connect(app)
    for moment in stored_at:
        assert sync_at(app, sandbox_state, account_id, moment).ok
    without_faults = stored_history(app, account_id)

    assert with_faults["profiles"] == without_faults["profiles"]
    assert with_faults["videos"] == without_faults["videos"]
    assert with_faults["snapshots"] == without_faults["snapshots"]
    assert with_faults["account"] == without_faults["account"]
    print(f"soak: {SYNCS} syncs, {len(stored_at)} moments stored, failed syncs by code: {failures}")
