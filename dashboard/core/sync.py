"""One sync of one account: read TikTok, write one snapshot, all or nothing.

A sync costs one user-info call and one walk of the video list,
ceil(videos / 20) calls. The videos are parked in the database a batch at a
time as they arrive (memory does not grow with the account) and written in
one transaction at the end, with the summary the pages read, so a fault
half-way leaves the last good state and a failed run with its reason. A
lease on the account keeps two syncs of it from running at once; a heartbeat
thread renews it, so a sync killed at any point frees its account within
``SYNC_LEASE_SECONDS`` (at most 30 s).

The sync needs no request and no language: it returns a :class:`SyncResult`
of codes and counts, and the web layer (or the terminal) puts it in words.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update

from dashboard.storage.models import Account, utcnow
from oauth_handler import ReauthRequired
from tiktok_official_api import (
    MAX_PAGE_SIZE,
    VIDEO_FIELDS,
    TikTokAPIError,
    TikTokAuthError,
    TikTokResponseError,
    user_fields_for_scopes,
)

from . import alerts, ingest, summaries
from .budget import BudgetTimeout
from .context import Core

log = logging.getLogger(__name__)

#: The heartbeat renews the lease at least this many times per lease period,
#: so two renewals can be missed (a stalled database) before it runs out...
RENEWALS_PER_LEASE = 3
#: ...and at least this often, in seconds, so the progress pages show moves.
PROGRESS_INTERVAL = 2.0

#: Videos held in memory before they are parked in the database: a sync's
#: memory does not grow with the account.
STAGE_BATCH = 1000

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class SyncResult:
    """What a sync did: ``code`` is ``"ok"`` or why it failed (a TikTok error
    code, ``sync_in_progress``, ``reauth_required``, ``malformed_response``)."""

    code: str
    videos_seen: int = 0
    api_calls: int = 0
    log_id: str | None = None
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.code == "ok"


class LeaseLost(Exception):
    """This sync's lease ran out and another sync took the account over."""


class Heartbeat:
    """Holds the sync lease of one account while its sync runs.

    A daemon thread renews the lease every ``seconds / 3`` (or 2 s, if
    sooner) and writes the run's progress with it, so progress costs no
    extra commits and a killed process stops renewing at once.
    """

    def __init__(self, core: Core, account_id: int, held: datetime, seconds: float):
        self.runs = core.store.runs
        self.account_id = account_id
        self.held = held
        self.seconds = seconds
        self.run_id: int | None = None
        self.lost = False
        self.lock = threading.Lock()
        self._progress: tuple[int, int | None] | None = None
        self._written: tuple[int, int | None] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"sync-lease-{account_id}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def progress(self, done: int, total: int | None) -> None:
        self._progress = (done, total)

    def check(self) -> None:
        if self.lost:
            raise LeaseLost(self.account_id)

    def _beat(self) -> None:
        while not self._stop.wait(min(self.seconds / RENEWALS_PER_LEASE, PROGRESS_INTERVAL)):
            with self.lock:
                if self._stop.is_set():
                    return
                self._renew()

    def _renew(self) -> None:
        try:
            held = self.runs.renew_lock("sync", self.account_id, self.seconds, self.held)
            if held is None:
                self.lost = True
                self._stop.set()
                return
            self.held = held
            progress = self._progress
            if self.run_id is not None and progress is not None and progress != self._written:
                self.runs.progress(self.run_id, *progress)
                self._written = progress
        except Exception:  # a database hiccup: the next beat tries again
            log.warning("renewing the sync lease of account %s failed", self.account_id, exc_info=True)

    def guard(self, db) -> None:
        """Inside the final write: the lease must still be ours (and stays so until commit)."""
        result = db.execute(update(Account).where(
            Account.id == self.account_id, Account.sync_locked_until == self.held)
            .values(sync_locked_until=self.held))
        if result.rowcount != 1:
            raise LeaseLost(self.account_id)

    def stop(self) -> None:
        with self.lock:
            self._stop.set()
        self._thread.join(timeout=5)
        self.runs.unlock("sync", self.account_id, self.held)


