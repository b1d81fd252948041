"""Sync runs and the leases that keep two syncs (or refreshes) of an account apart.

A lease is an expiry time in a row, taken with one conditional UPDATE that
works the same on SQLite and PostgreSQL: the row changes only when no
unexpired lease is held, so of two racing callers exactly one sees a changed
row. The winner gets the expiry, which doubles as proof of holding it:
renewing and freeing act only while the row still holds that value, so a
caller whose lease ran out can neither extend nor free its successor's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from .database import Database
from .models import Account, SyncRun, Token, utcnow

#: The leases :meth:`RunStore.try_lock` takes: table, expiry column, account key.
_LEASES = {
    "sync": (Account, Account.sync_locked_until, Account.id),
    "refresh": (Token, Token.refresh_locked_until, Token.account_id),
}

#: Largest value of an INTEGER column (PostgreSQL refuses more).
INT_MAX = 2**31 - 1
#: Run states that mean "a sync of this account is on its way".
ACTIVE = ("queued", "running")


class RunStore:
    """Sync runs, leases, the queue marker and the "Sync now" throttle."""

    def __init__(self, database: Database):
        self.database = database

    # --- leases -------------------------------------------------------------------

    def try_lock(self, kind: str, account_id: int, seconds: float) -> datetime | None:
        """Take a short lease on an account (``"sync"`` or ``"refresh"``), atomically."""
        model, column, key = _LEASES[kind]
        now = utcnow()
        until = now + timedelta(seconds=seconds)
        with self.database.session() as db:
            result = db.execute(
                update(model)
                .where(key == account_id, (column.is_(None)) | (column < now))
                .values({column.key: until})
            )
            return until if result.rowcount == 1 else None

    def renew_lock(self, kind: str, account_id: int, seconds: float,
                   held: datetime) -> datetime | None:
        """Extend the lease ``held``; None when it is no longer this caller's."""
        model, column, key = _LEASES[kind]
        until = utcnow() + timedelta(seconds=seconds)
        with self.database.session() as db:
            result = db.execute(update(model).where(key == account_id, column == held)
                                .values({column.key: until}))
            return until if result.rowcount == 1 else None

    def unlock(self, kind: str, account_id: int, held: datetime) -> None:
        """Free the lease ``held``, unless it has passed to someone else."""
        model, column, key = _LEASES[kind]
        with self.database.session() as db:
            db.execute(update(model).where(key == account_id, column == held)
                       .values({column.key: None}))

    def is_locked(self, kind: str, account_id: int) -> bool:
        model, column, key = _LEASES[kind]
        with self.database.session() as db:
            until = db.scalar(select(column).where(key == account_id))
            return until is not None and until > utcnow()

    # --- the queue marker and the button's throttle ----------------------------------

    def mark_queued(self, account_id: int, stale_after: timedelta) -> bool:
        """Note that a sync job of this account is queued; False when one already is.

        A marker older than ``stale_after`` is taken over: its job was lost
        with a queue that was wiped, and the account must not wait forever.
        """
        now = utcnow()
        column = Account.sync_queued_at
        with self.database.session() as db:
            result = db.execute(update(Account).where(
                Account.id == account_id, column.is_(None) | (column < now - stale_after))
                .values(sync_queued_at=now))
            return result.rowcount == 1

    def clear_queued(self, account_id: int) -> None:
        with self.database.session() as db:
            db.execute(update(Account).where(Account.id == account_id).values(sync_queued_at=None))

    def claim_button(self, account_id: int, interval: timedelta) -> timedelta | None:
        """Record a press of "Sync now"; None when allowed, else how long to wait."""
        now = utcnow()
        column = Account.sync_requested_at
        with self.database.session() as db:
            result = db.execute(update(Account).where(
                Account.id == account_id, column.is_(None) | (column <= now - interval))
                .values(sync_requested_at=now))
            if result.rowcount == 1:
                return None
            last = db.scalar(select(column).where(Account.id == account_id))
        return max(timedelta(seconds=1), last + interval - now) if last else interval

    # --- runs ---------------------------------------------------------------------------

    def start(self, account_id: int) -> int:
        with self.database.session() as db:
            run = SyncRun(account_id=account_id, started_at=utcnow(), status="running")
            db.add(run)
            db.flush()
            return run.id

    def progress(self, run_id: int, done: int, total: int | None) -> None:
        """Videos fetched so far, of the profile's count (TikTok's, so clamped to the column)."""
        with self.database.session() as db:
            db.execute(update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == "running")
                       .values(videos_done=min(done, INT_MAX),
                               videos_total=None if total is None else min(total, INT_MAX)))

    def fail(self, run_id: int, *, code: str, log_id: str | None, api_calls: int) -> None:
        with self.database.session() as db:
            db.execute(
                update(SyncRun).where(SyncRun.id == run_id).values(
                    status="failed", finished_at=utcnow(), error_code=code[:64],
                    error_message=None, log_id=(log_id or None) and log_id[:128],
                    api_calls=api_calls, videos_seen=0,
                )
            )

    def abandon_stale(self, account_id: int) -> int:
        """Runs left "running" by a killed process are recorded as interrupted.

        Called by the holder of the account's sync lease only, so no run
        it marks can still be alive.
        """
        with self.database.session() as db:
            result = db.execute(
                update(SyncRun)
                .where(SyncRun.account_id == account_id, SyncRun.status == "running")
                .values(status="failed", finished_at=utcnow(), error_code="interrupted")
            )
            return result.rowcount

    def interrupted_accounts(self) -> list[int]:
        """Accounts with a run left "running" whose sync lease has run out: its
        worker died, and the sync must be picked up again."""
        now = utcnow()
        with self.database.session() as db:
            return list(db.scalars(
                select(SyncRun.account_id).join(Account, Account.id == SyncRun.account_id)
                .where(SyncRun.status == "running",
                       Account.sync_locked_until.is_(None) | (Account.sync_locked_until < now))
                .distinct()))

    def due_accounts(self, synced_before: datetime) -> list[int]:
        """Connected accounts last synced before ``synced_before`` (or never)."""
        with self.database.session() as db:
            return list(db.scalars(
                select(Account.id).join(Token, Token.account_id == Account.id)
                .where(Account.sync_queued_at.is_(None),
                       Account.last_synced_at.is_(None) | (Account.last_synced_at < synced_before))
                .order_by(Account.id)))

    def latest(self, account_id: int) -> SyncRun | None:
        with self.database.session() as db:
            return db.scalar(
                select(SyncRun)
                .where(SyncRun.account_id == account_id)
                .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                .limit(1)
            )

    def latest_ok(self, account_id: int) -> SyncRun | None:
        """The account's last sync that wrote its data."""
        with self.database.session() as db:
            return db.scalar(
                select(SyncRun)
                .where(SyncRun.account_id == account_id, SyncRun.status == "ok")
                .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
                .limit(1)
            )
