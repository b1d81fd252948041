"""Helpers shared by the sync, history, export and page tests.

They move the sandbox's clock, run real syncs over HTTP against the loopback
sandbox, and read back what the database holds.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import event, func, select

from dashboard.storage.models import Account, ProfileSnapshot, SyncRun, Video, VideoSnapshot
from sandbox import ACCOUNTS, ANCHOR, SANDBOX_CLIENT_KEY
from sandbox import data as sandbox_data

DAY = 86_400
HOUR = 3_600
PAGE_SIZE = 20

__all__ = ["ANCHOR", "DAY", "HOUR"]


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def connect(app, account: str = "creator") -> int:
    """Connect a sandbox account through a real code exchange; its dashboard id."""
    from dashboard.commands.sandbox import connect_sandbox_account

    with app.app_context():
        return connect_sandbox_account(app, account)


def sync_at(app, sandbox_state, account_id: int, t: float | None = None, **kwargs):
    """One real sync with the sandbox's clock (and the sync's time) at ``t``."""
    from dashboard.core.sync import run_sync

    if t is not None:
        sandbox_state.clock.set(t)
        kwargs.setdefault("now", at(t))
    with app.app_context():
        return run_sync(app.extensions["core"], account_id, **kwargs)


def visible(account: str, t: float, hidden=frozenset()):
    """The sandbox's public videos of ``account`` at ``t``, newest first."""
    return sandbox_data.visible_videos(ACCOUNTS[account], t, hidden)


def list_calls_for(n_videos: int) -> int:
    """The video/list calls one walk of ``n_videos`` needs (one even for none)."""
    return max(1, math.ceil(n_videos / PAGE_SIZE))


def open_id(account: str = "creator") -> str:
    return sandbox_data.open_id(account, SANDBOX_CLIENT_KEY)


def store(app):
    return app.extensions["core"].store


def table_rows(app, account_id: int) -> dict:
    """Everything stored for an account, as comparable plain values."""
    with store(app).session() as db:
        def rows(model, *order):
            return [
                {c.key: getattr(r, c.key) for c in model.__table__.columns}
                for r in db.scalars(select(model).where(model.account_id == account_id)
                                    .order_by(*order))
            ]

        account = db.get(Account, account_id)
        return {
            "account": {c.key: getattr(account, c.key) for c in Account.__table__.columns
                        if c.key not in ("sync_locked_until", "sync_queued_at", "sync_requested_at")},
            "profile_snapshots": rows(ProfileSnapshot, ProfileSnapshot.taken_at),
            "videos": rows(Video, Video.video_id),
            "video_snapshots": rows(VideoSnapshot, VideoSnapshot.video_pk, VideoSnapshot.taken_at),
        }


def counts(app, account_id: int) -> dict[str, int]:
    with store(app).session() as db:
        return {
            model.__tablename__: db.scalar(
                select(func.count()).select_from(model).where(model.account_id == account_id))
            for model in (ProfileSnapshot, Video, VideoSnapshot, SyncRun)
        }


def runs(app, account_id: int) -> list[SyncRun]:
    with store(app).session() as db:
        return list(db.scalars(select(SyncRun).where(SyncRun.account_id == account_id)
                               .order_by(SyncRun.id)))


def video_row(app, account_id: int, video_id: str) -> Video:
    return store(app).history.video_for(account_id, video_id)


@contextmanager
def count_queries(engine):
    """Collect the SQL statements run on ``engine`` inside the block."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str = "/") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, "no CSRF token on " + path
    return match.group(1)