class _Walker:
    """Calls the API with the account's token, refreshing once on a 401."""

    def __init__(self, core: Core, account_id: int, heartbeat: Heartbeat):
        self.core = core
        self.account_id = account_id
        self.heartbeat = heartbeat
        token = core.tokens.active(account_id)
        self.client = core.provider.client(token.access_token)
        #: The scopes the account granted, as its token records them.
        self.scopes = {s.strip() for s in (token.scope or "").split(",") if s.strip()}
        self.calls = 0

    def call(self, operation):
        self.heartbeat.check()
        self.calls += 1
        try:
            return operation(self.client)
        except TikTokAuthError:
            self.client.access_token = self.core.tokens.active(
                self.account_id, force_refresh=True).access_token
            self.calls += 1
            return operation(self.client)

    def videos(self, run_id: int, progress: Progress | None, total: int | None) -> None:
        """Walk the video list, parking each batch of cleaned videos for the final write."""
        history = self.core.store.history
        batch: list[dict] = []
        received = 0
        cursor = None
        cursors: set[int] = set()
        while True:
            page = self.call(lambda c, at=cursor: c.list_videos(
                cursor=at, max_count=MAX_PAGE_SIZE, fields=VIDEO_FIELDS))
            batch.extend(ingest.video_row(video) for video in page.videos)
            received += len(page.videos)
            if len(batch) >= STAGE_BATCH or not page.has_more:
                history.stage_videos(run_id, batch)
                batch = []
            self.heartbeat.progress(received, total)
            if progress:
                progress(received, total)
            if not page.has_more:
                return
            if page.cursor is None or page.cursor in cursors:
                raise TikTokResponseError("The video list did not advance.", code="malformed_response")
            cursor = page.cursor
            cursors.add(cursor)


def run_sync(core: Core, account_id: int, *, now: datetime | None = None,
             progress: Progress | None = None) -> SyncResult:
    """Sync one account; never raises for upstream faults, records them instead."""
    runs = core.store.runs
    seconds = core.settings.sync_lease_seconds
    held = runs.try_lock("sync", account_id, seconds)
    if held is None:
        runs.clear_queued(account_id)
        return SyncResult("sync_in_progress")
    heartbeat = Heartbeat(core, account_id, held, seconds).start()
    runs.abandon_stale(account_id)
    core.store.history.discard_staged(account_id)
    run_id = heartbeat.run_id = runs.start(account_id)
    runs.clear_queued(account_id)  # after the run exists: pages never see neither
    walker = None
    try:
        walker = _Walker(core, account_id, heartbeat)
        user = walker.call(lambda c: c.get_user_info(user_fields_for_scopes(walker.scopes)))
        profile = ingest.profile_row(user)
        listed = "video.list" in walker.scopes
        if listed:
            runs.progress(run_id, 0, profile.get("video_count"))
            walker.videos(run_id, progress, profile.get("video_count"))
        taken_at = (now or utcnow()).replace(second=0, microsecond=0)
        with heartbeat.lock:
            heartbeat.check()
            seen = core.store.history.record_sync(
                run_id, account_id, taken_at, profile, listed=listed, api_calls=walker.calls,
                guard=heartbeat.guard,
                then=lambda db: summaries.summarize_sync(core, account_id, run_id, taken_at, db))
        return SyncResult("ok", seen, walker.calls, run_id=run_id)
    except LeaseLost:
        return _failed(core, account_id, run_id, walker, "sync_in_progress", None)
    except ReauthRequired:
        return _failed(core, account_id, run_id, walker, "reauth_required", None)
    except TikTokAPIError as exc:
        return _failed(core, account_id, run_id, walker, exc.code or "api_error", exc.log_id)
    except BudgetTimeout:
        return _failed(core, account_id, run_id, walker, "budget_timeout", None)
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("sync of account %s got malformed data: %s", account_id, type(exc).__name__)
        return _failed(core, account_id, run_id, walker, "malformed_response", None)
    finally:
        heartbeat.stop()
        alerts.after_sync(core, account_id, now)  # the rules read what this run stored


def _failed(core: Core, account_id: int, run_id: int, walker, code: str,
            log_id: str | None) -> SyncResult:
    calls = walker.calls if walker else 0
    core.store.history.discard_staged(account_id)
    core.store.runs.fail(run_id, code=code, log_id=log_id, api_calls=calls)
    log.info("sync run %s failed: code=%s log_id=%s", run_id, code, log_id)
    return SyncResult(code, api_calls=calls, log_id=log_id, run_id=run_id)
